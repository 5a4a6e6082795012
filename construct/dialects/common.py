"""Small pieces every dialect needs the same way."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidResponse
from ..secrets import scrub_secret_patterns
from ..types import ModelEntry, StopReason, StreamEvent
from .think import TagSplitter

__all__ = [
    "MALFORMED",
    "StreamedText",
    "count",
    "excerpt",
    "flag",
    "is_reasoning_model",
    "json_text",
    "load_event",
    "malformed",
    "openai_models",
    "promote_tool_use",
    "token_limit",
    "unreadable",
    "valid_json",
]


def is_reasoning_model(model: str) -> bool:
    """OpenAI's o-series and GPT-5 reasoning models, which accept only the default temperature."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gpt-5"):
        return "chat" not in name
    return name[:2] in ("o1", "o3", "o4") and (len(name) == 2 or name[2] == "-")


def token_limit(value: Any) -> int | None:
    """A context window or output cap: a positive integer, else nothing. A string, a
    fraction, a bool or a count below one is left out, not guessed at: one odd row must
    not fail the listing it came in."""
    return value if type(value) is int and value > 0 else None


def flag(value: Any) -> bool | None:
    """A yes/no a model list states: a JSON boolean, else nothing."""
    return value if type(value) is bool else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _part(row: dict[str, Any], key: str) -> dict[str, Any]:
    value = row.get(key)
    return value if isinstance(value, dict) else {}


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def openai_models(data: Any, settings: Any) -> list[ModelEntry]:
    """An OpenAI-style `{"data": [...]}` model list (or a bare array), with the limits the
    gateways and hosts add to each row where they send them:

    * OpenRouter: `name`, `context_length` (else `top_provider.context_length`),
      `top_provider.max_completion_tokens`, `architecture.input_modalities`;
    * LiteLLM: `max_input_tokens`, `max_output_tokens`, `max_tokens` (its legacy output
      cap), `supports_vision`, on the row or in `model_info`; a `/model/info` row names
      the model in `model_name`;
    * vLLM `max_model_len`; Together `context_length`, `display_name`; Fireworks
      `context_length`, `supports_image_input`; Groq `context_window`,
      `max_completion_tokens`; DeepInfra `metadata.context_length`; Mistral
      `max_context_length`, `capabilities.vision`.
    """
    rows = data.get("data") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InvalidResponse(
            f"{settings.display_name} model list has no 'data' array",
            provider=settings.provider,
        )
    entries = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        model_id = _text(row.get("id")) if "id" in row else _text(row.get("model_name"))
        if model_id is None:
            continue
        top = _part(row, "top_provider")
        info = _part(row, "model_info")
        meta = _part(row, "metadata")
        modalities = _part(row, "architecture").get("input_modalities")
        entries.append(
            ModelEntry(
                model_id=model_id,
                display_name=_text(row.get("name")) or _text(row.get("display_name")),
                context_window=_first(
                    *map(
                        token_limit,
                        (
                            row.get("context_length"),
                            row.get("context_window"),
                            row.get("max_context_length"),
                            row.get("max_model_len"),
                            row.get("max_input_tokens"),
                            info.get("max_input_tokens"),
                            meta.get("context_length"),
                            top.get("context_length"),
                        ),
                    )
                ),
                max_output_tokens=_first(
                    *map(
                        token_limit,
                        (
                            top.get("max_completion_tokens"),
                            row.get("max_completion_tokens"),
                            row.get("max_output_tokens"),
                            info.get("max_output_tokens"),
                            info.get("max_tokens"),
                        ),
                    )
                ),
                supports_image_input=_first(
                    ("image" in modalities) if isinstance(modalities, list) else None,
                    flag(row.get("supports_image_input")),
                    flag(row.get("supports_vision")),
                    flag(info.get("supports_vision")),
                    flag(_part(row, "capabilities").get("vision")),
                ),
            )
        )
    return entries


# Scrubbing costs about 1 µs a character (12 KB took 13 ms), so a 10 MB body would stall
# for seconds. What is scrubbed runs this far past the cut: a key that starts before the
# cut ends within it (keys, even AWS session tokens, are shorter), so none shows in part.
_SCRUB_AHEAD = 4096


def excerpt(text: str, limit: int = 200) -> str:
    """`text` for an error message: scrubbed, then cut. Cut first, a key that straddles
    the cut would be printed in part, too short for any pattern to know it."""
    text = scrub_secret_patterns(" ".join(text[: limit + _SCRUB_AHEAD].split()))
    return text if len(text) <= limit else text[:limit] + "..."


