"""The provider table and name resolution (PROVIDERS.md R1-R4, the K1 lookup order).

Resolution only: what a name stands for, which URL and which env vars. Building
and calling providers is tested in test_factory.py.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

import construct.registry as registry
from construct.errors import ConfigError, UnknownProvider
from construct.registry import (
    GENERIC_KEY_ENV,
    PROVIDERS,
    apply_api_url,
    key_env_vars,
    key_from_env,
    list_providers,
    resolve,
)

# Reference §5: the 65 listed providers, in order, with their listed aliases.
REFERENCE_LISTED = {
    "openrouter": (),
    "anthropic": (),
    "openai": (),
    "openai-codex": ("openai_codex", "codex"),
    "telnyx": (),
    "azure_openai": ("azure-openai", "azure"),
    "ollama": (),
    "gemini": ("google", "google-gemini"),
    "venice": (),
    "vercel": ("vercel-ai",),
    "cloudflare": ("cloudflare-ai",),
    "moonshot": ("kimi",),
    "kimi-code": ("kimi_coding", "kimi_for_coding"),
    "synthetic": (),
    "opencode": ("opencode-zen",),
    "opencode-go": (),
    "zai": ("z.ai",),
    "glm": ("zhipu",),
    "minimax": (
        "minimax-intl",
        "minimax-io",
        "minimax-global",
        "minimax-cn",
        "minimaxi",
        "minimax-oauth",
        "minimax-oauth-cn",
        "minimax-portal",
        "minimax-portal-cn",
    ),
    "bedrock": ("aws-bedrock",),
    "qianfan": ("baidu",),
    "doubao": ("volcengine", "ark", "doubao-cn"),
    "qwen": (
        "dashscope",
        "qwen-intl",
        "dashscope-intl",
        "qwen-us",
        "dashscope-us",
        "qwen-code",
        "qwen-oauth",
        "qwen_oauth",
    ),
    "bailian": ("aliyun-bailian", "aliyun"),
    "groq": (),
    "mistral": (),
    "xai": ("grok",),
    "deepseek": (),
    "together": ("together-ai",),
    "fireworks": ("fireworks-ai",),
    "novita": (),
    "perplexity": (),
    "cohere": (),
    "copilot": ("github-copilot",),
    "claude-code": (),
    "gemini-cli": (),
    "kilocli": ("kilo",),
    "lmstudio": ("lm-studio",),
    "llamacpp": ("llama.cpp",),
    "sglang": (),
    "vllm": (),
    "osaurus": (),
    "nvidia": ("nvidia-nim", "build.nvidia.com"),
    "siliconflow": ("silicon-flow",),
    "aihubmix": (),
    "litellm": ("lite-llm",),
    "cerebras": (),
    "sambanova": (),
    "hyperbolic": (),
    "deepinfra": ("deep-infra",),
    "huggingface": ("hf",),
    "ai21": ("ai21-labs",),
    "reka": (),
    "baseten": (),
    "nscale": (),
    "anyscale": (),
    "nebius": (),
    "friendli": ("friendliai",),
    "lepton": ("lepton-ai",),
    "stepfun": ("step",),
    "baichuan": (),
    "yi": ("01ai", "lingyiwanwu"),
    "hunyuan": ("tencent",),
    "ovhcloud": ("ovh",),
    "avian": (),
}
# Reference §1.3 rows that §5 does not list, with their aliases.
REFERENCE_UNLISTED = {"astrai": (), "deepmyst": ("deep-myst",)}
# Rows construct adds to the reference's, each listed after the row it is a variant of.
CONSTRUCT_ROWS = {"openai-responses": "openai"}
# Reference §5 "not listed but constructible": the regional aliases.
REGIONAL_ALIASES = {
    "moonshot-cn": "moonshot",
    "moonshot-intl": "moonshot",
    "moonshot-global": "moonshot",
    "kimi-intl": "moonshot",
    "kimi-global": "moonshot",
    "kimi-cn": "moonshot",
    "glm-global": "glm",
    "glm-cn": "glm",
    "zhipu-global": "glm",
    "zhipu-cn": "glm",
    "bigmodel": "glm",
    "zai-global": "zai",
    "zai-cn": "zai",
    "z.ai-global": "zai",
    "z.ai-cn": "zai",
    "qwen-cn": "qwen",
    "dashscope-cn": "qwen",
    "qwen-international": "qwen",
    "dashscope-international": "qwen",
    "minimax-oauth-global": "minimax",
    "minimax-portal-global": "minimax",
}

MOONSHOT_CN = "https://api.moonshot.cn/v1"
MOONSHOT_INTL = "https://api.moonshot.ai/v1"
QWEN_CN = "https://dashscope.aliyuncs.com/compatible-mode/v1"
QWEN_INTL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
QWEN_US = "https://dashscope-us.aliyuncs.com/compatible-mode/v1"
ZAI_GLOBAL = "https://api.z.ai/api/coding/paas/v4"
ZAI_CN = "https://open.bigmodel.cn/api/coding/paas/v4"
GLM_GLOBAL = "https://api.z.ai/api/paas/v4"
GLM_CN = "https://open.bigmodel.cn/api/paas/v4"
MINIMAX_INTL = "https://api.minimax.io/v1"
MINIMAX_CN = "https://api.minimaxi.com/v1"
DOUBAO = "https://ark.cn-beijing.volces.com/api/v3"
QIANFAN = "https://qianfan.baidubce.com/v2"


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clear-text warning is once per origin per process; start each test afresh."""
    monkeypatch.setattr(registry, "_warned_cleartext", set())


