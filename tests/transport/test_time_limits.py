"""Time limits against servers that trickle: each test runs under a hard limit of its own.

The documented semantics (docs/reliability.md): a non-streamed attempt is bounded as a
whole by provider_timeout_secs; a stream by the same until its first event, then by
stream_idle_timeout_secs between events (comments and keep-alives do not count) and
by stream_max_secs in all; total_timeout_s bounds a call up to its answer (a stream:
up to its first event). On sync httpx, async httpx and aiohttp alike.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    StreamInterrupted,
    TransientError,
    create_provider_with_options,
    create_resilient_provider_with_options,
)
from tests.loopback import LoopbackServer, Reply
from tests.oracle import chunk, completion

HELLO = ChatRequest((ChatMessage.user("hello"),))
PATHS = ["sync", "async", "aiohttp"]


def bounded(seconds: float, fn: Callable[[], object]) -> tuple[object, float]:
    """(what `fn` returned or raised, how long it took); fails the test if it hangs."""
    box: dict[str, object] = {}

    def run() -> None:
        start = time.monotonic()
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["result"] = exc
        box["took"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s: the call is not bounded")
    return box["result"], box["took"]  # type: ignore[return-value]


def _options(path: str, **options: object) -> ProviderRuntimeOptions:
    if path == "aiohttp":
        options["http_transport"] = "aiohttp"
    return ProviderRuntimeOptions(**options)  # type: ignore[arg-type]


def _provider(url: str, path: str, **options: object):
    return create_provider_with_options(
        f"custom:{url}/v1", "k-test-1234", _options(path, **options)
    )


def _chat(provider, path: str) -> Callable[[], object]:
    if path == "sync":
        return lambda: provider.chat(HELLO, "m")

    async def go():
        async with provider:
            return await provider.achat(HELLO, "m")

    return lambda: asyncio.run(go())


def _stream(provider, path: str, pause: float = 0.0) -> Callable[[], list[str]]:
    """Reads the whole stream; the deltas seen so far are in `seen` if it breaks."""
    seen: list[str] = []

    def sync() -> list[str]:
        for event in provider.stream(HELLO, "m"):
            seen.append(event.delta)
            time.sleep(pause)
        return seen

    async def go() -> list[str]:
        async with provider:
            async for event in provider.astream(HELLO, "m"):
                seen.append(event.delta)
                await asyncio.sleep(pause)
        return seen

    return sync if path == "sync" else (lambda: asyncio.run(go()))


def _event(text: str | None = None, finish: str | None = None) -> bytes:
    return f"data: {json.dumps(chunk(text, finish_reason=finish))}\n\n".encode()


def _forever(first: list[bytes], then: bytes) -> Iterator[bytes]:
    yield from first
    while True:
        yield then


def _sse(chunks: Iterator[bytes] | list[bytes], pause: float) -> Reply:
    return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks, pause=pause)


# -- a non-streamed attempt is bounded as a whole ------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_body_trickled_a_byte_at_a_time_is_cut_at_the_provider_timeout(path):
    # JSON may start with any amount of whitespace: each read brings one byte, so a
    # per-read timeout would never fire.
    reply = Reply(
        headers={"content-type": "application/json"}, chunks=_forever([], b" "), pause=0.1
    )
    with LoopbackServer(lambda r: reply) as server:
        provider = _provider(server.url, path, provider_timeout_secs=1)
        error, took = bounded(10, _chat(provider, path))
    assert isinstance(error, TransientError), error
    assert "provider_timeout_secs (1 s)" in str(error)
    assert took < 2.5


class _HeaderTrickler:
    """A server that sends its status line and then one header byte every 0.1 s."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._stop.is_set():
                conn.sendall(b"a")
                time.sleep(0.1)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.mark.parametrize("path", PATHS)
def test_headers_trickled_a_byte_at_a_time_are_cut_at_the_provider_timeout(path):
    server = _HeaderTrickler()
    try:
        provider = _provider(server.url, path, provider_timeout_secs=1)
        error, took = bounded(10, _chat(provider, path))
    finally:
        server.close()
    assert isinstance(error, TransientError), error
    assert took < 2.5


# -- a stream: first event, then idle between events, then its whole length ------------------


@pytest.mark.parametrize("path", PATHS)
def test_keep_alives_before_the_first_event_do_not_hold_the_call(path):
    reply = _sse(_forever([], b": keep-alive\n\n"), pause=0.1)
    with LoopbackServer(lambda r: reply) as server:
        provider = _provider(server.url, path, provider_timeout_secs=1)
        error, took = bounded(10, _stream(provider, path))
    # Nothing was delivered: a plain transient error, which a fallback may retry.
    assert type(error) is TransientError, error
    assert "no first event within provider_timeout_secs (1 s)" in str(error)
    assert took < 2.5


