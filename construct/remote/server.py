"""A construct provider served as an Infinity-style provider process.

One request per connection, connections served concurrently: `"ListModels"` gets
the catalog; `InvokeModel` gets `"InvokeStarted"`, one chunk line per stream event
and `"StreamEnd"` (or a single `Error` line when the call fails before its first
event). A client that hangs up cancels the upstream call at once: a watcher waits
for the end of the connection while the stream runs, so no HTTP stream is left
going. Bad input gets an `Error` line and a closed connection, never a dead server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import ConstructError
from ..types import ChatRequest, ToolCall
from . import wire
from .catalog import ModelOffer, offers_from_entries

if TYPE_CHECKING:
    from ..providers.base import Provider

__all__ = ["MAX_REQUEST_BYTES", "ProviderServer", "serve_provider", "socket_path"]

log = logging.getLogger("construct")

# A request line carries the whole conversation, images included; past this it is refused
# (an Error line, not an exhausted server).
MAX_REQUEST_BYTES = 64 << 20
# How long running streams may go on after SIGTERM before they are cut.
GRACE_S = 5.0
# How long the rest of an oversized request line is read away before the connection closes.
DISCARD_S = 30.0


def socket_path() -> str:
    """`<tmpdir>/inf-provider-<12 hex>.sock`: short, for the ~104-byte limit of macOS."""
    return os.path.join(tempfile.gettempdir(), f"inf-provider-{uuid.uuid4().hex[:12]}.sock")


class _Refused(Exception):
    """A request answered with one Error line."""

    def __init__(self, message: str, error_class: wire.ErrorClass = "Fatal") -> None:
        super().__init__(message)
        self.error_class = error_class


class ProviderServer:
    """Serves `provider` over a Unix socket. `start()` binds, `aclose()` stops."""

    def __init__(
        self,
        provider: Provider,
        models: Sequence[ModelOffer] | None = None,
        protocol: wire.Protocol = "v3",
        path: str | None = None,
    ) -> None:
        if protocol not in wire.PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(wire.PROTOCOLS)}")
        self.provider = provider
        self.protocol = protocol
        self.path = path or socket_path()
        self._offers: dict[str, ModelOffer] | None = (
            {m.model_id: m for m in models} if models is not None else None
        )
        self._models_line: str | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def catalog(self) -> dict[str, ModelOffer]:
        """The offers, in order; the provider's own list when none were given (read once)."""
        if self._offers is None:
            self._offers = {
                m.model_id: m for m in offers_from_entries(await self.provider.alist_models())
            }
        return self._offers

    async def start(self) -> str:
        await self.catalog()
        self._server = await asyncio.start_unix_server(
            self._connection, path=self.path, limit=MAX_REQUEST_BYTES
        )
        return self.path

    async def aclose(self, grace_s: float = GRACE_S) -> None:
        """Stop accepting, let running streams finish within `grace_s`, remove the socket."""
        if self._server is not None:
            self._server.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    # -- one connection ------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to tell anyone
        except Exception:
            log.exception("provider process: a connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await self._read_request(reader, writer)
        if line is None:
            return
        try:
            request = wire.decode_request(line)
        except wire.WireError as exc:
            await _send(
                writer, wire.encode_error(f"invalid request: {exc}", "Fatal", self.protocol)
            )
            return
        if isinstance(request, wire.ListModels):
            offers = await self.catalog()
            await _send(writer, wire.encode_models([o.entry() for o in offers.values()]))
            return
        # A v1 request is answered in v1 lines: its client reads nothing else.
        protocol = "v1" if request.protocol == "v1" else self.protocol
        try:
            offer, chat_request = await self._prepare(request)
        except _Refused as exc:
            await _send(writer, wire.encode_error(str(exc), exc.error_class, protocol))
            return
        await self._invoke(reader, writer, protocol, offer, chat_request, request.temperature)

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            # A last line without its newline is still a request; nothing at all is a
            # client that connected and left.
            return exc.partial or None
        except asyncio.LimitOverrunError:
            limit = MAX_REQUEST_BYTES >> 20
            await _send(
                writer,
                wire.encode_error(
                    f"invalid request: the request line is longer than {limit} MiB",
                    "Fatal",
                    self.protocol,
                ),
            )
            # The client may still be sending: read the rest of its line away (for a while),
            # so it finishes writing and reads the answer instead of a broken pipe.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_discard_line(reader), DISCARD_S)
            return None

    async def _prepare(self, request: wire.Invoke) -> tuple[ModelOffer, ChatRequest]:
        offers = await self.catalog()
        offer = offers.get(request.model_id)
        if offer is None:
            known = ", ".join(list(offers)[:20]) or "(none)"
            raise _Refused(f"unknown model_id {request.model_id!r}; this provider offers: {known}")
        chat = request.request
        if not any(m.role != "system" for m in chat.messages):
            raise _Refused("invalid request: chat_history is empty; send at least one message")
        extra = {**offer.extra, **dict(chat.extra)} if offer.extra else chat.extra
        max_tokens = chat.max_tokens or offer.max_output_tokens
        if extra is not chat.extra or max_tokens != chat.max_tokens:
            try:
                chat = ChatRequest(chat.messages, chat.tools, max_tokens, extra)
            except ConstructError as exc:
                raise _Refused(f"invalid request: {exc}") from None
        return offer, chat

    async def _invoke(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        protocol: wire.Protocol,
        offer: ModelOffer,
        request: ChatRequest,
        temperature: float | None,
    ) -> None:
        stream = self.provider.astream(request, offer.model, temperature)
        # The client's side of the connection ends (EOF or reset) when it hangs up; then
        # the upstream call is cancelled rather than read to its end.
        gone = asyncio.ensure_future(_hangup(reader))
        relay = asyncio.ensure_future(self._relay(stream, writer, protocol))
        try:
            done, _ = await asyncio.wait({gone, relay}, return_when=asyncio.FIRST_COMPLETED)
            if relay not in done:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await relay
            else:
                relay.result()
        finally:
            gone.cancel()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _relay(
        self, stream: Any, writer: asyncio.StreamWriter, protocol: wire.Protocol
    ) -> None:
        events = stream.__aiter__()
        try:
            first = await events.__anext__()
        except StopAsyncIteration:
            first = None
        except Exception as exc:
            await _send(
                writer, wire.encode_error(_message(exc), wire.error_class_of(exc), protocol)
            )
            return
        await _send(writer, wire.INVOKE_STARTED)
        chunks = _Chunks(protocol)
        try:
            if first is not None:
                await _send_all(writer, chunks.of(first))
                async for event in events:
                    await _send_all(writer, chunks.of(event))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            # Mid-stream errors travel as chunk errors; the stream still ends with StreamEnd.
            await _send(
                writer,
                wire.encode_chunk(
                    wire.ErrorChunk(_message(exc), wire.error_class_of(exc)), protocol
                ),
            )
        await _send(writer, wire.STREAM_END)


class _Chunks:
    """Stream events as chunk lines."""

    def __init__(self, protocol: wire.Protocol) -> None:
        self.protocol = protocol
        self.reasoning: list[str] = []

    def of(self, event: Any) -> list[str]:
        kind = event.type
        encode = wire.encode_chunk
        p = self.protocol
        if kind == "text_delta":
            return [encode(wire.TextChunk(event.delta), p)] if event.delta else []
        if kind == "reasoning_delta":
            if not event.delta:
                return []
            self.reasoning.append(event.delta)
            return [encode(wire.ReasoningDeltaChunk(event.delta), p)]
        if kind == "tool_call":
            call: ToolCall = event.tool_call
            return [
                encode(wire.ToolCallDeltaChunk(call.id, name=call.name), p),
                encode(wire.ToolCallDeltaChunk(call.id, delta=call.arguments), p),
                encode(wire.ToolCallChunk(call.id, call.name, _arguments(call)), p),
            ]
        if kind == "final":
            lines = []
            response = event.response
            if self.reasoning:
                # The whole block after its deltas, as Infinity providers send it; construct
                # keeps no reasoning signature, so none travels.
                lines.append(encode(wire.ReasoningChunk("".join(self.reasoning)), p))
                self.reasoning = []
            usage = response.usage if response is not None else None
            total = None
            if usage is not None:
                total = (usage.input_tokens or 0) + (usage.output_tokens or 0)
            lines.append(encode(wire.FinalChunk(usage, total), p))
            return lines
        return []


def _arguments(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        return {}


def _message(exc: BaseException) -> str:
    if isinstance(exc, ConstructError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _discard_line(reader: asyncio.StreamReader) -> None:
    while chunk := await reader.read(1 << 20):
        if b"\n" in chunk:
            return


async def _hangup(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass  # a client sends one line; anything more is ignored


async def _send(writer: asyncio.StreamWriter, line: str) -> None:
    writer.write(line.encode() + b"\n")
    await writer.drain()


async def _send_all(writer: asyncio.StreamWriter, lines: list[str]) -> None:
    if lines:
        writer.write("".join(line + "\n" for line in lines).encode())
        await writer.drain()


def serve_provider(
    provider: Provider,
    models: Sequence[ModelOffer] | None = None,
    protocol: wire.Protocol = "v3",
    *,
    path: str | None = None,
    announce: TextIO | None = None,
) -> None:
    """Serve `provider` until SIGTERM or SIGINT, as a provider process does.

    The socket path is printed alone on the first line of `announce` (stdout by default)
    and flushed; logs go through the `construct` logger only. On a signal the server stops
    accepting, lets running streams finish for a few seconds, and removes the socket.
    """
    asyncio.run(_serve(provider, models, protocol, path, announce or sys.stdout))


async def _serve(
    provider: Provider,
    models: Sequence[ModelOffer] | None,
    protocol: wire.Protocol,
    path: str | None,
    announce: TextIO,
) -> None:
    server = ProviderServer(provider, models, protocol, path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        announce.write(server.path + "\n")
        announce.flush()
        log.info("provider process: serving on %s (protocol %s)", server.path, protocol)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.aclose()
        with contextlib.suppress(Exception):
            await provider.aclose()
