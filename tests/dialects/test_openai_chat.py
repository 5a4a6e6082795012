"""The OpenAI chat-completions dialect, sans I/O: dicts in, dicts out.

Every request body is checked against the openai SDK's request types
(`validate_chat_request`); response bodies and stream chunks are built with
the SDK's response models (`completion`, `chunk`) where their shape allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from construct.dialects.openai_chat import (
    ChatSettings,
    OpenAIChat,
    chat_url,
    is_reasoning_model,
    models_url,
)
from construct.dialects.prompt_tools import build_tool_instructions
from construct.errors import (
    AuthError,
    InvalidResponse,
    ProviderError,
    RateLimited,
    TransientError,
)
from construct.types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelEntry,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.oracle import chunk, completion, validate_chat_request

URL = "https://api.acme.test/v1/chat/completions"
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec("now")  # no description, default parameters


def dialect(**settings: Any) -> OpenAIChat:
    return OpenAIChat(
        ChatSettings("acme", "Acme", URL, "https://api.acme.test/v1/models", **settings)
    )


def body(
    messages: Sequence[ChatMessage] | ChatRequest,
    *,
    model: str = "gpt-4o",
    temperature: float | None = None,
    stream: bool = False,
    extensions: Iterable[str] = (),
    **settings: Any,
) -> dict[str, Any]:
    request = messages if isinstance(messages, ChatRequest) else ChatRequest(tuple(messages))
    out = dialect(**settings).body(request, model, temperature, stream)
    validate_chat_request(out, extensions=extensions)
    return out


HI = [ChatMessage.user("hi")]


# -- request bodies ---------------------------------------------------------------


def test_plain_text() -> None:
    assert body(HI) == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_request_and_models_request() -> None:
    d = dialect()
    req = d.chat_request(ChatRequest(HI), "m", None, False, {"Authorization": "Bearer k"})
    assert (req.method, req.url, req.headers) == ("POST", URL, {"Authorization": "Bearer k"})
    assert req.json == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    models = d.models_request({"Authorization": "Bearer k"})
    assert (models.method, models.url, models.json) == (
        "GET",
        "https://api.acme.test/v1/models",
        None,
    )


def test_whole_history_with_tool_turns() -> None:
    out = body(
        [
            ChatMessage.system("Be brief."),
            ChatMessage.user("Weather in Paris and the time?"),
            ChatMessage.assistant(
                "",
                [ToolCall("c1", "get_weather", '{"city": "Paris"}'), ToolCall("c2", "now", "")],
            ),
            ChatMessage.tool("c1", "18C"),
            ChatMessage.tool("c2", "12:00"),
            ChatMessage.assistant("Let me also check.", [ToolCall("c3", "now")]),
            ChatMessage.tool("c3", "12:01"),
            ChatMessage.assistant("18C, noon."),
            ChatMessage.user("thanks"),
        ]
    )
    assert out["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and the time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
        {
            "role": "assistant",
            "content": "Let me also check.",
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c3", "content": "12:01"},
        {"role": "assistant", "content": "18C, noon."},
        {"role": "user", "content": "thanks"},
    ]


def test_images_become_image_url_parts() -> None:
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    out = body(
        [
            ChatMessage.user("What is this?", images=["https://example.com/cat.png", data_uri]),
            ChatMessage.user("", images=["https://example.com/dog.jpg"]),
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": data_uri}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}}],
        },
    ]


def test_tools_with_tool_choice_auto() -> None:
    out = body(ChatRequest(tuple(HI), tools=(WEATHER, CLOCK)))
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
                "description": "Weather for a city",
            },
        },
        {
            "type": "function",
            "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert out["tool_choice"] == "auto"
    assert "tool_stream" not in out


def test_an_empty_tool_list_is_sent_without_tool_choice() -> None:
    out = body(ChatRequest(tuple(HI), tools=()))
    assert out["tools"] == []
    assert "tool_choice" not in out
    assert "tools" not in body(ChatRequest(tuple(HI), tools=None))


def test_tool_stream_only_with_tools() -> None:
    out = body(
        ChatRequest(tuple(HI), tools=(WEATHER,)), tool_stream=True, extensions=["tool_stream"]
    )
    assert out["tool_stream"] is True
    assert "tool_stream" not in body(ChatRequest(tuple(HI), tools=()), tool_stream=True)
    assert "tool_stream" not in body(HI, tool_stream=True)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_field_setting(field: str) -> None:
    out = body(ChatRequest(tuple(HI), max_tokens=300), max_tokens_field=field)
    assert out[field] == 300
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert not other & set(out)


def test_request_max_tokens_wins_over_the_default() -> None:
    assert body(HI, default_max_tokens=4096)["max_tokens"] == 4096
    assert body(ChatRequest(tuple(HI), max_tokens=50), default_max_tokens=4096)["max_tokens"] == 50
    assert "max_tokens" not in body(HI)


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o1-mini", True),
        ("o1-preview", True),
        ("o3", True),
        ("o3-mini-2025-01-31", True),
        ("o4-mini", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("gpt-5-nano", True),
        ("gpt-5.1", True),
        ("GPT-5", True),
        ("gpt-5-chat-latest", False),
        ("gpt-5.1-chat-latest", False),
        ("gpt-4o", False),
        ("gpt-4o-mini", False),
        ("gpt-4.1", False),
        ("openai/o3", True),
        ("openai/gpt-5", True),
        ("openai/gpt-4o", False),
        ("o1x", False),
        ("o", False),
        ("o2", False),
        ("olmo-2", False),
        ("chatgpt-4o-latest", False),
    ],
)
def test_is_reasoning_model(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning


def test_reasoning_effort_for_any_model_without_openai_sampling() -> None:
    for model in ("llama-3.3-70b", "gpt-4o", "o3"):
        assert body(HI, model=model, reasoning_effort="high")["reasoning_effort"] == "high"
    assert "reasoning_effort" not in body(HI)


def test_reasoning_effort_only_for_reasoning_models_with_openai_sampling() -> None:
    def effort(model: str) -> str | None:
        out = body(HI, model=model, reasoning_effort="low", openai_sampling=True)
        return out.get("reasoning_effort")

    assert effort("o3") == "low"
    assert effort("gpt-5-mini") == "low"
    assert effort("gpt-4o") is None
    assert effort("gpt-5-chat-latest") is None


@pytest.mark.parametrize(
    ("model", "temperature", "openai_sampling", "sent"),
    [
        ("gpt-4o", None, False, None),
        ("gpt-4o", None, True, None),
        ("gpt-4o", 0.7, True, 0.7),
        ("gpt-4o", 0.0, True, 0.0),
        ("o3", 0.7, True, None),
        ("o3", 0.0, True, None),
        ("o3", 1.0, True, 1.0),
        ("gpt-5", 0.2, True, None),
        ("gpt-5-chat-latest", 0.2, True, 0.2),
        ("o3", 0.7, False, 0.7),
        ("llama-3", 0.0, False, 0.0),
    ],
)
def test_temperature_rules(
    model: str, temperature: float | None, openai_sampling: bool, sent: float | None
) -> None:
    out = body(HI, model=model, temperature=temperature, openai_sampling=openai_sampling)
    assert out.get("temperature", None) == sent
    assert ("temperature" in out) is (sent is not None)


def test_stream_adds_stream_and_usage_options() -> None:
    out = body(HI, stream=True)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    out = body(HI, stream=True, stream_usage=False)
    assert out["stream"] is True
    assert "stream_options" not in out
    assert "stream" not in body(HI)


def test_extra_is_merged_last() -> None:
    extra = {
        "response_format": {"type": "json_object"},
        "top_p": 0.9,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "temperature": 0.1,
    }
    out = body(ChatRequest(tuple(HI), tools=(WEATHER,), extra=extra), temperature=0.9)
    assert out["response_format"] == {"type": "json_object"}
    assert out["top_p"] == 0.9
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["temperature"] == 0.1
    required = body(ChatRequest(tuple(HI), tools=(WEATHER,), extra={"tool_choice": "required"}))
    assert required["tool_choice"] == "required"


# -- system merge -------------------------------------------------------------------


SYSTEMS = [
    ChatMessage.system("Rule one."),
    ChatMessage.user("hi"),
    ChatMessage.system("Rule two."),
    ChatMessage.assistant("hello"),
    ChatMessage.user("again"),
]
MERGED = [
    {"role": "user", "content": "Rule one.\n\nRule two.\n\nhi"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": "again"},
]


def test_merge_system_setting() -> None:
    assert body(SYSTEMS, merge_system=True)["messages"] == MERGED
    assert body(SYSTEMS)["messages"][0] == {"role": "system", "content": "Rule one."}


@pytest.mark.parametrize(
    "model",
    [
        "deepseek-ai/DeepSeek-V3",
        "DeepSeek-V3-0324",
        "accounts/x/models/deepseek_v3",
        "deepseek-v3.1",
    ],
)
def test_deepseek_v3_model_names_merge_system(model: str) -> None:
    assert body(SYSTEMS, model=model)["messages"] == MERGED


@pytest.mark.parametrize("model", ["deepseek-chat", "deepseek-reasoner", "deepseek-v3/other"])
def test_other_deepseek_names_keep_system(model: str) -> None:
    # Only the part after the last `/` is the model name.
    assert body(SYSTEMS, model=model)["messages"][0]["role"] == "system"


def test_merge_with_image_parts_prefixes_a_text_part() -> None:
    messages = [
        ChatMessage.system("Describe."),
        ChatMessage.user("this", images=["https://example.com/a.png"]),
    ]
    assert body(messages, merge_system=True)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe.\n\n"},
                {"type": "text", "text": "this"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
    ]


def test_merge_without_a_user_message_inserts_one_first() -> None:
    messages = [ChatMessage.system("Only rules."), ChatMessage.assistant("ok")]
    assert body(messages, merge_system=True)["messages"] == [
        {"role": "user", "content": "Only rules."},
        {"role": "assistant", "content": "ok"},
    ]


def test_merge_into_an_empty_user_message_and_empty_system_text() -> None:
    assert body([ChatMessage.system("S"), ChatMessage.user("")], merge_system=True)["messages"] == [
        {"role": "user", "content": "S"}
    ]
    # Blank system messages carry nothing to merge; they are dropped.
    assert body([ChatMessage.system(""), ChatMessage.user("u")], merge_system=True)["messages"] == [
        {"role": "user", "content": "u"}
    ]


# -- prompt-guided tools ---------------------------------------------------------------


def test_prompt_guided_tools_go_into_an_existing_system_message() -> None:
    request = ChatRequest(
        (ChatMessage.system("Be brief."), ChatMessage.user("Weather in Paris?")), tools=(WEATHER,)
    )
    out = body(request, native_tools=False)
    assert "tools" not in out
    assert "tool_choice" not in out
    assert out["messages"] == [
        {"role": "system", "content": "Be brief.\n\n" + build_tool_instructions([WEATHER])},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert out["messages"][0]["content"].endswith(
        "### Available Tools\n\n**get_weather**: Weather for a city\nParameters: "
        '`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`\n\n'
    )


def test_prompt_guided_tools_insert_a_first_system_message() -> None:
    request = ChatRequest((ChatMessage.user("hi"),), tools=(WEATHER, CLOCK))
    out = body(request, native_tools=False)
    assert out["messages"] == [
        {"role": "system", "content": build_tool_instructions([WEATHER, CLOCK])},
        {"role": "user", "content": "hi"},
    ]


def test_prompt_guided_history_renders_tool_turns_as_text() -> None:
    request = ChatRequest(
        (
            ChatMessage.user("Weather?"),
            ChatMessage.assistant("Checking.", [ToolCall("c1", "get_weather", '{"city":"Oslo"}')]),
            ChatMessage.tool("c1", "-3C"),
        ),
        tools=(WEATHER,),
    )
    out = body(request, native_tools=False)
    assert out["messages"][1:] == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": 'Checking.\n<tool_call>\n{"id": "c1", "name": "get_weather", '
            '"arguments": {"city": "Oslo"}}\n</tool_call>',
        },
        {
            "role": "user",
            "content": '[Tool results]\n<tool_result id="c1">\n-3C\n</tool_result>',
        },
    ]


def test_prompt_guided_with_merge_puts_the_instructions_in_the_user_message() -> None:
    request = ChatRequest((ChatMessage.user("hi"),), tools=(CLOCK,))
    out = body(request, native_tools=False, merge_system=True)
    assert out["messages"] == [
        {"role": "user", "content": build_tool_instructions([CLOCK]) + "\n\nhi"}
    ]


def test_prompt_guided_without_tools_sends_the_history_unchanged_but_as_text() -> None:
    out = body(ChatRequest(tuple(HI), tools=()), native_tools=False)
    assert out == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


# -- URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "api_path", "url"),
    [
        ("https://h.test/v1", None, "https://h.test/v1/chat/completions"),
        ("https://h.test/v1/", None, "https://h.test/v1/chat/completions"),
        ("https://h.test", None, "https://h.test/chat/completions"),
        ("https://h.test/v1/chat/completions", None, "https://h.test/v1/chat/completions"),
        ("https://h.test/v1/chat/completions/", None, "https://h.test/v1/chat/completions"),
        (
            "https://h.test/v1/chat/completions?api-version=1",
            None,
            "https://h.test/v1/chat/completions?api-version=1",
        ),
        ("https://h.test/v1", "/text/chat", "https://h.test/v1/text/chat"),
        ("https://h.test/v1", "text/chat", "https://h.test/v1/text/chat"),
        ("https://h.test/v1/", "/text/chat", "https://h.test/v1/text/chat"),
        ("https://h.test/v1/chat/completions", "/x", "https://h.test/v1/chat/completions/x"),
        ("https://h.test/v1", "", "https://h.test/v1/chat/completions"),
    ],
)
def test_chat_url(base: str, api_path: str | None, url: str) -> None:
    assert chat_url(base, api_path) == url


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://h.test/v1", "https://h.test/v1/models"),
        ("https://h.test/v1/", "https://h.test/v1/models"),
        ("https://h.test/v1/chat/completions", "https://h.test/v1/models"),
        ("https://h.test/v1/chat/completions/", "https://h.test/v1/models"),
    ],
)
def test_models_url(base: str, url: str) -> None:
    assert models_url(base) == url


# -- parse_chat ---------------------------------------------------------------------------


def parse(data: Any, model: str = "asked-model", **settings: Any) -> ChatResponse:
    return dialect(**settings).parse_chat(data, model)


def test_parse_text() -> None:
    response = parse(completion("Hello!", model="served-model", usage=(12, 5)))
    assert response == ChatResponse(
        text="Hello!",
        usage=Usage(12, 5, None),
        stop_reason="end_turn",
        model="served-model",
        provider="acme",
    )


def test_parse_uses_the_requested_model_when_the_body_has_none() -> None:
    data = completion("x")
    del data["model"]
    assert parse(data).model == "asked-model"


@pytest.mark.parametrize(
    ("content", "text", "reasoning"),
    [
        ("<think>Let me see.</think>\n\nParis.", "Paris.", "Let me see."),
        ("<think>a</think>One <think>b</think>two", "One two", "a\nb"),
        ("Answer<think>cut off mid-thought", "Answer", "cut off mid-thought"),
        ("<think>only thinking</think>", "", "only thinking"),
        ("no think at all", "no think at all", None),
    ],
)
def test_think_blocks_move_to_reasoning(content: str, text: str, reasoning: str | None) -> None:
    response = parse(completion(content))
    assert (response.text, response.reasoning_content) == (text, reasoning)


def message_body(message: dict[str, Any], finish_reason: str | None = "stop", **top: Any) -> dict:
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], **top}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields(field: str) -> None:
    response = parse(message_body({"role": "assistant", "content": "42", field: "Thinking..."}))
    assert (response.text, response.reasoning_content) == ("42", "Thinking...")


def test_reasoning_field_wins_over_inline_think() -> None:
    msg = {"role": "assistant", "content": "<think>inline</think>A", "reasoning_content": "field"}
    response = parse(message_body(msg))
    assert (response.text, response.reasoning_content) == ("A", "field")


def test_content_as_a_list_of_parts() -> None:
    content = [
        {"type": "text", "text": "Hello "},
        {"type": "image_url", "image_url": {"url": "https://x"}},
        {"type": "text", "text": "world"},
        "junk",
    ]
    assert parse(message_body({"role": "assistant", "content": content})).text == "Hello world"


def test_null_content() -> None:
    response = parse(message_body({"role": "assistant", "content": None}))
    assert (response.text, response.reasoning_content, response.tool_calls) == ("", None, ())


def test_tool_calls() -> None:
    data = completion(
        None,
        finish_reason="tool_calls",
        tool_calls=[("c1", "get_weather", '{"city": "Paris"}'), ("c2", "now", "")],
    )
    response = parse(data)
    assert response.tool_calls == (
        ToolCall("c1", "get_weather", '{"city": "Paris"}'),
        ToolCall("c2", "now", "{}"),
    )
    assert response.stop_reason == "tool_use"
    assert response.text == ""


def raw_calls(*calls: dict[str, Any], finish_reason: str = "tool_calls") -> tuple[ToolCall, ...]:
    msg = {"role": "assistant", "content": None, "tool_calls": list(calls)}
    return parse(message_body(msg, finish_reason)).tool_calls


def test_tool_call_argument_shapes() -> None:
    calls = raw_calls(
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}},
        {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{not json"}},
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "  "}},
        {"id": "d", "type": "function", "function": {"name": "f"}},
        {"id": "e", "type": "function", "function": {"name": "f", "arguments": None}},
    )
    assert [(c.id, c.arguments) for c in calls] == [
        ("a", '{"x": 1}'),
        ("b", "{}"),
        ("c", "{}"),
        ("d", "{}"),
        ("e", "{}"),
    ]


def test_tool_call_without_id_gets_one_and_without_name_is_dropped() -> None:
    calls = raw_calls(
        {"type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "x", "type": "function", "function": {"arguments": "{}"}},
        {"id": "y", "type": "function", "function": {"name": "", "arguments": "{}"}},
        "not a call",
    )
    assert len(calls) == 1
    assert calls[0].name == "f"
    assert calls[0].id.startswith("call_")
    assert calls[0].id != raw_calls({"function": {"name": "f"}})[0].id


def test_top_level_name_and_arguments_shape() -> None:
    calls = raw_calls(
        {"id": "a", "name": "f", "arguments": '{"q": 1}'},
        {"id": "b", "name": "g", "parameters": {"p": 2}},
        {"id": "c", "name": "h"},
    )
    assert calls == (
        ToolCall("a", "f", '{"q": 1}'),
        ToolCall("b", "g", '{"p": 2}'),
        ToolCall("c", "h"),
    )


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "content_filter"),
        ("function_call", "tool_use"),
        ("eos", "end_turn"),
        ("something_new", None),
        (None, None),
    ],
)
def test_finish_reasons(finish: str | None, stop: str | None) -> None:
    msg = {"role": "assistant", "content": "x"}
    assert parse(message_body(msg, finish)).stop_reason == stop


def test_tool_calls_with_finish_stop_are_tool_use() -> None:
    calls = [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    for finish in ("stop", "tool_calls"):
        response = parse(message_body({"role": "assistant", "tool_calls": calls}, finish))
        assert response.stop_reason == "tool_use"
    # Cut off while calling: the length is the news.
    response = parse(message_body({"role": "assistant", "tool_calls": calls}, "length"))
    assert response.stop_reason == "max_tokens"


def test_usage() -> None:
    assert parse(completion("x", usage=(100, 20), cached=64)).usage == Usage(100, 20, 64)
    deepseek = message_body(
        {"role": "assistant", "content": "x"},
        usage={
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "prompt_cache_hit_tokens": 80,
            "prompt_cache_miss_tokens": 20,
        },
    )
    assert parse(deepseek).usage == Usage(100, 20, 80)
    assert parse(completion("x", usage=None)).usage is None
    assert parse(message_body({"role": "assistant", "content": "x"}, usage=None)).usage is None


def test_no_choices_is_invalid_response() -> None:
    for data in ({"choices": []}, {"id": "x"}, {"choices": None}):
        with pytest.raises(InvalidResponse, match="No response from Acme") as info:
            parse(data)
        assert info.value.provider == "acme"
        assert info.value.is_retryable


@pytest.mark.parametrize(
    "data",
    [
        {"choices": {"0": {}}},
        {"choices": ["text"]},
        {"choices": [{"message": "text"}]},
        [completion("x")],
        "Hello",
        None,
    ],
)
def test_malformed_bodies_are_invalid_response(data: Any) -> None:
    with pytest.raises(InvalidResponse):
        parse(data)


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"message": "Rate limit exceeded", "code": 429}, RateLimited),
        ({"message": "Rate limit exceeded", "code": "429"}, RateLimited),
        ({"message": "No auth credentials found", "code": 401}, AuthError),
        ({"message": "Upstream error", "code": 502}, TransientError),
        ({"message": "Something", "code": "server_error"}, TransientError),
        ("overloaded", TransientError),
    ],
)
def test_error_inside_a_200(error: Any, cls: type[ProviderError]) -> None:
    with pytest.raises(cls) as info:
        parse({"error": error})
    assert info.value.provider == "acme"
    assert type(info.value) is cls


def test_prompt_guided_parse_back() -> None:
    content = (
        "<think>Need weather.</think>Let me check.\n"
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    response = parse(completion(content), native_tools=False)
    assert response.text == "Let me check."
    assert response.reasoning_content == "Need weather."
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert response.stop_reason == "tool_use"
    # A native dialect leaves the tags alone.
    assert parse(completion(content), native_tools=True).tool_calls == ()


# -- parse_models ---------------------------------------------------------------------------


def test_parse_openai_model_list() -> None:
    data = {
        "object": "list",
        "data": [
            {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"},
            {"id": "o3", "object": "model", "created": 2, "owned_by": "openai"},
            {"object": "model"},
            "junk",
        ],
    }
    assert dialect().parse_models(data) == [ModelEntry("gpt-4o"), ModelEntry("o3")]


def test_parse_openrouter_model_rows() -> None:
    data = {
        "data": [
            {
                "id": "anthropic/claude-sonnet-4",
                "name": "Anthropic: Claude Sonnet 4",
                "context_length": 200000,
                "architecture": {"input_modalities": ["text", "image"], "output_modalities": []},
                "top_provider": {"context_length": 200000, "max_completion_tokens": 64000},
            },
            {
                "id": "meta-llama/llama-3.3-70b-instruct",
                "name": "Llama 3.3 70B",
                "context_length": 131072,
                "architecture": {"input_modalities": ["text"]},
                "top_provider": {"max_completion_tokens": None},
            },
        ]
    }
    assert dialect().parse_models(data) == [
        ModelEntry("anthropic/claude-sonnet-4", "Anthropic: Claude Sonnet 4", 200000, 64000, True),
        ModelEntry("meta-llama/llama-3.3-70b-instruct", "Llama 3.3 70B", 131072, None, False),
    ]


def test_a_bare_list_of_models_and_a_bad_body() -> None:
    assert dialect().parse_models([{"id": "m"}]) == [ModelEntry("m")]
    with pytest.raises(InvalidResponse, match="no 'data' array"):
        dialect().parse_models({"models": []})


# -- streaming ------------------------------------------------------------------------------


def raw(finish_reason: str | None = None, index: int = 0, **delta: Any) -> dict[str, Any]:
    """A chunk with fields the SDK's models do not have (`reasoning_content`, odd shapes)."""
    choice = {"index": index, "delta": delta}
    if finish_reason:
        choice["finish_reason"] = finish_reason
    return {"choices": [choice]}


