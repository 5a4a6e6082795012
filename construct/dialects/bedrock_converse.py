"""Amazon Bedrock's Converse API (`converse`, `converse-stream`). Sans I/O.

Credentials (a Bedrock API key as Bearer, else SigV4) are `construct.auth.aws`'s;
the endpoint and its region are resolved by `construct.providers.bedrock`, which
hands this dialect an `Endpoint`.

Streams are AWS event-stream frames, decoded by `aws_eventstream.EventStreamDecoder`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

from ..errors import (
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    TransientError,
    classify_http_error,
    error_message_from_body,
)
from ..secrets import sanitize_api_error
from ..transport import MAX_EVENT_CHARS, HttpRequest
from ..transport.aws_eventstream import EventMessage, EventStreamDecoder
from ..types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ImagePart,
    ModelEntry,
    StopReason,
    StreamEvent,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
    new_tool_call_id,
)
from .base import BaseDialect
from .common import count, excerpt, json_text, load_event, malformed, promote_tool_use

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_REGION",
    "BedrockConverse",
    "BedrockSettings",
    "ConverseStreamParser",
    "Endpoint",
    "region_from_url",
    "runtime_url",
]

DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_TOKENS = 4096

_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "stop_sequence": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    # The answer ran into the model's context window: cut short, like max_tokens.
    "model_context_window_exceeded": "max_tokens",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
# Converse request members a caller may set through `ChatRequest.extra`; the three
# construct also fills are merged key by key, the caller's keys winning.
_MERGED_FIELDS = frozenset({"inferenceConfig", "toolConfig", "additionalModelRequestFields"})
_BODY_FIELDS = _MERGED_FIELDS | {
    "guardrailConfig",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
}
_RESERVED_FIELDS = {
    "messages": "ChatRequest.messages",
    "system": "system messages",
    "modelId": "the model argument",
}
# Snake-case sampling names, as other dialects take them in `extra`, to their Converse place.
_INFERENCE_ALIASES = {"top_p": "topP", "stop_sequences": "stopSequences"}
# Reference §8.1: a system prompt this long, or a conversation longer than this, gets a
# cache point; shorter ones would not reach the models' minimum cacheable length anyway.
_CACHE_SYSTEM_CHARS = 3072
_CACHE_MIN_MESSAGES = 4
# Bedrock refuses toolUse/toolResult blocks without a toolConfig. A history with tool
# turns sent without tools gets this inert declaration instead of a 400.
_NO_TOOLS = {
    "toolSpec": {
        "name": "no_tools_available",
        "description": "No tools are available in this turn. Do not call this; answer in text.",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }
}
_EMPTY_TOOL_RESULT = "(no output)"
# `:exception-type` of a stream error -> the HTTP status the service model gives it.
_EXCEPTION_STATUS = {
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
    "validationException": 400,
    "modelTimeoutException": 408,
    "throttlingException": 429,
    "modelNotReadyException": 429,
    "modelErrorException": 424,
    "modelStreamErrorException": 424,
    "internalServerException": 500,
    "serviceUnavailableException": 503,
}
# `bedrock-runtime[-fips].<region>.amazonaws.com[.cn]`, also as the tail of a VPC endpoint.
_REGION_IN_HOST = re.compile(
    r"(?:^|\.)bedrock-runtime(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com"
)


def runtime_url(region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://bedrock-runtime.{region}.{suffix}"


def region_from_url(url: str) -> str | None:
    """The region an endpoint URL names (`bedrock-runtime.eu-west-1.amazonaws.com`), if any."""
    match = _REGION_IN_HOST.search((urlsplit(url).hostname or "").lower())
    return match.group(1) if match else None


def control_plane_url(runtime: str) -> str:
    """Where models are listed: the `bedrock` host beside `bedrock-runtime` (a proxy: itself)."""
    parts = urlsplit(runtime)
    host = parts.netloc
    labels = host.split(".")
    for i, label in enumerate(labels):
        if label.startswith("bedrock-runtime"):
            labels[i] = "bedrock" + label[len("bedrock-runtime") :]
            host = ".".join(labels)
            break
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, slots=True)
class BedrockSettings:
    provider: str
    display_name: str
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    key_env: tuple[str, ...] = ("BEDROCK_API_KEY",)


class Endpoint(Protocol):
    """Where a Bedrock dialect sends: resolved outside it, since the AWS profile is a file."""

    @property
    def region(self) -> str: ...

    @property
    def base_url(self) -> str: ...


class BedrockConverse(BaseDialect):
    """The Converse dialect for one Bedrock endpoint."""

    framing = "aws-eventstream"

    def __init__(self, settings: BedrockSettings, endpoint: Endpoint) -> None:
        self.settings = settings
        self.endpoint = endpoint

    @property
    def region(self) -> str:
        return self.endpoint.region

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url

    # -- requests -------------------------------------------------------------------

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        body = self.body(request, model, temperature)
        action = "converse-stream" if stream else "converse"
        url = f"{self.base_url}/model/{quote(model, safe='')}/{action}"
        out = dict(headers)
        out["Content-Type"] = "application/json"
        out["Accept"] = "application/vnd.amazon.eventstream" if stream else "application/json"
        # The signature covers these exact bytes, so they are what goes on the wire.
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return HttpRequest("POST", url, out, json=body, content=content, binary_stream=stream)

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        url = control_plane_url(self.base_url) + "/foundation-models?byOutputModality=TEXT"
        return HttpRequest("GET", url, dict(headers))

    def _invalid(self, message: str) -> InvalidRequest:
        return InvalidRequest(message, provider=self.settings.provider)

    def body(self, request: ChatRequest, model: str, temperature: float | None) -> dict[str, Any]:
        """The Converse request members but `modelId`, which travels in the URL."""
        extra = dict(request.extra)
        cache, forced = self._cache_point(extra.pop("cache", None), model)
        for name, instead in _RESERVED_FIELDS.items():
            if name in extra:
                raise self._invalid(
                    f"extra[{name!r}] cannot be set for {self.settings.display_name}: "
                    f"construct builds it from {instead}."
                )
        rest = [m for m in request.messages if m.role != "system"]
        messages = self.encode_messages(rest)
        body: dict[str, Any] = {"messages": messages}
        system = [
            {"text": m.text} for m in request.messages if m.role == "system" and m.text.strip()
        ]
        if system:
            body["system"] = system
        inference: dict[str, Any] = {
            "maxTokens": request.max_tokens or self.settings.default_max_tokens
        }
        if temperature is not None:
            inference["temperature"] = float(temperature)
        body["inferenceConfig"] = inference
        if request.tools:
            body["toolConfig"] = {"tools": [encode_tool(t) for t in request.tools]}
        elif _has_tool_blocks(messages):
            body["toolConfig"] = {"tools": [_NO_TOOLS]}
        if cache is not None:
            if system and (forced or sum(len(b["text"]) for b in system) > _CACHE_SYSTEM_CHARS):
                system.append({"cachePoint": dict(cache)})
            if messages and (forced or len(rest) > _CACHE_MIN_MESSAGES):
                messages[-1]["content"].append({"cachePoint": dict(cache)})
        self._merge_extra(body, extra)
        return body

    def _cache_point(self, value: Any, model: str) -> tuple[dict[str, str] | None, bool]:
        """(the cachePoint to place, whether to place it whatever the lengths) for
        `extra["cache"]`: absent -> reference §8.1 on models that cache, True or a TTL
        ("5m", "1h") -> always, False -> never."""
        if value is None:
            return ({"type": "default"}, False) if caches_prompts(model) else (None, False)
        if value is False:
            return None, False
        if value is True:
            return {"type": "default"}, True
        if value in ("5m", "1h"):
            return {"type": "default", "ttl": value}, True
        raise self._invalid(
            f"extra['cache'] must be True, False or a TTL ('5m', '1h'), got {value!r}"
        )

    def _merge_extra(self, body: dict[str, Any], extra: Mapping[str, Any]) -> None:
        model_fields: dict[str, Any] = {}
        for key, value in extra.items():
            if key in _INFERENCE_ALIASES:
                body["inferenceConfig"][_INFERENCE_ALIASES[key]] = value
            elif key in _MERGED_FIELDS and isinstance(value, Mapping):
                body[key] = {**body.get(key, {}), **value}
            elif key in _BODY_FIELDS:
                body[key] = value
            else:
                # Anything else is the model's own (Anthropic `thinking`, `top_k`, ...).
                model_fields[key] = value
        if model_fields:
            body["additionalModelRequestFields"] = {
                **model_fields,
                **body.get("additionalModelRequestFields", {}),
            }

    def encode_messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """Converse messages: roles alternate, so consecutive turns of one role are merged
        (tool results become one user message); empty turns are dropped."""
        out: list[dict[str, Any]] = []
        for m in messages:
            role = "assistant" if m.role == "assistant" else "user"
            blocks = self.encode_blocks(m)
            if not blocks:
                continue
            if out and out[-1]["role"] == role:
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})
        for message in out:
            # Tool results answer the previous turn's toolUse and must lead their message.
            message["content"].sort(key=lambda block: "toolResult" not in block)
        return out

    def encode_blocks(self, m: ChatMessage) -> list[dict[str, Any]]:
        if m.role == "tool":
            text = m.text if m.text.strip() else _EMPTY_TOOL_RESULT
            return [
                {
                    "toolResult": {
                        "toolUseId": m.tool_call_id,
                        "content": [{"text": text}],
                        "status": "success",
                    }
                }
            ]
        parts = (TextPart(m.content),) if isinstance(m.content, str) else m.content
        blocks: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, ImagePart):
                blocks.append(self.encode_image(part.url))
            elif part.text.strip():
                # Bedrock refuses blank text blocks ("The text field ... is blank").
                blocks.append({"text": part.text})
        for call in m.tool_calls if m.role == "assistant" else ():
            blocks.append(
                {
                    "toolUse": {
                        "toolUseId": call.id,
                        "name": call.name,
                        "input": call.parsed_arguments(),
                    }
                }
            )
        return blocks

    def encode_image(self, url: str) -> dict[str, Any]:
        name = self.settings.display_name
        if not url.startswith("data:"):
            host = urlsplit(url).hostname or excerpt(url, 40)
            raise self._invalid(
                f"{name} takes images as bytes, not URLs: the Converse API does not fetch "
                f"images (got a URL on {host}). Download the image and pass it as a data: URI "
                "(data:image/png;base64,...)."
            )
        header, comma, data = url[5:].partition(",")
        params = [p.strip().lower() for p in header.split(";")]
        if not comma:
            raise self._invalid("An image data: URI has no ',' before its data.")
        fmt = _IMAGE_FORMATS.get(params[0])
        if fmt is None:
            raise self._invalid(
                f"{name} takes png, jpeg, gif and webp images; this data: URI is "
                f"{params[0] or 'untyped'}."
            )
        if "base64" in params[1:]:
            try:
                raw = base64.b64decode("".join(data.split()), validate=True)
            except (binascii.Error, ValueError):
                raise self._invalid("An image data: URI is not valid base64.") from None
        else:
            raw = unquote_to_bytes(data)
        return {"image": {"format": fmt, "source": {"bytes": base64.b64encode(raw).decode()}}}

    # -- responses ---------------------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        name = self.settings.display_name
        output = data.get("output") if isinstance(data, dict) else None
        message = output.get("message") if isinstance(output, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            raise InvalidResponse(
                f"{name} returned a body without output.message.content",
                provider=self.settings.provider,
            )
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if isinstance(block.get("text"), str):
                text.append(block["text"])
            elif isinstance(block.get("toolUse"), dict):
                call = _tool_call(block["toolUse"], self.settings)
                if call is not None:
                    calls.append(call)
            elif isinstance(block.get("reasoningContent"), dict):
                said = block["reasoningContent"].get("reasoningText")
                piece = said.get("text") if isinstance(said, dict) else None
                if isinstance(piece, str):
                    reasoning.append(piece)
        return ChatResponse(
            text="".join(text),
            tool_calls=tuple(calls),
            usage=_usage(data.get("usage")),
            stop_reason=_stop_reason(data.get("stopReason"), calls),
            reasoning_content="".join(reasoning) or None,
            model=model,
            provider=self.settings.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        rows = data.get("modelSummaries") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponse(
                f"{self.settings.display_name} model list has no 'modelSummaries' array",
                provider=self.settings.provider,
            )
        entries = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("modelId"):
                continue
            outputs = row.get("outputModalities") or ["TEXT"]
            if "TEXT" not in outputs:
                continue
            inputs = row.get("inputModalities")
            entries.append(
                ModelEntry(
                    model_id=row["modelId"],
                    display_name=row.get("modelName"),
                    supports_image_input=("IMAGE" in inputs) if isinstance(inputs, list) else None,
                )
            )
        return entries

    def new_framer(self, max_event: int = MAX_EVENT_CHARS) -> EventStreamDecoder:
        # Frames carry their own lengths, capped where the AWS SDKs cap them.
        return EventStreamDecoder(self.settings.provider, self.settings.display_name)

    def stream_parser(self, request: ChatRequest, model: str) -> ConverseStreamParser:
        return ConverseStreamParser(self, model)

    def stream_error(self, kind: str, payload: str) -> ProviderError:
        """The error an `exception` (or `error`) frame of a stream stands for."""
        s = self.settings
        name = kind[:1].lower() + kind[1:]
        status = _EXCEPTION_STATUS.get(name, 500)
        message = error_message_from_body(payload) if payload.strip() else kind
        if status == 424:
            # The model failed mid-answer; AWS's advice for both model errors is to retry.
            return TransientError(
                f"{s.display_name} model error ({kind}): {sanitize_api_error(message)}. "
                "The model failed while answering; retry shortly.",
                provider=s.provider,
                status=status,
                body=payload,
            )
        body = json.dumps({"message": message, "code": kind})
        return classify_http_error(s.provider, s.display_name, status, body, None, s.key_env)


class ConverseStreamParser:
    """Event-stream frames in, `StreamEvent`s out; tool calls come out at their block's end."""

    __slots__ = (
        "_dialect",
        "_emitted",
        "_error",
        "_model",
        "_reasoning",
        "_stop",
        "_text",
        "_tools",
        "_usage",
    )

    def __init__(self, dialect: BedrockConverse, model: str) -> None:
        self._dialect = dialect
        self._model = model
        self._text: list[str] = []
        self._reasoning: list[str] = []
        # contentBlockIndex -> {"id", "name", "input": [pieces]}
        self._tools: dict[int, dict[str, Any]] = {}
        self._emitted: dict[int, ToolCall] = {}
        self._stop: str | None = None
        self._usage: Usage | None = None
        # An exception frame's error, raised by the next feed or by finish: the frames
        # decoded from the same read before it are still delivered first.
        self._error: ProviderError | None = None

    @property
    def complete(self) -> bool:
        """messageStop arrived (the metadata event with usage follows it), or an
        exception frame ended the stream (`finish` raises it)."""
        return self._stop is not None or self._error is not None

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, message: EventMessage) -> list[StreamEvent]:
        self._raise_error()
        kind = message.message_type
        payload = message.payload.decode("utf-8", "replace")
        if kind == "exception":
            self._error = self._dialect.stream_error(message.exception_type or "exception", payload)
            return []
        if kind == "error":
            code = message.headers.get(":error-code") or "error"
            text = message.headers.get(":error-message") or payload
            self._error = self._dialect.stream_error(str(code), json.dumps({"message": str(text)}))
            return []
        data = load_event(payload, self._dialect.settings) if payload.strip() else {}
        if not isinstance(data, dict):
            return []
        handler = _HANDLERS.get(message.event_type or "")
        return handler(self, data) if handler else []

    def _block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        start = data.get("start")
        tool = start.get("toolUse") if isinstance(start, dict) else None
        if isinstance(tool, dict):
            slot = self._tools.setdefault(_index(data), {"input": []})
            slot["id"] = _call_id(tool.get("toolUseId"))
            name = tool.get("name")
            slot["name"] = _name(name, self._dialect.settings) if name else None
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        text = delta.get("text")
        if isinstance(text, str) and text:
            self._text.append(text)
            return [StreamEvent.text(text)]
        tool = delta.get("toolUse")
        if isinstance(tool, dict) and isinstance(tool.get("input"), str):
            self._tools.setdefault(_index(data), {"input": []})["input"].append(tool["input"])
            return []
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            piece = reasoning["text"]
            if piece:
                self._reasoning.append(piece)
                return [StreamEvent.reasoning(piece)]
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        index = _index(data)
        call = self._assemble(index)
        return [StreamEvent.call(call)] if call is not None else []

    def _assemble(self, index: int) -> ToolCall | None:
        slot = self._tools.get(index)
        if slot is None or index in self._emitted or not slot.get("name"):
            return None
        call = ToolCall(
            id=slot.get("id") or new_tool_call_id(),
            name=slot["name"],
            arguments=_json_object_text("".join(slot["input"])),
        )
        self._emitted[index] = call
        return call

    def _message_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        stop = data.get("stopReason")
        self._stop = stop if isinstance(stop, str) else ""
        return []

    def _metadata(self, data: dict[str, Any]) -> list[StreamEvent]:
        usage = _usage(data.get("usage"))
        if usage is not None:
            self._usage = usage
        return []

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def finish(self) -> list[StreamEvent]:
        self._raise_error()
        events = []
        for index in sorted(self._tools):
            call = self._assemble(index)
            if call is not None:
                events.append(StreamEvent.call(call))
        calls = [self._emitted[i] for i in sorted(self._emitted)]
        response = ChatResponse(
            text="".join(self._text),
            tool_calls=tuple(calls),
            usage=self._usage,
            stop_reason=_stop_reason(self._stop, calls),
            reasoning_content="".join(self._reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        events.append(StreamEvent.final(response))
        return events


_HANDLERS = {
    "contentBlockStart": ConverseStreamParser._block_start,
    "contentBlockDelta": ConverseStreamParser._block_delta,
    "contentBlockStop": ConverseStreamParser._block_stop,
    "messageStop": ConverseStreamParser._message_stop,
    "metadata": ConverseStreamParser._metadata,
}


# -- helpers --------------------------------------------------------------------------


def caches_prompts(model: str) -> bool:
    """Whether a model takes cache points: Claude from 3.5 Haiku / 3.5 Sonnet v2 on, and
    Amazon Nova. Others answer 400 to a cachePoint, so construct adds none unless asked."""
    name = model.lower()
    if "amazon.nova" in name:
        return True
    if "anthropic.claude" not in name:
        return False
    return not re.search(r"claude-(v2|instant|3-(haiku|sonnet|opus)-|3-5-sonnet-20240620)", name)


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": dict(tool.parameters)}}
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}


def _has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any(
        "toolUse" in block or "toolResult" in block for m in messages for block in m["content"]
    )


def _index(data: dict[str, Any]) -> int:
    index = data.get("contentBlockIndex")
    return index if isinstance(index, int) else 0


def _json_object_text(text: str) -> str:
    if not text.strip():
        return "{}"
    try:
        value = json.loads(text)
    except ValueError:
        return "{}"
    return text if isinstance(value, dict) else "{}"


def _tool_call(raw: dict[str, Any], settings: BedrockSettings) -> ToolCall | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    value = raw.get("input")
    arguments = json_text(value, settings, "toolUse.input") if isinstance(value, dict) else "{}"
    return ToolCall(id=_call_id(raw.get("toolUseId")), name=name, arguments=arguments)


def _call_id(value: Any) -> str:
    """The tool call's id, or a new one when the server sent none (or not a string)."""
    return value if isinstance(value, str) and value else new_tool_call_id()


def _name(value: Any, settings: BedrockSettings) -> str:
    if not isinstance(value, str):
        raise malformed(settings, "toolUse.name", value, "a string")
    return value


def _stop_reason(raw: Any, calls: Sequence[ToolCall]) -> StopReason | None:
    return promote_tool_use(_STOP.get(raw) if isinstance(raw, str) else None, bool(calls))


def _usage(raw: Any) -> Usage | None:
    """Usage in construct's terms: input counts every prompt token, cached ones included.

    Bedrock's `inputTokens` leaves out the tokens read from and written to the cache
    (`totalTokens` is their sum with the output), as Anthropic's own API does.
    """
    if not isinstance(raw, dict):
        return None
    keys = ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    known = [c for c in (count(raw.get(k)) for k in keys) if c is not None]
    return Usage(
        input_tokens=sum(known) if known else None,
        output_tokens=count(raw.get("outputTokens")),
        cached_input_tokens=count(raw.get("cacheReadInputTokens")),
    )
