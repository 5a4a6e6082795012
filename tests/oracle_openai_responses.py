"""The official `openai` SDK as the oracle for the Responses API wire format.

Requests: the body must validate against the SDK's `ResponseCreateParams*` TypedDicts, and
every object we produce (input items, content parts, tools, `reasoning`) must validate
against its own TypedDict and use no key that TypedDict does not define. Responses and
stream events are built from the SDK's pydantic models, and every event is checked to parse
back as the SDK's `ResponseStreamEvent` union, so what construct parses is what the SDK
itself reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from openai.types.responses import (
    EasyInputMessageParam,
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseFunctionToolCallParam,
    ResponseIncompleteEvent,
    ResponseInputImageParam,
    ResponseInputTextParam,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningTextDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseUsage,
    ToolParam,
)
from openai.types.responses import response_create_params as rcp
from openai.types.responses.response import IncompleteDetails
from openai.types.responses.response_error import ResponseError
from openai.types.responses.response_input_param import FunctionCallOutput
from openai.types.responses.response_reasoning_item import Summary
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from openai.types.shared_params import Reasoning
from pydantic import TypeAdapter

from tests.oracle import assert_known_keys

_ITEM_TYPES = {
    "message": EasyInputMessageParam,
    "function_call": ResponseFunctionToolCallParam,
    "function_call_output": FunctionCallOutput,
}
_PART_TYPES = {"input_text": ResponseInputTextParam, "input_image": ResponseInputImageParam}
_STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
_TOOLS = TypeAdapter(list[ToolParam])


def _strict(value: Mapping[str, Any], typed_dict: type, where: str) -> None:
    """Valid for `typed_dict` on its own (not merely for some member of a union), no extra keys."""
    TypeAdapter(typed_dict).validate_python(dict(value))
    assert_known_keys(value, typed_dict, where)


def validate_responses_request(body: Mapping[str, Any]) -> None:
    """Fail unless `body` is a Responses request the openai SDK could have sent."""
    streaming = bool(body.get("stream"))
    params = (
        rcp.ResponseCreateParamsStreaming if streaming else rcp.ResponseCreateParamsNonStreaming
    )
    TypeAdapter(params).validate_python(dict(body))
    # `tools` is an Iterable the adapter checks only when consumed, and consuming it there
    # trips a pydantic-core panic on the recursive tool schemas: check it as a list instead.
    if "tools" in body:
        _TOOLS.validate_python(body["tools"])
    assert_known_keys(body, params, "request")
    items = body["input"]
    assert isinstance(items, list), "input must be a list of items"
    for i, item in enumerate(items):
        kind = item.get("type")
        assert kind in _ITEM_TYPES, f"input[{i}]: unexpected item type {kind!r}"
        _strict(item, _ITEM_TYPES[kind], f"input[{i}]")
        if kind == "message" and isinstance(item["content"], list):
            for j, part in enumerate(item["content"]):
                _strict(part, _PART_TYPES[part["type"]], f"input[{i}].content[{j}]")
    for i, tool in enumerate(body.get("tools") or ()):
        _strict(tool, FunctionToolParam, f"tools[{i}]")
    if "reasoning" in body:
        _strict(body["reasoning"], Reasoning, "reasoning")


# -- responses ----------------------------------------------------------------------


def usage(input_tokens: int = 12, output_tokens: int = 5, cached: int = 0) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=input_tokens,
        input_tokens_details=InputTokensDetails(cache_write_tokens=0, cached_tokens=cached),
        output_tokens=output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        total_tokens=input_tokens + output_tokens,
    )


def message(text: str, item_id: str = "msg_1", refusal: str | None = None) -> ResponseOutputMessage:
    content: list[Any] = [ResponseOutputText(annotations=[], text=text, type="output_text")]
    if refusal is not None:
        content = [ResponseOutputRefusal(refusal=refusal, type="refusal")]
    return ResponseOutputMessage(
        id=item_id, content=content, role="assistant", status="completed", type="message"
    )


def function_call(
    call_id: str, name: str, arguments: str, item_id: str = "fc_1"
) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=item_id,
        call_id=call_id,
        name=name,
        arguments=arguments,
        type="function_call",
        status="completed",
    )


def reasoning(*summary: str, item_id: str = "rs_1") -> ResponseReasoningItem:
    return ResponseReasoningItem(
        id=item_id,
        summary=[Summary(text=s, type="summary_text") for s in summary],
        type="reasoning",
    )


def response_model(
    output: Iterable[Any] = (),
    *,
    model: str = "gpt-5-mini-2025-08-07",
    status: str = "completed",
    incomplete: str | None = None,
    error: tuple[str, str] | None = None,
    usage_: ResponseUsage | None = None,
) -> Response:
    return Response(
        id="resp_123",
        created_at=1_700_000_000,
        model=model,
        object="response",
        output=list(output),
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[],
        status=status,
        incomplete_details=IncompleteDetails(reason=incomplete) if incomplete else None,
        error=ResponseError(code=error[0], message=error[1]) if error else None,
        usage=usage_,
    )


def response(output: Iterable[Any] = (), **kw: Any) -> dict[str, Any]:
    """A Responses API body built from the SDK's `Response` model."""
    kw.setdefault("usage_", usage())
    return response_model(output, **kw).model_dump(mode="json", exclude_none=True)


