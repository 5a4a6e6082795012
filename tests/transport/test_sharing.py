"""One provider shared by threads and by event loops, over real loopback sockets.

A provider is built once and used from anywhere: many threads at once, one
`asyncio.run()` after another, several threads each running its own loop. Each
test counts the process's sockets to the loopback server (through /proc) and
fails on a ResourceWarning or an exception nobody could catch, so a pool built
twice or a socket left to the garbage collector is caught, not just a wrong answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    create_provider_with_options,
)
from construct.transport import HttpRequest, Transport
from tests.loopback import LoopbackServer, Reply
from tests.oracle import chunk, completion

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc"
)

HELLO = ChatRequest((ChatMessage.user("hello"),))
KEY = "test-key-12345678"
LIMIT_S = 30.0  # every test: a hang fails it instead of the run
WAIT_S = 10.0  # every barrier, join and poll inside a test
TRANSPORTS = [
    "httpx",
    pytest.param(
        "aiohttp",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("aiohttp") is None, reason="aiohttp not installed"
        ),
    ),
]


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the test took over {LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- what the process holds ------------------------------------------------------


def _tcp_inodes(port: int, *, client_side: bool) -> set[str]:
    """Inodes of the TCP sockets to `port` (client side) or accepted on it (server side)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                address = fields[2] if client_side else fields[1]
                listening = fields[3] == "0A"
                if int(address.rsplit(":", 1)[1], 16) == port and not listening:
                    inodes.add(fields[9])
    return inodes


def _socket_links() -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd of listdir itself, gone by now
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                links.append(link[len("socket:[") : -1])
    return links


def sockets_to(server: LoopbackServer) -> int:
    """Descriptors this process holds on connections it opened to `server`."""
    inodes = _tcp_inodes(server.port, client_side=True)
    return sum(1 for inode in _socket_links() if inode in inodes)


def served(server: LoopbackServer) -> int:
    """Connections `server` still holds open: it closes each when the client has closed it."""
    inodes = _tcp_inodes(server.port, client_side=False)
    return sum(1 for inode in _socket_links() if inode in inodes)


def all_sockets() -> int:
    return len(_socket_links())


