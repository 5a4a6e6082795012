"""`list_models()` reads the context window, output limit and image input that gateways send.

Each body below is the shape the service documents (or its SDK models) for its model list,
cut to the fields construct reads plus a few it must step over. A value of the wrong type
(a string, a negative number, a bool) is left out of the entry: one odd row must not fail
the whole listing.
"""

from __future__ import annotations

from typing import Any

import pytest

from construct.dialects.anthropic_messages import AnthropicMessages, MessagesSettings
from construct.dialects.gemini import Gemini, GeminiSettings
from construct.dialects.openai_chat import ChatSettings, OpenAIChat
from construct.dialects.openai_responses import OpenAIResponses, ResponsesSettings
from construct.types import ModelEntry
from tests.oracle_anthropic_messages import model_info, model_page
from tests.oracle_gemini import model_row, models_page, sdk_models

MODELS_URL = "https://api.acme.test/v1/models"


def chat_dialect() -> OpenAIChat:
    return OpenAIChat(
        ChatSettings("acme", "Acme", "https://api.acme.test/v1/chat/completions", MODELS_URL)
    )


def responses_dialect() -> OpenAIResponses:
    return OpenAIResponses(
        ResponsesSettings("acme", "Acme", "https://api.acme.test/v1/responses", MODELS_URL)
    )


# Both OpenAI-style dialects read `/models` with the same code; each test runs on both.
DIALECTS = pytest.mark.parametrize("dialect", [chat_dialect, responses_dialect])


@DIALECTS
def test_openrouter_rows(dialect: Any) -> None:
    # https://openrouter.ai/docs/models: `context_length` is the model's window; the top
    # provider's window stands in when the model's is null.
    data = {
        "data": [
            {
                "id": "google/gemini-2.5-pro",
                "canonical_slug": "google/gemini-2.5-pro",
                "name": "Google: Gemini 2.5 Pro",
                "created": 1750169544,
                "context_length": 1048576,
                "architecture": {
                    "modality": "text+image->text",
                    "input_modalities": ["file", "image", "text"],
                    "output_modalities": ["text"],
                    "tokenizer": "Gemini",
                    "instruct_type": None,
                },
                "pricing": {"prompt": "0.00000125", "completion": "0.00001"},
                "top_provider": {
                    "context_length": 1048576,
                    "max_completion_tokens": 65536,
                    "is_moderated": False,
                },
                "per_request_limits": None,
                "supported_parameters": ["tools", "max_tokens"],
            },
            {
                "id": "acme/text-only",
                "name": "Acme: Text Only",
                "context_length": None,
                "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                "top_provider": {
                    "context_length": 32768,
                    "max_completion_tokens": None,
                    "is_moderated": True,
                },
            },
        ]
    }
    assert dialect().parse_models(data) == [
        ModelEntry("google/gemini-2.5-pro", "Google: Gemini 2.5 Pro", 1048576, 65536, True),
        ModelEntry("acme/text-only", "Acme: Text Only", 32768, None, False),
    ]


@DIALECTS
@pytest.mark.parametrize(
    "architecture",
    [["text", "image"], "text+image->text", 7, {"input_modalities": "image"}],
)
def test_an_odd_architecture_is_stepped_over(dialect: Any, architecture: Any) -> None:
    # A list or a string where the object belongs once raised AttributeError and failed
    # the whole listing; a string of modalities is not searched for "image" either.
    data = {"data": [{"id": "m", "context_length": 4096, "architecture": architecture}]}
    assert dialect().parse_models(data) == [ModelEntry("m", context_window=4096)]


@DIALECTS
def test_litellm_model_info_rows(dialect: Any) -> None:
    # LiteLLM proxy `GET /model/info`: the public name is `model_name` (there is no `id`;
    # `model_info.id` is the deployment's hash), the limits sit in `model_info`. `max_tokens`
    # is LiteLLM's legacy output limit, read when `max_output_tokens` is missing.
    data = {
        "data": [
            {
                "model_name": "gpt-4o",
                "litellm_params": {"model": "openai/gpt-4o"},
                "model_info": {
                    "id": "3c0b7b4f9e2d",
                    "db_model": False,
                    "key": "gpt-4o",
                    "max_tokens": 16384,
                    "max_input_tokens": 128000,
                    "max_output_tokens": 16384,
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "supports_vision": True,
                    "supports_function_calling": True,
                },
            },
            {
                "model_name": "local-llama",
                "litellm_params": {"model": "ollama/llama3"},
                "model_info": {
                    "id": "9f1e2a",
                    "max_tokens": 8192,
                    "max_input_tokens": None,
                    "max_output_tokens": None,
                    "supports_vision": False,
                },
            },
        ]
    }
    assert dialect().parse_models(data) == [
        ModelEntry("gpt-4o", None, 128000, 16384, True),
        ModelEntry("local-llama", None, None, 8192, False),
    ]


