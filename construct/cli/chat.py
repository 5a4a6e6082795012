"""`construct chat`: one prompt, the answer streamed to stdout.

It runs what `create_provider_from_config` builds from the config: the routes,
retries and fallback providers included, so `-m hint:fast` goes where `construct
route explain hint:fast` says, and a dead default provider falls back as it would
from Python; when another provider or model answered, stderr says which.
The provider and model default to the config's; `-p` and `-m` override them.
The config's `api_key`, `api_url`, `api_path` and credential-looking
`extra_headers` belong to the config's own provider: when `-p` names another
one they are left out, so one vendor's key never reaches another (K1). That
provider then reads its own key from its own env vars.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ..registry import Resolved, resolve
from ..secrets import is_credential_header
from .common import DEFAULT_PROVIDER, UsageError, dim

if TYPE_CHECKING:
    from ..config import Config
    from ..events import Event
    from ..options import ProviderRuntimeOptions
    from ..providers.base import Provider
    from ..types import ChatRequest

__all__ = ["run_chat"]


def _read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        if sys.stdin is None:
            raise UsageError("no PROMPT given and no stdin to read it from")
        if sys.stdin.isatty():
            print(
                dim("(reading the prompt from stdin; end it with Ctrl-D)", sys.stderr),
                file=sys.stderr,
            )
        prompt = sys.stdin.read()
    text = prompt.strip()
    if not text:
        raise UsageError("the prompt is empty: pass PROMPT, or pipe it to 'construct chat -'")
    return text


def _same_provider(a: Resolved, b: Resolved) -> bool:
    if a.custom or b.custom:
        return a.custom and b.custom and a.spec.name == b.spec.name and a.base_url == b.base_url
    return a.spec.name == b.spec.name


def _public_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not is_credential_header(k)}


def _provider_settings(
    args: argparse.Namespace, config: Config
) -> tuple[str, str | None, ProviderRuntimeOptions]:
    """(provider name, explicit key, options) for this call."""
    from ..factory import options_from_config

    configured = config.default_provider or DEFAULT_PROVIDER
    options = options_from_config(config)
    if args.provider is None:
        return configured, config.api_key, options
    if _same_provider(resolve(args.provider), resolve(configured)):
        return args.provider, config.api_key, options
    options = replace(
        options,
        provider_api_url=None,
        api_path=None,
        extra_headers=_public_headers(options.extra_headers),
    )
    return args.provider, None, options


def _request(system: str | None, prompt: str) -> ChatRequest:
    from ..types import ChatMessage, ChatRequest

    messages = [ChatMessage.system(system)] if system else []
    messages.append(ChatMessage.user(prompt))
    return ChatRequest(tuple(messages))


class _Output:
    """Writes the answer as it comes; remembers whether the line still needs its end."""

    def __init__(self) -> None:
        self.open_line = False
        self.reasoning_open = False
        self.show_reasoning = sys.stderr.isatty()

    def text(self, delta: str) -> None:
        if not delta:
            return
        self._end_reasoning()
        sys.stdout.write(delta)
        sys.stdout.flush()
        self.open_line = not delta.endswith("\n")

    def reasoning(self, delta: str) -> None:
        if not delta or not self.show_reasoning:
            return
        sys.stderr.write(dim(delta, sys.stderr))
        sys.stderr.flush()
        self.reasoning_open = not delta.endswith("\n")

    def note(self, message: str) -> None:
        self._end_reasoning()
        print(dim(message, sys.stderr), file=sys.stderr)

    def _end_reasoning(self) -> None:
        if self.reasoning_open:
            sys.stderr.write("\n")
            self.reasoning_open = False

    def finish(self) -> None:
        self._end_reasoning()
        if self.open_line:
            sys.stdout.write("\n")
            self.open_line = False
        sys.stdout.flush()


def _stream(provider: Provider, request: ChatRequest, model: str, temp: float | None) -> None:
    out = _Output()
    try:
        for event in provider.stream(request, model, temp):
            if event.type == "text_delta":
                out.text(event.delta)
            elif event.type == "reasoning_delta":
                out.reasoning(event.delta)
            elif event.type == "tool_call" and event.tool_call is not None:
                call = event.tool_call
                out.note(f"[the model asked for tool {call.name!r}; chat runs no tools]")
    finally:
        out.finish()


def _once(provider: Provider, request: ChatRequest, model: str, temp: float | None) -> None:
    response = provider.chat(request, model, temp)
    out = _Output()
    try:
        if response.reasoning_content:
            out.reasoning(response.reasoning_content)
        out.text(response.text or "")
        for call in response.tool_calls:
            out.note(f"[the model asked for tool {call.name!r}; chat runs no tools]")
    finally:
        out.finish()


def run_chat(args: argparse.Namespace) -> int:
    from .. import events
    from ..config import load_config
    from ..factory import create_routed_provider_with_options, processes_from_config
    from ..resilience import RouterProvider

    prompt = _read_prompt(args.prompt)
    config = load_config(args.config)
    name, api_key, options = _provider_settings(args, config)
    model = (args.model or config.default_model or "").strip()
    if not model:
        raise UsageError("no model: pass -m MODEL, or set default_model in the config")
    request = _request(args.system, prompt)
    if args.provider is None and config.default_provider is None:
        _say_why_the_default(config)
    provider = create_routed_provider_with_options(
        name,
        api_key,
        options.provider_api_url,
        config.reliability,
        config.model_routes,
        config.default_model,
        options,
        environ=config.key_environ,
        processes=processes_from_config(config),
    )
    # Who the request goes to first: a route's provider and model, or the default one.
    if isinstance(provider, RouterProvider):
        first, _, first_model, _ = provider.resolve(model)
    else:
        first, first_model = provider.providers[0][0], model  # type: ignore[attr-defined]
    answered: list[Event] = []
    unsubscribe = events.subscribe(lambda e: answered.append(e) if e.kind == "success" else None)
    # The chain's own story (each fallback, the final failure) is told once here: by the
    # error, or by the note saying who answered, not again as log warnings.
    quiet = _ChainEvents()
    logging.getLogger("construct").addFilter(quiet)
    try:
        with provider:
            if args.no_stream:
                _once(provider, request, model, args.temperature)
            else:
                _stream(provider, request, model, args.temperature)
    finally:
        unsubscribe()
        logging.getLogger("construct").removeFilter(quiet)
    _say_who_answered(answered, first, first_model or model)
    return 0


def _say_why_the_default(config: Config) -> None:
    """When neither -p nor the config chose a provider and the default one has no key, say
    that the default was used, why, and which providers do have keys."""
    import os

    from ..registry import key_from_env, list_providers

    environ = config.key_environ if config.key_environ is not None else os.environ
    if key_from_env(resolve(DEFAULT_PROVIDER), environ) is not None:
        return
    if config.path is None:
        why = (
            "no config file was found (./config.toml, ~/.construct/config.toml, $CONSTRUCT_CONFIG)"
        )
    else:
        why = f"{config.path} sets no default_provider"
    keyed = [
        p.name
        for p in list_providers()
        if p.available and any(environ.get(var, "").strip() for var in p.key_env)
    ]
    found = f" Keys are set for: {', '.join(keyed)}." if keyed else ""
    print(
        f"construct: note: using {DEFAULT_PROVIDER}, the default provider: -p was not given "
        f"and {why}.{found} Choose one with -p PROVIDER, or write a config with "
        "'construct config init'.",
        file=sys.stderr,
    )


class _ChainEvents(logging.Filter):
    """Drops the resilience layer's fallback and failure records (events.py logs each as
    `kind: message`); other warnings (plain http:// to a remote host) still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return kind not in ("fallback", "failure")


def _say_who_answered(answered: list[Event], first: str, first_model: str) -> None:
    """On stderr, when a fallback answered instead of the provider and model asked first."""
    if not answered:
        return
    last = answered[-1]
    if last.provider == first and last.model == first_model:
        return
    note = f"(answered by {last.provider} with {last.model}: {first} {first_model} failed)"
    print(dim(note, sys.stderr), file=sys.stderr)
