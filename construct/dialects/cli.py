"""The command-line tools as providers, without I/O: what to run, and how to read it.

claude-code, gemini-cli and kilocli (reference §8.6) are not HTTP APIs: construct runs
the vendor's own command (`claude`, `gemini`, `kilo`), which signs in its own way, with
the prompt on stdin, and reads its JSON-lines output. This module holds each tool as
data (`CliTool`: program, flags, limits) and the pure steps of a call:

    ChatRequest -> Invocation (argv + stdin)   `invocation`
    stdout lines -> StreamEvents               `OutputParser` (one per tool's format)
    a failure the tool reported -> error       `failure`

`construct.providers.cli` drives them over `construct.transport.subprocess`.

Safety: construct asks these tools for a completion, not for an agent acting on the
user's machine. By default the argv turns their tools off where the tool has a switch
for it (Claude Code: `--tools ""` and no MCP servers; Kilo: its read-only `ask`
agent) and never passes a flag that skips their permission prompts. `agent_mode`
(ProviderRuntimeOptions.cli_agent_mode) is the explicit opt-in to the reference's
behaviour: the tools on, their prompts skipped.

The flags follow the tools' current documentation, not the reference, where the two
differ: `gemini` has no `--print` (headless mode is a non-TTY stdin), and Kilo's CLI
is `kilo run` (its `-p` is a password).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import (
    RATE_LIMIT_ADVICE,
    AuthError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    TransientError,
    classify_http_error,
)
from ..types import ChatMessage, ChatResponse, StopReason, StreamEvent, Usage
from .common import count, excerpt

__all__ = [
    "TOOLS",
    "CliTool",
    "Invocation",
    "OutputParser",
    "Reported",
    "check_temperature_for",
    "exit_failure",
    "failure",
    "invocation",
    "render_prompt",
]


@dataclass(frozen=True, slots=True)
class Invocation:
    """What to run: the argv (argv[0] the program's path) and the text for its stdin."""

    argv: tuple[str, ...]
    stdin: str


@dataclass(frozen=True, slots=True)
class CliTool:
    """One command-line tool: how to find it, run it and read it. A quirk is a column."""

    name: str  # the registry row
    program: str
    path_env: str  # overrides PATH lookup when set and not blank
    install: str
    sign_in: str
    default_timeout_s: float
    # Always passed, after the program: the non-interactive mode and the output format.
    base_args: tuple[str, ...]
    # Passed unless agent mode is on: the tool's tools off, where it has a switch.
    completion_args: tuple[str, ...]
    # Passed only in agent mode: the tool's tools on, its permission prompts skipped.
    agent_args: tuple[str, ...]
    # The flag that carries the system prompt; None: prepended to the prompt.
    system_flag: str | None
    # The temperatures the reference accepts (none is forwarded: no tool has a flag for
    # it); None: any valid temperature.
    temperatures: tuple[float, ...] | None
    parser: type[OutputParser]


def render_prompt(messages: tuple[ChatMessage, ...]) -> tuple[str | None, str]:
    """(system text, prompt) for a conversation (reference §8.6, and C1: every turn).

    A lone user turn is sent as it is; a longer conversation as `[user]` / `[assistant]`
    blocks separated by blank lines, ending with `[assistant]` for the tool to continue.
    """
    system = "\n\n".join(m.text for m in messages if m.role == "system") or None
    turns = [m for m in messages if m.role != "system"]
    if len(turns) == 1 and turns[0].role == "user":
        return system, turns[0].text
    blocks = [f"[{m.role}]\n{m.text}" for m in turns]
    return system, "\n\n".join([*blocks, "[assistant]"])


def _forwarded(model: str | None) -> str | None:
    # Reference §8.6: "default" means the tool's own choice, as no model does.
    if model is None or not model.strip() or model.strip().lower() == "default":
        return None
    return model.strip()


def invocation(
    tool: CliTool,
    program_path: str,
    messages: tuple[ChatMessage, ...],
    model: str | None,
    *,
    agent_mode: bool,
) -> Invocation:
    """The argv and stdin for one call. The prompt never goes in argv: it may be long,
    and argv is visible to every user of the machine (`ps`)."""
    system, prompt = render_prompt(messages)
    argv = [program_path, *tool.base_args]
    argv += tool.agent_args if agent_mode else tool.completion_args
    if (name := _forwarded(model)) is not None:
        argv += ["--model", name]
    if system is not None:
        if tool.system_flag is not None:
            argv += [tool.system_flag, _argument(tool, system)]
        else:
            prompt = f"{system}\n\n{prompt}"
    return Invocation(tuple(argv), prompt)


# Linux refuses a single argument longer than 128 KiB (MAX_ARG_STRLEN); a little less
# leaves room for the rest.
_MAX_ARGUMENT_BYTES = 100_000


def _argument(tool: CliTool, text: str) -> str:
    """`text` as one argv element, or an InvalidRequest saying why it cannot be one."""
    if "\0" in text:
        raise InvalidRequest(
            f"The system prompt holds a NUL character, which `{tool.program}` cannot be "
            "given on its command line; remove it.",
            provider=tool.name,
        )
    size = len(text.encode("utf-8"))
    if size > _MAX_ARGUMENT_BYTES:
        raise InvalidRequest(
            f"The system prompt ({size} bytes) is longer than `{tool.program}` can be given "
            f"on its command line ({tool.system_flag}, at most {_MAX_ARGUMENT_BYTES} bytes); "
            "shorten it, or put the long part in the user message.",
            provider=tool.name,
        )
    return text


def check_temperature_for(tool: CliTool, display_name: str, temperature: float | None) -> None:
    """Reference §8.6: gemini-cli and kilocli accept only 0.7 and 1.0 (their defaults)."""
    allowed = tool.temperatures
    if temperature is None or allowed is None:
        return
    if not any(math.isclose(temperature, t, rel_tol=0, abs_tol=1e-9) for t in allowed):
        shown = " or ".join(str(t) for t in allowed)
        raise InvalidRequest(
            f"temperature unsupported by {display_name}: {temperature}. Supported values: "
            f"{shown}. The command has no temperature setting; leave temperature unset.",
            provider=tool.name,
        )


# -- failures ----------------------------------------------------------------------------

# What the tools print when the sign-in is missing or refused, when a limit is hit, when
# the command line is not understood (an older CLI), lower-cased.
_AUTH = (
    "not logged in",
    "please log in",
    "/login",
    "login required",
    "authentication",
    "unauthorized",
    "invalid api key",
    "api key not valid",
    "auth method",
    "credentials",
)
_QUOTA = ("usage limit", "quota", "resource_exhausted", "insufficient credit", "out of credits")
_RATE = ("rate limit", "rate_limit", "too many requests", "429")
_CONTEXT = ("prompt is too long", "context window", "context length", "too many tokens")
_USAGE = ("unknown option", "unknown argument", "unrecognized", "invalid values", "not enough")


def _kind(text: str, api_status: int | None) -> type[ProviderError]:
    """The error class for what a tool said (lower-cased) and the API status it reported."""
    if api_status is not None and 400 <= api_status <= 599:
        # The tool relayed an HTTP failure of its API: E1's rules read it.
        return type(classify_http_error("cli", "cli", api_status, text))
    if any(p in text for p in _AUTH):
        return AuthError
    if any(p in text for p in _QUOTA):
        return QuotaExhausted
    if any(p in text for p in _RATE):
        return RateLimited
    if any(p in text for p in _CONTEXT):
        return ContextWindowExceeded
    if any(p in text for p in _USAGE):
        return InvalidRequest
    return TransientError


def _advice(cls: type[ProviderError], tool: CliTool, display_name: str) -> str:
    if cls is AuthError:
        return f"Sign in with the command itself: {tool.sign_in}."
    if cls is QuotaExhausted:
        return (
            "The plan or credit behind the command's sign-in is used up for now; wait for it "
            "to reset, or use another provider."
        )
    if cls is RateLimited:
        return RATE_LIMIT_ADVICE
    if cls is ContextWindowExceeded:
        return "Shorten the conversation or pick a model with a larger context window."
    if cls is InvalidRequest:
        return f"The installed `{tool.program}` may be too old for construct: update it."
    return (
        f"Check that `{tool.program}` works and is signed in when run by hand "
        f"(`{tool.program}` in a terminal), then retry."
    )


def failure(
    tool: CliTool,
    display_name: str,
    what: str,
    detail: str = "",
    stderr: str = "",
    api_status: int | None = None,
) -> ProviderError:
    """The error for a call the tool failed: `what` happened (`exited with status 1`),
    the tool's own `detail`, the end of its `stderr`."""
    cls = _kind(f"{detail}\n{stderr}".lower(), api_status)
    shown = f": {excerpt(detail, 300)}" if detail.strip() else ""
    end = "" if shown.endswith((".", "!", "?")) else "."
    tail = f" stderr: {stderr}" if stderr else ""
    return cls(
        f"{display_name} (`{tool.program}`) {what}{shown}{end} "
        f"{_advice(cls, tool, display_name)}{tail}",
        provider=tool.name,
        status=api_status,
    )


def exit_failure(
    tool: CliTool, display_name: str, returncode: int, stderr: str, detail: str = ""
) -> ProviderError:
    if returncode < 0:
        what = f"was killed by signal {-returncode}"
    else:
        what = f"exited with status {returncode}"
    return failure(tool, display_name, what, detail, stderr)


# -- output --------------------------------------------------------------------------------

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "stop": "end_turn",
    "stop_sequence": "end_turn",
    "max_tokens": "max_tokens",
    "length": "max_tokens",
    "refusal": "content_filter",
    "content-filter": "content_filter",
    "tool_use": "tool_use",
    "tool-calls": "tool_use",
}


