"""A prompt too long for the model is ContextWindowExceeded, in every wording that says so.

ReliableProvider moves straight to the next model on ContextWindowExceeded (L5); an
overflow read as InvalidRequest or TransientError instead tries every provider of the same
model first, each failing the same way. The bodies are the ones the services send.
"""

from __future__ import annotations

import json

import pytest

from construct.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    ProviderError,
    TransientError,
    classify_http_error,
)


def classify(status: int, body: str) -> ProviderError:
    return classify_http_error("acme", "Acme", status, body)


def openai_style(message: str, type_: object = "invalid_request_error", code: object = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


# (status, body) as each service answers a prompt longer than the model's window.
OVERFLOWS = {
    # LiteLLM's proxy: its own pre-call check, which names no provider wording.
    "litellm-pre-call-check": (
        400,
        openai_style(
            "litellm.ContextWindowExceededError: litellm.BadRequestError: "
            "litellm._pre_call_checks: Context Window exceeded for given call. No models have "
            "context window large enough for this call.\nModel=openai/qwen3-8b, Max Input "
            "Tokens=28672, Got=45196",
            code="400",
        ),
    ),
    # LiteLLM's proxy relaying an overflow it recognised in a wording of its own (TGI's here):
    # the class name is what says so.
    "litellm-mapped": (
        400,
        openai_style(
            "litellm.ContextWindowExceededError: litellm.BadRequestError: "
            "ContextWindowExceededError: Together_aiException - Input validation error: "
            "`inputs` tokens + `max_new_tokens` must be <= 8193. Given: 9000 `inputs` tokens "
            "and 512 `max_new_tokens`",
            type_=None,
            code="400",
        ),
    ),
    "vllm-decoder-prompt": (
        400,
        json.dumps(
            {
                "object": "error",
                "message": "The decoder prompt (length 9254) is longer than the maximum model "
                "length of 4096. Make sure that `max_model_len` is no smaller than the number "
                "of text tokens.",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        ),
    ),
    "vllm-context-length-is-only": (
        400,
        openai_style(
            "You passed 31745 input tokens and requested 1024 output tokens. However, the "
            "model's context length is only 32768 tokens, resulting in a maximum input length "
            "of 31744 tokens. Please reduce the length of the input prompt. "
            "(parameter=input_tokens, value=31745)",
            type_="BadRequestError",
            code=400,
        ),
    ),
    "vllm-multimodal-prompt": (
        400,
        openai_style(
            "The prompt (total length 9000) is too long to fit into the model (context length "
            "8192). Make sure that `max_model_len` is no smaller than the number of text tokens "
            "plus multimodal tokens.",
            type_="BadRequestError",
            code=400,
        ),
    ),
    "ollama": (400, '{"error":"the input length exceeds the context length"}'),
    # Older Ollama releases answered the same refusal with a 500.
    "ollama-500": (500, '{"error":"the input length exceeds the context length"}'),
    "ollama-chat": (
        400,
        '{"error":"prompt too long; exceeded max context length by 4096 tokens"}',
    ),
    "bedrock-titan": (
        400,
        '{"message":"Too many input tokens. Max input tokens: 8192, request input token '
        'count: 9279 "}',
    ),
    # OpenRouter relays the upstream provider's own refusal in metadata.raw.
    "openrouter-provider-raw": (
        400,
        json.dumps(
            {
                "error": {
                    "message": "Provider returned error",
                    "code": 400,
                    "metadata": {
                        "raw": json.dumps(
                            {
                                "type": "error",
                                "error": {
                                    "type": "invalid_request_error",
                                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                                },
                            }
                        ),
                        "provider_name": "Anthropic",
                    },
                }
            }
        ),
    ),
    "openrouter-provider-raw-text": (
        400,
        json.dumps(
            {
                "error": {
                    "message": "Provider returned error",
                    "code": 400,
                    "metadata": {
                        "raw": "The decoder prompt (length 40000) is longer than the maximum "
                        "model length of 32768.",
                        "provider_name": "Chutes",
                    },
                }
            }
        ),
    ),
}


@pytest.mark.parametrize(("status", "body"), OVERFLOWS.values(), ids=OVERFLOWS.keys())
def test_context_overflow_wordings(status: int, body: str) -> None:
    err = classify(status, body)
    assert type(err) is ContextWindowExceeded, f"{type(err).__name__}: {err}"
    assert err.status == status
    assert not err.is_retryable
    assert "larger context window" in str(err)  # the advice, not the retry one


# Refusals of a parameter, or of a size that no model's window changes: another model of the
# same kind fails the same way, so these stay InvalidRequest.
NOT_OVERFLOWS = {
    "openai-max-tokens": (
        400,
        openai_style(
            "max_tokens is too large: 100000. This model supports at most 16384 completion "
            "tokens, whereas you provided 100000.",
            code="invalid_value",
        ),
    ),
    "anthropic-max-tokens": (
        400,
        json.dumps(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "max_tokens: 100000 > 64000, which is the maximum allowed number "
                    "of output tokens for claude-sonnet-4-20250514",
                },
            }
        ),
    ),
    "groq-max-tokens": (
        400,
        openai_style(
            "`max_tokens` must be less than or equal to `8192`, the maximum value for "
            "`max_tokens` is less than the `context_window` for this model"
        ),
    ),
    "openai-user-param": (
        400,
        openai_style(
            "Invalid 'user': string too long. Expected a string with maximum length 64, but got "
            "a string with length 80 instead.",
            code="string_above_max_length",
        ),
    ),
    "anthropic-request-bytes": (
        413,
        json.dumps(
            {
                "type": "error",
                "error": {
                    "type": "request_too_large",
                    "message": "Request exceeds the maximum allowed number of bytes.",
                },
            }
        ),
    ),
    "openrouter-provider-raw-other": (
        400,
        json.dumps(
            {
                "error": {
                    "message": "Provider returned error",
                    "code": 400,
                    "metadata": {
                        "raw": '{"error":{"message":"Invalid value for \'temperature\': 3"}}',
                        "provider_name": "OpenAI",
                    },
                }
            }
        ),
    ),
}


@pytest.mark.parametrize(("status", "body"), NOT_OVERFLOWS.values(), ids=NOT_OVERFLOWS.keys())
def test_parameter_limits_are_not_context_overflows(status: int, body: str) -> None:
    assert type(classify(status, body)) is InvalidRequest


def test_a_server_error_that_is_no_overflow_stays_transient() -> None:
    assert type(classify(500, '{"error":"llama runner process has terminated"}')) is (
        TransientError
    )
    # A gateway's 502/503 relays a failure elsewhere; the words are not its own refusal.
    assert type(classify(503, "upstream: the input length exceeds the context length")) is (
        TransientError
    )


def test_context_words_echoed_outside_metadata_raw_do_not_count() -> None:
    # Only the error's own fields and the upstream error OpenRouter relays are read; a
    # request echoed beside them may say anything (LiteLLM PR #36705).
    body = json.dumps(
        {
            "error": {
                "message": "Provider returned error",
                "code": 400,
                "metadata": {"raw": "bad request", "provider_name": "OpenAI"},
            },
            "request": {"prompt": "the input length exceeds the context length"},
        }
    )
    assert type(classify(400, body)) is InvalidRequest
