"""`construct auth login|logout|status [PROVIDER]`: the sign-ins of the token store.

A sign-in is kept in construct's token store (`construct.auth.store`, under
`$CONSTRUCT_HOME/auth`, default `~/.construct/auth`). `login` runs the
provider's sign-in in the terminal (GitHub Copilot: GitHub's device flow);
`status` says who is signed in, until when, and where the credential comes from;
`logout` removes a stored sign-in. No token is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import AuthError
from ..registry import key_from_env, resolve, split_profile, with_profile
from .common import UsageError, one_line

if TYPE_CHECKING:
    from ..auth.device import DeviceCode
    from ..auth.store import Credential, TokenStore
    from ..registry import Resolved

__all__ = ["run_login", "run_logout", "run_status"]

EXIT_INTERRUPTED = 130


def _login_copilot(store: TokenStore, resolved: Resolved, show: Callable[[DeviceCode], None]):
    from ..auth.copilot import editor_headers, github_transport, sign_in

    github = github_transport(editor_headers(resolved.headers))
    try:
        return sign_in(store, profile=resolved.profile, github=github, show=show)
    finally:
        github.close()


@dataclass(frozen=True, slots=True)
class _SignIn:
    login: Callable[[TokenStore, Resolved, Callable[[DeviceCode], None]], Credential]
    # Where the user can withdraw what they granted (signing out only forgets the token).
    revoke_at: str | None = None


# The providers `construct auth login` can sign in to.
SIGN_INS = {
    "copilot": _SignIn(_login_copilot, "https://github.com/settings/applications"),
}


def _resolved(name: str) -> Resolved:
    """`provider` or `provider:profile`, resolved to its row (aliases allowed)."""
    provider, profile = split_profile(name.strip())
    resolved = resolve(provider)
    if resolved.custom:
        raise UsageError(f"{name!r} is a URL, not a provider with a sign-in")
    return with_profile(resolved, profile) if profile is not None else resolved


def _label(resolved: Resolved) -> str:
    suffix = f":{resolved.profile}" if resolved.profile else ""
    return f"{resolved.spec.display_name} ({resolved.spec.name}{suffix})"


def _command(resolved: Resolved) -> str:
    suffix = f":{resolved.profile}" if resolved.profile else ""
    return f"construct auth login {resolved.spec.name}{suffix}"


def _store() -> TokenStore:
    from ..auth.store import TokenStore

    return TokenStore.default()


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def _no_sign_in(resolved: Resolved) -> UsageError:
    spec = resolved.spec
    known = ", ".join(sorted(SIGN_INS))
    if spec.key_env:
        how = f"it takes an API key ({spec.key_env[0]})"
    else:
        how = "construct cannot sign in to it yet"
    return UsageError(
        f"{spec.display_name} ({spec.name}) has no sign-in: {how}. Sign-ins: {known}."
    )


# -- login ---------------------------------------------------------------------------


def _show(resolved: Resolved) -> Callable[[DeviceCode], None]:
    def show(code: DeviceCode) -> None:
        where = code.verification_uri_complete or code.verification_uri
        minutes = max(1, round(code.expires_in / 60))
        print(f"To sign in to {resolved.spec.display_name}, open {where}")
        print(f"and enter the code {code.user_code} (it expires in {minutes} minutes).")
        print("Waiting for you there... (Ctrl-C cancels)", flush=True)

    return show


def run_login(args: argparse.Namespace) -> int:
    if not args.provider:
        raise UsageError(
            f"name the provider to sign in to: construct auth login PROVIDER "
            f"(one of: {', '.join(sorted(SIGN_INS))})"
        )
    resolved = _resolved(args.provider)
    sign_in = SIGN_INS.get(resolved.spec.name)
    if sign_in is None:
        raise _no_sign_in(resolved)
    store = _store()
    try:
        credential = sign_in.login(store, resolved, _show(resolved))
    except KeyboardInterrupt:
        print("\nSign-in cancelled; nothing was stored.", file=sys.stderr)
        return EXIT_INTERRUPTED
    who = f" as {credential.account}" if credential.account else ""
    path = store.path(resolved.spec.name, resolved.profile)
    print(f"Signed in to {resolved.spec.display_name}{who}.")
    print(f"The sign-in is stored in {path}.")
    return 0


# -- logout --------------------------------------------------------------------------


def _targets(name: str | None, store: TokenStore) -> list[Resolved]:
    if name:
        return [_resolved(name)]
    found = []
    for provider, profile in store.entries():
        try:
            found.append(_resolved(f"{provider}:{profile}" if profile else provider))
        except Exception:  # a directory the registry does not know: not ours to judge
            continue
    return found


def run_logout(args: argparse.Namespace) -> int:
    store = _store()
    targets = _targets(args.provider, store)
    if not targets:
        print("No sign-ins are stored; nothing to remove.")
        return 0
    for resolved in targets:
        spec = resolved.spec
        path = store.path(spec.name, resolved.profile)
        removed = store.delete(spec.name, resolved.profile)
        if removed is None and not args.provider:
            print(f"Removed {path} (it could not be read).")
            continue
        if removed is None:
            print(f"Not signed in to {_label(resolved)}; nothing to remove.")
            continue
        who = f" ({removed.account})" if removed.account else ""
        print(f"Signed out of {spec.display_name}{who}: removed {path}.")
        sign_in = SIGN_INS.get(spec.name)
        if sign_in is not None and sign_in.revoke_at:
            print(f"To withdraw construct's access too, revoke it at {sign_in.revoke_at}")
    return 0


# -- status --------------------------------------------------------------------------


def _status_lines(resolved: Resolved, store: TokenStore) -> tuple[list[str], bool]:
    """What `status` says about one provider, and whether a credential is there."""
    spec = resolved.spec
    label = _label(resolved)
    # K1: a key from the environment is used before any stored sign-in.
    env = key_from_env(resolved, os.environ)
    lines = []
    if env is not None:
        lines += [
            f"{label}: a GitHub token from {env[0]} (the environment)"
            if spec.name == "copilot"
            else f"{label}: a key from {env[0]} (the environment)",
            f"  calls use it, not a stored sign-in (unset {env[0]} to use the stored one)",
        ]
    try:
        found = store.load(spec.name, resolved.profile)
    except AuthError as exc:
        return [*lines, f"{label}: {one_line(exc.message)}"], env is not None
    path = store.path(spec.name, resolved.profile)
    if found is None:
        if env is None and spec.name not in SIGN_INS:
            raise _no_sign_in(resolved)
        if env is None:
            lines.append(f"{label}: not signed in. Sign in with: {_command(resolved)}")
        return lines, env is not None
    lines += _credential_lines(label, found, str(path))
    return lines, True


def _credential_lines(label: str, found: Credential, path: str) -> list[str]:
    now = time.time()
    who = f"signed in as {found.account}" if found.account else "signed in"
    how = found.method or "stored"
    if found.obtained_at:
        how = f"{how}, {_when(found.obtained_at)}"
    if found.expires_at is None:
        expires = "never"
    elif found.expires_at > now:
        expires = _when(found.expires_at)
    else:
        expires = f"expired {_when(found.expires_at)}"
    lines = [f"{label}: {who}", f"  from:     {how}", f"  expires:  {expires}"]
    session = found.session
    if session is not None:
        state = "until" if session.expires_at > now else "expired"
        lines.append(f"  session:  {state} {_when(session.expires_at)} (renewed as needed)")
    lines.append(f"  stored:   {path}")
    return lines


def run_status(args: argparse.Namespace) -> int:
    store = _store()
    if args.provider:
        targets = [_resolved(args.provider)]
    else:
        stored = _targets(None, store)
        names = {(r.spec.name, r.profile) for r in stored}
        targets = [resolve(name) for name in sorted(SIGN_INS) if (name, None) not in names]
        targets = sorted([*targets, *stored], key=lambda r: (r.spec.name, r.profile or ""))
    usable = False
    for resolved in targets:
        lines, found = _status_lines(resolved, store)
        usable = usable or found
        for line in lines:
            print(line)
    return 0 if usable else 1
