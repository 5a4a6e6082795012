"""`api = "responses"` / `ProviderRuntimeOptions(api=...)` and the `openai-responses` row:
the public ways to reach the Responses API (issue: no public name for it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ConfigError,
    InvalidArgument,
    ProviderRuntimeOptions,
    create_provider,
    create_provider_with_options,
)
from construct.config import load_config
from construct.factory import create_provider_from_config
from tests.oracle_openai_responses import (
    message,
    response,
    text_stream,
    validate_responses_request,
)

KEY = "sk-test-api-option-0123456789abcdef"
HELLO = ChatRequest([ChatMessage.user("Hello")])
CHAT_ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "chat"}, "finish_reason": "stop"}
    ],
}


def sse(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def answered(route: respx.Route) -> dict:
    body = json.loads(route.calls.last.request.content)
    validate_responses_request(body)
    return body


@pytest.mark.parametrize(
    ("name", "options", "url"),
    [
        ("openai", {"api": "responses"}, "https://api.openai.com/v1/responses"),
        ("openai-responses", None, "https://api.openai.com/v1/responses"),
        ("openai_responses", None, "https://api.openai.com/v1/responses"),
        (
            "custom:http://127.0.0.1:4000/v1",
            {"api": "responses"},
            "http://127.0.0.1:4000/v1/responses",
        ),
        (
            "groq",
            ProviderRuntimeOptions(api="responses"),
            "https://api.groq.com/openai/v1/responses",
        ),
    ],
)
def test_the_call_goes_to_the_responses_endpoint(name, options, url) -> None:
    key = "gsk_test_api_option_0123456789" if name == "groq" else KEY
    p = create_provider_with_options(name, key, options)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(
            side_effect=[
                httpx.Response(200, json=response([message("Hi")])),
                sse(text_stream("He", "llo").sse()),
            ]
        )
        assert p.chat(HELLO, "gpt-5-mini").text == "Hi"
        assert answered(route)["stream"] is False
        events = list(p.stream(HELLO, "gpt-5-mini"))
        assert answered(route)["stream"] is True
    assert [e.delta for e in events if e.type == "text_delta"] == ["He", "llo"]
    assert events[-1].type == "final" and events[-1].response.text == "Hello"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {key}"


def test_async_stream_through_the_option() -> None:
    p = create_provider_with_options("openai", KEY, {"api": "responses"})

    async def run():
        async with p:
            return [e async for e in p.astream(HELLO, "gpt-4o")]

    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://api.openai.com/v1/responses").mock(
            return_value=sse(text_stream("a", "b").sse())
        )
        events = asyncio.run(run())
    assert events[-1].response.text == "ab"


def test_api_chat_puts_chat_completions_behind_the_responses_row() -> None:
    p = create_provider_with_options("openai-responses", KEY, {"api": "chat"})
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=CHAT_ANSWER)
        )
        assert p.chat(HELLO, "gpt-4o").text == "chat"


def test_without_api_openai_stays_on_chat_completions() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=CHAT_ANSWER)
        )
        assert create_provider("openai", KEY).chat(HELLO, "gpt-4o").text == "chat"


@pytest.mark.parametrize("name", ["anthropic", "gemini", "ollama"])
def test_a_provider_with_its_own_api_refuses_the_option(name) -> None:
    with pytest.raises(ConfigError, match="applies to OpenAI-compatible providers only") as info:
        create_provider_with_options(name, None, {"api": "responses"})
    assert name in str(info.value)


@pytest.mark.parametrize("value", ["respond", "", 1, "Responses"])
def test_a_wrong_value_names_the_field_and_the_choices(value) -> None:
    with pytest.raises(InvalidArgument, match="api must be one of 'chat', 'responses'"):
        ProviderRuntimeOptions(api=value)


def test_the_openai_key_serves_both_openai_rows_but_other_vendors_keys_are_refused() -> None:
    create_provider("openai-responses", KEY)  # no mismatch: the same vendor's key
    with pytest.raises(ConfigError, match="prefix mismatch"):
        create_provider("openai-responses", "sk-ant-api03-0123456789abcdef")


def _config(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_config_api_applies_to_the_default_provider_not_its_fallbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test_api_option_0123456789")
    config = _config(
        tmp_path,
        'default_provider = "openai"\ndefault_model = "gpt-5-mini"\napi = "responses"\n'
        '[reliability]\nprovider_retries = 0\nfallback_providers = ["groq"]\n',
    )
    p = create_provider_from_config(config)
    with respx.mock(assert_all_called=True) as mock:
        primary = mock.post("https://api.openai.com/v1/responses").mock(
            return_value=httpx.Response(503, json={"error": {"message": "down"}})
        )
        fallback = mock.post("https://api.groq.com/openai/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=CHAT_ANSWER)
        )
        assert p.chat(HELLO).text == "chat"
    assert answered(primary)["model"] == "gpt-5-mini"
    assert fallback.called


def test_a_fallback_named_openai_responses_speaks_the_responses_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = _config(
        tmp_path,
        'default_provider = "custom:http://127.0.0.1:9/v1"\ndefault_model = "gpt-4o"\n'
        '[reliability]\nprovider_retries = 0\nfallback_providers = ["openai-responses"]\n',
    )
    p = create_provider_from_config(config)
    with respx.mock(assert_all_called=True) as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions").mock(
            side_effect=httpx.ConnectError("refused")
        )
        route = mock.post("https://api.openai.com/v1/responses").mock(
            return_value=httpx.Response(200, json=response([message("from responses")]))
        )
        assert p.chat(HELLO).text == "from responses"
    assert answered(route)["model"] == "gpt-4o"


def test_a_wrong_api_in_config_is_a_config_error_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'default_provider = "openai"\napi = "completions"\n')
    assert "api" in str(info.value) and "responses" in str(info.value)


def test_config_api_on_anthropic_is_refused_when_the_provider_is_built(tmp_path: Path) -> None:
    config = _config(tmp_path, 'default_provider = "anthropic"\napi = "responses"\n')
    with pytest.raises(ConfigError, match="OpenAI-compatible providers only"):
        create_provider_from_config(config)
