"""The provider table: one `ProviderSpec` row per canonical slug, and name resolution.

Providers are data. A service that speaks an existing wire protocol is one row
here (and one test); nothing else in construct names it. Resolution follows
PROVIDERS.md R1-R5: trimmed, case-insensitive; exact slug, exact alias,
`custom:` / `anthropic-custom:` URLs, then family prefixes, longest first.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigError, UnknownProvider
from .secrets import scrub_secret_patterns

__all__ = [
    "PROVIDERS",
    "ProviderInfo",
    "ProviderSpec",
    "Region",
    "Resolved",
    "get_spec",
    "list_providers",
    "resolve",
    "shown_key_env",
]

log = logging.getLogger("construct")

Dialect = Literal[
    "openai_chat",
    "anthropic_messages",
    "gemini",
    "ollama",
    "bedrock_converse",
    "azure_openai",
    "openai_responses",
    "copilot",
    "cli",
    "process",
]
# How the key travels. "none": the service takes no key (CLI tools).
Auth = Literal[
    "bearer",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "aws",
    "oauth",
    "qwen-oauth",
    "minimax-oauth",
    "none",
]

_dialects_present: dict[str, bool] = {}


def dialect_available(dialect: str) -> bool:
    """Whether `construct/dialects/<dialect>.py` exists. A row whose dialect has not
    landed constructs, lists and resolves, and raises ProviderCapabilityError on call."""
    present = _dialects_present.get(dialect)
    if present is None:
        from importlib.util import find_spec

        present = find_spec(f"construct.dialects.{dialect}") is not None
        _dialects_present[dialect] = present
    return present


GENERIC_KEY_ENV = "CONSTRUCT_API_KEY"


@dataclass(frozen=True, slots=True)
class Region:
    """One endpoint of a provider that serves several (China, international, US)."""

    base_url: str
    # When set, replaces the provider's key env vars for this region.
    key_env: tuple[str, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # When set, replaces the provider's `auth` column for this region.
    auth: Auth | None = None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    display_name: str
    base_url: str
    dialect: Dialect = "openai_chat"
    auth: Auth = "bearer"
    key_env: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    # Region name -> endpoint; `base_url` is the default region's URL.
    regions: Mapping[str, Region] = field(default_factory=dict)
    # Alias -> region name, for aliases that pick a region.
    alias_regions: Mapping[str, str] = field(default_factory=dict)
    # Name prefixes that select this provider (R2), each with the region it implies
    # (None: decide from the suffix, else the default region).
    families: Mapping[str, str | None] = field(default_factory=dict)
    default_region: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    native_tools: bool = True
    vision: bool = False
    prompt_caching: bool = False
    streaming: bool = True
    local: bool = False
    # False: no key is fine (a local server); the request goes out without auth.
    key_required: bool = True
    merge_system: bool = False
    # OpenAI's own API wants `max_completion_tokens`; most compatible servers `max_tokens`.
    max_tokens_field: str = "max_tokens"
    # The Z.AI streaming tool-call extension (`tool_stream`) is sent to its hosts only.
    tool_stream: bool = False
    # Send `stream_options.include_usage` so streams end with token usage.
    stream_usage: bool = True
    # On a chat-completions 404, try the Responses API (reference §2.6); off where the
    # reference's own provider never did, or marked it "no Responses fallback".
    responses_fallback: bool = True
    # The beginning of this provider's keys, for the key/provider mismatch check (K3).
    key_prefix: str | None = None
    # Why a row cannot be called yet, beyond its dialect (an OAuth or CLI flow to build).
    blocked_by: str | None = None
    docs_url: str | None = None

    @property
    def pending(self) -> str | None:
        """Why this row cannot be called yet; None when it can."""
        if self.blocked_by:
            return self.blocked_by
        if self.dialect == "process":
            return None  # served by construct.remote, not a dialect module
        if not dialect_available(self.dialect):
            return _NATIVE_PENDING
        return None

    @property
    def available(self) -> bool:
        return self.pending is None

    def region_for(self, region: str | None) -> Region:
        if region and region in self.regions:
            return self.regions[region]
        if self.default_region and self.default_region in self.regions:
            return self.regions[self.default_region]
        return Region(self.base_url)


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A row of `list_providers()`: what a user needs to pick and configure a provider."""

    name: str
    display_name: str
    aliases: tuple[str, ...]
    local: bool
    base_url: str
    key_env: tuple[str, ...]
    dialect: str
    available: bool = True


@dataclass(frozen=True, slots=True)
class Resolved:
    """A name resolved to its row, region and endpoint."""

    spec: ProviderSpec
    requested: str
    base_url: str
    region: str | None
    key_env: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    custom: bool = False
    # `provider:profile`: which of the user's credentials for this provider to use.
    profile: str | None = None


def _bearer(name, display, url, env=(), **kw) -> ProviderSpec:
    return ProviderSpec(name=name, display_name=display, base_url=url, key_env=tuple(env), **kw)


