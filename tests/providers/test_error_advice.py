"""What an error status says: a wrong path names the URL; a keyless call says no key went."""

from __future__ import annotations

import pytest

from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
    InvalidRequest,
    TransientError,
    create_provider,
)
from tests.loopback import LoopbackServer, Reply

HELLO = ChatRequest((ChatMessage.user("hello"),))


def _reply(status: int, body: bytes = b'{"detail": "Not Found"}') -> Reply:
    return Reply(status=status, headers={"content-type": "application/json"}, body=body)


def test_a_404_on_a_wrong_path_names_the_url_not_the_model():
    with LoopbackServer(lambda r: _reply(404)) as server:
        provider = create_provider(f"custom:{server.url}/v2", "k-test-1234")
        with pytest.raises(InvalidRequest) as info:
            provider.chat(HELLO, "m")
        with pytest.raises(InvalidRequest) as listing:
            provider.list_models()
    for error in (info.value, listing.value):
        text = str(error)
        assert f"{server.url}/v2/" in text
        assert "check the base URL" in text
        assert "model name" not in text


def test_a_404_that_names_the_model_still_says_so():
    body = b'{"error": {"message": "The model `gpt-5x` does not exist", "code": 404}}'
    with LoopbackServer(lambda r: _reply(404, body)) as server:
        provider = create_provider(f"custom:{server.url}/v1", "k-test-1234")
        with pytest.raises(InvalidRequest) as info:
            provider.chat(HELLO, "gpt-5x")
    assert "Check the model name" in str(info.value)


@pytest.mark.parametrize(
    ("status", "kind"), [(401, AuthError), (403, AuthError), (500, TransientError)]
)
def test_a_keyless_call_that_fails_says_no_key_was_sent(status, kind):
    with LoopbackServer(lambda r: _reply(status, b'{"error": "unauthorized"}')) as server:
        # vLLM's row: a local server whose key is optional.
        provider = create_provider(f"custom:{server.url}/v1")
        with pytest.raises(kind) as info:
            provider.chat(HELLO, "m")
    assert "authorization" not in server.requests[0].headers
    assert "No API key was sent" in str(info.value)


def test_a_call_with_a_key_does_not_say_none_was_sent():
    with LoopbackServer(lambda r: _reply(401, b'{"error": "bad key"}')) as server:
        provider = create_provider(f"custom:{server.url}/v1", "k-test-1234")
        with pytest.raises(AuthError) as info:
            provider.chat(HELLO, "m")
    assert "No API key was sent" not in str(info.value)


def test_a_429_from_inside_reliable_provider_does_not_advise_reliable_provider():
    from construct import AllProvidersRateLimited, RateLimited, ReliableProvider

    with LoopbackServer(lambda r: _reply(429, b'{"error": {"message": "slow down"}}')) as server:
        bare = create_provider(f"custom:{server.url}/v1", "k-test-1234")
        with pytest.raises(RateLimited) as alone:
            bare.chat(HELLO, "m")
        chain = ReliableProvider([("local", bare)], retries=0, max_retry_after_s=0)
        with pytest.raises(AllProvidersRateLimited) as inside:
            chain.chat(HELLO, "m")
    # On its own, the provider's error says what would help: ReliableProvider.
    assert "use ReliableProvider" in str(alone.value)
    text = str(inside.value)
    assert "ReliableProvider" not in text
    assert "slow down" in text
    assert text.endswith("or fallback providers (reliability.fallback_providers).")
