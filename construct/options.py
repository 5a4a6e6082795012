"""`ProviderRuntimeOptions`: what configures one provider beyond its name and key.

It sits at the bottom of the package (it imports only `errors`), so the
factory, the dialects and the providers can all read it without an import
looking up the layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError

__all__ = ["TEMPERATURE_RANGE", "ProviderRuntimeOptions", "check_temperature"]

# Every API construct speaks takes a sampling temperature between these.
TEMPERATURE_RANGE = (0.0, 2.0)
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
# RFC 9110 §5.1: a header name is a token; a value is visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _check_number(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


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
    # A stream's longest wait for its next event once it has started (None: the
    # provider timeout), and a cap on its whole length (None: none).
    stream_idle_timeout_secs: float | None = None
    stream_max_secs: float | None = None
    # The most a response body (decompressed) and one stream event may hold.
    max_response_mb: float = 64
    max_event_mb: float = 16

    def __post_init__(self) -> None:
        if self.http_transport not in ("httpx", "aiohttp"):
            raise ConfigError(
                f"http_transport must be 'httpx' or 'aiohttp', got {self.http_transport!r}"
            )
        _check_number("provider_timeout_secs", self.provider_timeout_secs, optional=True)
        _check_number("connect_timeout_secs", self.connect_timeout_secs)
        _check_number("stream_idle_timeout_secs", self.stream_idle_timeout_secs, optional=True)
        _check_number("stream_max_secs", self.stream_max_secs, optional=True)
        for name in ("max_response_mb", "max_event_mb"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value <= 4096:
                raise ConfigError(
                    f"{name} must be a number of MiB above 0 and at most 4096, got {value!r}"
                )
        tokens = self.provider_max_tokens
        if tokens is not None and (type(tokens) is not int or tokens <= 0):
            raise ConfigError(f"provider_max_tokens must be a positive integer, got {tokens!r}")
        if self.provider_api_url is not None and not isinstance(self.provider_api_url, str):
            raise ConfigError(
                f"provider_api_url must be a string, got {type(self.provider_api_url).__name__}"
            )
        effort = self.reasoning_effort
        if effort is not None and (
            not isinstance(effort, str) or effort.strip().lower() not in _REASONING_EFFORTS
        ):
            raise ConfigError(
                f"reasoning_effort must be one of {', '.join(_REASONING_EFFORTS)}, got {effort!r}"
            )
        if self.default_temperature is not None:
            check_temperature(self.default_temperature)
        if not isinstance(self.extra_headers, Mapping):
            raise ConfigError("extra_headers must be a mapping of header name to value")
        for name, value in self.extra_headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise ConfigError(f"extra_headers: {name!r} is not a valid HTTP header name")
            # httpx sends header values as ASCII; anything else fails only at the first call.
            if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
                raise ConfigError(
                    f"extra_headers: the value of {name!r} must be printable ASCII text "
                    "without line breaks"
                )

    @classmethod
    def coerce(cls, options: ProviderRuntimeOptions | Mapping[str, Any] | None):
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if not isinstance(options, Mapping):
            raise ConfigError(
                "provider options must be a ProviderRuntimeOptions or a mapping, "
                f"got {type(options).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown provider option(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**options)


def check_temperature(value: object) -> float:
    """`value` as a temperature, or a ConfigError saying the range (the one place it is checked)."""
    low, high = TEMPERATURE_RANGE
    if not _is_number(value) or not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"temperature {value!r} is out of range (expected 0..2)")
    return float(value)  # type: ignore[arg-type]
