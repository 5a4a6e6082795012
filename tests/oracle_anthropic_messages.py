"""The official `anthropic` SDK as a test oracle for the Messages wire format.

Requests: pydantic validates each body against the SDK's `MessageCreateParams`
TypedDicts, block by block (the SDK's Iterable fields validate lazily, so every
message, content block, system block and tool is checked with its own type),
and `assert_known_keys` rejects any key the SDK does not define. Responses and
stream events are built from the SDK's own pydantic models.

The SDK (2.x) no longer defines `temperature`, `top_p` or `top_k` (C6: current
Claude models refuse them); tests that send them to older models name them as
`extensions`, the only keys allowed beyond the SDK's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from anthropic.types import (
    Base64ImageSourceParam,
    CacheControlEphemeralParam,
    ImageBlockParam,
    InputJSONDelta,
    Message,
    MessageDeltaUsage,
    ModelInfo,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RedactedThinkingBlockParam,
    SignatureDelta,
    TextBlock,
    TextBlockParam,
    TextDelta,
    ThinkingBlock,
    ThinkingBlockParam,
    ThinkingConfigParam,
    ThinkingDelta,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
    URLImageSourceParam,
    Usage,
)
from anthropic.types import message_create_params as mcp
from anthropic.types.assistant_message_param import AssistantMessageParam
from anthropic.types.raw_message_delta_event import Delta
from anthropic.types.shared import (
    APIErrorObject,
    AuthenticationErrorObject,
    ErrorResponse,
    InvalidRequestErrorObject,
    NotFoundErrorObject,
    OverloadedErrorObject,
    PermissionErrorObject,
    RateLimitErrorObject,
)
from anthropic.types.user_message_param import UserMessageParam
from pydantic import TypeAdapter

SAMPLING = ("temperature", "top_p", "top_k")

_NON_STREAMING = TypeAdapter(mcp.MessageCreateParamsNonStreaming)
_STREAMING = TypeAdapter(mcp.MessageCreateParamsStreaming)
_ROLE_TYPES = {"user": UserMessageParam, "assistant": AssistantMessageParam}
_BLOCK_TYPES: dict[str, type] = {
    "text": TextBlockParam,
    "image": ImageBlockParam,
    "tool_use": ToolUseBlockParam,
    "tool_result": ToolResultBlockParam,
    "thinking": ThinkingBlockParam,
    "redacted_thinking": RedactedThinkingBlockParam,
}
_SOURCE_TYPES = {"base64": Base64ImageSourceParam, "url": URLImageSourceParam}
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    if tp not in _ADAPTERS:
        _ADAPTERS[tp] = TypeAdapter(tp)
    return _ADAPTERS[tp]


def assert_known_keys(value: Mapping[str, Any], typed_dict: type, where: str) -> None:
    unknown = set(value) - set(typed_dict.__annotations__)
    assert not unknown, (
        f"{where}: keys {sorted(unknown)} are not in anthropic's {typed_dict.__name__}"
    )


def _check(value: Any, typed_dict: type, where: str) -> None:
    assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
    _adapter(typed_dict).validate_python(value)
    assert_known_keys(value, typed_dict, where)
    if "cache_control" in value:
        _adapter(CacheControlEphemeralParam).validate_python(value["cache_control"])
        assert_known_keys(
            value["cache_control"], CacheControlEphemeralParam, f"{where}.cache_control"
        )


def _check_block(block: Any, where: str) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    assert kind in _BLOCK_TYPES, f"{where}: construct sends no {kind!r} blocks"
    _check(block, _BLOCK_TYPES[kind], where)
    if kind == "image":
        source = block["source"]
        _check(source, _SOURCE_TYPES[source["type"]], f"{where}.source")
    if kind == "tool_result" and isinstance(block.get("content"), list):
        for i, inner in enumerate(block["content"]):
            _check_block(inner, f"{where}.content[{i}]")


def validate_messages_request(body: Mapping[str, Any], *, extensions: Iterable[str] = ()) -> None:
    """Fail unless `body` is a Messages request the anthropic SDK could have sent."""
    allowed = set(extensions)
    core = {k: v for k, v in body.items() if k not in allowed}
    adapter = _STREAMING if core.get("stream") else _NON_STREAMING
    validated = adapter.validate_python(dict(core))
    for key in ("messages", "tools", "system"):
        if key in validated and not isinstance(validated[key], str):
            list(validated[key])
    params = (
        mcp.MessageCreateParamsStreaming
        if core.get("stream")
        else mcp.MessageCreateParamsNonStreaming
    )
    assert_known_keys(core, params, "request")
    for i, message in enumerate(body["messages"]):
        _check(message, _ROLE_TYPES[message["role"]], f"messages[{i}]")
        content = message["content"]
        if not isinstance(content, str):
            assert content, f"messages[{i}] has no content blocks"
            for j, block in enumerate(content):
                _check_block(block, f"messages[{i}].content[{j}]")
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            _check(block, TextBlockParam, f"system[{i}]")
    for i, tool in enumerate(body.get("tools") or ()):
        _check(tool, ToolParam, f"tools[{i}]")
    if "thinking" in body:
        _adapter(ThinkingConfigParam).validate_python(body["thinking"])
    if "tool_choice" in body:
        _adapter(ToolChoiceParam).validate_python(body["tool_choice"])
    for key in allowed & set(body):
        assert key in SAMPLING, f"{key} is not a documented sampling parameter"
        assert isinstance(body[key], int | float), f"{key} must be a number"


# -- responses ------------------------------------------------------------------------


def usage(
    input_tokens: int = 12,
    output_tokens: int = 5,
    *,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
    )


def text_block(text: str) -> TextBlock:
    return TextBlock(type="text", text=text)


def thinking_block(thinking: str, signature: str | None = None) -> ThinkingBlock:
    """A signed thinking block; streams open one with an empty signature (`signature=""`)."""
    sig = f"sig-{len(thinking)}" if signature is None else signature
    return ThinkingBlock(type="thinking", thinking=thinking, signature=sig)


def tool_use_block(call_id: str, name: str, args: dict[str, Any]) -> ToolUseBlock:
    return ToolUseBlock(type="tool_use", id=call_id, name=name, input=args)


def message(
    *blocks: TextBlock | ThinkingBlock | ToolUseBlock | str,
    stop_reason: str | None = "end_turn",
    model: str = "claude-test-1",
    tokens: Usage | None = None,
) -> dict[str, Any]:
    """A Messages response body built from the SDK's `Message` model."""
    content = [text_block(b) if isinstance(b, str) else b for b in blocks]
    body = Message(
        id="msg_01",
        type="message",
        role="assistant",
        model=model,
        content=content,
        stop_reason=stop_reason,
        stop_sequence=None,
        usage=tokens or usage(),
    )
    return body.model_dump(mode="json", exclude_none=True)


