"""The command-line tools without I/O: argv, prompt, output lines -> events, failures.

Output lines are in the shapes the tools print today (Claude Code's stream-json and
json, Gemini CLI's stream-json, `kilo run --format json`); the end-to-end runs against
fake programs are in tests/providers/test_cli_provider.py.
"""

from __future__ import annotations

import json

import pytest

from construct.dialects.cli import (
    TOOLS,
    OutputParser,
    check_temperature_for,
    exit_failure,
    failure,
    invocation,
    render_prompt,
)
from construct.errors import (
    AuthError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    QuotaExhausted,
    RateLimited,
    TransientError,
)
from construct.types import ChatMessage, StreamEvent

CLAUDE, GEMINI, KILO = TOOLS["claude-code"], TOOLS["gemini-cli"], TOOLS["kilocli"]


def parse(name: str, *lines: dict | str, model: str | None = None) -> tuple[list, OutputParser]:
    tool = TOOLS[name]
    parser = tool.parser(name, name.upper(), model)
    events: list[StreamEvent] = []
    for line in lines:
        events += parser.feed(line if isinstance(line, str) else json.dumps(line))
    return events, parser


def final(parser: OutputParser):
    events = parser.finish()
    assert len(events) == 1 and events[0].type == "final"
    return events[0].response


# -- the prompt --------------------------------------------------------------------------------


def test_a_lone_user_turn_is_sent_as_it_is() -> None:
    assert render_prompt((ChatMessage.user("Hi"),)) == (None, "Hi")


def test_a_conversation_is_rendered_as_blocks_ending_with_the_assistant() -> None:
    system, prompt = render_prompt(
        (
            ChatMessage.system("One."),
            ChatMessage.user("Q1"),
            ChatMessage.assistant("A1"),
            ChatMessage.system("Two."),
            ChatMessage.user("Q2"),
        )
    )
    assert system == "One.\n\nTwo."
    assert prompt == "[user]\nQ1\n\n[assistant]\nA1\n\n[user]\nQ2\n\n[assistant]"


def test_claude_gets_the_system_prompt_as_a_flag_the_others_in_the_prompt() -> None:
    messages = (ChatMessage.system("Be terse."), ChatMessage.user("Hi"))
    claude = invocation(CLAUDE, "/bin/claude", messages, None, agent_mode=False)
    assert claude.argv[-2:] == ("--append-system-prompt", "Be terse.")
    assert claude.stdin == "Hi"
    gemini = invocation(GEMINI, "/bin/gemini", messages, None, agent_mode=False)
    assert gemini.stdin == "Be terse.\n\nHi"
    assert "Be terse." not in " ".join(gemini.argv)


@pytest.mark.parametrize(
    ("system", "says"), [("a\0b", "NUL character"), ("x" * 100_001, "100001 bytes")]
)
def test_a_system_prompt_argv_cannot_carry_is_refused(system: str, says: str) -> None:
    messages = (ChatMessage.system(system), ChatMessage.user("Hi"))
    with pytest.raises(InvalidRequest, match=says):
        invocation(CLAUDE, "claude", messages, None, agent_mode=False)
    # Prepended to the prompt on stdin, it is fine.
    assert invocation(GEMINI, "gemini", messages, None, agent_mode=False).stdin.endswith("Hi")


def test_argv_starts_with_the_program_found() -> None:
    call = invocation(KILO, "/opt/kilo/bin/kilo", (ChatMessage.user("x"),), "m", agent_mode=False)
    assert call.argv == (
        "/opt/kilo/bin/kilo",
        "run",
        "--format",
        "json",
        "--agent",
        "ask",
        "--model",
        "m",
    )


@pytest.mark.parametrize("name", list(TOOLS))
def test_agent_mode_swaps_the_completion_flags_for_the_agent_flags(name: str) -> None:
    tool = TOOLS[name]
    messages = (ChatMessage.user("x"),)
    plain = invocation(tool, tool.program, messages, None, agent_mode=False).argv
    agent = invocation(tool, tool.program, messages, None, agent_mode=True).argv
    assert plain == (tool.program, *tool.base_args, *tool.completion_args)
    assert agent == (tool.program, *tool.base_args, *tool.agent_args)
    assert tool.agent_args and not set(tool.agent_args) & set(plain)


