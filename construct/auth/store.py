"""Where sign-ins live: one small JSON file per provider and profile, private to the user.

    $CONSTRUCT_HOME/auth/<provider>/<profile>.json      (default: ~/.construct/auth/...)

`<profile>` is `default` unless a `provider:profile` name chose another. The
directories are 0700 and the files 0600; a file is written whole to a temporary
file beside it and renamed over it, so a reader never sees half of one.

Refreshing a sign-in (`TokenStore.refreshed`) takes an exclusive lock on
`<profile>.lock` (`fcntl.flock`) and reads the file again under it before
refreshing: providers rotate refresh tokens, and of two processes refreshing
one token at once the slower would keep a token the provider has already
replaced, which logs the user out. The one that waited finds the other's fresh
token and uses it, so one refresh is made.

Tokens are `Secret`s from the moment they are read: masked in every `repr` and
scrubbed from every message.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import AuthError, InvalidArgument
from ..secrets import Secret

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HOME_ENV",
    "Credential",
    "Revoked",
    "Session",
    "TokenStore",
    "construct_home",
]

HOME_ENV = "CONSTRUCT_HOME"
DEFAULT_PROFILE = "default"
# A file format a later construct can tell from this one.
_VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# How long a process waits for another one's refresh before giving up: a refresh is one
# HTTP exchange, bounded by its own timeout, so waiting longer means that process is stuck.
LOCK_TIMEOUT_S = 60.0
_LOCK_POLL_S = 0.05


def construct_home(environ: Mapping[str, str] | None = None) -> Path:
    """construct's own directory: `CONSTRUCT_HOME`, else `~/.construct` (where config.toml's
    lookup also looks, `construct.config.lookup`)."""
    env = os.environ if environ is None else environ
    named = env.get(HOME_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".construct"


@dataclass(frozen=True, slots=True)
class Session:
    """A short-lived token minted from a sign-in (Copilot's API token), until `expires_at`
    (seconds since the epoch), with the endpoint it was issued for."""

    token: Secret
    expires_at: float
    endpoint: str | None = None

    def fresh(self, now: float, margin_s: float) -> bool:
        return now + margin_s < self.expires_at


@dataclass(frozen=True, slots=True)
class Credential:
    """One sign-in: its tokens, who it belongs to, and how and when it was obtained."""

    provider: str
    access_token: Secret
    profile: str | None = None
    refresh_token: Secret | None = None
    # Seconds since the epoch; None: the access token does not expire.
    expires_at: float | None = None
    account: str | None = None
    # How it was obtained, as `construct auth status` shows it ("device flow").
    method: str = ""
    obtained_at: float = 0.0
    session: Session | None = None

    def to_json(self) -> dict[str, Any]:
        session = self.session
        return {
            "version": _VERSION,
            "provider": self.provider,
            "profile": self.profile,
            "account": self.account,
            "method": self.method,
            "obtained_at": self.obtained_at,
            "access_token": self.access_token.reveal(),
            "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
            "expires_at": self.expires_at,
            "session": None
            if session is None
            else {
                "token": session.token.reveal(),
                "expires_at": session.expires_at,
                "endpoint": session.endpoint,
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Credential:
        """Raises ValueError (saying which field, never a value) for a malformed document."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("version") != _VERSION:
            raise ValueError(f"format version {data.get('version')!r}, expected {_VERSION}")
        raw = data.get("session")
        session = None
        if raw is not None:
            if not isinstance(raw, dict):
                raise ValueError("session is not an object")
            session = Session(
                _secret(raw, "token", "session.token"),
                _number(raw, "expires_at", "session.expires_at"),
                _text(raw, "endpoint", "session.endpoint"),
            )
        refresh = data.get("refresh_token")
        return cls(
            provider=_text(data, "provider", "provider") or "",
            access_token=_secret(data, "access_token", "access_token"),
            profile=_text(data, "profile", "profile"),
            refresh_token=_secret(data, "refresh_token", "refresh_token") if refresh else None,
            expires_at=_number(data, "expires_at", "expires_at", optional=True),
            account=_text(data, "account", "account"),
            method=_text(data, "method", "method") or "",
            obtained_at=_number(data, "obtained_at", "obtained_at", optional=True) or 0.0,
            session=session,
        )


def _secret(data: dict[str, Any], key: str, where: str) -> Secret:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} is missing or not a string")
    return Secret(value)


def _text(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where} is not a string")
    return value


