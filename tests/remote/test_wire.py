"""The Infinity provider-process wire, line by line against the reference.

The lines below are copied from infinity-and-skelegent.md Part A (§A2, §A3.1-A3.5 and
the conformance cases); the reference pretty-prints the A3.2 request, which travels as
one compact line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from construct.errors import (
    AllProvidersRateLimited,
    AuthError,
    ContextWindowExceeded,
    InvalidArgument,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from construct.remote.wire import (
    INVOKE_STARTED,
    LIST_MODELS,
    PROTOCOLS,
    STREAM_END,
    ChunkLine,
    ErrorChunk,
    ErrorLine,
    FinalChunk,
    Invoke,
    InvokeStarted,
    ListModels,
    Models,
    ReasoningChunk,
    ReasoningDeltaChunk,
    StreamEnd,
    TextChunk,
    ToolCallChunk,
    ToolCallDeltaChunk,
    WireError,
    decode_request,
    decode_response,
    encode_chunk,
    encode_error,
    encode_invoke,
    encode_models,
    error_class_of,
    error_from_wire,
)
from construct.types import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    ModelEntry,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)

HELLO = ChatRequest((ChatMessage.system("system prompt"), ChatMessage.user("hello")), max_tokens=42)

# -- requests (§A3.2, §A3.5) ------------------------------------------------------------

V1_HELLO = (
    '{"InvokeModel":{"model_id":"mock","request":{"model":null,"preamble":"system prompt",'
    '"chat_history":[{"role":"user","content":[{"type":"text","text":"hello"}]}],'
    '"documents":[],"tools":[],"temperature":null,"max_tokens":42,"tool_choice":null,'
    '"additional_params":null,"output_schema":null}}}'
)
V2_HELLO = (
    '{"InvokeModel":{"model_id":"mock","request":{"preamble":"system prompt",'
    '"chat_history":[{"role":"user","content":[{"type":"text","text":"hello"}]}],'
    '"tools":[],"max_tokens":42,"additional_params":null}}}'
)


def test_the_v1_request_of_the_reference_is_written_byte_for_byte() -> None:
    assert encode_invoke("mock", HELLO, "v1") == V1_HELLO


@pytest.mark.parametrize("protocol", ["v2", "v3"])
def test_the_v2_and_v3_request_of_the_reference_is_written_byte_for_byte(protocol: Any) -> None:
    assert encode_invoke("mock", HELLO, protocol) == V2_HELLO
    assert encode_invoke("mock", HELLO) == V2_HELLO  # v3 is the default


@pytest.mark.parametrize(("line", "protocol"), [(V1_HELLO, "v1"), (V2_HELLO, "v2")])
def test_the_reference_requests_read_back(line: str, protocol: str) -> None:
    assert decode_request(line) == Invoke("mock", HELLO, protocol)  # type: ignore[arg-type]
    assert decode_request(line.encode() + b"\r\n") == decode_request(line)


def test_the_list_models_request_is_the_bare_string() -> None:
    assert LIST_MODELS == '"ListModels"'
    assert decode_request(LIST_MODELS) == ListModels()
    assert decode_request(b'"ListModels"\n') == ListModels()


IMAGE_DATA = "data:image/png;base64,aGVsbG8="
IMAGE_URL = "https://example.com/cat.jpg"
CONVERSATION = ChatRequest(
    (
        ChatMessage.system("be brief"),
        ChatMessage.system("answer in French"),
        ChatMessage.user("what is on these?", images=[IMAGE_DATA, IMAGE_URL]),
        ChatMessage.assistant(
            "let me look",
            [
                ToolCall("tc-1", "get_weather", '{"city":"Paris"}'),
                ToolCall("tc-2", "get_time", "{}"),
            ],
        ),
        ChatMessage.tool("tc-1", "sunny"),
        ChatMessage.tool("tc-2", "noon"),
        ChatMessage("tool", (TextPart("screenshot"), ImagePart(IMAGE_DATA)), (), "tc-3"),
        ChatMessage.assistant("", [ToolCall("tc-4", "lookup", '{"q":["a",1,null]}')]),
        ChatMessage.tool("tc-4", ""),
        ChatMessage.user("thanks"),
        ChatMessage.assistant("de rien"),
        ChatMessage("user", (TextPart("one"), TextPart("two"))),
    ),
    tools=(
        ToolSpec(
            "get_weather",
            "the weather in a city",
            {"type": "object", "properties": {"city": {"type": "string"}}},
        ),
    ),
    max_tokens=100,
    extra={"thinking": {"type": "adaptive"}},
)
# System messages move into the preamble (rig has no system role); the rest survives.
CONVERSATION_READ = ChatRequest(
    (ChatMessage.system("be brief\n\nanswer in French"), *CONVERSATION.messages[2:]),
    CONVERSATION.tools,
    CONVERSATION.max_tokens,
    CONVERSATION.extra,
)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_conversation_survives_the_wire(protocol: Any) -> None:
    invoke = decode_request(encode_invoke("m-1", CONVERSATION, protocol))
    assert isinstance(invoke, Invoke)
    assert invoke.model_id == "m-1"
    assert invoke.request == CONVERSATION_READ
    assert invoke.protocol == ("v1" if protocol == "v1" else "v2")
    assert invoke.additional_params == {"thinking": {"type": "adaptive"}}


def _body(line: str) -> dict[str, Any]:
    return json.loads(line)["InvokeModel"]["request"]


def test_messages_are_written_as_rig_writes_them() -> None:
    v1 = _body(encode_invoke("m", CONVERSATION, "v1"))
    v2 = _body(encode_invoke("m", CONVERSATION, "v2"))
    assert v1["preamble"] == v2["preamble"] == "be brief\n\nanswer in French"
    assert v1["chat_history"][0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is on these?"},
            {"type": "image", "data": {"type": "base64", "value": "aGVsbG8="}, "media_type": "png"},
            {"type": "image", "data": {"type": "url", "value": IMAGE_URL}, "media_type": "jpeg"},
        ],
    }
    assert v1["chat_history"][1] == {
        "role": "assistant",
        "id": None,
        "content": [
            {"text": "let me look"},
            {
                "id": "tc-1",
                "call_id": None,
                "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                "signature": None,
                "additional_params": None,
            },
            {
                "id": "tc-2",
                "call_id": None,
                "function": {"name": "get_time", "arguments": {}},
                "signature": None,
                "additional_params": None,
            },
        ],
    }
    assert v2["chat_history"][1] == {
        "role": "assistant",
        "content": [
            {"text": "let me look"},
            {"id": "tc-1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "tc-2", "function": {"name": "get_time", "arguments": {}}},
        ],
    }
    # Consecutive tool results share one user message.
    assert v2["chat_history"][2] == {
        "role": "user",
        "content": [
            {"type": "toolresult", "id": "tc-1", "content": [{"type": "text", "text": "sunny"}]},
            {"type": "toolresult", "id": "tc-2", "content": [{"type": "text", "text": "noon"}]},
            {
                "type": "toolresult",
                "id": "tc-3",
                "content": [
                    {"type": "text", "text": "screenshot"},
                    {
                        "type": "image",
                        "data": {"type": "base64", "value": "aGVsbG8="},
                        "media_type": "png",
                    },
                ],
            },
        ],
    }
    # An assistant turn that only calls tools has no text item.
    assert v2["chat_history"][3]["content"] == [
        {"id": "tc-4", "function": {"name": "lookup", "arguments": {"q": ["a", 1, None]}}}
    ]
    assert v2["tools"] == [
        {
            "name": "get_weather",
            "description": "the weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert v1["additional_params"] == v2["additional_params"] == {"thinking": {"type": "adaptive"}}


@pytest.mark.parametrize(
    ("url", "image"),
    [
        (
            "data:image/JPG;base64,/9j/",
            {"type": "image", "data": {"type": "base64", "value": "/9j/"}, "media_type": "jpeg"},
        ),
        # Not base64 on the way in: percent-decoded, then base64 on the wire.
        (
            "data:image/svg+xml,%3Csvg%2F%3E",
            {"type": "image", "data": {"type": "base64", "value": "PHN2Zy8+"}, "media_type": "svg"},
        ),
        # No suffix to go by: the media type is left out, as rig leaves out a null one.
        (
            "https://example.com/image?id=4",
            {"type": "image", "data": {"type": "url", "value": "https://example.com/image?id=4"}},
        ),
    ],
)
def test_images_name_their_media_type(url: str, image: dict[str, Any]) -> None:
    body = _body(encode_invoke("m", ChatRequest(ChatMessage.user("", [url])), "v2"))
    assert body["chat_history"] == [{"role": "user", "content": [image]}]


def test_an_image_the_wire_cannot_name_is_refused_where_it_enters() -> None:
    request = ChatRequest(ChatMessage.user("", ["data:image/bmp;base64,Qk0="]))
    with pytest.raises(InvalidArgument, match="image/bmp"):
        encode_invoke("m", request, "v2")
    request = ChatRequest(ChatMessage("assistant", (ImagePart(IMAGE_URL),)))
    with pytest.raises(InvalidArgument, match="user and tool messages"):
        encode_invoke("m", request, "v2")


def test_temperature_is_a_v1_field() -> None:
    assert _body(encode_invoke("m", HELLO, "v1", temperature=1))["temperature"] == 1.0
    assert '"temperature":0.5,' in encode_invoke("m", HELLO, "v1", temperature=0.5)
    assert decode_request(encode_invoke("m", HELLO, "v1", temperature=0.5)).temperature == 0.5  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument, match="no temperature field"):
        encode_invoke("m", HELLO, "v3", temperature=0.5)


def test_a_bad_argument_to_encode_invoke_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="protocol"):
        encode_invoke("m", HELLO, "v4")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="ChatRequest"):
        encode_invoke("m", "hello")  # type: ignore[arg-type]


def test_rig_only_fields_are_ignored_on_read() -> None:
    """A v1 request is read on a v2/v3 path and the other way round (§A0)."""
    body = {
        "model": "ignored",
        "preamble": None,
        "chat_history": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "id": "msg_1",
                "content": [
                    {"id": None, "content": [{"type": "text", "content": {"text": "hmm"}}]},
                    {
                        "id": "tc-1",
                        "call_id": "fc_1",
                        "function": {"name": "f", "arguments": {"a": 1}},
                        "signature": "sig",
                        "additional_params": {"x": 1},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "toolresult", "id": "tc-1", "call_id": "fc_1", "content": "done"},
                    {"type": "text", "text": "and now?"},
                ],
            },
        ],
        "documents": [],
        "tools": [{"name": "f", "description": "", "parameters": {"type": "object"}}],
        "temperature": 0.2,
        "tool_choice": "required",
        "output_schema": {"type": "object"},
    }
    invoke = decode_request(json.dumps({"InvokeModel": {"model_id": "m", "request": body}}))
    assert invoke == Invoke(
        "m",
        ChatRequest(
            (
                ChatMessage.user("hi"),
                ChatMessage.assistant("", [ToolCall("tc-1", "f", '{"a":1}')]),
                ChatMessage.tool("tc-1", "done"),
                ChatMessage.user("and now?"),
            ),
            (ToolSpec("f", "", {"type": "object"}),),
        ),
        "v1",
        temperature=0.2,
    )


def test_a_request_may_have_an_empty_history_and_no_optional_fields() -> None:
    line = '{"InvokeModel":{"model_id":"m","request":{"chat_history":[]}}}'
    assert decode_request(line) == Invoke("m", ChatRequest(()), "v2")


def test_images_read_back_as_data_uris_and_urls() -> None:
    content = [
        {"type": "image", "data": {"type": "base64", "value": "AAAA"}, "media_type": "webp"},
        {"type": "image", "data": {"type": "base64", "value": "AAAA"}},
        {"type": "image", "data": {"type": "raw", "value": [104, 105]}, "media_type": "gif"},
        {"type": "image", "data": {"type": "url", "value": "https://x.test/a"}, "detail": "low"},
    ]
    line = json.dumps(
        {
            "InvokeModel": {
                "model_id": "m",
                "request": {"chat_history": [{"role": "user", "content": content}]},
            }
        }
    )
    invoke = decode_request(line)
    assert isinstance(invoke, Invoke)
    assert invoke.request.messages[0].images == (
        "data:image/webp;base64,AAAA",
        "data:application/octet-stream;base64,AAAA",
        "data:image/gif;base64,aGk=",
        "https://x.test/a",
    )


# -- response chunks (§A3.4 v1, §A3.5 v2/v3) --------------------------------------------

V1_ROWS = [
    (TextChunk("hello "), '{"Chunk":{"Message":"hello "}}'),
    (
        ToolCallChunk("toolu_1", "get_weather", {"city": "Paris"}, "abc123"),
        '{"Chunk":{"ToolCall":{"id":"toolu_1","internal_call_id":"abc123","call_id":null,'
        '"name":"get_weather","arguments":{"city":"Paris"},"signature":null,'
        '"additional_params":null}}}',
    ),
    (
        ToolCallDeltaChunk("toolu_1", name="get_weather", internal_call_id="abc123"),
        '{"Chunk":{"ToolCallDelta":{"id":"toolu_1","internal_call_id":"abc123",'
        '"content":{"Name":"get_weather"}}}}',
    ),
    (
        ToolCallDeltaChunk("toolu_1", delta='{"city":"Pa', internal_call_id="abc123"),
        '{"Chunk":{"ToolCallDelta":{"id":"toolu_1","internal_call_id":"abc123",'
        '"content":{"Delta":"{\\"city\\":\\"Pa"}}}}',
    ),
    (
        ReasoningChunk("Let me think", "EqQB…"),
        '{"Chunk":{"Reasoning":{"id":null,"content":{"type":"text",'
        '"content":{"text":"Let me think","signature":"EqQB…"}}}}}',
    ),
    (
        ReasoningDeltaChunk("Let me"),
        '{"Chunk":{"ReasoningDelta":{"id":null,"reasoning":"Let me"}}}',
    ),
    (
        FinalChunk(Usage(7, 3, 0), total_tokens=0),
        '{"Chunk":{"Final":{"usage":{"input_tokens":7,"output_tokens":3,"total_tokens":0,'
        '"cached_input_tokens":0}}}}',
    ),
    (FinalChunk(None), '{"Chunk":{"Final":{"usage":null}}}'),
    (
        ErrorChunk("ProviderError: Exceeded max tokens"),
        '{"Chunk":{"Error":"ProviderError: Exceeded max tokens"}}',
    ),
]

V2_ROWS = [
    (TextChunk("hello "), '{"Chunk":{"Ok":{"Text":"hello "}}}'),
    (
        ToolCallChunk("tc-1", "get_weather", {"city": "Berlin"}),
        '{"Chunk":{"Ok":{"ToolCall":{"id":"tc-1","function":{"name":"get_weather",'
        '"arguments":{"city":"Berlin"}}}}}}',
    ),
    (
        ToolCallChunk("call-1", "get_weather", {"city": "Berlin"}),
        '{"Chunk":{"Ok":{"ToolCall":{"id":"call-1","function":{"name":"get_weather",'
        '"arguments":{"city":"Berlin"}}}}}}',
    ),
    (
        ToolCallDeltaChunk("tc-1", name="get_weather"),
        '{"Chunk":{"Ok":{"ToolCallDelta":{"id":"tc-1","content":{"Name":"get_weather"}}}}}',
    ),
    (
        ToolCallDeltaChunk("tc-1", delta='{"ci'),
        '{"Chunk":{"Ok":{"ToolCallDelta":{"id":"tc-1","content":{"Delta":"{\\"ci"}}}}}',
    ),
    (
        ReasoningChunk("…", "sig"),
        '{"Chunk":{"Ok":{"Reasoning":{"id":null,"content":[{"type":"text",'
        '"content":{"text":"…","signature":"sig"}}]}}}}',
    ),
    (ReasoningDeltaChunk("…"), '{"Chunk":{"Ok":{"ReasoningDelta":{"id":null,"text":"…"}}}}'),
    (
        FinalChunk(Usage(7, 3, 0), total_tokens=0),
        '{"Chunk":{"Ok":{"Final":{"usage":{"input_tokens":7,"output_tokens":3,"total_tokens":0,'
        '"cached_input_tokens":0}}}}}',
    ),
    (FinalChunk(None), '{"Chunk":{"Ok":{"Final":{"usage":null}}}}'),
]


@pytest.mark.parametrize(("chunk", "line"), V1_ROWS)
def test_v1_chunk_lines_are_written_and_read_byte_for_byte(chunk: Any, line: str) -> None:
    assert encode_chunk(chunk, "v1") == line
    assert decode_response(line) == ChunkLine(chunk)


@pytest.mark.parametrize("protocol", ["v2", "v3"])
@pytest.mark.parametrize(("chunk", "line"), V2_ROWS)
def test_v2_and_v3_chunk_lines_are_written_and_read_byte_for_byte(
    chunk: Any, line: str, protocol: Any
) -> None:
    assert encode_chunk(chunk, protocol) == line
    assert decode_response(line) == ChunkLine(chunk)


def test_the_v1_round_trip_of_the_reference() -> None:
    final = FinalChunk(Usage(7, 3, 0), total_tokens=0)
    lines = [
        INVOKE_STARTED,
        encode_chunk(TextChunk("hello "), "v1"),
        encode_chunk(TextChunk("world"), "v1"),
        encode_chunk(final, "v1"),
        STREAM_END,
    ]
    assert lines == [
        '"InvokeStarted"',
        '{"Chunk":{"Message":"hello "}}',
        '{"Chunk":{"Message":"world"}}',
        '{"Chunk":{"Final":{"usage":{"input_tokens":7,"output_tokens":3,"total_tokens":0,'
        '"cached_input_tokens":0}}}}',
        '"StreamEnd"',
    ]
    read = [decode_response(line + "\n") for line in lines]
    assert read[0] == InvokeStarted()
    assert read[-1] == StreamEnd()
    chunks = [r.chunk for r in read if isinstance(r, ChunkLine)]
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "hello world"
    assert chunks[-1] == final


def test_v1_tool_calls_repeat_the_id_when_there_is_no_internal_call_id() -> None:
    line = encode_chunk(ToolCallChunk("t", "f", {}), "v1")
    assert json.loads(line)["Chunk"]["ToolCall"]["internal_call_id"] == "t"
    line = encode_chunk(ToolCallDeltaChunk("t", delta="{"), "v1")
    assert json.loads(line)["Chunk"]["ToolCallDelta"]["internal_call_id"] == "t"


def test_a_reasoning_block_without_signature_omits_the_key() -> None:
    assert encode_chunk(ReasoningChunk("x"), "v1") == (
        '{"Chunk":{"Reasoning":{"id":null,"content":{"type":"text","content":{"text":"x"}}}}}'
    )
    assert decode_response(encode_chunk(ReasoningChunk("x"), "v3")) == ChunkLine(
        ReasoningChunk("x")
    )


def test_a_reasoning_list_joins_its_texts_and_keeps_the_first_signature() -> None:
    content = [
        {"type": "encrypted", "content": "opaque"},
        {"type": "text", "content": {"text": "first"}},
        {"type": "text", "content": {"text": "second", "signature": "s2"}},
        {"type": "summary", "content": "third"},
        {"type": "redacted", "content": {"data": "r"}},
    ]
    line = json.dumps({"Chunk": {"Ok": {"Reasoning": {"id": "r1", "content": content}}}})
    assert decode_response(line) == ChunkLine(ReasoningChunk("first\n\nsecond\n\nthird", "s2"))


def test_a_final_chunk_without_a_total_sends_input_plus_output() -> None:
    line = encode_chunk(FinalChunk(Usage(input_tokens=12, output_tokens=5)), "v3")
    assert json.loads(line)["Chunk"]["Ok"]["Final"]["usage"] == {
        "input_tokens": 12,
        "output_tokens": 5,
        "total_tokens": 17,
        "cached_input_tokens": 0,
    }
    line = encode_chunk(FinalChunk(Usage(), total_tokens=None), "v1")
    assert json.loads(line)["Chunk"]["Final"]["usage"]["total_tokens"] == 0


def test_v3_usage_fields_default_to_zero() -> None:
    assert decode_response('{"Chunk":{"Ok":{"Final":{"usage":{}}}}}') == ChunkLine(
        FinalChunk(Usage(0, 0, 0), 0)
    )
    assert decode_response('{"Chunk":{"Final":{}}}') == ChunkLine(FinalChunk(None))


def test_a_tool_call_delta_carries_a_name_or_a_fragment() -> None:
    with pytest.raises(InvalidArgument, match="exactly one"):
        ToolCallDeltaChunk("t")
    with pytest.raises(InvalidArgument, match="exactly one"):
        ToolCallDeltaChunk("t", name="f", delta="{")


# -- errors -----------------------------------------------------------------------------

V3_OVERFLOW = (
    '{"Chunk":{"Err":{"message":"ProviderError: input is too long","class":"ContextOverflow"}}}'
)


def test_error_class_survives_the_wire() -> None:
    chunk = ErrorChunk("ProviderError: input is too long", "ContextOverflow")
    assert encode_chunk(chunk, "v3") == V3_OVERFLOW
    read = decode_response(V3_OVERFLOW)
    assert read == ChunkLine(chunk)
    error = error_from_wire(chunk.message, "ContextOverflow", "infinity")
    assert isinstance(error, ContextWindowExceeded)
    assert "input is too long" in error.message
    assert "provider process" in error.message
    assert not error.message.startswith("ProviderError: ProviderError")
    assert "ProviderError:" not in error.message
    assert error.provider == "infinity"


@pytest.mark.parametrize(
    ("protocol", "chunk_line", "error_line"),
    [
        ("v1", '{"Chunk":{"Error":"boom"}}', '{"Error":"boom"}'),
        ("v2", '{"Chunk":{"Err":"boom"}}', '{"Error":"boom"}'),
        (
            "v3",
            '{"Chunk":{"Err":{"message":"boom","class":"Throttled"}}}',
            '{"Error":{"message":"boom","class":"Throttled"}}',
        ),
    ],
)
def test_error_lines_per_generation(protocol: Any, chunk_line: str, error_line: str) -> None:
    assert encode_chunk(ErrorChunk("boom", "Throttled"), protocol) == chunk_line
    assert encode_error("boom", "Throttled", protocol) == error_line
    # Only v3 carries a class; without one an error is Fatal.
    error_class = "Throttled" if protocol == "v3" else "Fatal"
    assert decode_response(chunk_line) == ChunkLine(ErrorChunk("boom", error_class))
    assert decode_response(error_line) == ErrorLine("boom", error_class)


def test_an_error_without_a_known_class_is_fatal() -> None:
    assert decode_response('{"Error":{"message":"x"}}') == ErrorLine("x", "Fatal")
    assert decode_response('{"Error":{"message":"x","class":null}}') == ErrorLine("x", "Fatal")
    assert decode_response('{"Error":{"message":"x","class":"Unheard"}}') == ErrorLine("x", "Fatal")


def test_encode_error_checks_its_class_and_protocol() -> None:
    with pytest.raises(InvalidArgument, match="error_class"):
        encode_error("x", "Bad", "v3")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="protocol"):
        encode_chunk(TextChunk("x"), "v9")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        (RateLimited("slow down"), "Throttled"),
        (AllProvidersRateLimited("all limited"), "Throttled"),
        (QuotaExhausted("no credit"), "Fatal"),
        (TransientError("503"), "Transient"),
        (InvalidResponse("garbled body"), "Transient"),
        (StreamInterrupted("dropped"), "Transient"),
        (TimeoutError(), "Transient"),
        (ConnectionResetError(), "Transient"),
        (ContextWindowExceeded("too long"), "ContextOverflow"),
        (InvalidRequest("bad"), "Fatal"),
        (AuthError("bad key"), "Fatal"),
        (ProviderError("unknown"), "Fatal"),
        (ValueError("a bug"), "Fatal"),
    ],
)
def test_error_class_of(error: BaseException, error_class: str) -> None:
    assert error_class_of(error) == error_class


@pytest.mark.parametrize(
    ("error_class", "kind", "retryable"),
    [
        ("Throttled", RateLimited, True),
        ("Transient", TransientError, True),
        ("ContextOverflow", ContextWindowExceeded, False),
        ("Fatal", ProviderError, False),
    ],
)
def test_error_from_wire(error_class: Any, kind: type[ProviderError], retryable: bool) -> None:
    error = error_from_wire("ResponseError: ProviderError: it broke", error_class, "p")
    assert type(error) is kind
    assert error.is_retryable is retryable
    assert error.message.startswith("The model provider process 'p' reported an error: it broke.")
    # The class survives a round trip through construct's own errors.
    assert error_class_of(error) == error_class


# -- models (§A2) -----------------------------------------------------------------------

MOCK_MODELS = (
    '{"Models":[{"model_id":"mock","display_name":"mock","context_window":100,'
    '"max_output_tokens":null,"supports_image_input":true}]}'
)


def test_the_model_list_of_the_reference() -> None:
    entry = ModelEntry("mock", "mock", 100, None, True)
    assert encode_models([entry]) == MOCK_MODELS
    assert decode_response(MOCK_MODELS) == Models((entry,))


def test_a_model_entry_writes_all_five_keys() -> None:
    line = encode_models([ModelEntry("m", context_window=8, max_output_tokens=2)])
    assert line == (
        '{"Models":[{"model_id":"m","display_name":"m","context_window":8,'
        '"max_output_tokens":2,"supports_image_input":false}]}'
    )
    assert encode_models([]) == '{"Models":[]}'


def test_a_model_without_a_context_window_cannot_be_served() -> None:
    with pytest.raises(InvalidArgument, match="'big-model' has no context_window"):
        encode_models([ModelEntry("big-model")])


def test_optional_model_keys_may_be_missing() -> None:
    line = '{"Models":[{"model_id":"m","display_name":"M","context_window":5}]}'
    assert decode_response(line) == Models((ModelEntry("m", "M", 5, None, False),))


@pytest.mark.parametrize("key", ["model_id", "display_name", "context_window"])
def test_a_model_entry_missing_a_required_key_is_refused(key: str) -> None:
    entry = {"model_id": "m", "display_name": "M", "context_window": 5}
    del entry[key]
    with pytest.raises(WireError, match=key):
        decode_response(json.dumps({"Models": [entry]}))


# -- envelope and bad lines -------------------------------------------------------------


def test_the_envelope_lines() -> None:
    assert (INVOKE_STARTED, STREAM_END) == ('"InvokeStarted"', '"StreamEnd"')
    assert decode_response(INVOKE_STARTED) == InvokeStarted()
    assert decode_response(STREAM_END.encode() + b"\r\n") == StreamEnd()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON"),
        ("", "not JSON"),
        ("42", "where"),
        ('"InvokeStarted"', "where"),
        ('{"Shutdown":{}}', 'tagged "Shutdown"'),
        ('{"InvokeModel":{"request":{"chat_history":[]}}}', "no model_id"),
        ('{"InvokeModel":{"model_id":7,"request":{"chat_history":[]}}}', "model_id"),
        ('{"InvokeModel":{"model_id":"m"}}', "InvokeModel.request"),
        ('{"InvokeModel":{"model_id":"m","request":{}}}', "no chat_history"),
        ("[" * 100_000, "nested too deep"),
        (b"\xff\xfe", "not UTF-8"),
        ('{"InvokeModel":{"model_id":"m","request":{"chat_history":[],"max_tokens":NaN}}}', "NaN"),
        ('{"InvokeModel":{"model_id":"m","request":{"chat_history":[],"max_tokens":0}}}', "max"),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[],'
            '"documents":[{"id":"d","text":"t"}]}}}',
            "documents",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":'
            '[{"role":"system","content":"x"}]}}}',
            "chat_history\\[0\\].role",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[{"role":"user","content":'
            '[{"type":"audio","data":{"type":"base64","value":"AA"}}]}]}}}',
            "audio content",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[{"role":"user","content":'
            '[{"type":"image","data":{"type":"url","value":"file:///etc/passwd"}}]}]}}}',
            "not valid: ImagePart.url",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[{"role":"user","content":'
            '[{"type":"toolresult","content":"x"}]}]}}}',
            "content\\[0\\].id",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[],'
            '"tools":[{"name":"","description":"","parameters":{}}]}}}',
            "a tool needs a name",
        ),
        (
            '{"InvokeModel":{"model_id":"m","request":{"chat_history":[],"additional_params":'
            + '{"a":' * 200
            + "1"
            + "}" * 201
            + "}}",
            "nested more than",
        ),
    ],
)
def test_a_bad_request_line_is_a_wire_error(line: str | bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem) as caught:
        decode_request(line)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('"ListModels"', "where"),
        ("]" * 3, "not JSON"),
        ('{"a":' * 100_000, "nested too deep"),
        (
            '{"Chunk":{"Ok":{"ToolCall":{"id":"t","function":{"name":"f","arguments":'
            + "[" * 100_000,
            "nested too deep",
        ),
        ('{"Chunk":{"Ok":{"Sound":"x"}}}', 'tagged "Sound"'),
        ('{"Chunk":{"Ok":{"Text":1}}}', "Chunk.Text"),
        ('{"Chunk":{"Final":{"usage":{"input_tokens":-1}}}}', "input_tokens"),
        ('{"Chunk":{"Final":{"usage":{"input_tokens":true}}}}', "input_tokens"),
        ('{"Chunk":{"ToolCallDelta":{"id":"t","content":{"Args":"x"}}}}', "ToolCallDelta"),
        ('{"Chunk":{"Ok":{"ToolCall":{"function":{"name":"f"}}}}}', "ToolCall.id"),
        ('{"Chunk":{"Err":{"class":"Fatal"}}}', "message"),
        ('{"Chunk":{"Err":{"message":"x","class":1}}}', "class"),
        ('{"Models":{}}', "Models"),
        ('{"Models":[],"Error":"x"}', "where"),
    ],
)
def test_a_bad_response_line_is_a_wire_error(line: str, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        decode_response(line)


def test_a_wire_error_shows_only_the_start_of_a_long_line() -> None:
    line = "x" * 100_000
    with pytest.raises(WireError) as caught:
        decode_response(line)
    assert len(caught.value.message) < 400
    assert caught.value.message.endswith("...")


def test_import_construct_does_not_load_the_remote_package() -> None:
    code = (
        "import sys, construct\n"
        "assert not any(m.startswith('construct.remote') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
