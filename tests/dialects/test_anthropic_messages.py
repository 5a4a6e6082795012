"""The Anthropic Messages dialect, sans I/O: dicts in, dicts out.

Every request body is checked against the anthropic SDK's request types
(`validate_messages_request`); response bodies and stream events are built
with the SDK's response models.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from construct.auth.anthropic import AnthropicKeyOrOAuth
from construct.dialects.anthropic_messages import (
    API_VERSION,
    CLAUDE_CODE_SYSTEM,
    AnthropicMessages,
    MessagesSettings,
    accepts_sampling,
    api_root,
)
from construct.errors import (
    AuthError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    TransientError,
)
from construct.secrets import Secret
from construct.types import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    ModelEntry,
    StreamEvent,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.oracle_anthropic_messages import (
    PING,
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
    signature_delta,
    text_block,
    text_delta,
    text_events,
    thinking_block,
    thinking_delta,
    tool_use_block,
    usage,
    validate_messages_request,
)

ROOT = "https://api.anthropic.com/v1"
KEY = "sk-ant-api03-test-key-0123456789"
OAUTH = "sk-ant-oat01-test-token-0123456789"
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec("now", parameters={})
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
MODEL = "claude-sonnet-4-6"


def auth_headers(key: str | None) -> dict[str, str]:
    """The headers the `anthropic` row's auth sends; required=False so that no key
    (an endpoint that takes none) shows as no header rather than a missing-key error."""
    auth = AnthropicKeyOrOAuth("anthropic", "Anthropic", ("ANTHROPIC_API_KEY",), required=False)
    return auth.headers(Secret(key) if key else None)


def dialect(**settings: Any) -> AnthropicMessages:
    return AnthropicMessages(MessagesSettings("anthropic", "Anthropic", ROOT, **settings))


def ask(*messages: ChatMessage, **kw: Any) -> ChatRequest:
    return ChatRequest(messages, **kw)


def body(
    request: ChatRequest,
    model: str = MODEL,
    temperature: float | None = None,
    stream: bool = False,
    *,
    key: str = KEY,
    sampling: tuple[str, ...] = (),
    **settings: Any,
) -> dict[str, Any]:
    d = dialect(**settings)
    req = d.chat_request(request, model, temperature, stream, auth_headers(key))
    validate_messages_request(req.json, extensions=sampling)
    return req.json


def user_text(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


# -- requests ------------------------------------------------------------------------


def test_plain_request_url_headers_and_body() -> None:
    d = dialect()
    req = d.chat_request(ask(ChatMessage.user("Hi")), MODEL, None, False, auth_headers(KEY))
    assert (req.method, req.url) == ("POST", "https://api.anthropic.com/v1/messages")
    assert req.headers == {"x-api-key": KEY, "anthropic-version": API_VERSION}
    validate_messages_request(req.json)
    assert req.json == {"model": MODEL, "max_tokens": 4096, "messages": [user_text("Hi")]}


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
        ("https://gw.example.test/v1", "https://gw.example.test/v1"),
        ("https://gw.example.test/v1/", "https://gw.example.test/v1"),
        ("https://gw.example.test/v1/messages", "https://gw.example.test/v1"),
        ("https://api.minimax.io/anthropic", "https://api.minimax.io/anthropic/v1"),
    ],
)
def test_api_root_never_doubles_v1(base: str, root: str) -> None:
    assert api_root(base) == root


def test_models_request() -> None:
    d = dialect()
    req = d.models_request(auth_headers(KEY))
    assert (req.method, req.url) == ("GET", "https://api.anthropic.com/v1/models?limit=1000")
    assert req.headers == {"x-api-key": KEY, "anthropic-version": API_VERSION}


def test_auth_headers() -> None:
    assert auth_headers(KEY) == {"x-api-key": KEY}
    assert auth_headers(None) == {}
    assert auth_headers("") == {}
    assert auth_headers(OAUTH) == {
        "Authorization": f"Bearer {OAUTH}",
        "anthropic-beta": "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14",
        "anthropic-dangerous-direct-browser-access": "true",
    }


def test_oauth_tokens_open_the_system_prompt_as_claude_code() -> None:
    request = ask(ChatMessage.system("Be brief."), ChatMessage.user("Hi"))
    sent = body(request, key=OAUTH)
    assert [b["text"] for b in sent["system"]] == [CLAUDE_CODE_SYSTEM, "Be brief."]
    assert "cache_control" in sent["system"][-1]
    assert "cache_control" not in sent["system"][0]
    assert [b["text"] for b in body(ask(ChatMessage.user("Hi")), key=OAUTH)["system"]] == [
        CLAUDE_CODE_SYSTEM
    ]
    assert "system" not in body(ask(ChatMessage.user("Hi")), key=KEY)


def test_every_system_message_goes_to_system_in_order() -> None:
    request = ask(
        ChatMessage.system("Rule one."),
        ChatMessage.user("Hi"),
        ChatMessage.system("   "),
        ChatMessage.assistant("Hello."),
        ChatMessage.system("Rule two."),
        ChatMessage.user("Bye"),
    )
    sent = body(request)
    assert sent["system"] == [
        {"type": "text", "text": "Rule one."},
        {"type": "text", "text": "Rule two.", "cache_control": {"type": "ephemeral"}},
    ]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]


def test_whole_history_with_tool_turns() -> None:
    request = ask(
        ChatMessage.user("Weather in Paris and Oslo?"),
        ChatMessage.assistant(
            "Checking.",
            [
                ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),
                ToolCall("toolu_2", "get_weather", "not json"),
            ],
        ),
        ChatMessage.tool("toolu_1", '{"temp_c": 21}'),
        ChatMessage.tool("toolu_2", ""),
        ChatMessage.user("Thanks, and in Rome?"),
        tools=(WEATHER,),
        extra={"cache": False},
    )
    sent = body(request)
    assert sent["messages"] == [
        user_text("Weather in Paris and Oslo?"),
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp_c": 21}'},
                {"type": "tool_result", "tool_use_id": "toolu_2"},
                {"type": "text", "text": "Thanks, and in Rome?"},
            ],
        },
    ]


def test_tool_results_open_their_user_turn() -> None:
    # A user note written before the tool result still lands after it.
    request = ask(
        ChatMessage.user("Go."),
        ChatMessage.assistant("", [ToolCall("toolu_1", "now", "{}")]),
        ChatMessage.user("(take your time)"),
        ChatMessage.tool("toolu_1", "12:00"),
        extra={"cache": False},
    )
    sent = body(request)
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}
    ]
    assert [b["type"] for b in sent["messages"][2]["content"]] == ["tool_result", "text"]


def test_consecutive_turns_of_one_role_merge_and_empty_turns_drop() -> None:
    request = ask(
        ChatMessage.user("One."),
        ChatMessage.user(""),
        ChatMessage.user("Two."),
        ChatMessage.assistant("  "),
        ChatMessage.assistant("Three."),
        ChatMessage.assistant("Four."),
        extra={"cache": False},
    )
    sent = body(request)
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": t} for t in ("One.", "Two.")]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": t} for t in ("Three.", "Four.")],
        },
    ]


def test_images_as_base64_and_url_sources() -> None:
    request = ask(
        ChatMessage.user(
            "What is this?",
            images=[
                f"data:image/png;base64,{PNG}",
                "https://example.com/cat.jpg",
                f"data:image/jpg;base64,{PNG}",
            ],
        ),
        extra={"cache": False},
    )
    content = body(request)["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
    ]


def test_a_percent_encoded_data_uri_is_base64_encoded() -> None:
    request = ask(ChatMessage.user("", images=["data:image/gif,GIF89a%01%00"]))
    source = body(request)["messages"][0]["content"][0]["source"]
    assert source["media_type"] == "image/gif"
    assert base64.b64decode(source["data"]) == b"GIF89a\x01\x00"


@pytest.mark.parametrize(
    ("uri", "says"),
    [("data:image/bmp;base64,Qk0=", "image/bmp"), ("data:image/png;base64", "no ','")],
)
def test_images_the_api_cannot_take_are_refused_before_sending(uri: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says) as info:
        body(ask(ChatMessage.user("x", images=[uri])))
    assert info.value.provider == "anthropic"


def test_a_tool_result_with_an_image() -> None:
    result = ChatMessage("tool", (TextPart("chart:"), ImagePart("https://x.test/c.png")), (), "t1")
    request = ask(
        ChatMessage.user("Plot it."),
        ChatMessage.assistant("", [ToolCall("t1", "plot", "{}")]),
        result,
        extra={"cache": False},
    )
    block = body(request)["messages"][2]["content"][0]
    assert block == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [
            {"type": "text", "text": "chart:"},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/c.png"}},
        ],
    }


def test_tools_without_tool_choice() -> None:
    sent = body(ask(ChatMessage.user("x"), tools=(WEATHER, CLOCK)))
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": dict(WEATHER.parameters),
        },
        {"name": "now", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
    ]
    assert "tool_choice" not in sent
    assert "tools" not in body(ask(ChatMessage.user("x"), tools=()))


def test_tool_choice_from_extra() -> None:
    choice = {"type": "tool", "name": "get_weather"}
    sent = body(ask(ChatMessage.user("x"), tools=(WEATHER,), extra={"tool_choice": choice}))
    assert sent["tool_choice"] == choice


def _breakpoints(sent: dict[str, Any]) -> list[str]:
    marks = [f"system[{i}]" for i, b in enumerate(sent.get("system", ())) if "cache_control" in b]
    marks += [f"tools[{i}]" for i, t in enumerate(sent.get("tools", ())) if "cache_control" in t]
    for i, m in enumerate(sent["messages"]):
        marks += [f"messages[{i}][{j}]" for j, b in enumerate(m["content"]) if "cache_control" in b]
    return marks


def _conversation(**extra: Any) -> ChatRequest:
    return ask(
        ChatMessage.system("Long instructions."),
        ChatMessage.user("Q1"),
        ChatMessage.assistant("A1"),
        ChatMessage.user("Q2", images=["https://x.test/a.png"]),
        tools=(WEATHER, CLOCK),
        extra=extra,
    )


def test_prompt_caching_is_on_by_default() -> None:
    sent = body(_conversation())
    assert _breakpoints(sent) == ["system[0]", "tools[1]", "messages[2][1]"]
    assert sent["messages"][2]["content"][1]["cache_control"] == {"type": "ephemeral"}


def test_a_single_message_gets_no_message_breakpoint() -> None:
    sent = body(ask(ChatMessage.system("S"), ChatMessage.user("Q"), tools=(WEATHER,)))
    assert _breakpoints(sent) == ["system[0]", "tools[0]"]


def test_caching_switched_off_or_to_one_hour() -> None:
    off = body(_conversation(cache=False))
    assert _breakpoints(off) == []
    assert "cache" not in off
    hour = body(_conversation(cache="1h"))
    assert len(_breakpoints(hour)) == 3
    assert hour["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    custom = body(_conversation(cache={"type": "ephemeral", "ttl": "5m"}))
    assert custom["tools"][1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_a_bad_cache_value_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="extra\\['cache'\\]"):
        body(_conversation(cache=3))


def test_max_tokens_request_then_provider_option_then_default() -> None:
    one = ask(ChatMessage.user("x"))
    assert body(one)["max_tokens"] == 4096
    assert body(one, default_max_tokens=900)["max_tokens"] == 900
    assert (
        body(ask(ChatMessage.user("x"), max_tokens=77), default_max_tokens=900)["max_tokens"] == 77
    )


def test_a_thinking_budget_above_the_default_gets_room_for_the_answer() -> None:
    thinking = {"type": "enabled", "budget_tokens": 8000}
    sent = body(ask(ChatMessage.user("x"), extra={"thinking": thinking}))
    assert sent["thinking"] == thinking
    assert sent["max_tokens"] == 8000 + 4096
    small = body(
        ask(ChatMessage.user("x"), extra={"thinking": {**thinking, "budget_tokens": 2048}})
    )
    assert small["max_tokens"] == 4096
    explicit = body(ask(ChatMessage.user("x"), max_tokens=9000, extra={"thinking": thinking}))
    assert explicit["max_tokens"] == 9000


@pytest.mark.parametrize(
    ("model", "accepts"),
    [
        ("claude-3-5-haiku-20241022", True),
        ("claude-3-7-sonnet-20250219", True),
        ("claude-3-haiku-20240307", True),
        ("claude-opus-4-20250514", True),
        ("claude-opus-4-1", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-haiku-4-5", True),
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6", True),
        ("anthropic/claude-sonnet-4.6", True),
        ("claude-opus-4-7", False),
        ("claude-opus-4-8", False),
        ("anthropic/claude-opus-4.7", False),
        ("CLAUDE-OPUS-4-7", False),
        ("claude-opus-5", False),
        ("claude-sonnet-5", False),
        ("claude-sonnet-5-5", False),
        ("claude-haiku-5-5", False),
        ("claude-fable-5-2", False),
        ("claude-mythos-preview", False),
        ("claude-mythos-5-1", False),
        ("MiniMax-M2", True),
        ("glm-4.6", True),
    ],
)
def test_accepts_sampling(model: str, accepts: bool) -> None:
    assert accepts_sampling(model) is accepts


def test_sampling_only_when_set_and_accepted() -> None:
    one = ask(ChatMessage.user("x"))
    assert not set(SAMPLING) & set(body(one))
    sent = body(one, "claude-sonnet-4-6", 0.3, sampling=SAMPLING)
    assert sent["temperature"] == 0.3
    extra = ask(ChatMessage.user("x"), extra={"top_p": 0.9, "top_k": 40})
    assert {
        k: body(extra, "claude-3-5-haiku-latest", sampling=SAMPLING)[k] for k in SAMPLING[1:]
    } == {
        "top_p": 0.9,
        "top_k": 40,
    }
    for model in ("claude-opus-4-7", "claude-fable-5"):
        assert not set(SAMPLING) & set(body(extra, model, 0.3))


def test_thinking_drops_temperature_and_top_k_but_keeps_top_p() -> None:
    request = ask(
        ChatMessage.user("x"),
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}, "top_p": 0.95, "top_k": 5},
    )
    sent = body(request, "claude-sonnet-4-5", 0.5, sampling=SAMPLING)
    assert sent["top_p"] == 0.95
    assert "temperature" not in sent and "top_k" not in sent
    off = ask(ChatMessage.user("x"), extra={"thinking": {"type": "disabled"}})
    assert body(off, "claude-sonnet-4-5", 0.5, sampling=SAMPLING)["temperature"] == 0.5


def test_stream_flag_and_extra_fields_merged_last() -> None:
    request = ask(
        ChatMessage.user("x"),
        extra={"metadata": {"user_id": "u-1"}, "stop_sequences": ["END"], "max_tokens": 12},
    )
    sent = body(request, stream=True)
    assert sent["stream"] is True
    assert sent["metadata"] == {"user_id": "u-1"}
    assert sent["stop_sequences"] == ["END"]
    assert sent["max_tokens"] == 12


def test_betas_from_extra_become_a_header() -> None:
    d = dialect()
    request = ask(ChatMessage.user("x"), extra={"betas": ["context-1m-2025-08-07"]})
    req = d.chat_request(request, MODEL, None, False, auth_headers(KEY))
    assert req.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert "betas" not in req.json
    oauth = d.chat_request(request, MODEL, None, False, auth_headers(OAUTH))
    assert oauth.headers["anthropic-beta"].split(",") == [
        "claude-code-20250219",
        "oauth-2025-04-20",
        "interleaved-thinking-2025-05-14",
        "context-1m-2025-08-07",
    ]


# -- responses -----------------------------------------------------------------------


def test_parse_text_usage_and_model() -> None:
    data = message("Hello", " there.", tokens=usage(100, 7, cache_read=900, cache_write=50))
    response = dialect().parse_chat(data, "asked-model")
    assert response.text == "Hello there."
    assert response.usage == Usage(input_tokens=1050, output_tokens=7, cached_input_tokens=900)
    assert response.stop_reason == "end_turn"
    assert response.model == "claude-test-1"
    assert response.provider == "anthropic"
    assert response.reasoning_content is None
    assert response.tool_calls == ()


def test_parse_without_cache_fields() -> None:
    response = dialect().parse_chat(message("x", tokens=usage(12, 5)), "m")
    assert response.usage == Usage(12, 5, None)


def test_parse_thinking_and_tool_use() -> None:
    data = message(
        thinking_block("First I look it up."),
        thinking_block("Then I answer."),
        "Let me check.",
        tool_use_block("toolu_1", "get_weather", {"city": "Paris"}),
        tool_use_block("toolu_2", "now", {}),
        stop_reason="tool_use",
    )
    response = dialect().parse_chat(data, "m")
    assert response.text == "Let me check."
    assert response.reasoning_content == "First I look it up.\n\nThen I answer."
    assert response.tool_calls == (
        ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("toolu_2", "now", "{}"),
    )
    assert response.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("stop", "mapped"),
    [
        ("end_turn", "end_turn"),
        ("stop_sequence", "end_turn"),
        ("tool_use", "tool_use"),
        ("max_tokens", "max_tokens"),
        ("model_context_window_exceeded", "max_tokens"),
        ("refusal", "content_filter"),
        ("pause_turn", None),
        (None, None),
    ],
)
def test_stop_reasons(stop: str | None, mapped: str | None) -> None:
    assert dialect().parse_chat(message("x", stop_reason=stop), "m").stop_reason == mapped


@pytest.mark.parametrize(
    "data",
    [None, [], "text", {"id": "msg_1"}, {"content": "not a list"}],
)
def test_malformed_bodies_are_invalid_response(data: Any) -> None:
    with pytest.raises(InvalidResponse) as info:
        dialect().parse_chat(data, "m")
    assert info.value.provider == "anthropic"
    assert info.value.is_retryable


def test_unknown_blocks_are_skipped() -> None:
    data = message("Answer.")
    data["content"] += [{"type": "redacted_thinking", "data": "x"}, "junk", {"type": "tool_use"}]
    response = dialect().parse_chat(data, "m")
    assert (response.text, response.tool_calls) == ("Answer.", ())


def test_an_error_body_inside_a_200_is_classified() -> None:
    with pytest.raises(TransientError) as info:
        dialect().parse_chat(error("overloaded_error", "Overloaded"), "m")
    assert info.value.status == 529
    assert "Overloaded" in str(info.value)


def test_parse_models() -> None:
    page = model_page(
        model_info(
            "claude-opus-4-7", "Claude Opus 4.7", window=1_000_000, max_tokens=128_000, images=True
        ),
        model_info("claude-text", "Text only", window=200_000, max_tokens=8_192, images=False),
        {"display_name": "no id"},
        {"id": "bare-model"},
    )
    assert dialect().parse_models(page) == [
        ModelEntry("claude-opus-4-7", "Claude Opus 4.7", 1_000_000, 128_000, True),
        ModelEntry("claude-text", "Text only", 200_000, 8_192, False),
        ModelEntry("bare-model"),
    ]


@pytest.mark.parametrize("data", [None, [], {"models": []}])
def test_a_model_list_without_data_is_invalid(data: Any) -> None:
    with pytest.raises(InvalidResponse, match="no 'data' array"):
        dialect().parse_models(data)


# -- streams -----------------------------------------------------------------------------


def run(events: list[dict[str, Any] | str], model: str = "m") -> list[StreamEvent]:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), model)
    out: list[StreamEvent] = []
    for e in events:
        out += parser.feed(e if isinstance(e, str) else json.dumps(e))
    assert parser.complete
    return out + parser.finish()


def test_text_stream() -> None:
    events = run(text_events("Hel", "lo", "!", output_tokens=9))
    assert [(e.type, e.delta) for e in events[:-1]] == [
        ("text_delta", "Hel"),
        ("text_delta", "lo"),
        ("text_delta", "!"),
    ]
    final = events[-1]
    assert final.type == "final"
    assert final.response.text == "Hello!"
    assert final.response.usage == Usage(12, 9, None)
    assert final.response.stop_reason == "end_turn"
    assert final.response.model == "claude-test-1"
    assert final.response.provider == "anthropic"


def test_complete_only_after_the_stop() -> None:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), "m")
    events = text_events("a")
    for e in events[:-2]:
        parser.feed(json.dumps(e))
        assert not parser.complete
    assert parser.partial_text == "a"
    parser.feed(json.dumps(events[-2]))
    assert parser.complete
    parser.feed(json.dumps(events[-1]))
    assert parser.complete and parser.done


def test_thinking_stream_matches_parse_chat() -> None:
    events = run(
        [
            message_start(tokens=usage(20, 1, cache_read=100)),
            block_start(0, thinking_block("")),
            thinking_delta(0, "First I "),
            thinking_delta(0, "look it up."),
            signature_delta(0),
            block_stop(0),
            block_start(1, thinking_block("")),
            thinking_delta(1, "Then I answer."),
            block_stop(1),
            block_start(2, text_block("")),
            text_delta(2, "Done."),
            block_stop(2),
            message_delta("end_turn", 30),
            message_stop(),
        ]
    )
    reasoning = "".join(e.delta for e in events if e.type == "reasoning_delta")
    final = events[-1].response
    assert reasoning == final.reasoning_content == "First I look it up.\n\nThen I answer."
    parsed = dialect().parse_chat(
        message(thinking_block("First I look it up."), thinking_block("Then I answer."), "Done."),
        "m",
    )
    assert parsed.reasoning_content == final.reasoning_content
    assert final.text == parsed.text == "Done."
    assert final.usage == Usage(120, 30, 100)


def test_tool_use_stream_assembles_input_per_block() -> None:
    events = run(
        [
            message_start(),
            block_start(0, text_block("")),
            text_delta(0, "Checking."),
            block_stop(0),
            block_start(1, tool_use_block("toolu_1", "get_weather", {})),
            json_delta(1, ""),
            json_delta(1, '{"city": '),
            json_delta(1, '"Paris"}'),
            block_stop(1),
            block_start(2, tool_use_block("toolu_2", "now", {})),
            block_stop(2),
            block_start(3, tool_use_block("toolu_3", "broken", {})),
            json_delta(3, '{"city": '),
            block_stop(3),
            message_delta("tool_use", 40),
            message_stop(),
        ]
    )
    assert [e.type for e in events] == [
        "text_delta",
        "tool_call",
        "tool_call",
        "tool_call",
        "final",
    ]
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert calls == [
        ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("toolu_2", "now", "{}"),
        ToolCall("toolu_3", "broken", "{}"),
    ]
    final = events[-1].response
    assert final.tool_calls == tuple(calls)
    assert final.stop_reason == "tool_use"
    assert final.text == "Checking."


def test_a_tool_call_left_open_is_emitted_by_finish() -> None:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), "m")
    for e in [
        message_start(),
        block_start(0, tool_use_block("toolu_1", "get_weather", {})),
        json_delta(0, '{"city": "Oslo"}'),
        message_delta(None, 3),
    ]:
        assert parser.feed(json.dumps(e)) == []
    events = parser.finish()
    assert [e.type for e in events] == ["tool_call", "final"]
    assert events[0].tool_call == ToolCall("toolu_1", "get_weather", '{"city": "Oslo"}')
    assert events[1].response.stop_reason == "tool_use"


def test_pings_and_unknown_events_are_ignored() -> None:
    events = run(
        [
            PING,
            message_start(),
            {"type": "some_future_event", "data": 1},
            [1, 2],
            block_start(0, text_block("")),
            {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta"}},
            text_delta(0, "ok"),
            block_stop(0),
            message_delta(),
            message_stop(),
        ]
    )
    assert [e.type for e in events] == ["text_delta", "final"]


def test_non_json_data_is_invalid_response() -> None:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), "m")
    with pytest.raises(InvalidResponse, match="not JSON"):
        parser.feed("{oops")


@pytest.mark.parametrize(
    ("kind", "text", "cls", "status"),
    [
        ("overloaded_error", "Overloaded", TransientError, 529),
        (
            "rate_limit_error",
            "Number of request tokens has exceeded your rate limit",
            RateLimited,
            429,
        ),
        ("api_error", "Internal server error", TransientError, 500),
        ("invalid_request_error", "messages: roles must alternate", InvalidRequest, 400),
        (
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextWindowExceeded,
            400,
        ),
        ("authentication_error", "invalid x-api-key", AuthError, 401),
        ("permission_error", "not allowed", AuthError, 403),
        ("not_found_error", "model: claude-x", InvalidRequest, 404),
    ],
)
def test_error_events(kind: str, text: str, cls: type[ProviderError], status: int) -> None:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), "m")
    parser.feed(json.dumps(message_start()))
    with pytest.raises(cls) as info:
        parser.feed(json.dumps({"type": "error", "error": error(kind, text)["error"]}))
    assert type(info.value) is cls
    assert info.value.status == status
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("payload", "cls", "status"),
    [
        (
            {
                "type": "error",
                "error": {"type": "billing_error", "message": "Credit balance too low"},
            },
            QuotaExhausted,
            402,
        ),
        ({"type": "error", "error": {"type": "new_error", "message": "?"}}, TransientError, 500),
        ({"type": "error", "error": "flat text"}, TransientError, 500),
        ({"type": "error"}, TransientError, 500),
    ],
)
def test_odd_error_events(payload: dict[str, Any], cls: type[ProviderError], status: int) -> None:
    parser = dialect().stream_parser(ask(ChatMessage.user("x")), "m")
    with pytest.raises(cls) as info:
        parser.feed(json.dumps(payload))
    assert info.value.status == status


def test_final_event_carries_the_whole_response() -> None:
    events = run(
        [
            message_start(model="claude-opus-4-7"),
            block_start(0, text_block("")),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta("max_tokens", 2),
            message_stop(),
        ]
    )
    assert [e.type for e in events].count("final") == 1
    final = events[-1].response
    assert (final.text, final.stop_reason, final.model) == ("Hi", "max_tokens", "claude-opus-4-7")


# -- thinking blocks in tool loops ------------------------------------------------------

THINK = {"type": "enabled", "budget_tokens": 2048}


def _follow_up(call_id: str = "toolu_1", thinking: Any = THINK) -> ChatRequest:
    return ask(
        ChatMessage.user("Weather in Paris?"),
        ChatMessage.assistant("Checking.", [ToolCall(call_id, "get_weather", '{"city": "Paris"}')]),
        ChatMessage.tool(call_id, "21 °C"),
        tools=(WEATHER,),
        extra={"thinking": thinking, "cache": False} if thinking else {"cache": False},
    )


def _sent_with(d: AnthropicMessages, request: ChatRequest) -> dict[str, Any]:
    req = d.chat_request(request, MODEL, None, False, auth_headers(KEY))
    validate_messages_request(req.json)
    return req.json


def test_a_tool_loop_with_thinking_resends_the_signed_thinking_blocks() -> None:
    d = dialect()
    answer = message(
        thinking_block("Paris needs a lookup."),
        "Checking.",
        tool_use_block("toolu_1", "get_weather", {"city": "Paris"}),
        stop_reason="tool_use",
    )
    answer["content"].insert(1, {"type": "redacted_thinking", "data": "EmwKAhgB"})
    d.parse_chat(answer, "m")
    sent = _sent_with(d, _follow_up())
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Paris needs a lookup.", "signature": "sig-21"},
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    # Without thinking, or for calls this dialect never saw, the turn goes as it is.
    for request in (_follow_up(thinking=None), _follow_up(thinking={"type": "disabled"})):
        assert _sent_with(d, request)["messages"][1]["content"][0]["type"] == "text"
    assert _sent_with(dialect(), _follow_up())["messages"][1]["content"][0]["type"] == "text"
    assert _sent_with(d, _follow_up("toolu_9"))["messages"][1]["content"][0]["type"] == "text"


def test_a_streamed_tool_loop_keeps_thinking_and_signature() -> None:
    d = dialect()
    parser = d.stream_parser(ask(ChatMessage.user("x")), "m")
    for e in [
        message_start(),
        block_start(0, thinking_block("", signature="")),
        thinking_delta(0, "Paris needs "),
        thinking_delta(0, "a lookup."),
        signature_delta(0, "EqQB"),
        signature_delta(0, "CgIY"),
        block_stop(0),
        block_start(1, tool_use_block("toolu_1", "get_weather", {})),
        json_delta(1, '{"city": "Paris"}'),
        block_stop(1),
        message_delta("tool_use", 9),
        message_stop(),
    ]:
        parser.feed(json.dumps(e))
    parser.finish()
    first = _sent_with(d, _follow_up())["messages"][1]["content"][0]
    assert first == {
        "type": "thinking",
        "thinking": "Paris needs a lookup.",
        "signature": "EqQBCgIY",
    }


def test_unsigned_thinking_and_answers_without_tool_calls_are_not_kept() -> None:
    d = dialect()
    unsigned = message(thinking_block("x"), tool_use_block("toolu_1", "now", {}))
    unsigned["content"][0]["signature"] = ""
    d.parse_chat(unsigned, "m")
    d.parse_chat(message(thinking_block("y"), "No tools."), "m")
    assert d.thinking_memory.recall("toolu_1") == []


def test_thinking_memory_is_bounded() -> None:
    from construct.dialects.anthropic_messages import ThinkingMemory

    memory = ThinkingMemory(limit=2)
    block = {"type": "thinking", "thinking": "t", "signature": "s"}
    for i in range(3):
        memory.remember([ToolCall(f"toolu_{i}", "f")], [block])
    assert memory.recall("toolu_0") == []
    assert memory.recall("toolu_2") == [block]
    memory.recall("toolu_2")[0]["thinking"] = "changed"
    assert memory.recall("toolu_2") == [block]
