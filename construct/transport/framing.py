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

__all__ = [
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
    """

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, text: str) -> list[str]:
        text = self._rest + text
        if "\r" in text:
            held = text.endswith("\r")  # maybe the first half of a CRLF
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if held:
                text = text[:-1] + "\r"
        lines = text.split("\n")
        self._rest = lines.pop()
        return lines

    def flush(self) -> list[str]:
        rest, self._rest = self._rest.rstrip("\r"), ""
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

    __slots__ = ("_data",)

    def __init__(self) -> None:
        super().__init__()
        self._data: list[str] = []  # the data lines of the event being read

    def _payloads(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        pending = self._data
        for line in lines:
            if not line:
                if pending:
                    out.append("\n".join(pending))
                    pending.clear()
            elif line[:5] == "data:":
                pending.append(line[6:] if line[5:6] == " " else line[5:])
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


def framer_for(framing: str) -> SSEFramer | NDJSONFramer:
    if framing == "ndjson":
        return NDJSONFramer()
    return SSEFramer()
