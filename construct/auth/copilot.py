"""GitHub Copilot's credentials: a GitHub sign-in, exchanged for short-lived Copilot tokens.

Reference §8.2, with the client facts of today's public Copilot clients
(docs/providers/copilot.md says where each comes from):

* The GitHub token: the key (`api_key`, `COPILOT_GITHUB_TOKEN`, then
  `CONSTRUCT_API_KEY`: K1), else the sign-in `construct auth login copilot` stored
  (`store.TokenStore`). A library call never starts a sign-in: with no token it
  raises `AuthError` saying to run that command.
* The sign-in: GitHub's device flow (`device.DeviceFlow`) for the Copilot OAuth
  app `CLIENT_ID`, scope `read:user` (`sign_in`).
* The exchange: `GET https://api.github.com/copilot_internal/v2/token` with
  `Authorization: token <GitHub token>` answers `{token, expires_at, refresh_in,
  endpoints: {api}}`. The Copilot token is kept in memory and in the stored sign-in
  and reused while now + 120 s is before its expiry; one thread (and, through the
  store's lock, one process) exchanges while the others wait for its token. A 401
  or 403 there means GitHub will not give this token Copilot access: a stored
  sign-in is removed, and the error says how to sign in again.
* The calls: `Authorization: Bearer <Copilot token>`, to the `endpoints.api` the
  exchange named (the account's own host), with the editor headers of the registry
  row (`construct.registry`, the `copilot` row).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    ConstructError,
    InvalidResponse,
    ProviderError,
    error_message_from_body,
)
from ..secrets import Secret, is_credential_header
from ..transport import HttpRequest, Transport
from .base import Auth
from .device import DeviceCode, DeviceFlow
from .store import Credential, Revoked, Session, TokenStore

__all__ = [
    "ACCESS_TOKEN_URL",
    "CLIENT_ID",
    "DEVICE_CODE_URL",
    "SCOPE",
    "TOKEN_URL",
    "CopilotAuth",
    "device_flow",
    "exchange",
    "github_transport",
    "sign_in",
]

log = logging.getLogger("construct")

PROVIDER = "copilot"
# The GitHub App the Copilot editor plugins sign in with (copilot.vim, and the device
# flow of copilot-api and LiteLLM's github_copilot), and the scope they ask for.
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
DEVICE_CODE_URL = "https://github.com/login/device/code"
ACCESS_TOKEN_URL = "https://github.com/login/oauth/access_token"
TOKEN_URL = "https://api.github.com/copilot_internal/v2/token"
USER_URL = "https://api.github.com/user"
# Sent with the exchange by the VS Code Copilot Chat extension (copilotTokenManager.ts).
GITHUB_API_VERSION = "2025-04-01"
# Reference §8.2: a Copilot token is reused while now + 120 s is before its expiry.
REUSE_MARGIN_S = 120.0
# The exchange is one small GET: a minute is generous, and a call waits on it.
EXCHANGE_TIMEOUT_S = 30.0


def command(profile: str | None) -> str:
    """What a user runs to sign in (again)."""
    return f"construct auth login {PROVIDER}{f':{profile}' if profile else ''}"


def device_flow(profile: str | None = None) -> DeviceFlow:
    return DeviceFlow(
        provider=PROVIDER,
        service="GitHub",
        code_url=DEVICE_CODE_URL,
        token_url=ACCESS_TOKEN_URL,
        client_id=CLIENT_ID,
        scope=SCOPE,
        command=command(profile),
    )


def editor_headers(
    row: Sequence[tuple[str, str]], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The row's editor headers with `extra_headers` over them (any case), credentials left
    out: what GitHub's endpoints are sent besides the request's own."""
    overridden = {name.lower() for name in extra or {}}
    headers = {k: v for k, v in row if k.lower() not in overridden}
    headers.update({k: v for k, v in (extra or {}).items() if not is_credential_header(k)})
    return headers


def github_transport(headers: Mapping[str, str], connect_timeout_s: float = 10.0) -> Transport:
    """The connection to GitHub's sign-in and token endpoints."""
    return Transport(
        provider=PROVIDER,
        display_name="GitHub",
        timeout_s=EXCHANGE_TIMEOUT_S,
        connect_timeout_s=connect_timeout_s,
        headers=headers,
    )


