"""`RouterProvider`: each model goes to the provider that serves it (PROVIDERS.md T1-T4).

`hint:NAME` picks the route whose hint is exactly NAME; any other model goes to
the route with the longest hint that prefixes it (`claude-` catches
`claude-sonnet-4`), else to the default provider with the model unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, ConstructError, InvalidRequest
from ..options import check_model
from ..providers.base import Provider
from ..secrets import Secret, mask, scrub_secret_patterns
from ..types import ChatRequest, ChatResponse, ModelEntry, ProviderCapabilities, StreamEvent

__all__ = ["Route", "RouterProvider"]

log = logging.getLogger("construct")

HINT = "hint:"


@dataclass(frozen=True, slots=True, repr=False)
class Route:
    """Requests for `hint` go to `provider`, as `model` (T1); `api_key` is that provider's
    key when the route gives one (T4).

    The one route type of the runtime. A `[[model_routes]]` table is validated as
    `construct.config.ModelRoute` (pydantic, which this module never imports) and
    becomes a Route through `Route.coerce`, as a dict does.
    """

    hint: str
    provider: str
    model: str | None = None
    api_key: str | Secret | None = None

    def __post_init__(self) -> None:
        # A blank key (often `${VAR:-}` with VAR unset) means none: K1 then reads the
        # provider's own variables.
        if isinstance(self.api_key, str) and not self.api_key.strip():
            object.__setattr__(self, "api_key", None)

    @classmethod
    def coerce(cls, value: Route | Mapping[str, Any] | Any) -> Route:
        """A Route from a Route, a dict, or any object with the same fields (a ModelRoute)."""
        if isinstance(value, Route):
            return value
        if isinstance(value, Mapping):
            hint, provider = str(value["hint"]), str(value["provider"])
            return cls(hint, provider, value.get("model"), value.get("api_key"))
        hint = getattr(value, "hint", None)
        if hint is not None:
            model, key = getattr(value, "model", None), getattr(value, "api_key", None)
            return cls(hint, value.provider, model, key)
        raise ConfigError(f"a route needs hint, provider and optional model; got {value!r}")

    def __repr__(self) -> str:
        key = self.api_key
        shown = key if key is None or isinstance(key, Secret) else mask(str(key))  # K4
        return (
            f"Route(hint={self.hint!r}, provider={self.provider!r}, model={self.model!r}, "
            f"api_key={shown!r})"
        )


class RouterProvider(Provider):
    """Dispatches each call to a provider by model-name hint."""

    def __init__(
        self,
        providers: Sequence[tuple[str, Provider]],
        routes: Sequence[Route | Mapping[str, Any] | Any],
        default_index: int = 0,
    ) -> None:
        if not providers:
            raise ConfigError("RouterProvider needs at least one (name, provider) pair")
        self._providers = {str(name): provider for name, provider in providers}
        names = list(self._providers)
        if not 0 <= default_index < len(names):
            raise ConfigError(f"default_index {default_index} is out of range")
        self._default_name = names[default_index]
        self._default = self._providers[self._default_name]
        self._routes: dict[str, Route] = {}
        for raw in routes:
            route = Route.coerce(raw)
            if not route.hint.strip():
                raise ConfigError("a route's hint cannot be blank")
            if route.provider not in self._providers:
                raise ConfigError(
                    f"route {route.hint!r} names provider {route.provider!r}, which is not among "
                    f"the router's providers ({', '.join(names)})"
                )
            self._routes[route.hint] = route
        # Longest first, so the first prefix that matches is the longest (T2).
        self._by_length = sorted(self._routes.values(), key=lambda r: len(r.hint), reverse=True)
        self.name = self._default.name
        self.display_name = self._default.display_name
        self.base_url = self._default.base_url
        self.default_model = self._default.default_model
        self.default_temperature = self._default.default_temperature

    @property
    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def provider(self, name: str) -> Provider:
        return self._providers[name]

    def resolve(self, model: str | None) -> tuple[str, Provider, str | None, Route | None]:
        """(provider name, provider, model to send, matching route) for a requested model."""
        model = check_model(model)
        if model is not None and model.startswith(HINT):
            name = model[len(HINT) :]
            route = self._routes.get(name)
            if route is None:
                known = ", ".join(sorted(self._routes)) or "(none configured)"
                raise InvalidRequest(
                    f"Unknown route hint {name!r}: known hints are {known}. Add a "
                    "[[model_routes]] entry with this hint, or ask for a model by name.",
                    provider=self.name,
                )
            return route.provider, self._providers[route.provider], route.model, route
        if model is not None:
            for route in self._by_length:
                if model.startswith(route.hint):
                    return (
                        route.provider,
                        self._providers[route.provider],
                        route.model or model,
                        route,
                    )
        return self._default_name, self._default, model, None

    def capabilities(self) -> ProviderCapabilities:
        return self._default.capabilities()

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        _, provider, chosen, _ = self.resolve(model)
        return provider.chat(request, chosen, temperature)

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        _, provider, chosen, _ = self.resolve(model)
        return await provider.achat(request, chosen, temperature)

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        _, provider, chosen, _ = self.resolve(model)
        return provider.stream(request, chosen, temperature)

    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        _, provider, chosen, _ = self.resolve(model)
        return provider.astream(request, chosen, temperature)

    def list_models(self) -> list[ModelEntry]:
        return self._default.list_models()

    async def alist_models(self) -> list[ModelEntry]:
        return await self._default.alist_models()

    def warmup(self) -> None:
        for name, provider in self._providers.items():
            try:
                provider.warmup()
            except ConstructError as exc:
                log.warning("warmup of %s failed: %s", scrub_secret_patterns(name), exc)

    async def awarmup(self) -> None:
        for name, provider in self._providers.items():
            try:
                await provider.awarmup()
            except ConstructError as exc:
                log.warning("warmup of %s failed: %s", scrub_secret_patterns(name), exc)

    def close(self) -> None:
        for provider in self._providers.values():
            provider.close()

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()

    def __repr__(self) -> str:
        hints = ", ".join(f"{r.hint}->{r.provider}" for r in self._by_length)
        return f"<RouterProvider default={self._default_name} routes=[{hints}]>"
