"""Prompt-guided tool calling (reference §2.4-§2.5): instructions out, `<tool_call>` tags back."""

from __future__ import annotations

import json

import pytest

from construct.dialects.prompt_tools import (
    build_tool_instructions,
    parse_tool_calls,
    render_prompt_guided,
)
from construct.types import ChatMessage, ToolCall, ToolSpec

PREAMBLE = (
    "## Tool Use Protocol\n"
    "\n"
    "To use a tool, wrap a JSON object in <tool_call></tool_call> tags:\n"
    "\n"
    "<tool_call>\n"
    '{"name": "tool_name", "arguments": {"param": "value"}}\n'
    "</tool_call>\n"
    "\n"
    "You may use multiple tool calls in a single response. After tool execution, results "
    "appear in <tool_result> tags. Continue reasoning with the results until you can give a "
    "final answer.\n"
    "\n"
    "### Available Tools\n"
    "\n"
)
SHELL = ToolSpec(
    "shell",
    "Execute commands",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)
READ = ToolSpec("file_read", "Lire un fichier", {"type": "object", "properties": {}})


def test_instructions_without_tools_keep_the_header_and_the_tools_heading() -> None:
    assert build_tool_instructions([]) == PREAMBLE


def test_instructions_for_two_tools() -> None:
    assert build_tool_instructions([SHELL, READ]) == (
        PREAMBLE
        + "**shell**: Execute commands\n"
        + 'Parameters: `{"type":"object","properties":{"command":{"type":"string"}},'
        + '"required":["command"]}`\n'
        + "\n"
        + "**file_read**: Lire un fichier\n"
        + 'Parameters: `{"type":"object","properties":{}}`\n'
        + "\n"
    )


def one(text: str) -> ToolCall:
    rest, calls = parse_tool_calls(text)
    assert len(calls) == 1, (rest, calls)
    return calls[0]


def test_one_call_with_surrounding_text() -> None:
    text, calls = parse_tool_calls(
        'Let me check.\n<tool_call>\n{"name": "shell", "arguments": {"command": "ls"}}\n'
        "</tool_call>\nDone soon."
    )
    assert text == "Let me check.\nDone soon."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("shell", {"command": "ls"})]
    assert calls[0].id.startswith("call_")


def test_several_calls_keep_their_order_and_get_distinct_ids() -> None:
    text, calls = parse_tool_calls(
        '  A  <tool_call>{"name": "a", "arguments": {"n": 1}}</tool_call>  B  '
        '<tool_call>{"name": "b", "arguments": {"n": 2}}</tool_call><tool_call>{"name": "c"}'
        "</tool_call>  C  "
    )
    assert text == "A\nB\nC"
    assert [(c.name, c.parsed_arguments()) for c in calls] == [
        ("a", {"n": 1}),
        ("b", {"n": 2}),
        ("c", {}),
    ]
    assert len({c.id for c in calls}) == 3


@pytest.mark.parametrize("tag", ["tool_call", "toolcall", "tool-call"])
def test_alias_tags(tag: str) -> None:
    call = one(f'x <{tag}>{{"name": "shell", "arguments": {{"command": "pwd"}}}}</{tag}> y')
    assert (call.name, call.parsed_arguments()) == ("shell", {"command": "pwd"})


def test_mixed_alias_open_and_close_tags_are_not_a_call() -> None:
    # The closing tag must match the opening one; the text stays as the model wrote it.
    text = '<toolcall>{"name": "a"}</tool-call>'
    assert parse_tool_calls(text) == (text, [])


@pytest.mark.parametrize("fence", ["```json\n", "```\n", "```json "])
def test_fenced_json_inside_the_tag(fence: str) -> None:
    call = one(f'<tool_call>\n{fence}{{"name": "a", "arguments": {{"x": 1}}}}\n```\n</tool_call>')
    assert (call.name, call.parsed_arguments()) == ("a", {"x": 1})


def test_malformed_json_is_skipped_and_its_block_removed() -> None:
    text, calls = parse_tool_calls(
        'before <tool_call>{not json}</tool_call> mid <tool_call>{"name": "ok"}</tool_call> after'
    )
    assert text == "before\nmid\nafter"
    assert [c.name for c in calls] == ["ok"]


@pytest.mark.parametrize(
    "body", ['{"arguments": {}}', '{"name": ""}', '{"name": 7}', "[1, 2]", '"shell"']
)
def test_calls_without_a_string_name_are_skipped(body: str) -> None:
    assert parse_tool_calls(f"t <tool_call>{body}</tool_call>") == ("t", [])


def test_arguments_as_a_json_string_are_decoded() -> None:
    call = one(
        json.dumps({"name": "a", "arguments": json.dumps({"x": [1, 2]})}).join(
            ("<tool_call>", "</tool_call>")
        )
    )
    assert call.parsed_arguments() == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('"not json"', "{}"), ('""', "{}"), ("null", "{}"), ('"  "', "{}"), ("[1, 2]", "[1, 2]")],
)
def test_odd_arguments(arguments: str, expected: str) -> None:
    call = one(f'<tool_call>{{"name": "a", "arguments": {arguments}}}</tool_call>')
    # Any JSON is kept (reference §2.5); a list is not an object, so parsed_arguments is {}.
    assert call.arguments == expected
    assert call.parsed_arguments() == {}


