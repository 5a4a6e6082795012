"""Hostile wire data: whatever a server sends, a dialect raises a construct error or
returns well-typed results, never a raw TypeError, KeyError or RecursionError.

A deterministic type-confusion fuzz. From valid bodies and streams of every dialect,
each value at each path is replaced by values of other types (and by JSON nested
thousands deep); `parse_chat` and the stream parser (`feed` each payload, then
`finish`) must either raise a `ConstructError` or give results whose fields have the
types `construct.types` promises (a `str` model, `int` token counts, a `ToolCall`
with JSON arguments).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import respx

from construct import StreamInterrupted, create_provider
from construct.dialects import gemini, ollama
from construct.dialects.anthropic_messages import AnthropicMessages, MessagesSettings
from construct.dialects.azure_openai import AzureOpenAIChat, AzureSettings
from construct.dialects.bedrock_converse import BedrockConverse, BedrockSettings
from construct.dialects.gemini import Gemini, GeminiSettings
from construct.dialects.ollama import Ollama, OllamaSettings
from construct.dialects.openai_chat import ChatSettings, OpenAIChat
from construct.dialects.openai_responses import OpenAIResponses, ResponsesSettings
from construct.errors import ConstructError, InvalidResponse
from construct.providers.http import _StreamRun
from construct.secrets import Secret
from construct.transport.aws_eventstream import EventMessage
from construct.types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
)

MUTANTS: tuple[Any, ...] = (None, 5, 1.5, "s", [], [1], {}, {"x": 1}, True)
# Deeper than json's and the interpreter's recursion limits (1000 by default).
DEEP = 5000
REQUEST = ChatRequest((ChatMessage.user("hi"),), tools=(ToolSpec("get_weather"),))
STOPS = (None, "end_turn", "tool_use", "max_tokens", "content_filter")
CALL_ARGS = '{"city": "Paris"}'


# -- the valid wire data the mutants start from ---------------------------------------------

CHAT_BODIES = [
    {
        "id": "c1",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi",
                    "reasoning_content": "hm",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": CALL_ARGS},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 2},
            "prompt_cache_hit_tokens": 2,
        },
    },
    {
        "choices": [
            {
                "message": {"content": [{"type": "text", "text": "Hi"}], "reasoning": "hm"},
                "finish_reason": "stop",
            }
        ]
    },
    {"error": {"code": 429, "message": "slow down"}},
]
CHAT_STREAM = [
    {
        "id": "c1",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "Hel", "reasoning_content": "hm"},
                "finish_reason": None,
            }
        ],
    },
    {"choices": [{"index": 0, "delta": {"content": "lo <think>x</think>", "reasoning": "r"}}]},
    {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"ci'},
                        }
                    ]
                },
            }
        ]
    },
    {
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]},
            }
        ]
    },
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 2},
        },
    },
    "[DONE]",
]
CHAT_STREAMS = [
    CHAT_STREAM,
    [{"choices": [{"delta": {"tool_calls": [{"function": {"name": "f", "arguments": {}}}]}}]}],
    [{"error": {"code": "rate_limited", "message": "slow down"}}],
]

ANTHROPIC_BODIES = [
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xx"},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"c": 1}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 5,
            "output_tokens": 7,
            "cache_read_input_tokens": 2,
            "cache_creation_input_tokens": 1,
        },
    },
    {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
]
ANTHROPIC_STREAM = [
    {
        "type": "message_start",
        "message": {"id": "m", "model": "claude-x", "usage": {"input_tokens": 5}},
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "h"},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "s"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "redacted_thinking", "data": "xx"},
    },
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {"type": "input_json_delta", "partial_json": CALL_ARGS},
    },
    {
        "type": "content_block_start",
        "index": 4,
        "content_block": {"type": "tool_use", "id": "toolu_2", "name": "f", "input": {"a": 1}},
    },
    {"type": "content_block_stop", "index": 3},
    {"type": "ping"},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use"},
        "usage": {"output_tokens": 7, "cache_read_input_tokens": 2},
    },
    {"type": "message_stop"},
]
ANTHROPIC_STREAMS = [
    ANTHROPIC_STREAM,
    [{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}],
]

GEMINI_CANDIDATE = {
    "content": {
        "role": "model",
        "parts": [
            {"text": "hm", "thought": True},
            {"text": "Hi"},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "fc1"},
                "thoughtSignature": "sig",
            },
        ],
    },
    "finishReason": "STOP",
}
GEMINI_USAGE = {
    "promptTokenCount": 5,
    "candidatesTokenCount": 7,
    "thoughtsTokenCount": 1,
    "toolUsePromptTokenCount": 1,
    "cachedContentTokenCount": 2,
}
GEMINI_BODIES = [
    {"candidates": [GEMINI_CANDIDATE], "usageMetadata": GEMINI_USAGE, "modelVersion": "g-2"},
    {"response": {"candidates": [GEMINI_CANDIDATE]}},
    {"promptFeedback": {"blockReason": "SAFETY", "blockReasonMessage": "no"}},
    {"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "finishMessage": "bad"}]},
    {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}},
]
GEMINI_STREAMS = [
    [
        {"candidates": [{"content": {"parts": [{"text": "hm", "thought": True}]}}]},
        {"candidates": [GEMINI_CANDIDATE], "usageMetadata": GEMINI_USAGE, "modelVersion": "g"},
    ],
    [{"promptFeedback": {"blockReason": "SAFETY"}}],
    [[{"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}]],
    [{"candidates": [{"finishReason": "MALFORMED_RESPONSE", "finishMessage": "bad"}]}],
]

OLLAMA_BODIES = [
    {
        "model": "llama3.2",
        "message": {
            "role": "assistant",
            "content": "<think>hm</think>Hi",
            "thinking": "hm",
            "tool_calls": [
                {"id": "c1", "function": {"name": "get_weather", "arguments": {"city": "P"}}},
                {"function": {"name": "f", "arguments": CALL_ARGS}},
            ],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 5,
        "eval_count": 7,
    },
    {"error": "model is busy"},
]
OLLAMA_STREAMS = [
    [
        {"model": "llama3.2", "message": {"content": "Hel", "thinking": "hm"}, "done": False},
        {
            "message": {
                "content": "",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": {"c": 1}}}],
            },
            "done": False,
        },
        {"done": True, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 7},
    ],
    [{"error": "model is busy"}],
]

RESPONSES_BODY = {
    "id": "r1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5",
    "output": [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "hm"}],
            "content": [{"type": "reasoning_text", "text": "hm2"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hi", "annotations": []},
                {"type": "refusal", "refusal": "no"},
            ],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": CALL_ARGS,
        },
        {"type": "function_call", "call_id": "call_2", "name": "f", "arguments": {"a": 1}},
    ],
    "output_text": "Hi",
    "usage": {"input_tokens": 5, "output_tokens": 7, "input_tokens_details": {"cached_tokens": 2}},
}
RESPONSES_BODIES = [
    RESPONSES_BODY,
    {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []},
    {"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "slow down"}},
]
RESPONSES_STREAMS = [
    [
        {"type": "response.created", "response": {"model": "gpt-5"}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message"}},
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 1, "delta": "hm"},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {
                "type": "function_call",
                "call_id": "c1",
                "name": "get_weather",
                "arguments": "",
            },
        },
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"c'},
        {
            "type": "response.function_call_arguments.done",
            "output_index": 2,
            "arguments": CALL_ARGS,
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {"type": "function_call", "call_id": "c1", "name": "get_weather"},
        },
        {
            "type": "response.output_item.done",
            "output_index": 3,
            "item": {"type": "message", "content": [{"type": "output_text", "text": "More"}]},
        },
        {"type": "response.completed", "response": RESPONSES_BODY | {"output": []}},
    ],
    [{"type": "response.completed", "response": RESPONSES_BODY}],
    [{"type": "response.failed", "response": {"error": {"code": "server_error", "message": "x"}}}],
    [{"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}],
]

BEDROCK_BODIES = [
    {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "s"}}},
                    {"text": "Hi"},
                    {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"c": 1}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 5,
            "outputTokens": 7,
            "totalTokens": 12,
            "cacheReadInputTokens": 2,
            "cacheWriteInputTokens": 1,
        },
    }
]
# (event type, payload): the binary frames' headers are the transport's to check.
BEDROCK_STREAMS = [
    [
        ("messageStart", {"role": "assistant"}),
        (
            "contentBlockDelta",
            {"delta": {"reasoningContent": {"text": "hm"}}, "contentBlockIndex": 0},
        ),
        ("contentBlockDelta", {"delta": {"text": "Hi"}, "contentBlockIndex": 1}),
        (
            "contentBlockStart",
            {
                "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}},
                "contentBlockIndex": 2,
            },
        ),
        ("contentBlockDelta", {"delta": {"toolUse": {"input": CALL_ARGS}}, "contentBlockIndex": 2}),
        ("contentBlockStop", {"contentBlockIndex": 2}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 5, "outputTokens": 7}, "metrics": {"latencyMs": 1}}),
    ]
]


# -- the dialects ----------------------------------------------------------------------------


class _Endpoint:
    region = "us-west-2"
    base_url = "https://bedrock-runtime.us-west-2.amazonaws.com"


def _chat(**kw: Any) -> OpenAIChat:
    url = "https://api.acme.test/v1/chat/completions"
    return OpenAIChat(ChatSettings("acme", "Acme", url, "https://api.acme.test/v1/models", **kw))


def _azure() -> AzureOpenAIChat:
    url = "https://res.openai.azure.com/openai/v1/chat/completions"
    return AzureOpenAIChat(
        AzureSettings("azure", "Azure OpenAI", url, url, endpoint="https://res.openai.azure.com")
    )


def _responses(**kw: Any) -> OpenAIResponses:
    url = "https://api.acme.test/v1/responses"
    return OpenAIResponses(
        ResponsesSettings("acme", "Acme", url, "https://api.acme.test/v1/models", **kw)
    )


@dataclass(frozen=True)
class Case:
    name: str
    dialect: Callable[[], Any]
    bodies: list[Any]
    streams: list[list[Any]]
    # How one stream item reaches the parser: JSON text, or Bedrock's decoded frame.
    wire: Callable[[Any], Any] = lambda text: text

    def __str__(self) -> str:
        return self.name


def _bedrock_frame(item: tuple[str, str]) -> EventMessage:
    kind, text = item
    return EventMessage({":message-type": "event", ":event-type": kind}, text.encode())


CASES = [
    Case("openai_chat", _chat, CHAT_BODIES, CHAT_STREAMS),
    Case("openai_chat guided", lambda: _chat(native_tools=False), CHAT_BODIES, CHAT_STREAMS),
    Case("azure_openai", _azure, CHAT_BODIES, CHAT_STREAMS),
    Case(
        "anthropic_messages",
        lambda: AnthropicMessages(MessagesSettings("anthropic", "Anthropic", "https://a.test/v1")),
        ANTHROPIC_BODIES,
        ANTHROPIC_STREAMS,
    ),
    Case(
        "gemini",
        lambda: Gemini(GeminiSettings("gemini", "Gemini", "https://g.test/v1beta")),
        GEMINI_BODIES,
        GEMINI_STREAMS,
    ),
    Case(
        "ollama",
        lambda: Ollama(OllamaSettings("ollama", "Ollama", "http://localhost:11434")),
        OLLAMA_BODIES,
        OLLAMA_STREAMS,
    ),
    Case(
        "ollama guided",
        lambda: Ollama(OllamaSettings("ollama", "Ollama", "http://l:1", native_tools=False)),
        OLLAMA_BODIES,
        OLLAMA_STREAMS,
    ),
    Case("openai_responses", _responses, RESPONSES_BODIES, RESPONSES_STREAMS),
    Case(
        "openai_responses guided",
        lambda: _responses(native_tools=False),
        RESPONSES_BODIES,
        RESPONSES_STREAMS,
    ),
    Case(
        "bedrock_converse",
        lambda: BedrockConverse(BedrockSettings("bedrock", "Amazon Bedrock"), _Endpoint()),
        BEDROCK_BODIES,
        BEDROCK_STREAMS,
        _bedrock_frame,
    ),
]


# -- mutations ---------------------------------------------------------------------------------

_HOLE = "\x00deep\x00"
_HOLE_JSON = json.dumps(_HOLE)


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _deep_dict(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


# Built once: nothing reads them into a copy, and freeing one costs more than building it.
DEEP_LIST = _deep_list(DEEP)
DEEP_DICT = _deep_dict(DEEP)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """`value` with `new` at `path`; only the containers along the path are copied."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def mutants(doc: Any) -> Iterator[tuple[str, Any]]:
    """(label, mutated document) for every value of `doc` swapped for every other value."""
    for path in _paths(doc):
        old = _at(doc, path)
        for new in MUTANTS:
            if type(new) is not type(old) or new != old:
                yield f"{list(path)} = {new!r}", _replaced(doc, path, new)
        yield f"{list(path)} = deep list", _replaced(doc, path, DEEP_LIST)
        yield f"{list(path)} = deep dict", _replaced(doc, path, DEEP_DICT)


