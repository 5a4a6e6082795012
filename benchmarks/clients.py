"""The clients a benchmark compares, one small factory each.

A factory takes a `Target` (where the fake server is) and whether to stream,
and returns `(call, close)`: `call()` makes one request and returns a count
the worker checks (characters of answer text, or content chunks of a stream);
`close()` frees the client. Async factories are coroutines, so a client that
needs a running loop (aiohttp) can be built inside it. A client whose calls go
through a provider process returns a third item, `served_cpu()`: the CPU seconds
that process has used so far (None where it cannot be read).

The floors are hand-written: request bytes built once, `json.loads` of the
response, nothing else. Every other row does what a user of that library
would write, including building its request objects per call.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MODEL = "m"
PROMPT = "Say hello."
MESSAGES = [{"role": "user", "content": PROMPT}]
HEADERS = {"Authorization": "Bearer k", "Content-Type": "application/json"}
ANTHROPIC_HEADERS = {
    "x-api-key": "k",
    "anthropic-version": "2023-06-01",
    "Content-Type": "application/json",
}
_OPENAI_BODY = {"model": MODEL, "messages": MESSAGES}
_STREAM_EXTRA = {"stream": True, "stream_options": {"include_usage": True}}
RAW_BODY = json.dumps(_OPENAI_BODY).encode()
RAW_STREAM_BODY = json.dumps({**_OPENAI_BODY, **_STREAM_EXTRA}).encode()
_ANTHROPIC_BODY = {"model": MODEL, "max_tokens": 256, "messages": MESSAGES}
ANTHROPIC_BODY = json.dumps(_ANTHROPIC_BODY).encode()
ANTHROPIC_STREAM_BODY = json.dumps({**_ANTHROPIC_BODY, "stream": True}).encode()


@dataclass(frozen=True, slots=True)
class Target:
    """The fake server, and for streams how many content chunks each one carries and how
    the server writes them: one write per event (paced by `pace_ms`), or all at once."""

    port: int
    chunks: int = 0
    pace_ms: float = 0.0
    burst: bool = False

    @property
    def root(self) -> str:
        # Path prefixes set the stream's shape, so SDKs that take only a base URL get it too.
        prefix = f"/chunks/{self.chunks}" if self.chunks else ""
        if self.pace_ms:
            prefix += f"/pace/{self.pace_ms:g}"
        if self.burst:
            prefix += "/burst"
        return f"http://127.0.0.1:{self.port}{prefix}"

    @property
    def openai_base(self) -> str:
        return self.root + "/v1"


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    is_async: bool
    make: Callable[..., Any]  # (Target, stream) -> (call, close), a coroutine when is_async
    requires: tuple[str, ...] = ()  # modules that must import, else the row is skipped
    floor: str | None = None  # the row this one is measured against; None: it is a floor
    # The plain row a wrapper (or the same provider behind a process) is timed against.
    wraps: str | None = None
    # Time this row against its floor in the same process too (see `partner`).
    pairs_with_floor: bool = False
    # Calls go through a provider process (`construct serve`) to the fake server.
    via_process: bool = False
    modes: frozenset[str] = frozenset(("seq", "conc", "stream", "conns"))

    @property
    def partner(self) -> str | None:
        """The row this one alternates with, block by block, in its own worker process:
        two processes running the same code differ by up to 20 % in CPU per chunk (memory
        layout, which core they share with the server), which would swamp the ratios the
        goals are about; two halves of one round in one process do not."""
        return self.wraps or (self.floor if self.pairs_with_floor else None)


# The stream modes besides `stream` (one write per event): `burst` (the whole stream in
# one write) and `paced` (a pause between events). Only the rows the goals name run them.
STYLES = frozenset(("burst", "paced"))


# -- floors: hand-written HTTP -------------------------------------------------------


def _openai_chunk_count(data: str | bytes, parts: list[str]) -> None:
    chunk = json.loads(data)
    for choice in chunk["choices"]:
        content = choice["delta"].get("content")
        if content:
            parts.append(content)


def raw_httpx(target: Target, stream: bool):
    import httpx

    client = httpx.Client(headers=HEADERS)
    url = target.openai_base + "/chat/completions"

    def call() -> int:
        return len(
            json.loads(client.post(url, content=RAW_BODY).content)["choices"][0]["message"][
                "content"
            ]
        )

    def call_stream() -> int:
        parts: list[str] = []
        # Read to the end (not break at [DONE]) so the connection goes back to the pool.
        with client.stream("POST", url, content=RAW_STREAM_BODY) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    _openai_chunk_count(line[6:], parts)
        return len(parts)

    return (call_stream if stream else call), client.close


async def raw_httpx_async(target: Target, stream: bool):
    import httpx

    client = httpx.AsyncClient(headers=HEADERS)
    url = target.openai_base + "/chat/completions"

    async def call() -> int:
        response = await client.post(url, content=RAW_BODY)
        return len(json.loads(response.content)["choices"][0]["message"]["content"])

    async def call_stream() -> int:
        parts: list[str] = []
        async with client.stream("POST", url, content=RAW_STREAM_BODY) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    _openai_chunk_count(line[6:], parts)
        return len(parts)

    return (call_stream if stream else call), client.aclose


async def raw_aiohttp(target: Target, stream: bool):
    import aiohttp

    session = aiohttp.ClientSession(headers=HEADERS)
    url = target.openai_base + "/chat/completions"

    async def call() -> int:
        async with session.post(url, data=RAW_BODY) as response:
            data = json.loads(await response.read())
        return len(data["choices"][0]["message"]["content"])

    async def call_stream() -> int:
        parts: list[str] = []
        async with session.post(url, data=RAW_STREAM_BODY) as response:
            async for line in response.content:
                if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                    _openai_chunk_count(line[6:], parts)
        return len(parts)

    return (call_stream if stream else call), session.close


def raw_httpx_anthropic(target: Target, stream: bool):
    import httpx

    client = httpx.Client(headers=ANTHROPIC_HEADERS)
    url = target.root + "/v1/messages"

    def call() -> int:
        data = json.loads(client.post(url, content=ANTHROPIC_BODY).content)
        return len(data["content"][0]["text"])

    def call_stream() -> int:
        parts: list[str] = []
        with client.stream("POST", url, content=ANTHROPIC_STREAM_BODY) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["type"] == "content_block_delta":
                        parts.append(event["delta"]["text"])
        return len(parts)

    return (call_stream if stream else call), client.close


# -- construct -----------------------------------------------------------------------


def _request():
    from construct import ChatMessage, ChatRequest

    return ChatRequest([ChatMessage.user(PROMPT)])


def _construct_calls(provider: Any, model: str, stream: bool):
    def call() -> int:
        return len(provider.chat(_request(), model).text)

    def call_stream() -> int:
        return sum(1 for e in provider.stream(_request(), model) if e.type == "text_delta")

    return (call_stream if stream else call), provider.close


def _construct_acalls(provider: Any, model: str, stream: bool):
    async def call() -> int:
        return len((await provider.achat(_request(), model)).text)

    async def call_stream() -> int:
        n = 0
        async for event in provider.astream(_request(), model):
            n += event.type == "text_delta"
        return n

    return (call_stream if stream else call), provider.aclose


def _plain(target: Target):
    from construct import create_provider

    return create_provider(f"custom:{target.openai_base}", "k")


def _routed(target: Target):
    """Router -> ReliableProvider -> HttpProvider: what `create_provider_from_config` builds."""
    from construct import create_routed_provider

    name = f"custom:{target.openai_base}"
    return create_routed_provider(
        name, "k", None, {}, [{"hint": "fast", "provider": name, "model": MODEL}], MODEL
    )


def construct_sync(target: Target, stream: bool):
    return _construct_calls(_plain(target), MODEL, stream)


async def construct_async(target: Target, stream: bool):
    return _construct_acalls(_plain(target), MODEL, stream)


async def construct_aiohttp(target: Target, stream: bool):
    from construct import create_provider_with_options

    provider = create_provider_with_options(
        f"custom:{target.openai_base}", "k", {"http_transport": "aiohttp"}
    )
    return _construct_acalls(provider, MODEL, stream)


async def construct_routed_aiohttp(target: Target, stream: bool):
    from construct import create_routed_provider_with_options

    name = f"custom:{target.openai_base}"
    provider = create_routed_provider_with_options(
        name,
        "k",
        None,
        {},
        [{"hint": "fast", "provider": name, "model": MODEL}],
        MODEL,
        {"http_transport": "aiohttp"},
    )
    return _construct_acalls(provider, "hint:fast", stream)


def construct_routed(target: Target, stream: bool):
    return _construct_calls(_routed(target), "hint:fast", stream)


async def construct_routed_async(target: Target, stream: bool):
    return _construct_acalls(_routed(target), "hint:fast", stream)


def construct_anthropic(target: Target, stream: bool):
    from construct import create_provider
    from construct.providers.http import HttpProvider

    provider = create_provider(f"anthropic-custom:{target.root}", "k")
    if not isinstance(provider, HttpProvider):
        raise ModuleNotFoundError("construct's anthropic_messages dialect is not available")
    return _construct_calls(provider, MODEL, stream)


# -- construct through a provider process ------------------------------------------------

SERVE_CONFIG = """\
default_provider = "custom:{base}"
api_key = "k"
default_model = "{model}"

