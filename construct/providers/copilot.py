"""GitHub Copilot: the OpenAI chat dialect behind a GitHub sign-in (reference §8.2).

`build` gives `HttpProvider` Copilot's dialect (`construct.dialects.copilot`) and
its auth (`construct.auth.copilot.CopilotAuth`): the GitHub token from the key or
the sign-in `construct auth login copilot` stored, exchanged for Copilot tokens
at GitHub as calls need them, and the host each token names. Nothing is read or
sent when the provider is built (K2).
"""

from __future__ import annotations

from ..auth.copilot import CopilotAuth, editor_headers, github_transport
from ..auth.store import TokenStore
from ..dialects.copilot import CopilotChat
from ..dialects.copilot import build as build_dialect
from ..options import ProviderRuntimeOptions
from ..registry import Resolved, shown_key_env

__all__ = ["build"]


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> tuple[CopilotChat, CopilotAuth]:
    spec = resolved.spec
    api_url_set = bool(opts.provider_api_url and opts.provider_api_url.strip())
    auth = CopilotAuth(
        spec.name,
        spec.display_name,
        shown_key_env(resolved),
        spec.key_required,
        profile=resolved.profile,
        store=TokenStore.default(),
        github=github_transport(
            editor_headers(resolved.headers, opts.extra_headers), opts.connect_timeout_secs
        ),
        # api_url replaces the base URL (R5), the exchange's endpoint included.
        rebase_from=None if api_url_set else resolved.base_url,
    )
    return build_dialect(resolved, opts), auth
