"""`ReliableProvider` over scripted fake providers (PROVIDERS.md L1-L10), on a fake clock.

Nothing sleeps: `time.sleep` and `asyncio.sleep` inside `construct.resilience.reliable`
are replaced by recorders that advance the fake clock, so every wait is asserted exactly.
The loopback tests (`test_reliable_loopback.py`) check the same rules over real sockets.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import construct.resilience.reliable as reliable_module
from construct.errors import (
    AllProvidersFailed,
    AllProvidersRateLimited,
    AuthError,
    ConstructError,
    ContextWindowExceeded,
    InvalidRequest,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from construct.providers.base import Provider
from construct.resilience import ReliableProvider
from construct.resilience.attempts import Attempt
from construct.secrets import Secret
from construct.types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ProviderCapabilities,
    StreamEvent,
)

REQ = ChatRequest((ChatMessage.user("hi"),))
MODES = ["sync", "async"]


# -- test doubles -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """A scripted stream: these text parts, then `error` (or the final event)."""

    parts: tuple[str, ...]
    error: ConstructError | None = None
    final: bool = True


Outcome = str | BaseException | Stream | ChatResponse | Callable[[str | None, Secret | None], Any]


class FakeProvider(Provider):
    """Answers from a script, one item per call; records (name, model, key last 4) per call."""

    def __init__(
        self,
        name: str,
        script: list[Outcome] | tuple[Outcome, ...] = (),
        *,
        calls: list[tuple[str, str | None, str | None]] | None = None,
        caps: ProviderCapabilities | None = None,
        on_call: Callable[[], None] | None = None,
        default_model: str | None = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.display_name = name.upper()
        self.base_url = f"https://{name}.example.test/v1"
        self.default_model = default_model
        self.script = list(script)
        self.calls = [] if calls is None else calls
        self.caps = caps or ProviderCapabilities()
        self.on_call = on_call
        self._key = Secret(key) if key else None

    def capabilities(self) -> ProviderCapabilities:
        return self.caps

    def _next(self, model: str | None) -> Any:
        self.calls.append((self.name, model, self._key.last4 if self._key else None))
        if self.on_call is not None:
            self.on_call()
        if not self.script:
            raise AssertionError(f"{self.name}: unexpected call for {model}")
        item = self.script.pop(0)
        if callable(item) and not isinstance(item, BaseException):
            item = item(model, self._key)
        return item

    def chat(self, request, model=None, temperature=None) -> ChatResponse:
        item = self._next(model)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ChatResponse):
            return item
        text = "".join(item.parts) if isinstance(item, Stream) else item
        return ChatResponse(text=text, model=model)

    async def achat(self, request, model=None, temperature=None) -> ChatResponse:
        await asyncio.sleep(0)
        return self.chat(request, model, temperature)

    def stream(self, request, model=None, temperature=None) -> Iterator[StreamEvent]:
        item = self._next(model)
        if isinstance(item, BaseException):
            raise item  # fails when the request is made, like an HTTP error status
        if isinstance(item, str):
            item = Stream((item,))
        return self._events(item, model)

    def _events(self, item: Stream, model: str | None) -> Iterator[StreamEvent]:
        for part in item.parts:
            yield StreamEvent.text(part)
        if item.error is not None:
            raise item.error
        if item.final:
            yield StreamEvent.final(ChatResponse(text="".join(item.parts), model=model))

    def astream(self, request, model=None, temperature=None) -> AsyncIterator[StreamEvent]:
        item = self._next(model)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            item = Stream((item,))
        return self._aevents(item, model)

    async def _aevents(self, item: Stream, model: str | None) -> AsyncIterator[StreamEvent]:
        for event in self._events(item, model):
            await asyncio.sleep(0)
            yield event


class RotatingProvider(FakeProvider):
    """A fake with a key it can swap (L4), like `HttpProvider.with_key`."""

    @property
    def key(self) -> Secret | None:
        return self._key

    def with_key(self, key: Secret | str) -> RotatingProvider:
        clone = copy.copy(self)  # shares the script and the call log
        clone._key = key if isinstance(key, Secret) else Secret(key)
        return clone


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Proxy:
    """A module stand-in: `sleep` replaced, every other attribute the real module's."""

    def __init__(self, module: Any, sleep: Callable[[float], Any]) -> None:
        self._module = module
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@dataclass
class Env:
    clock: Clock
    waits: list[float]
    calls: list[tuple[str, str | None, str | None]]

    def fake(self, name: str, *script: Outcome, **kw: Any) -> FakeProvider:
        return FakeProvider(name, list(script), calls=self.calls, **kw)

    def rotating(self, name: str, key: str, *script: Outcome, **kw: Any) -> RotatingProvider:
        return RotatingProvider(name, list(script), calls=self.calls, key=key, **kw)

    def reliable(self, *providers: Provider, **kw: Any) -> ReliableProvider:
        kw.setdefault("backoff_jitter", 0)
        kw.setdefault("circuit_breaker_threshold", 1000)
        return ReliableProvider(
            [(p.name, p) for p in providers], clock=self.clock, rand=lambda: 0.0, **kw
        )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    clock = Clock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    monkeypatch.setattr(reliable_module, "time", _Proxy(reliable_module.time, sleep))
    monkeypatch.setattr(reliable_module, "asyncio", _Proxy(asyncio, asleep))
    return Env(clock, waits, [])


