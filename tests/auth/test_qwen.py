"""Qwen Code's sign-in (`qwen-code`, `qwen-oauth`, `qwen_oauth`) end to end through the
public API, against respx mocks of Qwen's token endpoint and the chat APIs: the credential
order, the CLI's cached file and its refresh, the resource URL, and what each failure says."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, create_provider, create_provider_with_options
from construct.auth.qwen import (
    CLIENT_ID,
    TOKEN_URL,
    expiry_seconds,
    normalise_resource_url,
)
from construct.errors import AuthError
from tests.auth.racing import race
from tests.loopback import LoopbackServer, Reply
from tests.oracle import completion

ROOT = Path(__file__).resolve().parents[2]
ACCESS = "QWENCANARYaccess0123456789abcdef"
REFRESH = "QWENCANARYrefresh0123456789abcdef"
NEW_ACCESS = "QWENCANARYnewaccess0123456789abcd"
NEW_REFRESH = "QWENCANARYnewrefresh0123456789abc"
DASHSCOPE = "sk-dashscopeCANARY0123456789"
PORTAL_CHAT = "https://portal.qwen.ai/v1/chat/completions"
DASHSCOPE_CHAT = "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"
HELLO = ChatRequest((ChatMessage.user("Hello"),))
MODEL = "qwen3-coder-plus"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("USERPROFILE", raising=False)
    for var in ("QWEN_OAUTH_CLIENT_ID", "QWEN_OAUTH_RESOURCE_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def cache(home: Path, expiry: float | None, **fields: object) -> Path:
    """The file the Qwen Code CLI leaves after a sign-in (`expiry` in seconds from now)."""
    path = home / ".qwen" / "oauth_creds.json"
    path.parent.mkdir(exist_ok=True)
    data: dict = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "token_type": "Bearer",
        "resource_url": "portal.qwen.ai",
    }
    if expiry is not None:
        data["expiry_date"] = int((time.time() + expiry) * 1000)
    data.update(fields)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def refreshed(**changes: object) -> dict:
    body = {
        "access_token": NEW_ACCESS,
        "refresh_token": NEW_REFRESH,
        "token_type": "Bearer",
        "expires_in": 21600,
        "resource_url": "portal.qwen.ai",
    }
    body.update(changes)
    return body


def chat(url: str = PORTAL_CHAT) -> respx.Route:
    return respx.post(url).mock(return_value=httpx.Response(200, json=completion(model=MODEL)))


def bearer(route: respx.Route) -> str:
    return route.calls.last.request.headers["authorization"]


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("portal.qwen.ai", "https://portal.qwen.ai/v1"),
        ("  portal.qwen.ai/  ", "https://portal.qwen.ai/v1"),
        ("https://portal.qwen.ai/v1/", "https://portal.qwen.ai/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("", None),
        (None, None),
    ],
)
def test_resource_urls_are_normalised(raw: str | None, url: str | None) -> None:
    assert normalise_resource_url(raw) == url


def test_expiry_below_ten_billion_is_seconds_else_milliseconds() -> None:
    assert expiry_seconds(1_765_000_000) == 1_765_000_000
    assert expiry_seconds(1_765_000_000_000) == 1_765_000_000
    assert expiry_seconds("soon") is None


@respx.mock
@pytest.mark.parametrize("name", ["qwen-code", "qwen-oauth", "qwen_oauth"])
def test_a_valid_cached_sign_in_goes_to_its_resource_url(home: Path, name: str) -> None:
    cache(home, 3600)
    route = chat()
    create_provider(name).chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {ACCESS}"
    assert route.calls.last.request.headers["user-agent"] == "QwenCode/1.0"


@respx.mock
def test_the_generic_key_never_hides_the_sign_in(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache(home, 3600)
    monkeypatch.setenv("CONSTRUCT_API_KEY", "generic-key-123")
    route = chat()
    create_provider("qwen-code").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {ACCESS}"


@respx.mock
def test_an_explicit_key_wins_and_goes_to_dashscope(home: Path) -> None:
    cache(home, 3600)
    route = chat(DASHSCOPE_CHAT)
    create_provider("qwen-code", "explicit-key-123").chat(HELLO, MODEL)
    assert bearer(route) == "Bearer explicit-key-123"


@respx.mock
def test_the_env_token_wins_over_the_cache_and_never_refreshes(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache(home, -3600)
    monkeypatch.setenv("QWEN_OAUTH_TOKEN", "env-token-123")
    token = respx.post(TOKEN_URL)
    route = chat()
    create_provider("qwen-oauth").chat(HELLO, MODEL)
    assert bearer(route) == "Bearer env-token-123"
    assert not token.called


@respx.mock
@pytest.mark.parametrize("unit", [1, 1000], ids=["seconds", "milliseconds"])
def test_an_expired_cache_is_refreshed_and_written_back(home: Path, unit: int) -> None:
    path = cache(home, None, expiry_date=int((time.time() + 10) * unit), kept="by the CLI")
    token = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=refreshed()))
    route = chat()
    create_provider("qwen-code").chat(HELLO, MODEL)
    form = parse_qs(token.calls.last.request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": [CLIENT_ID],
    }
    assert bearer(route) == f"Bearer {NEW_ACCESS}"
    written = json.loads(path.read_text())
    assert written["access_token"] == NEW_ACCESS
    assert written["refresh_token"] == NEW_REFRESH
    assert written["kept"] == "by the CLI"
    assert written["expiry_date"] > time.time() * 1000 + 21000 * 1000
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (home / ".qwen" / "oauth_creds.lock").exists()


@respx.mock
def test_a_missing_access_token_is_refreshed_with_the_env_refresh_token_and_client(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache(home, 3600, access_token="")
    monkeypatch.setenv("QWEN_OAUTH_REFRESH_TOKEN", "env-refresh")
    monkeypatch.setenv("QWEN_OAUTH_CLIENT_ID", "my-client")
    token = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json=refreshed(resource_url="https://other.qwen.ai/"))
    )
    route = chat("https://other.qwen.ai/v1/chat/completions")
    create_provider("qwen-code").chat(HELLO, MODEL)
    form = parse_qs(token.calls.last.request.content.decode())
    assert form["refresh_token"] == ["env-refresh"] and form["client_id"] == ["my-client"]
    assert bearer(route) == f"Bearer {NEW_ACCESS}"


@respx.mock
def test_the_resource_url_variable_beats_the_cache_and_api_url_beats_both(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache(home, 3600)
    monkeypatch.setenv("QWEN_OAUTH_RESOURCE_URL", "qwen.example.com")
    route = chat("https://qwen.example.com/v1/chat/completions")
    create_provider("qwen-code").chat(HELLO, MODEL)
    assert route.called
    mine = chat("https://gateway.example.com/v1/chat/completions")
    create_provider_with_options(
        "qwen-code", options={"provider_api_url": "https://gateway.example.com/v1"}
    ).chat(HELLO, MODEL)
    assert bearer(mine) == f"Bearer {ACCESS}"


@respx.mock
def test_a_refused_refresh_says_to_sign_in_again(home: Path) -> None:
    cache(home, -60)
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "expired"}
        )
    )
    with pytest.raises(AuthError, match=r"sign in with the Qwen Code CLI \(run `qwen`") as info:
        create_provider("qwen-code").chat(HELLO, MODEL)
    assert "HTTP 400" in info.value.message and "QWEN_OAUTH_TOKEN" in info.value.message


@respx.mock
def test_a_refused_refresh_falls_back_to_dashscope(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache(home, -60)
    monkeypatch.setenv("DASHSCOPE_API_KEY", DASHSCOPE)
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
    route = chat(DASHSCOPE_CHAT)
    create_provider("qwen-code").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {DASHSCOPE}"


@respx.mock
def test_without_a_sign_in_dashscope_is_the_last_resort(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", DASHSCOPE)
    route = chat(DASHSCOPE_CHAT)
    create_provider("qwen-code").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {DASHSCOPE}"


def test_the_placeholder_never_takes_dashscope(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", DASHSCOPE)
    with pytest.raises(AuthError, match="No Qwen Code sign-in") as info:
        create_provider("qwen-oauth", "qwen-oauth").chat(HELLO, MODEL)
    assert "QWEN_OAUTH_TOKEN" in info.value.message and "`qwen`" in info.value.message


@respx.mock
def test_the_placeholder_takes_the_sign_in(home: Path) -> None:
    cache(home, 3600)
    route = chat()
    create_provider("qwen-oauth", "QWEN-OAUTH").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {ACCESS}"


def test_no_credential_at_all_says_how_to_sign_in(home: Path) -> None:
    with pytest.raises(AuthError, match=r"run `qwen`.*QWEN_OAUTH_TOKEN.*DASHSCOPE_API_KEY"):
        create_provider("qwen-code").chat(HELLO, MODEL)


@respx.mock
@pytest.mark.parametrize("run", ["chat", "achat"])
def test_a_401_refreshes_once_and_retries(home: Path, run: str) -> None:
    cache(home, 3600)
    token = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=refreshed()))
    route = respx.post(PORTAL_CHAT).mock(
        side_effect=[
            httpx.Response(401, json={"error": {"message": "invalid access token"}}),
            httpx.Response(200, json=completion(model=MODEL)),
        ]
    )
    provider = create_provider("qwen-code")
    if run == "chat":
        provider.chat(HELLO, MODEL)
    else:
        asyncio.run(provider.achat(HELLO, MODEL))
    assert token.call_count == 1 and route.call_count == 2
    assert bearer(route) == f"Bearer {NEW_ACCESS}"


@respx.mock
def test_a_second_401_is_raised(home: Path) -> None:
    cache(home, 3600)
    token = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=refreshed()))
    route = respx.post(PORTAL_CHAT).mock(
        return_value=httpx.Response(401, json={"error": {"message": "invalid access token"}})
    )
    with pytest.raises(AuthError):
        create_provider("qwen-code").chat(HELLO, MODEL)
    assert token.call_count == 1 and route.call_count == 2


@respx.mock
def test_a_401_to_an_explicit_key_is_not_retried(home: Path) -> None:
    route = respx.post(DASHSCOPE_CHAT).mock(return_value=httpx.Response(401, json={}))
    with pytest.raises(AuthError):
        create_provider("qwen-code", "explicit-key-123").chat(HELLO, MODEL)
    assert route.call_count == 1


@respx.mock
def test_async_calls_refresh_too(home: Path) -> None:
    cache(home, -60)
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=refreshed()))
    route = chat()
    asyncio.run(create_provider("qwen-code").achat(HELLO, MODEL))
    assert bearer(route) == f"Bearer {NEW_ACCESS}"


@respx.mock
def test_tokens_never_show(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cache(home, -60)
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(400, text=f"bad token {REFRESH} {ACCESS}")
    )
    provider = create_provider("qwen-code")
    with pytest.raises(AuthError) as info:
        provider.chat(HELLO, MODEL)
    shown = [str(info.value), repr(info.value), repr(provider), caplog.text]
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=refreshed()))
    chat()
    provider.chat(HELLO, MODEL)
    shown += [repr(provider), repr(vars(provider)), caplog.text]
    for canary in (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH):
        assert not any(canary in text for text in shown)


# One process of the two: say it is ready, wait for "go", then resolve the sign-in against
# the loopback token endpoint; print the token it ends with.
REFRESHER = textwrap.dedent(
    """
    import sys
    import construct.auth.qwen as qwen
    from construct.secrets import Secret

    qwen.TOKEN_URL = sys.argv[1]
    auth = qwen.QwenOAuth("qwen", "Qwen", (), environ={"HOME": sys.argv[2]}, rebase_from=None)
    print("ready", flush=True)
    sys.stdin.readline()
    auth.refresh(None)
    print(auth.headers(None)["Authorization"])
    """
)


def test_two_processes_refreshing_at_once_make_one_refresh(home: Path, tmp_path: Path) -> None:
    cache(home, -60)

    def answer(request: object) -> Reply:
        time.sleep(0.3)  # long enough for the other process to reach the lock
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(refreshed()).encode())

    script = tmp_path / "refresher.py"
    script.write_text(REFRESHER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with LoopbackServer(answer) as server:
        argv = [sys.executable, str(script), f"{server.url}/token", str(home)]
        outputs = race([argv, argv], env)
        assert len(server.requests) == 1
    assert outputs == [f"Bearer {NEW_ACCESS}"] * 2
