"""docs/processes.md: its configs load and build, its Python example runs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from construct.config import load_config
from construct.factory import create_provider_from_config
from tests.remote.test_serve_roundtrip import V3_SCRIPT

DOC = Path(__file__).resolve().parents[2] / "docs" / "processes.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", DOC.read_text("utf-8"), re.M | re.S)


def test_the_serve_config_loads_with_its_catalog(tmp_path: Path) -> None:
    serve, _ = _blocks("toml")
    path = tmp_path / "config.toml"
    path.write_text(serve, encoding="utf-8")
    config = load_config(path, environ={})
    assert [m.model_id for m in config.models] == ["sonnet", "sonnet-1m"]
    assert config.models[1].extra == {"betas": ["context-1m-2025-08-07"]}
    create_provider_from_config(config).close()


def test_the_client_config_loads_and_names_its_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = _blocks("toml")
    home = tmp_path / "home"
    (home / ".infinity").mkdir(parents=True)
    (home / ".infinity" / "providers.json").write_text(
        json.dumps({"bedrock": {"command": ["infinity-provider-bedrock"]}})
    )
    monkeypatch.setenv("HOME", str(home))
    path = tmp_path / "config.toml"
    path.write_text(client, encoding="utf-8")
    config = load_config(path, environ={"HOME": str(home)})
    provider = create_provider_from_config(config)
    with provider:
        name, _, model, _ = provider.resolve("hint:fast")
        assert (name, model) == ("process:local-llama", "llama-3.1-8b")
        chain = [n for n, _ in provider.resolve(None)[1].providers]
        assert chain == ["process:local-llama", "process:bedrock", "groq"]


def test_the_python_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = _blocks("python")
    script = tmp_path / "provider.py"
    script.write_text(V3_SCRIPT, encoding="utf-8")
    command = json.dumps([sys.executable, str(script), "ok"])
    code = example.replace('["my-provider", "--flag"]', command)
    assert code != example
    exec(compile(code, str(DOC), "exec"), {})
    assert capsys.readouterr().out == "['tiny']\nfrom the script from local-llama\n"
