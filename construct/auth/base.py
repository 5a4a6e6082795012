"""`Auth`: how one provider's requests carry its credential, and the plain key styles.

An `Auth` is chosen by the registry row's `auth` column and built once per
provider (`construct.auth.auth_for`). A key is revealed only here, per request:
`headers()` turns the provider's `Secret` into the header that carries it, and
`sign()` finishes requests whose signature covers the request itself (SigV4).
A credential that must be fetched before a request (a token exchanged for a
short-lived one: GitHub Copilot) says so in `needs_refresh()`; `HttpProvider`
calls `refresh()` (sync) or awaits `arefresh()` before it builds a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from ..errors import AuthError

if TYPE_CHECKING:
    from ..secrets import Secret
    from ..transport import HttpRequest

__all__ = ["Auth", "Bearer", "HeaderKey"]


class Auth:
    """A provider's credential style; by default an API key as `Authorization: Bearer`."""

    __slots__ = ("display_name", "key_env", "provider", "required")

    # True: `sign` must see every request after it is built.
    signs: ClassVar[bool] = False
    # True: `provider:profile` names a stored sign-in this kind can select.
    accepts_profiles: ClassVar[bool] = False

    def __init__(
        self, provider: str, display_name: str, key_env: Sequence[str], required: bool = True
    ) -> None:
        self.provider = provider
        self.display_name = display_name
        self.key_env = tuple(key_env)
        self.required = required

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider}>"

    def headers(self, key: Secret | None) -> dict[str, str]:
        """The headers that authorise one request; built per call, never kept."""
        if key is None:
            if self.required:
                raise self.missing()
            return {}
        return self.key_headers(key.reveal())

    def key_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def sign(self, req: HttpRequest, key: Secret | None) -> None:
        """Finish a built request (only called when `signs`)."""

    def needs_refresh(self, key: Secret | None) -> bool:
        """True when `refresh` has I/O to do before a request can be built."""
        return False

    def refresh(self, key: Secret | None) -> None:
        """Fetch what the credential needs before a request (a token exchange); may block."""

    async def arefresh(self, key: Secret | None) -> None:
        """`refresh` off the event loop: it may wait on another process's lock (a token
        store's `flock`) as well as on the network, and it runs rarely (a token's lifetime)."""
        if self.needs_refresh(key):
            import asyncio

            await asyncio.to_thread(self.refresh, key)

    def rejected(self, key: Secret | None) -> bool:
        """The server answered 401 to a request this auth authorised: forget what was
        fetched for it (a short-lived token), so the next `refresh` fetches anew. True when
        that makes the call worth one more try (the provider refreshes, then resends)."""
        return False

    def close(self) -> None:
        """Release what the credential holds open (a connection to a token endpoint)."""

    def missing(self) -> AuthError:
        env = " or ".join(self.key_env)
        return AuthError(
            f"No API key for {self.display_name}: set {env} (in the environment or a .env "
            "file), or api_key in config.toml (api_key= in code).",
            provider=self.provider,
        )


class Bearer(Auth):
    """An API key as `Authorization: Bearer` (most providers)."""

    __slots__ = ()


class HeaderKey(Auth):
    """The key as the value of one header (`x-goog-api-key`, `api-key`)."""

    __slots__ = ("header",)

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = True,
        *,
        header: str,
    ) -> None:
        super().__init__(provider, display_name, key_env, required)
        self.header = header

    def key_headers(self, key: str) -> dict[str, str]:
        return {self.header: key}
