"""Copilot's sign-in (`sign_in`: device flow, account, checking exchange, storing) and the
token exchange shared by two processes through the store's lock, on a loopback server."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from construct.auth.copilot import (
    ACCESS_TOKEN_URL,
    DEVICE_CODE_URL,
    TOKEN_URL,
    USER_URL,
    editor_headers,
    github_transport,
    read_session,
    sign_in,
)
from construct.auth.device import DeviceCode
from construct.auth.store import Credential, TokenStore
from construct.errors import AuthError, InvalidResponse
from construct.registry import get_spec
from construct.secrets import Secret
from construct.transport import Transport
from tests.auth.racing import race
from tests.loopback import LoopbackServer, Reply, Request

ROOT = Path(__file__).resolve().parents[2]
GRANTED = "ghu_SIGNINCANARY0123456789abcdefg"
COPILOT = "tid=SIGNINCANARY;exp=1;sku=free_limited_copilot;8kp=1:0123456789abcdef"


def test_read_session_follows_refresh_in_then_expires_at() -> None:
    now = 1_000_000.0
    s = read_session({"token": COPILOT, "expires_at": 1, "refresh_in": 1500}, now)
    assert s.expires_at == now + 1560  # a local clock ahead of GitHub's cannot expire it
    s = read_session({"token": COPILOT, "expires_at": now + 1800}, now)
    assert s.expires_at == now + 1800
    assert s.endpoint is None
    s = read_session(
        {"token": COPILOT, "refresh_in": 10, "endpoints": {"api": "https://a.example.com/"}}, now
    )
    assert s.endpoint == "https://a.example.com"
    for bad in ({"expires_at": now}, {"token": COPILOT}, [], {"token": 5}):
        with pytest.raises(InvalidResponse):
            read_session(bad, now)


def test_editor_headers_take_extra_headers_but_never_credentials() -> None:
    row = get_spec("copilot").headers
    headers = editor_headers(row, {"EDITOR-VERSION": "vscode/9.9.9", "Authorization": "x y"})
    assert headers["EDITOR-VERSION"] == "vscode/9.9.9"
    assert "Editor-Version" not in headers and "Authorization" not in headers
    assert headers["Copilot-Integration-Id"] == "vscode-chat"


@pytest.fixture
def github() -> Iterator[Transport]:
    transport = github_transport(editor_headers(get_spec("copilot").headers))
    yield transport
    transport.close()


@pytest.fixture
def routes() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(DEVICE_CODE_URL, name="code").mock(
            return_value=httpx.Response(
                200,
                json={
                    "device_code": "dc-0123456789abcdef",
                    "user_code": "ABCD-1234",
                    "verification_uri": "https://github.com/login/device",
                    "expires_in": 900,
                    "interval": 5,
                },
            )
        )
        mock.post(ACCESS_TOKEN_URL, name="poll").mock(
            side_effect=[
                httpx.Response(200, json={"error": "authorization_pending"}),
                httpx.Response(200, json={"access_token": GRANTED, "scope": "read:user"}),
            ]
        )
        mock.get(USER_URL, name="user").mock(
            return_value=httpx.Response(200, json={"login": "octocat", "id": 1})
        )
        mock.get(TOKEN_URL, name="exchange").mock(
            return_value=httpx.Response(
                200,
                json={"token": COPILOT, "refresh_in": 1500, "endpoints": {"api": "https://c.test"}},
            )
        )
        yield mock


def test_sign_in_stores_the_account_and_its_first_copilot_token(
    tmp_path: Path, github: Transport, routes: respx.MockRouter
) -> None:
    store = TokenStore(tmp_path)
    shown: list[DeviceCode] = []
    sleeps: list[float] = []
    credential = sign_in(store, profile=None, github=github, show=shown.append, sleep=sleeps.append)
    assert [c.user_code for c in shown] == ["ABCD-1234"]
    assert sleeps == [5, 5]
    assert credential.account == "octocat" and credential.method == "device flow"
    assert credential.expires_at is None
    assert store.load("copilot") == credential
    assert credential.session.token.reveal() == COPILOT
    assert credential.session.endpoint == "https://c.test"
    asked = parse_qs(routes["code"].calls.last.request.content.decode())
    assert asked == {"client_id": ["Iv1.b507a08c87ecfe98"], "scope": ["read:user"]}
    polled = parse_qs(routes["poll"].calls.last.request.content.decode())
    assert polled["client_id"] == ["Iv1.b507a08c87ecfe98"]
    assert routes["user"].calls.last.request.headers["authorization"] == f"token {GRANTED}"
    exchange = routes["exchange"].calls.last.request
    assert exchange.headers["authorization"] == f"token {GRANTED}"
    assert exchange.headers["editor-version"].startswith("vscode/")


def test_sign_in_under_a_profile(
    tmp_path: Path, github: Transport, routes: respx.MockRouter
) -> None:
    store = TokenStore(tmp_path)
    sign_in(store, profile="work", github=github, show=lambda c: None, sleep=lambda s: None)
    assert store.entries() == [("copilot", "work")]


def test_an_account_without_copilot_is_not_stored(
    tmp_path: Path, github: Transport, routes: respx.MockRouter
) -> None:
    routes["exchange"].mock(
        return_value=httpx.Response(403, json={"message": "Resource not accessible by integration"})
    )
    store = TokenStore(tmp_path)
    with pytest.raises(AuthError) as info:
        sign_in(store, profile=None, github=github, show=lambda c: None, sleep=lambda s: None)
    message = str(info.value)
    assert "GitHub account octocat" in message and "HTTP 403" in message
    assert "Nothing was stored" in message and "Copilot subscription" in message
    assert store.entries() == []


def test_an_unknown_account_name_is_no_reason_to_fail(
    tmp_path: Path, github: Transport, routes: respx.MockRouter
) -> None:
    routes["user"].mock(return_value=httpx.Response(500))
    store = TokenStore(tmp_path)
    credential = sign_in(
        store, profile=None, github=github, show=lambda c: None, sleep=lambda s: None
    )
    assert credential.account is None
    assert store.load("copilot") is not None


def test_ctrl_c_stores_nothing(tmp_path: Path, github: Transport, routes: respx.MockRouter) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    store = TokenStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        sign_in(store, profile=None, github=github, show=lambda c: None, sleep=interrupted)
    assert store.entries() == []
    assert not routes["exchange"].called


# -- two processes, one exchange ----------------------------------------------------------

# One process: a CopilotAuth on the shared store, pointed at the loopback token endpoint.
# It says it is ready, waits for "go", then asks for the Copilot token and prints it.
NEEDS_TOKEN = textwrap.dedent(
    """
    import sys
    from construct.auth.copilot import CopilotAuth, github_transport
    from construct.auth.store import TokenStore

    auth = CopilotAuth(
        "copilot", "GitHub Copilot", (), profile=None, store=TokenStore(sys.argv[1]),
        github=github_transport({}), rebase_from=None, token_url=sys.argv[2],
    )
    print("ready", flush=True)
    sys.stdin.readline()
    print(auth.session(None).token.reveal(), flush=True)
    """
)


def test_two_processes_needing_a_token_at_once_make_one_exchange(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth")
    store.save(Credential("copilot", Secret(GRANTED), account="octocat"))
    served = []
    lock = threading.Lock()

    def token_endpoint(request: Request) -> Reply:
        with lock:
            served.append(request.headers.get("authorization"))
            n = len(served)
        body = {"token": f"tid=loopback-{n};sig=0123456789abcdef", "refresh_in": 1500}
        # Slow enough for the other process to reach the lock while this one holds it.
        return Reply(
            200, {"Content-Type": "application/json"}, json.dumps(body).encode(), delay=0.5
        )

    script = tmp_path / "needs_token.py"
    script.write_text(NEEDS_TOKEN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with LoopbackServer(token_endpoint) as server:
        url = f"{server.url}/copilot_internal/v2/token"
        argv = [sys.executable, str(script), str(tmp_path / "auth"), url]
        tokens = race([argv, argv], env)
    assert served == [f"token {GRANTED}"]
    assert tokens == ["tid=loopback-1;sig=0123456789abcdef"] * 2
    stored = store.load("copilot").session
    assert stored.token.reveal() == tokens[0] and stored.expires_at > time.time() + 1400
