"""The RFC 8628 device flow, against respx mocks of GitHub's endpoints: every answer the
token endpoint can give, the waits between polls (recorded, not slept), and Ctrl-C."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from construct.auth.device import DeviceCode, DeviceFlow, Poll, next_interval, poll_outcome
from construct.errors import AuthError, InvalidResponse, TransientError
from construct.transport import Transport

# GitHub's endpoints, as the Copilot sign-in uses them; the flow itself is RFC 8628's.
DEVICE_CODE_URL = "https://github.com/login/device/code"
ACCESS_TOKEN_URL = "https://github.com/login/oauth/access_token"
CLIENT_ID = "Iv1.0123456789abcdef"
DEVICE_CODE = "3584d83530557fdd1f46af8289938c8ef79f9dc5"
USER_CODE = "WDJB-MJHT"
GRANTED = "ghu_DEVICECANARY0123456789abcdef"


def device_flow() -> DeviceFlow:
    return DeviceFlow(
        provider="copilot",
        service="GitHub",
        code_url=DEVICE_CODE_URL,
        token_url=ACCESS_TOKEN_URL,
        client_id=CLIENT_ID,
        scope="read:user",
        command="construct auth login copilot",
    )


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"access_token": GRANTED, "token_type": "bearer"}, Poll.GRANTED),
        ({"error": "authorization_pending"}, Poll.PENDING),
        ({"error": "slow_down", "interval": 10}, Poll.SLOW_DOWN),
        ({"error": "access_denied"}, Poll.DENIED),
        ({"error": "expired_token"}, Poll.EXPIRED),
        ({"error": "incorrect_device_code"}, Poll.FAILED),
        ({"error": "unsupported_grant_type"}, Poll.FAILED),
        ({"access_token": " "}, Poll.FAILED),
        ({}, Poll.FAILED),
    ],
)
def test_each_answer_of_the_token_endpoint(answer: dict, outcome: Poll) -> None:
    assert poll_outcome(answer) is outcome


@pytest.mark.parametrize(
    ("interval", "answer", "after"),
    [(5, {}, 10), (10, {}, 15), (5, {"interval": 20}, 20), (5, {"interval": 7}, 10)],
)
def test_slow_down_adds_five_seconds_or_takes_the_servers_longer_wait(
    interval: float, answer: dict, after: float
) -> None:
    assert next_interval(interval, answer) == after


class Clock:
    """Time that passes only when the flow sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def github() -> Iterator[Transport]:
    transport = Transport(provider="copilot", display_name="GitHub")
    yield transport
    transport.close()


def code_answer(**changes: object) -> httpx.Response:
    body = {
        "device_code": DEVICE_CODE,
        "user_code": USER_CODE,
        "verification_uri": "https://github.com/login/device",
        "expires_in": 900,
        "interval": 5,
    }
    body.update(changes)
    return httpx.Response(200, json=body)


def run(github: Transport, polls: list[httpx.Response], clock: Clock, **code: object):
    shown: list[DeviceCode] = []
    with respx.mock(assert_all_called=True) as mock:
        asked = mock.post(DEVICE_CODE_URL).mock(return_value=code_answer(**code))
        token = mock.post(ACCESS_TOKEN_URL).mock(side_effect=polls)
        try:
            grant = device_flow().run(
                github.send, show=shown.append, sleep=clock.sleep, clock=clock
            )
        finally:
            run.asked, run.token, run.shown = asked, token, shown  # type: ignore[attr-defined]
    return grant


def pending() -> httpx.Response:
    # GitHub answers the pending states with 200 and an `error` field.
    return httpx.Response(200, json={"error": "authorization_pending"})


def test_pending_then_granted(github: Transport) -> None:
    clock = Clock()
    granted = httpx.Response(200, json={"access_token": GRANTED, "scope": "read:user"})
    grant = run(github, [pending(), pending(), granted], clock)
    assert grant.access_token.reveal() == GRANTED
    assert grant.scope == "read:user" and grant.refresh_token is None
    assert clock.sleeps == [5, 5, 5]
    [code] = run.shown
    assert code.user_code == USER_CODE
    assert code.verification_uri == "https://github.com/login/device"
    assert DEVICE_CODE not in repr(code)
    # The requests RFC 8628 describes, form-encoded, asking for JSON.
    asked = run.asked.calls.last.request
    assert asked.headers["content-type"] == "application/x-www-form-urlencoded"
    assert asked.headers["accept"] == "application/json"
    assert parse_qs(asked.content.decode()) == {"client_id": [CLIENT_ID], "scope": ["read:user"]}
    polled = parse_qs(run.token.calls.last.request.content.decode())
    assert polled == {
        "client_id": [CLIENT_ID],
        "device_code": [DEVICE_CODE],
        "grant_type": ["urn:ietf:params:oauth:grant-type:device_code"],
    }


