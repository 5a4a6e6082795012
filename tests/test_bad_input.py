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
    ImagePart,
    InvalidRequest,
    ProviderRuntimeOptions,
    TextPart,
    ToolCall,
    ToolSpec,
    create_provider_with_options,
)
from construct.errors import InvalidArgument
from construct.options import MAX_TIMEOUT_S, check_model, check_temperature
from construct.secrets import scrub_secret_patterns
from construct.types import as_messages

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


# -- ChatMessage, ChatRequest, ToolSpec ---------------------------------------------------


def _user(text: str = "hi") -> ChatMessage:
    return ChatMessage.user(text)


def _bad(make: Any, *words: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        make()
    err = info.value
    assert isinstance(err, ConstructError)
    assert isinstance(err, TypeError)
    assert isinstance(err, ValueError)
    for word in words:
        assert word in str(err)
    return err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "got None"),
        (42, "got int"),
        ({"text": "hi"}, "got dict"),
        (b"hi", "got bytes"),
        ([{"type": "text", "text": "hi"}], "parts must be TextPart or ImagePart"),
        (("hi",), "parts must be TextPart or ImagePart"),
    ],
)
def test_message_content_is_checked_at_construction(content: Any, says: str) -> None:
    # Each was accepted, then failed inside a dialect or the JSON encoder at send time.
    _bad(lambda: ChatMessage("user", content), "content", says)


@pytest.mark.parametrize("role", [None, 1, ["user"], "User", ""])
def test_message_role_is_checked(role: Any) -> None:
    _bad(lambda: ChatMessage(role, "hi"), "role must be one of")


@pytest.mark.parametrize(
    "calls",
    [
        "call",
        [{"id": "1", "name": "f", "arguments": "{}"}],
        [ToolCall("1", "f", {"a": 1})],  # type: ignore[arg-type]
        [ToolCall("1", None, "{}")],  # type: ignore[arg-type]
    ],
)
def test_message_tool_calls_are_checked(calls: Any) -> None:
    _bad(lambda: ChatMessage("assistant", "", calls), "tool_calls")


def test_tool_call_id_must_be_text() -> None:
    _bad(lambda: ChatMessage("tool", "42", (), 7), "tool_call_id must be a string")  # type: ignore[arg-type]


def test_content_parts_are_checked() -> None:
    _bad(lambda: TextPart(None), "TextPart.text must be a string")  # type: ignore[arg-type]
    _bad(lambda: ImagePart(None), "ImagePart.url must be a string")  # type: ignore[arg-type]


def test_valid_messages_still_build() -> None:
    parts = [TextPart("look"), ImagePart("https://example.test/a.png")]
    message = ChatMessage("user", parts)
    assert message.content == tuple(parts)
    assert ChatMessage("assistant", "", [ToolCall("1", "f", "{}")]).tool_calls[0].name == "f"
    assert ChatMessage.tool("1", "done").tool_call_id == "1"


def test_assistant_takes_the_none_text_of_a_tool_call_reply() -> None:
    # ChatResponse.text is None when the model only called tools; passing it back is natural.
    call = ToolCall("1", "f", "{}")
    assert ChatMessage.assistant(None, [call]).content == ""


@pytest.mark.parametrize(
    ("tools", "says"),
    [
        (["f"], "tools must be ToolSpec values"),
        ([{"name": "f"}], "tools must be ToolSpec values"),
        ("f", "tools must be a list or tuple"),
        ({"name": "f"}, "tools must be a list or tuple"),
        (5, "tools must be a list or tuple"),
    ],
)
def test_request_tools_are_checked(tools: Any, says: str) -> None:
    _bad(lambda: ChatRequest((_user(),), tools=tools), says)


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ("hi", "messages must be a list or tuple"),
        ({"role": "user", "content": "hi"}, "messages must be a list or tuple"),
        (None, "messages must be a list or tuple"),
        ([{"role": "user", "content": "hi"}], "messages must be ChatMessage values"),
    ],
)
def test_request_messages_are_checked(messages: Any, says: str) -> None:
    _bad(lambda: ChatRequest(messages), says)