def chat(provider: Provider, mode: str, model: str | None = "m", request=REQ) -> ChatResponse:
    if mode == "sync":
        return provider.chat(request, model)
    return asyncio.run(provider.achat(request, model))


def stream(provider: Provider, mode: str, model: str | None = "m", into=None) -> list[StreamEvent]:
    """Every event of a stream; `into` receives them as they come (to see them before a raise)."""
    events: list[StreamEvent] = [] if into is None else into
    if mode == "sync":
        for event in provider.stream(REQ, model):
            events.append(event)
        return events

    async def run() -> None:
        async for event in provider.astream(REQ, model):
            events.append(event)

    asyncio.run(run())
    return events


def failure(provider: Provider, mode: str, model: str | None = "m") -> AllProvidersFailed:
    with pytest.raises(AllProvidersFailed) as info:
        chat(provider, mode, model)
    return info.value


def transient(text: str = "503 overloaded") -> TransientError:
    return TransientError(text, status=503)


def rate_limited(retry_after: float | None = None) -> RateLimited:
    return RateLimited("429 Too Many Requests", status=429, retry_after=retry_after)


# -- L1: the chain ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_chain_order_is_models_then_providers_then_attempts(env, mode):
    a = env.fake("a", *[transient()] * 4)
    b = env.fake("b", *[transient()] * 4)
    provider = env.reliable(a, b, retries=1, model_fallbacks={"m1": ["m2"]})
    error = failure(provider, mode, "m1")
    assert env.calls == [
        ("a", "m1", None),
        ("a", "m1", None),
        ("b", "m1", None),
        ("b", "m1", None),
        ("a", "m2", None),
        ("a", "m2", None),
        ("b", "m2", None),
        ("b", "m2", None),
    ]
    assert [(x.provider, x.model, x.number, x.of) for x in error.attempts] == [
        (p, m, n, 2) for m in ("m1", "m2") for p in ("a", "b") for n in (1, 2)
    ]
    # The backoff starts again at the base for every (model, provider) pair.
    assert env.waits == [0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("mode", MODES)
def test_first_success_ends_the_chain(env, mode):
    a = env.fake("a", transient(), "hello")
    b = env.fake("b")
    response = chat(env.reliable(a, b, retries=2), mode)
    assert response.text == "hello"
    assert env.calls == [("a", "m", None), ("a", "m", None)]
    assert env.waits == [0.5]


def test_backoff_doubles_within_a_provider_and_resets_for_the_next(env):
    a = env.fake("a", *[transient()] * 4)
    b = env.fake("b", transient(), transient(), "ok")
    response = chat(env.reliable(a, b, retries=3, backoff_ms=500), "sync")
    assert response.text == "ok"
    assert env.waits == [0.5, 1.0, 2.0, 0.5, 1.0]


def test_backoff_below_50_ms_is_raised_to_50(env):
    a = env.fake("a", transient(), "ok")
    provider = env.reliable(a, retries=1, backoff_ms=1)
    assert provider.backoff_ms == 50
    chat(provider, "sync")
    assert env.waits == [0.05]


def test_jitter_comes_from_rand_and_only_shortens(env):
    a = FakeProvider("a", [transient(), "ok"], calls=env.calls)
    provider = ReliableProvider(
        [("a", a)], retries=1, backoff_ms=1000, clock=env.clock, rand=lambda: 1.0
    )
    chat(provider, "sync")
    assert env.waits == [0.75]


def test_zero_retries_means_one_attempt(env):
    a = env.fake("a", transient())
    b = env.fake("b", "ok")
    assert chat(env.reliable(a, b, retries=0), "sync").text == "ok"
    assert env.calls == [("a", "m", None), ("b", "m", None)]
    assert env.waits == []


def test_duplicate_fallback_models_are_tried_once(env):
    a = env.fake("a", transient(), transient(), "ok")
    provider = env.reliable(a, retries=0, model_fallbacks={"m": ["m", "m2", "m2", "m3"]})
    assert chat(provider, "sync").text == "ok"
    assert [m for _, m, _ in env.calls] == ["m", "m2", "m3"]


def test_only_the_requested_models_fallbacks_are_used(env):
    a = env.fake("a", transient(), transient())
    provider = env.reliable(a, retries=0, model_fallbacks={"m": ["m2"], "m2": ["m3"]})
    failure(provider, "sync")
    assert [m for _, m, _ in env.calls] == ["m", "m2"]  # no recursion into m2's list


def test_default_model_of_the_primary_is_used_without_a_model(env):
    a = env.fake("a", "ok", default_model="dm")
    provider = env.reliable(a)
    assert provider.default_model == "dm"
    chat(provider, "sync", None)
    assert env.calls == [("a", "dm", None)]


def test_no_model_at_all_is_an_invalid_request(env):
    provider = env.reliable(env.fake("a"))
    with pytest.raises(InvalidRequest, match="No model given"):
        chat(provider, "sync", None)
    assert env.calls == []


def test_a_provider_list_is_required():
    with pytest.raises(ConstructError, match="at least one"):
        ReliableProvider([])


# -- L5: non-retryable errors and context windows ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "error",
    [
        AuthError("401 invalid api key", status=401),
        InvalidRequest("400 bad request", status=400),
        QuotaExhausted("insufficient_quota", status=429),
    ],
    ids=lambda e: type(e).__name__,
)
def test_non_retryable_moves_to_the_next_provider_at_once(env, mode, error):
    a = env.fake("a", error)
    b = env.fake("b", "ok")
    response = chat(env.reliable(a, b, retries=3), mode)
    assert response.text == "ok"
    assert env.calls == [("a", "m", None), ("b", "m", None)]
    assert env.waits == []