# -- stream events ------------------------------------------------------------------


class Events:
    """Builds a stream event by event, numbering them as the API does."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def _add(self, event: Any) -> Events:
        self.events.append(event)
        return self

    @property
    def _seq(self) -> int:
        return len(self.events)

    def created(self, model: str = "gpt-5-mini-2025-08-07") -> Events:
        resp = response_model(model=model, status="in_progress")
        return self._add(
            ResponseCreatedEvent(response=resp, sequence_number=self._seq, type="response.created")
        )

    def item_added(self, index: int, item: Any) -> Events:
        return self._add(
            ResponseOutputItemAddedEvent(
                item=item,
                output_index=index,
                sequence_number=self._seq,
                type="response.output_item.added",
            )
        )

    def item_done(self, index: int, item: Any) -> Events:
        return self._add(
            ResponseOutputItemDoneEvent(
                item=item,
                output_index=index,
                sequence_number=self._seq,
                type="response.output_item.done",
            )
        )

    def text(self, delta: str, index: int = 0, item_id: str = "msg_1") -> Events:
        return self._add(
            ResponseTextDeltaEvent(
                content_index=0,
                delta=delta,
                item_id=item_id,
                logprobs=[],
                output_index=index,
                sequence_number=self._seq,
                type="response.output_text.delta",
            )
        )

    def summary(self, delta: str, index: int = 0, item_id: str = "rs_1") -> Events:
        return self._add(
            ResponseReasoningSummaryTextDeltaEvent(
                delta=delta,
                item_id=item_id,
                output_index=index,
                summary_index=0,
                sequence_number=self._seq,
                type="response.reasoning_summary_text.delta",
            )
        )

    def reasoning_text(self, delta: str, index: int = 0, item_id: str = "rs_1") -> Events:
        return self._add(
            ResponseReasoningTextDeltaEvent(
                content_index=0,
                delta=delta,
                item_id=item_id,
                output_index=index,
                sequence_number=self._seq,
                type="response.reasoning_text.delta",
            )
        )

    def args(self, delta: str, index: int, item_id: str = "fc_1") -> Events:
        return self._add(
            ResponseFunctionCallArgumentsDeltaEvent(
                delta=delta,
                item_id=item_id,
                output_index=index,
                sequence_number=self._seq,
                type="response.function_call_arguments.delta",
            )
        )

    def args_done(self, arguments: str, index: int, item_id: str = "fc_1") -> Events:
        return self._add(
            ResponseFunctionCallArgumentsDoneEvent(
                arguments=arguments,
                item_id=item_id,
                output_index=index,
                sequence_number=self._seq,
                type="response.function_call_arguments.done",
            )
        )

    def completed(self, output: Iterable[Any] = (), **kw: Any) -> Events:
        kw.setdefault("usage_", usage(7, 3))
        return self._add(
            ResponseCompletedEvent(
                response=response_model(output, **kw),
                sequence_number=self._seq,
                type="response.completed",
            )
        )

    def incomplete(self, reason: str, output: Iterable[Any] = ()) -> Events:
        resp = response_model(output, status="incomplete", incomplete=reason, usage_=usage(7, 3))
        return self._add(
            ResponseIncompleteEvent(
                response=resp, sequence_number=self._seq, type="response.incomplete"
            )
        )

    def failed(self, code: str, message: str) -> Events:
        resp = response_model(status="failed", error=(code, message))
        return self._add(
            ResponseFailedEvent(response=resp, sequence_number=self._seq, type="response.failed")
        )

    def error(self, message: str, code: str | None = None) -> Events:
        return self._add(
            ResponseErrorEvent(
                code=code, message=message, param=None, sequence_number=self._seq, type="error"
            )
        )

    def payloads(self) -> list[str]:
        """Each event's JSON, checked to parse back as the SDK's `ResponseStreamEvent`."""
        out = []
        for event in self.events:
            data = event.model_dump(mode="json", exclude_none=True)
            assert type(_STREAM_EVENT.validate_python(data)) is type(event)
            out.append(json.dumps(data))
        return out

    def sse(self) -> bytes:
        """The stream as the API sends it: `event:` name and `data:` line per event."""
        return "".join(
            f"event: {json.loads(p)['type']}\ndata: {p}\n\n" for p in self.payloads()
        ).encode()

    def chunks(self) -> list[bytes]:
        return [f"event: {json.loads(p)['type']}\ndata: {p}\n\n".encode() for p in self.payloads()]


def text_stream(*pieces: str, model: str = "gpt-5-mini-2025-08-07") -> Events:
    """A plain streamed answer, as OpenAI sends it."""
    whole = "".join(pieces)
    ev = Events().created(model)
    started = ResponseOutputMessage(
        id="msg_1", content=[], role="assistant", status="in_progress", type="message"
    )
    ev.item_added(0, started)
    for p in pieces:
        ev.text(p)
    ev.item_done(0, message(whole))
    return ev.completed([message(whole)], model=model)
