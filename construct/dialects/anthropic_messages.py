"""Anthropic Messages (`POST /v1/messages`), spoken by Claude and Anthropic-compatible servers.

Sans I/O: `AnthropicMessages` turns a `ChatRequest` into an `HttpRequest` and a
response body or a stream of SSE payloads into `ChatResponse` / `StreamEvent`s.
The rules it follows are reference §8.9 and PROVIDERS.md C1 and C6; where the
API's own documents say more (sampling parameters, empty text blocks, the
order of `tool_result` blocks), the code says why next to the rule.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from ..errors import InvalidRequest, InvalidResponse, ProviderError, classify_http_error
from ..transport import HttpRequest
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
from .common import count, flag, json_text, load_event, malformed, token_limit

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = [
    "API_VERSION",
    "AnthropicMessages",
    "MessagesSettings",
    "MessagesStreamParser",
    "ThinkingMemory",
    "accepts_sampling",
    "api_root",
    "build",
    "encode_messages",
]

log = logging.getLogger("construct")

API_VERSION = "2023-06-01"
# Reference §1.3: setup/OAuth tokens (`claude setup-token`) travel as Bearer with these betas.
OAUTH_PREFIX = "sk-ant-oat01-"
OAUTH_BETAS = ("claude-code-20250219", "oauth-2025-04-20", "interleaved-thinking-2025-05-14")
# Reference §8.9: requests made with such a token open their system prompt with this block.
CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
# The API requires max_tokens; the reference's default.
DEFAULT_MAX_TOKENS = 4096
# `ChatRequest.extra` keys that steer construct and are never sent as body fields.
_CONSTRUCT_KEYS = ("cache", "betas")
_EPHEMERAL = {"type": "ephemeral"}
_IMAGE_TYPES = frozenset(("image/jpeg", "image/png", "image/gif", "image/webp"))

_STOP: dict[str, StopReason | None] = {
    "end_turn": "end_turn",
    "stop_sequence": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    # The answer stopped because input + output filled the window: a length stop.
    "model_context_window_exceeded": "max_tokens",
    "refusal": "content_filter",
    # A server tool paused a long turn; the caller sends it back to continue.
    "pause_turn": None,
}
# The HTTP status each documented error type comes with (docs: API errors).
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# C6: the models that answer 400 "`temperature` is deprecated for this model" to any
# sampling parameter: Opus 4.7 and later, every Claude 5 model, and the Fable and Mythos
# lines (Mythos Preview included). A version cutoff rather than a list, so the next model
# of those lines is covered the day it ships; older ones keep what the caller asked for.
_VERSION = re.compile(r"claude-(?:(?:opus|sonnet|haiku)-)?(\d+)(?:[-.](\d{1,2}))?(?!\d)")
_NO_SAMPLING_LINES = ("fable", "mythos")
_NO_SAMPLING_FROM = (4, 7)


def accepts_sampling(model: str) -> bool:
    """Whether `model` takes `temperature`, `top_p` and `top_k` (C6).

    Names that are not Claude's (an Anthropic-compatible server's own models) are
    assumed to take them; a refusal is re-sent once without temperature.
    """
    name = model.strip().lower()
    if "claude" not in name:
        return True
    if any(f"claude-{line}" in name for line in _NO_SAMPLING_LINES):
        return False
    found = _VERSION.search(name)
    if found is None:
        return True
    version = (int(found.group(1)), int(found.group(2) or 0))
    return version < _NO_SAMPLING_FROM


def api_root(base_url: str) -> str:
    """`{base}/v1`, without doubling a `/v1` (or `/v1/messages`) the base already has."""
    base = base_url.rstrip("/")
    if base.endswith("/v1/messages"):
        return base[: -len("/messages")]
    if base.endswith("/v1"):
        return base
    return base + "/v1"


class ThinkingMemory:
    """The signed thinking blocks of recent answers that called tools, by tool call id.

    With extended thinking on, the API refuses a tool loop whose last assistant turn
    does not open with the thinking block (and signature) it answered with. construct's
    messages carry no signatures, so the dialect remembers them here, bounded, and puts
    them back when that assistant turn is sent again by the same provider.
    """

    __slots__ = ("_blocks", "_limit", "_lock")

    def __init__(self, limit: int = 256) -> None:
        self._blocks: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, calls: Sequence[ToolCall], blocks: list[dict[str, Any]]) -> None:
        if not calls or not blocks:
            return
        with self._lock:
            for call in calls:
                self._blocks[call.id] = blocks
                self._blocks.move_to_end(call.id)
            while len(self._blocks) > self._limit:
                self._blocks.popitem(last=False)

    def recall(self, call_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(b) for b in self._blocks.get(call_id, ())]


@dataclass(frozen=True, slots=True)
class MessagesSettings:
    provider: str
    display_name: str
    # `https://api.anthropic.com/v1`: messages and models hang off it.
    root_url: str
    default_max_tokens: int | None = None

    @property
    def messages_url(self) -> str:
        return self.root_url + "/messages"

    @property
    def models_url(self) -> str:
        # One page holds every model; the API's default page is 20.
        return self.root_url + "/models?limit=1000"


class AnthropicMessages(BaseDialect):
    """The Anthropic Messages dialect, configured for one provider."""

    def __init__(self, settings: MessagesSettings) -> None:
        self.settings = settings
        self.thinking_memory = ThinkingMemory()

    # -- auth and requests ----------------------------------------------------

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        sent = _with_version(headers)
        betas = request.extra.get("betas")
        if betas:
            sent["anthropic-beta"] = _join_betas(sent.get("anthropic-beta"), betas)
        body = self.body(request, model, temperature, stream, oauth=_is_oauth(headers))
        return HttpRequest("POST", self.settings.messages_url, sent, body)

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        return HttpRequest("GET", self.settings.models_url, _with_version(headers))

    def body(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        oauth: bool = False,
    ) -> dict[str, Any]:
        extra = dict(request.extra)
        sampling = {
            "temperature": temperature,
            "top_p": extra.pop("top_p", None),
            "top_k": extra.pop("top_k", None),
        }
        thinking = extra.get("thinking")
        recall = self.thinking_memory.recall if _thinking_on(thinking) else None
        try:
            cache = _cache_control(extra.get("cache", True))
            messages = encode_messages(request.messages, recall)
        except ValueError as exc:
            raise InvalidRequest(str(exc), provider=self.settings.provider) from None
        system = [
            {"type": "text", "text": m.text}
            for m in request.messages
            if m.role == "system" and m.text.strip()
        ]
        for key in _CONSTRUCT_KEYS:
            extra.pop(key, None)
        if oauth:
            system.insert(0, {"type": "text", "text": CLAUDE_CODE_SYSTEM})
        tools = [encode_tool(t) for t in request.tools or ()]
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": self._max_tokens(request, thinking),
            "messages": messages,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
        if cache is not None:
            # Reference §8.9: the system prompt, the tool list and, in a conversation,
            # everything up to its last message are cache breakpoints.
            for blocks in (system, tools):
                if blocks:
                    blocks[-1]["cache_control"] = dict(cache)
            if len(messages) > 1:
                messages[-1]["content"][-1]["cache_control"] = dict(cache)
        body.update(_sampling(model, sampling, _thinking_on(thinking)))
        if stream:
            body["stream"] = True
        body.update(extra)
        return body

    def _max_tokens(self, request: ChatRequest, thinking: Any) -> int:
        if request.max_tokens:
            return request.max_tokens
        tokens = self.settings.default_max_tokens or DEFAULT_MAX_TOKENS
        budget = thinking.get("budget_tokens") if isinstance(thinking, Mapping) else None
        # The thinking budget counts toward max_tokens and must stay below it; a default
        # that would refuse the caller's own budget leaves room for the answer instead.
        if isinstance(budget, int) and budget >= tokens:
            tokens = budget + DEFAULT_MAX_TOKENS
        return tokens

    # -- responses --------------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        s = self.settings
        if not isinstance(data, dict):
            raise InvalidResponse(
                f"{s.display_name} returned {type(data).__name__} where a message object "
                "was expected",
                provider=s.provider,
            )
        if data.get("type") == "error":
            raise self.embedded_error(data.get("error"))
        content = data.get("content")
        if not isinstance(content, list):
            raise InvalidResponse(
                f"{s.display_name} returned a body without a 'content' array",
                provider=s.provider,
            )
        text: list[str] = []
        thinking: list[str] = []
        signed: list[dict[str, Any]] = []
        calls: list[ToolCall] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                text.append(block["text"])
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                thinking.append(block["thinking"])
                signed += _signed_thinking(block["thinking"], block.get("signature"))
            elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
                signed.append({"type": "redacted_thinking", "data": block["data"]})
            elif kind == "tool_use" and block.get("name"):
                calls.append(
                    ToolCall(
                        id=_call_id(block.get("id")),
                        name=_name(block["name"], s, "content[].name"),
                        arguments=json_text(block.get("input") or {}, s, "content[].input"),
                    )
                )
        self.thinking_memory.remember(calls, signed)
        stop = _STOP.get(_stop_reason(data.get("stop_reason"), s))
        if calls and stop is None:
            stop = "tool_use"
        return ChatResponse(
            # Citations split one answer into several text blocks: they join seamlessly.
            text="".join(text),
            tool_calls=tuple(calls),
            usage=_usage(data.get("usage")),
            stop_reason=stop,
            reasoning_content=_join_thinking(thinking),
            model=_model(data.get("model"), model),
            provider=s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponse(
                f"{self.settings.display_name} model list has no 'data' array",
                provider=self.settings.provider,
            )
        entries = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("id"):
                continue
            caps = row.get("capabilities")
            image = caps.get("image_input") if isinstance(caps, dict) else None
            vision = flag(image.get("supported")) if isinstance(image, dict) else None
            name = row.get("display_name")
            entries.append(
                ModelEntry(
                    model_id=row["id"],
                    display_name=name if isinstance(name, str) and name else None,
                    # `max_tokens` is the model's output cap (the SDK's `ModelInfo`).
                    context_window=token_limit(row.get("max_input_tokens")),
                    max_output_tokens=token_limit(row.get("max_tokens")),
                    supports_image_input=vision,
                )
            )
        return entries

    def stream_parser(self, request: ChatRequest, model: str) -> MessagesStreamParser:
        return MessagesStreamParser(self, model)

    def embedded_error(self, error: Any) -> ProviderError:
        """An `{"type": "error", "error": {...}}` inside a 200 body or an SSE `error` event."""
        s = self.settings
        kind = error.get("type") if isinstance(error, dict) else None
        status = _ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
        if not isinstance(error, dict):
            if not isinstance(error, str):
                error = json_text(error, s, "error") if error else "unknown error"
            error = {"type": "api_error", "message": error}
        body = json_text({"type": "error", "error": error}, s, "error")
        return classify_http_error(s.provider, s.display_name, status, body)


class MessagesStreamParser:
    """Messages SSE events in, `StreamEvent`s out; tool input assembled per block index."""

    __slots__ = (
        "_blocks",
        "_calls",
        "_dialect",
        "_model",
        "_reasoning",
        "_signed",
        "_stop",
        "_stopped",
        "_text",
        "_usage",
        "done",
    )

    def __init__(self, dialect: AnthropicMessages, model: str) -> None:
        self._dialect = dialect
        self._model = model
        self._blocks: dict[int, dict[str, Any]] = {}
        self._text: list[str] = []
        self._reasoning: list[str] = []
        # Thinking and redacted_thinking blocks by index, for the dialect's ThinkingMemory.
        self._signed: dict[int, dict[str, Any]] = {}
        self._calls: list[ToolCall] = []
        self._usage: dict[str, Any] = {}
        self._stop: str | None = None
        self._stopped = False
        self.done = False

    @property
    def complete(self) -> bool:
        """The stream said it was finished: `message_stop`, or a stop reason before it."""
        return self.done or self._stopped

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, data: str) -> list[StreamEvent]:
        event = load_event(data, self._dialect.settings)
        if not isinstance(event, dict):
            return []
        kind = event.get("type")
        events: list[StreamEvent] = []
        if kind == "content_block_delta":
            self._delta(event, events)
        elif kind == "content_block_start":
            self._start(event, events)
        elif kind == "content_block_stop":
            self._stop_block(self._index(event), events)
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self._model = _model(message.get("model"), self._model)
                self._add_usage(message.get("usage"))
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and "stop_reason" in delta and delta["stop_reason"]:
                self._stop = _stop_reason(delta["stop_reason"], self._dialect.settings)
                self._stopped = True
            self._add_usage(event.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise self._dialect.embedded_error(event.get("error"))
        # `ping` and event types added later carry nothing construct reports.
        return events

    def _index(self, event: dict[str, Any], missing: int | None = None) -> int | None:
        """The block index of an event; the blocks are keyed and sorted by it."""
        index = event.get("index")
        if type(index) is int:
            return index
        if index is None:
            return missing
        raise malformed(self._dialect.settings, "index", index, "an integer")

    def _start(self, event: dict[str, Any], events: list[StreamEvent]) -> None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return
        slot: dict[str, Any] = {"type": block.get("type")}
        index = self._index(event, len(self._blocks))
        self._blocks[index] = slot
        if slot["type"] == "text":
            self._emit_text(block.get("text"), events)
        elif slot["type"] == "thinking":
            slot["parts"] = []
            slot["signature"] = _string(block.get("signature"))
            self._signed[index] = slot
            self._emit_reasoning(slot, block.get("thinking"), events)
        elif slot["type"] == "redacted_thinking" and isinstance(block.get("data"), str):
            self._signed[index] = {"type": "redacted_thinking", "data": block["data"]}
        elif slot["type"] == "tool_use":
            name = block.get("name")
            if name:
                name = _name(name, self._dialect.settings, "content_block.name")
            slot.update(id=block.get("id"), name=name, input=block.get("input"))
            slot["args"] = []

    def _delta(self, event: dict[str, Any], events: list[StreamEvent]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        kind = delta.get("type")
        index = self._index(event)
        slot = self._blocks.get(index)
        if kind == "text_delta":
            self._emit_text(delta.get("text"), events)
        elif kind == "thinking_delta":
            if slot is None:
                slot = self._blocks.setdefault(-1 if index is None else index, {"type": "thinking"})
            self._emit_reasoning(slot, delta.get("thinking"), events)
        elif kind == "input_json_delta" and slot is not None and "args" in slot:
            piece = delta.get("partial_json")
            if isinstance(piece, str):
                slot["args"].append(piece)
        elif kind == "signature_delta" and slot is not None and "parts" in slot:
            slot["signature"] += _string(delta.get("signature"))
        # `citations_delta` annotates text already delivered.

    def _emit_text(self, piece: Any, events: list[StreamEvent]) -> None:
        if isinstance(piece, str) and piece:
            self._text.append(piece)
            events.append(StreamEvent.text(piece))

    def _emit_reasoning(self, slot: dict[str, Any], piece: Any, events: list[StreamEvent]) -> None:
        if not isinstance(piece, str) or not piece:
            return
        if "parts" in slot:
            slot["parts"].append(piece)
        if not slot.get("started"):
            slot["started"] = True
            # Thinking blocks are paragraphs apart, as parse_chat joins them.
            if self._reasoning:
                piece = "\n\n" + piece
        self._reasoning.append(piece)
        events.append(StreamEvent.reasoning(piece))

    def _stop_block(self, index: Any, events: list[StreamEvent]) -> None:
        slot = self._blocks.get(index)
        if slot is None or slot["type"] != "tool_use" or slot.get("emitted"):
            return
        call = _assembled_call(slot, self._dialect.settings)
        slot["emitted"] = True
        if call is not None:
            self._calls.append(call)
            events.append(StreamEvent.call(call))

    def _add_usage(self, raw: Any) -> None:
        # message_delta counts are cumulative: later values replace earlier ones.
        if isinstance(raw, dict):
            self._usage.update({k: v for k, v in raw.items() if v is not None})

    def finish(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for index in sorted(i for i in self._blocks if isinstance(i, int)):
            self._stop_block(index, events)
        self._dialect.thinking_memory.remember(self._calls, self._signed_blocks())
        stop = _STOP.get(self._stop or "")
        if self._calls and stop is None:
            stop = "tool_use"
        response = ChatResponse(
            text="".join(self._text),
            tool_calls=tuple(self._calls),
            usage=_usage(self._usage) if self._usage else None,
            stop_reason=stop,
            reasoning_content="".join(self._reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        events.append(StreamEvent.final(response))
        return events

    def _signed_blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for index in sorted(self._signed):
            slot = self._signed[index]
            if slot["type"] == "thinking":
                blocks += _signed_thinking("".join(slot["parts"]), slot["signature"])
            else:
                blocks.append(slot)
        return blocks


# -- encoding ----------------------------------------------------------------------


def encode_messages(
    messages: Sequence[ChatMessage],
    recall: Callable[[str], list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """User and assistant turns as content blocks; system messages are left to `system`.

    Tool results become user `tool_result` blocks, and consecutive turns of one role
    merge into one message, since the API wants user and assistant to alternate.
    `recall` gives the signed thinking blocks an assistant turn with tool calls opened
    with, when known (`ThinkingMemory`).
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if recall is not None and m.role == "assistant" and m.tool_calls:
            blocks = recall(m.tool_calls[0].id) + blocks
        if not blocks:
            # The API refuses empty turns; an empty message says nothing anyway.
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        # tool_result blocks must open the user turn that answers the tool calls, and
        # thinking blocks the assistant turn they belong to.
        first = "tool_result" if message["role"] == "user" else "thinking"
        message["content"].sort(key=lambda b: first not in b["type"])
    return out


