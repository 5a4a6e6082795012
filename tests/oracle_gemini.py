"""The official `google-genai` SDK as a test oracle for the Gemini REST wire format.

Requests, two ways:

- `validate_request` parses each part of a body we send with the SDK's own
  pydantic models in their REST (camelCase) form. Those models forbid extra
  keys, so an unknown or misspelled field fails; the parsed model dumped back
  by alias must equal what we sent, so a snake_case key or a value the model
  would coerce fails too. Top-level keys must be ones the SDK's request
  converter writes (`TOP_LEVEL_KEYS`, checked against the converter itself).
- `sdk_request` builds the same request with the SDK's types and turns it into
  the REST dict with the SDK's converter (`_GenerateContentParameters_to_mldev`),
  for equality tests against what construct sends.

Responses are built from the SDK's response models dumped by alias (the REST
shape; `parses_as_sdk_response` proves the SDK reads them back unchanged).
Error bodies are the shape `google.genai.errors.APIError` reads.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic
from google import genai
from google.genai import errors, models, types

# What `_GenerateContentParameters_to_mldev` writes at the top of a request
# (test_gemini checks this set against the converter).
TOP_LEVEL_KEYS = frozenset(
    {
        "contents",
        "systemInstruction",
        "generationConfig",
        "tools",
        "toolConfig",
        "safetySettings",
        "cachedContent",
        "labels",
        "serviceTier",
        "store",
        "continuationToken",
    }
)
_PART_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "systemInstruction": types.Content,
    "generationConfig": types.GenerationConfig,
    "toolConfig": types.ToolConfig,
}
_LIST_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "contents": types.Content,
    "tools": types.Tool,
    "safetySettings": types.SafetySetting,
}


def _b64(value: str) -> bytes:
    """Bytes fields compare by value: pydantic re-encodes them URL-safe."""
    text = value.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _canonical(v) for k, v in value.items()}
    if isinstance(value.get("thoughtSignature"), str):
        out["thoughtSignature"] = _b64(value["thoughtSignature"])
    if "mimeType" in value and isinstance(value.get("data"), str):
        out["data"] = _b64(value["data"])
    return out


def roundtrip(model: type[pydantic.BaseModel], value: Any, where: str) -> pydantic.BaseModel:
    """Parse `value` with the SDK model (extra keys forbidden) and check nothing changed."""
    parsed = model.model_validate_json(json.dumps(value))
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert _canonical(dumped) == _canonical(value), (
        f"{where}: the SDK's {model.__name__} reads {value!r} as {dumped!r}"
    )
    return parsed


def validate_request(body: Mapping[str, Any], *, extensions: Iterable[str] = ()) -> None:
    """Fail unless `body` is a generateContent request the SDK's types accept as is."""
    unknown = set(body) - TOP_LEVEL_KEYS - set(extensions)
    assert not unknown, f"request: keys {sorted(unknown)} are not generateContent fields"
    assert body.get("contents"), "request: contents is required and must not be empty"
    for key, model in _PART_MODELS.items():
        if key in body:
            roundtrip(model, body[key], key)
    for key, model in _LIST_MODELS.items():
        for i, item in enumerate(body.get(key) or ()):
            roundtrip(model, item, f"{key}[{i}]")
    for i, content in enumerate(body["contents"]):
        assert content.get("role") in ("user", "model"), f"contents[{i}]: role {content}"
        assert content.get("parts"), f"contents[{i}]: a turn without parts"


