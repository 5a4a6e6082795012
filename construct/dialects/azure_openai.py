"""Azure OpenAI: OpenAI chat completions on a deployment URL. Sans I/O.

The wire format is OpenAI's chat completions (so this reuses `OpenAIChat`), with
three differences (reference §8.8, Azure's REST reference and the `openai`
SDK's `AzureOpenAI` client):

* the URL names a deployment and an API version:
  `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={v}`,
  and the body has no `model` (the deployment decides it);
* the key travels as `api-key: <key>`, or a Microsoft Entra ID token as
  `Authorization: Bearer <token>` (`AZURE_OPENAI_AD_TOKEN`);
* models are listed at `{endpoint}/openai/models?api-version={v}`.

Where each piece comes from, first found wins:

* endpoint: `api_url` (R5), `AZURE_OPENAI_RESOURCE` (a resource name, read as
  `https://{name}.openai.azure.com`), `AZURE_OPENAI_ENDPOINT` (the SDK's variable,
  a full URL);
* deployment: a `/openai/deployments/<name>` path in that URL,
  `AZURE_OPENAI_DEPLOYMENT`, else the `model` argument of the call;
* API version: an `api-version` query in that URL, `AZURE_OPENAI_API_VERSION`,
  `OPENAI_API_VERSION` (the SDK's variable), else `DEFAULT_API_VERSION`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from ..errors import AuthError, ConfigError
from ..registry import GENERIC_KEY_ENV, validate_base_url
from ..secrets import Secret
from ..transport import HttpRequest
from ..types import ChatRequest, ModelEntry
from .openai_chat import ChatSettings, OpenAIChat

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = ["DEFAULT_API_VERSION", "AzureOpenAIChat", "AzureSettings", "build", "split_endpoint"]

# The newest GA (non-preview) data-plane version of Azure's inference spec
# (azure-rest-api-specs: AzureOpenAI/inference/stable/2024-10-21). Its chat request
# takes `max_completion_tokens` and `stream_options`; the reference's default,
# 2024-08-01-preview, is a preview version. Reasoning models (o1, o3-mini, ...)
# need a preview version: set AZURE_OPENAI_API_VERSION.
DEFAULT_API_VERSION = "2024-10-21"

AD_TOKEN_ENV = "AZURE_OPENAI_AD_TOKEN"
_RESOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


@dataclass(frozen=True, slots=True)
class AzureSettings(ChatSettings):
    # `https://{resource}.openai.azure.com`, or whatever `api_url` named.
    endpoint: str = ""
    # None: the deployment is the model argument of each call.
    deployment: str | None = None
    api_version: str = DEFAULT_API_VERSION
    # Why no endpoint could be built; raised as ConfigError on the first call (K2).
    problem: str | None = None


class AzureOpenAIChat(OpenAIChat):
    """OpenAI chat completions, sent to an Azure OpenAI deployment."""

    settings: AzureSettings

    def __init__(self, settings: AzureSettings) -> None:
        super().__init__(settings)

    @property
    def base_url(self) -> str | None:
        """The resolved endpoint, or None while the environment names none."""
        return self.settings.endpoint or None

    def _endpoint(self) -> str:
        if self.settings.problem:
            raise ConfigError(self.settings.problem)
        return self.settings.endpoint

    def _query(self) -> str:
        return urlencode({"api-version": self.settings.api_version})

    def deployment_url(self, model: str) -> str:
        deployment = self.settings.deployment or model
        name = quote(deployment, safe="")
        return f"{self._endpoint()}/openai/deployments/{name}/chat/completions?{self._query()}"

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        body = self.body(request, model, temperature, stream)
        # The deployment in the URL decides the model; Azure's schema has no `model`.
        body.pop("model", None)
        return HttpRequest("POST", self.deployment_url(model), dict(headers), body)

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest:
        return HttpRequest(
            "GET", f"{self._endpoint()}/openai/models?{self._query()}", dict(headers)
        )

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """`api-key` for a key; else an Entra ID token from AZURE_OPENAI_AD_TOKEN as Bearer."""
        if key:
            return {"api-key": key}
        token = os.environ.get(AD_TOKEN_ENV, "").strip()
        if token:
            # Wrapped so that error scrubbing knows the value, as it knows every key.
            return {"Authorization": f"Bearer {Secret(token).reveal()}"}
        s = self.settings
        raise AuthError(
            f"No credentials for {s.display_name}: set AZURE_OPENAI_API_KEY (or "
            f"{GENERIC_KEY_ENV}), pass api_key= / set api_key in config.toml, or set "
            f"{AD_TOKEN_ENV} to a Microsoft Entra ID access token.",
            provider=s.provider,
        )

    def parse_models(self, data: Any) -> list[ModelEntry]:
        """The models the resource offers for chat (base models and fine-tunes).

        These are model ids, not deployment names: a call names a deployment.
        """
        rows = data.get("data") if isinstance(data, dict) else None
        if isinstance(rows, list):
            rows = [
                r
                for r in rows
                if not (
                    isinstance(r, dict)
                    and isinstance(r.get("capabilities"), dict)
                    and r["capabilities"].get("chat_completion") is False
                )
            ]
        # Azure's list is always {"data": [...]}: anything else is refused by the parent.
        return super().parse_models({"data": rows})


def split_endpoint(url: str) -> tuple[str, str | None, str | None]:
    """(endpoint, deployment, api-version) of an Azure URL, as far as it names them.

    Accepts the bare endpoint (`https://res.openai.azure.com`), the SDK's base URL
    (`…/openai`, `…/openai/deployments/<name>`) and the portal's "target URI"
    (`…/openai/deployments/<name>/chat/completions?api-version=…`).
    """
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    deployment = None
    found = re.search(r"/openai(?=/|$)", path)
    if found:
        rest = path[found.end() :].split("/")
        if len(rest) > 2 and rest[1] == "deployments" and rest[2]:
            deployment = rest[2]
        path = path[: found.start()]
    version = (parse_qs(parts.query).get("api-version") or [None])[0]
    return f"{parts.scheme}://{parts.netloc}{path}", deployment, version


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


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> AzureOpenAIChat:
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
