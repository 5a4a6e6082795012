"""What a failed exchange becomes, for every transport: one message for a connection
that failed, one classification of an error status, one for a body construct cannot read.

Each HTTP library only sorts its own exceptions into a `Failure` (timed out, could not
connect, dropped); `mapped_failures` turns those into construct's `TransientError`
around a request or a stream, so the wording lives here once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol

from ..errors import InvalidResponse, ProviderError, TransientError, classify_http_error
from ..secrets import sanitize_api_error
from .body import TooLarge
from .deadlines import Clock

__all__ = [
    "Failure",
    "Peer",
    "connection_error",
    "invalid_body",
    "mapped_failures",
    "out_of_time",
    "status_error",
    "too_large",
]


class Failure(enum.Enum):
    """How a connection failed; the value is what the message says."""

    TIMEOUT = "timed out"
    CONNECT = "could not connect"
    DROPPED = "connection failed"


class Peer(Protocol):
    """The service a transport talks to, as its error messages name it."""

    provider: str
    display_name: str
    key_env: tuple[str, ...]
    # What to do when the server cannot be reached (a local server: how to start it).
    connect_hint: str | None


_ADVICE = {
    Failure.TIMEOUT: "Retry, or raise provider_timeout_secs for slow models.",
    Failure.CONNECT: (
        "Check the network and the base URL; for a local server, check it is running."
    ),
    Failure.DROPPED: "The connection dropped; retry shortly.",
}


def connection_error(
    peer: Peer, failure: Failure, exc: BaseException, url: str, limit: str | None = None
) -> TransientError:
    """`limit`: which of construct's time limits ran out, when one did."""
    where = url.split("?", 1)[0]
    advice = (failure is Failure.CONNECT and peer.connect_hint) or _ADVICE[failure]
    detail = sanitize_api_error(str(exc) or type(exc).__name__)
    if limit is not None:
        detail, advice = limit, "Retry; if the server is only slow, raise that setting."
    return TransientError(
        f"{peer.display_name} request to {where} {failure.value}: {detail}. {advice}",
        provider=peer.provider,
    )


def too_large(peer: Peer, exc: TooLarge) -> InvalidResponse:
    if exc.what == "body":
        what, setting = "a response body", "max_response_mb"
    else:
        what, setting = "a stream event", "max_event_mb"
    return InvalidResponse(
        f"{peer.display_name} sent {what} larger than {setting} "
        f"({exc.limit / (1 << 20):g} MiB); construct stopped reading it. If such answers "
        f"are expected, raise {setting} ([http] in config.toml, or ProviderRuntimeOptions).",
        provider=peer.provider,
    )


def status_error(
    peer: Peer,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    url: str | None = None,
    keyless: bool = False,
) -> ProviderError:
    """`url`: what was called (a 404 on a path names it); `keyless`: the request carried no
    credential, which a 401, 403 or 5xx then says."""
    text = body.decode("utf-8", "replace")
    where = url.split("?", 1)[0] if url else None
    return classify_http_error(
        peer.provider,
        peer.display_name,
        status,
        text,
        headers,
        peer.key_env,
        url=where,
        keyless=keyless,
    )


def invalid_body(peer: Peer, detail: str, body: bytes | str) -> InvalidResponse:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    snippet = " ".join(text.split())
    return InvalidResponse(
        f"{peer.display_name} returned a response construct cannot read: {detail}; "
        f"body={sanitize_api_error(snippet)}",
        provider=peer.provider,
    )


def out_of_time(peer: Peer) -> TransientError:
    return TransientError(
        f"{peer.display_name}: the call's time budget (total_timeout_s) ran out "
        "before this request could be sent.",
        provider=peer.provider,
    )


class mapped_failures:
    """Within it, an exception `classify` sorts into a `Failure` is raised again as
    `connection_error`; anything else passes through.

    A class, not a @contextmanager: one wraps every request, and a stream's chunk iterator
    reads under it too. It keeps no state, so one may guard a stream and its chunks."""

    __slots__ = ("_classify", "_clock", "_peer", "_url")

    def __init__(
        self,
        peer: Peer,
        url: str,
        classify: Callable[[BaseException], Failure | None],
        clock: Clock | None = None,
    ) -> None:
        self._peer = peer
        self._url = url
        self._classify = classify
        self._clock = clock  # the exchange's time limits, to name the one that ran out

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and (failure := self._classify(exc)) is not None:
            clock, limit = self._clock, None
            # A timeout within a few ms of the clock's end is the clock's, not the server's.
            if failure is Failure.TIMEOUT and clock is not None and clock.left() < 0.05:
                limit = clock.why
            raise connection_error(self._peer, failure, exc, self._url, limit) from exc
