"""What goes on the wire: `HttpRequest` (a dialect's description of a request), `HttpResponse`
(status, headers, body), and the headers every transport sends with them.

Plain values, no I/O: dialects build requests from these without knowing which HTTP
library will send them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["JSON_HEADERS", "SSE_ACCEPT", "HttpRequest", "HttpResponse", "is_json_document"]

# Session defaults on every client, so a plain call passes only its auth headers.
JSON_HEADERS: Final[Mapping[str, str]] = {
    "Content-Type": "application/json",
    "Accept": "application/json",
}
# Merged over the call's headers when it streams.
SSE_ACCEPT: Final[Mapping[str, str]] = {"Accept": "text/event-stream"}


@dataclass(slots=True)
class HttpRequest:
    """What a dialect asks to send; the transport adds nothing but pooling and timeouts."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    # Exact body bytes, for requests whose signature covers the body (SigV4); wins over json.
    content: bytes | None = None
    # Expected stream framing: text lines (SSE, NDJSON) or raw bytes (AWS event stream).
    binary_stream: bool = False

    def body_kwargs(self) -> dict[str, Any]:
        if self.content is not None:
            return {"content": self.content}
        return {"json": self.json}


@dataclass(slots=True)
class HttpResponse:
    status: int
    # httpx.Headers or aiohttp's CIMultiDictProxy: case-insensitive either way.
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        try:
            # Decoding first skips json's encoding sniffing, on every response.
            return json.loads(self.content.decode("utf-8"))
        except UnicodeDecodeError:
            return json.loads(self.content)


def is_json_document(headers: Mapping[str, str]) -> bool:
    """The response is one JSON document (`application/json`), not a stream's framing:
    some servers answer a stream request that way (LiteLLM's mocks, error objects)."""
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json"
