"""Response bodies read within limits: how many bytes a body may hold once decoded.

A server (or something pretending to be one) can send a 500 MB answer, or a 1 MB
gzip body that inflates to gigabytes. Bodies are therefore decompressed here, in
bounded steps, instead of by the HTTP library (which inflates a whole read at
once), and counted after decompression. construct asks only for the encodings it
decodes (`ACCEPT_ENCODING`).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

__all__ = [
    "ACCEPT_ENCODING",
    "BodyDecoder",
    "BodyReader",
    "TooLarge",
    "Unsupported",
    "decoder_for",
    "one_read",
]

ACCEPT_ENCODING: Final = "gzip, deflate"
# Output produced per decompress step: a bomb can only ever cost this much at once.
_STEP = 1 << 20
_DEFLATE = object()  # "deflate" before its first bytes say which kind


class TooLarge(ValueError):
    """A body or a stream event went over its limit; `what` names the limit."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what)
        self.what = what
        self.limit = limit


class Unsupported(ValueError):
    """The server used a content encoding construct did not ask for."""


class BodyDecoder:
    """Bytes as they arrive in, decoded bytes out, never more than `limit` in all."""

    __slots__ = ("_inflate", "_limit", "_seen")
    _inflate: Any

    def __init__(self, encoding: str, limit: int) -> None:
        self._limit = limit
        self._seen = 0
        if encoding in ("", "identity"):
            self._inflate = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._inflate = _DEFLATE  # which kind is known from the first bytes
        else:
            raise Unsupported(encoding)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of `data`, each at most a megabyte once inflated, made one
        at a time: a consumer that stops (a limit reached) stops the inflating too."""
        inflate = self._inflate
        if inflate is _DEFLATE and data:
            # Servers send "deflate" with the zlib header (as RFC 9110 says) and without.
            zlib_header = (
                len(data) > 1 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            )
            wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
            inflate = self._inflate = zlib.decompressobj(wbits)
        if inflate is None or inflate is _DEFLATE:
            self._count(len(data))
            yield data
            return
        try:
            piece = inflate.decompress(data, _STEP)
            while True:
                self._count(len(piece))
                yield piece
                if not inflate.unconsumed_tail:
                    return
                piece = inflate.decompress(inflate.unconsumed_tail, _STEP)
        except zlib.error as exc:
            raise Unsupported(f"corrupt compressed body ({exc})") from None

    def _count(self, n: int) -> None:
        self._seen += n
        if self._seen > self._limit:
            raise TooLarge("body", self._limit)

    def flush(self) -> bytes:
        """What the decompressor still holds at the end of the body (at most its window)."""
        if self._inflate is None or self._inflate is _DEFLATE:
            return b""
        out = self._inflate.flush()
        self._count(len(out))
        return out


def decoder_for(headers: object, limit: int) -> BodyDecoder:
    """The decoder for a response with these headers (httpx's or aiohttp's)."""
    encoding = headers.get("content-encoding", "")  # type: ignore[attr-defined]
    return BodyDecoder(encoding.strip().lower(), limit)


class BodyReader:
    """A whole response body, gathered read by read within the body limit."""

    __slots__ = ("_decoder", "_parts")

    def __init__(self, decoder: BodyDecoder) -> None:
        self._decoder = decoder
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self._parts.extend(self._decoder.feed(data))

    def body(self) -> bytes:
        self._parts.append(self._decoder.flush())
        return b"".join(self._parts)


async def one_read(body: bytes) -> AsyncIterator[bytes]:
    """A whole body as an async stream of one read (for a stream answered in one piece)."""
    yield body
