"""`policy.decide`: what follows a failed attempt, for every error class and situation (L3-L5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from construct.errors import (
    AllProvidersFailed,
    AllProvidersRateLimited,
    AuthError,
    ConfigError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilityError,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from construct.resilience.policy import Situation, Step, decide, reason_for

RETRY, ROTATE, NEXT, NEXT_MODEL = Step.RETRY, Step.ROTATE_KEY, Step.NEXT_PROVIDER, Step.NEXT_MODEL

# Attempt 1 of 3, a 0.5 s backoff, the default 30 s Retry-After cap, no budget, one key.
BASE = Situation(
    attempt=1,
    max_attempts=3,
    wait_s=0.5,
    max_retry_after_s=30.0,
    remaining_s=None,
    other_key=False,
)
LAST = {"attempt": 3}
OTHER_KEY = {"other_key": True}


def rate_limited(retry_after: float | None = None) -> RateLimited:
    return RateLimited("429 Too Many Requests", status=429, retry_after=retry_after)


def transient(retry_after: float | None = None) -> TransientError:
    return TransientError("503 overloaded", status=503, retry_after=retry_after)


# (id, error, situation changes, step, reason, wait_s, cool_key_s, retire_key)
TABLE = [
    # -- RateLimited (429): retried, rotated, or passed on; the key cools --------------
    ("429 attempts left", rate_limited(), {}, RETRY, "rate_limited", 0.5, 0.5, False),
    ("429 last attempt", rate_limited(), LAST, NEXT, "rate_limited", 0.0, 0.5, False),
    (
        "429 retry-after under the cap",
        rate_limited(2.0),
        {"wait_s": 2.0},
        RETRY,
        "rate_limited",
        2.0,
        2.0,
        False,
    ),
    (
        "429 retry-after equal to the cap",
        rate_limited(30.0),
        {"wait_s": 30.0},
        RETRY,
        "rate_limited",
        30.0,
        30.0,
        False,
    ),
    (
        "429 retry-after over the cap",
        rate_limited(120.0),
        {"wait_s": 120.0},
        NEXT,
        "rate_limited",
        0.0,
        120.0,
        False,
    ),
    (
        "429 retry-after over a lowered cap",
        rate_limited(5.0),
        {"wait_s": 5.0, "max_retry_after_s": 4.0},
        NEXT,
        "rate_limited",
        0.0,
        5.0,
        False,
    ),
    (
        "429 wait longer than the budget left",
        rate_limited(2.0),
        {"wait_s": 2.0, "remaining_s": 1.5},
        NEXT,
        "rate_limited",
        0.0,
        2.0,
        False,
    ),
    (
        "429 wait equal to the budget left",
        rate_limited(2.0),
        {"wait_s": 2.0, "remaining_s": 2.0},
        NEXT,
        "rate_limited",
        0.0,
        2.0,
        False,
    ),
    (
        "429 wait within the budget",
        rate_limited(2.0),
        {"wait_s": 2.0, "remaining_s": 5.0},
        RETRY,
        "rate_limited",
        2.0,
        2.0,
        False,
    ),
    ("429 other key", rate_limited(), OTHER_KEY, ROTATE, "rate_limited", 0.0, 0.5, False),
    (
        "429 other key, retry-after over the cap",
        rate_limited(120.0),
        {"wait_s": 120.0, **OTHER_KEY},
        ROTATE,
        "rate_limited",
        0.0,
        120.0,
        False,
    ),
    (
        "429 other key, last attempt",
        rate_limited(),
        {**LAST, **OTHER_KEY},
        ROTATE,
        "rate_limited",
        0.0,
        0.5,
        False,
    ),
    (
        "429 other key, budget gone",
        rate_limited(),
        {"remaining_s": 0.1, **OTHER_KEY},
        ROTATE,
        "rate_limited",
        0.0,
        0.5,
        False,
    ),
    # -- QuotaExhausted: the key is dead for the call ------------------------------------
    (
        "quota other key",
        QuotaExhausted("insufficient_quota", status=429),
        OTHER_KEY,
        ROTATE,
        "rate_limited_non_retryable",
        0.0,
        None,
        True,
    ),
    (
        "quota no other key",
        QuotaExhausted("insufficient_quota", status=429),
        {},
        NEXT,
        "rate_limited_non_retryable",
        0.0,
        None,
        True,
    ),
    (
        "quota with retry-after is still not retried",
        QuotaExhausted("quota exhausted", status=429, retry_after=1.0),
        {"wait_s": 1.0},
        NEXT,
        "rate_limited_non_retryable",
        0.0,
        None,
        True,
    ),
    # -- AuthError: another key may work, this one will not ------------------------------
    (
        "auth other key",
        AuthError("401 invalid api key", status=401),
        OTHER_KEY,
        ROTATE,
        "non_retryable",
        0.0,
        None,
        True,
    ),
    (
        "auth no other key",
        AuthError("401 invalid api key", status=401),
        {},
        NEXT,
        "non_retryable",
        0.0,
        None,
        True,
    ),
    # -- other non-retryable errors: the next provider at once, attempts left or not ---
    ("invalid request", InvalidRequest("400 bad"), {}, NEXT, "non_retryable", 0.0, None, False),
    (
        "invalid request, other key",
        InvalidRequest("404 no such model"),
        OTHER_KEY,
        NEXT,
        "non_retryable",
        0.0,
        None,
        False,
    ),
    ("content blocked", ContentBlocked("refused"), {}, NEXT, "non_retryable", 0.0, None, False),
    (
        "capability",
        ProviderCapabilityError("no tools"),
        {},
        NEXT,
        "non_retryable",
        0.0,
        None,
        False,
    ),
    (
        "stream interrupted",
        StreamInterrupted("cut", partial_text="Hel"),
        {},
        NEXT,
        "non_retryable",
        0.0,
        None,
        False,
    ),
    ("config error", ConfigError("bad url"), {}, NEXT, "non_retryable", 0.0, None, False),
    (
        "nested chain failed",
        AllProvidersFailed("All providers/models failed. Attempts:"),
        {},
        NEXT,
        "non_retryable",
        0.0,
        None,
        False,
    ),
    # -- ContextWindowExceeded: the next model, never the same one ----------------------
    (
        "context window",
        ContextWindowExceeded("prompt is too long", status=400),
        {},
        NEXT_MODEL,
        "context_window",
        0.0,
        None,
        False,
    ),
    (
        "context window, other key, attempts left",
        ContextWindowExceeded("maximum context length", status=400),
        OTHER_KEY,
        NEXT_MODEL,
        "context_window",
        0.0,
        None,
        False,
    ),
    # -- transient failures: retried with the backoff; never a key rotation -------------
    ("503 attempts left", transient(), {}, RETRY, "retryable", 0.5, None, False),
    ("503 last attempt", transient(), LAST, NEXT, "retryable", 0.0, None, False),
    ("503 other key", transient(), OTHER_KEY, RETRY, "retryable", 0.5, None, False),
    (
        "503 retry-after over the cap",
        transient(60.0),
        {"wait_s": 60.0},
        NEXT,
        "retryable",
        0.0,
        None,
        False,
    ),
    (
        "503 retry-after under the cap",
        transient(3.0),
        {"wait_s": 3.0},
        RETRY,
        "retryable",
        3.0,
        None,
        False,
    ),
    (
        "503 budget too small",
        transient(),
        {"remaining_s": 0.4},
        NEXT,
        "retryable",
        0.0,
        None,
        False,
    ),
    ("503 budget gone", transient(), {"remaining_s": -1.0}, NEXT, "retryable", 0.0, None, False),
    ("503 budget enough", transient(), {"remaining_s": 0.6}, RETRY, "retryable", 0.5, None, False),
    ("bad body", InvalidResponse("not json"), {}, RETRY, "retryable", 0.5, None, False),
    ("bad body last", InvalidResponse("not json"), LAST, NEXT, "retryable", 0.0, None, False),
    # A nested chain that was only rate limited is itself a rate limit.
    (
        "nested chain rate limited",
        AllProvidersRateLimited("All providers/models failed. Attempts:", retry_after=4.0),
        {"wait_s": 4.0},
        RETRY,
        "rate_limited",
        4.0,
        4.0,
        False,
    ),
]


@pytest.mark.parametrize(
    ("error", "changes", "step", "reason", "wait_s", "cool_key_s", "retire_key"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_decide(error, changes, step, reason, wait_s, cool_key_s, retire_key):
    decision = decide(error, replace(BASE, **changes))
    assert decision.step is step
    assert decision.reason == reason
    assert decision.wait_s == wait_s
    assert decision.cool_key_s == cool_key_s
    assert decision.retire_key is retire_key
    assert decision.why  # every decision explains itself for the event log


def test_reason_matches_decide_for_every_row():
    for _, error, *_ in TABLE:
        assert reason_for(error) == decide(error, BASE).reason


@pytest.mark.parametrize(
    ("error", "changes", "why"),
    [
        (
            rate_limited(120.0),
            {"wait_s": 120.0},
            "server asks for 120s, more than max_retry_after_s",
        ),
        (transient(), {"remaining_s": 0.2}, "waiting 0.50s would exceed total_timeout_s"),
        (transient(), LAST, "retries exhausted"),
        (rate_limited(), OTHER_KEY, "rate limited; next key"),
        (rate_limited(), {}, "rate limited"),
        (transient(), {}, "transient failure"),
        (QuotaExhausted("quota"), {}, "no usable key left"),
        (QuotaExhausted("quota"), OTHER_KEY, "this key cannot be used"),
    ],
)
def test_why(error, changes, why):
    assert decide(error, replace(BASE, **changes)).why == why


def test_decide_is_pure():
    error = rate_limited(2.0)
    situation = replace(BASE, wait_s=2.0)
    assert decide(error, situation) == decide(error, situation)
    assert error.retry_after == 2.0
