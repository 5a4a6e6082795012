"""The Bedrock Converse dialect, sans I/O: ChatRequest in, Converse JSON out, and back.

Every body is checked with botocore's service model (tests/oracle_bedrock.py) and
compared with what botocore's own serializer makes of the same parameters; every
response and stream event is built to botocore's output shapes first.
"""

from __future__ import annotations

import base64
import json

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderRuntimeOptions,
    RateLimited,
    ToolCall,
    ToolSpec,
    TransientError,
)
from construct.auth import Auth, aws
from construct.dialects import bedrock_converse
from construct.dialects.bedrock_converse import (
    BedrockConverse,
    caches_prompts,
    control_plane_url,
    region_from_url,
    runtime_url,
)
from construct.errors import AuthError
from construct.providers.bedrock import build, build_dialect
from construct.registry import apply_api_url, resolve
from construct.secrets import Secret
from construct.transport.aws_eventstream import EventStreamDecoder
from tests import oracle_bedrock as oracle

CLAUDE = "anthropic.claude-3-5-sonnet-20241022-v2:0"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-png-bytes").decode()
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """No real AWS configuration reaches a test; the region is fixed unless a test unsets it."""
    import os

    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-west-2")


def dialect(api_url: str | None = None, **options) -> BedrockConverse:
    opts = ProviderRuntimeOptions(provider_api_url=api_url, **options)
    return build_dialect(apply_api_url(resolve("bedrock"), api_url), opts)


def auth() -> Auth:
    return build(resolve("bedrock"), ProviderRuntimeOptions())[1]


def request_body(request: ChatRequest, model: str = CLAUDE, temperature=None, stream=False):
    req = dialect().chat_request(request, model, temperature, stream, {})
    assert json.loads(req.content) == req.json
    oracle.validate_converse_request(req.json, model, stream=stream)
    return req.json


