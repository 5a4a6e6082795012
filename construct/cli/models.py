"""`construct models list`: the models a user can pick from, per configured provider.

Each provider the config names (the default, fallbacks, routed providers, provider
processes) is asked for its models; one that cannot answer gets a line saying why and
the others are still listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ConstructError
from ..secrets import scrub_secret_patterns
from .common import DEFAULT_PROVIDER, one_line

__all__ = ["run_models_list"]


def _names(config: Any, only: str | None) -> list[str]:
    if only:
        return [only]
    names = [config.default_provider or DEFAULT_PROVIDER]
    names += [f.partition("@")[0] for f in config.reliability.fallback_providers]
    names += [r.provider for r in config.model_routes]
    procs = config.processes
    names += [f"process:{name}" for name in procs.entries]
    return list(dict.fromkeys(n.strip() for n in names))


def _listing(config: Any, name: str) -> dict[str, Any]:
    from ..factory import create_provider_with_options, options_from_config, processes_from_config

    default = (config.default_provider or DEFAULT_PROVIDER).strip()
    own = name == default
    options = options_from_config(config) if own else None
    try:
        provider = create_provider_with_options(
            name,
            config.api_key if own else None,
            options,
            environ=config.key_environ,
            processes=processes_from_config(config),
        )
        with provider:
            models = provider.list_models()
    except ConstructError as exc:
        return {"provider": name, "error": one_line(exc.message), "models": []}
    entries = [
        {
            "model_id": m.model_id,
            "display_name": m.display_name,
            "context_window": m.context_window,
            "max_output_tokens": m.max_output_tokens,
            "supports_image_input": m.supports_image_input,
            "default": own and m.model_id == config.default_model,
        }
        for m in models
    ]
    return {"provider": name, "error": None, "models": entries}


def _number(value: int | None) -> str:
    return f"{value:,}" if value else "-"


def _images(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def run_models_list(args: argparse.Namespace) -> int:
    from ..config import load_config

    config = load_config(args.config)
    listings = [_listing(config, name) for name in _names(config, args.provider)]
    if args.json:
        print(json.dumps(listings, indent=2, ensure_ascii=False))
        return 0 if all(item["error"] is None for item in listings) else 1
    rows = [("", "PROVIDER", "MODEL", "CONTEXT", "MAX OUTPUT", "IMAGES")]
    failures = []
    for item in listings:
        if item["error"]:
            failures.append(f"{item['provider']}: {item['error']}")
            continue
        for m in item["models"]:
            rows.append(
                (
                    "*" if m["default"] else "",
                    item["provider"],
                    m["model_id"],
                    _number(m["context_window"]),
                    _number(m["max_output_tokens"]),
                    _images(m["supports_image_input"]),
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        print(scrub_secret_patterns(f"{r[0] or ' '} " + "  ".join(cells)).rstrip())
    for line in failures:
        print(f"construct: error: {scrub_secret_patterns(line)}", file=sys.stderr)
    if config.default_model:
        print(f"\n* default: {config.default_provider or DEFAULT_PROVIDER} {config.default_model}")
    return 0 if not failures else 1
