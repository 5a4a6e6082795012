"""`construct serve` and `RemoteProvider` through a real Unix socket, in separate processes.

The served provider is the config's, pointed at a loopback OpenAI-compatible server;
the client is `RemoteProvider` (and, once, a bare `socket` + `json` client, as the
Infinity daemon drives a provider process).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ContextWindowExceeded,
    RateLimited,
    StreamInterrupted,
    ToolCall,
    ToolSpec,
)
from construct.remote.launching import launch
from tests.loopback import LoopbackServer, Reply, Request

WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def _sse(*events: dict, done: bool = True) -> list[bytes]:
    out = [f"data: {json.dumps(e)}\n\n".encode() for e in events]
    return out + ([b"data: [DONE]\n\n"] if done else [])


def _delta(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    event = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        event["usage"] = usage
    return event


USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}


def upstream(request: Request) -> Reply:
    """What the loopback OpenAI-compatible server answers, by the last user text."""
    body = request.json()
    text = ""
    for m in body["messages"]:
        if m["role"] == "user":
            c = m["content"]
            text = c if isinstance(c, str) else " ".join(p.get("text", "") for p in c)
    sse = {"content-type": "text/event-stream"}
    if "tool" in text:
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
        chunks = _sse(
            _delta({"role": "assistant", "tool_calls": [call]}),
            _delta({}, "tool_calls", USAGE),
        )
        return Reply(headers=sse, chunks=chunks)
    if "think" in text:
        chunks = _sse(
            _delta({"role": "assistant", "reasoning_content": "Let me "}),
            _delta({"reasoning_content": "think."}),
            _delta({"content": "42"}),
            _delta({}, "stop", USAGE),
        )
        return Reply(headers=sse, chunks=chunks)
    if "busy" in text:
        return Reply(
            429, {"content-type": "application/json"}, b'{"error":{"message":"slow down"}}'
        )
    if "huge" in text:
        error = {
            "message": "maximum context length is 8192 tokens",
            "code": "context_length_exceeded",
        }
        body_ = json.dumps({"error": error}).encode()
        return Reply(400, {"content-type": "application/json"}, body_)
    if "cut" in text:
        chunks = _sse(
            _delta({"role": "assistant", "content": "Hello "}), _delta({"content": "wor"})
        )
        return Reply(headers=sse, chunks=chunks, cut_after=2)
    if not body.get("stream"):
        answer = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "up-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello world"},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
        return Reply(headers={"content-type": "application/json"}, body=json.dumps(answer).encode())
    chunks = _sse(
        _delta({"role": "assistant", "content": "Hello "}),
        _delta({"content": "world"}),
        _delta({}, "stop", USAGE),
    )
    return Reply(headers=sse, chunks=chunks)


CONFIG = """\
default_provider = "custom:{url}/v1"
api_key = "k-test-roundtrip-1234"
default_model = "up-model"

[reliability]
provider_retries = 0

[[models]]
model_id = "fast"
display_name = "Fast model"
model = "up-model"
context_window = 32000
max_output_tokens = 1000
supports_image_input = true

