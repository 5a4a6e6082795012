"""`ReliableProvider`: retries, backoff, Retry-After, key rotation, provider and model fallbacks.

The chain (PROVIDERS.md L1): for each model in `[model] + model_fallbacks[model]`,
for each provider in order, up to `retries + 1` attempts. After each failure the
pure `policy.decide` says what comes next; `_Call` walks the chain and keeps the
record, and the sync, async and streaming drivers are thin loops around it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState

from .. import events
from ..errors import (
    AllProvidersFailed,
    AllProvidersRateLimited,
    ConfigError,
    ConstructError,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    StreamInterrupted,
    TransientError,
)
from ..options import check_model, check_temperature
from ..providers.base import Provider
from ..secrets import Secret, scrub_secret_patterns
from ..transport import deadline
from ..types import ChatRequest, ChatResponse, ModelEntry, ProviderCapabilities, StreamEvent
from .attempts import Attempt, failure_message
from .backoff import MIN_BACKOFF_MS, wait_backoff, wait_retry_after
from .circuit import CircuitBreaker
from .keys import KeyPool
from .policy import Decision, Situation, Step, decide

__all__ = ["ReliableProvider"]

log = logging.getLogger("construct")


@dataclass(slots=True)  # not frozen: one is made per attempt, and frozen init is slower
class _Try:
    name: str
    provider: Provider
    model: str
    number: int
    of: int
    key_index: int | None
    key: str | None  # "…abcd"
    wait_s: float  # sleep this long before sending


class ReliableProvider(Provider):
    """A provider that keeps answering while the providers it holds fail."""

    def __init__(
        self,
        providers: Sequence[tuple[str, Provider]],
        *,
        retries: int = 2,
        backoff_ms: float = 500,
        api_keys: Sequence[str | Secret] = (),
        model_fallbacks: Mapping[str, Sequence[str]] | None = None,
        backoff_jitter: float = 0.25,
        max_retry_after_s: float = 30.0,
        total_timeout_s: float | None = None,
        circuit_breaker_threshold: int = 5,
        circuit_breaker_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not providers:
            raise ConfigError("ReliableProvider needs at least one (name, provider) pair")
        self._providers = [(str(name), provider) for name, provider in providers]
        primary = self._providers[0][1]
        self.name = primary.name
        self.display_name = primary.display_name
        self.base_url = primary.base_url
        self.default_model = primary.default_model
        # Informational: each inner provider applies its own when a call passes none.
        self.default_temperature = primary.default_temperature
        self.retries = max(0, int(retries))
        self.backoff_ms = max(float(backoff_ms), MIN_BACKOFF_MS)
        self.max_retry_after_s = max_retry_after_s
        self.total_timeout_s = total_timeout_s
        self.model_fallbacks = {k: list(v) for k, v in (model_fallbacks or {}).items()}
        self._clock = clock
        self._wait = wait_retry_after(wait_backoff(self.backoff_ms, backoff_jitter, rand))
        self._pool = self._key_pool(primary, api_keys, clock)
        self._breakers = {
            name: CircuitBreaker(
                circuit_breaker_threshold,
                circuit_breaker_cooldown_s,
                clock,
                on_change=self._circuit_event(name),
            )
            for name, _ in self._providers
        }

    @staticmethod
    def _key_pool(
        primary: Provider, api_keys: Sequence[str | Secret], clock: Callable[[], float]
    ) -> KeyPool | None:
        extra = [k if isinstance(k, Secret) else Secret(k) for k in api_keys if str(k).strip()]
        if not extra:
            return None
        if not hasattr(primary, "with_key"):
            log.warning("api_keys ignored: %s cannot switch keys", type(primary).__name__)
            return None
        own = getattr(primary, "key", None)
        return KeyPool(([own] if own is not None else []) + extra, clock)

    @staticmethod
    def _circuit_event(name: str) -> Callable[[str, str], None]:
        def changed(old: str, new: str) -> None:
            events.emit("circuit", f"{name}: circuit {old} -> {new}", provider=name, state=new)

        return changed

    @property
    def providers(self) -> list[tuple[str, Provider]]:
        return list(self._providers)

    @property
    def rotating_keys(self) -> int:
        """How many keys the primary rotates through on rate limits (0: no rotation, L4)."""
        return len(self._pool) if self._pool is not None else 0

    def circuit_state(self, name: str) -> str:
        return self._breakers[name].state

    def capabilities(self) -> ProviderCapabilities:
        return self._providers[0][1].capabilities()  # L10: the primary's, never all-false

    def __repr__(self) -> str:
        names = ", ".join(name for name, _ in self._providers)
        return f"<ReliableProvider [{names}] retries={self.retries}>"

    # -- chat -------------------------------------------------------------------

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        call = _Call(self, self._model(model))
        temperature = _temperature(temperature)
        for t in call:
            if t.wait_s:
                time.sleep(t.wait_s)
            try:
                with deadline(call.deadline):
                    response = t.provider.chat(request, t.model, temperature)
            except ConstructError as exc:
                call.failed(t, exc)
                continue
            return call.succeeded(t, response)
        raise call.final_error()

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        call = _Call(self, self._model(model))
        temperature = _temperature(temperature)
        for t in call:
            if t.wait_s:
                await asyncio.sleep(t.wait_s)
            try:
                with deadline(call.deadline):
                    response = await _bounded(t.provider.achat(request, t.model, temperature), call)
            except ConstructError as exc:
                call.failed(t, exc)
                continue
            return call.succeeded(t, response)
        raise call.final_error()

    # -- streams (L8: fall back only before the first event) --------------------------

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        return self._stream(_Call(self, self._model(model)), request, _temperature(temperature))

    def _stream(
        self, call: _Call, request: ChatRequest, temperature: float | None
    ) -> Iterator[StreamEvent]:
        for t in call:
            if t.wait_s:
                time.sleep(t.wait_s)
            try:
                with deadline(call.deadline):
                    events_ = iter(t.provider.stream(request, t.model, temperature))
                    first = next(events_, None)
                if first is None:
                    raise _empty_stream(t)
            except ConstructError as exc:
                call.failed(t, exc)
                continue
            relay = _Relay(call, t)
            yield relay.event(first)
            try:
                for event in events_:
                    yield relay.event(event)
            except ProviderError as exc:
                raise relay.interrupted(exc) from exc
            return
        raise call.final_error()

    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        return self._astream(_Call(self, self._model(model)), request, _temperature(temperature))

    async def _astream(
        self, call: _Call, request: ChatRequest, temperature: float | None
    ) -> AsyncIterator[StreamEvent]:
        for t in call:
            if t.wait_s:
                await asyncio.sleep(t.wait_s)
            try:
                with deadline(call.deadline):
                    events_ = t.provider.astream(request, t.model, temperature).__aiter__()
                    first = await _bounded(anext(events_, None), call)
                if first is None:
                    raise _empty_stream(t)
            except ConstructError as exc:
                call.failed(t, exc)
                continue
            relay = _Relay(call, t)
            yield relay.event(first)
            try:
                async for event in events_:
                    yield relay.event(event)
            except ProviderError as exc:
                raise relay.interrupted(exc) from exc
            return
        raise call.final_error()

    # -- the rest of the contract ---------------------------------------------------

    def _model(self, model: str | None) -> str:
        chosen = check_model(model) or self.default_model
        if not chosen:
            raise InvalidRequest(
                "No model given: pass model=, set default_model in config.toml, or give the "
                "[[model_routes]] entry that chose this provider a model.",
                provider=self.name,
            )
        return chosen

    def list_models(self) -> list[ModelEntry]:
        return self._providers[0][1].list_models()

    async def alist_models(self) -> list[ModelEntry]:
        return await self._providers[0][1].alist_models()

    def warmup(self) -> None:
        for name, provider in self._providers:
            try:
                provider.warmup()
            except ConstructError as exc:
                log.warning("warmup of %s failed: %s", scrub_secret_patterns(name), exc)

    async def awarmup(self) -> None:
        for name, provider in self._providers:
            try:
                await provider.awarmup()
            except ConstructError as exc:
                log.warning("warmup of %s failed: %s", scrub_secret_patterns(name), exc)

    def close(self) -> None:
        for _, provider in self._providers:
            provider.close()

    async def aclose(self) -> None:
        for _, provider in self._providers:
            await provider.aclose()


def _temperature(temperature: float | None) -> float | None:
    # A bad value is the caller's mistake, not a provider's failure: refused here, it is
    # not retried, and the caller gets the InvalidArgument itself.
    return None if temperature is None else check_temperature(temperature)


async def _bounded(awaitable: Any, call: _Call) -> Any:
    """Await under the call's remaining budget: asyncio can cut what a socket timeout cannot."""
    remaining = call.remaining()
    if remaining is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, max(remaining, 0.001))
    except TimeoutError:
        raise TransientError(
            f"total_timeout_s ({call.owner.total_timeout_s:g}s) ran out during the attempt"
        ) from None


