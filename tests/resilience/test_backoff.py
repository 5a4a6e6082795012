"""Backoff and the Retry-After wait (PROVIDERS.md L2-L3), as tenacity wait strategies."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState

from construct.errors import RateLimited, TransientError
from construct.resilience.backoff import (
    MIN_BACKOFF_MS,
    backoff_seconds,
    wait_backoff,
    wait_retry_after,
)


def state(attempt: int, error: BaseException | None = None) -> RetryCallState:
    s = RetryCallState(None, None, (), {})
    s.attempt_number = attempt
    if error is not None:
        s.set_exception((type(error), error, None))
    return s


def test_base_doubles_then_caps_at_ten_seconds():
    waits = [backoff_seconds(500, n, jitter=0) for n in range(1, 8)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_base_is_at_least_50_ms():
    assert MIN_BACKOFF_MS == 50
    assert backoff_seconds(0, 1, jitter=0) == 0.05
    assert backoff_seconds(10, 1, jitter=0) == 0.05
    assert backoff_seconds(10, 2, jitter=0) == 0.1
    assert backoff_seconds(51, 1, jitter=0) == 0.051


def test_attempt_zero_or_below_is_the_base():
    assert backoff_seconds(500, 0, jitter=0) == 0.5


@pytest.mark.parametrize("r", [0.0, 0.3, 0.999999])
def test_jitter_only_shortens_and_by_at_most_25_percent(r):
    for attempt in range(1, 8):
        plain = backoff_seconds(500, attempt, jitter=0)
        jittered = backoff_seconds(500, attempt, jitter=0.25, rand=lambda r=r: r)
        assert plain * 0.75 <= jittered <= plain
        assert jittered == pytest.approx(plain * (1 - 0.25 * r))


def test_jitter_of_the_cap_stays_under_the_cap():
    assert backoff_seconds(500, 20, rand=lambda: 0.0) == 10.0
    assert backoff_seconds(500, 20, rand=lambda: 1.0) == 7.5


def test_zero_jitter_disables_it_and_never_draws():
    def boom() -> float:
        raise AssertionError("rand called with jitter 0")

    assert backoff_seconds(500, 3, jitter=0, rand=boom) == 2.0


def test_jitter_above_one_cannot_make_a_negative_wait():
    assert backoff_seconds(500, 1, jitter=5, rand=lambda: 1.0) == 0.0


def test_wait_backoff_uses_the_attempt_number():
    wait = wait_backoff(500, jitter=0)
    assert [wait(state(n)) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_wait_backoff_draws_its_jitter_from_rand():
    wait = wait_backoff(1000, jitter=0.25, rand=lambda: 0.5)
    assert wait(state(1)) == pytest.approx(0.875)


def test_retry_after_longer_than_the_backoff_wins():
    wait = wait_retry_after(wait_backoff(500, jitter=0))
    assert wait(state(1, RateLimited("429", retry_after=3.0))) == 3.0


def test_retry_after_never_shortens_the_backoff():
    wait = wait_retry_after(wait_backoff(500, jitter=0))
    assert wait(state(1, RateLimited("429", retry_after=0.1))) == 0.5
    assert wait(state(3, RateLimited("429", retry_after=0))) == 2.0


def test_retry_after_is_not_capped_here():
    # The cap (max_retry_after_s) is policy: a longer wait is not slept on at all.
    wait = wait_retry_after(wait_backoff(500, jitter=0))
    assert wait(state(1, TransientError("503", retry_after=120.0))) == 120.0


def test_without_retry_after_it_is_the_backoff():
    wait = wait_retry_after(wait_backoff(500, jitter=0))
    assert wait(state(2, TransientError("503"))) == 1.0
    assert wait(state(2)) == 1.0  # no outcome recorded yet


def test_retry_after_applies_to_the_jittered_backoff():
    wait = wait_retry_after(wait_backoff(4000, jitter=0.25, rand=lambda: 1.0))
    assert wait(state(1, RateLimited("429", retry_after=1.0))) == 3.0
    assert wait(state(1, RateLimited("429", retry_after=3.5))) == 3.5
