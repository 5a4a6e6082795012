"""The docs stay true: every Python example runs and prints what the doc says, and the
provider table of docs/providers.md matches the registry.

Examples run against one small respx server that speaks OpenAI chat completions (plain,
streamed, with tools) and lists models, for any host; nothing reaches the network. A
```python block followed directly by a ```text block must print exactly that text.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from construct import list_providers
from construct.registry import get_spec, resolve

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUNNABLE = ("usage.md", "errors.md", "providers.md")
KEYS = {"api.groq.com": "gsk_docs_example_key_0001", "api.openai.com": "sk-docs-example-key-0002"}

_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```\n", re.M | re.S)


def _blocks(text: str) -> list[re.Match[str]]:
    return list(_FENCE.finditer(text))


def _code(block: re.Match[str]) -> str:
    return textwrap.dedent(block.group(3))


def python_examples(name: str) -> list[tuple[str, str, str | None]]:
    """(id, code, expected stdout or None) for each ```python block of a doc."""
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = _blocks(text)
    out = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        if block.group(2) != "python":
            continue
        expected = None
        # A ```text block right after the example (nothing but blank lines between).
        if after and after.group(2) == "text" and not text[block.end() : after.start()].strip():
            expected = _code(after)
        line = text.count("\n", 0, block.start()) + 1
        out.append((f"{name}:{line}", _code(block), expected))
    return out


EXAMPLES = [example for name in RUNNABLE for example in python_examples(name)]


# -- the mock server ------------------------------------------------------------------

REPLIES = {
    "What is the capital of France?": "Paris.",
    "What is the capital of Italy?": "Rome.",
    "What is my name?": "Your name is Ada.",
    "Describe this image in one sentence.": "A grey cat asleep on a sunny windowsill.",
    "Write a haiku about the sea.": (
        "Grey waves fold and break,\nsalt wind carries gull voices,\nthe tide keeps its time."
    ),
}
REASONING = "Five, seven, five syllables; keep it calm."
WEATHER = "It is 18 °C and sunny in Paris."
MODELS = {
    "object": "list",
    "data": [
        {"id": "llama-3.3-70b-versatile", "object": "model", "context_window": 131072},
        {"id": "qwen/qwen3-32b", "object": "model", "context_window": 131072},
    ],
}


