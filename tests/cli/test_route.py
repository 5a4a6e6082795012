"""`construct route explain`: the route, provider, model, key (masked) and chain, sending nothing.

Every run has a `sitecustomize` that makes any socket connection or DNS lookup fail and
leave a note, so "nothing was sent" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import Cli, Result

CONFIG_KEY = "sk-or-config-key-000000001"
EXTRA_KEYS = ("sk-or-config-key-000000002", "sk-or-config-key-000000003")
ROUTE_KEY = "gsk_route_key_000000004"
OPENAI_ENV_KEY = "sk-openai-env-key-00000005"
DEEPSEEK_ENV_KEY = "deepseek-env-key-00000006"
SECRETS = (CONFIG_KEY, *EXTRA_KEYS, ROUTE_KEY, OPENAI_ENV_KEY, DEEPSEEK_ENV_KEY)

CONFIG = f"""\
default_provider = "openrouter"
default_model = "anthropic/claude-sonnet-4"
api_key = "{CONFIG_KEY}"

[reliability]
provider_retries = 1
provider_backoff_ms = 250
fallback_providers = ["deepseek", "groq"]
api_keys = ["{EXTRA_KEYS[0]}", "{EXTRA_KEYS[1]}"]
total_timeout_s = 45

[reliability.model_fallbacks]
"anthropic/claude-sonnet-4" = ["anthropic/claude-3.5-haiku"]

[[model_routes]]
hint = "fast"
provider = "groq"
model = "llama-3.1-8b-instant"
api_key = "{ROUTE_KEY}"

[[model_routes]]
hint = "gpt-"
provider = "openai"
"""

GUARD = """\
import os
import socket

_NOTE = os.environ["CONSTRUCT_TEST_NET_NOTE"]


def _refuse(*args, **kwargs):
    with open(_NOTE, "a", encoding="utf-8") as note:
        note.write(repr(args[1:3]) + "\\n")
    raise OSError("network access refused by the test")


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


