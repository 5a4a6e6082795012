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

The endpoint, deployment and API version are resolved from `api_url` and the
environment by `construct.providers.azure`; the credentials are
`construct.auth.azure`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from ..errors import ConfigError
from ..transport import HttpRequest
from ..types import ChatRequest, ModelEntry
from .openai_chat import ChatSettings, OpenAIChat

__all__ = ["DEFAULT_API_VERSION", "AzureOpenAIChat", "AzureSettings", "split_endpoint"]

# The newest GA (non-preview) data-plane version of Azure's inference spec
# (azure-rest-api-specs: AzureOpenAI/inference/stable/2024-10-21). Its chat request
# takes `max_completion_tokens` and `stream_options`; the reference's default,
# 2024-08-01-preview, is a preview version. Reasoning models (o1, o3-mini, ...)
# need a preview version: set AZURE_OPENAI_API_VERSION.
DEFAULT_API_VERSION = "2024-10-21"


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
