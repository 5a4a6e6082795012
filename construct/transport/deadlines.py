"""The call-wide deadline: `deadline(at)` bounds every request made inside it, and
`seconds_left()` says how much of it remains.

ReliableProvider sets it from total_timeout_s around each attempt; the transports
cut their timeouts to what is left. A context variable, so concurrent calls on one
event loop each keep their own.
"""

from __future__ import annotations

import contextvars
import time

__all__ = ["Clock", "deadline", "seconds_left"]

_monotonic = time.monotonic

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


class Clock:
    """When the reads and writes of one exchange must stop, and why.

    One per request. A non-streamed attempt is bounded as a whole: `timeout_s` from
    its start. A stream is bounded the same way until its first event; after that,
    each time it goes back to waiting on the server (`progress()`), it has `idle_s`
    until the next event, and never past `max_s` from its start. Reads that bring only
    comments or keep-alives do not call `progress()`, so they do not buy time. The
    call-wide deadline (`deadline()`, total_timeout_s) caps everything before the
    answer, or before a stream's first event.
    """

    __slots__ = ("_end", "_end_why", "_idle", "_idle_why", "due", "why")

    def __init__(
        self,
        timeout_s: float,
        *,
        stream: bool = False,
        idle_s: float | None = None,
        max_s: float | None = None,
    ) -> None:
        now = _monotonic()
        self.due = now + timeout_s
        what = "first event" if stream else "complete answer"
        self.why = f"no {what} within provider_timeout_secs ({timeout_s:g} s)"
        left = seconds_left()
        if left is not None and left < timeout_s:
            self.due = now + left
            self.why = "the call's total_timeout_s ran out"
        self._idle = timeout_s if idle_s is None else idle_s
        self._idle_why = (
            f"no event for stream_idle_timeout_secs ({self._idle:g} s); comments and "
            "keep-alives do not count"
        )
        self._end = now + max_s if max_s else float("inf")
        self._end_why = f"the stream ran longer than stream_max_secs ({max_s:g} s)" if max_s else ""

    def left(self) -> float:
        """Seconds until the exchange must stop; zero or less: it is over."""
        return self.due - _monotonic()

    def progress(self) -> None:
        """The stream delivered events and goes back to waiting on the server."""
        due = _monotonic() + self._idle
        if due < self._end:
            self.due = due
            self.why = self._idle_why
        else:
            self.due = self._end
            self.why = self._end_why
