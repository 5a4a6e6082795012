"""One message for a failed connection, whichever HTTP library sorted the failure."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from construct.errors import InvalidResponse, RateLimited, TransientError
from construct.transport.aiohttp import AiohttpTransport
from construct.transport.errors import (
    Failure,
    connection_error,
    invalid_body,
    mapped_failures,
    out_of_time,
    status_error,
)
from construct.transport.httpx import httpx_failure


@dataclass
class Peer:
    provider: str = "acme"
    display_name: str = "Acme AI"
    key_env: tuple[str, ...] = ("ACME_API_KEY",)
    connect_hint: str | None = None


URL = "https://api.acme.ai/v1/chat/completions?trace=1"
WHERE = "Acme AI request to https://api.acme.ai/v1/chat/completions"


@pytest.mark.parametrize(
    ("failure", "hint", "message"),
    [
        (
            Failure.TIMEOUT,
            "start it",
            f"{WHERE} timed out: boom. Retry, or raise provider_timeout_secs for slow models.",
        ),
        (
            Failure.CONNECT,
            None,
            f"{WHERE} could not connect: boom. Check the network and the base URL; for a "
            "local server, check it is running.",
        ),
        (
            Failure.CONNECT,
            "Start it: acme serve.",
            f"{WHERE} could not connect: boom. Start it: acme serve.",
        ),
        (
            Failure.DROPPED,
            "start it",
            f"{WHERE} connection failed: boom. The connection dropped; retry shortly.",
        ),
    ],
)
def test_connection_error_message(failure, hint, message) -> None:
    error = connection_error(Peer(connect_hint=hint), failure, OSError("boom"), URL)
    assert isinstance(error, TransientError)
    assert error.provider == "acme"
    assert error.message == message


def test_an_exception_without_text_is_named_by_its_type() -> None:
    error = connection_error(Peer(), Failure.DROPPED, httpx.RemoteProtocolError(""), URL)
    assert f"{WHERE} connection failed: RemoteProtocolError." in error.message


def test_keys_in_the_detail_are_scrubbed() -> None:
    exc = OSError("failed with Authorization: Bearer sk-abcdefghijklmnopqrstuvwx")
    error = connection_error(Peer(), Failure.DROPPED, exc, URL)
    assert "sk-abcdefghijklmnopqrstuvwx" not in error.message


REQUEST = httpx.Request("POST", URL)


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ReadTimeout("t", request=REQUEST), Failure.TIMEOUT),
        (httpx.ConnectTimeout("t", request=REQUEST), Failure.TIMEOUT),
        (httpx.PoolTimeout("t", request=REQUEST), Failure.TIMEOUT),
        (httpx.ConnectError("c", request=REQUEST), Failure.CONNECT),
        (httpx.ReadError("r", request=REQUEST), Failure.DROPPED),
        (httpx.RemoteProtocolError("p", request=REQUEST), Failure.DROPPED),
        (ValueError("not httpx's"), None),
        (TimeoutError("not httpx's either"), None),
    ],
)
def test_httpx_exceptions_sorted(exc, failure) -> None:
    assert httpx_failure(exc) is failure


def _aiohttp_failure():
    aiohttp = pytest.importorskip("aiohttp")
    transport = AiohttpTransport(provider="acme", display_name="Acme AI")
    transport._aio = aiohttp
    return aiohttp, transport._aio_failure


def test_aiohttp_exceptions_sorted() -> None:
    aiohttp, classify = _aiohttp_failure()
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
        ConnectionRefusedError(111, "refused"),
    )
    table = [
        (TimeoutError(), Failure.TIMEOUT),
        (aiohttp.ServerTimeoutError("read"), Failure.TIMEOUT),
        (refused, Failure.CONNECT),
        (aiohttp.ServerDisconnectedError(), Failure.DROPPED),
        (aiohttp.ClientPayloadError("cut"), Failure.DROPPED),
        (ValueError("not aiohttp's"), None),
        (httpx.ReadError("httpx's"), None),
    ]
    assert [classify(exc) for exc, _ in table] == [failure for _, failure in table]


def test_mapped_failures_raises_the_mapped_error_and_lets_others_pass() -> None:
    with pytest.raises(TransientError, match="could not connect") as info:
        with mapped_failures(Peer(), URL, httpx_failure):
            raise httpx.ConnectError("refused", request=REQUEST)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    with pytest.raises(ValueError, match="mine"), mapped_failures(Peer(), URL, httpx_failure):
        raise ValueError("mine")
    with mapped_failures(Peer(), URL, httpx_failure):
        pass


def test_status_error_is_classified_with_the_peers_names() -> None:
    body = b'{"error": {"message": "slow down"}}'
    error = status_error(Peer(), 429, {"retry-after": "3"}, body)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 3.0
    assert error.provider == "acme"


def test_invalid_body_and_out_of_time() -> None:
    error = invalid_body(Peer(), "not JSON", b"<html>\n  oops  </html>")
    assert isinstance(error, InvalidResponse)
    assert error.message == (
        "Acme AI returned a response construct cannot read: not JSON; body=<html> oops </html>"
    )
    assert "total_timeout_s" in out_of_time(Peer()).message