def all_names() -> list[tuple[str, str]]:
    """(canonical id, name) for every id and alias of the table."""
    return [(s.name, n) for s in PROVIDERS for n in (s.name, *s.aliases)]


# -- the table ------------------------------------------------------------------------


def test_list_providers_covers_every_reference_row_in_order() -> None:
    names = [p.name for p in list_providers()]
    assert len(names) == 68
    assert [n for n in names if n not in CONSTRUCT_ROWS] == [
        *REFERENCE_LISTED,
        *REFERENCE_UNLISTED,
    ]
    for name, after in CONSTRUCT_ROWS.items():
        assert names.index(name) == names.index(after) + 1


@pytest.mark.parametrize(
    ("name", "aliases"), [*REFERENCE_LISTED.items(), *REFERENCE_UNLISTED.items()]
)
def test_reference_aliases_are_kept(name: str, aliases: tuple[str, ...]) -> None:
    info = {p.name: p for p in list_providers()}[name]
    assert set(aliases) <= set(info.aliases)


def test_canonical_ids_are_unique() -> None:
    names = [s.name for s in PROVIDERS]
    assert len(names) == len(set(names))


def test_aliases_are_unique_and_never_a_canonical_id() -> None:
    aliases = [a for s in PROVIDERS for a in s.aliases]
    assert len(aliases) == len(set(aliases))
    assert not set(aliases) & {s.name for s in PROVIDERS}


def test_ids_and_aliases_are_lower_case_and_trimmed() -> None:
    # R1 lower-cases the name before the lookup: a mixed-case entry could never match.
    for _, name in all_names():
        assert name == name.strip().lower()


@pytest.mark.parametrize("info", list_providers(), ids=lambda p: p.name)
def test_every_row_is_complete(info: registry.ProviderInfo) -> None:
    assert info.display_name.strip()
    assert info.dialect
    spec = registry.get_spec(info.name)
    if spec.dialect == "cli":
        assert info.local
        return
    parts = urlsplit(info.base_url)
    assert parts.hostname
    # https unless the server runs beside the app (litellm: a loopback proxy, listed non-local).
    assert parts.scheme == "https" or info.local or registry._is_loopback(parts.hostname)
    assert not info.base_url.endswith("/")


@pytest.mark.parametrize(
    "name", ["ollama", "lmstudio", "llamacpp", "sglang", "vllm", "osaurus", "litellm"]
)
def test_local_servers_need_no_key(name: str) -> None:
    assert not registry.get_spec(name).key_required


def test_list_providers_marks_the_not_yet_available_rows() -> None:
    info = {p.name: p for p in list_providers()}
    assert info["groq"].available
    assert info["openrouter"].available
    assert not info["openai-codex"].available
    # The command-line providers run the vendor's own program (construct/providers/cli.py).
    for name in ("claude-code", "gemini-cli", "kilocli"):
        assert info[name].available
    assert info["copilot"].available  # signed in with `construct auth login copilot`