# -- temperature -------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [None, 0.7, 1.0, 0.7 + 1e-10])
def test_gemini_and_kilo_accept_their_defaults(temperature: float | None) -> None:
    check_temperature_for(GEMINI, "Gemini CLI", temperature)
    check_temperature_for(KILO, "KiloCLI", temperature)


def test_other_temperatures_are_refused_in_the_reference_wording() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_temperature_for(GEMINI, "Gemini CLI", 0.5)
    assert str(caught.value).startswith(
        "temperature unsupported by Gemini CLI: 0.5. Supported values: 0.7 or 1.0."
    )


@pytest.mark.parametrize("temperature", [0.0, 0.2, 2.0])
def test_claude_accepts_any_valid_temperature(temperature: float) -> None:
    check_temperature_for(CLAUDE, "Claude Code (CLI)", temperature)


# -- Claude Code -------------------------------------------------------------------------------

INIT = {"type": "system", "subtype": "init", "model": "claude-opus-4-7", "session_id": "s"}


def delta(kind: str, field: str, text: str) -> dict:
    return {
        "type": "stream_event",
        "session_id": "s",
        "uuid": "u",
        "event": {"type": "content_block_delta", "index": 0, "delta": {"type": kind, field: text}},
    }


def result(**fields) -> dict:
    return {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 1,
        "session_id": "s",
        "result": "Hi there",
        **fields,
    }


def test_claude_partial_messages_stream_text_and_thinking() -> None:
    events, parser = parse(
        "claude-code",
        INIT,
        delta("thinking_delta", "thinking", "Greet back."),
        delta("text_delta", "text", "Hi"),
        delta("text_delta", "text", " there"),
        {
            "type": "assistant",
            "message": {
                "model": "claude-opus-4-7",
                "content": [
                    {"type": "thinking", "thinking": "Greet back."},
                    {"type": "text", "text": "Hi there"},
                ],
            },
        },
        result(usage={"input_tokens": 5, "output_tokens": 2}, total_cost_usd=0.5),
    )
    assert [(e.type, e.delta) for e in events] == [
        ("reasoning_delta", "Greet back."),
        ("text_delta", "Hi"),
        ("text_delta", " there"),
    ]
    response = final(parser)
    assert response.text == "Hi there"
    assert response.reasoning_content == "Greet back."
    assert response.model == "claude-opus-4-7"
    assert response.cost_usd == 0.5


def test_claude_without_partial_messages_gives_each_message_whole() -> None:
    events, parser = parse(
        "claude-code",
        INIT,
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "Hi there"}]}},
        result(),
    )
    assert [e.delta for e in events] == ["Hi there"]
    assert final(parser).text == "Hi there"


def test_claude_json_output_is_the_result_alone() -> None:
    # `--output-format json` prints the result object only.
    events, parser = parse("claude-code", result(result="  Paris.\n", stop_reason="max_tokens"))
    assert events == []
    response = final(parser)
    assert response.text == "Paris."
    assert response.stop_reason == "max_tokens"


def test_claude_subagent_output_is_not_the_answer() -> None:
    sub = {**delta("text_delta", "text", "searching..."), "parent_tool_use_id": "toolu_1"}
    events, _ = parse("claude-code", INIT, sub, delta("text_delta", "text", "Done"))
    assert [e.delta for e in events] == ["Done"]


def test_claude_error_result_is_reported_with_its_api_status() -> None:
    _, parser = parse(
        "claude-code",
        INIT,
        result(is_error=True, result="API Error: 429 rate_limit_error", api_error_status=429),
    )
    assert parser.reported is not None
    assert parser.reported.api_status == 429
    error = failure(
        CLAUDE,
        "Claude Code (CLI)",
        "exited with status 1",
        parser.reported.detail,
        "",
        parser.reported.api_status,
    )
    assert isinstance(error, RateLimited) and error.status == 429


