"""What a valid config is: the pydantic models, and each problem said in the file's words.

`validate` turns the interpolated table into a `Config`; every pydantic error becomes one
problem, worded for someone editing TOML (`expected an integer, got 'x' (a
string)`, `unknown key; did you mean 'provider_retries'?`). `check_names` adds what pydantic
cannot know: provider names, the api_url, duplicate route hints. A pydantic
`ValidationError` never leaves this module (its text would echo input values, keys
included), and key values never appear in a message or a `repr` (K4).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .. import registry
from ..errors import ConfigError
from ..options import MAX_TIMEOUT_S, TEMPERATURE_RANGE, header_problem
from ..secrets import is_credential_header, mask
from .problems import ConfigValidationError, Loc, Problems, is_secret_loc

__all__ = [
    "Config",
    "HttpConfig",
    "ModelRoute",
    "ReliabilityConfig",
    "check_names",
    "fold_aliases",
    "validate",
]

# Reference names still accepted for two top-level keys.
_ALIASES = (("default_provider", "model_provider"), ("default_model", "model"))


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
    """A `[[model_routes]]` entry (T1): requests for `hint` go to `provider`, as `model`.

    The schema of `construct.resilience.Route`, which has the same fields and is what the
    router holds (`Route.coerce` turns one into the other).
    """

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
    provider_backoff_ms: Int = Field(500, ge=0, le=MAX_TIMEOUT_S * 1000)
    fallback_providers: list[str] = Field(default_factory=list)
    api_keys: list[str] = Field(default_factory=list)
    model_fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    backoff_jitter: Float = Field(0.25, ge=0, le=1)
    max_retry_after_s: Float = Field(30.0, ge=0, le=MAX_TIMEOUT_S)
    # At most a day (MAX_TIMEOUT_S): 1e10 or inf made a sync call raise OverflowError.
    total_timeout_s: Float | None = Field(None, gt=0, le=MAX_TIMEOUT_S)
    circuit_breaker_threshold: Int = Field(5, ge=1)
    circuit_breaker_cooldown_s: Float = Field(30.0, ge=0, le=MAX_TIMEOUT_S)
    # Agent-side settings of the reference: accepted so its configs load, unused here.
    channel_initial_backoff_secs: Int = Field(2, ge=0)
    channel_max_backoff_secs: Int = Field(60, ge=0)
    scheduler_poll_secs: Int = Field(15, ge=0)
    scheduler_retries: Int = Field(2, ge=0)

    @field_validator("api_keys")
    @classmethod
    def _drop_blank_keys(cls, keys: list[str]) -> list[str]:
        return [k.strip() for k in keys if k.strip()]

    @classmethod
    def coerce(cls, value: ReliabilityConfig | Mapping[str, Any] | None) -> ReliabilityConfig:
        """The defaults for None, `value` itself, or a dict validated as `[reliability]`.

        A dict with problems raises `ConfigValidationError`, one `reliability.path: message`
        line per problem, no input value echoed.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"reliability must be a ReliabilityConfig or a dict, got {type(value).__name__}"
            )
        try:
            return cls.model_validate(dict(value))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        # Raised outside the except: a pydantic error echoes its input, keys included.
        problems = []
        for error in errors:
            loc = ("reliability", *error["loc"])
            path = ".".join(str(part) for part in loc)
            problems.append(f"{path}: {_describe(error, loc)}")
        raise ConfigValidationError(problems)


class ModelConfig(_Model):
    """A `[[models]]` entry: a model `construct serve` offers (docs/processes.md).

    `model_id` is what the daemon sees; `model` is sent upstream (default: `model_id`);
    `extra` is merged into every request's `ChatRequest.extra` (the request's keys win).
    """

    model_id: str = Field(min_length=1)
    model: str | None = None
    display_name: str | None = None
    # The protocol needs a context window: the daemon compacts at 75 % of it.
    context_window: Int = Field(128_000, gt=0)
    max_output_tokens: Int | None = Field(None, gt=0)
    supports_image_input: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)


class ProcessConfig(_Model):
    """A `[processes.NAME]` entry: a provider process, used as provider `process:NAME`."""

    command: list[str] = Field(min_length=1)
    # A Python package `construct processes update` reinstalls.
    package: str | None = None
    # How long the process may take to print its socket path.
    timeout_secs: Float = Field(30.0, gt=0, le=MAX_TIMEOUT_S)
    protocol: Literal["v1", "v2", "v3"] = "v3"

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise PydanticCustomError("command", "the program (command[0]) must not be blank")
        return value


class ProcessesConfig(_Model):
    """`[processes]`: `file` (a providers.json whose entries are all used, in order) and
    the processes written here, by name."""

    file: str | None = None
    entries: dict[str, ProcessConfig] = Field(default_factory=dict)


def _split_processes(value: Any) -> Any:
    # In TOML the names sit beside `file` ([processes.NAME]); the model keeps them apart.
    if not isinstance(value, dict):
        return value
    return {
        "file": value.get("file"),
        "entries": {k: v for k, v in value.items() if k != "file"},
    }


