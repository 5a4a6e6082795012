"""The Gemini dialect, sans I/O: ChatRequest in, REST dict out; REST bodies in, ChatResponse out.

The official `google-genai` SDK is the oracle (tests/oracle_gemini.py): request
bodies parse with its models unchanged and equal what its own converter builds;
response bodies are its response models dumped in REST form.
"""

from __future__ import annotations

import json

import pytest
from google import genai
from google.genai import models as sdk_models_module
from google.genai import types

from construct import ChatMessage, ChatRequest, ToolCall, ToolSpec
from construct.auth import HeaderKey
from construct.dialects.gemini import (
    DUMMY_THOUGHT_SIGNATURE,
    GENERATION_CONFIG_FIELDS,
    Gemini,
    GeminiSettings,
    GeminiStreamFramer,
    model_path,
    split_signature,
)
from construct.errors import (
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    QuotaExhausted,
    RateLimited,
    TransientError,
)
from construct.secrets import Secret
from tests.oracle_gemini import (
    TOP_LEVEL_KEYS,
    call_part,
    error_body,
    model_row,
    models_page,
    parses_as_sdk_response,
    response,
    retry_info,
    same_request,
    sdk_models,
    sdk_request,
    sse,
    text_part,
    usage,
    validate_request,
)

BASE = "https://generativelanguage.googleapis.com/v1beta"
DIALECT = Gemini(GeminiSettings("gemini", "Google Gemini", BASE))


def auth_headers(key: str | None) -> dict[str, str]:
    """What the `gemini` row's auth sends (no key: none, as for a keyless proxy)."""
    auth = HeaderKey("gemini", "Google Gemini", (), required=False, header="x-goog-api-key")
    return auth.headers(Secret(key) if key else None)


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER = ToolSpec("get_weather", "Current weather for a city", WEATHER_SCHEMA)
PNG = "iVBORw0KGgo="  # the PNG signature, base64


def body(request: ChatRequest, model: str = "gemini-2.5-flash", temperature=None) -> dict:
    built = DIALECT.chat_request(request, model, temperature, False, {}).json
    validate_request(built)
    return built


def chunks(*bodies: dict) -> list[str]:
    """The payloads the framer yields for an SSE stream of these bodies."""
    framer = GeminiStreamFramer()
    return framer.feed(sse(bodies)) + framer.flush()


# -- the oracle itself ----------------------------------------------------------------------


def test_top_level_keys_are_what_the_sdk_converter_writes():
    config = types.GenerateContentConfig(
        system_instruction="s",
        temperature=0.1,
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="f")])],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="AUTO")
        ),
        safety_settings=[
            types.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")
        ],
        cached_content="cachedContents/abc",
        labels={"team": "x"},
        service_tier="standard",
        store=True,
    )
    written = set(
        sdk_request("m", [types.Content(role="user", parts=[types.Part(text="x")])], config)
    )
    assert written <= TOP_LEVEL_KEYS
    assert TOP_LEVEL_KEYS - written <= {"continuationToken"}


def test_generation_config_fields_are_sdk_generation_config_fields():
    aliases = {f.alias for f in types.GenerationConfig.model_fields.values()}
    assert aliases >= GENERATION_CONFIG_FIELDS


def test_response_bodies_are_the_rest_shape_the_sdk_reads_back():
    sent = response(
        text_part("hm", thought=True),
        "Hi",
        call_part("f", {"a": 1}, call_id="x", signature=b"\x01\x02"),
        usage_metadata=usage(thoughts=3, cached=2),
    )
    assert "usageMetadata" in sent and "finishReason" in sent["candidates"][0]
    parsed = parses_as_sdk_response(sent)
    assert parsed.candidates[0].content.parts[2].thought_signature == b"\x01\x02"
    assert parsed.usage_metadata.thoughts_token_count == 3


# -- requests --------------------------------------------------------------------------------