def text_mutants(doc: Any) -> Iterator[tuple[str, str]]:
    """(label, JSON text) of each mutant; values nested too deep for json.dumps are spliced
    in as text, which is how they arrive from a server anyway. Text nested too deep fails
    to parse wherever it sits, so only the event and its top-level fields get it."""
    for path in _paths(doc):
        old = _at(doc, path)
        for new in MUTANTS:
            if type(new) is not type(old) or new != old:
                yield f"{list(path)} = {new!r}", json.dumps(_replaced(doc, path, new))
        if len(path) > 1:
            continue
        hole = json.dumps(_replaced(doc, path, _HOLE))
        yield f"{list(path)} = deep list", hole.replace(_HOLE_JSON, "[" * DEEP + "]" * DEEP)
        yield (
            f"{list(path)} = deep dict",
            hole.replace(_HOLE_JSON, '{"x":' * DEEP + "1" + "}" * DEEP),
        )


def _text(item: Any) -> Any:
    if isinstance(item, str):
        return item  # `[DONE]`: not JSON, not mutated
    if isinstance(item, tuple):
        return (item[0], json.dumps(item[1]))
    return json.dumps(item)


def stream_mutants(stream: list[Any]) -> Iterator[tuple[str, list[Any]]]:
    """The stream with one of its items replaced by each of that item's mutants."""
    base = [_text(item) for item in stream]
    for i, item in enumerate(stream):
        if isinstance(item, str):
            continue
        doc = item[1] if isinstance(item, tuple) else item
        for label, text in text_mutants(doc):
            payload = (item[0], text) if isinstance(item, tuple) else text
            yield f"item {i}: {label}", [*base[:i], payload, *base[i + 1 :]]


