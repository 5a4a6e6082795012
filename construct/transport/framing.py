"""Stream framing, sans I/O: bytes and text in, lines and events out.

`LineSplitter` cuts text into lines, `SSEDecoder` turns lines into server-sent
events, and the framers (`SSEFramer`, `NDJSONFramer`, chosen by `framer_for`) give
a dialect's stream parser one payload at a time. `chunks`/`achunks` turn a
response body's byte pieces into what its framing wants (lines, or the bytes
themselves), read under the transport's error mapping. The binary AWS event
stream has its own decoder in `aws_eventstream.py`.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

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


# One generator per stream, which both frames and guards: a chunk passes through no
# other layer between the HTTP library and the dialect's parser.


def chunks(raw: Iterable[bytes], binary: bool, guard: Guard) -> Iterator[Any]:
    """A response body's pieces as its framing wants them, read under `guard`: the raw
    bytes (`binary`, the AWS event stream) or text lines (SSE, NDJSON).

    Lines are always UTF-8, whatever charset the server declares: event streams "are
    always decoded as UTF-8" (HTML §9.2.5), and NDJSON is UTF-8 by definition."""
    return _guarded(raw, guard) if binary else _lines(raw, guard)


def achunks(raw: AsyncIterable[bytes], binary: bool, guard: Guard) -> AsyncIterator[Any]:
    return _aguarded(raw, guard) if binary else _alines(raw, guard)


def _utf8() -> Any:
    # Incremental: a character may straddle two reads. Bad bytes become U+FFFD.
    return codecs.getincrementaldecoder("utf-8")("replace").decode


def _lines(raw: Iterable[bytes], guard: Guard) -> Iterator[str]:
    decode, splitter = _utf8(), LineSplitter()
    with guard:
        for data in raw:
            yield from splitter.feed(decode(data))
        yield from splitter.feed(decode(b"", final=True)) + splitter.flush()


async def _alines(raw: AsyncIterable[bytes], guard: Guard) -> AsyncIterator[str]:
    decode, splitter = _utf8(), LineSplitter()
    with guard:
        async for data in raw:
            for line in splitter.feed(decode(data)):
                yield line
        for line in splitter.feed(decode(b"", final=True)) + splitter.flush():
            yield line


def _guarded(raw: Iterable[bytes], guard: Guard) -> Iterator[bytes]:
    with guard:
        yield from raw


async def _aguarded(raw: AsyncIterable[bytes], guard: Guard) -> AsyncIterator[bytes]:
    with guard:
        async for data in raw:
            yield data


class SSEFramer:
    """Text lines in, the `data` of each complete server-sent event out."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, line: str) -> list[str]:
        event = self._decoder.feed(line)
        return [] if event is None else [event[1]]

    def flush(self) -> list[str]:
        event = self._decoder.flush()
        return [] if event is None else [event[1]]


class NDJSONFramer:
    """Text lines in, each non-blank line out (Ollama streams one JSON object a line)."""

    __slots__ = ()

    def feed(self, line: str) -> list[str]:
        return [line] if line.strip() else []

    def flush(self) -> list[str]:
        return []


def framer_for(framing: str) -> SSEFramer | NDJSONFramer:
    if framing == "ndjson":
        return NDJSONFramer()
    return SSEFramer()
