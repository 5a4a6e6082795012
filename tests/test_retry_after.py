"""Retry-After parsing (PROVIDERS.md L3)."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from construct.retry_after import parse_retry_after, parse_retry_after_header

NOW = 1_750_000_000.0


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


# ---- headers -----------------------------------------------------------------------------------


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after(httpx.Headers({"Retry-After": "9", "Retry-After-Ms": "250"})) == 0.25


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.5", 2.5), ("0", 0.0), ("30", 30.0), (" 4 ", 4.0), ("120", 120.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after({"retry-after": value}) == expected
    assert parse_retry_after_header(value) == expected


def test_retry_after_http_date_in_the_future() -> None:
    headers = {"retry-after": http_date(NOW + 10)}
    assert parse_retry_after(headers, now=NOW) == pytest.approx(10.0, abs=1.0)
    assert parse_retry_after_header(http_date(NOW + 10), now=NOW) == pytest.approx(10.0, abs=1.0)


def test_retry_after_http_date_uses_the_real_clock_by_default() -> None:
    wait = parse_retry_after({"retry-after": http_date(time.time() + 60)})
    assert wait is not None and 55 <= wait <= 61


def test_retry_after_http_date_minus_zero_zone_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # `-0000` parses to a naive datetime; reading it as local time shifts the wait by hours.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        value = http_date(NOW + 10).replace("GMT", "-0000")
        assert parse_retry_after_header(value, now=NOW) == pytest.approx(10.0, abs=1.0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_retry_after_past_date_is_zero() -> None:
    assert parse_retry_after({"retry-after": http_date(NOW - 3600)}, now=NOW) == 0.0
    assert parse_retry_after_header("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize(
    "value",
    ["soon", "", "   ", "-5", "-0.5", "nan", "NaN", "inf", "1e400", "Wed, 99 Foo 2015", "1e9"],
)
def test_retry_after_garbage_negative_nan_is_none(value: str) -> None:
    assert parse_retry_after_header(value, now=NOW) is None
    assert parse_retry_after({"retry-after": value}, now=NOW) is None


@pytest.mark.parametrize("value", ["abc", "-100", "nan", ""])
def test_bad_retry_after_ms_falls_back_to_retry_after(value: str) -> None:
    assert parse_retry_after({"retry-after-ms": value, "retry-after": "3"}) == 3.0


@pytest.mark.parametrize(
    "headers",
    [
        httpx.Headers({"Retry-After": "6"}),
        httpx.Headers({"RETRY-AFTER": "6"}),
        {"retry-after": "6"},
        {"Retry-After": "6"},  # a plain dict straight from another client
    ],
    ids=["httpx-title", "httpx-upper", "dict-lower", "dict-title"],
)
def test_header_names_are_case_insensitive(headers) -> None:
    assert parse_retry_after(headers) == 6.0


def test_no_information_is_none() -> None:
    assert parse_retry_after() is None
    assert parse_retry_after({}, "") is None
    assert parse_retry_after(httpx.Headers({"content-type": "application/json"}), "{}") is None
    assert parse_retry_after(None, '{"error": {"message": "slow down"}}') is None


# ---- body --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Rate limited. retry-after: 7", 7.0),
        ("retry_after: 7", 7.0),
        ("Retry-After 3", 3.0),
        ("RETRY-AFTER: 3", 3.0),
        ("retry_after:2.5s please", 2.5),
        ('{"error": {"message": "slow", "retry_after": 4}}', 4.0),
        ('{"retry_after_ms": 1500}', 1.5),
        ('{"retryAfterMs": 250}', None),  # not a form any provider uses
        ("retry-after-ms: 800", 0.8),
        ("please retry after 2 minutes", 120.0),
        ("retry_after: 500ms", 0.5),
        (
            '{"error": {"code": 429, "details": [{"@type": "type.googleapis.com/'
            'google.rpc.RetryInfo", "retryDelay": "12.5s"}]}}',
            12.5,
        ),
        ('{"retryDelay": "43s"}', 43.0),
        ("retry-after: -5", None),
        ("retry-after: soon", None),
        ("nothing to see", None),
    ],
)
def test_body_hints(body: str, expected: float | None) -> None:
    assert parse_retry_after(None, body) == expected
    assert parse_retry_after({}, body) == expected


def test_body_is_consulted_only_when_headers_say_nothing() -> None:
    body = "retry-after: 50"
    assert parse_retry_after({"retry-after": "2"}, body) == 2.0
    assert parse_retry_after({"retry-after-ms": "100"}, body) == 0.1
    assert parse_retry_after({"x-request-id": "abc"}, body) == 50.0
    # Headers present but unreadable: the body still helps.
    assert parse_retry_after({"retry-after": "garbage"}, body) == 50.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "1"}), '"retryDelay": "9s"') == 1.0


def test_zero_is_a_real_answer_not_missing() -> None:
    # `Retry-After: 0` means "now", it must not fall through to the body.
    assert parse_retry_after({"retry-after": "0"}, "retry-after: 50") == 0.0
    assert parse_retry_after({"retry-after-ms": "0"}, "retry-after: 50") == 0.0
