"""Azure OpenAI's credentials: an `api-key`, else a Microsoft Entra ID token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..registry import GENERIC_KEY_ENV
from ..secrets import Secret
from .base import Auth

if TYPE_CHECKING:
    from ..errors import AuthError

__all__ = ["AD_TOKEN_ENV", "AzureKeyOrEntra"]

AD_TOKEN_ENV = "AZURE_OPENAI_AD_TOKEN"


class AzureKeyOrEntra(Auth):
    """`api-key` for a key; without one, the Entra ID token read when the provider was built."""

    __slots__ = ("_token",)

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = True,
        *,
        environ: Mapping[str, str],
    ) -> None:
        super().__init__(provider, display_name, key_env, required)
        token = environ.get(AD_TOKEN_ENV, "").strip()
        # A Secret, so that error scrubbing knows the value as it knows every key.
        self._token = Secret(token) if token else None

    def headers(self, key: Secret | None) -> dict[str, str]:
        if key is not None:
            return {"api-key": key.reveal()}
        if self._token is not None:
            return {"Authorization": f"Bearer {self._token.reveal()}"}
        raise self.missing()

    def missing(self) -> AuthError:
        from ..errors import AuthError

        return AuthError(
            f"No credentials for {self.display_name}: set AZURE_OPENAI_API_KEY (or "
            f"{GENERIC_KEY_ENV}), or api_key in config.toml (api_key= in code), or set "
            f"{AD_TOKEN_ENV} to a Microsoft Entra ID access token.",
            provider=self.provider,
        )
