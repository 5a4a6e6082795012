"""`AiohttpTransport`: async calls through aiohttp (`construct-llm[aiohttp]`).

httpx stays the default, for sync calls always and for async ones unless asked:
it is what respx mocks. Under many concurrent requests aiohttp costs far less
CPU per call (docs/performance.md), so `transport="aiohttp"` (runtime option, or
`[http] transport = "aiohttp"` in config.toml) sends async calls through it.
Sync calls on the same provider still use httpx.

aiohttp is imported when the first async request is made, never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import ConfigError
from .body import ACCEPT_ENCODING, one_read
from .deadlines import Clock
from .errors import Failure, mapped_failures
from .httpx import Transport
from .loops import PerLoop
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse, is_json_document

__all__ = ["AiohttpTransport"]

INSTALL_HINT = "pip install 'construct-llm[aiohttp]'"


def _aiohttp() -> Any:
    try:
        import aiohttp  # the library: absolute imports never find this module
    except ImportError:
        raise ConfigError(
            f"transport 'aiohttp' needs the aiohttp package: {INSTALL_HINT}, or use the "
            "default httpx transport."
        ) from None
    return aiohttp


async def _close_session(session: Any) -> None:
    await session.close()


class AiohttpTransport(Transport):
    """Async requests through one pooled aiohttp session per event loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sessions: PerLoop[Any] = PerLoop(self._new_session, _close_session)
        self._aio: Any = None

    def _new_session(self) -> Any:
        aiohttp = self._aio = _aiohttp()
        t = self._timeout
        connector = aiohttp.TCPConnector(limit=100, limit_per_host=100, keepalive_timeout=60)
        return aiohttp.ClientSession(
            connector=connector,
            # Only what every call sends: a call's own headers (its key) go with the
            # request, so no key outlives its call inside the long-lived session. The
            # merge this costs aiohttp is about 2 us a call, under 1 % of its CPU.
            headers={**JSON_HEADERS, "Accept-Encoding": ACCEPT_ENCODING, **self._headers},
            timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=t.read),
            # No cookies are kept across calls. Compressed bodies are decoded by construct,
            # in bounded steps (transport/body.py), not by aiohttp all at once.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    def _session_now(self) -> Any:
        """The running loop's session: aiohttp sessions cannot cross event loops."""
        return self._sessions.get()

    @property
    def _session(self) -> Any:
        """The running loop's session if one is open (None: not yet)."""
        return self._sessions.peek()

    def close(self) -> None:
        """Close every loop's session (see `PerLoop.close`) and the httpx clients."""
        self._sessions.close()
        super().close()

    async def aclose(self) -> None:
        await self._sessions.aclose()
        await super().aclose()

    def _request(self, req: HttpRequest, headers: Mapping[str, str]) -> Any:
        """The request's context manager (its time is bounded by the caller's clock)."""
        session = self._session_now()
        kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
        if req.content is not None:
            kwargs["data"] = req.content
        elif req.json is not None:
            kwargs["data"] = json.dumps(req.json).encode()
        self.time_left()  # none left: refused before anything is sent
        return session.request(req.method, req.url, **kwargs)

    def _aio_failure(self, exc: BaseException) -> Failure | None:
        """aiohttp's exception sorted into a `Failure`; None: not aiohttp's."""
        if isinstance(exc, TimeoutError):  # asyncio's, and aiohttp's ServerTimeoutError
            return Failure.TIMEOUT
        aiohttp = self._aio
        if aiohttp is None or not isinstance(exc, aiohttp.ClientError):
            return None
        if isinstance(exc, aiohttp.ClientConnectorError):
            return Failure.CONNECT
        return Failure.DROPPED

    def _aio_failures(self, url: str, clock: Clock | None = None) -> mapped_failures:
        # Sync calls still go through httpx and its `_failures`.
        return mapped_failures(self, url, self._aio_failure, clock)

    async def asend(self, req: HttpRequest) -> HttpResponse:
        clock = self.clock()
        with self._aio_failures(req.url, clock):
            # aiohttp's own timeouts are per read: the clock bounds the whole exchange.
            watch = _Watch(clock)
            try:
                async with self._request(req, req.headers) as r:
                    body = await self._abody(r.headers, r.content.iter_any())
            except asyncio.CancelledError:
                if watch.fired:
                    raise watch.timeout() from None
                raise
            finally:
                watch.stop()
        return self._response(r.status, r.headers, body, req)

    @contextlib.asynccontextmanager
    async def astream_chunks(
        self, req: HttpRequest
    ) -> AsyncIterator[tuple[AsyncIterator[bytes], Clock]]:
        clock = self.clock(stream=True)
        failures = self._aio_failures(req.url, clock)
        with failures:
            async with contextlib.AsyncExitStack() as stack:
                watch = _Watch(clock)
                stack.callback(watch.stop)
                try:
                    r = await stack.enter_async_context(
                        self._request(req, {**SSE_ACCEPT, **req.headers})
                    )
                    if r.status >= 300:
                        body = await self._abody(r.headers, r.content.iter_any())
                        raise self._status_error(r.status, r.headers, body, req)
                except asyncio.CancelledError:
                    if watch.fired:
                        raise watch.timeout() from None
                    raise
                if is_json_document(r.headers):
                    watch.reading = True
                    try:
                        body = await self._abody(r.headers, r.content.iter_any())
                    except asyncio.CancelledError:
                        if watch.fired:
                            raise watch.timeout() from None
                        raise
                    watch.stop()
                    yield one_read(body), clock, body
                    return
                watch.reading = False
                # The caller reads inside this `with`, so `failures` maps its read errors too.
                yield self._stream_reads(r.headers, _reads(r.content, watch)), clock, None


class _Watch:
    """Cuts the task's wait on the server when the exchange's clock runs out.

    One timer per exchange, moved only when it fires early: a stream's clock moves with
    every event, and an `asyncio.timeout` per read (7 us) would cost more than the read.
    It cuts only while the task waits on the server (`reading`): time the caller spends
    on an event is not the server's."""

    __slots__ = ("_handle", "_loop", "_task", "clock", "fired", "reading", "when")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self.reading = True
        self.fired = False
        self._arm()

    def _arm(self, delay: float | None = None) -> None:
        if delay is None:
            self.when, delay = self.clock.due, max(self.clock.left(), 0.0)
        else:
            self.when = float("-inf")
        self._handle = self._loop.call_later(delay, self._check)

    def rearm(self) -> None:
        """The clock's end moved earlier than the timer (a stream's first event: from the
        first-event budget to the idle limit)."""
        self._handle.cancel()
        self._arm()

    def _check(self) -> None:
        left = self.clock.left()
        if left > 0:
            self._arm()  # not due yet: the clock moved on
        elif not self.reading:
            self._arm(0.25)  # the caller holds an event: look again soon
        else:
            self.fired = True
            if self._task is not None:
                self._task.cancel()

    def stop(self) -> None:
        self._handle.cancel()

    def timeout(self) -> TimeoutError:
        """The clock's timeout, for the CancelledError this watch caused."""
        self.fired = False
        if self._task is not None:
            self._task.uncancel()
        return TimeoutError(self.clock.why)


async def _reads(content: Any, watch: _Watch) -> AsyncIterator[bytes]:
    """A body's reads, cut by the watch when the clock (moving with events) runs out."""
    try:
        while True:
            watch.reading = True
            if watch.clock.due < watch.when:
                watch.rearm()
            try:
                data = await content.readany()
            except asyncio.CancelledError:
                if watch.fired:
                    raise watch.timeout() from None
                raise
            watch.reading = False
            if not data:
                return
            yield data
    finally:
        watch.stop()
