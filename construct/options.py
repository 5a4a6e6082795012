"""`ProviderRuntimeOptions`: what configures one provider beyond its name and key.

It sits at the bottom of the package (it imports only `errors` and `secrets`),
so the factory, the dialects and the providers can all read it without an
import looking up the layers.

Every field is checked when the options are built: a wrong value is an
`InvalidArgument` naming the field, not a failure inside the first call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import InvalidArgument
from .secrets import Secret, is_credential_header, mask

__all__ = [
    "APIS",
    "MAX_TIMEOUT_S",
    "TEMPERATURE_RANGE",
    "ProviderRuntimeOptions",
    "check_model",
    "check_temperature",
    "header_problem",
]

# Every API construct speaks takes a sampling temperature between these.
TEMPERATURE_RANGE = (0.0, 2.0)
# The longest timeout or wait construct accepts: a day. Anything longer is a unit mistake
# (milliseconds for seconds), and 1e10 or inf makes a sync call raise OverflowError when the
# deadline is computed.
MAX_TIMEOUT_S = 86_400
# The OpenAI APIs an OpenAI-shaped row can be told to speak (`api=`).
APIS = ("chat", "responses")
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
# RFC 9110 §5.1: a header name is a token; a value is visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _check_number(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _is_number(value) or not 0 < value <= MAX_TIMEOUT_S:  # type: ignore[operator]
        raise InvalidArgument(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT_S} "
            f"(a day), got {_cut(repr(value))}"
        )


def _cut(text: str, limit: int = 80) -> str:
    # A 10 MB value must not come back in full in a message.
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True, slots=True)
class ProviderRuntimeOptions:
    """Per-provider settings beyond name and key (reference §5, plus construct's own)."""

    provider_api_url: str | None = None
    provider_timeout_secs: float | None = None
    connect_timeout_secs: float = 10.0
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    api_path: str | None = None
    provider_max_tokens: int | None = None
    reasoning_effort: str | None = None
    reasoning_enabled: bool | None = None
    merge_system_into_user: bool = False
    auth_profile_override: str | None = None
    default_model: str | None = None
    default_temperature: float | None = None
    # "httpx" (default) or "aiohttp" for async calls (construct-llm[aiohttp]).
    http_transport: str = "httpx"
    # Which OpenAI API an OpenAI-shaped row speaks: "chat" (chat completions) or
    # "responses" (the Responses API); None keeps the row's own.
    api: str | None = None
    # A stream's longest wait for its next event once it has started (None: the
    # provider timeout), and a cap on its whole length (None: none).
    stream_idle_timeout_secs: float | None = None
    stream_max_secs: float | None = None
    # The most a response body (decompressed) and one stream event may hold.
    max_response_mb: float = 64
    max_event_mb: float = 16
    # The command-line providers (claude-code, gemini-cli, kilocli) run their tool as an
    # agent: its tools on, its permission prompts skipped (reference §8.6). Off: a plain
    # completion, the tool's tools off where it has a switch for it.
    cli_agent_mode: bool = False

    def __post_init__(self) -> None:
        if self.http_transport not in ("httpx", "aiohttp"):
            shown = _cut(repr(self.http_transport))
            raise InvalidArgument(f"http_transport must be 'httpx' or 'aiohttp', got {shown}")
        if self.api is not None and self.api not in APIS:
            raise InvalidArgument(
                f"api must be one of {', '.join(map(repr, APIS))}, got {_cut(repr(self.api))}"
            )
        if type(self.cli_agent_mode) is not bool:
            raise InvalidArgument(
                f"cli_agent_mode must be True or False, got {_cut(repr(self.cli_agent_mode))}"
            )
        _check_number("provider_timeout_secs", self.provider_timeout_secs, optional=True)
        _check_number("connect_timeout_secs", self.connect_timeout_secs)
        _check_number("stream_idle_timeout_secs", self.stream_idle_timeout_secs, optional=True)
        _check_number("stream_max_secs", self.stream_max_secs, optional=True)
        for name in ("max_response_mb", "max_event_mb"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value <= 4096:
                raise InvalidArgument(
                    f"{name} must be a number of MiB above 0 and at most 4096, "
                    f"got {_cut(repr(value))}"
                )
        tokens = self.provider_max_tokens
        if tokens is not None and (type(tokens) is not int or tokens <= 0):
            raise InvalidArgument(
                f"provider_max_tokens must be a positive integer, got {_cut(repr(tokens))}"
            )
        url = self.provider_api_url
        if url is not None and not isinstance(url, str):
            raise InvalidArgument(f"provider_api_url must be a string, got {type(url).__name__}")
        # The URL itself is checked where the provider is built (registry.validate_base_url);
        # credentials in it are refused now, before any repr could print them.
        if url is not None and "@" in url.partition("://")[2].partition("/")[0]:
            raise InvalidArgument(
                "provider_api_url must not carry credentials (user:password@); pass the key "
                "as api_key instead"
            )
        effort = self.reasoning_effort
        if effort is not None and (
            not isinstance(effort, str) or effort.strip().lower() not in _REASONING_EFFORTS
        ):
            raise InvalidArgument(
                f"reasoning_effort must be one of {', '.join(_REASONING_EFFORTS)}, "
                f"got {_cut(repr(effort))}"
            )
        if self.default_model is not None:
            check_model(self.default_model)
        if self.default_temperature is not None:
            check_temperature(self.default_temperature)
        if not isinstance(self.extra_headers, Mapping):
            raise InvalidArgument("extra_headers must be a mapping of header name to value")
        for name, value in self.extra_headers.items():
            problem = header_problem(name, value)
            if problem is not None:
                raise InvalidArgument(f"extra_headers: {problem}")
            if is_credential_header(name) and value.strip():
                # Registered, so a server that echoes it back cannot leak it into a message.
                Secret(value)
        # A copy: headers added to the caller's dict later would skip the checks above.
        object.__setattr__(self, "extra_headers", dict(self.extra_headers))

    def __repr__(self) -> str:
        # docs/config.md: a credential header is masked wherever the options are shown.
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra_headers":
                value = {k: mask(v) if is_credential_header(k) else v for k, v in value.items()}
            shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def coerce(cls, options: ProviderRuntimeOptions | Mapping[str, Any] | None):
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if not isinstance(options, Mapping):
            raise InvalidArgument(
                "provider options must be a ProviderRuntimeOptions or a mapping, "
                f"got {type(options).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in set(options) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown provider option(s): {_cut(', '.join(unknown), 200)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**options)


def header_problem(name: object, value: object) -> str | None:
    """What keeps one extra header from being sent, or None. The value is never quoted: the
    header may carry a key."""
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        return f"{_cut(repr(name))} is not a valid HTTP header name"
    # httpx sends header values as ASCII; anything else fails only at the first call.
    if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
        return f"the value of {_cut(repr(name))} must be printable ASCII text without line breaks"
    return None


def check_model(value: object) -> str | None:
    """`value` as a model name (trimmed; None when blank or not given), or an
    `InvalidArgument`: a number or a dict is a caller's mistake, not a model."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(
            f"model must be a string naming the model, got {type(value).__name__}"
        )
    return value.strip() or None


def check_temperature(value: object) -> float:
    """`value` as a temperature, or an `InvalidArgument` saying the range (the one place it is
    checked). `InvalidArgument` is a `ConfigError` and also a `ValueError` and a `TypeError`."""
    low, high = TEMPERATURE_RANGE
    if not _is_number(value) or not low <= value <= high:  # type: ignore[operator]
        raise InvalidArgument(
            f"temperature {_cut(repr(value))} is out of range (expected a number from 0 to 2)"
        )
    return float(value)  # type: ignore[arg-type]
