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
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after", "parse_retry_after_header"]

_BODY_HINT = re.compile(r"(?i)retry[-_ ]after(?:[-_ ]?ms)?[\"']?\s*[:=]?\s*[\"']?(\d+(?:\.\d+)?)")
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
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - current, _MAX_SANE_S))


def parse_retry_after(
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    now: float | None = None,
) -> float | None:
    """The wait in seconds the response asks for, or None when it says nothing."""
    if headers:
        ms = headers.get("retry-after-ms")
        if ms:
            try:
                seconds = _sane(float(ms) / 1000.0)
            except ValueError:
                seconds = None
            if seconds is not None:
                return seconds
        value = headers.get("retry-after")
        if value:
            seconds = parse_retry_after_header(value, now)
            if seconds is not None:
                return seconds
    if body:
        match = _BODY_MS_HINT.search(body)
        if match:
            return _sane(float(match.group(1)) / 1000.0)
        match = _BODY_HINT.search(body) or _GEMINI_DELAY.search(body)
        if match:
            return _sane(float(match.group(1)))
    return None