def test_parameters_key_is_read_when_arguments_is_absent() -> None:
    call = one('<tool_call>{"name": "a", "parameters": {"y": 2}}</tool_call>')
    assert call.parsed_arguments() == {"y": 2}
    call = one(
        '<tool_call>{"name": "a", "arguments": {"x": 1}, "parameters": {"y": 2}}</tool_call>'
    )
    assert call.parsed_arguments() == {"x": 1}


def test_an_id_in_the_call_is_kept() -> None:
    assert one('<tool_call>{"id": "c1", "name": "a"}</tool_call>').id == "c1"


def test_non_ascii_arguments_stay_readable() -> None:
    call = one('<tool_call>{"name": "a", "arguments": {"q": "café ☕"}}</tool_call>')
    assert call.arguments == '{"q": "café ☕"}'


def test_an_unclosed_tag_is_no_call_and_the_text_is_kept_whole() -> None:
    text = 'Sure. <tool_call>{"name": "a", "arguments": {}}'
    assert parse_tool_calls(text) == (text, [])
    # A closed call before it is still parsed; the unclosed rest stays in the text.
    text, calls = parse_tool_calls(
        '<tool_call>{"name": "a"}</tool_call> then <tool_call>{"name": "b"}'
    )
    assert [c.name for c in calls] == ["a"]
    assert text == 'then <tool_call>{"name": "b"}'


def test_text_without_tags_is_returned_unchanged() -> None:
    assert parse_tool_calls("  just text  ") == ("  just text  ", [])
    assert parse_tool_calls("<tool_result>x</tool_result>") == ("<tool_result>x</tool_result>", [])


# -- render_prompt_guided -------------------------------------------------------


def test_instructions_are_appended_to_the_first_system_message() -> None:
    out = render_prompt_guided(
        [ChatMessage.system("Be brief."), ChatMessage.system("Second"), ChatMessage.user("hi")],
        [SHELL],
    )
    assert out[0] == ChatMessage.system("Be brief.\n\n" + build_tool_instructions([SHELL]))
    assert out[1:] == [ChatMessage.system("Second"), ChatMessage.user("hi")]


def test_an_empty_system_message_is_replaced_by_the_instructions() -> None:
    out = render_prompt_guided([ChatMessage.system(""), ChatMessage.user("hi")], [SHELL])
    assert out[0] == ChatMessage.system(build_tool_instructions([SHELL]))


def test_instructions_become_the_first_message_when_there_is_no_system() -> None:
    out = render_prompt_guided([ChatMessage.user("hi")], [SHELL])
    assert out == [ChatMessage.system(build_tool_instructions([SHELL])), ChatMessage.user("hi")]


@pytest.mark.parametrize("tools", [None, []])
def test_no_tools_no_instructions(tools: list[ToolSpec] | None) -> None:
    messages = [ChatMessage.system("s"), ChatMessage.user("hi")]
    assert render_prompt_guided(messages, tools) == messages


def test_tool_turns_are_rendered_as_text_and_parse_back() -> None:
    calls = [ToolCall("c1", "shell", '{"command": "ls"}'), ToolCall("c2", "file_read", "")]
    history = [
        ChatMessage.user("list and read"),
        ChatMessage.assistant("Checking.", calls),
        ChatMessage.tool("c1", "a.txt"),
        ChatMessage.tool("c2", "contents"),
        ChatMessage.assistant("Both done."),
    ]
    out = render_prompt_guided(history, None)
    assert [m.role for m in out] == ["user", "assistant", "user", "assistant"]
    assert out[1].tool_calls == ()
    assert out[1].text == (
        "Checking.\n"
        '<tool_call>\n{"id": "c1", "name": "shell", "arguments": {"command": "ls"}}\n</tool_call>\n'
        '<tool_call>\n{"id": "c2", "name": "file_read", "arguments": {}}\n</tool_call>'
    )
    assert out[2] == ChatMessage.user(
        "[Tool results]\n"
        '<tool_result id="c1">\na.txt\n</tool_result>\n'
        '<tool_result id="c2">\ncontents\n</tool_result>'
    )
    assert out[3] == history[4]
    text, parsed = parse_tool_calls(out[1].text)
    assert text == "Checking."
    assert [(c.id, c.name, c.parsed_arguments()) for c in parsed] == [
        ("c1", "shell", {"command": "ls"}),
        ("c2", "file_read", {}),
    ]


def test_an_assistant_turn_with_only_tool_calls_has_no_leading_text() -> None:
    out = render_prompt_guided([ChatMessage.assistant("", [ToolCall("c1", "a", "{}")])], None)
    assert out[0].text == '<tool_call>\n{"id": "c1", "name": "a", "arguments": {}}\n</tool_call>'


def test_results_at_the_end_of_the_history_are_flushed() -> None:
    out = render_prompt_guided(
        [ChatMessage.assistant("", [ToolCall("c1", "a")]), ChatMessage.tool("c1", "ok")], [READ]
    )
    assert [m.role for m in out] == ["system", "assistant", "user"]
    assert out[-1].text == '[Tool results]\n<tool_result id="c1">\nok\n</tool_result>'
