"""From a name to a working provider (PROVIDERS.md R1-R5, K1-K4, ProviderRuntimeOptions).

Every HTTP exchange is mocked with respx; nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
import respx

import construct.registry as registry
from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
    ConfigError,
    ProviderCapabilityError,
    ProviderRuntimeOptions,
    UnknownProvider,
    create_provider,
    create_provider_with_options,
    create_provider_with_url,
    list_providers,
)
from construct.providers.http import HttpProvider, UnavailableProvider
from construct.registry import PROVIDERS, key_env_vars, resolve
from construct.secrets import mask

KEY = "test-key-1234567890"
REQ = ChatRequest([ChatMessage.user("hi")])
OK = {
    "id": "x",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
    ],
}
GROQ_CHAT = "https://api.groq.com/openai/v1/chat/completions"
OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
OPENROUTER_CHAT = "https://openrouter.ai/api/v1/chat/completions"
GATEWAY = "https://gw.example.test/v1"

ALL_NAMES = [(s.name, n) for s in PROVIDERS for n in (s.name, *s.aliases)]
OPENAI_CHAT_ROWS = [s.name for s in PROVIDERS if s.dialect == "openai_chat" and s.available]
PENDING_ROWS = [s.name for s in PROVIDERS if not s.available]
LOCAL_SERVERS = {
    "lmstudio": "http://localhost:1234/v1",
    "llamacpp": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
    "sglang": "http://localhost:30000/v1",
    "osaurus": "http://localhost:1337/v1",
    "litellm": "http://localhost:4000/v1",
    "custom:http://localhost:9999/v1": "http://localhost:9999/v1",
}


def ask(provider: Any, model: str = "some-model") -> Any:
    return provider.chat(REQ, model=model)


def route_ok(url: str, router: Any = respx) -> respx.Route:
    return router.post(url).mock(return_value=httpx.Response(200, json=OK))


def sent(route: respx.Route) -> httpx.Request:
    assert route.call_count == 1
    return route.calls.last.request


def body(route: respx.Route) -> dict[str, Any]:
    return json.loads(sent(route).content)


# -- every row constructs -------------------------------------------------------------


@pytest.mark.parametrize(("slug", "name"), ALL_NAMES)
def test_every_id_and_alias_constructs_under_its_canonical_name(slug: str, name: str) -> None:
    provider = create_provider(name, KEY)
    assert provider.name == slug
    assert provider.base_url == resolve(name).base_url
    assert provider.display_name == registry.get_spec(slug).display_name


@pytest.mark.parametrize(("slug", "name"), ALL_NAMES)
def test_every_id_and_alias_constructs_without_a_key(slug: str, name: str) -> None:
    assert create_provider(name).name == slug  # K2: no key is no error yet


@pytest.mark.parametrize(
    ("name", "slug", "url"),
    [
        ("grok", "xai", "https://api.x.ai/v1"),
        (" Groq ", "groq", "https://api.groq.com/openai/v1"),
        ("KIMI-INTL", "moonshot", "https://api.moonshot.ai/v1"),
        ("kimi", "moonshot", "https://api.moonshot.cn/v1"),
        ("minimax-cn", "minimax", "https://api.minimaxi.com/v1"),
        ("qwen-foo-cn", "qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("dashscope-us", "qwen", "https://dashscope-us.aliyuncs.com/compatible-mode/v1"),
        ("zai-cn", "zai", "https://open.bigmodel.cn/api/coding/paas/v4"),
        ("baidu-x", "qianfan", "https://qianfan.baidubce.com/v2"),
        ("volcengine-x", "doubao", "https://ark.cn-beijing.volces.com/api/v3"),
        ("custom:https://llm.example.test/v1/", "custom", "https://llm.example.test/v1"),
    ],
)
def test_name_and_base_url(name: str, slug: str, url: str) -> None:
    provider = create_provider(name, KEY)
    assert provider.name == slug
    assert provider.base_url == url


@respx.mock
def test_a_regional_alias_calls_its_region() -> None:
    route = route_ok("https://api.moonshot.ai/v1/chat/completions")
    assert ask(create_provider("kimi-intl", KEY)).text == "hello"
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("name", OPENAI_CHAT_ROWS)
def test_available_rows_are_http_providers(name: str) -> None:
    assert isinstance(create_provider(name, KEY), HttpProvider)


@pytest.mark.parametrize("name", PENDING_ROWS)
def test_pending_rows_construct_and_refuse_calls(name: str) -> None:
    provider = create_provider(name, KEY)
    assert isinstance(provider, UnavailableProvider)
    assert provider.capabilities() is not None
    with respx.mock(assert_all_mocked=True) as mock:
        for call in (
            lambda: ask(provider),
            lambda: provider.stream(REQ, "m"),
            lambda: asyncio.run(provider.achat(REQ, "m")),
            provider.list_models,
        ):
            with pytest.raises(ProviderCapabilityError) as info:
                call()
            assert "not available yet" in str(info.value)
            assert info.value.provider == provider.name
        assert not mock.calls


def test_list_providers_names_all_construct() -> None:
    for info in list_providers():
        assert create_provider(info.name, KEY).name == info.name


# -- R3 -------------------------------------------------------------------------------


def test_unknown_name_from_the_factory() -> None:
    with pytest.raises(UnknownProvider) as info:
        create_provider("groqq", KEY)
    assert isinstance(info.value, ConfigError)
    assert "groq" in str(info.value)
    assert "custom:" in str(info.value)


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_from_the_factory(name: str) -> None:
    with pytest.raises(UnknownProvider):
        create_provider(name, KEY)


@pytest.mark.parametrize("name", [None, 3, object()])
def test_non_string_name_from_the_factory(name: Any) -> None:
    with pytest.raises(ConfigError):
        create_provider(name, KEY)


# -- R4: custom: --------------------------------------------------------------------------


@respx.mock
def test_custom_provider_calls_its_url() -> None:
    route = route_ok("https://llm.example.test/v1/chat/completions")
    provider = create_provider("custom:https://llm.example.test/v1/", KEY)
    assert provider.name == "custom"
    assert ask(provider).text == "hello"
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://llm.example.test",
        "https://",
        "https://user:hunter2secret@llm.example.test",
    ],
)
def test_custom_url_validation_from_the_factory(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_provider(f"custom:{url}", KEY)
    assert "hunter2secret" not in str(info.value)


def test_custom_plain_http_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry, "_warned_cleartext", set())
    with caplog.at_level(logging.WARNING, logger="construct"):
        first = create_provider("custom:http://192.168.1.20:8000/v1/", KEY)
        create_provider("custom:http://192.168.1.20:8000/v1", KEY)
    assert first.base_url == "http://192.168.1.20:8000/v1"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "192.168.1.20" in warnings[0].getMessage()
    assert KEY not in caplog.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_custom_loopback_does_not_warn(
    host: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry, "_warned_cleartext", set())
    with caplog.at_level(logging.WARNING, logger="construct"):
        provider = create_provider(f"custom:http://{host}:8080/v1", KEY)
    assert provider.base_url == f"http://{host}:8080/v1"
    assert not caplog.records


# -- R5: api_url --------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPENAI_CHAT_ROWS)
def test_api_url_replaces_the_base_url_of_every_http_provider(name: str) -> None:
    provider = create_provider_with_url(name, KEY, GATEWAY + "/")
    assert provider.base_url == GATEWAY
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as mock:
        route = route_ok(GATEWAY + "/chat/completions", mock)
        assert ask(provider).text == "hello"
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("name", ["anthropic", "gemini", "bedrock", "ollama", "azure"])
def test_api_url_replaces_the_base_url_of_pending_rows(name: str) -> None:
    assert create_provider_with_url(name, KEY, "https://proxy.example.test/").base_url == (
        "https://proxy.example.test"
    )


@pytest.mark.parametrize("api_url", [None, "", "   "])
def test_no_api_url_keeps_the_default(api_url: str | None) -> None:
    provider = create_provider_with_url("groq", KEY, api_url)
    assert provider.base_url == "https://api.groq.com/openai/v1"


@pytest.mark.parametrize(
    ("api_url", "says"),
    [
        ("not a url", "http:// or https://"),
        ("ftp://gw.example.test/v1", "http:// or https://"),
        ("gw.example.test/v1", "http:// or https://"),
        ("https://", "host"),
        ("https://user:hunter2secret@gw.example.test/v1", "credentials"),
    ],
)
def test_api_url_is_validated(api_url: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_provider_with_url("groq", KEY, api_url)
    assert says in str(info.value)
    assert "hunter2secret" not in str(info.value)


def test_api_url_in_options_and_plain_http_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry, "_warned_cleartext", set())
    with caplog.at_level(logging.WARNING, logger="construct"):
        provider = create_provider_with_options(
            "vllm", None, {"provider_api_url": "http://gpu-box.example.test:8000/v1"}
        )
    assert provider.base_url == "http://gpu-box.example.test:8000/v1"
    assert len(caplog.records) == 1


# -- K1 ---------------------------------------------------------------------------------


@respx.mock
def test_explicit_key_is_trimmed_and_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "env-key-groq-123456")
    monkeypatch.setenv("CONSTRUCT_API_KEY", "generic-key-1234567")
    route = route_ok(GROQ_CHAT)
    provider = create_provider("groq", "  explicit-key-123456 \n")
    assert provider.key_source == "explicit"
    ask(provider)
    assert sent(route).headers["authorization"] == "Bearer explicit-key-123456"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
@respx.mock
def test_blank_explicit_key_falls_back_to_env(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "env-key-groq-123456")
    route = route_ok(GROQ_CHAT)
    provider = create_provider("groq", blank)
    assert provider.key_source == "GROQ_API_KEY"
    ask(provider)
    assert sent(route).headers["authorization"] == "Bearer env-key-groq-123456"


@pytest.mark.parametrize(
    ("name", "url", "env", "winner"),
    [
        (
            "doubao",
            "https://ark.cn-beijing.volces.com/api/v3",
            {
                "ARK_API_KEY": "ark-key-123456",
                "VOLCENGINE_API_KEY": "volc-key-123456",
                "DOUBAO_API_KEY": "doubao-key-123456",
                "CONSTRUCT_API_KEY": "generic-key-123456",
            },
            "ARK_API_KEY",
        ),
        (
            "volcengine",
            "https://ark.cn-beijing.volces.com/api/v3",
            {
                "ARK_API_KEY": "   ",
                "VOLCENGINE_API_KEY": "volc-key-123456",
                "DOUBAO_API_KEY": "doubao-key-123456",
            },
            "VOLCENGINE_API_KEY",
        ),
        (
            "ark",
            "https://ark.cn-beijing.volces.com/api/v3",
            {"DOUBAO_API_KEY": "doubao-key-123456", "CONSTRUCT_API_KEY": "generic-key-123456"},
            "DOUBAO_API_KEY",
        ),
        (
            "doubao",
            "https://ark.cn-beijing.volces.com/api/v3",
            {"DOUBAO_API_KEY": "", "CONSTRUCT_API_KEY": " generic-key-123456 "},
            "CONSTRUCT_API_KEY",
        ),
        (
            "kimi-code",
            "https://api.kimi.com/coding/v1",
            {"KIMI_CODE_API_KEY": "kimi-code-key-123456", "MOONSHOT_API_KEY": "moon-key-123456"},
            "KIMI_CODE_API_KEY",
        ),
        (
            "kimi_coding",
            "https://api.kimi.com/coding/v1",
            {"MOONSHOT_API_KEY": "moon-key-123456", "CONSTRUCT_API_KEY": "generic-key-123456"},
            "MOONSHOT_API_KEY",
        ),
        (
            "groq",
            "https://api.groq.com/openai/v1",
            {"GROQ_API_KEY": " \t ", "CONSTRUCT_API_KEY": "generic-key-123456"},
            "CONSTRUCT_API_KEY",
        ),
    ],
)
def test_env_key_order(
    name: str, url: str, env: dict[str, str], winner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    provider = create_provider(name)
    assert provider.key_source == winner
    with respx.mock:
        route = route_ok(url + "/chat/completions")
        ask(provider)
    assert sent(route).headers["authorization"] == f"Bearer {env[winner].strip()}"


def test_gemini_env_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-1234567890")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-1234567890")
    assert key_env_vars(resolve("gemini"))[:2] == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert registry.key_from_env(resolve("gemini")) == ("GEMINI_API_KEY", "gemini-key-1234567890")


def test_bare_api_key_is_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = "bare-api-key-value-987654"
    monkeypatch.setenv("API_KEY", bare)
    provider = create_provider("groq")
    with respx.mock(assert_all_called=False) as mock:
        route = route_ok(GROQ_CHAT, mock)
        with pytest.raises(AuthError):
            ask(provider)
        assert not route.called
    # A keyless local server: the bare key must not ride along either.
    with respx.mock:
        route = route_ok("http://localhost:1234/v1/chat/completions")
        ask(create_provider("lmstudio"))
    request = sent(route)
    assert "authorization" not in request.headers
    assert bare not in str(request.headers.raw)
    assert bare.encode() not in request.content


def test_bedrock_never_uses_the_generic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTRUCT_API_KEY", "generic-key-1234567")
    assert "CONSTRUCT_API_KEY" not in key_env_vars(resolve("bedrock"))
    assert key_env_vars(resolve("bedrock")) == ("BEDROCK_API_KEY", "AWS_BEARER_TOKEN_BEDROCK")


def test_secret_objects_are_accepted_as_keys() -> None:
    from construct.secrets import Secret

    provider = create_provider("groq", Secret(KEY))
    assert provider.key_source == "explicit"
    with respx.mock:
        route = route_ok(GROQ_CHAT)
        ask(provider)
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("key", [123, b"bytes-key-123456", ["k"]])
def test_non_string_key_is_a_config_error(key: Any) -> None:
    with pytest.raises(ConfigError):
        create_provider("groq", key)


# -- K2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "url", "env"),
    [
        ("groq", GROQ_CHAT, ["GROQ_API_KEY", "CONSTRUCT_API_KEY"]),
        ("openrouter", OPENROUTER_CHAT, ["OPENROUTER_API_KEY", "CONSTRUCT_API_KEY"]),
        (
            "doubao",
            "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
            ["ARK_API_KEY", "VOLCENGINE_API_KEY", "DOUBAO_API_KEY", "CONSTRUCT_API_KEY"],
        ),
        (
            "custom:https://llm.example.test/v1",
            "https://llm.example.test/v1/chat/completions",
            None,
        ),
    ],
)
def test_missing_key_fails_at_the_first_call(name: str, url: str, env: list[str] | None) -> None:
    provider = create_provider(name)
    with respx.mock(assert_all_called=False) as mock:
        route = route_ok(url, mock)
        if env is None:
            # custom: needs no key (K2): the request goes out without Authorization.
            ask(provider)
            assert "authorization" not in sent(route).headers
            return
        for call in (
            lambda: ask(provider),
            lambda: provider.stream(REQ, "m"),
            lambda: asyncio.run(provider.achat(REQ, "m")),
        ):
            with pytest.raises(AuthError) as info:
                call()
            for var in env:
                assert var in str(info.value)
            assert info.value.provider == provider.name
        assert not route.called


@pytest.mark.parametrize(("name", "base"), LOCAL_SERVERS.items())
def test_local_servers_send_no_auth_without_a_key(name: str, base: str) -> None:
    with respx.mock:
        route = route_ok(base + "/chat/completions")
        assert ask(create_provider(name)).text == "hello"
    assert "authorization" not in sent(route).headers


@pytest.mark.parametrize(("name", "base"), LOCAL_SERVERS.items())
def test_local_servers_send_a_given_key(name: str, base: str) -> None:
    with respx.mock:
        route = route_ok(base + "/chat/completions")
        ask(create_provider(name, KEY))
    assert sent(route).headers["authorization"] == f"Bearer {KEY}"


def test_local_server_takes_the_generic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSTRUCT_API_KEY", "generic-key-1234567")
    with respx.mock:
        route = route_ok("http://localhost:8000/v1/chat/completions")
        ask(create_provider("vllm"))
    assert sent(route).headers["authorization"] == "Bearer generic-key-1234567"


# -- K3 ---------------------------------------------------------------------------------

ANT_KEY = "sk-ant-api03-AbCdEfGh_IjKlMnOp-QrStUv1234567890"
OR_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
PROJ_KEY = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0F"
XAI_KEY = "xai-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
GSK_KEY = "gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
PPLX_KEY = "pplx-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "key", "env", "owner"),
    [
        ("openai", ANT_KEY, None, "anthropic"),
        ("openai", None, {"OPENAI_API_KEY": OR_KEY}, "openrouter"),
        ("openai", None, {"CONSTRUCT_API_KEY": ANT_KEY}, "anthropic"),
        ("groq", XAI_KEY, None, "xai"),
        ("grok", GSK_KEY, None, "groq"),
        ("openrouter", PROJ_KEY, None, "openai"),
        ("anthropic", OR_KEY, None, "openrouter"),
        ("nvidia-nim", PPLX_KEY, None, "perplexity"),
        (" OpenAI ", ANT_KEY, None, "anthropic"),
    ],
)
def test_key_of_another_vendor_is_refused_at_construction(
    name: str, key: str | None, env: dict[str, str] | None, owner: str, monkeypatch
) -> None:
    for var, value in (env or {}).items():
        monkeypatch.setenv(var, value)
    secret = key or next(iter(env.values()))  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as info:
        create_provider(name, key)
    err = info.value
    assert owner in str(err)
    assert resolve(name).spec.name in str(err)
    for text in (str(err), repr(err), err.message):
        assert secret not in text
        assert secret[8:] not in text
    if env:
        assert next(iter(env)) in str(err)  # names the variable the key came from


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("openrouter", OR_KEY),
        ("openai", PROJ_KEY),
        ("openai", "sk-abcdefghijklmnop1234567890ABCD"),
        ("groq", GSK_KEY),
        ("grok", XAI_KEY),
        ("anthropic", ANT_KEY),
        ("perplexity", PPLX_KEY),
        ("deepseek", "sk-abcdefghijklmnop1234567890ABCD"),  # not a checked provider
        ("moonshot", ANT_KEY),
        ("custom:https://llm.example.test/v1", ANT_KEY),
        ("anthropic-custom:https://claude.example.test", PROJ_KEY),
        ("openai", KEY),  # no known prefix: nothing to check
    ],
)
def test_matching_or_unchecked_keys_are_accepted(name: str, key: str) -> None:
    create_provider(name, key)


def test_api_url_disables_the_prefix_check() -> None:
    provider = create_provider_with_url("openai", ANT_KEY, GATEWAY)
    assert provider.base_url == GATEWAY
    create_provider_with_options("groq", XAI_KEY, {"provider_api_url": GATEWAY})


def test_blank_api_url_does_not_disable_the_prefix_check() -> None:
    with pytest.raises(ConfigError, match="anthropic"):
        create_provider_with_url("openai", ANT_KEY, "   ")


# -- K4 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["groq", "openrouter", "custom:https://llm.example.test"])
def test_repr_and_str_show_at_most_a_masked_key(name: str) -> None:
    key = "secret-value-abcdefghij-WXYZ"
    provider = create_provider(name, key)
    for text in (repr(provider), str(provider), f"{provider}", f"{provider!r}"):
        assert key not in text
        assert "abcdefghij" not in text
        assert "…WXYZ" in text
    assert mask(key) in repr(provider)


def test_repr_of_a_pending_provider_has_no_key() -> None:
    provider = create_provider("anthropic", ANT_KEY)
    assert ANT_KEY not in repr(provider)
    assert ANT_KEY[8:-4] not in repr(provider)


def test_provider_attributes_do_not_expose_the_key() -> None:
    provider = create_provider("groq", KEY)
    for attr in ("name", "display_name", "base_url", "key_source"):
        assert KEY not in str(getattr(provider, attr))


@pytest.mark.parametrize(
    "echo",
    [
        "Incorrect API key provided: {key}. You can find your API key at platform.",
        "Incorrect API key provided: sk-proj-abc***********************xyz.",
        "invalid x-api-key header: {key}",
    ],
)
def test_401_echoing_the_key_is_scrubbed(echo: str, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-proj-abcDEF1234567890ghijKLMN0987xyz"
    provider = create_provider("openai", key)
    payload = {"error": {"message": echo.format(key=key), "type": "invalid_request_error"}}
    with caplog.at_level(logging.DEBUG), respx.mock:
        respx.post(OPENAI_CHAT).mock(return_value=httpx.Response(401, json=payload))
        with pytest.raises(AuthError) as info:
            ask(provider)
    err = info.value
    assert err.status == 401
    for text in (str(err), repr(err), err.message, err.body or "", caplog.text):
        assert key not in text
        assert "abcDEF1234567890" not in text
    assert "OPENAI_API_KEY" in str(err)


def test_key_never_in_logs_of_a_successful_call(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), respx.mock:
        route_ok(GROQ_CHAT)
        ask(create_provider("groq", KEY))
    assert KEY not in caplog.text


# -- ProviderRuntimeOptions -----------------------------------------------------------------


@respx.mock
def test_default_timeouts() -> None:
    route = route_ok(GROQ_CHAT)
    ask(create_provider("groq", KEY))
    timeout = sent(route).extensions["timeout"]
    assert timeout["connect"] == 10.0
    assert timeout["read"] == 120.0


@respx.mock
def test_timeouts_are_applied() -> None:
    route = route_ok(GROQ_CHAT)
    options = ProviderRuntimeOptions(provider_timeout_secs=30, connect_timeout_secs=2.5)
    ask(create_provider_with_options("groq", KEY, options))
    timeout = sent(route).extensions["timeout"]
    assert timeout["connect"] == 2.5
    assert timeout["read"] == 30


@pytest.mark.parametrize("field", ["provider_timeout_secs", "connect_timeout_secs"])
@pytest.mark.parametrize("value", [0, -1, -0.5, float("nan"), "10", True])
def test_timeouts_are_validated(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        ProviderRuntimeOptions(**{field: value})
    with pytest.raises(ConfigError, match=field):
        create_provider_with_options("groq", KEY, {field: value})


def test_connect_timeout_cannot_be_none() -> None:
    with pytest.raises(ConfigError, match="connect_timeout_secs"):
        ProviderRuntimeOptions(connect_timeout_secs=None)  # type: ignore[arg-type]


@respx.mock
def test_extra_headers_are_sent() -> None:
    route = route_ok(GROQ_CHAT)
    options = {"extra_headers": {"X-Trace-Id": "abc-123", "X-Empty": ""}}
    ask(create_provider_with_options("groq", KEY, options))
    headers = sent(route).headers
    assert headers["x-trace-id"] == "abc-123"
    assert headers["x-empty"] == ""
    assert headers["authorization"] == f"Bearer {KEY}"


@respx.mock
def test_openrouter_attribution_headers_by_default() -> None:
    route = route_ok(OPENROUTER_CHAT)
    ask(create_provider("openrouter", KEY))
    headers = sent(route).headers
    assert headers.get_list("http-referer") == ["https://github.com/construct-llm/construct"]
    assert headers.get_list("x-title") == ["construct"]


@pytest.mark.parametrize(
    "override",
    [
        {"HTTP-Referer": "https://myapp.example.test", "X-Title": "My App"},
        {"http-referer": "https://myapp.example.test", "x-title": "My App"},
        {"HTTP-REFERER": "https://myapp.example.test", "X-TITLE": "My App"},
    ],
)
def test_extra_headers_override_spec_headers_whatever_the_case(override: dict[str, str]) -> None:
    with respx.mock:
        route = route_ok(OPENROUTER_CHAT)
        ask(create_provider_with_options("openrouter", KEY, {"extra_headers": override}))
    headers = sent(route).headers
    # Replaced, not sent twice.
    assert headers.get_list("http-referer") == ["https://myapp.example.test"]
    assert headers.get_list("x-title") == ["My App"]


@pytest.mark.parametrize(
    ("name", "base", "agent"),
    [
        ("kimi-code", "https://api.kimi.com/coding/v1", "KimiCLI/0.77"),
        ("bailian", "https://coding.dashscope.aliyuncs.com/v1", "openclaw"),
    ],
)
def test_row_headers_are_sent_and_overridable(name: str, base: str, agent: str) -> None:
    with respx.mock:
        route = route_ok(base + "/chat/completions")
        ask(create_provider(name, KEY))
        assert sent(route).headers["user-agent"] == agent
    with respx.mock:
        route = route_ok(base + "/chat/completions")
        options = {"extra_headers": {"user-agent": "mine/1.0"}}
        ask(create_provider_with_options(name, KEY, options))
        assert sent(route).headers.get_list("user-agent") == ["mine/1.0"]


@pytest.mark.parametrize(
    "name", ["", "X Bad", "X:Bad", "X-Bad\r\n", "X(bad)", "X,Y", "Ünïcode", "X\tY", 5]
)
def test_invalid_header_names_are_rejected(name: Any) -> None:
    with pytest.raises(ConfigError, match="header"):
        ProviderRuntimeOptions(extra_headers={name: "v"})


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "line\nbreak", "café", "\x00", 5, None])
def test_invalid_header_values_are_rejected(value: Any) -> None:
    with pytest.raises(ConfigError, match="X-Ok"):
        create_provider_with_options("groq", KEY, {"extra_headers": {"X-Ok": value}})


@pytest.mark.parametrize("headers", [["X-A", "b"], "X-A: b"])
def test_extra_headers_must_be_a_mapping(headers: Any) -> None:
    with pytest.raises(ConfigError, match="extra_headers"):
        ProviderRuntimeOptions(extra_headers=headers)


@pytest.mark.parametrize("api_path", ["/v2/chat", "v2/chat"])
def test_api_path_changes_the_chat_path(api_path: str) -> None:
    with respx.mock:
        route = route_ok("https://api.groq.com/openai/v1/v2/chat")
        ask(create_provider_with_options("groq", KEY, {"api_path": api_path}))
    assert route.call_count == 1


def test_api_path_with_api_url() -> None:
    options = {"provider_api_url": GATEWAY, "api_path": "/openai/chat"}
    with respx.mock:
        route = route_ok(GATEWAY + "/openai/chat")
        ask(create_provider_with_options("vllm", KEY, options))
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("name", "url", "field"),
    [
        ("groq", GROQ_CHAT, "max_tokens"),
        ("openrouter", OPENROUTER_CHAT, "max_tokens"),
        ("openai", OPENAI_CHAT, "max_completion_tokens"),
    ],
)
def test_provider_max_tokens(name: str, url: str, field: str) -> None:
    with respx.mock:
        route = route_ok(url)
        ask(create_provider_with_options(name, KEY, {"provider_max_tokens": 77}))
    sent_body = body(route)
    assert sent_body[field] == 77
    other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
    assert other not in sent_body


def test_request_max_tokens_beats_the_option() -> None:
    with respx.mock:
        route = route_ok(GROQ_CHAT)
        provider = create_provider_with_options("groq", KEY, {"provider_max_tokens": 77})
        provider.chat(ChatRequest([ChatMessage.user("hi")], max_tokens=5), model="m")
    assert body(route)["max_tokens"] == 5


def test_no_max_tokens_by_default() -> None:
    with respx.mock:
        route = route_ok(GROQ_CHAT)
        ask(create_provider("groq", KEY))
    assert "max_tokens" not in body(route)
    assert "reasoning_effort" not in body(route)


@pytest.mark.parametrize("value", [0, -5, 1.5, "100", True])
def test_provider_max_tokens_is_validated(value: Any) -> None:
    with pytest.raises(ConfigError, match="provider_max_tokens"):
        ProviderRuntimeOptions(provider_max_tokens=value)


@pytest.mark.parametrize(
    ("name", "url", "model", "sent_effort"),
    [
        ("groq", GROQ_CHAT, "openai/gpt-oss-120b", "high"),
        ("openai", OPENAI_CHAT, "o3-mini", "high"),
        ("openai", OPENAI_CHAT, "gpt-4o", None),  # not a reasoning model
    ],
)
def test_reasoning_effort(name: str, url: str, model: str, sent_effort: str | None) -> None:
    with respx.mock:
        route = route_ok(url)
        provider = create_provider_with_options(name, KEY, {"reasoning_effort": " HIGH "})
        ask(provider, model)
    assert body(route).get("reasoning_effort") == sent_effort


@pytest.mark.parametrize("value", ["extreme", "", "max", 5, ["high"]])
def test_reasoning_effort_is_validated(value: Any) -> None:
    with pytest.raises(ConfigError, match="reasoning_effort"):
        ProviderRuntimeOptions(reasoning_effort=value)


@pytest.mark.parametrize("value", ["none", "minimal", "low", "medium", "high", "xhigh", "Low"])
def test_reasoning_effort_values(value: str) -> None:
    assert ProviderRuntimeOptions(reasoning_effort=value).reasoning_effort == value


def test_dict_options_are_accepted() -> None:
    options = {
        "provider_timeout_secs": 15,
        "extra_headers": {"X-A": "1"},
        "provider_max_tokens": 10,
        "reasoning_effort": "low",
        "default_model": "llama-3.3-70b-versatile",
        "default_temperature": 0.3,
    }
    provider = create_provider_with_options("groq", KEY, options)
    with respx.mock:
        route = route_ok(GROQ_CHAT)
        provider.chat(REQ)
    sent_body = body(route)
    assert sent_body["model"] == "llama-3.3-70b-versatile"
    assert sent_body["temperature"] == 0.3
    assert sent_body["max_tokens"] == 10
    assert sent(route).headers["x-a"] == "1"
    assert sent(route).extensions["timeout"]["read"] == 15


@pytest.mark.parametrize(
    "options",
    [{"timeout": 5}, {"extra_header": {}}, {"provider_timeout_secs": 5, "api_key": KEY}],
)
def test_unknown_option_keys_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        create_provider_with_options("groq", KEY, options)
    unknown = sorted(set(options) - {"provider_timeout_secs"})
    for key in unknown:
        assert key in str(info.value)
    assert KEY not in str(info.value)


@pytest.mark.parametrize("options", [5, "provider_timeout_secs=5", [("api_path", "/x")]])
def test_options_of_the_wrong_type_are_rejected(options: Any) -> None:
    with pytest.raises(ConfigError):
        create_provider_with_options("groq", KEY, options)


@pytest.mark.parametrize("value", [-0.1, 2.5, "0.5", float("nan")])
def test_default_temperature_is_validated(value: Any) -> None:
    with pytest.raises(ConfigError, match="temperature"):
        ProviderRuntimeOptions(default_temperature=value)


@pytest.mark.parametrize("value", [5, b"https://x"])
def test_provider_api_url_must_be_a_string(value: Any) -> None:
    with pytest.raises(ConfigError, match="provider_api_url"):
        ProviderRuntimeOptions(provider_api_url=value)


def test_options_object_is_accepted_as_is() -> None:
    options = ProviderRuntimeOptions(api_path="/x/chat")
    assert ProviderRuntimeOptions.coerce(options) is options
    assert ProviderRuntimeOptions.coerce(None) == ProviderRuntimeOptions()
