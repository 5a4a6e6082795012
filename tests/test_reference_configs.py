"""The config snippets of the zeroclaw reference docs load as written (F1).

Each snippet is written verbatim to a file, loaded with `load_config`, checked value by
value, and turned into a provider with `create_provider_from_config` (no network: building
a provider sends nothing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from construct.config import Config, load_config
from construct.errors import ConfigError
from construct.factory import create_provider_from_config

FALLBACKS_AND_MODEL_CHAINS = """\
default_provider = "openai"
default_model = "gpt-4o"

[reliability]
fallback_providers = ["anthropic", "ollama"]

[reliability.model_fallbacks]
"gpt-4o" = ["gpt-4-turbo"]
"claude-opus-4-20250514" = ["claude-sonnet-4-20250514"]
"""

KEY_ROTATION = """\
api_key = "sk-primary"  # Primary key (always tried first)

[reliability]
api_keys = ["sk-backup-1", "sk-backup-2"]  # Fallback keys for rate-limit rotation
"""

MODEL_ROUTES = """\
[[model_routes]]
hint = "reasoning"
provider = "openrouter"
model = "anthropic/claude-opus-4-20250514"

[[model_routes]]
hint = "fast"
provider = "groq"
model = "llama-3.3-70b-versatile"
"""

FULL_EXAMPLE = """\
default_provider = "openai"
default_model = "gpt-4o"
api_key = "sk-openai-primary"

[reliability]
fallback_providers = ["anthropic", "groq", "openrouter"]
api_keys = ["sk-openai-backup-1", "sk-openai-backup-2"]

[reliability.model_fallbacks]
"gpt-4o" = ["gpt-4-turbo", "gpt-3.5-turbo"]
"gpt-4-turbo" = ["gpt-3.5-turbo"]
"""

LOCAL_FIRST = """\
default_provider = "ollama"
default_model = "llama2:70b"
api_url = "http://localhost:11434"

[reliability]
fallback_providers = ["openrouter", "groq"]
"""

INLINE_MODEL_FALLBACKS = """\
default_provider = "anthropic"
default_model = "claude-opus-4-20250514"

[reliability]
model_fallbacks = { "claude-opus-4-20250514" = ["claude-sonnet-4-20250514"] }
"""

CUSTOM = 'default_provider = "custom:https://your-api.example.com"\n'
ANTHROPIC_CUSTOM = 'default_provider = "anthropic-custom:https://your-api.example.com"\n'

MULTI_REGION = """\
# Primary US region
default_provider = "anthropic"
default_model = "claude-sonnet-4-20250514"

