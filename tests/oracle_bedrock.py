"""botocore's service models as the test oracle for Bedrock's Converse wire format.

Requests: the body construct sends (plus `modelId`, a URI member) must pass botocore's
own `ParamValidator` against the `Converse` / `ConverseStream` input shapes (unknown
members, wrong types, missing required members, unions with one member set, minimum
lengths), every enum value must be one the model lists, and every blob must be valid
base64 on the wire. Responses and stream events are built as dicts and checked the
same way against the output shapes before construct parses them, so what we parse is
what botocore itself would accept. Event-stream frames are assembled by hand from the
format's definition and cross-checked with botocore's `EventStreamBuffer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import struct
import uuid
import zlib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.parsers import EventStreamJSONParser, create_parser
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator


@cache
def runtime_model() -> Any:
    return botocore.session.get_session().get_service_model("bedrock-runtime")


@cache
def control_model() -> Any:
    return botocore.session.get_session().get_service_model("bedrock")


def operation(name: str) -> Any:
    return runtime_model().operation_model(name)


def stream_shape() -> Any:
    return operation("ConverseStream").output_shape.members["stream"]


# -- validation --------------------------------------------------------------------


def _from_wire(value: Any, shape: Any, where: str) -> Any:
    """The JSON wire form -> botocore's parameter form (blobs are bytes, not base64)."""
    kind = shape.type_name
    if kind == "structure" and getattr(shape, "is_document_type", False):
        return value
    if kind == "structure" and isinstance(value, dict):
        return {
            k: _from_wire(v, shape.members[k], f"{where}.{k}") if k in shape.members else v
            for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_from_wire(v, shape.member, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_wire(v, shape.value, f"{where}.{k}") for k, v in value.items()}
    if kind == "blob":
        assert isinstance(value, str), f"{where}: a blob travels as base64 text, got {value!r}"
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise AssertionError(f"{where}: not valid base64 ({exc})") from None
    return value


def _check_enums(value: Any, shape: Any, where: str) -> None:
    kind = shape.type_name
    if kind == "string" and getattr(shape, "enum", None):
        assert value in shape.enum, f"{where}: {value!r} is not one of {shape.enum}"
    elif kind == "structure" and not getattr(shape, "is_document_type", False):
        for k, v in value.items():
            if k in shape.members:
                _check_enums(v, shape.members[k], f"{where}.{k}")
    elif kind == "list":
        for i, v in enumerate(value):
            _check_enums(v, shape.member, f"{where}[{i}]")
    elif kind == "map":
        for k, v in value.items():
            _check_enums(v, shape.value, f"{where}.{k}")


def validate_shape(data: Mapping[str, Any], shape: Any, where: str = "body") -> dict[str, Any]:
    """Fail unless `data` (wire JSON) is a value of `shape`; returns the parameter form."""
    params = _from_wire(json.loads(json.dumps(data)), shape, where)
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), (
        f"{where} does not match {shape.name}:\n{report.generate_report()}"
    )
    _check_enums(params, shape, where)
    return params


def validate_converse_request(
    body: Mapping[str, Any], model_id: str, *, stream: bool = False
) -> dict[str, Any]:
    """The body must be a `Converse` (or `ConverseStream`) request botocore could send."""
    assert "modelId" not in body, "modelId travels in the URL, not the body"
    op = operation("ConverseStream" if stream else "Converse")
    return validate_shape({"modelId": model_id, **body}, op.input_shape, "request")


def botocore_request(body: Mapping[str, Any], model_id: str, *, stream: bool = False) -> dict:
    """What botocore's own rest-json serializer makes of the same parameters:
    `url_path` and the JSON body."""
    params = validate_converse_request(body, model_id, stream=stream)
    op = operation("ConverseStream" if stream else "Converse")
    serialized = create_serializer("rest-json", include_validation=False).serialize_to_request(
        params, op
    )
    return {"url_path": serialized["url_path"], "body": json.loads(serialized["body"])}


# -- responses ---------------------------------------------------------------------


