"""`HttpProvider`: a registry row + a dialect + an auth + a transport = a working provider.

Sync and async share every step but the send: `_Exchange` is one call without
I/O (build, parse, the dialect's one second attempt), `_StreamRun` one stream;
`chat` and `achat` drive the same exchange and differ in one `await`.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..dialects.common import MALFORMED, unreadable
from ..errors import (
    AuthError,
    ConfigError,
    InvalidRequest,
    ProviderCapabilityError,
    ProviderError,
    StreamInterrupted,
    TransientError,
)
from ..options import check_model, check_temperature
from ..registry import Resolved, shown_key_env
from ..secrets import Secret, mask
from ..transport import HttpRequest, HttpResponse, Limits, Transport
from ..transport.body import TooLarge
from ..types import ChatRequest, ChatResponse, ModelEntry, ProviderCapabilities, StreamEvent
from .base import Provider

if TYPE_CHECKING:
    from ..auth import Auth
    from ..dialects.base import Dialect, Recovery

__all__ = ["HttpProvider", "UnavailableProvider"]


class _StreamRun:
    """The I/O-free half of streaming: lines in, events out, failures classified (L8)."""

    __slots__ = ("_parse", "_told_complete", "delivered", "framer", "held", "parser", "provider")

    def __init__(
        self,
        parser: Any,
        framer: Any,
        provider: Provider,
        parse: Callable[[Any], ChatResponse] | None = None,
    ) -> None:
        self.parser = parser
        self.framer = framer
        self.provider = provider
        # How a whole (non-streamed) answer is read, for a server that sends one.
        self._parse = parse
        self.delivered = False
        self.held: ProviderError | None = None
        self._told_complete = False

    def chunk(self, chunk: Any) -> list[StreamEvent]:
        """Events for one read of the response body."""
        payloads = self.framer.feed(chunk)
        if len(payloads) == 1 and self.held is None:
            # One event a read, as a server writing one token at a time is read.
            try:
                events = self.parser.feed(payloads[0])
            except MALFORMED as exc:
                raise self.unreadable(exc) from exc
            if events:
                self.delivered = True
            return events
        return self._payloads(payloads)

    def _payloads(self, payloads: list[Any]) -> list[StreamEvent]:
        if self.held is not None:
            raise self.held
        events: list[StreamEvent] = []
        for payload in payloads:
            try:
                try:
                    events += self.parser.feed(payload)
                except MALFORMED as exc:
                    raise self.unreadable(exc) from exc
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

    def whole(self, body: bytes) -> list[StreamEvent] | None:
        """The events of a stream request answered with one JSON document (LiteLLM's
        mocks do; an error object may come that way too): read as the answer it is, or
        raised as the error it holds. None: not one JSON object; frame it as usual."""
        if self._parse is None:
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        try:
            response = self._parse(data)
        except MALFORMED as exc:
            raise self.unreadable(exc) from exc
        events: list[StreamEvent] = []
        if response.reasoning_content:
            events.append(StreamEvent.reasoning(response.reasoning_content))
        if response.text:
            events.append(StreamEvent.text(response.text))
        events += [StreamEvent.call(call) for call in response.tool_calls]
        events.append(StreamEvent.final(response))
        self.delivered = True
        return events

    def just_completed(self) -> bool:
        """True once: a read brought no events but finished the response (a finish
        reason, [DONE]); that counts as progress, as an event would."""
        if self._told_complete or not self.parser.complete:
            return False
        self._told_complete = True
        return True

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
        try:
            return events + self.parser.finish()
        except MALFORMED as exc:
            raise self.unreadable(exc) from exc

    def unreadable(self, exc: BaseException) -> ProviderError:
        """A dialect's parser tripped on a shape it did not check: the server's fault (E1)."""
        return unreadable(self.provider.name, self.provider.display_name, exc)

    def reraise(self, exc: ProviderError) -> None:
        """Raise `exc`, as StreamInterrupted once output was delivered (L8)."""
        failure = self.failed(exc)
        if failure is exc:
            raise exc
        raise failure from exc

    def failed(self, exc: ProviderError) -> ProviderError:
        if not self.delivered:
            return exc
        return StreamInterrupted(
            f"{self.provider.display_name} stream broke after output had started: {exc.message}",
            provider=self.provider.name,
            status=exc.status,
            partial_text=self.parser.partial_text,
        )


class _Exchange:
    """One non-streamed call without I/O: the request to send, and what to do with the
    answer or the failure, including the one different attempt the dialect may ask for."""

    __slots__ = (
        "dialect",
        "error",
        "first",
        "model",
        "provider",
        "recovery",
        "renewed",
        "request",
        "response",
        "result",
        "temp",
    )

    def __init__(
        self, provider: HttpProvider, request: ChatRequest, model: str, temperature: float | None
    ) -> None:
        self.provider = provider
        self.request = request
        self.model = model
        self.temp = temperature
        self.dialect = provider._dialect
        self.recovery: Recovery | None = None
        self.first: ProviderError | None = None
        self.result: ChatResponse | None = None
        self.response: HttpResponse | None = None
        self.error: ProviderError | None = None
        # The first failure, once offered to the auth (a 401 it may answer with a new token).
        self.renewed: ProviderError | None = None

    def __iter__(self) -> Iterator[HttpRequest | None]:
        """The requests to send, one at a time: the driver sends each inside `with self`,
        storing the answer in `response` (or the failure lands in `error`)."""
        req: HttpRequest | None = self.provider._request(
            self.dialect, self.request, self.model, self.temp
        )
        while req is not None:
            self.response = self.error = None
            yield req
            if self.error is not None and self.renewed is None and self.recovery is None:
                self.renewed = self.error
                if self.provider._refused(self.error):
                    # A 401 to a token the auth can fetch anew: the driver refreshes (the
                    # one step with I/O, `None`), then the request is built and sent again.
                    yield None
                    req = self.provider._request(self.dialect, self.request, self.model, self.temp)
                    continue
            if self.error is not None:
                req = self.failed(self.error)
            else:
                req = self.received(self.response)  # type: ignore[arg-type]

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, ProviderError):
            self.error = exc
            return True  # handed to the dialect's recovery on the next step
        return False

    def received(self, response: HttpResponse) -> HttpRequest | None:
        """The next request to send, or None when `result` holds the answer."""
        try:
            self.result = self.provider._parse(response, self.model, self.dialect)
        except ProviderError as exc:
            return self.failed(exc)
        if self.recovery is not None and self.recovery.sticky:
            # This server speaks the recovered dialect only: later calls go there too.
            self.provider._dialect = self.dialect
        return None

    def failed(self, exc: ProviderError) -> HttpRequest:
        """The second attempt the dialect asks for; else `exc` (or both failures) raised."""
        if exc is not self.renewed:
            self.provider._refused(exc)
        again, first = self.recovery, self.first
        if again is not None:
            if again.explain is None or first is None:
                raise exc
            raise type(first)(
                f"{first.message} ({again.explain}: {exc.message})",
                provider=first.provider,
                status=first.status,
                body=first.body,
            ) from exc
        if not isinstance(exc, InvalidRequest):
            raise exc
        again = self.dialect.recover(exc, self.request, self.temp)
        if again is None:
            raise exc
        self.recovery, self.first, self.dialect = again, exc, again.dialect
        return self.provider._request(again.dialect, self.request, self.model, again.temperature)


class HttpProvider(Provider):
    """A provider reached over HTTP: a registry row, a dialect, an auth and a transport."""

    def __init__(
        self,
        resolved: Resolved,
        dialect: Dialect,
        auth: Auth,
        *,
        key: Secret | None,
        key_source: str | None,
        timeout_s: float,
        connect_timeout_s: float,
        headers: dict[str, str],
        problem: str | None = None,
        http_transport: str = "httpx",
        base_url: str | None = None,
        default_model: str | None = None,
        default_temperature: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        spec = resolved.spec
        # A configuration gap found at construction, reported on the first call (K2).
        self._problem = problem
        self.spec = spec
        self.name = spec.name
        self.display_name = spec.display_name
        self.base_url = base_url or resolved.base_url
        self.default_model = default_model
        self.default_temperature = default_temperature
        self.key_source = key_source
        self._key = key
        self._auth = auth
        self._dialect = dialect
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
            key_env=shown_key_env(resolved),
            connect_hint=dialect.connect_hint,
            limits=limits,
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
        # Built per call, not kept: a dict holding the raw key would show it in vars().
        return self._auth.headers(self._key)

    def _request(
        self,
        dialect: Dialect,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool = False,
    ) -> HttpRequest:
        if not isinstance(request, ChatRequest):
            raise TypeError(f"request must be a ChatRequest, got {type(request).__name__}")
        req = dialect.chat_request(request, model, temperature, stream, self._headers())
        return self._signed(req)

    def _refused(self, exc: ProviderError) -> bool:
        """A 401: the server no longer takes the credential sent; an auth holding a
        short-lived token (Copilot's) drops it, so the next call fetches another. True:
        the auth can fetch one now, so a call not yet answered may try once more."""
        return exc.status == 401 and self._auth.rejected(self._key)

    def _signed(self, req: HttpRequest) -> HttpRequest:
        if self._auth.signs:
            # Auth that covers the request itself (SigV4) signs it last.
            self._auth.sign(req, self._key)
        return req

    def _model(self, model: str | None) -> str:
        model = check_model(model) or self.default_model
        if not model:
            raise InvalidRequest(
                f"No model given for {self.display_name}: pass model=, or set default_model "
                "in config.toml.",
                provider=self.name,
            )
        return model

    def _temperature(self, temperature: float | None) -> float | None:
        # Checked here, where a call enters: a NaN or a string would reach the server.
        return self.default_temperature if temperature is None else check_temperature(temperature)

    def _json(self, response: HttpResponse) -> Any:
        try:
            return response.json()
        except (ValueError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than the interpreter's recursion limit.
            raise self._transport.invalid_body(f"not JSON ({exc})", response.content) from None

    def _parse(self, response: HttpResponse, model: str, dialect: Dialect) -> ChatResponse:
        data = self._json(response)
        try:
            return dialect.parse_chat(data, model)
        except MALFORMED as exc:
            raise unreadable(self.name, self.display_name, exc) from exc

    def _exchange(
        self, request: ChatRequest, model: str | None, temperature: float | None
    ) -> _Exchange:
        return _Exchange(self, request, self._model(model), self._temperature(temperature))

    # -- chat --------------------------------------------------------------------

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        exchange = self._exchange(request, model, temperature)
        self._auth.refresh(self._key)
        for req in exchange:
            if req is None:
                self._auth.refresh(self._key)
                continue
            with exchange:
                exchange.response = self._transport.send(req)
        return exchange.result  # type: ignore[return-value]

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        exchange = self._exchange(request, model, temperature)
        await self._auth.arefresh(self._key)
        for req in exchange:
            if req is None:
                await self._auth.arefresh(self._key)
                continue
            with exchange:
                exchange.response = await self._transport.asend(req)
        return exchange.result  # type: ignore[return-value]

    # -- streaming ---------------------------------------------------------------

    def _stream_start(
        self, request: ChatRequest, model: str | None, temperature: float | None
    ) -> tuple[HttpRequest, _StreamRun]:
        # Built eagerly so a missing key or model fails at the call, not at first next().
        model = self._model(model)
        d = self._dialect
        req = self._request(d, request, model, self._temperature(temperature), True)
        framer = d.new_framer(self._transport.limits.max_event)
        parser = d.stream_parser(request, model)
        return req, _StreamRun(parser, framer, self, lambda data: d.parse_chat(data, model))

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        if self._auth.needs_refresh(self._key):
            self._model(model)  # a missing model is reported before any token is fetched
            self._auth.refresh(self._key)
        return self._stream(*self._stream_start(request, model, temperature))

    def _stream(self, req: HttpRequest, run: _StreamRun) -> Iterator[StreamEvent]:
        try:
            with self._transport.stream_chunks(req) as (chunks, clock, whole):
                if whole is not None and (answer := run.whole(whole)) is not None:
                    yield from answer
                    return
                for chunk in chunks:
                    events = run.chunk(chunk)
                    if events:
                        yield from events
                        # Back to waiting on the server: the idle limit counts from here.
                        clock.progress()
                    elif run.just_completed():
                        clock.progress()
            yield from run.end()
        except ProviderError as exc:
            self._refused(exc)
            run.reraise(exc)
        except TooLarge as exc:
            run.reraise(self._transport.too_large(exc))

    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        if self._auth.needs_refresh(self._key):
            # The credential must be fetched first, which an async caller awaits: the
            # request is built when the stream is first read (a missing model still
            # fails here, at the call).
            self._model(model)
            return self._astream_refreshed(request, model, temperature)
        return self._astream(*self._stream_start(request, model, temperature))

    async def _astream_refreshed(
        self, request: ChatRequest, model: str | None, temperature: float | None
    ) -> AsyncIterator[StreamEvent]:
        await self._auth.arefresh(self._key)
        async for event in self._astream(*self._stream_start(request, model, temperature)):
            yield event

    async def _astream(self, req: HttpRequest, run: _StreamRun) -> AsyncIterator[StreamEvent]:
        try:
            async with self._transport.astream_chunks(req) as (chunks, clock, whole):
                if whole is not None and (answer := run.whole(whole)) is not None:
                    for event in answer:
                        yield event
                    return
                async for chunk in chunks:
                    events = run.chunk(chunk)
                    if events:
                        for event in events:
                            yield event
                        clock.progress()
                    elif run.just_completed():
                        clock.progress()
            for event in run.end():
                yield event
        except ProviderError as exc:
            self._refused(exc)
            run.reraise(exc)
        except TooLarge as exc:
            run.reraise(self._transport.too_large(exc))

    # -- models and lifecycle ---------------------------------------------------------

    def list_models(self) -> list[ModelEntry]:
        self._auth.refresh(self._key)
        try:
            response = self._transport.send(self._models())
        except ProviderError as exc:
            self._refused(exc)
            raise
        return self._dialect.parse_models(self._json(response))

    async def alist_models(self) -> list[ModelEntry]:
        await self._auth.arefresh(self._key)
        try:
            response = await self._transport.asend(self._models())
        except ProviderError as exc:
            self._refused(exc)
            raise
        return self._dialect.parse_models(self._json(response))

    def _models(self) -> HttpRequest:
        return self._signed(self._dialect.models_request(self._headers()))

    def warmup(self) -> None:
        """Open a pooled connection; an HTTP error status is fine, a dead host is not."""
        with contextlib.suppress(AuthError, InvalidRequest):
            self.list_models()

    async def awarmup(self) -> None:
        with contextlib.suppress(AuthError, InvalidRequest):
            await self.alist_models()

    def close(self) -> None:
        self._transport.close()
        self._auth.close()

    async def aclose(self) -> None:
        await self._transport.aclose()
        self._auth.close()


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
