"""A fast loopback fake LLM server for benchmarks, run in its own process.

    python benchmarks/fake_server.py [--port 0] [--chunks 500] [--pace-ms 0] [--burst]

It prints its port on stdout, then serves until stdin closes (when stdin is a
pipe), SIGTERM or SIGINT. Pure asyncio (`asyncio.Protocol`), HTTP/1.1 with
keep-alive and pipelining; request bodies by Content-Length or chunked. Every
answer is precomputed bytes, so the server spends as little CPU as possible
and a client's cost is what a benchmark sees.

    POST /v1/chat/completions   OpenAI chat completion; an SSE stream of
                                chat.completion.chunk events, a usage chunk and
                                [DONE] when the body has "stream": true
    POST /v1/messages           Anthropic Messages; its SSE event sequence when
                                streaming
    GET  /v1/models             a one-model list (construct's warmup)
    GET  /stats                 {"connections", "requests", "open", "streams",
                                "rate_limited"} as JSON; /stats calls are not counted
    POST /stats/reset           zero the counters

Streams have `--chunks` content chunks unless a request asks for another
number: header `x-chunks: N`, query `?chunks=N`, or a path prefix
`/chunks/N/` (handy for SDKs that only take a base URL). A `x-mode: 429`
header or a `/429/` path prefix answers 429 with `retry-after: 1`.

How a stream is written, as a real LLM server does it or not:

    per event (default)  each SSE event is its own HTTP chunk and its own
                         `transport.write`, so one event is one send
    paced                the same, waiting N ms between events (`loop.call_later`):
                         header `x-pace-ms: N`, query `?pace_ms=N`, path prefix
                         `/pace/N/`, or `--pace-ms N` for every stream; 0 is unpaced
    burst                the whole stream in one `transport.write`, as a client
                         reading a finished response sees it: header `x-burst: 1`,
                         query `?burst=1`, path prefix `/burst/`, or `--burst`

A path prefix `/reply/` makes a stream carry the non-streamed answer's text as its one
content chunk, so a client that always streams upstream gets the same answer as a plain
call (a `construct serve` process answers `chat` with a stream of its provider).

Path prefixes combine in any order: `/chunks/200/pace/1/v1/chat/completions`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import sys
from collections import deque

MODEL = "bench-model"
CREATED = 1_700_000_000
REPLY_TEXT = "Hello! I am a fake model answering as fast as a loopback socket allows."
WORDS = ("The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog. ")
MAX_CHUNKS = 100_000
MAX_PACE_MS = 10_000.0


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _response(status: str, content_type: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type + b"\r\n" + extra
        + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


def _chunked_head(content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type
        + b"\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )  # fmt: skip


def _http_chunk(piece: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(piece), piece)


JSON = b"application/json"
SSE = b"text/event-stream"

OPENAI_USAGE = {"prompt_tokens": 12, "completion_tokens": 17, "total_tokens": 29}
OPENAI_CHAT = _response(
    "200 OK",
    JSON,
    _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": OPENAI_USAGE,
        }
    ),
)
ANTHROPIC_MESSAGE = _response(
    "200 OK",
    JSON,
    _dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": REPLY_TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 17},
        }
    ),
)
RATE_LIMITED = _response(
    "429 Too Many Requests",
    JSON,
    _dumps({"error": {"message": "Rate limit reached (fake)", "type": "rate_limit_exceeded"}}),
    b"retry-after: 1\r\n",
)
NOT_FOUND = _response("404 Not Found", JSON, _dumps({"error": {"message": "no such route"}}))
MODELS = _response("200 OK", JSON, _dumps({"object": "list", "data": [{"id": MODEL}]}))
RESET = _response("200 OK", JSON, b'{"reset":true}')


def _openai_chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _chunked_stream(events: list[bytes]) -> tuple[bytes, ...]:
    """The writes of a chunked SSE answer: the head, one HTTP chunk per event, the end."""
    return (_chunked_head(SSE), *map(_http_chunk, events), b"0\r\n\r\n")


def openai_stream(chunks: int, words: tuple[str, ...] = WORDS) -> tuple[bytes, ...]:
    """Role chunk, `chunks` content chunks, a finish chunk, a usage chunk, [DONE]."""
    events = [_openai_chunk({"role": "assistant", "content": ""})]
    events += [_openai_chunk({"content": words[i % len(words)]}) for i in range(chunks)]
    events.append(_openai_chunk({}, "stop"))
    tokens = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    usage = dict(_openai_chunk({}), choices=[], usage=tokens)
    events.append(usage)
    pieces = [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    return _chunked_stream(pieces)


def anthropic_stream(chunks: int, words: tuple[str, ...] = WORDS) -> tuple[bytes, ...]:
    """message_start, a text block of `chunks` deltas, message_delta, message_stop."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    }
    events = [
        ("message_start", start),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    events += [
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": words[i % len(words)]},
            },
        )
        for i in range(chunks)
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    pieces = [b"event: " + name.encode() + b"\ndata: " + _dumps(e) + b"\n\n" for name, e in events]
    return _chunked_stream(pieces)


