"""The Responses dialect behind a real `HttpProvider`: respx for HTTP, a loopback server
where a socket matters, the openai SDK's types as the oracle for every body.

The tests build the provider the factory builds for `openai-responses` (OpenAI's row,
this dialect) by hand, so each can set the options it needs.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, ToolCall, ToolSpec, create_provider
from construct.auth import auth_for
from construct.config import load_config
from construct.dialects.openai_responses import build
from construct.errors import (
    AuthError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilityError,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from construct.factory import create_provider_from_config
from construct.options import ProviderRuntimeOptions
from construct.providers.http import HttpProvider
from construct.registry import apply_api_url, resolve
from construct.secrets import Secret
from construct.types import ModelEntry, Usage
from tests.loopback import LoopbackServer, Reply
from tests.oracle_openai_responses import (
    Events,
    function_call,
    message,
    reasoning,
    response,
    text_stream,
    usage,
    validate_responses_request,
)

KEY = "sk-test-responses-0123456789abcdef"
URL = "https://api.openai.com/v1/responses"
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "openai-responses.md"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HELLO = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hello")))


def provider(api_url: str | None = None, **options) -> HttpProvider:
    opts = ProviderRuntimeOptions(provider_api_url=api_url, **options)
    resolved = apply_api_url(resolve("openai"), api_url)
    return HttpProvider(
        resolved,
        build(resolved, opts),
        auth_for(resolved),
        key=Secret(KEY),
        key_source="explicit",
        timeout_s=30,
        connect_timeout_s=5,
        headers={},
    )


def sse(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def sent(route: respx.Route) -> tuple[httpx.Request, dict]:
    request = route.calls.last.request
    return request, json.loads(request.content)


# -- chat, achat, stream, astream, list_models ---------------------------------------------


def test_chat_sends_a_responses_request_and_reads_the_answer() -> None:
    reply = response([reasoning("Greet back."), message("Hi!")], usage_=usage(20, 2, cached=4))
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=reply))
        got = provider(reasoning_effort="low").chat(HELLO, "gpt-5-mini", temperature=0.4)
    request, body = sent(route)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    validate_responses_request(body)
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}
    ]
    assert body["reasoning"] == {"effort": "low"}
    assert "temperature" not in body  # gpt-5-mini takes only the default (C6)
    assert (got.text, got.reasoning_content, got.stop_reason) == ("Hi!", "Greet back.", "end_turn")
    assert got.usage == Usage(20, 2, 4)
    assert (got.provider, got.model) == ("openai", "gpt-5-mini-2025-08-07")


def test_achat_is_the_same_call() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(
            return_value=httpx.Response(200, json=response([message("Hi")]))
        )
        got = asyncio.run(provider().achat(HELLO, "gpt-4o", temperature=0.2))
    _, body = sent(route)
    validate_responses_request(body)
    assert body["temperature"] == 0.2
    assert got.text == "Hi"


def test_stream_and_astream() -> None:
    stream = text_stream("Hel", "lo", " there").sse()
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(side_effect=lambda request: sse(stream))
        p = provider()
        events = list(p.stream(HELLO, "gpt-4o"))

        async def collect():
            return [e async for e in p.astream(HELLO, "gpt-4o")]

        aevents = asyncio.run(collect())
    for got in (events, aevents):
        assert [e.delta for e in got if e.type == "text_delta"] == ["Hel", "lo", " there"]
        assert [e.type for e in got].count("final") == 1
        final = got[-1].response
        assert (final.text, final.stop_reason, final.usage) == (
            "Hello there",
            "end_turn",
            Usage(7, 3, 0),
        )
    request, body = sent(route)
    assert request.headers["accept"] == "text/event-stream"
    validate_responses_request(body)
    assert body["stream"] is True


def test_tool_calls_plain_and_streamed_and_the_results_sent_back() -> None:
    call = function_call("call_1", "get_weather", '{"city": "Paris"}')
    ev = Events().created().item_added(0, call.model_copy(update={"arguments": ""}))
    ev.args('{"city": ', 0).args('"Paris"}', 0).item_done(0, call).completed([call])
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[
                httpx.Response(200, json=response([call])),
                sse(ev.sse()),
                httpx.Response(200, json=response([message("21 °C in Paris.")])),
            ]
        )
        p = provider()
        ask = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,))
        plain = p.chat(ask, "gpt-4o")
        events = list(p.stream(ask, "gpt-4o"))
        follow = ChatRequest(
            (
                *ask.messages,
                ChatMessage.assistant("", plain.tool_calls),
                ChatMessage.tool("call_1", '{"temp_c": 21}'),
            ),
            tools=(WEATHER,),
        )
        answer = p.chat(follow, "gpt-4o")
    expected = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    assert (plain.tool_calls, plain.stop_reason) == ((expected,), "tool_use")
    assert [e.tool_call for e in events if e.type == "tool_call"] == [expected]
    assert events[-1].response.stop_reason == "tool_use"
    assert answer.text == "21 °C in Paris."
    first, last = (json.loads(c.request.content) for c in (route.calls[0], route.calls[2]))
    for body in (first, last):
        validate_responses_request(body)
    assert first["tools"][0]["name"] == "get_weather"
    assert last["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 21}'},
    ]


def test_list_models_and_alist_models() -> None:
    models = {
        "object": "list",
        "data": [{"id": "gpt-5", "object": "model", "created": 1, "owned_by": "openai"}],
    }
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get("https://api.openai.com/v1/models").mock(
            return_value=httpx.Response(200, json=models)
        )
        p = provider()
        assert p.list_models() == [ModelEntry("gpt-5")]
        assert asyncio.run(p.alist_models()) == [ModelEntry("gpt-5")]
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


def test_api_url_moves_the_endpoint_by_the_reference_rules() -> None:
    with respx.mock(assert_all_called=True) as mock:
        bare = mock.post("https://gw.example.test/v1/responses").mock(
            return_value=httpx.Response(200, json=response([message("a")]))
        )
        pathed = mock.post("https://gw.example.test/openai/responses").mock(
            return_value=httpx.Response(200, json=response([message("b")]))
        )
        assert provider("https://gw.example.test").chat(HELLO, "m").text == "a"
        assert (
            provider("https://gw.example.test/openai/chat/completions").chat(HELLO, "m").text == "b"
        )
    assert bare.called and pathed.called


# -- errors ------------------------------------------------------------------------------


def _error(message_: str, type_: str = "invalid_request_error", code: str | None = None) -> dict:
    return {"error": {"message": message_, "type": type_, "param": None, "code": code}}


ERROR_TABLE = [
    (401, _error(f"Incorrect API key provided: {KEY}.", code="invalid_api_key"), {}, AuthError),
    (403, _error("You are not allowed to sample from this model"), {}, AuthError),
    (404, _error("The model `gpt-9` does not exist", code="model_not_found"), {}, InvalidRequest),
    (
        400,
        _error(
            "Your input exceeds the context window of this model.", code="context_length_exceeded"
        ),
        {},
        ContextWindowExceeded,
    ),
    (
        429,
        _error("Rate limit reached for gpt-4o.", "requests", "rate_limit_exceeded"),
        {"retry-after": "7"},
        RateLimited,
    ),
    (
        429,
        _error("You exceeded your current quota.", "insufficient_quota", "insufficient_quota"),
        {},
        QuotaExhausted,
    ),
    (500, _error("The server had an error.", "server_error"), {}, TransientError),
    (529, _error("The engine is currently overloaded.", "server_error"), {}, TransientError),
    (503, "<html>Service Unavailable</html>", {"retry-after": "3"}, TransientError),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls"), ERROR_TABLE)
def test_error_statuses_map_to_e1_classes_without_the_key(status, body, headers, cls) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    for streamed in (False, True):
        with respx.mock() as mock:
            mock.post(URL).mock(
                return_value=httpx.Response(status, content=content, headers=headers)
            )
            with pytest.raises(ProviderError) as info:
                if streamed:
                    list(provider().stream(HELLO, "gpt-4o"))
                else:
                    provider().chat(HELLO, "gpt-4o")
        err = info.value
        assert type(err) is cls, (status, streamed)
        assert err.status == status
        assert err.provider == "openai"
        assert KEY not in str(err) and KEY not in repr(err)
        if "retry-after" in headers:
            assert err.retry_after == float(headers["retry-after"])


def test_a_malformed_2xx_body_is_an_invalid_response() -> None:
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=httpx.Response(200, content=b"<html>oops"))
        with pytest.raises(InvalidResponse) as info:
            provider().chat(HELLO, "gpt-4o")
    assert info.value.is_retryable


def test_a_failure_inside_the_stream_before_output_is_classified() -> None:
    ev = Events().created().failed("rate_limit_exceeded", "Slow down. retry-after: 4")
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=sse(ev.sse()))
        with pytest.raises(RateLimited) as info:
            list(provider().stream(HELLO, "gpt-4o"))
    assert info.value.retry_after == 4.0


def test_a_failure_after_output_is_a_stream_interruption() -> None:
    ev = Events().created().text("Half an ans").failed("server_error", "boom")
    with respx.mock() as mock:
        mock.post(URL).mock(return_value=sse(ev.sse()))
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider().stream(HELLO, "gpt-4o"):
                seen.append(event.delta)
    assert seen == ["Half an ans"]
    assert info.value.partial_text == "Half an ans"


# -- real sockets ------------------------------------------------------------------------


def _sse_reply(chunks: list[bytes], **kw) -> Reply:
    return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks, **kw)


def test_stream_over_a_socket_cut_midway_keeps_the_partial_text() -> None:
    chunks = text_stream("Hel", "lo", " world").chunks()
    # created, item added, two deltas reach the client; then the connection dies.
    with LoopbackServer(lambda r: _sse_reply(chunks, cut_after=4)) as server:
        p = provider(server.url + "/v1")
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in p.stream(HELLO, "gpt-4o"):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert server.requests[0].path == "/v1/responses"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    validate_responses_request(server.requests[0].json())


def test_stream_over_a_socket_dropped_before_output_is_transient() -> None:
    with LoopbackServer(lambda r: _sse_reply(text_stream("x").chunks(), cut_after=0)) as server:
        with pytest.raises(TransientError) as info:
            list(provider(server.url + "/v1").stream(HELLO, "gpt-4o"))
    assert not isinstance(info.value, StreamInterrupted)


def test_a_stream_that_ends_without_response_completed_is_not_a_success() -> None:
    chunks = text_stream("partial").chunks()[:-1]
    with LoopbackServer(lambda r: _sse_reply(chunks)) as server:
        with pytest.raises(StreamInterrupted) as info:
            list(provider(server.url + "/v1").stream(HELLO, "gpt-4o"))
    assert info.value.partial_text == "partial"


def test_async_stream_over_a_socket() -> None:
    with LoopbackServer(lambda r: _sse_reply(text_stream("a", "b").chunks(), pause=0.01)) as server:
        p = provider(server.url + "/v1")

        async def run():
            async with p:
                return [e async for e in p.astream(HELLO, "gpt-4o")]

        events = asyncio.run(run())
    assert "".join(e.delta for e in events if e.type == "text_delta") == "ab"
    assert events[-1].response.text == "ab"


# -- the doc page ----------------------------------------------------------------------------


def _blocks(lang: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.M | re.S)


def test_the_doc_config_loads_and_answers_through_the_responses_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (block,) = _blocks("toml")
    path = tmp_path / "config.toml"
    path.write_text(block, encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = load_config(path)
    assert (config.default_provider, config.api) == ("openai", "responses")
    p = create_provider_from_config(config)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(
            return_value=httpx.Response(200, json=response([message("Hi")]))
        )
        default = p.chat(HELLO)
        # The route names the openai-responses provider: the same API, OpenAI's key.
        routed = p.chat(HELLO, "hint:reasoning")
    bodies = [json.loads(call.request.content) for call in route.calls]
    for body in bodies:
        validate_responses_request(body)
    assert [b["model"] for b in bodies] == ["gpt-5-mini", "gpt-5"]
    assert default.text == routed.text == "Hi"
    # The Codex row speaks this dialect too, and says it waits for its OAuth sign-in.
    with pytest.raises(ProviderCapabilityError, match="OAuth sign-in flow is not implemented"):
        create_provider("openai-codex").chat(HELLO, "gpt-5-codex")


def test_the_doc_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    chat, stream = _blocks("python")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(
            side_effect=[
                httpx.Response(200, json=response([message("Paris.")])),
                sse(text_stream("Grey waves ", "fold.").sse()),
            ]
        )
        scope: dict = {}
        exec(compile(chat, str(DOC), "exec"), scope)
        assert scope["reply"].text == "Paris."
        exec(compile(stream, str(DOC), "exec"), {})
    first, second = (json.loads(call.request.content) for call in route.calls)
    validate_responses_request(first)
    validate_responses_request(second)
    assert first["reasoning"] == {"effort": "low"} and first["stream"] is False
    assert second["stream"] is True
    assert capsys.readouterr().out == "Paris.\nGrey waves fold.\n"
