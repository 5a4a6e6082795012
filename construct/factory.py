"""From a provider name to a working provider: `create_provider` and friends.

Keys (PROVIDERS.md K1-K3): an explicit key wins, then the provider's own env
vars in the registry's order, then `CONSTRUCT_API_KEY`; the bare `API_KEY` is
never read. A missing key is not an error here (K2): the first call says which
variables would supply one. A key that plainly belongs to another vendor is a
`ConfigError` now, before it is sent anywhere (K3).

The variables are read from `environ=` where a function takes one, else from
`os.environ`. `create_provider_from_config` passes the config's `key_environ`:
the real environment over the `.env` files (`construct.config.KeyEnvironment`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .auth import Auth, auth_for
from .dialects import openai_chat
from .dialects.base import Dialect
from .errors import ConfigError
from .options import ProviderRuntimeOptions
from .providers.base import Provider
from .providers.http import HttpProvider, UnavailableProvider
from .registry import (
    Resolved,
    apply_api_url,
    fill_url,
    key_from_env,
    resolve,
    shown_key_env,
    split_profile,
    with_profile,
)
from .secrets import Secret, is_credential_header, mask, scrub_secret_patterns
from .transport import Limits

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "create_provider",
    "create_provider_from_config",
    "create_provider_with_options",
    "create_provider_with_url",
    "create_resilient_provider",
    "create_resilient_provider_with_options",
    "create_routed_provider",
    "create_routed_provider_with_options",
]

log = logging.getLogger("construct")

# K3: who a key most likely belongs to, by its prefix; first match wins.
_KEY_OWNERS = (
    ("sk-ant-", "anthropic"),
    ("sk-or-", "openrouter"),
    ("sk-", "openai"),
    ("gsk_", "groq"),
    ("pplx-", "perplexity"),
    ("xai-", "xai"),
    ("nvapi-", "nvidia"),
    ("KEY-", "telnyx"),
)


def _resolve_key(
    resolved: Resolved, api_key: str | Secret | None, environ: Mapping[str, str] | None = None
) -> tuple[Secret | None, str | None]:
    """(key, where it came from) per K1."""
    if isinstance(api_key, Secret):
        return api_key, "explicit"
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError(f"api_key must be a string, got {type(api_key).__name__}")
    if api_key and api_key.strip():
        return Secret(api_key), "explicit"
    found = key_from_env(resolved, environ)
    if found is None:
        return None, None
    var, value = found
    return Secret(value), var


def _check_key_owner(resolved: Resolved, key: Secret, source: str | None) -> None:
    """K3: refuse to send one vendor's key to another."""
    spec = resolved.spec
    if spec.key_prefix is None:
        return
    value = key.reveal()
    owner = next((name for prefix, name in _KEY_OWNERS if value.startswith(prefix)), None)
    # Two rows of one vendor (openai, openai-responses) share its keys.
    if owner is None or owner == spec.name or resolve(owner).spec.key_env == spec.key_env:
        return
    # "explicit" covers both the api_key argument and config.toml's api_key.
    where = "the given api_key" if source == "explicit" else source
    var = shown_key_env(resolved)[0] if spec.key_env else "api_key"
    owner_name = resolve(owner).spec.display_name
    # The fix is where the key came from: a variable, or the api_key the caller gave.
    if source == "explicit":
        fix = f"Put a key for {spec.display_name} in api_key (config.toml, or the api_key= given)"
    else:
        fix = f"Set {var} to a key for {spec.display_name}"
    raise ConfigError(
        f"API key prefix mismatch: the key from {where} ({mask(value)}) looks like "
        f"a key for {owner_name}, but provider {spec.name!r} ({spec.display_name}) is "
        f"selected. {fix}, or use provider {owner!r}."
    )


# Rows that need more than a dialect and an auth column: an endpoint resolved from
# the environment, an auth that shares it. Their module's build() gives both.
_KINDS = {
    "azure_openai": "construct.providers.azure",
    "bedrock_converse": "construct.providers.bedrock",
    "copilot": "construct.providers.copilot",
}


# The dialect each `api=` value puts behind an OpenAI-shaped row.
_API_DIALECTS = {"chat": "openai_chat", "responses": "openai_responses"}