def test_a_conversation_becomes_converse_messages():
    history = ChatRequest(
        (
            ChatMessage.system("You are terse."),
            ChatMessage.system("Answer in English."),
            ChatMessage.user("What is this?", images=[f"data:image/png;base64,{PNG}"]),
            ChatMessage.assistant(
                "Let me look it up.",
                [
                    ToolCall("tu_1", "get_weather", '{"city": "Paris"}'),
                    ToolCall("tu_2", "get_weather", '{"city": "Oslo"}'),
                ],
            ),
            ChatMessage.tool("tu_1", '{"temp_c": 21}'),
            ChatMessage.tool("tu_2", ""),
            ChatMessage.user("Thanks. And tomorrow?"),
        ),
        tools=(WEATHER,),
        max_tokens=300,
    )
    body = request_body(history, temperature=0.4)
    assert body["system"] == [{"text": "You are terse."}, {"text": "Answer in English."}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": PNG}}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"text": "Let me look it up."},
                {
                    "toolUse": {
                        "toolUseId": "tu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "tu_2",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                },
            ],
        },
        # Consecutive tool results and the next user turn are one user message.
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tu_1",
                        "content": [{"text": '{"temp_c": 21}'}],
                        "status": "success",
                    }
                },
                {
                    "toolResult": {
                        "toolUseId": "tu_2",
                        "content": [{"text": "(no output)"}],
                        "status": "success",
                    }
                },
                {"text": "Thanks. And tomorrow?"},
                # Five turns (more than four) on a model that caches: a cache point (§8.1).
                {"cachePoint": {"type": "default"}},
            ],
        },
    ]
    assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.4}
    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "inputSchema": {"json": dict(WEATHER.parameters)},
                }
            }
        ]
    }


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (CLAUDE, "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"),
        (
            "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3",
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3A"
            "application-inference-profile%2Fa1b2c3/converse",
        ),
        (
            "us.meta.llama3-3-70b-instruct-v1:0",
            "/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_url_and_body_are_what_botocore_itself_serialises(model, path, stream):
    request = ChatRequest(
        (
            ChatMessage.system("Be brief."),
            ChatMessage.user("Look", images=[f"data:image/jpeg;base64,{PNG}"]),
        ),
        tools=(WEATHER,),
    )
    req = dialect().chat_request(request, model, 0.5, stream, {})
    expected = oracle.botocore_request(req.json, model, stream=stream)
    if stream:
        path = path.replace("/converse", "/converse-stream")
    assert expected["url_path"] == path
    assert req.url == "https://bedrock-runtime.us-west-2.amazonaws.com" + path
    assert json.loads(req.content) == expected["body"]
    assert req.method == "POST"
    assert req.binary_stream is stream
    assert req.headers["Content-Type"] == "application/json"
    accept = "application/vnd.amazon.eventstream" if stream else "application/json"
    assert req.headers["Accept"] == accept


def test_body_bytes_are_compact_utf8_json():
    req = dialect().chat_request(
        ChatRequest((ChatMessage.user("Grüße, 東京"),)), CLAUDE, None, False, {}
    )
    assert req.content == json.dumps(req.json, separators=(",", ":"), ensure_ascii=False).encode()
    assert "Grüße, 東京".encode() in req.content


@pytest.mark.parametrize(
    ("max_tokens", "provider_max", "sent"), [(None, None, 4096), (None, 2000, 2000), (77, 2000, 77)]
)
def test_max_tokens_and_temperature_only_when_set(max_tokens, provider_max, sent):
    d = dialect(provider_max_tokens=provider_max)
    req = d.chat_request(
        ChatRequest((ChatMessage.user("x"),), max_tokens=max_tokens), CLAUDE, None, False, {}
    )
    oracle.validate_converse_request(req.json, CLAUDE)
    assert req.json["inferenceConfig"] == {"maxTokens": sent}
    assert "toolConfig" not in req.json and "system" not in req.json


def test_temperature_zero_is_sent():
    body = request_body(ChatRequest((ChatMessage.user("x"),)), temperature=0)
    assert body["inferenceConfig"]["temperature"] == 0.0


def test_blank_text_blocks_and_empty_turns_are_dropped_and_roles_merged():
    body = request_body(
        ChatRequest(
            (
                ChatMessage.user("first"),
                ChatMessage.assistant("   "),
                ChatMessage.user("second"),
                ChatMessage.assistant("answer"),
            )
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "first"}, {"text": "second"}]},
        {"role": "assistant", "content": [{"text": "answer"}]},
    ]


def test_tool_results_lead_a_merged_user_message():
    body = request_body(
        ChatRequest(
            (
                ChatMessage.user("go"),
                ChatMessage.assistant("", [ToolCall("t1", "get_weather", "{}")]),
                ChatMessage.user("also this"),
                ChatMessage.tool("t1", "done"),
            ),
            tools=(WEATHER,),
        )
    )
    assert [next(iter(b)) for b in body["messages"][2]["content"]] == ["toolResult", "text"]


def test_tool_history_without_tools_declares_an_inert_tool():
    body = request_body(
        ChatRequest(
            (
                ChatMessage.user("go"),
                ChatMessage.assistant("", [ToolCall("t1", "get_weather", '{"city": "Rome"}')]),
                ChatMessage.tool("t1", "sunny"),
            )
        )
    )
    assert [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]] == ["no_tools_available"]
    plain = request_body(ChatRequest((ChatMessage.user("hi"),)))
    assert "toolConfig" not in plain


def test_a_tool_without_description_omits_it():
    body = request_body(ChatRequest((ChatMessage.user("x"),), tools=(ToolSpec("ping"),)))
    assert body["toolConfig"]["tools"] == [
        {
            "toolSpec": {
                "name": "ping",
                "inputSchema": {"json": {"type": "object", "properties": {}}},
            }
        }
    ]


