"""Azure OpenAI: the endpoint, deployment and API version a row resolves to, and its auth.

Where each piece comes from, first found wins:

* endpoint: `api_url` (R5), `AZURE_OPENAI_RESOURCE` (a resource name, read as
  `https://{name}.openai.azure.com`), `AZURE_OPENAI_ENDPOINT` (the SDK's variable,
  a full URL);
* deployment: a `/openai/deployments/<name>` path in that URL,
  `AZURE_OPENAI_DEPLOYMENT`, else the `model` argument of the call;
* API version: an `api-version` query in that URL, `AZURE_OPENAI_API_VERSION`,
  `OPENAI_API_VERSION` (the SDK's variable), else `DEFAULT_API_VERSION`;
* credentials: the key as `api-key`, else `AZURE_OPENAI_AD_TOKEN` as Bearer
  (`construct.auth.azure`), both read when the provider is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..auth import Auth, auth_for
from ..dialects.azure_openai import (
    DEFAULT_API_VERSION,
    AzureOpenAIChat,
    AzureSettings,
    split_endpoint,
)
from ..errors import ConfigError
from ..options import ProviderRuntimeOptions
from ..registry import Resolved, validate_base_url

__all__ = ["build", "build_dialect"]

_RESOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _endpoint_from_env(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(endpoint URL, problem) from AZURE_OPENAI_RESOURCE / AZURE_OPENAI_ENDPOINT."""
    resource = environ.get("AZURE_OPENAI_RESOURCE", "").strip()
    endpoint = environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
    if resource and not resource.startswith(("http://", "https://")):
        if not _RESOURCE.fullmatch(resource):
            return None, (
                f"AZURE_OPENAI_RESOURCE must be the resource name (the 'name' in "
                f"https://name.openai.azure.com), got {resource!r}."
            )
        return f"https://{resource}.openai.azure.com", None
    endpoint = resource or endpoint
    if not endpoint:
        return None, (
            "Azure OpenAI needs its resource: set AZURE_OPENAI_RESOURCE to the resource name "
            "or AZURE_OPENAI_ENDPOINT to https://<name>.openai.azure.com, or pass api_url= / "
            "set api_url in config.toml."
        )
    try:
        form = "https://<name>.openai.azure.com"
        return validate_base_url(endpoint, "AZURE_OPENAI_ENDPOINT", form), None
    except ConfigError as exc:
        return None, exc.message


def build_dialect(resolved: Resolved, opts: ProviderRuntimeOptions) -> AzureOpenAIChat:
    """The dialect configured for the Azure row, its runtime options and the environment."""
    spec = resolved.spec
    env = os.environ
    problem = None
    if opts.provider_api_url and opts.provider_api_url.strip():
        url: str | None = resolved.base_url
    else:
        url, problem = _endpoint_from_env(env)
    endpoint, url_deployment, url_version = split_endpoint(url) if url else ("", None, None)
    deployment = url_deployment or env.get("AZURE_OPENAI_DEPLOYMENT", "").strip() or None
    version = (
        url_version
        or env.get("AZURE_OPENAI_API_VERSION", "").strip()
        or env.get("OPENAI_API_VERSION", "").strip()
        or DEFAULT_API_VERSION
    )
    return AzureOpenAIChat(
        AzureSettings(
            provider=spec.name,
            display_name=spec.display_name,
            url=f"{endpoint}/openai/deployments/{{deployment}}/chat/completions",
            models_url=f"{endpoint}/openai/models",
            native_tools=spec.native_tools,
            merge_system=spec.merge_system or opts.merge_system_into_user,
            max_tokens_field="max_completion_tokens",
            default_max_tokens=opts.provider_max_tokens,
            reasoning_effort=(opts.reasoning_effort or "").strip().lower() or None,
            openai_sampling=True,
            stream_usage=spec.stream_usage,
            endpoint=endpoint,
            deployment=deployment,
            api_version=version,
            problem=problem,
        )
    )


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> tuple[AzureOpenAIChat, Auth]:
    return build_dialect(resolved, opts), auth_for(resolved)
