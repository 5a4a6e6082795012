"""`config.toml` -> `Config`: lookup, `.env`, `${VAR}` interpolation, validation, a starter file.

`load_config` runs one pipeline (PROVIDERS.md F1-F4):

    find the file     explicit path, CONSTRUCT_CONFIG, ./config.toml, ~/.construct/config.toml
    read .env         beside the file; the real environment wins over it
    parse             tomllib
    interpolate       ${VAR} and ${VAR:-default} in every string value
    override          CONSTRUCT_PROVIDER, CONSTRUCT_MODEL, CONSTRUCT_API_KEY, CONSTRUCT_API_URL
    validate          pydantic for shapes and types, the registry for provider names

Every problem of every stage is collected and raised once, as `ConfigValidationError`
with one `key.path: message` line per problem. A pydantic `ValidationError` never leaves
this module (its text would echo input values, keys included), and key values never
appear in a message or a `repr`.

This module is the only one that imports pydantic; the package imports it lazily.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from . import registry
from .errors import ConfigError
from .secrets import Secret, is_credential_header, mask, scrub_secret_patterns

__all__ = [
    "Config",
    "ConfigValidationError",
    "HttpConfig",
    "ModelRoute",
    "ReliabilityConfig",
    "check_config",
    "find_config_path",
    "load_config",
    "write_starter_config",
]

CONFIG_ENV = "CONSTRUCT_CONFIG"
# F4: applied after the file, non-blank values only.
ENV_OVERRIDES = (
    ("CONSTRUCT_PROVIDER", "default_provider"),
    ("CONSTRUCT_MODEL", "default_model"),
    ("CONSTRUCT_API_KEY", "api_key"),
    ("CONSTRUCT_API_URL", "api_url"),
)
# Reference names still accepted for two top-level keys.
_ALIASES = (("default_provider", "model_provider"), ("default_model", "model"))

# `${NAME}` or `${NAME:-default}`; the default cannot contain `}`. There is no escape:
# anything that does not match (`${}`, `${1X}`, an unclosed `${`) stays as written.
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

Loc = tuple[str | int, ...]


class ConfigValidationError(ConfigError):
    """The config file has problems; `problems` lists each as `key.path: message`."""

    def __init__(self, problems: Sequence[str], path: Path | None = None) -> None:
        self.problems = [scrub_secret_patterns(p) for p in problems]
        self.path = path
        where = str(path) if path else "the configuration (no config file)"
        count = len(self.problems)
        head = f"{where}: {count} problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


# ---------------------------------------------------------------------------- models


def _not_bool(kind: str):
    # pydantic's lax mode reads `true` as 1; no count or duration here is a boolean.
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, "a boolean is not a number")
        return value

    return check


Int = Annotated[int, BeforeValidator(_not_bool("int_type"))]
Float = Annotated[float, BeforeValidator(_not_bool("float_type"))]


def _blank_to_none(value: str | None) -> str | None:
    # Blank keys and URLs (often `${VAR:-}` with VAR unset) mean "none", not an error.
    if value is None:
        return None
    return value.strip() or None


# A key or URL that may be left blank.
OptionalText = Annotated[str | None, AfterValidator(_blank_to_none)]


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) if is_credential_header(k) else v for k, v in value.items()}
    return value


class _Model(BaseModel):
    """Shows the fields named in `_secret_fields` masked in `repr` and `str` (K4)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    _secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self._secret_fields and value is not None:
                value = _masked(value)
            yield name, value


class ModelRoute(_Model):
    """A `[[model_routes]]` entry (T1): requests for `hint` go to `provider`, as `model`."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())
    _secret_fields: ClassVar[frozenset[str]] = frozenset({"api_key"})

    hint: str
    provider: str
    model: str | None = None
    api_key: OptionalText = None


class ReliabilityConfig(_Model):
    """`[reliability]`: retries, backoff, fallbacks, key rotation (L1-L9)."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"api_keys"})

    provider_retries: Int = Field(2, ge=0)
    # The resilience layer raises anything below 50 ms to 50 (L2).
    provider_backoff_ms: Int = Field(500, ge=0)
    fallback_providers: list[str] = Field(default_factory=list)
    api_keys: list[str] = Field(default_factory=list)
    model_fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    backoff_jitter: Float = Field(0.25, ge=0, le=1)
    max_retry_after_s: Float = Field(30.0, ge=0)
    total_timeout_s: Float | None = Field(None, gt=0)
    circuit_breaker_threshold: Int = Field(5, ge=1)
    circuit_breaker_cooldown_s: Float = Field(30.0, ge=0)
    # Agent-side settings of the reference: accepted so its configs load, unused here.
    channel_initial_backoff_secs: Int = Field(2, ge=0)
    channel_max_backoff_secs: Int = Field(60, ge=0)
    scheduler_poll_secs: Int = Field(15, ge=0)
    scheduler_retries: Int = Field(2, ge=0)

    @field_validator("api_keys")
    @classmethod
    def _drop_blank_keys(cls, keys: list[str]) -> list[str]:
        return [k.strip() for k in keys if k.strip()]