# -- streams --------------------------------------------------------------------------


def message_start(model: str = "claude-test-1", tokens: Usage | None = None) -> dict[str, Any]:
    start = Message(
        id="msg_01",
        type="message",
        role="assistant",
        model=model,
        content=[],
        stop_reason=None,
        usage=tokens or usage(12, 1),
    )
    return _dump(RawMessageStartEvent(type="message_start", message=start))


def block_start(index: int, block: TextBlock | ThinkingBlock | ToolUseBlock) -> dict[str, Any]:
    return _dump(
        RawContentBlockStartEvent(type="content_block_start", index=index, content_block=block)
    )


def text_delta(index: int, text: str) -> dict[str, Any]:
    return _delta(index, TextDelta(type="text_delta", text=text))


def thinking_delta(index: int, thinking: str) -> dict[str, Any]:
    return _delta(index, ThinkingDelta(type="thinking_delta", thinking=thinking))


def signature_delta(index: int, signature: str = "EqQBCgIYAhIM") -> dict[str, Any]:
    return _delta(index, SignatureDelta(type="signature_delta", signature=signature))


def json_delta(index: int, partial: str) -> dict[str, Any]:
    return _delta(index, InputJSONDelta(type="input_json_delta", partial_json=partial))


def block_stop(index: int) -> dict[str, Any]:
    return _dump(RawContentBlockStopEvent(type="content_block_stop", index=index))