def _dialect_name(resolved: Resolved, api: str | None) -> str:
    """The row's dialect, or the one `api` asks for where the row is OpenAI-shaped."""
    spec = resolved.spec
    if api is None or spec.dialect == _API_DIALECTS[api]:
        return spec.dialect
    if spec.dialect not in _API_DIALECTS.values():
        raise ConfigError(
            f"api = {api!r} applies to OpenAI-compatible providers only; provider "
            f"{spec.name!r} ({spec.display_name}) speaks its own API ({spec.dialect}). "
            "Remove api, or choose an OpenAI-compatible provider (openai, a custom: URL)."
        )
    return _API_DIALECTS[api]


def _build(resolved: Resolved, opts: ProviderRuntimeOptions) -> tuple[Dialect, Auth]:
    """The dialect the row speaks and the auth it uses; modules are imported on first use."""
    name = _dialect_name(resolved, opts.api)
    kind = _KINDS.get(name)
    if kind is not None:
        return import_module(kind).build(resolved, opts)
    module = openai_chat if name == "openai_chat" else import_module(f"construct.dialects.{name}")
    return module.build(resolved, opts), auth_for(resolved)


def create_provider_with_options(
    name: str,
    api_key: str | Secret | None = None,
    options: ProviderRuntimeOptions | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    processes: Mapping[str, Any] | None = None,
) -> Provider:
    """The provider `name` stands for, configured by `options`; `environ` (default
    `os.environ`) is where its key variables are read (K1). A `process:NAME` is the provider
    process `processes[NAME]` describes (a `construct.remote.ProcessDefinition`)."""
    opts = ProviderRuntimeOptions.coerce(options)
    if isinstance(name, str) and name.strip().startswith(PROCESS_PREFIX):
        return _process_provider(name, processes, opts.default_model)
    resolved = apply_api_url(resolve(name), opts.provider_api_url)
    if opts.auth_profile_override:
        resolved = with_profile(resolved, opts.auth_profile_override)
    key, source = _resolve_key(resolved, api_key, environ)
    api_url_set = bool(opts.provider_api_url and opts.provider_api_url.strip())
    if key is not None and not api_url_set and not resolved.custom:
        _check_key_owner(resolved, key, source)
    spec = resolved.spec
    if not spec.available:
        return UnavailableProvider(resolved)
    if spec.dialect == "cli":
        # A command-line tool, not an HTTP API: no URL, no key, no headers to send.
        from .providers.cli import build as build_cli

        return build_cli(resolved, opts, environ)
    base_url, missing = fill_url(resolved.base_url)
    problem = None
    if missing:
        problem = (
            f"{spec.display_name} needs {' and '.join(missing)} set to build its URL "
            f"({resolved.base_url}), or pass api_url= / set api_url in config.toml."
        )
    resolved = replace(resolved, base_url=base_url)
    # extra_headers override the row's headers whatever their case (`x-title` replaces `X-Title`).
    overridden = {name.lower() for name in opts.extra_headers}
    headers = {k: v for k, v in resolved.headers if k.lower() not in overridden}
    headers.update(opts.extra_headers)
    dialect, auth = _build(resolved, opts)
    return HttpProvider(
        resolved,
        dialect,
        auth,
        key=key,
        key_source=source,
        # A dialect may know its backend is slower (a local Ollama loading a model: 300 s).
        timeout_s=opts.provider_timeout_secs or dialect.default_timeout_s,
        connect_timeout_s=opts.connect_timeout_secs,
        headers=headers,
        problem=problem,
        http_transport=opts.http_transport,
        # A dialect that builds its endpoint from the environment (Azure's resource,
        # Bedrock's region) shows the one it will call.
        base_url=None if api_url_set else dialect.base_url,
        default_model=opts.default_model,
        default_temperature=opts.default_temperature,
        limits=Limits(
            idle_s=opts.stream_idle_timeout_secs,
            stream_max_s=opts.stream_max_secs,
            max_body=int(opts.max_response_mb * (1 << 20)),
            max_event=int(opts.max_event_mb * (1 << 20)),
        ),
    )


PROCESS_PREFIX = "process:"


def _process_provider(
    name: str, processes: Mapping[str, Any] | None, default_model: str | None
) -> Provider:
    from .remote.launching import process_provider

    key = name.strip()[len(PROCESS_PREFIX) :]
    known = dict(processes or {})
    definition = known.get(key)
    if definition is None:
        listed = ", ".join(sorted(known)) or "none"
        raise ConfigError(
            f"Unknown provider process {key!r} (known: {listed}). Define it in config.toml "
            f"([processes.{key}] command = [...]) or in the providers.json that "
            "[processes] file names (construct processes add)."
        )
    provider = process_provider(key, definition)
    provider.default_model = default_model
    return provider


