"""The `construct` entry point: help, version, exit codes."""

from __future__ import annotations

import subprocess
import sys

import construct


def test_no_arguments_prints_help_and_exits_2(cli):
    result = cli()
    assert result.returncode == 2
    assert "usage: construct" in result.output
    for command in ("providers", "chat", "config"):
        assert command in result.output


def test_config_without_a_subcommand_prints_its_help(cli):
    result = cli("config")
    assert result.returncode == 2
    assert "init" in result.output and "check" in result.output


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"construct {construct.__version__}"


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_python_dash_m_construct_cli(cli):
    proc = subprocess.run(
        [sys.executable, "-m", "construct.cli", "--version"],
        cwd=cli.home,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("construct ")