def _circuit_why(breaker: CircuitBreaker) -> str:
    if breaker.state == "open":
        return f"circuit open for {breaker.retry_in():.1f}s more"
    return "circuit half-open, its trial call is still out"


def _empty_stream(t: _Try) -> InvalidResponse:
    return InvalidResponse(f"{t.name} ended the stream without any event", provider=t.name)


class _Relay:
    """Passes a chosen stream through, stamping the final response (L7) and the partial text."""

    __slots__ = ("call", "text", "try_")

    def __init__(self, call: _Call, try_: _Try) -> None:
        self.call = call
        self.try_ = try_
        self.text: list[str] = []
        # The provider is answering: a trial stream closes the circuit even if it breaks later.
        call.owner._breakers[try_.name].success()

    def event(self, event: StreamEvent) -> StreamEvent:
        if event.type == "text_delta":
            self.text.append(event.delta)
        elif event.type == "final" and event.response is not None:
            return StreamEvent.final(self.call.succeeded(self.try_, event.response))
        return event

    def interrupted(self, exc: ProviderError) -> StreamInterrupted:
        if isinstance(exc, StreamInterrupted):
            return exc
        return StreamInterrupted(
            f"{self.try_.name} stream failed after output had started: {exc.message}",
            provider=self.try_.name,
            status=exc.status,
            partial_text="".join(self.text),
        )


