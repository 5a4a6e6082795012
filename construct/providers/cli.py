"""`CliProvider`: a registry row served by a vendor's command-line tool (reference §8.6).

claude-code, gemini-cli and kilocli run `claude`, `gemini` or `kilo` once per call, the
prompt on stdin, and read its JSON-lines output: `construct.dialects.cli` says what to
run and how to read it, `construct.transport.subprocess` runs it. `_Call` is one call
without I/O; `chat` and `achat` (and the streams) drive it and differ in their awaits.

The program is found when a call starts (PATH, or the row's `*_PATH` variable as it
was when the provider was built), so a provider builds on a machine without the tool,
and the first call says how to install it (as K2 does for a missing key).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping

from ..dialects.cli import (
    TOOLS,
    CliTool,
    Invocation,
    OutputParser,
    check_temperature_for,
    exit_failure,
    failure,
    invocation,
)
from ..errors import (
    InvalidRequest,
    ProviderCapabilityError,
    ProviderError,
    StreamInterrupted,
)
from ..options import ProviderRuntimeOptions, check_model, check_temperature
from ..registry import Resolved
from ..transport import Limits
from ..transport.deadlines import Clock
from ..transport.subprocess import CommandRun, find_program, start_command
from ..types import ChatRequest, ChatResponse, ProviderCapabilities, StreamEvent
from .base import Provider

__all__ = ["CliProvider", "build"]


class _Call:
    """One call without I/O: what to run, its output read into events, how it ended."""

    __slots__ = ("delivered", "invocation", "parser", "provider", "stream")

    def __init__(
        self, provider: CliProvider, invocation: Invocation, parser: OutputParser, stream: bool
    ) -> None:
        self.provider = provider
        self.invocation = invocation
        self.parser = parser
        self.stream = stream
        self.delivered = False

    def clock(self) -> Clock:
        """The call's time limits, from the moment the command starts."""
        p, limits = self.provider, self.provider.limits
        if not self.stream:
            return Clock(p.timeout_s)
        return Clock(p.timeout_s, stream=True, idle_s=limits.idle_s, max_s=limits.stream_max_s)

    def events(self, line: str) -> list[StreamEvent]:
        events = self.parser.feed(line)
        if events:
            self.delivered = True
        return events

    def end(self, run: CommandRun) -> list[StreamEvent]:
        """The final event once the command exited; or the failure it reported."""
        p, code = self.provider, run.returncode
        assert code is not None
        reported = self.parser.reported
        if reported is not None:
            what = "reported an error" if code == 0 else _exited(code)
            raise failure(
                p.tool,
                p.display_name,
                what,
                reported.detail,
                run.stderr_tail(),
                reported.api_status,
            )
        if code != 0:
            raise exit_failure(p.tool, p.display_name, code, run.stderr_tail())
        return self.parser.finish()

    def reraise(self, exc: ProviderError) -> None:
        """Raise `exc`, as StreamInterrupted once output was delivered (L8)."""
        if not self.delivered:
            raise exc
        raise StreamInterrupted(
            f"{self.provider.display_name} stream broke after output had started: {exc.message}",
            provider=self.provider.name,
            status=exc.status,
            partial_text=self.parser.partial_text,
        ) from exc


