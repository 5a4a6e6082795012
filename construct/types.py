"""The values that cross construct's public API.

Frozen, slotted dataclasses rather than pydantic models: constructing one
costs a fraction of a microsecond and defining them adds nothing to
`import construct`, while pydantic still validates and serialises them when
an application puts them inside its own models (`TypeAdapter(ChatMessage)`).
Invariants are checked in `__post_init__`, so a bad value fails where it is
made, not three layers down inside a provider.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "ConversationMessage",
    "ImagePart",
    "ModelEntry",
    "ProviderCapabilities",
    "StopReason",
    "StreamEvent",
    "TextPart",
    "ToolCall",
    "ToolResultMessage",
    "ToolSpec",
    "Usage",
]


def new_tool_call_id() -> str:
    """An id for a tool call the provider sent without one."""
    return "call_" + os.urandom(12).hex()


Role = Literal["system", "user", "assistant", "tool"]
StopReason = Literal["end_turn", "tool_use", "max_tokens", "content_filter"]
_ROLES = frozenset(("system", "user", "assistant", "tool"))
_STOP_REASONS = frozenset(("end_turn", "tool_use", "max_tokens", "content_filter"))


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by `http(s)` URL or `data:` URI."""

    url: str
    type: Literal["image"] = "image"

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://", "data:")):
            raise ValueError(
                "ImagePart.url must be an http(s) URL or a data: URI "
                f"(got {self.url[:40]!r}); read local files into a data: URI first"
            )


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool invocation the model asked for. `arguments` is JSON text."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; `{}` when they are empty or not a JSON object."""
        try:
            value = json.loads(self.arguments) if self.arguments else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str | tuple[ContentPart, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"role must be one of {sorted(_ROLES)}, got {self.role!r}")
        if isinstance(self.content, list):
            object.__setattr__(self, "content", tuple(self.content))
        if isinstance(self.tool_calls, list):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id it answers")

    @classmethod
    def system(cls, text: str) -> ChatMessage:
        return cls("system", text)

    @classmethod
    def user(cls, text: str, images: Iterable[str] = ()) -> ChatMessage:
        urls = tuple(images)
        if not urls:
            return cls("user", text)
        parts: list[ContentPart] = [TextPart(text)] if text else []
        parts.extend(ImagePart(u) for u in urls)
        return cls("user", tuple(parts))

    @classmethod
    def assistant(cls, text: str = "", tool_calls: Iterable[ToolCall] = ()) -> ChatMessage:
        return cls("assistant", text, tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> ChatMessage:
        return cls("tool", content, (), tool_call_id)

    @property
    def text(self) -> str:
        """The text of the message, image parts left out."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> tuple[str, ...]:
        if isinstance(self.content, str):
            return ()
        return tuple(p.url for p in self.content if isinstance(p, ImagePart))


# The reference's name for a turn of a conversation; one type serves both.
ConversationMessage = ChatMessage


@dataclass(frozen=True, slots=True)
class ToolResultMessage:
    tool_call_id: str
    content: str

    def to_message(self) -> ChatMessage:
        return ChatMessage.tool(self.tool_call_id, self.content)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call; `parameters` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tool needs a name")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if self.tools is not None and not isinstance(self.tools, tuple):
            object.__setattr__(self, "tools", tuple(self.tools))
        for m in self.messages:
            if not isinstance(m, ChatMessage):
                raise TypeError(f"messages must be ChatMessage values, got {type(m).__name__}")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ValueError("max_tokens must be a positive integer")


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    stop_reason: StopReason | None = None
    reasoning_content: str | None = None
    model: str | None = None
    provider: str | None = None
    attempts: int = 1
    cost_usd: float | None = None

    def __post_init__(self) -> None:
        if self.stop_reason is not None and self.stop_reason not in _STOP_REASONS:
            raise ValueError(f"unknown stop_reason {self.stop_reason!r}")

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def text_or_empty(self) -> str:
        return self.text or ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


StreamEventType = Literal["text_delta", "reasoning_delta", "tool_call", "final"]


@dataclass(frozen=True, slots=True, init=False)
class StreamEvent:
    """One step of a stream: a text or reasoning delta, a whole tool call, or the final response."""

    type: StreamEventType
    delta: str = ""
    tool_call: ToolCall | None = None
    response: ChatResponse | None = None

    def __init__(
        self,
        type: StreamEventType,
        delta: str = "",
        tool_call: ToolCall | None = None,
        response: ChatResponse | None = None,
    ) -> None:
        # One event per token: the slots are set through their descriptors, which a
        # frozen dataclass's own __init__ reaches through object.__setattr__ at twice
        # the cost. Assigning afterwards still raises FrozenInstanceError.
        _set_type(self, type)
        _set_delta(self, delta)
        _set_tool_call(self, tool_call)
        _set_response(self, response)

    @classmethod
    def text(cls, delta: str) -> StreamEvent:
        return cls("text_delta", delta)

    @classmethod
    def reasoning(cls, delta: str) -> StreamEvent:
        return cls("reasoning_delta", delta)

    @classmethod
    def call(cls, tool_call: ToolCall) -> StreamEvent:
        return cls("tool_call", tool_call=tool_call)

    @classmethod
    def final(cls, response: ChatResponse) -> StreamEvent:
        return cls("final", response=response)


_set_type, _set_delta, _set_tool_call, _set_response = (
    StreamEvent.__dict__[name].__set__ for name in ("type", "delta", "tool_call", "response")
)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    model_id: str
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_image_input: bool | None = None


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    native_tool_calling: bool = False
    vision: bool = False
    prompt_caching: bool = False
    streaming: bool = False


def as_messages(messages: Sequence[ChatMessage | Mapping[str, Any]]) -> tuple[ChatMessage, ...]:
    """Accept `ChatMessage`s or `{"role": ..., "content": ...}` dicts, as users write them."""
    out = []
    for m in messages:
        if isinstance(m, ChatMessage):
            out.append(m)
        elif isinstance(m, ToolResultMessage):
            out.append(m.to_message())
        elif isinstance(m, Mapping):
            out.append(
                ChatMessage(
                    m["role"],
                    m.get("content") or "",
                    tuple(
                        ToolCall(**tc) if isinstance(tc, Mapping) else tc
                        for tc in m.get("tool_calls") or ()
                    ),
                    m.get("tool_call_id"),
                )
            )
        else:
            raise TypeError(f"expected ChatMessage or dict, got {type(m).__name__}")
    return tuple(out)