@dataclass(slots=True)
class Reported:
    """A failure the tool reported in its output (an error result)."""

    detail: str
    api_status: int | None = None


class OutputParser:
    """stdout lines in, `StreamEvent`s out, one per call (the StreamParser shape).

    The first line that is not blank decides the format: a JSON object starts the tool's
    JSON-lines output, read by `_event`, where a line that is not JSON is noise and
    skipped; anything else is plain text (a tool that ignored the output flag), every
    line of it the answer."""

    # The tool's output says when the answer is whole (a result line); else its exit does.
    ends_with_result: ClassVar[bool] = True

    def __init__(self, provider: str, display_name: str, model: str | None) -> None:
        self.provider = provider
        self.display_name = display_name
        self.model = _forwarded(model)
        self.reported: Reported | None = None
        self._json: bool | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._answer: str | None = None  # the final text the tool reported, when it does
        self._done = False
        self.usage: Usage | None = None
        self.cost_usd: float | None = None
        self.stop_reason: StopReason | None = None

    @property
    def complete(self) -> bool:
        if self._json is False:
            return bool(self._text)
        return self._done or (not self.ends_with_result and bool(self._text))

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, line: str) -> list[StreamEvent]:
        if self._json is None:
            if not line.strip():
                return []
            self._json = line.lstrip().startswith("{")
        if not self._json:
            piece = line if not self._text else "\n" + line
            return self._add_text(piece)
        if not line.lstrip().startswith("{"):
            return []  # a warning the tool printed on stdout
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            raise InvalidResponse(
                f"{self.display_name} printed an output line that is not JSON: "
                f"{excerpt(line)}. Retry; if it persists, update the command.",
                provider=self.provider,
            ) from None
        return self._event(data) if isinstance(data, dict) else []

    def _event(self, data: dict[str, Any]) -> list[StreamEvent]:
        raise NotImplementedError

    def _add_text(self, piece: str) -> list[StreamEvent]:
        if not piece:
            return []
        self._text.append(piece)
        return [StreamEvent.text(piece)]

    def _add_reasoning(self, piece: str) -> list[StreamEvent]:
        if not piece:
            return []
        self._reasoning.append(piece)
        return [StreamEvent.reasoning(piece)]

    def finish(self) -> list[StreamEvent]:
        """The final event, once the output ended and the command exited 0."""
        if not self.complete:
            what = "printed nothing" if self._json is None else "ended before its result"
            raise InvalidResponse(
                f"{self.display_name} {what}: the command exited without an answer. Retry; "
                "if it persists, run the command by hand to see why.",
                provider=self.provider,
            )
        text = self._answer if self._answer is not None else "".join(self._text)
        reasoning = "".join(self._reasoning).strip() or None
        response = ChatResponse(
            text=text.strip(),
            usage=self.usage,
            stop_reason=self.stop_reason or "end_turn",
            reasoning_content=reasoning,
            model=self.model,
            provider=self.provider,
            cost_usd=self.cost_usd,
        )
        return [StreamEvent.final(response)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cost(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) and math.isfinite(value) else None


def _anthropic_usage(raw: Any) -> Usage | None:
    """Claude Code reports the Messages API's usage: input counts every prompt token,
    cached ones included, as construct's anthropic provider counts them."""
    if not isinstance(raw, dict):
        return None
    keys = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    known = [c for k in keys if (c := count(raw.get(k))) is not None]
    return Usage(
        input_tokens=sum(known) if known else None,
        output_tokens=count(raw.get("output_tokens")),
        cached_input_tokens=count(raw.get("cache_read_input_tokens")),
    )


class ClaudeOutput(OutputParser):
    """`claude -p --output-format stream-json --verbose --include-partial-messages`:
    `system` (init), `stream_event` (the Messages API's stream events: text and thinking
    deltas), `assistant` (each message whole), `user` (tool results), `result` (the
    answer, usage, cost, `is_error`). `--output-format json` prints the `result` alone."""

    def __init__(self, provider: str, display_name: str, model: str | None) -> None:
        super().__init__(provider, display_name, model)
        # Deltas arrived since the last whole message: it was streamed already.
        self._streamed = False

    def _event(self, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type")
        if data.get("parent_tool_use_id"):
            return []  # a subagent's turn (agent mode), not the answer
        if kind == "stream_event":
            event = _dict(data.get("event"))
            if event.get("type") != "content_block_delta":
                return []
            delta = _dict(event.get("delta"))
            self._streamed = True
            if delta.get("type") == "text_delta":
                return self._add_text(_text(delta.get("text")))
            if delta.get("type") == "thinking_delta":
                return self._add_reasoning(_text(delta.get("thinking")))
            return []
        if kind == "assistant":
            return self._message(_dict(data.get("message")))
        if kind == "result":
            self._result(data)
        elif kind == "system" and data.get("subtype") == "init":
            self.model = _text(data.get("model")) or self.model
        return []

    def _message(self, message: dict[str, Any]) -> list[StreamEvent]:
        self.model = _text(message.get("model")) or self.model
        streamed, self._streamed = self._streamed, False
        if streamed:
            return []
        events: list[StreamEvent] = []
        for block in message.get("content") or ():
            block = _dict(block)
            if block.get("type") == "text":
                events += self._add_text(_text(block.get("text")))
            elif block.get("type") == "thinking":
                events += self._add_reasoning(_text(block.get("thinking")))
        return events

    def _result(self, data: dict[str, Any]) -> None:
        self._done = True
        subtype = _text(data.get("subtype"))
        if data.get("is_error") is True or subtype.startswith("error"):
            errors = data.get("errors")
            listed = "; ".join(e for e in errors if isinstance(e, str)) if errors else ""
            status = data.get("api_error_status")
            self.reported = Reported(
                _text(data.get("result")) or listed or subtype or "an error result",
                status if type(status) is int else None,
            )
            return
        if isinstance(data.get("result"), str):
            self._answer = data["result"]
        self.usage = _anthropic_usage(data.get("usage"))
        self.cost_usd = _cost(data.get("total_cost_usd"))
        self.stop_reason = _STOP_REASONS.get(_text(data.get("stop_reason")))


class GeminiOutput(OutputParser):
    """`gemini --output-format stream-json`: `init` (session, model), `message` (the
    prompt echoed as role `user`, then the answer as role `assistant` deltas),
    `tool_use` / `tool_result`, `error` (warnings), `result` (status, stats)."""

    def _event(self, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type")
        if kind == "message":
            if data.get("role") != "assistant":
                return []
            return self._add_text(_text(data.get("content")))
        if kind == "result":
            self._done = True
            if data.get("status") != "success":
                error = _dict(data.get("error"))
                detail = _text(error.get("message")) or _text(error.get("type"))
                self.reported = Reported(detail or "an error result")
                return []
            stats = _dict(data.get("stats"))
            if stats.get("models"):
                self.usage = Usage(
                    input_tokens=count(stats.get("input_tokens")),
                    output_tokens=count(stats.get("output_tokens")),
                    cached_input_tokens=count(stats.get("cached")),
                )
        elif kind == "init":
            self.model = _text(data.get("model")) or self.model
        return []


class KiloOutput(OutputParser):
    """`kilo run --format json`: one object per finished part of the session: `text`
    and `reasoning` (a whole part each, not token by token), `tool_use`, `step_start`,
    `step_finish` (tokens, cost, finish reason), `error`. No result line: the answer is
    whole when the command exits 0."""

    ends_with_result = False

    def __init__(self, provider: str, display_name: str, model: str | None) -> None:
        super().__init__(provider, display_name, model)
        self._tokens: dict[str, int] = {}

    def _event(self, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type")
        part = _dict(data.get("part"))
        if kind == "text":
            text = _text(part.get("text"))
            # Parts of separate steps are paragraphs of one answer.
            return self._add_text(f"\n\n{text}" if self._text and text else text)
        if kind == "reasoning":
            return self._add_reasoning(_text(part.get("text")))
        if kind == "step_finish":
            self._step(part)
        elif kind == "error":
            error = _dict(data.get("error"))
            detail = _text(_dict(error.get("data")).get("message")) or _text(error.get("name"))
            self.reported = Reported(detail or "an error event")
        return []

    def _step(self, part: dict[str, Any]) -> None:
        # A finished step is an answer, even an empty one: the model said nothing more.
        self._done = True
        tokens = _dict(part.get("tokens"))
        cache = _dict(tokens.get("cache"))
        for key, value in (
            ("input", tokens.get("input")),
            ("output", tokens.get("output")),
            ("cache_read", cache.get("read")),
            ("cache_write", cache.get("write")),
        ):
            if (n := count(value)) is not None:
                self._tokens[key] = self._tokens.get(key, 0) + n
        if (cost := _cost(part.get("cost"))) is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost
        self.stop_reason = _STOP_REASONS.get(_text(part.get("reason")), self.stop_reason)
        t = self._tokens
        # Input counts every prompt token, cached ones included (as for anthropic).
        prompt = [t[k] for k in ("input", "cache_read", "cache_write") if k in t]
        self.usage = Usage(
            input_tokens=sum(prompt) if prompt else None,
            output_tokens=t.get("output"),
            cached_input_tokens=t.get("cache_read"),
        )


TOOLS: dict[str, CliTool] = {
    tool.name: tool
    for tool in (
        CliTool(
            name="claude-code",
            program="claude",
            path_env="CLAUDE_CODE_PATH",
            install="curl -fsSL https://claude.ai/install.sh | bash, or brew install --cask "
            "claude-code",
            sign_in="run `claude` in a terminal and sign in with /login",
            default_timeout_s=300,
            # stream-json wants --verbose with -p; the partial messages are the deltas.
            base_args=(
                "--print",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
            ),
            # No built-in tools, and no MCP servers from the user's config (their tools).
            completion_args=("--tools", "", "--strict-mcp-config"),
            agent_args=("--dangerously-skip-permissions",),
            system_flag="--append-system-prompt",
            temperatures=None,
            parser=ClaudeOutput,
        ),
        CliTool(
            name="gemini-cli",
            program="gemini",
            path_env="GEMINI_CLI_PATH",
            install="npm install -g @google/gemini-cli, or brew install gemini-cli",
            sign_in="run `gemini` in a terminal and choose Sign in with Google, or set "
            "GEMINI_API_KEY",
            default_timeout_s=120,
            # No -p: headless mode comes from a stdin that is not a terminal, and the
            # prompt is read from it.
            base_args=("--output-format", "stream-json"),
            # Gemini CLI has no switch that removes its tools; its headless default denies
            # every tool call that would ask for approval.
            completion_args=(),
            agent_args=("--approval-mode", "yolo"),
            system_flag=None,
            temperatures=(0.7, 1.0),
            parser=GeminiOutput,
        ),
        CliTool(
            name="kilocli",
            program="kilo",
            path_env="KILO_CLI_PATH",
            install="npm install -g @kilocode/cli",
            sign_in="run `kilo` in a terminal and add a provider with /connect",
            default_timeout_s=120,
            base_args=("run", "--format", "json"),
            # The read-only agent: Kilo's default agent edits files and runs commands
            # without asking.
            completion_args=("--agent", "ask"),
            agent_args=("--auto",),
            system_flag=None,
            temperatures=(0.7, 1.0),
            parser=KiloOutput,
        ),
    )
}
