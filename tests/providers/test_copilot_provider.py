"""GitHub Copilot end to end through the public API, against respx mocks of GitHub's token
endpoint and the Copilot chat API: the token exchange and its caching, the host it names,
chat, streams and tools with the Copilot token and the editor headers, the model list,
and what each failure says."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    ToolSpec,
    create_provider,
    create_provider_with_options,
    create_provider_with_url,
)
from construct.auth.copilot import TOKEN_URL
from construct.auth.store import Credential, TokenStore
from construct.errors import AuthError, ConstructError, TransientError
from construct.registry import get_spec
from construct.secrets import Secret
from construct.types import ImagePart, TextPart
from tests.oracle import chunk, completion, sse, text_stream, validate_chat_request

GITHUB = "ghu_COPILOTCANARY0123456789abcdefgh"
COPILOT = "tid=COPILOTCANARY;exp=1765000000;sku=copilot_for_business;8kp=1:abcdef0123456789"
API = "https://api.individual.githubcopilot.com"
CHAT = f"{API}/chat/completions"
DEFAULT_CHAT = "https://api.githubcopilot.com/chat/completions"
EDITOR = {
    "editor-version": "vscode/1.111.0",
    "editor-plugin-version": "copilot-chat/0.42.0",
    "user-agent": "GitHubCopilotChat/0.42.0",
    "copilot-integration-id": "vscode-chat",
}
HELLO = ChatRequest((ChatMessage.user("Hello"),))
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def issued(token: str = COPILOT, refresh_in: int | None = 1500, **changes: object) -> dict:
    """What GitHub's token endpoint answers (the fields construct reads, and some others)."""
    body: dict = {
        "token": token,
        "expires_at": int(time.time()) + 1800,
        "refresh_in": refresh_in,
        "endpoints": {
            "api": API,
            "proxy": "https://proxy.individual.githubcopilot.com",
            "telemetry": "https://telemetry.individual.githubcopilot.com",
        },
        "sku": "copilot_for_business_seat",
        "chat_enabled": True,
    }
    if refresh_in is None:
        del body["refresh_in"]
    body.update(changes)
    return body


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenStore:
    monkeypatch.setenv("CONSTRUCT_HOME", str(tmp_path / "home"))
    return TokenStore.default()


@pytest.fixture
def signed_in(store: TokenStore) -> TokenStore:
    store.save(
        Credential(
            "copilot",
            Secret(GITHUB),
            account="octocat",
            method="device flow",
            obtained_at=time.time(),
        )
    )
    return store


@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(TOKEN_URL, name="exchange").mock(return_value=httpx.Response(200, json=issued()))
        mock.post(CHAT, name="chat").mock(return_value=httpx.Response(200, json=completion("Hi!")))
        yield mock


def test_the_row_is_ready() -> None:
    spec = get_spec("copilot")
    assert spec.available and spec.pending is None
    assert create_provider("github-copilot").name == "copilot"


def test_a_call_without_a_sign_in_says_to_sign_in_and_sends_nothing(store: TokenStore) -> None:
    provider = create_provider("copilot")
    with respx.mock(assert_all_mocked=True) as mock, pytest.raises(AuthError) as info:
        provider.chat(HELLO, "gpt-4o")
    assert not mock.calls
    message = str(info.value)
    assert "Not signed in to GitHub Copilot: run `construct auth login copilot`" in message
    assert "COPILOT_GITHUB_TOKEN" in message


