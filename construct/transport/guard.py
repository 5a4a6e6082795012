"""Socket reads and writes cut to an exchange's `Clock`, under httpx.

httpx's timeouts are per operation: a read may take `read` seconds, and the next
read starts the count again, so a server that sends a byte every half second, or
keep-alive comments forever, holds a call as long as it likes. httpcore lets a pool
use another network backend; this one wraps the default and gives every read,
write and connect the smaller of its own timeout and what the exchange's clock has
left, so a whole attempt, a stream's wait for its first event and its idle time
between events are all bounded, on the sync and the async client alike.

The clock is found, per operation, on the stream (`clock`, set once the response
headers are in, for a stream's body) or in a context variable (set around the
request by the transport): a pooled connection serves one exchange at a time.
"""

from __future__ import annotations

import contextvars
import functools
import time
from typing import Any

from .deadlines import Clock

__all__ = ["attach", "current_clock", "guard_client", "reading"]

_monotonic = time.monotonic
# The wrapped stream classes, once built: only their streams take a clock.
_GUARDED: set[type] = set()
current_clock: contextvars.ContextVar[Clock | None] = contextvars.ContextVar(
    "construct_clock", default=None
)


@functools.cache
def _backends() -> tuple[type, type]:
    """httpcore's wrapped backends, sync and async: built on the first client, since
    importing httpcore costs what `import construct` should not (httpx defers it too)."""
    import httpcore  # httpx's own dependency

    def _cut(clock: Clock | None, timeout: float | None, expired: type[Exception]) -> float | None:
        if clock is None:
            clock = current_clock.get()
            if clock is None:
                return timeout
        left = clock.due - _monotonic()
        if left <= 0:
            raise expired(clock.why)
        return left if timeout is None or left < timeout else timeout

    class _Guarded:
        """What the sync and async streams share: each read and write is cut to the clock.

        Neither method awaits: each hands back what the inner stream's does (bytes, or
        the awaitable the async caller awaits), so an async read costs no coroutine frame
        of its own, and an expired clock raises at the call all the same."""

        __slots__ = ("_inner", "clock")

        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self.clock: Clock | None = None

        def read(self, max_bytes: int, timeout: float | None = None) -> Any:
            # `_cut` written out: a stream reads once per event.
            clock = self.clock or current_clock.get()
            if clock is not None:
                left = clock.due - _monotonic()
                if left <= 0:
                    raise httpcore.ReadTimeout(clock.why)
                if timeout is None or left < timeout:
                    timeout = left
            return self._inner.read(max_bytes, timeout)

        def write(self, buffer: bytes, timeout: float | None = None) -> Any:
            return self._inner.write(buffer, _cut(self.clock, timeout, httpcore.WriteTimeout))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class _Stream(_Guarded, httpcore.NetworkStream):
        __slots__ = ()

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.NetworkStream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            return _Stream(self._inner.start_tls(ssl_context, server_hostname, cut))

    class _AsyncStream(_Guarded, httpcore.AsyncNetworkStream):
        __slots__ = ()

        async def aclose(self) -> None:
            await self._inner.aclose()

        async def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.AsyncNetworkStream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, cut))

    class _Backend(httpcore.NetworkBackend):
        def __init__(self, inner: httpcore.NetworkBackend) -> None:
            self._inner = inner

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> _Stream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            return _Stream(self._inner.connect_tcp(host, port, cut, local_address, socket_options))

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> _Stream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            return _Stream(self._inner.connect_unix_socket(path, cut, socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    class _AsyncBackend(httpcore.AsyncNetworkBackend):
        def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
            self._inner = inner

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> _AsyncStream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            inner = await self._inner.connect_tcp(host, port, cut, local_address, socket_options)
            return _AsyncStream(inner)

        async def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> _AsyncStream:
            cut = _cut(None, timeout, httpcore.ConnectTimeout)
            return _AsyncStream(await self._inner.connect_unix_socket(path, cut, socket_options))

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    _GUARDED.update((_Stream, _AsyncStream))
    return _Backend, _AsyncBackend


def guard_client(client: Any) -> Any:
    """`client` (httpx.Client or AsyncClient) with every pool's backend wrapped.

    httpx builds its pools itself and keeps them private; the backend attribute of
    httpcore's pools has been stable since httpcore 0.17. If it ever moves, this
    raises at the client's creation rather than leaving calls unbounded (the tests in
    tests/transport/test_time_limits.py fail first)."""
    sync_wrap, async_wrap = _backends()
    wrap = async_wrap if hasattr(client, "aclose") else sync_wrap
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if pool is None:  # a mount mapped to no transport, or a caller's own transport
            continue
        if not isinstance(pool._network_backend, wrap):
            pool._network_backend = wrap(pool._network_backend)
    return client


class reading:
    """Within it, requests on this thread or task are cut to `clock` (until their
    response headers are in; a stream's body reads then use the stream's own clock)."""

    __slots__ = ("_clock", "_token")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        self._token = current_clock.set(self._clock)

    def __exit__(self, *exc: object) -> None:
        current_clock.reset(self._token)


def attach(response: Any, clock: Clock | None) -> Any:
    """Give the connection under `response` the clock for its body reads (None: release)."""
    stream = response.extensions.get("network_stream")
    if type(stream) in _GUARDED:
        stream.clock = clock
    return stream