def test_tool_arguments_that_are_not_an_object_become_empty_input():
    body = request_body(
        ChatRequest(
            (
                ChatMessage.user("x"),
                ChatMessage.assistant("", [ToolCall("t", "ping", "not json")]),
                ChatMessage.tool("t", "ok"),
            ),
            tools=(ToolSpec("ping"),),
        )
    )
    assert body["messages"][1]["content"][0]["toolUse"]["input"] == {}


@pytest.mark.parametrize(
    ("media", "fmt"),
    [
        ("image/png", "png"),
        ("image/jpeg", "jpeg"),
        ("image/jpg", "jpeg"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
    ],
)
def test_data_uri_images_by_media_type(media, fmt):
    body = request_body(
        ChatRequest((ChatMessage.user("x", images=[f"data:{media};base64,{PNG}"]),))
    )
    assert body["messages"][0]["content"][1] == {"image": {"format": fmt, "source": {"bytes": PNG}}}


def test_a_percent_encoded_data_uri_is_sent_as_base64():
    body = request_body(
        ChatRequest((ChatMessage.user("", images=["data:image/gif,GIF89a%01%02"]),))
    )
    source = body["messages"][0]["content"][0]["image"]["source"]["bytes"]
    assert base64.b64decode(source) == b"GIF89a\x01\x02"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/cat.png?X-Amz-Signature=abc", "takes images as bytes, not URLs"),
        ("data:image/bmp;base64," + PNG, "png, jpeg, gif and webp"),
        ("data:image/png;base64,@@@notbase64", "not valid base64"),
        ("data:image/png;base64", "no ','"),
    ],
)
def test_images_bedrock_cannot_take_are_refused_before_sending(url, says):
    with pytest.raises(InvalidRequest) as info:
        dialect().chat_request(
            ChatRequest((ChatMessage.user("x", images=[url]),)), CLAUDE, None, False, {}
        )
    assert says in str(info.value)
    assert info.value.provider == "bedrock"
    assert "X-Amz-Signature" not in str(info.value)


# -- cache points ----------------------------------------------------------------------

LONG_SYSTEM = "Rules. " * 500  # 3500 characters
TURNS = (
    ChatMessage.user("1"),
    ChatMessage.assistant("2"),
    ChatMessage.user("3"),
    ChatMessage.assistant("4"),
    ChatMessage.user("5"),
)


def _cache_points(body) -> tuple[list, list]:
    system = [b["cachePoint"] for b in body.get("system", []) if "cachePoint" in b]
    last = [b["cachePoint"] for b in body["messages"][-1]["content"] if "cachePoint" in b]
    return system, last


def test_reference_cache_rules_on_a_model_that_caches():
    long_body = request_body(ChatRequest((ChatMessage.system(LONG_SYSTEM), *TURNS)))
    assert _cache_points(long_body) == ([{"type": "default"}], [{"type": "default"}])
    assert long_body["system"][-1] == {"cachePoint": {"type": "default"}}
    assert long_body["messages"][-1]["content"][-1] == {"cachePoint": {"type": "default"}}
    short = request_body(ChatRequest((ChatMessage.system("short"), *TURNS[:3])))
    assert _cache_points(short) == ([], [])


@pytest.mark.parametrize(
    "model",
    [
        "meta.llama3-70b-instruct-v1:0",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "mistral.mistral-large-2402-v1:0",
    ],
)
def test_no_cache_points_by_default_for_models_that_refuse_them(model):
    body = request_body(ChatRequest((ChatMessage.system(LONG_SYSTEM), *TURNS)), model=model)
    assert _cache_points(body) == ([], [])


@pytest.mark.parametrize(
    ("model", "caches"),
    [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", True),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", True),
        ("global.anthropic.claude-opus-4-6-v1", True),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", True),
        ("amazon.nova-pro-v1:0", True),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", False),
        ("anthropic.claude-3-opus-20240229-v1:0", False),
        ("anthropic.claude-v2:1", False),
        ("cohere.command-r-plus-v1:0", False),
    ],
)
def test_which_models_take_cache_points(model, caches):
    assert caches_prompts(model) is caches


