"""Ollama's native API: `/api/chat` with NDJSON streaming and `/api/tags`. Sans I/O.

Not the OpenAI-compatible `/v1` that Ollama also serves (`custom:http://host:11434/v1`
reaches that): the native API carries what `/v1` drops or bends, such as `think` /
`thinking`, `options` (`num_ctx`, `num_predict`, ...), tool-call arguments as objects,
images as plain base64, and token counts on every answer (reference §8.5, C3).

Cloud models: a signed-in Ollama (`ollama signin`) serves `gpt-oss:120b-cloud` or
`glm-4.6:cloud` itself, under those names, so a local endpoint gets the name unchanged.
Ollama's hosted API at https://ollama.com takes an API key and lists the same models
without the suffix (`gpt-oss:120b`), so there the suffix is dropped.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import (
    ConfigError,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    classify_http_error,
)
from ..transport import HttpRequest
from ..types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelEntry,
    StopReason,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
    new_tool_call_id,
)
from .base import Recovery, SwitchableTools
from .common import (
    StreamedText,
    count,
    excerpt,
    json_text,
    load_event,
    malformed,
    promote_tool_use,
)
from .prompt_tools import parse_tool_calls, render_prompt_guided
from .think import split_think

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = [
    "OPTION_FIELDS",
    "Ollama",
    "OllamaSettings",
    "OllamaStreamParser",
    "api_root",
    "build",
    "cloud_model_name",
    "is_ollama_cloud",
]

# Ollama's `options` (the SDK's `ollama._types.Options`): a key of `ChatRequest.extra`
# named here goes inside `options`, any other key at the top of the body.
OPTION_FIELDS = frozenset(
    {
        "numa",
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mmap",
        "use_mlock",
        "embedding_only",
        "num_thread",
        "num_keep",
        "seed",
        "num_predict",
        "top_k",
        "top_p",
        "tfs_z",
        "typical_p",
        "repeat_last_n",
        "temperature",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "penalize_newline",
        "stop",
    }
)

_DONE: dict[str, StopReason] = {"stop": "end_turn", "length": "max_tokens"}
# What a base URL may already end in; the native API lives under the server root.
# `/v1` is Ollama's OpenAI-compatible API: the same server, so its root serves `/api`.
_ROOT_SUFFIXES = ("/api/chat", "/api/tags", "/api", "/v1/chat/completions", "/v1")
_CLOUD_HOST = "ollama.com"
_KEYS_URL = "https://ollama.com/settings/keys"
_LOCAL_HINT = (
    "Is Ollama running? Start it with `ollama serve` (or open the Ollama app); "
    "install it from https://ollama.com/download. If it listens elsewhere, set api_url."
)
_REMOTE_HINT = (
    "Check that the Ollama server at {origin} is running and reachable from here "
    "(`ollama serve` binds to 127.0.0.1 unless OLLAMA_HOST=0.0.0.0 is set on that machine)."
)


def api_root(base_url: str) -> str:
    """The server root under which `/api/chat` and `/api/tags` live."""
    base = base_url.split("?", 1)[0].rstrip("/")
    for suffix in _ROOT_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_local(url: str) -> bool:
    """Loopback, or the any-address a local `ollama serve` may be told to bind."""
    host = _host(url)
    if host in ("localhost", "0.0.0.0", "::") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_ollama_cloud(url: str) -> bool:
    """Ollama's hosted API (https://ollama.com), which needs an API key."""
    host = _host(url)
    return host == _CLOUD_HOST or host.endswith("." + _CLOUD_HOST)


def is_cloud_model(model: str) -> bool:
    """`glm-4.6:cloud` or `gpt-oss:120b-cloud`: the names a signed-in Ollama gives cloud models."""
    _, sep, tag = model.rpartition(":")
    return bool(sep) and (tag == "cloud" or tag.endswith("-cloud"))


def cloud_model_name(model: str) -> str:
    """The name ollama.com lists for a cloud model: `gpt-oss:120b-cloud` -> `gpt-oss:120b`."""
    if not is_cloud_model(model):
        return model
    name, _, tag = model.rpartition(":")
    return name if tag == "cloud" else f"{name}:{tag[: -len('-cloud')]}"


