"""The OpenAI Responses API (`POST /responses`). Sans I/O.

The protocol of `openai-codex` and of OpenAI's newest models; also what the
reference falls back to when a compatible server answers 404 on chat
completions (reference §2.6). A conversation becomes `input` items: messages,
`function_call` items for the assistant's earlier tool calls and
`function_call_output` items for their results; system messages become
`instructions`. Nothing is stored server side (`store: false`), so every call
carries the whole history, as with chat completions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import InvalidResponse, ProviderError, classify_http_error
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
from .base import SwitchableTools
from .common import (
    count,
    is_reasoning_model,
    json_text,
    load_event,
    malformed,
    openai_models,
    valid_json,
)
from .prompt_tools import parse_tool_calls, render_prompt_guided
from .think import TagSplitter

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = [
    "OpenAIResponses",
    "ResponsesSettings",
    "ResponsesStreamParser",
    "build",
    "encode_input",
    "responses_url",
]

log = logging.getLogger("construct")

# `incomplete_details.reason` -> construct's stop reason.
_INCOMPLETE: dict[str, StopReason] = {
    "max_output_tokens": "max_tokens",
    "content_filter": "content_filter",
}
# Error codes of `response.failed` / `error` events -> the HTTP status that class of
# failure has when the API answers it directly, so E1 classifies both the same way.
_ERROR_STATUS = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "server_is_overloaded": 529,
    "overloaded_error": 529,
    "overloaded": 529,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "permission_denied": 403,
    "not_found": 404,
    "model_not_found": 404,
}
# What ends a stream: OpenAI sends one of the first two; the ChatGPT backend
# behind openai-codex has also been seen closing with `response.done`.
_FINISHED = ("response.completed", "response.incomplete", "response.done")


def responses_url(base_url: str, api_path: str | None = None) -> str:
    """Reference §2.6: a path ending in /responses is kept; a chat-completions URL becomes
    the responses URL beside it; a base with a path gets /responses; a bare host /v1/responses."""
    base = base_url.rstrip("/")
    if api_path:
        return base + (api_path if api_path.startswith("/") else "/" + api_path)
    path = urlsplit(base).path.rstrip("/")
    if path.endswith("/responses"):
        return base
    if path.endswith("/chat/completions"):
        return base[: -len("/chat/completions")] + "/responses"
    if path:
        return base + "/responses"
    return base + "/v1/responses"


def models_url(base_url: str) -> str:
    """The `/models` list beside the responses endpoint."""
    url = responses_url(base_url)
    return url[: -len("/responses")] + "/models"


@dataclass(frozen=True, slots=True)
class ResponsesSettings:
    provider: str
    display_name: str
    url: str
    models_url: str
    native_tools: bool = True
    default_max_tokens: int | None = None
    reasoning_effort: str | None = None


class OpenAIResponses(SwitchableTools):
    """The Responses dialect, configured for one provider."""

    def __init__(self, settings: ResponsesSettings) -> None:
        self.settings = settings

    # -- requests ---------------------------------------------------------

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        return HttpRequest(
            "POST", self.settings.url, dict(headers), self.body(request, model, temperature, stream)
        )

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        return HttpRequest("GET", self.settings.models_url, dict(headers))

    def body(
        self, request: ChatRequest, model: str, temperature: float | None, stream: bool
    ) -> dict[str, Any]:
        s = self.settings
        tools = request.tools
        messages: Sequence[ChatMessage] = request.messages
        if not s.native_tools:
            messages = render_prompt_guided(messages, tools)
            tools = None
        instructions, items = encode_input(messages)
        body: dict[str, Any] = {"model": model, "input": items}
        if instructions:
            body["instructions"] = instructions
        if tools:
            body["tools"] = [encode_tool(t) for t in tools]
        max_tokens = request.max_tokens or s.default_max_tokens
        if max_tokens:
            body["max_output_tokens"] = max_tokens
        if temperature is not None:
            # OpenAI's reasoning models take only the default temperature (C6).
            if is_reasoning_model(model) and temperature != 1:
                log.debug("not sending temperature=%s: %s accepts only 1", temperature, model)
            else:
                body["temperature"] = temperature
        if s.reasoning_effort and is_reasoning_model(model):
            body["reasoning"] = {"effort": s.reasoning_effort}
        body["store"] = False
        body["stream"] = stream
        for key, value in request.extra.items():
            # One level deep, so extra={"reasoning": {"summary": "auto"}} keeps the effort.
            if isinstance(value, Mapping) and isinstance(body.get(key), dict):
                body[key] = {**body[key], **value}
            else:
                body[key] = value
        return body

    # -- responses ----------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        s = self.settings
        if not isinstance(data, dict):
            raise InvalidResponse(
                f"{s.display_name} returned {type(data).__name__} where a JSON object was expected",
                provider=s.provider,
            )
        if data.get("status") == "failed" or (data.get("error") and "output" not in data):
            raise self.embedded_error(data.get("error"))
        output = data.get("output")
        if not isinstance(output, list):
            raise InvalidResponse(
                f"No response from {s.display_name} Responses API: the body has no output list",
                provider=s.provider,
            )
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for item in output:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "message":
                text = _message_text(item)
                if text:
                    texts.append(text)
            elif kind == "function_call":
                call = _decode_call(item, s)
                if call is not None:
                    calls.append(call)
            elif kind == "reasoning":
                text = _reasoning_text(item)
                if text:
                    reasoning.append(text)
        text = "\n\n".join(texts)
        if not text and isinstance(data.get("output_text"), str):
            text = data["output_text"]
        if not s.native_tools and not calls:
            text, calls = parse_tool_calls(text)
            text = text.strip()
        return ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=_usage(data.get("usage")),
            stop_reason=_stop_reason(data, bool(calls), s),
            reasoning_content="\n\n".join(reasoning) or None,
            model=_model(data.get("model"), model),
            provider=s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        return openai_models(data, self.settings)

    def stream_parser(self, request: ChatRequest, model: str) -> ResponsesStreamParser:
        return ResponsesStreamParser(
            self, model, bool(request.tools) and not self.settings.native_tools
        )

    def embedded_error(self, error: Any) -> ProviderError:
        """An error object of a failed response or an `error` stream event, classified as the
        HTTP status its code stands for (E1)."""
        s = self.settings
        if not isinstance(error, dict):
            if not isinstance(error, str):
                error = json_text(error, s, "error") if error else ""
            error = {"message": error or "the response failed without details"}
        # An `error` stream event is itself the error object, with its own type and number.
        error = {
            k: v
            for k, v in error.items()
            if v is not None and k != "sequence_number" and (k, v) != ("type", "error")
        }
        code = error.get("code") or error.get("type")
        if not isinstance(code, str | int):
            code = None
        status = _ERROR_STATUS.get(str(code).lower()) if code else None
        if status is None:
            status = _status_from_code(code)
        body = json_text({"error": error}, s, "error")
        return classify_http_error(s.provider, s.display_name, status, body)


class ResponsesStreamParser:
    """Responses API stream events in, `StreamEvent`s out."""

    __slots__ = (
        "_calls",
        "_dialect",
        "_emitted",
        "_guided",
        "_last_text_item",
        "_model",
        "_reasoning",
        "_response",
        "_text",
        "_text_items",
        "_tools_tag",
        "complete",
    )

    def __init__(self, dialect: OpenAIResponses, model: str, prompt_guided: bool) -> None:
        self._dialect = dialect
        self._model = model
        self._text: list[str] = []
        self._reasoning: list[str] = []
        # output_index -> {"id", "name", "args": [...]} of a function call being streamed.
        self._calls: dict[int, dict[str, Any]] = {}
        self._emitted: set[int] = set()
        # Output items that sent text deltas; the text of a `done` item without any is new.
        self._text_items: set[int] = set()
        self._last_text_item: int | None = None
        self._response: dict[str, Any] | None = None
        self._tools_tag = TagSplitter("<tool_call>", "</tool_call>") if prompt_guided else None
        self._guided = prompt_guided
        self.complete = False

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            return []
        event = load_event(data, self._dialect.settings)
        if not isinstance(event, dict):
            return []
        kind = event.get("type")
        events: list[StreamEvent] = []
        index = event.get("output_index")
        if type(index) is not int and index is not None:
            raise malformed(self._dialect.settings, "output_index", index, "an integer")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            self._add_text(index, event.get("delta"), events)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self._reasoning.append(delta)
                events.append(StreamEvent.reasoning(delta))
        elif kind == "response.output_item.added":
            self._item_added(index, event.get("item"))
        elif kind == "response.function_call_arguments.delta":
            slot = self._calls.setdefault(_index(index, self._calls), {"args": []})
            if isinstance(event.get("delta"), str):
                slot["args"].append(event["delta"])
        elif kind == "response.function_call_arguments.done":
            slot = self._calls.setdefault(_index(index, self._calls), {"args": []})
            if isinstance(event.get("arguments"), str):
                slot["args"] = [event["arguments"]]
        elif kind == "response.output_item.done":
            self._item_done(index, event.get("item"), events)
        elif kind in ("response.created", "response.in_progress", "response.queued"):
            self._remember_model(event.get("response"))
        elif kind in _FINISHED:
            response = event.get("response")
            if isinstance(response, dict):
                self._response = response
                self._remember_model(response)
            self.complete = True
        elif kind == "response.failed":
            response = event.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            raise self._dialect.embedded_error(error)
        elif kind == "error":
            raise self._dialect.embedded_error(event.get("error") or event)
        return events

    def _remember_model(self, response: Any) -> None:
        if isinstance(response, dict):
            self._model = _model(response.get("model"), self._model)

    def _add_text(self, index: Any, delta: Any, events: list[StreamEvent]) -> None:
        if not isinstance(delta, str) or not delta:
            return
        if index is not None:
            if self._text and index != self._last_text_item and index not in self._text_items:
                # A second message item (commentary, then the answer): as parse_chat joins them.
                delta = "\n\n" + delta
            self._text_items.add(index)
            self._last_text_item = index
        self._text.append(delta)
        if self._tools_tag is None:
            events.append(StreamEvent.text(delta))
            return
        events.extend(
            StreamEvent.text(p) for inside, p in self._tools_tag.feed(delta) if not inside
        )

    def _item_added(self, index: Any, item: Any) -> None:
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return
        slot = self._calls.setdefault(_index(index, self._calls), {"args": []})
        self._call_fields(slot, item)
        if item.get("arguments") and isinstance(item["arguments"], str):
            slot["args"] = [item["arguments"]]

    def _item_done(self, index: Any, item: Any, events: list[StreamEvent]) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call":
            key = _index(index, self._calls)
            slot = self._calls.setdefault(key, {"args": []})
            self._call_fields(slot, item)
            if isinstance(item.get("arguments"), str):
                slot["args"] = [item["arguments"]]
            call = _slot_call(slot)
            if call is not None and key not in self._emitted:
                # Emitted as soon as it is whole: a caller can start the tool early.
                slot["call"] = call
                self._emitted.add(key)
                events.append(StreamEvent.call(call))
        elif kind == "message" and index is not None and index not in self._text_items:
            self._add_text(index, _message_text(item), events)

    def _call_fields(self, slot: dict[str, Any], item: dict[str, Any]) -> None:
        """A function_call item's id and name, into the slot its call is assembled in."""
        call_id, name = item.get("call_id"), item.get("name")
        if call_id and isinstance(call_id, str):
            slot["id"] = call_id
        if name:
            slot["name"] = _name(name, self._dialect.settings)

    def finish(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self._tools_tag is not None:
            events.extend(
                StreamEvent.text(p) for inside, p in self._tools_tag.flush() if not inside
            )
        response = self._response or {}
        if not self._text and not self._calls and isinstance(response.get("output"), list):
            # A stream that sent only the finished response: read it whole.
            parsed = self._dialect.parse_chat(response, self._model)
            if parsed.text:
                self._text.append(parsed.text)
                events.append(StreamEvent.text(parsed.text))
            if parsed.reasoning_content and not self._reasoning:
                self._reasoning.append(parsed.reasoning_content)
            for i, call in enumerate(parsed.tool_calls):
                self._calls[i] = {"call": call}
        calls: list[ToolCall] = []
        for key in sorted(self._calls):
            slot = self._calls[key]
            call = slot.get("call") or _slot_call(slot)
            if call is None:
                continue
            calls.append(call)
            if key not in self._emitted:
                events.append(StreamEvent.call(call))
        text = "".join(self._text)
        if self._guided:
            text, guided = parse_tool_calls(text)
            text = text.strip()
            events.extend(StreamEvent.call(c) for c in guided)
            calls += guided
        final = ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=_usage(response.get("usage")),
            stop_reason=_stop_reason(response, bool(calls), self._dialect.settings),
            reasoning_content="".join(self._reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        events.append(StreamEvent.final(final))
        return events


# -- encoding -----------------------------------------------------------------------


def encode_input(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items): system text joined by blank lines, the rest as items."""
    system = [m.text for m in messages if m.role == "system" and m.text.strip()]
    items: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            items.append(
                {"type": "function_call_output", "call_id": m.tool_call_id, "output": m.text}
            )
        elif m.role == "assistant":
            if m.text:
                # A plain-text assistant turn; output messages would need server-side ids.
                items.append({"type": "message", "role": "assistant", "content": m.text})
            items.extend(
                {
                    "type": "function_call",
                    "call_id": c.id,
                    "name": c.name,
                    "arguments": c.arguments or "{}",
                }
                for c in m.tool_calls
            )
        else:
            items.append({"type": "message", "role": "user", "content": _user_parts(m)})
    return "\n\n".join(system), items


def _user_parts(m: ChatMessage) -> list[dict[str, Any]]:
    parts: Sequence[TextPart | ImagePart] = (
        (TextPart(m.content),) if isinstance(m.content, str) else m.content
    )
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "input_text", "text": part.text})
        else:
            out.append({"type": "input_image", "image_url": part.url, "detail": "auto"})
    return out


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "function",
        "name": tool.name,
        "parameters": dict(tool.parameters),
        # Strict mode demands schemas construct cannot promise (every property required,
        # additionalProperties false); the chat dialect does not ask for it either.
        "strict": False,
    }
    if tool.description:
        out["description"] = tool.description
    return out


# -- decoding -----------------------------------------------------------------------


def _index(index: Any, calls: dict[int, Any]) -> int:
    return index if isinstance(index, int) else len(calls)


def _message_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    out = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "output_text" and isinstance(part.get("text"), str):
            out.append(part["text"])
        elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
            out.append(part["refusal"])
    return "".join(out)


def _reasoning_text(item: dict[str, Any]) -> str:
    # As in a message item, parts that are not a list of objects carry no text we know.
    pieces = [
        p["text"]
        for key in ("summary", "content")
        for p in _list(item.get(key))
        if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"]
    ]
    return "\n\n".join(pieces)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _model(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _name(value: Any, settings: ResponsesSettings) -> str:
    if not isinstance(value, str):
        raise malformed(settings, "function_call.name", value, "a string")
    return value


def _decode_call(item: dict[str, Any], settings: ResponsesSettings) -> ToolCall | None:
    name = item.get("name")
    if not name:
        return None
    args = item.get("arguments")
    if isinstance(args, str):
        arguments = valid_json(args)
    else:
        arguments = json_text(args or {}, settings, "function_call.arguments")
    call_id = item.get("call_id")
    return ToolCall(
        id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
        name=_name(name, settings),
        arguments=arguments,
    )


def _slot_call(slot: dict[str, Any]) -> ToolCall | None:
    if not slot.get("name"):
        return None
    return ToolCall(
        id=slot.get("id") or new_tool_call_id(),
        name=slot["name"],
        arguments=valid_json("".join(slot.get("args") or ())),
    )


def _stop_reason(
    data: dict[str, Any], has_calls: bool, settings: ResponsesSettings
) -> StopReason | None:
    status = data.get("status")
    if status == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        if reason and not isinstance(reason, str):
            raise malformed(settings, "incomplete_details.reason", reason, "a string")
        return _INCOMPLETE.get(reason or "")
    if status in ("completed", None):
        return "tool_use" if has_calls else "end_turn"
    return None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        input_tokens=count(raw.get("input_tokens")),
        output_tokens=count(raw.get("output_tokens")),
        cached_input_tokens=count(cached),
    )


def _status_from_code(code: Any) -> int:
    """An error code we have no entry for: a numeric HTTP status, an `invalid_*` or image
    problem of the request (400), anything else a server-side failure (500)."""
    text = str(code or "").lower()
    if text.isdigit() and 400 <= int(text) <= 599:
        return int(text)
    if text.startswith(("invalid", "image_", "unsupported", "empty_", "failed_to_download")):
        return 400
    if "rate_limit" in text:
        return 429
    return 500


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> OpenAIResponses:
    """The dialect configured for one registry row and its runtime options."""
    spec = resolved.spec
    return OpenAIResponses(
        ResponsesSettings(
            provider=spec.name,
            display_name=spec.display_name,
            url=responses_url(resolved.base_url, opts.api_path),
            models_url=models_url(resolved.base_url),
            native_tools=spec.native_tools,
            default_max_tokens=opts.provider_max_tokens,
            reasoning_effort=(opts.reasoning_effort or "").strip().lower() or None,
        )
    )
