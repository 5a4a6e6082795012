"""The one place construct sends bytes: pooled httpx clients, SSE framing, HTTP status -> error.

Each provider instance owns one `Transport`, which creates its sync and async
httpx clients on first use and keeps them (keep-alive, pooled) until `close()`.
Redirects are never followed: a 3xx to another host would carry the key there.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import InvalidResponse, ProviderError, TransientError, classify_http_error
from .secrets import sanitize_api_error

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "LineSplitter",
    "NDJSONFramer",
    "SSEDecoder",
    "SSEFramer",
    "Transport",
    "deadline",
    "framer_for",
]

# A call-wide deadline (time.monotonic() value) set by ReliableProvider's
# total_timeout_s: every request made under it gets at most the time that is left.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "construct_deadline", default=None
)


class deadline:
    """Run the block with requests bounded by the monotonic time `at` (None: no bound).

    A class, not a @contextmanager: it wraps every attempt of ReliableProvider, and
    the generator machinery would cost more than the call it guards when unbounded."""

    __slots__ = ("_at", "_token")

    def __init__(self, at: float | None) -> None:
        self._at = at
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._at is not None or _deadline.get() is not None:
            self._token = _deadline.set(self._at)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


# On the client, so a plain call passes only its auth headers to httpx.
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE_ACCEPT = {"Accept": "text/event-stream"}


@dataclass(slots=True)
class HttpRequest:
    """What a dialect asks to send; the transport adds nothing but pooling and timeouts."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    # Exact body bytes, for requests whose signature covers the body (SigV4); wins over json.
    content: bytes | None = None
    # Expected stream framing: text lines (SSE, NDJSON) or raw bytes (AWS event stream).
    binary_stream: bool = False

    def body_kwargs(self) -> dict[str, Any]:
        if self.content is not None:
            return {"content": self.content}
        return {"json": self.json}


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        try:
            # Decoding first skips json's encoding sniffing, on every response.
            return json.loads(self.content.decode("utf-8"))
        except UnicodeDecodeError:
            return json.loads(self.content)


class SSEDecoder:
    """Server-sent events, line by line (WHATWG HTML §9.2.6), sans I/O.

    Feed it decoded lines without their terminators; it returns the `data` of
    each complete event. Only `data:` matters to LLM APIs; `event:` names are
    kept for dialects that need them (Anthropic).
    """

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""

    def feed(self, line: str) -> tuple[str, str] | None:
        """Returns (event name, data) when `line` completes an event."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = (self._event, "\n".join(self._data))
            self._data = []
            self._event = ""
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> tuple[str, str] | None:
        """The last event of a stream that ended without a blank line."""
        return self.feed("")


class LineSplitter:
    """Text in, complete lines out, split only at CR, LF or CRLF (WHATWG SSE, NDJSON).

    httpx's iter_lines splits like str.splitlines, also at U+2028, U+0085 and other
    characters that may stand raw inside a JSON string, which would cut an event in two.
    """

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, text: str) -> list[str]:
        text = self._rest + text
        if "\r" in text:
            held = text.endswith("\r")  # maybe the first half of a CRLF
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if held:
                text = text[:-1] + "\r"
        lines = text.split("\n")
        self._rest = lines.pop()
        return lines

    def flush(self) -> list[str]:
        rest, self._rest = self._rest.rstrip("\r"), ""
        return [rest] if rest else []


def _lines(texts: Iterator[str]) -> Iterator[str]:
    splitter = LineSplitter()
    for text in texts:
        yield from splitter.feed(text)
    yield from splitter.flush()


async def _alines(texts: AsyncIterator[str]) -> AsyncIterator[str]:
    splitter = LineSplitter()
    async for text in texts:
        for line in splitter.feed(text):
            yield line
    for line in splitter.flush():
        yield line


class SSEFramer:
    """Text lines in, the `data` of each complete server-sent event out."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, line: str) -> list[str]:
        event = self._decoder.feed(line)
        return [] if event is None else [event[1]]

    def flush(self) -> list[str]:
        event = self._decoder.flush()
        return [] if event is None else [event[1]]


class NDJSONFramer:
    """Text lines in, each non-blank line out (Ollama streams one JSON object a line)."""

    __slots__ = ()

    def feed(self, line: str) -> list[str]:
        return [line] if line.strip() else []

    def flush(self) -> list[str]:
        return []


def framer_for(framing: str) -> SSEFramer | NDJSONFramer:
    if framing == "ndjson":
        return NDJSONFramer()
    return SSEFramer()


