"""The transports: the only place construct does network I/O.

A dialect describes a request (`HttpRequest`) and reads a response; a transport
sends the one and brings back the other. Each module holds one thing:

    wire.py            HttpRequest, HttpResponse, the JSON and SSE headers
    framing.py         lines and server-sent events out of a response body, sans I/O
    aws_eventstream.py the AWS event-stream binary framing (Bedrock), sans I/O
    deadlines.py       the call-wide deadline every request is cut to
    errors.py          a failed connection, an error status, an unreadable body -> construct errors
    httpx.py           Transport: pooled httpx clients, sync and async (the default)
    aiohttp.py         AiohttpTransport: async calls through aiohttp (optional, imported lazily)

A Unix-socket transport and a subprocess transport (a local model server spoken to
over its stdin/stdout) will join them here.
"""

from __future__ import annotations

from .deadlines import deadline, seconds_left
from .framing import LineSplitter, NDJSONFramer, SSEDecoder, SSEFramer, framer_for
from .httpx import Transport
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse

__all__ = [
    "JSON_HEADERS",
    "SSE_ACCEPT",
    "HttpRequest",
    "HttpResponse",
    "LineSplitter",
    "NDJSONFramer",
    "SSEDecoder",
    "SSEFramer",
    "Transport",
    "deadline",
    "framer_for",
    "seconds_left",
]
