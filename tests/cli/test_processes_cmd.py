"""`construct processes list|add|remove|update`, run as a user runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest


def _file(cli) -> Path:
    return cli.home / ".infinity" / "providers.json"


def _ids(path: Path) -> list[str]:
    return list(json.loads(path.read_text()))


@pytest.fixture
def fake_pip(tmp_path: Path) -> tuple[str, Path]:
    """An installer that records its argv, one JSON list a line; `fail-*` packages fail."""
    log = tmp_path / "pip-calls.jsonl"
    script = tmp_path / "fake_pip.py"
    script.write_text(
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print('fake pip: installing', sys.argv[-1])\n"
        "sys.exit(1 if sys.argv[-1].startswith('fail-') else 0)\n"
    )
    return f"{sys.executable} {script}", log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_list_without_a_file_is_friendly(cli):
    result = cli("processes", "list")
    assert result.returncode == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"no provider processes configured ({_file(cli)} not found)"
    )
    assert not _file(cli).exists()


def test_add_then_list_in_order(cli):
    first = cli("processes", "add", "zeta", "--", sys.executable, "-m", "zeta", "--flag")
    assert first.returncode == 0, first.output
    assert first.stdout.strip() == f"Added zeta to {_file(cli)}"
    second = cli("processes", "add", "alpha", "--package", "alpha-pkg", "--", "alpha-bin")
    assert second.returncode == 0, second.output
    assert "alpha-bin is not on PATH" in second.stderr
    assert json.loads(_file(cli).read_text()) == {
        "zeta": {"command": [sys.executable, "-m", "zeta", "--flag"]},
        "alpha": {"command": ["alpha-bin"], "package": "alpha-pkg"},
    }
    listed = cli("processes", "list")
    assert listed.returncode == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0] == f"Provider processes in {_file(cli)}, in start order:"
    assert lines[1] == f"  zeta   {sys.executable} -m zeta --flag"
    assert lines[2] == "  alpha  alpha-bin  (package alpha-pkg)"


def test_list_json(cli):
    cli("processes", "add", "a", "--package", "p", "--", "prog", "arg with space")
    result = cli("processes", "list", "--json")
    assert result.returncode == 0, result.output
    assert json.loads(result.stdout) == {
        "file": str(_file(cli)),
        "processes": [{"id": "a", "command": ["prog", "arg with space"], "package": "p"}],
    }
    assert json.loads(cli("processes", "--json").stdout) == json.loads(result.stdout)


def test_the_command_keeps_its_own_dashes_and_options(cli):
    result = cli("processes", "add", "x", "--", "prog", "--package", "q", "--", "-v", "--file", "f")
    assert result.returncode == 0, result.output
    data = json.loads(_file(cli).read_text())
    assert data == {"x": {"command": ["prog", "--package", "q", "--", "-v", "--file", "f"]}}


def test_options_may_come_before_the_id_too(cli):
    result = cli("processes", "add", "--package", "p", "x", "--", "prog")
    assert result.returncode == 0, result.output
    assert json.loads(_file(cli).read_text())["x"]["package"] == "p"


def test_adding_an_existing_id_replaces_it_in_place_and_keeps_other_keys(cli):
    path = _file(cli)
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                "a": {"command": ["a"]},
                "b": {"command": ["old"], "crate_name": "b-crate", "owner": "infinity"},
                "c": {"command": ["c"], "future-key": [1]},
            }
        )
    )
    result = cli("processes", "add", "b", "--", "new", "--x")
    assert result.returncode == 0, result.output
    assert result.stdout.strip() == f"Replaced b in {path} (position kept)"
    assert json.loads(path.read_text()) == {
        "a": {"command": ["a"]},
        "b": {"command": ["new", "--x"], "owner": "infinity"},
        "c": {"command": ["c"], "future-key": [1]},
    }


def test_a_relative_program_path_is_stored_absolute(cli):
    result = cli("processes", "add", "x", "--", "./bin/prog")
    assert result.returncode == 0, result.output
    assert "not an executable file" in result.stderr
    assert json.loads(_file(cli).read_text())["x"]["command"] == [str(cli.home / "bin" / "prog")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("x", "prog"), "put -- before the command"),
        (("x", "--"), "no command after --"),
        ((), "put -- before the command"),
        (("x", "--package=-r", "--", "prog"), "--package takes a package name"),
        (("", "--", "prog"), "the ID is empty"),
    ],
)
def test_add_usage_errors(cli, args, says):
    result = cli("processes", "add", *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert not _file(cli).exists()


def test_add_help(cli):
    result = cli("processes", "add", "x", "--help")
    assert result.returncode == 0
    assert "ID [--package PKG] [--file PATH] -- COMMAND [ARGS...]" in result.stdout


def test_remove(cli):
    for name in ("a", "b", "c"):
        cli("processes", "add", name, "--", "prog")
    result = cli("processes", "remove", "b")
    assert result.returncode == 0, result.output
    assert result.stdout.strip() == f"Removed b from {_file(cli)}"
    assert _ids(_file(cli)) == ["a", "c"]
    again = cli("processes", "remove", "b")
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"construct: error: {_file(cli)}: no provider process named 'b'; "
        "the configured ids are: a, c"
    )


def test_remove_without_a_file(cli):
    result = cli("processes", "remove", "x")
    assert result.returncode == 2
    assert "not found); nothing to remove" in result.stderr


def test_a_broken_file_is_reported_not_overwritten(cli):
    path = _file(cli)
    path.parent.mkdir()
    path.write_text('{"a": {"command": ["x"]},}')
    for args in (("list",), ("add", "b", "--", "prog"), ("remove", "a"), ("update",)):
        result = cli("processes", *args)
        assert result.returncode == 2, args
        assert f"construct: error: failed to parse {path}: " in result.stderr
    assert path.read_text() == '{"a": {"command": ["x"]},}'


def test_file_flag_and_env_var_choose_the_file(cli):
    flagged = cli.home / "flag.json"
    named = cli.home / "env.json"
    assert cli("processes", "--file", str(flagged), "add", "a", "--", "prog").returncode == 0
    assert cli("processes", "add", "b", "--file", str(flagged), "--", "prog").returncode == 0
    assert cli("processes", "add", "c", "--", "prog", CONSTRUCT_PROCESSES_FILE=str(named))
    assert _ids(flagged) == ["a", "b"]
    assert _ids(named) == ["c"]
    assert not _file(cli).exists()
    listed = cli("processes", "list", "--file", str(flagged), CONSTRUCT_PROCESSES_FILE=str(named))
    assert "  a  prog" in listed.stdout and "  c  " not in listed.stdout


def test_update_runs_the_installer_for_each_package(cli, fake_pip):
    pip, log = fake_pip
    cli("processes", "add", "one", "--package", "pkg-one", "--", "prog")
    cli("processes", "add", "bare", "--", "prog")
    cli("processes", "add", "two", "--package", "pkg-two", "--", "prog")
    result = cli("processes", "update", CONSTRUCT_PIP=pip)
    assert result.returncode == 0, result.output
    assert _calls(log) == [["install", "--upgrade", "pkg-one"], ["install", "--upgrade", "pkg-two"]]
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["fake pip: installing pkg-one", "one: ok"]
    assert "bare: skipped (no package recorded)" in lines
    assert "two: ok" in lines


def test_update_of_some_ids_only(cli, fake_pip):
    pip, log = fake_pip
    cli("processes", "add", "one", "--package", "pkg-one", "--", "prog")
    cli("processes", "add", "two", "--package", "pkg-two", "--", "prog")
    result = cli("processes", "update", "two", CONSTRUCT_PIP=pip)
    assert result.returncode == 0, result.output
    assert _calls(log) == [["install", "--upgrade", "pkg-two"]]
    unknown = cli("processes", "update", "three", CONSTRUCT_PIP=pip)
    assert unknown.returncode == 2
    assert "no provider process named 'three'" in unknown.stderr


def test_a_failed_update_exits_1_and_the_others_still_run(cli, fake_pip):
    pip, log = fake_pip
    cli("processes", "add", "bad", "--package", "fail-pkg", "--", "prog")
    cli("processes", "add", "good", "--package", "pkg", "--", "prog")
    result = cli("processes", "update", CONSTRUCT_PIP=pip)
    assert result.returncode == 1
    assert len(_calls(log)) == 2
    assert "bad: failed (" in result.stdout and "exited with status 1)" in result.stdout
    assert "good: ok" in result.stdout
    assert "construct: error: 1 of 2 updates failed: bad" in result.stderr


def test_an_installer_that_cannot_run_is_a_failure(cli):
    cli("processes", "add", "a", "--package", "pkg", "--", "prog")
    result = cli("processes", "update", CONSTRUCT_PIP="/nonexistent/pip")
    assert result.returncode == 1
    assert "a: failed (cannot run /nonexistent/pip: No such file or directory)" in result.stdout


def test_update_without_a_file_says_how_to_add_one(cli):
    result = cli("processes", "update")
    assert result.returncode == 2
    assert "no model providers configured" in result.stderr
    assert "construct processes add ID -- COMMAND" in result.stderr
