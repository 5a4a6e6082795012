"""Copilot's dialect: OpenAI chat completions (the same body, the same parser), the image
header, and Copilot's model list. Dict in, dict out."""

from __future__ import annotations

import pytest

from construct.dialects import copilot, openai_chat
from construct.errors import InvalidResponse
from construct.options import ProviderRuntimeOptions
from construct.registry import resolve
from construct.types import ChatMessage, ChatRequest, ImagePart, TextPart, ToolSpec
from tests.oracle import completion, validate_chat_request

OPTS = ProviderRuntimeOptions()
TOOL = ToolSpec("lookup", "Look a word up", {"type": "object", "properties": {}})


def dialects() -> tuple[copilot.CopilotChat, openai_chat.OpenAIChat]:
    resolved = resolve("copilot")
    return copilot.build(resolved, OPTS), openai_chat.build(resolved, OPTS)


def test_the_request_is_openai_chat_to_the_rows_url() -> None:
    ours, openai = dialects()
    request = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hi")), tools=(TOOL,))
    for stream in (False, True):
        req = ours.chat_request(request, "gpt-4o", 0.2, stream, {"Authorization": "Bearer x"})
        same = openai.chat_request(request, "gpt-4o", 0.2, stream, {"Authorization": "Bearer x"})
        assert (req.method, req.url) == ("POST", "https://api.githubcopilot.com/chat/completions")
        assert req.json == same.json and req.headers == same.headers
        validate_chat_request(req.json)
    assert ours.models_request({}).url == "https://api.githubcopilot.com/models"


def test_an_image_adds_the_vision_header() -> None:
    ours, _ = dialects()
    image = ChatMessage("user", (TextPart("What is it?"), ImagePart("data:image/png;base64,AA")))
    req = ours.chat_request(ChatRequest((image,)), "gpt-4o", None, False, {})
    assert req.headers["Copilot-Vision-Request"] == "true"


def test_answers_are_read_by_the_openai_parser() -> None:
    ours, _ = dialects()
    response = ours.parse_chat(completion("Hello!", model="gpt-4o-2024-11-20"), "gpt-4o")
    assert (response.text, response.model, response.provider) == (
        "Hello!",
        "gpt-4o-2024-11-20",
        "copilot",
    )


def test_tools_refused_go_to_the_prompt_in_copilots_dialect() -> None:
    ours, _ = dialects()
    guided = ours.prompt_guided()
    assert isinstance(guided, copilot.CopilotChat) and not guided.settings.native_tools


def test_the_model_list_keeps_chat_models_with_their_limits() -> None:
    ours, _ = dialects()
    data = {
        "data": [
            {
                "id": "claude-sonnet-4.5",
                "name": "Claude Sonnet 4.5",
                "capabilities": {
                    "type": "chat",
                    "limits": {"max_context_window_tokens": 200000, "max_output_tokens": 32000},
                    "supports": {"vision": True, "tool_calls": True},
                },
            },
            {"id": "o3-mini", "capabilities": {"type": "chat", "limits": {}, "supports": {}}},
            {"id": "text-embedding-3-small", "capabilities": {"type": "embeddings"}},
            {"id": "plain"},
            {"id": 7},
            "junk",
            {
                "id": "odd-limits",
                "capabilities": {
                    "type": "chat",
                    "limits": {"max_context_window_tokens": "lots"},
                    "supports": {"vision": "yes"},
                },
            },
        ]
    }
    entries = ours.parse_models(data)
    assert [
        (e.model_id, e.display_name, e.context_window, e.max_output_tokens) for e in entries
    ] == [
        ("claude-sonnet-4.5", "Claude Sonnet 4.5", 200000, 32000),
        ("o3-mini", None, None, None),
        ("plain", None, None, None),
        ("odd-limits", None, None, None),
    ]
    assert [e.supports_image_input for e in entries] == [True, None, None, None]


@pytest.mark.parametrize("data", [[], {"models": []}, {"data": {}}])
def test_a_model_list_without_data_is_an_invalid_response(data: object) -> None:
    ours, _ = dialects()
    with pytest.raises(InvalidResponse, match="no 'data' array"):
        ours.parse_models(data)
