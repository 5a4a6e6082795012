"""`Transport`: pooled httpx clients, sync and async, for one provider instance.

Each provider instance owns one `Transport`, which creates its sync and async
httpx clients on first use and keeps them (keep-alive, pooled) until `close()`.
Redirects are never followed: a 3xx to another host would carry the key there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import (
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any

import httpx  # the library: absolute imports never find this module

from ..errors import InvalidResponse, ProviderError
from ..secrets import is_credential_header
from .body import (
    ACCEPT_ENCODING,
    BodyDecoder,
    BodyReader,
    TooLarge,
    Unsupported,
    decoder_for,
    one_read,
)
from .deadlines import Clock, seconds_left
from .errors import (
    Failure,
    invalid_body,
    mapped_failures,
    out_of_time,
    status_error,
    too_large,
)
from .guard import attach, guard_client, reading
from .limits import Limits
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse, is_json_document

if TYPE_CHECKING:
    from .loops import PerLoop

__all__ = ["Transport"]


def httpx_failure(exc: BaseException) -> Failure | None:
    """httpx's exception sorted into a `Failure`; None: not httpx's."""
    if isinstance(exc, httpx.TimeoutException):
        return Failure.TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return Failure.CONNECT
    if isinstance(exc, httpx.HTTPError):
        return Failure.DROPPED
    return None


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
        limits: Limits | None = None,
    ) -> None:
        self.provider = provider
        # What to do when the server cannot be reached (a local server: how to start it).
        self.connect_hint = connect_hint
        self.display_name = display_name
        self.key_env = tuple(key_env)
        self.timeout_s = timeout_s
        self.limits = limits or Limits()
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._headers = dict(headers or {})
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        from .loops import PerLoop  # asyncio, only once a provider is built

        self._aclients: PerLoop[httpx.AsyncClient] = PerLoop(
            self._new_aclient, httpx.AsyncClient.aclose
        )

    # -- clients ---------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self._timeout,
            "headers": {**JSON_HEADERS, "Accept-Encoding": ACCEPT_ENCODING, **self._headers},
            "follow_redirects": False,
            # httpx's defaults, measured best: with every connection kept alive, httpcore
            # polls each idle socket on every request it queues, and at 200 in flight
            # throughput fell to 0.4x (benchmarks/, concurrent mode).
            "limits": httpx.Limits(max_connections=100, max_keepalive_connections=20),
        }

    @property
    def client(self) -> httpx.Client:
        client = self._client
        return client if client is not None else self._open_client()

    def _open_client(self) -> httpx.Client:
        # Threads making their first call at once would each build a pool, and all but
        # the last would outlive close(); the lock is taken only until one exists.
        with self._lock:
            if self._client is None:
                self._client = guard_client(httpx.Client(**self._client_kwargs()))
            return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        """The running event loop's client: its connections can serve no other loop."""
        return self._aclients.get()

    def _new_aclient(self) -> httpx.AsyncClient:
        return guard_client(httpx.AsyncClient(**self._client_kwargs()))

    def _take_client(self) -> httpx.Client | None:
        with self._lock:
            client, self._client = self._client, None
        return client

    def close(self) -> None:
        """Close every client, the async ones of every event loop too; reopened on use."""
        self._aclients.close()
        if (client := self._take_client()) is not None:
            client.close()

    async def aclose(self) -> None:
        await self._aclients.aclose()
        if (client := self._take_client()) is not None:
            client.close()

    # -- what every request shares -------------------------------------------

    def time_left(self) -> float | None:
        """Seconds left of the call's deadline (None: no deadline); none left is an error."""
        left = seconds_left()
        if left is not None and left <= 0:
            raise out_of_time(self)
        return left

    def _kwargs(self, req: HttpRequest, headers: Mapping[str, str]) -> dict[str, Any]:
        """httpx's arguments for `req`: the body, and a timeout cut to the deadline."""
        kwargs = req.body_kwargs()
        kwargs["method"] = req.method
        kwargs["url"] = req.url
        kwargs["headers"] = headers
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

    def _failures(self, url: str, clock: Clock | None = None) -> mapped_failures:
        return mapped_failures(self, url, httpx_failure, clock)

    def _response(
        self, status: int, headers: Mapping[str, str], body: bytes, req: HttpRequest | None = None
    ) -> HttpResponse:
        if status >= 300:
            raise self._status_error(status, headers, body, req)
        return HttpResponse(status, headers, body)

    def invalid_body(self, detail: str, body: bytes | str) -> InvalidResponse:
        return invalid_body(self, detail, body)

    def clock(self, stream: bool = False) -> Clock:
        """The time one request may take (a stream: until its first event, then between events)."""
        if not stream:
            return Clock(self.timeout_s)
        limits = self.limits
        return Clock(self.timeout_s, stream=True, idle_s=limits.idle_s, max_s=limits.stream_max_s)

    def decoder(self, headers: Mapping[str, str], limit: int | None = None) -> BodyDecoder:
        """The body's decoder, counting against `limit` (default: the body limit)."""
        try:
            return decoder_for(headers, self.limits.max_body if limit is None else limit)
        except Unsupported as exc:
            raise self.unreadable(f"content-encoding {exc}") from None

    def unreadable(self, detail: str) -> InvalidResponse:
        return InvalidResponse(
            f"{self.display_name} sent a response construct cannot read: {detail}.",
            provider=self.provider,
        )

    def too_large(self, exc: TooLarge) -> InvalidResponse:
        return too_large(self, exc)

    @contextlib.contextmanager
    def _reading_body(self, headers: Mapping[str, str]) -> Iterator[BodyReader]:
        """A reader for a whole body; going over the limit or an unreadable encoding
        inside it becomes construct's error."""
        try:
            yield BodyReader(self.decoder(headers))
        except TooLarge as exc:
            raise self.too_large(exc) from None
        except Unsupported as exc:
            raise self.unreadable(str(exc)) from None

    def _fits(self, headers: Mapping[str, str]) -> bool:
        """The body is sent as it is, and its declared length is within the limit: it can
        be read whole (what almost every answer is, read without a decoder in between)."""
        length = headers.get("content-length")
        return (
            not headers.get("content-encoding")
            and length is not None
            and length.isdigit()
            and int(length) <= self.limits.max_body
        )

    def _body(self, headers: Mapping[str, str], reads: Iterable[bytes]) -> bytes:
        if self._fits(headers):
            return b"".join(reads)  # the HTTP library stops at the declared length
        with self._reading_body(headers) as reader:
            for data in reads:
                reader.feed(data)
            return reader.body()

    async def _abody(self, headers: Mapping[str, str], reads: AsyncIterator[bytes]) -> bytes:
        if self._fits(headers):
            return b"".join([data async for data in reads])
        with self._reading_body(headers) as reader:
            async for data in reads:
                reader.feed(data)
            return reader.body()

    def _stream_reads(self, headers: Mapping[str, str], raw: Any) -> Any:
        """A stream's body reads, decoded when the server compressed them (each decoded
        piece at most a megabyte, so the framer's event limit bounds a bomb too)."""
        if not headers.get("content-encoding"):
            return raw
        decoder = self.decoder(headers, limit=1 << 62)
        return (
            _decoded(raw, decoder, self)
            if hasattr(raw, "__next__")
            else _adecoded(raw, decoder, self)
        )

    # -- sending: the sync and async ways differ only in the I/O -------------

    def send(self, req: HttpRequest) -> HttpResponse:
        clock = self.clock()
        with self._failures(req.url, clock):
            with reading(clock), self.client.stream(**self._kwargs(req, req.headers)) as r:
                body = self._body(r.headers, r.iter_raw())
        return self._response(r.status_code, r.headers, body, req)

    async def asend(self, req: HttpRequest) -> HttpResponse:
        clock = self.clock()
        with self._failures(req.url, clock):
            with reading(clock):
                async with self.aclient.stream(**self._kwargs(req, req.headers)) as r:
                    body = await self._abody(r.headers, r.aiter_raw())
        return self._response(r.status_code, r.headers, body, req)

    @contextlib.contextmanager
    def stream_chunks(self, req: HttpRequest) -> Iterator[tuple[Iterator[bytes], Clock]]:
        """Open a streamed response; yield an iterator of its body's reads (bytes, for
        the dialect's framer) and the clock bounding them. An error status is raised
        before any chunk."""
        clock = self.clock(stream=True)
        kwargs = self._kwargs(req, {**SSE_ACCEPT, **req.headers})
        with self._failures(req.url, clock), contextlib.ExitStack() as stack:
            with reading(clock):
                r = stack.enter_context(self.client.stream(**kwargs))
            # The connection reads against this clock until it goes back to the pool.
            attach(r, clock)
            stack.callback(attach, r, None)
            if r.status_code >= 300:
                body = self._body(r.headers, r.iter_raw())
                raise self._status_error(r.status_code, r.headers, body, req)
            if is_json_document(r.headers):
                body = self._body(r.headers, r.iter_raw())
                yield iter((body,)), clock, body
            else:
                # The caller reads inside this `with`, so `failures` maps its read errors too.
                yield self._stream_reads(r.headers, r.iter_raw()), clock, None

    @contextlib.asynccontextmanager
    async def astream_chunks(
        self, req: HttpRequest
    ) -> AsyncIterator[tuple[AsyncIterator[bytes], Clock]]:
        clock = self.clock(stream=True)
        kwargs = self._kwargs(req, {**SSE_ACCEPT, **req.headers})
        with self._failures(req.url, clock):
            async with contextlib.AsyncExitStack() as stack:
                with reading(clock):
                    r = await stack.enter_async_context(self.aclient.stream(**kwargs))
                attach(r, clock)
                stack.callback(attach, r, None)
                if r.status_code >= 300:
                    body = await self._abody(r.headers, r.aiter_raw())
                    raise self._status_error(r.status_code, r.headers, body, req)
                if is_json_document(r.headers):
                    body = await self._abody(r.headers, r.aiter_raw())
                    yield one_read(body), clock, body
                else:
                    yield self._stream_reads(r.headers, r.aiter_raw()), clock, None

    def _status_error(
        self, status: int, headers: Mapping[str, str], body: bytes, req: HttpRequest | None = None
    ) -> ProviderError:
        if req is None:
            return status_error(self, status, headers, body)
        # A credential in the call's headers or the client's own (extra_headers).
        sent = any(map(is_credential_header, req.headers)) or any(
            map(is_credential_header, self._headers)
        )
        return status_error(self, status, headers, body, req.url, keyless=not sent)


def _decoded(raw: Iterator[bytes], decoder: BodyDecoder, peer: Transport) -> Iterator[bytes]:
    try:
        for data in raw:
            yield from decoder.feed(data)
        yield decoder.flush()
    except Unsupported as exc:
        raise peer.unreadable(str(exc)) from None


async def _adecoded(
    raw: AsyncIterator[bytes], decoder: BodyDecoder, peer: Transport
) -> AsyncIterator[bytes]:
    try:
        async for data in raw:
            for piece in decoder.feed(data):
                yield piece
        yield decoder.flush()
    except Unsupported as exc:
        raise peer.unreadable(str(exc)) from None
