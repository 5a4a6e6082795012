"""C1-C2: the text conveniences send the whole history and return text, never JSON."""

from __future__ import annotations

import asyncio
import json

import httpx
import respx

from construct import ChatMessage, create_provider
from tests.oracle import completion, validate_chat_request

URL = "https://api.groq.com/openai/v1/chat/completions"
KEY = "test-key-0123456789"


def test_chat_with_history_sends_every_turn_in_order():
    # The reference kept only the first system and the last user message.
    history = [
        ChatMessage.system("Rule one."),
        {"role": "user", "content": "first question"},
        ChatMessage.assistant("first answer"),
        ChatMessage.system("Rule two."),
        {"role": "user", "content": "second question"},
    ]
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=completion("ok")))
        provider = create_provider("groq", KEY)
        assert provider.chat_with_history(history, "m") == "ok"
        assert asyncio.run(provider.achat_with_history(history, "m")) == "ok"
    for call in route.calls:
        body = json.loads(call.request.content)
        validate_chat_request(body)
        assert [(m["role"], m["content"]) for m in body["messages"]] == [
            ("system", "Rule one."),
            ("user", "first question"),
            ("assistant", "first answer"),
            ("system", "Rule two."),
            ("user", "second question"),
        ]


def test_text_methods_return_text_even_when_the_model_calls_tools():
    # The reference returned the whole assistant message as JSON text here.
    reply = completion(
        "Checking.", finish_reason="tool_calls", tool_calls=[("c1", "lookup", '{"q": 1}')]
    )
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=reply))
        provider = create_provider("groq", KEY)
        text = provider.chat_with_system("Be brief.", "look it up", "m")
    assert text == "Checking."
    body = json.loads(route.calls.last.request.content)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "look it up"},
    ]


def test_chat_with_system_without_a_system_prompt_sends_only_the_user_turn():
    with respx.mock() as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200, json=completion("hi")))
        assert create_provider("groq", KEY).chat_with_system(None, "hello", "m") == "hi"
    body = json.loads(route.calls.last.request.content)
    assert body["messages"] == [{"role": "user", "content": "hello"}]