[[models]]
model_id = "{model}"
"""


def _served(target: Target, transport: str | None = None):
    """A `RemoteProvider` owning a `construct serve` process whose config points at the
    fake server (on `transport`, else the default), and a reader of its CPU time.

    The process answers every call with a stream of its provider (`chat` too), so a
    plain call is served from `/reply/`: one content chunk holding the answer a
    non-streamed request gets, which the worker checks like any other."""
    from construct.remote.launching import launch

    base = target.openai_base if target.chunks else target.root + "/reply/v1"
    text = SERVE_CONFIG.format(base=base, model=MODEL)
    if transport:
        text += f'\n[http]\ntransport = "{transport}"\n'
    with tempfile.TemporaryDirectory() as tmp:  # read once, at start-up
        config = os.path.join(tmp, "config.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        command = [sys.executable, "-m", "construct.cli.main", "serve", "--config", config]
        provider = launch(command, name="bench", timeout_s=30)
    return provider, _cpu_reader(provider.process.pid)


def _cpu_reader(pid: int) -> Callable[[], float] | None:
    """utime + stime of process `pid` (all its threads) in seconds, from /proc (Linux)."""
    path = f"/proc/{pid}/stat"
    if not os.path.exists(path):
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the name in (...) may hold spaces
        return (int(fields[11]) + int(fields[12])) / tick

    return read


def construct_via_process(target: Target, stream: bool):
    provider, served_cpu = _served(target)
    return (*_construct_calls(provider, MODEL, stream), served_cpu)


def construct_via_process_aiohttp(target: Target, stream: bool):
    provider, served_cpu = _served(target, "aiohttp")
    return (*_construct_calls(provider, MODEL, stream), served_cpu)


async def construct_via_process_async(target: Target, stream: bool):
    provider, served_cpu = _served(target)
    return (*_construct_acalls(provider, MODEL, stream), served_cpu)


# -- the libraries users would pick instead ------------------------------------------------


def openai_sync(target: Target, stream: bool):
    from openai import OpenAI

    client = OpenAI(base_url=target.openai_base, api_key="k", max_retries=0)

    def call() -> int:
        reply = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
        return len(reply.choices[0].message.content)

    def call_stream() -> int:
        n = 0
        for chunk in client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                n += 1
        return n

    return (call_stream if stream else call), client.close


async def openai_async(target: Target, stream: bool):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=target.openai_base, api_key="k", max_retries=0)

    async def call() -> int:
        reply = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
        return len(reply.choices[0].message.content)

    async def call_stream() -> int:
        n = 0
        async for chunk in await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                n += 1
        return n

    return (call_stream if stream else call), client.close


def _litellm():
    # Without this LiteLLM fetches its model cost map from the internet at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def litellm_sync(target: Target, stream: bool):
    litellm = _litellm()
    kwargs = {"model": "openai/" + MODEL, "api_base": target.openai_base, "api_key": "k"}

    def call() -> int:
        reply = litellm.completion(messages=[{"role": "user", "content": PROMPT}], **kwargs)
        return len(reply.choices[0].message.content)

    def call_stream() -> int:
        n = 0
        for chunk in litellm.completion(
            messages=[{"role": "user", "content": PROMPT}], stream=True, **kwargs
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                n += 1
        return n

    return (call_stream if stream else call), lambda: None


async def litellm_async(target: Target, stream: bool):
    litellm = _litellm()
    kwargs = {"model": "openai/" + MODEL, "api_base": target.openai_base, "api_key": "k"}

    async def call() -> int:
        reply = await litellm.acompletion(messages=[{"role": "user", "content": PROMPT}], **kwargs)
        return len(reply.choices[0].message.content)

    async def close() -> None:
        return None

    return call, close


_NO_CONC = frozenset(("seq", "stream", "conns"))
_ALL = frozenset(("seq", "conc", "stream", "conns"))
_AIOHTTP = frozenset(("seq", "conc", "stream"))
_PROCESS = frozenset(("seq", "stream", "paced", "conns"))

CLIENTS = [
    Client("raw httpx", False, raw_httpx, ("httpx",), modes=_NO_CONC | STYLES),
    Client(
        "construct",
        False,
        construct_sync,
        ("construct",),
        "raw httpx",
        pairs_with_floor=True,
        modes=_NO_CONC | STYLES,
    ),
    Client(
        "construct routed",
        False,
        construct_routed,
        ("construct",),
        "raw httpx",
        wraps="construct",
        modes=_NO_CONC | STYLES,
    ),
    Client(
        "construct via process",
        False,
        construct_via_process,
        ("construct",),
        "raw httpx",
        wraps="construct",
        via_process=True,
        modes=_PROCESS,
    ),
    Client(
        "construct via process (aiohttp)",
        False,
        construct_via_process_aiohttp,
        ("construct", "aiohttp"),
        "raw httpx",
        wraps="construct",
        via_process=True,
        modes=_PROCESS - {"conns"},
    ),
    Client("openai", False, openai_sync, ("openai",), "raw httpx", modes=_NO_CONC),
    Client("litellm", False, litellm_sync, ("litellm",), "raw httpx", modes=_NO_CONC),
    Client("raw httpx async", True, raw_httpx_async, ("httpx",), modes=_ALL | STYLES),
    Client(
        "construct async",
        True,
        construct_async,
        ("construct",),
        "raw httpx async",
        pairs_with_floor=True,
        modes=_ALL | STYLES,
    ),
    Client(
        "construct routed async",
        True,
        construct_routed_async,
        ("construct",),
        "raw httpx async",
        wraps="construct async",
        modes=_ALL | STYLES,
    ),
    Client(
        "construct via process async",
        True,
        construct_via_process_async,
        ("construct",),
        "raw httpx async",
        wraps="construct async",
        via_process=True,
        modes=_PROCESS,
    ),
    Client("openai async", True, openai_async, ("openai",), "raw httpx async"),
    Client(
        "litellm async",
        True,
        litellm_async,
        ("litellm",),
        "raw httpx async",
        modes=frozenset(("seq",)),
    ),
    Client("raw aiohttp", True, raw_aiohttp, ("aiohttp",), modes=_AIOHTTP | STYLES),
    Client(
        "construct aiohttp",
        True,
        construct_aiohttp,
        ("construct", "aiohttp"),
        "raw aiohttp",
        pairs_with_floor=True,
        modes=_AIOHTTP | STYLES,
    ),
    Client(
        "construct routed aiohttp",
        True,
        construct_routed_aiohttp,
        ("construct", "aiohttp"),
        "raw aiohttp",
        wraps="construct aiohttp",
        modes=frozenset(("stream",)) | STYLES,
    ),
    Client(
        "raw httpx (anthropic)",
        False,
        raw_httpx_anthropic,
        ("httpx",),
        modes=frozenset(("seq", "stream")),
    ),
    Client(
        "construct (anthropic)",
        False,
        construct_anthropic,
        ("construct",),
        "raw httpx (anthropic)",
        pairs_with_floor=True,
        modes=frozenset(("seq", "stream")),
    ),
]
BY_NAME = {c.name: c for c in CLIENTS}
