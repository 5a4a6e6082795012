"""The primary provider's keys, rotated on rate limits (PROVIDERS.md L4).

A 429 cools the key that got it for the server's Retry-After (or the backoff)
and the next healthy key takes the very next attempt, round robin. A key whose
quota is exhausted, or that the provider rejects, is retired for the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from ..secrets import Secret

__all__ = ["KeyPool"]


class KeyPool:
    """Keys with per-key cooldowns. Shared by concurrent calls, so it locks."""

    def __init__(self, keys: Sequence[Secret], clock: Callable[[], float] = time.monotonic):
        unique: list[Secret] = []
        for key in keys:
            if key not in unique:
                unique.append(key)
        self._keys = unique
        self._cool_until: dict[int, float] = {}
        self._next = 0
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyPool({len(self._keys)} keys: {', '.join('…' + k.last4 for k in self._keys)})"

    def pick(self, excluded: set[int]) -> tuple[int, Secret] | None:
        """The next healthy key from the rotation point, or None when all cool or are excluded."""
        with self._lock:
            now = self._clock()
            n = len(self._keys)
            for step in range(n):
                index = (self._next + step) % n
                if index in excluded or self._cool_until.get(index, 0.0) > now:
                    continue
                self._next = index
                return index, self._keys[index]
            return None

    def cool(self, index: int, seconds: float) -> None:
        """Rest key `index` for `seconds`; the next pick starts after it."""
        with self._lock:
            self._cool_until[index] = max(self._cool_until.get(index, 0.0), self._clock() + seconds)
            if self._next == index:
                self._next = (index + 1) % len(self._keys)

    def available(self, excluded: set[int]) -> bool:
        """Is some key outside `excluded` usable now? (Does not move the rotation.)"""
        with self._lock:
            now = self._clock()
            return any(
                i not in excluded and self._cool_until.get(i, 0.0) <= now
                for i in range(len(self._keys))
            )

    def soonest_ready(self) -> float | None:
        """Seconds until the first cooling key is usable again (0: one is usable now)."""
        with self._lock:
            if not self._keys:
                return None
            now = self._clock()
            return max(0.0, min(self._cool_until.get(i, 0.0) - now for i in range(len(self._keys))))
