"""How long a server asked us to wait (PROVIDERS.md L3).

Sources, first found wins: the `retry-after-ms` header (OpenAI, Azure), the
`retry-after` header in seconds or as an HTTP date (RFC 9110 §10.2.3), then
the error body: `retry-after: N` / `retry_after: N` text and Gemini's
`"retryDelay": "12.5s"`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after", "parse_retry_after_header"]

_BODY_HINT = re.compile(
    r"(?i)retry[-_ ]after[\"']?\s*[:=]?\s*[\"']?(\d+(?:\.\d+)?)"
    # An explicit unit after the number: `retry after 2 minutes` is 120 s, not 2.
    r"(?:\s*(ms|millis(?:econds?)?|m|mins?|minutes?)\b)?"
)
_BODY_MS_HINT = re.compile(r"(?i)retry[-_ ]after[-_ ]?ms[\"']?\s*[:=]?\s*[\"']?(\d+(?:\.\d+)?)")
_GEMINI_DELAY = re.compile(r"\"retryDelay\"\s*:\s*\"(\d+(?:\.\d+)?)s\"")
# Beyond a day a value is a misreading (an epoch, a date fragment), not a wait.
_MAX_SANE_S = 86_400.0


def _sane(seconds: float) -> float | None:
    if seconds != seconds or seconds < 0 or seconds > _MAX_SANE_S:  # NaN, negative, absurd
        return None
    return seconds


def parse_retry_after_header(value: str, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value: delta-seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return None
    try:
        return _sane(float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        # `-0000` parses to a naive datetime; RFC 9110 dates are always UTC, not local time.
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - current, _MAX_SANE_S))


def _unit_scale(unit: str | None) -> float:
    unit = (unit or "").lower()
    if unit.startswith(("ms", "milli")):
        return 0.001
    if unit.startswith("m"):
        return 60.0
    return 1.0


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """`name` from `headers`, whatever the case of the keys (a plain dict is case-sensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return candidate
    return None


def parse_retry_after(
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    now: float | None = None,
) -> float | None:
    """The wait in seconds the response asks for, or None when it says nothing."""
    if headers:
        ms = _header(headers, "retry-after-ms")
        if ms:
            try:
                seconds = _sane(float(ms) / 1000.0)
            except ValueError:
                seconds = None
            if seconds is not None:
                return seconds
        value = _header(headers, "retry-after")
        if value:
            seconds = parse_retry_after_header(value, now)
            if seconds is not None:
                return seconds
    if body:
        match = _BODY_MS_HINT.search(body)
        if match:
            return _sane(float(match.group(1)) / 1000.0)
        match = _BODY_HINT.search(body)
        if match:
            return _sane(float(match.group(1)) * _unit_scale(match.group(2)))
        match = _GEMINI_DELAY.search(body)
        if match:
            return _sane(float(match.group(1)))
    return None
