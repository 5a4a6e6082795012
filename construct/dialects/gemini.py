"""Google Gemini's own API (`generateContent`), sans I/O.

`Gemini` turns a `ChatRequest` into a `models/{model}:generateContent` (or
`:streamGenerateContent?alt=sse`) request and a `GenerateContentResponse`
body, or a stream of them, into `ChatResponse` / `StreamEvent`s. The key
travels in the `x-goog-api-key` header, never in the URL (PROVIDERS.md C5);
tools are native `functionDeclarations` (C3).

Two Gemini rules shape the code:

- Gemini 3 signs its function calls (`thoughtSignature`) and answers 400 when
  a later request replays a call without its signature. A `ToolCall` has no
  field for it, so the signature rides in the call's id after `__thought__`
  (LiteLLM's convention): it survives any history an application stores and
  is split off again when the call is sent back. A call with no signature
  (history from another provider) gets Google's documented placeholder.
- Errors inside a stream may arrive as raw, pretty-printed JSON lines rather
  than `data:` events, and JSON strings may hold U+2028, which a generic line
  splitter breaks on; `GeminiStreamFramer` reads bytes and handles both, as
  the official SDK does.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from ..errors import (
    ContentBlocked,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    classify_http_error,
)
from ..transport import MAX_EVENT_CHARS, HttpRequest, LineSplitter, SSEDecoder
from ..transport.body import TooLarge
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
from .common import (
    excerpt,
    json_text,
    load_event,
    malformed,
    promote_tool_use,
    token_limit,
)

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = [
    "DUMMY_THOUGHT_SIGNATURE",
    "GENERATION_CONFIG_FIELDS",
    "THOUGHT_SEPARATOR",
    "Gemini",
    "GeminiSettings",
    "GeminiStreamFramer",
    "GeminiStreamParser",
    "build",
    "join_signature",
    "split_signature",
]

log = logging.getLogger("construct")

# Where a Gemini thought signature is kept inside a tool-call id.
THOUGHT_SEPARATOR = "__thought__"
# Google's documented stand-in for a signature the client does not have
# (ai.google.dev/gemini-api/docs/thought-signatures, FAQ).
DUMMY_THOUGHT_SIGNATURE = "skip_thought_signature_validator"

# `GenerationConfig` fields a caller may put at the top of `ChatRequest.extra`
# (`extra={"thinkingConfig": {...}}`); they are moved into `generationConfig`.
GENERATION_CONFIG_FIELDS = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "responseLogprobs",
        "logprobs",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "mediaResolution",
        "speechConfig",
        "thinkingConfig",
        "enableEnhancedCivicAnswers",
    }
)
_SNAKE_GENERATION_FIELDS = {
    re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower(): name for name in GENERATION_CONFIG_FIELDS
}

_FINISH: dict[str, StopReason] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
}
# The model tried to call a tool and produced nothing usable; a retry usually works.
_BROKEN_FINISH = frozenset({"MALFORMED_FUNCTION_CALL", "MALFORMED_RESPONSE"})
# google.rpc.Code names, for errors that come without a usable HTTP code.
_RPC_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# Models that predate signature validation; everything else gets the placeholder.
_UNSIGNED_MODELS = re.compile(r"(?i)(^|/)(gemini-[12]([.-]|$)|gemma|learnlm)")
# The MIME type of an image URL, by extension (the system's table varies by platform).
_IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "heic": "image/heic",
    "heif": "image/heif",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
}
# `pageSize` of the model list: the API's maximum, so one page holds every model.
_MODELS_PAGE_SIZE = 1000


def split_signature(tool_call_id: str) -> tuple[str, str | None]:
    """(the id Gemini knows, the thought signature or None) of a construct tool-call id."""
    base, sep, signature = tool_call_id.partition(THOUGHT_SEPARATOR)
    return (base, signature) if sep and signature else (tool_call_id, None)


def join_signature(call_id: str, signature: str | None) -> str:
    return f"{call_id}{THOUGHT_SEPARATOR}{signature}" if signature else call_id


def model_path(model: str) -> str:
    """`models/{model}` for a model id; a full resource name (`tunedModels/x`) as given."""
    name = model.strip().strip("/")
    if name.startswith("models/"):
        name = name[len("models/") :]
    if "/" in name:
        return quote(name, safe="/")
    return "models/" + quote(name, safe="")


@dataclass(frozen=True, slots=True)
class GeminiSettings:
    provider: str
    display_name: str
    base_url: str
    default_max_tokens: int | None = None


class Gemini(BaseDialect):
    """The Gemini `generateContent` dialect, configured for one provider row."""

    def __init__(self, settings: GeminiSettings) -> None:
        self.settings = settings

    # -- auth and framing ---------------------------------------------------

    def new_framer(self, max_event: int = MAX_EVENT_CHARS) -> GeminiStreamFramer:
        return GeminiStreamFramer(max_event)

    # -- requests -----------------------------------------------------------

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        base = self.settings.base_url.rstrip("/")
        action = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        return HttpRequest(
            "POST",
            f"{base}/{model_path(model)}{action}",
            dict(headers),
            self.body(request, model, temperature),
            binary_stream=stream,
        )

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        base = self.settings.base_url.rstrip("/")
        return HttpRequest("GET", f"{base}/models?pageSize={_MODELS_PAGE_SIZE}", dict(headers))

    def body(self, request: ChatRequest, model: str, temperature: float | None) -> dict[str, Any]:
        system, contents = encode_messages(request.messages, model, self.settings.provider)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        generation: dict[str, Any] = {}
        if temperature is not None:  # C6
            generation["temperature"] = temperature
        max_tokens = request.max_tokens or self.settings.default_max_tokens
        if max_tokens:
            generation["maxOutputTokens"] = max_tokens
        if request.tools:
            body["tools"] = [{"functionDeclarations": [encode_tool(t) for t in request.tools]}]
        merge_extra(body, generation, request.extra)
        if generation:
            body["generationConfig"] = generation
        return body

    # -- responses ------------------------------------------------------------

    def parse_chat(self, data: Any, model: str) -> ChatResponse:
        data = self._response_object(data)
        candidate = self._first_candidate(data)
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, dict):
                continue
            call = decode_function_call(part, self.settings)
            if call is not None:
                calls.append(call)
            elif isinstance(part.get("text"), str):
                (reasoning if part.get("thought") else text).append(part["text"])
        finish = candidate.get("finishReason")
        if finish is not None and not isinstance(finish, str):
            raise malformed(self.settings, "candidates[0].finishReason", finish, "a string")
        self.check_finish(finish, candidate, bool(text or calls))
        served = data.get("modelVersion")
        return ChatResponse(
            text="".join(text),
            tool_calls=tuple(calls),
            usage=decode_usage(data.get("usageMetadata")),
            stop_reason=stop_reason(finish, bool(calls)),
            reasoning_content="".join(reasoning) or None,
            model=served if isinstance(served, str) and served else model,
            provider=self.settings.provider,
        )

    def _response_object(self, data: Any) -> dict[str, Any]:
        s = self.settings
        # Code Assist (Gemini CLI sign-in) wraps the same body in `response` (reference §8.4).
        if isinstance(data, dict) and isinstance(data.get("response"), dict):
            data = data["response"]
        if not isinstance(data, dict):
            raise InvalidResponse(
                f"{s.display_name} returned {type(data).__name__} where a JSON object was expected",
                provider=s.provider,
            )
        if data.get("error"):
            raise self.embedded_error(data["error"])
        return data

    def _first_candidate(self, data: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        candidates = data.get("candidates")
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            return candidates[0]
        blocked = self.prompt_blocked(data)
        if blocked is not None:
            raise blocked
        raise InvalidResponse(
            f"No response from {s.display_name}: the body has no candidates", provider=s.provider
        )

    def prompt_blocked(self, data: dict[str, Any]) -> ContentBlocked | None:
        """The error for a prompt Gemini refused to answer (`promptFeedback.blockReason`)."""
        feedback = data.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        if not reason:
            return None
        s = self.settings
        if not isinstance(reason, str):
            raise malformed(s, "promptFeedback.blockReason", reason, "a string")
        detail = feedback.get("blockReasonMessage")
        return ContentBlocked(
            f"{s.display_name} blocked the prompt ({reason})"
            + (f": {detail}" if isinstance(detail, str) and detail else "")
            + ". Rephrase the request; the provider's content policy refused it.",
            provider=s.provider,
        )

    def check_finish(self, finish: Any, candidate: dict[str, Any], has_output: bool) -> None:
        if finish not in _BROKEN_FINISH or has_output:
            return
        s = self.settings
        detail = candidate.get("finishMessage")
        raise InvalidResponse(
            f"{s.display_name} stopped with {finish} and no usable output"
            + (f": {detail}" if isinstance(detail, str) and detail else "")
            + ". Retry the request.",
            provider=s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        rows = data.get("models") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponse(
                f"{self.settings.display_name} model list has no 'models' array",
                provider=self.settings.provider,
            )
        if data.get("nextPageToken"):
            log.debug(
                "%s model list has more pages; only the first is read", self.settings.provider
            )
        entries = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("name"), str):
                continue
            methods = row.get("supportedGenerationMethods")
            # Embedding, TTS-only and AQA models cannot chat.
            if isinstance(methods, list) and "generateContent" not in methods:
                continue
            name = row["name"]
            shown = row.get("displayName")
            entries.append(
                ModelEntry(
                    model_id=name[len("models/") :] if name.startswith("models/") else name,
                    display_name=shown if isinstance(shown, str) and shown else None,
                    context_window=token_limit(row.get("inputTokenLimit")),
                    max_output_tokens=token_limit(row.get("outputTokenLimit")),
                )
            )
        return entries

    def stream_parser(self, request: ChatRequest, model: str) -> GeminiStreamParser:
        return GeminiStreamParser(self, model)

    def embedded_error(self, error: Any) -> ProviderError:
        """An `{"error": {...}}` object in a 200 body or a stream, as an E1 class."""
        s = self.settings
        status = 500
        if isinstance(error, dict):
            code = error.get("code")
            if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
                status = code
            elif isinstance(error.get("status"), str):
                status = _RPC_STATUS.get(error["status"], 500)
        body = error if isinstance(error, str) else json_text({"error": error}, s, "error")
        return classify_http_error(s.provider, s.display_name, status, body)


class GeminiStreamParser:
    """`GenerateContentResponse` chunks in, `StreamEvent`s out."""

    __slots__ = ("_calls", "_dialect", "_finish", "_model", "_reasoning", "_text", "_usage")

    def __init__(self, dialect: Gemini, model: str) -> None:
        self._dialect = dialect
        self._model = model
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[ToolCall] = []
        self._finish: str | None = None
        self._usage: Usage | None = None

    @property
    def complete(self) -> bool:
        """A chunk carried a finish reason: Gemini's end of stream."""
        return self._finish is not None

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, data: str) -> list[StreamEvent]:
        s = self._dialect.settings
        chunk = load_event(data, s)
        if isinstance(chunk, list):  # an error body streamed as `[{"error": ...}]`
            chunk = chunk[0] if chunk and isinstance(chunk[0], dict) else {}
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            raise self._dialect.embedded_error(chunk["error"])
        model = chunk.get("modelVersion")
        if model and isinstance(model, str):
            self._model = model
        usage = decode_usage(chunk.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        candidates = chunk.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            blocked = self._dialect.prompt_blocked(chunk)
            if blocked is not None:
                raise blocked
            return []
        candidate = candidates[0] if isinstance(candidates[0], dict) else {}
        events: list[StreamEvent] = []
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict):
                self._part(part, events)
        finish = candidate.get("finishReason")
        if isinstance(finish, str) and finish:
            self._finish = finish
            self._dialect.check_finish(finish, candidate, bool(self._text or self._calls))
        return events

    def _part(self, part: dict[str, Any], events: list[StreamEvent]) -> None:
        call = decode_function_call(part, self._dialect.settings)
        if call is not None:
            # Gemini sends each call whole in one part: no assembly needed.
            self._calls.append(call)
            events.append(StreamEvent.call(call))
            return
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return
        if part.get("thought"):
            self._reasoning.append(text)
            events.append(StreamEvent.reasoning(text))
        else:
            self._text.append(text)
            events.append(StreamEvent.text(text))

    def finish(self) -> list[StreamEvent]:
        response = ChatResponse(
            text="".join(self._text),
            tool_calls=tuple(self._calls),
            usage=self._usage,
            stop_reason=stop_reason(self._finish, bool(self._calls)),
            reasoning_content="".join(self._reasoning) or None,
            model=self._model,
            provider=self._dialect.settings.provider,
        )
        return [StreamEvent.final(response)]


