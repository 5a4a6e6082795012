"""_StreamRun: events of a chunk that also carried an error reach the caller first."""

from __future__ import annotations

import pytest

from construct import StreamEvent, StreamInterrupted, TransientError, create_provider
from construct.providers.http import _StreamRun


class TwoFrames:
    """A framer whose one chunk holds two payloads (an AWS event-stream read can)."""

    def feed(self, chunk):
        return list(chunk)

    def flush(self):
        return []


class Parser:
    complete = False
    partial_text = "Hel"

    def feed(self, payload):
        if payload == "boom":
            raise TransientError("the stream broke", provider="x")
        return [StreamEvent.text(payload)]


def test_events_before_an_error_in_the_same_chunk_are_delivered_then_interrupted():
    run = _StreamRun(Parser(), TwoFrames(), create_provider("groq", "k-0123456789"))
    assert run.chunk(["Hel", "boom"]) == [StreamEvent.text("Hel")]
    with pytest.raises(TransientError) as info:
        run.chunk(["more"])
    failure = run.failed(info.value)
    assert isinstance(failure, StreamInterrupted)
    assert failure.partial_text == "Hel"


def test_an_error_alone_in_a_chunk_is_raised_at_once():
    run = _StreamRun(Parser(), TwoFrames(), create_provider("groq", "k-0123456789"))
    with pytest.raises(TransientError):
        run.chunk(["boom"])
    assert run.failed(TransientError("x")).__class__ is TransientError
