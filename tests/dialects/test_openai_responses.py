"""The OpenAI Responses dialect, sans I/O: dicts in, dicts out.

Every request body is checked against the openai SDK's request types
(`validate_responses_request`); every response body and stream event is built with the
SDK's own models (`tests/oracle_openai_responses.py`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from construct.dialects.openai_responses import (
    OpenAIResponses,
    ResponsesSettings,
    build,
    models_url,
    responses_url,
)
from construct.dialects.prompt_tools import build_tool_instructions
from construct.errors import (
    AuthError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    RateLimited,
    TransientError,
)
from construct.options import ProviderRuntimeOptions
from construct.registry import resolve
from construct.types import (
    ChatMessage,
    ChatRequest,
    ModelEntry,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
)
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

URL = "https://api.acme.test/v1/responses"
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec("now")  # no description, default parameters


def dialect(**settings: Any) -> OpenAIResponses:
    return OpenAIResponses(
        ResponsesSettings("acme", "Acme", URL, "https://api.acme.test/v1/models", **settings)
    )


def body(request: ChatRequest, model: str = "gpt-4o", temperature=None, stream=False, **kw):
    sent = dialect(**kw).chat_request(request, model, temperature, stream, {"X-Auth": "k"})
    validate_responses_request(sent.json)
    return sent.json


def run(parser, payloads: list[str]) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for payload in payloads:
        events += parser.feed(payload)
    assert parser.complete
    return events + parser.finish()


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.delta for e in events if e.type == "text_delta")


HISTORY = ChatRequest(
    (
        ChatMessage.system("You are terse."),
        ChatMessage.system("Answer in French."),
        ChatMessage.user("What is this?", images=["https://example.com/cat.png"]),
        ChatMessage.assistant("A cat."),
        ChatMessage.user("Weather in Paris?"),
        ChatMessage.assistant("", [ToolCall("call_1", "get_weather", '{"city": "Paris"}')]),
        ChatMessage.tool("call_1", '{"temp_c": 21}'),
    ),
    tools=(WEATHER, CLOCK),
    max_tokens=64,
)


# -- URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1/responses"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1/responses"),
        ("https://gw.test/v1/responses", "https://gw.test/v1/responses"),
        ("https://gw.test/v1/chat/completions", "https://gw.test/v1/responses"),
        ("https://gw.test", "https://gw.test/v1/responses"),
        ("https://gw.test/", "https://gw.test/v1/responses"),
        (
            "https://chatgpt.com/backend-api/codex",
            "https://chatgpt.com/backend-api/codex/responses",
        ),
    ],
)
def test_responses_url_follows_the_reference_rules(base: str, url: str) -> None:
    assert responses_url(base) == url


def test_api_path_wins_and_models_sit_beside_the_endpoint() -> None:
    assert responses_url("https://gw.test/v1", "/custom/resp") == "https://gw.test/v1/custom/resp"
    assert responses_url("https://gw.test/v1", "custom") == "https://gw.test/v1/custom"
    assert models_url("https://api.openai.com/v1") == "https://api.openai.com/v1/models"
    assert models_url("https://gw.test") == "https://gw.test/v1/models"
    assert models_url("https://gw.test/v1/chat/completions") == "https://gw.test/v1/models"


def test_build_configures_from_the_row_and_options() -> None:
    d = build(
        resolve("openai"),
        ProviderRuntimeOptions(provider_max_tokens=99, reasoning_effort=" HIGH "),
    )
    assert d.settings.url == "https://api.openai.com/v1/responses"
    assert d.settings.models_url == "https://api.openai.com/v1/models"
    assert (d.settings.provider, d.settings.display_name) == ("openai", "OpenAI")
    assert (d.settings.default_max_tokens, d.settings.reasoning_effort) == (99, "high")
    codex = build(resolve("codex"), ProviderRuntimeOptions())
    assert codex.settings.url == "https://chatgpt.com/backend-api/codex/responses"
    assert codex.settings.native_tools is False


# -- requests ------------------------------------------------------------------------


def test_a_whole_conversation_becomes_instructions_and_input_items() -> None:
    sent = body(HISTORY, "gpt-4o", 0.3)
    assert sent["model"] == "gpt-4o"
    assert sent["instructions"] == "You are terse.\n\nAnswer in French."
    assert sent["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {
                    "type": "input_image",
                    "image_url": "https://example.com/cat.png",
                    "detail": "auto",
                },
            ],
        },
        {"type": "message", "role": "assistant", "content": "A cat."},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather in Paris?"}],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 21}'},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": dict(WEATHER.parameters),
            "strict": False,
        },
        {
            "type": "function",
            "name": "now",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
    ]
    assert sent["max_output_tokens"] == 64
    assert sent["temperature"] == 0.3
    assert sent["store"] is False
    assert sent["stream"] is False


def test_assistant_text_and_tool_calls_of_one_turn_are_both_sent() -> None:
    call = ToolCall("call_7", "now", "")
    sent = body(
        ChatRequest((ChatMessage.user("time?"), ChatMessage.assistant("Checking.", [call])))
    )
    assert sent["input"][1:] == [
        {"type": "message", "role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "call_7", "name": "now", "arguments": "{}"},
    ]


def test_no_optional_field_is_sent_unless_asked_for() -> None:
    sent = body(ChatRequest((ChatMessage.user("hi"),)))
    assert set(sent) == {"model", "input", "store", "stream"}


def test_streaming_sets_stream_and_validates_as_a_streaming_request() -> None:
    sent = body(ChatRequest((ChatMessage.user("hi"),)), stream=True)
    assert sent["stream"] is True


def test_default_max_tokens_applies_when_the_request_has_none() -> None:
    assert (
        body(ChatRequest((ChatMessage.user("x"),)), default_max_tokens=5)["max_output_tokens"] == 5
    )
    sent = body(ChatRequest((ChatMessage.user("x"),), max_tokens=7), default_max_tokens=5)
    assert sent["max_output_tokens"] == 7


@pytest.mark.parametrize(
    ("model", "temperature", "sent"),
    [
        ("gpt-4o", 0.2, 0.2),
        ("gpt-4.1-mini", 0.0, 0.0),
        ("o3-mini", 0.2, None),
        ("gpt-5", 0.2, None),
        ("gpt-5", 1, 1),
        ("gpt-5-chat-latest", 0.2, 0.2),
        ("gpt-4o", None, None),
    ],
)
def test_temperature_goes_out_only_when_set_and_accepted(model, temperature, sent) -> None:
    out = body(ChatRequest((ChatMessage.user("x"),)), model, temperature)
    assert out.get("temperature") == sent


def test_reasoning_effort_goes_to_reasoning_models_only() -> None:
    request = ChatRequest((ChatMessage.user("x"),))
    assert body(request, "gpt-5-mini", reasoning_effort="low")["reasoning"] == {"effort": "low"}
    assert body(request, "o4-mini", reasoning_effort="high")["reasoning"] == {"effort": "high"}
    assert "reasoning" not in body(request, "gpt-4o", reasoning_effort="low")


def test_extra_fields_are_merged_one_level_deep() -> None:
    request = ChatRequest(
        (ChatMessage.user("x"),),
        extra={"reasoning": {"summary": "auto"}, "store": True, "parallel_tool_calls": False},
    )
    sent = body(request, "gpt-5", reasoning_effort="medium")
    assert sent["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert sent["store"] is True
    assert sent["parallel_tool_calls"] is False


def test_request_carries_the_given_headers_to_the_configured_url() -> None:
    req = dialect().chat_request(
        ChatRequest((ChatMessage.user("x"),)), "m", None, False, {"A": "b"}
    )
    assert (req.method, req.url, req.headers) == ("POST", URL, {"A": "b"})
    models = dialect().models_request({"A": "b"})
    assert (models.method, models.url) == ("GET", "https://api.acme.test/v1/models")


def test_prompt_guided_rows_describe_tools_in_the_instructions() -> None:
    sent = body(HISTORY, native_tools=False)
    assert "tools" not in sent
    assert build_tool_instructions((WEATHER, CLOCK)).strip() in sent["instructions"]
    # Earlier tool turns are written back as text; no function_call items remain.
    assert {item["type"] for item in sent["input"]} == {"message"}
    assert "<tool_result" in json.dumps(sent["input"])


def test_the_oracle_rejects_what_the_sdk_would_not_send() -> None:
    good = body(HISTORY)
    for broken in (
        {**good, "messages": []},
        {**good, "tools": [{**good["tools"][0], "function": {}}]},
        {**good, "input": [{"type": "message", "role": "user", "content": [{"type": "text"}]}]},
        {**good, "tools": [{k: v for k, v in good["tools"][0].items() if k != "strict"}]},
    ):
        with pytest.raises(Exception):  # noqa: B017 - any validation failure will do
            validate_responses_request(broken)


# -- responses -------------------------------------------------------------------------


def test_text_usage_and_model_are_read() -> None:
    data = response([message("Bonjour.")], usage_=usage(30, 4, cached=8))
    got = dialect().parse_chat(data, "asked")
    assert got.text == "Bonjour."
    assert got.usage == Usage(30, 4, 8)
    assert got.stop_reason == "end_turn"
    assert got.model == "gpt-5-mini-2025-08-07"
    assert got.provider == "acme"
    assert got.tool_calls == ()
    assert got.reasoning_content is None


def test_function_calls_and_reasoning_summaries_are_read() -> None:
    data = response(
        [
            reasoning("Need the weather.", "Call the tool."),
            function_call("call_1", "get_weather", '{"city": "Paris"}'),
            function_call("call_2", "now", "", item_id="fc_2"),
        ]
    )
    got = dialect().parse_chat(data, "m")
    assert got.tool_calls == (
        ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_2", "now", "{}"),
    )
    assert got.stop_reason == "tool_use"
    assert got.reasoning_content == "Need the weather.\n\nCall the tool."
    assert got.text == ""


def test_invalid_arguments_become_an_empty_object() -> None:
    got = dialect().parse_chat(response([function_call("c", "now", "{not json")]), "m")
    assert got.tool_calls[0].arguments == "{}"


def test_several_messages_are_joined_and_refusals_are_text() -> None:
    data = response([message("First.", "m1"), message("", "m2", refusal="I can't help.")])
    assert dialect().parse_chat(data, "m").text == "First.\n\nI can't help."


@pytest.mark.parametrize(
    ("reason", "stop"),
    [("max_output_tokens", "max_tokens"), ("content_filter", "content_filter")],
)
def test_incomplete_responses_say_why(reason: str, stop: str) -> None:
    data = response([message("Partial")], status="incomplete", incomplete=reason)
    got = dialect().parse_chat(data, "m")
    assert (got.text, got.stop_reason) == ("Partial", stop)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("rate_limit_exceeded", RateLimited),
        ("server_error", TransientError),
        ("invalid_prompt", InvalidRequest),
        ("image_content_policy_violation", ContentBlocked),
        ("invalid_image_url", InvalidRequest),
    ],
)
def test_a_failed_response_raises_its_class(code: str, cls: type[ProviderError]) -> None:
    data = response(status="failed", error=(code, "It went wrong."))
    with pytest.raises(cls) as info:
        dialect().parse_chat(data, "m")
    assert type(info.value) is cls
    assert "It went wrong." in str(info.value)
    assert info.value.provider == "acme"


@pytest.mark.parametrize("data", [[], "text", {"id": "x"}, {"output": "nope"}])
def test_unreadable_bodies_are_invalid_responses(data: Any) -> None:
    with pytest.raises(InvalidResponse):
        dialect().parse_chat(data, "m")


def test_an_error_body_without_output_is_classified() -> None:
    data = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    with pytest.raises(AuthError):
        dialect().parse_chat(data, "m")


def test_models_list_like_openai() -> None:
    data = {"object": "list", "data": [{"id": "gpt-5", "object": "model"}, {"object": "model"}]}
    assert dialect().parse_models(data) == [ModelEntry("gpt-5")]
    with pytest.raises(InvalidResponse):
        dialect().parse_models({"models": []})


# -- streams ---------------------------------------------------------------------------


def test_a_text_stream() -> None:
    parser = dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "asked")
    events = run(parser, text_stream("Bon", "jour", ".").payloads())
    assert [e.delta for e in events if e.type == "text_delta"] == ["Bon", "jour", "."]
    assert [e.type for e in events].count("final") == 1
    final = events[-1].response
    assert final.text == "Bonjour."
    assert final.usage == Usage(7, 3, 0)
    assert final.stop_reason == "end_turn"
    assert final.model == "gpt-5-mini-2025-08-07"
    assert parser.partial_text == "Bonjour."


def test_reasoning_deltas_come_before_the_answer() -> None:
    ev = Events().created()
    ev.summary("Think ").summary("hard.").reasoning_text(" Raw.")
    ev.text("Done.", index=1).completed([reasoning("Think hard."), message("Done.")])
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert [(e.type, e.delta) for e in events[:4]] == [
        ("reasoning_delta", "Think "),
        ("reasoning_delta", "hard."),
        ("reasoning_delta", " Raw."),
        ("text_delta", "Done."),
    ]
    assert events[-1].response.reasoning_content == "Think hard. Raw."


def test_streamed_function_calls_are_assembled_and_emitted_when_done() -> None:
    first = function_call("call_1", "get_weather", '{"city": "Paris"}')
    second = function_call("call_2", "get_weather", '{"city": "Oslo"}', item_id="fc_2")
    ev = Events().created()
    ev.item_added(0, first.model_copy(update={"arguments": "", "status": "in_progress"}))
    ev.args('{"city": ', 0).args('"Paris"}', 0)
    ev.item_added(1, second.model_copy(update={"arguments": "", "status": "in_progress"}))
    ev.args('{"city"', 1, "fc_2").args_done('{"city": "Paris"}', 0)
    ev.item_done(0, first)
    ev.args(': "Oslo"}', 1, "fc_2").item_done(1, second).completed([first, second])
    parser = dialect().stream_parser(ChatRequest((ChatMessage.user("x"),), tools=(WEATHER,)), "m")
    events: list[StreamEvent] = []
    for i, payload in enumerate(ev.payloads()):
        got = parser.feed(payload)
        if ev.events[i].type == "response.output_item.done" and i < 8:
            # The first call is out as soon as its item is done, before the second finishes.
            assert [e.tool_call.id for e in got if e.type == "tool_call"] == ["call_1"]
        events += got
    events += parser.finish()
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert calls == [
        ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_2", "get_weather", '{"city": "Oslo"}'),
    ]
    final = events[-1].response
    assert final.tool_calls == tuple(calls)
    assert final.stop_reason == "tool_use"


def test_calls_without_item_done_are_emitted_at_the_end() -> None:
    call = function_call("call_1", "now", "{}")
    ev = Events().created().item_added(0, call.model_copy(update={"arguments": ""}))
    ev.args("{}", 0).completed([call])
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert [e.type for e in events] == ["tool_call", "final"]
    assert events[0].tool_call == ToolCall("call_1", "now", "{}")


def test_a_stream_that_sends_only_the_finished_response_is_read_whole() -> None:
    done = [reasoning("Hmm."), message("All at once."), function_call("c9", "now", "{}")]
    ev = Events().created().completed(done)
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert [e.type for e in events] == ["text_delta", "tool_call", "final"]
    final = events[-1].response
    assert (final.text, final.reasoning_content) == ("All at once.", "Hmm.")
    assert final.tool_calls == (ToolCall("c9", "now", "{}"),)


def test_a_message_item_done_without_deltas_delivers_its_text() -> None:
    ev = Events().created().item_done(0, message("Only at the end.")).completed([message("x")])
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert text_of(events) == "Only at the end."
    assert events[-1].response.text == "Only at the end."


def test_two_message_items_are_separated_like_parse_chat_joins_them() -> None:
    ev = Events().created().text("Let me look.", 0, "m1").text("Found it.", 1, "m2")
    ev.item_done(0, message("Let me look.", "m1")).item_done(1, message("Found it.", "m2"))
    ev.completed([message("Let me look.", "m1"), message("Found it.", "m2")])
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert events[-1].response.text == "Let me look.\n\nFound it."
    whole = response([message("Let me look.", "m1"), message("Found it.", "m2")])
    assert dialect().parse_chat(whole, "m").text == events[-1].response.text


@pytest.mark.parametrize(
    ("reason", "stop"), [("max_output_tokens", "max_tokens"), ("content_filter", "content_filter")]
)
def test_an_incomplete_stream_ends_with_its_reason(reason: str, stop: str) -> None:
    ev = Events().created().text("Trunc").incomplete(reason, [message("Trunc")])
    events = run(dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m"), ev.payloads())
    assert events[-1].response.stop_reason == stop
    assert events[-1].response.text == "Trunc"


def test_the_stream_is_not_complete_until_the_response_is() -> None:
    parser = dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    for payload in text_stream("Hel", "lo").payloads()[:-1]:
        parser.feed(payload)
    assert not parser.complete
    assert parser.partial_text == "Hello"


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        ("rate_limit_exceeded", RateLimited, 429),
        ("server_error", TransientError, 500),
        ("invalid_prompt", InvalidRequest, 400),
    ],
)
def test_response_failed_raises_the_class_of_its_code(code, cls, status) -> None:
    ev = Events().created().text("partial").failed(code, "Something broke.")
    parser = dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    payloads = ev.payloads()
    parser.feed(payloads[0])
    parser.feed(payloads[1])
    with pytest.raises(cls) as info:
        parser.feed(payloads[2])
    assert info.value.status == status
    assert "Something broke." in str(info.value)


@pytest.mark.parametrize(
    ("code", "message_", "cls"),
    [
        (
            "context_length_exceeded",
            "Your input exceeds the context window of this model.",
            ContextWindowExceeded,
        ),
        ("rate_limit_exceeded", "Rate limit reached. Please try again in 20s.", RateLimited),
        (None, "The server had an error while processing your request.", TransientError),
    ],
)
def test_error_events_raise_classified_errors(code, message_, cls) -> None:
    payload = Events().error(message_, code).payloads()[0]
    with pytest.raises(cls) as info:
        dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m").feed(payload)
    assert message_ in str(info.value)
    assert "sequence_number" not in str(info.value)


def test_insufficient_quota_is_quota_exhausted() -> None:
    from construct.errors import QuotaExhausted

    payload = Events().error("You exceeded your current quota.", "insufficient_quota").payloads()[0]
    with pytest.raises(QuotaExhausted):
        dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m").feed(payload)


def test_a_payload_that_is_not_json_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponse):
        dialect().stream_parser(ChatRequest((ChatMessage.user("x"),)), "m").feed("{oops")


def test_prompt_guided_streams_hide_the_tags_and_return_calls() -> None:
    text = 'Checking.<tool_call>{"name": "now", "arguments": {}}</tool_call>'
    ev = Events().created()
    for i in range(0, len(text), 7):
        ev.text(text[i : i + 7])
    ev.completed([message(text)])
    request = ChatRequest((ChatMessage.user("x"),), tools=(CLOCK,))
    events = run(dialect(native_tools=False).stream_parser(request, "m"), ev.payloads())
    assert "<tool_call>" not in text_of(events)
    assert text_of(events).strip() == "Checking."
    final = events[-1].response
    assert [c.name for c in final.tool_calls] == ["now"]
    assert final.stop_reason == "tool_use"
    assert final.text == "Checking."
    plain = dialect(native_tools=False).parse_chat(response([message(text)]), "m")
    assert (plain.text, [c.name for c in plain.tool_calls]) == ("Checking.", ["now"])