class Stream:
    """A `ChatStreamParser` fed SSE data strings; collects every event."""

    def __init__(self, tools: Sequence[ToolSpec] | None = None, **settings: Any) -> None:
        request = ChatRequest(tuple(HI), tools=tuple(tools) if tools is not None else None)
        self.parser = dialect(**settings).stream_parser(request, "asked-model")
        self.events: list[StreamEvent] = []

    def feed(self, *items: dict[str, Any] | str) -> list[StreamEvent]:
        new = []
        for item in items:
            new += self.parser.feed(item if isinstance(item, str) else json.dumps(item))
        self.events += new
        return new

    def finish(self) -> ChatResponse:
        self.events += self.parser.finish()
        assert self.events[-1].type == "final"
        assert [e.type for e in self.events].count("final") == 1
        response = self.events[-1].response
        assert response is not None
        return response

    def of(self, kind: str) -> str:
        return "".join(e.delta for e in self.events if e.type == kind)

    @property
    def text(self) -> str:
        return self.of("text_delta")

    @property
    def reasoning(self) -> str:
        return self.of("reasoning_delta")

    @property
    def calls(self) -> list[ToolCall]:
        return [e.tool_call for e in self.events if e.type == "tool_call" and e.tool_call]


def test_text_deltas_and_usage_only_final_chunk() -> None:
    s = Stream()
    assert s.feed(chunk("Hel")) == [StreamEvent.text("Hel")]
    s.feed(chunk("lo"), chunk(""), chunk(finish_reason="stop"))
    assert s.parser.partial_text == "Hello"
    s.feed(chunk(usage=(9, 2), no_choices=True, model="served-model"), "[DONE]")
    response = s.finish()
    assert s.text == "Hello"
    assert response == ChatResponse(
        text="Hello",
        usage=Usage(9, 2, None),
        stop_reason="end_turn",
        model="served-model",
        provider="acme",
    )