[[models]]
model_id = "fast-beta"
model = "up-model"
context_window = 64000
extra = {{ beta = "on" }}
"""


@pytest.fixture
def up() -> Iterator[LoopbackServer]:
    with LoopbackServer(upstream) as server:
        yield server


def _serve_command(config: Path, protocol: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "construct.cli.main",
        "serve",
        "--config",
        str(config),
        "--protocol",
        protocol,
    ]


@pytest.fixture(params=["v1", "v2", "v3"])
def served(request, up: LoopbackServer, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=up.url), encoding="utf-8")
    provider = launch(
        _serve_command(config, request.param), name="served", timeout_s=20, protocol=request.param
    )
    try:
        yield provider, up
    finally:
        provider.close()


def test_models_are_the_config_catalog_in_order(served) -> None:
    provider, _ = served
    models = provider.list_models()
    assert [m.model_id for m in models] == ["fast", "fast-beta"]
    first = models[0]
    assert (first.display_name, first.context_window, first.max_output_tokens) == (
        "Fast model",
        32000,
        1000,
    )
    assert first.supports_image_input is True
    assert models[1].display_name == "fast-beta" and models[1].supports_image_input is False


def test_text_streams_with_usage(served) -> None:
    provider, up = served
    events = list(provider.stream(ChatRequest([ChatMessage.user("hi")]), "fast"))
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hello ", "world"]
    final = events[-1].response
    assert final.text == "Hello world" and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (11, 4)
    sent = up.requests[-1].json()
    assert sent["model"] == "up-model" and sent["max_tokens"] == 1000


def test_entry_extras_reach_the_upstream_request(served) -> None:
    provider, up = served
    provider.chat(ChatRequest([ChatMessage.user("hi")]), "fast-beta")
    assert up.requests[-1].json()["beta"] == "on"


def test_tool_calls_cross_the_socket(served) -> None:
    provider, up = served
    response = provider.chat(
        ChatRequest([ChatMessage.user("use the tool")], tools=(WEATHER,)), "fast"
    )
    (call,) = response.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == (
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert response.stop_reason == "tool_use"
    assert up.requests[-1].json()["tools"][0]["function"]["name"] == "get_weather"


def test_reasoning_crosses_the_socket(served) -> None:
    provider, _ = served
    events = list(provider.stream(ChatRequest([ChatMessage.user("think hard")]), "fast"))
    assert "".join(e.delta for e in events if e.type == "reasoning_delta") == "Let me think."
    assert events[-1].response.reasoning_content == "Let me think."
    assert events[-1].response.text == "42"


def test_history_with_images_and_tool_results_reaches_upstream(served) -> None:
    provider, up = served
    call = ToolCall("call_9", "get_weather", '{"city": "Oslo"}')
    history = [
        ChatMessage.system("Be brief."),
        ChatMessage.user("what is this", images=[PNG]),
        ChatMessage.assistant("", [call]),
        ChatMessage.tool("call_9", "3 degrees"),
        ChatMessage.user("and now?"),
    ]
    provider.chat(ChatRequest(history, tools=(WEATHER,)), "fast")
    sent = up.requests[-1].json()["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    image = next(p for p in sent[1]["content"] if p["type"] == "image_url")
    assert image["image_url"]["url"] == PNG
    assert sent[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[3]["role"] == "tool" and sent[3]["tool_call_id"] == "call_9"
    assert sent[-1]["content"] == "and now?"


def test_errors_keep_their_class(served) -> None:
    provider, _ = served
    with pytest.raises(RateLimited, match="slow down"):
        provider.chat(ChatRequest([ChatMessage.user("busy")]), "fast")
    with pytest.raises(ContextWindowExceeded) as info:
        provider.chat(ChatRequest([ChatMessage.user("huge")]), "fast")
    assert "ProviderError: ProviderError" not in str(info.value)


def test_a_stream_cut_upstream_is_interrupted_with_its_text(served) -> None:
    provider, _ = served
    with pytest.raises(StreamInterrupted) as info:
        list(provider.stream(ChatRequest([ChatMessage.user("cut")]), "fast"))
    assert info.value.partial_text == "Hello wor"


def test_an_unknown_model_is_refused_with_the_catalog(served) -> None:
    provider, _ = served
    from construct import ProviderError

    with pytest.raises(ProviderError, match=r"unknown model_id 'nope'.*fast, fast-beta"):
        provider.chat(ChatRequest([ChatMessage.user("hi")]), "nope")


def test_async_calls(served) -> None:
    provider, _ = served

    async def run():
        models = await provider.alist_models()
        response = await provider.achat(ChatRequest([ChatMessage.user("hi")]), "fast")
        events = [e async for e in provider.astream(ChatRequest([ChatMessage.user("hi")]))]
        return models, response, events

    models, response, events = asyncio.run(run())
    assert models[0].model_id == "fast"
    assert response.text == "Hello world"
    assert events[-1].response.text == "Hello world"  # no model: the first of the catalog


# -- as the daemon drives it: socket and json only ----------------------------------------


def _lines(path: str, request: str) -> list:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


def test_a_plain_socket_client_drives_construct_serve(up: LoopbackServer, tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=up.url), encoding="utf-8")
    proc = subprocess.Popen(
        _serve_command(config, "v3"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        path = proc.stdout.readline().decode().strip()
        assert path.endswith(".sock") and "/inf-provider-" in path
        assert _lines(path, '"ListModels"') == [
            {
                "Models": [
                    {
                        "model_id": "fast",
                        "display_name": "Fast model",
                        "context_window": 32000,
                        "max_output_tokens": 1000,
                        "supports_image_input": True,
                    },
                    {
                        "model_id": "fast-beta",
                        "display_name": "fast-beta",
                        "context_window": 64000,
                        "max_output_tokens": None,
                        "supports_image_input": False,
                    },
                ]
            }
        ]
        invoke = {
            "InvokeModel": {
                "model_id": "fast",
                "request": {
                    "preamble": "system prompt",
                    "chat_history": [
                        {"role": "user", "content": [{"type": "text", "text": "hello"}]}
                    ],
                    "tools": [],
                    "max_tokens": 42,
                    "additional_params": None,
                },
            }
        }
        lines = _lines(path, json.dumps(invoke))
        assert lines[0] == "InvokeStarted" and lines[-1] == "StreamEnd"
        assert lines[1:3] == [
            {"Chunk": {"Ok": {"Text": "Hello "}}},
            {"Chunk": {"Ok": {"Text": "world"}}},
        ]
        assert lines[3] == {
            "Chunk": {
                "Ok": {
                    "Final": {
                        "usage": {
                            "input_tokens": 11,
                            "output_tokens": 4,
                            "total_tokens": 15,
                            "cached_input_tokens": 0,
                        }
                    }
                }
            }
        }
        assert up.requests[-1].json()["max_tokens"] == 42
        # A v1 request is answered in v1 lines, whatever the server's protocol.
        v1 = {
            "InvokeModel": {
                "model_id": "fast",
                "request": {
                    "model": None,
                    "preamble": None,
                    "chat_history": [
                        {"role": "user", "content": [{"type": "text", "text": "hello"}]}
                    ],
                    "documents": [],
                    "tools": [],
                    "temperature": None,
                    "max_tokens": None,
                    "tool_choice": None,
                    "additional_params": None,
                    "output_schema": None,
                },
            }
        }
        lines = _lines(path, json.dumps(v1))
        assert lines[1] == {"Chunk": {"Message": "Hello "}}
        # Bad input: an Error line and a closed connection; the server lives on.
        for bad in (
            "not json",
            '{"Nope": 1}',
            json.dumps(
                {
                    "InvokeModel": {
                        "model_id": "fast",
                        "request": {"preamble": None, "chat_history": [], "tools": []},
                    }
                }
            ),
        ):
            (error,) = _lines(path, bad)
            assert error["Error"]["class"] == "Fatal"
        (error,) = _lines(path, '"' + "x" * (70 << 20) + '"')
        assert "longer than" in error["Error"]["message"]
        assert _lines(path, '"ListModels"')[0]["Models"][0]["model_id"] == "fast"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert not Path(path).exists()  # the socket is removed on SIGTERM


# -- concurrency and cancellation ----------------------------------------------------------


def test_a_hundred_concurrent_invocations(up: LoopbackServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=up.url), encoding="utf-8")
    provider = launch(_serve_command(config, "v3"), name="served", timeout_s=20)

    async def run():
        one = ChatRequest([ChatMessage.user("hi")])
        return await asyncio.gather(*(provider.achat(one, "fast") for _ in range(100)))

    try:
        answers = asyncio.run(run())
    finally:
        provider.close()
    assert [a.text for a in answers] == ["Hello world"] * 100


def test_a_client_that_hangs_up_cancels_the_upstream_stream(tmp_path: Path) -> None:
    closed: list[float] = []

    def slow(request: Request) -> Reply:
        def chunks():
            try:
                yield _sse(_delta({"role": "assistant", "content": "tick "}), done=False)[0]
                for _ in range(200):
                    yield _sse(_delta({"content": "tick "}), done=False)[0]
            finally:
                closed.append(time.monotonic())

        return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks(), pause=0.05)

    with LoopbackServer(slow) as server:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(url=server.url), encoding="utf-8")
        provider = launch(_serve_command(config, "v3"), name="served", timeout_s=20)
        try:
            stream = provider.stream(ChatRequest([ChatMessage.user("hi")]), "fast")
            assert next(stream).delta == "tick "
            stream.close()  # the client hangs up mid-stream
            hung_up = time.monotonic()
            deadline = hung_up + 3
            while not closed and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            provider.close()
    assert closed, "the upstream stream was left running"
    assert closed[0] - hung_up < 1.0


# -- a provider process written without construct -------------------------------------------

V3_SCRIPT = r"""
import json, os, socket, sys, tempfile, threading, uuid
path = os.path.join(tempfile.gettempdir(), "inf-provider-" + uuid.uuid4().hex[:12] + ".sock")
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen()
print(path, flush=True)
mode = sys.argv[1]
def serve(conn):
    f = conn.makefile("rwb")
    req = json.loads(f.readline())
    def send(obj): f.write((json.dumps(obj) + "\n").encode()); f.flush()
    if req == "ListModels":
        send({"Models": [{"model_id": "tiny", "display_name": "Tiny", "context_window": 4096,
                          "max_output_tokens": None, "supports_image_input": False}]})
    elif mode == "throttled":
        send({"Error": {"message": "ProviderError: too many requests", "class": "Throttled"}})
    elif mode == "nofinal":
        send("InvokeStarted"); send({"Chunk": {"Ok": {"Text": "half"}}}); send("StreamEnd")
    elif mode == "die":
        send("InvokeStarted"); send({"Chunk": {"Ok": {"Text": "par"}}}); os._exit(1)
    else:
        send("InvokeStarted")
        send({"Chunk": {"Ok": {"Text": "from the script"}}})
        send({"Chunk": {"Ok": {"Final": {"usage": {}}}}})
        send("StreamEnd")
    conn.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "provider.py"
    path.write_text(V3_SCRIPT, encoding="utf-8")
    return path