def _text_of(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content


def _answer(body: dict) -> tuple[str, str, list[dict]]:
    """(text, reasoning, tool calls) the mock model gives to a request body."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return WEATHER, "", []
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        call = {"id": "call_1", "type": "function", "function": {"name": name}}
        call["function"]["arguments"] = json.dumps({"city": "Paris"})
        return "", "", [call]
    text = REPLIES.get(_text_of(last), "Hello! How can I help?")
    return text, REASONING if "qwen3" in body["model"] else "", []


def _usage(text: str) -> dict:
    return {"prompt_tokens": 21, "completion_tokens": len(text.split()), "total_tokens": 0}


def _completion(body: dict) -> dict:
    text, reasoning, calls = _answer(body)
    message: dict = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-docs",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": _usage(text),
    }


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-docs",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _sse(body: dict) -> bytes:
    text, reasoning, calls = _answer(body)
    model = body["model"]
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    chunks += [_chunk(model, {"reasoning": part}) for part in re.findall(r"\S+\s*", reasoning)]
    chunks += [_chunk(model, {"content": part}) for part in re.findall(r"\S+\s*", text)]
    for call in calls:
        args = call["function"]["arguments"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        head["function"] = {"name": call["function"]["name"], "arguments": args[:5]}
        chunks.append(_chunk(model, {"tool_calls": [head]}))
        tail = {"index": 0, "function": {"arguments": args[5:]}}
        chunks.append(_chunk(model, {"tool_calls": [tail]}))
    chunks.append(_chunk(model, {}, "tool_calls" if calls else "stop"))
    if body.get("stream_options", {}).get("include_usage"):
        chunks.append({"id": "chatcmpl-docs", "choices": [], "usage": _usage(text)})
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _authorized(request: httpx.Request) -> bool:
    expected = KEYS.get(request.url.host)
    return expected is None or request.headers.get("authorization") == f"Bearer {expected}"


def _unauthorized() -> httpx.Response:
    return httpx.Response(401, json={"error": {"message": "Invalid API Key"}})


def chat_completions(request: httpx.Request) -> httpx.Response:
    if not _authorized(request):
        return _unauthorized()
    body = json.loads(request.content)
    if body.get("stream"):
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, content=_sse(body))
    return httpx.Response(200, json=_completion(body))


def models(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=MODELS) if _authorized(request) else _unauthorized()


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[respx.MockRouter]:
    monkeypatch.setenv("GROQ_API_KEY", KEYS["api.groq.com"])
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["api.openai.com"])
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    # The config.toml that docs/usage.md shows, in the directory the examples run in.
    usage = (DOCS / "usage.md").read_text(encoding="utf-8")
    toml = [_code(b) for b in _blocks(usage) if b.group(2) == "toml"]
    (tmp_path / "config.toml").write_text(toml[0] if toml else "", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with respx.mock(assert_all_called=False) as router:
        router.post(url__regex=r"/chat/completions$", name="chat").mock(
            side_effect=chat_completions
        )
        router.get(url__regex=r"/models$", name="models").mock(side_effect=models)
        yield router


@pytest.mark.parametrize(("where", "code", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_runs_and_prints_what_the_doc_says(
    where: str,
    code: str,
    expected: str | None,
    llm_server: respx.MockRouter,
    capsys: pytest.CaptureFixture,
) -> None:
    exec(compile(code, where, "exec"), {"__name__": "__docs_example__"})
    printed = capsys.readouterr().out
    if expected is not None:
        assert printed.rstrip("\n") == expected.rstrip("\n")


def test_every_doc_has_examples_and_usage_covers_the_api() -> None:
    ids = [e[0] for e in EXAMPLES]
    for name in RUNNABLE:
        assert any(i.startswith(name) for i in ids), f"{name} has no python example"
    usage = "\n".join(code for i, code, _ in EXAMPLES if i.startswith("usage.md"))
    for name in (
        "create_provider(",
        "ChatMessage.user(",
        ".chat(",
        ".achat(",
        "chat_with_system(",
        "chat_with_history(",
        ".stream(",
        ".astream(",
        "ToolSpec(",
        "ChatMessage.tool(",
        "list_models(",
        "ProviderRuntimeOptions(",
        "create_provider_from_config(",
    ):
        assert name in usage, f"docs/usage.md has no example using {name}"


def test_usage_examples_talk_to_the_mock(llm_server: respx.MockRouter) -> None:
    for id_, code, _ in EXAMPLES:
        if id_.startswith("usage.md"):
            exec(compile(code, id_, "exec"), {"__name__": "__docs_example__"})
    assert llm_server["chat"].call_count >= 10
    assert llm_server["models"].called
    assert all(call.response.status_code == 200 for call in llm_server.calls)


# -- the provider table ---------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def table_rows() -> list[list[str]]:
    text = (DOCS / "providers.md").read_text(encoding="utf-8")
    section = _section(text, "## The provider table")
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_provider_table_matches_the_registry() -> None:
    rows = table_rows()
    infos = list_providers()
    documented = [_ticked(row[0])[0] for row in rows]
    assert documented == [p.name for p in infos], (
        "docs/providers.md: the provider table must list every registry id once, in order"
    )
    for row, info in zip(rows, infos, strict=True):
        assert len(row) == 6, row
        _, display, aliases, url, env, available = row
        where = f"docs/providers.md, row {info.name}"
        assert display == info.display_name, where
        assert _ticked(aliases) == list(info.aliases), where
        if info.base_url:
            assert _ticked(url) == [info.base_url], where
        else:
            assert url.startswith("—"), where
        assert _ticked(env) == list(info.key_env), where
        if info.available:
            assert available == "yes", where
        else:
            assert available == f"not yet: {get_spec(info.name).pending}", where


def test_region_table_urls_are_what_the_aliases_resolve_to() -> None:
    text = (DOCS / "providers.md").read_text(encoding="utf-8")
    section = _section(text, "### Families and regions")
    pairs = re.findall(r"`(https?://[^`]+)` \(([^)]*)\)", section)
    assert len(pairs) >= 10
    for url, aliases in pairs:
        for alias in _ticked(aliases):
            assert resolve(alias).base_url == url, alias


def test_reference_differences_match_the_registry() -> None:
    urls = {p.name: p.base_url for p in list_providers()}
    assert urls["xai"].endswith("/v1")
    assert urls["venice"].endswith("/api/v1")
    assert urls["cohere"].endswith("/compatibility/v1")
    assert urls["together"].endswith("/v1")
    assert "{CLOUDFLARE_ACCOUNT_ID}/{CLOUDFLARE_GATEWAY_ID}" in urls["cloudflare"]
    assert get_spec("cohere").stream_usage is False
    assert {get_spec(n).auth for n in ("zai", "glm")} == {"bearer"}
    assert get_spec("gemini").auth == "x-goog-api-key"