# -- R1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        (" Groq ", "groq"),
        ("GROQ", "groq"),
        ("groq", "groq"),
        ("\tOpenRouter\n", "openrouter"),
        ("Grok", "xai"),
        ("  GROK  ", "xai"),
        ("Kimi-Intl", "moonshot"),
        ("LLAMA.CPP", "llamacpp"),
        ("Azure_OpenAI", "azure_openai"),
        ("DashScope-US", "qwen"),
    ],
)
def test_names_are_trimmed_and_case_insensitive(name: str, slug: str) -> None:
    assert resolve(name).spec.name == slug


def test_case_does_not_change_the_region() -> None:
    assert resolve("KIMI-INTL").base_url == MOONSHOT_INTL
    assert resolve(" Qwen-US ").base_url == QWEN_US


# -- R2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "name"), all_names())
def test_every_id_and_alias_resolves_to_its_row(slug: str, name: str) -> None:
    resolved = resolve(name)
    assert resolved.spec.name == slug
    assert not resolved.custom


@pytest.mark.parametrize(("name", "slug"), REGIONAL_ALIASES.items())
def test_regional_aliases_resolve(name: str, slug: str) -> None:
    assert resolve(name).spec.name == slug


@pytest.mark.parametrize(
    ("name", "slug", "url"),
    [
        # Region from the exact alias.
        ("moonshot", "moonshot", MOONSHOT_CN),
        ("kimi", "moonshot", MOONSHOT_CN),
        ("moonshot-cn", "moonshot", MOONSHOT_CN),
        ("kimi-cn", "moonshot", MOONSHOT_CN),
        ("kimi-intl", "moonshot", MOONSHOT_INTL),
        ("kimi-global", "moonshot", MOONSHOT_INTL),
        ("moonshot-intl", "moonshot", MOONSHOT_INTL),
        ("moonshot-global", "moonshot", MOONSHOT_INTL),
        ("qwen", "qwen", QWEN_CN),
        ("dashscope", "qwen", QWEN_CN),
        ("qwen-cn", "qwen", QWEN_CN),
        ("qwen-intl", "qwen", QWEN_INTL),
        ("dashscope-intl", "qwen", QWEN_INTL),
        ("qwen-international", "qwen", QWEN_INTL),
        ("qwen-us", "qwen", QWEN_US),
        ("dashscope-us", "qwen", QWEN_US),
        ("zai", "zai", ZAI_GLOBAL),
        ("z.ai", "zai", ZAI_GLOBAL),
        ("zai-global", "zai", ZAI_GLOBAL),
        ("zai-cn", "zai", ZAI_CN),
        ("z.ai-cn", "zai", ZAI_CN),
        ("glm", "glm", GLM_GLOBAL),
        ("zhipu", "glm", GLM_GLOBAL),
        ("glm-global", "glm", GLM_GLOBAL),
        ("glm-cn", "glm", GLM_CN),
        ("zhipu-cn", "glm", GLM_CN),
        ("bigmodel", "glm", GLM_CN),
        ("minimax", "minimax", MINIMAX_INTL),
        ("minimax-io", "minimax", MINIMAX_INTL),
        ("minimax-global", "minimax", MINIMAX_INTL),
        ("minimax-oauth", "minimax", MINIMAX_INTL),
        ("minimaxi", "minimax", MINIMAX_CN),
        ("minimax-cn", "minimax", MINIMAX_CN),
        ("minimax-oauth-cn", "minimax", MINIMAX_CN),
        ("minimax-portal-cn", "minimax", MINIMAX_CN),
        # Region from the suffix of a family name that is no alias.
        ("moonshot-v1-intl", "moonshot", MOONSHOT_INTL),
        ("moonshot-anything", "moonshot", MOONSHOT_CN),
        ("kimi-xyz-global", "moonshot", MOONSHOT_INTL),
        ("kimi-k2-international", "moonshot", MOONSHOT_INTL),
        ("kimi-k2-china", "moonshot", MOONSHOT_CN),
        ("qwen-foo-cn", "qwen", QWEN_CN),
        ("qwen-max-us", "qwen", QWEN_US),
        ("qwen-max-intl", "qwen", QWEN_INTL),
        ("dashscope-anything", "qwen", QWEN_CN),
        ("dashscope-x-global", "qwen", QWEN_INTL),
        ("glm-bar-china", "glm", GLM_CN),
        ("glm-4-plus", "glm", GLM_GLOBAL),
        ("zhipu-x-cn", "glm", GLM_CN),
        ("bigmodel-x", "glm", GLM_CN),
        ("minimax-x-io", "minimax", MINIMAX_INTL),
        ("minimax-x-cn", "minimax", MINIMAX_CN),
        ("minimax-m2", "minimax", MINIMAX_INTL),
        ("minimaxi-m2", "minimax", MINIMAX_CN),
        ("zai-x-cn", "zai", ZAI_CN),
        ("zai-anything", "zai", ZAI_GLOBAL),
        ("z.ai-x-china", "zai", ZAI_CN),
        ("qianfan-x", "qianfan", QIANFAN),
        ("baidu-x", "qianfan", QIANFAN),
        ("doubao-x", "doubao", DOUBAO),
        ("volcengine-x", "doubao", DOUBAO),
        ("ark-x", "doubao", DOUBAO),
        ("Doubao-Seed-1.6", "doubao", DOUBAO),
    ],
)
def test_family_and_region(name: str, slug: str, url: str) -> None:
    resolved = resolve(name)
    assert resolved.spec.name == slug
    assert resolved.base_url == url