class Stats:
    __slots__ = ("connections", "open", "rate_limited", "requests", "streams")

    def __init__(self) -> None:
        self.reset()
        self.open = 0

    def reset(self) -> None:
        self.connections = 0  # accepted sockets
        self.requests = 0  # requests other than /stats
        self.streams = 0
        self.rate_limited = 0

    def as_bytes(self) -> bytes:
        return _response("200 OK", JSON, _dumps({k: getattr(self, k) for k in self.__slots__}))


class Stream:
    """A streamed answer being written: its writes, and the pause between events."""

    __slots__ = ("at", "pace", "pieces")

    def __init__(self, pieces: tuple[bytes, ...], pace: float) -> None:
        self.pieces = pieces
        self.pace = pace  # seconds between events; 0: no pause
        self.at = 0  # the next write


class Ask:
    """What a request asks of its answer, from headers, then path prefixes and query."""

    __slots__ = ("burst", "chunks", "mode", "pace_ms", "reply")

    def __init__(self, chunks: int, pace_ms: float, burst: bool) -> None:
        self.mode = b""
        self.chunks = chunks
        self.pace_ms = pace_ms
        self.burst = burst
        self.reply = False  # one content chunk: the non-streamed answer's text


class Server:
    """Routing and the response cache; one per process."""

    def __init__(self, chunks: int, pace_ms: float = 0.0, burst: bool = False) -> None:
        self.chunks = chunks
        self.pace_ms = pace_ms
        self.burst = burst
        self.stats = Stats()
        self._streams: dict[tuple[str, int, bool], tuple[bytes, ...]] = {}
        self._bursts: dict[tuple[str, int, bool], bytes] = {}

    def ask(self) -> Ask:
        return Ask(self.chunks, self.pace_ms, self.burst)

    def stream(self, kind: str, ask: Ask) -> bytes | Stream:
        key = (kind, ask.chunks, ask.reply)
        pieces = self._streams.get(key)
        if pieces is None:
            build = openai_stream if kind == "openai" else anthropic_stream
            pieces = self._streams[key] = (
                build(1, (REPLY_TEXT,)) if ask.reply else build(ask.chunks)
            )
        if ask.burst:
            body = self._bursts.get(key)
            if body is None:
                body = self._bursts[key] = b"".join(pieces)
            return body
        return Stream(pieces, ask.pace_ms / 1000)

    def answer(self, method: bytes, target: bytes, ask: Ask, body: bytes) -> bytes | Stream:
        path, _, query = target.partition(b"?")
        if path.startswith(b"/stats"):
            if path == b"/stats/reset" and method == b"POST":
                self.stats.reset()
                return RESET
            return self.stats.as_bytes()
        stats = self.stats
        stats.requests += 1
        while True:
            if path.startswith(b"/chunks/"):
                number, _, rest = path[8:].partition(b"/")
                ask.chunks, path = _count(number, ask.chunks), b"/" + rest
            elif path.startswith(b"/pace/"):
                number, _, rest = path[6:].partition(b"/")
                ask.pace_ms, path = _pace(number, ask.pace_ms), b"/" + rest
            elif path.startswith(b"/burst/"):
                ask.burst, path = True, path[6:]
            elif path.startswith(b"/reply/"):
                ask.reply, path = True, path[6:]
            elif path.startswith(b"/429/"):
                ask.mode, path = b"429", path[4:]
            else:
                break
        if ask.mode == b"429":
            stats.rate_limited += 1
            return RATE_LIMITED
        if query:
            for pair in query.split(b"&"):
                name, _, value = pair.partition(b"=")
                if name == b"chunks":
                    ask.chunks = _count(value, ask.chunks)
                elif name == b"pace_ms":
                    ask.pace_ms = _pace(value, ask.pace_ms)
                elif name == b"burst":
                    ask.burst = _flag(value)
        if method == b"POST" and path.endswith((b"/chat/completions", b"/messages")):
            kind = "openai" if path.endswith(b"/chat/completions") else "anthropic"
            if _wants_stream(body):
                stats.streams += 1
                return self.stream(kind, ask)
            return OPENAI_CHAT if kind == "openai" else ANTHROPIC_MESSAGE
        if method == b"GET" and path.endswith(b"/models"):
            return MODELS
        return NOT_FOUND


def _count(raw: bytes, default: int) -> int:
    try:
        return max(0, min(int(raw), MAX_CHUNKS))
    except ValueError:
        return default


def _pace(raw: bytes, default: float) -> float:
    try:
        return max(0.0, min(float(raw), MAX_PACE_MS))
    except ValueError:
        return default