def test_a_whole_conversation_equals_what_the_sdk_sends():
    request = ChatRequest(
        (
            ChatMessage.system("Be terse."),
            ChatMessage.user("What is this?", images=[f"data:image/png;base64,{PNG}"]),
            ChatMessage.assistant("A PNG header."),
            ChatMessage.system("Use metric units."),
            ChatMessage.user("Weather in Paris?"),
            ChatMessage.assistant(
                "", [ToolCall("fc1__thought__AQID", "get_weather", '{"city": "Paris"}')]
            ),
            ChatMessage.tool("fc1__thought__AQID", '{"temp_c": 21}'),
        ),
        tools=(WEATHER,),
        max_tokens=256,
        extra={"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}},
    )
    ours = body(request, temperature=0.4)
    sdk = sdk_request(
        "gemini-2.5-flash",
        [
            types.Content(
                role="user",
                parts=[
                    types.Part(text="What is this?"),
                    types.Part.from_bytes(data=b"\x89PNG\r\n\x1a\n", mime_type="image/png"),
                ],
            ),
            types.Content(role="model", parts=[types.Part(text="A PNG header.")]),
            types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
            types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(
                            id="fc1", name="get_weather", args={"city": "Paris"}
                        ),
                        thought_signature=b"\x01\x02\x03",
                    )
                ],
            ),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id="fc1", name="get_weather", response={"temp_c": 21}
                        )
                    )
                ],
            ),
        ],
        types.GenerateContentConfig(
            system_instruction=types.Content(
                parts=[types.Part(text="Be terse.\n\nUse metric units.")]
            ),
            temperature=0.4,
            max_output_tokens=256,
            thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True),
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name="get_weather",
                            description="Current weather for a city",
                            parameters_json_schema=WEATHER_SCHEMA,
                        )
                    ]
                )
            ],
        ),
    )
    assert same_request(ours, sdk), json.dumps(ours, indent=1)


def test_a_tool_declared_from_a_python_function_matches_the_sdks_own_declaration():
    def get_weather(city: str, unit: str = "celsius"):  # no return type: no responseJsonSchema
        """Current weather for a city."""

    client = genai.Client(api_key="oracle-key-not-sent")
    declaration = types.FunctionDeclaration.from_callable(
        client=client, callable=get_weather, use_json_schema=True
    )
    tool = ToolSpec("get_weather", declaration.description, declaration.parameters_json_schema)
    ours = body(ChatRequest((ChatMessage.user("x"),), tools=(tool,)))
    assert ours["tools"] == [
        {
            "functionDeclarations": [
                declaration.model_dump(mode="json", by_alias=True, exclude_none=True)
            ]
        }
    ]


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("gemini-2.5-flash", "models/gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "models/gemini-2.5-flash"),
        (" gemini-3-pro-preview ", "models/gemini-3-pro-preview"),
        ("tunedModels/my-model-7", "tunedModels/my-model-7"),
    ],
)
def test_model_path_never_doubles_the_models_prefix(model, path):
    assert model_path(model) == path
    assert DIALECT.chat_request(
        ChatRequest((ChatMessage.user("x"),)), model, None, False, {}
    ).url == (f"{BASE}/{path}:generateContent")


def test_urls_headers_and_stream_framing():
    request = ChatRequest((ChatMessage.user("hi"),))
    headers = auth_headers("AIza-secret-key-0123456789")
    plain = DIALECT.chat_request(request, "gemini-2.5-flash", None, False, headers)
    streamed = DIALECT.chat_request(request, "gemini-2.5-flash", None, True, headers)
    assert plain.url == f"{BASE}/models/gemini-2.5-flash:generateContent"
    assert streamed.url == f"{BASE}/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert streamed.binary_stream and not plain.binary_stream
    assert (
        plain.json == streamed.json == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    )
    for req in (plain, streamed, DIALECT.models_request(headers)):
        assert req.headers == {"x-goog-api-key": "AIza-secret-key-0123456789"}
        assert "AIza" not in req.url and "key=" not in req.url  # C5
    assert auth_headers(None) == {}


def test_sampling_and_token_limits_only_when_set():
    request = ChatRequest((ChatMessage.user("x"),))
    assert "generationConfig" not in body(request)  # C6: nothing asked, nothing sent
    assert body(request, temperature=0.0)["generationConfig"] == {"temperature": 0.0}
    limited = Gemini(GeminiSettings("gemini", "Google Gemini", BASE, default_max_tokens=500))
    assert limited.body(request, "m", None)["generationConfig"] == {"maxOutputTokens": 500}
    own = ChatRequest((ChatMessage.user("x"),), max_tokens=20)
    assert limited.body(own, "m", None)["generationConfig"] == {"maxOutputTokens": 20}


