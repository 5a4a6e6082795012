"""HttpProvider over real sockets: streams, drops, timeouts, refusals, pooling, redirects."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    InvalidResponse,
    ProviderRuntimeOptions,
    RateLimited,
    StreamInterrupted,
    TransientError,
    create_provider_with_options,
)
from tests.loopback import LoopbackServer, Reply
from tests.oracle import chunk, completion, validate_chat_request

HELLO = ChatRequest((ChatMessage.user("hello"),))


def _events(*pieces: str, done: bool = True) -> list[bytes]:
    out = [f"data: {json.dumps(chunk(p))}\n\n".encode() for p in pieces]
    if done:
        out.append(f"data: {json.dumps(chunk(finish_reason='stop'))}\n\n".encode())
        out.append(b"data: [DONE]\n\n")
    return out


def _provider(server: LoopbackServer, **options):
    opts = ProviderRuntimeOptions(**options)
    return create_provider_with_options(f"custom:{server.url}/v1", "test-key-12345678", opts)


def _sse(chunks, **kw) -> Reply:
    return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks, **kw)


def test_stream_arrives_incrementally_and_is_assembled():
    with LoopbackServer(lambda r: _sse(_events("Hel", "lo", "!"), pause=0.01)) as server:
        with _provider(server) as provider:
            events = list(provider.stream(HELLO, "m"))
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo", "!"]
    assert events[-1].response.text == "Hello!"
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer test-key-12345678"
    validate_chat_request(sent.json())


def test_async_stream_over_a_socket():
    with LoopbackServer(lambda r: _sse(_events("a", "b"))) as server:
        provider = _provider(server)

        async def run():
            async with provider:
                return [e async for e in provider.astream(HELLO, "m")]

        events = asyncio.run(run())
    assert "".join(e.delta for e in events if e.type == "text_delta") == "ab"


@pytest.mark.parametrize("transport", ["httpx", "httpx-async", "aiohttp"])
def test_a_gzip_encoded_stream_is_decoded_on_every_path(transport):
    # Raw reads are taken only when the body is sent as it is; a compressed stream
    # still goes through the HTTP library's decoder.
    import zlib

    packer = zlib.compressobj(wbits=31)  # gzip framing
    pieces = [packer.compress(e) + packer.flush(zlib.Z_SYNC_FLUSH) for e in _events("Hé", "llo")]
    pieces.append(packer.flush())
    reply = Reply(
        headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        chunks=pieces,
        pause=0.005,
    )
    with LoopbackServer(lambda r: reply) as server:
        if transport == "httpx":
            with _provider(server) as provider:
                events = list(provider.stream(HELLO, "m"))
        else:
            options = {"http_transport": "aiohttp"} if transport == "aiohttp" else {}
            provider = _provider(server, **options)

            async def run():
                async with provider:
                    return [e async for e in provider.astream(HELLO, "m")]

            events = asyncio.run(run())
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hé", "llo"]
    assert events[-1].response.text == "Héllo"


def test_stream_cut_after_output_raises_stream_interrupted_with_partial_text():
    # Two text events reach the client, then the connection dies mid-stream.
    with LoopbackServer(lambda r: _sse(_events("Hel", "lo", "world"), cut_after=2)) as server:
        provider = _provider(server)
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(HELLO, "m"):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert not info.value.is_retryable


def test_async_stream_cut_after_output_raises_stream_interrupted():
    # The read error surfaces inside the transport's stream context, which maps it.
    with LoopbackServer(lambda r: _sse(_events("Hel", "lo", "world"), cut_after=2)) as server:
        provider = _provider(server)
        seen = []

        async def run():
            async with provider:
                async for event in provider.astream(HELLO, "m"):
                    seen.append(event.delta)

        with pytest.raises(StreamInterrupted) as info:
            asyncio.run(run())
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"


def test_stream_cut_before_any_output_is_a_transient_error():
    with LoopbackServer(lambda r: _sse(_events("x"), cut_after=0)) as server:
        provider = _provider(server)
        with pytest.raises(TransientError) as info:
            list(provider.stream(HELLO, "m"))
    assert not isinstance(info.value, StreamInterrupted)
    assert info.value.is_retryable


def test_stream_that_ends_without_finishing_is_not_a_success():
    # A clean end of body, but no finish_reason and no [DONE]: the answer is truncated.
    with LoopbackServer(lambda r: _sse(_events("partial", done=False))) as server:
        with pytest.raises(StreamInterrupted) as info:
            list(_provider(server).stream(HELLO, "m"))
    assert info.value.partial_text == "partial"


def test_error_status_on_a_stream_is_classified_before_any_event():
    def handler(request):
        body = json.dumps({"error": {"message": "slow down"}}).encode()
        return Reply(429, {"retry-after": "2", "content-type": "application/json"}, body)

    with LoopbackServer(handler) as server, pytest.raises(RateLimited) as info:
        list(_provider(server).stream(HELLO, "m"))
    assert info.value.retry_after == 2.0
    assert info.value.status == 429


def test_read_timeout_is_transient_and_says_so():
    body = json.dumps(completion()).encode()
    with LoopbackServer(lambda r: Reply(body=body, delay=1.5)) as server:
        provider = _provider(server, provider_timeout_secs=0.3)
        with pytest.raises(TransientError) as info:
            provider.chat(HELLO, "m")
    assert "timed out" in str(info.value)


def test_connection_refused_says_how_to_fix_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = create_provider_with_options(f"custom:http://127.0.0.1:{port}/v1")
    with pytest.raises(TransientError) as info:
        provider.chat(HELLO, "m")
    assert "could not connect" in str(info.value)
    assert "running" in str(info.value)


def test_sequential_calls_and_streams_reuse_one_connection():
    def handler(request):
        if request.json().get("stream"):
            return _sse(_events("ok"))
        return Reply(body=json.dumps(completion()).encode())

    with LoopbackServer(handler) as server, _provider(server) as provider:
        for _ in range(5):
            assert provider.chat(HELLO, "m").text == "Hello!"
            events = list(provider.stream(HELLO, "m"))
            assert events[-1].response.text == "ok"
    assert len(server.requests) == 10
    assert server.connections == 1


def test_redirects_are_not_followed():
    # A 3xx could send the Authorization header to another host.
    def handler(request):
        if request.path.startswith("/v1/"):
            return Reply(307, {"location": "http://127.0.0.2:9/steal"})
        return Reply(body=json.dumps(completion()).encode())

    with LoopbackServer(handler) as server, pytest.raises(InvalidResponse):
        _provider(server).chat(HELLO, "m")
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


def test_malformed_success_body_is_invalid_response_without_the_key():
    with (
        LoopbackServer(
            lambda r: Reply(body=b"<html>gateway hiccup test-key-12345678</html>")
        ) as server,
        pytest.raises(InvalidResponse) as info,
    ):
        _provider(server).chat(HELLO, "m")
    assert info.value.is_retryable
    assert "test-key-12345678" not in str(info.value)
    assert "gateway hiccup" in str(info.value)
