"""The official `openai` SDK as a test oracle for the OpenAI chat wire format.

Requests: pydantic validates our body against the SDK's `CompletionCreateParams`
TypedDicts (types, required keys, literals), and `assert_known_keys` rejects any
key the SDK does not define, at every level we produce. Responses: bodies are
built from the SDK's own pydantic response models, so what we parse is what the
SDK itself would accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionStreamOptionsParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat import completion_create_params as ccp
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.chat.chat_completion_message import ChatCompletionMessage
from openai.types.chat.chat_completion_message_function_tool_call import (
    ChatCompletionMessageFunctionToolCall,
    Function,
)
from openai.types.completion_usage import CompletionUsage, PromptTokensDetails
from openai.types.shared_params import FunctionDefinition
from pydantic import TypeAdapter

_ROLE_TYPES = {
    "system": ChatCompletionSystemMessageParam,
    "user": ChatCompletionUserMessageParam,
    "assistant": ChatCompletionAssistantMessageParam,
    "tool": ChatCompletionToolMessageParam,
}
_PART_TYPES = {
    "text": ChatCompletionContentPartTextParam,
    "image_url": ChatCompletionContentPartImageParam,
}
_NON_STREAMING = TypeAdapter(ccp.CompletionCreateParamsNonStreaming)
_STREAMING = TypeAdapter(ccp.CompletionCreateParamsStreaming)


def assert_known_keys(value: Mapping[str, Any], typed_dict: type, where: str) -> None:
    unknown = set(value) - set(typed_dict.__annotations__)
    assert not unknown, f"{where}: keys {sorted(unknown)} are not in openai's {typed_dict.__name__}"


def validate_chat_request(body: Mapping[str, Any], *, extensions: Iterable[str] = ()) -> None:
    """Fail unless `body` is a chat-completions request the openai SDK could have sent.

    `extensions` names top-level vendor fields allowed beyond OpenAI's (Z.AI `tool_stream`).
    """
    adapter = _STREAMING if body.get("stream") else _NON_STREAMING
    validated = adapter.validate_python(dict(body))
    list(validated["messages"])  # Iterable fields validate lazily
    if "tools" in validated:
        list(validated["tools"])
    rest = {k: v for k, v in body.items() if k not in set(extensions)}
    params = (
        ccp.CompletionCreateParamsStreaming
        if body.get("stream")
        else (ccp.CompletionCreateParamsNonStreaming)
    )
    assert_known_keys(rest, params, "request")
    for i, message in enumerate(body["messages"]):
        assert_known_keys(message, _ROLE_TYPES[message["role"]], f"messages[{i}]")
        if isinstance(message.get("content"), list):
            for j, part in enumerate(message["content"]):
                assert_known_keys(part, _PART_TYPES[part["type"]], f"messages[{i}].content[{j}]")
        for j, call in enumerate(message.get("tool_calls") or ()):
            where = f"messages[{i}].tool_calls[{j}]"
            assert_known_keys(call, ChatCompletionMessageFunctionToolCallParam, where)
    for i, tool in enumerate(body.get("tools") or ()):
        assert_known_keys(tool, ChatCompletionFunctionToolParam, f"tools[{i}]")
        assert_known_keys(tool["function"], FunctionDefinition, f"tools[{i}].function")
    if "stream_options" in body:
        assert_known_keys(
            body["stream_options"], ChatCompletionStreamOptionsParam, "stream_options"
        )


def completion(
    content: str | None = "Hello!",
    *,
    model: str = "test-model",
    finish_reason: str = "stop",
    tool_calls: Iterable[tuple[str, str, str]] = (),
    usage: tuple[int, int] | None = (12, 5),
    cached: int | None = None,
) -> dict[str, Any]:
    """A chat.completion body built from the SDK's response model."""
    calls = [
        ChatCompletionMessageFunctionToolCall(
            id=call_id, type="function", function=Function(name=name, arguments=args)
        )
        for call_id, name, args in tool_calls
    ]
    body = ChatCompletion(
        id="chatcmpl-123",
        object="chat.completion",
        created=1_700_000_000,
        model=model,
        choices=[
            Choice(
                index=0,
                finish_reason=finish_reason,
                message=ChatCompletionMessage(
                    role="assistant", content=content, tool_calls=calls or None
                ),
            )
        ],
        usage=CompletionUsage(
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            total_tokens=sum(usage),
            prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached else None,
        )
        if usage
        else None,
    )
    return body.model_dump(mode="json", exclude_none=True)


def chunk(
    content: str | None = None,
    *,
    finish_reason: str | None = None,
    tool_call: tuple[int, str | None, str | None, str | None] | None = None,
    usage: tuple[int, int] | None = None,
    model: str = "test-model",
    no_choices: bool = False,
) -> dict[str, Any]:
    """A chat.completion.chunk built from the SDK's response model."""
    calls = None
    if tool_call is not None:
        index, call_id, name, args = tool_call
        calls = [
            ChoiceDeltaToolCall(
                index=index,
                id=call_id,
                type="function" if call_id else None,
                function=ChoiceDeltaToolCallFunction(name=name, arguments=args),
            )
        ]
    choices = (
        []
        if no_choices
        else [
            ChunkChoice(
                index=0,
                delta=ChoiceDelta(content=content, tool_calls=calls),
                finish_reason=finish_reason,
            )
        ]
    )
    body = ChatCompletionChunk(
        id="chatcmpl-123",
        object="chat.completion.chunk",
        created=1_700_000_000,
        model=model,
        choices=choices,
        usage=CompletionUsage(
            prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=sum(usage)
        )
        if usage
        else None,
    )
    return body.model_dump(mode="json", exclude_none=True)


def sse(events: Iterable[Mapping[str, Any] | str], done: bool = True) -> bytes:
    """An SSE body: one `data:` event per chunk, then `[DONE]`."""
    out = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def text_stream(*pieces: str, usage: tuple[int, int] = (7, 3)) -> bytes:
    """A plain streamed answer: the pieces, a stop chunk, a usage chunk, [DONE]."""
    return sse(
        [chunk(p) for p in pieces]
        + [chunk(finish_reason="stop"), chunk(usage=usage, no_choices=True)]
    )