@pytest.mark.parametrize("mode", MODES)
def test_context_window_moves_to_the_next_model_never_the_same(env, mode):
    a = env.fake("a", ContextWindowExceeded("prompt is too long", status=400), "big")
    b = env.fake("b")
    provider = env.reliable(a, b, retries=3, model_fallbacks={"small": ["large"]})
    response = chat(provider, mode, "small")
    assert (response.text, response.model, response.attempts) == ("big", "large", 2)
    # Neither a retry of `small` nor `small` on the next provider.
    assert env.calls == [("a", "small", None), ("a", "large", None)]
    assert env.waits == []


def test_context_window_without_a_larger_model_fails_with_that_reason(env):
    a = env.fake("a", ContextWindowExceeded("maximum context length is 8192", status=400))
    b = env.fake("b")
    error = failure(env.reliable(a, b, retries=2), "sync")
    assert [x.reason for x in error.attempts] == ["context_window"]
    assert error.attempts[0].error_type == "ContextWindowExceeded"
    assert env.calls == [("a", "m", None)]


# -- L3: Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_under_the_cap_is_waited(env, mode):
    a = env.fake("a", rate_limited(2.0), "ok")
    assert chat(env.reliable(a, retries=1), mode).text == "ok"
    assert env.waits == [2.0]


