"""`RemoteProvider`: any provider process used as a construct `Provider`.

Each call is one connection: the request line goes out, the answer lines come back.
Chunk lines of any protocol generation become `StreamEvent`s; error lines become
construct errors by class, so `ReliableProvider` retries a `Throttled` or
`Transient` one and moves on from a `Fatal` one. A stream that ends without its
`Final`, or a connection that drops mid-stream, is a `StreamInterrupted` carrying
the text delivered so far (a `TransientError` when nothing was).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InvalidResponse, ProviderError, StreamInterrupted, TransientError
from ..options import check_model
from ..providers.base import Provider
from ..types import (
    ChatRequest,
    ChatResponse,
    ModelEntry,
    ProviderCapabilities,
    StreamEvent,
    ToolCall,
    Usage,
)
from . import wire

if TYPE_CHECKING:
    from .spawn import ProviderProcess

__all__ = ["RemoteProvider"]

log = logging.getLogger("construct")

# The longest answer line read; a chunk is small, a model list is not large.
MAX_LINE_BYTES = 64 << 20


class RemoteProvider(Provider):
    """A provider process reached over its Unix socket."""

    def __init__(
        self,
        socket_path: str | None = None,
        name: str = "remote",
        *,
        protocol: wire.Protocol = "v3",
        timeout_s: float = 60.0,
        idle_timeout_s: float = 120.0,
        default_model: str | None = None,
        process: ProviderProcess | None = None,
        starter: Callable[[], ProviderProcess] | None = None,
    ) -> None:
        if protocol not in wire.PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(wire.PROTOCOLS)}")
        if socket_path is None and process is None and starter is None:
            raise ValueError("RemoteProvider needs a socket_path, a process or a starter")
        self._path = socket_path
        self.name = name
        self.display_name = name
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.default_model = default_model
        self.process = process
        # Starts the process on first use, and again when it has died since.
        self._starter = starter
        self._lock = threading.Lock()
        self._models: list[ModelEntry] | None = None

    @property
    def socket_path(self) -> str:
        """Where the process listens; a process started on demand is started here."""
        process = self.process
        if self._starter is not None and (process is None or not process.alive):
            with self._lock:
                process = self.process
                if process is None or not process.alive:
                    if process is not None:
                        log.warning(
                            "provider process %r %s; starting it again",
                            self.name,
                            process.describe_exit() or "is gone",
                        )
                        process.close()
                    self.process = process = self._starter()
        if process is not None:
            return process.socket_path
        return self._path  # type: ignore[return-value]

    @property
    def base_url(self) -> str:  # type: ignore[override]
        if self._path is not None:
            return f"unix:{self._path}"
        return f"unix:{self.process.socket_path}" if self.process else "process (not started)"

    # -- the catalog ---------------------------------------------------------------------

    def list_models(self) -> list[ModelEntry]:
        with _SyncLines(self) as lines:
            lines.send(wire.LIST_MODELS)
            answer = lines.first()
        self._models = self._entries(answer)
        return list(self._models)

    async def alist_models(self) -> list[ModelEntry]:
        async with _AsyncLines(self) as lines:
            await lines.send(wire.LIST_MODELS)
            answer = await lines.first()
        self._models = self._entries(answer)
        return list(self._models)

    def _entries(self, answer: Any) -> list[ModelEntry]:
        if isinstance(answer, wire.Models):
            return list(answer.entries)
        if isinstance(answer, wire.ErrorLine):
            cls = answer.error_class if self.protocol == "v3" else _guess(answer.message)
            raise wire.error_from_wire(answer.message, cls, self.name)
        raise InvalidResponse(
            f"provider process {self.name!r} answered ListModels with something else; "
            "check that it speaks the provider protocol",
            provider=self.name,
        )

    def _model(self, model: str | None) -> str:
        chosen = model or self.default_model
        if chosen is None:
            models = self._models if self._models is not None else self.list_models()
            if not models:
                raise InvalidResponse(
                    f"provider process {self.name!r} offers no models; pass a model",
                    provider=self.name,
                )
            chosen = models[0].model_id  # the first model is the process's default (A1)
        return check_model(chosen)

    async def _amodel(self, model: str | None) -> str:
        if model is None and self.default_model is None and self._models is None:
            await self.alist_models()
        return self._model(model)

    # -- calls -----------------------------------------------------------------------------

    def capabilities(self) -> ProviderCapabilities:
        vision = any(m.supports_image_input for m in self._models or ())
        return ProviderCapabilities(native_tool_calling=True, vision=vision, streaming=True)

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        return _last(self.stream(request, model, temperature))

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        final = None
        async for event in self.astream(request, model, temperature):
            final = event
        return final.response  # type: ignore[union-attr]  # a stream always ends in final

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        model_id = self._model(model)
        line = self._invoke_line(model_id, request, temperature)
        with _SyncLines(self) as lines:
            lines.send(line)
            reader = _Reader(self.name, model_id, self.protocol)
            reader.started(lines.first())
            while True:
                events, done = reader.feed(lines.next())
                yield from events
                if done:
                    return

    async def astream(  # type: ignore[override]
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        model_id = await self._amodel(model)
        line = self._invoke_line(model_id, request, temperature)
        async with _AsyncLines(self) as lines:
            await lines.send(line)
            reader = _Reader(self.name, model_id, self.protocol)
            reader.started(await lines.first())
            while True:
                events, done = reader.feed(await lines.next())
                for event in events:
                    yield event
                if done:
                    return

    def _invoke_line(self, model_id: str, request: ChatRequest, temperature: float | None) -> str:
        # v2 and v3 requests have no temperature: the process samples as it decides.
        if self.protocol != "v1":
            temperature = None
        return wire.encode_invoke(model_id, request, self.protocol, temperature=temperature)

    def close(self) -> None:
        """Stops the process this provider owns (one it launched or was given)."""
        with self._lock:
            process, self.process = self.process, None
        if process is not None:
            process.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        return f"<RemoteProvider {self.name} {self.base_url}>"


def _last(events: Iterator[StreamEvent]) -> ChatResponse:
    final = None
    for event in events:
        final = event
    return final.response  # type: ignore[union-attr]


# v1 and v2 errors are bare text: the class is read from it, as Infinity's v1 runtime did
# (A7), with construct's own wordings added. Checked in this order.
_GUESSES: tuple[tuple[wire.ErrorClass, tuple[str, ...]], ...] = (
    (
        "ContextOverflow",
        (
            "context window",
            "context length",
            "context_length",
            "context_window",
            "too long",
            "input length",
            "too large",
        ),
    ),
    (
        "Throttled",
        (
            "rate limit",
            "rate-limit",
            "rate_limit",
            "too many requests",
            "throttl",
            "please wait before trying again",
            "please try again",
        ),
    ),
    (
        "Transient",
        (
            "unexpected end of stream",
            "unexpected error when processing the request",
            "is unable to process your request",
            "timed out",
            "timeout",
            "temporarily",
            "overloaded",
            "unavailable",
            "retryable",
        ),
    ),
)


def _guess(message: str) -> wire.ErrorClass:
    text = message.lower()
    for error_class, words in _GUESSES:
        if any(w in text for w in words):
            return error_class
    return "Fatal"


class _Reader:
    """Answer lines of one invocation in, stream events out."""

    def __init__(self, provider: str, model: str, protocol: wire.Protocol = "v3") -> None:
        self.protocol = protocol
        self.provider = provider
        self.model = model
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.reasoning_streamed = False
        self.calls: list[ToolCall] = []
        self.done_ids: set[str] = set()
        self.partial: dict[str, list[str]] = {}  # tool-call id -> [name, arguments...]
        self.usage: Usage | None = None
        self.final = False
        self.error: ProviderError | None = None

    def started(self, answer: Any) -> None:
        if isinstance(answer, wire.InvokeStarted):
            return
        if isinstance(answer, wire.ErrorLine):
            raise self._error(answer.message, answer.error_class)
        if answer is None:
            raise TransientError(
                f"provider process {self.provider!r} closed the connection without responding",
                provider=self.provider,
            )
        raise InvalidResponse(
            f"provider process {self.provider!r} sent an unexpected response to InvokeModel",
            provider=self.provider,
        )

    def feed(self, answer: Any) -> tuple[list[StreamEvent], bool]:
        if answer is None:
            raise self._cut("closed the connection mid-stream")
        if isinstance(answer, wire.StreamEnd):
            return self._end(), True
        if not isinstance(answer, wire.ChunkLine):
            raise InvalidResponse(
                f"provider process {self.provider!r} sent an unexpected line mid-stream",
                provider=self.provider,
            )
        chunk = answer.chunk
        if isinstance(chunk, wire.TextChunk):
            if not chunk.text:
                return [], False
            self.text.append(chunk.text)
            return [StreamEvent.text(chunk.text)], False
        if isinstance(chunk, wire.ReasoningDeltaChunk):
            self.reasoning.append(chunk.text)
            self.reasoning_streamed = True
            return [StreamEvent.reasoning(chunk.text)], False
        if isinstance(chunk, wire.ReasoningChunk):
            # The whole block after its deltas repeats them; a block sent alone is new text.
            if self.reasoning_streamed:
                self.reasoning_streamed = False
                return [], False
            self.reasoning.append(chunk.text)
            return [StreamEvent.reasoning(chunk.text)], False
        if isinstance(chunk, wire.ToolCallDeltaChunk):
            parts = self.partial.setdefault(chunk.id, ["", ""])
            if chunk.name:
                parts[0] = chunk.name
            if chunk.delta:
                parts[1] += chunk.delta
            return [], False
        if isinstance(chunk, wire.ToolCallChunk):
            if chunk.id in self.done_ids:
                return [], False
            self.partial.pop(chunk.id, None)
            arguments = chunk.arguments
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            return [self._call(ToolCall(chunk.id, chunk.name, text))], False
        if isinstance(chunk, wire.FinalChunk):
            if not self.final:  # only the first Final counts (rig's rule)
                self.final = True
                self.usage = chunk.usage
            return [], False
        if isinstance(chunk, wire.ErrorChunk):
            error = self._error(chunk.message, chunk.error_class)
            # Output already reached the caller: the turn is broken, whatever the cause (L8).
            if self.text:
                raise StreamInterrupted(
                    f"{error.message} (after {len(''.join(self.text))} characters of output)",
                    partial_text="".join(self.text),
                    provider=self.provider,
                ) from error
            raise error
        return [], False

    def _error(self, message: str, error_class: wire.ErrorClass) -> ProviderError:
        if self.protocol != "v3":
            error_class = _guess(message)
        return wire.error_from_wire(message, error_class, self.provider)

    def _call(self, call: ToolCall) -> StreamEvent:
        self.done_ids.add(call.id)
        self.calls.append(call)
        return StreamEvent.call(call)

    def _end(self) -> list[StreamEvent]:
        if not self.final:
            raise self._cut("ended the stream without its Final chunk")
        # Calls announced only as deltas are complete at the end of the stream.
        events = [
            self._call(ToolCall(call_id, name, arguments or "{}"))
            for call_id, (name, arguments) in self.partial.items()
            if name and call_id not in self.done_ids
        ]
        response = ChatResponse(
            "".join(self.text),
            tuple(self.calls),
            self.usage,
            "tool_use" if self.calls else "end_turn",
            "".join(self.reasoning) or None,
            self.model,
            self.provider,
        )
        return [*events, StreamEvent.final(response)]

    def _cut(self, what: str) -> ProviderError:
        message = f"provider process {self.provider!r} {what}"
        if self.text:
            return StreamInterrupted(
                message, partial_text="".join(self.text), provider=self.provider
            )
        return TransientError(message + "; retry", provider=self.provider)


def _unreachable(provider: RemoteProvider, exc: OSError) -> TransientError:
    process = provider.process
    exited = process.describe_exit() if process is not None else None
    advice = f"the process {exited}" if exited else "check that it is running"
    return TransientError(
        f"failed to reach provider process {provider.name!r} at "
        f"{provider.base_url.removeprefix('unix:')}: {exc.strerror or exc}; {advice}",
        provider=provider.name,
    )


def _decode(provider: RemoteProvider, raw: bytes) -> Any:
    try:
        return wire.decode_response(raw)
    except wire.WireError as exc:
        raise InvalidResponse(
            f"provider process {provider.name!r} sent a line that is not the provider "
            f"protocol: {exc}",
            provider=provider.name,
        ) from None


class _SyncLines:
    """One connection, blocking: a line out, lines in (None at the end)."""

    def __init__(self, provider: RemoteProvider) -> None:
        self.provider = provider
        self.sock: socket.socket | None = None
        self.file: Any = None

    def __enter__(self) -> _SyncLines:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.provider.timeout_s)
        try:
            sock.connect(self.provider.socket_path)
        except OSError as exc:
            sock.close()
            raise _unreachable(self.provider, exc) from None
        self.sock = sock
        self.file = sock.makefile("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        # Closing mid-stream is how a client cancels: the process drops the upstream call.
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.sock.close()  # type: ignore[union-attr]

    def send(self, line: str) -> None:
        try:
            self.sock.sendall(line.encode() + b"\n")  # type: ignore[union-attr]
        except OSError as exc:
            raise _unreachable(self.provider, exc) from None

    def first(self) -> Any:
        return self._line(self.provider.timeout_s, "to respond")

    def next(self) -> Any:
        return self._line(self.provider.idle_timeout_s, "to send its next chunk")

    def _line(self, timeout: float, what: str) -> Any:
        self.sock.settimeout(timeout)  # type: ignore[union-attr]
        try:
            raw = self.file.readline(MAX_LINE_BYTES + 1)
        except TimeoutError:
            raise TransientError(
                f"provider process {self.provider.name!r} took more than {timeout:g} s {what}",
                provider=self.provider.name,
            ) from None
        except OSError:
            return None  # a reset is an end like EOF; the reader says what was cut
        if not raw:
            return None
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidResponse(
                f"provider process {self.provider.name!r} sent a line over "
                f"{MAX_LINE_BYTES >> 20} MiB",
                provider=self.provider.name,
            )
        return _decode(self.provider, raw)


class _AsyncLines:
    """One connection on the running event loop."""

    def __init__(self, provider: RemoteProvider) -> None:
        self.provider = provider
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> _AsyncLines:
        provider = self.provider
        # Starting a process blocks (up to its timeout): not on the event loop.
        needs_start = provider._starter is not None and (
            provider.process is None or not provider.process.alive
        )
        path = await asyncio.to_thread(lambda: provider.socket_path) if needs_start else None
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_unix_connection(path or provider.socket_path, limit=MAX_LINE_BYTES),
                self.provider.timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise _unreachable(self.provider, OSError(str(exc) or "timed out")) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def send(self, line: str) -> None:
        try:
            self.writer.write(line.encode() + b"\n")  # type: ignore[union-attr]
            await self.writer.drain()  # type: ignore[union-attr]
        except OSError as exc:
            raise _unreachable(self.provider, exc) from None

    async def first(self) -> Any:
        return await self._line(self.provider.timeout_s, "to respond")

    async def next(self) -> Any:
        return await self._line(self.provider.idle_timeout_s, "to send its next chunk")

    async def _line(self, timeout: float, what: str) -> Any:
        try:
            # asyncio.timeout, not wait_for: no task per line read (a chunk is a line).
            async with asyncio.timeout(timeout):
                raw = await self.reader.readuntil(b"\n")  # type: ignore[union-attr]
        except TimeoutError:
            raise TransientError(
                f"provider process {self.provider.name!r} took more than {timeout:g} s {what}",
                provider=self.provider.name,
            ) from None
        except asyncio.IncompleteReadError as exc:
            raw = exc.partial  # a last line without its newline still counts
        except asyncio.LimitOverrunError:
            raise InvalidResponse(
                f"provider process {self.provider.name!r} sent a line over "
                f"{MAX_LINE_BYTES >> 20} MiB",
                provider=self.provider.name,
            ) from None
        except OSError:
            return None
        if not raw:
            return None
        return _decode(self.provider, raw)
