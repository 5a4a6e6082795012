"""`anthropic` and `anthropic-custom:URL` end to end through the public API.

respx stands in for api.anthropic.com (bodies built from the anthropic SDK's
response types, requests checked against its request types); a loopback server
covers what needs a real socket (a stream cut midway).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilities,
    ProviderRuntimeOptions,
    RateLimited,
    StreamInterrupted,
    ToolCall,
    ToolSpec,
    TransientError,
    Usage,
    create_provider,
    create_provider_from_config,
    create_provider_with_options,
    create_provider_with_url,
    load_config,
)
from construct.errors import ProviderError
from construct.providers.http import HttpProvider
from tests.loopback import LoopbackServer, Reply
from tests.oracle_anthropic_messages import (
    SAMPLING,
    block_start,
    block_stop,
    error,
    json_delta,
    message,
    message_delta,
    message_start,
    message_stop,
    model_info,
    model_page,
    sse,
    text_block,
    text_delta,
    text_events,
    thinking_block,
    thinking_delta,
    tool_use_block,
    usage,
    validate_messages_request,
)

URL = "https://api.anthropic.com/v1/messages"
MODELS_URL = "https://api.anthropic.com/v1/models"
KEY = "sk-ant-api03-Test0123456789abcdefXYZ"
OAUTH = "sk-ant-oat01-Test0123456789abcdefXYZ"
MODEL = "claude-sonnet-4-6"
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "anthropic.md"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SSE_HEADERS = {"content-type": "text/event-stream"}


def _request(tools: bool = False, **kw: Any) -> ChatRequest:
    return ChatRequest(
        (
            ChatMessage.system("You are terse."),
            ChatMessage.user("What is in this picture?", images=["https://example.com/cat.png"]),
            ChatMessage.assistant("A cat."),
            ChatMessage.user("And the weather in Paris?"),
        ),
        tools=(WEATHER,) if tools else None,
        **kw,
    )


HELLO = ChatRequest((ChatMessage.user("hello"),))


def _sent(route: respx.Route, call: int = -1) -> tuple[httpx.Request, dict[str, Any]]:
    request = route.calls[call].request
    return request, json.loads(request.content)


def _stream_reply(events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, content=sse(events), headers=SSE_HEADERS)


# -- building and calling ----------------------------------------------------------------


def test_rows_are_http_providers_with_caching_capabilities() -> None:
    for name in ("anthropic", "anthropic-custom:https://claude.example.test"):
        provider = create_provider(name, KEY)
        assert isinstance(provider, HttpProvider)
        assert provider.capabilities() == ProviderCapabilities(True, True, True, True)


def test_chat_url_headers_body_and_response() -> None:
    reply = message("Sunny.", tokens=usage(30, 4, cache_read=200, cache_write=10))
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=reply))
        response = create_provider("anthropic", KEY).chat(_request(tools=True), MODEL, 0.3)

    request, body = _sent(route)
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    validate_messages_request(body, extensions=SAMPLING)
    assert body["model"] == MODEL
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 4096
    assert body["system"] == [
        {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.png"},
    }
    assert body["tools"][0]["name"] == "get_weather"
    assert "stream" not in body

    assert response.text == "Sunny."
    assert response.stop_reason == "end_turn"
    assert response.usage == Usage(input_tokens=240, output_tokens=4, cached_input_tokens=200)
    assert response.provider == "anthropic"
    assert response.model == "claude-test-1"


def test_achat_tool_calls_and_thinking() -> None:
    reply = message(
        thinking_block("Paris needs a lookup."),
        "Checking.",
        tool_use_block("toolu_1", "get_weather", {"city": "Paris"}),
        stop_reason="tool_use",
    )
    request = _request(tools=True, extra={"thinking": {"type": "enabled", "budget_tokens": 2048}})
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=reply))
        response = asyncio.run(create_provider("anthropic", KEY).achat(request, MODEL))
    _, body = _sent(route)
    validate_messages_request(body)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert response.tool_calls == (ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),)
    assert response.reasoning_content == "Paris needs a lookup."
    assert response.stop_reason == "tool_use"


def test_a_tool_loop_with_thinking_sends_the_thinking_block_back() -> None:
    # The API refuses the second request of a thinking tool loop without the signed block.
    think = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    first = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,), extra=think)
    answer = message(
        thinking_block("Paris needs a lookup."),
        tool_use_block("toolu_1", "get_weather", {"city": "Paris"}),
        stop_reason="tool_use",
    )
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[
                httpx.Response(200, json=answer),
                httpx.Response(200, json=message("21 °C.")),
            ]
        )
        provider = create_provider("anthropic", KEY)
        reply = provider.chat(first, MODEL)
        history = ChatRequest(
            (
                *first.messages,
                ChatMessage.assistant(reply.text, reply.tool_calls),
                ChatMessage.tool("toolu_1", "21 °C"),
            ),
            tools=(WEATHER,),
            extra=think,
        )
        assert asyncio.run(provider.achat(history, MODEL)).text == "21 °C."
    _, body = _sent(route)
    validate_messages_request(body)
    assert [b["type"] for b in body["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert body["messages"][1]["content"][0]["signature"] == "sig-21"


def test_stream_and_astream() -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=lambda request: _stream_reply(text_events("Hel", "lo", " there"))
        )
        provider = create_provider("anthropic", KEY)
        events = list(provider.stream(_request(), MODEL))

        async def collect():
            return [e async for e in provider.astream(_request(), MODEL)]

        aevents = asyncio.run(collect())

    for got in (events, aevents):
        assert "".join(e.delta for e in got if e.type == "text_delta") == "Hello there"
        assert [e.type for e in got].count("final") == 1
        final = got[-1].response
        assert final.text == "Hello there"
        assert final.stop_reason == "end_turn"
        assert final.usage == Usage(12, 5, None)
    request, body = _sent(route)
    assert request.headers["accept"] == "text/event-stream"
    validate_messages_request(body)
    assert body["stream"] is True


def test_streamed_thinking_and_tool_calls() -> None:
    events = [
        message_start(),
        block_start(0, thinking_block("")),
        thinking_delta(0, "Look it up."),
        block_stop(0),
        block_start(1, text_block("")),
        text_delta(1, "Checking."),
        block_stop(1),
        block_start(2, tool_use_block("toolu_1", "get_weather", {})),
        json_delta(2, '{"city":'),
        json_delta(2, ' "Paris"}'),
        block_stop(2),
        message_delta("tool_use", 20),
        message_stop(),
    ]
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=_stream_reply(events))
        got = list(create_provider("anthropic", KEY).stream(_request(tools=True), MODEL))
    assert [e.type for e in got] == ["reasoning_delta", "text_delta", "tool_call", "final"]
    assert got[2].tool_call == ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')
    final = got[-1].response
    assert (final.reasoning_content, final.text) == ("Look it up.", "Checking.")
    assert final.stop_reason == "tool_use"


def test_list_models_and_alist_models() -> None:
    page = model_page(
        model_info(
            "claude-opus-4-7", "Claude Opus 4.7", window=1_000_000, max_tokens=128_000, images=True
        ),
        model_info(
            "claude-haiku-4-5", "Claude Haiku 4.5", window=200_000, max_tokens=64_000, images=True
        ),
    )
    with respx.mock() as mock:
        route = mock.get(MODELS_URL).mock(return_value=httpx.Response(200, json=page))
        provider = create_provider("anthropic", KEY)
        models = provider.list_models()
        amodels = asyncio.run(provider.alist_models())
    assert models == amodels
    assert [(m.model_id, m.display_name, m.context_window) for m in models] == [
        ("claude-opus-4-7", "Claude Opus 4.7", 1_000_000),
        ("claude-haiku-4-5", "Claude Haiku 4.5", 200_000),
    ]
    request = route.calls.last.request
    assert request.url.params["limit"] == "1000"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"


def test_oauth_token_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", OAUTH)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=message("ok")))
        provider = create_provider("anthropic")
        assert provider.key_source == "ANTHROPIC_OAUTH_TOKEN"
        provider.chat(HELLO, MODEL)
    request, body = _sent(route)
    validate_messages_request(body)
    assert request.headers["authorization"] == f"Bearer {OAUTH}"
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-beta"] == (
        "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"
    )
    assert request.headers["anthropic-dangerous-direct-browser-access"] == "true"
    assert body["system"][0]["text"] == "You are Claude Code, Anthropic's official CLI for Claude."


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("anthropic-custom:https://llm.example.test", "https://llm.example.test/v1/messages"),
        ("anthropic-custom:https://llm.example.test/v1/", "https://llm.example.test/v1/messages"),
        (
            "anthropic-custom:https://api.minimax.io/anthropic",
            "https://api.minimax.io/anthropic/v1/messages",
        ),
    ],
)
def test_anthropic_custom_urls(name: str, url: str) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(return_value=httpx.Response(200, json=message("ok")))
        response = create_provider(name, KEY).chat(HELLO, "MiniMax-M2", 0.7)
    _, body = _sent(route)
    assert body["temperature"] == 0.7
    assert response.provider == "anthropic-custom"


def test_anthropic_custom_without_a_key_sends_no_auth() -> None:
    with respx.mock() as mock:
        route = mock.post("https://llm.example.test/v1/messages").mock(
            return_value=httpx.Response(200, json=message("ok"))
        )
        create_provider("anthropic-custom:https://llm.example.test").chat(HELLO, "m")
    request, _ = _sent(route)
    assert "x-api-key" not in request.headers and "authorization" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"


def test_api_url_and_provider_max_tokens() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://proxy.example.test/v1/messages").mock(
            return_value=httpx.Response(200, json=message("ok"))
        )
        create_provider_with_url("anthropic", KEY, "https://proxy.example.test/v1").chat(
            HELLO, MODEL
        )
        opts = ProviderRuntimeOptions(
            provider_api_url="https://proxy.example.test", provider_max_tokens=1000
        )
        create_provider_with_options("anthropic", KEY, opts).chat(HELLO, MODEL)
    assert [json.loads(c.request.content)["max_tokens"] for c in route.calls] == [4096, 1000]


def test_a_missing_key_fails_at_the_call_naming_the_variables() -> None:
    provider = create_provider("anthropic")
    with respx.mock(assert_all_mocked=True) as mock, pytest.raises(AuthError) as info:
        provider.chat(HELLO, MODEL)
    assert not mock.calls
    assert "ANTHROPIC_OAUTH_TOKEN" in str(info.value)
    assert "ANTHROPIC_API_KEY" in str(info.value)


# -- C6: sampling parameters ------------------------------------------------------------


def _refusal(param: str = "temperature") -> httpx.Response:
    return httpx.Response(
        400, json=error("invalid_request_error", f"`{param}` is deprecated for this model.")
    )


@pytest.mark.parametrize("use_async", [False, True])
def test_a_refused_temperature_is_resent_once_without_it(use_async: bool) -> None:
    # A model the catalog does not know yet refuses temperature: one more try, without it.
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[_refusal(), httpx.Response(200, json=message("ok"))]
        )
        provider = create_provider("anthropic", KEY)
        if use_async:
            response = asyncio.run(provider.achat(HELLO, "claude-nova-1", 0.4))
        else:
            response = provider.chat(HELLO, "claude-nova-1", 0.4)
    first, second = (json.loads(c.request.content) for c in route.calls)
    assert first["temperature"] == 0.4
    assert "temperature" not in second
    validate_messages_request(second)
    assert response.text == "ok"


def test_a_second_refusal_is_raised_not_looped() -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=_refusal())
        with pytest.raises(InvalidRequest, match="deprecated"):
            create_provider("anthropic", KEY).chat(HELLO, "claude-nova-1", 0.4)
    assert route.call_count == 2


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5"])
def test_current_models_never_get_sampling_parameters(model: str) -> None:
    opts = ProviderRuntimeOptions(default_temperature=0.2)
    request = ChatRequest((ChatMessage.user("x"),), extra={"top_p": 0.9, "top_k": 10})
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=message("ok")))
        create_provider_with_options("anthropic", KEY, opts).chat(request, model)
        create_provider("anthropic", KEY).chat(request, model, 0.7)
    assert route.call_count == 2
    for call in route.calls:
        body = json.loads(call.request.content)
        validate_messages_request(body)
        assert not set(SAMPLING) & set(body)


def test_older_models_get_the_default_temperature_from_options() -> None:
    opts = ProviderRuntimeOptions(default_temperature=0.2)
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=message("ok")))
        create_provider_with_options("anthropic", KEY, opts).chat(HELLO, "claude-sonnet-4-5")
        create_provider("anthropic", KEY).chat(HELLO, "claude-sonnet-4-5")
    first, second = (json.loads(c.request.content) for c in route.calls)
    assert first["temperature"] == 0.2
    assert "temperature" not in second


# -- errors (E1) --------------------------------------------------------------------------

ERRORS = [
    (401, "authentication_error", "invalid x-api-key", {}, AuthError, None),
    (403, "permission_error", "Your API key does not have permission", {}, AuthError, None),
    (404, "not_found_error", "model: claude-nope", {}, InvalidRequest, None),
    (
        400,
        "invalid_request_error",
        "prompt is too long: 215000 tokens > 200000 maximum",
        {},
        ContextWindowExceeded,
        None,
    ),
    (
        400,
        "invalid_request_error",
        "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000",
        {},
        ContextWindowExceeded,
        None,
    ),
    (
        429,
        "rate_limit_error",
        "Number of requests has exceeded your rate limit",
        {"retry-after": "7"},
        RateLimited,
        7.0,
    ),
    (500, "api_error", "Internal server error", {}, TransientError, None),
    (529, "overloaded_error", "Overloaded", {"retry-after": "3"}, TransientError, 3.0),
]


@pytest.mark.parametrize(("status", "kind", "text", "headers", "cls", "retry_after"), ERRORS)
def test_error_statuses(status, kind, text, headers, cls, retry_after) -> None:
    body = error(kind, text + f" (key {KEY})")
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=httpx.Response(status, json=body, headers=headers))
        provider = create_provider("anthropic", KEY)
        with pytest.raises(ProviderError) as plain:
            provider.chat(HELLO, MODEL)
        with pytest.raises(ProviderError) as streamed:
            list(provider.stream(HELLO, MODEL))
    for info in (plain, streamed):
        exc = info.value
        assert type(exc) is cls
        assert exc.status == status
        assert exc.retry_after == retry_after
        assert exc.provider == "anthropic"
        assert text in str(exc)
        assert f"({kind})" in str(exc)
        assert KEY not in str(exc) and KEY not in repr(exc) and KEY not in (exc.body or "")


def test_413_request_too_large_is_an_invalid_request() -> None:
    body = {
        "type": "error",
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"},
    }
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=httpx.Response(413, json=body))
        with pytest.raises(InvalidRequest) as info:
            create_provider("anthropic", KEY).chat(HELLO, MODEL)
    assert type(info.value) is InvalidRequest
    assert info.value.status == 413
    assert not info.value.is_retryable


@pytest.mark.parametrize("content", [b"<html>bad gateway</html>", b'{"id": "msg_1"}', b"[]"])
def test_a_malformed_2xx_body_is_invalid_response(content: bytes) -> None:
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=httpx.Response(200, content=content))
        with pytest.raises(InvalidResponse) as info:
            create_provider("anthropic", KEY).chat(HELLO, MODEL)
    assert info.value.is_retryable
    assert KEY not in str(info.value)


def test_an_overloaded_error_event_before_output_is_retryable() -> None:
    events = [
        message_start(),
        {"type": "error", "error": error("overloaded_error", "Overloaded")["error"]},
    ]
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=_stream_reply(events))
        with pytest.raises(TransientError) as info:
            list(create_provider("anthropic", KEY).stream(HELLO, MODEL))
    assert type(info.value) is TransientError
    assert info.value.status == 529
    assert info.value.is_retryable


def test_an_error_event_after_output_is_a_stream_interruption() -> None:
    events = [
        message_start(),
        block_start(0, text_block("")),
        text_delta(0, "Half an"),
        {"type": "error", "error": error("api_error", "Internal server error")["error"]},
    ]
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=_stream_reply(events))
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in create_provider("anthropic", KEY).stream(HELLO, MODEL):
                seen.append(event.delta)
    assert seen == ["Half an"]
    assert info.value.partial_text == "Half an"
    assert info.value.status == 500


# -- over a real socket --------------------------------------------------------------------


def _sse_chunks(events: list[dict[str, Any]]) -> list[bytes]:
    return [sse([e]) for e in events]


def _loopback_provider(server: LoopbackServer):
    return create_provider(f"anthropic-custom:{server.url}", KEY)


def test_stream_over_a_socket() -> None:
    chunks = _sse_chunks(text_events("Hel", "lo"))
    with LoopbackServer(lambda r: Reply(headers=SSE_HEADERS, chunks=chunks, pause=0.01)) as server:
        with _loopback_provider(server) as provider:
            events = list(provider.stream(HELLO, MODEL))
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo"]
    sent = server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    validate_messages_request(sent.json())


def test_stream_cut_midway_raises_stream_interrupted_with_partial_text() -> None:
    # message_start, block start, a ping and two text deltas reach the client; then the
    # socket dies.
    chunks = _sse_chunks(text_events("Hel", "lo", " world"))
    with LoopbackServer(lambda r: Reply(headers=SSE_HEADERS, chunks=chunks, cut_after=5)) as server:
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in _loopback_provider(server).stream(HELLO, MODEL):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert KEY not in str(info.value)


def test_stream_dropped_before_any_output_is_transient() -> None:
    with LoopbackServer(lambda r: Reply(headers=SSE_HEADERS, chunks=[b""], cut_after=0)) as server:
        with pytest.raises(TransientError) as info:
            list(_loopback_provider(server).stream(HELLO, MODEL))
    assert not isinstance(info.value, StreamInterrupted)
    assert info.value.is_retryable


def test_stream_that_ends_without_message_stop_is_not_a_success() -> None:
    chunks = _sse_chunks(text_events("partial")[:-2])
    with LoopbackServer(lambda r: Reply(headers=SSE_HEADERS, chunks=chunks)) as server:
        with pytest.raises(StreamInterrupted) as info:
            list(_loopback_provider(server).stream(HELLO, MODEL))
    assert info.value.partial_text == "partial"


# -- the doc page ------------------------------------------------------------------------------


def _toml_blocks() -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_config_examples_load_and_call(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    blocks = _toml_blocks()
    assert len(blocks) == 2
    sent = []
    urls = ("https://api.anthropic.com/v1/messages", "https://llm-gateway.example.com/v1/messages")
    for i, (block, url) in enumerate(zip(blocks, urls, strict=True)):
        path = tmp_path / f"config{i}.toml"
        path.write_text(block, encoding="utf-8")
        config = load_config(path, environ={"GATEWAY_API_KEY": "gw-key-0123456789"})
        provider = create_provider_from_config(config)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(url).mock(return_value=httpx.Response(200, json=message("ok")))
            assert provider.chat(HELLO).text == "ok"
        request, body = _sent(route)
        validate_messages_request(body)
        sent.append((request.headers["x-api-key"], body["model"], body["max_tokens"]))
    assert sent == [
        (KEY, "claude-sonnet-4-6", 8192),
        ("gw-key-0123456789", "claude-opus-4-7", 4096),
    ]


def test_the_doc_thinking_example_builds_a_valid_body() -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    scope: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), scope)
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=message("ok")))
        create_provider("anthropic", KEY).chat(scope["request"], "claude-sonnet-4-5", 0.2)
    _, body = _sent(route)
    validate_messages_request(body)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8000}
    assert body["max_tokens"] == 16000
    assert "temperature" not in body
