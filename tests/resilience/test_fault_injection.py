"""2,000 requests through a ReliableProvider while one of its providers misbehaves at random.

The primary's loopback server answers with a random mix of 200, 429 (with a
Retry-After, short or long), 500, 503, connection resets and malformed bodies;
the fallback's server stays healthy throughout. Every request must succeed, no
wait may exceed what the server asked for or the configured caps, and the whole
run must stay bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter

import pytest

from construct import ChatMessage, ChatRequest, create_resilient_provider
from construct.resilience import reliable
from tests.loopback import LoopbackServer, Reply
from tests.oracle import completion

REQUESTS = 2000
IN_FLIGHT = 50
MAX_RETRY_AFTER_S = 0.2
HELLO = ChatRequest((ChatMessage.user("hi"),))


def _ok(text: str) -> Reply:
    return Reply(body=json.dumps(completion(text)).encode())


class Chaos:
    """A seeded random fault per request; counts what it served."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()

    def __call__(self, request) -> Reply:
        with self.lock:
            roll = self.rng.random()
        kind, reply = self._pick(roll)
        with self.lock:
            self.served[kind] += 1
        return reply

    @staticmethod
    def _pick(roll: float) -> tuple[str, Reply]:
        error = {"content-type": "application/json"}
        if roll < 0.40:
            return "ok", _ok("primary")
        if roll < 0.50:
            # Short Retry-After, honoured (in ms, as OpenAI sends it).
            return "429_short", Reply(429, {**error, "retry-after-ms": "120"}, b'{"error":{}}')
        if roll < 0.58:
            # Longer than max_retry_after_s: must not be slept on.
            return "429_long", Reply(429, {**error, "retry-after": "30"}, b'{"error":{}}')
        if roll < 0.68:
            return "500", Reply(500, error, b'{"error":{"message":"boom"}}')
        if roll < 0.78:
            return "503", Reply(503, error, b'{"error":{"message":"overloaded"}}')
        if roll < 0.89:
            return "reset", Reply(cut_after=0)
        return "malformed", Reply(body=b"<html>502 from a proxy</html>")


@pytest.fixture
def waits(monkeypatch):
    """Record every sleep ReliableProvider asks for, and really sleep it."""
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)
        await real_sleep(seconds)

    monkeypatch.setattr(reliable.asyncio, "sleep", sleep)
    return recorded


def test_two_thousand_requests_all_succeed_under_random_faults(waits):
    chaos = Chaos(seed=20261121)
    with LoopbackServer(chaos) as primary, LoopbackServer(lambda r: _ok("backup")) as backup:
        provider = create_resilient_provider(
            f"custom:{primary.url}/v1",
            "key-primary-00001111",
            None,
            {
                "provider_retries": 2,
                "provider_backoff_ms": 50,
                "backoff_jitter": 0.25,
                "max_retry_after_s": MAX_RETRY_AFTER_S,
                "fallback_providers": [f"custom:{backup.url}/v1"],
                # Keep the primary in play: this test is about retries, not the breaker.
                "circuit_breaker_threshold": 1000,
            },
        )

        async def one(limit: asyncio.Semaphore) -> str:
            async with limit:
                response = await provider.achat(HELLO, "m")
                return response.text

        async def run() -> list[str]:
            limit = asyncio.Semaphore(IN_FLIGHT)
            try:
                return await asyncio.gather(*(one(limit) for _ in range(REQUESTS)))
            finally:
                await provider.aclose()

        started = time.monotonic()
        answers = asyncio.run(run())
        elapsed = time.monotonic() - started

    assert len(answers) == REQUESTS
    assert set(answers) <= {"primary", "backup"}
    served = chaos.served
    # Every fault kind really happened, and the healthy fallback carried the rest.
    assert all(served[k] > 50 for k in ("ok", "429_short", "429_long", "500", "503", "reset"))
    assert served["malformed"] > 50
    assert answers.count("backup") == len(backup.requests) > 0
    # No wait beyond the caps: backoff <= 50 ms * 2 (two retries), Retry-After <= 0.2 s;
    # a 30 s Retry-After is never slept on.
    assert waits, "faults must have caused waits"
    assert max(waits) <= MAX_RETRY_AFTER_S + 1e-9
    # Short Retry-Afters were honoured: some waits are the server's 120 ms, not less.
    assert any(abs(w - 0.12) < 1e-9 for w in waits)
    assert elapsed < 60
