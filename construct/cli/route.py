"""`construct route explain MODEL`: where a request for MODEL would go, and what would follow.

It builds the provider `create_provider_from_config` builds, asks the router which
route a request for MODEL takes (`RouterProvider.resolve`), and prints the provider,
the model sent, the key (masked, with where it comes from) and the fallback chain
the `ReliableProvider` would walk. Building a provider opens no connection; nothing
is sent.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from ..secrets import mask, scrub_secret_patterns
from .common import UsageError

if TYPE_CHECKING:
    from ..config import Config
    from ..providers.base import Provider
    from ..resilience import ReliableProvider, Route

__all__ = ["explain", "run_explain"]

_LABEL = 14


def _route_index(config: Config, route: Route) -> int | None:
    return next((i for i, r in enumerate(config.model_routes) if r.hint == route.hint), None)


def _explicit_source(config: Config, name: str, is_default: bool) -> str:
    """Where an explicit key came from: a route's api_key, else the config's (K1, T4)."""
    for i, r in enumerate(config.model_routes):
        if r.provider == name and r.api_key and r.api_key.strip():
            return f"model_routes[{i}].api_key"
    if is_default and config.api_key:
        env = os.environ.get("CONSTRUCT_API_KEY", "").strip()
        if env and env == config.api_key.strip():
            return "CONSTRUCT_API_KEY (overrides api_key in the config)"
        return "api_key in the config"
    return "explicit"


def _key(provider: Provider, config: Config, entry: str, is_default: bool) -> dict[str, Any]:
    """The key a chain entry sends (masked), where it comes from, and the variables K1 reads."""
    from ..registry import resolve, shown_key_env, split_profile

    secret = getattr(provider, "key", None)
    source = getattr(provider, "key_source", None)
    env_vars = list(shown_key_env(resolve(split_profile(entry)[0])))
    if secret is None:
        return {"masked": None, "source": None, "env": env_vars}
    if source == "explicit":
        source = _explicit_source(config, entry, is_default)
    return {"masked": mask(secret.reveal()), "source": source, "env": env_vars}


def _chain(
    reliable: ReliableProvider, config: Config, model: str, is_default: bool
) -> dict[str, Any]:
    from ..providers.http import UnavailableProvider

    rel = config.reliability
    providers = [
        {
            "name": entry,
            "provider": p.name,
            "display_name": p.display_name,
            "base_url": scrub_secret_patterns(p.base_url) or None,
            "available": not isinstance(p, UnavailableProvider),
            # Fallbacks never hold an explicit key (L1): theirs come from their variables.
            "key": _key(p, config, entry, is_default and index == 0),
        }
        for index, (entry, p) in enumerate(reliable.providers)
    ]
    models = list(dict.fromkeys([model, *reliable.model_fallbacks.get(model, [])]))
    extra = [mask(k) for k in rel.api_keys]
    return {
        "providers": providers,
        "models": models,
        "order": [{"model": m, "provider": p["name"]} for m in models for p in providers],
        "attempts_per_provider": reliable.retries + 1,
        "provider_retries": reliable.retries,
        "backoff": {"base_ms": reliable.backoff_ms, "cap_s": 10.0, "jitter": rel.backoff_jitter},
        "max_retry_after_s": reliable.max_retry_after_s,
        "total_timeout_s": reliable.total_timeout_s,
        "circuit_breaker": {
            "threshold": rel.circuit_breaker_threshold,
            "cooldown_s": rel.circuit_breaker_cooldown_s,
        },
        "api_keys": {"count": len(extra), "keys": extra, "rotates": reliable.rotating_keys > 0},
    }


def explain(config: Config, requested: str | None) -> dict[str, Any]:
    """What a request for `requested` would use, as data; raises `InvalidRequest` for a bad hint."""
    from ..factory import create_provider_from_config
    from ..resilience import ReliableProvider, RouterProvider

    requested = (requested or "").strip() or None
    top = create_provider_from_config(config)
    route_info = None
    if isinstance(top, RouterProvider):
        name, reliable, model, route = top.resolve(requested)
        default_name = top.resolve(None)[0]
        if route is not None:
            route_info = {
                "index": _route_index(config, route),
                "hint": route.hint,
                "match": "hint" if requested and requested.startswith("hint:") else "prefix",
                "provider": route.provider,
                "model": route.model,
            }
    else:
        name, reliable, model = top.providers[0][0], top, requested
        default_name = name
    assert isinstance(reliable, ReliableProvider)
    if route_info is not None and route_info["model"]:
        model_source = "route"
    elif model is None:
        model, model_source = reliable.default_model, "default_model"
    else:
        model_source = "requested"
    if not model:
        if route_info is not None:
            raise UsageError(
                f"route {route_info['hint']!r} sets no model and the config has no "
                f"default_model: a request for {requested} would fail"
            )
        raise UsageError("no model: pass MODEL, or set default_model in the config")
    chain = _chain(reliable, config, model, name == default_name)
    return {
        "requested": requested,
        "routes_configured": len(config.model_routes),
        "route": route_info,
        "provider": name,
        "model": model,
        "model_source": model_source,
        "key": chain["providers"][0]["key"],
        "chain": chain,
        "sent": False,
    }


# -- text -----------------------------------------------------------------------------------


def _field(label: str, value: str) -> str:
    return textwrap.fill(
        value,
        width=100,
        initial_indent=f"{label + ':':<{_LABEL}}",
        subsequent_indent=" " * _LABEL,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _key_text(key: dict[str, Any]) -> str:
    if key["masked"]:
        return f"{key['masked']} from {key['source']}"
    if key["env"]:
        return f"not set (set {key['env'][0]})"
    return "none needed"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _route_text(data: dict[str, Any]) -> str:
    route = data["route"]
    if route is None and not data["routes_configured"]:
        return "no [[model_routes]]: the default provider"
    if route is None:
        return "none matches: the default provider, model unchanged"
    where = f"model_routes[{route['index']}]" if route["index"] is not None else "a route"
    how = "hint:NAME" if route["match"] == "hint" else "longest prefix"
    return f'{where}, hint = "{route["hint"]}" ({how})'


def _model_text(data: dict[str, Any]) -> str:
    note = {
        "route": "set by the route",
        "default_model": "default_model",
        "requested": "as requested",
    }[data["model_source"]]
    return f"{data['model']} ({note})"


def _lines(data: dict[str, Any]) -> list[str]:
    chain = data["chain"]
    first = chain["providers"][0]
    requested = data["requested"] or "(none: default_model)"
    lines = [
        _field("Request for", requested),
        _field("Route", _route_text(data)),
        _field(
            "Provider", f"{data['provider']} ({first['display_name']}) {first['base_url'] or ''}"
        ),
        _field("Model", _model_text(data)),
        _field("Key", _key_text(data["key"])),
        "",
        f"Fallback chain: each model on each provider in turn, up to "
        f"{chain['attempts_per_provider']} attempts each (provider_retries = "
        f"{chain['provider_retries']}):",
    ]
    width = max(len(p["name"]) for p in chain["providers"])
    digits = len(str(len(chain["order"])))
    for i, step in enumerate(chain["order"], 1):
        lines.append(f"  {i:>{digits}}. {step['provider']:<{width}}  {step['model']}")
    lines += ["", "Providers, in fallback order, and the key each sends:"]
    keys_text = [f"key {_key_text(p['key'])}" for p in chain["providers"]]
    key_width = max(len(k) for k in keys_text)
    for p, key in zip(chain["providers"], keys_text, strict=True):
        state = "" if p["available"] else " (not available yet)"
        where = f"{p['base_url'] or '-'}{state}"
        lines.append(f"  {p['name']:<{width}}  {key:<{key_width}}  {where}".rstrip())
    lines.append("")
    b = chain["backoff"]
    jitter = f", up to {b['jitter']:.0%} shorter (jitter)" if b["jitter"] else ", no jitter"
    lines.append(
        _field("Backoff", f"{b['base_ms']:g} ms, doubling, at most {_seconds(b['cap_s'])}{jitter}")
    )
    lines.append(
        _field(
            "Retry-After",
            f"waited up to {_seconds(chain['max_retry_after_s'])} (max_retry_after_s); "
            "a longer wait moves on at once",
        )
    )
    budget = chain["total_timeout_s"]
    lines.append(
        _field(
            "Budget",
            f"{_seconds(budget)} for the whole call" if budget else "none (total_timeout_s unset)",
        )
    )
    cb = chain["circuit_breaker"]
    lines.append(
        _field(
            "Circuit",
            f"after {cb['threshold']} consecutive failures a provider is skipped for "
            f"{_seconds(cb['cooldown_s'])}",
        )
    )
    keys = chain["api_keys"]
    if not keys["count"]:
        rotation = "none (no reliability.api_keys)"
    elif keys["rotates"]:
        rotation = (
            f"{keys['count']} more key(s) for {first['name']} in reliability.api_keys "
            f"({', '.join(keys['keys'])}), the next one taken on a 429"
        )
    else:
        rotation = (
            f"not here: reliability.api_keys ({keys['count']}) belong to the default provider"
        )
    lines.append(_field("Key rotation", rotation))
    lines.append("")
    lines.append("Nothing was sent.")
    return lines


def run_explain(args: argparse.Namespace) -> int:
    from ..config import load_config

    config = load_config(args.config)
    try:
        data = explain(config, args.model)
    except InvalidRequest as exc:
        raise UsageError(exc.message) from None
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print("\n".join(_lines(data)))
    return 0