class HttpConfig(_Model):
    """`[http]`: how requests are sent."""

    # "aiohttp" sends async calls through aiohttp (pip install 'construct-llm[aiohttp]');
    # sync calls always use httpx.
    transport: Literal["httpx", "aiohttp"] = "httpx"


class Config(_Model):
    """A whole `config.toml`. `model_dump()` holds the real keys; `repr` never shows them."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"api_key", "extra_headers"})

    default_provider: str | None = Field(
        None, validation_alias=AliasChoices("default_provider", "model_provider")
    )
    default_model: str | None = Field(None, validation_alias=AliasChoices("default_model", "model"))
    api_key: OptionalText = None
    api_url: OptionalText = None
    api_path: str | None = None
    # C6: unset means no temperature is sent at all.
    default_temperature: Float | None = Field(None, ge=0, le=2)
    provider_timeout_secs: Int = Field(120, gt=0)
    provider_max_tokens: Int | None = Field(None, gt=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    reliability: ReliabilityConfig = Field(default_factory=ReliabilityConfig)
    model_routes: list[ModelRoute] = Field(default_factory=list)
    http: HttpConfig = Field(default_factory=HttpConfig)
    # Where the config was read from; set by load_config, never a TOML key.
    path: Path | None = Field(None, exclude=True)


# ---------------------------------------------------------------------------- problems


def _format_loc(loc: Loc) -> str:
    """`reliability.api_keys[1]`, `model_routes[0].api_key`, `a."quoted/key"`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


def _is_secret_loc(loc: Loc) -> bool:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return False
    if names[-1] in ("api_key", "api_keys"):
        return True
    return names[0] == "extra_headers" and len(names) > 1 and is_credential_header(names[1])


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))

    def covers(self, loc: Loc) -> bool:
        """A problem was already found at `loc` or around it; one report per spot is enough."""
        return any(loc[: len(seen)] == seen for seen, _ in self.items)

    def lines(self, sources: Mapping[Loc, str]) -> list[str]:
        out = []
        for loc, message in self.items:
            source = f" (from {sources[loc]})" if loc in sources else ""
            out.append(scrub_secret_patterns(f"{_format_loc(loc)}{source}: {message}"))
        return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _show(value: Any, secret: bool) -> str:
    # Containers are named, not printed: a misplaced table may hold a key.
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if secret:
        text = mask(str(value))
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, str) and len(value) > 80:
        text = repr(value[:77] + "...")
    else:
        text = repr(value)
    return f"{text} ({_kind(value)})"


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class of the table at `loc` (`("model_routes", 0)` -> ModelRoute)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unknown_key(loc: Loc) -> str:
    model = _model_at(loc[:-1])
    names = sorted(n for n in model.model_fields if n != "path") if model else []
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; valid keys here: {', '.join(names)}" if names else "unknown key"


def _describe(error: Mapping[str, Any], loc: Loc) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required key is missing"
    got = _show(error.get("input"), _is_secret_loc(loc))
    ctx = error.get("ctx") or {}
    if kind in _EXPECTED:
        hint = " (write each route as [[model_routes]])" if loc == ("model_routes",) else ""
        return f"expected {_EXPECTED[kind]}, got {got}{hint}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {got}"
    if kind in _BOUNDS:
        words, name = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}, got {got}"
    return f"{error['msg']}, got {got}"


# ---------------------------------------------------------------------------- stages


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


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    # Values are taken literally: ${VAR} is expanded in config.toml, not in .env.
    values = dotenv_values(path, interpolate=False)
    return {k: v for k, v in values.items() if v is not None}


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"Config path is a directory, not a file: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _interpolate(value: Any, loc: Loc, env: Mapping[str, str], problems: _Problems) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        # As in the shell: `:-` also replaces a variable that is set but empty.
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        problems.add(
            loc,
            f"environment variable {name} is not set; set it (in the environment or a .env "
            f"file beside the config) or give a default: ${{{name}:-default}}",
        )
        return match.group(0)

    return _VAR.sub(substitute, value)


