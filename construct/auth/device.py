"""The OAuth 2.0 device authorization grant (RFC 8628): signing in from a terminal.

    1. POST the device authorization endpoint: `client_id`, `scope`
       -> `device_code`, `user_code`, `verification_uri`, `expires_in`, `interval` (§3.2)
    2. the user opens `verification_uri` and enters `user_code`
    3. POST the token endpoint every `interval` seconds: `grant_type`
       `urn:ietf:params:oauth:grant-type:device_code`, `device_code`, `client_id` (§3.4)
       -> `authorization_pending` (ask again), `slow_down` (ask again, 5 s slower, §3.5),
          `access_denied`, `expired_token` (stop), or the tokens (§3.5)

`DeviceFlow` is one provider's endpoints and client; `run` drives the exchange with
the `send` it is given (a `Transport.send`), so the waiting (`sleep`) and the
clock can be replaced in tests. Ctrl-C (KeyboardInterrupt) passes straight
through: nothing is kept from a cancelled sign-in. What to do with each answer
is `poll_outcome`, a pure function of the token endpoint's JSON.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..errors import AuthError, InvalidResponse, ProviderError
from ..secrets import Secret
from ..transport import HttpRequest, HttpResponse

__all__ = ["DeviceCode", "DeviceFlow", "Grant", "Poll", "next_interval", "poll_outcome"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_INTERVAL_S = 5.0
# §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests".
SLOW_DOWN_S = 5.0
# A server that names a shorter interval is followed, down to this: never a busy loop.
MIN_INTERVAL_S = 1.0
DEFAULT_EXPIRES_S = 900.0


class Poll(enum.Enum):
    """What one answer of the token endpoint means for the sign-in."""

    GRANTED = "granted"
    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    DENIED = "access_denied"
    EXPIRED = "expired_token"
    FAILED = "failed"


def poll_outcome(answer: Mapping[str, Any]) -> Poll:
    """The token endpoint's JSON answer, read (RFC 8628 §3.5). GitHub answers the errors
    with 200, other servers with 400: the body decides, not the status."""
    token = answer.get("access_token")
    if isinstance(token, str) and token.strip():
        return Poll.GRANTED
    error = answer.get("error")
    for outcome in (Poll.PENDING, Poll.SLOW_DOWN, Poll.DENIED, Poll.EXPIRED):
        if error == outcome.value:
            return outcome
    return Poll.FAILED


def next_interval(interval: float, answer: Mapping[str, Any]) -> float:
    """The wait after a `slow_down`: 5 s more, or the interval the server names if longer."""
    named = _seconds(answer.get("interval"))
    return max(interval + SLOW_DOWN_S, named or 0.0)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """The device authorization response (§3.2): what the user is shown, and how to poll."""

    device_code: Secret
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float
    # A URI with the code in it (optional in §3.2), for a user who can open a link.
    verification_uri_complete: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """The tokens the token endpoint issued (RFC 6749 §5.1)."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_in: float | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFlow:
    """One provider's device sign-in: its endpoints and public client."""

    provider: str
    # Who the user signs in to, as messages name it ("GitHub").
    service: str
    code_url: str
    token_url: str
    client_id: str
    scope: str | None = None
    # What the user runs to start over (`construct auth login copilot`).
    command: str = ""

    # -- the two requests (form-encoded, §3.1 and §3.4) -------------------------------

    def _form(self, url: str, fields: dict[str, str]) -> HttpRequest:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        return HttpRequest("POST", url, headers, content=urlencode(fields).encode())

    def code_request(self) -> HttpRequest:
        fields = {"client_id": self.client_id}
        if self.scope:
            fields["scope"] = self.scope
        return self._form(self.code_url, fields)

    def token_request(self, code: DeviceCode) -> HttpRequest:
        fields = {
            "client_id": self.client_id,
            "device_code": code.device_code.reveal(),
            "grant_type": GRANT_TYPE,
        }
        return self._form(self.token_url, fields)

    # -- reading the answers ---------------------------------------------------------

    def read_code(self, answer: Mapping[str, Any]) -> DeviceCode:
        device_code = answer.get("device_code")
        user_code = answer.get("user_code")
        # RFC 8628 names it verification_uri; some servers still send verification_url.
        uri = answer.get("verification_uri") or answer.get("verification_url")
        if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
            raise self._odd("device authorization", "device_code, user_code, verification_uri")
        complete = answer.get("verification_uri_complete")
        interval = _seconds(answer.get("interval"))
        return DeviceCode(
            device_code=Secret(device_code),  # type: ignore[arg-type]
            user_code=user_code,  # type: ignore[arg-type]
            verification_uri=uri,  # type: ignore[arg-type]
            expires_in=_seconds(answer.get("expires_in")) or DEFAULT_EXPIRES_S,
            interval=max(MIN_INTERVAL_S, DEFAULT_INTERVAL_S if interval is None else interval),
            verification_uri_complete=complete if isinstance(complete, str) and complete else None,
        )

    def read_grant(self, answer: Mapping[str, Any]) -> Grant:
        refresh = answer.get("refresh_token")
        scope = answer.get("scope")
        return Grant(
            access_token=Secret(answer["access_token"]),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            expires_in=_seconds(answer.get("expires_in")),
            scope=scope if isinstance(scope, str) else None,
        )

    def _odd(self, what: str, missing: str) -> InvalidResponse:
        return InvalidResponse(
            f"{self.service} sent a {what} answer construct cannot read (it needs {missing}). "
            f"Retry `{self.command}`.",
            provider=self.provider,
        )

    def refused(self, outcome: Poll, answer: Mapping[str, Any], minutes: float) -> AuthError:
        """The error that ends a sign-in the user or the server did not complete."""
        again = f"Run `{self.command}` to try again." if self.command else ""
        if outcome is Poll.DENIED:
            text = f"The sign-in was declined on {self.service}; nothing was stored. {again}"
        elif outcome is Poll.EXPIRED:
            text = (
                f"The sign-in code expired before it was entered ({minutes:g} minutes); "
                f"nothing was stored. {again}"
            )
        else:
            error = answer.get("error")
            described = answer.get("error_description")
            detail = f"{error}: {described}" if described else str(error or "no token")
            text = f"{self.service} refused the sign-in ({detail}); nothing was stored. {again}"
        return AuthError(text.strip(), provider=self.provider)

    # -- the whole exchange ------------------------------------------------------------

    def run(
        self,
        send: Callable[[HttpRequest], HttpResponse],
        *,
        show: Callable[[DeviceCode], None],
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> Grant:
        """Ask for a code, `show` it to the user, poll until they approve it; the tokens.
        `sleep` and `clock` default to `time.sleep` and `time.monotonic`.

        Raises AuthError when the user declines, the code expires or the server refuses;
        KeyboardInterrupt (Ctrl-C, in `sleep` or `send`) is not caught."""
        sleep = sleep or time.sleep
        clock = clock or time.monotonic
        code = self.read_code(self._answer(send, self.code_request(), "device authorization"))
        show(code)
        deadline = clock() + code.expires_in
        interval = code.interval
        while True:
            if clock() + interval > deadline:
                raise self.refused(Poll.EXPIRED, {}, code.expires_in / 60)
            sleep(interval)
            answer = self._answer(send, self.token_request(code), "token")
            outcome = poll_outcome(answer)
            if outcome is Poll.GRANTED:
                return self.read_grant(answer)
            if outcome is Poll.SLOW_DOWN:
                interval = next_interval(interval, answer)
            elif outcome is not Poll.PENDING:
                raise self.refused(outcome, answer, code.expires_in / 60)

    def _answer(
        self, send: Callable[[HttpRequest], HttpResponse], req: HttpRequest, what: str
    ) -> dict[str, Any]:
        """The endpoint's JSON object. An OAuth error (400 + `{"error": ...}`, §3.5) is an
        answer like any other, not a failure."""
        try:
            body: Any = send(req).content
        except ProviderError as exc:
            oauth = _oauth_error(exc)
            if oauth is None:
                raise
            return oauth
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise self._odd(what, "a JSON object")
        return data


def _oauth_error(exc: ProviderError) -> dict[str, Any] | None:
    if exc.status not in (400, 401, 403) or not exc.body:
        return None
    try:
        data = json.loads(exc.body)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data
    return None