def test_a_process_written_without_construct_is_a_provider(tmp_path: Path) -> None:
    provider = launch([sys.executable, str(_script(tmp_path)), "ok"], name="script", timeout_s=10)
    with provider:
        assert provider.list_models()[0].model_id == "tiny"
        response = provider.chat(ChatRequest([ChatMessage.user("hi")]))
    assert (response.text, response.model, response.provider) == (
        "from the script",
        "tiny",
        "script",
    )
    assert provider.process is None  # closed with the provider


def test_inside_reliable_provider_a_throttled_process_falls_back_to_http(
    tmp_path: Path, up: LoopbackServer
) -> None:
    from construct import ReliableProvider, create_provider

    remote = launch([sys.executable, str(_script(tmp_path)), "throttled"], name="script")
    http = create_provider(f"custom:{up.url}/v1", "k-test-roundtrip-1234")
    chain = ReliableProvider([("script", remote), ("http", http)], retries=1, backoff_ms=0)
    with chain:
        response = chain.chat(ChatRequest([ChatMessage.user("hi")]), "up-model")
    assert response.text == "Hello world" and response.provider == "http"


def test_a_process_that_dies_mid_stream(tmp_path: Path) -> None:
    provider = launch([sys.executable, str(_script(tmp_path)), "die"], name="script")
    with provider, pytest.raises(StreamInterrupted) as info:
        provider.chat(ChatRequest([ChatMessage.user("hi")]), "tiny")
    assert info.value.partial_text == "par"
    assert "closed the connection mid-stream" in str(info.value)


