"""The per-provider circuit breaker (PROVIDERS.md L9), on a fake clock."""

from __future__ import annotations

from construct.resilience.circuit import CircuitBreaker


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, cooldown_s: float = 30.0):
    clock = Clock()
    changes: list[tuple[str, str]] = []
    b = CircuitBreaker(threshold, cooldown_s, clock, on_change=lambda o, n: changes.append((o, n)))
    return b, clock, changes


def open_it(b: CircuitBreaker) -> None:
    for _ in range(b.threshold):
        assert b.allow()
        b.failure()


def test_starts_closed_and_lets_everything_through():
    b, _, changes = breaker()
    assert b.state == "closed"
    assert all(b.allow() for _ in range(10))
    assert b.retry_in() == 0.0
    assert changes == []


def test_opens_after_threshold_consecutive_failures():
    b, _, changes = breaker(threshold=3)
    b.failure()
    b.failure()
    assert b.state == "closed"
    assert b.allow()
    b.failure()
    assert b.state == "open"
    assert not b.allow()
    assert changes == [("closed", "open")]


def test_a_success_resets_the_count():
    b, _, changes = breaker(threshold=3)
    for _ in range(5):
        b.failure()
        b.failure()
        b.success()
    assert b.state == "closed"
    assert changes == []  # success in the closed state changes nothing


def test_threshold_is_at_least_one():
    b, _, _ = breaker(threshold=0)
    assert b.threshold == 1
    b.failure()
    assert b.state == "open"


def test_retry_in_counts_down_the_cooldown():
    b, clock, _ = breaker(cooldown_s=30.0)
    open_it(b)
    assert b.retry_in() == 30.0
    clock.now += 12.0
    assert b.retry_in() == 18.0
    assert not b.allow()


def test_half_open_after_the_cooldown_lets_exactly_one_trial_through():
    b, clock, changes = breaker(cooldown_s=30.0)
    open_it(b)
    clock.now += 29.5
    assert not b.allow()
    clock.now += 0.5
    assert b.state == "half_open"
    assert changes == [("closed", "open"), ("open", "half_open")]
    assert b.allow() is True
    assert [b.allow() for _ in range(5)] == [False] * 5  # the trial is out
    assert b.retry_in() == 0.0


def test_trial_success_closes_the_circuit():
    b, clock, changes = breaker()
    open_it(b)
    clock.now += 30.0
    assert b.allow()
    b.success()
    assert b.state == "closed"
    assert all(b.allow() for _ in range(3))
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    # The count starts again from zero.
    b.failure()
    b.failure()
    assert b.state == "closed"


def test_trial_failure_reopens_for_a_whole_cooldown():
    b, clock, changes = breaker(threshold=3, cooldown_s=30.0)
    open_it(b)
    clock.now += 30.0
    assert b.allow()
    b.failure()  # one failure is enough in half-open state
    assert b.state == "open"
    assert b.retry_in() == 30.0
    assert not b.allow()
    clock.now += 30.0
    assert b.allow()
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
    ]


def test_a_released_trial_lets_the_next_call_try():
    # A trial that ended without saying anything about the provider's health (a 400, a
    # key problem found before sending) must not keep the circuit half-open forever.
    b, clock, _ = breaker()
    open_it(b)
    clock.now += 30.0
    assert b.allow()
    assert not b.allow()
    b.release()
    assert b.state == "half_open"
    assert b.allow()


def test_a_trial_never_reported_expires_after_a_cooldown():
    # A cancelled task or an abandoned stream never calls success() or failure().
    b, clock, _ = breaker(cooldown_s=30.0)
    open_it(b)
    clock.now += 30.0
    assert b.allow()
    clock.now += 29.0
    assert not b.allow()
    clock.now += 1.0
    assert b.allow()
    assert not b.allow()


def test_release_in_the_closed_state_changes_nothing():
    b, _, changes = breaker(threshold=2)
    b.failure()
    b.release()
    b.failure()
    assert b.state == "open"
    assert changes == [("closed", "open")]


def test_on_change_may_read_the_state_without_deadlocking():
    seen: list[str] = []
    clock = Clock()
    holder: list[CircuitBreaker] = []
    b = CircuitBreaker(1, 30.0, clock, on_change=lambda old, new: seen.append(holder[0].state))
    holder.append(b)
    b.failure()
    clock.now += 30.0
    assert b.allow()
    b.success()
    assert seen == ["open", "half_open", "closed"]
