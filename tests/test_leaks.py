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
from collections.abc import Mapping
from typing import Any

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ConstructError,
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
