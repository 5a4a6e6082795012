"""The refresh-token grant (RFC 6749 §6) as the sign-in helpers send it: a form POST."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ..transport import HttpRequest, Transport

__all__ = ["REFRESH_TIMEOUT_S", "post_form", "token_transport"]

# Reference §1.6: a refresh is one small POST, 15 s in all and 5 s to connect.
REFRESH_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 5.0


def token_transport(provider: str, service: str) -> Transport:
    """The connection to a sign-in service's token endpoint."""
    return Transport(
        provider=provider,
        display_name=service,
        timeout_s=REFRESH_TIMEOUT_S,
        connect_timeout_s=CONNECT_TIMEOUT_S,
    )


def post_form(transport: Transport, url: str, fields: Mapping[str, str]) -> Any:
    """The JSON answer to a form POST; an error status is raised as the transport classifies
    it (`ProviderError`, with the body), a body that is not JSON as `InvalidResponse`."""
    req = HttpRequest(
        "POST",
        url,
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        content=urlencode(dict(fields)).encode(),
    )
    response = transport.send(req)
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise transport.invalid_body("not JSON", response.content) from None