def test_retry_after_shorter_than_the_backoff_waits_the_backoff(env):
    a = env.fake("a", rate_limited(0.1), "ok")
    chat(env.reliable(a, retries=1, backoff_ms=500), "sync")
    assert env.waits == [0.5]


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_over_the_cap_is_not_waited_on(env, mode):
    a = env.fake("a", rate_limited(120.0))
    b = env.fake("b", "ok")
    response = chat(env.reliable(a, b, retries=2, max_retry_after_s=30), mode)
    assert response.provider == "b"
    assert env.calls == [("a", "m", None), ("b", "m", None)]
    assert env.waits == []


def test_retry_after_over_the_cap_with_nothing_left_raises_rate_limited(env):
    a = env.fake("a", rate_limited(120.0))
    with pytest.raises(RateLimited) as info:
        chat(env.reliable(a, retries=2), "sync")
    assert isinstance(info.value, AllProvidersRateLimited)
    assert info.value.retry_after == 120.0
    assert env.waits == []


def test_a_wait_beyond_the_budget_is_not_slept(env):
    a = env.fake("a", rate_limited(2.0))
    b = env.fake("b", "ok")
    response = chat(env.reliable(a, b, retries=2, total_timeout_s=1.0), "sync")
    assert response.provider == "b"
    assert env.waits == []


# -- L6: the failure message and .attempts ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_failure_message_lists_every_attempt_in_the_l6_format(env, mode):
    held = Secret("plainkey-held-by-process-9876")
    a = env.fake("a", transient("upstream 503:\n   overloaded    now"), transient("timed out"))
    b = env.fake(
        "b",
        AuthError(f"401 invalid key sk-live-0123456789abcdef or {held.reveal()}", status=401),
    )
    error = failure(env.reliable(a, b, retries=1), mode)
    assert str(error) == (
        "All providers/models failed. Attempts:\n"
        "provider=a model=m attempt 1/2: retryable; error=upstream 503: overloaded now\n"
        "provider=a model=m attempt 2/2: retryable; error=timed out\n"
        "provider=b model=m attempt 1/2: non_retryable; "
        "error=401 invalid key [REDACTED] or [REDACTED]"
    )
    assert "sk-live" not in str(error) and held.reveal() not in str(error)
    assert not isinstance(error, RateLimited)


def test_attempts_hold_the_same_as_data(env):
    a = env.fake("a", rate_limited(4.0), transient())
    b = env.fake("b", InvalidRequest("404 no such model", status=404))
    error = failure(env.reliable(a, b, retries=1), "sync")
    assert error.attempts == [
        Attempt(
            "a", "m", 1, 2, "rate_limited", "429 Too Many Requests", "RateLimited", 429, None, 4.0
        ),
        Attempt("a", "m", 2, 2, "retryable", "503 overloaded", "TransientError", 503),
        Attempt("b", "m", 1, 2, "non_retryable", "404 no such model", "InvalidRequest", 404),
    ]
    assert str(error).splitlines()[1:] == [x.line() for x in error.attempts]


def test_a_long_error_is_cut_in_its_line(env):
    a = env.fake("a", transient("x" * 900))
    error = failure(env.reliable(a, retries=0), "sync")
    assert error.attempts[0].error == "x" * 500 + "..."


