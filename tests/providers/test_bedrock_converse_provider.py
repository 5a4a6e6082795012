"""Amazon Bedrock end to end through the public API: respx for HTTP, loopback sockets where
a real stream matters, botocore's service model as the oracle for what goes on the wire,
and the SigV4 signature checked against the algorithm written out and botocore's signer."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import botocore.auth
import botocore.credentials
import httpx
import pytest
import respx
from botocore.awsrequest import AWSRequest

from construct import (
    AuthError,
    ChatMessage,
    ChatRequest,
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
)
from construct.config import load_config
from tests import oracle_bedrock as oracle
from tests.loopback import LoopbackServer, Reply

KEY = "bedrock-api-key-0123456789abcdef"
ACCESS_KEY = "AKIDEXAMPLE0000BEDRK"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLEsessiontoken0123456789"
MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"
HOST = "https://bedrock-runtime.us-east-1.amazonaws.com"
CONVERSE = f"{HOST}/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
STREAM = CONVERSE + "-stream"
EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}
FIXED_TIME = datetime.datetime(2024, 5, 17, 12, 30, 45)
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HELLO = ChatRequest((ChatMessage.system("Be brief."), ChatMessage.user("Hello")), max_tokens=64)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """No real AWS configuration or instance metadata reaches a test."""
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def sigv4_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED_TIME)


def answer(text: str = "Hello!", **kw) -> dict:
    return oracle.converse_response([{"text": text}], **kw)


def body_of(request: httpx.Request) -> dict:
    return json.loads(request.content)


# -- Bearer mode -----------------------------------------------------------------------


def test_chat_with_a_bedrock_api_key():
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(CONVERSE).mock(
            return_value=httpx.Response(200, json=answer("Hi.", usage=(20, 2), cache_read=5))
        )
        provider = create_provider("bedrock", KEY)
        response = provider.chat(HELLO, MODEL, temperature=0.3)
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert "x-amz-date" not in sent.headers
    assert sent.headers["content-type"] == "application/json"
    body = body_of(sent)
    oracle.validate_converse_request(body, MODEL)
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {"maxTokens": 64, "temperature": 0.3}
    assert (response.text, response.stop_reason, response.provider) == (
        "Hi.",
        "end_turn",
        "bedrock",
    )
    assert (response.usage.input_tokens, response.usage.cached_input_tokens) == (25, 5)
    assert response.model == MODEL
    assert provider.name == create_provider("aws-bedrock", KEY).name == "bedrock"


def test_bedrock_api_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("BEDROCK_API_KEY", KEY)
    with respx.mock() as mock:
        route = mock.post(CONVERSE).mock(return_value=httpx.Response(200, json=answer()))
        provider = create_provider("bedrock")
        assert provider.key_source == "BEDROCK_API_KEY"
        provider.chat(HELLO, MODEL)
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


def test_the_generic_key_is_never_sent_to_bedrock(monkeypatch):
    monkeypatch.setenv("CONSTRUCT_API_KEY", "sk-generic-0123456789abcdef")
    provider = create_provider("bedrock")
    with respx.mock(assert_all_mocked=True) as mock, pytest.raises(AuthError) as info:
        provider.chat(HELLO, MODEL)
    assert not mock.calls
    assert "sk-generic" not in str(info.value)


def test_the_region_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    url = "https://bedrock-runtime.eu-west-3.amazonaws.com/model/meta.llama3-70b-instruct-v1%3A0/converse"
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=httpx.Response(200, json=answer()))
        assert create_provider("bedrock", KEY).chat(HELLO, "meta.llama3-70b-instruct-v1:0").text


def test_api_url_replaces_the_endpoint():
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://gw.example.test/bedrock/model/m%2Fx/converse").mock(
            return_value=httpx.Response(200, json=answer())
        )
        provider = create_provider_with_url("bedrock", KEY, "https://gw.example.test/bedrock/")
        assert provider.base_url == "https://gw.example.test/bedrock"
        provider.chat(HELLO, "m/x")
    # The ARN-style slash stays encoded on the wire: it is one path segment.
    assert route.calls.last.request.url.raw_path == b"/bedrock/model/m%2Fx/converse"


def test_building_and_bearer_calls_never_import_botocore(tmp_path):
    reply = json.dumps(answer("ok"))
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["botocore"] = None  # as if it were not installed
        import httpx, respx
        import construct
        from construct import ChatMessage, ChatRequest, ConfigError, create_provider
        from construct.dialects import bedrock_converse

        provider = create_provider("bedrock", "{KEY}")
        with respx.mock() as mock:
            ok = httpx.Response(200, json=json.loads({reply!r}))
            mock.post("{CONVERSE}").mock(return_value=ok)
            assert provider.chat(ChatRequest((ChatMessage.user("x"),)), "{MODEL}").text == "ok"
        unsigned = create_provider("bedrock")
        try:
            unsigned.chat(ChatRequest((ChatMessage.user("x"),)), "{MODEL}")
        except ConfigError as exc:
            print(exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"))
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'construct-llm[bedrock]'" in result.stdout
    assert "BEDROCK_API_KEY" in result.stdout


def test_import_and_bearer_build_leave_botocore_unloaded(tmp_path):
    script = (
        "import sys, construct\n"
        f"p = construct.create_provider('bedrock', '{KEY}')\n"
        "p._dialect.chat_request(construct.ChatRequest((construct.ChatMessage.user('x'),)),"
        " 'm', None, False, {})\n"
        "print('botocore' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_REGION="eu-west-1")
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False", result.stderr


# -- SigV4 ------------------------------------------------------------------------------


def _expected_authorization(sent: httpx.Request, region: str, token: str | None = None) -> str:
    headers = {
        "content-type": "application/json",
        "host": f"bedrock-runtime.{region}.amazonaws.com",
        "x-amz-date": "20240517T123045Z",
    }
    if token:
        headers["x-amz-security-token"] = token
    return oracle.sigv4_authorization(
        method="POST",
        raw_path="/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse",
        query="",
        headers=headers,
        body=sent.content,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=region,
        service="bedrock",
        amz_date="20240517T123045Z",
    )


def _botocore_authorization(sent: httpx.Request, region: str, token: str | None = None) -> str:
    aws = AWSRequest(
        method="POST",
        url=str(sent.url),
        headers={"Content-Type": "application/json"},
        data=sent.content,
    )
    credentials = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY, token)
    botocore.auth.SigV4Auth(credentials, "bedrock", region).add_auth(aws)
    return aws.headers["Authorization"]


def test_the_sigv4_algorithm_as_written_matches_the_aws_test_suite():
    # aws-sig-v4-test-suite "get-vanilla" and "post-vanilla", and the key-derivation example
    # of the AWS docs, so the reference implementation the next tests use is itself right.
    common = {
        "raw_path": "/",
        "query": "",
        "headers": {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        "body": b"",
        "access_key": "AKIDEXAMPLE",
        "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "region": "us-east-1",
        "service": "service",
        "amz_date": "20150830T123600Z",
    }
    get = oracle.sigv4_authorization(method="GET", **common)
    assert get.endswith(
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )
    assert get.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
    )
    post = oracle.sigv4_authorization(method="POST", **common)
    assert post.endswith(
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    )
    query = oracle.sigv4_authorization(
        method="GET", **{**common, "query": "Param2=value2&Param1=value1"}
    )
    assert query.endswith(
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    )


@pytest.mark.usefixtures("sigv4_env")
@pytest.mark.parametrize("token", [None, SESSION_TOKEN])
def test_sigv4_header_for_a_fixed_request_key_region_and_time(monkeypatch, token):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    url = "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(return_value=httpx.Response(200, json=answer()))
        provider = create_provider("bedrock")
        assert provider.chat(HELLO, MODEL).text == "Hello!"
    sent = route.calls.last.request
    assert sent.headers["x-amz-date"] == "20240517T123045Z"
    assert sent.headers["host"] == "bedrock-runtime.eu-west-1.amazonaws.com"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers.get("x-amz-security-token") == token
    authorization = sent.headers["authorization"]
    signed = "content-type;host;x-amz-date" + (";x-amz-security-token" if token else "")
    assert f"Credential={ACCESS_KEY}/20240517/eu-west-1/bedrock/aws4_request" in authorization
    assert f"SignedHeaders={signed}," in authorization
    assert authorization == _expected_authorization(sent, "eu-west-1", token)
    assert authorization == _botocore_authorization(sent, "eu-west-1", token)
    oracle.validate_converse_request(body_of(sent), MODEL)


@pytest.mark.usefixtures("sigv4_env")
def test_the_signature_covers_the_exact_bytes_sent():
    with respx.mock() as mock:
        route = mock.post(CONVERSE).mock(return_value=httpx.Response(200, json=answer()))
        create_provider("bedrock").chat(
            ChatRequest((ChatMessage.user("naïve café ✓ " * 3),), tools=(WEATHER,)), MODEL
        )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == _expected_authorization(sent, "us-east-1")
    tampered = httpx.Request("POST", sent.url, content=sent.content + b" ")
    assert sent.headers["authorization"] != _expected_authorization(tampered, "us-east-1")


@pytest.mark.usefixtures("sigv4_env")
def test_a_stream_and_the_model_list_are_signed_too():
    with respx.mock(assert_all_called=True) as mock:
        stream = mock.post(STREAM).mock(
            return_value=httpx.Response(200, content=oracle.text_events("ok"), headers=EVENTSTREAM)
        )
        models = mock.get(
            "https://bedrock.us-east-1.amazonaws.com/foundation-models",
            params={"byOutputModality": "TEXT"},
        ).mock(return_value=httpx.Response(200, json=oracle.models_response([])))
        provider = create_provider("bedrock")
        assert "".join(e.delta for e in provider.stream(HELLO, MODEL)) == "ok"
        assert provider.list_models() == []
    sent = stream.calls.last.request
    assert sent.headers["accept"] == "application/vnd.amazon.eventstream"
    assert sent.headers["x-amz-date"] == "20240517T123045Z"
    oracle.validate_converse_request(body_of(sent), MODEL, stream=True)
    listed = models.calls.last.request
    expected = oracle.sigv4_authorization(
        method="GET",
        raw_path="/foundation-models",
        query="byOutputModality=TEXT",
        headers={"host": "bedrock.us-east-1.amazonaws.com", "x-amz-date": "20240517T123045Z"},
        body=b"",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region="us-east-1",
        service="bedrock",
        amz_date="20240517T123045Z",
    )
    assert listed.headers["authorization"] == expected


def test_credentials_from_a_profile_in_the_shared_files(monkeypatch, tmp_path):
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT000000000\naws_secret_access_key = d\n\n"
        f"[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (tmp_path / "config").write_text("[profile work]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    url = "https://bedrock-runtime.eu-central-1.amazonaws.com/model/m/converse"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(return_value=httpx.Response(200, json=answer()))
        create_provider("bedrock").chat(HELLO, "m")
    authorization = route.calls.last.request.headers["authorization"]
    assert f"Credential={ACCESS_KEY}/" in authorization
    assert "/eu-central-1/bedrock/aws4_request" in authorization


def test_refreshable_credentials_are_frozen_per_request(monkeypatch):
    keys = iter(["AKIDFIRST00000000000", "AKIDSECOND0000000000"])

    def refresh():
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
        return {
            "access_key": next(keys),
            "secret_key": SECRET_KEY,
            "token": SESSION_TOKEN,
            "expiry_time": expiry.isoformat(),
        }

    credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
        refresh(), refresh, "test"
    )
    provider = create_provider("bedrock")
    # An expiry within the refresh window: the next request refreshes.
    provider._auth.aws._credentials = credentials
    with respx.mock() as mock:
        route = mock.post(CONVERSE).mock(return_value=httpx.Response(200, json=answer()))
        provider.chat(HELLO, MODEL)
    assert "Credential=AKIDSECOND0000000000/" in route.calls.last.request.headers["authorization"]
    assert route.calls.last.request.headers["x-amz-security-token"] == SESSION_TOKEN


def test_no_credentials_at_all_is_an_auth_error_before_sending():
    provider = create_provider("bedrock")
    with respx.mock(assert_all_mocked=True) as mock:
        for call in (
            lambda: provider.chat(HELLO, MODEL),
            lambda: provider.stream(HELLO, MODEL),
            lambda: asyncio.run(provider.achat(HELLO, MODEL)),
            provider.list_models,
        ):
            with pytest.raises(AuthError) as info:
                call()
            message = str(info.value)
            for name in ("BEDROCK_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
                assert name in message
        assert not mock.calls


def test_a_missing_profile_is_an_auth_error_naming_it(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "ghost")
    with pytest.raises(AuthError, match="ghost"):
        create_provider("bedrock").chat(HELLO, MODEL)


# -- the public API, sync and async --------------------------------------------------------


def _tool_stream() -> bytes:
    return b"".join(
        [
            oracle.event("messageStart", {"role": "assistant"}),
            oracle.event(
                "contentBlockDelta", {"delta": {"text": "Let me check."}, "contentBlockIndex": 0}
            ),
            oracle.event("contentBlockStop", {"contentBlockIndex": 0}),
            *oracle.tool_events(1, "tooluse_1", "get_weather", ['{"city":', ' "Paris"}']),
            oracle.event("messageStop", {"stopReason": "tool_use"}),
            oracle.metadata(30, 12),
        ]
    )


def test_chat_achat_stream_astream_and_models():
    reply = oracle.converse_response(
        [
            {"text": "Let me check."},
            {
                "toolUse": {
                    "toolUseId": "tooluse_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            },
        ],
        stop_reason="tool_use",
    )
    models = oracle.models_response(
        [
            {
                "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
                "modelId": "amazon.nova-pro-v1:0",
                "modelName": "Nova Pro",
                "inputModalities": ["TEXT", "IMAGE"],
                "outputModalities": ["TEXT"],
            }
        ]
    )
    request = ChatRequest((ChatMessage.user("Weather in Paris?"),), tools=(WEATHER,))
    with respx.mock(assert_all_called=True) as mock:
        chat = mock.post(CONVERSE).mock(return_value=httpx.Response(200, json=reply))
        stream = mock.post(STREAM).mock(
            side_effect=lambda r: httpx.Response(200, content=_tool_stream(), headers=EVENTSTREAM)
        )
        mock.get("https://bedrock.us-east-1.amazonaws.com/foundation-models").mock(
            return_value=httpx.Response(200, json=models)
        )
        provider = create_provider("bedrock", KEY)
        plain = provider.chat(request, MODEL)
        aplain = asyncio.run(provider.achat(request, MODEL))
        events = list(provider.stream(request, MODEL))

        async def collect():
            return [e async for e in provider.astream(request, MODEL)]

        aevents = asyncio.run(collect())
        listed = provider.list_models()
        alisted = asyncio.run(provider.alist_models())

    for response in (plain, aplain):
        assert response.stop_reason == "tool_use"
        assert [(c.id, c.parsed_arguments()) for c in response.tool_calls] == [
            ("tooluse_1", {"city": "Paris"})
        ]
    for got in (events, aevents):
        assert [e.type for e in got] == ["text_delta", "tool_call", "final"]
        final = got[-1].response
        assert final.text == "Let me check."
        assert final.tool_calls == (got[1].tool_call,)
        assert got[1].tool_call.parsed_arguments() == {"city": "Paris"}
        assert final.stop_reason == "tool_use"
        assert (final.usage.input_tokens, final.usage.output_tokens) == (30, 12)
    for call in chat.calls:
        oracle.validate_converse_request(body_of(call.request), MODEL)
    for call in stream.calls:
        oracle.validate_converse_request(body_of(call.request), MODEL, stream=True)
    assert listed == alisted
    assert [(m.model_id, m.supports_image_input) for m in listed] == [
        ("amazon.nova-pro-v1:0", True)
    ]


def test_chat_with_system_and_history_return_text():
    with respx.mock() as mock:
        route = mock.post(CONVERSE).mock(return_value=httpx.Response(200, json=answer("Paris.")))
        provider = create_provider("bedrock", KEY)
        assert provider.chat_with_system("Be brief.", "Capital of France?", MODEL) == "Paris."
        history = [ChatMessage.user("Hi"), ChatMessage.assistant("Hello"), ChatMessage.user("?")]
        assert provider.chat_with_history(history, MODEL) == "Paris."
    body = body_of(route.calls.last.request)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_a_refused_temperature_is_retried_without_it():
    refusal = {
        "message": "The model returned the following errors: "
        "`temperature` is deprecated for this model."
    }
    with respx.mock() as mock:
        route = mock.post(CONVERSE).mock(
            side_effect=[httpx.Response(400, json=refusal), httpx.Response(200, json=answer())]
        )
        create_provider("bedrock", KEY).chat(HELLO, MODEL, temperature=0.7)
    first, second = (body_of(c.request) for c in route.calls)
    assert first["inferenceConfig"]["temperature"] == 0.7
    assert "temperature" not in second["inferenceConfig"]


def test_an_image_url_is_refused_before_anything_is_sent():
    request = ChatRequest((ChatMessage.user("What?", images=["https://example.com/cat.png"]),))
    with respx.mock(assert_all_mocked=True) as mock, pytest.raises(InvalidRequest) as info:
        create_provider("bedrock", KEY).chat(request, MODEL)
    assert not mock.calls
    assert "data: URI" in str(info.value)


def test_repr_and_errors_never_show_the_key():
    provider = create_provider("bedrock", KEY)
    assert KEY not in repr(provider)
    assert KEY[6:-4] not in repr(provider)


# -- errors --------------------------------------------------------------------------------

ERRORS = [
    (401, {}, {"message": "The security token included in the request is invalid."}, AuthError),
    (403, {}, {"message": f"Authentication failed: invalid key {KEY}"}, AuthError),
    (
        404,
        {},
        {"message": "Could not resolve the foundation model from the provided model identifier."},
        InvalidRequest,
    ),
    (400, {}, {"message": "Input is too long for requested model."}, ContextWindowExceeded),
    (
        400,
        {},
        {"message": "Malformed input request: #: extraneous key [foo] is not permitted"},
        InvalidRequest,
    ),
    (
        429,
        {"retry-after": "7"},
        {"message": "Too many requests, please wait before trying your request again."},
        RateLimited,
    ),
    (
        500,
        {},
        {"message": "The system encountered an unexpected error during processing. Try again."},
        TransientError,
    ),
    (503, {}, {"message": "Bedrock is unable to process your request."}, TransientError),
    (529, {}, {"message": "Overloaded"}, TransientError),
]


@pytest.mark.parametrize(("status", "headers", "body", "cls"), ERRORS)
@pytest.mark.parametrize("mode", ["bearer", "sigv4"])
def test_http_errors_map_to_e1_classes(status, headers, body, cls, mode, monkeypatch):
    if mode == "sigv4":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    key = KEY if mode == "bearer" else None
    response = httpx.Response(
        status, json=body, headers={"x-amzn-ErrorType": "SomeException:http://internal", **headers}
    )
    with respx.mock() as mock:
        mock.post(CONVERSE).mock(return_value=response)
        mock.post(STREAM).mock(return_value=response)
        provider = create_provider("bedrock", key)
        for call in (
            lambda: provider.chat(HELLO, MODEL),
            lambda: list(provider.stream(HELLO, MODEL)),
        ):
            with pytest.raises(cls) as info:
                call()
            err = info.value
            assert type(err) is cls
            assert err.status == status
            assert err.provider == "bedrock"
            assert body["message"].split(":")[0].replace(KEY, "")[:30] in str(err)
            for secret in (KEY, SECRET_KEY, SESSION_TOKEN):
                assert secret not in str(err) and secret not in repr(err)
                assert secret not in (err.body or "")
            if status == 429:
                assert err.retry_after == 7


def test_a_malformed_2xx_body_is_an_invalid_response():
    with respx.mock() as mock:
        mock.post(CONVERSE).mock(
            side_effect=[
                httpx.Response(200, content=b"<html>gateway</html>"),
                httpx.Response(200, json={"unexpected": True}),
            ]
        )
        provider = create_provider("bedrock", KEY)
        for _ in range(2):
            with pytest.raises(InvalidResponse) as info:
                provider.chat(HELLO, MODEL)
            assert info.value.is_retryable


def test_an_exception_event_before_output_raises_its_class():
    raw = oracle.event("messageStart", {"role": "assistant"}) + oracle.exception(
        "throttlingException", "Too many tokens per minute, please wait."
    )
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=httpx.Response(200, content=raw, headers=EVENTSTREAM))
        with pytest.raises(RateLimited) as info:
            list(create_provider("bedrock", KEY).stream(HELLO, MODEL))
    assert info.value.status == 429


def test_an_exception_event_after_output_is_stream_interrupted():
    raw = b"".join(
        [
            oracle.event("messageStart", {"role": "assistant"}),
            oracle.event(
                "contentBlockDelta", {"delta": {"text": "Partial "}, "contentBlockIndex": 0}
            ),
            oracle.event(
                "contentBlockDelta", {"delta": {"text": "answer"}, "contentBlockIndex": 0}
            ),
            oracle.exception("modelStreamErrorException", "The model stream failed."),
        ]
    )
    seen = []
    with respx.mock() as mock:
        mock.post(STREAM).mock(return_value=httpx.Response(200, content=raw, headers=EVENTSTREAM))
        with pytest.raises(StreamInterrupted) as info:
            for event in create_provider("bedrock", KEY).stream(HELLO, MODEL):
                seen.append(event.delta)
    assert seen == ["Partial ", "answer"]
    assert info.value.partial_text == "Partial answer"
    assert info.value.status == 424


def test_a_corrupt_frame_before_output_is_an_invalid_response():
    raw = bytearray(oracle.text_events("x"))
    raw[30] ^= 0xFF
    with respx.mock() as mock:
        mock.post(STREAM).mock(
            return_value=httpx.Response(200, content=bytes(raw), headers=EVENTSTREAM)
        )
        with pytest.raises(InvalidResponse, match="message CRC"):
            list(create_provider("bedrock", KEY).stream(HELLO, MODEL))


# -- over real sockets -----------------------------------------------------------------------


def _split(raw: bytes, size: int) -> list[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _loopback_provider(server: LoopbackServer, key: str | None = KEY):
    return create_provider_with_options(
        "bedrock", key, ProviderRuntimeOptions(provider_api_url=server.url)
    )


@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_frames_split_across_reads_over_a_socket(size):
    raw = oracle.text_events("Hel", "lo", " world", usage=(3, 4))
    reply = Reply(headers=EVENTSTREAM, chunks=_split(raw, size))
    with LoopbackServer(lambda r: reply) as server:
        with _loopback_provider(server) as provider:
            events = list(provider.stream(HELLO, MODEL))
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo", " world"]
    assert events[-1].response.text == "Hello world"
    sent = server.requests[0]
    assert sent.path == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse-stream"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    oracle.validate_converse_request(sent.json(), MODEL, stream=True)


def test_async_stream_over_a_socket(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    raw = oracle.text_events("a", "b")
    with LoopbackServer(lambda r: Reply(headers=EVENTSTREAM, chunks=_split(raw, 13))) as server:
        provider = _loopback_provider(server, None)

        async def run():
            async with provider:
                return [e async for e in provider.astream(HELLO, MODEL)]

        events = asyncio.run(run())
    assert "".join(e.delta for e in events if e.type == "text_delta") == "ab"
    sent = server.requests[0]
    # Signed for the loopback host; the region falls back to us-east-1.
    assert "/us-east-1/bedrock/aws4_request" in sent.headers["authorization"]
    expected = oracle.sigv4_authorization(
        method="POST",
        raw_path=sent.path,
        query="",
        headers={
            "content-type": "application/json",
            "host": f"127.0.0.1:{server.port}",
            "x-amz-date": sent.headers["x-amz-date"],
        },
        body=sent.body,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region="us-east-1",
        service="bedrock",
        amz_date=sent.headers["x-amz-date"],
    )
    assert sent.headers["authorization"] == expected


def test_a_stream_cut_midway_is_stream_interrupted_with_the_partial_text():
    frames = [
        oracle.event("messageStart", {"role": "assistant"}),
        oracle.event("contentBlockDelta", {"delta": {"text": "Hel"}, "contentBlockIndex": 0}),
        oracle.event("contentBlockDelta", {"delta": {"text": "lo"}, "contentBlockIndex": 0}),
        oracle.event("contentBlockDelta", {"delta": {"text": " world"}, "contentBlockIndex": 0}),
        oracle.event("messageStop", {"stopReason": "end_turn"}),
    ]
    # Three whole frames and half of the fourth arrive, then the connection dies.
    chunks = [*frames[:3], frames[3][:10], frames[3][10:], frames[4]]
    reply = Reply(headers=EVENTSTREAM, chunks=chunks, cut_after=4)
    seen = []
    with LoopbackServer(lambda r: reply) as server:
        provider = _loopback_provider(server)
        with pytest.raises(StreamInterrupted) as info:
            for event in provider.stream(HELLO, MODEL):
                seen.append(event.delta)
    assert seen == ["Hel", "lo"]
    assert info.value.partial_text == "Hello"
    assert not info.value.is_retryable


def test_a_stream_that_ends_without_message_stop_before_output_is_transient():
    chunks = [oracle.event("messageStart", {"role": "assistant"})]
    with LoopbackServer(lambda r: Reply(headers=EVENTSTREAM, chunks=chunks)) as server:
        with pytest.raises(TransientError) as info:
            list(_loopback_provider(server).stream(HELLO, MODEL))
    assert type(info.value) is TransientError
    assert info.value.is_retryable


def test_a_dropped_connection_before_the_headers_is_transient():
    with LoopbackServer(lambda r: Reply(cut_after=0)) as server:
        with pytest.raises(TransientError):
            _loopback_provider(server).chat(HELLO, MODEL)
        with pytest.raises(TransientError):
            list(_loopback_provider(server).stream(HELLO, MODEL))


# -- docs ----------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "bedrock.md"


def _toml_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```toml\n")[1:]]


def test_the_docs_config_examples_load(tmp_path, monkeypatch):
    monkeypatch.setenv("BEDROCK_API_KEY", KEY)
    blocks = _toml_blocks()
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"config{i}.toml"
        path.write_text(block)
        config = load_config(path)
        assert config.default_provider in ("bedrock", "aws-bedrock")
        assert config.default_model
        provider = create_provider_with_options(config.default_provider, config.api_key)
        assert provider.name == "bedrock"


def test_the_docs_name_the_extra_and_the_variables():
    text = DOC.read_text(encoding="utf-8")
    for needle in (
        "pip install 'construct-llm[bedrock]'",
        "BEDROCK_API_KEY",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "cachePoint",
        "additionalModelRequestFields",
        "data:",
    ):
        assert needle in text, needle
    assert urlsplit(CONVERSE).hostname in text
