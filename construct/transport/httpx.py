"""`Transport`: pooled httpx clients, sync and async, for one provider instance.

Each provider instance owns one `Transport`, which creates its sync and async
httpx clients on first use and keeps them (keep-alive, pooled) until `close()`.
Redirects are never followed: a 3xx to another host would carry the key there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx  # the library: absolute imports never find this module

from ..errors import InvalidResponse, ProviderError
from .deadlines import seconds_left
from .errors import Failure, invalid_body, mapped_failures, out_of_time, status_error
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse

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


def _identity(response: httpx.Response) -> bool:
    """The body is sent as it is: its raw reads need no decoder (one layer less per read)."""
    return response.headers.get("content-encoding", "identity").strip().lower() == "identity"


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
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    # -- clients ---------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self._timeout,
            "headers": {**JSON_HEADERS, **self._headers},
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
                self._client = httpx.Client(**self._client_kwargs())
            return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(**self._client_kwargs())
        return self._aclient

    def _take_client(self) -> httpx.Client | None:
        with self._lock:
            client, self._client = self._client, None
        return client

    def close(self) -> None:
        if (client := self._take_client()) is not None:
            client.close()

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()

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

    def _failures(self, url: str) -> mapped_failures:
        return mapped_failures(self, url, httpx_failure)

    def _response(self, status: int, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        if status >= 300:
            raise status_error(self, status, headers, body)
        return HttpResponse(status, headers, body)

    def _status_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return status_error(self, status, headers, body)

    def invalid_body(self, detail: str, body: bytes | str) -> InvalidResponse:
        return invalid_body(self, detail, body)

    # -- sending: the sync and async ways differ only in the I/O -------------

    def send(self, req: HttpRequest) -> HttpResponse:
        with self._failures(req.url):
            r = self.client.request(**self._kwargs(req, req.headers))
        return self._response(r.status_code, r.headers, r.content)

    async def asend(self, req: HttpRequest) -> HttpResponse:
        with self._failures(req.url):
            r = await self.aclient.request(**self._kwargs(req, req.headers))
        return self._response(r.status_code, r.headers, r.content)

    @contextlib.contextmanager
    def stream_chunks(self, req: HttpRequest) -> Iterator[Iterator[Any]]:
        """Open a streamed response; yield an iterator of its body's reads (bytes, for
        the dialect's framer). An error status is raised before any chunk."""
        failures = self._failures(req.url)
        with failures, self.client.stream(**self._kwargs(req, {**SSE_ACCEPT, **req.headers})) as r:
            if r.status_code >= 300:
                raise self._status_error(r.status_code, r.headers, r.read())
            # The caller reads inside this `with`, so `failures` maps its read errors too.
            yield r.iter_raw() if _identity(r) else r.iter_bytes()

    @contextlib.asynccontextmanager
    async def astream_chunks(self, req: HttpRequest) -> AsyncIterator[AsyncIterator[Any]]:
        failures = self._failures(req.url)
        with failures:
            async with self.aclient.stream(**self._kwargs(req, {**SSE_ACCEPT, **req.headers})) as r:
                if r.status_code >= 300:
                    raise self._status_error(r.status_code, r.headers, await r.aread())
                yield r.aiter_raw() if _identity(r) else r.aiter_bytes()