def converse_response(
    content: Iterable[Mapping[str, Any]],
    *,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (12, 5),
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> dict[str, Any]:
    """A `ConverseResponse` body, checked against botocore's output shape."""
    tokens: dict[str, int] = {"inputTokens": usage[0], "outputTokens": usage[1]}
    if cache_read is not None:
        tokens["cacheReadInputTokens"] = cache_read
    if cache_write is not None:
        tokens["cacheWriteInputTokens"] = cache_write
    tokens["totalTokens"] = usage[0] + usage[1] + (cache_read or 0) + (cache_write or 0)
    body = {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": stop_reason,
        "usage": tokens,
        "metrics": {"latencyMs": 321},
    }
    shape = operation("Converse").output_shape
    validate_shape(body, shape, "response")
    # And botocore's own response parser reads it.
    parsed = create_parser("rest-json").parse(
        {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}, shape
    )
    assert parsed["stopReason"] == stop_reason
    return body


def models_response(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A `ListFoundationModels` body, checked against botocore's `bedrock` model."""
    body = {"modelSummaries": list(summaries)}
    shape = control_model().operation_model("ListFoundationModels").output_shape
    validate_shape(body, shape, "models")
    return body


# -- event-stream frames, assembled by hand --------------------------------------------

# Header value types of the event-stream format.
BOOL_TRUE, BOOL_FALSE, BYTE, SHORT, INTEGER, LONG, BYTES, STRING, TIMESTAMP, UUID = range(10)


def _header(name: str, kind: int, value: Any) -> bytes:
    raw_name = name.encode()
    out = struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">B", kind)
    if kind in (BOOL_TRUE, BOOL_FALSE):
        return out
    if kind == BYTE:
        return out + struct.pack(">b", value)
    if kind == SHORT:
        return out + struct.pack(">h", value)
    if kind == INTEGER:
        return out + struct.pack(">i", value)
    if kind in (LONG, TIMESTAMP):
        return out + struct.pack(">q", value)
    if kind in (BYTES, STRING):
        data = value.encode() if kind == STRING else value
        return out + struct.pack(">H", len(data)) + data
    if kind == UUID:
        return out + value.bytes
    raise ValueError(kind)


def frame(headers: Iterable[tuple[str, int, Any]], payload: bytes) -> bytes:
    """One frame: prelude (total, headers length, CRC), headers, payload, message CRC."""
    raw_headers = b"".join(_header(*h) for h in headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


# Bedrock pads event payloads with a "p" member of varying length to hide their size.
PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"


def event(event_type: str, payload: Mapping[str, Any], *, pad: bool = True) -> bytes:
    """A ConverseStream event frame; the payload is checked against its event shape."""
    validate_shape(payload, stream_shape().members[event_type], event_type)
    data = {**payload, "p": PADDING[: 7 + len(event_type)]} if pad else dict(payload)
    return frame(
        [
            (":event-type", STRING, event_type),
            (":content-type", STRING, "application/json"),
            (":message-type", STRING, "event"),
        ],
        json.dumps(data, separators=(",", ":")).encode(),
    )


def exception(exception_type: str, message: str) -> bytes:
    """An exception frame, as the service sends a failure after the 200."""
    return frame(
        [
            (":exception-type", STRING, exception_type),
            (":content-type", STRING, "application/json"),
            (":message-type", STRING, "exception"),
        ],
        json.dumps({"message": message}).encode(),
    )


def text_events(*pieces: str, stop: str = "end_turn", usage: tuple[int, int] = (7, 3)) -> bytes:
    """A streamed text answer: messageStart, one text block, messageStop, metadata."""
    out = [event("messageStart", {"role": "assistant"})]
    out += [
        event("contentBlockDelta", {"delta": {"text": p}, "contentBlockIndex": 0}) for p in pieces
    ]
    out.append(event("contentBlockStop", {"contentBlockIndex": 0}))
    out.append(event("messageStop", {"stopReason": stop}))
    out.append(metadata(*usage))
    return b"".join(out)


def metadata(input_tokens: int, output_tokens: int, cache_read: int | None = None) -> bytes:
    usage = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens + (cache_read or 0),
    }
    if cache_read is not None:
        usage["cacheReadInputTokens"] = cache_read
    return event("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})


def tool_events(index: int, tool_id: str, name: str, pieces: Iterable[str]) -> list[bytes]:
    out = [
        event(
            "contentBlockStart",
            {
                "start": {"toolUse": {"toolUseId": tool_id, "name": name}},
                "contentBlockIndex": index,
            },
        )
    ]
    out += [
        event("contentBlockDelta", {"delta": {"toolUse": {"input": p}}, "contentBlockIndex": index})
        for p in pieces
    ]
    out.append(event("contentBlockStop", {"contentBlockIndex": index}))
    return out


def botocore_frames(raw: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """(headers, payload) of each frame, as botocore's own decoder reads them."""
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(dict(m.headers), m.payload) for m in buffer]


class _Body:
    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def stream(self) -> Iterable[bytes]:
        yield self._raw

    def close(self) -> None:
        pass


def botocore_events(raw: bytes) -> list[dict[str, Any]]:
    """The events botocore's ConverseStream reader makes of a body (raises on exceptions)."""
    return list(EventStream(_Body(raw), stream_shape(), EventStreamJSONParser(), "ConverseStream"))


SAMPLE_UUID = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")


# -- Signature Version 4, written out from the AWS documentation -----------------------
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), so the
# signature construct sends is checked against the algorithm, not only against botocore.


def _uri_encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes.
    return "".join(
        chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "-_.~") else f"%{b:02X}"
        for b in text.encode()
    )


def canonical_uri(raw_path: str) -> str:
    """Each segment URI-encoded twice (every service but S3): the wire path once more."""
    return "/".join(_uri_encode(segment) for segment in raw_path.split("/")) or "/"


def canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        pairs.append((_uri_encode(unquote(key)), _uri_encode(unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def sigv4_authorization(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """The `Authorization` header for a request signed over exactly `headers`."""
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    names = sorted(signed)
    canonical_request = "\n".join(
        [
            method,
            canonical_uri(raw_path),
            canonical_query(query),
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