@pytest.mark.parametrize("path", PATHS)
def test_one_delta_then_keep_alives_is_cut_at_the_idle_limit(path):
    reply = _sse(_forever([_event("Hel")], b": keep-alive\n\n"), pause=0.1)
    with LoopbackServer(lambda r: reply) as server:
        provider = _provider(
            server.url, path, provider_timeout_secs=30, stream_idle_timeout_secs=0.8
        )
        error, took = bounded(10, _stream(provider, path))
    assert isinstance(error, StreamInterrupted), error
    assert error.partial_text == "Hel"
    assert "stream_idle_timeout_secs (0.8 s)" in str(error)
    assert "comments and keep-alives do not count" in str(error)
    assert took < 2.5


@pytest.mark.parametrize("path", PATHS)
def test_a_stream_that_never_ends_is_cut_at_stream_max_secs(path):
    reply = _sse(_forever([], _event("x")), pause=0.05)
    with LoopbackServer(lambda r: reply) as server:
        provider = _provider(server.url, path, provider_timeout_secs=30, stream_max_secs=1)
        error, took = bounded(10, _stream(provider, path))
    assert isinstance(error, StreamInterrupted), error
    assert "stream_max_secs (1 s)" in str(error)
    assert 0.9 < took < 2.5


@pytest.mark.parametrize("path", PATHS)
def test_a_slow_reader_is_not_cut_for_its_own_pauses(path):
    # The idle limit counts the server's silence, not the time the caller spends on
    # each event: here the caller takes longer than the limit between events.
    events = [_event("a"), _event("b"), _event("c"), _event(finish="stop"), b"data: [DONE]\n\n"]
    with LoopbackServer(lambda r: _sse(events, pause=0.0)) as server:
        provider = _provider(server.url, path, stream_idle_timeout_secs=0.3)
        result, _ = bounded(10, _stream(provider, path, pause=0.5))
    assert result == ["a", "b", "c", ""], result


@pytest.mark.parametrize("path", PATHS)
def test_events_spaced_under_the_idle_limit_keep_a_stream_going(path):
    events = [_event(str(i)) for i in range(8)] + [_event(finish="stop"), b"data: [DONE]\n\n"]
    with LoopbackServer(lambda r: _sse(events, pause=0.2)) as server:
        # Longer in all than both limits, never idle for as long as either.
        provider = _provider(
            server.url, path, provider_timeout_secs=1, stream_idle_timeout_secs=0.6
        )
        result, took = bounded(10, _stream(provider, path))
    assert result[:8] == [str(i) for i in range(8)], result
    assert took > 1.2


# -- total_timeout_s, through ReliableProvider, on every path -------------------------------


def _resilient(url: str, path: str, total: float):
    return create_resilient_provider_with_options(
        f"custom:{url}/v1",
        "k-test-1234",
        reliability={"provider_retries": 5, "provider_backoff_ms": 50, "total_timeout_s": total},
        options=_options(path, provider_timeout_secs=30),
    )


@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_bounds_a_call_whose_attempt_trickles(path):
    reply = Reply(
        headers={"content-type": "application/json"}, chunks=_forever([], b" "), pause=0.1
    )
    with LoopbackServer(lambda r: reply) as server:
        provider = _resilient(server.url, path, total=1)
        error, took = bounded(10, _chat(provider, path))
    assert isinstance(error, TransientError | Exception) and not isinstance(error, dict)
    assert "total_timeout_s" in str(error)
    assert took < 2.5


@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_bounds_a_stream_until_its_first_event(path):
    reply = _sse(_forever([], b": keep-alive\n\n"), pause=0.1)
    with LoopbackServer(lambda r: reply) as server:
        provider = _resilient(server.url, path, total=1)
        error, took = bounded(10, _stream(provider, path))
    assert "total_timeout_s" in str(error), error
    assert took < 2.5


@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_no_longer_applies_once_a_stream_has_started(path):
    events = [_event(str(i)) for i in range(6)] + [_event(finish="stop"), b"data: [DONE]\n\n"]
    with LoopbackServer(lambda r: _sse(events, pause=0.3)) as server:
        provider = _resilient(server.url, path, total=1)
        result, took = bounded(10, _stream(provider, path))
    assert result[:6] == [str(i) for i in range(6)], result
    assert took > 1.5


def test_a_quick_answer_is_unaffected_by_the_clock():
    body = json.dumps(completion("hi")).encode()
    with LoopbackServer(lambda r: Reply(body=body)) as server:
        provider = _provider(server.url, "sync", provider_timeout_secs=1)
        for _ in range(3):
            assert provider.chat(HELLO, "m").text == "hi"
        # The connection is reused: the clock of one call does not follow it into the next.
        time.sleep(1.2)
        assert provider.chat(HELLO, "m").text == "hi"
    assert server.connections == 1


def test_import_construct_leaves_httpcore_and_asyncio_for_the_first_client():
    # Both cost tens of milliseconds; the clock's guard and the per-loop clients load
    # them when a provider is built or its first client is made.
    import subprocess
    import sys

    code = (
        "import sys, construct; "
        "assert 'httpcore' not in sys.modules, 'httpcore imported'; "
        "assert 'asyncio' not in sys.modules, 'asyncio imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
