"""MiniMax's OAuth refresh-token flow (`minimax-oauth*`) end to end through the public API,
against respx mocks of MiniMax's token endpoints and chat API: the key order, the
placeholder, the regions, what an answer must hold, the stored token, and a 401."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, create_provider
from construct.auth.minimax import CLIENT_ID, STORE_PROVIDER, TOKEN_URLS, oauth_region
from construct.auth.store import TokenStore
from construct.errors import AuthError
from tests.oracle import completion

REFRESH = "MMCANARYrefresh0123456789abcdef"
ACCESS = "MMCANARYaccess0123456789abcdef"
GLOBAL_CHAT = "https://api.minimax.io/v1/chat/completions"
CN_CHAT = "https://api.minimaxi.com/v1/chat/completions"
HELLO = ChatRequest((ChatMessage.user("Hello"),))
MODEL = "MiniMax-M2"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONSTRUCT_HOME", str(tmp_path / "home"))
    for var in ("MINIMAX_OAUTH_REGION", "MINIMAX_OAUTH_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def refresh_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MINIMAX_OAUTH_REFRESH_TOKEN", REFRESH)
    return REFRESH


def granted(**changes: object) -> dict:
    body: dict = {
        "status": "success",
        "access_token": ACCESS,
        "token_type": "Bearer",
        "expires_in": 3600,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    body.update(changes)
    return body


def chat(url: str = GLOBAL_CHAT) -> respx.Route:
    return respx.post(url).mock(return_value=httpx.Response(200, json=completion(model=MODEL)))


def bearer(route: respx.Route) -> str:
    return route.calls.last.request.headers["authorization"]


@pytest.mark.parametrize(
    ("variable", "row", "region"),
    [
        ("", None, "global"),
        ("", "intl", "global"),
        ("", "cn", "cn"),
        ("China", "intl", "cn"),
        ("international", "cn", "global"),
        ("intl", "cn", "global"),
        ("mars", "cn", "cn"),
    ],
)
def test_the_region_is_the_variable_else_the_alias(variable: str, row: str, region: str) -> None:
    assert oauth_region({"MINIMAX_OAUTH_REGION": variable}, row) == region


@respx.mock
@pytest.mark.parametrize(
    ("name", "token_url", "chat_url"),
    [
        ("minimax-oauth", TOKEN_URLS["global"], GLOBAL_CHAT),
        ("minimax-oauth-global", TOKEN_URLS["global"], GLOBAL_CHAT),
        ("minimax-oauth-cn", TOKEN_URLS["cn"], CN_CHAT),
    ],
)
def test_the_refresh_token_is_exchanged_at_the_alias_region(
    refresh_token: str, name: str, token_url: str, chat_url: str
) -> None:
    token = respx.post(token_url).mock(return_value=httpx.Response(200, json=granted()))
    route = chat(chat_url)
    create_provider(name).chat(HELLO, MODEL)
    request = token.calls.last.request
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": [CLIENT_ID],
    }
    assert request.headers["accept"] == "application/json"
    assert bearer(route) == f"Bearer {ACCESS}"


@respx.mock
def test_the_region_variable_and_client_id_variable_win(
    refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIMAX_OAUTH_REGION", "cn")
    monkeypatch.setenv("MINIMAX_OAUTH_CLIENT_ID", "my-client")
    token = respx.post(TOKEN_URLS["cn"]).mock(return_value=httpx.Response(200, json=granted()))
    chat()
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert parse_qs(token.calls.last.request.content.decode())["client_id"] == ["my-client"]


@respx.mock
@pytest.mark.parametrize(
    ("var", "value"), [("MINIMAX_OAUTH_TOKEN", "oauth-access"), ("MINIMAX_API_KEY", "api-key")]
)
def test_a_key_wins_over_the_refresh_token(
    refresh_token: str, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    token = respx.post(TOKEN_URLS["global"])
    route = chat()
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {value}"
    assert not token.called


@respx.mock
def test_the_placeholder_key_takes_the_environment_then_the_exchange(
    refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = respx.post(TOKEN_URLS["cn"]).mock(return_value=httpx.Response(200, json=granted()))
    route = chat(CN_CHAT)
    create_provider("minimax-oauth-cn", "minimax-oauth-cn").chat(HELLO, MODEL)
    assert bearer(route) == f"Bearer {ACCESS}" and token.called
    monkeypatch.setenv("MINIMAX_API_KEY", "api-key")
    create_provider("minimax-oauth-cn", "minimax-oauth").chat(HELLO, MODEL)
    assert bearer(route) == "Bearer api-key"


@respx.mock
def test_the_access_token_is_reused_until_its_expiry_across_providers(
    refresh_token: str,
) -> None:
    token = respx.post(TOKEN_URLS["global"]).mock(
        side_effect=[
            httpx.Response(200, json=granted(expires_in=30)),
            httpx.Response(200, json=granted(access_token="second-access")),
            httpx.Response(200, json=granted(access_token="third-access")),
        ]
    )
    route = chat()
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    # 30 s is inside the 60 s margin: the next call exchanges again.
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert token.call_count == 2 and bearer(route) == "Bearer second-access"
    stored = TokenStore.default().load(STORE_PROVIDER, "global")
    assert stored is not None and stored.access_token.reveal() == "second-access"
    assert stored.refresh_token is None and REFRESH not in str(stored.to_json())
    # A new process (provider) finds the stored token.
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert token.call_count == 2


@respx.mock
def test_a_new_refresh_token_does_not_reuse_the_old_ones_access_token(
    refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = respx.post(TOKEN_URLS["global"]).mock(return_value=httpx.Response(200, json=granted()))
    chat()
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    monkeypatch.setenv("MINIMAX_OAUTH_REFRESH_TOKEN", "another-refresh")
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert token.call_count == 2


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (
            200,
            granted(status="error", base_resp={"status_msg": "refresh token expired"}),
            "refresh token expired",
        ),
        (200, granted(access_token="  "), "no access token"),
        (
            401,
            {"base_resp": {"status_code": 1004, "status_msg": "invalid refresh token"}},
            "HTTP 401: invalid refresh token",
        ),
    ],
    ids=["status-not-success", "blank-token", "http-401"],
)
def test_a_failed_exchange_says_why_and_what_to_do(
    refresh_token: str, status: int, body: dict, says: str
) -> None:
    respx.post(TOKEN_URLS["global"]).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(AuthError) as info:
        create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert says in info.value.message
    assert "MINIMAX_OAUTH_REGION" in info.value.message
    assert "MINIMAX_API_KEY" in info.value.message


def test_no_credential_names_every_variable() -> None:
    with pytest.raises(AuthError) as info:
        create_provider("minimax-oauth").chat(HELLO, MODEL)
    for var in ("MINIMAX_API_KEY", "MINIMAX_OAUTH_TOKEN", "MINIMAX_OAUTH_REFRESH_TOKEN"):
        assert var in info.value.message


@respx.mock
def test_a_401_drops_the_token_and_exchanges_once_more(refresh_token: str) -> None:
    token = respx.post(TOKEN_URLS["global"]).mock(
        side_effect=[
            httpx.Response(200, json=granted()),
            httpx.Response(200, json=granted(access_token="fresh-access")),
        ]
    )
    route = respx.post(GLOBAL_CHAT).mock(
        side_effect=[
            httpx.Response(401, json={"base_resp": {"status_msg": "token expired"}}),
            httpx.Response(200, json=completion(model=MODEL)),
        ]
    )
    create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert token.call_count == 2 and route.call_count == 2
    assert bearer(route) == "Bearer fresh-access"
    stored = TokenStore.default().load(STORE_PROVIDER, "global")
    assert stored is not None and stored.access_token.reveal() == "fresh-access"


@respx.mock
def test_a_401_to_a_key_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIMAX_API_KEY", "api-key")
    route = respx.post(GLOBAL_CHAT).mock(return_value=httpx.Response(401, json={}))
    with pytest.raises(AuthError):
        create_provider("minimax-oauth").chat(HELLO, MODEL)
    assert route.call_count == 1


@respx.mock
def test_tokens_never_show(refresh_token: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(TOKEN_URLS["global"]).mock(return_value=httpx.Response(400, text=f"no: {REFRESH}"))
    provider = create_provider("minimax-oauth")
    with pytest.raises(AuthError) as info:
        provider.chat(HELLO, MODEL)
    shown = [str(info.value), repr(info.value), caplog.text]
    respx.post(TOKEN_URLS["global"]).mock(return_value=httpx.Response(200, json=granted()))
    chat()
    provider.chat(HELLO, MODEL)
    shown += [repr(provider), repr(vars(provider)), caplog.text]
    for canary in (ACCESS, REFRESH):
        assert not any(canary in text for text in shown)
    assert time.time() > 0