@pytest.mark.parametrize(
    ("cache", "point"), [(True, {"type": "default"}), ("1h", {"type": "default", "ttl": "1h"})]
)
def test_extra_cache_forces_cache_points(cache, point):
    body = request_body(
        ChatRequest((ChatMessage.system("short"), ChatMessage.user("hi")), extra={"cache": cache}),
        model="meta.llama3-70b-instruct-v1:0",
    )
    assert _cache_points(body) == ([point], [point])
    assert "cache" not in json.dumps(body.get("additionalModelRequestFields", {}))


def test_extra_cache_false_disables_them():
    body = request_body(
        ChatRequest((ChatMessage.system(LONG_SYSTEM), *TURNS), extra={"cache": False})
    )
    assert _cache_points(body) == ([], [])


def test_a_bad_cache_setting_is_refused():
    with pytest.raises(InvalidRequest, match="extra\\['cache'\\]"):
        request_body(ChatRequest((ChatMessage.user("x"),), extra={"cache": "forever"}))


# -- extra -------------------------------------------------------------------------------


def test_extra_fields_land_where_converse_wants_them():
    body = request_body(
        ChatRequest(
            (ChatMessage.user("x"),),
            tools=(WEATHER,),
            extra={
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "top_k": 40,
                "top_p": 0.9,
                "stop_sequences": ["END"],
                "inferenceConfig": {"maxTokens": 9000},
                "toolConfig": {"toolChoice": {"any": {}}},
                "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
                "requestMetadata": {"team": "search"},
                "additionalModelRequestFields": {"anthropic_beta": ["context-1m-2025-08-07"]},
            },
        ),
        temperature=0.2,
    )
    assert body["inferenceConfig"] == {
        "maxTokens": 9000,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert body["toolConfig"]["toolChoice"] == {"any": {}}
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    assert body["requestMetadata"] == {"team": "search"}
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "top_k": 40,
        "anthropic_beta": ["context-1m-2025-08-07"],
    }


@pytest.mark.parametrize("field", ["messages", "system", "modelId"])
def test_extra_cannot_replace_what_construct_builds(field):
    with pytest.raises(InvalidRequest, match=field):
        request_body(ChatRequest((ChatMessage.user("x"),), extra={field: []}))


# -- responses ---------------------------------------------------------------------------


def parse(body, model=CLAUDE):
    return dialect().parse_chat(body, model)


def test_text_tool_use_reasoning_usage_and_stop_reason():
    body = oracle.converse_response(
        [
            {
                "reasoningContent": {
                    "reasoningText": {"text": "Paris weather needed.", "signature": "sig"}
                }
            },
            {"text": "Checking."},
            {
                "toolUse": {
                    "toolUseId": "tooluse_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            },
        ],
        stop_reason="tool_use",
        usage=(4, 10),
        cache_read=2997,
        cache_write=11,
    )
    response = parse(body)
    assert response.text == "Checking."
    assert [(c.id, c.name, c.parsed_arguments()) for c in response.tool_calls] == [
        ("tooluse_1", "get_weather", {"city": "Paris"})
    ]
    assert response.reasoning_content == "Paris weather needed."
    assert response.stop_reason == "tool_use"
    # construct counts the whole prompt as input; Bedrock's inputTokens leaves out the cache.
    assert response.usage.input_tokens == 4 + 2997 + 11
    assert response.usage.output_tokens == 10
    assert response.usage.cached_input_tokens == 2997
    assert response.model == CLAUDE
    assert response.provider == "bedrock"


def test_text_blocks_are_joined_as_they_came():
    body = oracle.converse_response([{"text": "The answer "}, {"text": "is 42."}])
    response = parse(body)
    assert response.text == "The answer is 42."
    assert response.tool_calls == ()
    assert response.reasoning_content is None
    assert (response.usage.input_tokens, response.usage.cached_input_tokens) == (12, None)


STOPS = {
    "end_turn": "end_turn",
    "stop_sequence": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": None,
    "malformed_tool_use": None,
}


def test_every_stop_reason_botocore_knows_is_mapped():
    enum = oracle.operation("Converse").output_shape.members["stopReason"].enum
    assert sorted(STOPS) == sorted(enum)


@pytest.mark.parametrize(("wire", "ours"), STOPS.items())
def test_stop_reasons(wire, ours):
    body = oracle.converse_response([{"text": "x"}], stop_reason=wire)
    assert parse(body).stop_reason == ours


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"output": {}},
        {"output": {"message": {"role": "assistant"}}},
        {"message": "Internal error"},
    ],
)
def test_unreadable_bodies_are_invalid_responses(body):
    with pytest.raises(InvalidResponse) as info:
        parse(body)
    assert info.value.provider == "bedrock"
    assert info.value.is_retryable