def _flag(raw: bytes) -> bool:
    return raw.strip().lower() not in (b"", b"0", b"false", b"no")


def _wants_stream(body: bytes) -> bool:
    at = body.find(b'"stream"')
    if at < 0:
        return False
    return body[at + 8 : at + 16].lstrip(b" :").startswith(b"true")


class Connection(asyncio.Protocol):
    """One client socket: parse requests as bytes arrive, answer each in order.

    Answers wait in `pending` behind a paced stream (pipelined requests are answered
    in order); everything else is written as soon as it is parsed."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[bytes | Stream] = deque()
        self.timer: asyncio.TimerHandle | None = None  # the next paced event
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.stats.connections += 1
        self.server.stats.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.stats.open -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out: list[bytes | Stream] = []
        close = False
        while not close:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            lines = bytes(buf[:end]).split(b"\r\n")
            try:
                method, target, _ = lines[0].split(b" ", 2)
            except ValueError:
                close = True
                out.append(_response("400 Bad Request", JSON, b'{"error":"bad request line"}'))
                break
            length, chunked, ask = 0, False, self.server.ask()
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"x-chunks":
                    ask.chunks = _count(value.strip(), ask.chunks)
                elif name == b"x-pace-ms":
                    ask.pace_ms = _pace(value.strip(), ask.pace_ms)
                elif name == b"x-burst":
                    ask.burst = _flag(value)
                elif name == b"x-mode":
                    ask.mode = value.strip()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            start = end + 4
            if chunked:
                parsed = _dechunk(buf, start)
                if parsed is None:
                    break
                body, stop = parsed
            else:
                stop = start + length
                if len(buf) < stop:
                    break
                body = bytes(buf[start:stop])
            del buf[:stop]
            out.append(self.server.answer(method, target, ask, body))
        if not out or self.transport is None:
            return
        self.close_after = self.close_after or close
        if not self.pending and all(type(a) is bytes for a in out):
            self.transport.write(b"".join(out))  # type: ignore[arg-type]
            if close:
                self.transport.close()
            return
        idle = not self.pending
        self.pending.extend(out)
        if idle:
            self._pump()

    def _pump(self) -> None:
        """Write pending answers in order, one write per stream event; a paced stream
        comes back here through `call_later` for each of its events."""
        self.timer = None
        transport, pending = self.transport, self.pending
        if transport is None or transport.is_closing():
            pending.clear()
            return
        write = transport.write
        while pending:
            item = pending[0]
            if type(item) is bytes:
                write(item)
                pending.popleft()
                continue
            pieces, at, last = item.pieces, item.at, len(item.pieces) - 1
            if not item.pace:
                for piece in pieces[at:]:
                    write(piece)
                pending.popleft()
                continue
            # The head and the first event go out at once, then one event per pause;
            # the chunked end follows the last event at once.
            write(pieces[at])
            at += 1
            while at == 1 or at == last:
                write(pieces[at])
                at += 1
            if at > last:
                pending.popleft()
                continue
            item.at = at
            self.timer = asyncio.get_running_loop().call_later(item.pace, self._pump)
            return
        if self.close_after:
            transport.close()


def _dechunk(buf: bytearray, at: int) -> tuple[bytes, int] | None:
    """(body, end offset) of a chunked body starting at `at`, or None while incomplete."""
    parts = []
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buf[at:eol]).split(b";", 1)[0], 16)
        at = eol + 2
        if size == 0:
            # Trailers (usually none) end with an empty line.
            end = buf.find(b"\r\n\r\n", at - 2)
            return (b"".join(parts), end + 4) if end >= 0 else None
        if len(buf) < at + size + 2:
            return None
        parts.append(bytes(buf[at : at + size]))
        at += size + 2


async def serve(
    host: str,
    port: int,
    chunks: int,
    watch_stdin: bool,
    pace_ms: float = 0.0,
    burst: bool = False,
) -> None:
    loop = asyncio.get_running_loop()
    server = Server(chunks, pace_ms, burst)
    listener = await loop.create_server(
        lambda: Connection(server), host, port, reuse_address=True, backlog=1024
    )
    stop = loop.create_future()

    def finish() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish)
    if watch_stdin:

        class StdinWatch(asyncio.Protocol):
            def connection_lost(self, exc: Exception | None) -> None:
                finish()

        await loop.connect_read_pipe(StdinWatch, sys.stdin)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await stop


def _stdin_is_pipe() -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=500, help="content chunks per stream")
    parser.add_argument(
        "--pace-ms", type=float, default=0.0, help="pause between stream events (default 0)"
    )
    parser.add_argument(
        "--burst", action="store_true", help="write each stream in one write by default"
    )
    args = parser.parse_args(argv)
    pace = max(0.0, min(args.pace_ms, MAX_PACE_MS))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.chunks, _stdin_is_pipe(), pace, args.burst))


if __name__ == "__main__":
    main()
