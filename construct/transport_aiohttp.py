"""The aiohttp transport for async calls (`construct-llm[aiohttp]`).

httpx stays the default, for sync calls always and for async ones unless asked:
it is what respx mocks. Under many concurrent requests aiohttp costs far less
CPU per call (docs/performance.md), so `transport="aiohttp"` (runtime option, or
`[http] transport = "aiohttp"` in config.toml) sends async calls through it.
Sync calls on the same provider still use httpx.

aiohttp is imported when the first async request is made, never at import time.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from .errors import ConfigError, ProviderError, TransientError
from .secrets import sanitize_api_error
from .transport import (
    _JSON_HEADERS,
    _SSE_ACCEPT,
    HttpRequest,
    HttpResponse,
    LineSplitter,
    Transport,
    _merge,
)

__all__ = ["AiohttpTransport"]

INSTALL_HINT = "pip install 'construct-llm[aiohttp]'"


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:
        raise ConfigError(
            f"transport 'aiohttp' needs the aiohttp package: {INSTALL_HINT}, or use the "
            "default httpx transport."
        ) from None
    return aiohttp


class AiohttpTransport(Transport):
    """Async requests through one pooled aiohttp session per event loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
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
            headers={**_JSON_HEADERS, **self._headers},
            timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=t.read),
            # Compressed bodies are decoded by aiohttp; no cookies are kept across calls.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
        )

    def _session_now(self) -> Any:
        """The running loop's session: aiohttp sessions cannot cross event loops."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or self._loop is not loop or session.closed:
            session = self._session = self._new_session()
            self._loop = loop
        return session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its loop may already be gone
                await session.close()
        self.close()

    def _request_kwargs(self, req: HttpRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allow_redirects": False}
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
        return kwargs

    def _aio_error(self, exc: BaseException, url: str) -> ProviderError:
        aiohttp = self._aio
        where = url.split("?", 1)[0]
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            what, advice = "timed out", "Retry, or raise provider_timeout_secs for slow models."
        elif isinstance(exc, aiohttp.ClientConnectorError):
            what = "could not connect"
            advice = self.connect_hint or (
                "Check the network and the base URL; for a local server, check it is running."
            )
        else:
            what, advice = "connection failed", "The connection dropped; retry shortly."
        detail = sanitize_api_error(str(exc) or type(exc).__name__)
        return TransientError(
            f"{self.display_name} request to {where} {what}: {detail}. {advice}",
            provider=self.provider,
        )

    async def asend(self, req: HttpRequest) -> HttpResponse:
        session = self._session_now()
        try:
            async with session.request(
                req.method, req.url, headers=req.headers, **self._request_kwargs(req)
            ) as response:
                body = await response.read()
        except (TimeoutError, self._aio.ClientError) as exc:
            raise self._aio_error(exc, req.url) from exc
        if response.status >= 300:
            raise self._status_error(response.status, response.headers, body)
        return HttpResponse(response.status, response.headers, body)

    @contextlib.asynccontextmanager
    async def astream_chunks(self, req: HttpRequest) -> AsyncIterator[AsyncIterator[Any]]:
        session = self._session_now()
        aiohttp = self._aio
        headers = _merge(_SSE_ACCEPT, req.headers)
        try:
            async with session.request(
                req.method, req.url, headers=headers, **self._request_kwargs(req)
            ) as response:
                if response.status >= 300:
                    body = await response.read()
                    raise self._status_error(response.status, response.headers, body)
                yield self._chunks(response, req)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._aio_error(exc, req.url) from exc

    async def _chunks(self, response: Any, req: HttpRequest) -> AsyncIterator[Any]:
        aiohttp = self._aio
        try:
            if req.binary_stream:
                async for data in response.content.iter_any():
                    yield data
                return
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            splitter = LineSplitter()
            async for data in response.content.iter_any():
                for line in splitter.feed(decoder.decode(data)):
                    yield line
            for line in splitter.feed(decoder.decode(b"", final=True)) + splitter.flush():
                yield line
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._aio_error(exc, req.url) from exc
