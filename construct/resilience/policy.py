"""What to do after a failed attempt: a pure function of the error and the situation.

Kept apart from the loops that call providers and sleep, so every rule of
PROVIDERS.md L3-L5 is tested with plain values (STYLE.md: small strategies).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import (
    AuthError,
    ConstructError,
    ContextWindowExceeded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
)

__all__ = ["Decision", "Situation", "Step", "decide", "reason_for"]


class Step(Enum):
    RETRY = "retry"  # the same provider and key, after `wait_s`
    ROTATE_KEY = "rotate_key"  # the same provider with its next healthy key, at once
    NEXT_PROVIDER = "next_provider"  # give up on this provider for this model
    NEXT_MODEL = "next_model"  # give up on this model everywhere


@dataclass(frozen=True, slots=True)
class Situation:
    attempt: int  # attempts made on this model and provider, this one included
    max_attempts: int  # provider_retries + 1
    wait_s: float  # the backoff for this attempt, already raised to any Retry-After
    max_retry_after_s: float  # longer server waits are not slept on (L3)
    remaining_s: float | None  # time left of total_timeout_s, None without one
    other_key: bool  # another key of this provider is usable now


@dataclass(frozen=True, slots=True)
class Decision:
    step: Step
    reason: str  # the L6 reason written in the attempt line
    why: str  # a sentence for the event log
    wait_s: float = 0.0
    cool_key_s: float | None = None  # rest the key that failed this long
    retire_key: bool = False  # do not use the key that failed again in this call


def reason_for(error: BaseException) -> str:
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, QuotaExhausted):
        return "rate_limited_non_retryable"
    if isinstance(error, ContextWindowExceeded):
        return "context_window"
    if isinstance(error, ProviderError) and error.is_retryable:
        return "retryable"
    return "non_retryable"


def decide(error: BaseException, s: Situation) -> Decision:
    """The next step after `error` (a `ConstructError`; anything else is the caller's bug)."""
    reason = reason_for(error)
    if isinstance(error, ContextWindowExceeded):
        # L5: the same model will not fit; a fallback model may have a larger window.
        return Decision(Step.NEXT_MODEL, reason, "the prompt does not fit this model")
    if isinstance(error, (QuotaExhausted, AuthError)):
        # A key problem: another key may work, the same key will not.
        if s.other_key:
            return Decision(Step.ROTATE_KEY, reason, "this key cannot be used", retire_key=True)
        return Decision(Step.NEXT_PROVIDER, reason, "no usable key left", retire_key=True)
    if not (isinstance(error, ProviderError) and error.is_retryable):
        assert isinstance(error, ConstructError)
        return Decision(Step.NEXT_PROVIDER, reason, "retrying will not help")

    retry_after = error.retry_after
    cool = None
    if isinstance(error, RateLimited):
        cool = retry_after if retry_after is not None else s.wait_s
        if s.other_key:
            # L4: rotation really rotates, at once; this key rests.
            return Decision(Step.ROTATE_KEY, reason, "rate limited; next key", cool_key_s=cool)
    if retry_after is not None and retry_after > s.max_retry_after_s:
        why = f"server asks for {retry_after:g}s, more than max_retry_after_s"
        return Decision(Step.NEXT_PROVIDER, reason, why, cool_key_s=cool)
    if s.remaining_s is not None and s.wait_s >= s.remaining_s:
        why = f"waiting {s.wait_s:.2f}s would exceed total_timeout_s"
        return Decision(Step.NEXT_PROVIDER, reason, why, cool_key_s=cool)
    if s.attempt >= s.max_attempts:
        return Decision(Step.NEXT_PROVIDER, reason, "retries exhausted", cool_key_s=cool)
    why = "rate limited" if cool is not None else "transient failure"
    return Decision(Step.RETRY, reason, why, wait_s=s.wait_s, cool_key_s=cool)