def test_complete_turns_true_on_finish_reason_or_done() -> None:
    s = Stream()
    s.feed(chunk("a"))
    assert not s.parser.complete
    s.feed(chunk(finish_reason="length"))
    assert s.parser.complete
    s = Stream()
    s.feed(chunk("a"), chunk(usage=(1, 1), no_choices=True))
    assert not s.parser.complete
    s.feed("[DONE]")
    assert s.parser.complete
    assert s.finish().stop_reason is None


def test_think_split_across_chunks() -> None:
    s = Stream()
    for piece in ["<thi", "nk>Let me ", "see.</thi", "nk>Par", "is.", " a <", "b"]:
        s.feed(chunk(piece))
    s.feed(chunk(finish_reason="stop"), "[DONE]")
    response = s.finish()
    assert s.reasoning == "Let me see."
    assert s.text == "Paris. a <b"
    assert response.text == "Paris. a <b"
    assert response.reasoning_content == "Let me see."
    assert all(e.delta for e in s.events if e.type != "final")


def test_a_held_tag_prefix_is_released_at_the_end() -> None:
    s = Stream()
    s.feed(chunk("x <thi"), chunk(finish_reason="stop"))
    assert s.text == "x "
    assert s.finish().text == "x <thi"
    assert s.text == "x <thi"


