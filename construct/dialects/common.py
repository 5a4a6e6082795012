"""Small pieces every dialect needs the same way."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidResponse
from ..secrets import sanitize_api_error
from ..types import StopReason

__all__ = ["load_event", "promote_tool_use", "valid_json"]


def load_event(data: str | bytes, settings: Any, what: str = "stream event") -> Any:
    """One stream event's JSON; a body that is not JSON is the provider's fault (E1)."""
    try:
        return json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        raise InvalidResponse(
            f"{settings.display_name} sent a {what} that is not JSON: "
            f"{sanitize_api_error(text[:200])}",
            provider=settings.provider,
        ) from None


def valid_json(args: str) -> str:
    """Tool-call arguments as JSON text: `{}` when empty or not JSON."""
    if not args.strip():
        return "{}"
    try:
        json.loads(args)
    except ValueError:
        return "{}"
    return args


def promote_tool_use(stop: StopReason | None, has_calls: bool) -> StopReason | None:
    """Providers often say "stop" (or nothing) after tool calls; callers want `tool_use`."""
    if has_calls and stop in (None, "end_turn"):
        return "tool_use"
    return stop
