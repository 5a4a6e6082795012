"""`AiohttpTransport`: async calls through aiohttp (`construct-llm[aiohttp]`).

httpx stays the default, for sync calls always and for async ones unless asked:
it is what respx mocks. Under many concurrent requests aiohttp costs far less
CPU per call (docs/performance.md), so `transport="aiohttp"` (runtime option, or
`[http] transport = "aiohttp"` in config.toml) sends async calls through it.
Sync calls on the same provider still use httpx.

aiohttp is imported when the first async request is made, never at import time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import ConfigError
from .errors import Failure, mapped_failures
from .httpx import PerLoop, Transport
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse

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
            headers={**JSON_HEADERS, **self._headers},
            timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=t.read),
            # Compressed bodies are decoded by aiohttp; no cookies are kept across calls.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
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
        """The request's context manager: the body, and a timeout cut to the deadline."""
        session = self._session_now()
        kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
        if req.content is not None:
            kwargs["data"] = req.content
        elif req.json is not None:
            kwargs["data"] = json.dumps(req.json).encode()
        left = self.time_left()
        if left is not None:
            t = self._timeout
            kwargs["timeout"] = self._aio.ClientTimeout(
                total=left,
                connect=min(t.connect or left, left),
                sock_read=min(t.read or left, left),
            )
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

    def _aio_failures(self, url: str) -> mapped_failures:
        # Sync calls still go through httpx and its `_failures`.
        return mapped_failures(self, url, self._aio_failure)

    async def asend(self, req: HttpRequest) -> HttpResponse:
        with self._aio_failures(req.url):
            async with self._request(req, req.headers) as r:
                body = await r.read()
        return self._response(r.status, r.headers, body)

    @contextlib.asynccontextmanager
    async def astream_chunks(self, req: HttpRequest) -> AsyncIterator[AsyncIterator[Any]]:
        failures = self._aio_failures(req.url)
        with failures:
            async with self._request(req, {**SSE_ACCEPT, **req.headers}) as r:
                if r.status >= 300:
                    raise self._status_error(r.status, r.headers, await r.read())
                # The caller reads inside this `with`, so `failures` maps its read errors too.
                yield r.content.iter_any()