def test_reasoning_content_deltas() -> None:
    s = Stream()
    s.feed(
        raw(role="assistant", reasoning_content="Hmm, "),
        raw(reasoning="ok."),
        raw(content="42", reasoning_content=None),
        raw("stop"),
    )
    response = s.finish()
    assert [e.type for e in s.events] == [
        "reasoning_delta",
        "reasoning_delta",
        "text_delta",
        "final",
    ]
    assert (response.text, response.reasoning_content) == ("42", "Hmm, ok.")


def test_tool_call_deltas_for_two_indexes_interleaved() -> None:
    s = Stream(tools=[WEATHER, CLOCK])
    s.feed(
        chunk(tool_call=(0, "c1", "get_weather", "")),
        chunk(tool_call=(1, "c2", "now", None)),
        chunk(tool_call=(0, None, None, '{"ci')),
        chunk(tool_call=(1, None, None, "{}")),
        chunk(tool_call=(0, None, None, 'ty": "Paris"}')),
    )
    assert s.calls == []  # calls are whole only at the end
    s.feed(chunk(finish_reason="tool_calls"), "[DONE]")
    response = s.finish()
    expected = (ToolCall("c1", "get_weather", '{"city": "Paris"}'), ToolCall("c2", "now", "{}"))
    assert tuple(s.calls) == expected
    assert response.tool_calls == expected
    assert response.stop_reason == "tool_use"
    assert response.text == ""


