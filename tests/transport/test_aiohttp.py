"""The aiohttp transport over real loopback sockets: the same behaviour as httpx's, async."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ConfigError,
    InvalidResponse,
    ProviderRuntimeOptions,
    RateLimited,
    StreamInterrupted,
    TransientError,
    create_provider_with_options,
)
from construct.transport.aiohttp import AiohttpTransport
from tests.loopback import LoopbackServer, Reply
from tests.oracle import chunk, completion, validate_chat_request

pytest.importorskip("aiohttp")

HELLO = ChatRequest((ChatMessage.user("hello"),))
KEY = "test-key-12345678"


def _provider(url: str, **options):
    opts = ProviderRuntimeOptions(http_transport="aiohttp", **options)
    return create_provider_with_options(f"custom:{url}/v1", KEY, opts)


def _sse(*pieces: str, cut_after: int | None = None, done: bool = True) -> Reply:
    events = [f"data: {json.dumps(chunk(p))}\n\n".encode() for p in pieces]
    if done:
        events += [
            f"data: {json.dumps(chunk(finish_reason='stop'))}\n\n".encode(),
            b"data: [DONE]\n\n",
        ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=events, cut_after=cut_after)


def run(coro):
    return asyncio.run(coro)


def test_the_option_selects_the_aiohttp_transport_for_async_calls():
    with LoopbackServer(lambda r: Reply(body=json.dumps(completion()).encode())) as server:
        provider = _provider(server.url)
        assert isinstance(provider._transport, AiohttpTransport)

        async def go():
            async with provider:
                return await provider.achat(HELLO, "m")

        assert run(go()).text == "Hello!"
        # Sync calls on the same provider still go through httpx.
        assert provider.chat(HELLO, "m").text == "Hello!"
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    validate_chat_request(sent.json())


def test_stream_and_connection_reuse():
    def handler(request):
        return (
            _sse("a", "b", "c")
            if request.json().get("stream")
            else Reply(body=json.dumps(completion()).encode())
        )

    with LoopbackServer(handler) as server:
        provider = _provider(server.url)

        async def go():
            async with provider:
                texts = []
                for _ in range(5):
                    texts.append((await provider.achat(HELLO, "m")).text)
                    events = [e async for e in provider.astream(HELLO, "m")]
                    texts.append(events[-1].response.text)
                return texts

        assert run(go()) == ["Hello!", "abc"] * 5
    assert server.connections == 1
    assert len(server.requests) == 10


def test_lines_split_only_at_cr_and_lf_even_across_reads():
    text = "x\u2028y é"
    with LoopbackServer(lambda r: _sse(text[:3], text[3:])) as server:
        provider = _provider(server.url)

        async def go():
            async with provider:
                return [e async for e in provider.astream(HELLO, "m")]

        assert run(go())[-1].response.text == text


def test_status_errors_are_classified():
    body = json.dumps({"error": {"message": "slow down"}}).encode()
    with LoopbackServer(lambda r: Reply(429, {"retry-after": "3"}, body)) as server:
        provider = _provider(server.url)

        async def go():
            async with provider:
                await provider.achat(HELLO, "m")

        with pytest.raises(RateLimited) as info:
            run(go())
    assert info.value.retry_after == 3.0


def test_stream_cut_after_output_is_interrupted_before_output_is_transient():
    with LoopbackServer(lambda r: _sse("Hel", "lo", "x", cut_after=2)) as server:
        provider = _provider(server.url)

        async def go():
            async with provider:
                return [e async for e in provider.astream(HELLO, "m")]

        with pytest.raises(StreamInterrupted) as info:
            run(go())
    assert info.value.partial_text == "Hello"
    with LoopbackServer(lambda r: _sse("x", cut_after=0)) as server:
        provider = _provider(server.url)
        with pytest.raises(TransientError) as info2:
            run(go())
    assert not isinstance(info2.value, StreamInterrupted)


def test_refused_connection_timeout_and_redirects():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = _provider(f"http://127.0.0.1:{port}")

    async def go(p):
        async with p:
            return await p.achat(HELLO, "m")

    with pytest.raises(TransientError, match="could not connect"):
        run(go(provider))
    slow = Reply(body=json.dumps(completion()).encode(), delay=1.5)
    with LoopbackServer(lambda r: slow) as server:
        with pytest.raises(TransientError, match="timed out"):
            run(go(_provider(server.url, provider_timeout_secs=0.3)))
    redirect = Reply(307, {"location": "http://127.0.0.2:9/steal"})
    with LoopbackServer(lambda r: redirect) as server:
        with pytest.raises(InvalidResponse):
            run(go(_provider(server.url)))
    assert len(server.requests) == 1


def test_without_aiohttp_the_error_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    provider = _provider("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=r"construct-llm\[aiohttp\]"):
        run(provider.achat(HELLO, "m"))


def test_unknown_transport_is_a_config_error():
    with pytest.raises(ConfigError, match="http_transport"):
        ProviderRuntimeOptions(http_transport="curl")


def test_config_http_transport_selects_it(tmp_path):
    from construct import create_provider_from_config, load_config

    path = tmp_path / "config.toml"
    path.write_text(
        'default_provider = "custom:http://127.0.0.1:9/v1"\n[http]\ntransport = "aiohttp"\n'
    )
    provider = create_provider_from_config(load_config(path, environ={}))
    primary = provider.providers[0][1]
    assert isinstance(primary._transport, AiohttpTransport)


def test_per_call_headers_never_leak_from_one_call_into_another():
    # Each call's auth goes with its request; no call may see another call's.
    with LoopbackServer(lambda r: Reply(body=json.dumps(completion()).encode())) as server:
        transport = _provider(server.url)._transport

        async def go():
            from construct.transport import HttpRequest

            url = f"{server.url}/v1/chat/completions"
            body = {"model": "m", "messages": []}
            await transport.asend(HttpRequest("POST", url, {"Authorization": "Bearer one"}, body))
            await transport.asend(HttpRequest("POST", url, {"Authorization": "Bearer two"}, body))
            await transport.asend(HttpRequest("POST", url, {"x-api-key": "three"}, body))
            await transport.asend(HttpRequest("POST", url, {"x-api-key": "three"}, body))
            await transport.aclose()

        run(go())
    seen = [(r.headers.get("authorization"), r.headers.get("x-api-key")) for r in server.requests]
    assert seen == [("Bearer one", None), ("Bearer two", None), (None, "three"), (None, "three")]


def test_the_session_keeps_no_key():
    # A session lives as long as the provider: a key among its default headers would too.
    with LoopbackServer(lambda r: Reply(body=json.dumps(completion()).encode())) as server:
        provider = _provider(server.url)

        async def go():
            await provider.achat(HELLO, "m")
            defaults = dict(provider._transport._session.headers)
            await provider.aclose()
            return defaults

        defaults = run(go())
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(defaults)
    # Only what every call sends: the body's type, and the encodings construct decodes.
    assert defaults == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
    }


def test_import_construct_does_not_import_aiohttp():
    code = (
        "import sys, construct, construct.transport; "
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'; "
        "assert 'construct.transport.aiohttp' not in sys.modules, 'transport imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