@dataclass(frozen=True, slots=True)
class OllamaSettings:
    provider: str
    display_name: str
    root: str
    # False: tools are described in the prompt (a model that answered "does not support tools").
    native_tools: bool = True
    default_max_tokens: int | None = None
    # `think` from ProviderRuntimeOptions.reasoning_enabled; None sends none.
    think: bool | None = None


class Ollama(SwitchableTools):
    """The Ollama native-API dialect, configured for one endpoint."""

    framing = "ndjson"
    # A local server may load a model from disk before it answers (reference §8.5: 300 s).
    default_timeout_s = 300.0

    def __init__(self, settings: OllamaSettings) -> None:
        self.settings = settings
        s = settings
        self.chat_url = s.root + "/api/chat"
        self.models_url = s.root + "/api/tags"
        self.cloud = is_ollama_cloud(s.root)
        self.local = is_local(s.root)
        parts = urlsplit(s.root)
        self.connect_hint = (
            _LOCAL_HINT
            if self.local
            else _REMOTE_HINT.format(origin=f"{parts.scheme}://{parts.netloc}")
        )

    def recover(
        self, error: InvalidRequest, request: ChatRequest, temperature: float | None
    ) -> Recovery | None:
        again = super().recover(error, request, temperature)
        body = error.body or error.message
        # Reference §8.5: models without a thinking mode refuse `think`; one retry without.
        if again is None and re.search(r"(?i)does not support thinking", body):
            without = self.without_thinking()
            if without is not None:
                return Recovery(without, temperature)
        return again

    def without_thinking(self) -> Ollama | None:
        """The same dialect sending no `think`, for a model that answered 400 "does not
        support thinking" (reference §8.5: one retry without it); None when none was sent."""
        if not self.settings.think:
            return None
        return type(self)(replace(self.settings, think=None))

    # -- requests ---------------------------------------------------------------

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        has_key = any(k.lower() == "authorization" for k in headers)
        model = self.model_name(model, has_key)
        out = dict(headers)
        if stream:
            out["Accept"] = "application/x-ndjson"
        return HttpRequest(
            "POST", self.chat_url, out, self.body(request, model, temperature, stream)
        )

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        return HttpRequest("GET", self.models_url, dict(headers))

    def model_name(self, model: str, has_key: bool) -> str:
        """The model name this endpoint knows; cloud models at ollama.com need a key."""
        if not self.cloud or not is_cloud_model(model):
            return model
        if not has_key:
            raise ConfigError(
                f"Model '{model}' requested cloud routing, but no API key is configured. "
                f"Set OLLAMA_API_KEY or config api_key (create a key at {_KEYS_URL}); or "
                "use a local Ollama signed in with `ollama signin`, which needs no key."
            )
        return cloud_model_name(model)

    def body(
        self, request: ChatRequest, model: str, temperature: float | None, stream: bool
    ) -> dict[str, Any]:
        s = self.settings
        tools = request.tools
        messages: Sequence[ChatMessage] = request.messages
        if not s.native_tools:
            messages = render_prompt_guided(messages, tools)
            tools = None
        body: dict[str, Any] = {
            "model": model,
            "messages": encode_messages(messages, s.provider, s.display_name),
            # Ollama streams unless told otherwise.
            "stream": stream,
        }
        if tools:
            body["tools"] = [encode_tool(t) for t in tools]
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature
        max_tokens = request.max_tokens or s.default_max_tokens
        if max_tokens:
            options["num_predict"] = max_tokens
        if s.think is not None:
            body["think"] = s.think
        for key, value in request.extra.items():
            if key == "options" and isinstance(value, Mapping):
                options.update(value)
            elif key in OPTION_FIELDS:
                options[key] = value
            else:
                body[key] = value
        if options:
            body["options"] = options
        return body

    # -- responses ----------------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        s = self.settings
        if not isinstance(data, dict):
            raise InvalidResponse(
                f"{s.display_name} returned {type(data).__name__} where a JSON object was expected",
                provider=s.provider,
            )
        if data.get("error"):
            raise self.embedded_error(data["error"])
        message = data.get("message")
        if not isinstance(message, dict):
            raise InvalidResponse(
                f"{s.display_name} returned a chat response without a 'message' object",
                provider=s.provider,
            )
        content = message.get("content")
        text, inline = split_think(content) if isinstance(content, str) else ("", "")
        thinking = message.get("thinking")
        reasoning = "\n".join(
            r for r in (thinking if isinstance(thinking, str) else "", inline) if r
        )
        calls = _tool_calls(message.get("tool_calls"), s)
        if not s.native_tools and not calls:
            text, calls = parse_tool_calls(text)
        served = data.get("model")
        return ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=_usage(data),
            stop_reason=_stop_reason(data.get("done_reason"), bool(calls)),
            reasoning_content=reasoning or None,
            model=served if isinstance(served, str) and served else model,
            provider=s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        rows = data.get("models") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponse(
                f"{self.settings.display_name} model list has no 'models' array",
                provider=self.settings.provider,
            )
        entries = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            # The API sends both; the SDK's ListResponse keeps only `model`.
            name = row.get("name") or row.get("model")
            if not isinstance(name, str) or not name:
                continue
            details = row.get("details") if isinstance(row.get("details"), dict) else {}
            facts = [
                v
                for v in (details.get("parameter_size"), details.get("quantization_level"))
                if isinstance(v, str) and v
            ]
            entries.append(
                ModelEntry(
                    model_id=name,
                    display_name=f"{name} ({', '.join(facts)})" if facts else name,
                )
            )
        return entries

    def stream_parser(self, request: ChatRequest, model: str) -> OllamaStreamParser:
        return OllamaStreamParser(
            self, model, bool(request.tools) and not self.settings.native_tools
        )

    def embedded_error(self, error: Any) -> ProviderError:
        """`{"error": "..."}` in a 200 body or a stream line, classified by what it says."""
        s = self.settings
        text = error if isinstance(error, str) else json_text(error, s, "error")
        return classify_http_error(
            s.provider, s.display_name, _status_for(text), json.dumps({"error": text})
        )


