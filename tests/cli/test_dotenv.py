"""Provider keys from `.env` files, as the commands see and report them."""

from __future__ import annotations

import json

KEY = "gsk_dotenv_cli_secret_0001"
ENV_KEY = "gsk_environment_secret_0002"


def _groq_config(cli, api_url: str | None = None) -> None:
    text = 'default_provider = "groq"\ndefault_model = "llama-3.3-70b-versatile"\n'
    if api_url:
        text += f'api_url = "{api_url}"\n'
    (cli.home / "app").mkdir()
    (cli.home / "app" / "config.toml").write_text(text, "utf-8")
    (cli.home / "app" / ".env").write_text(f"GROQ_API_KEY={KEY}\n", "utf-8")


def test_config_check_names_the_dotenv_a_key_comes_from(cli):
    _groq_config(cli)
    config = str(cli.home / "app" / "config.toml")
    result = cli("config", "check", "--config", config)
    assert result.returncode == 0, result.output
    assert f"api key:    from GROQ_API_KEY in {cli.home / 'app' / '.env'} (" in result.stdout
    assert KEY not in result.output

    # The real environment wins, and then no file is named.
    result = cli("config", "check", "--config", config, GROQ_API_KEY=ENV_KEY)
    assert "api key:    from GROQ_API_KEY (" in result.stdout
    assert ".env" not in result.stdout and ENV_KEY not in result.output


def test_config_check_reads_the_working_directorys_dotenv(cli):
    # No config file at all: the defaults, with the key from ./.env.
    (cli.home / ".env").write_text("OPENROUTER_API_KEY=sk-or-v1-dotenv-cwd-0003\n", "utf-8")
    result = cli("config", "check")
    assert result.returncode == 0, result.output
    assert f"from OPENROUTER_API_KEY in {cli.home / '.env'} (" in result.stdout
    assert "sk-or-v1-dotenv-cwd-0003" not in result.output


def test_config_check_reports_a_broken_dotenv_without_a_traceback(cli):
    _groq_config(cli)
    dotenv = cli.home / "app" / ".env"
    dotenv.write_text(f'GROQ_API_KEY="{KEY}\n', "utf-8")
    result = cli("config", "check", "--config", str(cli.home / "app" / "config.toml"))
    assert result.returncode == 1
    assert f"{dotenv}: line 1 is not a NAME=value line" in result.stdout
    assert "Traceback" not in result.output and KEY not in result.output


def test_providers_list_says_a_key_comes_from_a_dotenv(cli):
    _groq_config(cli)
    config = str(cli.home / "app" / "config.toml")
    result = cli("providers", "list", "--config", config)
    assert result.returncode == 0, result.output
    groq = next(line for line in result.stdout.splitlines() if line.startswith("* groq "))
    assert groq.split()[-2:] == ["yes", "ready"]
    assert f"GROQ_API_KEY (from {cli.home / 'app' / '.env'})" in result.stdout
    assert KEY not in result.output

    rows = json.loads(cli("providers", "list", "--json", "--config", config).stdout)
    row = next(r for r in rows if r["name"] == "groq")
    assert (row["key_set"], row["key_source"]) == (True, "GROQ_API_KEY")
    assert row["key_file"] == str(cli.home / "app" / ".env")


def test_chat_sends_the_key_from_the_dotenv(cli, server):
    _groq_config(cli, api_url=server.url)
    result = cli("chat", "--config", str(cli.home / "app" / "config.toml"), "hi")
    assert result.returncode == 0, result.output
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