class GeminiStreamFramer:
    """Bytes of a `streamGenerateContent?alt=sse` body in, JSON payloads out.

    Lines end at CR, LF or CRLF only (SSE's rule): U+2028 and friends may sit
    unescaped in JSON strings. Lines outside SSE fields that start a JSON
    value are collected until their brackets balance: that is how the API
    reports an error after the stream has begun.
    """

    __slots__ = (
        "_decoder",
        "_depth",
        "_escaped",
        "_in_string",
        "_lines_of",
        "_raw",
        "_raw_size",
        "_sse",
        "_started",
    )

    def __init__(self, max_event: int = MAX_EVENT_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        # Linear however many reads a line takes, and refused past `max_event`.
        self._lines_of = LineSplitter(max_event)
        self._started = False  # the body's first character has been read
        self._sse = SSEDecoder()
        self._raw: list[str] = []
        self._raw_size = 0
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes | str) -> list[str]:
        # A str is a line a text transport already split off (without its terminator).
        text = chunk + "\n" if isinstance(chunk, str) else self._decoder.decode(chunk)
        if not self._started:
            text = self._without_bom(text)
        return self._lines(text, final=False)

    def flush(self) -> list[str]:
        text = self._decoder.decode(b"", final=True)
        if not self._started:
            text = self._without_bom(text)
        payloads = self._lines(text, final=True)
        event = self._sse.flush()
        if event is not None:
            payloads.append(event[1])
        if self._raw:
            raw = "\n".join(self._raw)
            self._raw = []
            try:
                json.loads(raw)
            except ValueError:
                return payloads  # cut short: the parser sees an incomplete stream
            payloads.append(raw)
        return payloads

    def _without_bom(self, text: str) -> str:
        # A byte order mark opening the body is dropped, as SSE says (HTML §9.2.5); left in,
        # it turns the first line into an unknown field and the first event is lost.
        if text:
            self._started = True
            if text[0] == "\ufeff":
                return text[1:]
        return text

    def _lines(self, text: str, *, final: bool) -> list[str]:
        pieces = self._lines_of.feed(text)
        if final:
            pieces += self._lines_of.flush()
        payloads: list[str] = []
        for line in pieces:
            payload = self._line(line)
            if payload is not None:
                payloads.append(payload)
        return payloads

    def _line(self, line: str) -> str | None:
        if self._raw or line.lstrip()[:1] in ("{", "["):
            return self._raw_line(line)
        event = self._sse.feed(line)
        return None if event is None else event[1]

    def _raw_line(self, line: str) -> str | None:
        for c in line:
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            elif c in "}]":
                self._depth -= 1
        self._raw.append(line)
        self._raw_size += len(line)
        if self._raw_size > self._lines_of.max_line:
            raise TooLarge("event", self._lines_of.max_line)
        if self._depth > 0:
            return None
        raw = "\n".join(self._raw)
        self._raw = []
        self._raw_size = 0
        self._depth = 0
        self._in_string = self._escaped = False
        return raw


