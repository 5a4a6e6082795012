"""The values that cross construct's public API.

Frozen, slotted dataclasses rather than pydantic models: constructing one
costs a fraction of a microsecond and defining them adds nothing to
`import construct`, while pydantic still validates and serialises them when
an application puts them inside its own models (`TypeAdapter(ChatMessage)`).
Invariants are checked in `__post_init__`, so a bad value fails where it is
made, not three layers down inside a provider: as an `InvalidArgument`, which
is a `ConstructError` and also a `TypeError` and a `ValueError`. The checks are
a few `isinstance` calls, since values are built per call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import InvalidArgument

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


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _cut(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


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

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InvalidArgument(f"TextPart.text must be a string, got {_kind(self.text)}")


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by `http(s)` URL or `data:` URI."""

    url: str
    type: Literal["image"] = "image"

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise InvalidArgument(f"ImagePart.url must be a string, got {_kind(self.url)}")
        if not self.url.startswith(("http://", "https://", "data:")):
            raise InvalidArgument(
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
        if not isinstance(self.role, str) or self.role not in _ROLES:
            raise InvalidArgument(f"role must be one of {sorted(_ROLES)}, got {_cut(self.role)}")
        content = self.content
        if not isinstance(content, str):
            if not isinstance(content, list | tuple):
                raise InvalidArgument(
                    f"ChatMessage content must be a string or a sequence of TextPart and "
                    f"ImagePart, got {_kind(content)}"
                )
            if isinstance(content, list):
                object.__setattr__(self, "content", content := tuple(content))
            for part in content:
                if not isinstance(part, TextPart | ImagePart):
                    raise InvalidArgument(
                        f"ChatMessage content parts must be TextPart or ImagePart, got "
                        f"{_kind(part)}; write {{'type': 'text', ...}} dicts as TextPart(...)"
                    )
        if not isinstance(self.tool_calls, tuple):
            if not isinstance(self.tool_calls, list):
                raise InvalidArgument(
                    f"tool_calls must be a sequence of ToolCall, got {_kind(self.tool_calls)}"
                )
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        for call in self.tool_calls:
            # ToolCall itself is not checked: dialects build it from response bodies, where
            # a wrong type is the server's fault, not the caller's.
            if not isinstance(call, ToolCall) or not (
                isinstance(call.id, str)
                and isinstance(call.name, str)
                and isinstance(call.arguments, str)
            ):
                raise InvalidArgument(
                    "tool_calls must be ToolCall values with string id, name and arguments "
                    f"(arguments is JSON text: json.dumps(...)), got {_cut(call)}"
                )
        if self.tool_call_id is not None and not isinstance(self.tool_call_id, str):
            raise InvalidArgument(f"tool_call_id must be a string, got {_kind(self.tool_call_id)}")
        if self.role == "tool" and not self.tool_call_id:
            raise InvalidArgument("a tool message needs the tool_call_id it answers")

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
    def assistant(cls, text: str | None = "", tool_calls: Iterable[ToolCall] = ()) -> ChatMessage:
        # None: `ChatResponse.text` of a reply that only calls tools, passed straight back.
        return cls("assistant", "" if text is None else text, tuple(tool_calls))

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
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgument(
                f"a tool needs a name (a non-empty string), got {_cut(self.name)}"
            )
        if not isinstance(self.description, str):
            raise InvalidArgument(
                f"tool {_cut(self.name)}: description must be a string, "
                f"got {_kind(self.description)}"
            )
        if not isinstance(self.parameters, Mapping):
            raise InvalidArgument(
                f"tool {_cut(self.name)}: parameters must be a JSON Schema object (a dict), "
                f"got {_kind(self.parameters)}"
            )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.messages) is not tuple:
            # One message is a conversation of one: ChatRequest(ChatMessage.user("hi")).
            one = isinstance(self.messages, ChatMessage)
            messages = (self.messages,) if one else _as_tuple("messages", self.messages)
            object.__setattr__(self, "messages", messages)
        for m in self.messages:
            if not isinstance(m, ChatMessage):
                raise InvalidArgument(
                    f"messages must be ChatMessage values, got {_kind(m)}; "
                    "build them with ChatMessage.user(...) and the like"
                )
        if self.tools is not None:
            if type(self.tools) is not tuple:
                object.__setattr__(self, "tools", _as_tuple("tools", self.tools))
            for tool in self.tools:
                if not isinstance(tool, ToolSpec):
                    raise InvalidArgument(
                        f"tools must be ToolSpec values, got {_cut(tool)}; "
                        "describe each tool as ToolSpec(name, description, parameters)"
                    )
        tokens = self.max_tokens
        if tokens is not None and (type(tokens) is not int or tokens <= 0):
            raise InvalidArgument(f"max_tokens must be a positive integer, got {_cut(tokens)}")
        extra = self.extra
        if type(extra) is not dict and not isinstance(extra, Mapping):
            raise InvalidArgument(f"extra must be a dict, got {_kind(extra)}")
        if extra:
            _check_extra(extra)