@pytest.mark.parametrize("mode", MODES)
def test_every_attempt_rate_limited_raises_all_providers_rate_limited(env, mode):
    a = env.fake("a", rate_limited(7.0))
    b = env.fake("b", rate_limited(3.0))
    c = env.fake("c", rate_limited(None))
    error = failure(env.reliable(a, b, c, retries=0), mode)
    assert isinstance(error, AllProvidersRateLimited)
    assert isinstance(error, RateLimited) and isinstance(error, AllProvidersFailed)
    assert error.is_retryable
    assert error.retry_after == 3.0  # the soonest any of them may succeed
    assert [x.reason for x in error.attempts] == ["rate_limited"] * 3
    assert str(error).startswith("All providers/models failed. Attempts:\n")


def test_rate_limits_without_hints_give_no_retry_after(env):
    error = failure(env.reliable(env.fake("a", rate_limited()), retries=0), "sync")
    assert isinstance(error, AllProvidersRateLimited)
    assert error.retry_after is None


def test_one_other_failure_makes_it_a_plain_all_providers_failed(env):
    a = env.fake("a", rate_limited(2.0))
    b = env.fake("b", transient())
    error = failure(env.reliable(a, b, retries=0), "sync")
    assert not isinstance(error, RateLimited)
    assert error.retry_after is None


# -- L7: who answered -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_response_says_which_provider_model_and_how_many_tries(env, mode):
    a = env.fake("a", transient(), transient(), transient(), transient())
    b = env.fake("b", transient(), transient(), "ok")
    provider = ReliableProvider(
        [("primary", a), ("deepseek:work", b)],
        retries=1,
        model_fallbacks={"m": ["m2"]},
        clock=env.clock,
        backoff_jitter=0,
    )
    response = chat(provider, mode)
    assert (response.text, response.provider, response.model) == ("ok", "deepseek:work", "m2")
    assert response.attempts == 7


def test_first_try_success_has_one_attempt(env):
    response = chat(env.reliable(env.fake("a", "ok")), "sync")
    assert (response.provider, response.model, response.attempts) == ("a", "m", 1)


def test_the_model_the_provider_reports_is_kept(env):
    a = env.fake("a", ChatResponse(text="ok", model="m-2025-01-01"))
    response = chat(env.reliable(a), "sync")
    assert (response.provider, response.model) == ("a", "m-2025-01-01")


# -- L8: streams ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "broken",
    [
        transient("503 at request time"),
        Stream((), error=transient("reset before the first byte")),
        Stream((), final=False),  # an empty stream
    ],
    ids=["at-request", "before-first-event", "empty"],
)
def test_stream_failing_before_its_first_event_falls_back(env, mode, broken):
    a = env.fake("a", broken)
    b = env.fake("b", Stream(("Hel", "lo")))
    events = stream(env.reliable(a, b, retries=0), mode)
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo"]
    final = events[-1]
    assert final.type == "final"
    assert (final.response.text, final.response.provider) == ("Hello", "b")
    assert (final.response.model, final.response.attempts) == ("m", 2)
    assert env.calls == [("a", "m", None), ("b", "m", None)]


@pytest.mark.parametrize("mode", MODES)
def test_stream_retries_before_its_first_event_with_backoff(env, mode):
    a = env.fake("a", transient(), Stream(("ok",)))
    events = stream(env.reliable(a, retries=1), mode)
    assert events[-1].response.attempts == 2
    assert env.waits == [0.5]


@pytest.mark.parametrize("mode", MODES)
def test_stream_failing_after_its_first_event_raises_stream_interrupted(env, mode):
    a = env.fake("a", Stream(("Hel", "lo"), error=transient("connection reset")))
    b = env.fake("b", Stream(("never",)))
    seen: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted) as info:
        stream(env.reliable(a, b, retries=2), mode, into=seen)
    assert [e.delta for e in seen] == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert info.value.provider == "a"
    assert info.value.status == 503
    assert "connection reset" in str(info.value)
    assert env.calls == [("a", "m", None)]  # no retry, no fallback once output started


