"""The call-wide deadline: `deadline(at)` bounds every request made inside it, and
`seconds_left()` says how much of it remains.

ReliableProvider sets it from total_timeout_s around each attempt; the transports
cut their timeouts to what is left. A context variable, so concurrent calls on one
event loop each keep their own.
"""

from __future__ import annotations

import contextvars
import time

__all__ = ["deadline", "seconds_left"]

# A time.monotonic() value, or None: no deadline.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "construct_deadline", default=None
)


class deadline:
    """Run the block with requests bounded by the monotonic time `at` (None: no bound).

    A class, not a @contextmanager: it wraps every attempt of ReliableProvider, and
    the generator machinery would cost more than the call it guards when unbounded."""

    __slots__ = ("_at", "_token")

    def __init__(self, at: float | None) -> None:
        self._at = at
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._at is not None or _deadline.get() is not None:
            self._token = _deadline.set(self._at)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


def seconds_left() -> float | None:
    """Seconds until the call's deadline, zero or less once it has passed (None: no deadline)."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()