ARN = "arn:aws:bedrock:us-west-2::foundation-model/"


def test_models_from_list_foundation_models():
    body = oracle.models_response(
        [
            {
                "modelArn": ARN + "anthropic.claude-3-5-haiku-20241022-v1:0",
                "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
                "modelName": "Claude 3.5 Haiku",
                "providerName": "Anthropic",
                "inputModalities": ["TEXT", "IMAGE"],
                "outputModalities": ["TEXT"],
                "responseStreamingSupported": True,
                "inferenceTypesSupported": ["ON_DEMAND"],
                "modelLifecycle": {"status": "ACTIVE"},
            },
            {
                "modelArn": ARN + "meta.llama3-8b-instruct-v1:0",
                "modelId": "meta.llama3-8b-instruct-v1:0",
                "modelName": "Llama 3 8B Instruct",
                "inputModalities": ["TEXT"],
                "outputModalities": ["TEXT"],
            },
            {
                "modelArn": ARN + "amazon.titan-embed-text-v2:0",
                "modelId": "amazon.titan-embed-text-v2:0",
                "inputModalities": ["TEXT"],
                "outputModalities": ["EMBEDDING"],
            },
        ]
    )
    entries = dialect().parse_models(body)
    assert [(e.model_id, e.display_name, e.supports_image_input) for e in entries] == [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", True),
        ("meta.llama3-8b-instruct-v1:0", "Llama 3 8B Instruct", False),
    ]
    with pytest.raises(InvalidResponse):
        dialect().parse_models({"models": []})


def test_models_request_goes_to_the_control_plane():
    req = dialect().models_request({"Authorization": "Bearer k"})
    assert req.method == "GET"
    assert (
        req.url == "https://bedrock.us-west-2.amazonaws.com/foundation-models?byOutputModality=TEXT"
    )
    assert req.headers == {"Authorization": "Bearer k"}
    http = oracle.control_model().operation_model("ListFoundationModels").http
    assert (http["method"], http["requestUri"]) == ("GET", "/foundation-models")


# -- endpoints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://bedrock-runtime.eu-central-1.amazonaws.com", "eu-central-1"),
        ("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("https://vpce-0a1b.bedrock-runtime.ap-southeast-2.vpce.amazonaws.com", "ap-southeast-2"),
        ("https://bedrock-runtime.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("https://proxy.example.test/bedrock", None),
        ("http://127.0.0.1:9000", None),
    ],
)
def test_region_from_an_endpoint(url, region):
    assert region_from_url(url) == region


def test_runtime_and_control_plane_urls():
    assert runtime_url("eu-west-3") == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert (
        runtime_url("cn-northwest-1") == "https://bedrock-runtime.cn-northwest-1.amazonaws.com.cn"
    )
    assert control_plane_url("https://bedrock-runtime.eu-west-3.amazonaws.com") == (
        "https://bedrock.eu-west-3.amazonaws.com"
    )
    assert control_plane_url("https://bedrock-runtime-fips.us-east-1.amazonaws.com") == (
        "https://bedrock-fips.us-east-1.amazonaws.com"
    )
    assert control_plane_url("https://proxy.example.test/aws/") == "https://proxy.example.test/aws"


