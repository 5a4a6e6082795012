"""The one deliberate re-send after a 400 that names what the model refused (reference §2.6, C6)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, InvalidRequest, ToolSpec, create_provider
from tests.oracle import completion, validate_chat_request

URL = "https://api.groq.com/openai/v1/chat/completions"
KEY = "test-key-0123456789"
TOOL = ToolSpec("lookup", "Look something up", {"type": "object", "properties": {}})
ASK = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("hi")), tools=(TOOL,))


def _bad(message: str) -> httpx.Response:
    return httpx.Response(400, json={"error": {"message": message, "type": "invalid_request"}})


def _bodies(route: respx.Route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


@pytest.mark.parametrize("use_async", [False, True])
def test_tools_refused_resends_with_prompt_guided_tools(use_async):
    text = '<tool_call>{"name": "lookup", "arguments": {"q": "x"}}</tool_call>'
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[
                _bad("This model does not support tools"),
                httpx.Response(200, json=completion(text)),
            ]
        )
        provider = create_provider("groq", KEY)
        response = asyncio.run(provider.achat(ASK, "m")) if use_async else provider.chat(ASK, "m")
    first, second = _bodies(route)
    assert "tools" in first and "tools" not in second
    validate_chat_request(second)
    assert "## Tool Use Protocol" in second["messages"][0]["content"]
    assert second["messages"][0]["content"].startswith("Be brief.\n\n")
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == [("lookup", {"q": "x"})]


def test_temperature_refused_resends_without_it():
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[
                _bad("`temperature` is deprecated for this model."),
                httpx.Response(200, json=completion("ok")),
            ]
        )
        response = create_provider("groq", KEY).chat(
            ChatRequest((ChatMessage.user("x"),)), "m", 0.5
        )
    first, second = _bodies(route)
    assert first["temperature"] == 0.5
    assert "temperature" not in second
    assert response.text == "ok"


def test_other_400s_are_not_resent():
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=_bad("model `m` does not exist"))
        with pytest.raises(InvalidRequest, match="does not exist"):
            create_provider("groq", KEY).chat(ASK, "m", 0.5)
    assert route.call_count == 1


def test_a_second_refusal_is_raised_not_looped():
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=_bad("tools are not supported"))
        with pytest.raises(InvalidRequest):
            create_provider("groq", KEY).chat(ASK, "m")
    assert route.call_count == 2