# -- what a result must look like ----------------------------------------------------------------


def _optional(value: Any, kind: type) -> bool:
    return value is None or type(value) is kind


def _expect(ok: bool, what: str, value: Any) -> None:
    # The value's type, not its repr: a mutant may be nested too deep to print.
    assert ok, f"{what} is {type(value).__name__}"


def check_call(call: Any) -> None:
    _expect(type(call) is ToolCall, "tool call", call)
    _expect(type(call.id) is str and bool(call.id), "tool call id", call.id)
    _expect(type(call.name) is str and bool(call.name), "tool call name", call.name)
    _expect(type(call.arguments) is str, "tool call arguments", call.arguments)
    json.loads(call.arguments)


def check_response(response: Any) -> None:
    _expect(type(response) is ChatResponse, "response", response)
    _expect(type(response.text) is str, "text", response.text)
    _expect(type(response.tool_calls) is tuple, "tool_calls", response.tool_calls)
    for call in response.tool_calls:
        check_call(call)
    usage = response.usage
    if usage is not None:
        _expect(type(usage) is Usage, "usage", usage)
        for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
            count = getattr(usage, name)
            _expect(_optional(count, int), f"usage.{name}", count)
    _expect(response.stop_reason in STOPS, "stop_reason", response.stop_reason)
    _expect(_optional(response.reasoning_content, str), "reasoning", response.reasoning_content)
    _expect(_optional(response.model, str), "model", response.model)
    _expect(type(response.provider) is str, "provider", response.provider)