@pytest.mark.parametrize("name", ["moonshot-v1-intl", "kimi-xyz-global", "qwen-foo-cn"])
def test_family_names_keep_the_rows_key_env(name: str) -> None:
    resolved = resolve(name)
    assert resolved.key_env == resolved.spec.key_env


def test_kimi_code_is_not_caught_by_the_kimi_family() -> None:
    assert resolve("kimi-code").spec.name == "kimi-code"
    assert resolve("KIMI-CODE").spec.name == "kimi-code"
    assert resolve("kimi_coding").spec.name == "kimi-code"
    assert resolve("kimi_for_coding").spec.name == "kimi-code"


@pytest.mark.parametrize("name", ["kimi-code-x", "kimi-code2", "kimi_code", "kimi-coding"])
def test_kimi_code_lookalikes_are_not_sent_to_moonshot(name: str) -> None:
    # A Kimi Code key must not go to the Moonshot endpoint under MOONSHOT_API_KEY.
    with pytest.raises(UnknownProvider) as info:
        resolve(name)
    assert "kimi-code" in str(info.value)


def test_exact_alias_beats_a_family_prefix() -> None:
    # `minimax-cn` is an alias (China) and also starts with the `minimax` family.
    assert resolve("minimax-cn").base_url == MINIMAX_CN
    # `kimi-code` is a row of its own, though `kimi` is a family.
    assert resolve("kimi-code").base_url == "https://api.kimi.com/coding/v1"


def test_longest_family_prefix_wins() -> None:
    # `minimaxi` (China) is longer than `minimax` (international).
    assert resolve("minimaxi-abab").base_url == MINIMAX_CN


def test_qwen_code_uses_its_own_key_env_and_user_agent() -> None:
    resolved = resolve("qwen-code")
    assert resolved.spec.name == "qwen"
    assert resolved.key_env[0] == "QWEN_OAUTH_TOKEN"
    assert ("User-Agent", "QwenCode/1.0") in resolved.headers


@pytest.mark.parametrize(
    "name", ["groqcloud", "openai-gpt", "anthropic2", "deepseek-chat", "mistralai", "kim"]
)
def test_only_the_named_families_are_prefixes(name: str) -> None:
    with pytest.raises(UnknownProvider):
        resolve(name)


