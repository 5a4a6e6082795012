"""No key, not even a piece of one, in any message, log line, repr or exception chain.

Servers on loopback sockets echo the key they were sent (in bodies and headers), and
every error construct raises is then searched for the key: its message, repr, `.body`,
every exception behind it (`__cause__`, `__context__`) with its args and attributes
(`.doc`, `.request` and the request's headers), and the traceback a printer shows.
A key counts as leaked if any 8 characters of it survive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
    ConstructError,
    InvalidResponse,
    ProviderRuntimeOptions,
    TransientError,
    create_provider_with_options,
    create_resilient_provider,
    create_routed_provider,
)
from construct.errors import classify_http_error
from construct.resilience import ReliableProvider, RouterProvider
from construct.resilience.attempts import Attempt
from construct.secrets import Secret, sanitize_api_error, scrub_secret_patterns
from construct.transport.errors import Failure, connection_error, invalid_body
from tests.loopback import LoopbackServer, Reply

# The key the provider sends: `sk-` shaped, and known to construct once it is the key.
CANARY = "sk-LEAKCANARY-0123456789abcdefghijkl"
# Shapes no pattern knows: only the literal scrub of known secrets, or the userinfo rule,
# can find these.
GATEWAY = "gwt.LEAKCANARY.gateway.13579"
PASSWORD = "pw.LEAKCANARY.userinfo.98765"
Secret(GATEWAY)  # the options side registers extra_headers values as secrets

HELLO = ChatRequest((ChatMessage.user("hello"),))


def pieces(secret: str) -> set[str]:
    return {secret[i : i + 8] for i in range(len(secret) - 7)}


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets or (CANARY, GATEWAY, PASSWORD):
        found = sorted(p for p in pieces(secret) if p in text)
        assert not found, f"pieces {found} of {secret!r} leaked in:\n{text}"


def reachable_text(exc: BaseException) -> str:
    """Everything an error reporter could show of `exc`: messages, reprs, args and
    attributes of every exception in its chain, the headers of a request they keep,
    and the formatted traceback."""
    out: list[str] = []
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if depth > 12 or id(obj) in seen or isinstance(obj, int | float | type(None)):
            return
        seen.add(id(obj))
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, bytes | bytearray):
            out.append(bytes(obj).decode("utf-8", "replace"))
        elif isinstance(obj, BaseException):
            out.extend((str(obj), repr(obj)))
            for part in (obj.args, vars(obj), obj.__cause__, obj.__context__):
                visit(part, depth + 1)
        elif isinstance(obj, Mapping):
            for key, value in list(obj.items()):
                visit(key, depth + 1)
                visit(value, depth + 1)
        elif isinstance(obj, list | tuple | set | frozenset):
            for value in obj:
                visit(value, depth + 1)
        else:
            out.append(repr(obj))
            headers = getattr(obj, "headers", None)
            if headers is not None:
                visit(dict(headers.items()), depth + 1)
            visit(getattr(obj, "__dict__", None), depth + 1)

    visit(exc, 0)
    out.append("".join(traceback.format_exception(exc)))
    return "\n".join(out)


def assert_error_clean(exc: ConstructError) -> None:
    assert_clean(reachable_text(exc))
    assert_clean(repr(exc))
    assert_clean(str(getattr(exc, "body", "") or ""))


# -- the helpers must catch a canary that makes them fail -------------------------------


def test_the_checks_find_a_leak() -> None:
    with pytest.raises(AssertionError):
        assert_clean(f"... {CANARY[5:14]} ...")
    try:
        json.loads(f"<html>{CANARY}</html>")
    except ValueError as exc:
        with pytest.raises(AssertionError):
            assert_clean(reachable_text(exc))


# -- 1. scrub first, then cut --------------------------------------------------------


@pytest.mark.parametrize("secret", [CANARY, GATEWAY])
def test_a_key_across_every_cut_leaves_no_piece(secret: str) -> None:
    class Peer:
        provider, display_name, key_env, connect_hint = "acme", "Acme", (), None

    # Every offset puts the key across the 500-character cut of bodies and the
    # 1000-character cut of messages at some point.
    for n in range(440, 1060, 3):
        text = "x" * n + " " + secret + " and the rest"
        outputs = [
            sanitize_api_error(text),
            str(classify_http_error("acme", "Acme", 400, text)),
            str(classify_http_error("acme", "Acme", 400, text).body),
            str(invalid_body(Peer(), f"detail {text}", text)),
            str(connection_error(Peer(), Failure.DROPPED, OSError(text), "http://h")),
            str(TransientError(text)),
            Attempt.of_error("acme", "m", 1, 1, "retryable", ValueError(text)).line(),
        ]
        for output in outputs:
            assert_clean(output, secret)


# -- 2. the userinfo of a custom: URL in logs ------------------------------------------

CUSTOM = f"custom:https://user:{PASSWORD}@gw.example.com/v1"


def test_url_userinfo_is_scrubbed() -> None:
    assert scrub_secret_patterns(CUSTOM) == "custom:https://[REDACTED]@gw.example.com/v1"
    assert scrub_secret_patterns(f"see https://{PASSWORD}@h.example/x") == (
        "see https://[REDACTED]@h.example/x"
    )
    # Not a URL's userinfo: kept.
    kept = "write to a@b.example or see https://h.example/users/a@b.example"
    assert scrub_secret_patterns(kept) == kept


def test_ignored_fallbacks_are_logged_with_the_userinfo_masked(caplog) -> None:
    broken = f"custom:ftp://user:{PASSWORD}@gw.example.com/v1"  # R4: http(s) only
    with caplog.at_level(logging.WARNING, logger="construct"):
        create_resilient_provider(
            "openai", "sk-test-openai-0000", None, {"fallback_providers": [CUSTOM, CUSTOM, broken]}
        )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Skipping duplicate fallback provider" in w for w in warnings)
    assert any("Ignoring fallback provider" in w for w in warnings)
    assert "Skipping duplicate fallback provider 'custom:https://[REDACTED]@gw.example.com/v1'" in (
        warnings
    )
    assert_clean(caplog.text)


def test_ignored_routes_are_logged_with_the_userinfo_masked(caplog) -> None:
    broken = f"custom:ftp://user:{PASSWORD}@gw.example.com/v1"
    with caplog.at_level(logging.WARNING, logger="construct"):
        create_routed_provider(
            "openai",
            "sk-test-openai-0000",
            model_routes=[{"hint": "gw", "provider": broken}],
        )
    assert "Ignoring routed provider 'custom:ftp://[REDACTED]@gw.example.com/v1'" in caplog.text
    assert_clean(caplog.text)


def test_warmup_failures_are_logged_with_the_userinfo_masked(caplog) -> None:
    # The registry refuses such a URL, but a chain built by hand may name its entries so.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = create_provider_with_options(f"custom:http://127.0.0.1:{port}/v1", CANARY)
    reliable = ReliableProvider([(CUSTOM, dead)])
    router = RouterProvider([(CUSTOM, dead)], [])
    with caplog.at_level(logging.WARNING, logger="construct"):
        reliable.warmup()
        router.warmup()
        asyncio.run(reliable.awarmup())
        asyncio.run(router.awarmup())
    assert caplog.text.count("warmup of custom:https://[REDACTED]@gw.example.com/v1 failed") == 4
    assert_clean(caplog.text)


# -- 3-5. every transport error path, httpx and aiohttp ---------------------------------

MODES = ["httpx", "httpx-async", "aiohttp"]


def _echo(request) -> str:
    """What an echoing server sends back: the key it received, every way it was given."""
    return f"Authorization: {request.headers.get('authorization')} X-Gateway-Token: " + (
        request.headers.get("x-gateway-token", "")
    )


def _call(url: str, mode: str, stream: bool = False, **options: Any) -> ConstructError:
    if mode == "aiohttp":
        pytest.importorskip("aiohttp")
    opts = ProviderRuntimeOptions(
        extra_headers={"X-Gateway-Token": GATEWAY},
        http_transport="aiohttp" if mode == "aiohttp" else "httpx",
        **options,
    )
    provider = create_provider_with_options(f"custom:{url}/v1", CANARY, opts)

    async def go() -> None:
        async with provider:
            if stream:
                async for _ in provider.astream(HELLO, "m"):
                    pass
            else:
                await provider.achat(HELLO, "m")

    with pytest.raises(ConstructError) as info:
        if mode == "httpx":
            with provider:
                if stream:
                    list(provider.stream(HELLO, "m"))
                else:
                    provider.chat(HELLO, "m")
        else:
            asyncio.run(go())
    return info.value


def _served(handler: Callable[[Any], Reply], mode: str, stream: bool = False) -> ConstructError:
    with LoopbackServer(handler) as server:
        return _call(server.url, mode, stream)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_connect_error_chain_holds_no_key(mode: str, stream: bool) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = _call(f"http://127.0.0.1:{port}", mode, stream)
    assert isinstance(error, TransientError)
    assert "could not connect" in error.message
    assert_error_clean(error)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_dropped_connection_chain_holds_no_key(mode: str, stream: bool) -> None:
    error = _served(lambda r: Reply(cut_after=0), mode, stream)
    assert isinstance(error, TransientError)
    assert_error_clean(error)


@pytest.mark.parametrize("mode", MODES)
def test_read_error_midway_holds_no_key(mode: str) -> None:
    def handler(request):
        return Reply(chunks=[f'{{"echo": "{_echo(request)}'.encode(), b"more"], cut_after=1)

    error = _served(handler, mode)
    assert isinstance(error, TransientError)
    assert_error_clean(error)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [401, 404, 429, 500, 503])
def test_status_errors_echoing_the_key_hold_none(mode: str, stream: bool, status: int) -> None:
    def handler(request):
        body = json.dumps({"error": {"message": f"rejected. {_echo(request)}"}})
        headers = {"www-authenticate": f"Bearer realm={request.headers.get('authorization')}"}
        return Reply(status, headers, body.encode())

    error = _served(handler, mode, stream)
    assert error.status == status
    assert "[REDACTED]" in error.message
    assert_error_clean(error)


@pytest.mark.parametrize("mode", MODES)
def test_an_echoed_gateway_token_in_an_error_body_is_scrubbed(mode: str) -> None:
    # A gateway echoing the request's headers back in a plain-text 403.
    def handler(request):
        echo = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        return Reply(403, {"content-type": "text/plain"}, f"forbidden\n{echo}".encode())

    error = _served(handler, mode)
    assert isinstance(error, AuthError)
    assert "x-gateway-token: [REDACTED]" in error.message
    assert_error_clean(error)


@pytest.mark.parametrize("mode", MODES)
def test_an_invalid_json_body_echoing_the_key_leaves_no_key_in_the_context(mode: str) -> None:
    def handler(request):
        return Reply(body=f"<html>gateway hiccup {_echo(request)}</html>".encode())

    error = _served(handler, mode)
    assert isinstance(error, InvalidResponse)
    assert "gateway hiccup" in error.message
    assert_error_clean(error)


@pytest.mark.parametrize("mode", MODES)
def test_a_body_that_is_not_utf8_leaves_no_key_in_the_decode_errors(mode: str) -> None:
    # Not UTF-8: json then guesses another encoding, and each UnicodeDecodeError in the
    # chain keeps every byte it tried (`.object`, and again in `.args`).
    def handler(request):
        return Reply(body=b"\xff\xfe<html>" + _echo(request).encode() + b"\xff")

    error = _served(handler, mode)
    assert isinstance(error, InvalidResponse)
    assert_error_clean(error)


@pytest.mark.parametrize("mode", MODES)
def test_an_invalid_stream_event_echoing_the_key_leaves_no_key(mode: str) -> None:
    def handler(request):
        line = f"data: {{not json {_echo(request)}\n\n".encode()
        return Reply(headers={"content-type": "text/event-stream"}, chunks=[line])

    error = _served(handler, mode, stream=True)
    assert_error_clean(error)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_says_it_is_never_followed(mode: str, stream: bool, status: int) -> None:
    def handler(request):
        target = f"https://elsewhere.example/v1/chat/completions?token={CANARY}"
        return Reply(status, {"location": target}, _echo(request).encode())

    with LoopbackServer(handler) as server:
        error = _call(server.url, mode, stream)
    assert len(server.requests) == 1  # not followed
    assert isinstance(error, InvalidResponse)
    text = error.message
    assert "Check the model name" not in text
    assert "redirected to https://elsewhere.example/v1/chat/completions" in text
    assert "never follows redirects" in text
    assert "api_url" in text
    assert_error_clean(error)


def test_a_redirect_without_location_still_says_why() -> None:
    error = classify_http_error("acme", "Acme AI", 302, "", {})
    assert error.message == (
        "Acme AI API error (302 Found): the server redirected. construct never follows "
        "redirects, since the request would carry the API key to wherever it points. "
        "Set api_url to the final URL."
    )
