"""Tool calling for models without a native tool API (reference §2.4-§2.5).

The tools are described in the system prompt; the model answers with
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks, which
construct parses back into `ToolCall`s (C2), so callers see the same
`ChatResponse.tool_calls` whatever the provider. Earlier tool turns of the
conversation are rendered back into the same text protocol.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ..types import ChatMessage, ToolCall, ToolSpec, new_tool_call_id

__all__ = ["build_tool_instructions", "parse_tool_calls", "render_prompt_guided"]

# Compiled on first use (re caches them): import time is a feature.
_TAG = r"(?s)<(tool_call|toolcall|tool-call)>(.*?)</\1>"
_FENCE = r"^```(?:json)?\s*|\s*```$"


def build_tool_instructions(tools: Sequence[ToolSpec]) -> str:
    lines = [
        "## Tool Use Protocol",
        "",
        "To use a tool, wrap a JSON object in <tool_call></tool_call> tags:",
        "",
        "<tool_call>",
        '{"name": "tool_name", "arguments": {"param": "value"}}',
        "</tool_call>",
        "",
        "You may use multiple tool calls in a single response. After tool execution, results "
        "appear in <tool_result> tags. Continue reasoning with the results until you can give "
        "a final answer.",
        "",
        "### Available Tools",
        "",
    ]
    for tool in tools:
        params = json.dumps(dict(tool.parameters), separators=(",", ":"), ensure_ascii=False)
        lines += [f"**{tool.name}**: {tool.description}", f"Parameters: `{params}`", ""]
    # Every section, the last included, ends with a blank line (reference §2.4).
    return "\n".join(lines) + "\n"


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """(text outside the tags, tool calls). Malformed or nameless calls are dropped."""
    if "<tool" not in text:
        return text, []
    calls: list[ToolCall] = []
    for match in re.finditer(_TAG, text):
        body = re.sub(_FENCE, "", match.group(2).strip())
        try:
            data = json.loads(body)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        name = data.get("name")
        if not isinstance(name, str) or not name:
            continue
        args = data.get("arguments", data.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                args = {}
        calls.append(
            ToolCall(
                id=str(data.get("id") or new_tool_call_id()),
                name=name,
                arguments=json.dumps(args if args is not None else {}, ensure_ascii=False),
            )
        )
    outside = [part.strip() for part in re.split(_TAG, text)[::3] if part.strip()]
    return "\n".join(outside), calls


def render_prompt_guided(
    messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] | None
) -> list[ChatMessage]:
    """The conversation rewritten for a model that knows tools only from its prompt."""
    out: list[ChatMessage] = []
    pending_results: list[str] = []

    def flush_results() -> None:
        if pending_results:
            out.append(ChatMessage.user("[Tool results]\n" + "\n".join(pending_results)))
            pending_results.clear()

    for m in messages:
        if m.role == "tool":
            pending_results.append(f'<tool_result id="{m.tool_call_id}">\n{m.text}\n</tool_result>')
            continue
        flush_results()
        if m.role == "assistant" and m.tool_calls:
            blocks = [m.text] if m.text else []
            for call in m.tool_calls:
                payload = {"id": call.id, "name": call.name, "arguments": call.parsed_arguments()}
                blocks.append(
                    f"<tool_call>\n{json.dumps(payload, ensure_ascii=False)}\n</tool_call>"
                )
            out.append(ChatMessage.assistant("\n".join(blocks)))
        else:
            out.append(m)
    flush_results()
    if tools:
        instructions = build_tool_instructions(tools)
        for i, m in enumerate(out):
            if m.role == "system":
                text = f"{m.text}\n\n{instructions}" if m.text else instructions
                out[i] = ChatMessage.system(text)
                break
        else:
            out.insert(0, ChatMessage.system(instructions))
    return out