# -- custom: and anthropic-custom: (R2, R4) ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug", "url"),
    [
        ("custom:https://llm.example.test/v1", "custom", "https://llm.example.test/v1"),
        ("custom:https://llm.example.test/v1/", "custom", "https://llm.example.test/v1"),
        ("  custom:  https://llm.example.test/v1//  ", "custom", "https://llm.example.test/v1"),
        ("CUSTOM:https://LLM.example.test/V1", "custom", "https://LLM.example.test/V1"),
        ("custom:http://localhost:8080/v1", "custom", "http://localhost:8080/v1"),
        (
            "anthropic-custom:https://claude.example.test/",
            "anthropic-custom",
            "https://claude.example.test",
        ),
        (
            "Anthropic-Custom:https://claude.example.test",
            "anthropic-custom",
            "https://claude.example.test",
        ),
    ],
)
def test_custom_urls(name: str, slug: str, url: str) -> None:
    resolved = resolve(name)
    assert resolved.custom
    assert resolved.spec.name == slug
    assert resolved.base_url == url


def test_custom_is_checked_before_families() -> None:
    # `custom:` URL parsing must not be shadowed by a family whose prefix it shares.
    assert resolve("custom:https://kimi.example.test").spec.name == "custom"


def test_custom_uses_only_the_generic_key_env() -> None:
    assert key_env_vars(resolve("custom:https://llm.example.test")) == (GENERIC_KEY_ENV,)


@pytest.mark.parametrize("prefix", ["custom:", "anthropic-custom:"])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "requires a URL"),
        ("   ", "requires a URL"),
        ("not a url", "http:// or https://"),
        ("llm.example.test/v1", "http:// or https://"),
        ("ftp://llm.example.test/v1", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://", "host"),
        ("http:///v1", "host"),
        ("https://user:hunter2secret@llm.example.test/v1", "credentials"),
        ("https://tokenonly@llm.example.test/v1", "credentials"),
    ],
)
def test_custom_url_validation(prefix: str, url: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(prefix + url)
    message = str(info.value)
    assert says in message
    if says != "credentials":
        assert f"{prefix}https://your-api.com" in message
    assert "hunter2secret" not in message
    assert "tokenonly" not in message


@pytest.mark.parametrize("prefix", ["custom:", "anthropic-custom:"])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://h.example.test:99999/v1", "port"),
        ("http://h.example.test:abc/v1", "port"),
        ("http://h.example.test:0/v1", "port"),
        ("http://h.example.test/v1\r\nX-Injected: 1", "control character '\\r'"),
        ("http://h.example.test/v1\nx", "control character '\\n'"),
        ("http://h.example\x00.test/v1", "control character '\\x00'"),
        ("http://h.example.test/v1\tx", "control character '\\t'"),
        ("http://h example.test/v1", "a space"),
        ("http://h.example.test/my models/v1", "a space"),
        ("http://a..b/v1", "empty label"),
        ("http://.a.example.test/v1", "empty label"),
        ("http://" + "a" * 64 + ".example.test/v1", "longer than 63"),
        ("http://" + "abc." * 70 + "test/v1", "longer than 253"),
        ("http://h{X}.example.test/v1", "letters, digits"),
        ("http://\u2603.example.test/v1", "internationalised"),
        ("http://[::zz]/v1", "valid URL"),
        ("https://h.example.test/" + "v" * 70_000, "longer than 65536"),
    ],
)
def test_url_that_would_fail_at_the_first_call_is_refused_at_resolve(
    prefix: str, url: str, says: str
) -> None:
    # Each of these used to resolve, then fail inside httpx or the socket layer with a raw
    # InvalidURL, UnicodeError or ExceptionGroup at the first call.
    with pytest.raises(ConfigError) as info:
        resolve(prefix + url)
    message = str(info.value)
    assert says in message
    assert f"{prefix}https://your-api.com" in message
    assert len(message) < 400


@pytest.mark.parametrize(
    "url",
    [
        "https://llm.example.test:8443/v1",
        "https://llm.example.test./v1",
        "http://my_service:8000/v1",
        "https://b\u00fccher.example.test/v1",
        "http://[::1]:65535/v1",
        "https://llm.example.test/v1?api-version=1",
    ],
)
def test_unusual_but_valid_urls_still_resolve(url: str) -> None:
    assert resolve(f"custom:{url}").base_url == url.rstrip("/")


