"""`construct auth login|logout|status`, run as a user runs them: subprocesses in a scratch
home. The sign-in itself talks to respx mocks of GitHub inside the CLI process
(tests/cli/doc_shim.py), and is interrupted with a real SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from construct.auth.store import Credential, Session, TokenStore
from construct.secrets import Secret
from tests.cli.conftest import Cli
from tests.cli.test_doc_examples import GITHUB_SIGN_IN

ROOT = Path(__file__).resolve().parents[2]
GITHUB = "ghu_CLICANARY0123456789abcdefghijk"
COPILOT = "tid=CLICANARY;exp=1;sku=x;8kp=1:00112233445566778899"


def store_of(cli: Cli) -> TokenStore:
    return TokenStore(cli.home / ".construct" / "auth")


def signed_in(cli: Cli, profile: str | None = None) -> TokenStore:
    store = store_of(cli)
    store.save(
        Credential(
            "copilot",
            Secret(GITHUB),
            profile=profile,
            account="octocat",
            method="device flow",
            obtained_at=1_765_000_000.0,
            session=Session(Secret(COPILOT), 1_765_001_560.0, "https://c.example.com"),
        )
    )
    return store


def test_status_without_a_sign_in_says_how_to_sign_in(cli: Cli) -> None:
    result = cli("auth", "status")
    assert result.returncode == 1
    assert result.stdout == (
        "GitHub Copilot (copilot): not signed in. Sign in with: construct auth login copilot\n"
    )
    assert not (cli.home / ".construct").exists()


def test_status_shows_account_expiry_and_source_never_the_token(cli: Cli) -> None:
    signed_in(cli)
    signed_in(cli, "work")
    result = cli("auth", "status")
    assert result.returncode == 0, result.output
    path = cli.home / ".construct" / "auth" / "copilot"
    assert result.stdout.splitlines() == [
        "GitHub Copilot (copilot): signed in as octocat",
        "  from:     device flow, 2025-12-06 05:46 UTC",
        "  expires:  never",
        "  session:  expired 2025-12-06 06:12 UTC (renewed as needed)",
        f"  stored:   {path / 'default.json'}",
        "GitHub Copilot (copilot:work): signed in as octocat",
        "  from:     device flow, 2025-12-06 05:46 UTC",
        "  expires:  never",
        "  session:  expired 2025-12-06 06:12 UTC (renewed as needed)",
        f"  stored:   {path / 'work.json'}",
    ]
    assert "CLICANARY" not in result.output
    only = cli("auth", "status", "github-copilot:work")
    assert only.stdout.splitlines()[0] == "GitHub Copilot (copilot:work): signed in as octocat"


def test_status_says_a_variable_is_used_before_the_sign_in(cli: Cli) -> None:
    signed_in(cli)
    result = cli("auth", "status", "copilot", COPILOT_GITHUB_TOKEN="ghu_ENVCANARY0123456789abc")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "GitHub Copilot (copilot): a GitHub token from COPILOT_GITHUB_TOKEN " + (
        "(the environment)"
    )
    assert "unset COPILOT_GITHUB_TOKEN" in lines[1]
    assert "signed in as octocat" in result.stdout
    assert "ENVCANARY" not in result.output


def test_status_honours_construct_home(cli: Cli, tmp_path: Path) -> None:
    TokenStore(tmp_path / "elsewhere" / "auth").save(
        Credential("copilot", Secret(GITHUB), account="hubot")
    )
    result = cli("auth", "status", CONSTRUCT_HOME=str(tmp_path / "elsewhere"))
    assert "signed in as hubot" in result.stdout
    assert str(tmp_path / "elsewhere" / "auth" / "copilot" / "default.json") in result.stdout


def test_status_of_a_broken_file_says_what_to_do_without_showing_it(cli: Cli) -> None:
    path = cli.home / ".construct" / "auth" / "copilot" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "access_token": "' + GITHUB + '", "session": 3}')
    result = cli("auth", "status", "copilot")
    assert result.returncode == 1
    assert "cannot be read (session is not an object)" in result.stdout
    assert "construct auth logout copilot" in result.stdout
    assert "CLICANARY" not in result.output


def test_logout_removes_the_sign_in(cli: Cli) -> None:
    store = signed_in(cli)
    result = cli("auth", "logout", "copilot")
    assert result.returncode == 0
    path = store.path("copilot")
    assert result.stdout.splitlines() == [
        f"Signed out of GitHub Copilot (octocat): removed {path}.",
        "To withdraw construct's access too, revoke it at https://github.com/settings/applications",
    ]
    assert not path.exists()
    again = cli("auth", "logout", "copilot")
    assert again.returncode == 0
    assert again.stdout == "Not signed in to GitHub Copilot (copilot); nothing to remove.\n"


def test_logout_without_a_provider_removes_every_sign_in(cli: Cli) -> None:
    store = signed_in(cli)
    signed_in(cli, "work")
    result = cli("auth", "logout")
    assert result.returncode == 0
    assert result.stdout.count("Signed out of GitHub Copilot (octocat)") == 2
    assert store.entries() == []
    assert cli("auth", "logout").stdout == "No sign-ins are stored; nothing to remove.\n"


def test_login_needs_a_provider_with_a_sign_in(cli: Cli) -> None:
    bare = cli("auth", "login")
    assert bare.returncode == 2
    assert "construct auth login PROVIDER (one of: copilot)" in bare.stderr
    groq = cli("auth", "login", "groq")
    assert groq.returncode == 2
    assert groq.stderr == (
        "construct: error: Groq (groq) has no sign-in: it takes an API key (GROQ_API_KEY). "
        "Sign-ins: copilot.\n"
    )
    assert cli("auth", "status", "groq").returncode == 2
    assert cli("auth", "login", "copilot:bad name").returncode == 2


def test_bare_auth_prints_its_help(cli: Cli) -> None:
    result = cli("auth")
    assert result.returncode == 2
    assert "login" in result.stderr and "status" in result.stderr


def test_ctrl_c_during_the_sign_in_stores_nothing(cli: Cli) -> None:
    # GitHub keeps answering "pending": the CLI waits until the user gives up.
    routes = {
        **GITHUB_SIGN_IN,
        "POST https://github.com/login/oauth/access_token": [
            {"body": {"error": "authorization_pending"}}
        ],
    }
    env = {**cli.env, "PYTHONPATH": str(ROOT), "DOC_ROUTES": json.dumps(routes)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.cli.doc_shim", "auth", "login", "copilot"],
        cwd=cli.home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[2].startswith("Waiting for you there"), lines
        time.sleep(1.5)  # a poll or two, answered "pending"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == "Sign-in cancelled; nothing was stored."
    assert out == ""
    assert store_of(cli).entries() == []
    assert not (cli.home / ".construct").exists()


def test_providers_show_points_at_the_sign_in(cli: Cli) -> None:
    shown = cli("providers", "show", "copilot").stdout
    assert "Key:          not set; a stored sign-in serves instead (construct auth login " in shown
