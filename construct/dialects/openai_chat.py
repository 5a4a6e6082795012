"""OpenAI chat completions, the protocol most providers speak. Sans I/O.

`OpenAIChat` turns a `ChatRequest` into an `HttpRequest` and a response body
or a stream of SSE payloads into `ChatResponse` / `StreamEvent`s. Provider
quirks are settings of the instance, not branches on provider names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
from .base import Recovery, SwitchableTools
from .common import (
    StreamedText,
    count,
    is_reasoning_model,
    json_text,
    load_event,
    malformed,
    openai_models,
    promote_tool_use,
    valid_json,
)
from .prompt_tools import parse_tool_calls, render_prompt_guided
from .think import split_think

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = [
    "ChatSettings",
    "ChatStreamParser",
    "OpenAIChat",
    "build",
    "chat_url",
    "is_reasoning_model",
]

log = logging.getLogger("construct")

_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "eos": "end_turn",
    "end_turn": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "max_tokens": "max_tokens",
    "content_filter": "content_filter",
}


_MODEL_MISSING = (
    r"(?i)model_not_found|does not exist|no such model|unknown model|model\b.{0,80}\bnot found"
)


def chat_url(base_url: str, api_path: str | None = None) -> str:
    """Reference §2.6: `api_path` wins; a base already ending in the chat path is kept."""
    base = base_url.rstrip("/")
    if api_path:
        return base + (api_path if api_path.startswith("/") else "/" + api_path)
    if base.split("?", 1)[0].endswith("/chat/completions"):
        return base
    return base + "/chat/completions"


def models_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        base = base[: -len("/chat/completions")]
    return base + "/models"


def _merges_system(model: str) -> bool:
    # DeepSeek-V3 deployments elsewhere reject or ignore system messages (reference §2.6).
    name = model.rsplit("/", 1)[-1].lower()
    return "deepseek-v3" in name or "deepseek_v3" in name


@dataclass(frozen=True, slots=True)
class ChatSettings:
    provider: str
    display_name: str
    url: str
    models_url: str
    native_tools: bool = True
    merge_system: bool = False
    max_tokens_field: str = "max_tokens"
    default_max_tokens: int | None = None
    reasoning_effort: str | None = None
    # OpenAI's own rules: reasoning models take only the default temperature.
    openai_sampling: bool = False
    tool_stream: bool = False
    stream_usage: bool = True
    # On a 404, try the Responses API beside the chat endpoint (reference §2.6).
    responses_fallback: bool = False


class OpenAIChat(SwitchableTools):
    """The OpenAI chat-completions dialect, configured for one provider."""

    settings: ChatSettings

    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings
        self._responses: Any = None

    def recover(
        self, error: InvalidRequest, request: ChatRequest, temperature: float | None
    ) -> Recovery | None:
        again = super().recover(error, request, temperature)
        if again is not None or not self.settings.responses_fallback:
            return again
        # Reference §2.6: a 404 from chat completions on a server that only speaks the
        # Responses API. Not when the 404 says the model is unknown: that is the answer.
        if error.status == 404 and not re.search(_MODEL_MISSING, error.body or error.message):
            explain = "chat completions unavailable; responses fallback failed"
            return Recovery(self._responses_dialect(), temperature, sticky=True, explain=explain)
        return None

    def _responses_dialect(self) -> Any:
        """The Responses dialect beside this chat endpoint, built on first need."""
        if self._responses is None:
            from .openai_responses import OpenAIResponses, ResponsesSettings, responses_url

            s = self.settings
            self._responses = OpenAIResponses(
                ResponsesSettings(
                    provider=s.provider,
                    display_name=s.display_name,
                    url=responses_url(s.url),
                    models_url=models_url(s.url),
                    native_tools=s.native_tools,
                    default_max_tokens=s.default_max_tokens,
                    reasoning_effort=s.reasoning_effort,
                )
            )
        return self._responses

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
            "POST",
            self.settings.url,
            dict(headers),
            self.body(request, model, temperature, stream),
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
        if s.merge_system or _merges_system(model):
            messages = merge_system_into_user(messages)
        body: dict[str, Any] = {"model": model, "messages": [encode_message(m) for m in messages]}
        if temperature is not None:
            if s.openai_sampling and is_reasoning_model(model) and temperature != 1:
                log.debug("not sending temperature=%s: %s accepts only 1", temperature, model)
            else:
                body["temperature"] = temperature
        max_tokens = request.max_tokens or s.default_max_tokens
        if max_tokens:
            body[s.max_tokens_field] = max_tokens
        if s.reasoning_effort and (not s.openai_sampling or is_reasoning_model(model)):
            body["reasoning_effort"] = s.reasoning_effort
        if tools is not None:
            body["tools"] = [encode_tool(t) for t in tools]
            if tools:
                body["tool_choice"] = "auto"
                if s.tool_stream:
                    body["tool_stream"] = True
        if stream:
            body["stream"] = True
            if s.stream_usage:
                body["stream_options"] = {"include_usage": True}
        if request.extra:
            body.update(request.extra)
        return body

    # -- responses ----------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        s = self.settings
        if not isinstance(data, dict):
            raise InvalidResponse(
                f"{s.display_name} returned {type(data).__name__} where a JSON object was expected",
                provider=s.provider,
            )
        choices = data.get("choices")
        if not choices:
            if data.get("error"):
                raise self.embedded_error(data["error"])
            raise InvalidResponse(
                f"No response from {s.display_name}: the body has no choices",
                provider=s.provider,
            )
        choice = choices[0] if isinstance(choices, list) else None
        message = (choice.get("message") or {}) if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise InvalidResponse(
                f"{s.display_name} returned choices that are not chat-completion choices",
                provider=s.provider,
            )
        content = _content_text(message.get("content"))
        text, thinking = split_think(content) if content else ("", "")
        reasoning = message.get("reasoning_content") or message.get("reasoning") or thinking
        raw_calls = message.get("tool_calls")
        calls = []
        if raw_calls:
            if not isinstance(raw_calls, list):
                raise malformed(s, "choices[0].message.tool_calls", raw_calls, "an array")
            calls = [c for c in (_decode_tool_call(tc, s) for tc in raw_calls) if c is not None]
        if not s.native_tools and not calls:
            text, calls = parse_tool_calls(text)
        finish = choice.get("finish_reason")
        if finish and not isinstance(finish, str):
            raise malformed(s, "choices[0].finish_reason", finish, "a string")
        stop = promote_tool_use(_FINISH.get(finish or ""), bool(calls))
        served = data.get("model")
        # Positional: this runs on every call, and keyword construction costs more.
        return ChatResponse(
            text,
            tuple(calls),
            _usage(data.get("usage")),
            stop,
            reasoning if isinstance(reasoning, str) and reasoning else None,
            served if isinstance(served, str) and served else model,
            s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        return openai_models(data, self.settings)

    def stream_parser(self, request: ChatRequest, model: str) -> ChatStreamParser:
        return ChatStreamParser(self, model, bool(request.tools) and not self.settings.native_tools)

    def embedded_error(self, error: Any) -> ProviderError:
        """An `{"error": ...}` object inside a 200 body or a stream (OpenRouter does both)."""
        s = self.settings
        code = error.get("code") if isinstance(error, dict) else None
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 500
        if not 400 <= status <= 599:
            status = 500
        body = json_text({"error": error}, s, "error") if not isinstance(error, str) else error
        return classify_http_error(s.provider, s.display_name, status, body)


class ChatStreamParser:
    """Chat-completion chunks in, `StreamEvent`s out; assembles tool calls per index."""

    __slots__ = (
        "_calls",
        "_dialect",
        "_guided",
        "_model",
        "_out",
        "_stop",
        "_usage",
        "done",
    )

    def __init__(self, dialect: OpenAIChat, model: str, prompt_guided: bool) -> None:
        self._dialect = dialect
        self._model = model
        self._calls: dict[int, dict[str, Any]] = {}
        self._stop: str | None = None
        self._usage: Usage | None = None
        # Prompt-guided tool calls are held back from the text deltas and parsed at the end.
        self._out = StreamedText(prompt_guided)
        self._guided = prompt_guided
        self.done = False

    @property
    def complete(self) -> bool:
        """The stream said it was finished ([DONE] or a finish_reason)."""
        return self.done or self._stop is not None

    @property
    def partial_text(self) -> str:
        return "".join(self._out.text)

    def feed(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            self.done = True
            return []
        chunk = load_event(data, self._dialect.settings)
        if not isinstance(chunk, dict):
            return []
        # Written for the chunk that comes once per token (one choice, a content
        # delta): every lookup here is paid per token.
        get = chunk.get
        if get("error"):
            raise self._dialect.embedded_error(chunk["error"])
        model = get("model")
        if model and isinstance(model, str):
            self._model = model
        raw_usage = get("usage")
        if raw_usage:
            self._usage = _usage(raw_usage)
        choices = get("choices")
        if not choices or not isinstance(choices, list):
            return []
        events: list[StreamEvent] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta and isinstance(delta, dict):
                if "reasoning_content" in delta or "reasoning" in delta:
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        self._out.add_reasoning(reasoning, events)
                content = delta.get("content")
                if content and isinstance(content, str):
                    self._out.add_content(content, events)
                tool_calls = delta.get("tool_calls")
                if tool_calls:
                    self._add_tool_deltas(tool_calls)
            stop = choice.get("finish_reason")
            if stop:
                if not isinstance(stop, str):
                    raise malformed(self._dialect.settings, "finish_reason", stop, "a string")
                self._stop = stop
        return events

    def _add_tool_deltas(self, tool_calls: Any) -> None:
        if not isinstance(tool_calls, list):
            raise malformed(self._dialect.settings, "delta.tool_calls", tool_calls, "an array")
        for tc in tool_calls:
            if isinstance(tc, dict):
                self._add_tool_delta(tc)

    def _add_tool_delta(self, tc: dict[str, Any]) -> None:
        s = self._dialect.settings
        index = tc.get("index")
        if index is None:
            index = len(self._calls)
        elif type(index) is not int:
            raise malformed(s, "delta.tool_calls[].index", index, "an integer")
        slot = self._calls.setdefault(index, {"args": []})
        call_id = tc.get("id")
        if call_id and isinstance(call_id, str):
            slot["id"] = call_id
        fn = _function(tc, s, "delta.tool_calls[].function")
        name = fn.get("name")
        if name:
            if not isinstance(name, str):
                raise malformed(s, "delta.tool_calls[].function.name", name, "a string")
            slot["name"] = name
        args = fn.get("arguments")
        if isinstance(args, str):
            slot["args"].append(args)
        elif isinstance(args, dict):
            slot["args"] = [json_text(args, s, "delta.tool_calls[].function.arguments")]

    def finish(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        self._out.flush(events)
        calls: list[ToolCall] = []
        for index in sorted(self._calls):
            slot = self._calls[index]
            if not slot.get("name"):
                continue
            calls.append(
                ToolCall(
                    id=slot.get("id") or new_tool_call_id(),
                    name=slot["name"],
                    arguments=valid_json("".join(slot["args"])),
                )
            )
        text = "".join(self._out.text)
        if self._guided:
            text, calls = parse_tool_calls(text)
        text = text.strip() if self._guided else text
        events.extend(StreamEvent.call(c) for c in calls)
        stop = promote_tool_use(_FINISH.get(self._stop or ""), bool(calls))
        response = ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=self._usage,
            stop_reason=stop,
            reasoning_content="".join(self._out.reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        events.append(StreamEvent.final(response))
        return events


# -- encoding helpers -----------------------------------------------------------


def encode_message(m: ChatMessage) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    if isinstance(m.content, str):
        content: Any = m.content
    else:
        content = [_encode_part(p) for p in m.content]
    out: dict[str, Any] = {"role": m.role, "content": content}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = content or None
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments or "{}"},
            }
            for c in m.tool_calls
        ]
    return out


def _encode_part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "image_url", "image_url": {"url": part.url}}


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        fn["description"] = tool.description
    return {"type": "function", "function": fn}


def merge_system_into_user(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """System text joined and put before the first user message, for models that refuse `system`."""
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for i, m in enumerate(rest):
        if m.role == "user":
            if isinstance(m.content, str):
                merged = ChatMessage("user", f"{system}\n\n{m.content}" if m.content else system)
            else:
                merged = ChatMessage("user", (TextPart(system + "\n\n"), *m.content))
            rest[i] = merged
            return rest
    return [ChatMessage.user(system), *rest]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def _function(tc: dict[str, Any], settings: ChatSettings, where: str) -> dict[str, Any]:
    fn = tc.get("function")
    if not fn:
        return {}
    if not isinstance(fn, dict):
        raise malformed(settings, where, fn, "an object")
    return fn


def _decode_tool_call(tc: Any, settings: ChatSettings) -> ToolCall | None:
    if not isinstance(tc, dict):
        return None
    where = "choices[0].message.tool_calls[]"
    fn = _function(tc, settings, where + ".function")
    name = fn.get("name") or tc.get("name")
    if not name:
        return None
    if not isinstance(name, str):
        raise malformed(settings, where + ".function.name", name, "a string")
    args = fn.get("arguments", tc.get("arguments", tc.get("parameters")))
    if isinstance(args, (dict, list)):
        arguments = json_text(args, settings, where + ".function.arguments")
    elif isinstance(args, str):
        arguments = valid_json(args)
    else:
        arguments = "{}"
    call_id = tc.get("id")
    if not call_id or not isinstance(call_id, str):
        call_id = new_tool_call_id()
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details")
    cached = count(details.get("cached_tokens")) if isinstance(details, dict) else None
    if cached is None:
        cached = count(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    return Usage(count(raw.get("prompt_tokens")), count(raw.get("completion_tokens")), cached)


def _is_zai_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "z.ai" or host.endswith(".z.ai")


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> OpenAIChat:
    """The dialect configured for one registry row and its runtime options."""
    spec = resolved.spec
    return OpenAIChat(
        ChatSettings(
            provider=spec.name,
            display_name=spec.display_name,
            url=chat_url(resolved.base_url, opts.api_path),
            models_url=models_url(resolved.base_url),
            native_tools=spec.native_tools,
            merge_system=spec.merge_system or opts.merge_system_into_user,
            max_tokens_field=spec.max_tokens_field,
            default_max_tokens=opts.provider_max_tokens,
            reasoning_effort=(opts.reasoning_effort or "").strip().lower() or None,
            openai_sampling=spec.name == "openai",
            tool_stream=spec.tool_stream and _is_zai_host(resolved.base_url),
            stream_usage=spec.stream_usage,
            responses_fallback=spec.responses_fallback and not opts.api_path and opts.api != "chat",
        )
    )
