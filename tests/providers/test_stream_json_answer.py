"""A stream request answered with one JSON document is read as the answer it is.

LiteLLM's mock endpoints answer `stream: true` with `application/json`; before, construct
read the body as an event stream, found no event, said "no finish reason, no [DONE]"
(an OpenAI marker, even on an Anthropic endpoint) and ReliableProvider retried it as a
transient failure. An error object sent that way is that error, never retried.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    InvalidRequest,
    ProviderRuntimeOptions,
    create_provider_with_options,
    create_resilient_provider_with_options,
)
from tests.loopback import LoopbackServer, Reply
from tests.oracle import completion
from tests.oracle_anthropic_messages import message

HELLO = ChatRequest((ChatMessage.user("hello"),))
PATHS = ["sync", "async", "aiohttp"]


def _json(body: dict, status: int = 200) -> Reply:
    return Reply(
        status=status,
        headers={"content-type": "application/json"},
        body=json.dumps(body).encode(),
    )


def _events(provider, path: str) -> list:
    if path == "sync":
        return list(provider.stream(HELLO, "m"))

    async def go() -> list:
        async with provider:
            return [e async for e in provider.astream(HELLO, "m")]

    return asyncio.run(go())


def _options(path: str) -> ProviderRuntimeOptions:
    return ProviderRuntimeOptions(http_transport="aiohttp" if path == "aiohttp" else "httpx")


@pytest.mark.parametrize("path", PATHS)
def test_an_openai_compatible_stream_answered_with_json(path):
    with LoopbackServer(lambda r: _json(completion("Hello there"))) as server:
        provider = create_provider_with_options(f"custom:{server.url}/v1", "k-1234", _options(path))
        events = _events(provider, path)
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hello there"]
    assert events[-1].type == "final"
    assert events[-1].response.text == "Hello there"
    assert events[-1].response.stop_reason == "end_turn"


@pytest.mark.parametrize("path", PATHS)
def test_an_anthropic_stream_answered_with_json(path):
    with LoopbackServer(lambda r: _json(message("Bonjour"))) as server:
        provider = create_provider_with_options(
            f"anthropic-custom:{server.url}", "k-1234", _options(path)
        )
        events = _events(provider, path)
    assert [e.delta for e in events if e.type == "text_delta"] == ["Bonjour"]
    assert events[-1].response.text == "Bonjour"


def test_an_error_object_sent_as_json_is_that_error_and_is_not_retried():
    error = {"error": {"message": "model 'x' does not exist", "code": 400, "type": "invalid"}}
    with LoopbackServer(lambda r: _json(error)) as server:
        provider = create_resilient_provider_with_options(
            f"custom:{server.url}/v1",
            "k-1234",
            reliability={"provider_retries": 2, "provider_backoff_ms": 50},
        )
        with pytest.raises(Exception) as info:
            list(provider.stream(HELLO, "m"))
    assert "does not exist" in str(info.value)
    assert "[DONE]" not in str(info.value)
    assert len(server.requests) == 1
    assert isinstance(info.value, InvalidRequest) or "non_retryable" in str(info.value)


def test_json_that_is_really_an_event_stream_is_still_framed():
    # A server that labels its SSE as application/json: not one JSON document, so read
    # as the stream it is.
    body = (
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': 'Hi'}}]})}\n\n"
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
        "data: [DONE]\n\n"
    ).encode()
    reply = Reply(headers={"content-type": "application/json"}, body=body)
    with LoopbackServer(lambda r: reply) as server:
        provider = create_provider_with_options(f"custom:{server.url}/v1", "k-1234", None)
        events = list(provider.stream(HELLO, "m"))
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hi"]