class Transport:
    """Pooled HTTP for one provider instance, sync and async."""

    def __init__(
        self,
        *,
        provider: str,
        display_name: str,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
        key_env: Sequence[str] = (),
        connect_hint: str | None = None,
    ) -> None:
        self.provider = provider
        # What to do when the server cannot be reached (a local server: how to start it).
        self.connect_hint = connect_hint
        self.display_name = display_name
        self.key_env = tuple(key_env)
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._headers = dict(headers or {})
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    # -- clients ---------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self._timeout,
            "headers": {**_JSON_HEADERS, **self._headers},
            "follow_redirects": False,
            # httpx's defaults, measured best: with every connection kept alive, httpcore
            # polls each idle socket on every request it queues, and at 200 in flight
            # throughput fell to 0.4x (benchmarks/, concurrent mode).
            "limits": httpx.Limits(max_connections=100, max_keepalive_connections=20),
        }

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(**self._client_kwargs())
        return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(**self._client_kwargs())
        return self._aclient

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()

    def time_left(self) -> float | None:
        """Seconds left of the call's deadline (None: no deadline); none left is an error."""
        at = _deadline.get()
        if at is None:
            return None
        left = at - time.monotonic()
        if left <= 0:
            raise TransientError(
                f"{self.display_name}: the call's time budget (total_timeout_s) ran out "
                "before this request could be sent.",
                provider=self.provider,
            )
        return left

    def _bounded(self, req: HttpRequest) -> dict[str, Any]:
        """Keyword arguments for httpx: the body, and a timeout cut to the deadline."""
        kwargs = req.body_kwargs()
        left = self.time_left()
        if left is not None:
            t = self._timeout
            kwargs["timeout"] = httpx.Timeout(
                min(t.read or left, left),
                connect=min(t.connect or left, left),
                write=min(t.write or left, left),
                pool=min(t.pool or left, left),
            )
        return kwargs

    # -- errors ------------------------------------------------------------

    def _transport_error(self, exc: Exception, url: str) -> ProviderError:
        where = url.split("?", 1)[0]
        if isinstance(exc, httpx.TimeoutException):
            what = "timed out"
            advice = "Retry, or raise provider_timeout_secs for slow models."
        elif isinstance(exc, httpx.ConnectError):
            what = "could not connect"
            advice = self.connect_hint or (
                "Check the network and the base URL; for a local server, check it is running."
            )
        else:
            what = "connection failed"
            advice = "The connection dropped; retry shortly."
        detail = sanitize_api_error(str(exc) or type(exc).__name__)
        return TransientError(
            f"{self.display_name} request to {where} {what}: {detail}. {advice}",
            provider=self.provider,
        )

    def _status_error(self, status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
        text = body.decode("utf-8", "replace")
        return classify_http_error(
            self.provider, self.display_name, status, text, headers, self.key_env
        )

    def invalid_body(self, detail: str, body: bytes | str) -> InvalidResponse:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        snippet = " ".join(text.split())
        return InvalidResponse(
            f"{self.display_name} returned a response construct cannot read: {detail}; "
            f"body={sanitize_api_error(snippet)}",
            provider=self.provider,
        )

    def _check(self, response: httpx.Response) -> HttpResponse:
        if response.status_code >= 300:
            raise self._status_error(response.status_code, response.headers, response.content)
        return HttpResponse(response.status_code, response.headers, response.content)

    # -- sending -------------------------------------------------------------

    def send(self, req: HttpRequest) -> HttpResponse:
        try:
            headers = req.headers
            kwargs = self._bounded(req)
            response = self.client.request(req.method, req.url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, req.url) from exc
        return self._check(response)

    async def asend(self, req: HttpRequest) -> HttpResponse:
        try:
            headers = req.headers
            response = await self.aclient.request(
                req.method, req.url, headers=headers, **self._bounded(req)
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, req.url) from exc
        return self._check(response)

    @contextlib.contextmanager
    def stream_chunks(self, req: HttpRequest) -> Iterator[Iterator[Any]]:
        """Open a streamed response; yield an iterator of its text lines (or raw byte
        chunks when `req.binary_stream`). An error status is raised before any chunk."""
        try:
            with self.client.stream(
                req.method, req.url, headers=_merge(_SSE_ACCEPT, req.headers), **self._bounded(req)
            ) as response:
                if response.status_code >= 300:
                    response.read()
                    raise self._status_error(
                        response.status_code, response.headers, response.content
                    )
                chunks = (
                    response.iter_bytes() if req.binary_stream else _lines(response.iter_text())
                )
                yield self._guard(chunks, req.url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, req.url) from exc

    @contextlib.asynccontextmanager
    async def astream_chunks(self, req: HttpRequest) -> AsyncIterator[AsyncIterator[Any]]:
        try:
            async with self.aclient.stream(
                req.method, req.url, headers=_merge(_SSE_ACCEPT, req.headers), **self._bounded(req)
            ) as response:
                if response.status_code >= 300:
                    await response.aread()
                    raise self._status_error(
                        response.status_code, response.headers, response.content
                    )
                chunks = (
                    response.aiter_bytes() if req.binary_stream else _alines(response.aiter_text())
                )
                yield self._aguard(chunks, req.url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, req.url) from exc

    def _guard(self, lines: Iterator[Any], url: str) -> Iterator[Any]:
        try:
            yield from lines
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc

    async def _aguard(self, lines: AsyncIterator[Any], url: str) -> AsyncIterator[Any]:
        try:
            async for line in lines:
                yield line
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc


def _merge(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    merged = dict(base)
    merged.update(extra)
    return merged