def _walk_strings(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, (*loc, i))
    elif isinstance(value, str):
        yield loc, value


def _provider_names(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    if isinstance(data.get("default_provider"), str):
        yield ("default_provider",), data["default_provider"]
    reliability = data.get("reliability")
    fallbacks = reliability.get("fallback_providers") if isinstance(reliability, dict) else None
    for i, name in enumerate(fallbacks if isinstance(fallbacks, list) else []):
        if isinstance(name, str):
            yield ("reliability", "fallback_providers", i), registry.split_profile(name)[0]
    for i, route in enumerate(_routes(data)):
        if isinstance(route.get("provider"), str):
            yield ("model_routes", i, "provider"), route["provider"]


def _routes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    routes = data.get("model_routes")
    if not isinstance(routes, list):
        return []
    return [r if isinstance(r, dict) else {} for r in routes]


def _check_names(data: Mapping[str, Any], problems: _Problems) -> None:
    """What pydantic cannot know: provider names, the api_url, route hints."""
    for loc, name in _provider_names(data):
        if not problems.covers(loc):
            try:
                registry.resolve(name)
            except ConfigError as exc:
                problems.add(loc, exc.message)
    api_url = data.get("api_url")
    if isinstance(api_url, str) and api_url.strip() and not problems.covers(("api_url",)):
        try:
            registry.validate_base_url(api_url, "api_url", "https://your-api.com/v1")
        except ConfigError as exc:
            problems.add(("api_url",), exc.message)
    seen: dict[str, int] = {}
    for i, route in enumerate(_routes(data)):
        hint = route.get("hint")
        if not isinstance(hint, str) or problems.covers(("model_routes", i, "hint")):
            continue
        if not hint.strip():
            problems.add(("model_routes", i, "hint"), "must not be blank")
        elif hint in seen:
            problems.add(
                ("model_routes", i, "hint"),
                f"{hint!r} is already the hint of model_routes[{seen[hint]}]",
            )
        else:
            seen[hint] = i


def _load(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None
) -> tuple[Config | None, list[str], Path | None]:
    real_env = os.environ if environ is None else environ
    if path is not None:
        found: Path | None = Path(path).expanduser().absolute()
        if not found.exists():
            raise ConfigError(f"Config file not found: {found}")
    else:
        found = find_config_path(real_env)
    if found is None:
        env: dict[str, str] = dict(real_env)
        data: dict[str, Any] = {}
    else:
        env = {**_read_dotenv(found.parent / ".env"), **real_env}
        data = _read_toml(found)

    problems = _Problems()
    for name, alias in _ALIASES:
        if alias in data:
            value = data.pop(alias)
            if name in data:
                problems.add((alias,), f"duplicates {name}; keep only one of the two")
            else:
                data[name] = value
    if "path" in data:
        data.pop("path")
        problems.add(("path",), _unknown_key(("path",)))

    overrides = {(field,): var for var, field in ENV_OVERRIDES if env.get(var, "").strip()}
    if ("api_key",) in overrides and "api_key" not in data:
        # K1 puts CONSTRUCT_API_KEY after the provider's own variables; made the
        # config's explicit key it would beat them. It overrides a key the file sets.
        del overrides[("api_key",)]
    for (field,) in overrides:
        data.pop(field, None)
    data = _interpolate(data, (), env, problems)
    for (field,), var in overrides.items():
        data[field] = env[var].strip()

    # Register every key before any message is built, so scrubbing removes it literally.
    for loc, value in _walk_strings(data):
        if _is_secret_loc(loc) and value.strip() and not problems.covers(loc):
            Secret(value)

    config: Config | None = None
    try:
        config = Config.model_validate({**data, "path": found})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        errors = []
    # Built outside the `except`, so no pydantic error (which echoes inputs) is chained.
    for error in errors:
        loc = tuple(error["loc"])
        if not problems.covers(loc):
            problems.add(loc, _describe(error, loc))
    _check_names(data, problems)
    return config, problems.lines(overrides), found


def load_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, interpolate, override and validate a `config.toml` (F1-F4).

    Without `path`, the F4 lookup decides; when it finds nothing, the defaults (with the
    env overrides) are returned. `environ` replaces `os.environ` (which is never modified).
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


# ---------------------------------------------------------------------------- starter file

_STARTER_HEAD = """\
# construct configuration. Every key is optional.
# Any string value may be ${VAR} or ${VAR:-default}. A .env file beside this file is
# read first; variables already in the environment win over it.
# Check this file with `construct config check`.
"""
# (key, value, commented out, comment); comments say what a key changes.
_STARTER_TOP: tuple[tuple[str, Any, bool, str], ...] = (
    (
        "default_provider",
        "openrouter",
        False,
        "Provider used when a call names none: a name from `construct providers list`,\n"
        "or custom:https://host/v1 for any OpenAI-compatible server.",
    ),
    ("default_model", "anthropic/claude-sonnet-4", False, "Model used when a call names none."),
    (
        "api_key",
        "${OPENROUTER_API_KEY}",
        True,
        "Key for default_provider. Without this line the provider's own variable\n"
        "(OPENROUTER_API_KEY here) is read, then CONSTRUCT_API_KEY. Uncommented,\n"
        "loading fails while the variable it names is unset.",
    ),
    (
        "api_url",
        "https://gateway.example.com/v1",
        True,
        "Replaces the base URL of default_provider (a proxy, a gateway, your own server).",
    ),
    (
        "default_temperature",
        0.7,
        True,
        "Sampling temperature, 0 to 2. Unset: none is sent, the model's default applies.",
    ),
    ("provider_timeout_secs", 120, False, "Seconds one attempt may take."),
    ("provider_max_tokens", 4096, True, "Cap on the tokens of each answer."),
)
_STARTER_TABLES = """\
# Headers sent with every request:
# [extra_headers]
# X-Title = "my-app"
"""
_STARTER_RELIABILITY: tuple[tuple[str, bool, str], ...] = (
    ("provider_retries", False, "Retries per provider before moving on to the next one."),
    (
        "provider_backoff_ms",
        False,
        "First wait between retries in ms; it doubles each time, up to 10 s.",
    ),
    ("backoff_jitter", False, "Up to this share of each wait is cut at random (0: none)."),
    (
        "fallback_providers",
        False,
        'Providers tried in order when default_provider fails, e.g. ["groq", "deepseek"].\n'
        "Each reads its own key from its own variable.",
    ),
    (
        "api_keys",
        False,
        "More keys for default_provider, rotated when one is rate limited.",
    ),
    (
        "max_retry_after_s",
        False,
        "A Retry-After longer than this is not waited for: the next key, provider or\n"
        "model is tried at once.",
    ),
    ("circuit_breaker_threshold", False, "Failures in a row that pause a provider..."),
    ("circuit_breaker_cooldown_s", False, "...for this many seconds."),
)
_STARTER_TAIL = """\
# Budget in seconds for a whole call, retries and fallbacks included:
# total_timeout_s = 300

# Models tried in order when a model fails:
# [reliability.model_fallbacks]
# "anthropic/claude-sonnet-4" = ["anthropic/claude-3.5-sonnet", "openai/gpt-4o"]

# Routes: model "hint:reasoning" (or any model starting with the hint) goes to this
# provider and model. Repeat the block for more routes.
# [[model_routes]]
# hint = "reasoning"
# provider = "openrouter"
# model = "anthropic/claude-opus-4"
"""


def _comment(text: str) -> str:
    return "".join(f"# {line}\n" for line in text.splitlines())


def _starter_text() -> str:
    import tomli_w

    def entry(key: str, value: Any, commented: bool, comment: str) -> str:
        line = tomli_w.dumps({key: value})
        return _comment(comment) + (f"# {line}" if commented else line)

    defaults = ReliabilityConfig().model_dump()
    parts = [_STARTER_HEAD]
    parts += [entry(*row) for row in _STARTER_TOP]
    parts.append(_STARTER_TABLES)
    parts.append(
        "[reliability]\n" + "".join(entry(k, defaults[k], c, t) for k, c, t in _STARTER_RELIABILITY)
    )
    parts.append(_STARTER_TAIL)
    return "\n".join(parts)


def write_starter_config(path: str | os.PathLike[str]) -> Path:
    """Write a commented starter `config.toml` at `path` (for `construct config init`).

    Refuses to overwrite: an existing file is a `ConfigError`. Parent directories are made.
    """
    target = Path(path).expanduser()
    text = _starter_text()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{target} already exists; pass a different path or delete it first"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