[reliability]
# Fall back to EU region provider if US Anthropic is down
fallback_providers = ["bedrock"]  # AWS Bedrock in multiple regions
provider_retries = 3
provider_backoff_ms = 1000
"""

SECRETS = {
    "key rotation": ["sk-primary", "sk-backup-1", "sk-backup-2"],
    "full example": ["sk-openai-primary", "sk-openai-backup-1", "sk-openai-backup-2"],
}


@pytest.fixture
def load(tmp_path: Path):
    def load(snippet: str) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(snippet, encoding="utf-8")
        # environ={}: the snippet alone decides, whatever the test machine has set.
        return load_config(path, environ={})

    return load


def test_fallback_providers_and_model_chains(load) -> None:
    config = load(FALLBACKS_AND_MODEL_CHAINS)
    assert config.default_provider == "openai"
    assert config.default_model == "gpt-4o"
    assert config.api_key is None
    assert config.reliability.fallback_providers == ["anthropic", "ollama"]
    assert config.reliability.model_fallbacks == {
        "gpt-4o": ["gpt-4-turbo"],
        "claude-opus-4-20250514": ["claude-sonnet-4-20250514"],
    }
    # Unset reliability keys keep their defaults.
    assert config.reliability.provider_retries == 2
    assert config.reliability.provider_backoff_ms == 500
    assert config.model_routes == []
    assert create_provider_from_config(config).name == "openai"


def test_key_rotation(load) -> None:
    config = load(KEY_ROTATION)
    assert config.api_key == "sk-primary"
    assert config.reliability.api_keys == ["sk-backup-1", "sk-backup-2"]
    assert config.default_provider is None
    assert config.reliability.fallback_providers == []


def test_key_rotation_snippet_without_a_provider_meets_the_key_prefix_check(load) -> None:
    # The snippet names no provider, so the default (OpenRouter) is built, and an `sk-` key
    # looks like OpenAI's: K3 refuses to send it to OpenRouter, with the key masked.
    config = load(KEY_ROTATION)
    with pytest.raises(ConfigError, match="prefix mismatch") as caught:
        create_provider_from_config(config)
    assert "sk-primary" not in str(caught.value)
    assert "openrouter" in str(caught.value)
    # Beside a provider whose keys those are, it builds.
    assert create_provider_from_config(config.model_copy(update={"default_provider": "openai"}))


def test_model_routes(load) -> None:
    config = load(MODEL_ROUTES)
    routes = [(r.hint, r.provider, r.model, r.api_key) for r in config.model_routes]
    assert routes == [
        ("reasoning", "openrouter", "anthropic/claude-opus-4-20250514", None),
        ("fast", "groq", "llama-3.3-70b-versatile", None),
    ]
    assert config.default_provider is None
    # No default_provider: the default one, OpenRouter.
    assert create_provider_from_config(config).name == "openrouter"


def test_full_example(load) -> None:
    config = load(FULL_EXAMPLE)
    assert config.default_provider == "openai"
    assert config.default_model == "gpt-4o"
    assert config.api_key == "sk-openai-primary"
    assert config.reliability.fallback_providers == ["anthropic", "groq", "openrouter"]
    assert config.reliability.api_keys == ["sk-openai-backup-1", "sk-openai-backup-2"]
    assert config.reliability.model_fallbacks == {
        "gpt-4o": ["gpt-4-turbo", "gpt-3.5-turbo"],
        "gpt-4-turbo": ["gpt-3.5-turbo"],
    }
    provider = create_provider_from_config(config)
    assert provider.name == "openai"
    assert provider.default_model == "gpt-4o"
    # The config builds the reliable chain: primary first, then the fallbacks in order.
    chain = provider.providers
    assert [name for name, _ in chain] == ["openai", "anthropic", "groq", "openrouter"]
    primary = chain[0][1]
    assert primary.key_source == "explicit"
    # L1: fallbacks never get the primary's explicit key.
    assert all(p.key_source != "explicit" for _, p in chain[1:])
    assert "sk-openai-primary" not in repr(provider) + repr(primary)


def test_local_first_with_cloud_fallbacks(load) -> None:
    config = load(LOCAL_FIRST)
    assert config.default_provider == "ollama"
    assert config.default_model == "llama2:70b"
    assert config.api_url == "http://localhost:11434"
    assert config.reliability.fallback_providers == ["openrouter", "groq"]
    provider = create_provider_from_config(config)
    assert provider.name == "ollama"
    assert provider.base_url == "http://localhost:11434"


def test_inline_table_model_fallbacks(load) -> None:
    config = load(INLINE_MODEL_FALLBACKS)
    assert config.default_provider == "anthropic"
    assert config.default_model == "claude-opus-4-20250514"
    assert config.reliability.model_fallbacks == {
        "claude-opus-4-20250514": ["claude-sonnet-4-20250514"]
    }
    assert create_provider_from_config(config).name == "anthropic"


@pytest.mark.parametrize(
    ("snippet", "name", "url"),
    [
        (CUSTOM, "custom", "https://your-api.example.com"),
        (ANTHROPIC_CUSTOM, "anthropic-custom", "https://your-api.example.com"),
    ],
)
def test_custom_endpoints(load, snippet: str, name: str, url: str) -> None:
    config = load(snippet)
    assert config.default_provider == f"{name}:{url}"
    provider = create_provider_from_config(config)
    assert provider.name == name
    assert provider.base_url == url


def test_multi_region_fallback(load) -> None:
    config = load(MULTI_REGION)
    assert config.default_provider == "anthropic"
    assert config.default_model == "claude-sonnet-4-20250514"
    assert config.reliability.fallback_providers == ["bedrock"]
    assert config.reliability.provider_retries == 3
    assert config.reliability.provider_backoff_ms == 1000
    assert config.reliability.model_fallbacks == {}
    assert create_provider_from_config(config).name == "anthropic"


@pytest.mark.parametrize(
    ("snippet", "secrets"),
    [(KEY_ROTATION, SECRETS["key rotation"]), (FULL_EXAMPLE, SECRETS["full example"])],
    ids=list(SECRETS),
)
def test_keys_never_show_in_repr_or_str(load, snippet: str, secrets: list[str]) -> None:
    config = load(snippet)
    shown = [repr(config), str(config), repr(config.reliability), str(config.reliability)]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    # The values are there, for the code that sends them.
    dumped = config.model_dump()
    assert [dumped["api_key"], *dumped["reliability"]["api_keys"]] == secrets