def test_a_stream_interrupted_from_the_provider_passes_through(env):
    own = StreamInterrupted("cut", partial_text="He", provider="a")
    a = env.fake("a", Stream(("He",), error=own))
    with pytest.raises(StreamInterrupted) as info:
        stream(env.reliable(a), "sync")
    assert info.value is own


@pytest.mark.parametrize("mode", MODES)
def test_stream_that_fails_everywhere_raises_all_providers_failed(env, mode):
    a = env.fake("a", transient())
    b = env.fake("b", AuthError("401", status=401))
    with pytest.raises(AllProvidersFailed) as info:
        stream(env.reliable(a, b, retries=0), mode)
    assert [x.reason for x in info.value.attempts] == ["retryable", "non_retryable"]


# -- L10 and the rest of the contract ---------------------------------------------------------


def test_capabilities_and_identity_are_the_primarys(env):
    caps = ProviderCapabilities(native_tool_calling=True, vision=True, streaming=True)
    a = env.fake("a", caps=caps, default_model="dm")
    b = env.fake("b", caps=ProviderCapabilities())
    provider = env.reliable(a, b)
    assert provider.capabilities() == caps
    assert provider.supports_native_tools() and provider.supports_vision()
    assert (provider.name, provider.display_name, provider.base_url) == (
        "a",
        "A",
        "https://a.example.test/v1",
    )
    assert provider.providers == [("a", a), ("b", b)]
    assert repr(provider) == "<ReliableProvider [a, b] retries=2>"


def test_warmup_survives_a_failing_provider(env, caplog):
    a = env.fake("a")
    a.warmup = lambda: (_ for _ in ()).throw(transient("down"))  # type: ignore[method-assign]
    b = env.fake("b")
    warmed = []
    b.warmup = lambda: warmed.append("b")  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="construct"):
        env.reliable(a, b).warmup()
    assert warmed == ["b"]
    assert "warmup of a failed" in caplog.text


def test_text_helpers_go_through_the_chain(env):
    a = env.fake("a", transient())
    b = env.fake("b", "from b")
    provider = env.reliable(a, b, retries=0)
    assert provider.chat_with_system("be brief", "hi", "m") == "from b"


# -- L4: key rotation -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_429_moves_the_very_next_attempt_to_the_next_key_at_once(env, mode):
    a = env.rotating("a", "key-primary-0001", rate_limited(), "ok")
    provider = env.reliable(a, retries=0, api_keys=["key-second-0002"])
    response = chat(provider, mode)
    assert response.text == "ok"
    assert env.calls == [("a", "m", "0001"), ("a", "m", "0002")]
    assert env.waits == []  # no sleep before the other key
    assert response.attempts == 2


def test_rotation_happens_even_when_retry_after_is_long(env):
    a = env.rotating("a", "key-primary-0001", rate_limited(120.0), "ok")
    b = env.fake("b")
    provider = env.reliable(a, b, retries=2, api_keys=["key-second-0002"])
    assert chat(provider, "sync").provider == "a"
    assert [k for *_, k in env.calls] == ["0001", "0002"]
    assert env.waits == []


def test_a_cooled_key_comes_back_after_its_cooldown(env):
    a = env.rotating("a", "key-primary-0001", rate_limited(10.0), "ok", rate_limited(1.0), "ok")
    provider = env.reliable(a, retries=0, api_keys=["key-second-0002"])
    chat(provider, "sync")  # 0001 cools for 10 s; 0002 answers
    error = failure(provider, "sync")  # 0002 cools for 1 s; 0001 is still cooling
    assert isinstance(error, AllProvidersRateLimited)
    assert error.retry_after == 1.0
    assert [k for *_, k in env.calls] == ["0001", "0002", "0002"]
    assert env.waits == []
    env.clock.advance(10.0)
    chat(provider, "sync")
    assert env.calls[-1][2] == "0001"