def create_provider(name: str, api_key: str | Secret | None = None) -> Provider:
    """The provider `name` stands for: a slug, an alias, a family name or a `custom:` URL."""
    return create_provider_with_options(name, api_key)


def create_provider_with_url(
    name: str, api_key: str | Secret | None = None, api_url: str | None = None
) -> Provider:
    """As `create_provider`, with `api_url` replacing the base URL (R5)."""
    return create_provider_with_options(
        name, api_key, ProviderRuntimeOptions(provider_api_url=api_url)
    )


def options_from_config(config: Config) -> ProviderRuntimeOptions:
    return ProviderRuntimeOptions(
        provider_api_url=config.api_url,
        provider_timeout_secs=config.provider_timeout_secs,
        extra_headers=dict(config.extra_headers),
        api_path=config.api_path,
        api=config.api,
        cli_agent_mode=config.cli_agent_mode,
        provider_max_tokens=config.provider_max_tokens,
        default_model=config.default_model,
        default_temperature=config.default_temperature,
        http_transport=config.http.transport,
        stream_idle_timeout_secs=config.http.stream_idle_timeout_secs,
        stream_max_secs=config.http.stream_max_secs,
        max_response_mb=config.http.max_response_mb,
        max_event_mb=config.http.max_event_mb,
    )


def _reliability(reliability: Any) -> Any:
    from .config import ReliabilityConfig

    return ReliabilityConfig.coerce(reliability)


def _fallback_options(opts: ProviderRuntimeOptions, profile: str | None) -> ProviderRuntimeOptions:
    """The primary's options minus what belongs to the primary alone (L1: api_url, credentials)."""
    headers = {k: v for k, v in opts.extra_headers.items() if not is_credential_header(k)}
    return replace(
        opts,
        provider_api_url=None,
        api_path=None,
        api=None,
        cli_agent_mode=False,  # an agent acting on the machine is asked for by name only
        extra_headers=headers,
        auth_profile_override=profile or opts.auth_profile_override,
    )


def create_resilient_provider_with_options(
    primary: str,
    api_key: str | Secret | None = None,
    api_url: str | None = None,
    reliability: Any = None,
    options: ProviderRuntimeOptions | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    processes: Mapping[str, Any] | None = None,
) -> Provider:
    """`primary` wrapped in a ReliableProvider with the fallbacks `reliability` names (L1-L10).

    Every provider of the chain reads its key variables from `environ` (default `os.environ`).
    """
    from .resilience import ReliableProvider

    rel = _reliability(reliability)
    opts = ProviderRuntimeOptions.coerce(options)
    if api_url:
        opts = replace(opts, provider_api_url=api_url)
    chain: list[tuple[str, Provider]] = [
        (
            primary,
            create_provider_with_options(
                primary, api_key, opts, environ=environ, processes=processes
            ),
        )
    ]
    seen = {primary.strip().lower()}
    for entry in rel.fallback_providers:
        if entry.strip().lower() in seen:
            # An entry may be `custom:https://user:password@host`: its userinfo is masked.
            log.warning("Skipping duplicate fallback provider %r", scrub_secret_patterns(entry))
            continue
        seen.add(entry.strip().lower())
        name, profile = split_profile(entry)
        try:
            provider = create_provider_with_options(
                name, None, _fallback_options(opts, profile), environ=environ, processes=processes
            )
        except ConfigError as exc:
            if profile is not None:
                raise  # an auth profile the user named: refused aloud, never skipped
            log.warning(
                "Ignoring fallback provider %r that cannot be built: %s",
                scrub_secret_patterns(entry),
                exc,
            )
            continue
        chain.append((entry, provider))
    return ReliableProvider(
        chain,
        retries=rel.provider_retries,
        backoff_ms=rel.provider_backoff_ms,
        api_keys=rel.api_keys,
        model_fallbacks=rel.model_fallbacks,
        backoff_jitter=rel.backoff_jitter,
        max_retry_after_s=rel.max_retry_after_s,
        total_timeout_s=rel.total_timeout_s,
        circuit_breaker_threshold=rel.circuit_breaker_threshold,
        circuit_breaker_cooldown_s=rel.circuit_breaker_cooldown_s,
    )


