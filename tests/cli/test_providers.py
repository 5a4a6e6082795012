"""`construct providers list` and `construct providers show`."""

from __future__ import annotations

import json

import pytest

from construct import list_providers

GROQ_KEY = "gsk_test0123456789abcdefXYZW"


def table_rows(stdout: str) -> dict[str, str]:
    """ID -> line, for the rows between the header and the first blank line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["ID"]) + 1
    end = lines.index("", start)
    return {line[2:].split()[0]: line for line in lines[start:end]}


def test_list_table_has_every_provider_and_the_custom_forms(cli):
    result = cli("providers", "list")
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert list(rows) == [info.name for info in list_providers()]
    assert "custom:<URL>" in result.stdout
    assert "anthropic-custom:<URL>" in result.stdout
    assert result.stderr == ""


def test_list_marks_unavailable_rows_and_the_builtin_default(cli):
    result = cli("providers", "list")
    rows = table_rows(result.stdout)
    assert rows["openrouter"].startswith("*")
    assert rows["openrouter"].rstrip().endswith("ready")
    assert rows["openai-codex"].rstrip().endswith("not yet")
    assert rows["copilot"].rstrip().endswith("ready")
    assert "built-in default" in result.stdout


def test_bare_providers_lists(cli):
    assert cli("providers").stdout == cli("providers", "list").stdout


def test_list_json_matches_list_providers(cli):
    result = cli("providers", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == [p.name for p in list_providers()]
    by_name = {r["name"]: r for r in rows}
    for info in list_providers():
        row = by_name[info.name]
        assert row["display_name"] == info.display_name
        assert row["aliases"] == list(info.aliases)
        assert row["local"] is info.local
        assert row["base_url"] == info.base_url
        assert row["key_env"] == list(info.key_env)
        assert row["dialect"] == info.dialect
        assert row["available"] is info.available
        assert row["key_set"] is False
    assert [r["name"] for r in rows if r["active"]] == ["openrouter"]


def test_key_set_follows_the_environment_and_never_shows_the_key(cli):
    before = {r["name"]: r for r in json.loads(cli("providers", "list", "--json").stdout)}
    assert before["groq"]["key_set"] is False
    result = cli("providers", "list", "--json", GROQ_API_KEY=GROQ_KEY)
    after = {r["name"]: r for r in json.loads(result.stdout)}
    assert after["groq"]["key_set"] is True
    assert after["groq"]["key_source"] == "GROQ_API_KEY"
    assert after["openai"]["key_set"] is False
    table = cli("providers", "list", GROQ_API_KEY=GROQ_KEY)
    groq = table_rows(table.stdout)["groq"]
    assert "GROQ_API_KEY" in groq and " yes " in groq
    for output in (result.output, table.output):
        assert GROQ_KEY not in output
        assert GROQ_KEY[-8:] not in output


def test_active_mark_follows_an_alias_in_the_config(cli):
    (cli.home / "config.toml").write_text('default_provider = "grok"\n')
    rows = json.loads(cli("providers", "list", "--json").stdout)
    assert [r["name"] for r in rows if r["active"]] == ["xai"]
    rows = table_rows(cli("providers", "list").stdout)
    assert [name for name, line in rows.items() if line.startswith("*")] == ["xai"]


def test_active_mark_follows_a_family_name_and_the_config_flag(cli, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('default_provider = "qwen-intl"\n')
    (cli.home / "config.toml").write_text('default_provider = "groq"\n')
    rows = json.loads(cli("providers", "list", "--json", "--config", str(other)).stdout)
    assert [r["name"] for r in rows if r["active"]] == ["qwen"]
    # The flag beats CONSTRUCT_CONFIG (F4), before or after the command.
    rows = json.loads(
        cli("--config", str(other), "providers", "list", "--json", CONSTRUCT_CONFIG="x").stdout
    )
    assert [r["name"] for r in rows if r["active"]] == ["qwen"]


def test_a_broken_config_does_not_break_the_list(cli):
    (cli.home / "config.toml").write_text('default_provider = "grok"\nbogus = 1\n')
    result = cli("providers", "list")
    assert result.returncode == 0
    assert not any(line.startswith("*") for line in table_rows(result.stdout).values())
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("construct: warning:")
    assert "Traceback" not in result.stderr
    rows = json.loads(cli("providers", "list", "--json").stdout)
    assert not any(r["active"] for r in rows)


def test_show_an_alias_with_a_masked_key(cli):
    key = "xai-abcdefghijklmnopqrstuv1234"
    result = cli("providers", "show", "grok", XAI_API_KEY=key)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("xai (xAI (Grok))")
    assert "Requested:    grok" in out
    assert "https://api.x.ai/v1" in out
    assert "XAI_API_KEY (set), then CONSTRUCT_API_KEY (not set)" in out
    assert "xai…1234 from XAI_API_KEY" in out
    assert key not in result.output


def test_show_a_family_name_resolves_its_region(cli):
    key = "sk-dash0123456789abcdefghij"
    result = cli("providers", "show", "qwen-intl", DASHSCOPE_API_KEY=key)
    assert result.returncode == 0, result.stderr
    assert "https://dashscope-intl.aliyuncs.com/compatible-mode/v1" in result.stdout
    assert "Region:       intl" in result.stdout
    assert key not in result.output
    data = json.loads(cli("providers", "show", "qwen-intl", "--json", DASHSCOPE_API_KEY=key).stdout)
    assert data["name"] == "qwen"
    assert data["requested"] == "qwen-intl"
    assert data["region"] == "intl"
    assert data["base_url"] == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert data["key_source"] == "DASHSCOPE_API_KEY"
    assert data["key"] == "sk-…ghij"
    assert [v["name"] for v in data["key_env"]] == ["DASHSCOPE_API_KEY", "CONSTRUCT_API_KEY"]


def test_show_says_why_a_provider_is_not_available(cli):
    data = json.loads(cli("providers", "show", "openai-codex", "--json").stdout)
    assert data["available"] is False
    assert data["unavailable_reason"]
    assert "not yet:" in cli("providers", "show", "openai-codex").stdout


def test_show_unknown_exits_2_with_one_line(cli):
    result = cli("providers", "show", "nosuchprovider")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("construct: error: Unknown provider: 'nosuchprovider'")
    assert "custom:" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("columns", [60, 80, 100, 120, 160])
def test_the_table_fits_the_terminal_and_keeps_every_key_variable_whole(cli, columns):
    result = cli("providers", "list", COLUMNS=str(columns))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    # The notes under the table are written for 80 columns; the table fits any width.
    table = lines[2 : lines.index("", 2)]
    assert max(len(line) for line in (lines if columns >= 80 else table)) <= columns
    from construct.registry import list_providers, resolve, shown_key_env

    for info in list_providers():
        if info.key_env and columns >= 80:
            row = next(line for line in lines if line[2:].startswith(info.name + " "))
            assert shown_key_env(resolve(info.name))[0] in row.split()


def test_the_api_key_variable_is_shown_before_an_oauth_token(cli):
    result = cli("providers", "list", COLUMNS="120")
    rows = {line[2:].split()[0]: line for line in result.stdout.splitlines()[3:] if line.strip()}
    assert "ANTHROPIC_API_KEY" in rows["anthropic"]
    assert "MINIMAX_API_KEY" in rows["minimax"]
    # The OAuth token is still read (K1 order); it is set, so it is the one shown.
    result = cli("providers", "list", COLUMNS="120", ANTHROPIC_OAUTH_TOKEN="tok-0123456789")
    assert "ANTHROPIC_OAUTH_TOKEN" in result.stdout


def test_show_names_the_sign_in_of_an_oauth_region(cli):
    qwen = cli("providers", "show", "qwen-oauth").stdout
    assert "Auth:         qwen-oauth (" in qwen
    assert "the Qwen Code CLI's sign-in (~/.qwen/oauth_creds.json), when present," in qwen
    assert "needed for calls" not in qwen
    minimax = cli("providers", "show", "minimax-oauth").stdout
    assert "Auth:         minimax-oauth (" in minimax
    assert "MINIMAX_OAUTH_REFRESH_TOKEN, when set, serves instead" in minimax
    # The plain row keeps its bearer key.
    assert "Auth:         bearer (" in cli("providers", "show", "qwen").stdout