_MINIMAX = {
    "intl": Region("https://api.minimax.io/v1"),
    "cn": Region("https://api.minimaxi.com/v1"),
}
_QWEN = {
    "cn": Region("https://dashscope.aliyuncs.com/compatible-mode/v1"),
    "intl": Region("https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
    "us": Region("https://dashscope-us.aliyuncs.com/compatible-mode/v1"),
    # Qwen Code's OAuth sign-in (reference §1.6, construct.auth.qwen): the key is an
    # explicit one or QWEN_OAUTH_TOKEN; the auth reads the CLI's cached sign-in, its
    # resource URL (which replaces this one), and DASHSCOPE_API_KEY as the last resort.
    "code": Region(
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        key_env=("QWEN_OAUTH_TOKEN",),
        headers=(("User-Agent", "QwenCode/1.0"),),
        auth="qwen-oauth",
    ),
}

_NATIVE_PENDING = "its native adapter lands with issue 3 (native backends)"
_OAUTH_PENDING = "its OAuth sign-in flow is not implemented yet"

# Order is the order of `construct providers list` (the reference's order).
PROVIDERS: tuple[ProviderSpec, ...] = (
    _bearer(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY",),
        vision=True,
        key_prefix="sk-or-",
        # C4: OpenRouter attributes traffic to these; override with extra_headers.
        headers=(
            ("HTTP-Referer", "https://github.com/construct-llm/construct"),
            ("X-Title", "construct"),
        ),
        docs_url="https://openrouter.ai/docs/api-reference/overview",
        responses_fallback=False,
    ),
    ProviderSpec(
        "anthropic",
        "Anthropic",
        "https://api.anthropic.com",
        dialect="anthropic_messages",
        auth="x-api-key",
        key_env=("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"),
        vision=True,
        prompt_caching=True,
        key_prefix="sk-ant-",
    ),
    _bearer(
        "openai",
        "OpenAI",
        "https://api.openai.com/v1",
        ("OPENAI_API_KEY",),
        vision=True,
        key_prefix="sk-",
        max_tokens_field="max_completion_tokens",
        responses_fallback=False,
    ),
    # OpenAI through the Responses API: a name a fallback list or a route can use where
    # `api = "responses"` (an option of the one provider it is set on) cannot reach.
    ProviderSpec(
        "openai-responses",
        "OpenAI (Responses API)",
        "https://api.openai.com/v1",
        dialect="openai_responses",
        key_env=("OPENAI_API_KEY",),
        aliases=("openai_responses",),
        vision=True,
        key_prefix="sk-",
    ),
    ProviderSpec(
        "openai-codex",
        "OpenAI Codex (OAuth)",
        "https://chatgpt.com/backend-api/codex",
        dialect="openai_responses",
        auth="oauth",
        aliases=("openai_codex", "codex"),
        native_tools=False,
        vision=True,
        blocked_by=_OAUTH_PENDING,
    ),
    _bearer(
        "telnyx",
        "Telnyx",
        "https://api.telnyx.com/v2/ai",
        ("TELNYX_API_KEY",),
        native_tools=False,
        key_prefix="KEY-",
        responses_fallback=False,
    ),
    # The endpoint comes from AZURE_OPENAI_RESOURCE / AZURE_OPENAI_ENDPOINT or api_url, the
    # deployment and API version per call (construct/dialects/azure_openai.py). No key is
    # fine when AZURE_OPENAI_AD_TOKEN holds an Entra ID token; the dialect says what is missing.
    ProviderSpec(
        "azure_openai",
        "Azure OpenAI",
        "https://{resource}.openai.azure.com",
        dialect="azure_openai",
        auth="api-key",
        key_env=("AZURE_OPENAI_API_KEY",),
        aliases=("azure-openai", "azure"),
        vision=True,
        key_required=False,
        max_tokens_field="max_completion_tokens",
        docs_url="https://learn.microsoft.com/azure/ai-foundry/openai/reference",
    ),
    ProviderSpec(
        "ollama",
        "Ollama",
        "http://localhost:11434",
        dialect="ollama",
        key_env=("OLLAMA_API_KEY",),
        vision=True,
        local=True,
        key_required=False,
    ),
    ProviderSpec(
        "gemini",
        "Google Gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        dialect="gemini",
        auth="x-goog-api-key",
        key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        aliases=("google", "google-gemini"),
        vision=True,
    ),
    # Venice serves its OpenAI-compatible API under /api/v1 (docs.venice.ai); the
    # reference's bare host answers 404.
    _bearer(
        "venice", "Venice", "https://api.venice.ai/api/v1", ("VENICE_API_KEY",), native_tools=False
    ),
    _bearer(
        "vercel",
        "Vercel AI Gateway",
        "https://ai-gateway.vercel.sh/v1",
        ("VERCEL_API_KEY", "AI_GATEWAY_API_KEY"),
        aliases=("vercel-ai",),
    ),
    _bearer(
        "cloudflare",
        "Cloudflare AI Gateway",
        # Per account and gateway (developers.cloudflare.com/ai-gateway, "OpenAI
        # compatibility"); the reference's bare /v1 answers 404.
        "https://gateway.ai.cloudflare.com/v1/{CLOUDFLARE_ACCOUNT_ID}/{CLOUDFLARE_GATEWAY_ID}/compat",
        ("CLOUDFLARE_API_KEY",),
        aliases=("cloudflare-ai",),
    ),
    _bearer(
        "moonshot",
        "Moonshot",
        "https://api.moonshot.cn/v1",
        ("MOONSHOT_API_KEY",),
        aliases=(
            "kimi",
            "moonshot-cn",
            "kimi-cn",
            "moonshot-intl",
            "moonshot-global",
            "kimi-intl",
            "kimi-global",
        ),
        regions={
            "cn": Region("https://api.moonshot.cn/v1"),
            "intl": Region("https://api.moonshot.ai/v1"),
        },
        default_region="cn",
        alias_regions={
            "moonshot": "cn",
            "kimi": "cn",
            "moonshot-cn": "cn",
            "kimi-cn": "cn",
            "moonshot-intl": "intl",
            "moonshot-global": "intl",
            "kimi-intl": "intl",
            "kimi-global": "intl",
        },
        families={"moonshot": None, "kimi": None},
    ),
    _bearer(
        "kimi-code",
        "Kimi Code",
        "https://api.kimi.com/coding/v1",
        ("KIMI_CODE_API_KEY", "MOONSHOT_API_KEY"),
        aliases=("kimi_coding", "kimi_for_coding"),
        headers=(("User-Agent", "KimiCLI/0.77"),),
    ),
    _bearer(
        "synthetic", "Synthetic", "https://api.synthetic.new/openai/v1", ("SYNTHETIC_API_KEY",)
    ),
    _bearer(
        "opencode",
        "OpenCode Zen",
        "https://opencode.ai/zen/v1",
        ("OPENCODE_API_KEY",),
        aliases=("opencode-zen",),
    ),
    _bearer(
        "opencode-go", "OpenCode Go", "https://opencode.ai/zen/go/v1", ("OPENCODE_GO_API_KEY",)
    ),
    _bearer(
        "zai",
        "Z.AI",
        "https://api.z.ai/api/coding/paas/v4",
        ("ZAI_API_KEY",),
        aliases=("z.ai", "zai-global", "z.ai-global", "zai-cn", "z.ai-cn"),
        regions={
            "intl": Region("https://api.z.ai/api/coding/paas/v4"),
            "cn": Region("https://open.bigmodel.cn/api/coding/paas/v4"),
        },
        default_region="intl",
        alias_regions={
            "zai-global": "intl",
            "z.ai-global": "intl",
            "zai-cn": "cn",
            "z.ai-cn": "cn",
        },
        families={"zai": None, "z.ai": None},
        tool_stream=True,
    ),
    _bearer(
        "glm",
        "GLM (Zhipu)",
        "https://api.z.ai/api/paas/v4",
        ("GLM_API_KEY", "ZHIPUAI_API_KEY"),
        aliases=("zhipu", "glm-global", "zhipu-global", "glm-cn", "zhipu-cn", "bigmodel"),
        regions={
            "intl": Region("https://api.z.ai/api/paas/v4"),
            "cn": Region("https://open.bigmodel.cn/api/paas/v4"),
        },
        default_region="intl",
        alias_regions={
            "glm-global": "intl",
            "zhipu-global": "intl",
            "glm-cn": "cn",
            "zhipu-cn": "cn",
            "bigmodel": "cn",
        },
        families={"glm": None, "zhipu": None, "bigmodel": "cn"},
        responses_fallback=False,
    ),
    _bearer(
        "minimax",
        "MiniMax",
        "https://api.minimax.io/v1",
        ("MINIMAX_OAUTH_TOKEN", "MINIMAX_API_KEY"),
        aliases=(
            "minimax-intl",
            "minimax-io",
            "minimax-global",
            "minimax-cn",
            "minimaxi",
            "minimax-oauth",
            "minimax-oauth-cn",
            "minimax-portal",
            "minimax-portal-cn",
            "minimax-oauth-global",
            "minimax-portal-global",
        ),
        regions=_MINIMAX,
        default_region="intl",
        alias_regions={
            "minimax-cn": "cn",
            "minimaxi": "cn",
            "minimax-oauth-cn": "cn",
            "minimax-portal-cn": "cn",
        },
        families={"minimax": None, "minimaxi": "cn"},
        # With no key, a MINIMAX_OAUTH_REFRESH_TOKEN is exchanged for one (§1.5, §1.6).
        auth="minimax-oauth",
        native_tools=False,
        merge_system=True,
        responses_fallback=False,
    ),
    ProviderSpec(
        "bedrock",
        "Amazon Bedrock",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        dialect="bedrock_converse",
        auth="aws",
        # AWS_BEARER_TOKEN_BEDROCK is the variable AWS's own SDKs read for these keys.
        key_env=("BEDROCK_API_KEY", "AWS_BEARER_TOKEN_BEDROCK"),
        aliases=("aws-bedrock",),
        vision=True,
        prompt_caching=True,
        # Without a bearer key, requests are SigV4-signed from the AWS credential chain.
        key_required=False,
    ),
    _bearer(
        "qianfan",
        "Qianfan (Baidu)",
        "https://qianfan.baidubce.com/v2",
        ("QIANFAN_API_KEY",),
        aliases=("baidu",),
        families={"qianfan": None, "baidu": None},
    ),
    _bearer(
        "doubao",
        "Doubao (Volcengine)",
        "https://ark.cn-beijing.volces.com/api/v3",
        ("ARK_API_KEY", "VOLCENGINE_API_KEY", "DOUBAO_API_KEY"),
        aliases=("volcengine", "ark", "doubao-cn"),
        families={"doubao": None, "volcengine": None, "ark": None},
    ),
    _bearer(
        "qwen",
        "Qwen (DashScope / Qwen Code OAuth)",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        ("DASHSCOPE_API_KEY",),
        aliases=(
            "dashscope",
            "qwen-cn",
            "dashscope-cn",
            "qwen-intl",
            "dashscope-intl",
            "qwen-international",
            "dashscope-international",
            "qwen-us",
            "dashscope-us",
            "qwen-code",
            "qwen-oauth",
            "qwen_oauth",
        ),
        regions=_QWEN,
        default_region="cn",
        alias_regions={
            "qwen-cn": "cn",
            "dashscope-cn": "cn",
            "qwen-intl": "intl",
            "dashscope-intl": "intl",
            "qwen-international": "intl",
            "dashscope-international": "intl",
            "qwen-us": "us",
            "dashscope-us": "us",
            "qwen-code": "code",
            "qwen-oauth": "code",
            "qwen_oauth": "code",
        },
        families={"qwen": None, "dashscope": None},
        vision=True,
    ),
    _bearer(
        "bailian",
        "Bailian (Aliyun)",
        "https://coding.dashscope.aliyuncs.com/v1",
        ("BAILIAN_API_KEY", "DASHSCOPE_API_KEY"),
        aliases=("aliyun-bailian", "aliyun"),
        vision=True,
        headers=(("User-Agent", "openclaw"),),
    ),
    _bearer("groq", "Groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",), key_prefix="gsk_"),
    _bearer("mistral", "Mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), vision=True),
    # docs.x.ai: the OpenAI-compatible API is under /v1 (the reference's bare host
    # is what its newest snapshot also moved away from).
    _bearer(
        "xai",
        "xAI (Grok)",
        "https://api.x.ai/v1",
        ("XAI_API_KEY",),
        aliases=("grok",),
        vision=True,
        key_prefix="xai-",
    ),
    _bearer("deepseek", "DeepSeek", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
    _bearer(
        "together",
        "Together AI",
        "https://api.together.xyz/v1",
        ("TOGETHER_API_KEY",),
        aliases=("together-ai",),
    ),
    _bearer(
        "fireworks",
        "Fireworks AI",
        "https://api.fireworks.ai/inference/v1",
        ("FIREWORKS_API_KEY",),
        aliases=("fireworks-ai",),
    ),
    _bearer("novita", "Novita AI", "https://api.novita.ai/openai", ("NOVITA_API_KEY",)),
    _bearer(
        "perplexity",
        "Perplexity",
        "https://api.perplexity.ai",
        ("PERPLEXITY_API_KEY",),
        key_prefix="pplx-",
    ),
    # Cohere's compatibility API lives at /compatibility/v1 (docs.cohere.com).
    _bearer(
        "cohere",
        "Cohere",
        "https://api.cohere.ai/compatibility/v1",
        ("COHERE_API_KEY", "CO_API_KEY"),
        # The compatibility API rejects `stream_options` (docs.cohere.com).
        stream_usage=False,
    ),
    # The GitHub token comes from `construct auth login copilot` (construct.auth.copilot);
    # COPILOT_GITHUB_TOKEN is the variable GitHub's own Copilot CLI and SDK read for one,
    # not GITHUB_TOKEN, which CI and the gh CLI set to tokens Copilot does not accept.
    # The editor headers are the VS Code Copilot Chat extension's (vscode-copilot-chat:
    # envService.getEditorVersionHeaders, fetcherServiceImpl, package.json 0.42.0 needing
    # VS Code 1.111), sent to GitHub's token endpoint and to the chat API alike.
    ProviderSpec(
        "copilot",
        "GitHub Copilot",
        "https://api.githubcopilot.com",
        dialect="copilot",
        auth="oauth",
        key_env=("COPILOT_GITHUB_TOKEN",),
        aliases=("github-copilot",),
        headers=(
            ("Editor-Version", "vscode/1.111.0"),
            ("Editor-Plugin-Version", "copilot-chat/0.42.0"),
            ("User-Agent", "GitHubCopilotChat/0.42.0"),
            ("Copilot-Integration-Id", "vscode-chat"),
        ),
    ),
    ProviderSpec(
        "claude-code",
        "Claude Code (CLI)",
        "",
        dialect="cli",
        auth="none",
        local=True,
        key_required=False,
        native_tools=False,
    ),
    ProviderSpec(
        "gemini-cli",
        "Gemini CLI",
        "",
        dialect="cli",
        auth="none",
        local=True,
        key_required=False,
        native_tools=False,
    ),
    ProviderSpec(
        "kilocli",
        "KiloCLI",
        "",
        dialect="cli",
        auth="none",
        aliases=("kilo",),
        local=True,
        key_required=False,
        native_tools=False,
    ),
    _bearer(
        "lmstudio",
        "LM Studio",
        "http://localhost:1234/v1",
        ("LMSTUDIO_API_KEY",),
        aliases=("lm-studio",),
        local=True,
        key_required=False,
    ),
    _bearer(
        "llamacpp",
        "llama.cpp server",
        "http://localhost:8080/v1",
        ("LLAMACPP_API_KEY",),
        aliases=("llama.cpp",),
        local=True,
        key_required=False,
        vision=True,
    ),
    _bearer(
        "sglang",
        "SGLang",
        "http://localhost:30000/v1",
        ("SGLANG_API_KEY",),
        local=True,
        key_required=False,
    ),
    _bearer(
        "vllm",
        "vLLM",
        "http://localhost:8000/v1",
        ("VLLM_API_KEY",),
        local=True,
        key_required=False,
    ),
    _bearer(
        "osaurus",
        "Osaurus",
        "http://localhost:1337/v1",
        ("OSAURUS_API_KEY",),
        local=True,
        key_required=False,
    ),
    _bearer(
        "nvidia",
        "NVIDIA NIM",
        "https://integrate.api.nvidia.com/v1",
        ("NVIDIA_API_KEY",),
        aliases=("nvidia-nim", "build.nvidia.com"),
        key_prefix="nvapi-",
        responses_fallback=False,
    ),
    _bearer(
        "siliconflow",
        "SiliconFlow",
        "https://api.siliconflow.cn/v1",
        ("SILICONFLOW_API_KEY",),
        aliases=("silicon-flow",),
    ),
    _bearer("aihubmix", "AiHubMix", "https://aihubmix.com/v1", ("AIHUBMIX_API_KEY",)),
    # A LiteLLM proxy is usually run beside the app; it may or may not want a key.
    _bearer(
        "litellm",
        "LiteLLM",
        "http://localhost:4000/v1",
        ("LITELLM_API_KEY",),
        aliases=("lite-llm",),
        key_required=False,
    ),
    _bearer("cerebras", "Cerebras", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",)),
    _bearer("sambanova", "SambaNova", "https://api.sambanova.ai/v1", ("SAMBANOVA_API_KEY",)),
    _bearer("hyperbolic", "Hyperbolic", "https://api.hyperbolic.xyz/v1", ("HYPERBOLIC_API_KEY",)),
    _bearer(
        "deepinfra",
        "DeepInfra",
        "https://api.deepinfra.com/v1/openai",
        ("DEEPINFRA_API_KEY",),
        aliases=("deep-infra",),
    ),
    _bearer(
        "huggingface",
        "Hugging Face",
        "https://router.huggingface.co/v1",
        ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
        aliases=("hf",),
    ),
    _bearer(
        "ai21",
        "AI21 Labs",
        "https://api.ai21.com/studio/v1",
        ("AI21_API_KEY",),
        aliases=("ai21-labs",),
    ),
    _bearer("reka", "Reka", "https://api.reka.ai/v1", ("REKA_API_KEY",)),
    _bearer("baseten", "Baseten", "https://inference.baseten.co/v1", ("BASETEN_API_KEY",)),
    _bearer("nscale", "Nscale", "https://inference.api.nscale.com/v1", ("NSCALE_API_KEY",)),
    _bearer("anyscale", "Anyscale", "https://api.endpoints.anyscale.com/v1", ("ANYSCALE_API_KEY",)),
    _bearer("nebius", "Nebius AI Studio", "https://api.studio.nebius.ai/v1", ("NEBIUS_API_KEY",)),
    _bearer(
        "friendli",
        "Friendli AI",
        "https://api.friendli.ai/serverless/v1",
        ("FRIENDLI_TOKEN", "FRIENDLI_API_KEY"),
        aliases=("friendliai",),
    ),
    _bearer(
        "lepton",
        "Lepton AI",
        "https://llama3-1-405b.lepton.run/api/v1",
        ("LEPTON_API_KEY",),
        aliases=("lepton-ai",),
    ),
    _bearer(
        "stepfun", "Stepfun", "https://api.stepfun.com/v1", ("STEPFUN_API_KEY",), aliases=("step",)
    ),
    _bearer("baichuan", "Baichuan", "https://api.baichuan-ai.com/v1", ("BAICHUAN_API_KEY",)),
    _bearer(
        "yi",
        "01.AI (Yi)",
        "https://api.lingyiwanwu.com/v1",
        ("YI_API_KEY",),
        aliases=("01ai", "lingyiwanwu"),
    ),
    _bearer(
        "hunyuan",
        "Tencent Hunyuan",
        "https://api.hunyuan.cloud.tencent.com/v1",
        ("HUNYUAN_API_KEY",),
        aliases=("tencent",),
    ),
    _bearer(
        "ovhcloud",
        "OVHcloud AI Endpoints",
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
        ("OVH_AI_ENDPOINTS_ACCESS_TOKEN",),
        aliases=("ovh",),
        responses_fallback=False,
    ),
    _bearer("avian", "Avian", "https://api.avian.io/v1", ("AVIAN_API_KEY",)),
    _bearer("astrai", "Astrai", "https://as-trai.com/v1", ("ASTRAI_API_KEY",)),
    _bearer(
        "deepmyst",
        "DeepMyst",
        "https://api.deepmyst.com/v1",
        ("DEEPMYST_API_KEY",),
        aliases=("deep-myst",),
    ),
)

CUSTOM = _bearer("custom", "Custom", "", (), vision=True, key_required=False)
ANTHROPIC_CUSTOM = ProviderSpec(
    "anthropic-custom",
    "Anthropic-compatible",
    "",
    dialect="anthropic_messages",
    auth="x-api-key",
    vision=True,
    prompt_caching=True,
    key_required=False,
)

_BY_NAME: dict[str, ProviderSpec] = {s.name: s for s in PROVIDERS}
_BY_ALIAS: dict[str, ProviderSpec] = {a: s for s in PROVIDERS for a in s.aliases}
_FAMILIES: list[tuple[str, ProviderSpec, str | None]] = sorted(
    ((prefix, s, region) for s in PROVIDERS for prefix, region in s.families.items()),
    key=lambda row: len(row[0]),
    reverse=True,
)
# Names a family prefix would catch but that belong to another row (R2: `kimi-code`);
# compared after `_` -> `-`, so `kimi_code-x` is not sent to Moonshot with a Kimi Code key.
_NOT_FAMILY = ("kimi-code", "kimi-coding", "kimi-for-coding")
_SUFFIX_REGIONS = {
    "cn": "cn",
    "china": "cn",
    "intl": "intl",
    "international": "intl",
    "global": "intl",
    "io": "intl",
    "us": "us",
}
_warned_cleartext: set[str] = set()


def get_spec(name: str) -> ProviderSpec:
    return resolve(name).spec


def _region_from_suffix(rest: str) -> str | None:
    for part in reversed(rest.replace("_", "-").split("-")):
        if part in _SUFFIX_REGIONS:
            return _SUFFIX_REGIONS[part]
    return None


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# A URL shown in a message is cut here: a 10 MB value must not come back in full.
_MAX_SHOWN = 100
# RFC 1035 §2.3.4; the socket layer's IDNA codec refuses longer labels and names.
_MAX_LABEL, _MAX_HOST = 63, 253
# httpx refuses longer URLs.
_MAX_URL = 65536


def _display(text: str) -> str:
    """`text` for a message: userinfo masked and scrubbed first, then cut to `_MAX_SHOWN`.

    Scrubbing runs on the first ten times `_MAX_SHOWN` characters only (a 10 MB value takes
    seconds to scrub); a key that starts in the part shown is whole there, so it is found.
    """
    text = scrub_secret_patterns(mask_userinfo(text[: 10 * _MAX_SHOWN]))
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def _shown(text: str) -> str:
    return repr(_display(text))


def mask_userinfo(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` in it masked, and a lone
    `user@` too (it is often a token): a mistyped URL is quoted back in messages."""
    return re.sub(
        r"//([^/@\s?#]*)@",
        lambda m: f"//{m.group(1).partition(':')[0]}:***@" if ":" in m.group(1) else "//***@",
        text,
    )


def _host_problem(host: str, bracketed: bool) -> str | None:
    """What is wrong with a URL's host, or None. Caught here, these fail only at the first
    call, as an `httpx.InvalidURL`, a `UnicodeError` from the IDNA codec or a failed lookup."""
    import ipaddress

    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "its host is not a valid IPv6 address"
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > _MAX_HOST:
        return f"its host is longer than {_MAX_HOST} characters"
    for label in name.split("."):
        if not label:
            return "its host has an empty label (two dots in a row, or a leading dot)"
        if len(label) > _MAX_LABEL:
            return f"a label of its host is longer than {_MAX_LABEL} characters"
        if label.isascii() and not all(c.isalnum() or c in "-_" for c in label):
            return "its host may hold only letters, digits, '-', '_' and '.'"
    try:
        name.encode("idna")
    except UnicodeError:
        return "its host is not a valid internationalised domain name"
    return None


def _url_problem(url: str) -> str | None:
    """What keeps `url` from being sent to, or None (scheme, host and credentials aside)."""
    import httpx

    if len(url) > _MAX_URL:
        return f"it is longer than {_MAX_URL} characters"
    bad = re.search(r"[\x00-\x20\x7f]", url)
    if bad is not None:
        what = "a space" if bad[0] == " " else f"the control character {bad[0]!r}"
        return f"it contains {what}"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "its port must be a number from 1 to 65535"
    problem = _host_problem(parts.hostname or "", "[" in parts.netloc)
    if problem is not None:
        return problem
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        # httpx holds hosts to IDNA 2008, stricter than the codec above (a snowman passes it).
        if not (parts.hostname or "").isascii():
            return "its host is not a valid internationalised domain name"
        return "it is not a URL that can be sent"
    return None


def validate_base_url(url: str, label: str, form: str) -> str:
    """An http(s) URL with a host, trailing `/` removed (R4); plain http off-host warns once.

    Everything that would make the first call fail before it is sent (a bad port, a space or
    line break, an empty host label) is a `ConfigError` here, where the name is resolved.
    """
    url = url.strip()
    if not url:
        raise ConfigError(f"{label} requires a URL. Format: {form}")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(
            f"{label} requires a valid URL, got {_shown(url)}. Format: {form}"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{label} requires an http:// or https:// URL. Format: {form}")
    if not parts.hostname:
        raise ConfigError(f"{label} requires a URL with a host. Format: {form}")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ConfigError(
            f"{label} URL must not carry credentials; pass the key as api_key instead"
        )
    problem = _url_problem(url)
    if problem is not None:
        raise ConfigError(f"{label} URL {_shown(url)} is not valid: {problem}. Format: {form}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in _warned_cleartext:
            _warned_cleartext.add(origin)
            log.warning(
                "%s uses plain http:// to %s: API keys will travel unencrypted", label, origin
            )
    return url.rstrip("/")


def _resolved(spec: ProviderSpec, requested: str, region: str | None) -> Resolved:
    chosen = spec.region_for(region)
    return Resolved(
        spec=spec,
        requested=requested,
        base_url=chosen.base_url or spec.base_url,
        region=region if region in spec.regions else spec.default_region,
        key_env=chosen.key_env if chosen.key_env is not None else spec.key_env,
        headers=spec.headers + chosen.headers,
    )


# `process:NAME`: a provider process the config defines ([processes], docs/processes.md).
PROCESS_PREFIX = "process:"


def _process(raw: str) -> Resolved:
    """A provider process by name. Which processes exist is the config's to say; the row
    only lets a name be shown and checked like any other."""
    name = raw[len(PROCESS_PREFIX) :].strip()
    if not name:
        raise ConfigError(
            "process: needs the name of a provider process: process:NAME, with NAME "
            "defined under [processes] in config.toml"
        )
    spec = ProviderSpec(
        f"{PROCESS_PREFIX}{name}",
        f"provider process {name}",
        "",
        dialect="process",
        auth="none",
        local=True,
        key_required=False,
        streaming=True,
    )
    return Resolved(spec, spec.name, "", None, (), ())


def resolve(name: str) -> Resolved:
    """Find the row, region and base URL a provider name stands for (R1-R4)."""
    if not isinstance(name, str):
        raise ConfigError(f"provider name must be a string, got {type(name).__name__}")
    raw = name.strip()
    key = raw.lower()
    spec = _BY_NAME.get(key) or _BY_ALIAS.get(key)
    if spec is not None:
        return _resolved(spec, key, spec.alias_regions.get(key))
    if key.startswith(PROCESS_PREFIX):
        return _process(raw)
    for prefix, custom_spec, form in (
        ("custom:", CUSTOM, "custom:https://your-api.com"),
        ("anthropic-custom:", ANTHROPIC_CUSTOM, "anthropic-custom:https://your-api.com"),
    ):
        if key.startswith(prefix):
            label = "Custom provider" if custom_spec is CUSTOM else "Anthropic-custom provider"
            url = validate_base_url(raw[len(prefix) :], label, form)
            return Resolved(custom_spec, f"{prefix}{url}", url, None, (), (), custom=True)
    if key and not key.replace("_", "-").startswith(_NOT_FAMILY):
        for prefix, family_spec, implied in _FAMILIES:
            if key.startswith(prefix):
                region = _region_from_suffix(key[len(prefix) :]) or implied
                return _resolved(family_spec, key, region)
    raise _unknown(raw)


@functools.lru_cache(maxsize=256)
def _closest_names(word: str, n: int = 3) -> tuple[str, ...]:
    """`difflib.get_close_matches(word, names, n, cutoff=0.0)`, at about half the cost.

    Candidates are scored in order of `quick_ratio`, an upper bound of `ratio`, and the
    search stops once no candidate left can enter the best `n`: same answer, same ties.
    A config of 8,000 unknown fallbacks spent nearly all its check time here.
    """
    import difflib
    import heapq

    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word)
    bounds = []
    for name in (*(s.name for s in PROVIDERS), *_BY_ALIAS):
        matcher.set_seq1(name)
        bounds.append((matcher.quick_ratio(), name))
    bounds.sort(reverse=True)
    scored: list[tuple[float, str]] = []
    for bound, name in bounds:
        if len(scored) >= n and bound < heapq.nlargest(n, scored)[-1][0]:
            break
        matcher.set_seq1(name)
        scored.append((matcher.ratio(), name))
    return tuple(name for _, name in heapq.nlargest(n, scored))


def _unknown(raw: str) -> UnknownProvider:
    # No name is near this long; comparing a 10 MB one would take minutes.
    close = list(_closest_names(raw.lower()[:_MAX_SHOWN])) if raw else []
    shown = f"Unknown provider: {_shown(raw)}." if raw else "The provider name is empty."
    nearest = f" Closest known names: {', '.join(close)}." if close else ""
    message = (
        f"{shown}{nearest} "
        "For any OpenAI-compatible endpoint use 'custom:https://your-api.com'; for an "
        "Anthropic-compatible one 'anthropic-custom:https://your-api.com'. "
        "Run 'construct providers list' to see every provider."
    )
    return UnknownProvider(message, name=_display(raw), suggestions=close)


def url_placeholders(url: str) -> list[str]:
    """The `{ENV_VAR}` parts of a base URL that the environment must fill in."""
    return re.findall(r"\{([A-Z0-9_]+)\}", url)


def fill_url(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """(URL with `{VAR}` parts filled from the environment, names of the missing ones)."""
    env = os.environ if environ is None else environ
    missing = []
    for var in url_placeholders(url):
        value = env.get(var, "").strip()
        if value:
            url = url.replace("{" + var + "}", value)
        else:
            missing.append(var)
    return url, missing


def split_profile(name: str) -> tuple[str, str | None]:
    """`provider:profile` -> (provider, profile); URL forms and `name:` stay whole (ref §3.1)."""
    if name.strip().lower().startswith(("custom:", "anthropic-custom:", PROCESS_PREFIX)):
        return name, None
    provider, sep, profile = name.partition(":")
    return (provider, profile) if sep and profile else (name, None)


def apply_api_url(resolved: Resolved, api_url: str | None) -> Resolved:
    """R5: `api_url` replaces the base URL of every HTTP provider."""
    if not api_url or not api_url.strip():
        return resolved
    url = validate_base_url(api_url, "api_url", "https://your-api.com/v1")
    return Resolved(
        resolved.spec,
        resolved.requested,
        url,
        resolved.region,
        resolved.key_env,
        resolved.headers,
        resolved.custom,
    )


def with_profile(resolved: Resolved, profile: str) -> Resolved:
    """`resolved` keyed by profile: each key variable gets the profile as a suffix
    (`deepseek:work` reads DEEPSEEK_API_KEY_WORK), and nothing else supplies the key, so
    two profiles of one provider never quietly share one key. A sign-in (OAuth) row
    keeps the name for its token store."""
    name = profile.strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(
            f"auth profile {_shown(profile)} of {resolved.spec.name!r}: a profile name is letters, "
            "digits, '-', '_' and '.'"
        )
    if resolved.spec.auth == "oauth":
        # A sign-in provider keeps its profiles in its token store, not in variables.
        return replace(resolved, profile=name)
    if not resolved.key_env:
        raise ConfigError(
            f"{resolved.spec.name}:{name} names an auth profile, but {resolved.spec.display_name} "
            f"takes no key to choose between. Write {resolved.spec.name!r} alone."
        )
    suffix = "".join(c if c.isalnum() else "_" for c in name).upper()
    return replace(
        resolved, key_env=tuple(f"{var}_{suffix}" for var in resolved.key_env), profile=name
    )


def auth_kind(resolved: Resolved) -> str:
    """How `resolved` authenticates: its region's `auth` when it names one, else the row's."""
    spec = resolved.spec
    endpoint = spec.regions.get(resolved.region) if resolved.region else None
    return endpoint.auth if endpoint is not None and endpoint.auth else spec.auth


def key_env_vars(resolved: Resolved) -> tuple[str, ...]:
    """The env vars that supply a key, in lookup order (K1); Bedrock never uses the generic one."""
    region = resolved.spec.regions.get(resolved.region) if resolved.region else None
    auth = region.auth if region is not None and region.auth else resolved.spec.auth
    # Qwen Code's sign-in comes before any key but an explicit one (reference §1.6: no G).
    if auth in ("aws", "none", "qwen-oauth") or resolved.profile is not None:
        return resolved.key_env
    return (*resolved.key_env, GENERIC_KEY_ENV)


def shown_key_env(resolved: Resolved) -> tuple[str, ...]:
    """`key_env_vars` as a message or a table shows them: the API-key variables before the
    OAuth tokens the reference reads first (ANTHROPIC_OAUTH_TOKEN), so a user setting one
    of them is pointed at the key they have."""
    names = resolved.key_env
    generic = key_env_vars(resolved)[len(names) :]
    return (
        *(v for v in names if "OAUTH" not in v),
        *(v for v in names if "OAUTH" in v),
        *generic,
    )


def key_from_env(
    resolved: Resolved, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """The first non-blank env var of K1's order, as (variable, value)."""
    env = os.environ if environ is None else environ
    for var in key_env_vars(resolved):
        value = env.get(var, "").strip()
        if value:
            return var, value
    return None


def list_providers() -> list[ProviderInfo]:
    """Every canonical provider, in the reference's order."""
    return [
        ProviderInfo(
            name=s.name,
            display_name=s.display_name,
            aliases=s.aliases,
            local=s.local,
            base_url=s.base_url,
            key_env=s.key_env,
            dialect=s.dialect,
            available=s.available,
        )
        for s in PROVIDERS
    ]
