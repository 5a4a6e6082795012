"""`provider:profile`: a profile picks which of the user's keys a provider uses."""

from __future__ import annotations

import httpx
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    create_provider_with_options,
    create_resilient_provider,
)
from construct.errors import AuthError, ConfigError

HELLO = ChatRequest((ChatMessage.user("hi"),))
PLAIN = "sk-plain-deepseek-0123456789"
WORK = "sk-work-deepseek-0123456789"
ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-chat",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DEEPSEEK_API_KEY", "DEEPSEEK_API_KEY_WORK", "CONSTRUCT_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def _fallback(entry: str):
    chain = create_resilient_provider("groq", "gsk_primary_0123456789", None, {
        "fallback_providers": [entry]
    })  # fmt: skip
    return chain.providers[1][1]


def test_a_profile_reads_its_own_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", PLAIN)
    monkeypatch.setenv("DEEPSEEK_API_KEY_WORK", WORK)
    provider = _fallback("deepseek:work")
    assert provider.key_source == "DEEPSEEK_API_KEY_WORK"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://api.deepseek.com/chat/completions").mock(
            return_value=httpx.Response(200, json=ANSWER)
        )
        assert provider.chat(HELLO, "deepseek-chat").text == "ok"
    assert route.calls[0].request.headers["authorization"] == f"Bearer {WORK}"


def test_a_profile_never_falls_back_to_the_plain_or_generic_key(monkeypatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", PLAIN)
    monkeypatch.setenv("CONSTRUCT_API_KEY", PLAIN)
    provider = _fallback("deepseek:work")
    assert provider.key is None
    with respx.mock(assert_all_mocked=True) as mock, pytest.raises(AuthError) as info:
        provider.chat(HELLO, "deepseek-chat")
    assert not mock.calls
    assert "DEEPSEEK_API_KEY_WORK" in str(info.value)
    assert "auth profile 'work'" in str(info.value)


def test_profile_names_become_variable_suffixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY_TEAM_B", WORK)
    options = ProviderRuntimeOptions(auth_profile_override="team-b")
    provider = create_provider_with_options("deepseek", None, options)
    assert provider.key_source == "DEEPSEEK_API_KEY_TEAM_B"


@pytest.mark.parametrize("profile", ["bad name", "x/y", " "])
def test_a_malformed_profile_is_a_config_error(profile: str) -> None:
    options = ProviderRuntimeOptions(auth_profile_override=profile)
    with pytest.raises(ConfigError, match="profile"):
        create_provider_with_options("deepseek", None, options)


def test_a_profile_for_a_provider_without_keys_is_refused_aloud() -> None:
    # claude-code runs a CLI and takes no key: a profile has nothing to choose.
    with pytest.raises(ConfigError, match="takes no key"):
        _fallback("claude-code:work")


def test_a_sign_in_provider_keeps_its_profile_for_its_token_store() -> None:
    options = ProviderRuntimeOptions(auth_profile_override="second")
    provider = create_provider_with_options("openai-codex", None, options)
    assert provider.name == "openai-codex"
