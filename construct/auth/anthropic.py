"""Anthropic's two credentials: an API key (`x-api-key`) or a Claude OAuth token."""

from __future__ import annotations

from ..dialects.anthropic_messages import OAUTH_BETAS, OAUTH_PREFIX
from .base import Auth

__all__ = ["AnthropicKeyOrOAuth"]


class AnthropicKeyOrOAuth(Auth):
    """Claude subscription tokens go as Bearer with the betas the OAuth API requires."""

    __slots__ = ()

    def key_headers(self, key: str) -> dict[str, str]:
        if key.startswith(OAUTH_PREFIX):
            return {
                "Authorization": f"Bearer {key}",
                "anthropic-beta": ",".join(OAUTH_BETAS),
                "anthropic-dangerous-direct-browser-access": "true",
            }
        return {"x-api-key": key}