def _blocks(m: ChatMessage) -> list[dict[str, Any]]:
    if m.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
        parts = _parts(m.content)
        if parts and all(p["type"] == "text" for p in parts):
            result["content"] = "".join(p["text"] for p in parts)
        elif parts:
            result["content"] = parts
        return [result]
    blocks = _parts(m.content)
    if m.role == "assistant":
        blocks.extend(
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.parsed_arguments()}
            for c in m.tool_calls
        )
    return blocks


def _parts(content: str | tuple[TextPart | ImagePart, ...]) -> list[dict[str, Any]]:
    # Empty or whitespace-only text blocks are a 400 ("text content blocks must be non-empty").
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    out: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, ImagePart):
            out.append(image_block(part.url))
        elif part.text.strip():
            out.append({"type": "text", "text": part.text})
    return out


def image_block(url: str) -> dict[str, Any]:
    """An `image` block: a `data:` URI as base64 source, an http(s) URL as url source."""
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, comma, data = url[5:].partition(",")
    if not comma:
        raise ValueError("an image data: URI has no ',' before its data")
    params = header.split(";")
    media_type = params[0].strip().lower() or "text/plain"
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type not in _IMAGE_TYPES:
        raise ValueError(
            f"Anthropic takes JPEG, PNG, GIF and WebP images; this data: URI is {media_type}"
        )
    if "base64" not in (p.strip().lower() for p in params[1:]):
        data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    schema = dict(tool.parameters)
    # input_schema must be an object schema; a bare `{}` means "no arguments".
    schema.setdefault("type", "object")
    out: dict[str, Any] = {"name": tool.name, "input_schema": schema}
    if tool.description:
        out["description"] = tool.description
    return out


