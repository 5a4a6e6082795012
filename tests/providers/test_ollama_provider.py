"""Ollama end to end through the public API: respx for the endpoints, loopback sockets for
streams that break and servers that are not there; the `ollama` SDK as oracle."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import textwrap
from pathlib import Path

import httpx
import pytest
import respx

from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
    ConfigError,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderRuntimeOptions,
    RateLimited,
    StreamInterrupted,
    ToolSpec,
    TransientError,
    create_provider,
    create_provider_with_options,
    create_provider_with_url,
    list_providers,
)
from construct.config import load_config
from construct.factory import create_provider_from_config
from tests.loopback import LoopbackServer, Reply
from tests.oracle_ollama import (
    chat_response,
    chunk,
    ndjson,
    tags,
    text_stream,
    validate_chat_request,
)

CHAT = "http://localhost:11434/api/chat"
TAGS = "http://localhost:11434/api/tags"
KEY = "ollama-test-key-0123456789abcdef"
# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # noqa: E501
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "ollama.md"
NDJSON = {"content-type": "application/x-ndjson"}


def _request(tools: bool = False) -> ChatRequest:
    return ChatRequest(
        (
            ChatMessage.system("You are terse."),
            ChatMessage.user("What is this?", images=[f"data:image/png;base64,{PNG}"]),
            ChatMessage.assistant("A cat."),
            ChatMessage.user("And the weather in Paris?"),
        ),
        tools=(WEATHER,) if tools else None,
        max_tokens=64,
    )


def _sent(route: respx.Route, i: int = -1) -> tuple[httpx.Request, dict]:
    request = route.calls[i].request
    body = json.loads(request.content)
    validate_chat_request(body)
    return request, body


def _stream_response(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content, headers=NDJSON)


def test_the_row_is_available_local_and_keyless():
    info = {p.name: p for p in list_providers()}["ollama"]
    assert info.available and info.local and info.dialect == "ollama"
    provider = create_provider("ollama")
    caps = provider.capabilities()
    assert caps.native_tool_calling and caps.vision and caps.streaming


def test_chat_without_a_key_sends_no_auth_and_a_valid_body():
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT).mock(
            return_value=httpx.Response(200, json=chat_response("Sunny.", usage=(30, 4)))
        )
        response = create_provider("ollama").chat(_request(tools=True), "llama3.2", 0.3)
    request, body = _sent(route)
    assert "authorization" not in request.headers
    assert body["model"] == "llama3.2" and body["stream"] is False
    assert body["options"] == {"temperature": 0.3, "num_predict": 64}
    assert body["messages"][1]["images"] == [PNG]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert response.text == "Sunny."
    assert response.stop_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 4)
    assert (response.provider, response.model) == ("ollama", "llama3.2")


def test_a_key_is_sent_as_bearer_explicit_or_from_ollama_api_key(monkeypatch):
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=chat_response()))
        create_provider("ollama", KEY).chat(_request(), "m")
        monkeypatch.setenv("OLLAMA_API_KEY", "env-" + KEY)
        create_provider("ollama").chat(_request(), "m")
    assert route.calls[0].request.headers["authorization"] == f"Bearer {KEY}"
    assert route.calls[1].request.headers["authorization"] == f"Bearer env-{KEY}"


def test_no_temperature_and_no_options_unless_asked_for():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=chat_response()))
        create_provider("ollama").chat(ChatRequest((ChatMessage.user("x"),)), "m")
    _, body = _sent(route)
    assert "options" not in body and "think" not in body


def test_achat_and_runtime_options():
    opts = ProviderRuntimeOptions(reasoning_enabled=True, provider_max_tokens=100)
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(
            return_value=httpx.Response(200, json=chat_response("42.", thinking="6*7"))
        )
        provider = create_provider_with_options("ollama", None, opts)
        response = asyncio.run(provider.achat(ChatRequest((ChatMessage.user("6*7?"),)), "qwen3"))
    _, body = _sent(route)
    assert body["think"] is True and body["options"] == {"num_predict": 100}
    assert (response.text, response.reasoning_content) == ("42.", "6*7")


def test_stream_and_astream():
    content = text_stream("Hel", "lo", " there", usage=(7, 3))
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(side_effect=lambda r: _stream_response(content))
        provider = create_provider("ollama")
        events = list(provider.stream(_request(), "m"))

        async def collect():
            return [e async for e in provider.astream(_request(), "m")]

        aevents = asyncio.run(collect())
    for got in (events, aevents):
        assert [e.delta for e in got if e.type == "text_delta"] == ["Hel", "lo", " there"]
        assert [e.type for e in got].count("final") == 1 and got[-1].type == "final"
        final = got[-1].response
        assert final.text == "Hello there" and final.stop_reason == "end_turn"
        assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)
    request, body = _sent(route)
    assert body["stream"] is True
    assert request.headers["accept"] == "application/x-ndjson"


def test_native_tool_calls_plain_and_streamed():
    reply = chat_response("", tool_calls=[("get_weather", {"city": "Paris"})])
    stream = ndjson(
        [
            chunk("", tool_calls=[("get_weather", {"city": "Paris"})]),
            chunk("", tool_calls=[("get_weather", {"city": "Oslo"})]),
            chat_response(""),
        ]
    )
    with respx.mock() as mock:
        mock.post(CHAT).mock(
            side_effect=[httpx.Response(200, json=reply), _stream_response(stream)]
        )
        provider = create_provider("ollama")
        plain = provider.chat(_request(tools=True), "m")
        events = list(provider.stream(_request(tools=True), "m"))
    assert plain.stop_reason == "tool_use"
    assert [(c.name, c.parsed_arguments()) for c in plain.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert plain.tool_calls[0].id.startswith("call_")
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert [c.parsed_arguments() for c in calls] == [{"city": "Paris"}, {"city": "Oslo"}]
    assert events[-1].response.tool_calls == tuple(calls)
    assert events[-1].response.stop_reason == "tool_use"


def test_a_tool_round_trip_names_the_tool_in_the_result():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(
            side_effect=[
                httpx.Response(200, json=chat_response("", tool_calls=[("get_weather", {})])),
                httpx.Response(200, json=chat_response("21 °C.")),
            ]
        )
        provider = create_provider("ollama")
        ask = ChatRequest((ChatMessage.user("Weather?"),), tools=(WEATHER,))
        first = provider.chat(ask, "m")
        call = first.tool_calls[0]
        history = ChatRequest(
            (*ask.messages, ChatMessage.assistant("", [call]), ChatMessage.tool(call.id, "21")),
            tools=(WEATHER,),
        )
        assert provider.chat(history, "m").text == "21 °C."
    _, body = _sent(route)
    assert body["messages"][-1] == {"role": "tool", "content": "21", "tool_name": "get_weather"}
    assert body["messages"][-2]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {}}}
    ]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_model_without_tools_gets_them_in_the_prompt(use_async):
    text = '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'
    refused = {"error": "registry.ollama.ai/library/gemma2:latest does not support tools"}
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(
            side_effect=[
                httpx.Response(400, json=refused),
                httpx.Response(200, json=chat_response(text)),
            ]
        )
        provider = create_provider("ollama")
        ask = _request(tools=True)
        response = asyncio.run(provider.achat(ask, "m")) if use_async else provider.chat(ask, "m")
    _, first = _sent(route, 0)
    _, second = _sent(route, 1)
    assert "tools" in first and "tools" not in second
    assert "## Tool Use Protocol" in second["messages"][0]["content"]
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == [
        ("get_weather", {"city": "Rome"})
    ]


def test_think_refused_is_resent_once_without_it():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(
            side_effect=[
                httpx.Response(400, json={"error": '"llama3.2" does not support thinking'}),
                httpx.Response(200, json=chat_response("Hi.")),
            ]
        )
        provider = create_provider_with_options(
            "ollama", None, ProviderRuntimeOptions(reasoning_enabled=True)
        )
        assert provider.chat(ChatRequest((ChatMessage.user("hi"),)), "llama3.2").text == "Hi."
    assert "think" not in _sent(route, 1)[1]


def test_list_models_sync_and_async():
    with respx.mock() as mock:
        route = mock.get(TAGS).mock(
            return_value=httpx.Response(200, json=tags(("llama3.2:latest", "3.2B", "Q4_K_M")))
        )
        provider = create_provider("ollama")
        models = provider.list_models()
        amodels = asyncio.run(provider.alist_models())
    assert models == amodels
    assert [(m.model_id, m.display_name) for m in models] == [
        ("llama3.2:latest", "llama3.2:latest (3.2B, Q4_K_M)")
    ]
    assert "authorization" not in route.calls.last.request.headers


# -- endpoints and cloud ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_url", "chat", "models"),
    [
        ("http://gpu-box.internal:11434", "http://gpu-box.internal:11434/api/chat", None),
        ("https://ollama.com/api", "https://ollama.com/api/chat", "https://ollama.com/api/tags"),
        ("http://localhost:11434/v1", CHAT, TAGS),
    ],
)
def test_api_url_is_the_server_root_with_or_without_api(api_url, chat, models):
    provider = create_provider_with_url("ollama", KEY, api_url)
    with respx.mock(assert_all_called=True) as mock:
        mock.post(chat).mock(return_value=httpx.Response(200, json=chat_response()))
        provider.chat(_request(), "m")
        if models:
            mock.get(models).mock(return_value=httpx.Response(200, json=tags()))
            assert provider.list_models() == []


def test_cloud_models_at_ollama_com_drop_the_suffix():
    provider = create_provider_with_url("ollama", KEY, "https://ollama.com")
    with respx.mock() as mock:
        route = mock.post("https://ollama.com/api/chat").mock(
            return_value=httpx.Response(200, json=chat_response(model="gpt-oss:120b"))
        )
        provider.chat(_request(), "gpt-oss:120b-cloud")
    request, body = _sent(route)
    assert body["model"] == "gpt-oss:120b"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_cloud_model_at_ollama_com_without_a_key_fails_before_sending():
    provider = create_provider_with_url("ollama", None, "https://ollama.com")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("https://ollama.com/api/chat")
        with pytest.raises(ConfigError, match="requested cloud routing, but no API key"):
            provider.chat(_request(), "glm-4.6:cloud")
        with pytest.raises(ConfigError, match="OLLAMA_API_KEY"):
            list(provider.stream(_request(), "glm-4.6:cloud"))
    assert route.call_count == 0


def test_cloud_models_go_unchanged_to_a_signed_in_local_ollama():
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=chat_response()))
        create_provider("ollama").chat(_request(), "glm-4.6:cloud")
    request, body = _sent(route)
    assert body["model"] == "glm-4.6:cloud" and "authorization" not in request.headers


def test_http_image_urls_are_refused_before_sending():
    ask = ChatRequest((ChatMessage.user("What is it?", images=["https://example.com/a.png"]),))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(CHAT)
        with pytest.raises(InvalidRequest, match="cannot fetch images from URLs"):
            create_provider("ollama").chat(ask, "llava")
    assert route.call_count == 0


# -- errors ------------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": message}, headers=headers)


ERRORS = [
    (_error(401, f"invalid key {KEY}"), AuthError, "invalid key"),
    (_error(403, "forbidden"), AuthError, "forbidden"),
    (_error(404, "model 'nope' not found"), InvalidRequest, "model 'nope' not found"),
    (_error(400, "prompt is too long: 9000 > 8192"), ContextWindowExceeded, "too long"),
    (_error(400, "invalid options"), InvalidRequest, "invalid options"),
    (_error(429, "too many requests", {"retry-after": "7"}), RateLimited, "too many"),
    (_error(500, "llama runner process has terminated"), TransientError, "runner"),
    (_error(503, "server busy, please try again"), TransientError, "busy"),
    (_error(529, "overloaded"), TransientError, "overloaded"),
    (httpx.Response(200, text="<html>proxy</html>"), InvalidResponse, "not JSON"),
    (httpx.Response(200, json={"model": "m", "done": True}), InvalidResponse, "message"),
]


@pytest.mark.parametrize(("reply", "cls", "says"), ERRORS)
def test_error_statuses_map_to_e1_classes_without_the_key(reply, cls, says):
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=reply)
        with pytest.raises(cls) as info:
            create_provider("ollama", KEY).chat(_request(), "m")
    assert type(info.value) is cls
    assert says in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert info.value.provider == "ollama"
    if cls is RateLimited:
        assert info.value.retry_after == 7.0
    if reply.status_code >= 400:
        assert info.value.status == reply.status_code


def test_a_stream_that_ends_without_done_is_not_a_success():
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=_stream_response(ndjson([chunk("Hel"), chunk("lo")])))
        with pytest.raises(StreamInterrupted) as info:
            list(create_provider("ollama").stream(_request(), "m"))
    assert info.value.partial_text == "Hello"


def test_an_error_line_before_output_is_raised_as_is():
    body = ndjson([{"error": "model 'nope' not found"}])
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=_stream_response(body))
        with pytest.raises(InvalidRequest, match="not found"):
            list(create_provider("ollama").stream(_request(), "nope"))


def test_an_error_line_after_output_interrupts_the_stream():
    body = ndjson([chunk("Par"), {"error": "llama runner process has terminated"}])
    with respx.mock() as mock:
        mock.post(CHAT).mock(return_value=_stream_response(body))
        with pytest.raises(StreamInterrupted) as info:
            list(create_provider("ollama").stream(_request(), "m"))
    assert info.value.partial_text == "Par"
    assert "runner" in str(info.value)


# -- real sockets ----------------------------------------------------------------------------------


def _ndjson_reply(lines, **kw) -> Reply:
    return Reply(headers=NDJSON, chunks=[ndjson([line]) for line in lines], **kw)


def test_stream_over_a_socket_and_cut_midway():
    lines = [chunk("Hel"), chunk("lo"), chunk(" world"), chat_response("")]
    with LoopbackServer(lambda r: _ndjson_reply(lines, pause=0.01)) as server:
        provider = create_provider_with_url("ollama", None, server.url)
        events = list(provider.stream(_request(), "m"))
    assert events[-1].response.text == "Hello world"
    assert server.requests[0].path == "/api/chat"
    validate_chat_request(server.requests[0].json())

    with LoopbackServer(lambda r: _ndjson_reply(lines, cut_after=2)) as server:
        provider = create_provider_with_url("ollama", None, server.url)
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(_request(), "m"):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"


def test_async_stream_over_a_socket():
    lines = [chunk("a"), chunk("b"), chat_response("")]
    with LoopbackServer(lambda r: _ndjson_reply(lines)) as server:
        provider = create_provider_with_url("ollama", None, server.url)

        async def run():
            async with provider:
                return [e async for e in provider.astream(_request(), "m")]

        events = asyncio.run(run())
    assert "".join(e.delta for e in events if e.type == "text_delta") == "ab"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("call", ["chat", "stream", "list_models"])
def test_connection_refused_says_ollama_is_not_running_and_how_to_start_it(call):
    provider = create_provider_with_url("ollama", None, f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(TransientError) as info:
        if call == "chat":
            provider.chat(_request(), "m")
        elif call == "stream":
            list(provider.stream(_request(), "m"))
        else:
            provider.list_models()
    message = str(info.value)
    assert "could not connect" in message
    assert "Is Ollama running?" in message
    assert "ollama serve" in message and "https://ollama.com/download" in message
    assert info.value.is_retryable


# -- the doc page ------------------------------------------------------------------------------


def _toml_blocks() -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_config_examples_load_and_build(tmp_path):
    blocks = _toml_blocks()
    assert len(blocks) == 2
    local = tmp_path / "local.toml"
    local.write_text(blocks[0], encoding="utf-8")
    config = load_config(local, environ={})
    assert (config.default_provider, config.default_model) == ("ollama", "llama3.2")
    provider = create_provider_from_config(config)
    assert provider.name == "ollama" and provider.base_url == "http://localhost:11434"

    cloud = tmp_path / "cloud.toml"
    cloud.write_text(blocks[1], encoding="utf-8")
    config = load_config(cloud, environ={"OLLAMA_API_KEY": KEY})
    provider = create_provider_from_config(config)
    with respx.mock() as mock:
        route = mock.post("https://ollama.com/api/chat").mock(
            return_value=httpx.Response(200, json=chat_response())
        )
        provider.chat(_request(), None)
    request, body = _sent(route)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-oss:120b"


def test_the_doc_extra_example_builds_a_valid_body():
    code = re.search(r"```python\n(.*?) *```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    scope: dict = {}
    exec(compile(textwrap.dedent(code), str(DOC), "exec"), scope)
    with respx.mock() as mock:
        route = mock.post(CHAT).mock(return_value=httpx.Response(200, json=chat_response()))
        create_provider("ollama").chat(scope["request"], "gpt-oss:20b")
    _, body = _sent(route)
    assert body["options"] == {"num_ctx": 16384}
    assert body["think"] == "high" and body["keep_alive"] == "10m"


def test_ollama_waits_longer_than_cloud_apis_by_default():
    # Loading a model from disk can take minutes; the option still wins.
    assert create_provider("ollama")._transport._timeout.read == 300.0
    options = ProviderRuntimeOptions(provider_timeout_secs=30)
    assert create_provider_with_options("ollama", None, options)._transport._timeout.read == 30.0
    assert create_provider("groq", "k-1234567890")._transport._timeout.read == 120.0