def _number(data: dict[str, Any], key: str, where: str, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is not a number")
    return float(value)


class Revoked(Exception):
    """Raised by a refresh function: the sign-in itself was refused (a revoked token), so
    the store removes it and raises `error`, which says how to sign in again."""

    def __init__(self, error: AuthError) -> None:
        super().__init__(error.message)
        self.error = error


def _checked(name: str | None, what: str) -> str:
    name = DEFAULT_PROFILE if name is None else name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(f"{what} must be letters, digits, '.', '_' and '-', got {name!r}")
    return name


class TokenStore:
    """The sign-ins under one directory (`TokenStore.default()`: `construct_home() / "auth"`)."""

    __slots__ = ("clock", "lock_timeout_s", "root")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        self.clock = clock

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> TokenStore:
        return cls(construct_home(environ) / "auth")

    def __repr__(self) -> str:
        return f"TokenStore({str(self.root)!r})"

    # -- where ---------------------------------------------------------------------

    def path(self, provider: str, profile: str | None = None) -> Path:
        """The file of `provider`'s sign-in under `profile` (None: the default one)."""
        return (
            self.root / _checked(provider, "a provider") / f"{_checked(profile, 'a profile')}.json"
        )

    def _directory(self, path: Path) -> Path:
        """`path`'s directory, made private to the user (created 0700; an existing one
        of ours is narrowed to 0700 too)."""
        directory = path.parent
        for d in (self.root, directory):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            if d.stat().st_mode & 0o077:
                d.chmod(0o700)
        return directory

    # -- reading and writing ---------------------------------------------------------

    def load(self, provider: str, profile: str | None = None) -> Credential | None:
        """The stored sign-in, or None; creates nothing."""
        path = self.path(provider, profile)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unreadable(provider, path, exc.strerror or type(exc).__name__) from None
        try:
            return Credential.from_json(json.loads(text))
        except (ValueError, RecursionError) as exc:
            # The reason names a field, never a value: the file holds tokens.
            reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise self._unreadable(provider, path, reason) from None

    def _unreadable(self, provider: str, path: Path, reason: str) -> AuthError:
        return AuthError(
            f"The stored sign-in {path} cannot be read ({reason}). Run `construct auth logout "
            f"{provider}` and sign in again with `construct auth login {provider}`.",
            provider=provider,
        )

    def save(self, credential: Credential) -> Path:
        """Write `credential` (under the lock: a refresh in flight cannot overwrite it)."""
        with self.locked(credential.provider, credential.profile):
            return self._write(credential)

    def _write(self, credential: Credential) -> Path:
        path = self.path(credential.provider, credential.profile)
        directory = self._directory(path)
        # mkstemp creates the file 0600, before a byte of the token is in it.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(credential.to_json(), f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_directory(directory)
        return path

    def delete(self, provider: str, profile: str | None = None) -> Credential | None:
        """Remove the stored sign-in; the one removed, or None when there was none (a file
        that cannot be read is removed too, and None returned)."""
        path = self.path(provider, profile)
        if not path.exists():
            return None
        with self.locked(provider, profile):
            try:
                found = self.load(provider, profile)
            except AuthError:
                found = None
            self._remove(path)
        return found

    def _remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _sync_directory(path.parent)

    def entries(self) -> list[tuple[str, str | None]]:
        """(provider, profile) of every stored sign-in, sorted; profile None is the default."""
        found = []
        if not self.root.is_dir():
            return found
        for path in sorted(self.root.glob("*/*.json")):
            provider, profile = path.parent.name, path.stem
            if _NAME.fullmatch(provider) and _NAME.fullmatch(profile):
                found.append((provider, None if profile == DEFAULT_PROFILE else profile))
        return found

    # -- refreshing ------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, provider: str, profile: str | None = None) -> Iterator[None]:
        """Hold the sign-in's lock: an exclusive `flock` on `<profile>.lock`, which also
        keeps apart two threads of one process (each opens the file anew)."""
        path = self.path(provider, profile).with_suffix(".lock")
        self._directory(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(fd, path, provider)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _acquire(self, fd: int, path: Path, provider: str) -> None:
        if fcntl is None:  # pragma: no cover - Windows: no lock, one process at a time
            return
        deadline = self.clock() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if self.clock() >= deadline:
                    raise AuthError(
                        f"Another construct process has held the sign-in lock {path} for "
                        f"{self.lock_timeout_s:g} s; it may be stuck. Stop it, or retry.",
                        provider=provider,
                    ) from None
                time.sleep(_LOCK_POLL_S)

    def refreshed(
        self,
        provider: str,
        profile: str | None,
        stale: Callable[[Credential], bool],
        refresh: Callable[[Credential], Credential],
    ) -> Credential | None:
        """The stored sign-in, refreshed first when `stale` says so; None when there is none.

        The refresh runs under the lock, after reading the file again: when another
        process refreshed it meanwhile, its result is used and `refresh` is not called.
        `refresh` raising `Revoked` removes the sign-in and raises the error it carries."""
        found = self.load(provider, profile)
        if found is None or not stale(found):
            return found
        with self.locked(provider, profile):
            found = self.load(provider, profile)
            if found is None or not stale(found):
                return found
            try:
                fresh = refresh(found)
            except Revoked as exc:
                self._remove(self.path(provider, profile))
                raise exc.error from None
            self._write(replace(fresh, provider=provider, profile=profile))
            return fresh

    def obtained(
        self,
        provider: str,
        profile: str | None,
        stale: Callable[[Credential | None], bool],
        fetch: Callable[[Credential | None], Credential],
    ) -> Credential:
        """`refreshed` for a credential construct obtains itself (from a refresh token the
        environment holds): `fetch` also runs when none is stored, and what it returns is
        stored; under the lock, after reading the file again, so one process fetches."""
        found = self.load(provider, profile)
        if found is not None and not stale(found):
            return found
        with self.locked(provider, profile):
            found = self.load(provider, profile)
            if found is not None and not stale(found):
                return found
            fresh = replace(fetch(found), provider=provider, profile=profile)
            self._write(fresh)
            return fresh


def _sync_directory(directory: Path) -> None:
    """Make a rename or removal in `directory` durable (where the OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows opens no directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)
