"""`RouterProvider`: hints, longest prefixes, the default provider (PROVIDERS.md T1-T3)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from construct.config import ModelRoute
from construct.errors import ConfigError, InvalidRequest
from construct.resilience import Route, RouterProvider
from construct.secrets import Secret
from construct.types import ProviderCapabilities

from .test_reliable_unit import REQ, FakeProvider, Stream

DEFAULT_CAPS = ProviderCapabilities(native_tool_calling=True, streaming=True)


@pytest.fixture
def calls() -> list[tuple[str, str | None, str | None]]:
    return []


@pytest.fixture
def router(calls) -> RouterProvider:
    providers = [
        FakeProvider("openrouter", ["ok"] * 3, calls=calls, caps=DEFAULT_CAPS, default_model="dm"),
        FakeProvider("anthropic", ["ok"] * 3, calls=calls),
        FakeProvider("groq", ["ok"] * 3, calls=calls, caps=ProviderCapabilities(vision=True)),
    ]
    routes = [
        Route("claude-", "anthropic"),  # a Route
        {"hint": "claude-3-", "provider": "groq", "model": "llama-3"},  # a dict
        ModelRoute(hint="fast", provider="groq", model="llama-3.1-8b"),  # a config.ModelRoute
        {"hint": "reason", "provider": "anthropic", "model": "claude-opus", "api_key": "x"},
    ]
    return RouterProvider([(p.name, p) for p in providers], routes)


def resolved(router: RouterProvider, model: str | None) -> tuple[str, str | None]:
    name, provider, chosen, _ = router.resolve(model)
    assert provider is router.provider(name)
    return name, chosen


def test_hint_selects_the_route_whose_hint_is_exactly_the_name(router):
    name, _, model, route = router.resolve("hint:fast")
    assert (name, model) == ("groq", "llama-3.1-8b")
    assert route == Route("fast", "groq", "llama-3.1-8b")
    assert resolved(router, "hint:reason") == ("anthropic", "claude-opus")


def test_a_hint_that_is_also_a_prefix_matches_exactly(router):
    # `hint:claude-` is the route; a route without a model leaves the model to the provider.
    assert resolved(router, "hint:claude-") == ("anthropic", None)
    assert resolved(router, "hint:claude-3-") == ("groq", "llama-3")


@pytest.mark.parametrize("model", ["hint:nope", "hint:", "hint:FAST", "hint:fastx"])
def test_an_unknown_hint_is_an_invalid_request_listing_the_known_hints(router, model):
    with pytest.raises(InvalidRequest) as info:
        router.resolve(model)
    message = str(info.value)
    assert f"Unknown route hint {model[5:]!r}" in message
    assert "known hints are claude-, claude-3-, fast, reason" in message


def test_an_unknown_hint_is_never_sent(router, calls):
    with pytest.raises(InvalidRequest):
        router.chat(REQ, "hint:nope")
    assert calls == []


def test_unknown_hint_without_routes_says_none_are_configured():
    router = RouterProvider([("a", FakeProvider("a"))], [])
    with pytest.raises(InvalidRequest, match=r"known hints are \(none configured\)"):
        router.resolve("hint:fast")


def test_longest_prefix_wins(router):
    assert resolved(router, "claude-sonnet-4") == ("anthropic", "claude-sonnet-4")
    assert resolved(router, "claude-3-opus") == ("groq", "llama-3")  # T3: model replaced


def test_route_order_does_not_decide_the_prefix():
    a, b = FakeProvider("a"), FakeProvider("b")
    for routes in (
        [Route("claude-3-", "b"), Route("claude-", "a")],
        [Route("claude-", "a"), Route("claude-3-", "b")],
    ):
        router = RouterProvider([("a", a), ("b", b)], routes)
        assert resolved(router, "claude-3-haiku") == ("b", "claude-3-haiku")


def test_no_match_goes_to_the_default_with_the_model_unchanged(router):
    assert resolved(router, "gpt-4o") == ("openrouter", "gpt-4o")
    assert resolved(router, "claude") == ("openrouter", "claude")  # not a prefix of it
    assert resolved(router, None) == ("openrouter", None)
    assert resolved(router, "  ") == ("openrouter", None)
    _, _, _, route = router.resolve("gpt-4o")
    assert route is None


def test_the_hint_prefix_is_case_sensitive(router):
    assert resolved(router, "HINT:fast") == ("openrouter", "HINT:fast")


def test_the_default_can_be_another_provider():
    a, b = FakeProvider("a"), FakeProvider("b")
    router = RouterProvider([("a", a), ("b", b)], [], default_index=1)
    assert resolved(router, "m") == ("b", "m")
    assert router.name == "b"


@pytest.mark.parametrize("mode", ["chat", "achat", "stream", "astream"])
def test_every_call_resolves_then_delegates(router, calls, mode):
    if mode == "chat":
        assert router.chat(REQ, "claude-3-haiku").text == "ok"
    elif mode == "achat":
        assert asyncio.run(router.achat(REQ, "claude-3-haiku")).text == "ok"
    elif mode == "stream":
        assert [e.type for e in router.stream(REQ, "claude-3-haiku")] == ["text_delta", "final"]
    else:

        async def run():
            return [e.type async for e in router.astream(REQ, "claude-3-haiku")]

        assert asyncio.run(run()) == ["text_delta", "final"]
    assert calls == [("groq", "llama-3", None)]


def test_streams_of_a_hint_go_to_its_provider(calls):
    a = FakeProvider("a", calls=calls)
    b = FakeProvider("b", [Stream(("x", "y"))], calls=calls)
    router = RouterProvider([("a", a), ("b", b)], [Route("fast", "b", "small")])
    events = list(router.stream(REQ, "hint:fast"))
    assert events[-1].response.text == "xy"
    assert calls == [("b", "small", None)]


def test_capabilities_and_identity_are_the_defaults(router):
    assert router.capabilities() == DEFAULT_CAPS
    assert router.supports_native_tools() is True
    assert router.supports_vision() is False  # groq's vision is not the default's
    assert (router.name, router.display_name, router.default_model) == (
        "openrouter",
        "OPENROUTER",
        "dm",
    )


def test_routes_and_repr(router):
    # The repr lists routes longest first: the order prefixes are tried in.
    assert [r.hint for r in router.routes] == ["claude-", "claude-3-", "fast", "reason"]
    assert repr(router) == (
        "<RouterProvider default=openrouter routes=[claude-3-->groq, claude-->anthropic, "
        "reason->anthropic, fast->groq]>"
    )


def test_a_later_route_with_the_same_hint_replaces_the_earlier():
    a, b = FakeProvider("a"), FakeProvider("b")
    router = RouterProvider([("a", a), ("b", b)], [Route("x", "a"), Route("x", "b", "m2")])
    assert resolved(router, "hint:x") == ("b", "m2")


def test_a_route_to_an_unknown_provider_is_a_config_error():
    with pytest.raises(ConfigError, match=r"route 'fast' names provider 'nosuch'.*\(a\)"):
        RouterProvider([("a", FakeProvider("a"))], [Route("fast", "nosuch")])


@pytest.mark.parametrize(
    ("routes", "match"),
    [
        ([Route("  ", "a")], "hint cannot be blank"),
        ([42], "a route needs hint, provider"),
    ],
)
def test_malformed_routes_are_config_errors(routes, match):
    with pytest.raises(ConfigError, match=match):
        RouterProvider([("a", FakeProvider("a"))], routes)


ROUTE_KEY = "gsk_route_key_0000111122223333"


@pytest.mark.parametrize(
    "value",
    [
        Route("fast", "groq", "llama", ROUTE_KEY),
        {"hint": "fast", "provider": "groq", "model": "llama", "api_key": ROUTE_KEY},
        ModelRoute(hint="fast", provider="groq", model="llama", api_key=ROUTE_KEY),
    ],
    ids=["route", "dict", "model-route"],
)
def test_coerce_keeps_every_field_of_every_route_shape(value):
    assert Route.coerce(value) == Route("fast", "groq", "llama", ROUTE_KEY)


def test_a_route_has_the_fields_of_a_model_routes_table():
    # One idea, one shape: the runtime Route and the config schema cannot drift apart.
    assert list(ModelRoute.model_fields) == [f.name for f in dataclasses.fields(Route)]


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_route_key_is_no_key(blank):
    assert Route("fast", "groq", api_key=blank).api_key is None
    assert Route.coerce({"hint": "fast", "provider": "groq", "api_key": blank}).api_key is None


def test_a_route_repr_masks_its_key():
    for key in (ROUTE_KEY, Secret(ROUTE_KEY)):
        shown = repr(Route("fast", "groq", None, key))
        assert ROUTE_KEY not in shown
        assert "gsk…3333" in shown
    assert repr(Route("fast", "groq")) == (
        "Route(hint='fast', provider='groq', model=None, api_key=None)"
    )


def test_providers_are_required_and_the_default_must_exist():
    with pytest.raises(ConfigError, match="at least one"):
        RouterProvider([], [])
    with pytest.raises(ConfigError, match="out of range"):
        RouterProvider([("a", FakeProvider("a"))], [], default_index=1)


def test_warmup_and_close_reach_every_provider():
    done: list[str] = []
    providers = []
    for name in ("a", "b"):
        p = FakeProvider(name)
        p.warmup = lambda name=name: done.append(f"warm {name}")  # type: ignore[method-assign]
        p.close = lambda name=name: done.append(f"close {name}")  # type: ignore[method-assign]
        providers.append((name, p))
    router = RouterProvider(providers, [])
    router.warmup()
    router.close()
    assert done == ["warm a", "warm b", "close a", "close b"]
