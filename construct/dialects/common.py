"""Small pieces every dialect needs the same way."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidResponse
from ..secrets import sanitize_api_error
from ..types import ModelEntry, StopReason, StreamEvent
from .think import TagSplitter

__all__ = [
    "StreamedText",
    "is_reasoning_model",
    "load_event",
    "openai_models",
    "promote_tool_use",
    "valid_json",
]


def is_reasoning_model(model: str) -> bool:
    """OpenAI's o-series and GPT-5 reasoning models, which accept only the default temperature."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gpt-5"):
        return "chat" not in name
    return name[:2] in ("o1", "o3", "o4") and (len(name) == 2 or name[2] == "-")


def openai_models(data: Any, settings: Any) -> list[ModelEntry]:
    """An OpenAI-style `{"data": [...]}` model list (OpenRouter's richer rows included)."""
    rows = data.get("data") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InvalidResponse(
            f"{settings.display_name} model list has no 'data' array",
            provider=settings.provider,
        )
    entries = []
    for row in rows:
        if not isinstance(row, dict) or not row.get("id"):
            continue
        modality = (row.get("architecture") or {}).get("input_modalities")
        entries.append(
            ModelEntry(
                model_id=row["id"],
                display_name=row.get("name"),
                context_window=row.get("context_length") or row.get("context_window"),
                max_output_tokens=(row.get("top_provider") or {}).get("max_completion_tokens"),
                supports_image_input=("image" in modality) if modality else None,
            )
        )
    return entries


def load_event(data: str | bytes, settings: Any, what: str = "stream event") -> Any:
    """One stream event's JSON; a body that is not JSON is the provider's fault (E1)."""
    try:
        return json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        raise InvalidResponse(
            f"{settings.display_name} sent a {what} that is not JSON: "
            f"{sanitize_api_error(text[:200])}",
            provider=settings.provider,
        ) from None


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
