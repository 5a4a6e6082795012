"""Credential sources, one per registry `auth` column; `auth_for` picks and builds one.

    bearer          Bearer            Authorization: Bearer <key> (most providers)
    x-api-key       AnthropicKeyOrOAuth   x-api-key, or a Claude OAuth token as Bearer
    api-key         AzureKeyOrEntra   api-key, or an Entra ID token as Bearer
    x-goog-api-key  HeaderKey         the key in one header (Gemini: never in the URL)
    aws             SigV4             a Bedrock API key as Bearer, else SigV4 (botocore)
    none            Bearer            optional: sent when one is given
    oauth           CopilotAuth       a GitHub sign-in exchanged for Copilot tokens (built
                                      by construct.providers.copilot, not here)
    qwen-oauth      QwenOAuth         the Qwen Code CLI's sign-in (~/.qwen/oauth_creds.json),
                                      refreshed in place; a region's column (`qwen-code`)
    minimax-oauth   MiniMaxAuth       the key, else an access token for
                                      MINIMAX_OAUTH_REFRESH_TOKEN, kept in the token store

Sign-ins live in the token store (`store`: private files, atomic writes, one refresh
at a time across processes); `device` is the RFC 8628 device flow that obtains them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..registry import Resolved, auth_kind, shown_key_env
from .base import Auth, Bearer, HeaderKey

if TYPE_CHECKING:
    from .aws import AwsSession

__all__ = ["Auth", "Bearer", "HeaderKey", "auth_for"]


def auth_for(
    resolved: Resolved,
    environ: Mapping[str, str] | None = None,
    *,
    aws: AwsSession | None = None,
    region: Callable[[], str] | None = None,
) -> Auth:
    """The credential style `resolved`'s row names, built for it (environment read now)."""
    spec = resolved.spec
    who = spec.display_name
    if resolved.profile is not None:
        who = f"{who} (auth profile {resolved.profile!r})"
    common = (spec.name, who, shown_key_env(resolved), spec.key_required)
    kind = auth_kind(resolved)
    endpoint = spec.regions.get(resolved.region) if resolved.region else None
    env = os.environ if environ is None else environ
    if kind in ("bearer", "none"):
        return Bearer(*common)
    if kind == "x-api-key":
        from .anthropic import AnthropicKeyOrOAuth

        return AnthropicKeyOrOAuth(*common)
    if kind == "x-goog-api-key":
        return HeaderKey(*common, header="x-goog-api-key")
    if kind == "api-key":
        from .azure import AzureKeyOrEntra

        return AzureKeyOrEntra(*common, environ=env)
    if kind == "qwen-oauth":
        from .qwen import QwenOAuth

        # The resource URL replaces the region's URL, not one `api_url` set (R5: it wins).
        own = endpoint is not None and resolved.base_url == endpoint.base_url
        return QwenOAuth(*common, environ=env, rebase_from=resolved.base_url if own else None)
    if kind == "minimax-oauth":
        from .minimax import MiniMaxAuth

        return MiniMaxAuth(*common, environ=env, region=resolved.region)
    if kind == "aws" and aws is not None and region is not None:
        from .aws import SigV4

        return SigV4(*common, aws=aws, region=region)
    raise ConfigError(f"{spec.display_name}: no credential source for auth {kind!r} yet")
