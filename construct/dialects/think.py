"""`<think>…</think>` blocks that reasoning models put inside their answer text.

DeepSeek-R1, Qwen QwQ, MiniMax and many local servers inline their reasoning
this way. construct moves it to `reasoning_content` so `text` is the answer.
"""

from __future__ import annotations

__all__ = ["TagSplitter", "split_think"]

_OPEN = "<think>"
_CLOSE = "</think>"


def split_think(text: str) -> tuple[str, str]:
    """(answer, reasoning): think blocks removed and collected; an unclosed one runs to the end."""
    if _OPEN not in text:
        return text, ""
    answer: list[str] = []
    reasoning: list[str] = []
    rest = text
    while True:
        start = rest.find(_OPEN)
        if start < 0:
            answer.append(rest)
            break
        answer.append(rest[:start])
        rest = rest[start + len(_OPEN) :]
        end = rest.find(_CLOSE)
        if end < 0:
            reasoning.append(rest)
            break
        reasoning.append(rest[:end])
        rest = rest[end + len(_CLOSE) :]
    return "".join(answer).strip(), "\n".join(r.strip() for r in reasoning if r.strip())


class TagSplitter:
    """The streaming form of `split_think`: routes each delta inside or outside a tag pair.

    A tag may be split across deltas (`<thi` + `nk>`), so a possible tag
    prefix at the end of a delta is held back until the next one decides it.
    """

    __slots__ = ("_close", "_held", "_inside", "_open")

    def __init__(self, open_tag: str = _OPEN, close_tag: str = _CLOSE) -> None:
        self._open = open_tag
        self._close = close_tag
        self._inside = False
        self._held = ""

    @property
    def idle(self) -> bool:
        """Outside any tag with nothing held back: a delta without "<" passes as it is."""
        return not self._inside and not self._held

    def feed(self, delta: str) -> list[tuple[bool, str]]:
        """[(inside, text), ...] for the part of `delta` that is decided."""
        if not self._held and "<" not in delta:
            # The common case, on every streamed chunk: no tag can start here.
            return [(self._inside, delta)] if delta else []
        text = self._held + delta
        self._held = ""
        out: list[tuple[bool, str]] = []
        while text:
            tag = self._close if self._inside else self._open
            idx = text.find(tag)
            if idx >= 0:
                if idx:
                    out.append((self._inside, text[:idx]))
                text = text[idx + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(text, tag)
            if keep:
                self._held = text[-keep:]
                text = text[:-keep]
            if text:
                out.append((self._inside, text))
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        held, self._held = self._held, ""
        return [(self._inside, held)] if held else []


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0
