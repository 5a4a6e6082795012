"""One circuit breaker per provider (PROVIDERS.md L9).

After `threshold` consecutive failures the circuit opens: the provider is
skipped, without a request, for `cooldown_s`. Then one trial call goes through
(half-open); success closes the circuit, failure opens it for another cooldown.
A trial that is never reported (a cancelled task, an abandoned stream) expires
after a cooldown, so a lost trial cannot keep the circuit half-open for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker"]

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State, State], None] | None = None,
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at = 0.0
        self._state: State = "closed"
        self._trial_out = False
        self._trial_at = 0.0
        # Reentrant: `on_change` runs under the lock, and a listener may read `state`.
        self._lock = threading.RLock()

    @property
    def state(self) -> State:
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.cooldown_s:
            self._set("half_open")
            self._trial_out = False
        return self._state

    def _set(self, state: State) -> None:
        old, self._state = self._state, state
        if old != state and self._on_change is not None:
            self._on_change(old, state)

    def allow(self) -> bool:
        """May a request go to this provider now? In half-open state, one at a time."""
        if self._state == "closed":  # the healthy path, on every call: no lock needed
            return True
        with self._lock:
            state = self._current()
            if state == "closed":
                return True
            now = self._clock()
            if state == "half_open" and (
                not self._trial_out or now - self._trial_at >= self.cooldown_s
            ):
                self._trial_out, self._trial_at = True, now
                return True
            return False

    def release(self) -> None:
        """Give back a trial that said nothing about the provider's health (a 400, a bad key)."""
        with self._lock:
            self._trial_out = False

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial call through."""
        with self._lock:
            if self._current() != "open":
                return 0.0
            return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def success(self) -> None:
        if self._state == "closed" and not self._failures and not self._trial_out:
            return  # nothing to reset: the healthy path, on every call
        with self._lock:
            self._failures = 0
            self._trial_out = False
            self._set("closed")

    def failure(self) -> None:
        with self._lock:
            state = self._current()
            self._failures += 1
            self._trial_out = False
            if state == "half_open" or self._failures >= self.threshold:
                self._opened_at = self._clock()
                self._set("open")