def _status_for(text: str) -> int:
    """The HTTP status Ollama would have sent with this error text."""
    lowered = text.lower()
    if "unauthorized" in lowered or "forbidden" in lowered:
        return 401
    if "not found" in lowered:
        return 404
    if "rate limit" in lowered or "too many requests" in lowered:
        return 429
    if "busy" in lowered or "overloaded" in lowered:
        return 503
    if "does not support" in lowered or "invalid" in lowered or "too long" in lowered:
        return 400
    return 500


class OllamaStreamParser:
    """NDJSON chat chunks in, `StreamEvent`s out. Tool calls arrive whole, so they go out
    as they come; `done: true` ends the stream with the usage and the stop reason."""

    __slots__ = (
        "_calls",
        "_dialect",
        "_done_reason",
        "_guided",
        "_model",
        "_out",
        "_usage",
        "complete",
    )

    def __init__(self, dialect: Ollama, model: str, prompt_guided: bool) -> None:
        self._dialect = dialect
        self._model = model
        self._calls: list[ToolCall] = []
        self._done_reason: str | None = None
        self._usage: Usage | None = None
        # Prompt-guided tool calls are held back from the text deltas and parsed at the end.
        self._out = StreamedText(prompt_guided)
        self._guided = prompt_guided
        self.complete = False

    @property
    def partial_text(self) -> str:
        return "".join(self._out.text)

    def feed(self, line: str) -> list[StreamEvent]:
        chunk = load_event(line, self._dialect.settings, "stream line")
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            raise self._dialect.embedded_error(chunk["error"])
        model = chunk.get("model")
        if model and isinstance(model, str):
            self._model = model
        events: list[StreamEvent] = []
        message = chunk.get("message")
        if isinstance(message, dict):
            thinking = message.get("thinking")
            if isinstance(thinking, str) and thinking:
                self._out.add_reasoning(thinking, events)
            content = message.get("content")
            if isinstance(content, str) and content:
                self._out.add_content(content, events)
            raw_calls = message.get("tool_calls")
            if raw_calls:
                for call in _tool_calls(raw_calls, self._dialect.settings):
                    self._calls.append(call)
                    events.append(StreamEvent.call(call))
        if chunk.get("done"):
            self.complete = True
            self._done_reason = chunk.get("done_reason")
            self._usage = _usage(chunk)
        return events

    def finish(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        self._out.flush(events)
        text = "".join(self._out.text)
        calls = list(self._calls)
        if self._guided and not calls:
            text, calls = parse_tool_calls(text)
            events.extend(StreamEvent.call(c) for c in calls)
            text = text.strip()
        response = ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=self._usage,
            stop_reason=_stop_reason(self._done_reason, bool(calls)),
            reasoning_content="".join(self._out.reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        events.append(StreamEvent.final(response))
        return events


# -- encoding ---------------------------------------------------------------------------


def encode_messages(
    messages: Sequence[ChatMessage], provider: str, display_name: str
) -> list[dict[str, Any]]:
    """Ollama's messages: tool results name their tool (`tool_name`), which Ollama uses
    instead of an id; it is found from the assistant turn that made the call."""
    names: dict[str, str] = {}
    out = []
    for m in messages:
        for call in m.tool_calls:
            names[call.id] = call.name
        out.append(encode_message(m, names, provider, display_name))
    return out


def encode_message(
    m: ChatMessage, tool_names: Mapping[str, str], provider: str, display_name: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.text}
    if m.role == "tool":
        name = tool_names.get(m.tool_call_id or "")
        if name:
            out["tool_name"] = name
        return out
    images = [_image_data(url, provider, display_name) for url in m.images]
    if images:
        out["images"] = images
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": c.name, "arguments": c.parsed_arguments()}} for c in m.tool_calls
        ]
    return out


def _image_data(url: str, provider: str, display_name: str) -> str:
    """Ollama takes images as bare base64; it fetches nothing from the web."""
    if url.startswith("data:"):
        head, sep, data = url.partition(",")
        if sep and head.endswith(";base64") and data:
            return data
        raise InvalidRequest(
            f"{display_name} takes images as base64: the data: URI must be "
            "`data:<mime>;base64,<data>`.",
            provider=provider,
        )
    raise InvalidRequest(
        f"{display_name} cannot fetch images from URLs ({excerpt(url.split('?', 1)[0], 80)}): "
        "download the image and pass it as a data: URI (data:image/png;base64,...).",
        provider=provider,
    )


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        fn["description"] = tool.description
    return {"type": "function", "function": fn}


def _tool_calls(raw: Any, settings: OllamaSettings) -> list[ToolCall]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise malformed(settings, "message.tool_calls", raw, "an array")
    return [c for c in (decode_tool_call(r, settings) for r in raw) if c is not None]


def decode_tool_call(raw: Any, settings: OllamaSettings) -> ToolCall | None:
    """A tool call of a response; Ollama's arguments are an object, and older versions
    send no id, so one is made up (`call_…`) for the tool result to answer."""
    if not isinstance(raw, dict):
        return None
    fn = raw.get("function") if isinstance(raw.get("function"), dict) else raw
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            args = {}
    args = args if isinstance(args, dict | list) else {}
    arguments = json_text(args, settings, "message.tool_calls[].function.arguments", ascii=False)
    call_id = raw.get("id")
    return ToolCall(
        id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
        name=name,
        arguments=arguments,
    )


def _usage(data: Mapping[str, Any]) -> Usage | None:
    prompt, output = count(data.get("prompt_eval_count")), count(data.get("eval_count"))
    if prompt is None and output is None:
        return None
    return Usage(input_tokens=prompt, output_tokens=output)


def _stop_reason(done_reason: Any, has_calls: bool) -> StopReason | None:
    stop = _DONE.get(done_reason) if isinstance(done_reason, str) else None
    return promote_tool_use(stop, has_calls)


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> Ollama:
    """The dialect for the `ollama` row: its endpoint, options and runtime settings."""
    spec = resolved.spec
    return Ollama(
        OllamaSettings(
            provider=spec.name,
            display_name=spec.display_name,
            root=api_root(resolved.base_url),
            native_tools=spec.native_tools,
            default_max_tokens=opts.provider_max_tokens,
            think=opts.reasoning_enabled,
        )
    )
