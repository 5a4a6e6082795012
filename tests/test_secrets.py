"""Secret scrubbing (PROVIDERS.md E2) and the masked key type (K4)."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from construct.secrets import (
    MAX_ERROR_CHARS,
    REDACTED,
    Secret,
    is_credential_header,
    mask,
    sanitize_api_error,
    scrub_exception_chain,
    scrub_secret_patterns,
)

# Fake credentials of every family E2 names. Each must vanish from any text it appears in.
KEYS = {
    "openai": "sk-abcdefghijklmnop1234567890ABCD",
    "anthropic": "sk-ant-api03-AbCdEfGh_IjKlMnOp-QrStUv1234567890",
    "openai-project": "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0F",
    "openrouter": "sk-or-v1-0123456789abcdef0123456789abcdef",
    "slack-bot": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "slack-user": "xoxp-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "slack-app": "xapp-1-A0123456789-1234567890123-abcdef0123",
    "github-pat": "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github-oauth": "gho_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github-user": "ghu_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github-server": "ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github-refresh": "ghr_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "github-fine": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "groq": "gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "xai": "xai-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "nvidia": "nvapi-AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789",
    "perplexity": "pplx-0123456789abcdef0123456789abcdef",
    "huggingface": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "aws-akia": "AKIAIOSFODNN7EXAMPLE",
    "aws-asia": "ASIAY34FZKBOKMUTVV7A",
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    ),
}


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "Incorrect API key provided: {}. Check it.",
        '{{"error": {{"message": "bad key", "key": "{}"}}}}',
        "(key {})",
        "api_key_value={}",
        "key:{} ",
        "line one\n{}\nline three",
    ],
    ids=["bare", "sentence", "json", "parens", "after-equals", "after-colon", "own-line"],
)
def test_every_key_family_is_scrubbed_in_every_context(key: str, template: str) -> None:
    text = template.format(key)
    scrubbed = scrub_secret_patterns(text)
    assert key not in scrubbed
    assert REDACTED in scrubbed
    # Not even a recognisable tail survives.
    assert key[-10:] not in scrubbed


def test_surrounding_text_is_kept() -> None:
    key = KEYS["openai-project"]
    assert scrub_secret_patterns(f'{{"key": "{key}"}}') == f'{{"key": "{REDACTED}"}}'
    assert scrub_secret_patterns(f"(uses {key})") == f"(uses {REDACTED})"
    assert scrub_secret_patterns(f"Incorrect API key provided: {key}") == (
        f"Incorrect API key provided: {REDACTED}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "task-xyz1234",
        "the task-xyz1234 finished",
        "risk-averse desk-top ask-me-anything",
        "Please check your request and try again.",
        "model gpt-4o-mini is not available; use claude-sonnet-4-5 instead",
        "a well-known, state-of-the-art, easy-to-use library",
        "mask-abcdef1234 and flask-app-1234 and whisk-1234567",
        "cache_key=abcdef123 and max_tokens=4096",
        "path/to/file_hf_model and the_ghp_like word",
        "OPENAI_API_KEY or CONSTRUCT_API_KEY",
        "ASIAN markets and AKIAN words",
        "",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert scrub_secret_patterns(text) == text


def test_task_prefix_is_not_scrubbed_mid_word() -> None:
    # The reference scrubbed `task-xyz1234` into `ta[REDACTED]`.
    out = scrub_secret_patterns("task-xyz1234 sk-realkey1234567890")
    assert out == f"task-xyz1234 {REDACTED}"
    assert "ta[REDACTED]" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123def456ghi", f"Authorization: Bearer {REDACTED}"),
        ("authorization: bearer abc123def456ghi", f"authorization: bearer {REDACTED}"),
        ("BEARER abc.def-ghi_jkl/mno+pqr=", f"BEARER {REDACTED}"),
        ("sent header bearer    zzzzyyyyxxxx", f"sent header bearer {REDACTED}"),
        ('{"Authorization": "Bearer tok_987654321"}', f'{{"Authorization": "Bearer {REDACTED}"}}'),
    ],
)
def test_bearer_tokens_any_case(text: str, expected: str) -> None:
    assert scrub_secret_patterns(text) == expected


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("GET https://x.test/v1/models?key=AbCdEf123456&alt=json", "AbCdEf123456"),
        ("https://x.test/v1?alt=json&api_key=plainvalue42", "plainvalue42"),
        ("https://x.test/cb?access_token=ya29.a0AfH6SMBx&state=1", "ya29.a0AfH6SMBx"),
        ("https://x.test/stream?token=opaque-token-value#frag", "opaque-token-value"),
        ("access_token=ya29.zzzzzzzz at the start", "ya29.zzzzzzzz"),
        ("token=opaquevalue99", "opaquevalue99"),
        ("GET /v1?KEY=UpperCaseValue1", "UpperCaseValue1"),
        ('<a href="https://x.test/?key=inhtml12345">', "inhtml12345"),
    ],
)
def test_url_parameter_values(text: str, leak: str) -> None:
    out = scrub_secret_patterns(text)
    assert leak not in out
    assert REDACTED in out


def test_url_parameter_keeps_the_rest_of_the_url() -> None:
    out = scrub_secret_patterns("https://x.test/v1/models?key=AbCdEf123456&alt=json#top")
    assert out == f"https://x.test/v1/models?key={REDACTED}&alt=json#top"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ('{"x-api-key": "abcdef0123456789"}', "abcdef0123456789"),
        ("{'x-api-key': 'abcdef0123456789'}", "abcdef0123456789"),
        ("x-api-key: abcdef0123456789", "abcdef0123456789"),
        ("api-key: azurekeyvalue0123", "azurekeyvalue0123"),
        ("Api-Key=azurekeyvalue0123", "azurekeyvalue0123"),
        ('"x-goog-api-key": "googkeyvalue0123"', "googkeyvalue0123"),
        ("Authorization: opaquecredential0123", "opaquecredential0123"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("authorization: Token opaque0123456", "opaque0123456"),
        ('"Proxy-Authorization": "Basic cHJveHk6c2VjcmV0"', "cHJveHk6c2VjcmV0"),
    ],
)
def test_header_dumps(text: str, leak: str) -> None:
    out = scrub_secret_patterns(text)
    assert leak not in out
    assert REDACTED in out


def test_header_dump_keeps_scheme_and_structure() -> None:
    assert scrub_secret_patterns('{"x-api-key": "abcdef0123456789", "a": 1}') == (
        f'{{"x-api-key": "{REDACTED}", "a": 1}}'
    )
    assert scrub_secret_patterns("Authorization: Basic dXNlcjpwYXNz") == (
        f"Authorization: Basic {REDACTED}"
    )
    # Already redacted stays as it is (no double marker, no redacted scheme word).
    once = scrub_secret_patterns("Authorization: Bearer abc123def456ghi")
    assert scrub_secret_patterns(once) == once == f"Authorization: Bearer {REDACTED}"


def test_secret_values_are_scrubbed_literally_whatever_their_shape() -> None:
    value = "plainlongsecretvalue99"
    text = f"proxy said: {value} is not allowed (value: {value})!"
    assert scrub_secret_patterns(text) == text  # no pattern knows this shape
    Secret(value)
    out = scrub_secret_patterns(text)
    assert value not in out
    assert out == f"proxy said: {REDACTED} is not allowed (value: {REDACTED})!"


def test_secret_scrubbing_finds_values_inside_words_and_all_secrets() -> None:
    first, second = Secret("Zq8xLmNoPqRsTuV"), Secret("another~odd$key.value")
    out = scrub_secret_patterns("prefixZq8xLmNoPqRsTuVsuffix and another~odd$key.value.")
    assert first.reveal() not in out
    assert second.reveal() not in out
    assert out == f"prefix{REDACTED}suffix and {REDACTED}."


def test_short_secret_values_are_not_scrubbed_literally() -> None:
    # A 7-character "key" would redact ordinary words everywhere.
    Secret("hello12")
    assert scrub_secret_patterns("hello12 world") == "hello12 world"


def test_sanitize_short_text_unchanged() -> None:
    text = "Bad request: unknown model 'foo'"
    assert sanitize_api_error(text) == text
    assert sanitize_api_error("x" * MAX_ERROR_CHARS) == "x" * MAX_ERROR_CHARS


def test_sanitize_cuts_at_500_plus_ellipsis() -> None:
    out = sanitize_api_error("y" * 1200)
    assert out == "y" * 500 + "..."
    assert len(out) == 503
    assert sanitize_api_error("z" * 501) == "z" * 500 + "..."


def test_sanitize_scrubs_before_cutting() -> None:
    key = KEYS["openai-project"]
    text = "a" * 494 + " " + key + " tail"
    out = sanitize_api_error(text)
    # Cutting first would keep `sk-pr` (and no pattern would then match the stump).
    assert "sk-" not in out
    assert out == "a" * 494 + " " + REDACTED[:5] + "..."


def test_sanitize_scrubs_literal_secret_straddling_the_cut() -> None:
    value = Secret("opaque0straddling0value").reveal()
    out = sanitize_api_error("b" * 490 + value + "c" * 100)
    assert "opaque0" not in out
    assert out.startswith("b" * 490 + REDACTED)


def test_sanitize_scrubs_keys_past_the_cut_too() -> None:
    key = KEYS["groq"]
    out = sanitize_api_error(key + " " + "x" * 600)
    assert out.startswith(REDACTED)
    assert key not in out


# ---- Secret (K4) -------------------------------------------------------------------------------

KEY = "sk-proj-K4maskedkeyvalue0000abcd"


def test_secret_repr_and_str_are_masked() -> None:
    s = Secret(KEY)
    percent_r = "%r" % (s,)  # noqa: UP031 - the %-formatting path is what is under test
    percent_s = "%s" % (s,)  # noqa: UP031
    for rendered in (repr(s), str(s), f"{s}", f"{s!r}", percent_r, percent_s, format(s)):
        assert KEY not in rendered
        assert "K4maskedkeyvalue" not in rendered
        assert "sk-…abcd" in rendered
    assert repr(s) == "Secret('sk-…abcd')"
    assert repr([s]) == "[Secret('sk-…abcd')]"
    assert KEY not in repr({"key": s})


def test_secret_not_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(KEY)
    with caplog.at_level(logging.INFO):
        logging.getLogger("construct.test").info("using key %s (%r)", s, s)
    assert caplog.records
    assert KEY not in caplog.text
    assert "sk-…abcd" in caplog.text


def test_secret_reveal_and_strip() -> None:
    assert Secret(KEY).reveal() == KEY
    assert Secret(f"  {KEY}\n").reveal() == KEY
    assert Secret(KEY).last4 == "abcd"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_blank_secret_raises(blank: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        Secret(blank)


def test_secret_equality_and_hash() -> None:
    a, b, c = Secret(KEY), Secret(KEY), Secret(KEY + "x")
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != KEY  # never equal to the raw string: no accidental comparisons in logs
    assert len({a, b, c}) == 2


def test_secret_copy_is_fine_but_pickle_is_refused() -> None:
    s = Secret(KEY)
    assert copy.copy(s) == s
    assert copy.deepcopy({"k": s})["k"] == s
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_secret_has_no_instance_dict() -> None:
    # `vars(secret)` / `secret.__dict__` cannot dump the value into a log.
    with pytest.raises(TypeError):
        vars(Secret(KEY))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk-proj-K4maskedkeyvalue0000abcd", "sk-…abcd"),
        ("gsk_0123456789wxyz", "gsk…wxyz"),
        ("shortkey", "…"),
        ("abc", "…"),
        ("ключ-секрет-значение-0123", "…0123"),
    ],
)
def test_mask(value: str, expected: str) -> None:
    assert mask(value) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "api-key",
        "X-Auth-Token",
        "Cookie",
        "X-Client-Secret",
        "X-Password",
        "OpenAI-Organization-KEY",
    ],
)
def test_credential_headers(name: str) -> None:
    assert is_credential_header(name)


@pytest.mark.parametrize(
    "name", ["X-Title", "HTTP-Referer", "Content-Type", "anthropic-version", "User-Agent", ""]
)
def test_ordinary_headers_are_not_credentials(name: str) -> None:
    assert not is_credential_header(name)


def test_scrub_exception_chain_cleans_args_attributes_and_request_headers() -> None:
    import httpx

    key = KEYS["openai-project"]
    request = httpx.Request(
        "POST",
        "https://api.example.com/v1",
        headers={"Authorization": f"Bearer {key}", "X-Gateway-Token": "gw-token-0123456789"},
    )
    try:
        json.loads(f"<html>echo {key}</html>")
    except ValueError as exc:
        decode = exc
    connect = httpx.ConnectError(f"refused while sending {key}", request=request)
    connect.__context__ = decode
    connect.add_note(f"note {key}")
    scrub_exception_chain(connect)
    assert key not in str(connect) and key not in connect.__notes__[0]
    assert decode.doc == f"<html>echo {REDACTED}</html>"
    # The request stays an httpx.Request, its credentials masked.
    assert connect.request is request
    assert request.headers["authorization"] == REDACTED
    assert request.headers["x-gateway-token"] == REDACTED
    assert request.url == "https://api.example.com/v1"


def test_scrub_exception_chain_ends_on_a_cycle() -> None:
    a, b = ValueError(f"a {KEYS['groq']}"), ValueError("b")
    a.__context__, b.__context__ = b, a
    scrub_exception_chain(a)
    assert KEYS["groq"] not in str(a)


def test_scrub_exception_chain_cleans_the_bytes_a_decode_error_keeps() -> None:
    key = KEYS["openai"]
    try:
        f"\xff{key}".encode("latin-1").decode("utf-8")
    except UnicodeDecodeError as exc:
        error = exc
    scrub_exception_chain(error)
    assert key.encode() not in error.object
    assert key not in repr(error)
    assert REDACTED.encode() in error.object


def test_a_huge_error_text_is_scrubbed_in_bounded_time_and_still_scrubbed_where_shown():
    import time

    from construct.secrets import sanitize_api_error

    key = "sk-LEAKCANARYbounded0123456789"
    # The key straddles the 500-character cut; 64 MB of body follow it.
    text = "y" * 490 + key + "z" * (64 << 20)
    start = time.process_time()
    shown = sanitize_api_error(text)
    assert time.process_time() - start < 2  # about 13 s when the whole text was scrubbed
    assert "LEAKCANARY" not in shown
    assert shown.endswith("...")


def test_a_whole_body_kept_by_an_exception_is_cut_after_scrubbing():
    import json

    from construct.secrets import scrub_exception_chain

    key = "sk-LEAKCANARYinexception0123456"
    body = '{"a": "' + "x" * (8 << 20) + key
    try:
        json.loads("[" + key + "]" + body)
    except ValueError as exc:
        error = exc
    scrub_exception_chain(error)
    assert "LEAKCANARY" not in error.doc
    assert len(error.doc) < 70_000
