"""The AWS event-stream framing (`application/vnd.amazon.eventstream`), decoded sans I/O.

Bedrock's `converse-stream` answers with binary frames, not SSE. Each frame is

    total length   u32 big-endian   the whole frame, these 4 bytes and the CRC included
    headers length u32 big-endian
    prelude CRC    u32              CRC-32 of the 8 bytes above
    headers        name (u8 length + UTF-8), type (u8), value (by type)
    payload        total - headers - 16 bytes
    message CRC    u32              CRC-32 of everything before it

Bytes arrive in whatever pieces the network delivers; `EventStreamDecoder.feed`
buffers them and returns each frame once it is whole, with both CRCs checked. A
frame that fails a check raises `InvalidResponse`: the bytes after it cannot be
trusted to start a frame, so the stream is abandoned rather than resynchronised.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidResponse

__all__ = ["EventMessage", "EventStreamDecoder"]

_PRELUDE = struct.Struct(">III")
_PRELUDE_LENGTH = 12
_CRC_LENGTH = 4
_MIN_FRAME = _PRELUDE_LENGTH + _CRC_LENGTH
# The limits botocore and the AWS SDKs enforce: a larger length is corruption, not data,
# and waiting for that many bytes would only hold the stream open.
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One decoded frame: its headers (name -> value) and its raw payload."""

    headers: Mapping[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str:
        """`event`, `exception` or `error` (a frame without the header is an event)."""
        value = self.headers.get(":message-type", "event")
        return value if isinstance(value, str) else "event"

    @property
    def event_type(self) -> str | None:
        value = self.headers.get(":event-type")
        return value if isinstance(value, str) else None

    @property
    def exception_type(self) -> str | None:
        value = self.headers.get(":exception-type")
        return value if isinstance(value, str) else None


class EventStreamDecoder:
    """Bytes in, whole `EventMessage`s out; a frame split across reads waits for its rest."""

    __slots__ = ("_buffer", "_display_name", "_error", "_provider")

    def __init__(self, provider: str | None = None, display_name: str = "The server") -> None:
        self._buffer = bytearray()
        self._error: InvalidResponse | None = None
        self._provider = provider
        self._display_name = display_name

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[EventMessage]:
        self._raise_pending()
        self._buffer += chunk
        messages: list[EventMessage] = []
        while True:
            try:
                message = self._next()
            except InvalidResponse as exc:
                if not messages:
                    raise
                # The good frames before the bad one still count (a caller may have shown
                # their text already); the failure comes with the next call.
                self._error = exc
                break
            if message is None:
                break
            messages.append(message)
        return messages

    def flush(self) -> list[EventMessage]:
        """The end of the body: a partial frame left over is dropped.

        Whether the stream was cut short is the parser's call (it knows whether the
        final event came); a torn frame after it carries nothing the answer needs.
        """
        self._raise_pending()
        self._buffer.clear()
        return []

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._buffer.clear()
            raise error

    def _fail(self, detail: str) -> InvalidResponse:
        return InvalidResponse(
            f"{self._display_name} sent a corrupt event-stream frame: {detail}",
            provider=self._provider,
        )

    def _next(self) -> EventMessage | None:
        buf = self._buffer
        if len(buf) < _PRELUDE_LENGTH:
            return None
        total, headers_length, prelude_crc = _PRELUDE.unpack_from(buf)
        # Checked before waiting for `total` bytes: a garbled length must not stall the stream.
        if zlib.crc32(buf[:8]) != prelude_crc:
            raise self._fail("prelude CRC mismatch")
        if headers_length > _MAX_HEADERS:
            raise self._fail(f"headers length {headers_length} exceeds {_MAX_HEADERS}")
        payload_length = total - headers_length - _MIN_FRAME
        if total < _MIN_FRAME or payload_length < 0:
            raise self._fail(f"frame length {total} too short for {headers_length} header bytes")
        if payload_length > _MAX_PAYLOAD:
            raise self._fail(f"payload length {payload_length} exceeds {_MAX_PAYLOAD}")
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        del buf[:total]
        (message_crc,) = struct.unpack_from(">I", frame, total - _CRC_LENGTH)
        if zlib.crc32(frame[: total - _CRC_LENGTH]) != message_crc:
            raise self._fail("message CRC mismatch")
        headers_end = _PRELUDE_LENGTH + headers_length
        headers = self._headers(frame[_PRELUDE_LENGTH:headers_end])
        return EventMessage(headers, frame[headers_end : total - _CRC_LENGTH])

    def _headers(self, data: bytes) -> dict[str, Any]:
        headers: dict[str, Any] = {}
        pos = 0
        try:
            while pos < len(data):
                name_length = data[pos]
                name = data[pos + 1 : pos + 1 + name_length].decode("utf-8")
                pos += 1 + name_length
                kind = data[pos]
                pos += 1
                value, pos = self._value(kind, data, pos)
                if name in headers:
                    raise self._fail(f"header {name!r} appears twice")
                headers[name] = value
        except (IndexError, struct.error, UnicodeDecodeError) as exc:
            raise self._fail(f"headers cannot be read ({exc})") from None
        return headers

    def _value(self, kind: int, data: bytes, pos: int) -> tuple[Any, int]:
        if kind == 0:
            return True, pos
        if kind == 1:
            return False, pos
        fixed = _FIXED.get(kind)
        if fixed is not None:
            if pos + fixed.size > len(data):
                raise IndexError("header value past the end")
            return fixed.unpack_from(data, pos)[0], pos + fixed.size
        if kind in (6, 7):  # byte array, string: u16 length then the bytes
            (length,) = struct.unpack_from(">H", data, pos)
            raw = data[pos + 2 : pos + 2 + length]
            if len(raw) != length:
                raise IndexError("header value past the end")
            return (raw.decode("utf-8") if kind == 7 else raw), pos + 2 + length
        if kind == 9:  # UUID
            raw = data[pos : pos + 16]
            if len(raw) != 16:
                raise IndexError("header value past the end")
            return raw, pos + 16
        raise self._fail(f"unknown header value type {kind}")


# byte, short, integer, long, timestamp (milliseconds since the epoch)
_FIXED = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
    8: struct.Struct(">q"),
}
