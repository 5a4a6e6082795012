"""`construct config init` and `construct config check`."""

from __future__ import annotations

SECRET = "sk-live-abcdefghijklmnop"
# The starter config reads its key from OPENROUTER_API_KEY.
OPENROUTER = {"OPENROUTER_API_KEY": "sk-or-v1-test0123456789abcdef"}


def test_init_writes_a_config_that_check_accepts(cli):
    result = cli("config", "init")
    assert result.returncode == 0, result.stderr
    target = cli.home / ".construct" / "config.toml"
    assert target.is_file()
    assert str(target) in result.stdout
    check = cli("config", "check", **OPENROUTER)
    assert check.returncode == 0, check.output
    assert check.stdout.startswith(f"OK: {target}")
    assert "openrouter" in check.stdout
    assert OPENROUTER["OPENROUTER_API_KEY"] not in check.output


def test_second_init_refuses_to_overwrite(cli):
    target = cli.home / "my.toml"
    assert cli("config", "init", str(target)).returncode == 0
    before = target.read_text()
    target.write_text(before + "# mine\n")
    result = cli("config", "init", str(target))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already exists" in lines[0]
    assert target.read_text() == before + "# mine\n"


def test_init_follows_construct_config(cli):
    target = cli.home / "from-env.toml"
    result = cli("config", "init", CONSTRUCT_CONFIG=str(target))
    assert result.returncode == 0, result.stderr
    assert target.is_file()
    assert not (cli.home / ".construct").exists()


def test_check_without_a_file_uses_the_defaults(cli):
    result = cli("config", "check")
    assert result.returncode == 0, result.output
    assert result.stdout.startswith("OK: no config file found")


def test_check_reports_every_problem_with_its_key_path(cli):
    path = cli.home / "config.toml"
    path.write_text(
        'default_provider = "groq"\n'
        "defualt_model = 'x'\n"
        "[reliability]\n"
        'api_keys = ["${MISSING_KEY_VAR}"]\n'
    )
    result = cli("config", "check")
    assert result.returncode == 1
    assert str(path) in result.stdout
    problems = [line.strip() for line in result.stdout.splitlines()[1:]]
    assert len(problems) == 2
    assert any(p.startswith("defualt_model:") and "default_model" in p for p in problems)
    assert any(
        p.startswith("reliability.api_keys[0]:") and "MISSING_KEY_VAR" in p for p in problems
    )
    assert "Traceback" not in result.output


def test_check_never_prints_a_key(cli):
    path = cli.home / "settings.toml"
    path.write_text(f'default_provider = "openai"\napi_key = "{SECRET}"\n')
    result = cli("config", "check", "--config", str(path))
    assert result.returncode == 0, result.output
    assert SECRET not in result.output
    assert "sk-…mnop" in result.stdout
    # With a problem beside it too.
    path.write_text(f'default_provider = "openai"\napi_key = "{SECRET}"\nbogus = 1\n')
    result = cli("config", "check", "--config", str(path))
    assert result.returncode == 1
    assert SECRET not in result.output


def test_check_reports_a_key_of_another_vendor(cli):
    path = cli.home / "config.toml"
    path.write_text(f'default_provider = "grok"\napi_key = "{SECRET}"\n')
    result = cli("config", "check")
    assert result.returncode == 1
    assert "api_key:" in result.stdout and "mismatch" in result.stdout
    assert SECRET not in result.output


def test_check_of_a_missing_file_names_it(cli):
    result = cli("config", "check", "--config", str(cli.home / "nope.toml"))
    assert result.returncode == 1
    assert "nope.toml" in result.stdout