# -- encoding ---------------------------------------------------------------------------


def encode_messages(
    messages: Sequence[ChatMessage], model: str, provider: str = "gemini"
) -> tuple[str, list[dict[str, Any]]]:
    """(system instruction, contents): roles `user` / `model`, tool results as `user` turns."""
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    signed = not _UNSIGNED_MODELS.search(model.strip())
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            role, parts = "user", [_function_response(m, names, provider)]
        elif m.role == "assistant":
            role, parts = "model", _model_parts(m, names, signed, provider)
        else:
            role, parts = "user", _content_parts(m, provider)
        if not parts:
            continue  # Gemini refuses a turn without parts
        if contents and contents[-1]["role"] == role:
            # One turn per role: parallel tool results must share the turn that answers.
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        if not system:
            raise InvalidRequest(
                "Nothing to send to Gemini: the request has no message with content.",
                provider=provider,
            )
        # Gemini refuses a request without contents; a lone system prompt becomes the prompt.
        return "", [{"role": "user", "parts": [{"text": system}]}]
    return system, contents


def _content_parts(m: ChatMessage, provider: str) -> list[dict[str, Any]]:
    if isinstance(m.content, str):
        return [{"text": m.content}] if m.content else []
    parts: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, TextPart):
            if p.text:
                parts.append({"text": p.text})
        elif isinstance(p, ImagePart):
            parts.append(encode_image(p.url, provider))
    return parts


