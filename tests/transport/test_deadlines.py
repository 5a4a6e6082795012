"""The call-wide deadline: nested blocks, and what is left of it."""

from __future__ import annotations

import time

import pytest

from construct.errors import TransientError
from construct.transport import Transport, deadline, seconds_left


def test_no_deadline_outside_a_block() -> None:
    assert seconds_left() is None


def test_inner_block_rules_and_the_outer_one_comes_back() -> None:
    now = time.monotonic()
    with deadline(now + 100):
        assert 99 < seconds_left() <= 100
        with deadline(now + 5):
            assert 4 < seconds_left() <= 5
        with deadline(None):
            assert seconds_left() is None
        assert 99 < seconds_left() <= 100
    assert seconds_left() is None


def test_a_passed_deadline_stops_the_request_before_it_is_sent() -> None:
    transport = Transport(provider="acme", display_name="Acme AI")
    with deadline(time.monotonic() - 1):
        assert seconds_left() < 0
        with pytest.raises(TransientError, match="total_timeout_s"):
            transport.time_left()
    assert transport.time_left() is None
