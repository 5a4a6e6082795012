"""`construct providers list` and `construct providers show NAME`.

Both read the registry only; `list` also loads the config, to mark the active
default, and shrugs off a broken one (a warning, no mark): listing providers is
what a user does while fixing a config.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..registry import (
    ANTHROPIC_CUSTOM,
    Resolved,
    auth_kind,
    key_env_vars,
    key_from_env,
    list_providers,
    resolve,
    shown_key_env,
)
from ..secrets import mask, scrub_secret_patterns
from .common import DEFAULT_PROVIDER, dotenv_source, warn, yes_no

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["run_list", "run_show"]

_ELLIPSIS = "…"
# How the key travels. Static text, never scrubbed (the scrubber would eat `Bearer <key>`).
_AUTH_WIRE = {
    "bearer": "Authorization: Bearer <key>",
    "x-api-key": "x-api-key: <key>",
    "api-key": "api-key: <key>",
    "x-goog-api-key": "x-goog-api-key: <key>, never in the URL",
    "aws": "AWS SigV4, or Authorization: Bearer <BEDROCK_API_KEY>",
    "oauth": "an OAuth token from a sign-in flow",
    "qwen-oauth": "Authorization: Bearer <token>: the Qwen Code CLI's sign-in, else a key",
    "minimax-oauth": "Authorization: Bearer <key>, else a token from MINIMAX_OAUTH_REFRESH_TOKEN",
    "none": "no key (a local command)",
}


# What supplies the credential of a sign-in auth when no key variable is set.
_SIGN_INS = {
    "qwen-oauth": "the Qwen Code CLI's sign-in (~/.qwen/oauth_creds.json), when present,",
    "minimax-oauth": "MINIMAX_OAUTH_REFRESH_TOKEN, when set,",
}


@dataclass(frozen=True, slots=True)
class _Active:
    """The config's default provider, resolved, whether the config supplies its key, and
    where keys are read from (the environment over the .env files; None: the environment)."""

    resolved: Resolved
    config_key: bool
    source: str
    environ: Mapping[str, str] | None = None

    def marks(self, resolved: Resolved) -> bool:
        return not self.resolved.custom and self.resolved.spec.name == resolved.spec.name


def _load_active(path: str | None) -> _Active | None:
    try:
        from ..config import load_config

        config = load_config(path)
        name = config.default_provider or DEFAULT_PROVIDER
        resolved = resolve(name)
    except ConfigError as exc:
        first = exc.message.splitlines()[0].rstrip(":") if exc.message else "invalid config"
        warn(
            f"config not loaded, no provider marked active: {first} "
            "(run 'construct config check' for details)"
        )
        return None
    return _Active(resolved, bool(config.api_key), _source(config), config.key_environ)


def _source(config: Config) -> str:
    if os.environ.get("CONSTRUCT_PROVIDER", "").strip():
        return "CONSTRUCT_PROVIDER"
    if config.default_provider and config.path:
        return f"default_provider in {config.path}"
    return "the built-in default"


def _key_state(
    resolved: Resolved, active: _Active | None
) -> tuple[str | None, str | None, str | None]:
    """(the variable to show, where the key comes from if there is one, the `.env` file
    the variable is read from if it is)."""
    if active is not None and active.config_key and active.marks(resolved):
        # An explicit key beats the env vars (K1). CONSTRUCT_API_KEY is the config override.
        var = "CONSTRUCT_API_KEY" if os.environ.get("CONSTRUCT_API_KEY", "").strip() else None
        return var or "config api_key", var or "config", None
    env = active.environ if active is not None else None
    found = key_from_env(resolved, env)
    if found is not None:
        where = dotenv_source(env, found[0]).removeprefix(" in ")
        return found[0], found[0], where or None
    # The provider's own variable; the generic CONSTRUCT_API_KEY is shown only when set.
    return (shown_key_env(resolved)[0] if resolved.key_env else None), None, None


def _row(info: Any, active: _Active | None) -> dict[str, Any]:
    resolved = resolve(info.name)
    shown_var, source, dotenv = _key_state(resolved, active)
    return {
        "name": info.name,
        "display_name": info.display_name,
        "aliases": list(info.aliases),
        "local": info.local,
        "base_url": info.base_url,
        "key_env": list(info.key_env),
        "key_set": source is not None,
        "key_source": source,
        "key_file": dotenv,
        "dialect": info.dialect,
        "available": info.available,
        "active": active is not None and active.marks(resolved),
        "_shown_var": shown_var,
    }


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


_HEADERS = ("ID", "NAME", "ALIASES", "LOCAL", "KEY ENV", "SET", "STATUS")
_NAME, _ALIASES, _LOCAL, _KEY = 1, 2, 3, 4
# Columns a narrow terminal may leave out, in the order they are let in, each with the
# narrowest it is shown (cut with `…`); ID, KEY ENV, SET and STATUS are always shown, whole
# down to 64 columns.
_OPTIONAL = ((_NAME, 12), (_ALIASES, 10), (_LOCAL, 5))
# What width is left grows these, in order, up to their natural width.
_GROWS = (_NAME, _ALIASES)


def _fit(natural: list[int], width: int) -> list[int | None]:
    """Column widths for a `width`-character line; None leaves a column out."""
    out: list[int | None] = [None if i in dict(_OPTIONAL) else w for i, w in enumerate(natural)]

    def used() -> int:
        shown = [w for w in out if w is not None]
        return 2 + sum(shown) + 2 * (len(shown) - 1)

    for column, narrowest in _OPTIONAL:
        least = min(natural[column], narrowest)
        if used() + least + 2 <= width:
            out[column] = least
    over = used() - width
    if over > 0:
        # Narrower than the essentials: the longest key variables are cut, as a last resort.
        out[_KEY] = max(natural[_KEY] - over, 14)
    for column in _GROWS:
        current = out[column]
        if current is not None:
            out[column] = min(natural[column], current + max(width - used(), 0))
    return out


def _table(rows: list[dict[str, Any]], width: int) -> list[str]:
    cells = [
        (
            r["name"],
            r["display_name"],
            ", ".join(r["aliases"]) or "-",
            yes_no(r["local"]),
            r["_shown_var"] or "-",
            yes_no(r["key_set"]) if r["_shown_var"] else "-",
            "ready" if r["available"] else "not yet",
        )
        for r in rows
    ]
    natural = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_HEADERS)]
    # Even on a wide terminal a long alias list stops at 36; `show` lists them all.
    natural[_ALIASES] = min(natural[_ALIASES], 36)
    natural[_NAME] = min(natural[_NAME], 24)
    widths = _fit(natural, width)

    def line(mark: str, values: tuple[str, ...]) -> str:
        parts = [_cut(v, w).ljust(w) for v, w in zip(values, widths, strict=True) if w is not None]
        return f"{mark} {'  '.join(parts)}".rstrip()

    out = [line(" ", _HEADERS)]
    out += [line("*" if r["active"] else " ", c) for r, c in zip(rows, cells, strict=True)]
    return out


def run_list(args: argparse.Namespace) -> int:
    active = _load_active(args.config)
    rows = [_row(info, active) for info in list_providers()]
    if args.json:
        for r in rows:
            del r["_shown_var"]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    # The terminal's width (COLUMNS wins); piped output gets 120 columns.
    width = max(shutil.get_terminal_size((120, 24)).columns, 40)
    out = [f"Supported providers ({len(rows)} total):", ""]
    out += _table(rows, width)
    out += [
        "",
        "  custom:<URL>            any OpenAI-compatible endpoint",
        "  anthropic-custom:<URL>  any Anthropic-compatible endpoint"
        + ("" if ANTHROPIC_CUSTOM.available else " (not yet available)"),
        "",
    ]
    if active is None:
        out.append("No active default marked (the config could not be loaded).")
    elif active.resolved.custom:
        shown = scrub_secret_patterns(active.resolved.requested)
        out.append(f"Active default: {shown} (from {active.source}).")
    else:
        spec = active.resolved.spec
        out.append(f"* active default: {spec.name} (from {active.source}).")
    out.append("Keys: the KEY ENV variable, else CONSTRUCT_API_KEY (values never shown).")
    from_files = sorted(
        {f"{r['key_source']} (from {r['key_file']})" for r in rows if r["key_file"]}
    )
    if from_files:
        # Not the environment: say which file, so a stale .env is easy to find.
        out.append(f"Read from .env files: {', '.join(from_files)}.")
    out.append("Every alias, the URL and the key lookup order: construct providers show NAME")
    print("\n".join(out))
    return 0


def _capabilities(resolved: Resolved) -> dict[str, bool]:
    s = resolved.spec
    return {
        "native_tool_calling": s.native_tools,
        "vision": s.vision,
        "prompt_caching": s.prompt_caching,
        "streaming": s.streaming,
    }


def _show_data(resolved: Resolved) -> dict[str, Any]:
    spec = resolved.spec
    env = os.environ
    found = key_from_env(resolved)
    key_vars = [
        {"name": var, "set": bool(env.get(var, "").strip())} for var in key_env_vars(resolved)
    ]
    return {
        "name": spec.name,
        "display_name": spec.display_name,
        "requested": scrub_secret_patterns(resolved.requested),
        "aliases": list(spec.aliases),
        "region": resolved.region,
        "base_url": scrub_secret_patterns(resolved.base_url) or None,
        "dialect": spec.dialect,
        "auth": auth_kind(resolved),
        "key_env": key_vars,
        "key_source": found[0] if found else None,
        "key": mask(found[1]) if found else None,
        "key_required": spec.key_required,
        "headers": {k: scrub_secret_patterns(v) for k, v in resolved.headers},
        "capabilities": _capabilities(resolved),
        "local": spec.local,
        "custom": resolved.custom,
        "available": spec.available,
        "unavailable_reason": None if spec.available else (spec.pending or "not implemented"),
        "docs_url": spec.docs_url,
    }


def _show_lines(data: dict[str, Any]) -> list[str]:
    def field(label: str, value: str) -> str:
        return textwrap.fill(
            value,
            width=100,
            initial_indent=f"{label + ':':<14}",
            subsequent_indent=" " * 14,
            break_on_hyphens=False,
            break_long_words=False,
        )

    if data["custom"]:
        title = f"{data['requested']} ({data['display_name']})"
    else:
        title = f"{data['name']} ({data['display_name']})"
    lines = [title, field("Requested", data["requested"])]
    if data["aliases"]:
        lines.append(field("Aliases", ", ".join(data["aliases"])))
    lines.append(field("Region", data["region"] or "-"))
    lines.append(field("Base URL", data["base_url"] or "- (runs a local command)"))
    lines.append(field("Dialect", data["dialect"]))
    lines.append(field("Auth", f"{data['auth']} ({_AUTH_WIRE.get(data['auth'], '?')})"))
    if data["key_env"]:
        order = ", then ".join(
            f"{v['name']} ({'set' if v['set'] else 'not set'})" for v in data["key_env"]
        )
        lines.append(field("Key env", order))
    if data["key"]:
        lines.append(field("Key", f"{data['key']} from {data['key_source']}"))
    elif data["key_env"] and data["auth"] == "oauth":
        sign_in = f"construct auth login {data['name']}"
        lines.append(field("Key", f"not set; a stored sign-in serves instead ({sign_in})"))
    elif data["key_env"] and data["auth"] in _SIGN_INS:
        lines.append(field("Key", f"not set; {_SIGN_INS[data['auth']]} serves instead"))
    elif data["key_env"]:
        need = "needed for calls" if data["key_required"] else "optional"
        lines.append(field("Key", f"not set ({need})"))
    headers = ", ".join(f"{k}: {v}" for k, v in data["headers"].items())
    lines.append(field("Headers", headers or "-"))
    caps = data["capabilities"]
    lines.append(field("Capabilities", ", ".join(f"{k}={yes_no(v)}" for k, v in caps.items())))
    lines.append(field("Local", yes_no(data["local"])))
    available = "yes" if data["available"] else f"not yet: {data['unavailable_reason']}"
    lines.append(field("Available", available))
    if data["docs_url"]:
        lines.append(field("Docs", data["docs_url"]))
    return lines


def run_show(args: argparse.Namespace) -> int:
    resolved = resolve(args.name)
    data = _show_data(resolved)
    if args.json:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = "\n".join(_show_lines(data))
    print(text)
    return 0
