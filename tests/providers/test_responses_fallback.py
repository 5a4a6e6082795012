"""Reference §2.6: a chat-completions 404 on an OpenAI-compatible server retries via Responses."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, InvalidRequest, create_provider
from tests.oracle_openai_responses import message, response, validate_responses_request

BASE = "https://api.together.xyz/v1"
KEY = "test-key-0123456789"
ASK = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("hi")))


def _not_found(text: str = "Not Found") -> httpx.Response:
    return httpx.Response(404, json={"error": {"message": text}})


def test_a_404_from_chat_completions_is_retried_through_responses_and_remembered():
    with respx.mock() as mock:
        chat = mock.post(f"{BASE}/chat/completions").mock(return_value=_not_found())
        resp = mock.post(f"{BASE}/responses").mock(
            return_value=httpx.Response(200, json=response([message("Hello via Responses")]))
        )
        provider = create_provider("together", KEY)
        first = provider.chat(ASK, "m")
        second = provider.chat(ASK, "m")
    assert first.text == second.text == "Hello via Responses"
    assert chat.call_count == 1  # the switch is remembered for this provider
    assert resp.call_count == 2
    body = json.loads(resp.calls.last.request.content)
    validate_responses_request(body)
    assert body["instructions"] == "Be brief."
    assert resp.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


def test_a_404_saying_the_model_is_unknown_is_the_answer():
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/chat/completions").mock(
            return_value=_not_found("The model `nope` does not exist")
        )
        resp = mock.post(f"{BASE}/responses")
        with pytest.raises(InvalidRequest, match="does not exist"):
            create_provider("together", KEY).chat(ASK, "nope")
    assert resp.call_count == 0


def test_both_failing_says_so_in_one_error():
    with respx.mock() as mock:
        mock.post(f"{BASE}/chat/completions").mock(return_value=_not_found())
        mock.post(f"{BASE}/responses").mock(return_value=_not_found("no responses here"))
        with pytest.raises(InvalidRequest) as info:
            create_provider("together", KEY).chat(ASK, "m")
    text = str(info.value)
    assert "(chat completions unavailable; responses fallback failed:" in text
    assert "no responses here" in text
    assert info.value.status == 404


@pytest.mark.parametrize("name", ["openai", "openrouter", "glm", "minimax", "nvidia"])
def test_providers_the_reference_never_fell_back_for_do_not(name):
    provider = create_provider(name, KEY)
    url = provider._dialect.settings.url
    with respx.mock() as mock:
        mock.post(url).mock(return_value=_not_found())
        with pytest.raises(InvalidRequest):
            provider.chat(ASK, "m")
        assert len(mock.calls) == 1