def test_system_messages_are_joined_into_the_system_instruction():
    sent = body(
        ChatRequest((ChatMessage.system("One."), ChatMessage.user("x"), ChatMessage.system("Two.")))
    )
    assert sent["systemInstruction"] == {"parts": [{"text": "One.\n\nTwo."}]}
    assert [c["role"] for c in sent["contents"]] == ["user"]


def test_a_lone_system_prompt_becomes_the_prompt_and_an_empty_request_is_refused():
    sent = body(ChatRequest((ChatMessage.system("Say hi."),)))
    assert sent == {"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}]}
    with pytest.raises(InvalidRequest, match="no message"):
        DIALECT.body(ChatRequest((ChatMessage.user(""),)), "m", None)


def test_turns_of_one_role_merge_and_empty_turns_are_dropped():
    sent = body(
        ChatRequest(
            (
                ChatMessage.user("a"),
                ChatMessage.user("b"),
                ChatMessage.assistant(""),
                ChatMessage.assistant("c"),
            )
        )
    )
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
    ]


def test_parallel_tool_results_share_one_user_turn_and_find_their_names():
    calls = [
        ToolCall("call_a", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_b", "get_time", '{"tz": "CET"}'),
    ]
    sent = body(
        ChatRequest(
            (
                ChatMessage.user("Weather and time?"),
                ChatMessage.assistant("", calls),
                ChatMessage.tool("call_b", "12:00"),
                ChatMessage.tool("call_a", "[1, 2]"),
                ChatMessage.user("Thanks."),
            )
        )
    )
    assert sent["contents"][2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "id": "call_b",
                    "name": "get_time",
                    "response": {"output": "12:00"},
                }
            },
            {
                "functionResponse": {
                    "id": "call_a",
                    "name": "get_weather",
                    "response": {"output": [1, 2]},
                }
            },
            {"text": "Thanks."},
        ],
    }


def test_a_tool_result_without_its_call_is_refused_before_sending():
    orphan = ChatRequest((ChatMessage.user("x"), ChatMessage.tool("call_zz", "1")))
    with pytest.raises(InvalidRequest, match="call_zz"):
        DIALECT.body(orphan, "gemini-2.5-flash", None)


def test_signatures_ride_in_the_id_and_missing_ones_get_googles_placeholder_on_gemini_3():
    history = (
        ChatMessage.user("x"),
        ChatMessage.assistant(
            "",
            [ToolCall("call_1", "f", "{}"), ToolCall("call_2", "g", "{}")],
        ),
        ChatMessage.tool("call_1", "a"),
        ChatMessage.tool("call_2", "b"),
    )
    gemini3 = body(ChatRequest(history), "gemini-3-pro-preview")["contents"][1]["parts"]
    assert gemini3[0]["thoughtSignature"] == DUMMY_THOUGHT_SIGNATURE
    assert "thoughtSignature" not in gemini3[1]  # parallel calls: the first one carries it
    gemini25 = body(ChatRequest(history), "gemini-2.5-pro")["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in gemini25)
    assert split_signature("abc__thought__c2ln") == ("abc", "c2ln")
    assert split_signature("call_1") == ("call_1", None)


def test_images_inline_from_data_uris_and_by_uri_from_urls():
    request = ChatRequest(
        (
            ChatMessage.user(
                "Compare",
                images=[
                    f"data:image/png;base64,{PNG}",
                    "https://example.com/cat.WEBP?size=large",
                    "https://cdn.example.com/img/8c1f2",
                    "data:image/svg+xml,%3Csvg%2F%3E",
                ],
            ),
        )
    )
    parts = body(request)["contents"][0]["parts"]
    assert parts == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {
            "fileData": {
                "mimeType": "image/webp",
                "fileUri": "https://example.com/cat.WEBP?size=large",
            }
        },
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://cdn.example.com/img/8c1f2"}},
        {"inlineData": {"mimeType": "image/svg+xml", "data": "PHN2Zy8+"}},
    ]