class HttpConfig(_Model):
    """`[http]`: how requests are sent."""

    # "aiohttp" sends async calls through aiohttp (pip install 'construct-llm[aiohttp]');
    # sync calls always use httpx.
    transport: Literal["httpx", "aiohttp"] = "httpx"
    # Once a stream has started: the longest wait for its next event (comments and
    # keep-alives do not count), default provider_timeout_secs; and a cap on its length.
    stream_idle_timeout_secs: Float | None = Field(None, gt=0, le=86400)
    stream_max_secs: Float | None = Field(None, gt=0, le=86400)
    # The most one response body (after decompression) and one stream event may hold.
    max_response_mb: Float = Field(64, gt=0, le=4096)
    max_event_mb: Float = Field(16, gt=0, le=4096)


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
    # "responses": the default provider speaks OpenAI's Responses API.
    api: Literal["chat", "responses"] | None = None
    # claude-code, gemini-cli, kilocli: let the CLI act as an agent (its tools, no prompts).
    cli_agent_mode: bool = False
    # C6: unset means no temperature is sent at all.
    default_temperature: Float | None = Field(
        None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1]
    )
    provider_timeout_secs: Int = Field(120, gt=0, le=MAX_TIMEOUT_S)
    provider_max_tokens: Int | None = Field(None, gt=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    reliability: ReliabilityConfig = Field(default_factory=ReliabilityConfig)
    model_routes: list[ModelRoute] = Field(default_factory=list)
    http: HttpConfig = Field(default_factory=HttpConfig)
    models: list[ModelConfig] = Field(default_factory=list)
    processes: Annotated[ProcessesConfig, BeforeValidator(_split_processes)] = Field(
        default_factory=ProcessesConfig
    )
    # Where the config was read from; set by load_config, never a TOML key.
    path: Path | None = Field(None, exclude=True)
    # Where provider keys are read from (the environment over the .env files); set by
    # load_config. Private: never a TOML key, never in a dump or a repr.
    _key_environ: Mapping[str, str] | None = PrivateAttr(None)

    @property
    def key_environ(self) -> Mapping[str, str] | None:
        """The variables the factory reads keys from (K1); None: `os.environ`."""
        return self._key_environ


# ---------------------------------------------------------------------------- stages


def fold_aliases(data: dict[str, Any], problems: Problems) -> None:
    """The reference's `model_provider` and `model` become their names; `path` is refused."""
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


def validate(data: Mapping[str, Any], path: Path | None, problems: Problems) -> Config | None:
    """`data` as a `Config` read from `path`; None, and each error in `problems`, when invalid."""
    config: Config | None = None
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        errors = []
    # Built outside the `except`, so no pydantic error (which echoes inputs) is chained.
    for error in errors:
        loc = tuple(error["loc"])
        if loc[:2] == ("processes", "entries"):
            loc = ("processes", *loc[2:])  # the file's own path: [processes.NAME]
        if not problems.covers(loc):
            problems.add(loc, _describe(error, loc))
    return config


def check_names(data: Mapping[str, Any], problems: Problems) -> None:
    """What pydantic cannot know: provider names, the api_url, headers httpx cannot send,
    route hints."""
    processes: set[str] | None = None
    for loc, name in _provider_names(data):
        if problems.covers(loc):
            continue
        if name.strip().startswith("process:"):
            if processes is None:
                processes = _process_names(data, problems)
            wanted = name.strip()[len("process:") :]
            if wanted not in processes:
                known = ", ".join(sorted(processes)) or "none"
                problems.add(
                    loc,
                    f"unknown provider process {wanted!r} (known: {known}); define it as "
                    f"[processes.{wanted}] or in the providers.json [processes] file names",
                )
            continue
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
    headers = data.get("extra_headers")
    for name, value in headers.items() if isinstance(headers, dict) else ():
        loc = ("extra_headers", name)
        if isinstance(value, str) and not problems.covers(loc):
            problem = header_problem(name, value)
            if problem is not None:
                problems.add(loc, problem)
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


def _process_names(data: Mapping[str, Any], problems: Problems) -> set[str]:
    """The names `process:NAME` may use: `[processes.NAME]` tables and the file's ids."""
    table = data.get("processes")
    if not isinstance(table, dict):
        return set()
    names = {k for k, v in table.items() if k != "file" and isinstance(v, dict)}
    file = table.get("file")
    if isinstance(file, str) and file.strip() and not problems.covers(("processes", "file")):
        from ..remote.processes import load_providers_json

        try:
            names |= {entry.id for entry in load_providers_json(file)}
        except ConfigError as exc:
            problems.add(("processes", "file"), exc.message)
    return names


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


# ---------------------------------------------------------------------------- problems


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
    # No key is near this long; comparing a 10 MB one would take minutes.
    close = difflib.get_close_matches(str(loc[-1])[:100], names, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; valid keys here: {', '.join(names)}" if names else "unknown key"


def _describe(error: Mapping[str, Any], loc: Loc) -> str:
    """One pydantic error at `loc` in the file's words; a key's value only masked."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required key is missing"
    got = _show(error.get("input"), is_secret_loc(loc))
    ctx = error.get("ctx") or {}
    if kind in _EXPECTED:
        hint = " (write each route as [[model_routes]])" if loc == ("model_routes",) else ""
        return f"expected {_EXPECTED[kind]}, got {got}{hint}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {got}"
    if kind in ("too_short", "string_too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in _BOUNDS:
        words, name = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}, got {got}"
    return f"{error['msg']}, got {got}"
