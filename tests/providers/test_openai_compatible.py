"""Every OpenAI-compatible provider, end to end against respx, with the openai SDK as oracle.

For each row: the URL a chat goes to, the auth header, a body the SDK's request
types accept, and responses built from the SDK's response types parsed, plain
and streamed, sync and async.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, ToolSpec, create_provider
from construct.registry import PROVIDERS
from tests.oracle import chunk, completion, sse, text_stream, validate_chat_request

KEY = "test-key-0123456789abcdef"

# Written out by hand from the reference table and the providers' own docs, so a
# registry edit that moves an endpoint fails here instead of passing silently.
CHAT_URLS = {
    "openrouter": "https://openrouter.ai/api/v1/chat/completions",
    "openai": "https://api.openai.com/v1/chat/completions",
    "telnyx": "https://api.telnyx.com/v2/ai/chat/completions",
    "venice": "https://api.venice.ai/api/v1/chat/completions",
    "vercel": "https://ai-gateway.vercel.sh/v1/chat/completions",
    "cloudflare": "https://gateway.ai.cloudflare.com/v1/acct/gw/compat/chat/completions",
    "moonshot": "https://api.moonshot.cn/v1/chat/completions",
    "kimi-code": "https://api.kimi.com/coding/v1/chat/completions",
    "synthetic": "https://api.synthetic.new/openai/v1/chat/completions",
    "opencode": "https://opencode.ai/zen/v1/chat/completions",
    "opencode-go": "https://opencode.ai/zen/go/v1/chat/completions",
    "zai": "https://api.z.ai/api/coding/paas/v4/chat/completions",
    "glm": "https://api.z.ai/api/paas/v4/chat/completions",
    "minimax": "https://api.minimax.io/v1/chat/completions",
    "qianfan": "https://qianfan.baidubce.com/v2/chat/completions",
    "doubao": "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
    "qwen": "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
    "bailian": "https://coding.dashscope.aliyuncs.com/v1/chat/completions",
    "groq": "https://api.groq.com/openai/v1/chat/completions",
    "mistral": "https://api.mistral.ai/v1/chat/completions",
    "xai": "https://api.x.ai/v1/chat/completions",
    "deepseek": "https://api.deepseek.com/chat/completions",
    "together": "https://api.together.xyz/v1/chat/completions",
    "fireworks": "https://api.fireworks.ai/inference/v1/chat/completions",
    "novita": "https://api.novita.ai/openai/chat/completions",
    "perplexity": "https://api.perplexity.ai/chat/completions",
    "cohere": "https://api.cohere.ai/compatibility/v1/chat/completions",
    "lmstudio": "http://localhost:1234/v1/chat/completions",
    "llamacpp": "http://localhost:8080/v1/chat/completions",
    "sglang": "http://localhost:30000/v1/chat/completions",
    "vllm": "http://localhost:8000/v1/chat/completions",
    "osaurus": "http://localhost:1337/v1/chat/completions",
    "nvidia": "https://integrate.api.nvidia.com/v1/chat/completions",
    "siliconflow": "https://api.siliconflow.cn/v1/chat/completions",
    "aihubmix": "https://aihubmix.com/v1/chat/completions",
    "litellm": "http://localhost:4000/v1/chat/completions",
    "cerebras": "https://api.cerebras.ai/v1/chat/completions",
    "sambanova": "https://api.sambanova.ai/v1/chat/completions",
    "hyperbolic": "https://api.hyperbolic.xyz/v1/chat/completions",
    "deepinfra": "https://api.deepinfra.com/v1/openai/chat/completions",
    "huggingface": "https://router.huggingface.co/v1/chat/completions",
    "ai21": "https://api.ai21.com/studio/v1/chat/completions",
    "reka": "https://api.reka.ai/v1/chat/completions",
    "baseten": "https://inference.baseten.co/v1/chat/completions",
    "nscale": "https://inference.api.nscale.com/v1/chat/completions",
    "anyscale": "https://api.endpoints.anyscale.com/v1/chat/completions",
    "nebius": "https://api.studio.nebius.ai/v1/chat/completions",
    "friendli": "https://api.friendli.ai/serverless/v1/chat/completions",
    "lepton": "https://llama3-1-405b.lepton.run/api/v1/chat/completions",
    "stepfun": "https://api.stepfun.com/v1/chat/completions",
    "baichuan": "https://api.baichuan-ai.com/v1/chat/completions",
    "yi": "https://api.lingyiwanwu.com/v1/chat/completions",
    "hunyuan": "https://api.hunyuan.cloud.tencent.com/v1/chat/completions",
    "ovhcloud": "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1/chat/completions",
    "avian": "https://api.avian.io/v1/chat/completions",
    "astrai": "https://as-trai.com/v1/chat/completions",
    "deepmyst": "https://api.deepmyst.com/v1/chat/completions",
}
# Providers whose models get tools through the prompt (no native tool API).
PROMPT_GUIDED = {"telnyx", "venice", "minimax"}
# Vendor fields beyond OpenAI's request schema, per provider.
EXTENSIONS = {"zai": ("tool_stream",)}

OPENAI_ROWS = [s.name for s in PROVIDERS if s.dialect == "openai_chat"]
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(autouse=True)
def _gateway_ids(monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("CLOUDFLARE_GATEWAY_ID", "gw")


def test_every_openai_compatible_row_has_an_expected_url():
    assert sorted(OPENAI_ROWS) == sorted(CHAT_URLS)


def _request(tools: bool = False) -> ChatRequest:
    return ChatRequest(
        (
            ChatMessage.system("You are terse."),
            ChatMessage.user("What is in this picture?", images=["https://example.com/cat.png"]),
            ChatMessage.assistant("A cat."),
            ChatMessage.user("And the weather in Paris?"),
        ),
        tools=(WEATHER,) if tools else None,
        max_tokens=64,
    )


def _sent(route: respx.Route) -> tuple[httpx.Request, dict]:
    request = route.calls.last.request
    return request, json.loads(request.content)


@pytest.mark.parametrize("name", OPENAI_ROWS)
def test_chat_url_auth_and_body(name):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT_URLS[name]).mock(
            return_value=httpx.Response(200, json=completion("Sunny.", usage=(30, 4), cached=8))
        )
        provider = create_provider(name, KEY)
        response = provider.chat(_request(tools=True), "some-model", temperature=0.3)

    request, body = _sent(route)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    validate_chat_request(body, extensions=EXTENSIONS.get(name, ()))
    assert body["model"] == "some-model"
    assert body["temperature"] == 0.3
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 64
    assert "stream" not in body
    if name in PROMPT_GUIDED:
        assert "tools" not in body
        prompt = json.dumps(body["messages"])
        assert "get_weather" in prompt and "<tool_call>" in prompt
    else:
        assert body["tools"][0]["function"]["name"] == "get_weather"
        assert body["tool_choice"] == "auto"
        user = body["messages"][1]
        assert user["content"][1] == {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.png"},
        }

    assert response.text == "Sunny."
    assert response.stop_reason == "end_turn"
    assert response.usage.input_tokens == 30
    assert response.usage.output_tokens == 4
    assert response.usage.cached_input_tokens == 8
    assert response.provider == name
    assert response.model == "test-model"


@pytest.mark.parametrize("name", OPENAI_ROWS)
def test_stream_sync_and_async(name):
    body_bytes = text_stream("Hel", "lo", " there")
    with respx.mock() as mock:
        route = mock.post(CHAT_URLS[name]).mock(
            side_effect=lambda request: httpx.Response(
                200, content=body_bytes, headers={"content-type": "text/event-stream"}
            )
        )
        provider = create_provider(name, KEY)
        events = list(provider.stream(_request(), "m"))

        async def collect():
            return [e async for e in provider.astream(_request(), "m")]

        aevents = asyncio.run(collect())

    for got in (events, aevents):
        deltas = [e.delta for e in got if e.type == "text_delta"]
        assert "".join(deltas) == "Hello there"
        final = got[-1]
        assert final.type == "final"
        assert [e.type for e in got].count("final") == 1
        assert final.response.text == "Hello there"
        assert final.response.stop_reason == "end_turn"
        assert (final.response.usage.input_tokens, final.response.usage.output_tokens) == (7, 3)

    request, body = _sent(route)
    assert request.headers["accept"] == "text/event-stream"
    validate_chat_request(body, extensions=EXTENSIONS.get(name, ()))
    assert body["stream"] is True
    if name == "cohere":
        assert "stream_options" not in body
    else:
        assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("name", sorted(set(OPENAI_ROWS) - PROMPT_GUIDED))
def test_native_tool_calls_plain_and_streamed(name):
    reply = completion(
        None,
        finish_reason="tool_calls",
        tool_calls=[("call_1", "get_weather", '{"city": "Paris"}')],
    )
    stream = sse(
        [
            chunk(tool_call=(0, "call_1", "get_weather", "")),
            chunk(tool_call=(0, None, None, '{"city": ')),
            chunk(tool_call=(1, "call_2", "get_weather", '{"city"')),
            chunk(tool_call=(0, None, None, '"Paris"}')),
            chunk(tool_call=(1, None, None, ': "Oslo"}')),
            chunk(finish_reason="tool_calls"),
        ]
    )
    with respx.mock() as mock:
        mock.post(CHAT_URLS[name]).mock(
            side_effect=[
                httpx.Response(200, json=reply),
                httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"}),
            ]
        )
        provider = create_provider(name, KEY)
        plain = provider.chat(_request(tools=True), "m")
        events = list(provider.stream(_request(tools=True), "m"))

    assert plain.stop_reason == "tool_use"
    assert [(c.id, c.name, c.parsed_arguments()) for c in plain.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"})
    ]
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert [(c.id, c.parsed_arguments()) for c in calls] == [
        ("call_1", {"city": "Paris"}),
        ("call_2", {"city": "Oslo"}),
    ]
    final = events[-1].response
    assert final.stop_reason == "tool_use"
    assert final.tool_calls == tuple(calls)


@pytest.mark.parametrize("name", sorted(PROMPT_GUIDED))
def test_prompt_guided_tool_calls_come_back_as_tool_calls(name):
    text = (
        "Let me check.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )
    stream = sse(
        [chunk(text[:20]), chunk(text[20:45]), chunk(text[45:]), chunk(finish_reason="stop")]
    )
    with respx.mock() as mock:
        mock.post(CHAT_URLS[name]).mock(
            side_effect=[
                httpx.Response(200, json=completion(text)),
                httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"}),
            ]
        )
        provider = create_provider(name, KEY)
        plain = provider.chat(_request(tools=True), "m")
        events = list(provider.stream(_request(tools=True), "m"))

    assert plain.text == "Let me check."
    assert [(c.name, c.parsed_arguments()) for c in plain.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert plain.stop_reason == "tool_use"
    streamed_text = "".join(e.delta for e in events if e.type == "text_delta")
    assert "<tool_call>" not in streamed_text
    assert streamed_text.strip() == "Let me check."
    assert [e.tool_call.name for e in events if e.type == "tool_call"] == ["get_weather"]
    assert events[-1].response.stop_reason == "tool_use"


def test_tool_results_in_history_are_encoded_for_native_providers():
    call = ("call_9", "get_weather", '{"city": "Paris"}')
    from construct import ToolCall

    history = ChatRequest(
        (
            ChatMessage.user("Weather in Paris?"),
            ChatMessage.assistant("", [ToolCall(*call)]),
            ChatMessage.tool("call_9", '{"temp_c": 21}'),
        ),
        tools=(WEATHER,),
    )
    with respx.mock() as mock:
        route = mock.post(CHAT_URLS["groq"]).mock(
            return_value=httpx.Response(200, json=completion("21 °C."))
        )
        create_provider("groq", KEY).chat(history, "m")
    _, body = _sent(route)
    validate_chat_request(body)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": '{"temp_c": 21}',
    }


def test_minimax_merges_the_system_prompt_into_the_first_user_message():
    with respx.mock() as mock:
        route = mock.post(CHAT_URLS["minimax"]).mock(
            return_value=httpx.Response(200, json=completion())
        )
        create_provider("minimax", KEY).chat(
            ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hi"))), "MiniMax-M2"
        )
    _, body = _sent(route)
    validate_chat_request(body)
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["messages"][0]["content"] == "Be brief.\n\nHi"


def test_zai_sends_tool_stream_with_tools_on_its_global_host_only():
    with respx.mock() as mock:
        global_route = mock.post(CHAT_URLS["zai"]).mock(
            return_value=httpx.Response(200, json=completion())
        )
        cn_route = mock.post("https://open.bigmodel.cn/api/coding/paas/v4/chat/completions").mock(
            return_value=httpx.Response(200, json=completion())
        )
        create_provider("zai", KEY).chat(_request(tools=True), "glm-4.6")
        create_provider("zai", KEY).chat(_request(), "glm-4.6")
        create_provider("zai-cn", KEY).chat(_request(tools=True), "glm-4.6")
    with_tools = json.loads(global_route.calls[0].request.content)
    without_tools = json.loads(global_route.calls[1].request.content)
    assert with_tools["tool_stream"] is True
    assert "tool_stream" not in without_tools
    assert "tool_stream" not in json.loads(cn_route.calls.last.request.content)


@pytest.mark.parametrize(
    ("model", "sent"),
    [("gpt-4o", 0.2), ("o3-mini", None), ("gpt-5", None), ("gpt-5-chat-latest", 0.2)],
)
def test_openai_reasoning_models_get_no_temperature(model, sent):
    with respx.mock() as mock:
        route = mock.post(CHAT_URLS["openai"]).mock(
            return_value=httpx.Response(200, json=completion())
        )
        create_provider("openai", KEY).chat(
            ChatRequest((ChatMessage.user("x"),), max_tokens=9), model, 0.2
        )
    _, body = _sent(route)
    validate_chat_request(body)
    assert body.get("temperature") == sent
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body


def test_no_temperature_is_sent_unless_asked_for():
    with respx.mock() as mock:
        route = mock.post(CHAT_URLS["groq"]).mock(
            return_value=httpx.Response(200, json=completion())
        )
        create_provider("groq", KEY).chat(ChatRequest((ChatMessage.user("x"),)), "m")
    _, body = _sent(route)
    assert "temperature" not in body and "max_tokens" not in body
