"""A fast loopback fake LLM server for benchmarks, run in its own process.

    python benchmarks/fake_server.py [--port 0] [--chunks 500]

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

MODEL = "bench-model"
CREATED = 1_700_000_000
REPLY_TEXT = "Hello! I am a fake model answering as fast as a loopback socket allows."
WORDS = ("The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog. ")
MAX_CHUNKS = 100_000


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


def openai_stream(chunks: int) -> bytes:
    """Role chunk, `chunks` content chunks, a finish chunk, a usage chunk, [DONE]."""
    events = [_openai_chunk({"role": "assistant", "content": ""})]
    events += [_openai_chunk({"content": WORDS[i % len(WORDS)]}) for i in range(chunks)]
    events.append(_openai_chunk({}, "stop"))
    tokens = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    usage = dict(_openai_chunk({}), choices=[], usage=tokens)
    events.append(usage)
    pieces = [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    return _chunked_head(SSE) + b"".join(map(_http_chunk, pieces)) + b"0\r\n\r\n"


def anthropic_stream(chunks: int) -> bytes:
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
                "delta": {"type": "text_delta", "text": WORDS[i % len(WORDS)]},
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
    return _chunked_head(SSE) + b"".join(map(_http_chunk, pieces)) + b"0\r\n\r\n"


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


class Server:
    """Routing and the response cache; one per process."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.stats = Stats()
        self._streams: dict[tuple[str, int], bytes] = {}

    def stream(self, kind: str, chunks: int) -> bytes:
        key = (kind, chunks)
        body = self._streams.get(key)
        if body is None:
            build = openai_stream if kind == "openai" else anthropic_stream
            body = self._streams[key] = build(chunks)
        return body

    def answer(self, method: bytes, target: bytes, mode: bytes, chunks: int, body: bytes) -> bytes:
        path, _, query = target.partition(b"?")
        if path.startswith(b"/stats"):
            if path == b"/stats/reset" and method == b"POST":
                self.stats.reset()
                return RESET
            return self.stats.as_bytes()
        stats = self.stats
        stats.requests += 1
        if path.startswith(b"/chunks/"):
            number, _, rest = path[8:].partition(b"/")
            chunks, path = _count(number, chunks), b"/" + rest
        if path.startswith(b"/429/"):
            mode, path = b"429", path[4:]
        if mode == b"429":
            stats.rate_limited += 1
            return RATE_LIMITED
        if query:
            for pair in query.split(b"&"):
                name, _, value = pair.partition(b"=")
                if name == b"chunks":
                    chunks = _count(value, chunks)
        if method == b"POST" and path.endswith((b"/chat/completions", b"/messages")):
            kind = "openai" if path.endswith(b"/chat/completions") else "anthropic"
            if _wants_stream(body):
                stats.streams += 1
                return self.stream(kind, chunks)
            return OPENAI_CHAT if kind == "openai" else ANTHROPIC_MESSAGE
        if method == b"GET" and path.endswith(b"/models"):
            return MODELS
        return NOT_FOUND


def _count(raw: bytes, default: int) -> int:
    try:
        return max(0, min(int(raw), MAX_CHUNKS))
    except ValueError:
        return default


def _wants_stream(body: bytes) -> bool:
    at = body.find(b'"stream"')
    if at < 0:
        return False
    return body[at + 8 : at + 16].lstrip(b" :").startswith(b"true")


class Connection(asyncio.Protocol):
    """One client socket: parse requests as bytes arrive, answer each in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.stats.connections += 1
        self.server.stats.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.stats.open -= 1

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out = []
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
            length, chunked, mode, chunks = 0, False, b"", self.server.chunks
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"x-chunks":
                    chunks = _count(value.strip(), chunks)
                elif name == b"x-mode":
                    mode = value.strip()
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
            out.append(self.server.answer(method, target, mode, chunks, body))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            if close:
                self.transport.close()


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


async def serve(host: str, port: int, chunks: int, watch_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    server = Server(chunks)
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
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.chunks, _stdin_is_pipe()))


if __name__ == "__main__":
    main()