@DIALECTS
def test_litellm_rows_with_the_fields_on_the_row(dialect: Any) -> None:
    # `/v1/models` rows that carry LiteLLM's model-info fields beside the id.
    data = {
        "object": "list",
        "data": [
            {
                "id": "claude-sonnet",
                "object": "model",
                "created": 1677610602,
                "owned_by": "openai",
                "max_input_tokens": 200000,
                "max_output_tokens": 64000,
                "supports_vision": True,
            }
        ],
    }
    assert dialect().parse_models(data) == [ModelEntry("claude-sonnet", None, 200000, 64000, True)]


@DIALECTS
def test_vllm_rows(dialect: Any) -> None:
    # vLLM's `ModelCard`: `max_model_len` is the served context length (input + output).
    data = {
        "object": "list",
        "data": [
            {
                "id": "Qwen/Qwen3-8B",
                "object": "model",
                "created": 1733800000,
                "owned_by": "vllm",
                "root": "Qwen/Qwen3-8B",
                "parent": None,
                "max_model_len": 32768,
                "permission": [{"id": "modelperm-1", "object": "model_permission"}],
            }
        ],
    }
    assert dialect().parse_models(data) == [ModelEntry("Qwen/Qwen3-8B", context_window=32768)]


@DIALECTS
def test_together_rows(dialect: Any) -> None:
    # Together's `GET /v1/models` is a bare array; the display name is `display_name`.
    data = [
        {
            "id": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "object": "model",
            "created": 1733461239,
            "type": "chat",
            "display_name": "Meta Llama 3.3 70B Instruct Turbo",
            "organization": "Meta",
            "context_length": 131072,
            "config": {"chat_template": "...", "stop": ["<|eot_id|>"]},
            "pricing": {"input": 0.88, "output": 0.88},
        }
    ]
    assert dialect().parse_models(data) == [
        ModelEntry(
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "Meta Llama 3.3 70B Instruct Turbo",
            131072,
        )
    ]


@DIALECTS
def test_fireworks_rows(dialect: Any) -> None:
    # Fireworks' OpenAI-compatible list says `supports_image_input` outright.
    data = {
        "object": "list",
        "data": [
            {
                "id": "accounts/fireworks/models/qwen2p5-vl-32b-instruct",
                "object": "model",
                "owned_by": "fireworks",
                "created": 1743392739,
                "kind": "HF_BASE_MODEL",
                "supports_chat": True,
                "supports_image_input": True,
                "supports_tools": False,
                "context_length": 128000,
            },
            {
                "id": "accounts/fireworks/models/deepseek-v3",
                "object": "model",
                "owned_by": "fireworks",
                "supports_image_input": False,
                "context_length": 131072,
            },
        ],
    }
    assert dialect().parse_models(data) == [
        ModelEntry("accounts/fireworks/models/qwen2p5-vl-32b-instruct", None, 128000, None, True),
        ModelEntry("accounts/fireworks/models/deepseek-v3", None, 131072, None, False),
    ]


@DIALECTS
def test_groq_rows(dialect: Any) -> None:
    # Groq sends `context_window` and its output cap as `max_completion_tokens` on the row.
    data = {
        "object": "list",
        "data": [
            {
                "id": "llama-3.3-70b-versatile",
                "object": "model",
                "created": 1733447754,
                "owned_by": "Meta",
                "active": True,
                "context_window": 131072,
                "public_apps": None,
                "max_completion_tokens": 32768,
            }
        ],
    }
    assert dialect().parse_models(data) == [
        ModelEntry("llama-3.3-70b-versatile", None, 131072, 32768)
    ]


@DIALECTS
def test_deepinfra_rows(dialect: Any) -> None:
    # DeepInfra's `/v1/openai/models` puts the window in `metadata`.
    data = {
        "object": "list",
        "data": [
            {
                "id": "Qwen/Qwen3-235B-A22B-Instruct-2507",
                "object": "model",
                "created": 1753142400,
                "owned_by": "deepinfra",
                "root": "Qwen/Qwen3-235B-A22B-Instruct-2507",
                "parent": None,
                "metadata": {
                    "description": "Qwen3 235B instruct",
                    "context_length": 262144,
                    "pricing": {"input_tokens": 0.13, "output_tokens": 0.6},
                    "tags": ["json"],
                },
            },
            {"id": "no-metadata", "object": "model", "metadata": None},
        ],
    }
    assert dialect().parse_models(data) == [
        ModelEntry("Qwen/Qwen3-235B-A22B-Instruct-2507", context_window=262144),
        ModelEntry("no-metadata"),
    ]


