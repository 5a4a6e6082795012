"""`construct config init [PATH]` and `construct config check`.

`check` reports every problem at once, each with its key path, and then tries
to build the configured provider (nothing is sent), so a key that belongs to
another vendor (K3) shows up here rather than at the first call. Key values are
never printed; at most their masked form (`sk-…abcd`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..secrets import mask, scrub_secret_patterns
from .common import DEFAULT_PROVIDER, dotenv_source, one_line

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["run_check", "run_init"]

EXIT_PROBLEMS = 1


def _init_target(args: argparse.Namespace) -> tuple[Path, str]:
    if args.path:
        return Path(args.path), ""
    if getattr(args, "config", None):
        return Path(args.config), " (from --config)"
    named = os.environ.get("CONSTRUCT_CONFIG", "").strip()
    if named:
        return Path(named), " (from CONSTRUCT_CONFIG)"
    return Path("~/.construct/config.toml"), ""


def run_init(args: argparse.Namespace) -> int:
    from ..config import write_starter_config

    target, why = _init_target(args)
    try:
        written = write_starter_config(target)
    except ConfigError as exc:
        print(f"construct: error: {one_line(exc.message)}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"Wrote a starter config to {written.absolute()}{why}.")
    print("Edit it, then run 'construct config check'.")
    return 0


def _build_problems(config: Config) -> list[str]:
    """What building the provider would refuse (K3 key ownership, bad options); no I/O."""
    from ..factory import create_provider_from_config

    try:
        create_provider_from_config(config).close()
    except ConfigError as exc:
        where = "api_key" if "API key" in exc.message else "default_provider"
        return [f"{where}: {exc.message}"]
    return []


def _key_line(config: Config) -> str:
    from ..registry import key_from_env, resolve, shown_key_env

    if config.api_key:
        return f"set in the config ({mask(config.api_key)})"
    resolved = resolve(config.default_provider or DEFAULT_PROVIDER)
    env = config.key_environ
    found = key_from_env(resolved, env)
    if found is not None:
        return f"from {found[0]}{dotenv_source(env, found[0])} ({mask(found[1])})"
    if not resolved.spec.key_required or not resolved.key_env:
        return "none (not needed)"
    return f"not set (set {shown_key_env(resolved)[0]} or api_key)"


def _summary(config: Config) -> list[str]:
    rel = config.reliability
    provider = config.default_provider or f"{DEFAULT_PROVIDER} (built-in default)"
    fallbacks = ", ".join(rel.fallback_providers) or "none"
    chains = len(rel.model_fallbacks)
    hints = ", ".join(r.hint for r in config.model_routes)
    lines = [
        f"  provider:   {provider}",
        f"  model:      {config.default_model or '(none: pass -m to construct chat)'}",
        f"  api key:    {_key_line(config)}",
        f"  fallbacks:  {len(rel.fallback_providers)} provider(s) ({fallbacks}), "
        f"{chains} model fallback chain(s), {rel.provider_retries} retries each",
        f"  routes:     {len(config.model_routes)}" + (f" ({hints})" if hints else ""),
    ]
    if config.api_url:
        lines.insert(2, f"  api_url:    {config.api_url}")
    return lines


def _where(config: Config | None, path: str | None) -> str:
    from ..config import find_config_path

    if config is not None and config.path:
        return str(config.path)
    if path:
        return str(Path(path).expanduser().absolute())
    try:
        found = find_config_path()
    except ConfigError:
        found = None
    return str(found) if found else "the configuration"


def run_check(args: argparse.Namespace) -> int:
    from ..config import check_config

    path = getattr(args, "config", None)
    config, problems = check_config(path)
    if config is not None and not problems:
        problems = _build_problems(config)
    if problems:
        where = _where(config, path)
        count = len(problems)
        lines = [f"{where}: {count} problem{'' if count == 1 else 's'}"]
        lines += [f"  {one_line(p)}" for p in problems]
        print(scrub_secret_patterns("\n".join(lines)))
        return EXIT_PROBLEMS
    assert config is not None
    if config.path:
        head = f"OK: {config.path}"
    else:
        head = "OK: no config file found (looked for ./config.toml and "
        head += "~/.construct/config.toml); using the defaults"
    print(scrub_secret_patterns("\n".join([head, *_summary(config)])))
    return 0