class Guarded:
    """`construct ...` with the network guard; `touched` says whether anything tried."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli = cli
        guard = tmp_path / "guard"
        guard.mkdir()
        (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
        self.note = tmp_path / "network-note.txt"
        path = os.pathsep.join(p for p in (str(guard), os.environ.get("PYTHONPATH")) if p)
        self.env = {"PYTHONPATH": path, "CONSTRUCT_TEST_NET_NOTE": str(self.note)}

    def __call__(self, *args: str, **env: str) -> Result:
        return self.cli(*args, **{**self.env, **env})

    @property
    def touched(self) -> bool:
        return self.note.exists()


@pytest.fixture
def run(cli: Cli, tmp_path: Path) -> Guarded:
    (cli.home / "config.toml").write_text(CONFIG, encoding="utf-8")
    return Guarded(cli, tmp_path)


def no_secret(result: Result) -> None:
    for secret in SECRETS:
        assert secret not in result.output


def test_the_guard_really_stops_the_network(run):
    # Without this, "nothing was sent" below would prove nothing.
    result = run("chat", "-p", "custom:http://127.0.0.1:9/v1", "-m", "m", "--no-stream", "hi")
    assert result.returncode != 0
    assert run.touched


def test_default_model_on_the_default_provider(run):
    result = run("route", "explain")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Request for:  (none: default_model)",
        "Route:        none matches: the default provider, model unchanged",
        "Provider:     openrouter (OpenRouter) https://openrouter.ai/api/v1",
        "Model:        anthropic/claude-sonnet-4 (default_model)",
        "Key:          sk-…0001 from api_key in the config",
        "",
        "Fallback chain: each model on each provider in turn, up to 2 attempts each "
        "(provider_retries = 1):",
        "  1. openrouter  anthropic/claude-sonnet-4",
        "  2. deepseek    anthropic/claude-sonnet-4",
        "  3. groq        anthropic/claude-sonnet-4",
        "  4. openrouter  anthropic/claude-3.5-haiku",
        "  5. deepseek    anthropic/claude-3.5-haiku",
        "  6. groq        anthropic/claude-3.5-haiku",
        "",
        "Providers, in fallback order, and the key each sends:",
        "  openrouter  key sk-…0001 from api_key in the config  https://openrouter.ai/api/v1",
        "  deepseek    key not set (set DEEPSEEK_API_KEY)       https://api.deepseek.com",
        "  groq        key not set (set GROQ_API_KEY)           https://api.groq.com/openai/v1",
        "",
        "Backoff:      250 ms, doubling, at most 10 s, up to 25% shorter (jitter)",
        "Retry-After:  waited up to 30 s (max_retry_after_s); a longer wait moves on at once",
        "Budget:       45 s for the whole call",
        "Circuit:      after 5 consecutive failures a provider is skipped for 30 s",
        "Key rotation: 2 more key(s) for openrouter in reliability.api_keys (sk-…0002, sk-…0003), "
        "the next",
        "              one taken on a 429",
        "",
        "Nothing was sent.",
    ]
    no_secret(result)
    assert not run.touched


def test_a_hint_goes_to_its_route_with_the_routes_key(run):
    result = run("route", "explain", "hint:fast")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "Request for:  hint:fast",
        'Route:        model_routes[0], hint = "fast" (hint:NAME)',
        "Provider:     groq (Groq) https://api.groq.com/openai/v1",
        "Model:        llama-3.1-8b-instant (set by the route)",
        "Key:          gsk…0004 from model_routes[0].api_key",
    ]
    assert "  1. groq      llama-3.1-8b-instant" in lines
    assert "  2. deepseek  llama-3.1-8b-instant" in lines
    # api_keys are more keys of the default provider; groq never rotates into them.
    assert (
        "Key rotation: not here: reliability.api_keys (2) belong to the default provider" in lines
    )
    no_secret(result)
    assert not run.touched


def test_a_prefix_route_keeps_the_model_and_reads_the_providers_own_variable(run):
    result = run("route", "explain", "gpt-4o", OPENAI_API_KEY=OPENAI_ENV_KEY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:5] == [
        'Route:        model_routes[1], hint = "gpt-" (longest prefix)',
        "Provider:     openai (OpenAI) https://api.openai.com/v1",
        "Model:        gpt-4o (as requested)",
        "Key:          sk-…0005 from OPENAI_API_KEY",
    ]
    no_secret(result)


def test_fallbacks_show_the_key_their_own_variable_supplies(run):
    result = run("route", "explain", "some/model", DEEPSEEK_API_KEY=DEEPSEEK_ENV_KEY)
    assert result.returncode == 0, result.stderr
    assert "  deepseek    key dee…0006 from DEEPSEEK_API_KEY" in result.stdout
    assert "Model:        some/model (as requested)" in result.stdout
    assert "  2. deepseek    some/model" in result.stdout  # no fallback models for it
    no_secret(result)


def test_construct_api_key_overriding_the_config_key_is_named(run):
    override = "sk-or-override-key-0007"
    result = run("route", "explain", CONSTRUCT_API_KEY=override)
    assert "Key:          sk-…0007 from CONSTRUCT_API_KEY (overrides api_key in the config)" in (
        result.stdout
    )
    assert override not in result.output


def test_unknown_hint_exits_2_with_the_known_hints(run):
    result = run("route", "explain", "hint:nope")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "construct: error: Unknown route hint 'nope': known hints are fast, gpt-. Add a "
        "[[model_routes]] entry with this hint, or ask for a model by name."
    )
    assert not run.touched


def test_json(run):
    result = run("route", "explain", "hint:fast", "--json", DEEPSEEK_API_KEY=DEEPSEEK_ENV_KEY)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["requested"] == "hint:fast"
    assert data["route"] == {
        "index": 0,
        "hint": "fast",
        "match": "hint",
        "provider": "groq",
        "model": "llama-3.1-8b-instant",
    }
    assert (data["provider"], data["model"], data["model_source"]) == (
        "groq",
        "llama-3.1-8b-instant",
        "route",
    )
    assert data["key"] == {
        "masked": "gsk…0004",
        "source": "model_routes[0].api_key",
        "env": ["GROQ_API_KEY", "CONSTRUCT_API_KEY"],
    }
    chain = data["chain"]
    assert [p["name"] for p in chain["providers"]] == ["groq", "deepseek"]
    assert chain["providers"][1]["key"]["source"] == "DEEPSEEK_API_KEY"
    assert chain["order"] == [
        {"model": "llama-3.1-8b-instant", "provider": "groq"},
        {"model": "llama-3.1-8b-instant", "provider": "deepseek"},
    ]
    assert chain["attempts_per_provider"] == 2
    assert chain["backoff"] == {"base_ms": 250, "cap_s": 10, "jitter": 0.25}
    assert (chain["max_retry_after_s"], chain["total_timeout_s"]) == (30, 45)
    assert chain["circuit_breaker"] == {"threshold": 5, "cooldown_s": 30}
    assert chain["api_keys"] == {"count": 2, "keys": ["sk-…0002", "sk-…0003"], "rotates": False}
    assert data["sent"] is False
    no_secret(result)
    assert not run.touched


def test_json_of_the_default_provider_rotates_its_keys(run):
    data = json.loads(run("route", "explain", "--json").stdout)
    assert data["chain"]["api_keys"]["rotates"] is True
    assert data["chain"]["models"] == ["anthropic/claude-sonnet-4", "anthropic/claude-3.5-haiku"]
    assert data["route"] is None


def test_without_routes(cli, tmp_path):
    (cli.home / "config.toml").write_text('default_provider = "groq"\ndefault_model = "llama"\n')
    run = Guarded(cli, tmp_path)
    result = run("route", "explain")
    assert result.returncode == 0, result.stderr
    assert "Route:        no [[model_routes]]: the default provider" in result.stdout
    assert "Key:          not set (set GROQ_API_KEY)" in result.stdout
    assert "Key rotation: none (no reliability.api_keys)" in result.stdout
    assert "  1. groq  llama" in result.stdout
    assert not run.touched


def test_no_model_at_all_is_a_usage_error(cli, tmp_path):
    (cli.home / "config.toml").write_text('default_provider = "groq"\n')
    result = Guarded(cli, tmp_path)("route", "explain")
    assert result.returncode == 2
    assert "no model: pass MODEL, or set default_model in the config" in result.stderr


def test_config_flag_before_and_after_the_command(cli, tmp_path):
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('default_provider = "deepseek"\ndefault_model = "deepseek-chat"\n')
    run = Guarded(cli, tmp_path)
    for args in (
        ("--config", str(elsewhere), "route", "explain"),
        ("route", "explain", "--config", str(elsewhere)),
    ):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert "Provider:     deepseek (DeepSeek) https://api.deepseek.com" in result.stdout


def test_a_broken_config_exits_2(cli, tmp_path):
    (cli.home / "config.toml").write_text("[reliability]\nprovider_retries = 'x'\n")
    result = Guarded(cli, tmp_path)("route", "explain", "m")
    assert result.returncode == 2
    assert "reliability.provider_retries" in result.stderr


def test_route_without_a_subcommand_prints_help(cli):
    result = cli("route")
    assert result.returncode == 2
    assert "explain" in result.stderr


def test_the_example_in_the_routing_doc_is_the_real_output(cli, tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "routing.md").read_text("utf-8")
    toml = doc.split("```toml\n", 1)[1].split("```\n", 1)[0]
    example = next(
        block
        for block in doc.split("```text\n")[1:]
        if block.startswith("$ construct route explain")
    ).split("```\n", 1)[0]
    command, expected = example.split("\n", 1)
    (cli.home / "config.toml").write_text(toml, encoding="utf-8")
    run = Guarded(cli, tmp_path)
    # The doc shows a GROQ_API_KEY ending in c0de; OPENAI_WORK_KEY must be set to load.
    result = run(
        *command.split()[2:],
        GROQ_API_KEY="gsk_docs_example_key_c0de",
        OPENAI_WORK_KEY="sk-docs-openai-key-0001",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert not run.touched
