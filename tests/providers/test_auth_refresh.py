"""`HttpProvider` and an auth that fetches its credential before a request (a token
exchange): `refresh` before every sync request is built, `arefresh` awaited (in a worker
thread, never on the event loop) before every async one, `rejected` after a 401, `close`
with the provider."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import respx

from construct import ChatMessage, ChatRequest, ProviderRuntimeOptions
from construct.auth.base import Auth
from construct.dialects import openai_chat
from construct.errors import AuthError, InvalidRequest
from construct.providers.http import HttpProvider
from construct.registry import resolve
from construct.secrets import Secret
from tests.oracle import completion, text_stream

URL = "https://api.groq.com/openai/v1"
HELLO = ChatRequest((ChatMessage.user("Hello"),))


class Exchanging(Auth):
    """Fetches a token on `refresh` (recording the thread it ran on); drops it on a 401."""

    def __init__(self) -> None:
        super().__init__("groq", "Groq", ("GROQ_API_KEY",))
        self.token: str | None = None
        self.fetched = 0
        self.threads: list[int] = []
        self.rejections = 0
        self.closed = 0

    def needs_refresh(self, key: Secret | None) -> bool:
        return self.token is None

    def refresh(self, key: Secret | None) -> None:
        if self.token is None:
            self.fetched += 1
            self.threads.append(threading.get_ident())
            self.token = f"short-lived-{self.fetched}"

    def headers(self, key: Secret | None) -> dict[str, str]:
        assert self.token is not None, "a request was built before refresh"
        return {"Authorization": f"Bearer {self.token}"}

    def rejected(self, key: Secret | None) -> None:
        self.rejections += 1
        self.token = None

    def close(self) -> None:
        self.closed += 1


def provider() -> tuple[HttpProvider, Exchanging]:
    """The groq row and its dialect, with this auth in place of its own."""
    resolved = resolve("groq")
    auth = Exchanging()
    dialect = openai_chat.build(resolved, ProviderRuntimeOptions())
    built = HttpProvider(
        resolved,
        dialect,
        auth,
        key=None,
        key_source=None,
        timeout_s=10,
        connect_timeout_s=5,
        headers={},
    )
    return built, auth


@pytest.fixture
def api():
    def answer(request: httpx.Request) -> httpx.Response:
        if b'"stream": true' in request.content or b'"stream":true' in request.content:
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=text_stream("Hi")
            )
        return httpx.Response(200, json=completion("Hi"))

    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{URL}/chat/completions", name="chat").mock(side_effect=answer)
        mock.get(f"{URL}/models", name="models").mock(
            return_value=httpx.Response(200, json={"data": [{"id": "m"}]})
        )
        yield mock


def test_sync_calls_refresh_before_building(api: respx.MockRouter) -> None:
    p, auth = provider()
    assert p.chat(HELLO, "m").text == "Hi"
    assert "".join(e.delta for e in p.stream(HELLO, "m") if e.type == "text_delta") == "Hi"
    assert [m.model_id for m in p.list_models()] == ["m"]
    assert auth.fetched == 1
    assert api["chat"].calls.last.request.headers["authorization"] == "Bearer short-lived-1"


def test_async_calls_refresh_in_a_worker_thread(api: respx.MockRouter) -> None:
    p, auth = provider()

    async def main() -> int:
        loop_thread = threading.get_ident()
        stream = p.astream(HELLO, "m")  # nothing fetched at the call: it is awaited
        assert auth.fetched == 0
        text = "".join([e.delta async for e in stream if e.type == "text_delta"])
        assert text == "Hi"
        auth.token = None
        assert (await p.achat(HELLO, "m")).text == "Hi"
        auth.token = None
        assert [m.model_id for m in await p.alist_models()] == ["m"]
        # Fresh: no refresh, the stream is built at the call as always.
        stream = p.astream(HELLO, "m")
        assert [e async for e in stream][-1].type == "final"
        return loop_thread

    loop_thread = asyncio.run(main())
    assert auth.fetched == 3
    assert loop_thread not in auth.threads


def test_a_401_tells_the_auth(api: respx.MockRouter) -> None:
    p, auth = provider()
    api["chat"].mock(return_value=httpx.Response(401, json={"error": {"message": "expired"}}))
    with pytest.raises(AuthError):
        p.chat(HELLO, "m")
    with pytest.raises(AuthError):
        list(p.stream(HELLO, "m"))
    api["models"].mock(return_value=httpx.Response(401, json={"error": {"message": "expired"}}))
    with pytest.raises(AuthError):
        p.list_models()
    assert auth.rejections == 3
    assert auth.fetched == 3  # each call fetched anew after the previous 401


def test_other_failures_do_not(api: respx.MockRouter) -> None:
    p, auth = provider()
    api["chat"].mock(return_value=httpx.Response(403, json={"error": {"message": "forbidden"}}))
    with pytest.raises(AuthError):
        p.chat(HELLO, "m")
    api["chat"].mock(return_value=httpx.Response(400, json={"error": {"message": "bad"}}))
    with pytest.raises(InvalidRequest):
        p.chat(HELLO, "m")
    assert auth.rejections == 0 and auth.fetched == 1


def test_closing_the_provider_closes_the_auth() -> None:
    p, auth = provider()
    p.close()
    asyncio.run(p.aclose())
    assert auth.closed == 2