def test_claude_error_subtypes_are_failures() -> None:
    _, parser = parse(
        "claude-code",
        {"type": "result", "subtype": "error_max_turns", "is_error": True, "session_id": "s"},
    )
    assert parser.reported is not None and parser.reported.detail == "error_max_turns"


def test_claude_output_without_a_result_is_incomplete() -> None:
    _, parser = parse("claude-code", INIT, delta("text_delta", "text", "Hi"))
    assert not parser.complete
    with pytest.raises(InvalidResponse, match="ended before its result"):
        parser.finish()


# -- Gemini CLI --------------------------------------------------------------------------------

GEMINI_STREAM = [
    {"type": "init", "timestamp": "t", "session_id": "s", "model": "gemini-2.5-flash"},
    {"type": "message", "timestamp": "t", "role": "user", "content": "Stream test"},
    {
        "type": "message",
        "timestamp": "t",
        "role": "assistant",
        "content": "Thinking...",
        "delta": True,
    },
    {"type": "tool_use", "timestamp": "t", "tool_name": "t", "tool_id": "1", "parameters": {}},
    {"type": "tool_result", "timestamp": "t", "tool_id": "1", "status": "success", "output": "ok"},
    {
        "type": "message",
        "timestamp": "t",
        "role": "assistant",
        "content": "Final answer",
        "delta": True,
    },
    {
        "type": "result",
        "timestamp": "t",
        "status": "success",
        "stats": {
            "total_tokens": 9,
            "input_tokens": 6,
            "output_tokens": 3,
            "cached": 2,
            "input": 4,
            "duration_ms": 5,
            "tool_calls": 1,
            "models": {"gemini-2.5-flash": {}},
        },
    },
]


def test_gemini_stream_json_skips_the_echoed_prompt() -> None:
    events, parser = parse("gemini-cli", *GEMINI_STREAM)
    assert [e.delta for e in events] == ["Thinking...", "Final answer"]
    response = final(parser)
    assert response.text == "Thinking...Final answer"
    assert response.model == "gemini-2.5-flash"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, 3)
    assert response.usage.cached_input_tokens == 2


def test_gemini_stats_without_models_are_no_usage() -> None:
    stats = {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0, "models": {}}
    _, parser = parse(
        "gemini-cli",
        {"type": "message", "role": "assistant", "content": "x", "delta": True},
        {"type": "result", "status": "success", "stats": stats},
    )
    assert final(parser).usage is None


def test_gemini_error_result_is_reported() -> None:
    _, parser = parse(
        "gemini-cli",
        {
            "type": "result",
            "status": "error",
            "error": {"type": "Error", "message": "Please set an Auth method"},
        },
    )
    assert parser.reported is not None
    assert isinstance(
        failure(GEMINI, "Gemini CLI", "exited with status 41", parser.reported.detail), AuthError
    )


# -- Kilo --------------------------------------------------------------------------------------


def step_finish(reason: str, **tokens: int) -> dict:
    return {
        "type": "step_finish",
        "timestamp": 1,
        "sessionID": "s",
        "part": {
            "type": "step-finish",
            "reason": reason,
            "cost": 0.25,
            "tokens": {
                "input": tokens.get("input", 0),
                "output": tokens.get("output", 0),
                "reasoning": 0,
                "cache": {"read": tokens.get("read", 0), "write": 0},
            },
        },
    }


def test_kilo_parts_are_paragraphs_and_steps_add_up() -> None:
    events, parser = parse(
        "kilocli",
        {"type": "step_start", "part": {"type": "step-start"}},
        {"type": "reasoning", "part": {"type": "reasoning", "text": "Look first."}},
        {"type": "text", "part": {"type": "text", "text": "Reading the file."}},
        {"type": "tool_use", "part": {"type": "tool", "tool": "read"}},
        step_finish("tool-calls", input=10, output=5, read=3),
        {"type": "text", "part": {"type": "text", "text": "It says hi."}},
        step_finish("stop", input=20, output=7),
    )
    assert [e.delta for e in events] == ["Look first.", "Reading the file.", "\n\nIt says hi."]
    assert parser.complete  # no result line: the exit says it is whole
    response = final(parser)
    assert response.text == "Reading the file.\n\nIt says hi."
    assert response.reasoning_content == "Look first."
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (33, 12)
    assert response.usage.cached_input_tokens == 3
    assert response.cost_usd == 0.5
    assert response.stop_reason == "end_turn"


