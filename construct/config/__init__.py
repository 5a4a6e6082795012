"""`config.toml` -> `Config`: lookup, `.env`, `${VAR}` interpolation, validation, a starter file.

`load_config` runs one pipeline (PROVIDERS.md F1-F4), one module per concern:

    find the file     lookup.py       explicit path, CONSTRUCT_CONFIG, ./config.toml,
                                      ~/.construct/config.toml
    read .env, parse  lookup.py       .env beside the file, the real environment over it; tomllib;
                                      for keys also ./.env (`Config.key_environ`, K1)
    fold aliases      schema.py       the reference's model_provider and model
    interpolate       interpolate.py  ${VAR} and ${VAR:-default} in every string value
    override          interpolate.py  CONSTRUCT_PROVIDER, CONSTRUCT_MODEL, CONSTRUCT_API_KEY,
                                      CONSTRUCT_API_URL
    validate          schema.py       pydantic for shapes and types, the registry for names

Every problem of every stage is collected in a `problems.Problems` and raised once, as
`ConfigValidationError` with one `key.path: message` line per problem. `problems.py` is
apart from `schema.py` because the stages before validation report problems too and need
no pydantic; `schema.py` keeps the wording of pydantic's errors, which needs the models.
`starter.py` writes the commented starter file of `construct config init`.
`ReliabilityConfig.coerce` validates a `reliability` dict given to the factory the same way.

A pydantic `ValidationError` never leaves this package (its text would echo input values,
keys included), and key values never appear in a message or a `repr`. This package is the
only one that imports pydantic; `construct` imports it lazily.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
from .interpolate import apply_environment
from .lookup import KeyEnvironment, dotenv_files, find_config_path, locate, read_sources
from .problems import ConfigValidationError, Problems, register_keys
from .schema import (
    Config,
    HttpConfig,
    ModelRoute,
    ReliabilityConfig,
    check_names,
    fold_aliases,
    validate,
)
from .starter import write_starter_config

__all__ = [
    "Config",
    "ConfigValidationError",
    "HttpConfig",
    "KeyEnvironment",
    "ModelRoute",
    "ReliabilityConfig",
    "check_config",
    "find_config_path",
    "load_config",
    "write_starter_config",
]


def load_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, interpolate, override and validate a `config.toml` (F1-F4).

    Without `path`, the F4 lookup decides; when it finds nothing, the defaults (with the
    env overrides) are returned. `environ` replaces `os.environ` (which is never modified).
    `config.key_environ` is where `create_provider_from_config` reads provider keys:
    `os.environ` over the `.env` beside the file, over `./.env`.
    Raises `ConfigError`: `ConfigValidationError` with every problem, or a plain one for a
    missing file or a TOML syntax error.
    """
    config, problems, found = _load(path, environ)
    if problems or config is None:
        raise ConfigValidationError(problems, found)
    return config


def check_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[str]]:
    """Every problem `load_config` would raise, without raising (for `construct config check`).

    The config is None when the file cannot be read or its shapes and types are wrong; it is
    returned when only names are wrong (an unknown provider), so a caller can still show it.
    No problem text contains a key.
    """
    try:
        config, problems, _ = _load(path, environ)
    except ConfigError as exc:
        return None, [exc.message]
    return config, problems


def _load(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None
) -> tuple[Config | None, list[str], Path | None]:
    real_env = os.environ if environ is None else environ
    found = locate(path, real_env)
    files = dotenv_files(found)
    env, data = read_sources(found, real_env, files)
    problems = Problems()
    fold_aliases(data, problems)
    data, sources = apply_environment(data, env, problems)
    # Before any message is built, so scrubbing removes every key literally.
    register_keys(data, problems)
    config = validate(data, found, problems)
    if config is not None and files:
        # Keys are read when a provider is built, from os.environ as always (`environ=`
        # serves the lookup, interpolation and overrides only), now over the .env files.
        # Without one there is nothing to add: None reads os.environ, as a Config built
        # in code does.
        config._key_environ = KeyEnvironment(os.environ, files)
    check_names(data, problems)
    return config, problems.lines(sources), found
