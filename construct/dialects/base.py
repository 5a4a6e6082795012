"""What every dialect is: the `Dialect` protocol and `BaseDialect`'s defaults.

A dialect is a wire protocol configured for one provider, with no I/O: it
builds `HttpRequest`s from `ChatRequest`s, parses bodies and stream payloads
into `ChatResponse`s and `StreamEvent`s, and, after a 400 that names what the
model refused, says which different request to send once more (`recover`).
`HttpProvider` talks to a dialect through this protocol alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..transport import MAX_EVENT_CHARS, framer_for

if TYPE_CHECKING:
    from ..errors import InvalidRequest
    from ..transport import HttpRequest
    from ..types import ChatRequest, ChatResponse, ModelEntry, StreamEvent

__all__ = ["BaseDialect", "Dialect", "Framer", "Recovery", "StreamParser", "SwitchableTools"]

# C6: models that dropped sampling parameters answer 400 naming the parameter.
_SAMPLING_REFUSED = (
    r"(?i)temperature.{0,40}(deprecated|not supported|unsupported|does not support)|"
    r"(unsupported|does not support).{0,40}temperature"
)
# Reference §2.6: a 400/422 with one of these means "this model takes no native
# tools"; the request is sent again with the tools described in the prompt.
_TOOLS_REFUSED = (
    r"(?i)unknown parameter: tools|unsupported parameter: tools|unrecognized field `tools`|"
    r"does not support tools|function calling is not supported|tool_choice|"
    r"tool use is not supported|tools are not supported"
)


class Framer(Protocol):
    """Stream chunks (text lines or raw bytes) in, the payloads a parser reads out."""

    def feed(self, chunk: Any) -> list[Any]: ...

    def flush(self) -> list[Any]: ...


class StreamParser(Protocol):
    """Stream payloads in, `StreamEvent`s out; one parser per streamed call."""

    @property
    def complete(self) -> bool: ...

    @property
    def partial_text(self) -> str: ...

    def feed(self, payload: Any) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


@dataclass(frozen=True, slots=True)
class Recovery:
    """The one different attempt a dialect asks for after a refusal it recognises."""

    dialect: Dialect
    temperature: float | None
    # True: this provider speaks `dialect` from now on, once it has answered.
    sticky: bool = False
    # When the second attempt fails too, its error is reported after the first's,
    # under this explanation (None: the second error alone).
    explain: str | None = None


class Dialect(Protocol):
    """A wire protocol for one provider, sans I/O."""

    # The endpoint the dialect resolved itself (Azure's resource, Bedrock's region),
    # None when it calls the registry row's base URL.
    @property
    def base_url(self) -> str | None: ...

    # What to say when the server cannot be reached (a local server: how to start it).
    connect_hint: str | None
    # Seconds one request may take when the user set no provider_timeout_secs.
    default_timeout_s: float

    def chat_request(
        self,
        request: ChatRequest,
        model: str,
        temperature: float | None,
        stream: bool,
        headers: Mapping[str, str],
    ) -> HttpRequest: ...

    def parse_chat(self, data: Any, model: str) -> ChatResponse: ...

    def stream_parser(self, request: ChatRequest, model: str) -> StreamParser: ...

    def new_framer(self, max_event: int = MAX_EVENT_CHARS) -> Framer:
        """A framer for one stream; one event may hold at most `max_event` characters."""
        ...

    def models_request(self, headers: Mapping[str, str]) -> HttpRequest: ...

    def parse_models(self, data: Any) -> list[ModelEntry]: ...

    def recover(
        self, error: InvalidRequest, request: ChatRequest, temperature: float | None
    ) -> Recovery | None: ...


class BaseDialect:
    """Defaults shared by construct's dialects; each overrides what its protocol needs."""

    framing: ClassVar[str] = "sse"
    connect_hint: str | None = None
    default_timeout_s: float = 120.0
    settings: Any

    @property
    def base_url(self) -> str | None:
        return None

    def new_framer(self, max_event: int = MAX_EVENT_CHARS) -> Framer:
        return framer_for(self.framing, max_event)

    def recover(
        self, error: InvalidRequest, request: ChatRequest, temperature: float | None
    ) -> Recovery | None:
        """A second, different attempt after a 400 that names what the model refused."""
        body = error.body or error.message
        if request.tools and re.search(_TOOLS_REFUSED, body):
            guided = self.prompt_guided()
            if guided is not None:
                return Recovery(guided, temperature)
        if temperature is not None and re.search(_SAMPLING_REFUSED, body):
            return Recovery(self, None)
        return None

    def prompt_guided(self) -> Dialect | None:
        """This dialect describing tools in the prompt, for a model that refused native
        tools; None where the dialect sends none natively or has no such mode."""
        return None


class SwitchableTools(BaseDialect):
    """A dialect whose settings carry `native_tools`: refused native tools go to the prompt."""

    _guided: Any = None

    def prompt_guided(self) -> Dialect | None:
        if not self.settings.native_tools:
            return None
        if self._guided is None:
            self._guided = type(self)(replace(self.settings, native_tools=False))
        return self._guided
