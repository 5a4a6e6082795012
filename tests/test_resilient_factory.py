"""The resilient and routed factories (PROVIDERS.md L1, L4, T4) and the docs that describe them.

HTTP is mocked with respx and sleeps are recorded, not slept; nothing reaches the network.
"""

from __future__ import annotations

import json
import logging
import re
import textwrap
from pathlib import Path

import httpx
import pytest
import respx

import construct.resilience.reliable as reliable_module
from construct import ChatMessage, ChatRequest, ConfigError
from construct.config import ModelRoute, ReliabilityConfig, load_config
from construct.errors import AllProvidersFailed, InvalidRequest, UnknownProvider
from construct.factory import (
    ProviderRuntimeOptions,
    _fallback_options,
    create_provider_from_config,
    create_resilient_provider,
    create_resilient_provider_with_options,
    create_routed_provider,
    create_routed_provider_with_options,
)
from construct.providers.http import HttpProvider
from construct.resilience import ReliableProvider, Route, RouterProvider

from .resilience.test_reliable_unit import _Proxy

GROQ_KEY = "gsk_primary_key_0001"
OPENROUTER_ENV_KEY = "sk-or-env-key-0002"
GATEWAY = "https://gw.example.test/v1"
REQ = ChatRequest([ChatMessage.user("hi")])
DOCS = Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```\n", re.M | re.S)


def completion(text: str = "hello") -> dict:
    return {
        "id": "x",
        "model": "served-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def error_body(message: str) -> dict:
    return {"error": {"message": message}}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(reliable_module, "time", _Proxy(reliable_module.time, recorded.append))
    return recorded


def chain(provider: ReliableProvider) -> list[str]:
    return [name for name, _ in provider.providers]


def inner(provider: ReliableProvider, index: int) -> HttpProvider:
    found = provider.providers[index][1]
    assert isinstance(found, HttpProvider)
    return found


# -- create_resilient_provider (L1) -------------------------------------------------------------


def test_chain_skips_duplicates_and_unknown_names_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="construct"):
        provider = create_resilient_provider(
            "groq",
            GROQ_KEY,
            None,
            {
                "fallback_providers": [
                    "openrouter",
                    "groq",
                    "nosuch",
                    "deepseek:work",
                    " OpenRouter ",
                ]
            },
        )
    assert isinstance(provider, ReliableProvider)
    assert chain(provider) == ["groq", "openrouter", "deepseek:work"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Skipping duplicate fallback provider 'groq'" in warnings
    assert "Skipping duplicate fallback provider ' OpenRouter '" in warnings
    assert any(
        w.startswith("Ignoring fallback provider 'nosuch' that cannot be built") for w in warnings
    )


def test_provider_profile_names_the_provider_and_keeps_the_raw_entry():
    provider = create_resilient_provider(
        "groq", GROQ_KEY, None, {"fallback_providers": ["deepseek:work"]}
    )
    name, fallback = provider.providers[1]
    assert name == "deepseek:work"
    assert fallback.name == "deepseek"
    assert fallback.base_url == "https://api.deepseek.com"


def test_fallbacks_never_get_the_primarys_key_or_api_url(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_ENV_KEY)
    provider = create_resilient_provider(
        "groq", GROQ_KEY, GATEWAY, {"fallback_providers": ["openrouter", "deepseek"]}
    )
    primary, openrouter, deepseek = (inner(provider, i) for i in range(3))
    assert (primary.key_source, primary.key.reveal(), primary.base_url) == (
        "explicit",
        GROQ_KEY,
        GATEWAY,
    )
    assert (openrouter.key_source, openrouter.key.reveal()) == (
        "OPENROUTER_API_KEY",
        OPENROUTER_ENV_KEY,
    )
    assert openrouter.base_url == "https://openrouter.ai/api/v1"
    assert (deepseek.key_source, deepseek.key, deepseek.base_url) == (
        None,
        None,
        "https://api.deepseek.com",
    )


def test_fallback_options_drop_what_belongs_to_the_primary():
    opts = ProviderRuntimeOptions(
        provider_api_url=GATEWAY,
        api_path="/v2/chat",
        extra_headers={"Authorization": "Bearer x", "X-Api-Key": "y", "X-Title": "my app"},
        provider_timeout_secs=30,
        default_model="m",
    )
    fallback = _fallback_options(opts, "work")
    assert fallback.provider_api_url is None and fallback.api_path is None
    assert dict(fallback.extra_headers) == {"X-Title": "my app"}
    assert (fallback.provider_timeout_secs, fallback.default_model) == (30, "m")
    assert fallback.auth_profile_override == "work"
    assert _fallback_options(opts, None).auth_profile_override is None


@respx.mock(assert_all_called=True)
def test_the_fallback_sends_its_own_key_to_its_own_url(respx_mock, monkeypatch, waits):
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_ENV_KEY)
    gateway = respx_mock.post(f"{GATEWAY}/chat/completions").mock(
        return_value=httpx.Response(503, json=error_body("overloaded"))
    )
    backup = respx_mock.post("https://openrouter.ai/api/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion("from openrouter"))
    )
    provider = create_resilient_provider(
        "groq",
        GROQ_KEY,
        GATEWAY,
        {"fallback_providers": ["openrouter"], "provider_retries": 0},
    )
    response = provider.chat(REQ, "llama-3.3-70b")
    assert (response.text, response.provider, response.attempts) == (
        "from openrouter",
        "openrouter",
        2,
    )
    assert gateway.calls.last.request.headers["authorization"] == f"Bearer {GROQ_KEY}"
    assert backup.calls.last.request.headers["authorization"] == f"Bearer {OPENROUTER_ENV_KEY}"
    assert waits == []


def test_reliability_settings_reach_the_wrapper():
    provider = create_resilient_provider(
        "groq",
        GROQ_KEY,
        None,
        {
            "provider_retries": 4,
            "provider_backoff_ms": 10,
            "model_fallbacks": {"a": ["b"]},
            "max_retry_after_s": 12,
            "total_timeout_s": 60,
            "circuit_breaker_threshold": 3,
            "circuit_breaker_cooldown_s": 7,
        },
    )
    assert provider.retries == 4
    assert provider.backoff_ms == 50  # L2: at least 50 ms
    assert provider.model_fallbacks == {"a": ["b"]}
    assert (provider.max_retry_after_s, provider.total_timeout_s) == (12, 60)
    breaker = provider._breakers["groq"]
    assert (breaker.threshold, breaker.cooldown_s) == (3, 7)


def test_a_reliability_config_object_is_accepted():
    provider = create_resilient_provider(
        "groq",
        GROQ_KEY,
        None,
        ReliabilityConfig(provider_retries=0, fallback_providers=["deepseek"]),
    )
    assert provider.retries == 0
    assert chain(provider) == ["groq", "deepseek"]


def test_defaults_without_reliability():
    provider = create_resilient_provider("groq", GROQ_KEY)
    assert chain(provider) == ["groq"]
    assert (provider.retries, provider.backoff_ms, provider.max_retry_after_s) == (2, 500, 30)


@pytest.mark.parametrize(
    ("reliability", "expected"),
    [
        ({"provider_retries": "three"}, "reliability.provider_retries"),
        ({"provider_retries": -1}, "reliability.provider_retries"),
        ({"backoff_jitter": 2}, "reliability.backoff_jitter"),
        ({"fallback_providers": "groq"}, "reliability.fallback_providers"),
        ({"model_fallbacks": {"a": "b"}}, "reliability.model_fallbacks"),
        ({"provider_retrys": 1}, "reliability.provider_retrys: unknown key; did you mean"),
    ],
)
def test_dict_reliability_is_validated_with_key_paths(reliability, expected):
    with pytest.raises(ConfigError) as info:
        create_resilient_provider("groq", GROQ_KEY, None, reliability)
    message = str(info.value)
    assert expected in message
    assert "pydantic" not in message.lower() and "input_value" not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_a_bad_key_in_api_keys_is_not_echoed():
    secret = "sk-or-very-secret-value-123456"
    with pytest.raises(ConfigError) as info:
        create_resilient_provider("groq", GROQ_KEY, None, {"api_keys": [secret, 42]})
    assert "reliability.api_keys" in str(info.value)
    assert secret not in str(info.value)


def test_reliability_of_another_type_is_a_config_error():
    with pytest.raises(ConfigError, match="reliability must be a ReliabilityConfig or a dict"):
        create_resilient_provider("groq", GROQ_KEY, None, ["groq"])


def test_a_primary_that_cannot_be_built_raises():
    with pytest.raises(UnknownProvider):
        create_resilient_provider("nosuch", None, None, {"fallback_providers": ["groq"]})


def test_options_apply_to_the_primary_and_api_url_only_to_it():
    provider = create_resilient_provider_with_options(
        "groq",
        GROQ_KEY,
        GATEWAY,
        {"fallback_providers": ["deepseek"]},
        {"default_model": "llama-3.3-70b", "provider_timeout_secs": 30},
    )
    assert provider.default_model == "llama-3.3-70b"
    assert inner(provider, 0).base_url == GATEWAY
    assert inner(provider, 1).base_url == "https://api.deepseek.com"


# -- create_routed_provider (T1-T4) ------------------------------------------------------------


ROUTES = [
    {"hint": "fast", "provider": "groq", "model": "llama-3.1-8b-instant"},
    {"hint": "gpt-", "provider": "openai", "api_key": "sk-route-openai-key-0003"},
]


def routed(router: RouterProvider, model: str) -> tuple[str, ReliableProvider, str | None]:
    name, provider, chosen, _ = router.resolve(model)
    assert isinstance(provider, ReliableProvider)
    return name, provider, chosen


def test_without_routes_it_is_the_reliable_provider():
    provider = create_routed_provider("groq", GROQ_KEY, None, {"fallback_providers": ["deepseek"]})
    assert isinstance(provider, ReliableProvider)
    assert chain(provider) == ["groq", "deepseek"]


def test_each_routed_provider_is_a_full_reliable_provider(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_env_key_0004")
    router = create_routed_provider(
        "openrouter",
        "sk-or-primary-key-0001",
        GATEWAY,
        {"fallback_providers": ["deepseek"], "provider_retries": 1},
        ROUTES,
    )
    assert isinstance(router, RouterProvider)
    default_name, default, model = routed(router, "anthropic/claude-sonnet-4")
    assert (default_name, model) == ("openrouter", "anthropic/claude-sonnet-4")
    groq_name, groq, model = routed(router, "hint:fast")
    assert (groq_name, model) == ("groq", "llama-3.1-8b-instant")
    openai_name, openai, model = routed(router, "gpt-4o")
    assert (openai_name, model) == ("openai", "gpt-4o")
    for provider, first in ((default, "openrouter"), (groq, "groq"), (openai, "openai")):
        assert chain(provider) == [first, "deepseek"]  # each with the whole fallback chain
        assert provider.retries == 1
    # T4: the route's key for its provider, K1 otherwise; only the primary gets api_url.
    assert inner(default, 0).key.reveal() == "sk-or-primary-key-0001"
    assert inner(default, 0).base_url == GATEWAY
    assert (inner(groq, 0).key_source, inner(groq, 0).key.reveal()) == (
        "GROQ_API_KEY",
        "gsk_env_key_0004",
    )
    assert inner(groq, 0).base_url == "https://api.groq.com/openai/v1"
    assert (inner(openai, 0).key_source, inner(openai, 0).key.reveal()) == (
        "explicit",
        "sk-route-openai-key-0003",
    )
    assert inner(openai, 0).base_url == "https://api.openai.com/v1"
    for provider in (groq, openai):
        assert inner(provider, 1).key is None  # deepseek: its own variable, unset here


def test_the_first_route_with_a_key_gives_the_providers_key():
    routes = [
        {"hint": "a", "provider": "groq"},
        {"hint": "b", "provider": "groq", "api_key": "gsk_first_route_key_01"},
        ModelRoute(hint="c", provider="groq", api_key="gsk_second_route_key_2"),
        Route("d", "groq"),
    ]
    router = create_routed_provider("openrouter", "sk-or-primary-key-0001", None, None, routes)
    _, groq, _ = routed(router, "hint:d")
    assert inner(groq, 0).key.reveal() == "gsk_first_route_key_01"


def test_a_route_key_for_the_primary_replaces_its_key():
    routes = [{"hint": "x", "provider": "openrouter", "api_key": "sk-or-route-key-0009"}]
    router = create_routed_provider("openrouter", "sk-or-primary-key-0001", None, None, routes)
    _, default, _ = routed(router, "anything")
    assert inner(default, 0).key.reveal() == "sk-or-route-key-0009"


@respx.mock(assert_all_called=True)
def test_routed_providers_never_rotate_into_the_primarys_api_keys(respx_mock, waits):
    groq = respx_mock.post("https://api.groq.com/openai/v1/chat/completions").mock(
        side_effect=[
            httpx.Response(429, json=error_body("Rate limit reached")),
            httpx.Response(200, json=completion("fast answer")),
        ]
    )
    router = create_routed_provider(
        "openrouter",
        "sk-or-primary-key-0001",
        None,
        {"api_keys": ["sk-or-extra-key-0002"], "provider_retries": 1, "backoff_jitter": 0},
        [{"hint": "fast", "provider": "groq", "model": "llama", "api_key": "gsk_route_key_0003"}],
    )
    assert router.chat(REQ, "hint:fast").text == "fast answer"
    sent = [call.request.headers["authorization"] for call in groq.calls]
    assert sent == ["Bearer gsk_route_key_0003"] * 2
    assert waits == [0.5]  # retried with its own key after the backoff
    _, default, _ = routed(router, "m")
    assert len(default._pool) == 2  # the primary still rotates its own


def test_a_route_whose_provider_cannot_be_built_is_dropped(caplog):
    routes = [*ROUTES, {"hint": "x-", "provider": "nosuch"}]
    with caplog.at_level(logging.WARNING, logger="construct"):
        router = create_routed_provider("openrouter", None, None, None, routes)
    assert [r.hint for r in router.routes] == ["fast", "gpt-"]
    assert "Ignoring routed provider 'nosuch' that cannot be built" in caplog.text
    assert routed(router, "x-1")[0] == "openrouter"


def test_a_routed_provider_with_a_foreign_key_is_dropped(caplog):
    # K3 holds for route keys too: a Groq key is not sent to OpenAI.
    routes = [{"hint": "gpt-", "provider": "openai", "api_key": "gsk_not_an_openai_key_1"}]
    with caplog.at_level(logging.WARNING, logger="construct"):
        router = create_routed_provider("openrouter", None, None, None, routes)
    assert router.routes == []
    assert "API key prefix mismatch" in caplog.text
    assert "gsk_not_an_openai_key_1" not in caplog.text


def test_routed_with_options_sets_the_default_model():
    router = create_routed_provider_with_options(
        "openrouter",
        None,
        None,
        None,
        ROUTES,
        "anthropic/claude-sonnet-4",
        {"provider_timeout_secs": 5},
    )
    assert router.default_model == "anthropic/claude-sonnet-4"


# -- create_provider_from_config ---------------------------------------------------------------

CONFIG = """\
default_provider = "openrouter"
default_model = "anthropic/claude-sonnet-4"
api_key = "sk-or-config-key-0001"

[reliability]
provider_retries = 1
fallback_providers = ["deepseek"]
api_keys = ["sk-or-config-key-0002"]

[reliability.model_fallbacks]
"anthropic/claude-sonnet-4" = ["anthropic/claude-3.5-haiku"]

[[model_routes]]
hint = "fast"
provider = "groq"
model = "llama-3.1-8b-instant"
api_key = "gsk_route_key_0003"
"""


def test_from_config_builds_the_routed_reliable_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", "deepseek-env-key-0004")
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    router = create_provider_from_config(load_config(path))
    assert isinstance(router, RouterProvider)
    assert router.default_model == "anthropic/claude-sonnet-4"
    name, default, model = routed(router, "anthropic/claude-sonnet-4")
    assert (name, model) == ("openrouter", "anthropic/claude-sonnet-4")
    assert chain(default) == ["openrouter", "deepseek"]
    assert default.model_fallbacks == {"anthropic/claude-sonnet-4": ["anthropic/claude-3.5-haiku"]}
    assert inner(default, 0).key.reveal() == "sk-or-config-key-0001"
    assert len(default._pool) == 2
    name, fast, model = routed(router, "hint:fast")
    assert (name, model) == ("groq", "llama-3.1-8b-instant")
    assert chain(fast) == ["groq", "deepseek"]
    assert inner(fast, 0).key.reveal() == "gsk_route_key_0003"
    assert fast._pool is None
    for provider in (default, fast):
        assert inner(provider, 1).key.reveal() == "deepseek-env-key-0004"
    assert "sk-or-config" not in repr(router)


def test_from_config_without_routes_is_a_reliable_provider(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('default_provider = "groq"\n[reliability]\nfallback_providers = ["deepseek"]\n')
    provider = create_provider_from_config(load_config(path))
    assert isinstance(provider, ReliableProvider)
    assert chain(provider) == ["groq", "deepseek"]


# -- the docs ------------------------------------------------------------------------------------


def blocks(doc: str, lang: str) -> list[tuple[int, str]]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group(3)))
        for m in _FENCE.finditer(text)
        if m.group(2) == lang
    ]


DOC_TOML = [
    pytest.param(code, id=f"{doc}:{line}")
    for doc in ("reliability.md", "routing.md")
    for line, code in blocks(doc, "toml")
]


def test_the_docs_have_config_examples():
    assert len(DOC_TOML) >= 3


@pytest.mark.parametrize("code", DOC_TOML)
def test_every_toml_example_of_the_docs_loads_and_builds(tmp_path, code):
    path = tmp_path / "config.toml"
    path.write_text(code, encoding="utf-8")
    # `${VAR}` without a default must be set, as the docs tell the reader to.
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", code))
    environ = {name: f"docs-example-value-{i:04d}" for i, name in enumerate(sorted(names))}
    config = load_config(path, environ=environ)
    provider = create_provider_from_config(config)
    assert isinstance(provider, ReliableProvider | RouterProvider)


def doc_failure_example() -> str:
    examples = [code for _, code in blocks("reliability.md", "text") if code.startswith("All ")]
    assert len(examples) == 1
    return examples[0].rstrip("\n")


@respx.mock(assert_all_called=True)
def test_the_failure_message_in_the_docs_is_the_real_one(respx_mock, monkeypatch, waits):
    # The scenario docs/reliability.md describes next to its example.
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-docs-key-0001")
    monkeypatch.setenv("GROQ_API_KEY", "gsk_docs_key_0002")
    respx_mock.post("https://openrouter.ai/api/v1/chat/completions").mock(
        return_value=httpx.Response(
            429, json=error_body("Rate limit exceeded"), headers={"Retry-After": "120"}
        )
    )
    respx_mock.post("https://api.groq.com/openai/v1/chat/completions").mock(
        side_effect=[
            httpx.Response(503, text="<html><body>503 Service Unavailable</body></html>"),
            httpx.Response(
                401, json={"error": {"message": "Invalid API Key", "code": "invalid_api_key"}}
            ),
        ]
    )
    provider = create_resilient_provider(
        "openrouter", None, None, {"fallback_providers": ["groq"], "provider_retries": 1}
    )
    with pytest.raises(AllProvidersFailed) as info:
        provider.chat(REQ, "llama-3.3-70b")
    assert str(info.value) == doc_failure_example()
    assert len(waits) == 1 and 0.375 <= waits[0] <= 0.5  # groq's backoff, jittered
    data = [(a.provider, a.number, a.reason, a.status) for a in info.value.attempts]
    assert data == [
        ("openrouter", 1, "rate_limited", 429),
        ("groq", 1, "retryable", 503),
        ("groq", 2, "non_retryable", 401),
    ]
    assert json.dumps([a.error for a in info.value.attempts])  # plain data


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ticked(cell: str) -> str | None:
    found = re.search(r"`([^`]*)`", cell)
    return found.group(1) if found else None


def test_the_resolution_table_of_the_routing_doc_is_true(tmp_path):
    text = (DOCS / "routing.md").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(blocks("routing.md", "toml")[0][1], encoding="utf-8")
    config = load_config(path, environ={"OPENAI_WORK_KEY": "sk-docs-openai-key-0001"})
    router = create_provider_from_config(config)
    assert isinstance(router, RouterProvider)
    header = "| model asked for | route | provider | model sent |"
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    assert len(rows) == 6
    for row in rows:
        asked, _, provider, sent = _cells(row)
        asked, provider, sent = _ticked(asked), _ticked(provider), _ticked(sent)
        if provider == "InvalidRequest":
            with pytest.raises(InvalidRequest) as info:
                router.resolve(asked)
            # The message the doc quotes, as the doc wraps it.
            assert " ".join(str(info.value).split()) in " ".join(text.split())
            continue
        name, _, chosen, _ = router.resolve(asked)
        assert (name, chosen) == (provider, sent), row


def test_a_routed_provider_never_receives_the_default_model(monkeypatch):
    # `hint:fast` without a model must not send OpenRouter's model id to Groq.
    monkeypatch.setenv("GROQ_API_KEY", "gsk-route-key-0123456789")
    router = create_routed_provider(
        "openrouter",
        "sk-or-v1-primary-0123456789",
        None,
        {},
        [{"hint": "fast", "provider": "groq"}],
        "anthropic/claude-sonnet-4",
    )
    with respx.mock(assert_all_called=False) as mock:
        groq = mock.post("https://api.groq.com/openai/v1/chat/completions")
        with pytest.raises(InvalidRequest, match=r"No model given.*model_routes"):
            router.chat(ChatRequest((ChatMessage.user("x"),)), "hint:fast")
    assert groq.call_count == 0
    assert router.default_model == "anthropic/claude-sonnet-4"