class _Call:
    """One call's walk down the chain: yields `_Try`s, told how each ended."""

    def __init__(self, owner: ReliableProvider, model: str) -> None:
        self.owner = owner
        self.model = model
        fallbacks = owner.model_fallbacks.get(model)
        self.models = list(dict.fromkeys([model, *fallbacks])) if fallbacks else [model]
        self.attempts: list[Attempt] = []
        self.sent = 0
        start = owner._clock()
        total = owner.total_timeout_s
        self.deadline = start + total if total else None
        self.retired: set[int] = set()
        self._decision: Decision | None = None
        self._done = False

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - self.owner._clock()

    def __iter__(self) -> Iterator[_Try]:
        owner = self.owner
        for model in self.models:
            for index, (name, provider) in enumerate(owner._providers):
                if self._out_of_time(name, model):
                    return
                breaker = owner._breakers[name]
                if not breaker.allow():
                    self._skip(name, model, _circuit_why(breaker))
                    continue
                pool = owner._pool if index == 0 else None
                step = yield from self._attempts(name, provider, model, pool)
                if self._done:
                    return
                if step is Step.NEXT_MODEL:
                    break
            if model != self.models[-1]:
                events.emit(
                    "fallback",
                    f"model {model} failed on every provider; next model",
                    model=model,
                )

    def _attempts(
        self, name: str, provider: Provider, model: str, pool: KeyPool | None
    ) -> Iterator[_Try]:
        """Tries of one model on one provider; returns the step that ended them."""
        of = self.owner.retries + 1
        key_index, key = None, None
        if pool is not None:
            picked = pool.pick(self.retired)
            if picked is None:
                self.owner._breakers[name].release()  # nothing was sent on its trial
                self._skip(name, model, "every key is cooling down or unusable", "rate_limited")
                return Step.NEXT_PROVIDER
            key_index, secret = picked
            key = "…" + secret.last4
            provider = provider.with_key(secret)  # type: ignore[attr-defined]
        number, wait = 0, 0.0
        while True:
            number += 1
            self._decision = None
            if events.enabled("attempt"):
                events.emit(
                    "attempt",
                    f"{name} {model} attempt {number}/{of}" + (f" key {key}" if key else ""),
                    provider=name,
                    model=model,
                    attempt=number,
                    key=key,
                )
            yield _Try(name, provider, model, number, of, key_index, key, wait)
            decision, wait = self._decision, 0.0
            if decision is None:  # success
                self._done = True
                return None
            if pool is not None and key_index is not None:
                if decision.cool_key_s:
                    pool.cool(key_index, decision.cool_key_s)
                if decision.retire_key:
                    self.retired.add(key_index)
            if decision.step is Step.ROTATE_KEY and pool is not None:
                picked = pool.pick(self.retired)
                if picked is None:
                    return Step.NEXT_PROVIDER
                key_index, secret = picked
                old, key = key, "…" + secret.last4
                provider = provider.with_key(secret)  # type: ignore[attr-defined]
                of += 1  # a rotation does not use up a retry
                events.emit(
                    "key_rotation",
                    f"{name}: {decision.why}: key {old} -> {key}",
                    provider=name,
                    model=model,
                    old=old,
                    new=key,
                )
                continue
            if decision.step is Step.RETRY and self.owner._breakers[name].state == "open":
                # This failure opened the circuit: no more retries against it.
                events.emit(
                    "fallback",
                    f"{name} {model}: circuit opened; moving on",
                    provider=name,
                    model=model,
                    why="circuit opened",
                )
                return Step.NEXT_PROVIDER
            if decision.step is Step.RETRY:
                wait = decision.wait_s
                events.emit(
                    "retry",
                    f"{name} {model}: {decision.why}; retrying in {wait:.2f}s",
                    provider=name,
                    model=model,
                    wait_s=wait,
                    why=decision.why,
                )
                continue
            events.emit(
                "fallback",
                f"{name} {model}: {decision.why}; moving on",
                provider=name,
                model=model,
                why=decision.why,
            )
            return decision.step

    def _out_of_time(self, name: str, model: str) -> bool:
        remaining = self.remaining()
        if remaining is None or remaining > 0:
            return False
        self._skip(
            name, model, f"total_timeout_s ({self.owner.total_timeout_s:g}s) exhausted", "timeout"
        )
        return True

    def _skip(self, name: str, model: str, why: str, reason: str = "circuit_open") -> None:
        self.attempts.append(Attempt(name, model, 0, self.owner.retries + 1, reason, why))
        events.emit("fallback", f"{name} {model}: skipped: {why}", provider=name, model=model)

    def failed(self, t: _Try, error: ConstructError) -> None:
        self.sent += 1
        owner = self.owner
        state = RetryCallState(None, None, (), {})
        state.attempt_number = t.number
        state.set_exception((type(error), error, error.__traceback__))
        pool = owner._pool if t.key_index is not None else None
        # A rotation uses no retry, but a pair gets at most (retries + 1) tries per key:
        # keys whose cooldowns end faster than they answer would otherwise rotate forever.
        other_key = (
            pool is not None
            and t.of < (owner.retries + 1) * len(pool)
            and pool.available(self.retired | {t.key_index})
        )
        situation = Situation(
            attempt=t.number,
            max_attempts=t.of,
            wait_s=owner._wait(state),
            max_retry_after_s=owner.max_retry_after_s,
            remaining_s=self.remaining(),
            other_key=other_key,
        )
        decision = decide(error, situation)
        self._decision = decision
        self.attempts.append(
            Attempt.of_error(t.name, t.model, t.number, t.of, decision.reason, error, t.key)
        )
        if decision.reason == "retryable":
            owner._breakers[t.name].failure()
        else:
            # A 4xx says nothing about an outage, and a rate limit cools its key instead
            # (L4): neither opens the circuit, and a half-open trial must not stay out.
            owner._breakers[t.name].release()

    def succeeded(self, t: _Try, response: ChatResponse) -> ChatResponse:
        self.owner._breakers[t.name].success()
        self._decision = None
        self._done = True
        if events.enabled("success"):
            events.emit(
                "success",
                f"{t.name} {t.model} answered after {self.sent + 1} attempt(s)",
                provider=t.name,
                model=t.model,
            )
        # Built directly: dataclasses.replace costs more than the rest of this method.
        r = response
        return ChatResponse(
            r.text,
            r.tool_calls,
            r.usage,
            r.stop_reason,
            r.reasoning_content,
            r.model or t.model,
            t.name,
            self.sent + 1,
            r.cost_usd,
        )

    def final_error(self) -> AllProvidersFailed:
        attempts = self.attempts
        message = failure_message(attempts)
        events.emit("failure", message.replace("\n", " | "), model=self.model)
        sent = [a for a in attempts if a.number > 0]
        # Skips because every key was cooling count too: waiting is the answer (L3).
        if attempts and all(a.reason == "rate_limited" for a in attempts):
            hints = [a.retry_after for a in sent if a.retry_after is not None]
            pool = self.owner._pool
            soonest = pool.soonest_ready() if pool is not None else None
            candidates = [*hints, *([soonest] if soonest else [])]
            return AllProvidersRateLimited(
                message, attempts=attempts, retry_after=min(candidates) if candidates else None
            )
        return AllProvidersFailed(message, attempts=attempts)
