"""`process:NAME` providers from config.toml, through the CLI: chat, config check, route
explain and models list, with a provider process written without construct."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.remote.test_serve_roundtrip import V3_SCRIPT

MARKER = "started.txt"


def _setup(home: Path, mode: str = "ok", extra: str = "") -> Path:
    script = home / "provider.py"
    # The process leaves a marker when it starts: config check must not start it.
    script.write_text(
        f"open({str(home / MARKER)!r}, 'a').write('x')\n" + V3_SCRIPT, encoding="utf-8"
    )
    config = home / "config.toml"
    config.write_text(
        'default_provider = "process:tiny"\n'
        'default_model = "tiny"\n'
        f"{extra}"
        "[processes.tiny]\n"
        f"command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(mode)}]\n"
        "timeout_secs = 10\n",
        encoding="utf-8",
    )
    return config


def test_chat_through_a_process_named_in_the_config(cli):
    _setup(cli.home)
    result = cli("chat", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the script\n"


def test_dash_p_names_a_process(cli):
    _setup(cli.home)
    (cli.home / "config.toml").write_text(
        (cli.home / "config.toml").read_text().replace('default_provider = "process:tiny"\n', ""),
        encoding="utf-8",
    )
    result = cli("chat", "-p", "process:tiny", "-m", "tiny", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the script\n"


def test_config_check_accepts_process_names_without_starting_them(cli):
    _setup(cli.home)
    result = cli("config", "check")
    assert result.returncode == 0, result.output
    assert "provider:   process:tiny" in result.stdout
    assert not (cli.home / MARKER).exists()


def test_an_unknown_process_name_is_a_config_problem(cli):
    (cli.home / "config.toml").write_text('default_provider = "process:nope"\n')
    result = cli("config", "check")
    assert result.returncode == 1
    assert "default_provider: unknown provider process 'nope' (known: none)" in result.stdout


def test_a_providers_json_file_supplies_processes(cli):
    script = cli.home / "provider.py"
    script.write_text(V3_SCRIPT, encoding="utf-8")
    file = cli.home / "providers.json"
    file.write_text(json.dumps({"tiny": {"command": [sys.executable, str(script), "ok"]}}))
    (cli.home / "config.toml").write_text(
        f'default_provider = "process:tiny"\n[processes]\nfile = {json.dumps(str(file))}\n'
    )
    result = cli("chat", "-m", "tiny", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the script\n"


def test_a_throttled_process_falls_back_to_the_next_provider(cli, server):
    _setup(
        cli.home,
        "throttled",
        extra="[reliability]\nprovider_retries = 0\n"
        f'fallback_providers = ["custom:{server.url}"]\n',
    )
    result = cli("chat", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, world!\n"
    assert "answered by custom:" in result.stderr


def test_models_list_shows_the_process_catalog(cli):
    _setup(cli.home)
    result = cli("models", "list")
    assert result.returncode == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PROVIDER", "MODEL", "CONTEXT", "MAX", "OUTPUT", "IMAGES"]
    assert lines[1].split() == ["*", "process:tiny", "tiny", "4,096", "-", "no"]
    data = json.loads(cli("models", "list", "--json").stdout)
    assert data == [
        {
            "provider": "process:tiny",
            "error": None,
            "models": [
                {
                    "model_id": "tiny",
                    "display_name": "Tiny",
                    "context_window": 4096,
                    "max_output_tokens": None,
                    "supports_image_input": False,
                    "default": True,
                }
            ],
        }
    ]


def test_models_list_reports_a_provider_that_cannot_answer(cli):
    _setup(cli.home, extra='[reliability]\nfallback_providers = ["groq"]\n')
    result = cli("models", "list")
    assert result.returncode == 1
    assert "process:tiny" in result.stdout
    assert "construct: error: groq: " in result.stderr and "GROQ_API_KEY" in result.stderr


def test_a_process_as_a_fallback_and_in_route_explain(cli):
    config = _setup(cli.home)
    text = config.read_text().replace(
        'default_provider = "process:tiny"\ndefault_model = "tiny"\n',
        'default_provider = "custom:http://127.0.0.1:9/v1"\ndefault_model = "tiny"\n'
        '[reliability]\nprovider_retries = 0\nfallback_providers = ["process:tiny"]\n',
    )
    config.write_text(text, encoding="utf-8")
    explained = cli("route", "explain")
    assert explained.returncode == 0, explained.output
    assert "  2. process:tiny" in explained.stdout
    assert not (cli.home / MARKER).exists()  # explaining starts nothing
    result = cli("chat", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the script\n"
    assert "answered by process:tiny with tiny" in result.stderr
