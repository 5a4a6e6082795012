"""ReliableProvider against real loopback servers, real sockets and real clocks (issue 4).

Every test asserts what the servers saw: which requests arrived, when, and with
which key. Waits are measured between the server's receipts, so they include
everything the client did in between.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from construct import (
    AllProvidersFailed,
    ChatMessage,
    ChatRequest,
    StreamInterrupted,
    create_resilient_provider,
)
from tests.loopback import LoopbackServer, Reply, Script
from tests.oracle import chunk, completion

HELLO = ChatRequest((ChatMessage.user("hello"),))


def ok(text: str = "fine", model: str = "test-model") -> Reply:
    return Reply(body=json.dumps(completion(text, model=model)).encode())


def error(status: int, message: str = "nope", **headers: str) -> Reply:
    body = json.dumps({"error": {"message": message, "type": "error"}}).encode()
    return Reply(status, {"content-type": "application/json", **headers}, body)


def sse(*pieces: str, cut_after: int | None = None) -> Reply:
    events = [f"data: {json.dumps(chunk(p))}\n\n".encode() for p in pieces]
    events += [
        f"data: {json.dumps(chunk(finish_reason='stop'))}\n\n".encode(),
        b"data: [DONE]\n\n",
    ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=events, cut_after=cut_after)


def url(server: LoopbackServer) -> str:
    return f"custom:{server.url}/v1"


def reliability(**overrides) -> dict:
    base = {"provider_retries": 2, "provider_backoff_ms": 200, "backoff_jitter": 0}
    return {**base, **overrides}


def gaps(server: LoopbackServer) -> list[float]:
    times = [r.at for r in server.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def keys_seen(server: LoopbackServer) -> list[str]:
    return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in server.requests]


def test_503_is_retried_with_doubling_backoff():
    with LoopbackServer(Script(error(503), error(503), ok("third time"))) as server:
        provider = create_resilient_provider(url(server), "key-primary-0001", None, reliability())
        response = provider.chat(HELLO, "m")
    assert response.text == "third time"
    assert response.attempts == 3
    first, second = gaps(server)
    assert 0.2 <= first < 0.35
    assert 0.4 <= second < 0.6


def test_429_with_retry_after_1_is_waited_about_a_second_not_less():
    with LoopbackServer(Script(error(429, "slow down", **{"retry-after": "1"}), ok())) as server:
        provider = create_resilient_provider(url(server), "key-primary-0001", None, reliability())
        assert provider.chat(HELLO, "m").text == "fine"
    (gap,) = gaps(server)
    assert 1.0 <= gap < 1.4


def test_429_with_retry_after_120_goes_to_the_next_provider_at_once():
    limited = error(429, "come back in two minutes", **{"retry-after": "120"})
    with LoopbackServer(Script(limited)) as primary, LoopbackServer(Script(ok("backup"))) as backup:
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(fallback_providers=[url(backup)]),
        )
        started = time.monotonic()
        response = provider.chat(HELLO, "m")
        elapsed = time.monotonic() - started
    assert response.text == "backup"
    assert response.provider == url(backup)
    assert len(primary.requests) == 1  # not retried: the wait is beyond max_retry_after_s
    assert len(backup.requests) == 1
    assert elapsed < 0.5


def test_second_key_is_used_on_the_very_next_attempt_after_a_429():
    limited = error(429, "rate limited", **{"retry-after": "5"})
    with LoopbackServer(Script(limited, ok("second key"))) as server:
        provider = create_resilient_provider(
            url(server),
            "key-first-11111111",
            None,
            reliability(api_keys=["key-second-22222222"]),
        )
        response = provider.chat(HELLO, "m")
        # The first key is cooling for its Retry-After: the next call starts on the second.
        provider.chat(HELLO, "m")
    assert response.text == "second key"
    assert keys_seen(server) == ["key-first-11111111", "key-second-22222222", "key-second-22222222"]
    assert gaps(server)[0] < 0.2  # at once, no backoff


def test_401_is_not_retried_and_the_fallback_answers():
    with (
        LoopbackServer(Script(error(401, "invalid api key"))) as primary,
        LoopbackServer(Script(ok("from backup"))) as backup,
    ):
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(fallback_providers=[url(backup)]),
        )
        response = provider.chat(HELLO, "m")
    assert response.text == "from backup"
    assert len(primary.requests) == 1
    assert response.attempts == 2
    # L1: the fallback resolves its own key; it never gets the primary's.
    assert "authorization" not in backup.requests[0].headers


def test_context_window_400_moves_to_the_next_fallback_model():
    too_long = error(400, "This model's maximum context length is 8192 tokens")

    def by_model(request):
        return too_long if request.json()["model"] == "small" else ok("big fits", model="big")

    with LoopbackServer(by_model) as server:
        provider = create_resilient_provider(
            url(server),
            "key-primary-0001",
            None,
            reliability(model_fallbacks={"small": ["big"]}),
        )
        response = provider.chat(HELLO, "small")
    assert [r.json()["model"] for r in server.requests] == ["small", "big"]
    assert response.model == "big"
    assert response.text == "big fits"


def test_stream_failing_before_its_first_event_is_recovered_by_the_fallback():
    with (
        LoopbackServer(Script(sse("x", cut_after=0))) as primary,
        LoopbackServer(Script(sse("re", "covered"))) as backup,
    ):
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(provider_retries=0, fallback_providers=[url(backup)]),
        )
        events = list(provider.stream(HELLO, "m"))
    assert "".join(e.delta for e in events if e.type == "text_delta") == "recovered"
    final = events[-1].response
    assert (final.provider, final.attempts) == (url(backup), 2)
    assert len(primary.requests) == 1 and len(backup.requests) == 1


def test_stream_failing_after_its_first_event_raises_with_the_partial_text():
    with (
        LoopbackServer(Script(sse("Hel", "lo", "world", cut_after=2))) as primary,
        LoopbackServer(Script(sse("never"))) as backup,
    ):
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(fallback_providers=[url(backup)]),
        )
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(HELLO, "m"):
                seen.append(event.delta)
    assert info.value.partial_text == "Hello"
    assert seen == ["Hel", "lo"]
    assert backup.requests == []  # no fallback once output reached the caller


def test_async_stream_falls_back_before_the_first_event():
    with (
        LoopbackServer(Script(error(503))) as primary,
        LoopbackServer(Script(sse("async ok"))) as backup,
    ):
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(provider_retries=0, fallback_providers=[url(backup)]),
        )

        async def run():
            return [e async for e in provider.astream(HELLO, "m")]

        events = asyncio.run(run())
    assert events[-1].response.text == "async ok"


def test_circuit_opens_after_the_threshold_and_closes_after_the_cooldown():
    with (
        LoopbackServer(Script(error(500), error(500), ok("healed"))) as primary,
        LoopbackServer(Script(ok("backup"))) as backup,
    ):
        provider = create_resilient_provider(
            url(primary),
            "key-primary-0001",
            None,
            reliability(
                provider_retries=0,
                fallback_providers=[url(backup)],
                circuit_breaker_threshold=2,
                circuit_breaker_cooldown_s=0.5,
            ),
        )
        assert provider.chat(HELLO, "m").text == "backup"  # primary failure 1
        assert provider.chat(HELLO, "m").text == "backup"  # primary failure 2: circuit opens
        assert provider.circuit_state(url(primary)) == "open"
        skipped = provider.chat(HELLO, "m")
        assert skipped.text == "backup"
        assert len(primary.requests) == 2  # the open circuit sent nothing to it
        time.sleep(0.6)
        assert provider.chat(HELLO, "m").text == "healed"  # the trial call closes it
        assert provider.circuit_state(url(primary)) == "closed"
    assert len(primary.requests) == 3


def test_total_timeout_is_respected_across_retries_and_slow_answers():
    slow = Reply(body=json.dumps(completion()).encode(), delay=3.0)
    with LoopbackServer(Script(error(503), slow)) as server:
        provider = create_resilient_provider(
            url(server),
            "key-primary-0001",
            None,
            reliability(total_timeout_s=0.8, provider_retries=5),
        )
        started = time.monotonic()
        with pytest.raises(AllProvidersFailed) as info:
            provider.chat(HELLO, "m")
        elapsed = time.monotonic() - started
    assert elapsed < 1.3
    assert len(server.requests) == 2
    assert "total_timeout_s" in str(info.value) or "timed out" in str(info.value)


def test_all_failed_lists_every_attempt_without_the_key():
    with LoopbackServer(Script(error(500, "boom sk-live-echoedkey1234567"))) as server:
        provider = create_resilient_provider(
            url(server), "key-primary-0001", None, reliability(provider_retries=1)
        )
        with pytest.raises(AllProvidersFailed) as info:
            provider.chat(HELLO, "m")
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0] == "All providers/models failed. Attempts:"
    assert lines[1].startswith(f"provider={url(server)} model=m attempt 1/2: retryable; error=")
    assert lines[2].startswith(f"provider={url(server)} model=m attempt 2/2: retryable; error=")
    assert "sk-live-echoedkey1234567" not in text
    assert "key-primary-0001" not in text
    assert [a.number for a in info.value.attempts] == [1, 2]


def test_rotating_keys_counts_the_primary_key_and_api_keys():
    provider = create_resilient_provider(
        "custom:http://127.0.0.1:9/v1",
        "key-first-11111111",
        None,
        reliability(api_keys=["key-second-22222222"]),
    )
    assert provider.rotating_keys == 2
    assert create_resilient_provider("groq", "gsk_only_key_0001").rotating_keys == 0
