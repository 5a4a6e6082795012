"""Error hierarchy, message scrubbing and HTTP classification (PROVIDERS.md E1, E2, K4)."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest

from construct.errors import (
    AllProvidersFailed,
    AuthError,
    ConfigError,
    ConstructError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilityError,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
    UnknownProvider,
    classify_http_error,
    error_message_from_body,
)
from construct.secrets import REDACTED

OPENAI_KEY = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0F"


def classify(status: int, body: str = "", headers=None, key_env=()) -> ProviderError:
    return classify_http_error("openai", "OpenAI", status, body, headers, key_env)


def openai_body(message: str, type_: str = "invalid_request_error", code: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


# ---- hierarchy ---------------------------------------------------------------------------------

TREE = [
    (ConfigError, ConstructError),
    (UnknownProvider, ConfigError),
    (ProviderError, ConstructError),
    (AuthError, ProviderError),
    (RateLimited, ProviderError),
    (QuotaExhausted, ProviderError),
    (InvalidRequest, ProviderError),
    (ContextWindowExceeded, InvalidRequest),
    (ContentBlocked, ProviderError),
    (TransientError, ProviderError),
    (InvalidResponse, ProviderError),
    (StreamInterrupted, ProviderError),
    (ProviderCapabilityError, ProviderError),
    (AllProvidersFailed, ProviderError),
    (ConstructError, Exception),
]


@pytest.mark.parametrize(("cls", "parent"), TREE, ids=[c.__name__ for c, _ in TREE])
def test_hierarchy(cls: type, parent: type) -> None:
    assert issubclass(cls, parent)


@pytest.mark.parametrize(
    ("cls", "not_parent"),
    [
        (UnknownProvider, ProviderError),
        (ConfigError, ProviderError),
        (ProviderError, ConfigError),
        (QuotaExhausted, RateLimited),
        (RateLimited, QuotaExhausted),
        (ContentBlocked, InvalidRequest),
        (ContextWindowExceeded, TransientError),
        (AuthError, InvalidRequest),
    ],
)
def test_hierarchy_siblings_are_distinct(cls: type, not_parent: type) -> None:
    assert not issubclass(cls, not_parent)


RETRYABLE = {RateLimited, TransientError, InvalidResponse}
PROVIDER_ERRORS = [
    AuthError,
    RateLimited,
    QuotaExhausted,
    InvalidRequest,
    ContextWindowExceeded,
    ContentBlocked,
    TransientError,
    InvalidResponse,
    StreamInterrupted,
    ProviderCapabilityError,
    AllProvidersFailed,
    ProviderError,
]


@pytest.mark.parametrize("cls", PROVIDER_ERRORS, ids=lambda c: c.__name__)
def test_is_retryable_exactly_for_rate_limit_transient_invalid_response(cls: type) -> None:
    assert cls.is_retryable is (cls in RETRYABLE)
    assert cls("boom").is_retryable is (cls in RETRYABLE)


# ---- scrubbing at construction -----------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [ConstructError, ConfigError, *PROVIDER_ERRORS], ids=lambda c: c.__name__
)
def test_every_error_message_is_scrubbed_at_construction(cls: type) -> None:
    err = cls("key sk-abc123456789 was rejected")
    assert "sk-abc123456789" not in str(err)
    assert "sk-abc123456789" not in repr(err)
    assert "sk-abc123456789" not in err.message
    assert all("sk-abc123456789" not in str(a) for a in err.args)
    assert str(err) == f"key {REDACTED} was rejected"


def test_unknown_provider_scrubs_name_and_keeps_suggestions() -> None:
    err = UnknownProvider(f"unknown provider {OPENAI_KEY!r}", OPENAI_KEY, ["openai", "groq"])
    assert isinstance(err, ConfigError)
    assert OPENAI_KEY not in str(err)
    assert OPENAI_KEY not in err.name
    assert err.suggestions == ["openai", "groq"]


def test_provider_error_attributes_and_scrubbed_body() -> None:
    body = f'{{"error": "bad key {OPENAI_KEY}"}}'
    err = RateLimited("slow down", provider="groq", status=429, retry_after=2.0, body=body)
    assert (err.provider, err.status, err.retry_after) == ("groq", 429, 2.0)
    assert err.body is not None and OPENAI_KEY not in err.body and REDACTED in err.body
    assert ProviderError("x").body is None


def test_provider_error_repr_is_scrubbed_and_informative() -> None:
    err = AuthError(f"Bearer {OPENAI_KEY[3:]} refused", provider="openai", status=401)
    r = repr(err)
    assert r.startswith("AuthError(")
    assert "provider='openai'" in r and "status=401" in r
    assert OPENAI_KEY[3:] not in r


def test_error_built_from_an_exception_is_scrubbed() -> None:
    cause = RuntimeError(f"connect failed for https://x.test/?key={OPENAI_KEY[8:]}")
    err = TransientError(cause)  # type: ignore[arg-type]
    assert OPENAI_KEY[8:] not in str(err)
    assert "connect failed" in str(err)
    assert ConfigError(ValueError("bad value")).message == "bad value"  # type: ignore[arg-type]


def test_long_provider_error_message_is_bounded() -> None:
    err = ProviderError("<html>" + "x" * 50_000)
    assert len(str(err)) < 2_000
    assert str(err).endswith("...")


def test_all_providers_failed_keeps_long_messages_scrubbed() -> None:
    lines = [
        f"provider=p{i} model=m attempt 1/3: rate limited; error=429 with key {OPENAI_KEY}"
        for i in range(20)
    ]
    message = "All providers/models failed. Attempts:\n" + "\n".join(lines)
    attempts = [{"provider": f"p{i}"} for i in range(20)]
    err = AllProvidersFailed(message, attempts=attempts, retry_after=3.0)
    assert len(message) > 1_000
    assert OPENAI_KEY not in str(err)
    assert "provider=p19" in str(err)  # not cut
    assert not str(err).endswith("...")
    assert str(err).count(REDACTED) == 20
    assert err.attempts == attempts
    assert err.retry_after == 3.0
    assert err.is_retryable is False


def test_stream_interrupted_and_capability_extras() -> None:
    err = StreamInterrupted("stream broke", partial_text="Hello, wor", provider="groq")
    assert err.partial_text == "Hello, wor" and err.provider == "groq"
    cap = ProviderCapabilityError("no vision", capability="vision", provider="ollama")
    assert cap.capability == "vision" and cap.provider == "ollama"


def test_errors_survive_pickling_scrubbed() -> None:
    # concurrent.futures / multiprocessing pickle exceptions.
    err = classify(429, openai_body(f"slow down {OPENAI_KEY}"), {"retry-after": "4"})
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is RateLimited
    assert str(back) == str(err)
    assert back.retry_after == 4.0
    assert OPENAI_KEY not in pickle.dumps(err).decode("latin-1")


# ---- error_message_from_body -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (openai_body("Invalid model", code="model_not_found"), "Invalid model (model_not_found)"),
        (
            openai_body("Code already said: model_not_found", code="model_not_found"),
            "Code already said: model_not_found",
        ),
        ('{"error": {"message": "plain"}}', "plain"),
        ('{"error": "Model not found"}', "Model not found"),
        (
            '{"error": {"code": 400, "message": "Bad thing", "status": "INVALID_ARGUMENT"}}',
            "Bad thing (INVALID_ARGUMENT)",
        ),
        (
            '[{"error": {"code": 429, "message": "Quota hit", "status": "RESOURCE_EXHAUSTED"}}]',
            "Quota hit (RESOURCE_EXHAUSTED)",
        ),
        (
            '{"message": "Input is too long for requested model."}',
            "Input is too long for requested model.",
        ),
        ('{"detail": "Not authenticated"}', "Not authenticated"),
        (
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded (overloaded_error)",
        ),
        ("upstream connect error", "upstream connect error"),
        (
            "  <html><body>502 Bad Gateway</body></html>\n",
            "<html><body>502 Bad Gateway</body></html>",
        ),
        ("{not json", "{not json"),
        ("[]", "[]"),
        ('{"error": {"code": 500}}', '{"error": {"code": 500}}'),
        ("", ""),
    ],
)
def test_error_message_from_body(body: str, expected: str) -> None:
    assert error_message_from_body(body) == expected


# ---- classify_http_error -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_name_the_key_env_vars(status: int) -> None:
    err = classify(
        status,
        openai_body("Incorrect API key provided"),
        None,
        ("OPENAI_API_KEY", "CONSTRUCT_API_KEY"),
    )
    assert type(err) is AuthError
    assert err.status == status and err.provider == "openai"
    assert "OPENAI_API_KEY" in str(err) and "CONSTRUCT_API_KEY" in str(err)
    assert not err.is_retryable


def test_auth_error_keeps_env_var_advice_after_a_huge_body() -> None:
    err = classify(401, "<html>" + "unauthorized " * 400 + "</html>", None, ("GROQ_API_KEY",))
    assert "GROQ_API_KEY" in str(err)
    assert "..." in str(err)  # the body part is still cut


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_invalid_request_statuses(status: int) -> None:
    err = classify(status, openai_body("Unrecognized request argument supplied: foo"))
    assert type(err) is InvalidRequest
    assert err.status == status
    assert not err.is_retryable


CONTEXT_BODIES = {
    "openai-json": openai_body(
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130532 tokens.",
        code="context_length_exceeded",
    ),
    "openai-code-only": openai_body("Request too large", code="context_length_exceeded"),
    "anthropic": json.dumps(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 210000 tokens > 200000",
            },
        }
    ),
    "exceeds-window": "Your input exceeds the context window of this model",
    "llamacpp": '{"error":{"code":400,"message":"the request exceeds the available context '
    'size, try increasing it","type":"exceed_context_size_error"}}',
    "window-of-model": "Please reduce: context window of this model is 8k",
    "context-length-exceeded": "Context length exceeded",
    "too-many-tokens": "too many tokens: 9000 > 8192",
    "token-limit": "Token limit exceeded for this request",
    "bedrock": '{"message": "Input is too long for requested model."}',
    "prompt-max-length": "Prompt exceeds max length",
    "groq": openai_body("Please reduce the length of the messages or completion."),
    "gemini": json.dumps(
        {
            "error": {
                "code": 400,
                "message": "The input token count (1200000) "
                "exceeds the maximum number of tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT",
            }
        }
    ),
    "upper-case": "MAXIMUM CONTEXT LENGTH reached",
}


@pytest.mark.parametrize("body", CONTEXT_BODIES.values(), ids=CONTEXT_BODIES.keys())
def test_context_window_exceeded(body: str) -> None:
    err = classify(400, body)
    assert type(err) is ContextWindowExceeded
    assert isinstance(err, InvalidRequest)
    assert err.status == 400
    assert not err.is_retryable
    assert "context window" in str(err)  # the advice


def test_context_window_on_413() -> None:
    assert type(classify(413, "prompt is too long")) is ContextWindowExceeded


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "7"},
        httpx.Headers({"Retry-After": "7"}),
        {"retry-after-ms": "7000", "retry-after": "99"},
    ],
)
def test_rate_limited_carries_retry_after(headers) -> None:
    err = classify(
        429, openai_body("Rate limit reached for requests", code="rate_limit_exceeded"), headers
    )
    assert type(err) is RateLimited
    assert err.retry_after == 7.0
    assert err.is_retryable
    assert "429 Too Many Requests" in str(err)


def test_rate_limited_retry_after_from_body_and_none() -> None:
    gemini = json.dumps(
        [
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}
                    ],
                }
            }
        ]
    )
    assert classify(429, gemini).retry_after == 12.5
    assert classify(429, "slow down").retry_after is None


def test_rate_limit_with_billing_link_is_still_retryable() -> None:
    # OpenAI's classic per-minute message links to the billing page; it is not a dead quota.
    body = openai_body(
        "Rate limit reached for default-gpt-3.5-turbo on requests per min. Limit: 3 / min. "
        "Please try again in 20s. Visit https://platform.openai.com/account/billing to add a "
        "payment method.",
        type_="requests",
        code="rate_limit_exceeded",
    )
    assert type(classify(429, body)) is RateLimited


QUOTA_BODIES = {
    "openai-insufficient-quota": openai_body(
        "You exceeded your current quota, please check your plan and billing details.",
        type_="insufficient_quota",
        code="insufficient_quota",
    ),
    "code-only": openai_body("Request refused", code="insufficient_quota"),
    "exceeded-quota-text": "You exceeded your current quota",
    "insufficient-balance": '{"error":{"message":"Insufficient Balance","type":"x"}}',
    "insufficient_balance": '{"error":{"code":"insufficient_balance"}}',
    "insufficient-quota-space": "insufficient quota",
    "zai-plan": json.dumps(
        {
            "error": {
                "code": "1311",
                "message": "Your current plan does not include access to model glm-5",
            }
        }
    ),
    "zai-1113": json.dumps(
        {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}
    ),
    "zai-1113-int": '{"error": {"code": 1113, "message": "no credit"}}',
    "package": "No available package for this model, purchase package first",
    "credits": "Out of credits",
    "plan": "Model not available for your plan",
    "quota-exhausted": "Quota exhausted for today",
}


@pytest.mark.parametrize("body", QUOTA_BODIES.values(), ids=QUOTA_BODIES.keys())
def test_quota_exhausted(body: str) -> None:
    err = classify(429, body)
    assert type(err) is QuotaExhausted
    assert not isinstance(err, RateLimited)
    assert not err.is_retryable
    assert err.status == 429


def test_payment_required_is_quota_exhausted() -> None:
    err = classify(402, '{"error":{"message":"Insufficient Balance","type":"unknown_error"}}')
    assert type(err) is QuotaExhausted
    assert "402 Payment Required" in str(err)


@pytest.mark.parametrize("status", [408, 409, 425, 500, 502, 503, 504, 529, 599])
def test_transient_statuses(status: int) -> None:
    err = classify(status, "upstream unavailable")
    assert type(err) is TransientError
    assert err.is_retryable
    assert err.status == status


def test_overloaded_529_and_503_carry_retry_after() -> None:
    assert classify(529, "Overloaded", {"retry-after": "3"}).retry_after == 3.0
    assert classify(503, "down", {"retry-after": "5"}).retry_after == 5.0
    assert classify(500, "down", {"retry-after": "5"}).retry_after is None


CONTENT_BODIES = {
    "openai-images": openai_body("Your request was rejected", code="content_policy_violation"),
    "azure": json.dumps(
        {
            "error": {
                "message": "The response was filtered due to the prompt "
                "triggering Azure OpenAI's content management policy.",
                "code": "content_filter",
                "status": 400,
            }
        }
    ),
    "moderation": "Your prompt was flagged by our moderation system",
    "azure-inner": "ResponsibleAIPolicyViolation",
}


@pytest.mark.parametrize("body", CONTENT_BODIES.values(), ids=CONTENT_BODIES.keys())
def test_content_blocked(body: str) -> None:
    err = classify(400, body)
    assert type(err) is ContentBlocked
    assert not err.is_retryable


def test_other_4xx_is_invalid_request_and_2xx_invalid_response() -> None:
    assert type(classify(418, "teapot")) is InvalidRequest
    assert type(classify(200, "<html>not json")) is InvalidResponse
    assert classify(200, "x").is_retryable


def test_echoed_429_in_a_400_stays_invalid_request() -> None:
    # LiteLLM PR #36705: a 400 whose body echoes the request (mentioning 429, rate limits,
    # quota, long prompts) was retried as a rate limit.
    body = json.dumps(
        {
            "error": {
                "message": "Invalid value for 'temperature': 3",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "invalid_value",
            },
            "request": {
                "messages": [
                    {
                        "role": "user",
                        "content": "Error 429 Too Many Requests: rate limit; insufficient_quota; "
                        "prompt is too long; retry-after: 30",
                    }
                ]
            },
        }
    )
    err = classify(400, body)
    assert type(err) is InvalidRequest
    assert not err.is_retryable
    assert err.retry_after is None


def test_echoed_quota_words_in_a_429_do_not_make_it_a_quota_error() -> None:
    body = json.dumps(
        {
            "error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"},
            "request": {"prompt": "explain 'insufficient_quota' errors"},
        }
    )
    assert type(classify(429, body)) is RateLimited


def test_plain_text_429_in_400_stays_invalid_request() -> None:
    assert type(classify(400, "bad request: the user wrote 429 Too Many Requests")) is (
        InvalidRequest
    )


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (404, "Not Found"),
        (429, "Too Many Requests"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
        (529, "Overloaded"),
    ],
)
def test_message_has_display_name_status_and_phrase(status: int, phrase: str) -> None:
    err = classify_http_error("groq", "Groq", status, '{"error":{"message":"nope"}}')
    assert str(err).startswith(f"Groq API error ({status} {phrase}): nope")
    assert err.provider == "groq"


def test_message_unknown_status_and_empty_body() -> None:
    err = classify(418, "")
    assert str(err).startswith("OpenAI API error (418): (empty body). ")


def test_message_punctuation_and_whitespace() -> None:
    err = classify(400, "Line one.\n\n   <b>Line two</b>.\n")
    assert "Line one. <b>Line two</b>. Check" in str(err)
    assert ".." not in str(err)


@pytest.mark.parametrize(
    "secret_text",
    [
        OPENAI_KEY,
        "sk-ant-api03-AbCdEfGh_IjKlMnOp-QrStUv1234567890",
        "Bearer abcdefghijk0123456789",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    ],
)
@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_keys_echoed_in_the_body_never_reach_message_repr_or_body(
    secret_text: str, status: int
) -> None:
    token = secret_text.removeprefix("Bearer ")
    bodies = [
        openai_body(f"Incorrect API key provided: {secret_text}."),
        f"upstream said: Authorization: {secret_text}",
        json.dumps({"error": {"message": "denied"}, "headers": {"Authorization": secret_text}}),
    ]
    for body in bodies:
        err = classify(status, body)
        for rendered in (str(err), repr(err), err.body or "", *map(str, err.args)):
            assert token not in rendered
            assert token[-8:] not in rendered


def test_key_straddling_the_body_cut_does_not_leak() -> None:
    body = "x" * 470 + " " + OPENAI_KEY + " " + "y" * 100
    err = classify(500, body)
    assert "sk-" not in str(err)
    assert "sk-" not in (err.body or "")
    assert OPENAI_KEY[:10] not in str(err)


def test_quota_text_with_a_retry_hint_is_a_rate_limit_not_exhaustion():
    # Gemini's free tier: per-minute limits say "exceeded your current quota" and
    # carry a retryDelay; waiting works, so it must stay retryable.
    body = (
        '{"error": {"code": 429, "message": "You exceeded your current quota.", '
        '"status": "RESOURCE_EXHAUSTED", "details": [{"@type": '
        '"type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}'
    )
    err = classify_http_error("gemini", "Google Gemini", 429, body)
    assert type(err) is RateLimited
    assert err.retry_after == 17.0
    assert err.is_retryable
    plain = classify_http_error("gemini", "Google Gemini", 429, body.replace('"17s"', "null"))
    assert type(plain) is QuotaExhausted


def test_gemini_bad_key_400_is_an_auth_error():
    body = (
        '{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", '
        '"status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}'
    )
    err = classify_http_error("gemini", "Google Gemini", 400, body, key_env=("GEMINI_API_KEY",))
    assert type(err) is AuthError
    assert "GEMINI_API_KEY" in str(err)
    assert (
        type(classify_http_error("x", "X", 400, '{"error": {"message": "bad"}}')) is InvalidRequest
    )


def test_an_exception_the_caller_is_handling_is_left_alone() -> None:
    # Only what construct itself caught is scrubbed (tests/test_leaks.py covers that over
    # real sockets); a caller's own exception is theirs.
    key = "sk-caller-owned-0123456789"
    try:
        raise ValueError(f"the caller's {key}")
    except ValueError as mine:
        error = ProviderError(f"built while handling {key}")
        assert key in str(mine)
    assert key not in str(error)


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_a_redirect_names_its_target_and_the_fix(status: int) -> None:
    error = classify(status, "<html>Moved</html>", {"Location": "https://new.example/v1?sig=abc"})
    assert isinstance(error, InvalidResponse)
    assert "redirected to https://new.example/v1." in error.message
    assert "sig=" not in error.message
    assert "never follows redirects" in error.message and "api_url" in error.message
    assert "model name" not in error.message