def _api_endpoint(value: Any) -> str | None:
    """`endpoints.api` when it is an https URL with a host (the token goes there)."""
    if not isinstance(value, str):
        return None
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        return None
    return url


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_session(data: Any, now: float) -> Session:
    """The Copilot token of an exchange answer. It counts as good for `refresh_in` + 60 s
    from now when the answer says `refresh_in` (VS Code's rule: a local clock that runs
    ahead would otherwise see every token as expired), else until `expires_at`."""
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise InvalidResponse(
            "GitHub's Copilot token answer has no token; retry, and check the account's "
            "Copilot subscription at https://github.com/settings/copilot.",
            provider=PROVIDER,
        )
    refresh_in = _seconds(data.get("refresh_in"))
    expires_at = _seconds(data.get("expires_at"))
    if refresh_in is not None and refresh_in > 0:
        expires = now + refresh_in + 60
    elif expires_at is not None:
        expires = expires_at
    else:
        raise InvalidResponse(
            "GitHub's Copilot token answer says neither expires_at nor refresh_in; retry.",
            provider=PROVIDER,
        )
    endpoints = data.get("endpoints")
    api = _api_endpoint(endpoints.get("api")) if isinstance(endpoints, dict) else None
    return Session(Secret(data["token"]), expires, api)


def exchange(
    github: Transport, token: Secret, *, token_url: str = TOKEN_URL, now: float
) -> Session:
    """A Copilot token for the GitHub `token`. An error status is raised as the transport
    classifies it (401/403: AuthError)."""
    req = HttpRequest(
        "GET",
        token_url,
        {"Authorization": f"token {token.reveal()}", "X-GitHub-Api-Version": GITHUB_API_VERSION},
    )
    response = github.send(req)
    try:
        data = response.json()
    except (ValueError, RecursionError):
        raise github.invalid_body("not JSON", response.content) from None
    session = read_session(data, now)
    log.debug(
        "copilot: token exchanged; good for %d s at %s",
        session.expires_at - now,
        session.endpoint or "the default endpoint",
    )
    return session


def _refused(exc: ProviderError, who: str) -> str:
    detail = error_message_from_body(exc.body or "") or "no reason given"
    return f"GitHub refused {who} for Copilot (HTTP {exc.status}: {detail})."