def _rest(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {k: _rest(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rest(v) for v in value]
    if isinstance(value, bytes):  # as the SDK's encode_unserializable_types does
        return base64.b64encode(value).decode("ascii")
    return value


def sdk_request(
    model: str, contents: list[types.Content], config: types.GenerateContentConfig | None = None
) -> dict[str, Any]:
    """The REST body the SDK itself sends for this model, contents and config."""
    client = genai.Client(api_key="oracle-key-not-sent")
    params = types._GenerateContentParameters(model=model, contents=contents, config=config)
    raw = models._GenerateContentParameters_to_mldev(client._api_client, params, None, params)
    raw.pop("_url", None)
    raw.pop("config", None)
    body = _rest(raw)
    if not body.get("generationConfig"):
        body.pop("generationConfig", None)
    return body


def same_request(ours: Mapping[str, Any], sdks: Mapping[str, Any]) -> bool:
    return _canonical(dict(ours)) == _canonical(dict(sdks))


# -- responses ---------------------------------------------------------------------------


def text_part(text: str, *, thought: bool = False, signature: bytes | None = None) -> types.Part:
    return types.Part(text=text, thought=thought or None, thought_signature=signature)


def call_part(
    name: str, args: dict[str, Any], *, call_id: str | None = None, signature: bytes | None = None
) -> types.Part:
    return types.Part(
        function_call=types.FunctionCall(id=call_id, name=name, args=args),
        thought_signature=signature,
    )


def usage(
    prompt: int = 12,
    candidates: int | None = 5,
    *,
    thoughts: int | None = None,
    cached: int | None = None,
    tool_prompt: int | None = None,
) -> types.GenerateContentResponseUsageMetadata:
    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=prompt,
        candidates_token_count=candidates,
        thoughts_token_count=thoughts,
        cached_content_token_count=cached,
        tool_use_prompt_token_count=tool_prompt,
        total_token_count=prompt + (candidates or 0) + (thoughts or 0) + (tool_prompt or 0),
    )


def response(
    *parts: types.Part | str,
    finish: str | None = "STOP",
    usage_metadata: types.GenerateContentResponseUsageMetadata | None = None,
    model_version: str | None = "gemini-2.5-flash-001",
    block_reason: str | None = None,
    block_message: str | None = None,
    no_candidates: bool = False,
    finish_message: str | None = None,
) -> dict[str, Any]:
    """A `GenerateContentResponse` body (one chunk of a stream, or a whole answer)."""
    built = [text_part(p) if isinstance(p, str) else p for p in parts]
    candidates = None
    if not no_candidates:
        candidates = [
            types.Candidate(
                content=types.Content(role="model", parts=built) if built else None,
                finish_reason=finish,
                finish_message=finish_message,
                index=0,
            )
        ]
    feedback = None
    if block_reason:
        feedback = types.GenerateContentResponsePromptFeedback(
            block_reason=block_reason, block_reason_message=block_message
        )
    body = types.GenerateContentResponse(
        candidates=candidates,
        usage_metadata=usage_metadata,
        model_version=model_version,
        prompt_feedback=feedback,
        response_id="resp-1",
    )
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


def parses_as_sdk_response(body: Mapping[str, Any]) -> types.GenerateContentResponse:
    """The SDK's own reading of a REST body, through its response converter."""
    converted = models._GenerateContentResponse_from_mldev(copy.deepcopy(dict(body)))
    return types.GenerateContentResponse._from_response(response=converted, kwargs={})


def sse(chunks: Iterable[Mapping[str, Any] | str]) -> bytes:
    """A `streamGenerateContent?alt=sse` body: one `data:` event per chunk, CRLF as Google sends."""
    return "".join(
        f"data: {c if isinstance(c, str) else json.dumps(c)}\r\n\r\n" for c in chunks
    ).encode()


def model_row(
    name: str,
    display: str,
    input_limit: int,
    output_limit: int,
    methods: Iterable[str] = ("generateContent", "countTokens"),
) -> dict[str, Any]:
    """One `models[]` row in REST form (the SDK converts it with `_Model_from_mldev`)."""
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": display,
        "description": f"{display} model",
        "inputTokenLimit": input_limit,
        "outputTokenLimit": output_limit,
        "supportedGenerationMethods": list(methods),
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
    }


def models_page(rows: list[dict[str, Any]], next_page_token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"models": rows}
    if next_page_token:
        body["nextPageToken"] = next_page_token
    return body


def sdk_models(body: Mapping[str, Any]) -> list[types.Model]:
    """The SDK's reading of a model-list body."""
    converted = models._ListModelsResponse_from_mldev(copy.deepcopy(dict(body)))
    return list(types.ListModelsResponse._from_response(response=converted, kwargs={}).models)


def error_body(
    code: int, message: str, status: str, details: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A Google API error body, checked to read the same through the SDK's `APIError`."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, "status": status}}
    if details:
        body["error"]["details"] = [dict(d) for d in details]
    err = errors.APIError(code, body)
    assert (err.code, err.message, err.status) == (code, message, status)
    return body


def retry_info(seconds: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": seconds}
