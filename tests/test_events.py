"""`construct.events`: what the resilience layer reports, to callbacks and to `logging`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from construct import events
from construct.errors import AllProvidersFailed, RateLimited, TransientError
from construct.events import Event

from .resilience import test_reliable_unit as unit
from .resilience.test_reliable_unit import Env, RotatingProvider, chat

# The fake clock and recorded sleeps of the ReliableProvider unit tests.
env = unit.env

PRIMARY_KEY = "key-primary-secret-0001"
SECOND_KEY = "key-second-secret-0002"


@pytest.fixture
def seen() -> Iterator[list[Event]]:
    got: list[Event] = []
    unsubscribe = events.subscribe(got.append)
    try:
        yield got
    finally:
        unsubscribe()


def test_subscribe_and_unsubscribe():
    got: list[Event] = []
    unsubscribe = events.subscribe(got.append)
    events.emit("retry", "one", provider="p", model="m", wait_s=1.5)
    unsubscribe()
    events.emit("retry", "two")
    unsubscribe()  # twice is harmless
    assert got == [Event("retry", "one", "p", "m", {"wait_s": 1.5})]


def test_every_listener_gets_every_event(seen):
    other: list[str] = []
    unsubscribe = events.subscribe(lambda e: other.append(e.kind))
    try:
        events.emit("circuit", "a: circuit closed -> open", provider="a", state="open")
    finally:
        unsubscribe()
    assert [e.kind for e in seen] == other == ["circuit"]
    assert seen[0].data == {"state": "open"}


def test_messages_are_scrubbed(seen):
    events.emit("failure", "error=bad key sk-live-abcdefghijklmnop0001")
    assert seen[0].message == "error=bad key [REDACTED]"


def test_a_raising_listener_does_not_break_the_call(env, seen, caplog):
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    unsubscribe = events.subscribe(broken)
    try:
        a = env.fake("a", TransientError("503", status=503), "ok")
        with caplog.at_level(logging.ERROR, logger="construct"):
            response = chat(env.reliable(a, retries=1), "sync")
    finally:
        unsubscribe()
    assert response.text == "ok"
    assert "construct event listener failed" in caplog.text
    assert [e.kind for e in seen] == ["attempt", "retry", "attempt", "success"]


def scripted_failure(env: Env):
    """a (two keys) gets a 429, then two 503s on its second key; b answers."""
    a = RotatingProvider(
        "a",
        [
            RateLimited("429 Too Many Requests", status=429),
            TransientError("503 overloaded", status=503),
            TransientError("503 overloaded", status=503),
        ],
        calls=env.calls,
        key=PRIMARY_KEY,
    )
    b = env.fake("b", "ok")
    provider = env.reliable(a, b, retries=1, api_keys=[SECOND_KEY], circuit_breaker_threshold=2)
    return chat(provider, "sync")


def test_the_events_of_a_scripted_failure(env, seen):
    response = scripted_failure(env)
    assert response.provider == "b"
    assert [(e.kind, e.provider) for e in seen] == [
        ("attempt", "a"),
        ("key_rotation", "a"),  # the 429 cools the first key; it does not count as an outage
        ("attempt", "a"),
        ("retry", "a"),
        ("attempt", "a"),
        ("circuit", "a"),  # the second consecutive 503 opens it
        ("fallback", "a"),
        ("attempt", "b"),
        ("success", "b"),
    ]
    attempt, rotation, _, retry, _, circuit, fallback, _, success = seen
    assert attempt.message == "a m attempt 1/2 key …0001"
    assert attempt.data == {"attempt": 1, "key": "…0001"}
    assert rotation.message == "a: rate limited; next key: key …0001 -> …0002"
    assert rotation.data == {"old": "…0001", "new": "…0002"}
    assert circuit.message == "a: circuit closed -> open"
    assert circuit.data == {"state": "open"}
    assert retry.message == "a m: transient failure; retrying in 1.00s"
    assert retry.data == {"wait_s": 1.0, "why": "transient failure"}
    assert env.waits == [1.0]
    assert fallback.message == "a m: retries exhausted; moving on"
    assert success.message == "b m answered after 4 attempt(s)"


def test_keys_appear_only_as_their_last_four_characters(env, seen):
    scripted_failure(env)
    text = repr(seen)
    assert "…0001" in text and "…0002" in text
    for secret in (PRIMARY_KEY, SECOND_KEY, "secret"):
        assert secret not in text


def test_the_construct_logger_receives_them(env, caplog):
    with caplog.at_level(logging.DEBUG, logger="construct"):
        scripted_failure(env)
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("construct", "DEBUG", "attempt: a m attempt 1/2 key …0001") in records
    assert ("construct", "INFO", "key_rotation: a: rate limited; next key: key …0001 -> …0002") in (
        records
    )
    assert ("construct", "INFO", "retry: a m: transient failure; retrying in 1.00s") in records
    assert ("construct", "INFO", "circuit: a: circuit closed -> open") in records
    assert ("construct", "INFO", "fallback: a m: retries exhausted; moving on") in records
    assert ("construct", "DEBUG", "success: b m answered after 4 attempt(s)") in records
    assert PRIMARY_KEY not in caplog.text and SECOND_KEY not in caplog.text


def test_the_final_failure_is_reported_on_one_line(env, seen, caplog):
    a = env.fake("a", TransientError("503 overloaded", status=503))
    with caplog.at_level(logging.INFO, logger="construct"), pytest.raises(AllProvidersFailed):
        chat(env.reliable(a, retries=0), "sync")
    failure = seen[-1]
    assert failure.kind == "failure"
    assert failure.message == (
        "All providers/models failed. Attempts: | "
        "provider=a model=m attempt 1/1: retryable; error=503 overloaded"
    )
    assert "failure: All providers/models failed." in caplog.text


def test_model_fallback_and_skips_are_fallback_events(env, seen):
    a = env.fake("a", TransientError("503", status=503), "ok")
    provider = env.reliable(a, retries=0, model_fallbacks={"m": ["m2"]})
    chat(provider, "sync")
    fallbacks = [e.message for e in seen if e.kind == "fallback"]
    assert fallbacks == [
        "a m: retries exhausted; moving on",
        "model m failed on every provider; next model",
    ]


def test_without_listeners_nothing_is_logged_below_the_level(caplog):
    with caplog.at_level(logging.WARNING, logger="construct"):
        events.emit("attempt", "quiet")
    assert caplog.records == []


def test_a_script_that_never_configured_logging_hears_nothing(tmp_path):
    # Falling back is the chain doing its job: a plain script's stderr stays clean, and
    # the events are there at INFO for an application that configures logging.
    import json
    import socket
    import subprocess
    import sys

    from tests.loopback import LoopbackServer, Reply
    from tests.oracle import completion

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    code = """
import sys
from construct import ChatMessage, ChatRequest, create_resilient_provider_with_options
provider = create_resilient_provider_with_options(
    f"custom:http://127.0.0.1:{sys.argv[1]}/v1", "k-test-1234",
    reliability={"provider_retries": 0, "fallback_providers": [f"custom:{sys.argv[2]}/v1"]},
)
print(provider.chat(ChatRequest([ChatMessage.user("hi")]), "m").text)
"""
    body = json.dumps(completion("ok")).encode()
    with LoopbackServer(lambda r: Reply(body=body)) as server:
        done = subprocess.run(
            [sys.executable, "-c", code, str(dead), server.url], capture_output=True, text=True
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""
