"""Stream framing, sans I/O: bytes and text in, lines and events out.

`LineSplitter` cuts text into lines, `SSEDecoder` turns lines into server-sent
events, and the framers (`SSEFramer`, `NDJSONFramer`, chosen by `framer_for`) take
a body's reads as bytes and give a dialect's stream parser the payloads each read
completes. `chunks`/`achunks` hand those reads on under the transport's error
mapping. The binary AWS event stream has its own decoder in `aws_eventstream.py`.
"""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager

__all__ = [
    "LineSplitter",
    "NDJSONFramer",
    "SSEDecoder",
    "SSEFramer",
    "achunks",
    "chunks",
    "framer_for",
]

# What a transport reads a stream under: it maps the HTTP library's errors to construct's.
Guard = AbstractContextManager[None]


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


# One generator per stream, which only guards: each read of the body goes, whole,
# from the HTTP library to the framer, so a read that carries several events (or
# an event and the blank line that ends it) costs one pass, not one per line.


def chunks(raw: Iterable[bytes], guard: Guard) -> Iterator[bytes]:
    """A response body's reads, as the HTTP library gives them, read under `guard`."""
    with guard:
        yield from raw


async def achunks(raw: AsyncIterable[bytes], guard: Guard) -> AsyncIterator[bytes]:
    with guard:
        async for data in raw:
            yield data


class _TextFramer(ABC):
    """Bytes in, UTF-8 lines split at CR, LF or CRLF only, each line to `_line`.

    Lines are always UTF-8, whatever charset the server declares: event streams "are
    always decoded as UTF-8" (HTML §9.2.5), and NDJSON is UTF-8 by definition."""

    __slots__ = ("_decode", "_splitter")

    def __init__(self) -> None:
        # Incremental: a character may straddle two reads. Bad bytes become U+FFFD.
        self._decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        self._splitter = LineSplitter()

    def feed(self, data: bytes) -> list[str]:
        """The payloads that this read of the body completes."""
        out: list[str] = []
        line_done = self._line
        for line in self._splitter.feed(self._decode(data)):
            payload = line_done(line)
            if payload is not None:
                out.append(payload)
        return out

    def flush(self) -> list[str]:
        """The payloads the end of the body completes."""
        lines = self._splitter.feed(self._decode(b"", final=True)) + self._splitter.flush()
        out = [p for p in map(self._line, lines) if p is not None]
        return out + self._end()

    @abstractmethod
    def _line(self, line: str) -> str | None:
        """The payload this line completes, if any."""

    def _end(self) -> list[str]:
        return []


class SSEFramer(_TextFramer):
    """An event stream's bytes in, the `data` of each complete server-sent event out."""

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        super().__init__()
        self._sse = SSEDecoder()

    def _line(self, line: str) -> str | None:
        event = self._sse.feed(line)
        return None if event is None else event[1]

    def _end(self) -> list[str]:
        event = self._sse.flush()
        return [] if event is None else [event[1]]


class NDJSONFramer(_TextFramer):
    """NDJSON bytes in, each non-blank line out (Ollama streams one JSON object a line)."""

    __slots__ = ()

    def _line(self, line: str) -> str | None:
        return line if line.strip() else None


def framer_for(framing: str) -> SSEFramer | NDJSONFramer:
    if framing == "ndjson":
        return NDJSONFramer()
    return SSEFramer()
