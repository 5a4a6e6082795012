"""How long to wait before the next attempt (PROVIDERS.md L2-L3), as tenacity wait strategies.

`wait_backoff` is exponential backoff with downward jitter: base, doubling, capped
at 10 s, each wait cut by up to `jitter` (25 % by default) so clients that failed
together do not retry together. `wait_retry_after` honours the server's
Retry-After and never waits less than the backoff.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import RetryCallState
from tenacity.wait import wait_base

__all__ = ["MIN_BACKOFF_MS", "backoff_seconds", "wait_backoff", "wait_retry_after"]

MIN_BACKOFF_MS = 50
CAP_S = 10.0


def backoff_seconds(
    base_ms: float,
    attempt: int,
    jitter: float = 0.25,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait after failed attempt number `attempt` (1-based): base * 2**(attempt-1), capped."""
    base = max(float(base_ms), MIN_BACKOFF_MS) / 1000.0
    wait = min(base * (2 ** max(attempt - 1, 0)), CAP_S)
    if jitter > 0:
        wait *= 1.0 - min(jitter, 1.0) * rand()
    return wait


class wait_backoff(wait_base):
    """Exponential backoff with downward jitter, as a tenacity wait strategy."""

    def __init__(
        self, base_ms: float, jitter: float = 0.25, rand: Callable[[], float] = random.random
    ) -> None:
        self.base_ms = base_ms
        self.jitter = jitter
        self.rand = rand

    def __call__(self, retry_state: RetryCallState) -> float:
        return backoff_seconds(self.base_ms, retry_state.attempt_number, self.jitter, self.rand)


class wait_retry_after(wait_base):
    """The server's Retry-After when the failure carries one, never less than `fallback`."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.fallback(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, float(retry_after))
        return wait