def test_slow_down_adds_five_seconds_to_this_and_every_later_wait(github: Transport) -> None:
    clock = Clock()
    slow = httpx.Response(200, json={"error": "slow_down"})
    granted = httpx.Response(200, json={"access_token": GRANTED})
    run(github, [pending(), slow, pending(), granted], clock)
    assert clock.sleeps == [5, 5, 10, 10]


def test_errors_sent_as_400_are_answers_too(github: Transport) -> None:
    # RFC 8628 §3.5 servers answer the pending states with 400 (GitHub uses 200).
    clock = Clock()
    polls = [
        httpx.Response(400, json={"error": "authorization_pending"}),
        httpx.Response(400, json={"error": "slow_down"}),
        httpx.Response(200, json={"access_token": GRANTED, "refresh_token": "r-0123456789"}),
    ]
    grant = run(github, polls, clock)
    assert clock.sleeps == [5, 5, 10]
    assert grant.refresh_token is not None


def test_no_interval_means_five_seconds_and_a_tiny_one_is_raised_to_one(
    github: Transport,
) -> None:
    clock = Clock()
    run(github, [httpx.Response(200, json={"access_token": GRANTED})], clock, interval=None)
    assert clock.sleeps == [5]
    clock = Clock()
    run(github, [httpx.Response(200, json={"access_token": GRANTED})], clock, interval=0)
    assert clock.sleeps == [1]


def test_expired_token_ends_with_a_clear_error(github: Transport) -> None:
    clock = Clock()
    with pytest.raises(AuthError) as info:
        run(github, [pending(), httpx.Response(200, json={"error": "expired_token"})], clock)
    message = str(info.value)
    assert "expired before it was entered (15 minutes)" in message
    assert "nothing was stored" in message
    assert "construct auth login copilot" in message


def test_access_denied_ends_with_a_clear_error(github: Transport) -> None:
    with pytest.raises(AuthError) as info:
        run(github, [httpx.Response(200, json={"error": "access_denied"})], Clock())
    assert "declined on GitHub" in str(info.value)
    assert "construct auth login copilot" in str(info.value)


def test_another_error_is_reported_with_the_servers_words(github: Transport) -> None:
    refused = httpx.Response(
        200,
        json={
            "error": "device_flow_disabled",
            "error_description": "Device Flow must be explicitly enabled for this App",
        },
    )
    with pytest.raises(AuthError) as info:
        run(github, [refused], Clock())
    assert "device_flow_disabled: Device Flow must be explicitly enabled" in str(info.value)


def test_the_code_running_out_locally_stops_the_polling(github: Transport) -> None:
    clock = Clock()
    with pytest.raises(AuthError, match="expired"):
        run(github, [pending()] * 5, clock, expires_in=12)
    assert clock.sleeps == [5, 5]  # a third wait would end after the code's 12 seconds


def test_ctrl_c_while_waiting_passes_through(github: Transport) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with respx.mock(assert_all_called=False) as mock:
        mock.post(DEVICE_CODE_URL).mock(return_value=code_answer())
        token = mock.post(ACCESS_TOKEN_URL).mock(return_value=pending())
        with pytest.raises(KeyboardInterrupt):
            device_flow().run(github.send, show=lambda code: None, sleep=interrupted)
    assert not token.called


def test_an_answer_without_a_code_is_an_invalid_response(github: Transport) -> None:
    with respx.mock() as mock:
        mock.post(DEVICE_CODE_URL).mock(return_value=httpx.Response(200, json={"user_code": "X"}))
        with pytest.raises(InvalidResponse, match="device_code, user_code, verification_uri"):
            device_flow().run(github.send, show=lambda code: None, sleep=lambda s: None)


def test_a_server_error_is_not_mistaken_for_an_answer(github: Transport) -> None:
    with respx.mock() as mock:
        mock.post(DEVICE_CODE_URL).mock(return_value=httpx.Response(503, text="unavailable"))
        with pytest.raises(TransientError):
            device_flow().run(github.send, show=lambda code: None, sleep=lambda s: None)