def test_every_key_cooling_raises_rate_limited_with_the_soonest_key(env):
    a = env.rotating("a", "key-primary-0001", rate_limited(8.0), rate_limited(5.0))
    provider = env.reliable(a, retries=0, api_keys=["key-second-0002"])
    error = failure(provider, "sync")
    assert isinstance(error, AllProvidersRateLimited)
    assert error.retry_after == 5.0
    with pytest.raises(AllProvidersRateLimited) as info:
        chat(provider, "sync")  # both keys still cooling: nothing is sent
    assert len(env.calls) == 2
    assert info.value.attempts[0].reason == "rate_limited"
    assert info.value.attempts[0].number == 0
    assert info.value.retry_after == 5.0


def test_quota_exhausted_retires_the_key_for_the_whole_call(env):
    a = env.rotating(
        "a",
        "key-primary-0001",
        QuotaExhausted("insufficient_quota", status=429),
        ContextWindowExceeded("prompt is too long", status=400),
        "ok",
    )
    provider = env.reliable(
        a, retries=0, api_keys=["key-second-0002"], model_fallbacks={"m": ["m2"]}
    )
    assert chat(provider, "sync").model == "m2"
    assert env.calls == [("a", "m", "0001"), ("a", "m", "0002"), ("a", "m2", "0002")]


def test_every_key_exhausted_moves_to_the_next_provider(env):
    quota = QuotaExhausted("quota exhausted", status=429)
    a = env.rotating("a", "key-primary-0001", quota, quota)
    b = env.fake("b", "ok", key="key-backup-bbbb")
    provider = env.reliable(a, b, retries=3, api_keys=["key-second-0002"])
    assert chat(provider, "sync").provider == "b"
    assert env.calls == [("a", "m", "0001"), ("a", "m", "0002"), ("b", "m", "bbbb")]
    assert env.waits == []


def test_an_auth_error_rotates_to_the_next_key(env):
    a = env.rotating("a", "key-primary-0001", AuthError("401 invalid api key", status=401), "ok")
    provider = env.reliable(a, retries=0, api_keys=["key-second-0002"])
    assert chat(provider, "sync").text == "ok"
    assert [k for *_, k in env.calls] == ["0001", "0002"]


def test_only_the_primary_rotates_keys(env):
    a = env.rotating("a", "key-primary-0001", transient(), transient())
    b = RotatingProvider("b", [rate_limited(), "ok"], calls=env.calls, key="key-backup-bbbb")
    provider = env.reliable(a, b, retries=1, api_keys=["key-second-0002"])
    assert chat(provider, "sync").provider == "b"
    # b keeps its own key: a fallback never receives the primary's keys.
    assert [(n, k) for n, _, k in env.calls] == [
        ("a", "0001"),
        ("a", "0001"),
        ("b", "bbbb"),
        ("b", "bbbb"),
    ]


def test_api_keys_are_ignored_with_a_warning_when_the_primary_cannot_switch(env, caplog):
    with caplog.at_level(logging.WARNING, logger="construct"):
        provider = env.reliable(env.fake("a", rate_limited(), "ok"), retries=1, api_keys=["k-2"])
    assert "api_keys ignored" in caplog.text
    chat(provider, "sync")
    assert env.waits == [0.5]


def test_rotation_is_bounded_when_keys_cool_faster_than_they_answer(env):
    # Each 429 takes longer than the cooldown it earns, so a key is always usable again:
    # the rotation must still end (at most retries+1 tries per key).
    def slow_429(model, key):
        env.clock.advance(20.0)
        return rate_limited(1.0)

    a = env.rotating("a", "key-primary-0001", *[slow_429] * 50)
    provider = env.reliable(a, retries=1, api_keys=["key-second-0002"])
    error = failure(provider, "sync")
    assert isinstance(error, AllProvidersRateLimited)
    assert len(env.calls) == 4
    assert [k for *_, k in env.calls][:3] == ["0001", "0002", "0001"]


