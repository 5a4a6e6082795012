"""Qwen Code's sign-in: the Qwen Code CLI's cached OAuth credentials, refreshed in place.

Reference §1.6 (the Qwen OAuth context), with the facts of today's Qwen Code CLI
(github.com/QwenLM/qwen-code, packages/core/src/qwen/; docs/providers/qwen-oauth.md):

* The credential, in order: an explicit key that is not the placeholder `qwen-oauth`;
  `QWEN_OAUTH_TOKEN`; the CLI's cached sign-in `~/.qwen/oauth_creds.json`
  (`access_token`, `refresh_token`, `resource_url`, `expiry_date`); and, unless the
  placeholder was given, `DASHSCOPE_API_KEY`. The generic key of the reference is never read.
* The cache is refreshed when its access token is missing or expires within 30 s
  (`expiry_date` is seconds below 10^10, else milliseconds; the CLI writes milliseconds),
  with `QWEN_OAUTH_REFRESH_TOKEN` or the cached refresh token: a form POST to
  `TOKEN_URL` with the CLI's public client id (`QWEN_OAUTH_CLIENT_ID` overrides it).
* The refreshed tokens are written back to the CLI's file: Qwen rotates refresh tokens,
  so keeping them elsewhere would leave the CLI a dead one and sign the user out of it.
  The write is the CLI's own way: under its lock file `oauth_creds.lock` (created
  exclusively, stale after 10 s), the file read again under it, written whole to a
  temporary file (0600, every field it had kept) and renamed over it. Two processes,
  construct's or the CLI's, make one refresh.
* The base URL: `QWEN_OAUTH_RESOURCE_URL`, else the cached `resource_url`, normalised
  (`portal.qwen.ai` -> `https://portal.qwen.ai/v1`); `api_url` wins over both, the
  row's DashScope URL is the fallback. A DashScope key goes to DashScope.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuthError, ConstructError, ProviderError, error_message_from_body
from ..secrets import Secret
from ..transport import HttpRequest, Transport
from .base import Auth
from .grant import post_form, token_transport

__all__ = [
    "CLIENT_ID",
    "PLACEHOLDER",
    "TOKEN_URL",
    "Cached",
    "QwenOAuth",
    "creds_path",
    "expiry_seconds",
    "normalise_resource_url",
    "read_cached",
]

log = logging.getLogger("construct")

# Qwen Code's public OAuth client and token endpoint (packages/core/src/qwen/qwenOAuth2.ts).
CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56"
TOKEN_URL = "https://chat.qwen.ai/api/v1/oauth2/token"
# The api_key that asks for the sign-in and nothing else (no DASHSCOPE_API_KEY).
PLACEHOLDER = "qwen-oauth"
# Reference §1.6 and the CLI's TOKEN_REFRESH_BUFFER_MS: refresh 30 s before expiry.
REFRESH_MARGIN_S = 30.0
# The CLI's lock: a lock file older than 10 s belongs to a process that died holding it.
LOCK_STALE_S = 10.0
LOCK_TIMEOUT_S = 60.0
_LOCK_POLL_S = 0.05
# Below it `expiry_date` counts seconds, above it milliseconds (the year 2286 in seconds).
_MS_FROM = 10_000_000_000
SIGN_IN = "sign in with the Qwen Code CLI (run `qwen` and choose Qwen OAuth)"


def creds_path(environ: Mapping[str, str]) -> Path:
    """`~/.qwen/oauth_creds.json` of `HOME` (else `USERPROFILE`, else the user's home)."""
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return (Path(home) if home else Path.home()) / ".qwen" / "oauth_creds.json"


def expiry_seconds(value: Any) -> float | None:
    """`expiry_date` as seconds since the epoch (the CLI writes milliseconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 1000 if value >= _MS_FROM else float(value)


def normalise_resource_url(value: str | None) -> str | None:
    """`portal.qwen.ai` -> `https://portal.qwen.ai/v1`: trimmed, without a trailing `/`,
    `https://` when it names no scheme, `/v1` unless it ends so."""
    url = (value or "").strip().rstrip("/")
    if not url:
        return None
    if "://" not in url:
        url = f"https://{url}"
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass(frozen=True, slots=True)
class Cached:
    """The CLI's cached sign-in; `fields` is the whole document, kept to write it back."""

    access_token: Secret | None
    refresh_token: Secret | None
    resource_url: str | None
    expires_at: float | None
    fields: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"<Cached expires_at={self.expires_at} resource_url={self.resource_url!r}>"

    def fresh(self, now: float) -> bool:
        if self.access_token is None:
            return False
        return self.expires_at is None or now + REFRESH_MARGIN_S < self.expires_at


def _secret(value: Any) -> Secret | None:
    return Secret(value.strip()) if isinstance(value, str) and value.strip() else None


def read_cached(path: Path) -> Cached | None:
    """The sign-in at `path`, or None when there is none. A file that is not a JSON object
    raises AuthError naming the file, never a value."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(
            f"The Qwen Code sign-in {path} cannot be read ({exc.strerror}); {SIGN_IN} again."
        ) from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise AuthError(
            f"The Qwen Code sign-in {path} is not a JSON object; {SIGN_IN} again, or set "
            "QWEN_OAUTH_TOKEN."
        )
    url = data.get("resource_url")
    return Cached(
        _secret(data.get("access_token")),
        _secret(data.get("refresh_token")),
        url if isinstance(url, str) else None,
        expiry_seconds(data.get("expiry_date")),
        data,
    )


def write_cached(path: Path, fields: Mapping[str, Any]) -> None:
    """Replace `path` whole: a temporary file beside it (0600 from its creation), renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(fields), f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def cli_lock(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the Qwen Code CLI's lock `oauth_creds.lock` beside `path`: a file created
    exclusively (what the CLI does), removed by its holder; one older than 10 s is stale."""
    lock = path.with_name("oauth_creds.lock")
    lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_id = str(uuid.uuid4())
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > LOCK_STALE_S:
                    lock.unlink()
                    continue
            if time.monotonic() >= deadline:
                raise AuthError(
                    f"Another process has held the Qwen Code sign-in lock {lock} for "
                    f"{timeout_s:g} s; stop it, or remove the lock file and retry."
                ) from None
            time.sleep(_LOCK_POLL_S)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"lockId": lock_id, "timestamp": int(time.time() * 1000)}, f)
        break
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(lock.read_text()).get("lockId") == lock_id:
                lock.unlink()


@dataclass(frozen=True, slots=True)
class _Context:
    """What one key resolved to: the token to send, where, and until when."""

    token: Secret
    base_url: str | None
    expires_at: float | None
    cached: bool = False


class QwenOAuth(Auth):
    """The Qwen Code sign-in as `Authorization: Bearer` (reference §1.6).

    Nothing is read when the provider is built; the first call (`refresh`) reads the
    environment's tokens and the CLI's file, refreshes it when due, and `sign` sends the
    request to the sign-in's resource URL."""

    __slots__ = ("_contexts", "_environ", "_lock", "_rebase", "_rejected", "_transport", "clock")

    signs = True

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = True,
        *,
        environ: Mapping[str, str],
        rebase_from: str | None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(provider, display_name, key_env, required)
        self._environ = environ
        self._rebase = rebase_from.rstrip("/") if rebase_from else None
        self._transport = transport
        self.clock = clock
        self._contexts: dict[Secret | None, _Context] = {}
        # The cached access token a 401 refused: refreshed even before its expiry.
        self._rejected: Secret | None = None
        self._lock = threading.Lock()

    def _env(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    @property
    def path(self) -> Path:
        return creds_path(self._environ)

    def missing(self) -> AuthError:
        return AuthError(
            f"No Qwen Code sign-in: {SIGN_IN} first (it caches one in {self.path}), or set "
            "QWEN_OAUTH_TOKEN, or DASHSCOPE_API_KEY for a DashScope key.",
            provider=self.provider,
        )

    # -- the credential -----------------------------------------------------------

    def needs_refresh(self, key: Secret | None) -> bool:
        found = self._contexts.get(key)
        if found is None:
            return True
        return found.expires_at is not None and self.clock() + REFRESH_MARGIN_S >= found.expires_at

    def refresh(self, key: Secret | None) -> None:
        if self.needs_refresh(key):
            with self._lock:
                if self.needs_refresh(key):
                    self._contexts[key] = self._resolve(key)

    def _resolve(self, key: Secret | None) -> _Context:
        placeholder = key is not None and key.reveal().strip().lower() == PLACEHOLDER
        env_token = self._env("QWEN_OAUTH_TOKEN")
        if key is not None and not placeholder and key.reveal().strip() != env_token:
            return _Context(key, None, None)  # an explicit key: the row's URL
        cached = read_cached(self.path)
        base = normalise_resource_url(self._env("QWEN_OAUTH_RESOURCE_URL"))
        if env_token:
            resource = cached.resource_url if cached else None
            return _Context(Secret(env_token), base or normalise_resource_url(resource), None)
        failure: AuthError | None = None
        if cached is None or not self._usable(cached):
            try:
                cached = self._refreshed(cached)
            except AuthError as exc:
                failure = exc
        if cached is not None and self._usable(cached):
            url = base or normalise_resource_url(cached.resource_url)
            token = cached.access_token
            return _Context(token, url, cached.expires_at, cached=True)  # type: ignore[arg-type]
        dashscope = self._env("DASHSCOPE_API_KEY")
        if dashscope and not placeholder:
            if failure is not None:
                log.warning("%s; using DASHSCOPE_API_KEY", failure.message)
            return _Context(Secret(dashscope), base, None)
        raise failure or self.missing()

    def _usable(self, cached: Cached) -> bool:
        return cached.fresh(self.clock()) and cached.access_token != self._rejected

    def _refreshed(self, cached: Cached | None) -> Cached | None:
        """The sign-in refreshed (None: nothing to refresh with). Under the CLI's lock, the
        file read again first: another process may have refreshed it meanwhile."""
        refresh_token = _secret(self._env("QWEN_OAUTH_REFRESH_TOKEN"))
        if refresh_token is None and (cached is None or cached.refresh_token is None):
            return cached
        path = self.path
        with cli_lock(path):
            again = read_cached(path)
            if again is not None and self._usable(again):
                return again
            cached = again or cached
            token = refresh_token or (cached.refresh_token if cached else None)
            if token is None:
                return cached
            fields = self._grant(token)
            kept = dict(cached.fields) if cached else {}
            kept.update(fields)
            if again is not None:
                # Qwen rotates refresh tokens: the CLI must get the new one.
                write_cached(path, kept)
        log.debug("qwen-oauth: access token refreshed")
        url = kept.get("resource_url")
        return Cached(
            _secret(kept.get("access_token")),
            _secret(kept.get("refresh_token")),
            url if isinstance(url, str) else None,
            expiry_seconds(kept.get("expiry_date")),
            kept,
        )

    def _grant(self, refresh_token: Secret) -> dict[str, Any]:
        """The fields a refresh gives, as the CLI stores them (`expiry_date` in ms)."""
        if self._transport is None:
            self._transport = token_transport(self.provider, "Qwen OAuth")
        fields = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.reveal(),
            "client_id": self._env("QWEN_OAUTH_CLIENT_ID") or CLIENT_ID,
        }
        try:
            data = post_form(self._transport, TOKEN_URL, fields)
        except ProviderError as exc:
            detail = error_message_from_body(exc.body or "") or "no reason given"
            raise AuthError(
                f"Qwen OAuth refused to refresh the sign-in (HTTP {exc.status}: {detail}); "
                f"{SIGN_IN} again, or set QWEN_OAUTH_TOKEN.",
                provider=self.provider,
                status=exc.status,
            ) from None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access.strip():
            raise AuthError(
                f"Qwen OAuth's refresh answer has no access token; {SIGN_IN} again, or set "
                "QWEN_OAUTH_TOKEN.",
                provider=self.provider,
            )
        now = self.clock()
        out: dict[str, Any] = {"access_token": access.strip()}
        for name in ("refresh_token", "token_type", "resource_url"):
            if isinstance(data.get(name), str) and data[name].strip():
                out[name] = data[name].strip()
        expires_in = data.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            out["expiry_date"] = int((now + expires_in) * 1000)
        return out

    # -- the request --------------------------------------------------------------

    def _current(self, key: Secret | None) -> _Context:
        found = self._contexts.get(key)
        if found is None:
            self.refresh(key)
            found = self._contexts[key]
        return found

    def headers(self, key: Secret | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._current(key).token.reveal()}"}

    def sign(self, req: HttpRequest, key: Secret | None) -> None:
        """Send `req` to the sign-in's resource URL (the row's URL is the fallback)."""
        url, base = self._current(key).base_url, self._rebase
        if url and base and (req.url == base or req.url.startswith(base + "/")):
            req.url = url + req.url[len(base) :]

    def rejected(self, key: Secret | None) -> bool:
        """A 401: forget the token; a cached one is refreshed, and the call tried again."""
        with self._lock:
            found = self._contexts.pop(key, None)
        if found is not None and found.cached:
            self._rejected = found.token
            return True
        return False

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(ConstructError):
                self._transport.close()