def _model_parts(
    m: ChatMessage, names: dict[str, str], signed: bool, provider: str
) -> list[dict[str, Any]]:
    parts = _content_parts(m, provider)
    for i, call in enumerate(m.tool_calls):
        call_id, signature = split_signature(call.id)
        names[call.id] = names[call_id] = call.name
        part: dict[str, Any] = {
            "functionCall": {"id": call_id, "name": call.name, "args": call.parsed_arguments()}
        }
        # Gemini 3 checks the first call of each model turn; parallel calls carry one signature.
        if signature is None and signed and i == 0:
            signature = DUMMY_THOUGHT_SIGNATURE
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(m: ChatMessage, names: dict[str, str], provider: str) -> dict[str, Any]:
    call_id = split_signature(m.tool_call_id or "")[0]
    name = names.get(call_id)
    if name is None:
        raise InvalidRequest(
            f"Tool result for call {call_id!r} has no matching tool call in an "
            "earlier assistant message; Gemini needs the function name. Keep the assistant "
            "message with its tool_calls in the history.",
            provider=provider,
        )
    return {
        "functionResponse": {
            "id": call_id,
            "name": name,
            "response": _tool_output(m.text),
        }
    }


def _tool_output(content: str) -> dict[str, Any]:
    """A tool's output as the JSON object Gemini wants: a JSON object as is, else `output`."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"output": content}
    return value if isinstance(value, dict) else {"output": value}


def encode_image(url: str, provider: str = "gemini") -> dict[str, Any]:
    """`inlineData` for a `data:` URI, `fileData` for an http(s) URL (Gemini fetches it)."""
    if not url.startswith("data:"):
        path = urlsplit(url).path.lower()
        ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        return {"fileData": {"mimeType": _IMAGE_TYPES.get(ext, "image/jpeg"), "fileUri": url}}
    header, sep, payload = url[5:].partition(",")
    params = header.split(";")
    mime = params[0] or "text/plain"
    try:
        if not sep:
            raise ValueError("no comma")
        if "base64" in params[1:]:
            raw = base64.b64decode(payload, validate=True)
        else:
            raw = unquote_to_bytes(payload)
    except (ValueError, binascii.Error):
        raise InvalidRequest(
            f"Image data URI is malformed ({excerpt(url, 40)}); expected data:<mime>;base64,<data>",
            provider=provider,
        ) from None
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(raw).decode("ascii")}}


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    """A `FunctionDeclaration` with the JSON Schema in `parametersJsonSchema`.

    The official SDK sends callables' schemas this way (`FunctionDeclaration.
    from_callable(use_json_schema=True)`), so `$defs`, `anyOf` and
    `additionalProperties` need no translation into the older OpenAPI subset.
    """
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    schema = {k: v for k, v in tool.parameters.items() if k not in ("$schema", "$id")}
    if _takes_arguments(schema):
        declaration["parametersJsonSchema"] = schema
    return declaration


def _takes_arguments(schema: Mapping[str, Any]) -> bool:
    if schema.get("properties"):
        return True
    return any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref", "additionalProperties"))


def merge_extra(body: dict[str, Any], generation: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """`ChatRequest.extra` into the request: generation settings into `generationConfig`,
    `tools` appended to the function declarations, anything else at the top level."""
    for key, value in extra.items():
        field = key if key in GENERATION_CONFIG_FIELDS else _SNAKE_GENERATION_FIELDS.get(key)
        if field is not None:
            generation[field] = value
        elif key in ("generationConfig", "generation_config") and isinstance(value, Mapping):
            generation.update(value)
        elif key == "tools" and isinstance(value, list | tuple):
            body["tools"] = [*body.get("tools", ()), *value]
        else:
            body[key] = value


# -- decoding -----------------------------------------------------------------------------


def decode_function_call(part: Mapping[str, Any], settings: GeminiSettings) -> ToolCall | None:
    call = part.get("functionCall")
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
        return None
    args = call.get("args")
    call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
    signature = part.get("thoughtSignature")
    return ToolCall(
        id=join_signature(
            call_id or new_tool_call_id(), signature if isinstance(signature, str) else None
        ),
        name=call["name"],
        arguments=json_text(args if isinstance(args, dict) else {}, settings, "functionCall.args"),
    )


def decode_usage(raw: Any) -> Usage | None:
    """Input counts the prompt and tool-use prompt; output counts the answer and the thinking,
    as Google bills them (and as OpenAI's `completion_tokens` includes reasoning)."""
    if not isinstance(raw, dict):
        return None

    def count(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    prompt, tool_prompt = count("promptTokenCount"), count("toolUsePromptTokenCount")
    answer, thoughts = count("candidatesTokenCount"), count("thoughtsTokenCount")
    return Usage(
        input_tokens=None if prompt is None else prompt + (tool_prompt or 0),
        output_tokens=None
        if answer is None and thoughts is None
        else (answer or 0) + (thoughts or 0),
        cached_input_tokens=count("cachedContentTokenCount"),
    )


def stop_reason(finish: Any, has_calls: bool) -> StopReason | None:
    return promote_tool_use(_FINISH.get(finish) if isinstance(finish, str) else None, has_calls)


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> Gemini:
    """The dialect configured for one registry row and its runtime options."""
    spec = resolved.spec
    return Gemini(
        GeminiSettings(
            provider=spec.name,
            display_name=spec.display_name,
            base_url=resolved.base_url,
            default_max_tokens=opts.provider_max_tokens,
        )
    )