def test_api_url_fixes_the_endpoint_and_its_region_signs():
    d = dialect("https://bedrock-runtime.ap-northeast-1.amazonaws.com/")
    assert d.base_url == "https://bedrock-runtime.ap-northeast-1.amazonaws.com"
    assert d.region == "ap-northeast-1"  # beats AWS_REGION=us-west-2: the host says so
    proxy = dialect("https://proxy.example.test/aws")
    assert proxy.base_url == "https://proxy.example.test/aws"
    assert proxy.region == "us-west-2"


def test_region_order(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    assert dialect().region == "us-west-2"
    monkeypatch.delenv("AWS_REGION")
    assert dialect().region == "eu-north-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert dialect().region == "us-east-1"


def test_region_from_the_active_profile(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION")
    (tmp_path / "config").write_text(
        "[default]\nregion = sa-east-1\n\n[profile work]\nregion = eu-west-2\n"
    )
    assert dialect().region == "sa-east-1"
    monkeypatch.setenv("AWS_PROFILE", "work")
    d = dialect()
    assert d.base_url == "https://bedrock-runtime.eu-west-2.amazonaws.com"
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert dialect().region == "us-east-1"


def test_bearer_mode_signs_nothing():
    d, a = dialect(), auth()
    headers = a.headers(Secret("brk-key-0123456789"))
    assert headers == {"Authorization": "Bearer brk-key-0123456789"}
    req = d.chat_request(ChatRequest((ChatMessage.user("x"),)), CLAUDE, None, False, headers)
    a.sign(req, Secret("brk-key-0123456789"))
    assert req.headers["Authorization"] == "Bearer brk-key-0123456789"
    assert "X-Amz-Date" not in req.headers
    assert a.headers(None) == {}


def test_sigv4_without_credentials_names_every_way_to_supply_them():
    d = dialect()
    req = d.chat_request(ChatRequest((ChatMessage.user("x"),)), CLAUDE, None, False, {})
    with pytest.raises(AuthError) as info:
        auth().sign(req, None)
    for name in ("BEDROCK_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        assert name in str(info.value)
    assert "Authorization" not in req.headers


def test_sigv4_without_botocore_says_which_extra_to_install(monkeypatch):
    monkeypatch.setattr(aws, "_import_botocore", lambda: None)
    d = dialect()
    req = d.chat_request(ChatRequest((ChatMessage.user("x"),)), CLAUDE, None, False, {})
    from construct.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        auth().sign(req, None)
    assert "pip install 'construct-llm[bedrock]'" in str(info.value)
    assert "BEDROCK_API_KEY" in str(info.value)


# -- stream parsing ------------------------------------------------------------------------


def run_to_end(raw: bytes):
    """The stream fed and finished, as HttpProvider drives it."""
    parser, events = run_stream(raw)
    return events + parser.finish()


def run_stream(raw: bytes, model: str = CLAUDE):
    d = dialect()
    decoder = d.new_framer()
    parser = d.stream_parser(ChatRequest((ChatMessage.user("x"),)), model)
    events = []
    for message in decoder.feed(raw):
        events += parser.feed(message)
    events += [e for m in decoder.flush() for e in parser.feed(m)]
    return parser, events


def test_a_text_stream():
    raw = oracle.text_events("Hel", "lo", " there", usage=(9, 4))
    parser, events = run_stream(raw)
    assert parser.complete
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo", " there"]
    assert parser.partial_text == "Hello there"
    final = parser.finish()
    assert [e.type for e in final] == ["final"]
    response = final[0].response
    assert (response.text, response.stop_reason) == ("Hello there", "end_turn")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 4)
    assert response.provider == "bedrock" and response.model == CLAUDE
    # botocore reads the same bytes into the same events.
    parsed = oracle.botocore_events(raw)
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in parsed if "contentBlockDelta" in e]
    assert "".join(deltas) == "Hello there"


def test_tool_calls_reasoning_and_cache_usage_in_a_stream():
    raw = b"".join(
        [
            oracle.event("messageStart", {"role": "assistant"}),
            oracle.event(
                "contentBlockDelta",
                {"delta": {"reasoningContent": {"text": "Need "}}, "contentBlockIndex": 0},
            ),
            oracle.event(
                "contentBlockDelta",
                {"delta": {"reasoningContent": {"text": "weather."}}, "contentBlockIndex": 0},
            ),
            oracle.event(
                "contentBlockDelta",
                {"delta": {"reasoningContent": {"signature": "c2ln"}}, "contentBlockIndex": 0},
            ),
            oracle.event("contentBlockStop", {"contentBlockIndex": 0}),
            oracle.event(
                "contentBlockDelta", {"delta": {"text": "Checking."}, "contentBlockIndex": 1}
            ),
            oracle.event("contentBlockStop", {"contentBlockIndex": 1}),
            *oracle.tool_events(2, "tooluse_a", "get_weather", ['{"ci', 'ty": "Pa', 'ris"}']),
            *oracle.tool_events(3, "tooluse_b", "get_weather", []),
            oracle.event("messageStop", {"stopReason": "tool_use"}),
            oracle.metadata(5, 40, cache_read=1200),
        ]
    )
    parser, events = run_stream(raw)
    assert [e.type for e in events] == [
        "reasoning_delta",
        "reasoning_delta",
        "text_delta",
        "tool_call",
        "tool_call",
    ]
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert [(c.id, c.name, c.parsed_arguments()) for c in calls] == [
        ("tooluse_a", "get_weather", {"city": "Paris"}),
        ("tooluse_b", "get_weather", {}),
    ]
    final = parser.finish()
    assert [e.type for e in final] == ["final"]  # the calls were already emitted
    response = final[0].response
    assert response.tool_calls == tuple(calls)
    assert response.reasoning_content == "Need weather."
    assert response.text == "Checking."
    assert response.stop_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.cached_input_tokens) == (1205, 1200)
    # botocore reads the same bytes into the same tool input, block by block.
    inputs: dict[int, str] = {}
    for e in oracle.botocore_events(raw):
        delta = e.get("contentBlockDelta", {})
        if "toolUse" in delta.get("delta", {}):
            index = delta["contentBlockIndex"]
            inputs[index] = inputs.get(index, "") + delta["delta"]["toolUse"]["input"]
    assert inputs == {2: calls[0].arguments}