def test_tool_call_deltas_without_id_name_or_valid_arguments() -> None:
    s = Stream(tools=[WEATHER])
    s.feed(
        chunk(tool_call=(0, None, "get_weather", '{"city": ')),
        chunk(tool_call=(1, "c2", None, "{}")),  # never named: dropped
        raw(
            tool_calls=[
                {"index": 2, "id": "c3", "function": {"name": "now", "arguments": {"as": "object"}}}
            ]
        ),
        raw(tool_calls=["junk"]),
        chunk(finish_reason="stop"),
    )
    response = s.finish()
    first, third = response.tool_calls
    assert first.id.startswith("call_")
    assert (first.name, first.arguments) == ("get_weather", "{}")
    assert third == ToolCall("c3", "now", '{"as": "object"}')
    assert response.stop_reason == "tool_use"


def test_choices_other_than_the_first_and_odd_chunks_are_ignored() -> None:
    s = Stream()
    s.feed(
        raw(index=1, content="other"),
        raw(content="mine"),
        {"choices": ["junk", {"index": 0, "delta": None}]},
        {"choices": {"index": 0}},
        [1, 2],
        "null",
        raw("stop"),
    )
    assert s.finish().text == "mine"


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"message": "Rate limit exceeded", "code": 429}, RateLimited),
        ({"message": "Provider returned error", "code": 502}, TransientError),
        ({"message": "Invalid key", "code": 401}, AuthError),
    ],
)
def test_mid_stream_error(error: dict[str, Any], cls: type[ProviderError]) -> None:
    s = Stream()
    s.feed(chunk("partial "))
    with pytest.raises(cls) as info:
        s.feed({"error": error, "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]})
    assert type(info.value) is cls
    assert s.parser.partial_text == "partial "


def test_non_json_data_is_invalid_response() -> None:
    s = Stream()
    with pytest.raises(InvalidResponse, match="not JSON: <html>"):
        s.feed("<html>oops</html>")


def test_prompt_guided_stream_holds_back_tool_call_text() -> None:
    s = Stream(tools=[WEATHER], native_tools=False)
    pieces = [
        "<think>plan</think>Let me check",
        ". <tool",
        '_call>{"name": "get_',
        'weather", "arguments": {"city": "Oslo"}}</tool_',
        "call>",
        " Done",
    ]
    for piece in pieces:
        s.feed(chunk(piece))
    s.feed(chunk(finish_reason="stop"), "[DONE]")
    response = s.finish()
    assert "tool_call" not in s.text
    assert "{" not in s.text
    assert s.text == "Let me check.  Done"
    assert s.reasoning == "plan"
    assert [(c.name, c.parsed_arguments()) for c in s.calls] == [("get_weather", {"city": "Oslo"})]
    assert response.tool_calls == tuple(s.calls)
    assert response.text == "Let me check.\nDone"
    assert response.stop_reason == "tool_use"
    assert response.reasoning_content == "plan"


def test_prompt_guided_stream_releases_a_tag_lookalike_at_the_end() -> None:
    s = Stream(tools=[WEATHER], native_tools=False)
    s.feed(chunk("a <tool_c"), chunk(finish_reason="stop"))
    assert s.text == "a "
    response = s.finish()
    assert s.text == "a <tool_c"
    assert response.text == "a <tool_c"
    assert response.tool_calls == ()
    s = Stream(tools=[WEATHER], native_tools=False)
    s.feed(chunk("b <t"), chunk(finish_reason="stop"))
    assert s.finish().text == "b <t"
    assert s.text == "b <t"


def test_prompt_guided_stream_without_tools_passes_tags_through() -> None:
    s = Stream(tools=None, native_tools=False)
    s.feed(chunk('<tool_call>{"name": "x"}</tool_call>'), chunk(finish_reason="stop"))
    response = s.finish()
    assert s.text == '<tool_call>{"name": "x"}</tool_call>'
    assert response.tool_calls == ()


def test_final_event_carries_the_whole_response() -> None:
    s = Stream(tools=[WEATHER])
    s.feed(
        chunk("Checking "),
        chunk("now."),
        chunk(tool_call=(0, "c1", "get_weather", '{"city":"Rome"}')),
        chunk(finish_reason="tool_calls"),
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 30,
                "completion_tokens": 8,
                "prompt_tokens_details": {"cached_tokens": 16},
            },
        },
        "[DONE]",
    )
    response = s.finish()
    assert [e.type for e in s.events] == ["text_delta", "text_delta", "tool_call", "final"]
    assert response == ChatResponse(
        text="Checking now.",
        tool_calls=(ToolCall("c1", "get_weather", '{"city":"Rome"}'),),
        usage=Usage(30, 8, 16),
        stop_reason="tool_use",
        model="test-model",
        provider="acme",
    )


def test_streamed_answer_after_think_matches_parse_chat():
    settings = ChatSettings(provider="p", display_name="P", url="u", models_url="m")
    dialect = OpenAIChat(settings)
    parser = dialect.stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    events = []
    for piece in ["<think>r</think>", "\n\n", "Ans", "wer"]:
        events += parser.feed(json.dumps(chunk(piece)))
    events += parser.feed(json.dumps(chunk(finish_reason="stop")))
    events += parser.finish()
    text = "".join(e.delta for e in events if e.type == "text_delta")
    whole = dialect.parse_chat(completion("<think>r</think>\n\nAnswer"), "m")
    assert text == events[-1].response.text == whole.text == "Answer"
    assert events[-1].response.reasoning_content == whole.reasoning_content == "r"
