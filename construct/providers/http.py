"""`HttpProvider`: a registry row + a dialect + a transport = a working provider.

Sync and async share every step but the send: `_request` builds, the dialect
parses, `_StreamRun` drives a stream; `chat` and `achat` differ in one `await`.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from ..errors import (
    AuthError,
    ConfigError,
    InvalidRequest,
    ProviderCapabilityError,
    ProviderError,
    StreamInterrupted,
    TransientError,
)
from ..registry import Resolved, key_env_vars
from ..secrets import Secret, mask
from ..transport import HttpRequest, HttpResponse, Transport, framer_for
from ..types import ChatRequest, ChatResponse, ModelEntry, ProviderCapabilities, StreamEvent
from .base import Provider

__all__ = ["HttpProvider", "UnavailableProvider"]

# Reference §2.6: a 400/422 with one of these means "this model takes no native
# tools"; the request is sent again with the tools described in the prompt.
_TOOLS_REFUSED = (
    r"(?i)unknown parameter: tools|unsupported parameter: tools|unrecognized field `tools`|"
    r"does not support tools|function calling is not supported|tool_choice|"
    r"tool use is not supported|tools are not supported"
)
_MODEL_MISSING = (
    r"(?i)model_not_found|does not exist|no such model|unknown model|model\b.{0,80}\bnot found"
)
# C6: models that dropped sampling parameters answer 400 naming the parameter.
_SAMPLING_REFUSED = (
    r"(?i)temperature.{0,40}(deprecated|not supported|unsupported|does not support)|"
    r"(unsupported|does not support).{0,40}temperature"
)


def _auth_headers(auth: str, key: Secret | None) -> dict[str, str]:
    if key is None:
        return {}
    value = key.reveal()
    if auth == "bearer":
        return {"Authorization": f"Bearer {value}"}
    if auth in ("x-api-key", "api-key", "x-goog-api-key"):
        return {auth: value}
    return {}


class _StreamRun:
    """The I/O-free half of streaming: lines in, events out, failures classified (L8)."""

    __slots__ = ("delivered", "framer", "held", "parser", "provider")

    def __init__(self, parser: Any, framer: Any, provider: HttpProvider) -> None:
        self.parser = parser
        self.framer = framer
        self.provider = provider
        self.delivered = False
        self.held: ProviderError | None = None

    def chunk(self, chunk: Any) -> list[StreamEvent]:
        """Events for one line (or byte chunk) of the response."""
        return self._payloads(self.framer.feed(chunk))

    def _payloads(self, payloads: list[Any]) -> list[StreamEvent]:
        if self.held is not None:
            raise self.held
        events: list[StreamEvent] = []
        for payload in payloads:
            try:
                events += self.parser.feed(payload)
            except ProviderError as exc:
                if not events:
                    raise
                # One chunk held events and then an error: deliver the events first,
                # raise on the next read (as StreamInterrupted, since output started).
                self.held = exc
                break
        if events:
            self.delivered = True
        return events

    def end(self) -> list[StreamEvent]:
        events = self._payloads(self.framer.flush())
        if not self.parser.complete:
            raise self.failed(
                TransientError(
                    f"{self.provider.display_name} stream ended before the response was "
                    "complete (no finish reason, no [DONE]). Retry the request.",
                    provider=self.provider.name,
                )
            )
        return events + self.parser.finish()

    def failed(self, exc: ProviderError) -> ProviderError:
        if not self.delivered:
            return exc
        return StreamInterrupted(
            f"{self.provider.display_name} stream broke after output had started: {exc.message}",
            provider=self.provider.name,
            status=exc.status,
            partial_text=self.parser.partial_text,
        )


class HttpProvider(Provider):
    """A provider reached over HTTP with one of construct's dialects."""

    def __init__(
        self,
        resolved: Resolved,
        dialect: Any,
        *,
        key: Secret | None,
        key_source: str | None,
        timeout_s: float,
        connect_timeout_s: float,
        headers: dict[str, str],
        problem: str | None = None,
        http_transport: str = "httpx",
    ) -> None:
        spec = resolved.spec
        # A configuration gap found at construction, reported on the first call (K2).
        self._problem = problem
        self.spec = spec
        self.name = spec.name
        self.display_name = spec.display_name
        self.base_url = resolved.base_url
        self.key_source = key_source
        self._key = key
        self._resolved = resolved
        self._dialect = dialect
        self._guided_dialect: Any = None
        self._responses_dialect: Any = None
        transport_cls: type[Transport] = Transport
        if http_transport == "aiohttp":
            from ..transport.aiohttp import AiohttpTransport

            transport_cls = AiohttpTransport
        self._transport = transport_cls(
            provider=spec.name,
            display_name=spec.display_name,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            headers=headers,
            key_env=key_env_vars(resolved),
            connect_hint=getattr(dialect, "connect_hint", None),
        )

    def __repr__(self) -> str:
        key = mask(self._key.reveal()) if self._key else None
        return f"<HttpProvider {self.name} {self.base_url} key={key}>"

    def capabilities(self) -> ProviderCapabilities:
        s = self.spec
        return ProviderCapabilities(s.native_tools, s.vision, s.prompt_caching, s.streaming)

    @property
    def key(self) -> Secret | None:
        return self._key

    def with_key(self, key: Secret | str) -> HttpProvider:
        """The same provider with another key, sharing this one's connection pool (L4)."""
        clone = copy.copy(self)
        clone._key = key if isinstance(key, Secret) else Secret(key)
        clone.key_source = "rotation"
        return clone

    # -- building --------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self._problem:
            raise ConfigError(self._problem)
        if self._key is None and self.spec.key_required:
            env = " or ".join(key_env_vars(self._resolved))
            raise AuthError(
                f"No API key for {self.display_name}: set {env}, or pass api_key= / set "
                "api_key in config.toml.",
                provider=self.name,
            )
        # Built per call, not kept: a dict holding the raw key would show it in vars().
        auth_headers = getattr(self._dialect, "auth_headers", None)
        if auth_headers is not None:
            return auth_headers(self._key.reveal() if self._key else None)
        return _auth_headers(self.spec.auth, self._key)

    def _request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        dialect: Any = None,
    ) -> HttpRequest:
        if not isinstance(request, ChatRequest):
            raise TypeError(f"request must be a ChatRequest, got {type(request).__name__}")
        req = (dialect or self._dialect).chat_request(
            request, model, temperature, stream, self._headers()
        )
        return self._signed(req)

    def _signed(self, req: HttpRequest) -> HttpRequest:
        """Dialects whose auth covers the request itself (SigV4) sign it last."""
        sign = getattr(self._dialect, "sign", None)
        if sign is not None:
            sign(req, self._key.reveal() if self._key else None)
        return req

    def _model(self, model: str | None) -> str:
        model = (model or self.default_model or "").strip()
        if not model:
            raise InvalidRequest(
                f"No model given for {self.display_name}: pass model=, or set default_model "
                "in config.toml.",
                provider=self.name,
            )
        return model

    def _temperature(self, temperature: float | None) -> float | None:
        return self.default_temperature if temperature is None else temperature

    def _parse(self, response: HttpResponse, model: str, dialect: Any = None) -> ChatResponse:
        try:
            data = response.json()
        except ValueError as exc:
            raise self._transport.invalid_body(f"not JSON ({exc})", response.content) from None
        return (dialect or self._dialect).parse_chat(data, model)

    def _retry_plan(
        self, exc: InvalidRequest, request: ChatRequest, temperature: float | None
    ) -> tuple[Any, float | None] | None:
        """A second, different attempt after a 400 that names what the model refused."""
        body = exc.body or exc.message
        guided = getattr(self._dialect, "settings", None)
        if (
            request.tools
            and self.spec.native_tools
            and hasattr(guided, "native_tools")
            and re.search(_TOOLS_REFUSED, body)
        ):
            if self._guided_dialect is None:
                settings = replace(self._dialect.settings, native_tools=False)
                self._guided_dialect = type(self._dialect)(settings)
            return self._guided_dialect, temperature
        if temperature is not None and re.search(_SAMPLING_REFUSED, body):
            return self._dialect, None
        # Reference §2.6: a 404 from chat completions on a server that only speaks the
        # Responses API. Not when the 404 says the model is unknown: that is the answer.
        if (
            exc.status == 404
            and getattr(guided, "responses_fallback", False)
            and not re.search(_MODEL_MISSING, body)
        ):
            return self._responses(), temperature
        # Ollama: models without a thinking mode refuse `think` (reference §8.5).
        without = getattr(self._dialect, "without_thinking", None)
        if without is not None and re.search(r"(?i)does not support thinking", body):
            again = without()
            if again is not None:
                return again, temperature
        return None

    def _responses(self) -> Any:
        """The Responses dialect beside this provider's chat endpoint, built on first need."""
        if self._responses_dialect is None:
            from ..dialects.openai_responses import (
                OpenAIResponses,
                ResponsesSettings,
                models_url,
                responses_url,
            )

            s = self._dialect.settings
            self._responses_dialect = OpenAIResponses(
                ResponsesSettings(
                    provider=s.provider,
                    display_name=s.display_name,
                    url=responses_url(s.url),
                    models_url=models_url(s.url),
                    native_tools=s.native_tools,
                    default_max_tokens=s.default_max_tokens,
                    reasoning_effort=s.reasoning_effort,
                )
            )
        return self._responses_dialect

    def _second_failure(self, first: InvalidRequest, second: ProviderError, dialect: Any):
        if dialect is not self._responses_dialect:
            return second
        return type(first)(
            f"{first.message} (chat completions unavailable; responses fallback failed: "
            f"{second.message})",
            provider=self.name,
            status=first.status,
            body=first.body,
        )

    def _adopt(self, dialect: Any, response: ChatResponse) -> ChatResponse:
        if dialect is self._responses_dialect:
            # This server speaks Responses only: later calls, streams included, go there.
            self._dialect = dialect
        return response

    # -- chat --------------------------------------------------------------------

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        model, temperature = self._model(model), self._temperature(temperature)
        req = self._request(request, model, temperature, False)
        try:
            return self._parse(self._transport.send(req), model)
        except InvalidRequest as exc:
            plan = self._retry_plan(exc, request, temperature)
            if plan is None:
                raise
            dialect, temp = plan
            req = self._request(request, model, temp, False, dialect)
            try:
                response = self._parse(self._transport.send(req), model, dialect)
            except ProviderError as second:
                raise self._second_failure(exc, second, dialect) from second
            return self._adopt(dialect, response)

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        model, temperature = self._model(model), self._temperature(temperature)
        req = self._request(request, model, temperature, False)
        try:
            return self._parse(await self._transport.asend(req), model)
        except InvalidRequest as exc:
            plan = self._retry_plan(exc, request, temperature)
            if plan is None:
                raise
            dialect, temp = plan
            req = self._request(request, model, temp, False, dialect)
            try:
                response = self._parse(await self._transport.asend(req), model, dialect)
            except ProviderError as second:
                raise self._second_failure(exc, second, dialect) from second
            return self._adopt(dialect, response)

    # -- streaming ---------------------------------------------------------------

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        # Built eagerly so a missing key or model fails at the call, not at first next().
        model = self._model(model)
        req = self._request(request, model, self._temperature(temperature), True)
        return self._stream(req, self._run(request, model))

    def _run(self, request: ChatRequest, model: str) -> _StreamRun:
        d = self._dialect
        framer = d.new_framer() if hasattr(d, "new_framer") else framer_for(d.framing)
        return _StreamRun(d.stream_parser(request, model), framer, self)

    def _stream(self, req: HttpRequest, run: _StreamRun) -> Iterator[StreamEvent]:
        try:
            with self._transport.stream_chunks(req) as chunks:
                for chunk in chunks:
                    yield from run.chunk(chunk)
            yield from run.end()
        except ProviderError as exc:
            failure = run.failed(exc)
            if failure is exc:
                raise
            raise failure from exc

    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        model = self._model(model)
        req = self._request(request, model, self._temperature(temperature), True)
        return self._astream(req, self._run(request, model))

    async def _astream(self, req: HttpRequest, run: _StreamRun) -> AsyncIterator[StreamEvent]:
        try:
            async with self._transport.astream_chunks(req) as chunks:
                async for chunk in chunks:
                    for event in run.chunk(chunk):
                        yield event
            for event in run.end():
                yield event
        except ProviderError as exc:
            failure = run.failed(exc)
            if failure is exc:
                raise
            raise failure from exc

    # -- models and lifecycle ---------------------------------------------------------

    def list_models(self) -> list[ModelEntry]:
        response = self._transport.send(self._models_request())
        return self._dialect.parse_models(self._models_json(response))

    async def alist_models(self) -> list[ModelEntry]:
        response = await self._transport.asend(self._models_request())
        return self._dialect.parse_models(self._models_json(response))

    def _models_request(self) -> HttpRequest:
        return self._signed(self._dialect.models_request(self._headers()))

    def _models_json(self, response: HttpResponse) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise self._transport.invalid_body(f"not JSON ({exc})", response.content) from None

    def warmup(self) -> None:
        """Open a pooled connection; an HTTP error status is fine, a dead host is not."""
        with contextlib.suppress(AuthError, InvalidRequest):
            self.list_models()

    async def awarmup(self) -> None:
        with contextlib.suppress(AuthError, InvalidRequest):
            await self.alist_models()

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._transport.aclose()


class UnavailableProvider(Provider):
    """A registry row whose adapter has not landed: it resolves and lists, and says so on call."""

    def __init__(self, resolved: Resolved) -> None:
        self.spec = resolved.spec
        self.name = resolved.spec.name
        self.display_name = resolved.spec.display_name
        self.base_url = resolved.base_url

    def capabilities(self) -> ProviderCapabilities:
        s = self.spec
        return ProviderCapabilities(s.native_tools, s.vision, s.prompt_caching, s.streaming)

    def _refuse(self) -> ProviderCapabilityError:
        return ProviderCapabilityError(
            f"{self.display_name} ('{self.name}') is not available yet: {self.spec.pending}. "
            "Until then, reach its models through 'openrouter' or a 'custom:' URL to an "
            "OpenAI-compatible endpoint.",
            provider=self.name,
            capability=self.spec.dialect,
        )

    def chat(self, request, model, temperature=None):
        raise self._refuse()

    async def achat(self, request, model, temperature=None):
        raise self._refuse()

    def stream(self, request, model, temperature=None):
        raise self._refuse()

    def astream(self, request, model, temperature=None):
        raise self._refuse()

    def list_models(self):
        raise self._refuse()

    async def alist_models(self):
        raise self._refuse()