def test_api_url_is_held_to_the_same_rules() -> None:
    with pytest.raises(ConfigError, match=r"api_url URL .* port"):
        apply_api_url(resolve("groq"), "https://llm.example.test:70000/v1")


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("custm:https://alice:hunter2secret@llm.example.test/v1", "alice:***@"),
        ("custom-https://alice:hunter2secret@llm.example.test", "alice:***@"),
        ("cutsom:https://hunter2secret@llm.example.test/v1", "//***@"),
    ],
)
def test_mistyped_url_never_shows_its_userinfo(name: str, kept: str) -> None:
    with pytest.raises(UnknownProvider) as info:
        resolve(name)
    for text in (str(info.value), repr(info.value), info.value.name):
        assert "hunter2secret" not in text
        # The host stays, to say which entry it was; the userinfo is masked where the name
        # is kept (`.name`) and redacted whole where the message is scrubbed.
        assert "llm.example.test" in text
        assert kept in text or "[REDACTED]@" in text


def test_huge_unknown_name_is_cut_in_the_message_and_answered_fast() -> None:
    import time

    name = "x" * 10_000_000
    started = time.perf_counter()
    with pytest.raises(UnknownProvider) as info:
        resolve(name)
    assert time.perf_counter() - started < 2
    assert len(str(info.value)) < 1000
    assert len(info.value.name) < 200


@pytest.mark.parametrize(
    "name",
    ["groqq", "opnai", "x", "nope-123", "claude-sonnet", "azure_openai", "kimi", "q:w/e.r-t_y"],
)
def test_suggestions_are_those_of_difflib(name: str) -> None:
    # `_closest_names` prunes by an upper bound to be fast; the answer must not change.
    import difflib

    names = [s.name for s in PROVIDERS] + list(registry._BY_ALIAS)
    expected = difflib.get_close_matches(name, names, n=3, cutoff=0.0)
    assert list(registry._closest_names(name)) == expected


def test_long_name_is_scrubbed_before_it_is_cut() -> None:
    # The key starts inside the part shown and ends after the cut: cutting first would
    # leave its head, which no pattern recognises once it is too short.
    key = "sk-proj-" + "Q" * 200
    with pytest.raises(UnknownProvider) as info:
        resolve("z" * 89 + "/" + key)
    assert "sk-pr" not in str(info.value)
    assert "QQQ" not in str(info.value)


def test_plain_http_to_a_remote_host_warns_once(
    fresh_warnings: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="construct"):
        resolved = resolve("custom:http://10.1.2.3:8000/v1")
        resolve("custom:http://10.1.2.3:8000/v1/")
        resolve("CUSTOM:http://10.1.2.3:8000/other")
    assert resolved.base_url == "http://10.1.2.3:8000/v1"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "http://10.1.2.3:8000" in text
    assert "unencrypted" in text


def test_each_remote_origin_warns(fresh_warnings: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="construct"):
        resolve("custom:http://llm-a.example.test/v1")
        resolve("anthropic-custom:http://llm-b.example.test")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:1234/v1",
        "http://LOCALHOST:1234/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.0.0.2/v1",
        "http://[::1]:8000/v1",
        "http://api.localhost/v1",
        "https://llm.example.test/v1",
    ],
)
def test_loopback_and_https_do_not_warn(
    url: str, fresh_warnings: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="construct"):
        resolved = resolve(f"custom:{url}")
    assert resolved.custom
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- R3 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "close"),
    [
        ("groqq", "groq"),
        ("opnai", "openai"),
        ("antropic", "anthropic"),
        ("deepsek", "deepseek"),
        ("Mistrall", "mistral"),
    ],
)
def test_unknown_name_suggests_three_close_names_and_custom(name: str, close: str) -> None:
    with pytest.raises(UnknownProvider) as info:
        resolve(name)
    err = info.value
    assert isinstance(err, ConfigError)
    assert len(err.suggestions) == 3
    assert close in err.suggestions
    message = str(err)
    for suggestion in err.suggestions:
        assert suggestion in message
    assert name.strip() in message
    assert "custom:https://" in message
    assert "anthropic-custom:https://" in message


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_empty_name_is_unknown(name: str) -> None:
    with pytest.raises(UnknownProvider) as info:
        resolve(name)
    message = str(info.value)
    assert "empty" in message
    assert "custom:https://" in message
    assert "anthropic-custom:https://" in message
    # No dangling "Closest known names: ." for a name with nothing to compare.
    assert "names: ." not in message


