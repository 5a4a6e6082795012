"""Where the config comes from: the file (PROVIDERS.md F4), the `.env` beside it, its TOML.

The file is an explicit path, else the one `CONSTRUCT_CONFIG` names, else `./config.toml`,
else `~/.construct/config.toml`; with none of them there is no file and the defaults apply.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["CONFIG_ENV", "find_config_path", "locate", "read_sources"]

CONFIG_ENV = "CONSTRUCT_CONFIG"


def find_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """F4: `CONSTRUCT_CONFIG`, `./config.toml`, `~/.construct/config.toml`; None when none exists.

    Raises `ConfigError` when `CONSTRUCT_CONFIG` names a file that does not exist.
    """
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise ConfigError(f"Config file not found: {path} (named by {CONFIG_ENV})")
        return path.absolute()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    for candidate in (Path("config.toml"), home / ".construct" / "config.toml"):
        if candidate.is_file():
            return candidate.absolute()
    return None


def locate(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """The file `path` names (which must exist), else the one `find_config_path` finds."""
    if path is None:
        return find_config_path(environ)
    found = Path(path).expanduser().absolute()
    if not found.exists():
        raise ConfigError(f"Config file not found: {found}")
    return found


def read_sources(
    path: Path | None, environ: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Any]]:
    """(the variables `${VAR}` reads, the parsed file) for the config at `path`.

    The variables are `environ` over the `.env` beside the file: the real environment wins.
    Without a file they are `environ` alone and the table is empty.
    """
    if path is None:
        return dict(environ), {}
    return {**_read_dotenv(path.parent / ".env"), **environ}, _read_toml(path)


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    # Values are taken literally: ${VAR} is expanded in config.toml, not in .env.
    values = dotenv_values(path, interpolate=False)
    return {k: v for k, v in values.items() if v is not None}


# No setting nests deeper than four (`reliability.model_fallbacks.<model>[i]`); the stages
# after parsing walk the table recursively, so a deeper one is refused before they run.
MAX_DEPTH = 32


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"Config path is a directory, not a file: {path}")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigError(_too_deep(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(_too_deep(path))
    return data


def _too_deep(path: Path) -> str:
    return (
        f"{path}: arrays or tables are nested more than {MAX_DEPTH} levels deep; no setting "
        "nests more than four. Check the file for a runaway '[' or '{'."
    )


def _depth(value: Any) -> int:
    """How deeply arrays and tables nest in `value`, counted without recursing."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest
