"""The Infinity model-provider wire: one compact JSON value per line, as pure functions.

An Infinity provider process serves a Unix socket. A client connects, writes one request
line and reads response lines until the server closes (reference
infinity-and-skelegent.md, Part A §A3). This module turns construct's values into those
lines and back and does no I/O, so a server and a client, sync or async, share it.

Three generations share the envelope and differ inside it (§A0):

    v1  rig 0.31's request (10 fields); {"Chunk": <item>}; errors are strings
    v2  the protocol's own request (5 fields); {"Chunk": {"Ok": ...}} / {"Chunk": {"Err": "..."}}
    v3  as v2, errors classified: {"message": "...", "class": "Transient"|"Throttled"|...}

Encoders write the generation they are given. Decoders read all three: a v2/v3 server
accepts a v1 request (§A0), and a client may not know which generation it reached.

Lines carry no trailing newline; the caller writes `\\n` after each. A line that breaks
the protocol raises `WireError`; a value from code that cannot be written raises
`InvalidArgument`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from urllib.parse import unquote_to_bytes, urlsplit

from ..errors import (
    RATE_LIMIT_ADVICE,
    AllProvidersFailed,
    ConstructError,
    ContextWindowExceeded,
    InvalidArgument,
    ProviderError,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from ..secrets import scrub_secret_patterns
from ..types import (
    ChatMessage,
    ChatRequest,
    ContentPart,
    ImagePart,
    ModelEntry,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "INVOKE_STARTED",
    "LIST_MODELS",
    "PROTOCOLS",
    "STREAM_END",
    "Chunk",
    "ChunkLine",
    "ErrorChunk",
    "ErrorClass",
    "ErrorLine",
    "FinalChunk",
    "Invoke",
    "InvokeStarted",
    "ListModels",
    "Models",
    "Protocol",
    "ReasoningChunk",
    "ReasoningDeltaChunk",
    "StreamEnd",
    "TextChunk",
    "ToolCallChunk",
    "ToolCallDeltaChunk",
    "WireError",
    "decode_request",
    "decode_response",
    "encode_chunk",
    "encode_error",
    "encode_invoke",
    "encode_models",
    "error_class_of",
    "error_from_wire",
]

Protocol = Literal["v1", "v2", "v3"]
ErrorClass = Literal["Transient", "Throttled", "ContextOverflow", "Fatal"]
PROTOCOLS: tuple[str, ...] = ("v1", "v2", "v3")
_ERROR_CLASSES: dict[str, ErrorClass] = {
    "Transient": "Transient",
    "Throttled": "Throttled",
    "ContextOverflow": "ContextOverflow",
    "Fatal": "Fatal",
}

LIST_MODELS = '"ListModels"'
INVOKE_STARTED = '"InvokeStarted"'
STREAM_END = '"StreamEnd"'


# -- chunks: what a model stream yields, the same in every generation -------------------


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A complete tool call; `arguments` is the parsed JSON value (normally a dict)."""

    id: str
    name: str
    arguments: Any
    # v1 only; rig requires it, and a v1 line repeats `id` when it is None.
    internal_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDeltaChunk:
    """A piece of a tool call being streamed: its name, or a fragment of its JSON arguments."""

    id: str
    name: str | None = None
    delta: str | None = None
    internal_call_id: str | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.delta is None):
            raise InvalidArgument(
                "a ToolCallDeltaChunk carries exactly one of name and delta, "
                f"got name={self.name!r} and delta={self.delta!r}"
            )


@dataclass(frozen=True, slots=True)
class ReasoningChunk:
    """A complete reasoning block. Infinity keeps only blocks with a signature in history."""

    text: str
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDeltaChunk:
    text: str


@dataclass(frozen=True, slots=True)
class FinalChunk:
    """The end of a turn. `total_tokens` None is written as input + output (see `_usage_out`)."""

    usage: Usage | None
    total_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorChunk:
    """A provider error in mid-stream; the stream goes on to `StreamEnd`."""

    message: str
    error_class: ErrorClass = "Fatal"


Chunk = (
    TextChunk
    | ToolCallChunk
    | ToolCallDeltaChunk
    | ReasoningChunk
    | ReasoningDeltaChunk
    | FinalChunk
    | ErrorChunk
)


# -- decoded lines ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListModels:
    pass


@dataclass(frozen=True, slots=True)
class Invoke:
    """An InvokeModel request. `protocol` is "v1" for a body with `documents` (rig's
    request), else "v2" (v2 and v3 requests are the same). `temperature` exists in v1 only;
    `additional_params` is the raw value, also in `request.extra` when it is an object."""

    model_id: str
    request: ChatRequest
    protocol: Protocol
    temperature: float | None = None
    additional_params: Any = None


@dataclass(frozen=True, slots=True)
class Models:
    entries: tuple[ModelEntry, ...]


@dataclass(frozen=True, slots=True)
class InvokeStarted:
    pass


@dataclass(frozen=True, slots=True)
class StreamEnd:
    pass


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """The `{"Error": ...}` line: the call failed before streaming, or listing failed."""

    message: str
    error_class: ErrorClass = "Fatal"


@dataclass(frozen=True, slots=True)
class ChunkLine:
    chunk: Chunk


class WireError(ConstructError, ValueError):
    """A line that is not valid Infinity provider protocol.

    A `ValueError`, and a `ConstructError` like everything construct raises. The message
    names what is wrong and shows at most ~200 characters of the line."""


_INVOKE_STARTED = InvokeStarted()
_STREAM_END = StreamEnd()
_LIST_MODELS = ListModels()


# -- JSON -------------------------------------------------------------------------------


def _plain(value: object) -> object:
    # ToolSpec.parameters and ChatRequest.extra are Mappings, not necessarily dicts.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


# serde_json's compact form; Rust rejects NaN, so writing one is an error here too.
_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
).encode


def _encode(value: object, what: str) -> str:
    try:
        return _dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
        problem = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidArgument(f"cannot write the {what} as JSON: {problem[:200]}") from None


def _no_constant(name: str) -> NoReturn:
    # Python reads NaN and Infinity; serde_json, on the other end, does not.
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with an argument builds a decoder per call, which doubles the cost
# of reading a one-token chunk line.
_loads = json.JSONDecoder(parse_constant=_no_constant).decode


# Past the cut, a key straddling it would be printed in part, too short for any pattern to
# recognise, so scrubbing looks this far ahead (keys are shorter).
_SCRUB_AHEAD = 4096


def _excerpt(text: str, limit: int = 200) -> str:
    text = scrub_secret_patterns(text[: limit + _SCRUB_AHEAD])
    return text if len(text) <= limit else text[:limit] + "..."


def _show(value: object) -> str:
    if type(value) is str and len(value) > 200:
        value = value[:200]
    try:
        return _excerpt(json.dumps(value, ensure_ascii=False), 120)
    except (TypeError, ValueError, RecursionError):
        return "(a value nested too deep to show)"


def _parse(line: str | bytes, what: str) -> Any:
    if isinstance(line, bytes | bytearray):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(
                f"the {what} is not UTF-8 (byte {exc.start}); lines are UTF-8 JSON"
            ) from None
    elif not isinstance(line, str):
        raise InvalidArgument(f"a {what} is str or bytes, got {type(line).__name__}")
    text = line.rstrip("\r\n")
    try:
        return _loads(text)
    except RecursionError:
        raise WireError(f"the {what} is nested too deep to read: {_excerpt(text)}") from None
    except ValueError as exc:
        raise WireError(f"the {what} is not JSON ({exc}): {_excerpt(text)}") from None


def _fail(where: str, value: object, expected: str) -> NoReturn:
    raise WireError(f"{where} is {_show(value)} where {expected} belongs")


def _str(value: object, where: str) -> str:
    if type(value) is not str:
        _fail(where, value, "a string")
    return value


def _opt_str(value: object, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _dict(value: object, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        _fail(where, value, "an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if type(value) is not list:
        _fail(where, value, "an array")
    return value


def _count(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        _fail(where, value, "a count (a non-negative integer)")
    return value


def _only_key(value: object, where: str, expected: str) -> tuple[str, Any]:
    """The tag and value of a serde externally tagged enum: an object with one key."""
    if type(value) is not dict or len(value) != 1:
        _fail(where, value, expected)
    return next(iter(value.items()))


def _check_protocol(protocol: object) -> None:
    if protocol not in PROTOCOLS:
        raise InvalidArgument(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def _check_class(error_class: object) -> None:
    if error_class not in _ERROR_CLASSES:
        raise InvalidArgument(
            f"error_class must be one of {', '.join(sorted(_ERROR_CLASSES))}, got {error_class!r}"
        )


# -- messages: construct's ChatMessage <-> rig's message JSON (§A3.3, §A3.5) ------------

# rig's ImageMediaType, by MIME type and by URL suffix.
_IMAGE_MEDIA = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/svg+xml": "svg",
}
_IMAGE_MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "svg": "image/svg+xml",
}
_URL_SUFFIX = {**{short: short for short in _IMAGE_MIME}, "jpg": "jpeg"}
# A base64 image sent without a media type (or one rig does not name): the bytes are
# there, their kind is not.
_UNKNOWN_MIME = "application/octet-stream"
# rig's UserContent kinds construct has no part for.
_UNSUPPORTED_USER_CONTENT = frozenset(("audio", "video", "document"))


def _image_out(url: str) -> dict[str, Any]:
    if not url.startswith("data:"):
        item: dict[str, Any] = {"type": "image", "data": {"type": "url", "value": url}}
        try:
            suffix = urlsplit(url).path.rpartition(".")[2].lower()
        except ValueError:
            suffix = ""
        # A media type helps providers that must name one; unknown, rig's field is left out.
        if suffix in _URL_SUFFIX:
            item["media_type"] = _URL_SUFFIX[suffix]
        return item
    header, comma, data = url[5:].partition(",")
    if not comma:
        raise InvalidArgument(
            "an image data: URI has no ',' before its data; write data:image/png;base64,<data>"
        )
    params = [p.strip().lower() for p in header.split(";")]
    media = _IMAGE_MEDIA.get(params[0])
    if media is None:
        raise InvalidArgument(
            "the Infinity wire names images as jpeg, png, gif, webp, heic, heif or svg; "
            f"this data: URI is {params[0] or 'untyped'}. Convert the image to PNG or JPEG."
        )
    if "base64" in params[1:]:
        data = "".join(data.split())
    else:
        data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
    return {"type": "image", "data": {"type": "base64", "value": data}, "media_type": media}


def _parts_out(content: str | tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    """User or tool-result content; rig's OneOrMany is never empty, so "" is one empty text."""
    if isinstance(content, str) or not content:
        return [{"type": "text", "text": content or ""}]
    return [
        _image_out(p.url) if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
        for p in content
    ]


def _arguments_out(arguments: str) -> Any:
    """Tool-call arguments as the JSON value the wire carries. Text that is not JSON becomes
    `{}`, as in construct's other dialects: the call still goes back to the model."""
    if not arguments.strip():
        return {}
    try:
        return _loads(arguments)
    except ValueError:
        return {}
    except RecursionError:
        raise InvalidArgument("tool-call arguments are nested too deep to send") from None


def _assistant_out(message: ChatMessage, v1: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        if message.content or not message.tool_calls:
            content.append({"text": message.content})
    else:
        for part in message.content:
            if isinstance(part, ImagePart):
                raise InvalidArgument(
                    "an assistant message holds an image; the Infinity wire carries images "
                    "in user and tool messages only. Move it into a user message."
                )
            content.append({"text": part.text})
        if not content and not message.tool_calls:
            content.append({"text": ""})
    for call in message.tool_calls:
        function = {"name": call.name, "arguments": _arguments_out(call.arguments)}
        if v1:
            content.append(
                {
                    "id": call.id,
                    "call_id": None,
                    "function": function,
                    "signature": None,
                    "additional_params": None,
                }
            )
        else:
            content.append({"id": call.id, "function": function})
    if v1:
        return {"role": "assistant", "id": None, "content": content}
    return {"role": "assistant", "content": content}


def _history_out(
    messages: Sequence[ChatMessage], v1: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    """The preamble and chat_history. rig has no system role: every system message goes
    into the preamble, joined by blank lines, wherever it stood. Consecutive tool results
    share one user message, as a model that called tools in parallel expects them."""
    system: list[str] = []
    history: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the tool results of the last user message
    for message in messages:
        role = message.role
        if role == "system":
            if message.text:
                system.append(message.text)
            continue
        if role == "tool":
            item = {
                "type": "toolresult",
                "id": message.tool_call_id,
                "content": _parts_out(message.content),
            }
            if results is None:
                results = []
                history.append({"role": "user", "content": results})
            results.append(item)
            continue
        results = None
        if role == "user":
            history.append({"role": "user", "content": _parts_out(message.content)})
        else:
            history.append(_assistant_out(message, v1))
    return ("\n\n".join(system) if system else None), history


def _image_in(item: dict[str, Any], where: str) -> ImagePart:
    data = _dict(item.get("data"), f"{where}.data")
    kind = data.get("type")
    if kind == "url":
        return ImagePart(_str(data.get("value"), f"{where}.data.value"))
    media = _opt_str(item.get("media_type"), f"{where}.media_type")
    mime = _IMAGE_MIME.get(media or "", _UNKNOWN_MIME)
    if kind == "base64":
        return ImagePart(f"data:{mime};base64,{_str(data.get('value'), f'{where}.data.value')}")
    if kind == "raw":
        raw = _list(data.get("value"), f"{where}.data.value")
        try:
            encoded = base64.b64encode(bytes(raw)).decode("ascii")
        except (TypeError, ValueError):
            _fail(f"{where}.data.value", raw, "an array of bytes")
        return ImagePart(f"data:{mime};base64,{encoded}")
    raise WireError(
        f"{where} is an image whose source is {_show(kind)}; construct reads url, base64 "
        "and raw images"
    )


def _part_in(item: object, where: str) -> ContentPart:
    item = _dict(item, where)
    kind = item.get("type")
    if kind == "text":
        return TextPart(_str(item.get("text"), f"{where}.text"))
    if kind == "image":
        return _image_in(item, where)
    if kind in _UNSUPPORTED_USER_CONTENT:
        # A placeholder would change what the model reads without anyone noticing.
        raise WireError(
            f"{where} is {kind} content, which construct cannot pass to a model; send text "
            "or images"
        )
    raise WireError(f"{where} is {_show(item)}, not text, image or toolresult content")


def _content_in(parts: list[ContentPart]) -> str | tuple[ContentPart, ...]:
    """One text part is a plain string, as construct's own messages are written."""
    if not parts:
        return ""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return tuple(parts)


def _items(value: object, where: str) -> list[Any]:
    # rig writes OneOrMany as an array; a bare string is read as one text item.
    if type(value) is str:
        return [{"type": "text", "text": value}]
    return _list(value, where)


def _user_in(content: list[Any], where: str) -> list[ChatMessage]:
    """A rig user message: its tool results become tool messages, the rest user messages,
    in order."""
    out: list[ChatMessage] = []
    parts: list[ContentPart] = []
    for j, item in enumerate(content):
        at = f"{where}.content[{j}]"
        if type(item) is dict and item.get("type") == "toolresult":
            if parts:
                out.append(ChatMessage("user", _content_in(parts)))
                parts = []
            call_id = _str(item.get("id"), f"{at}.id")
            result = _items(item.get("content"), f"{at}.content")
            results = [_part_in(r, f"{at}.content[{k}]") for k, r in enumerate(result)]
            out.append(ChatMessage("tool", _content_in(results), (), call_id))
        else:
            parts.append(_part_in(item, at))
    if parts or not out:
        out.append(ChatMessage("user", _content_in(parts)))
    return out


def _tool_call_in(item: dict[str, Any], where: str) -> ToolCall:
    function = _dict(item.get("function"), f"{where}.function")
    arguments = function.get("arguments", {})
    return ToolCall(
        _str(item.get("id"), f"{where}.id"),
        _str(function.get("name"), f"{where}.function.name"),
        _dumps(arguments),
    )


def _assistant_in(content: list[Any], where: str) -> ChatMessage:
    texts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, item in enumerate(content):
        at = f"{where}.content[{j}]"
        item = _dict(item, at)
        # rig's AssistantContent is untagged and tried in this order: text, tool call,
        # reasoning, image.
        if type(item.get("text")) is str:
            texts.append(TextPart(item["text"]))
        elif "function" in item:
            calls.append(_tool_call_in(item, at))
        elif "content" in item:
            # Reasoning: ChatMessage has no place for it, and a model does not need its own
            # past reasoning to answer.
            continue
        elif "data" in item:
            raise WireError(
                f"{at} is an image in an assistant message, which construct cannot pass to "
                "a model; send images in user messages"
            )
        else:
            raise WireError(f"{at} is {_show(item)}, not text, a tool call or reasoning")
    return ChatMessage("assistant", _content_in(texts), tuple(calls))


def _messages_in(history: list[Any]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for i, raw in enumerate(history):
        where = f"chat_history[{i}]"
        message = _dict(raw, where)
        role = message.get("role")
        content = _items(message.get("content"), f"{where}.content")
        if role == "user":
            messages.extend(_user_in(content, where))
        elif role == "assistant":
            messages.append(_assistant_in(content, where))
        else:
            _fail(f"{where}.role", role, '"user" or "assistant"')
    return messages


def _tool_in(raw: object, where: str) -> ToolSpec:
    tool = _dict(raw, where)
    parameters = tool.get("parameters")
    return ToolSpec(
        _str(tool.get("name"), f"{where}.name"),
        _str(tool.get("description", ""), f"{where}.description"),
        {"type": "object", "properties": {}}
        if parameters is None
        else _dict(parameters, f"{where}.parameters"),
    )


# -- requests ---------------------------------------------------------------------------


def encode_invoke(
    model_id: str,
    request: ChatRequest,
    protocol: Protocol = "v3",
    *,
    temperature: float | None = None,
) -> str:
    """The InvokeModel request line for `request` in generation `protocol`.

    v1 writes every field of rig's request, nulls included, in declared order (§A3.2);
    v2 and v3 write their five (§A3.5). `request.extra` is sent as `additional_params`.
    Only v1 has a temperature field: a temperature for v2/v3 raises rather than being
    dropped unseen.
    """
    _check_protocol(protocol)
    if not isinstance(model_id, str):
        raise InvalidArgument(f"model_id must be a string, got {type(model_id).__name__}")
    if not isinstance(request, ChatRequest):
        raise InvalidArgument(f"request must be a ChatRequest, got {type(request).__name__}")
    v1 = protocol == "v1"
    if temperature is not None:
        if not v1:
            raise InvalidArgument(
                f"Infinity protocol {protocol} has no temperature field; leave temperature "
                "unset, or speak v1 to a provider that reads it"
            )
        if type(temperature) not in (int, float) or temperature != temperature:
            raise InvalidArgument(f"temperature must be a number, got {temperature!r}")
        # serde writes an f64: 1 goes out as 1.0.
        temperature = float(temperature)
    preamble, history = _history_out(request.messages, v1)
    tools = [
        {"name": t.name, "description": t.description, "parameters": t.parameters}
        for t in request.tools or ()
    ]
    params = request.extra or None
    body: dict[str, Any]
    if v1:
        body = {
            "model": None,
            "preamble": preamble,
            "chat_history": history,
            "documents": [],
            "tools": tools,
            "temperature": temperature,
            "max_tokens": request.max_tokens,
            "tool_choice": None,
            "additional_params": params,
            "output_schema": None,
        }
    else:
        body = {
            "preamble": preamble,
            "chat_history": history,
            "tools": tools,
            "max_tokens": request.max_tokens,
            "additional_params": params,
        }
    return _encode({"InvokeModel": {"model_id": model_id, "request": body}}, "request")


def decode_request(line: str | bytes) -> ListModels | Invoke:
    """A request line: `"ListModels"` or an InvokeModel of any generation.

    Fields a construct provider has no use for (`model`, `tool_choice`, `output_schema`,
    a tool call's `signature`) are ignored, as a v2/v3 server ignores them. Documents are
    not: dropping them would change the prompt unseen."""
    return _read(line, "request line", _request_in)  # type: ignore[return-value]


def _request_in(value: object) -> ListModels | Invoke:
    if value == "ListModels":
        return _LIST_MODELS
    tag, invoke = _only_key(value, "the request line", '"ListModels" or {"InvokeModel":{...}}')
    if tag != "InvokeModel":
        raise WireError(
            f"the request line is tagged {_show(tag)}; a request is "
            '"ListModels" or {"InvokeModel":{...}}'
        )
    invoke = _dict(invoke, "InvokeModel")
    if "model_id" not in invoke:
        raise WireError("the InvokeModel request has no model_id")
    model_id = _str(invoke["model_id"], "InvokeModel.model_id")
    body = _dict(invoke.get("request"), "InvokeModel.request")

    documents = body.get("documents")
    if documents:
        raise WireError(
            "the InvokeModel request carries documents, which construct cannot pass to a "
            "model; send their text in a user message"
        )
    protocol: Protocol = "v1" if "documents" in body else "v2"
    preamble = _opt_str(body.get("preamble"), "request.preamble")
    if "chat_history" not in body:
        raise WireError("the InvokeModel request has no chat_history")
    messages = _messages_in(_list(body["chat_history"], "request.chat_history"))
    if preamble:
        messages.insert(0, ChatMessage.system(preamble))
    raw_tools = _list(body.get("tools") or [], "request.tools")
    tools = [_tool_in(t, f"request.tools[{i}]") for i, t in enumerate(raw_tools)]
    max_tokens = body.get("max_tokens")
    if max_tokens is not None:
        _count(max_tokens, "request.max_tokens")
    temperature = body.get("temperature")
    if temperature is not None:
        if type(temperature) not in (int, float):
            _fail("request.temperature", temperature, "a number")
        temperature = float(temperature)
    params = body.get("additional_params")
    request = ChatRequest(
        tuple(messages),
        tuple(tools) or None,
        max_tokens,
        params if type(params) is dict else {},
    )
    return Invoke(model_id, request, protocol, temperature, params)


# -- responses --------------------------------------------------------------------------


def encode_models(entries: Sequence[ModelEntry]) -> str:
    """The `{"Models":[...]}` line. Every entry writes all five keys (§A2); the first entry
    is the provider's default model."""
    rows = []
    for entry in entries:
        if not isinstance(entry, ModelEntry):
            raise InvalidArgument(f"entries must be ModelEntry values, got {type(entry).__name__}")
        if entry.context_window is None:
            raise InvalidArgument(
                f"model {entry.model_id!r} has no context_window, which Infinity needs (it "
                "compacts a thread as it nears the window); set ModelEntry(context_window=...)"
            )
        rows.append(
            {
                "model_id": entry.model_id,
                "display_name": entry.display_name or entry.model_id,
                "context_window": entry.context_window,
                "max_output_tokens": entry.max_output_tokens,
                "supports_image_input": bool(entry.supports_image_input),
            }
        )
    return _encode({"Models": rows}, "model list")


def _usage_out(chunk: FinalChunk) -> dict[str, int] | None:
    """rig's Usage, all four fields required by a v1 client. Infinity compacts a thread on
    `total_tokens`, so a missing total is input + output (construct's input count includes
    cached tokens, which Infinity's total is meant to)."""
    usage = chunk.usage
    if usage is None:
        return None
    tokens_in = usage.input_tokens or 0
    tokens_out = usage.output_tokens or 0
    total = chunk.total_tokens
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out if total is None else total,
        "cached_input_tokens": usage.cached_input_tokens or 0,
    }


def _reasoning_out(chunk: ReasoningChunk) -> dict[str, Any]:
    inner = {"text": chunk.text}
    if chunk.signature is not None:
        inner["signature"] = chunk.signature
    return {"type": "text", "content": inner}


def _v1_item(chunk: Chunk) -> object:
    kind = type(chunk)
    if kind is TextChunk:
        raise InvalidArgument(f"TextChunk.text must be a string, got {chunk.text!r:.60}")
    if kind is ToolCallChunk:
        return {
            "ToolCall": {
                "id": chunk.id,
                "internal_call_id": chunk.id
                if chunk.internal_call_id is None
                else chunk.internal_call_id,
                "call_id": None,
                "name": chunk.name,
                "arguments": chunk.arguments,
                "signature": None,
                "additional_params": None,
            }
        }
    if kind is ToolCallDeltaChunk:
        return {
            "ToolCallDelta": {
                "id": chunk.id,
                "internal_call_id": chunk.id
                if chunk.internal_call_id is None
                else chunk.internal_call_id,
                "content": {"Name": chunk.name}
                if chunk.name is not None
                else {"Delta": chunk.delta},
            }
        }
    if kind is ReasoningChunk:
        # One content item, not a list: rig's erased stream fans a block out per item.
        return {"Reasoning": {"id": None, "content": _reasoning_out(chunk)}}
    if kind is ReasoningDeltaChunk:
        return {"ReasoningDelta": {"id": None, "reasoning": chunk.text}}
    if kind is FinalChunk:
        return {"Final": {"usage": _usage_out(chunk)}}
    if kind is ErrorChunk:
        return {"Error": chunk.message}
    raise InvalidArgument(f"not a chunk: {type(chunk).__name__}")


def _v2_chunk(chunk: Chunk) -> object:
    kind = type(chunk)
    if kind is TextChunk:
        raise InvalidArgument(f"TextChunk.text must be a string, got {chunk.text!r:.60}")
    if kind is ToolCallChunk:
        return {
            "ToolCall": {
                "id": chunk.id,
                "function": {"name": chunk.name, "arguments": chunk.arguments},
            }
        }
    if kind is ToolCallDeltaChunk:
        return {
            "ToolCallDelta": {
                "id": chunk.id,
                "content": {"Name": chunk.name}
                if chunk.name is not None
                else {"Delta": chunk.delta},
            }
        }
    if kind is ReasoningChunk:
        return {"Reasoning": {"id": None, "content": [_reasoning_out(chunk)]}}
    if kind is ReasoningDeltaChunk:
        return {"ReasoningDelta": {"id": None, "text": chunk.text}}
    if kind is FinalChunk:
        return {"Final": {"usage": _usage_out(chunk)}}
    raise InvalidArgument(f"not a chunk: {type(chunk).__name__}")


def _error_payload(message: str, error_class: ErrorClass, protocol: Protocol) -> object:
    return {"message": message, "class": error_class} if protocol == "v3" else message


def encode_chunk(chunk: Chunk, protocol: Protocol) -> str:
    """The `{"Chunk":...}` line for one chunk in generation `protocol` (§A3.4, §A3.5)."""
    if type(chunk) is TextChunk and type(chunk.text) is str:
        # One line per token: the common case skips building a dict.
        text = _dumps(chunk.text)
        if protocol == "v1":
            return '{"Chunk":{"Message":' + text + "}}"
        if protocol == "v2" or protocol == "v3":
            return '{"Chunk":{"Ok":{"Text":' + text + "}}}"
    _check_protocol(protocol)
    if protocol == "v1":
        return _encode({"Chunk": _v1_item(chunk)}, "chunk")
    if type(chunk) is ErrorChunk:
        _check_class(chunk.error_class)
        payload = _error_payload(chunk.message, chunk.error_class, protocol)
        return _encode({"Chunk": {"Err": payload}}, "chunk")
    return _encode({"Chunk": {"Ok": _v2_chunk(chunk)}}, "chunk")


def encode_error(message: str, error_class: ErrorClass, protocol: Protocol) -> str:
    """The `{"Error":...}` line: the invocation failed before streaming, or listing failed.
    v1 and v2 carry the message only; v3 its class too."""
    _check_protocol(protocol)
    _check_class(error_class)
    return _encode({"Error": _error_payload(message, error_class, protocol)}, "error")


def decode_response(
    line: str | bytes,
) -> Models | InvokeStarted | StreamEnd | ErrorLine | ChunkLine:
    """A response line of any generation."""
    return _read(line, "response line", _response_in)  # type: ignore[return-value]


def _read(line: str | bytes, what: str, reader: Any) -> Any:
    """`reader` applied to the parsed line; whatever it refuses is the line's fault."""
    value = _parse(line, what)
    try:
        return reader(value)
    except RecursionError:
        raise WireError(f"the {what} is nested too deep to read") from None
    except InvalidArgument as exc:
        # construct's own types refused a value: the line, not the code, is wrong.
        raise WireError(f"the {what} is not valid: {exc.message}") from None


def _response_in(value: object) -> Models | InvokeStarted | StreamEnd | ErrorLine | ChunkLine:
    if value == "InvokeStarted":
        return _INVOKE_STARTED
    if value == "StreamEnd":
        return _STREAM_END
    tag, inner = _only_key(
        value,
        "the response line",
        '"InvokeStarted", "StreamEnd" or an object tagged Chunk, Models or Error',
    )
    if tag == "Chunk":
        return ChunkLine(_chunk_in(inner))
    if tag == "Error":
        return ErrorLine(*_error_in(inner, "Error"))
    if tag == "Models":
        entries = _list(inner, "Models")
        return Models(tuple(_entry_in(e, f"Models[{i}]") for i, e in enumerate(entries)))
    raise WireError(
        f"the response line is tagged {_show(tag)}; a response is "
        '"InvokeStarted", "StreamEnd" or tagged Chunk, Models or Error'
    )


def _entry_in(value: object, where: str) -> ModelEntry:
    entry = _dict(value, where)
    for key in ("model_id", "display_name", "context_window"):
        if key not in entry:
            raise WireError(f"{where} has no {key}")
    limit = entry.get("max_output_tokens")
    images = entry.get("supports_image_input")
    if images is not None and type(images) is not bool:
        _fail(f"{where}.supports_image_input", images, "true or false")
    return ModelEntry(
        _str(entry["model_id"], f"{where}.model_id"),
        _str(entry["display_name"], f"{where}.display_name"),
        _count(entry["context_window"], f"{where}.context_window"),
        None if limit is None else _count(limit, f"{where}.max_output_tokens"),
        bool(images),
    )


def _error_in(value: object, where: str) -> tuple[str, ErrorClass]:
    """v1/v2 send the message alone, v3 `{"message", "class"}`. A missing class is Fatal
    (§A3.1), and so is one this module does not know: the message still gets through."""
    if type(value) is str:
        return value, "Fatal"
    error = _dict(value, where)
    message = _str(error.get("message"), f"{where}.message")
    error_class = _opt_str(error.get("class"), f"{where}.class")
    return message, _ERROR_CLASSES.get(error_class or "Fatal", "Fatal")


def _chunk_in(value: object) -> Chunk:
    tag, inner = _only_key(value, "Chunk", "a chunk (an object with one key)")
    if tag == "Ok":
        return _stream_chunk_in(inner)
    if tag == "Err" or tag == "Error":
        return ErrorChunk(*_error_in(inner, f"Chunk.{tag}"))
    # v1: the item itself, with no Ok around it.
    return _stream_chunk_in(value)


def _stream_chunk_in(value: object) -> Chunk:
    # v1 and v2/v3 items differ in names and shapes; each is read in either form.
    tag, body = _only_key(value, "the chunk", "a chunk (an object with one key)")
    if tag == "Text" or tag == "Message":
        return TextChunk(body if type(body) is str else _str(body, f"Chunk.{tag}"))
    if tag == "ReasoningDelta":
        delta = _dict(body, "ReasoningDelta")
        key = "text" if "text" in delta else "reasoning"
        return ReasoningDeltaChunk(_str(delta.get(key), f"ReasoningDelta.{key}"))
    if tag == "ToolCallDelta":
        return _tool_call_delta_in(_dict(body, "ToolCallDelta"))
    if tag == "ToolCall":
        return _tool_call_chunk_in(_dict(body, "ToolCall"))
    if tag == "Reasoning":
        return _reasoning_in(_dict(body, "Reasoning"))
    if tag == "Final":
        final = _dict(body, "Final")
        return _final_in(final.get("usage"))
    raise WireError(f"the chunk is tagged {_show(tag)}, which no protocol generation sends")


def _tool_call_delta_in(delta: dict[str, Any]) -> ToolCallDeltaChunk:
    kind, piece = _only_key(
        delta.get("content"), "ToolCallDelta.content", '{"Name":..} or {"Delta":..}'
    )
    if kind not in ("Name", "Delta"):
        _fail("ToolCallDelta.content", delta.get("content"), '{"Name":..} or {"Delta":..}')
    piece = _str(piece, f"ToolCallDelta.content.{kind}")
    return ToolCallDeltaChunk(
        _str(delta.get("id"), "ToolCallDelta.id"),
        piece if kind == "Name" else None,
        piece if kind == "Delta" else None,
        _opt_str(delta.get("internal_call_id"), "ToolCallDelta.internal_call_id"),
    )


def _tool_call_chunk_in(call: dict[str, Any]) -> ToolCallChunk:
    call_id = _str(call.get("id"), "ToolCall.id")
    if "function" in call:
        function = _dict(call["function"], "ToolCall.function")
        name = _str(function.get("name"), "ToolCall.function.name")
        return ToolCallChunk(call_id, name, function.get("arguments", {}))
    return ToolCallChunk(
        call_id,
        _str(call.get("name"), "ToolCall.name"),
        call.get("arguments", {}),
        _opt_str(call.get("internal_call_id"), "ToolCall.internal_call_id"),
    )


def _reasoning_in(block: dict[str, Any]) -> ReasoningChunk:
    """v1 sends one content item, v2/v3 a list: texts are joined as paragraphs, the first
    signature kept. Encrypted and redacted items carry nothing to show and are skipped."""
    content = block.get("content")
    items = content if type(content) is list else [content]
    texts: list[str] = []
    signature: str | None = None
    for i, raw in enumerate(items):
        item = _dict(raw, f"Reasoning.content[{i}]")
        kind = item.get("type")
        if kind == "text":
            inner = _dict(item.get("content"), f"Reasoning.content[{i}].content")
            texts.append(_str(inner.get("text"), f"Reasoning.content[{i}].content.text"))
            if signature is None:
                signature = _opt_str(inner.get("signature"), f"Reasoning.content[{i}].signature")
        elif kind == "summary":
            texts.append(_str(item.get("content"), f"Reasoning.content[{i}].content"))
    return ReasoningChunk("\n\n".join(texts), signature)


def _final_in(usage: object) -> FinalChunk:
    """v3 defaults every usage field to 0 (§A3.5); read so, a v1 usage is the same."""
    if usage is None:
        return FinalChunk(None)
    counts = _dict(usage, "Final.usage")
    tokens = [
        _count(counts.get(key, 0), f"Final.usage.{key}")
        for key in ("input_tokens", "output_tokens", "total_tokens", "cached_input_tokens")
    ]
    return FinalChunk(Usage(tokens[0], tokens[1], tokens[3]), tokens[2])


# -- errors <-> classes -----------------------------------------------------------------


def error_class_of(exc: BaseException) -> ErrorClass:
    """The v3 class of an error a construct provider raised, for the provider's error line.

    Infinity's classes (§A1): Transient may pass on retry, Throttled after a longer wait,
    ContextOverflow never as-is, Fatal never. A retryable ProviderError other than a rate
    limit (TransientError, InvalidResponse) is Transient, as Infinity classes its own
    ResponseError. StreamInterrupted is not retryable inside construct only because its
    text already reached the caller; Infinity discards a broken turn and retries it.
    """
    if isinstance(exc, ContextWindowExceeded):
        return "ContextOverflow"
    if isinstance(exc, RateLimited):
        return "Throttled"
    attempts = getattr(exc, "attempts", None)
    if isinstance(exc, AllProvidersFailed) and attempts:
        # A served chain failed: the class is that of the failure it ended on.
        return _CHAIN_CLASSES.get(attempts[-1].error_type, "Fatal")
    if isinstance(exc, StreamInterrupted | TimeoutError | ConnectionError):
        return "Transient"
    if isinstance(exc, ProviderError) and exc.is_retryable:
        return "Transient"
    return "Fatal"


# What a chain's last failure (`Attempt.error_type`) means to a daemon.
_CHAIN_CLASSES: dict[str, ErrorClass] = {
    "ContextWindowExceeded": "ContextOverflow",
    "RateLimited": "Throttled",
    "TransientError": "Transient",
    "InvalidResponse": "Transient",
    "StreamInterrupted": "Transient",
}


# The Display prefixes of Infinity's CompletionError, which the wire's text carries (§A3).
_WIRE_PREFIXES = ("ProviderError: ", "ResponseError: ", "RequestError: ", "JsonError: ")
_FROM_CLASS: dict[str, type[ProviderError]] = {
    "Throttled": RateLimited,
    "Transient": TransientError,
    "ContextOverflow": ContextWindowExceeded,
    # Fatal says only "do not retry", not why: the base class claims no cause the wire did
    # not give, and ReliableProvider moves on without retrying it.
    "Fatal": ProviderError,
}
_ADVICE = {
    "Throttled": RATE_LIMIT_ADVICE,
    "Transient": "The provider process says this may pass; retry shortly.",
    "ContextOverflow": "Shorten the conversation or pick a model with a larger context window.",
    "Fatal": "Retrying will not help; the provider process's log may say more.",
}


def error_from_wire(message: str, error_class: ErrorClass, provider: str) -> ProviderError:
    """The construct error for an error line or chunk a provider process sent.

    The wire's text usually starts with its Rust error kind ("ProviderError: ..."); that
    prefix is dropped so that a client re-raising it does not double it. A class this
    module does not know is read as Fatal."""
    text = message.strip()
    while text.startswith(_WIRE_PREFIXES):
        text = text.partition(": ")[2].lstrip()
    text = text or "(no message)"
    end = "" if text.endswith((".", "!", "?")) else "."
    cls = _FROM_CLASS.get(error_class, ProviderError)
    advice = _ADVICE.get(error_class, _ADVICE["Fatal"])
    who = f"The model provider process {provider!r}" if provider else "The model provider process"
    return cls(f"{who} reported an error: {text}{end} {advice}", provider=provider or None)
