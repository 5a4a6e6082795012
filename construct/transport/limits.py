"""How long a stream may idle and last, and how much a response may hold.

The defaults are far above any real answer and far below what would hurt the
process: a chat completion is kilobytes, an image a few megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .framing import MAX_EVENT_CHARS

__all__ = ["MAX_BODY_BYTES", "Limits"]

MAX_BODY_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    # Between a stream's events once it has started (None: the provider timeout).
    idle_s: float | None = None
    # A stream's whole length (None: no cap).
    stream_max_s: float | None = None
    # A response body, counted after decompression.
    max_body: int = MAX_BODY_BYTES
    # One stream event (one NDJSON line), in characters of decoded text.
    max_event: int = MAX_EVENT_CHARS
