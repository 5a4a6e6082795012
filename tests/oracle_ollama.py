"""The official `ollama` SDK as a test oracle for Ollama's native API.

Requests: our body must validate as the SDK's `ChatRequest`, each message must be what
the SDK's own `chat()` makes of it (the request types a message as `Mapping | Message`,
so a dict would pass unchecked), each tool must validate as its `Tool`, and `options` as
its `Options`; and no level may
carry a key those pydantic models do not define (they ignore unknown keys, so this
check is ours). Responses and stream lines are built from the SDK's `ChatResponse`
and `ListResponse`, so what we parse is what the SDK itself would accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ollama._client import _copy_messages
from ollama._types import ChatRequest, ChatResponse, ListResponse, Message, ModelDetails, Options
from ollama._types import Tool as SdkTool
from pydantic import BaseModel

_CREATED = "2025-01-01T00:00:00Z"


def assert_known_keys(value: Mapping[str, Any], model: type[BaseModel], where: str) -> None:
    known = set(model.model_fields) | {
        f.alias for f in model.model_fields.values() if f.alias is not None
    }
    unknown = set(value) - known
    assert not unknown, f"{where}: keys {sorted(unknown)} are not in ollama's {model.__name__}"


def validate_chat_request(body: Mapping[str, Any]) -> ChatRequest:
    """Fail unless `body` is an /api/chat request the ollama SDK could have sent."""
    request = ChatRequest.model_validate(dict(body))
    assert_known_keys(body, ChatRequest, "request")
    for i, message in enumerate(body.get("messages") or ()):
        assert_known_keys(message, Message, f"messages[{i}]")
        # What the SDK's own chat() would put on the wire for this message (it drops empty
        # fields and turns image strings into base64-checked `Image`s): ours, exactly.
        (sdk_message,) = _copy_messages([message])
        sent = {k: v for k, v in message.items() if v}
        assert sdk_message.model_dump(exclude_none=True) == sent, f"messages[{i}]"
        for j, call in enumerate(message.get("tool_calls") or ()):
            where = f"messages[{i}].tool_calls[{j}]"
            assert_known_keys(call, Message.ToolCall, where)
            assert_known_keys(call["function"], Message.ToolCall.Function, where + ".function")
            assert isinstance(call["function"]["arguments"], dict), where + ": args not an object"
    for i, tool in enumerate(body.get("tools") or ()):
        SdkTool.model_validate(tool)
        assert_known_keys(tool, SdkTool, f"tools[{i}]")
        assert_known_keys(tool["function"], SdkTool.Function, f"tools[{i}].function")
    if "options" in body:
        Options.model_validate(body["options"])
        assert_known_keys(body["options"], Options, "options")
    return request


def chat_response(
    content: str | None = "Hello!",
    *,
    model: str = "llama3.2",
    thinking: str | None = None,
    tool_calls: Iterable[tuple[str, Mapping[str, Any]]] = (),
    done: bool = True,
    done_reason: str | None = "stop",
    usage: tuple[int, int] | None = (12, 5),
) -> dict[str, Any]:
    """An /api/chat body (or one NDJSON stream line) built from the SDK's ChatResponse."""
    calls = [
        Message.ToolCall(function=Message.ToolCall.Function(name=name, arguments=dict(args)))
        for name, args in tool_calls
    ]
    body = ChatResponse(
        model=model,
        created_at=_CREATED,
        message=Message(
            role="assistant", content=content, thinking=thinking, tool_calls=calls or None
        ),
        done=done,
        done_reason=done_reason if done else None,
        total_duration=1_000_000 if done else None,
        prompt_eval_count=usage[0] if usage and done else None,
        eval_count=usage[1] if usage and done else None,
    )
    return body.model_dump(mode="json", exclude_none=True)


def chunk(content: str = "", **kw: Any) -> dict[str, Any]:
    """A stream line that is not the last one."""
    return chat_response(content, done=False, **kw)


def ndjson(lines: Iterable[Mapping[str, Any] | str]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def text_stream(*pieces: str, usage: tuple[int, int] = (7, 3), reason: str = "stop") -> bytes:
    """A streamed answer: the pieces, then the `done` line with usage."""
    return ndjson([chunk(p) for p in pieces] + [chat_response("", done_reason=reason, usage=usage)])


def tags(*models: tuple[str, str | None, str | None]) -> dict[str, Any]:
    """An /api/tags body built from the SDK's ListResponse: (name, parameter size, quant)."""
    body = ListResponse(
        models=[
            ListResponse.Model(
                model=name,
                modified_at=_CREATED,
                digest="a" * 64,
                size=2_019_393_189,
                details=ModelDetails(
                    format="gguf",
                    family="llama",
                    families=["llama"],
                    parameter_size=size,
                    quantization_level=quant,
                ),
            )
            for name, size, quant in models
        ]
    )
    return body.model_dump(mode="json", exclude_none=True)
