"""Google Gemini end to end through the public API: respx for the endpoints, a loopback
server where a real socket matters, google-genai's types as the oracle for every body."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    ToolSpec,
    create_provider,
    create_provider_from_config,
    create_provider_with_options,
    load_config,
)
from construct.errors import (
    AuthError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from tests.loopback import LoopbackServer, Reply
from tests.oracle_gemini import (
    call_part,
    error_body,
    model_row,
    models_page,
    response,
    retry_info,
    sse,
    text_part,
    usage,
    validate_request,
)

KEY = "AIzaSyTestKey0123456789abcdefghijklmno"
BASE = "https://generativelanguage.googleapis.com/v1beta"
MODEL = "gemini-2.5-flash"
CHAT = f"{BASE}/models/{MODEL}:generateContent"
STREAM = f"{BASE}/models/{MODEL}:streamGenerateContent"
MODELS = f"{BASE}/models"
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "gemini.md"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _request(tools: bool = False) -> ChatRequest:
    return ChatRequest(
        (
            ChatMessage.system("You are terse."),
            ChatMessage.user("What is in this picture?", images=["https://example.com/cat.png"]),
            ChatMessage.assistant("A cat."),
            ChatMessage.user("And the weather in Paris?"),
        ),
        tools=(WEATHER,) if tools else None,
        max_tokens=64,
    )


def _sent(route: respx.Route, index: int = -1) -> tuple[httpx.Request, dict]:
    request = route.calls[index].request
    return request, json.loads(request.content)


def _sse_response(*bodies: dict) -> httpx.Response:
    return httpx.Response(200, content=sse(bodies), headers={"content-type": "text/event-stream"})


def _text_stream(*pieces: str) -> httpx.Response:
    bodies = [response(p, finish=None) for p in pieces]
    return _sse_response(*bodies, response(finish="STOP", usage_metadata=usage(7, 3)))


def _assert_no_key_in_url(route: respx.Route) -> None:
    for call in route.calls:
        assert KEY not in str(call.request.url) and "key=" not in str(call.request.url)  # C5


# -- chat ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gemini", "google", "google-gemini", " Google "])
def test_chat_url_auth_and_body(name):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT).mock(
            return_value=httpx.Response(
                200, json=response("Sunny.", usage_metadata=usage(30, 4, cached=8))
            )
        )
        provider = create_provider(name, KEY)
        answer = provider.chat(_request(tools=True), MODEL, temperature=0.3)

    request, body = _sent(route)
    assert request.headers["x-goog-api-key"] == KEY
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    _assert_no_key_in_url(route)
    validate_request(body)
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][0]["parts"][1] == {
        "fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}
    }
    assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 64}
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"

    assert provider.name == "gemini"
    assert answer.text == "Sunny."
    assert answer.stop_reason == "end_turn"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (30, 4)
    assert answer.usage.cached_input_tokens == 8
    assert (answer.provider, answer.model) == ("gemini", "gemini-2.5-flash-001")


def test_achat_and_a_models_prefixed_model_name():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=response("Hi")))
        provider = create_provider("gemini", KEY)
        answer = asyncio.run(provider.achat(_request(), f"models/{MODEL}"))
    assert answer.text == "Hi"
    assert route.calls.last.request.headers["x-goog-api-key"] == KEY


def test_no_temperature_and_no_limit_means_no_generation_config():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=response("x")))
        create_provider("gemini", KEY).chat(ChatRequest((ChatMessage.user("x"),)), MODEL)
    _, body = _sent(route)
    validate_request(body)
    assert "generationConfig" not in body  # C6


def test_provider_max_tokens_is_the_default_output_limit():
    options = ProviderRuntimeOptions(provider_max_tokens=2048)
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=response("x")))
        create_provider_with_options("gemini", KEY, options).chat(
            ChatRequest((ChatMessage.user("x"),)), MODEL
        )
    assert _sent(route)[1]["generationConfig"] == {"maxOutputTokens": 2048}


def test_a_refused_temperature_is_dropped_and_the_request_sent_once_more():
    refusal = error_body(400, "temperature is not supported for this model.", "INVALID_ARGUMENT")
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(
            side_effect=[
                httpx.Response(400, json=refusal),
                httpx.Response(200, json=response("ok")),
            ]
        )
        answer = create_provider("gemini", KEY).chat(
            ChatRequest((ChatMessage.user("x"),)), MODEL, temperature=0.7
        )
    assert answer.text == "ok"
    assert _sent(route, 0)[1]["generationConfig"] == {"temperature": 0.7}
    assert "generationConfig" not in _sent(route, 1)[1]


def test_tool_calls_come_back_and_go_out_again_with_ids_and_signatures():
    first = response(
        text_part("I should look it up.", thought=True),
        call_part("get_weather", {"city": "Paris"}, call_id="fc-1", signature=b"\x01sig\xff"),
        usage_metadata=usage(20, 6, thoughts=5),
    )
    with respx.mock() as mock:
        route = mock.post(
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-preview:generateContent"
        ).mock(
            side_effect=[
                httpx.Response(200, json=first),
                httpx.Response(200, json=response("21 °C.")),
            ]
        )
        provider = create_provider("gemini", KEY)
        asked = provider.chat(_request(tools=True), "gemini-3-pro-preview")
        (call,) = asked.tool_calls
        history = ChatRequest(
            (
                *_request().messages,
                ChatMessage.assistant("", [call]),
                ChatMessage.tool(call.id, '{"temp_c": 21}'),
            ),
            tools=(WEATHER,),
        )
        answer = provider.chat(history, "gemini-3-pro-preview")

    assert asked.stop_reason == "tool_use"
    assert asked.reasoning_content == "I should look it up."
    assert asked.usage.output_tokens == 11
    assert (call.name, call.parsed_arguments()) == ("get_weather", {"city": "Paris"})
    assert answer.text == "21 °C."
    _, body = _sent(route, 1)
    validate_request(body)
    assert body["contents"][-2] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"id": "fc-1", "name": "get_weather", "args": {"city": "Paris"}},
                # Sent back exactly as Gemini sent it.
                "thoughtSignature": first["candidates"][0]["content"]["parts"][1][
                    "thoughtSignature"
                ],
            }
        ],
    }
    assert body["contents"][-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"id": "fc-1", "name": "get_weather", "response": {"temp_c": 21}}}
        ],
    }


def test_a_blocked_prompt_raises_content_blocked():
    blocked = response(no_candidates=True, block_reason="SAFETY", block_message="Unsafe prompt.")
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=httpx.Response(200, json=blocked))
        with pytest.raises(ContentBlocked, match="SAFETY") as info:
            create_provider("gemini", KEY).chat(_request(), MODEL)
    assert not info.value.is_retryable


# -- streaming -------------------------------------------------------------------------------------


def test_stream_sync_and_async():
    with respx.mock() as mock:
        route = mock.post(STREAM).mock(
            side_effect=lambda request: _text_stream("Hel", "lo", " there")
        )
        provider = create_provider("gemini", KEY)
        events = list(provider.stream(_request(), MODEL))

        async def collect():
            return [e async for e in provider.astream(_request(), MODEL)]

        aevents = asyncio.run(collect())

    for got in (events, aevents):
        assert [e.delta for e in got if e.type == "text_delta"] == ["Hel", "lo", " there"]
        assert [e.type for e in got].count("final") == 1 and got[-1].type == "final"
        final = got[-1].response
        assert final.text == "Hello there"
        assert final.stop_reason == "end_turn"
        assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)
    request, body = _sent(route)
    assert request.url.params["alt"] == "sse"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["x-goog-api-key"] == KEY
    _assert_no_key_in_url(route)
    validate_request(body)


def test_streamed_reasoning_and_tool_calls():
    stream = _sse_response(
        response(text_part("Plan: call the tool.", thought=True), finish=None),
        response(call_part("get_weather", {"city": "Oslo"}, call_id="c1"), finish=None),
        response(finish="STOP", usage_metadata=usage(11, 5, thoughts=4)),
    )
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=stream)
        events = list(create_provider("gemini", KEY).stream(_request(tools=True), MODEL))
    assert [e.type for e in events] == ["reasoning_delta", "tool_call", "final"]
    final = events[-1].response
    assert final.stop_reason == "tool_use"
    assert final.tool_calls == (events[1].tool_call,)
    assert final.reasoning_content == "Plan: call the tool."
    assert final.usage.output_tokens == 9


def test_an_error_before_any_output_in_a_stream_keeps_its_class_and_retry_hint():
    raw = json.dumps(
        error_body(429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED", [retry_info("12s")]),
        indent=2,
    )
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=httpx.Response(200, content=raw.encode()))
        with pytest.raises(RateLimited) as info:
            list(create_provider("gemini", KEY).stream(_request(), MODEL))
    assert info.value.retry_after == 12


def test_an_error_after_output_in_a_stream_is_stream_interrupted_with_the_partial_text():
    body = (
        sse([response("Partial ", finish=None)])
        + json.dumps(error_body(503, "The model is overloaded.", "UNAVAILABLE"), indent=2).encode()
    )
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=httpx.Response(200, content=body))
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in create_provider("gemini", KEY).stream(_request(), MODEL):
                seen.append(event.delta)
    assert seen == ["Partial "]
    assert info.value.partial_text == "Partial "
    assert info.value.status == 503 and "overloaded" in str(info.value)


def test_a_stream_ending_without_a_finish_reason_is_transient():
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=_sse_response())
        with pytest.raises(TransientError, match="ended before"):
            list(create_provider("gemini", KEY).stream(_request(), MODEL))


# -- models ----------------------------------------------------------------------------------------


def test_list_models_sync_and_async():
    page = models_page(
        [
            model_row("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536),
            model_row("gemini-embedding-001", "Gemini Embedding", 2048, 1, ["embedContent"]),
        ]
    )
    with respx.mock() as mock:
        route = mock.get(MODELS).mock(return_value=httpx.Response(200, json=page))
        provider = create_provider("gemini", KEY)
        rows = provider.list_models()
        arows = asyncio.run(provider.alist_models())
    assert rows == arows
    assert [(m.model_id, m.display_name, m.context_window, m.max_output_tokens) for m in rows] == [
        ("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536)
    ]
    request = route.calls.last.request
    assert request.headers["x-goog-api-key"] == KEY
    assert request.url.params["pageSize"] == "1000"
    _assert_no_key_in_url(route)


# -- errors ----------------------------------------------------------------------------------------

ERRORS = [
    (
        401,
        error_body(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
        {},
        AuthError,
        None,
    ),
    (
        403,
        error_body(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED"),
        {},
        AuthError,
        None,
    ),
    (
        404,
        error_body(404, "models/gemini-9 is not found for API version v1beta.", "NOT_FOUND"),
        {},
        InvalidRequest,
        None,
    ),
    (
        400,
        error_body(
            400,
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576).",
            "INVALID_ARGUMENT",
        ),
        {},
        ContextWindowExceeded,
        None,
    ),
    (
        400,
        error_body(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"),
        {},
        InvalidRequest,
        None,
    ),
    (
        429,
        error_body(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "RESOURCE_EXHAUSTED",
            [retry_info("12s")],
        ),
        {},
        RateLimited,
        12.0,
    ),
    (
        429,
        error_body(429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED"),
        {"retry-after": "3"},
        RateLimited,
        3.0,
    ),
    (
        429,
        error_body(429, "You exceeded your current quota.", "RESOURCE_EXHAUSTED"),
        {},
        QuotaExhausted,
        None,
    ),
    (500, error_body(500, "An internal error has occurred.", "INTERNAL"), {}, TransientError, None),
    (503, error_body(503, "The model is overloaded.", "UNAVAILABLE"), {}, TransientError, None),
    (529, {"error": {"code": 529, "message": "Overloaded"}}, {}, TransientError, None),
]


@pytest.mark.parametrize(("status", "payload", "headers", "cls", "retry_after"), ERRORS)
def test_error_statuses_map_to_e1_classes_without_the_key(
    status, payload, headers, cls, retry_after
):
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=httpx.Response(status, json=payload, headers=headers))
        mock.post(STREAM).mock(return_value=httpx.Response(status, json=payload, headers=headers))
        provider = create_provider("gemini", KEY)
        with pytest.raises(cls) as info:
            provider.chat(_request(), MODEL)
        with pytest.raises(cls) as streamed:
            list(provider.stream(_request(), MODEL))
    for err in (info.value, streamed.value):
        assert type(err) is cls
        assert err.status == status
        assert err.retry_after == retry_after
        assert payload["error"]["message"][:30] in str(err)
        assert KEY not in str(err) and KEY not in repr(err) and KEY not in (err.body or "")


def test_a_malformed_2xx_body_is_a_retryable_invalid_response():
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=httpx.Response(200, content=b"<html>oops</html>"))
        with pytest.raises(InvalidResponse) as info:
            create_provider("gemini", KEY).chat(_request(), MODEL)
    assert info.value.is_retryable
    assert KEY not in str(info.value)


def test_no_key_says_which_variables_to_set():
    with pytest.raises(AuthError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        create_provider("gemini").chat(_request(), MODEL)


# -- over a real socket ----------------------------------------------------------------------------


def _loopback_provider(server: LoopbackServer):
    options = ProviderRuntimeOptions(provider_api_url=f"{server.url}/v1beta")
    return create_provider_with_options("gemini", KEY, options)


def _stream_chunks(*pieces: str, finish: bool = True) -> list[bytes]:
    out = [sse([response(p, finish=None)]) for p in pieces]
    if finish:
        out.append(sse([response(finish="STOP", usage_metadata=usage(3, 3))]))
    return out


def test_a_stream_over_a_socket_arrives_in_pieces():
    data = b"".join(_stream_chunks("Grüß", " dich"))
    # Bytes split mid-event and mid-character: the framer reassembles them.
    reply = Reply(
        headers={"content-type": "text/event-stream"},
        chunks=[data[i : i + 5] for i in range(0, len(data), 5)],
    )
    with LoopbackServer(lambda r: reply) as server, _loopback_provider(server) as provider:
        events = list(provider.stream(_request(), MODEL))
    assert "".join(e.delta for e in events if e.type == "text_delta") == "Grüß dich"
    sent = server.requests[0]
    assert sent.path == f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert sent.headers["x-goog-api-key"] == KEY
    validate_request(sent.json())


def test_a_stream_cut_midway_raises_stream_interrupted_with_the_partial_text():
    reply = Reply(
        headers={"content-type": "text/event-stream"},
        chunks=_stream_chunks("Hel", "lo", "world"),
        cut_after=2,
    )
    with LoopbackServer(lambda r: reply) as server:
        provider = _loopback_provider(server)
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(_request(), MODEL):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert not info.value.is_retryable
    assert KEY not in str(info.value)


def test_a_connection_dropped_before_output_is_transient():
    with LoopbackServer(lambda r: Reply(cut_after=0)) as server:
        with pytest.raises(TransientError) as info:
            list(_loopback_provider(server).stream(_request(), MODEL))
    assert info.value.is_retryable and KEY not in str(info.value)


# -- the doc page ----------------------------------------------------------------------------------


def test_the_doc_config_example_loads_and_talks_to_gemini(tmp_path, monkeypatch):
    blocks = re.findall(r"^```toml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert blocks
    path = tmp_path / "config.toml"
    path.write_text(blocks[0], encoding="utf-8")
    config = load_config(path, environ={})
    monkeypatch.setenv("GEMINI_API_KEY", KEY)  # the doc's config names no key: the env has it
    provider = create_provider_from_config(config)
    with respx.mock() as mock:
        route = mock.post(re.compile(rf"{re.escape(BASE)}/models/[^:]+:generateContent")).mock(
            return_value=httpx.Response(200, json=response("Hello."))
        )
        answer = provider.chat(ChatRequest((ChatMessage.user("hi"),)), None)
    assert answer.text == "Hello."
    request, body = _sent(route)
    assert request.headers["x-goog-api-key"] == KEY
    assert f"/models/{config.default_model}:" in str(request.url)
    validate_request(body)


def test_the_doc_extra_example_builds_a_valid_body():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=response("ok")))
        create_provider("gemini", KEY).chat(scope["request"], MODEL)
    _, body = _sent(route)
    validate_request(body)
    assert body["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 2048,
        "includeThoughts": True,
    }