class CopilotAuth(Auth):
    """The GitHub token, exchanged for Copilot tokens as calls need them (reference §8.2).

    `HttpProvider` asks `refresh` (sync) or `arefresh` (async, in a worker thread: the
    exchange may wait on another process's lock) before it builds a request; `headers`
    then give the Copilot token and `sign` points the request at the account's host."""

    __slots__ = (
        "_github",
        "_lock",
        "_rebase",
        "_sessions",
        "_store",
        "_token_url",
        "clock",
        "profile",
    )

    signs = True
    accepts_profiles = True

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = True,
        *,
        profile: str | None,
        store: TokenStore,
        github: Transport,
        rebase_from: str | None,
        token_url: str = TOKEN_URL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(provider, display_name, key_env, required)
        self.profile = profile
        self.clock = clock
        self._store = store
        self._github = github
        # The row's base URL, replaced by the exchange's `endpoints.api` in each request;
        # None when `api_url` set the base (R5: it wins).
        self._rebase = rebase_from.rstrip("/") if rebase_from else None
        self._token_url = token_url
        # The Copilot token of each GitHub token (None: the stored sign-in's).
        self._sessions: dict[Secret | None, Session] = {}
        self._lock = threading.Lock()

    def missing(self) -> AuthError:
        env = " or ".join(self.key_env)
        return AuthError(
            f"Not signed in to {self.display_name}: run `{command(self.profile)}` (GitHub's "
            f"device sign-in, in a terminal), or give a GitHub token for Copilot as api_key "
            f"or in {env}.",
            provider=self.provider,
        )

    # -- the Copilot token ------------------------------------------------------------

    def _fresh(self, session: Session | None) -> bool:
        return session is not None and session.fresh(self.clock(), REUSE_MARGIN_S)

    def needs_refresh(self, key: Secret | None) -> bool:
        return not self._fresh(self._sessions.get(key))

    def refresh(self, key: Secret | None) -> None:
        self.session(key)

    def session(self, key: Secret | None) -> Session:
        """The Copilot token for `key` (None: the stored sign-in), exchanged when the one
        in memory (then the one stored) is within 120 s of expiring."""
        session = self._sessions.get(key)
        if self._fresh(session):
            return session  # type: ignore[return-value]
        with self._lock:
            # A thread that waited here finds the token the first one fetched.
            session = self._sessions.get(key)
            if not self._fresh(session):
                session = self._stored() if key is None else self._exchange(key, stored=False)
                self._sessions[key] = session
            return session  # type: ignore[return-value]

    def _stored(self) -> Session:
        def stale(found: Credential) -> bool:
            return not self._fresh(found.session)

        def refresh(found: Credential) -> Credential:
            return replace(found, session=self._exchange(found.access_token, stored=True))

        found = self._store.refreshed(self.provider, self.profile, stale, refresh)
        if found is None or found.session is None:
            raise self.missing()
        return found.session

    def _exchange(self, token: Secret, *, stored: bool) -> Session:
        try:
            return exchange(self._github, token, token_url=self._token_url, now=self.clock())
        except ProviderError as exc:
            if exc.status == 404:
                # GitHub's answer to a token its Copilot app did not issue (a personal
                # access token, the gh CLI's): nothing to remove, the token is fine for GitHub.
                who = "the stored GitHub sign-in" if stored else "the GitHub token given"
                raise AuthError(
                    _refused(exc, who) + " Copilot does not accept it as a Copilot sign-in: "
                    f"run `{command(self.profile)}`.",
                    provider=self.provider,
                    status=exc.status,
                    body=exc.body,
                ) from None
            if exc.status not in (401, 403):
                raise
            if stored:
                error = AuthError(
                    _refused(exc, "the stored GitHub sign-in")
                    + f" construct removed it; run `{command(self.profile)}` to sign in again "
                    "with an account that has an active Copilot subscription.",
                    provider=self.provider,
                    status=exc.status,
                    body=exc.body,
                )
                raise Revoked(error) from None
            env = ", ".join(self.key_env)
            raise AuthError(
                _refused(exc, "the GitHub token given")
                + " Check that it belongs to an account with an active Copilot subscription, "
                f"or remove it (api_key, {env}) and run `{command(self.profile)}`.",
                provider=self.provider,
                status=exc.status,
                body=exc.body,
            ) from None

    # -- the request --------------------------------------------------------------

    def _current(self, key: Secret | None) -> Session:
        """The token `refresh` just made sure of. It serves the request it was fetched for
        even when it arrived inside the margin, or already expired by a local clock that
        runs fast: a token the server no longer takes is answered 401, and dropped."""
        session = self._sessions.get(key)
        return session if session is not None else self.session(key)

    def headers(self, key: Secret | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._current(key).token.reveal()}"}

    def sign(self, req: HttpRequest, key: Secret | None) -> None:
        """Send `req` to the host the exchange named (the row's URL is the fallback)."""
        endpoint = self._current(key).endpoint
        base = self._rebase
        if endpoint and base and (req.url == base or req.url.startswith(base + "/")):
            req.url = endpoint + req.url[len(base) :]

    def rejected(self, key: Secret | None) -> bool:
        """Copilot refused its token (401): drop it from memory and from the stored
        sign-in, unless another thread or process replaced it meanwhile. The call is not
        retried: the next one exchanges anew."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if key is not None or session is None:
            return False
        # On the way to raising the 401: a store that cannot be read or written now must
        # not replace that error (it is reported at the next call).
        with contextlib.suppress(ConstructError, OSError):
            found = self._store.load(self.provider, self.profile)
            if found is not None and found.session == session:
                self._store.save(replace(found, session=None))
        return False

    def close(self) -> None:
        self._github.close()


# -- signing in (`construct auth login copilot`) ------------------------------------


def whoami(github: Transport, token: Secret) -> str | None:
    """The GitHub login `token` belongs to (what `construct auth status` shows), or None."""
    req = HttpRequest("GET", USER_URL, {"Authorization": f"token {token.reveal()}"})
    try:
        data = github.send(req).json()
    except (ProviderError, ValueError, RecursionError):
        return None
    login = data.get("login") if isinstance(data, dict) else None
    return login if isinstance(login, str) and login else None


def sign_in(
    store: TokenStore,
    *,
    profile: str | None,
    github: Transport,
    show: Callable[[DeviceCode], None],
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.time,
    token_url: str = TOKEN_URL,
) -> Credential:
    """GitHub's device flow, then one exchange to check that the account has Copilot; the
    sign-in is stored only when both succeed. Nothing is stored when the user presses
    Ctrl-C (KeyboardInterrupt passes through)."""
    flow = device_flow(profile)
    grant = flow.run(github.send, show=show, sleep=sleep)
    account = whoami(github, grant.access_token)
    try:
        session = exchange(github, grant.access_token, token_url=token_url, now=clock())
    except ProviderError as exc:
        if exc.status not in (401, 403):
            raise
        who = f"GitHub account {account}" if account else "this GitHub account"
        raise AuthError(
            _refused(exc, f"the sign-in of {who}")
            + " Nothing was stored. Check that the account has an active Copilot "
            "subscription (https://github.com/settings/copilot), then sign in again.",
            provider=PROVIDER,
            status=exc.status,
        ) from None
    now = clock()
    credential = Credential(
        provider=PROVIDER,
        access_token=grant.access_token,
        profile=profile,
        refresh_token=grant.refresh_token,
        expires_at=now + grant.expires_in if grant.expires_in else None,
        account=account,
        method="device flow",
        obtained_at=now,
        session=session,
    )
    store.save(credential)
    return credential
