"""construct: one interface over every LLM backend worth using.

    from construct import create_provider, ChatRequest, ChatMessage
    llm = create_provider("groq")
    print(llm.chat(ChatRequest([ChatMessage.user("Hi")]), model="llama-3.3-70b-versatile").text)

Everything public is listed in `__all__`. Modules that are not needed to make
a call (config, resilience, CLI) load on first use, so `import construct`
stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AllProvidersFailed,
    AllProvidersRateLimited,
    AuthError,
    ConfigError,
    ConstructError,
    ContentBlocked,
    ContextWindowExceeded,
    InvalidArgument,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilityError,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    TransientError,
    UnknownProvider,
)
from .factory import (
    create_provider,
    create_provider_from_config,
    create_provider_with_options,
    create_provider_with_url,
    create_resilient_provider,
    create_resilient_provider_with_options,
    create_routed_provider,
    create_routed_provider_with_options,
)
from .options import ProviderRuntimeOptions
from .providers.base import Provider
from .registry import ProviderInfo, list_providers
from .secrets import sanitize_api_error, scrub_secret_patterns
from .types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ConversationMessage,
    ImagePart,
    ModelEntry,
    ProviderCapabilities,
    StreamEvent,
    TextPart,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from .config import Config, ModelRoute, ReliabilityConfig, load_config
    from .resilience import ReliableProvider, RouterProvider

__version__ = "0.1.0"

# name -> module, imported on first attribute access (PEP 562).
_LAZY = {
    "Config": "construct.config",
    "ModelRoute": "construct.config",
    "ReliabilityConfig": "construct.config",
    "load_config": "construct.config",
    "ReliableProvider": "construct.resilience",
    "RouterProvider": "construct.resilience",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'construct' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AllProvidersFailed",
    "AllProvidersRateLimited",
    "AuthError",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "Config",
    "ConfigError",
    "ConstructError",
    "ContentBlocked",
    "ContextWindowExceeded",
    "ConversationMessage",
    "ImagePart",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidResponse",
    "ModelEntry",
    "ModelRoute",
    "Provider",
    "ProviderCapabilities",
    "ProviderCapabilityError",
    "ProviderError",
    "ProviderInfo",
    "ProviderRuntimeOptions",
    "QuotaExhausted",
    "RateLimited",
    "ReliabilityConfig",
    "ReliableProvider",
    "RouterProvider",
    "StreamEvent",
    "StreamInterrupted",
    "TextPart",
    "ToolCall",
    "ToolResultMessage",
    "ToolSpec",
    "TransientError",
    "UnknownProvider",
    "Usage",
    "create_provider",
    "create_provider_from_config",
    "create_provider_with_options",
    "create_provider_with_url",
    "create_resilient_provider",
    "create_resilient_provider_with_options",
    "create_routed_provider",
    "create_routed_provider_with_options",
    "list_providers",
    "load_config",
    "sanitize_api_error",
    "scrub_secret_patterns",
]