@pytest.mark.parametrize("tokens", [0, -1, 1.5, "100", True])
def test_request_max_tokens_is_checked(tokens: Any) -> None:
    _bad(lambda: ChatRequest((_user(),), max_tokens=tokens), "max_tokens")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"seed": object()}, "'seed': object is not a JSON value"),
        ({"top_p": math.nan}, "nan is not JSON"),
        ({"logit_bias": {"1": math.inf}}, "inf is not JSON"),
        ({"tags": [{1, 2}]}, "set is not a JSON value"),
        ({1: "x"}, "key 1 is not a string"),
        ({"meta": {2: "x"}}, "key 2 is not a string"),
        (["seed"], "extra must be a dict"),
        ("seed=1", "extra must be a dict"),
    ],
)
def test_request_extra_must_be_json(extra: Any, says: str) -> None:
    # A set or an object failed inside the JSON encoder at send time; NaN was sent as `NaN`,
    # which is not JSON.
    _bad(lambda: ChatRequest((_user(),), extra=extra), says)


def test_deeply_nested_extra_is_refused_without_a_recursion_error() -> None:
    deep: Any = 1
    for _ in range(10_000):
        deep = [deep]
    _bad(lambda: ChatRequest((_user(),), extra={"x": deep}), "nested more than 100")


def test_json_extra_still_builds() -> None:
    extra = {"top_p": 0.5, "stop": ["a"], "meta": {"k": None, "n": 1, "ok": True}, "t": (1, 2)}
    assert ChatRequest((_user(),), extra=extra).extra == extra


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: ToolSpec(""), "a tool needs a name"),
        (lambda: ToolSpec(None), "a tool needs a name"),  # type: ignore[arg-type]
        (lambda: ToolSpec("f", None), "description must be a string"),  # type: ignore[arg-type]
        (lambda: ToolSpec("f", "", "{}"), "parameters must be a JSON Schema object"),  # type: ignore[arg-type]
    ],
)
def test_tool_spec_is_checked(make: Any, says: str) -> None:
    _bad(make, says)


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([{"content": "hi"}], "message 0 has no role"),
        ([{"role": "user", "content": "hi"}, {"content": "x"}], "message 1 has no role"),
        ([{"role": "user", "content": 5}], "got int"),
        ([{"role": "assistant", "tool_calls": [{"id": "1", "nom": "f"}]}], "each tool call"),
        ([{"role": "assistant", "tool_calls": "f"}], "tool_calls must be a list"),
        ("hello", "messages must be a list"),
        ([42], "expected ChatMessage or dict, got int"),
    ],
)
def test_history_entries_are_checked(messages: Any, says: str) -> None:
    # A dict without a role was a raw KeyError from chat_with_history.
    _bad(lambda: as_messages(messages), says)


def test_history_dict_with_null_content_is_an_empty_message() -> None:
    (message,) = as_messages([{"role": "assistant", "content": None}])
    assert message.content == ""


# -- model and temperature at the provider's door -----------------------------------------


@pytest.mark.parametrize("model", [123, 1.5, {"id": "m"}, ["m"], b"m"])
def test_check_model_refuses_what_is_not_a_name(model: Any) -> None:
    _bad(lambda: check_model(model), "model must be a string")


def test_check_model_trims_and_treats_blank_as_unset() -> None:
    assert check_model("  gpt-4o ") == "gpt-4o"
    assert check_model("  ") is None
    assert check_model(None) is None


def test_default_model_option_is_checked() -> None:
    # It reached `.strip()` inside the first call as a raw AttributeError.
    _bad(lambda: ProviderRuntimeOptions(default_model=123), "model must be a string")  # type: ignore[arg-type]


def test_one_message_is_a_conversation_of_one() -> None:
    message = ChatMessage.user("hi")
    assert ChatRequest(message).messages == (message,)
    assert ChatRequest(message) == ChatRequest([message])


def test_a_string_for_messages_says_what_to_write() -> None:
    _bad(lambda: ChatRequest("hi"), "e.g. [ChatMessage.user('hi')]")
