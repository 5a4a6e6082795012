"""Ollama's native dialect, sans I/O: ChatRequest in, /api/chat body out; bodies and NDJSON
lines built from the `ollama` SDK's own types in, ChatResponse / StreamEvents out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ollama._types import Options

from construct import ChatMessage, ChatRequest, ToolCall, ToolSpec
from construct.dialects.ollama import (
    OPTION_FIELDS,
    Ollama,
    OllamaSettings,
    api_root,
    cloud_model_name,
)
from construct.errors import (
    AuthError,
    ConfigError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    RateLimited,
    TransientError,
)
from tests.oracle_ollama import chat_response, chunk, tags, validate_chat_request

# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # noqa: E501
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
AUTH = {"Authorization": "Bearer test-key"}


def dialect(root: str = "http://localhost:11434", **kw) -> Ollama:
    return Ollama(OllamaSettings("ollama", "Ollama", root, **kw))


def body(request: ChatRequest, temperature=None, stream=False, d=None, model="llama3.2"):
    req = (d or dialect()).chat_request(request, model, temperature, stream, {})
    validate_chat_request(req.json)
    return req.json


def ask(*messages: ChatMessage, **kw) -> ChatRequest:
    return ChatRequest(messages or (ChatMessage.user("hi"),), **kw)


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("http://localhost:11434", "http://localhost:11434"),
        ("http://localhost:11434/", "http://localhost:11434"),
        ("https://ollama.com/api", "https://ollama.com"),
        ("https://ollama.com/api/chat", "https://ollama.com"),
        ("http://gpu-box:11434/v1", "http://gpu-box:11434"),
        ("https://proxy.example.test/ollama", "https://proxy.example.test/ollama"),
    ],
)
def test_api_root_never_doubles_api_and_maps_v1_to_the_native_api(base, root):
    assert api_root(base) == root
    d = dialect(api_root(base))
    assert d.chat_request(ask(), "m", None, False, {}).url == root + "/api/chat"
    assert d.models_request({}).url == root + "/api/tags"


def test_option_fields_are_exactly_the_sdk_options():
    assert set(Options.model_fields) == OPTION_FIELDS


# -- request bodies ----------------------------------------------------------------------------


def test_plain_body_sends_stream_false_and_no_options_unless_set():
    sent = body(ask(ChatMessage.system("Be brief."), ChatMessage.user("hi")))
    assert sent == {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "stream": False,
    }


def test_temperature_and_max_tokens_go_in_options():
    sent = body(ask(max_tokens=64), temperature=0.2, stream=True)
    assert sent["stream"] is True
    assert sent["options"] == {"temperature": 0.2, "num_predict": 64}


def test_default_max_tokens_from_options_and_zero_temperature_is_sent():
    sent = body(ask(), temperature=0.0, d=dialect(default_max_tokens=99))
    assert sent["options"] == {"temperature": 0.0, "num_predict": 99}


def test_extra_option_fields_go_in_options_and_the_rest_on_top():
    extra = {"num_ctx": 8192, "options": {"top_p": 0.9}, "keep_alive": "5m", "format": "json"}
    sent = body(ask(extra=extra), temperature=0.5)
    assert sent["options"] == {"temperature": 0.5, "num_ctx": 8192, "top_p": 0.9}
    assert sent["keep_alive"] == "5m" and sent["format"] == "json"


@pytest.mark.parametrize(("setting", "extra", "sent"), [
    (None, {}, None),
    (True, {}, True),
    (False, {}, False),
    (None, {"think": "high"}, "high"),
    (True, {"think": False}, False),
])  # fmt: skip
def test_think_from_reasoning_enabled_or_extra(setting, extra, sent):
    got = body(ask(extra=extra), d=dialect(think=setting))
    assert got.get("think") == sent


def test_without_thinking_drops_think_once():
    d = dialect(think=True)
    again = d.without_thinking()
    assert again is not None and "think" not in body(ask(), d=again)
    assert again.without_thinking() is None
    assert dialect().without_thinking() is None


def test_images_are_bare_base64():
    message = ChatMessage.user("What is this?", images=[f"data:image/png;base64,{PNG}"])
    sent = body(ask(message))
    assert sent["messages"] == [{"role": "user", "content": "What is this?", "images": [PNG]}]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/cat.png", "cannot fetch images from URLs"),
        ("data:image/png,rawbytes", "base64"),
    ],
)
def test_image_urls_are_refused_with_a_clear_message(url, says):
    with pytest.raises(InvalidRequest, match=says) as info:
        dialect().chat_request(ask(ChatMessage.user("x", images=[url])), "m", None, False, {})
    assert info.value.provider == "ollama"


def test_native_tools_and_tool_history():
    history = ask(
        ChatMessage.user("Weather in Paris and Oslo?"),
        ChatMessage.assistant(
            "Checking.",
            [
                ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
                ToolCall("call_2", "get_time", '{"city": "Oslo"}'),
            ],
        ),
        ChatMessage.tool("call_2", "13:00"),
        ChatMessage.tool("call_1", '{"temp_c": 21}'),
        ChatMessage.tool("call_unknown", "orphan"),
        tools=(WEATHER,),
    )
    sent = body(history)
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"function": {"name": "get_time", "arguments": {"city": "Oslo"}}},
        ],
    }
    assert sent["messages"][2:] == [
        {"role": "tool", "content": "13:00", "tool_name": "get_time"},
        {"role": "tool", "content": '{"temp_c": 21}', "tool_name": "get_weather"},
        {"role": "tool", "content": "orphan"},
    ]


def test_prompt_guided_when_native_tools_are_off():
    sent = body(ask(ChatMessage.user("hi"), tools=(WEATHER,)), d=dialect(native_tools=False))
    assert "tools" not in sent
    assert sent["messages"][0]["role"] == "system"
    assert "## Tool Use Protocol" in sent["messages"][0]["content"]


def test_stream_requests_accept_ndjson_and_keep_auth_headers():
    req = dialect().chat_request(ask(), "m", None, True, AUTH)
    assert req.headers == {**AUTH, "Accept": "application/x-ndjson"}
    assert req.method == "POST"


# -- cloud models ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("glm-4.6:cloud", "glm-4.6"),
        ("gpt-oss:120b-cloud", "gpt-oss:120b"),
        ("llama3.2", "llama3.2"),
        ("cloud", "cloud"),
        ("my-cloud-model:latest", "my-cloud-model:latest"),
    ],
)
def test_cloud_model_names_on_ollama_com(model, name):
    assert cloud_model_name(model) == name


def test_cloud_models_go_unchanged_to_a_local_or_self_hosted_ollama():
    # A signed-in Ollama (`ollama signin`) serves cloud models under these names, keyless.
    for root in ("http://localhost:11434", "http://gpu-box.internal:11434"):
        req = dialect(root).chat_request(ask(), "gpt-oss:120b-cloud", None, False, {})
        assert req.json["model"] == "gpt-oss:120b-cloud"


def test_cloud_models_at_ollama_com_lose_the_suffix_and_need_a_key():
    d = dialect("https://ollama.com")
    assert d.chat_request(ask(), "glm-4.6:cloud", None, False, AUTH).json["model"] == "glm-4.6"
    assert d.chat_request(ask(), "gpt-oss:120b", None, False, AUTH).json["model"] == (
        "gpt-oss:120b"
    )
    with pytest.raises(ConfigError) as info:
        d.chat_request(ask(), "glm-4.6:cloud", None, False, {})
    message = str(info.value)
    assert "Model 'glm-4.6:cloud' requested cloud routing, but no API key is configured" in message
    assert "OLLAMA_API_KEY" in message


def test_connect_hint_says_how_to_start_a_local_ollama():
    hint = dialect().connect_hint
    assert "ollama serve" in hint and "https://ollama.com/download" in hint
    assert "running" in hint
    remote = dialect("http://gpu-box.internal:11434").connect_hint
    assert "http://gpu-box.internal:11434" in remote
    assert "https://ollama.com/download" not in remote


# -- responses ---------------------------------------------------------------------------------


def test_parse_text_usage_and_stop():
    response = dialect().parse_chat(chat_response("Paris.", usage=(30, 4)), "asked")
    assert response.text == "Paris."
    assert response.stop_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 4)
    assert response.usage.cached_input_tokens is None
    assert response.model == "llama3.2" and response.provider == "ollama"
    assert response.tool_calls == () and response.reasoning_content is None


def test_parse_length_is_max_tokens():
    response = dialect().parse_chat(chat_response("Par", done_reason="length"), "m")
    assert response.stop_reason == "max_tokens"


def test_parse_thinking_field_and_think_tags():
    plain = dialect().parse_chat(chat_response("42.", thinking="Six times seven."), "m")
    assert (plain.text, plain.reasoning_content) == ("42.", "Six times seven.")
    tagged = dialect().parse_chat(chat_response("<think>Hmm.</think>\n\n42."), "m")
    assert (tagged.text, tagged.reasoning_content) == ("42.", "Hmm.")


def test_parse_tool_calls_with_object_arguments_and_made_up_ids():
    data = chat_response(
        "",
        tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"})],
    )
    response = dialect().parse_chat(data, "m")
    assert response.stop_reason == "tool_use"
    assert [(c.name, json.loads(c.arguments)) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    ids = [c.id for c in response.tool_calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == 2


def test_parse_keeps_an_id_newer_ollama_sends():
    data = chat_response("", tool_calls=[("f", {})])
    data["message"]["tool_calls"][0]["id"] = "call_abc"
    assert dialect().parse_chat(data, "m").tool_calls[0].id == "call_abc"


def test_parse_prompt_guided_tool_calls():
    text = 'Sure.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'
    response = dialect(native_tools=False).parse_chat(chat_response(text), "m")
    assert response.text == "Sure."
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == [
        ("get_weather", {"city": "Rome"})
    ]
    assert response.stop_reason == "tool_use"


@pytest.mark.parametrize("data", [[1], "text", {"model": "m", "done": True}, {"message": "x"}])
def test_unreadable_bodies_are_invalid_response(data):
    with pytest.raises(InvalidResponse):
        dialect().parse_chat(data, "m")


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ("model 'nope' not found", InvalidRequest),
        ('"gemma3" does not support tools', InvalidRequest),
        ("unauthorized", AuthError),
        ("rate limit exceeded", RateLimited),
        ("server busy, please try again.  maximum pending requests exceeded", TransientError),
        ("prompt is too long for this model", ContextWindowExceeded),
        ("llama runner process has terminated: signal: killed", TransientError),
    ],
)
def test_error_objects_are_classified(error, cls):
    with pytest.raises(cls) as info:
        dialect().parse_chat({"error": error}, "m")
    assert type(info.value) is cls
    assert error.split()[0] in str(info.value)


# -- streams ------------------------------------------------------------------------------------


def feed(parser, *lines) -> list:
    events = []
    for line in lines:
        events += parser.feed(json.dumps(line) if isinstance(line, dict) else line)
    return events


def test_stream_text_thinking_and_final():
    parser = dialect().stream_parser(ask(), "asked")
    events = feed(
        parser,
        chunk("", thinking="Let me "),
        chunk("", thinking="think."),
        chunk("\n\nHel"),
        chunk("lo"),
    )
    assert not parser.complete
    assert parser.partial_text == "Hello"
    events += feed(parser, chat_response("", usage=(7, 3)))
    assert parser.complete
    events += parser.finish()
    assert [(e.type, e.delta) for e in events[:-1]] == [
        ("reasoning_delta", "Let me "),
        ("reasoning_delta", "think."),
        ("text_delta", "Hel"),
        ("text_delta", "lo"),
    ]
    final = events[-1].response
    assert events[-1].type == "final"
    assert final.text == "Hello" and final.reasoning_content == "Let me think."
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)


def test_stream_think_tags_split_across_lines():
    parser = dialect().stream_parser(ask(), "m")
    events = feed(
        parser, chunk("<thi"), chunk("nk>why</th"), chunk("ink>Because."), chat_response("")
    )
    events += parser.finish()
    assert "".join(e.delta for e in events if e.type == "reasoning_delta") == "why"
    assert "".join(e.delta for e in events if e.type == "text_delta") == "Because."


def test_stream_tool_calls_arrive_whole_and_go_out_at_once():
    parser = dialect().stream_parser(ask(tools=(WEATHER,)), "m")
    events = feed(parser, chunk("", tool_calls=[("get_weather", {"city": "Paris"})]))
    assert [e.type for e in events] == ["tool_call"]
    assert events[0].tool_call.parsed_arguments() == {"city": "Paris"}
    events += feed(parser, chat_response(""))
    events += parser.finish()
    assert [e.type for e in events] == ["tool_call", "final"]
    assert events[-1].response.tool_calls == (events[0].tool_call,)
    assert events[-1].response.stop_reason == "tool_use"


def test_stream_prompt_guided_tool_calls_are_held_back_from_text():
    text = 'OK <tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'
    parser = dialect(native_tools=False).stream_parser(ask(tools=(WEATHER,)), "m")
    events = feed(parser, *(chunk(text[i : i + 7]) for i in range(0, len(text), 7)))
    events += feed(parser, chat_response("")) + parser.finish()
    assert "".join(e.delta for e in events if e.type == "text_delta").strip() == "OK"
    assert [e.tool_call.name for e in events if e.type == "tool_call"] == ["get_weather"]
    assert events[-1].response.stop_reason == "tool_use"


def test_stream_error_line_raises():
    parser = dialect().stream_parser(ask(), "m")
    feed(parser, chunk("Hel"))
    with pytest.raises(TransientError, match="runner"):
        feed(parser, {"error": "llama runner process has terminated"})


def test_stream_line_that_is_not_json_is_invalid_response():
    with pytest.raises(InvalidResponse, match="not JSON"):
        dialect().stream_parser(ask(), "m").feed("<html>")


# -- models --------------------------------------------------------------------------------------


def test_parse_models_from_the_sdk_list_response():
    data = tags(("llama3.2:latest", "3.2B", "Q4_K_M"), ("gpt-oss:120b-cloud", None, None))
    entries = dialect().parse_models(data)
    assert [(e.model_id, e.display_name) for e in entries] == [
        ("llama3.2:latest", "llama3.2:latest (3.2B, Q4_K_M)"),
        ("gpt-oss:120b-cloud", "gpt-oss:120b-cloud"),
    ]


def test_parse_models_prefers_the_name_field_the_api_sends():
    data = {"models": [{"name": "qwen3:8b", "model": "qwen3:8b-ignored", "details": {}}]}
    assert [e.model_id for e in dialect().parse_models(data)] == ["qwen3:8b"]


def test_parse_models_without_a_models_array_is_invalid_response():
    with pytest.raises(InvalidResponse, match="models"):
        dialect().parse_models({"data": []})


def test_module_does_not_import_the_sdk():
    code = "import sys, construct.dialects.ollama; print('ollama' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