def test_a_malformed_data_uri_is_refused_before_sending():
    bad = ChatRequest((ChatMessage.user("x", images=["data:image/png;base64,not base64!"]),))
    with pytest.raises(InvalidRequest, match="data URI"):
        DIALECT.body(bad, "m", None)


def test_extra_goes_where_gemini_wants_it():
    request = ChatRequest(
        (ChatMessage.user("x"),),
        tools=(WEATHER,),
        extra={
            "thinking_config": {"thinkingLevel": "LOW"},
            "topK": 40,
            "generationConfig": {"stopSequences": ["END"]},
            "tools": [{"googleSearch": {}}],
            "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
            ],
        },
    )
    sent = body(request, temperature=0.2)
    assert sent["generationConfig"] == {
        "temperature": 0.2,
        "thinkingConfig": {"thinkingLevel": "LOW"},
        "topK": 40,
        "stopSequences": ["END"],
    }
    assert [list(t) for t in sent["tools"]] == [["functionDeclarations"], ["googleSearch"]]
    assert sent["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"


def test_tool_schemas_lose_only_their_meta_keys_and_empty_ones_are_left_out():
    rich = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "when": {"anyOf": [{"$ref": "#/$defs/Day"}, {"type": "null"}]},
        },
        "$defs": {"Day": {"type": "string", "enum": ["mon", "tue"]}},
    }
    tools = (ToolSpec("plan", "Plan", rich), ToolSpec("ping", "Ping"))
    declarations = body(ChatRequest((ChatMessage.user("x"),), tools=tools))["tools"][0][
        "functionDeclarations"
    ]
    assert declarations[0]["parametersJsonSchema"] == {
        k: v for k, v in rich.items() if k != "$schema"
    }
    assert declarations[1] == {"name": "ping", "description": "Ping"}


# -- responses -------------------------------------------------------------------------------


def test_parse_text_reasoning_calls_usage_and_model_like_the_sdk():
    data = response(
        text_part("Let me think.", thought=True),
        "Checking the weather.",
        call_part("get_weather", {"city": "Paris"}, call_id="fc-7", signature=b"\x0a\x0b"),
        call_part("get_weather", {"city": "Oslo"}),
        usage_metadata=usage(30, 9, thoughts=11, cached=8, tool_prompt=4),
    )
    parsed = DIALECT.parse_chat(data, "gemini-2.5-flash")
    sdk = parses_as_sdk_response(data)
    assert parsed.text == sdk.text == "Checking the weather."
    assert parsed.reasoning_content == "Let me think."
    assert [(c.name, c.parsed_arguments()) for c in parsed.tool_calls] == [
        (fc.name, fc.args) for fc in sdk.function_calls
    ]
    first, second = parsed.tool_calls
    assert first.id == "fc-7__thought__Cgs="
    assert second.id.startswith("call_") and "__thought__" not in second.id
    assert parsed.stop_reason == "tool_use"
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (34, 20)
    assert parsed.usage.cached_input_tokens == 8
    assert parsed.model == "gemini-2.5-flash-001"
    assert parsed.provider == "gemini"


def test_a_parsed_call_sent_back_carries_its_id_and_signature():
    data = response(call_part("f", {"x": 1}, call_id="g1", signature=b"sig-bytes"))
    call = DIALECT.parse_chat(data, "gemini-3-pro-preview").tool_calls[0]
    history = ChatRequest(
        (ChatMessage.user("q"), ChatMessage.assistant("", [call]), ChatMessage.tool(call.id, "7"))
    )
    contents = body(history, "gemini-3-pro-preview")["contents"]
    assert contents[1]["parts"] == [
        {
            "functionCall": {"id": "g1", "name": "f", "args": {"x": 1}},
            "thoughtSignature": "c2lnLWJ5dGVz",
        }
    ]
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "g1"


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("STOP", "end_turn"),
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", None),
        ("OTHER", None),
    ],
)
def test_finish_reasons(finish, stop):
    assert DIALECT.parse_chat(response("x", finish=finish), "m").stop_reason == stop


def test_a_candidate_filtered_before_any_text_is_an_empty_content_filter_answer():
    parsed = DIALECT.parse_chat(response(finish="SAFETY"), "m")
    assert (parsed.text, parsed.stop_reason) == ("", "content_filter")


