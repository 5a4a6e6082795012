"""GitHub Copilot's chat API: OpenAI chat completions, with Copilot's model list. Sans I/O.

Copilot answers OpenAI's chat completions, plain and streamed, with tools
(reference §8.2), so this is `OpenAIChat` with two differences:

* a request that holds an image says so in `Copilot-Vision-Request: true`, which
  Copilot wants before it takes images (the VS Code Copilot Chat extension and the
  proxies built on its API send it);
* `GET {api}/models` describes each model under `capabilities`: `type` ("chat",
  "embeddings", ...), `limits.max_context_window_tokens`, `limits.max_output_tokens`,
  `supports.vision`. Only chat models are listed.

The Copilot token, the host it names and the editor headers are
`construct.auth.copilot`'s and the registry row's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidResponse
from ..transport import HttpRequest
from ..types import ChatRequest, ImagePart, ModelEntry
from . import openai_chat
from .common import flag, token_limit
from .openai_chat import OpenAIChat

if TYPE_CHECKING:
    from ..options import ProviderRuntimeOptions
    from ..registry import Resolved

__all__ = ["CopilotChat", "build"]

VISION_HEADER = "Copilot-Vision-Request"


def _has_image(request: ChatRequest) -> bool:
    return any(
        not isinstance(m.content, str) and any(isinstance(p, ImagePart) for p in m.content)
        for m in request.messages
    )


def _part(row: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = row.get(key)
    return value if isinstance(value, dict) else {}


class CopilotChat(OpenAIChat):
    """OpenAI chat completions as GitHub Copilot takes them."""

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest:
        req = super().chat_request(request, model, temperature, stream, headers)
        if _has_image(request):
            req.headers[VISION_HEADER] = "true"
        return req

    def parse_models(self, data: Any) -> list[ModelEntry]:
        s = self.settings
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponse(
                f"{s.display_name} model list has no 'data' array", provider=s.provider
            )
        entries = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            capabilities = _part(row, "capabilities")
            kind = capabilities.get("type")
            if kind is not None and kind != "chat":
                continue  # embeddings and completion models take no chat request
            limits = _part(capabilities, "limits")
            name = row.get("name")
            entries.append(
                ModelEntry(
                    model_id=row["id"],
                    display_name=name if isinstance(name, str) and name else None,
                    context_window=token_limit(limits.get("max_context_window_tokens")),
                    max_output_tokens=token_limit(limits.get("max_output_tokens")),
                    supports_image_input=flag(_part(capabilities, "supports").get("vision")),
                )
            )
        return entries


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> CopilotChat:
    """The OpenAI chat dialect configured for the row, as Copilot's."""
    chat = openai_chat.build(resolved, opts)
    return CopilotChat(replace(chat.settings))