@pytest.mark.parametrize("name", [None, 42, b"groq", ["groq"]])
def test_non_string_name_is_a_config_error(name: object) -> None:
    with pytest.raises(ConfigError, match="string"):
        resolve(name)  # type: ignore[arg-type]


def test_unknown_name_that_looks_like_a_key_is_scrubbed() -> None:
    key = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0F"
    with pytest.raises(UnknownProvider) as info:
        resolve(key)
    assert key not in str(info.value)
    assert key not in repr(info.value)
    assert key not in info.value.name


# -- K1: which env vars, in which order ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "order"),
    [
        ("groq", ("GROQ_API_KEY", GENERIC_KEY_ENV)),
        ("doubao", ("ARK_API_KEY", "VOLCENGINE_API_KEY", "DOUBAO_API_KEY", GENERIC_KEY_ENV)),
        ("ark-x", ("ARK_API_KEY", "VOLCENGINE_API_KEY", "DOUBAO_API_KEY", GENERIC_KEY_ENV)),
        ("kimi-code", ("KIMI_CODE_API_KEY", "MOONSHOT_API_KEY", GENERIC_KEY_ENV)),
        ("kimi-intl", ("MOONSHOT_API_KEY", GENERIC_KEY_ENV)),
        ("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY", GENERIC_KEY_ENV)),
        ("anthropic", ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY", GENERIC_KEY_ENV)),
        ("bailian", ("BAILIAN_API_KEY", "DASHSCOPE_API_KEY", GENERIC_KEY_ENV)),
        ("openrouter", ("OPENROUTER_API_KEY", GENERIC_KEY_ENV)),
        ("bedrock", ("BEDROCK_API_KEY", "AWS_BEARER_TOKEN_BEDROCK")),
        ("aws-bedrock", ("BEDROCK_API_KEY", "AWS_BEARER_TOKEN_BEDROCK")),
    ],
)
def test_key_env_order(name: str, order: tuple[str, ...]) -> None:
    assert key_env_vars(resolve(name)) == order


@pytest.mark.parametrize(("slug", "name"), all_names())
def test_bare_api_key_is_never_a_key_env(slug: str, name: str) -> None:
    assert "API_KEY" not in key_env_vars(resolve(name))


def test_bedrock_never_uses_the_generic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GENERIC_KEY_ENV not in key_env_vars(resolve("bedrock"))
    monkeypatch.setenv(GENERIC_KEY_ENV, "generic-key-1234567890")
    assert key_from_env(resolve("bedrock")) is None
    monkeypatch.setenv("BEDROCK_API_KEY", "bedrock-key-1234567890")
    assert key_from_env(resolve("bedrock")) == ("BEDROCK_API_KEY", "bedrock-key-1234567890")


def test_gemini_env_order(monkeypatch: pytest.MonkeyPatch) -> None:
    gemini = resolve("google")
    monkeypatch.setenv(GENERIC_KEY_ENV, "generic-key-1234567890")
    assert key_from_env(gemini) == (GENERIC_KEY_ENV, "generic-key-1234567890")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-1234567890")
    assert key_from_env(gemini) == ("GOOGLE_API_KEY", "google-key-1234567890")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-1234567890")
    assert key_from_env(gemini) == ("GEMINI_API_KEY", "gemini-key-1234567890")


def test_key_from_env_trims_and_skips_blank_values() -> None:
    doubao = resolve("doubao")
    env = {"ARK_API_KEY": "   ", "VOLCENGINE_API_KEY": "\t", "DOUBAO_API_KEY": " db-key-123 "}
    assert key_from_env(doubao, env) == ("DOUBAO_API_KEY", "db-key-123")
    assert key_from_env(doubao, {"API_KEY": "bare-key-1234567890"}) is None
    assert key_from_env(doubao, {}) is None


def test_a_region_suffix_beats_the_region_a_family_prefix_implies():
    # R2: the suffix decides; the prefix's own region is only the default.
    assert resolve("minimaxi-intl").base_url == "https://api.minimax.io/v1"
    assert resolve("bigmodel-global").base_url == "https://api.z.ai/api/paas/v4"
    assert resolve("bigmodel-x").base_url == "https://open.bigmodel.cn/api/paas/v4"