def test_a_tool_block_that_never_stopped_is_emitted_by_finish():
    raw = b"".join(
        [
            *oracle.tool_events(0, "t9", "get_weather", ['{"city": "Rome"}'])[:-1],
            oracle.event("messageStop", {"stopReason": "tool_use"}),
        ]
    )
    parser, events = run_stream(raw)
    assert events == []
    final = parser.finish()
    assert [e.type for e in final] == ["tool_call", "final"]
    assert final[0].tool_call.parsed_arguments() == {"city": "Rome"}


def test_a_stream_without_message_stop_is_not_complete():
    raw = oracle.text_events("partial")
    frames = oracle.botocore_frames(raw)
    cut = raw[
        : len(raw)
        - len(oracle.metadata(7, 3))
        - len(oracle.event("messageStop", {"stopReason": "end_turn"}))
    ]
    parser, _ = run_stream(cut)
    assert not parser.complete
    assert parser.partial_text == "partial"
    assert len(frames) == 5


def test_unknown_events_and_members_are_ignored():
    raw = oracle.frame(
        [(":event-type", oracle.STRING, "somethingNew"), (":message-type", oracle.STRING, "event")],
        b'{"x": 1}',
    ) + oracle.text_events("ok")
    parser, _ = run_stream(raw)
    assert parser.partial_text == "ok"


