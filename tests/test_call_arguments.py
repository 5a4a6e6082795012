"""Values passed to a call are checked where the call enters, on every provider kind."""

from __future__ import annotations

import math

import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ConstructError,
    InvalidArgument,
    create_provider,
    create_routed_provider,
)

HELLO = ChatRequest((ChatMessage.user("hello"),))
URL = "custom:http://127.0.0.1:9/v1"


def _providers():
    return {
        "plain": create_provider(URL, "k-test-1234"),
        "routed": create_routed_provider(URL, "k-test-1234", None, {}, [], "m"),
    }


@pytest.mark.parametrize("kind", ["plain", "routed"])
@pytest.mark.parametrize("model", [123, {"name": "m"}, ["m"]])
def test_a_model_that_is_not_a_string_is_refused_before_sending(kind, model):
    provider = _providers()[kind]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=".*").respond(200, json={})
        with pytest.raises(InvalidArgument, match="model must be a string"):
            provider.chat(HELLO, model)
        with pytest.raises(ConstructError):
            list(provider.stream(HELLO, model))
    assert not route.called


@pytest.mark.parametrize("kind", ["plain", "routed"])
@pytest.mark.parametrize("temperature", [math.nan, math.inf, "hot", -0.5, 2.5])
def test_a_temperature_out_of_range_never_reaches_the_server(kind, temperature):
    provider = _providers()[kind]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=".*").respond(200, json={})
        with pytest.raises(InvalidArgument, match="temperature"):
            provider.chat(HELLO, "m", temperature)
    assert not route.called
    # Also the built-in errors a caller may already catch.
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, TypeError)