def _cache_control(value: Any) -> dict[str, Any] | None:
    """`extra["cache"]`: True (default) or False, a TTL ("5m", "1h"), or a cache_control dict."""
    if value is None or value is True:
        return dict(_EPHEMERAL)
    if value is False:
        return None
    if isinstance(value, str):
        return {"type": "ephemeral", "ttl": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError(
        "extra['cache'] must be True, False, a TTL such as '1h', or a cache_control dict; "
        f"got {type(value).__name__}"
    )


def _thinking_on(thinking: Any) -> bool:
    return isinstance(thinking, Mapping) and thinking.get("type") not in (None, "disabled")


def _sampling(model: str, asked: dict[str, Any], thinking: bool) -> dict[str, Any]:
    """C6: the sampling parameters the caller set, if this model takes them."""
    wanted = {k: v for k, v in asked.items() if v is not None}
    if not wanted:
        return {}
    if not accepts_sampling(model):
        log.debug("not sending %s: %s takes no sampling parameters", sorted(wanted), model)
        return {}
    if thinking:
        # Extended thinking is incompatible with temperature and top_k (docs: extended thinking).
        dropped = [k for k in ("temperature", "top_k") if wanted.pop(k, None) is not None]
        if dropped:
            log.debug("not sending %s: thinking is on", dropped)
    return wanted


def _with_version(headers: Mapping[str, str]) -> dict[str, str]:
    sent = dict(headers)
    sent["anthropic-version"] = API_VERSION
    return sent


def _is_oauth(headers: Mapping[str, str]) -> bool:
    return any(
        k.lower() == "authorization" and v.startswith(f"Bearer {OAUTH_PREFIX}")
        for k, v in headers.items()
    )


def _join_betas(current: str | None, extra: Any) -> str:
    names = [b.strip() for b in (current or "").split(",") if b.strip()]
    for beta in [extra] if isinstance(extra, str) else extra:
        if beta not in names:
            names.append(beta)
    return ",".join(names)


# -- decoding ------------------------------------------------------------------------


def _signed_thinking(thinking: str, signature: Any) -> list[dict[str, Any]]:
    if not isinstance(signature, str) or not signature:
        return []
    return [{"type": "thinking", "thinking": thinking, "signature": signature}]


def _join_thinking(blocks: list[str]) -> str | None:
    return "\n\n".join(b for b in blocks if b) or None


def _assembled_call(slot: dict[str, Any], settings: MessagesSettings) -> ToolCall | None:
    if not slot.get("name"):
        return None
    args = "".join(slot.get("args") or ())
    if args.strip():
        try:
            json.loads(args)
        except ValueError:
            args = "{}"
    else:
        start = slot.get("input")
        args = (
            json_text(start, settings, "content_block.input") if isinstance(start, dict) else "{}"
        )
    return ToolCall(id=_call_id(slot.get("id")), name=slot["name"], arguments=args)


def _call_id(value: Any) -> str:
    """The tool call's id, or a new one when the server sent none (or not a string)."""
    return value if isinstance(value, str) and value else new_tool_call_id()


def _name(value: Any, settings: MessagesSettings, where: str) -> str:
    if not isinstance(value, str):
        raise malformed(settings, where, value, "a string")
    return value


def _model(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _stop_reason(value: Any, settings: MessagesSettings) -> str:
    if value and not isinstance(value, str):
        raise malformed(settings, "stop_reason", value, "a string")
    return value or ""


def _usage(raw: Any) -> Usage | None:
    """Usage in construct's terms: input counts every prompt token, cached ones included.

    Anthropic's `input_tokens` leaves out the tokens read from and written to the cache;
    they are added back, as OpenAI's `prompt_tokens` (and LiteLLM, pydantic-ai) count them.
    """
    if not isinstance(raw, dict):
        return None
    counts = [count(raw.get(k)) for k in ("input_tokens", "cache_read_input_tokens")]
    counts.append(count(raw.get("cache_creation_input_tokens")))
    known = [c for c in counts if c is not None]
    return Usage(
        input_tokens=sum(known) if known else None,
        output_tokens=count(raw.get("output_tokens")),
        cached_input_tokens=count(raw.get("cache_read_input_tokens")),
    )


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> AnthropicMessages:
    """The dialect configured for one registry row (`anthropic`, `anthropic-custom:URL`)."""
    spec = resolved.spec
    return AnthropicMessages(
        MessagesSettings(
            provider=spec.name,
            display_name=spec.display_name,
            root_url=api_root(resolved.base_url),
            default_max_tokens=opts.provider_max_tokens,
        )
    )