def load_event(data: str | bytes, settings: Any, what: str = "stream event") -> Any:
    """One stream event's JSON; a body that is not JSON is the provider's fault (E1)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the interpreter's recursion limit.
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        problem = "nested too deep to read" if isinstance(exc, RecursionError) else "not JSON"
        raise InvalidResponse(
            f"{settings.display_name} sent a {what} that is {problem}: {excerpt(text)}",
            provider=settings.provider,
        ) from None


_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def malformed(settings: Any, where: str, value: Any, expected: str = "") -> InvalidResponse:
    """The error for a value of the wrong shape: where it was, what it was, what was due."""
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    try:
        shown = f" {excerpt(json.dumps(value), 120)}" if value is not None else ""
    except (ValueError, TypeError, RecursionError):
        shown = " (nested too deep to show)"
    due = f" where {expected} belongs" if expected else ""
    return InvalidResponse(
        f"{settings.display_name} sent a malformed response: `{where}` is {kind}{shown}{due}. "
        "The server broke its own API; retry, and report it to the server's operator if "
        "it persists.",
        provider=settings.provider,
    )


# What reading code raises on a shape it did not check for. The dialects check the shapes
# they rely on; the provider turns these into InvalidResponse as a last resort (`unreadable`).
MALFORMED = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)


def unreadable(provider: str, display_name: str, exc: BaseException) -> InvalidResponse:
    """The error for a response a dialect failed to read with `exc` (one of MALFORMED)."""
    detail = excerpt(f"{type(exc).__name__}: {exc}", 200)
    return InvalidResponse(
        f"{display_name} sent a malformed response that construct could not read ({detail}). "
        "Retry, and report it to the server's operator if it persists.",
        provider=provider,
    )


def count(value: Any) -> int | None:
    """A token count: an integer or nothing (a count of another type is left out, not
    guessed at; the answer it came with is still good)."""
    return value if type(value) is int else None


def json_text(value: Any, settings: Any, where: str, ascii: bool = True) -> str:
    """`value` (tool-call arguments) as JSON text; nested too deep to write is malformed."""
    try:
        return json.dumps(value, ensure_ascii=ascii)
    except RecursionError:
        raise malformed(settings, where, value) from None


def valid_json(args: str) -> str:
    """Tool-call arguments as JSON text: `{}` when empty or not JSON."""
    if not args.strip():
        return "{}"
    try:
        json.loads(args)
    except ValueError:
        return "{}"
    return args


def promote_tool_use(stop: StopReason | None, has_calls: bool) -> StopReason | None:
    """Providers often say "stop" (or nothing) after tool calls; callers want `tool_use`."""
    if has_calls and stop in (None, "end_turn"):
        return "tool_use"
    return stop


class StreamedText:
    """The content deltas of a stream, routed into text and reasoning events.

    `<think>` blocks become reasoning; in prompt-guided mode `<tool_call>` blocks
    are held back (parsed from the whole text at the end); the answer starts at
    its first visible character, as a parsed (non-streamed) answer does.
    """

    __slots__ = ("_plain", "_think", "_tools", "reasoning", "text")

    def __init__(self, prompt_guided: bool) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self._think = TagSplitter()
        self._tools = TagSplitter("<tool_call>", "</tool_call>") if prompt_guided else None
        # The answer has started, outside any tag, with nothing held back: a delta
        # without "<" goes out as it is. That is the state of almost every token.
        self._plain = False

    def add_reasoning(self, piece: str, events: list[StreamEvent]) -> None:
        self.reasoning.append(piece)
        events.append(StreamEvent.reasoning(piece))

    def add_content(self, content: str, events: list[StreamEvent]) -> None:
        if self._plain and "<" not in content:
            self.text.append(content)
            events.append(StreamEvent("text_delta", content))
            return
        think = self._think
        for inside_think, piece in think.feed(content):
            if inside_think:
                self.add_reasoning(piece, events)
            else:
                self._emit(piece, events)
        self._plain = bool(self.text) and self._tools is None and think.idle

    def _emit(self, piece: str, events: list[StreamEvent]) -> None:
        if not self.text:
            # Models put blank lines after a </think> block; parse_chat strips them too.
            piece = piece.lstrip()
            if not piece:
                return
        self.text.append(piece)
        if self._tools is None:
            events.append(StreamEvent.text(piece))
            return
        events.extend(StreamEvent.text(p) for inside, p in self._tools.feed(piece) if not inside)

    def flush(self, events: list[StreamEvent]) -> None:
        """Whatever the splitters held back at the end of the stream."""
        for inside_think, piece in self._think.flush():
            if inside_think:
                self.add_reasoning(piece, events)
            else:
                self._emit(piece, events)
        if self._tools is not None:
            # A tag prefix held back at the very end (`… <tool_c`) turned out to be text.
            events.extend(StreamEvent.text(p) for inside, p in self._tools.flush() if not inside)
