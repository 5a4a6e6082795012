"""The `Provider` contract every adapter and wrapper implements.

Subclasses implement `chat`/`achat`, `stream`/`astream` and, where the API
lists models, `list_models`/`alist_models`; the text conveniences are built
on `chat` here, once, for all of them (C1: the whole history is sent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from ..types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelEntry,
    ProviderCapabilities,
    StreamEvent,
    as_messages,
)

__all__ = ["Provider"]

MessagesLike = Sequence[ChatMessage | Mapping[str, Any]]


def _system_request(system: str | None, message: str) -> ChatRequest:
    msgs = [ChatMessage.system(system)] if system else []
    msgs.append(ChatMessage.user(message))
    return ChatRequest(tuple(msgs))


class Provider(ABC):
    """One LLM backend (or a wrapper around several) behind one interface."""

    name: str = ""
    display_name: str = ""
    base_url: str = ""
    # Used when a call passes no model / no temperature (config `default_model`,
    # `default_temperature`); C6: without either, no temperature is sent.
    default_model: str | None = None
    default_temperature: float | None = None

    # -- what subclasses implement ---------------------------------------------

    @abstractmethod
    def chat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse: ...

    @abstractmethod
    async def achat(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> ChatResponse: ...

    @abstractmethod
    def stream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> Iterator[StreamEvent]: ...

    @abstractmethod
    def astream(
        self, request: ChatRequest, model: str | None = None, temperature: float | None = None
    ) -> AsyncIterator[StreamEvent]: ...

    @abstractmethod
    def capabilities(self) -> ProviderCapabilities: ...

    def list_models(self) -> list[ModelEntry]:
        return []

    async def alist_models(self) -> list[ModelEntry]:
        return []

    def warmup(self) -> None:  # noqa: B027 - optional hook, nothing to warm by default
        """Open connections ahead of the first call. Optional."""

    async def awarmup(self) -> None:  # noqa: B027
        """Open connections ahead of the first call. Optional."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""

    # -- conveniences built on chat --------------------------------------------

    def chat_with_system(
        self,
        system: str | None,
        message: str,
        model: str | None = None,
        temperature: float | None = None,
    ) -> str:
        return self.chat(_system_request(system, message), model, temperature).text_or_empty()

    async def achat_with_system(
        self,
        system: str | None,
        message: str,
        model: str | None = None,
        temperature: float | None = None,
    ) -> str:
        response = await self.achat(_system_request(system, message), model, temperature)
        return response.text_or_empty()

    def chat_with_history(
        self, messages: MessagesLike, model: str | None = None, temperature: float | None = None
    ) -> str:
        request = ChatRequest(as_messages(messages))
        return self.chat(request, model, temperature).text_or_empty()

    async def achat_with_history(
        self, messages: MessagesLike, model: str | None = None, temperature: float | None = None
    ) -> str:
        response = await self.achat(ChatRequest(as_messages(messages)), model, temperature)
        return response.text_or_empty()

    def supports_native_tools(self) -> bool:
        return self.capabilities().native_tool_calling

    def supports_vision(self) -> bool:
        return self.capabilities().vision

    # -- resource management ---------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.base_url}>"