def message_delta(stop_reason: str | None = "end_turn", output_tokens: int = 5) -> dict[str, Any]:
    return _dump(
        RawMessageDeltaEvent(
            type="message_delta",
            delta=Delta(stop_reason=stop_reason, stop_sequence=None),
            usage=MessageDeltaUsage(output_tokens=output_tokens),
        )
    )


def message_stop() -> dict[str, Any]:
    return _dump(RawMessageStopEvent(type="message_stop"))


PING = {"type": "ping"}


def _delta(index: int, delta: Any) -> dict[str, Any]:
    return _dump(RawContentBlockDeltaEvent(type="content_block_delta", index=index, delta=delta))


def _dump(event: Any) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)


def text_events(*pieces: str, stop_reason: str = "end_turn", output_tokens: int = 5) -> list:
    """The events of a plain streamed answer, as the API sends them."""
    return [
        message_start(),
        block_start(0, text_block("")),
        PING,
        *(text_delta(0, p) for p in pieces),
        block_stop(0),
        message_delta(stop_reason, output_tokens),
        message_stop(),
    ]


def sse(events: Iterable[Mapping[str, Any]]) -> bytes:
    """An SSE body as Anthropic sends it: `event: <type>` then `data: <json>`."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


# -- errors and models ----------------------------------------------------------------

_ERROR_OBJECTS: dict[str, Any] = {
    "invalid_request_error": InvalidRequestErrorObject,
    "authentication_error": AuthenticationErrorObject,
    "permission_error": PermissionErrorObject,
    "not_found_error": NotFoundErrorObject,
    "rate_limit_error": RateLimitErrorObject,
    "api_error": APIErrorObject,
    "overloaded_error": OverloadedErrorObject,
}


def error(kind: str, text: str) -> dict[str, Any]:
    """An error body (`{"type": "error", "error": {...}}`) from the SDK's `ErrorResponse`."""
    obj = _ERROR_OBJECTS[kind](type=kind, message=text)
    return ErrorResponse(type="error", error=obj, request_id="req_011").model_dump(
        mode="json", exclude_none=True
    )


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def model_info(
    model_id: str, display_name: str, *, window: int, max_tokens: int, images: bool
) -> dict[str, Any]:
    yes, no = _supported(True), _supported(False)
    capabilities = {
        "batch": yes,
        "citations": yes,
        "code_execution": no,
        "context_management": {"supported": False},
        "effort": {"supported": False, "low": no, "medium": no, "high": no, "max": no},
        "image_input": _supported(images),
        "pdf_input": yes,
        "server_tools": {"supported": False, "code_execution": no, "web_search": no},
        "structured_outputs": yes,
        "thinking": {
            "supported": True,
            "types": {"adaptive": yes, "between_tools": no, "disabled": yes, "enabled": no},
        },
    }
    info = ModelInfo.model_validate(
        {
            "id": model_id,
            "type": "model",
            "display_name": display_name,
            "created_at": datetime(2026, 4, 16, tzinfo=UTC),
            "lifecycle": "active",
            "max_input_tokens": window,
            "max_tokens": max_tokens,
            "capabilities": capabilities,
        }
    )
    return info.model_dump(mode="json", exclude_none=True)


def model_page(*rows: dict[str, Any]) -> dict[str, Any]:
    """A `GET /v1/models` page."""
    return {
        "data": list(rows),
        "has_more": False,
        "first_id": rows[0]["id"] if rows else None,
        "last_id": rows[-1]["id"] if rows else None,
    }
