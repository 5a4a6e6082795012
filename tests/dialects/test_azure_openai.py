"""The Azure OpenAI dialect, sans I/O: where the endpoint, deployment and API version come
from, the deployment URL, the body without `model`, auth headers and the model list.

Bodies are checked with the openai SDK's chat-completions types (`validate_chat_request`,
given back the `model` the SDK requires and Azure takes from the URL).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from construct.auth import Auth
from construct.dialects.azure_openai import (
    DEFAULT_API_VERSION,
    AzureOpenAIChat,
    split_endpoint,
)
from construct.errors import AuthError, ConfigError, InvalidResponse
from construct.options import ProviderRuntimeOptions
from construct.providers.azure import build, build_dialect
from construct.registry import apply_api_url, resolve
from construct.secrets import Secret, scrub_secret_patterns
from construct.types import ChatMessage, ChatRequest, ModelEntry, ToolSpec
from tests.oracle import completion, validate_chat_request

ENV = (
    "AZURE_OPENAI_RESOURCE",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN",
)
HELLO = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hello")), max_tokens=32)


@pytest.fixture(autouse=True)
def _no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV:
        monkeypatch.delenv(var, raising=False)


def dialect(api_url: str | None = None, **options: Any) -> AzureOpenAIChat:
    opts = ProviderRuntimeOptions(provider_api_url=api_url, **options)
    return build_dialect(apply_api_url(resolve("azure"), api_url), opts)


def auth(api_url: str | None = None) -> Auth:
    opts = ProviderRuntimeOptions(provider_api_url=api_url)
    return build(apply_api_url(resolve("azure"), api_url), opts)[1]


def url_of(d: AzureOpenAIChat, model: str = "gpt-4o") -> str:
    return d.chat_request(HELLO, model, None, False, {}).url


# -- where the pieces come from ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("https://res.openai.azure.com", ("https://res.openai.azure.com", None, None)),
        ("https://res.openai.azure.com/", ("https://res.openai.azure.com", None, None)),
        ("https://res.openai.azure.com/openai", ("https://res.openai.azure.com", None, None)),
        (
            "https://res.openai.azure.com/openai/deployments/gpt-4o-prod",
            ("https://res.openai.azure.com", "gpt-4o-prod", None),
        ),
        (
            "https://res.openai.azure.com/openai/deployments/o3/chat/completions"
            "?api-version=2025-01-01-preview",
            ("https://res.openai.azure.com", "o3", "2025-01-01-preview"),
        ),
        (
            "https://apim.example.test/team-a/openai/deployments/d1",
            ("https://apim.example.test/team-a", "d1", None),
        ),
        (
            "https://gw.example.test/openaiproxy",
            ("https://gw.example.test/openaiproxy", None, None),
        ),
        (
            "https://gw.example.test/openai-x/openai/deployments/d2",
            ("https://gw.example.test/openai-x", "d2", None),
        ),
    ],
)
def test_split_endpoint_reads_every_url_form_azure_hands_out(url: str, parts: tuple) -> None:
    assert split_endpoint(url) == parts


def test_resource_name_builds_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "contoso")
    assert url_of(dialect()) == (
        "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
        f"?api-version={DEFAULT_API_VERSION}"
    )


def test_the_sdk_endpoint_variable_works_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/")
    assert url_of(dialect(), "dep").startswith(
        "https://contoso.openai.azure.com/openai/deployments/dep/chat/completions?"
    )


def test_resource_beats_endpoint_and_api_url_beats_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "first")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://second.openai.azure.com")
    assert url_of(dialect()).startswith("https://first.openai.azure.com/openai/")
    assert url_of(dialect("https://gw.example.test/")).startswith(
        "https://gw.example.test/openai/deployments/gpt-4o/chat/completions?"
    )


def test_a_url_in_the_resource_variable_is_taken_as_the_endpoint(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "https://res.openai.azure.com")
    assert url_of(dialect()).startswith("https://res.openai.azure.com/openai/deployments/")


def test_deployment_from_url_then_env_then_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    assert "/deployments/gpt-4o-mini/" in url_of(dialect(), "gpt-4o-mini")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "prod-chat")
    assert "/deployments/prod-chat/" in url_of(dialect(), "gpt-4o-mini")
    pinned = dialect("https://res.openai.azure.com/openai/deployments/pinned")
    assert "/deployments/pinned/" in url_of(pinned, "gpt-4o-mini")


def test_a_deployment_name_is_one_path_segment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    url = url_of(dialect(), "team/model?x=1")
    assert "/deployments/team%2Fmodel%3Fx%3D1/chat/completions?api-version=" in url


def test_api_version_from_url_then_env_then_the_sdk_variable(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    assert url_of(dialect()).endswith("?api-version=2024-10-21")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    assert url_of(dialect()).endswith("?api-version=2024-06-01")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")
    assert url_of(dialect()).endswith("?api-version=2025-04-01-preview")
    target = "https://res.openai.azure.com/openai/deployments/d/chat/completions?api-version=v9"
    assert url_of(dialect(target)).endswith("?api-version=v9")


def test_without_a_resource_the_first_call_says_what_to_set() -> None:
    d = dialect()  # building never fails (K2)
    for call in (lambda: url_of(d), lambda: d.models_request({})):
        with pytest.raises(ConfigError) as info:
            call()
        assert "AZURE_OPENAI_RESOURCE" in str(info.value)
        assert "AZURE_OPENAI_ENDPOINT" in str(info.value)
        assert "api_url" in str(info.value)


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("AZURE_OPENAI_RESOURCE", "my resource!", "resource name"),
        ("AZURE_OPENAI_ENDPOINT", "contoso.openai.azure.com", "http:// or https://"),
    ],
)
def test_a_malformed_variable_is_reported_on_the_first_call(monkeypatch, var, value, says) -> None:
    monkeypatch.setenv(var, value)
    d = dialect()
    with pytest.raises(ConfigError, match=says):
        url_of(d)


# -- requests ---------------------------------------------------------------------------


def test_the_body_is_openai_chat_without_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    tool = ToolSpec("now", "The time")
    request = ChatRequest(
        (ChatMessage.user("What is this?", images=["data:image/png;base64,iVBORw0KGgo="]),),
        tools=(tool,),
        max_tokens=50,
    )
    req = dialect(reasoning_effort="low").chat_request(
        request, "gpt-4o", 0.5, True, {"api-key": "k"}
    )
    assert req.method == "POST"
    assert req.headers == {"api-key": "k"}
    body = req.json
    assert "model" not in body
    validate_chat_request({**body, "model": "gpt-4o"})
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["temperature"] == 0.5
    assert "reasoning_effort" not in body  # gpt-4o is no reasoning model
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"][0]["function"]["name"] == "now"
    assert body["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")


def test_a_model_key_in_extra_does_not_reach_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    request = ChatRequest((ChatMessage.user("x"),), extra={"model": "other", "seed": 7})
    body = dialect().chat_request(request, "d", None, False, {}).json
    assert "model" not in body and body["seed"] == 7


@pytest.mark.parametrize(
    ("model", "sent"), [("gpt-4o", 0.2), ("o3-mini", None), ("gpt-5", None), ("gpt-4.1", 0.2)]
)
def test_openai_reasoning_models_get_no_temperature(monkeypatch, model: str, sent) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    body = dialect(reasoning_effort="high").chat_request(HELLO, model, 0.2, False, {}).json
    validate_chat_request({**body, "model": model})
    assert body.get("temperature") == sent
    assert ("reasoning_effort" in body) == (sent is None)


def test_no_temperature_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    body = dialect().chat_request(ChatRequest((ChatMessage.user("x"),)), "d", None, False, {}).json
    assert "temperature" not in body and "max_completion_tokens" not in body


def test_models_are_listed_on_the_resource_with_the_api_version(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    req = dialect().models_request({"api-key": "k"})
    assert (req.method, req.url) == (
        "GET",
        f"https://res.openai.azure.com/openai/models?api-version={DEFAULT_API_VERSION}",
    )


def test_the_prompt_guided_copy_keeps_the_azure_settings(monkeypatch) -> None:
    # HttpProvider re-sends a refused-tools request through type(dialect)(replaced settings).
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "res")
    d = dialect()
    guided = type(d)(replace(d.settings, native_tools=False))
    request = ChatRequest((ChatMessage.user("x"),), tools=(ToolSpec("now"),))
    req = guided.chat_request(request, "dep", None, False, {})
    assert req.url == url_of(d, "dep")
    assert "tools" not in req.json and "model" not in req.json


# -- auth ---------------------------------------------------------------------------------


def test_a_key_travels_as_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.sig")
    assert auth().headers(Secret("azure-key-123")) == {"api-key": "azure-key-123"}


def test_an_entra_id_token_travels_as_bearer_when_there_is_no_key(monkeypatch) -> None:
    token = "entra-token-value-0123456789"
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", token)
    assert auth().headers(None) == {"Authorization": f"Bearer {token}"}
    # Known to the scrubber from then on, whatever its shape.
    assert token not in scrub_secret_patterns(f"echoed back: {token}")


def test_no_credentials_at_all_name_every_way_to_give_one() -> None:
    with pytest.raises(AuthError) as info:
        auth().headers(None)
    for var in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "CONSTRUCT_API_KEY", "api_key"):
        assert var in str(info.value)
    assert info.value.provider == "azure_openai"


# -- responses ---------------------------------------------------------------------------


def test_responses_parse_as_openai_chat_with_azure_extras(monkeypatch) -> None:
    data = completion("Hi.", model="gpt-4o-2024-11-20", finish_reason="content_filter")
    data["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
    got = dialect().parse_chat(data, "dep")
    assert (got.text, got.stop_reason, got.model, got.provider) == (
        "Hi.",
        "content_filter",
        "gpt-4o-2024-11-20",
        "azure_openai",
    )


def test_models_keep_the_ones_that_chat() -> None:
    data = {
        "object": "list",
        "data": [
            {
                "id": "gpt-4o-2024-11-20",
                "capabilities": {"chat_completion": True},
                "object": "model",
            },
            {"id": "text-embedding-3-large", "capabilities": {"chat_completion": False}},
            {"id": "custom-ft", "object": "model"},
            {"object": "model"},
        ],
    }
    assert dialect().parse_models(data) == [
        ModelEntry("gpt-4o-2024-11-20"),
        ModelEntry("custom-ft"),
    ]
    with pytest.raises(InvalidResponse):
        dialect().parse_models([])