def check_events(events: list[Any]) -> None:
    for event in events:
        _expect(type(event) is StreamEvent, "event", event)
        _expect(
            type(event.delta) is str
            and (bool(event.delta) or event.type not in ("text_delta", "reasoning_delta")),
            f"{event.type} delta",
            event.delta,
        )
        if event.type == "tool_call":
            check_call(event.tool_call)
        elif event.type == "final":
            check_response(event.response)
        else:
            _expect(event.type in ("text_delta", "reasoning_delta"), "event type", event.type)


def run_body(case: Case, body: Any) -> None:
    try:
        response = case.dialect().parse_chat(body, "requested-model")
    except ConstructError:
        return
    check_response(response)


def run_stream(case: Case, stream: list[Any]) -> None:
    parser = case.dialect().stream_parser(REQUEST, "requested-model")
    events: list[StreamEvent] = []
    try:
        for item in stream:
            events += parser.feed(case.wire(item))
        events += parser.finish()
    except ConstructError:
        return
    check_events(events)


def _failures(runs: Iterator[tuple[str, Callable[[], None]]]) -> list[str]:
    failures = []
    for label, run in runs:
        try:
            run()
        except Exception as exc:  # RecursionError included: any escape is the finding
            failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:160]}")
    return failures


def _report(failures: list[str]) -> str:
    return f"{len(failures)} mutants escaped, e.g.:\n" + "\n".join(failures[:25])