@DIALECTS
def test_mistral_rows(dialect: Any) -> None:
    # Mistral's `GET /v1/models`: `max_context_length` and `capabilities.vision`.
    data = {
        "object": "list",
        "data": [
            {
                "id": "pixtral-large-latest",
                "object": "model",
                "created": 1741000000,
                "owned_by": "mistralai",
                "capabilities": {
                    "completion_chat": True,
                    "completion_fim": False,
                    "function_calling": True,
                    "fine_tuning": False,
                    "vision": True,
                    "classification": False,
                },
                "name": "pixtral-large-2411",
                "description": "Official pixtral-large-2411 Mistral AI model",
                "max_context_length": 131072,
                "aliases": ["pixtral-large-2411"],
                "deprecation": None,
                "default_model_temperature": 0.7,
                "type": "base",
            },
            {
                "id": "codestral-latest",
                "object": "model",
                "capabilities": {"completion_chat": True, "vision": False},
                "name": "codestral-2508",
                "max_context_length": 256000,
            },
        ],
    }
    assert dialect().parse_models(data) == [
        ModelEntry("pixtral-large-latest", "pixtral-large-2411", 131072, None, True),
        ModelEntry("codestral-latest", "codestral-2508", 256000, None, False),
    ]


ODD_VALUES = ["131072", -1, 0, True, False, 1.5e5, None, [131072], {"value": 1}]


def not_text(odd: Any) -> Any:
    return 3 if isinstance(odd, str) else odd


@DIALECTS
@pytest.mark.parametrize("odd", ODD_VALUES)
def test_a_value_of_the_wrong_type_is_left_out(dialect: Any, odd: Any) -> None:
    # Every limit and flag the rows above are read from, each set to one odd value: the
    # entry keeps its id and nothing else, and the listing does not fail. (A bool is an
    # int to Python; here it is not a token count.) A string is a good name and a list a
    # good set of modalities, so those two get a number instead.
    row = {
        "id": "m",
        "name": not_text(odd),
        "display_name": not_text(odd),
        "context_length": odd,
        "context_window": odd,
        "max_context_length": odd,
        "max_model_len": odd,
        "max_input_tokens": odd,
        "max_output_tokens": odd,
        "max_completion_tokens": odd,
        "supports_vision": odd if type(odd) is not bool else "yes",
        "supports_image_input": odd if type(odd) is not bool else 1,
        "top_provider": {"context_length": odd, "max_completion_tokens": odd},
        "model_info": {"max_input_tokens": odd, "max_output_tokens": odd, "max_tokens": odd},
        "metadata": {"context_length": odd},
        "capabilities": {"vision": odd if type(odd) is not bool else "no"},
        "architecture": {"input_modalities": odd if not isinstance(odd, list) else 3},
    }
    assert dialect().parse_models({"data": [row]}) == [ModelEntry("m")]


@DIALECTS
def test_an_id_that_is_not_text_drops_the_row(dialect: Any) -> None:
    data = {"data": [{"id": 7, "context_length": 4096}, {"id": "ok"}]}
    assert dialect().parse_models(data) == [ModelEntry("ok")]


# -- Anthropic -----------------------------------------------------------------------------


def anthropic() -> AnthropicMessages:
    return AnthropicMessages(
        MessagesSettings("anthropic", "Anthropic", "https://api.anthropic.com/v1")
    )


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_anthropic_rows(odd: Any) -> None:
    # The SDK's `ModelInfo` has `max_input_tokens`, `max_tokens` (the output cap) and
    # `capabilities.image_input.supported`; `model_info` validates the row against it. The
    # second row holds odd values where those belong.
    row = {
        "id": "claude-x",
        "type": "model",
        "display_name": not_text(odd),
        "max_input_tokens": odd,
        "max_tokens": odd,
        "capabilities": {"image_input": {"supported": odd if type(odd) is not bool else "y"}},
    }
    real = model_info(
        "claude-sonnet-4-5", "Claude Sonnet 4.5", window=200_000, max_tokens=64_000, images=True
    )
    assert anthropic().parse_models(model_page(real, row)) == [
        ModelEntry("claude-sonnet-4-5", "Claude Sonnet 4.5", 200_000, 64_000, True),
        ModelEntry("claude-x"),
    ]


# -- Gemini --------------------------------------------------------------------------------


def gemini() -> Gemini:
    return Gemini(
        GeminiSettings(
            "gemini", "Google Gemini", "https://generativelanguage.googleapis.com/v1beta"
        )
    )


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_gemini_rows(odd: Any) -> None:
    # `models.list`: `inputTokenLimit`, `outputTokenLimit`, `displayName` (the SDK reads the
    # first row the same); the second row holds odd values where those belong.
    real = model_row("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536)
    assert [m.input_token_limit for m in sdk_models(models_page([real]))] == [1_048_576]
    row = {
        "name": "models/gemini-x",
        "displayName": not_text(odd),
        "inputTokenLimit": odd,
        "outputTokenLimit": odd,
        "supportedGenerationMethods": ["generateContent"],
    }
    assert gemini().parse_models(models_page([real, row])) == [
        ModelEntry("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536),
        ModelEntry("gemini-x"),
    ]