def test_kilo_step_without_text_is_an_empty_answer() -> None:
    _, parser = parse("kilocli", {"type": "step_start"}, step_finish("stop", output=0))
    assert final(parser).text == ""
    _, nothing = parse("kilocli", {"type": "step_start"})
    assert not nothing.complete


def test_kilo_error_event_is_reported() -> None:
    _, parser = parse(
        "kilocli",
        {
            "type": "error",
            "error": {
                "name": "ProviderAuthError",
                "data": {"message": "Unauthorized: invalid api key"},
            },
        },
    )
    assert parser.reported is not None
    assert parser.reported.detail == "Unauthorized: invalid api key"


# -- any tool ----------------------------------------------------------------------------------


def test_plain_text_output_is_the_answer() -> None:
    events, parser = parse("gemini-cli", "", "Plain answer,", "{not json but text}", "")
    assert [e.delta for e in events] == ["Plain answer,", "\n{not json but text}", "\n"]
    assert final(parser).text == "Plain answer,\n{not json but text}"


def test_noise_between_json_lines_is_skipped() -> None:
    events, parser = parse(
        "claude-code",
        INIT,
        "Warning: a newer version is available",
        delta("text_delta", "text", "Hi"),
        result(result="Hi"),
    )
    assert [e.delta for e in events] == ["Hi"]
    assert final(parser).text == "Hi"


def test_a_broken_json_line_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponse, match="not JSON"):
        parse("kilocli", {"type": "step_start"}, '{"type": "text", "part": ')


def test_no_output_at_all_is_an_invalid_response() -> None:
    _, parser = parse("kilocli", "", "   ")
    with pytest.raises(InvalidResponse, match="printed nothing"):
        parser.finish()


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "api_status", "kind"),
    [
        ("Invalid API key · Please run /login", None, AuthError),
        ("Not logged in", None, AuthError),
        ("Please set an Auth method in your settings.json", None, AuthError),
        ("Claude AI usage limit reached|1760000000", None, QuotaExhausted),
        ("RESOURCE_EXHAUSTED: quota exceeded", None, QuotaExhausted),
        ("429 Too Many Requests", None, RateLimited),
        ("Prompt is too long", None, ContextWindowExceeded),
        ("error: unknown option '--tools'", None, InvalidRequest),
        ("fetch failed: ECONNRESET", None, TransientError),
        ("", None, TransientError),
        ("overloaded", 529, TransientError),
        ("bad key", 401, AuthError),
        ("prompt is too long: 210000 tokens > 200000 maximum", 400, ContextWindowExceeded),
    ],
)
def test_failures_are_classified_by_what_the_tool_said(
    text: str, api_status: int | None, kind: type
) -> None:
    error = failure(CLAUDE, "Claude Code (CLI)", "exited with status 1", text, "", api_status)
    assert type(error) is kind
    assert error.provider == "claude-code"


def test_an_exit_failure_says_the_status_the_advice_and_the_stderr() -> None:
    error = exit_failure(KILO, "KiloCLI", 2, "boom | it broke")
    assert str(error) == (
        "KiloCLI (`kilo`) exited with status 2. Check that `kilo` works and is signed in "
        "when run by hand (`kilo` in a terminal), then retry. stderr: boom | it broke"
    )


def test_a_signal_is_named() -> None:
    assert "was killed by signal 9" in str(exit_failure(GEMINI, "Gemini CLI", -9, ""))


def test_an_auth_failure_says_how_to_sign_in() -> None:
    error = failure(GEMINI, "Gemini CLI", "exited with status 41", "Not logged in")
    assert "Sign in with Google" in str(error) and "GEMINI_API_KEY" in str(error)