# -- the fuzz --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_valid_data_parses(case: Case) -> None:
    """The starting points are good data: each parses (or is the error it spells)."""
    for body in case.bodies:
        run_body(case, body)
    for stream in case.streams:
        run_stream(case, [_text(item) for item in stream])
    response = case.dialect().parse_chat(case.bodies[0], "requested-model")
    assert response.text and response.tool_calls


@pytest.mark.parametrize("case", CASES, ids=str)
def test_malformed_bodies_raise_construct_errors(case: Case) -> None:
    runs = (
        (f"body {b} {label}", lambda m=mutant: run_body(case, m))
        for b, body in enumerate(case.bodies)
        for label, mutant in mutants(body)
    )
    failures = _failures(runs)
    assert not failures, _report(failures)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_malformed_stream_events_raise_construct_errors(case: Case) -> None:
    runs = (
        (f"stream {s} {label}", lambda m=mutant: run_stream(case, m))
        for s, stream in enumerate(case.streams)
        for label, mutant in stream_mutants(stream)
    )
    failures = _failures(runs)
    assert not failures, _report(failures)


# -- what the errors say -------------------------------------------------------------------------

# A key construct holds (so scrubbed literally, whatever its shape) that no pattern knows.
CANARY = Secret("LEAKCANARYplaintext0123456789")


def _straddling(cut: int) -> str:
    """Text in which the canary key starts a few characters before position `cut`."""
    return "x" * (cut - 4) + CANARY.reveal() + " and the rest of a long error page" * 20


def test_a_key_across_the_cut_of_a_stream_event_is_never_printed_in_part():
    parser = _chat().stream_parser(REQUEST, "m")
    with pytest.raises(InvalidResponse) as raised:
        parser.feed("<html>" + _straddling(200 - 6))
    message = str(raised.value)
    assert "not JSON" in message
    assert "LEAK" not in message and "plaintext" not in message and "[RED" in message