def create_resilient_provider(
    primary: str,
    api_key: str | Secret | None = None,
    api_url: str | None = None,
    reliability: Any = None,
) -> Provider:
    return create_resilient_provider_with_options(primary, api_key, api_url, reliability)


def create_routed_provider_with_options(
    primary: str,
    api_key: str | Secret | None = None,
    api_url: str | None = None,
    reliability: Any = None,
    model_routes: Sequence[Any] = (),
    default_model: str | None = None,
    options: ProviderRuntimeOptions | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    processes: Mapping[str, Any] | None = None,
) -> Provider:
    """A RouterProvider over full ReliableProviders, one per provider the routes name (T1-T4).

    Without routes it is the reliable provider alone. Keys are read from `environ` (default
    `os.environ`)."""
    from .resilience import Route, RouterProvider

    opts = ProviderRuntimeOptions.coerce(options)
    if default_model:
        opts = replace(opts, default_model=default_model)
    rel = _reliability(reliability)
    routes = [Route.coerce(r) for r in model_routes]
    # T4: a provider's key is the api_key of the first route naming it that has one.
    route_keys: dict[str, Any] = {}
    for r in routes:
        if r.api_key is not None:
            route_keys.setdefault(r.provider, r.api_key)
    if not routes:
        return create_resilient_provider_with_options(
            primary, api_key, api_url, rel, opts, environ=environ, processes=processes
        )
    # `api_keys` are more keys of the primary (L4): rotating them into another vendor's
    # provider would send one vendor's key to another (K1).
    others = rel.model_copy(update={"api_keys": []})
    names = list(dict.fromkeys([primary, *(r.provider for r in routes)]))
    built: list[tuple[str, Provider]] = []
    for name in names:
        key = route_keys.get(name) or (api_key if name == primary else None)
        if name == primary:
            provider = create_resilient_provider_with_options(
                name, key, api_url, rel, opts, environ=environ, processes=processes
            )
        else:
            try:
                # The shared fallback list may name this very provider: not a duplicate
                # the user wrote, so it is left out here rather than warned about.
                own = name.strip().lower()
                fallbacks = [
                    f for f in rel.fallback_providers if split_profile(f)[0].strip().lower() != own
                ]
                provider = create_resilient_provider_with_options(
                    name,
                    key,
                    None,
                    others.model_copy(update={"fallback_providers": fallbacks}),
                    # default_model names a model of the default provider, not of this one.
                    replace(_fallback_options(opts, None), default_model=None),
                    environ=environ,
                    processes=processes,
                )
            except ConfigError as exc:
                log.warning(
                    "Ignoring routed provider %r that cannot be built: %s",
                    scrub_secret_patterns(name),
                    exc,
                )
                continue
        built.append((name, provider))
    usable = {name for name, _ in built}
    kept = [r for r in routes if r.provider in usable]
    return RouterProvider(built, kept, default_index=0)


def create_routed_provider(
    primary: str,
    api_key: str | Secret | None = None,
    api_url: str | None = None,
    reliability: Any = None,
    model_routes: Sequence[Any] = (),
    default_model: str | None = None,
) -> Provider:
    return create_routed_provider_with_options(
        primary, api_key, api_url, reliability, model_routes, default_model
    )


def create_provider_from_config(config: Config | None = None) -> Provider:
    """The routed, reliable provider `config.toml` describes (`load_config()` when none given).

    Keys are read from `config.key_environ`: the environment over the `.env` files."""
    if config is None:
        from .config import load_config

        config = load_config()
    return create_routed_provider_with_options(
        config.default_provider or "openrouter",
        config.api_key,
        config.api_url,
        config.reliability,
        config.model_routes,
        config.default_model,
        options_from_config(config),
        environ=config.key_environ,
        processes=processes_from_config(config),
    )


def processes_from_config(config: Config) -> dict[str, Any]:
    """The provider processes a config defines, by name: the entries of `[processes] file`
    (a providers.json, in its order), then `[processes.NAME]` tables (which win)."""
    procs = config.processes
    if not procs.file and not procs.entries:
        return {}
    from .remote.launching import ProcessDefinition

    found: dict[str, Any] = {}
    if procs.file:
        from .remote.processes import load_providers_json

        for entry in load_providers_json(procs.file):
            found[entry.id] = ProcessDefinition(tuple(entry.command))
    for name, p in procs.entries.items():
        found[name] = ProcessDefinition(tuple(p.command), p.timeout_secs, p.protocol)
    return found
