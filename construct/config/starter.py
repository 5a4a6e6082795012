"""The commented starter `config.toml` that `construct config init` writes.

Every key comes with a comment that says what it changes; `[reliability]` shows the
defaults of `ReliabilityConfig`. The file loads as written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .schema import ReliabilityConfig

__all__ = ["write_starter_config"]

_STARTER_HEAD = """\
# construct configuration. Every key is optional.
# Any string value may be ${VAR} or ${VAR:-default}. A .env file beside this file is
# read first; variables already in the environment win over it.
# Check this file with `construct config check`.
"""
# (key, value, commented out, comment); comments say what a key changes.
_STARTER_TOP: tuple[tuple[str, Any, bool, str], ...] = (
    (
        "default_provider",
        "openrouter",
        False,
        "Provider used when a call names none: a name from `construct providers list`,\n"
        "or custom:https://host/v1 for any OpenAI-compatible server.",
    ),
    ("default_model", "anthropic/claude-sonnet-4", False, "Model used when a call names none."),
    (
        "api_key",
        "${OPENROUTER_API_KEY}",
        True,
        "Key for default_provider. Without this line the provider's own variable\n"
        "(OPENROUTER_API_KEY here) is read, then CONSTRUCT_API_KEY. Uncommented,\n"
        "loading fails while the variable it names is unset.",
    ),
    (
        "api_url",
        "https://gateway.example.com/v1",
        True,
        "Replaces the base URL of default_provider (a proxy, a gateway, your own server).",
    ),
    (
        "default_temperature",
        0.7,
        True,
        "Sampling temperature, 0 to 2. Unset: none is sent, the model's default applies.",
    ),
    ("provider_timeout_secs", 120, False, "Seconds one attempt may take."),
    ("provider_max_tokens", 4096, True, "Cap on the tokens of each answer."),
)
_STARTER_TABLES = """\
# Headers sent with every request:
# [extra_headers]
# X-Title = "my-app"
"""
_STARTER_RELIABILITY: tuple[tuple[str, bool, str], ...] = (
    ("provider_retries", False, "Retries per provider before moving on to the next one."),
    (
        "provider_backoff_ms",
        False,
        "First wait between retries in ms; it doubles each time, up to 10 s.",
    ),
    ("backoff_jitter", False, "Up to this share of each wait is cut at random (0: none)."),
    (
        "fallback_providers",
        False,
        'Providers tried in order when default_provider fails, e.g. ["groq", "deepseek"].\n'
        "Each reads its own key from its own variable.",
    ),
    (
        "api_keys",
        False,
        "More keys for default_provider, rotated when one is rate limited.",
    ),
    (
        "max_retry_after_s",
        False,
        "A Retry-After longer than this is not waited for: the next key, provider or\n"
        "model is tried at once.",
    ),
    ("circuit_breaker_threshold", False, "Failures in a row that pause a provider..."),
    ("circuit_breaker_cooldown_s", False, "...for this many seconds."),
)
_STARTER_TAIL = """\
# Budget in seconds for a whole call, retries and fallbacks included:
# total_timeout_s = 300

# Models tried in order when a model fails:
# [reliability.model_fallbacks]
# "anthropic/claude-sonnet-4" = ["anthropic/claude-3.5-sonnet", "openai/gpt-4o"]

# Routes: model "hint:reasoning" (or any model starting with the hint) goes to this
# provider and model. Repeat the block for more routes.
# [[model_routes]]
# hint = "reasoning"
# provider = "openrouter"
# model = "anthropic/claude-opus-4"
"""


def _comment(text: str) -> str:
    return "".join(f"# {line}\n" for line in text.splitlines())


def _starter_text() -> str:
    import tomli_w

    def entry(key: str, value: Any, commented: bool, comment: str) -> str:
        line = tomli_w.dumps({key: value})
        return _comment(comment) + (f"# {line}" if commented else line)

    defaults = ReliabilityConfig().model_dump()
    parts = [_STARTER_HEAD]
    parts += [entry(*row) for row in _STARTER_TOP]
    parts.append(_STARTER_TABLES)
    parts.append(
        "[reliability]\n" + "".join(entry(k, defaults[k], c, t) for k, c, t in _STARTER_RELIABILITY)
    )
    parts.append(_STARTER_TAIL)
    return "\n".join(parts)


def write_starter_config(path: str | os.PathLike[str]) -> Path:
    """Write a commented starter `config.toml` at `path` (for `construct config init`).

    Refuses to overwrite: an existing file is a `ConfigError`. Parent directories are made.
    """
    target = Path(path).expanduser()
    text = _starter_text()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{target} already exists; pass a different path or delete it first"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
