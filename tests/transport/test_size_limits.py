"""Size limits against servers that flood: each call runs in a child process whose peak
memory is measured, with a time limit.

A response body is refused past max_response_mb, counted after decompression; one
stream event past max_event_mb; a line that never ends costs linear time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20
PATHS = ["sync", "async", "aiohttp"]

# The child: one call with a small limit; prints what it raised and its peak RSS.
CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    # The peak RSS is inherited from the parent across fork and exec: start it afresh
    # (Linux: writing 5 to clear_refs resets VmHWM), then read it from /proc at the end.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

    def peak_mb():
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    from construct import (ChatMessage, ChatRequest, ProviderRuntimeOptions,
                           create_provider_with_options)
    url, path, stream = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    options = json.loads(sys.argv[4])
    if path == "aiohttp":
        options["http_transport"] = "aiohttp"
    provider = create_provider_with_options(
        "custom:" + url + "/v1", "k-test-1234", ProviderRuntimeOptions(**options))
    hello = ChatRequest((ChatMessage.user("hello"),))

    async def call_async():
        async with provider:
            if stream:
                return [e async for e in provider.astream(hello, "m")]
            return await provider.achat(hello, "m")

    try:
        if path == "sync":
            result = list(provider.stream(hello, "m")) if stream else provider.chat(hello, "m")
        else:
            result = asyncio.run(call_async())
        outcome = {"error": None}
    except Exception as exc:
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    outcome["rss_mb"] = peak_mb()
    print(json.dumps(outcome))
    """
)


def _call(url: str, path: str, stream: bool, **options: object) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, path, "1" if stream else "0", json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _baseline() -> float:
    """Peak RSS of a child that imports construct and makes no call."""
    code = (
        "import construct, httpx\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "import construct.transport.aiohttp, aiohttp, asyncio\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(status.split('VmHWM:')[1].split()[0]) / 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return float(done.stdout.strip())


@pytest.fixture(scope="module")
def baseline() -> float:
    return _baseline()


def _flood(total: int, piece: bytes) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def _bomb(inflated: int) -> bytes:
    """A gzip body of `inflated` zero bytes (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MB)
    out = [packer.compress(block) for _ in range(inflated // MB)]
    return b"".join(out) + packer.flush()


BOMB = _bomb(512 * MB)


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_json_body_is_refused_with_bounded_memory(path, baseline):
    # 400 MB of one JSON string: the answer never fits, and is never held whole.
    head = b'{"choices":[{"message":{"content":"'
    reply = Reply(
        headers={"content-type": "application/json"},
        chunks=[head, *_flood(400 * MB, b"x" * MB)],
    )
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, path, False, max_response_mb=8)
    assert outcome["error"] == "InvalidResponse", outcome
    assert "max_response_mb (8 MiB)" in outcome["message"]
    assert outcome["rss_mb"] < baseline + 60, (outcome, baseline)


@pytest.mark.parametrize("path", PATHS)
def test_a_gzip_bomb_is_refused_after_decompression_with_bounded_memory(path, baseline):
    reply = Reply(
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        body=BOMB,
    )
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, path, False, max_response_mb=8)
    assert outcome["error"] == "InvalidResponse", outcome
    assert "max_response_mb" in outcome["message"]
    assert outcome["rss_mb"] < baseline + 60, (outcome, baseline)


@pytest.mark.parametrize("path", PATHS)
def test_a_stream_line_that_never_ends_is_refused_in_linear_time(path, baseline):
    # 200 MB of one `data:` line, in 64 KB reads: before, each read rebuilt the line.
    reply = Reply(
        headers={"content-type": "text/event-stream"},
        chunks=[b'data: {"choices":[{"delta":{"content":"', *_flood(200 * MB, b"y" * 65536)],
    )
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, path, True, max_event_mb=4)
    assert outcome["error"] == "InvalidResponse", outcome
    assert "max_event_mb (4 MiB)" in outcome["message"]
    assert outcome["rss_mb"] < baseline + 60, (outcome, baseline)


@pytest.mark.parametrize("path", PATHS)
def test_a_gzip_bomb_in_a_stream_is_refused_with_bounded_memory(path, baseline):
    reply = Reply(
        headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        chunks=[BOMB[i : i + 65536] for i in range(0, len(BOMB), 65536)],
    )
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, path, True, max_event_mb=4)
    assert outcome["error"] == "InvalidResponse", outcome
    assert "max_event_mb" in outcome["message"]
    assert outcome["rss_mb"] < baseline + 60, (outcome, baseline)


def test_an_answer_under_the_limits_is_untouched():
    body = json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "z" * (3 * MB)},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode()
    packed = zlib.compress(body, 6, wbits=31)
    reply = Reply(
        headers={"content-type": "application/json", "content-encoding": "gzip"}, body=packed
    )
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, "sync", False, max_response_mb=4)
    assert outcome["error"] is None, outcome


@pytest.mark.parametrize("path", PATHS)
def test_a_declared_length_over_the_limit_is_refused_too(path, baseline):
    # A body with a content-length is read whole when it fits; one that does not fit
    # goes through the counting reader and is refused at the limit.
    reply = Reply(headers={"content-type": "application/json"}, body=b'{"a": "' + b"x" * (40 * MB))
    with LoopbackServer(lambda r: reply) as server:
        outcome = _call(server.url, path, False, max_response_mb=8)
    assert outcome["error"] == "InvalidResponse", outcome
    assert "max_response_mb (8 MiB)" in outcome["message"]
    assert outcome["rss_mb"] < baseline + 60, (outcome, baseline)
