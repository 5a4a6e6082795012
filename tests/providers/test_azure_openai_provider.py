"""Azure OpenAI end to end through the public API: respx for HTTP, a loopback server where
a real socket matters, and the openai SDK's own `AzureOpenAI` client as the oracle for the
URL, query, auth header and body (it sends through httpx2, which respx does not see, so its
requests are captured by a loopback server and compared with construct's).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import openai
import pytest
import respx

from construct import (
    ChatMessage,
    ChatRequest,
    ToolCall,
    ToolSpec,
    create_provider,
    create_provider_with_options,
    create_provider_with_url,
)
from construct.config import load_config
from construct.dialects.azure_openai import DEFAULT_API_VERSION
from construct.errors import (
    AuthError,
    ConfigError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderError,
    RateLimited,
    StreamInterrupted,
    TransientError,
)
from construct.factory import create_provider_from_config
from construct.types import ModelEntry, Usage
from tests.loopback import LoopbackServer, Reply, Request
from tests.oracle import chunk, completion, sse, validate_chat_request

KEY = "azurekey0123456789abcdef0123456789"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJjb2duaXRpdmVzZXJ2aWNlcyJ9.c2lnbmF0dXJl"
ENDPOINT = "https://contoso.openai.azure.com"
CHAT = f"{ENDPOINT}/openai/deployments/gpt-4o-prod/chat/completions"
MODELS = f"{ENDPOINT}/openai/models"
VERSION = {"api-version": DEFAULT_API_VERSION}
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "azure-openai.md"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HELLO = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hello")), max_tokens=32)
AZURE_ENV = (
    "AZURE_OPENAI_RESOURCE",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN",
)


@pytest.fixture(autouse=True)
def _contoso(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in AZURE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "contoso")


def sent(route: respx.Route) -> tuple[httpx.Request, dict]:
    request = route.calls.last.request
    return request, json.loads(request.content) if request.content else {}


def azure_body(body: dict) -> None:
    """An OpenAI chat body without `model` (Azure takes it from the URL)."""
    assert "model" not in body
    validate_chat_request({**body, "model": "deployment"})


def sse_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def azure_stream(*pieces: str) -> bytes:
    """A stream as Azure sends it: a first chunk with only prompt filter results."""
    first = chunk(no_choices=True, model="")
    first["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
    return sse(
        [first]
        + [chunk(p, model="gpt-4o-2024-11-20") for p in pieces]
        + [
            chunk(finish_reason="stop", model="gpt-4o-2024-11-20"),
            chunk(usage=(9, 4), no_choices=True, model="gpt-4o-2024-11-20"),
        ]
    )


# -- chat, achat, stream, astream, list_models -------------------------------------------------


@pytest.mark.parametrize("name", ["azure_openai", "azure-openai", "azure", " Azure "])
def test_chat_goes_to_the_deployment_with_the_api_key(name: str) -> None:
    reply = completion("Hi there.", model="gpt-4o-2024-11-20", usage=(25, 3), cached=5)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params=VERSION).mock(return_value=httpx.Response(200, json=reply))
        provider = create_provider(name, KEY)
        got = provider.chat(HELLO, "gpt-4o-prod", temperature=0.3)
    request, body = sent(route)
    assert str(request.url) == f"{CHAT}?api-version={DEFAULT_API_VERSION}"
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers
    azure_body(body)
    assert body["max_completion_tokens"] == 32
    assert body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (got.text, got.stop_reason, got.usage) == ("Hi there.", "end_turn", Usage(25, 3, 5))
    assert (got.provider, got.model) == ("azure_openai", "gpt-4o-2024-11-20")
    assert provider.name == "azure_openai" and provider.display_name == "Azure OpenAI"


def test_achat() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post(CHAT, params=VERSION).mock(return_value=httpx.Response(200, json=completion("a")))
        got = asyncio.run(create_provider("azure", KEY).achat(HELLO, "gpt-4o-prod"))
    assert got.text == "a"


def test_stream_and_astream() -> None:
    body_bytes = azure_stream("Hel", "lo", "!")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params=VERSION).mock(
            side_effect=lambda request: sse_response(body_bytes)
        )
        provider = create_provider("azure", KEY)
        events = list(provider.stream(HELLO, "gpt-4o-prod"))

        async def collect():
            return [e async for e in provider.astream(HELLO, "gpt-4o-prod")]

        aevents = asyncio.run(collect())
    for got in (events, aevents):
        assert [e.delta for e in got if e.type == "text_delta"] == ["Hel", "lo", "!"]
        assert [e.type for e in got].count("final") == 1
        final = got[-1].response
        assert (final.text, final.stop_reason, final.usage) == ("Hello!", "end_turn", Usage(9, 4))
        assert final.model == "gpt-4o-2024-11-20"
    request, body = sent(route)
    assert request.headers["accept"] == "text/event-stream"
    azure_body(body)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_native_tool_calls_plain_and_streamed() -> None:
    reply = completion(
        None,
        finish_reason="tool_calls",
        tool_calls=[("call_1", "get_weather", '{"city": "Paris"}')],
    )
    stream = sse(
        [
            chunk(tool_call=(0, "call_1", "get_weather", "")),
            chunk(tool_call=(0, None, None, '{"city": "Paris"}')),
            chunk(finish_reason="tool_calls"),
        ]
    )
    with respx.mock() as mock:
        route = mock.post(CHAT, params=VERSION).mock(
            side_effect=[httpx.Response(200, json=reply), sse_response(stream)]
        )
        provider = create_provider("azure", KEY)
        request = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,))
        plain = provider.chat(request, "gpt-4o-prod")
        events = list(provider.stream(request, "gpt-4o-prod"))
    expected = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    assert (plain.tool_calls, plain.stop_reason) == ((expected,), "tool_use")
    assert [e.tool_call for e in events if e.type == "tool_call"] == [expected]
    for call in route.calls:
        body = json.loads(call.request.content)
        azure_body(body)
        assert body["tools"][0]["function"]["name"] == "get_weather"
        assert body["tool_choice"] == "auto"


def test_list_models_and_alist_models() -> None:
    listing = {
        "object": "list",
        "data": [
            {
                "id": "gpt-4o-2024-11-20",
                "status": "succeeded",
                "capabilities": {"chat_completion": True, "completion": False},
                "lifecycle_status": "generally-available",
                "created_at": 1_700_000_000,
                "object": "model",
            },
            {"id": "text-embedding-3-small", "capabilities": {"chat_completion": False}},
        ],
    }
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(MODELS, params=VERSION).mock(
            return_value=httpx.Response(200, json=listing)
        )
        provider = create_provider("azure", KEY)
        assert provider.list_models() == [ModelEntry("gpt-4o-2024-11-20")]
        assert asyncio.run(provider.alist_models()) == [ModelEntry("gpt-4o-2024-11-20")]
    assert route.calls.last.request.headers["api-key"] == KEY


# -- credentials, endpoint, deployment ----------------------------------------------------------


def test_an_entra_id_token_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params=VERSION).mock(
            return_value=httpx.Response(200, json=completion())
        )
        provider = create_provider("azure")
        assert provider.key_source is None
        provider.chat(HELLO, "gpt-4o-prod")
    request, _ = sent(route)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in request.headers


def test_a_key_wins_over_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params=VERSION).mock(
            return_value=httpx.Response(200, json=completion())
        )
        provider = create_provider("azure")
        assert provider.key_source == "AZURE_OPENAI_API_KEY"
        provider.chat(HELLO, "gpt-4o-prod")
    request, _ = sent(route)
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers


def test_no_credentials_fail_on_the_first_call_and_send_nothing() -> None:
    provider = create_provider("azure")  # K2: building never fails for a missing key
    with respx.mock(assert_all_mocked=True) as mock:
        for call in (
            lambda: provider.chat(HELLO, "gpt-4o-prod"),
            lambda: list(provider.stream(HELLO, "gpt-4o-prod")),
            provider.list_models,
        ):
            with pytest.raises(AuthError) as info:
                call()
            assert "AZURE_OPENAI_API_KEY" in str(info.value)
            assert "AZURE_OPENAI_AD_TOKEN" in str(info.value)
        assert not mock.calls


def test_no_resource_fails_on_the_first_call_with_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_RESOURCE")
    provider = create_provider("azure", KEY)
    with respx.mock(assert_all_mocked=True) as mock:
        with pytest.raises(ConfigError, match="AZURE_OPENAI_RESOURCE"):
            provider.chat(HELLO, "gpt-4o-prod")
        with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT"):
            provider.list_models()
        assert not mock.calls


def test_the_sdk_endpoint_variable_and_a_deployment_variable(monkeypatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_RESOURCE")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT + "/")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-prod")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params={"api-version": "2025-04-01-preview"}).mock(
            return_value=httpx.Response(200, json=completion())
        )
        create_provider("azure", KEY).chat(HELLO, "whatever-the-model-says")
    assert route.called


@pytest.mark.parametrize(
    ("api_url", "chat_url"),
    [
        (
            "https://gw.example.test/",
            "https://gw.example.test/openai/deployments/gpt-4o-prod/chat/completions",
        ),
        (
            "https://contoso.openai.azure.com/openai/deployments/pinned/chat/completions"
            "?api-version=2025-01-01-preview",
            "https://contoso.openai.azure.com/openai/deployments/pinned/chat/completions",
        ),
    ],
)
def test_api_url_replaces_the_endpoint(api_url: str, chat_url: str) -> None:
    provider = create_provider_with_url("azure", KEY, api_url)
    assert provider.base_url == api_url.rstrip("/")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(chat_url).mock(return_value=httpx.Response(200, json=completion()))
        provider.chat(HELLO, "gpt-4o-prod")
    request, body = sent(route)
    expected = "2025-01-01-preview" if "preview" in api_url else DEFAULT_API_VERSION
    assert request.url.params["api-version"] == expected
    azure_body(body)


def test_runtime_options_reach_the_body() -> None:
    options = {
        "provider_max_tokens": 77,
        "reasoning_effort": "low",
        "extra_headers": {"X-Trace": "1"},
    }
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT.replace("gpt-4o-prod", "o4-mini"), params=VERSION).mock(
            return_value=httpx.Response(200, json=completion())
        )
        provider = create_provider_with_options("azure", KEY, options)
        provider.chat(ChatRequest((ChatMessage.user("x"),)), "o4-mini", temperature=0.5)
    request, body = sent(route)
    azure_body(body)
    assert body["max_completion_tokens"] == 77
    assert body["reasoning_effort"] == "low"
    assert "temperature" not in body  # o4-mini takes only the default (C6)
    assert request.headers["x-trace"] == "1"


# -- the SDK as oracle ------------------------------------------------------------------------


def _json(payload: object) -> Reply:
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(payload).encode())


def _handler(request: Request) -> Reply:
    if request.path.startswith("/openai/models"):
        return _json({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})
    if request.json().get("stream"):
        # Sent whole (content-length): what is compared is the request, not the framing.
        return Reply(headers={"content-type": "text/event-stream"}, body=azure_stream("Hi"))
    return _json(completion("Hi"))


def _auth(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k in ("api-key", "authorization")}


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello"},
]


class _Stolen(Exception):
    """A request that never reached this test's server.

    tests/loopback.py closes a server's listening socket without joining its accept
    thread; when the next server reuses that file descriptor, the old thread can accept
    (and answer, with its old handler) one connection meant for the new server. Rare, and
    a property of the harness, not of what is compared here: such a run is repeated.
    """


def _exchange(auth: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Request], list[Request]]:
    """The SDK's three requests and construct's three, for the same calls."""
    with LoopbackServer(_handler) as server:
        credential = {"api_key": KEY} if auth == "key" else {"azure_ad_token": TOKEN}

        def sdk_client() -> openai.AzureOpenAI:
            # One client per call: each request on its own connection, closed when done.
            return openai.AzureOpenAI(
                azure_endpoint=server.url,
                api_version=DEFAULT_API_VERSION,
                max_retries=0,
                **credential,
            )

        with sdk_client() as client:
            client.chat.completions.create(
                model="gpt-4o-prod", messages=MESSAGES, max_completion_tokens=32
            )
        with (
            sdk_client() as client,
            client.chat.completions.create(
                model="gpt-4o-prod",
                messages=MESSAGES,
                max_completion_tokens=32,
                stream=True,
                stream_options={"include_usage": True},
            ) as stream,
        ):
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hi"
        with sdk_client() as client:
            client.models.list()
        sdk = list(server.requests)
        server.requests.clear()
        if len(sdk) != 3:
            raise _Stolen

        if auth == "entra":
            monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
        provider = create_provider_with_url("azure", KEY if auth == "key" else None, server.url)
        assert provider.chat(HELLO, "gpt-4o-prod").text == "Hi"
        assert "".join(e.delta for e in provider.stream(HELLO, "gpt-4o-prod")) == "Hi"
        assert provider.list_models() == [ModelEntry("gpt-4o")]
        provider.close()
        ours = list(server.requests)
        if len(ours) != 3:
            raise _Stolen
    return sdk, ours


@pytest.mark.parametrize("auth", ["key", "entra"])
def test_construct_sends_what_the_azure_sdk_sends(auth: str, monkeypatch) -> None:
    for attempt in range(3):
        try:
            sdk, ours = _exchange(auth, monkeypatch)
            break
        except (
            _Stolen,
            openai.APIConnectionError,
            TransientError,
            InvalidResponse,
            StreamInterrupted,
        ):
            if attempt == 2:
                raise
    assert len(sdk) == len(ours) == 3
    for theirs, mine in zip(sdk, ours, strict=True):
        assert (mine.method, mine.path) == (theirs.method, theirs.path)
        assert _auth(mine) == _auth(theirs)
        if theirs.body:
            # Field for field what the SDK sent, less the `model` Azure reads from the URL.
            expected = {k: v for k, v in theirs.json().items() if k != "model"}
            assert mine.json() == expected
    assert (
        sdk[0].path
        == f"/openai/deployments/gpt-4o-prod/chat/completions?api-version={DEFAULT_API_VERSION}"
    )
    assert sdk[2].path == f"/openai/models?api-version={DEFAULT_API_VERSION}"


# -- errors --------------------------------------------------------------------------------


def _err(message: str, code: str | None = None, **extra) -> dict:
    return {"error": {"message": message, "code": code, **extra}}


AZURE_ERRORS = [
    (
        401,
        _err(
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            f"provide a valid key for an active subscription ({KEY}).",
            "401",
        ),
        {},
        AuthError,
    ),
    (
        403,
        _err("Principal does not have access to API/Operation.", "PermissionDenied"),
        {},
        AuthError,
    ),
    (
        404,
        _err("The API deployment for this resource does not exist.", "DeploymentNotFound"),
        {},
        InvalidRequest,
    ),
    (
        400,
        _err(
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130512 tokens. Please reduce the length of the messages.",
            "context_length_exceeded",
            type="invalid_request_error",
            param="messages",
        ),
        {},
        ContextWindowExceeded,
    ),
    (
        400,
        _err(
            "The response was filtered due to the prompt triggering Azure OpenAI's content "
            "management policy.",
            "content_filter",
            status=400,
            innererror={"code": "ResponsibleAIPolicyViolation"},
        ),
        {},
        ContentBlocked,
    ),
    (
        429,
        _err(
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
            "Please retry after 6 seconds.",
            "429",
        ),
        {"retry-after": "6", "retry-after-ms": "6000"},
        RateLimited,
    ),
    (
        429,
        _err("Rate limit is exceeded. Try again in 11 seconds. retry-after: 11", "429"),
        {},
        RateLimited,
    ),
    (
        500,
        _err("The server had an error while processing your request.", "InternalServerError"),
        {},
        TransientError,
    ),
    (
        503,
        _err("The service is temporarily unable to process your request."),
        {"retry-after": "2"},
        TransientError,
    ),
    (529, _err("The engine is currently overloaded."), {}, TransientError),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls"), AZURE_ERRORS)
def test_azure_errors_map_to_e1_classes_without_the_key(status, body, headers, cls) -> None:
    for streamed in (False, True):
        with respx.mock() as mock:
            mock.post(CHAT, params=VERSION).mock(
                return_value=httpx.Response(status, json=body, headers=headers)
            )
            provider = create_provider("azure", KEY)
            with pytest.raises(ProviderError) as info:
                if streamed:
                    list(provider.stream(HELLO, "gpt-4o-prod"))
                else:
                    provider.chat(HELLO, "gpt-4o-prod")
        err = info.value
        assert type(err) is cls, (status, streamed, err)
        assert (err.status, err.provider) == (status, "azure_openai")
        assert err.message.startswith(f"Azure OpenAI API error ({status}")
        assert KEY not in str(err) and KEY not in repr(err)
        if status == 429:
            assert err.retry_after == {"6": 6.0}.get(headers.get("retry-after"), 11.0)


def test_a_malformed_2xx_body_is_an_invalid_response() -> None:
    with respx.mock() as mock:
        mock.post(CHAT, params=VERSION).mock(return_value=httpx.Response(200, content=b"{broken"))
        with pytest.raises(InvalidResponse) as info:
            create_provider("azure", KEY).chat(HELLO, "gpt-4o-prod")
    assert info.value.is_retryable


def test_a_stream_cut_midway_keeps_the_partial_text() -> None:
    events = azure_stream("Hel", "lo", " world").split(b"\n\n")
    chunks = [e + b"\n\n" for e in events if e]

    def handler(request: Request) -> Reply:
        # The filter chunk and two text chunks arrive, then the connection dies.
        return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks, cut_after=3)

    with LoopbackServer(handler) as server:
        provider = create_provider_with_url("azure", KEY, server.url)
        seen = []
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(HELLO, "gpt-4o-prod"):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert KEY not in str(info.value)
    assert server.requests[0].headers["api-key"] == KEY


def test_a_stream_dropped_before_any_output_is_transient() -> None:
    def handler(request: Request) -> Reply:
        return Reply(headers={"content-type": "text/event-stream"}, chunks=[b""], cut_after=0)

    with LoopbackServer(handler) as server:
        with pytest.raises(TransientError) as info:
            list(create_provider_with_url("azure", KEY, server.url).stream(HELLO, "gpt-4o-prod"))
    assert not isinstance(info.value, StreamInterrupted)


# -- the doc page ----------------------------------------------------------------------------


def _doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_config_loads_and_calls_its_deployment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.delenv("AZURE_OPENAI_RESOURCE")
    (block,) = _doc_blocks("toml")
    path = tmp_path / "config.toml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    assert config.default_provider == "azure"
    provider = create_provider_from_config(config)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions",
            params=VERSION,
        ).mock(return_value=httpx.Response(200, json=completion("ok")))
        assert provider.chat(HELLO).text == "ok"
    request, body = sent(route)
    azure_body(body)
    assert request.headers["api-key"] == KEY
    assert body["max_completion_tokens"] == 32


def test_the_doc_python_example_runs(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    (block,) = _doc_blocks("python")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CHAT, params=VERSION).mock(
            return_value=httpx.Response(200, json=completion("Paris."))
        )
        exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out == "Paris.\n"
    _, body = sent(route)
    azure_body(body)


def test_base_url_is_the_resolved_endpoint(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/")
    assert create_provider("azure", "azure-key-0123456789").base_url == (
        "https://contoso.openai.azure.com"
    )