def test_a_blocked_prompt_raises_content_blocked():
    data = response(no_candidates=True, block_reason="PROHIBITED_CONTENT", block_message="No.")
    with pytest.raises(ContentBlocked, match=r"PROHIBITED_CONTENT\): No\."):
        DIALECT.parse_chat(data, "m")


def test_a_malformed_function_call_is_a_retryable_invalid_response():
    data = response(finish="MALFORMED_FUNCTION_CALL", finish_message="Malformed call: bad JSON")
    with pytest.raises(InvalidResponse, match="MALFORMED_FUNCTION_CALL") as info:
        DIALECT.parse_chat(data, "m")
    assert info.value.is_retryable


@pytest.mark.parametrize(
    "data",
    [[], "text", {"candidates": []}, {"usageMetadata": {"promptTokenCount": 1}}],
)
def test_unreadable_bodies_are_invalid_responses(data):
    with pytest.raises(InvalidResponse):
        DIALECT.parse_chat(data, "m")


def test_an_error_object_in_a_200_body_is_classified():
    data = error_body(429, "Resource exhausted.", "RESOURCE_EXHAUSTED", [retry_info("7s")])
    with pytest.raises(RateLimited) as info:
        DIALECT.parse_chat(data, "m")
    assert info.value.retry_after == 7


def test_a_code_assist_envelope_is_unwrapped():
    assert DIALECT.parse_chat({"response": response("Hi")}, "m").text == "Hi"


# -- streams ---------------------------------------------------------------------------------


def test_stream_deltas_calls_usage_and_completion():
    parser = DIALECT.stream_parser(ChatRequest((ChatMessage.user("x"),)), "gemini-2.5-flash")
    payloads = chunks(
        response(text_part("Thinking", thought=True), finish=None, usage_metadata=usage(9, None)),
        response("Hel", finish=None),
        response("lo", call_part("f", {"a": 1}, call_id="c9"), finish=None),
        response(finish="STOP", usage_metadata=usage(9, 4, thoughts=2)),
    )
    events = []
    for i, payload in enumerate(payloads):
        events += parser.feed(payload)
        assert parser.complete == (i == len(payloads) - 1)
    events += parser.finish()
    assert [(e.type, e.delta) for e in events[:4]] == [
        ("reasoning_delta", "Thinking"),
        ("text_delta", "Hel"),
        ("text_delta", "lo"),
        ("tool_call", ""),
    ]
    assert events[3].tool_call.id == "c9"
    final = events[-1]
    assert [e.type for e in events].count("final") == 1 and final.type == "final"
    assert final.response.text == "Hello" and parser.partial_text == "Hello"
    assert final.response.reasoning_content == "Thinking"
    assert final.response.tool_calls == (events[3].tool_call,)
    assert final.response.stop_reason == "tool_use"
    assert (final.response.usage.input_tokens, final.response.usage.output_tokens) == (9, 6)
    assert final.response.model == "gemini-2.5-flash-001"


def test_the_framer_reads_any_split_of_the_bytes():
    stream = sse([response("a\u2028b", finish=None), response("c", finish="STOP")])
    whole = GeminiStreamFramer()
    expected = whole.feed(stream) + whole.flush()
    assert [json.loads(p)["candidates"][0]["content"]["parts"][0]["text"] for p in expected] == [
        "a\u2028b",
        "c",
    ]
    for size in (1, 2, 3, 7):
        framer = GeminiStreamFramer()
        got = []
        for i in range(0, len(stream), size):
            got += framer.feed(stream[i : i + size])
        assert got + framer.flush() == expected, size


def test_the_framer_also_takes_lines_a_text_transport_split_off():
    framer = GeminiStreamFramer()
    lines = sse([response("x", finish="STOP")]).decode().splitlines()
    payloads = [p for line in lines for p in framer.feed(line)] + framer.flush()
    assert [json.loads(p)["candidates"][0]["finishReason"] for p in payloads] == ["STOP"]