def test_sigterm_lets_a_running_stream_finish_then_removes_the_socket(tmp_path: Path) -> None:
    import signal

    def slow(request: Request) -> Reply:
        events = [_delta({"role": "assistant", "content": "a "})]
        events += [_delta({"content": "b "}) for _ in range(9)]
        events.append(_delta({}, "stop", USAGE))
        return Reply(
            headers={"content-type": "text/event-stream"}, chunks=_sse(*events), pause=0.05
        )

    with LoopbackServer(slow) as server:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(url=server.url), encoding="utf-8")
        provider = launch(_serve_command(config, "v3"), name="served", timeout_s=20)
        process = provider.process
        path = provider.socket_path
        try:
            stream = provider.stream(ChatRequest([ChatMessage.user("hi")]), "fast")
            assert next(stream).delta == "a "
            os.kill(process.pid, signal.SIGTERM)
            rest = list(stream)  # the stream runs to its end within the grace period
            assert rest[-1].type == "final"
            assert rest[-1].response.text == "a " + "b " * 9
            deadline = time.monotonic() + 10
            while process.alive and time.monotonic() < deadline:
                time.sleep(0.05)
            assert process.returncode == 0
        finally:
            provider.close()
    assert not Path(path).exists()


def test_stream_end_without_final_is_interrupted(tmp_path: Path) -> None:
    provider = launch([sys.executable, str(_script(tmp_path)), "nofinal"], name="script")
    with provider, pytest.raises(StreamInterrupted) as info:
        provider.chat(ChatRequest([ChatMessage.user("hi")]), "tiny")
    assert info.value.partial_text == "half"
    assert "without its Final chunk" in str(info.value)