def _exited(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"


class CliProvider(Provider):
    """A provider that runs a command-line tool per call: text in, text (and usage) out."""

    def __init__(
        self,
        resolved: Resolved,
        tool: CliTool,
        *,
        program_override: str | None,
        timeout_s: float,
        limits: Limits,
        agent_mode: bool = False,
        default_model: str | None = None,
        default_temperature: float | None = None,
    ) -> None:
        spec = resolved.spec
        self.spec = spec
        self.tool = tool
        self.name = spec.name
        self.display_name = spec.display_name
        self.base_url = ""
        self.timeout_s = timeout_s
        self.limits = limits
        self.agent_mode = agent_mode
        self.default_model = default_model
        self.default_temperature = default_temperature
        self._override = program_override

    def __repr__(self) -> str:
        mode = " agent_mode" if self.agent_mode else ""
        return f"<CliProvider {self.name} {self.tool.program}{mode}>"

    def capabilities(self) -> ProviderCapabilities:
        s = self.spec
        return ProviderCapabilities(s.native_tools, s.vision, s.prompt_caching, s.streaming)

    def program(self) -> str:
        """The path of the tool's program, or a ConfigError saying how to get it."""
        t = self.tool
        return find_program(t.program, self._override, variable=t.path_env, install=t.install)

    # -- building ----------------------------------------------------------------------

    def _call(
        self, request: ChatRequest, model: str | None, temperature: float | None, stream: bool
    ) -> _Call:
        # Everything is checked here, where the call enters: a stream fails at the call,
        # not at its first next(), and nothing starts for a request that cannot be sent.
        if not isinstance(request, ChatRequest):
            raise TypeError(f"request must be a ChatRequest, got {type(request).__name__}")
        model = check_model(model) or self.default_model
        temp = self.default_temperature if temperature is None else check_temperature(temperature)
        check_temperature_for(self.tool, self.display_name, temp)
        self._check(request)
        call = invocation(
            self.tool, self.program(), request.messages, model, agent_mode=self.agent_mode
        )
        parser = self.tool.parser(self.name, self.display_name, model)
        return _Call(self, call, parser, stream)

    def _check(self, request: ChatRequest) -> None:
        where = f"{self.display_name} ('{self.name}') asks its command for a text completion"
        if request.tools:
            raise ProviderCapabilityError(
                f"{where} and takes no tools. Leave tools out, or use a provider with tool "
                "calling.",
                provider=self.name,
                capability="tools",
            )
        if any(m.images for m in request.messages):
            raise ProviderCapabilityError(
                f"{where} and takes no images. Leave them out, or use a provider with vision.",
                provider=self.name,
                capability="vision",
            )
        if not any(m.role != "system" for m in request.messages):
            raise InvalidRequest(
                f"{self.display_name} needs a user message to answer; the request has none.",
                provider=self.name,
            )

    def _start(self, call: _Call, loop: asyncio.AbstractEventLoop | None = None) -> CommandRun:
        return start_command(
            call.invocation.argv,
            call.invocation.stdin,
            provider=self.name,
            display_name=self.display_name,
            max_line=self.limits.max_event,
            max_total=self.limits.max_body,
            loop=loop,
        )

    # -- chat --------------------------------------------------------------------------

    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        call = self._call(request, model, temperature, stream=False)
        with self._start(call) as run:
            for line in run.lines(call.clock()):
                call.events(line)
            return _response(call.end(run))

    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse:
        call = self._call(request, model, temperature, stream=False)
        run = self._start(call, asyncio.get_running_loop())
        try:
            async with contextlib.aclosing(run.alines(call.clock())) as lines:
                async for line in lines:
                    call.events(line)
            return _response(call.end(run))
        finally:
            await run.aclose()

    # -- streaming ---------------------------------------------------------------------

    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]:
        return self._stream(self._call(request, model, temperature, stream=True))

    def _stream(self, call: _Call) -> Iterator[StreamEvent]:
        # Started at the first next(): a stream never iterated runs nothing. A consumer
        # that stops early closes this generator, and `with` stops the command.
        try:
            with self._start(call) as run:
                clock = call.clock()
                for line in run.lines(clock):
                    events = call.events(line)
                    if events:
                        yield from events
                        # Back to waiting on the command: the idle limit counts from here.
                        clock.progress()
                yield from call.end(run)
        except ProviderError as exc:
            call.reraise(exc)

    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        return self._astream(self._call(request, model, temperature, stream=True))

    async def _astream(self, call: _Call) -> AsyncIterator[StreamEvent]:
        run = self._start(call, asyncio.get_running_loop())
        try:
            clock = call.clock()
            async with contextlib.aclosing(run.alines(clock)) as lines:
                async for line in lines:
                    events = call.events(line)
                    if events:
                        for event in events:
                            yield event
                        clock.progress()
            for event in call.end(run):
                yield event
        except ProviderError as exc:
            call.reraise(exc)
        finally:
            # Also when the task was cancelled or the consumer stopped reading.
            await run.aclose()

    # -- lifecycle ---------------------------------------------------------------------

    def warmup(self) -> None:
        """Find the program now: a missing tool fails here rather than at the first call."""
        self.program()

    async def awarmup(self) -> None:
        self.program()


def _response(events: list[StreamEvent]) -> ChatResponse:
    response = events[-1].response
    assert response is not None
    return response


def build(
    resolved: Resolved,
    opts: ProviderRuntimeOptions,
    environ: Mapping[str, str] | None = None,
) -> CliProvider:
    """The provider for a `dialect = "cli"` row; `environ` (default `os.environ`) holds
    the row's `*_PATH` variable."""
    tool = TOOLS[resolved.spec.name]
    env = os.environ if environ is None else environ
    return CliProvider(
        resolved,
        tool,
        program_override=env.get(tool.path_env),
        timeout_s=opts.provider_timeout_secs or tool.default_timeout_s,
        limits=Limits(
            idle_s=opts.stream_idle_timeout_secs,
            stream_max_s=opts.stream_max_secs,
            max_body=int(opts.max_response_mb * (1 << 20)),
            max_event=int(opts.max_event_mb * (1 << 20)),
        ),
        agent_mode=opts.cli_agent_mode,
        default_model=opts.default_model,
        default_temperature=opts.default_temperature,
    )
