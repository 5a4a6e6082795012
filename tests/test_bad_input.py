"""Bad values are refused where they enter construct, with a `ConstructError` naming them.

Each case here used to be accepted and to fail later, deep inside a dialect, the JSON
encoder or httpx, with an error that is not a `ConstructError` (or to reach the server
unchecked). Nothing here reaches the network: respx mocks every exchange.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ConfigError,
    ConstructError,
    InvalidRequest,
    ProviderRuntimeOptions,
    create_provider_with_options,
)
from construct.errors import InvalidArgument
from construct.options import MAX_TIMEOUT_S, check_temperature
from construct.secrets import scrub_secret_patterns

REQ = ChatRequest([ChatMessage.user("hi")])
GATEWAY_CHAT = "https://gw.example.test/v1/chat/completions"


def test_invalid_argument_is_caught_by_every_usual_except() -> None:
    err = InvalidArgument("bad")
    assert isinstance(err, ConstructError)
    assert isinstance(err, ConfigError)
    assert isinstance(err, TypeError)
    assert isinstance(err, ValueError)


def test_invalid_argument_message_is_scrubbed() -> None:
    assert "sk-proj-abcdefghijkl" not in str(InvalidArgument("got sk-proj-abcdefghijkl"))


# -- ProviderRuntimeOptions ------------------------------------------------------------


@pytest.mark.parametrize("field", ["provider_timeout_secs", "connect_timeout_secs"])
@pytest.mark.parametrize("value", [1e10, math.inf, math.nan, -1, 0, MAX_TIMEOUT_S + 1, "30"])
def test_timeouts_are_bounded_by_a_day(field: str, value: Any) -> None:
    # 1e10 and inf were accepted; a sync call then raised OverflowError.
    with pytest.raises(InvalidArgument, match=f"{field} must be .* at most 86400") as info:
        ProviderRuntimeOptions(**{field: value})
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("field", ["provider_timeout_secs", "connect_timeout_secs"])
def test_a_day_is_still_a_valid_timeout(field: str) -> None:
    assert getattr(ProviderRuntimeOptions(**{field: MAX_TIMEOUT_S}), field) == MAX_TIMEOUT_S


SECRET_HEADER = "gw-token-7Hq2Lm9Xv4Rz"


def test_repr_masks_credential_headers() -> None:
    options = ProviderRuntimeOptions(
        extra_headers={"X-Gateway-Token": SECRET_HEADER, "X-Title": "My App"}
    )
    shown = repr(options)
    assert SECRET_HEADER not in shown
    assert "'X-Title': 'My App'" in shown
    assert "'X-Gateway-Token': 'gw-…Xv4Rz'"[:20] in shown
    assert shown.startswith("ProviderRuntimeOptions(provider_api_url=None, ")
    assert SECRET_HEADER not in str(options)


def test_options_built_from_config_mask_credential_headers(tmp_path: Any) -> None:
    from construct.config import load_config
    from construct.factory import options_from_config

    path = tmp_path / "config.toml"
    path.write_text('[extra_headers]\n"X-Api-Key" = "cfg-key-Zx81Qw73Lp"\n"X-Title" = "t"\n')
    options = options_from_config(load_config(path, environ={}))
    assert options.extra_headers["X-Api-Key"] == "cfg-key-Zx81Qw73Lp"
    assert "cfg-key-Zx81Qw73Lp" not in repr(options)
    assert "'X-Title': 't'" in repr(options)


def test_credential_header_from_code_is_registered_as_a_secret() -> None:
    value = "gw-echo-Pq8Wn3Ks5Tb1"
    assert scrub_secret_patterns(f"echo {value}") == f"echo {value}"
    ProviderRuntimeOptions(extra_headers={"X-Gateway-Token": value})
    assert value not in scrub_secret_patterns(f"echo {value}")


@respx.mock
def test_server_echoing_a_credential_header_cannot_leak_it() -> None:
    value = "gw-echo-Hd4Jq7Vc2Nx6"
    respx.post(GATEWAY_CHAT).mock(
        return_value=httpx.Response(400, json={"error": {"message": f"bad token {value}"}})
    )
    options = {"extra_headers": {"X-Gateway-Token": value}}
    provider = create_provider_with_options("custom:https://gw.example.test/v1", "k", options)
    with pytest.raises(InvalidRequest) as info:
        provider.chat(REQ, model="m")
    assert value not in str(info.value)
    assert value not in (info.value.body or "")


def test_headers_are_copied_so_later_changes_skip_no_check() -> None:
    headers = {"X-Title": "ok"}
    options = ProviderRuntimeOptions(extra_headers=headers)
    headers["X Bad"] = "\n"
    assert dict(options.extra_headers) == {"X-Title": "ok"}


@pytest.mark.parametrize(
    "url", ["https://alice:hunter2secret@gw.example.test/v1", "https://hunter2secret@gw.x/v1"]
)
def test_api_url_with_credentials_is_refused_by_the_options(url: str) -> None:
    with pytest.raises(InvalidArgument, match="must not carry credentials") as info:
        ProviderRuntimeOptions(provider_api_url=url)
    assert "hunter2secret" not in str(info.value)


def test_coerce_names_unknown_options_whatever_their_type() -> None:
    with pytest.raises(InvalidArgument, match="unknown provider option"):
        ProviderRuntimeOptions.coerce({1: "x", "y": 2})  # type: ignore[dict-item]


def test_huge_values_are_cut_in_option_messages() -> None:
    with pytest.raises(InvalidArgument) as info:
        ProviderRuntimeOptions(reasoning_effort="x" * 10_000_000)
    assert len(str(info.value)) < 300
    with pytest.raises(InvalidArgument) as info:
        ProviderRuntimeOptions(extra_headers={"y" * 10_000_000 + " ": "v"})
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("value", [math.nan, math.inf, "hot", "0.5", True, None, 2.5, -0.1])
def test_check_temperature_raises_a_construct_value_error(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="temperature") as info:
        check_temperature(value)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