def test_a_non_json_event_is_an_invalid_response():
    raw = oracle.frame(
        [
            (":event-type", oracle.STRING, "contentBlockDelta"),
            (":message-type", oracle.STRING, "event"),
        ],
        b"not json",
    )
    with pytest.raises(InvalidResponse):
        run_stream(raw)


EXCEPTIONS = [
    (
        "throttlingException",
        "Too many requests, please wait before trying again.",
        RateLimited,
        429,
    ),
    ("serviceUnavailableException", "Service is unavailable.", TransientError, 503),
    ("internalServerException", "Internal error.", TransientError, 500),
    ("modelStreamErrorException", "The model stream failed.", TransientError, 424),
    ("validationException", "Input is too long for requested model.", ContextWindowExceeded, 400),
    ("validationException", "Malformed input request.", InvalidRequest, 400),
    ("modelTimeoutException", "Model timed out.", TransientError, 408),
    ("accessDeniedException", "You don't have access to the model.", AuthError, 403),
    ("someFutureException", "New failure.", TransientError, 500),
]


@pytest.mark.parametrize(("kind", "message", "cls", "status"), EXCEPTIONS)
def test_exception_events_raise_their_error(kind, message, cls, status):
    raw = oracle.exception(kind, message)
    with pytest.raises(cls) as info:
        run_to_end(raw)
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.provider == "bedrock"
    assert message.rstrip(".") in str(info.value)
    if kind in oracle.stream_shape().members:
        # botocore too reads the frame as that exception.
        from botocore.exceptions import EventStreamError

        with pytest.raises(EventStreamError) as boto:
            oracle.botocore_events(raw)
        assert boto.value.response["Error"]["Code"] == kind


def test_text_before_an_exception_in_the_same_read_is_still_delivered():
    raw = b"".join(
        [
            oracle.event("messageStart", {"role": "assistant"}),
            oracle.event("contentBlockDelta", {"delta": {"text": "Par"}, "contentBlockIndex": 0}),
            oracle.exception("throttlingException", "Too many tokens, please wait."),
        ]
    )
    parser, events = run_stream(raw)
    assert [e.delta for e in events] == ["Par"]
    # The stream ended with the exception: complete, and finish raises it.
    assert parser.complete
    with pytest.raises(RateLimited):
        parser.finish()
    # Nothing after an exception frame is taken as data.
    with pytest.raises(RateLimited):
        parser.feed(dialect().new_framer().feed(oracle.text_events("late"))[0])


def test_a_generic_error_frame():
    raw = oracle.frame(
        [
            (":message-type", oracle.STRING, "error"),
            (":error-code", oracle.STRING, "InternalFailure"),
            (":error-message", oracle.STRING, "Something broke"),
        ],
        b"",
    )
    with pytest.raises(TransientError, match="Something broke"):
        run_to_end(raw)


def test_the_exception_table_agrees_with_the_service_model():
    shapes = {
        s.name: s.metadata["error"]["httpStatusCode"]
        for s in oracle.operation("ConverseStream").error_shapes
    }
    for name, member in oracle.stream_shape().members.items():
        if member.metadata.get("exception"):
            shapes[name] = member.metadata["error"]["httpStatusCode"]
    table = bedrock_converse._EXCEPTION_STATUS
    for name, status in shapes.items():
        assert table[name[0].lower() + name[1:]] == status, name


def test_guardrail_stop_is_content_filter_not_an_error():
    raw = oracle.text_events("Sorry.", stop="guardrail_intervened")
    parser, _ = run_stream(raw)
    assert parser.finish()[-1].response.stop_reason == "content_filter"


def test_content_blocked_from_a_validation_text():
    raw = oracle.exception("validationException", "content_filter triggered")
    with pytest.raises(ContentBlocked):
        run_to_end(raw)


def test_decoder_is_the_dialect_framer():
    d = dialect()
    framer = d.new_framer()
    assert isinstance(framer, EventStreamDecoder)
    assert framer is not d.new_framer()