def test_the_key_used_is_in_the_attempt_record_as_its_last_four(env):
    a = env.rotating("a", "key-primary-0001", rate_limited(), transient())
    provider = env.reliable(a, retries=0, api_keys=["key-second-0002"])
    error = failure(provider, "sync")
    assert [x.key for x in error.attempts] == ["…0001", "…0002"]
    assert "key-primary" not in str(error.attempts)


# -- L9: circuit breaker and budget -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_circuit_opens_after_n_failures_skips_and_closes_after_the_cooldown(env, mode):
    a = env.fake("a", transient(), transient(), "healed")
    b = env.fake("b", "b1", "b2", transient())
    provider = env.reliable(
        a, b, retries=0, circuit_breaker_threshold=2, circuit_breaker_cooldown_s=30.0
    )
    assert chat(provider, mode).text == "b1"
    assert provider.circuit_state("a") == "closed"
    assert chat(provider, mode).text == "b2"
    assert provider.circuit_state("a") == "open"
    error = failure(provider, mode)  # a is skipped, b fails
    assert str(error).splitlines()[1:] == [
        "provider=a model=m attempt 0/1: circuit_open; error=circuit open for 30.0s more",
        "provider=b model=m attempt 1/1: retryable; error=503 overloaded",
    ]
    assert [n for n, *_ in env.calls] == ["a", "b", "a", "b", "b"]
    env.clock.advance(30.0)
    assert provider.circuit_state("a") == "half_open"
    assert chat(provider, mode).text == "healed"  # the trial call closes it
    assert provider.circuit_state("a") == "closed"


def test_non_retryable_failures_do_not_open_the_circuit(env):
    a = env.fake("a", *[AuthError("401", status=401)] * 3)
    b = env.fake("b", "ok", "ok", "ok")
    provider = env.reliable(a, b, retries=0, circuit_breaker_threshold=2)
    for _ in range(3):
        chat(provider, "sync")
    assert provider.circuit_state("a") == "closed"
    assert [n for n, *_ in env.calls] == ["a", "b"] * 3


def test_a_trial_ending_in_a_non_retryable_error_does_not_wedge_the_circuit(env):
    a = env.fake("a", transient(), InvalidRequest("400 bad", status=400), "healed")
    b = env.fake("b", "b1", "b2")
    provider = env.reliable(
        a, b, retries=0, circuit_breaker_threshold=1, circuit_breaker_cooldown_s=30.0
    )
    chat(provider, "sync")
    assert provider.circuit_state("a") == "open"
    env.clock.advance(30.0)
    assert chat(provider, "sync").text == "b2"  # the trial got a 400
    assert chat(provider, "sync").text == "healed"  # so the next call may try again
    assert provider.circuit_state("a") == "closed"


def test_a_stream_trial_that_started_closes_the_circuit(env):
    a = env.fake("a", transient(), Stream(("He", "llo"), error=transient("reset")))
    b = env.fake("b", "b1")
    provider = env.reliable(
        a, b, retries=0, circuit_breaker_threshold=1, circuit_breaker_cooldown_s=30.0
    )
    chat(provider, "sync")
    env.clock.advance(30.0)
    with pytest.raises(StreamInterrupted):
        stream(provider, "sync")
    assert provider.circuit_state("a") == "closed"  # it answered; it is not down


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_stops_the_chain(env, mode):
    a = env.fake("a", *[transient()] * 6, on_call=lambda: env.clock.advance(6.0))
    b = env.fake("b", "never")
    provider = env.reliable(a, b, retries=5, total_timeout_s=10.0)
    error = failure(provider, mode)
    assert [n for n, *_ in env.calls] == ["a", "a"]
    assert env.waits == [0.5]
    assert str(error).splitlines()[-1] == (
        "provider=b model=m attempt 0/6: timeout; error=total_timeout_s (10s) exhausted"
    )
    assert not isinstance(error, RateLimited)