def _as_tuple(name: str, value: object) -> tuple[Any, ...]:
    # A string or a dict is iterable too, and would become a tuple of its letters or keys.
    if type(value) is list or (
        not isinstance(value, str | bytes | Mapping) and isinstance(value, Iterable)
    ):
        return tuple(value)  # type: ignore[arg-type]
    hint = "; e.g. [ChatMessage.user('hi')]" if name == "messages" else ""
    raise InvalidArgument(f"{name} must be a list or tuple, got {_kind(value)}{hint}")


_JSON_SCALARS = frozenset((str, int, bool, type(None)))
_INF = float("inf")
# Deeper than any request body needs; a walk this deep still fits Python's stack.
_MAX_JSON_DEPTH = 100


def _json_problem(value: object, depth: int = 0) -> str | None:
    """What keeps `value` from being written as JSON, or None. A walk, not `json.dumps`: a
    few type checks cost a fraction of encoding, and this runs per request."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return None
    if kind is float:
        return None if value == value and value not in (_INF, -_INF) else f"{value!r} is not JSON"
    if depth >= _MAX_JSON_DEPTH:
        return f"nested more than {_MAX_JSON_DEPTH} levels deep"
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"key {_cut(k)} is not a string"
            problem = _json_problem(v, depth + 1)
            if problem is not None:
                return f"{k!r}: {problem}" if depth == 0 else problem
        return None
    if isinstance(value, list | tuple):
        for v in value:
            problem = _json_problem(v, depth + 1)
            if problem is not None:
                return problem
        return None
    return f"{_kind(value)} is not a JSON value"


def _check_extra(extra: Mapping[str, Any]) -> None:
    """`extra` is merged into the request body: it must be JSON the encoder can write."""
    problem = _json_problem(extra)
    if problem is not None:
        raise InvalidArgument(
            "extra must hold only JSON values (str, number, bool, None, list, dict; "
            f"not NaN or infinity): {problem[:120]}"
        )


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
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
        raise InvalidArgument(
            f"messages must be a list of ChatMessage or dicts, got {_kind(messages)}"
        )
    out = []
    for i, m in enumerate(messages):
        if isinstance(m, ChatMessage):
            out.append(m)
        elif isinstance(m, ToolResultMessage):
            out.append(m.to_message())
        elif isinstance(m, Mapping):
            if "role" not in m:
                raise InvalidArgument(
                    f"message {i} has no role; write {{'role': 'user', 'content': '...'}}"
                )
            calls = m.get("tool_calls") or ()
            if isinstance(calls, str | bytes | Mapping) or not isinstance(calls, Iterable):
                raise InvalidArgument(f"message {i}: tool_calls must be a list")
            try:
                tool_calls = tuple(
                    ToolCall(**tc) if isinstance(tc, Mapping) else tc for tc in calls
                )
            except TypeError:
                raise InvalidArgument(
                    f"message {i}: each tool call needs id, name and arguments, and nothing else"
                ) from None
            content = m.get("content")
            out.append(
                ChatMessage(
                    m["role"], "" if content is None else content, tool_calls, m.get("tool_call_id")
                )
            )
        else:
            raise InvalidArgument(f"expected ChatMessage or dict, got {_kind(m)}")
    return tuple(out)