def eventually(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@contextlib.contextmanager
def no_leaks() -> Iterator[None]:
    """Fail on a ResourceWarning (a socket, transport or session left to the garbage
    collector) or on an exception raised where nobody could catch it."""
    gc.collect()  # what earlier tests left is theirs, not this test's
    unraisable: list[str] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
    leaks = [
        str(w.message) for w in caught if issubclass(w.category, ResourceWarning | RuntimeWarning)
    ]
    assert not leaks, leaks
    assert not unraisable, unraisable


# -- servers and providers ---------------------------------------------------


def _reply(request: Any, delay: float = 0.0) -> Reply:
    if request.body and request.json().get("stream"):
        events = [f"data: {json.dumps(chunk(p))}\n\n".encode() for p in ("a", "b")] + [
            f"data: {json.dumps(chunk(finish_reason='stop'))}\n\n".encode(),
            b"data: [DONE]\n\n",
        ]
        return Reply(headers={"content-type": "text/event-stream"}, chunks=events)
    return Reply(body=json.dumps(completion()).encode(), delay=delay)


def _provider(server: LoopbackServer, transport: str = "httpx") -> Any:
    options = ProviderRuntimeOptions(http_transport=transport)
    return create_provider_with_options(f"custom:{server.url}/v1", KEY, options)


async def _calls(provider: Any, n: int = 3) -> list[str]:
    """`n` plain calls at once, then a stream: several pooled connections on this loop."""
    answers = await asyncio.gather(*(provider.achat(HELLO, "m") for _ in range(n)))
    events = [e async for e in provider.astream(HELLO, "m")]
    return [a.text for a in answers] + [events[-1].response.text]


def _run_threads(target: Any, n: int) -> list[Any]:
    """Run `target(i)` in `n` threads; their results, or the first error raised."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results


class SmallPool(Transport):
    """A pool of 4: 32 threads sharing it open at most 4 connections, 32 pools 32."""

    def _client_kwargs(self) -> dict[str, Any]:
        import httpx

        return {**super()._client_kwargs(), "limits": httpx.Limits(max_connections=4)}


# -- threads --------------------------------------------------------------------


def test_threads_making_their_first_call_at_once_share_one_pool():
    with no_leaks(), LoopbackServer(lambda r: _reply(r, delay=0.05)) as server:
        transport = SmallPool(provider="t", display_name="T")
        start = threading.Barrier(32, timeout=WAIT_S)
        request = HttpRequest("POST", f"{server.url}/v1/chat/completions", json={"m": 1})

        def first_call(i: int) -> int:
            start.wait()
            assert transport.send(request).status == 200
            return id(transport.client)

        clients = _run_threads(first_call, 32)
        assert len(set(clients)) == 1
        assert len(server.requests) == 32
        assert server.connections <= 4
        transport.close()
        assert sockets_to(server) == 0
        eventually(lambda: served(server) == 0, "the server still holds connections")


def test_a_provider_shared_by_threads_closes_every_connection():
    with no_leaks(), LoopbackServer(lambda r: _reply(r, delay=0.05)) as server:
        provider = _provider(server)
        start = threading.Barrier(32, timeout=WAIT_S)

        def first_call(i: int) -> str:
            start.wait()
            return provider.chat(HELLO, "m").text

        assert _run_threads(first_call, 32) == ["Hello!"] * 32
        assert 0 < sockets_to(server) <= 32
        provider.close()
        assert sockets_to(server) == 0
        # Reopened on use, and closed again.
        assert provider.chat(HELLO, "m").text == "Hello!"
        provider.close()
        assert sockets_to(server) == 0


def test_the_hot_path_takes_no_lock_once_the_clients_exist():
    class NoLock:
        def __enter__(self) -> None:
            raise AssertionError("a lock was taken on the hot path")

        def __exit__(self, *exc: object) -> None: ...

    transport = Transport(provider="t", display_name="T")
    client = transport.client
    transport._lock = NoLock()
    assert transport.client is client

    async def twice() -> None:
        aclient = transport.aclient
        transport._aclients._lock = NoLock()
        assert transport.aclient is aclient
        await aclient.aclose()

    asyncio.run(twice())
    client.close()


# -- event loops -----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_one_provider_across_successive_event_loops(transport):
    with no_leaks(), LoopbackServer(_reply) as server:
        provider = _provider(server, transport)
        for _ in range(3):
            assert asyncio.run(_calls(provider)) == ["Hello!"] * 3 + ["ab"]
            # The loop is gone: its connections went with it, closed, not left to the GC.
            assert sockets_to(server) == 0
        provider.close()
        assert sockets_to(server) == 0
        eventually(lambda: served(server) == 0, "the server still holds connections")
    assert len(server.requests) == 12


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_threads_each_running_a_loop_use_one_provider_at_once(transport):
    with no_leaks(), LoopbackServer(lambda r: _reply(r, delay=0.02)) as server:
        provider = _provider(server, transport)
        start = threading.Barrier(2, timeout=WAIT_S)
        used = threading.Barrier(3, timeout=WAIT_S)  # both loops have called, and wait
        closed = threading.Event()

        async def work() -> list[str]:
            await asyncio.to_thread(start.wait)
            answers = []
            for _ in range(3):
                answers += await _calls(provider)
            await asyncio.to_thread(used.wait)
            # The provider is closed from another thread while this loop still runs...
            assert await asyncio.to_thread(closed.wait, WAIT_S)
            # ...and reopens here on the next call.
            answers += await _calls(provider, 1)
            return answers

        def in_its_own_loop(i: int) -> list[str]:
            return asyncio.run(work())

        results: list[Any] = []
        runner = threading.Thread(
            target=lambda: results.append(_run_threads(in_its_own_loop, 2)), daemon=True
        )
        runner.start()
        used.wait()
        assert sockets_to(server) > 0
        provider.close()  # closes both running loops' clients, on their loops, and waits
        assert sockets_to(server) == 0
        closed.set()
        runner.join(WAIT_S)
        each = [*["Hello!"] * 3, "ab"] * 3 + ["Hello!", "ab"]
        assert results == [[each, each]]
        assert sockets_to(server) == 0
        provider.close()
        eventually(lambda: served(server) == 0, "the server still holds connections")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_aclose_on_one_loop_closes_another_loops_connections(transport):
    with no_leaks(), LoopbackServer(_reply) as server:
        provider = _provider(server, transport)
        used = threading.Event()
        release = threading.Event()

        async def other() -> str:
            text = (await provider.achat(HELLO, "m")).text
            used.set()
            await asyncio.to_thread(release.wait, WAIT_S)
            return text

        results: list[str] = []
        thread = threading.Thread(target=lambda: results.append(asyncio.run(other())))
        thread.start()

        async def here() -> int:
            await provider.achat(HELLO, "m")
            assert await asyncio.to_thread(used.wait, WAIT_S)
            await provider.aclose()
            return sockets_to(server)

        try:
            assert asyncio.run(here()) == 0
        finally:
            release.set()
            thread.join(WAIT_S)
        assert results == ["Hello!"]
        assert sockets_to(server) == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_loop_run_by_hand_closes_its_connections_when_it_shuts_down(transport):
    with no_leaks(), LoopbackServer(_reply) as server:
        provider = _provider(server, transport)
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(_calls(provider)) == ["Hello!"] * 3 + ["ab"]
            assert sockets_to(server) > 0  # between runs the loop keeps its connections
            assert loop.run_until_complete(_calls(provider)) == ["Hello!"] * 3 + ["ab"]
            loop.run_until_complete(loop.shutdown_asyncgens())
            assert sockets_to(server) == 0
        finally:
            loop.close()
        assert asyncio.run(_calls(provider, 1)) == ["Hello!", "ab"]
        provider.close()
        assert sockets_to(server) == 0


def test_close_inside_a_running_loop_closes_its_connections_when_it_yields():
    with no_leaks(), LoopbackServer(_reply) as server:
        provider = _provider(server)

        async def go() -> int:
            await provider.achat(HELLO, "m")
            provider.close()  # sync close from async code: cannot wait for its own loop
            for _ in range(100):
                if sockets_to(server) == 0:
                    break
                await asyncio.sleep(0.01)
            return sockets_to(server)

        assert asyncio.run(go()) == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_close_after_threads_and_loops_leaves_no_socket(transport):
    with no_leaks(), LoopbackServer(lambda r: _reply(r, delay=0.01)) as server:
        before = all_sockets()
        provider = _provider(server, transport)
        start = threading.Barrier(8, timeout=WAIT_S)

        def sync_then_async(i: int) -> list[str]:
            start.wait()
            text = provider.chat(HELLO, "m").text
            return [text, *asyncio.run(_calls(provider, 2))]

        for _ in range(2):
            assert asyncio.run(_calls(provider)) == ["Hello!"] * 3 + ["ab"]
        assert _run_threads(sync_then_async, 8) == [["Hello!"] * 3 + ["ab"]] * 8
        assert sockets_to(server) > 0  # the sync pool keeps its connections alive
        provider.close()
        assert sockets_to(server) == 0
        eventually(lambda: all_sockets() == before, "sockets are left open")