def test_chat_exchanges_the_stored_token_and_calls_the_host_it_names(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    provider = create_provider("copilot")
    response = provider.chat(HELLO, "gpt-4o")
    assert response.text == "Hi!" and response.provider == "copilot"
    exchange = github["exchange"].calls.last.request
    assert exchange.headers["authorization"] == f"token {GITHUB}"
    assert exchange.headers["x-github-api-version"] == "2025-04-01"
    for name, value in EDITOR.items():
        assert exchange.headers[name] == value
    sent = github["chat"].calls.last.request
    assert sent.headers["authorization"] == f"Bearer {COPILOT}"
    for name, value in EDITOR.items():
        assert sent.headers[name] == value
    validate_chat_request(json.loads(sent.content))
    # The Copilot token is kept with the sign-in for the next process.
    assert signed_in.load("copilot").session.token.reveal() == COPILOT
    assert signed_in.load("copilot").session.endpoint == API


def test_one_exchange_serves_many_calls(signed_in: TokenStore, github: respx.MockRouter) -> None:
    provider = create_provider("copilot")
    for _ in range(5):
        provider.chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == 1
    assert github["chat"].call_count == 5
    # A new provider (or process) reuses the stored Copilot token too.
    create_provider("copilot").chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == 1


@pytest.mark.parametrize(
    ("answer", "exchanges"),
    [
        # refresh_in + 60 s is the token's life: 110 s is inside the 120 s margin.
        ({"refresh_in": 50}, 3),
        ({"refresh_in": 70}, 1),
        # Without refresh_in, expires_at decides (seconds from now here).
        ({"refresh_in": None, "expires_at": 110}, 3),
        ({"refresh_in": None, "expires_at": 600}, 1),
        # Already expired by the local clock: one exchange per call, never more.
        ({"refresh_in": None, "expires_at": -600}, 3),
    ],
)
def test_a_token_within_120_s_of_expiring_is_exchanged_again(
    signed_in: TokenStore, github: respx.MockRouter, answer: dict, exchanges: int
) -> None:
    answer = dict(answer)
    refresh_in = answer.pop("refresh_in")
    if "expires_at" in answer:
        answer["expires_at"] += int(time.time())
    github["exchange"].mock(
        return_value=httpx.Response(200, json=issued(refresh_in=refresh_in, **answer))
    )
    provider = create_provider("copilot")
    for _ in range(3):
        provider.chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == exchanges


def test_two_threads_needing_a_token_make_one_exchange(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)
        return httpx.Response(200, json=issued())

    github["exchange"].mock(side_effect=slow)
    provider = create_provider("copilot")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            provider.chat(HELLO, "gpt-4o")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert github["exchange"].call_count == 1
    assert github["chat"].call_count == 4


def test_async_calls_exchange_off_the_event_loop(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    github.post(CHAT, name="chat").mock(
        side_effect=lambda request: (
            httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                content=text_stream("Hel", "lo"),
            )
            if json.loads(request.content).get("stream")
            else httpx.Response(200, json=completion("Hi!"))
        )
    )
    github.get(f"{API}/models", name="models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "gpt-4o"}]})
    )

    async def main() -> tuple[str, str, list[str]]:
        provider = create_provider("copilot")
        async with provider:
            stream = provider.astream(HELLO, "gpt-4o")  # nothing fetched yet
            assert github["exchange"].call_count == 0
            text = "".join([e.delta async for e in stream if e.type == "text_delta"])
            answer = await provider.achat(HELLO, "gpt-4o")
            models = [m.model_id for m in await provider.alist_models()]
        return text, answer.text, models

    assert asyncio.run(main()) == ("Hello", "Hi!", ["gpt-4o"])
    assert github["exchange"].call_count == 1
    sent = github["chat"].calls.last.request
    assert sent.headers["authorization"] == f"Bearer {COPILOT}"


def test_async_stream_without_a_model_fails_at_the_call(signed_in: TokenStore) -> None:
    provider = create_provider("copilot")
    with pytest.raises(ConstructError, match="No model given"):
        provider.astream(HELLO)


def test_streaming_with_tools(signed_in: TokenStore, github: respx.MockRouter) -> None:
    body = sse(
        [
            chunk(tool_call=(0, "call_1", "get_weather", '{"ci')),
            chunk(tool_call=(0, None, None, 'ty": "Paris"}')),
            chunk(finish_reason="tool_calls"),
            chunk(usage=(20, 8), no_choices=True),
        ]
    )
    github["chat"].mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body
        )
    )
    provider = create_provider("copilot")
    request = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,))
    events = list(provider.stream(request, "claude-sonnet-4.5"))
    final = events[-1].response
    assert [c.name for c in final.tool_calls] == ["get_weather"]
    assert final.tool_calls[0].parsed_arguments() == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    sent = json.loads(github["chat"].calls.last.request.content)
    validate_chat_request(sent)
    assert sent["stream"] is True and sent["tool_choice"] == "auto"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert github["chat"].calls.last.request.headers["authorization"] == f"Bearer {COPILOT}"


def test_chat_with_tools(signed_in: TokenStore, github: respx.MockRouter) -> None:
    github["chat"].mock(
        return_value=httpx.Response(
            200,
            json=completion(
                None,
                finish_reason="tool_calls",
                tool_calls=[("call_1", "get_weather", '{"city": "Paris"}')],
            ),
        )
    )
    request = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,))
    response = create_provider("copilot").chat(request, "gpt-4o")
    assert response.tool_calls[0].name == "get_weather"


def test_an_image_request_says_so(signed_in: TokenStore, github: respx.MockRouter) -> None:
    image = ChatMessage("user", (TextPart("What is this?"), ImagePart("https://x.test/cat.png")))
    create_provider("copilot").chat(ChatRequest((image,)), "gpt-4o")
    assert github["chat"].calls.last.request.headers["copilot-vision-request"] == "true"
    create_provider("copilot").chat(HELLO, "gpt-4o")
    assert "copilot-vision-request" not in github["chat"].calls.last.request.headers