@pytest.mark.parametrize(
    ("encode", "cut"),
    [
        (lambda url: gemini.encode_image(url), 40),
        (
            lambda url: ollama.encode_messages([ChatMessage.user("x", [url])], "ollama", "Ollama"),
            80,
        ),
    ],
)
def test_a_key_across_the_cut_of_an_image_url_is_never_printed_in_part(encode, cut):
    url = "data:image/png;base64;" if cut == 40 else "https://"
    with pytest.raises(ConstructError) as raised:
        encode(url + _straddling(cut - len(url)).replace(" ", "-"))
    assert "LEAK" not in str(raised.value) and "plaintext" not in str(raised.value)
    assert "[RED" in str(raised.value)


def test_json_nested_too_deep_to_read_is_an_invalid_response():
    parser = _chat().stream_parser(REQUEST, "m")
    with pytest.raises(InvalidResponse, match="nested too deep"):
        parser.feed("[" * DEEP + "]" * DEEP)


def test_a_malformed_value_is_named_with_its_type_and_a_scrubbed_excerpt():
    body = json.loads(json.dumps(CHAT_BODIES[0]))
    body["choices"][0]["finish_reason"] = ["stop", CANARY.reveal()]
    with pytest.raises(InvalidResponse) as raised:
        _chat().parse_chat(body, "m")
    message = str(raised.value)
    assert "`choices[0].finish_reason` is an array" in message
    assert '["stop", "[REDACTED]"]' in message and "a string belongs" in message
    assert "LEAK" not in message and raised.value.provider == "acme"


# -- the provider's last resort --------------------------------------------------------------


def test_a_body_nested_too_deep_to_read_is_an_invalid_response():
    provider = create_provider("groq", "k-0123456789")
    with respx.mock() as mock:
        mock.route().respond(200, text="[" * DEEP + "]" * DEEP)
        with pytest.raises(InvalidResponse, match="Groq returned a response construct cannot"):
            provider.chat(ChatRequest((ChatMessage.user("hi"),)), "m")


def test_a_shape_the_dialect_did_not_check_becomes_an_invalid_response(monkeypatch):
    def trip(self, data, model):
        return data["no such field"]

    monkeypatch.setattr(OpenAIChat, "parse_chat", trip)
    provider = create_provider("groq", "k-0123456789")
    with respx.mock() as mock:
        mock.route().respond(200, json={"choices": []})
        with pytest.raises(InvalidResponse) as raised:
            provider.chat(ChatRequest((ChatMessage.user("hi"),)), "m")
    assert raised.value.provider == "groq" and raised.value.is_retryable
    assert "Groq sent a malformed response" in str(raised.value)
    assert "KeyError: 'no such field'" in str(raised.value)


class _Reads:
    def feed(self, chunk):
        return list(chunk)

    def flush(self):
        return []


class _Trips:
    """A stream parser that trips on `bad` as a dialect bug would."""

    complete = True
    partial_text = "Hel"

    def feed(self, payload):
        if payload == "bad":
            raise TypeError("unhashable type: 'list'")
        return [StreamEvent.text(payload)]

    def finish(self):
        raise AttributeError("'int' object has no attribute 'get'")


@pytest.mark.parametrize("reads", [[["Hel"], ["bad"]], [["Hel", "bad"], ["more"]]])
def test_a_stream_parser_tripping_after_output_is_a_stream_interrupted(reads):
    run = _StreamRun(_Trips(), _Reads(), create_provider("groq", "k-0123456789"))
    assert run.chunk(reads[0]) == [StreamEvent.text("Hel")]
    with pytest.raises(InvalidResponse, match="TypeError: unhashable type") as raised:
        run.chunk(reads[1])
    failure = run.failed(raised.value)
    assert isinstance(failure, StreamInterrupted) and failure.partial_text == "Hel"


def test_a_stream_parser_tripping_at_the_end_is_an_invalid_response():
    run = _StreamRun(_Trips(), _Reads(), create_provider("groq", "k-0123456789"))
    with pytest.raises(InvalidResponse, match="AttributeError"):
        run.end()