def test_an_error_sent_as_raw_json_lines_mid_stream_is_classified():
    raw = json.dumps(
        error_body(429, "Quota exceeded for metric.", "RESOURCE_EXHAUSTED", [retry_info("12s")]),
        indent=2,
    )
    stream = sse([response("partial", finish=None)]) + (raw + "\n").encode()
    framer = GeminiStreamFramer()
    payloads = framer.feed(stream) + framer.flush()
    assert len(payloads) == 2
    parser = DIALECT.stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    assert parser.feed(payloads[0])[0].delta == "partial"
    with pytest.raises(RateLimited) as info:
        parser.feed(payloads[1])
    assert info.value.retry_after == 12 and info.value.status == 429


def test_a_cut_raw_error_is_dropped_and_the_stream_stays_incomplete():
    framer = GeminiStreamFramer()
    assert framer.feed(b'{\n  "error": {\n    "code": 500,\n') == []
    assert framer.flush() == []


@pytest.mark.parametrize(
    ("error", "cls", "status"),
    [
        (
            {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"},
            TransientError,
            503,
        ),
        ({"message": "Internal error", "status": "INTERNAL"}, TransientError, 500),
        ({"message": "Bad", "status": "INVALID_ARGUMENT"}, InvalidRequest, 400),
        (
            {
                "code": 400,
                "message": "The input token count (2000000) exceeds the maximum number of "
                "tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT",
            },
            ContextWindowExceeded,
            400,
        ),
        (
            {
                "code": 429,
                "message": "You exceeded your current quota.",
                "status": "RESOURCE_EXHAUSTED",
            },
            QuotaExhausted,
            429,
        ),
    ],
)
def test_stream_error_events_map_to_e1_classes(error, cls, status):
    parser = DIALECT.stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    with pytest.raises(cls) as info:
        parser.feed(json.dumps({"error": error}))
    assert info.value.status == status


def test_a_prompt_blocked_in_a_stream_raises_content_blocked():
    parser = DIALECT.stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    with pytest.raises(ContentBlocked, match="SAFETY"):
        parser.feed(json.dumps(response(no_candidates=True, block_reason="SAFETY")))


def test_a_stream_that_never_finishes_is_not_complete():
    parser = DIALECT.stream_parser(ChatRequest((ChatMessage.user("x"),)), "m")
    parser.feed(json.dumps(response("half", finish=None)))
    assert not parser.complete
    assert parser.partial_text == "half"


# -- models ----------------------------------------------------------------------------------


def test_models_are_listed_without_the_prefix_and_without_non_chat_models():
    page = models_page(
        [
            model_row("gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 65_536),
            model_row("text-embedding-004", "Text Embedding 004", 2048, 1, ["embedContent"]),
            model_row("gemini-3-pro-preview", "Gemini 3 Pro Preview", 1_048_576, 65_536),
        ]
    )
    assert [m.name for m in sdk_models(page)] == [r["name"] for r in page["models"]]
    entries = DIALECT.parse_models(page)
    assert [
        (e.model_id, e.display_name, e.context_window, e.max_output_tokens) for e in entries
    ] == [
        ("gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 65_536),
        ("gemini-3-pro-preview", "Gemini 3 Pro Preview", 1_048_576, 65_536),
    ]


def test_the_model_list_asks_for_every_model_in_one_page():
    req = DIALECT.models_request({})
    assert (req.method, req.url) == ("GET", f"{BASE}/models?pageSize=1000")


def test_a_model_list_without_models_is_an_invalid_response():
    with pytest.raises(InvalidResponse):
        DIALECT.parse_models({"data": []})


def test_sdk_list_models_page_size_parameter_name():
    # The query parameter construct sends is the one the SDK's converter writes.
    client = genai.Client(api_key="oracle-key-not-sent")
    params = types._ListModelsParameters(config=types.ListModelsConfig(page_size=1000))
    converted = sdk_models_module._ListModelsParameters_to_mldev(client._api_client, params)
    assert converted["_query"] == {"pageSize": 1000}


@pytest.mark.parametrize("cut", range(0, 5))
def test_the_framer_drops_a_byte_order_mark_opening_the_body(cut):
    stream = "\ufeff".encode() + sse([response("hello", finish="STOP")])
    framer = GeminiStreamFramer()
    payloads = framer.feed(stream[:cut]) + framer.feed(stream[cut:]) + framer.flush()
    assert [json.loads(p)["candidates"][0]["content"]["parts"][0]["text"] for p in payloads] == [
        "hello"
    ]
