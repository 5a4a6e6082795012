"""The transports: the only place construct does network I/O.

A dialect describes a request (`HttpRequest`) and reads a response; a transport
sends the one and brings back the other. Each module holds one thing:

    wire.py            HttpRequest, HttpResponse, the JSON and SSE headers
    framing.py         lines and server-sent events out of a response body, sans I/O
    aws_eventstream.py the AWS event-stream binary framing (Bedrock), sans I/O
    deadlines.py       the call-wide deadline, and each exchange's Clock (whole attempt,
                       first event, idle between events, stream length)
    guard.py           httpx's socket reads and writes cut to the exchange's Clock
    body.py            bodies decoded in bounded steps and counted (max_response_mb)
    limits.py          the time and size limits a provider's transport applies
    errors.py          a failed connection, an error status, an unreadable body -> construct errors
    httpx.py           Transport: pooled httpx clients, sync and async (the default)
    aiohttp.py         AiohttpTransport: async calls through aiohttp (optional, imported lazily)
    subprocess.py      a local command run per call, the prompt on stdin, stdout read line
                       by line (the command-line providers; imported on use)

A Unix-socket transport will join them here.
"""

from __future__ import annotations

from .deadlines import deadline, seconds_left
from .framing import MAX_EVENT_CHARS, LineSplitter, NDJSONFramer, SSEDecoder, SSEFramer, framer_for
from .httpx import Transport
from .limits import Limits
from .wire import JSON_HEADERS, SSE_ACCEPT, HttpRequest, HttpResponse

__all__ = [
    "JSON_HEADERS",
    "MAX_EVENT_CHARS",
    "SSE_ACCEPT",
    "HttpRequest",
    "HttpResponse",
    "Limits",
    "LineSplitter",
    "NDJSONFramer",
    "SSEDecoder",
    "SSEFramer",
    "Transport",
    "deadline",
    "framer_for",
    "seconds_left",
]
