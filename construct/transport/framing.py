"""Stream framing, sans I/O: bytes and text in, lines and events out.

`LineSplitter` cuts text into lines, `SSEDecoder` turns lines into server-sent
events, and the framers (`SSEFramer`, `NDJSONFramer`, chosen by `framer_for`) take
a body's reads as bytes, each read whole, and give a dialect's stream parser the
payloads that read completes: a read that carries several events (or an event and
the blank line that ends it) costs one pass, not one per line. The binary AWS
event stream has its own decoder in `aws_eventstream.py`.
"""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod

from .body import TooLarge

# One event (or NDJSON line) may hold this many characters unless the provider's
# max_event_mb says otherwise: far above any real event, far below what hurts.
MAX_EVENT_CHARS = 16 << 20

__all__ = [
    "MAX_EVENT_CHARS",
    "LineSplitter",
    "NDJSONFramer",
    "SSEDecoder",
    "SSEFramer",
    "framer_for",
]


class SSEDecoder:
    """Server-sent events, line by line (WHATWG HTML §9.2.6), sans I/O.

    Feed it decoded lines without their terminators; it returns the `data` of
    each complete event. Only `data:` matters to LLM APIs; `event:` names are
    kept for dialects that need them (Anthropic).
    """

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""

    def feed(self, line: str) -> tuple[str, str] | None:
        """Returns (event name, data) when `line` completes an event."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = (self._event, "\n".join(self._data))
            self._data = []
            self._event = ""
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> tuple[str, str] | None:
        """The last event of a stream that ended without a blank line."""
        return self.feed("")


class LineSplitter:
    """Text in, complete lines out, split only at CR, LF or CRLF (WHATWG SSE, NDJSON).

    httpx's iter_lines splits like str.splitlines, also at U+2028, U+0085 and other
    characters that may stand raw inside a JSON string, which would cut an event in two.

    Linear in the length of a line however many reads bring it: an unfinished line is
    kept as pieces and joined once, when its end arrives. A line longer than
    `max_line` characters raises `TooLarge` instead of growing without bound.
    """

    __slots__ = ("_parts", "_size", "max_line")

    def __init__(self, max_line: int = MAX_EVENT_CHARS) -> None:
        self._parts: list[str] = []  # the unfinished line
        self._size = 0
        self.max_line = max_line

    def feed(self, text: str) -> list[str]:
        if "\n" not in text and "\r" not in text:
            if text:
                self._hold(text)
            return []
        if self._parts:
            text = "".join(self._parts) + text
            self._parts = []
            self._size = 0
        if "\r" in text:
            held = text.endswith("\r")  # maybe the first half of a CRLF
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if held:
                text = text[:-1] + "\r"
        lines = text.split("\n")
        rest = lines.pop()
        if rest:
            self._hold(rest)
        for line in lines:
            if len(line) > self.max_line:
                raise TooLarge("event", self.max_line)
        return lines

    def _hold(self, piece: str) -> None:
        self._parts.append(piece)
        self._size += len(piece)
        if self._size > self.max_line:
            raise TooLarge("event", self.max_line)

    def flush(self) -> list[str]:
        rest = "".join(self._parts).rstrip("\r")
        self._parts = []
        self._size = 0
        return [rest] if rest else []


class _TextFramer(ABC):
    """Bytes in, UTF-8 lines split at CR, LF or CRLF only, the lines to `_payloads`.

    Lines are always UTF-8, whatever charset the server declares: event streams "are
    always decoded as UTF-8" (HTML §9.2.5), and NDJSON is UTF-8 by definition."""

    __slots__ = ("_decode", "_splitter", "_utf8")

    def __init__(self) -> None:
        # Incremental: a character may straddle two reads. Bad bytes become U+FFFD.
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode
        # The first reads go through `_decode_start` until the body's first character is
        # known; then every read is the plain decoder, with no BOM check on the hot path.
        self._decode = self._decode_start
        self._splitter = LineSplitter()

    def _decode_start(self, data: bytes, final: bool = False) -> str:
        text = self._utf8(data, final)
        if text or final:
            self._decode = self._utf8
            # A byte order mark opening the stream is not part of it (HTML §9.2.5: "One
            # leading U+FEFF BYTE ORDER MARK character must be ignored if any are present").
            if text[:1] == "\ufeff":
                text = text[1:]
        return text

    def feed(self, data: bytes) -> list[str]:
        """The payloads that this read of the body completes."""
        return self._payloads(self._splitter.feed(self._decode(data)))

    def flush(self) -> list[str]:
        """The payloads the end of the body completes."""
        lines = self._splitter.feed(self._decode(b"", final=True)) + self._splitter.flush()
        return self._payloads(lines) + self._end()

    @property
    def max_event(self) -> int:
        """The most characters one event (one line, for NDJSON) may hold."""
        return self._splitter.max_line

    @max_event.setter
    def max_event(self, limit: int) -> None:
        self._splitter.max_line = limit

    @abstractmethod
    def _payloads(self, lines: list[str]) -> list[str]:
        """The payloads these lines complete."""

    def _end(self) -> list[str]:
        return []


class SSEFramer(_TextFramer):
    """An event stream's bytes in, the `data` of each complete server-sent event out.

    The rules are `SSEDecoder`'s, written out in one loop over a read's lines: a read
    usually carries one event (its data line and the blank line that ends it), and
    one call per read instead of one per line is a third of the framing cost. Event
    names are not kept: no dialect on this framer reads them.
    """

    __slots__ = ("_data", "_size")

    def __init__(self) -> None:
        super().__init__()
        self._data: list[str] = []  # the data lines of the event being read
        self._size = 0

    def _payloads(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        pending = self._data
        for line in lines:
            if not line:
                if pending:
                    out.append("\n".join(pending))
                    pending.clear()
                    self._size = 0
            elif line[:5] == "data:":
                value = line[6:] if line[5:6] == " " else line[5:]
                if pending:
                    # An event of many data lines: their sum is what the limit bounds.
                    self._size += len(value)
                    if self._size > self._splitter.max_line:
                        raise TooLarge("event", self._splitter.max_line)
                else:
                    self._size = len(value)
                pending.append(value)
            elif line == "data":
                pending.append("")
            # Comments (`: keep-alive`) and other fields carry nothing a dialect reads.
        return out

    def _end(self) -> list[str]:
        if not self._data:
            return []
        event = "\n".join(self._data)
        self._data.clear()
        return [event]


class NDJSONFramer(_TextFramer):
    """NDJSON bytes in, each non-blank line out (Ollama streams one JSON object a line)."""

    __slots__ = ()

    def _payloads(self, lines: list[str]) -> list[str]:
        return [line for line in lines if line.strip()]


def framer_for(framing: str, max_event: int = MAX_EVENT_CHARS) -> SSEFramer | NDJSONFramer:
    framer = NDJSONFramer() if framing == "ndjson" else SSEFramer()
    framer.max_event = max_event
    return framer