def test_without_an_endpoint_the_rows_url_is_called(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    github["exchange"].mock(return_value=httpx.Response(200, json=issued(endpoints={})))
    default = github.post(DEFAULT_CHAT, name="default").mock(
        return_value=httpx.Response(200, json=completion("Hi!"))
    )
    create_provider("copilot").chat(HELLO, "gpt-4o")
    assert default.called and not github["chat"].called


def test_an_endpoint_that_is_not_https_is_not_trusted(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    github["exchange"].mock(
        return_value=httpx.Response(200, json=issued(endpoints={"api": "http://evil.test"}))
    )
    default = github.post(DEFAULT_CHAT, name="default").mock(
        return_value=httpx.Response(200, json=completion("Hi!"))
    )
    create_provider("copilot").chat(HELLO, "gpt-4o")
    assert default.called


def test_api_url_wins_over_the_endpoint(signed_in: TokenStore, github: respx.MockRouter) -> None:
    proxy = github.post("https://copilot-proxy.example.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion("Hi!"))
    )
    create_provider_with_url("copilot", None, "https://copilot-proxy.example.com/v1").chat(
        HELLO, "gpt-4o"
    )
    assert proxy.called
    assert proxy.calls.last.request.headers["authorization"] == f"Bearer {COPILOT}"


def test_models_come_from_the_hosts_model_list(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    listing = {
        "object": "list",
        "data": [
            {
                "id": "gpt-4o",
                "name": "GPT-4o",
                "vendor": "Azure OpenAI",
                "capabilities": {
                    "type": "chat",
                    "limits": {"max_context_window_tokens": 128000, "max_output_tokens": 16384},
                    "supports": {"tool_calls": True, "vision": True},
                },
            },
            {
                "id": "text-embedding-3-small",
                "name": "Embedding V3 small",
                "capabilities": {"type": "embeddings", "limits": {"max_inputs": 512}},
            },
        ],
    }
    models = github.get(f"{API}/models").mock(return_value=httpx.Response(200, json=listing))
    [entry] = create_provider("copilot").list_models()
    assert (entry.model_id, entry.display_name) == ("gpt-4o", "GPT-4o")
    assert (entry.context_window, entry.max_output_tokens) == (128000, 16384)
    assert entry.supports_image_input is True
    sent = models.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {COPILOT}"
    assert sent.headers["editor-version"] == EDITOR["editor-version"]


def test_extra_headers_replace_the_editor_headers_everywhere(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    options = ProviderRuntimeOptions(extra_headers={"editor-version": "vscode/1.200.0"})
    create_provider_with_options("copilot", None, options).chat(HELLO, "gpt-4o")
    assert github["exchange"].calls.last.request.headers["editor-version"] == "vscode/1.200.0"
    assert github["chat"].calls.last.request.headers["editor-version"] == "vscode/1.200.0"


# -- a token given instead of the sign-in ----------------------------------------------


def test_an_explicit_github_token_wins_and_is_not_stored(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    other = "ghu_EXPLICITtoken0123456789abcdef"
    provider = create_provider("copilot", other)
    provider.chat(HELLO, "gpt-4o")
    provider.chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == 1
    assert github["exchange"].calls.last.request.headers["authorization"] == f"token {other}"
    assert signed_in.load("copilot").session is None  # the stored sign-in was not touched


def test_copilot_github_token_is_read(
    store: TokenStore, github: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPILOT_GITHUB_TOKEN", "ghu_FROMENVtoken0123456789abcdef")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_NOTCOPILOTS0123456789abcdef")
    provider = create_provider("copilot")
    assert provider.key_source == "COPILOT_GITHUB_TOKEN"
    provider.chat(HELLO, "gpt-4o")
    sent = github["exchange"].calls.last.request.headers["authorization"]
    assert sent == "token ghu_FROMENVtoken0123456789abcdef"


def test_a_profile_uses_its_own_sign_in(store: TokenStore, github: respx.MockRouter) -> None:
    store.save(Credential("copilot", Secret("ghu_WORKprofile0123456789abcdef"), profile="work"))
    provider = create_provider_with_options(
        "copilot", None, ProviderRuntimeOptions(auth_profile_override="work")
    )
    provider.chat(HELLO, "gpt-4o")
    sent = github["exchange"].calls.last.request.headers["authorization"]
    assert sent == "token ghu_WORKprofile0123456789abcdef"
    with pytest.raises(AuthError, match="construct auth login copilot`"):
        create_provider("copilot").chat(HELLO, "gpt-4o")
    other = ProviderRuntimeOptions(auth_profile_override="home")
    with pytest.raises(AuthError, match="construct auth login copilot:home"):
        create_provider_with_options("copilot", None, other).chat(HELLO, "gpt-4o")


# -- refusals -----------------------------------------------------------------------------


def echo_refusal(status: int):
    """GitHub refusing the exchange; the body echoes the token, as a careless proxy might."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"]
        return httpx.Response(status, json={"message": f"Bad credentials for {sent}"})

    return answer


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_stored_sign_in_is_removed_and_the_error_says_what_to_do(
    signed_in: TokenStore, github: respx.MockRouter, status: int
) -> None:
    github["exchange"].mock(side_effect=echo_refusal(status))
    with pytest.raises(AuthError) as info:
        create_provider("copilot").chat(HELLO, "gpt-4o")
    message = str(info.value)
    assert f"GitHub refused the stored GitHub sign-in for Copilot (HTTP {status}" in message
    assert "construct removed it; run `construct auth login copilot`" in message
    assert "active Copilot subscription" in message
    assert GITHUB not in message and GITHUB not in repr(info.value)
    assert info.value.status == status
    assert signed_in.load("copilot") is None
    assert not github["chat"].called


def test_a_refused_explicit_token_leaves_the_store_alone(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    github["exchange"].mock(side_effect=echo_refusal(401))
    given = "ghu_GIVENbutREVOKED0123456789abc"
    with pytest.raises(AuthError) as info:
        create_provider("copilot", given).chat(HELLO, "gpt-4o")
    message = str(info.value)
    assert "GitHub refused the GitHub token given for Copilot (HTTP 401" in message
    assert "api_key, COPILOT_GITHUB_TOKEN" in message
    assert given not in message
    assert signed_in.load("copilot") is not None


def test_a_token_copilot_does_not_know_is_kept_and_explained(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    github["exchange"].mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    with pytest.raises(AuthError, match="Copilot does not accept it as a Copilot sign-in"):
        create_provider("copilot").chat(HELLO, "gpt-4o")
    assert signed_in.load("copilot") is not None


def test_a_failing_exchange_is_transient(signed_in: TokenStore, github: respx.MockRouter) -> None:
    github["exchange"].mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(TransientError):
        create_provider("copilot").chat(HELLO, "gpt-4o")
    assert signed_in.load("copilot") is not None


@pytest.mark.parametrize("streamed", [False, True])
def test_a_copilot_token_refused_by_the_api_is_exchanged_anew_next_call(
    signed_in: TokenStore, github: respx.MockRouter, streamed: bool
) -> None:
    provider = create_provider("copilot")
    provider.chat(HELLO, "gpt-4o")
    github["chat"].mock(
        return_value=httpx.Response(401, json={"error": {"message": "unauthorized: token expired"}})
    )
    with pytest.raises(AuthError):
        if streamed:
            list(provider.stream(HELLO, "gpt-4o"))
        else:
            provider.chat(HELLO, "gpt-4o")
    assert signed_in.load("copilot").session is None  # the GitHub sign-in itself stays
    github["chat"].mock(return_value=httpx.Response(200, json=completion("Hi!")))
    provider.chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == 2


def test_a_forbidden_call_keeps_the_copilot_token(
    signed_in: TokenStore, github: respx.MockRouter
) -> None:
    # 403: this model or feature is not in the plan; the token itself is fine.
    github["chat"].mock(
        return_value=httpx.Response(403, json={"error": {"message": "model not enabled"}})
    )
    provider = create_provider("copilot")
    with pytest.raises(AuthError):
        provider.chat(HELLO, "gpt-4o")
    with pytest.raises(AuthError):
        provider.chat(HELLO, "gpt-4o")
    assert github["exchange"].call_count == 1


def test_warmup_never_signs_in(store: TokenStore) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        create_provider("copilot").warmup()
    assert not mock.calls


# -- no token anywhere ------------------------------------------------------------------


def test_no_token_in_any_message_repr_or_debug_log(
    signed_in: TokenStore,
    github: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="construct")
    caplog.set_level(logging.DEBUG, logger="httpx")
    provider = create_provider("copilot")
    provider.chat(HELLO, "gpt-4o")
    texts = [repr(provider), str(provider), repr(signed_in.load("copilot")), repr(signed_in)]
    github["chat"].mock(
        side_effect=lambda request: httpx.Response(
            401, json={"error": {"message": f"token {request.headers['authorization']} expired"}}
        )
    )
    with pytest.raises(AuthError) as info:
        provider.chat(HELLO, "gpt-4o")
    texts += [str(info.value), repr(info.value), str(info.value.body)]
    github["exchange"].mock(side_effect=echo_refusal(401))
    signed_in.save(Credential("copilot", Secret(GITHUB)))
    with pytest.raises(AuthError) as refused:
        create_provider("copilot").chat(HELLO, "gpt-4o")
    texts += [str(refused.value), repr(refused.value), str(refused.value.body)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("token exchanged" in record.getMessage() for record in caplog.records)
    for text in texts:
        assert "COPILOTCANARY" not in text, text
