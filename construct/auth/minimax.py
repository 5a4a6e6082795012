"""MiniMax's credentials: a key, else an access token for a MiniMax OAuth refresh token.

Reference §1.5 and §1.6 (docs/providers/minimax-oauth.md):

* The key, in order: an explicit key, `MINIMAX_OAUTH_TOKEN` (an access token),
  `MINIMAX_API_KEY`, and construct's generic key. The explicit keys `minimax-oauth` and
  `minimax-oauth-cn` are placeholders: they ask for the OAuth sign-in, not a key.
* With no key, `MINIMAX_OAUTH_REFRESH_TOKEN` is exchanged for an access token: a form
  POST (`grant_type=refresh_token`, `refresh_token`, `client_id` from
  `MINIMAX_OAUTH_CLIENT_ID` or MiniMax's public client) to the region's token endpoint.
  The region is `MINIMAX_OAUTH_REGION` (`cn`/`china`, `global`/`intl`/`international`),
  else the alias's (`minimax-oauth-cn` is China). An answer counts when it is 2xx, its
  `status` (when present) is `success`, and its `access_token` is not blank; else the
  error says `base_resp.status_msg`.
* The access token is kept in memory and in construct's token store
  (`minimax-oauth/<region>.json`, tied to the refresh token by a fingerprint, never the
  token), reused until 60 s before the `expires_in` the answer gave, and dropped after
  a 401 so the next call exchanges anew. The refresh token itself is never written.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import AuthError, ConstructError, ProviderError
from ..secrets import Secret
from ..transport import Transport
from .base import Auth
from .grant import post_form, token_transport
from .store import Credential, TokenStore

__all__ = ["CLIENT_ID", "PLACEHOLDERS", "TOKEN_URLS", "MiniMaxAuth", "oauth_region", "read_grant"]

log = logging.getLogger("construct")

STORE_PROVIDER = "minimax-oauth"
CLIENT_ID = "78257093-7e40-4613-99e0-527b14b39113"
TOKEN_URLS = {
    "global": "https://api.minimax.io/oauth/token",
    "cn": "https://api.minimaxi.com/oauth/token",
}
PLACEHOLDERS = ("minimax-oauth", "minimax-oauth-cn")
REFRESH_MARGIN_S = 60.0
_REGIONS = {"cn": "cn", "china": "cn", "global": "global", "intl": "global"}
_REGIONS["international"] = "global"
HOW = (
    "set MINIMAX_API_KEY (a MiniMax API key), MINIMAX_OAUTH_TOKEN (an access token), "
    "or MINIMAX_OAUTH_REFRESH_TOKEN (a MiniMax OAuth refresh token)"
)


def oauth_region(environ: Mapping[str, str], row_region: str | None) -> str:
    """`global` or `cn`: MINIMAX_OAUTH_REGION, else China for a China alias."""
    named = _REGIONS.get(environ.get("MINIMAX_OAUTH_REGION", "").strip().lower())
    if named:
        return named
    return "cn" if row_region == "cn" else "global"


def _detail(data: Any) -> str:
    resp = data.get("base_resp") if isinstance(data, dict) else None
    msg = resp.get("status_msg") if isinstance(resp, dict) else None
    return msg.strip() if isinstance(msg, str) and msg.strip() else "no reason given"


def read_grant(data: Any, now: float) -> tuple[Secret, float | None]:
    """(access token, expiry) of a 2xx answer; ValueError saying why it does not count."""
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    status = data.get("status")
    if status is not None and str(status).strip().lower() != "success":
        raise ValueError(f"status {str(status)[:40]!r}: {_detail(data)}")
    access = data.get("access_token")
    if not isinstance(access, str) or not access.strip():
        raise ValueError(f"no access token: {_detail(data)}")
    expires_in = data.get("expires_in")
    expires = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        expires = now + expires_in
    return Secret(access.strip()), expires


def _fingerprint(token: Secret) -> str:
    return hashlib.sha256(token.reveal().encode()).hexdigest()[:16]


class MiniMaxAuth(Auth):
    """The key as `Authorization: Bearer`; with none, the OAuth refresh token's access token."""

    __slots__ = ("_environ", "_lock", "_region", "_store", "_token", "_transport", "clock")

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = True,
        *,
        environ: Mapping[str, str],
        region: str | None,
        store: TokenStore | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(provider, display_name, key_env, required)
        self._environ = environ
        self._region = region
        self._store = store
        self._transport = transport
        self.clock = clock
        self._token: Credential | None = None
        self._lock = threading.Lock()

    def missing(self) -> AuthError:
        return AuthError(
            f"No credential for {self.display_name}: {HOW} (in the environment or a .env "
            "file), or api_key in config.toml (api_key= in code).",
            provider=self.provider,
        )

    def _key(self, key: Secret | None) -> Secret | None:
        """The key to send; None: exchange the refresh token. The placeholder asks for the
        environment's tokens (never the generic key), then the exchange (§1.5)."""
        if key is None or key.reveal().strip().lower() not in PLACEHOLDERS:
            return key
        for var in ("MINIMAX_OAUTH_TOKEN", "MINIMAX_API_KEY"):
            value = self._environ.get(var, "").strip()
            if value:
                return Secret(value)
        return None

    def _fresh(self, found: Credential | None, refresh_token: Secret) -> bool:
        if found is None or found.method != f"refresh token {_fingerprint(refresh_token)}":
            return False
        expires = found.expires_at
        return expires is None or self.clock() + REFRESH_MARGIN_S < expires

    def _refresh_token(self) -> Secret | None:
        value = self._environ.get("MINIMAX_OAUTH_REFRESH_TOKEN", "").strip()
        return Secret(value) if value else None

    def needs_refresh(self, key: Secret | None) -> bool:
        if self._key(key) is not None:
            return False
        refresh_token = self._refresh_token()
        return refresh_token is None or not self._fresh(self._token, refresh_token)

    def refresh(self, key: Secret | None) -> None:
        if not self.needs_refresh(key):
            return
        refresh_token = self._refresh_token()
        if refresh_token is None:
            raise self.missing()
        with self._lock:
            if self._fresh(self._token, refresh_token):
                return
            region = oauth_region(self._environ, self._region)
            if self._store is None:
                self._store = TokenStore.default(self._environ)
            self._token = self._store.obtained(
                STORE_PROVIDER,
                region,
                lambda found: not self._fresh(found, refresh_token),
                lambda found: self._exchange(refresh_token, region),
            )

    def _exchange(self, refresh_token: Secret, region: str) -> Credential:
        if self._transport is None:
            self._transport = token_transport(self.provider, "MiniMax OAuth")
        fields = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.reveal(),
            "client_id": self._environ.get("MINIMAX_OAUTH_CLIENT_ID", "").strip() or CLIENT_ID,
        }
        url = TOKEN_URLS[region]
        try:
            data = post_form(self._transport, url, fields)
            access, expires = read_grant(data, self.clock())
        except ProviderError as exc:
            import json

            with contextlib.suppress(ValueError, RecursionError):
                detail = _detail(json.loads(exc.body or ""))
                raise self._refused(f"HTTP {exc.status}: {detail}", region, exc.status) from None
            raise self._refused(f"HTTP {exc.status}", region, exc.status) from None
        except ValueError as exc:
            raise self._refused(str(exc), region, None) from None
        log.debug("minimax: access token obtained from the %s OAuth endpoint", region)
        now = self.clock()
        return Credential(
            STORE_PROVIDER,
            access,
            expires_at=expires,
            method=f"refresh token {_fingerprint(refresh_token)}",
            obtained_at=now,
        )

    def _refused(self, detail: str, region: str, status: int | None) -> AuthError:
        return AuthError(
            f"MiniMax OAuth ({region}) did not exchange MINIMAX_OAUTH_REFRESH_TOKEN for an "
            f"access token ({detail}). Sign in to MiniMax again for a new refresh token, check "
            "MINIMAX_OAUTH_REGION (cn or global) matches the account, or set MINIMAX_API_KEY.",
            provider=self.provider,
            status=status,
        )

    def headers(self, key: Secret | None) -> dict[str, str]:
        own = self._key(key)
        if own is None:
            self.refresh(key)
            own = self._token.access_token if self._token else None
        if own is None:
            raise self.missing()
        return {"Authorization": f"Bearer {own.reveal()}"}

    def rejected(self, key: Secret | None) -> bool:
        """A 401 to the exchanged token: forget it here and in the store, and exchange the
        refresh token again for one more try."""
        if self._key(key) is not None:
            return False
        with self._lock:
            token, self._token = self._token, None
        if token is None or self._store is None:
            return False
        region = oauth_region(self._environ, self._region)
        with contextlib.suppress(ConstructError, OSError):
            found = self._store.load(STORE_PROVIDER, region)
            if found is not None and found.access_token == token.access_token:
                self._store.delete(STORE_PROVIDER, region)
        return True

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(ConstructError):
                self._transport.close()
