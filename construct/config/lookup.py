"""Where the config comes from: the file (PROVIDERS.md F4), the `.env` files, its TOML.

The file is an explicit path, else the one `CONSTRUCT_CONFIG` names, else `./config.toml`,
else `~/.construct/config.toml`; with none of them there is no file and the defaults apply.

Two `.env` files are read, never into `os.environ`: the one beside the config feeds
`${VAR}` and the overrides; it and the one in the working directory also supply keys
(`KeyEnvironment`), below the real environment.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "KeyEnvironment",
    "dotenv_files",
    "find_config_path",
    "locate",
    "read_sources",
]

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


def dotenv_files(path: Path | None) -> list[tuple[Path, dict[str, str]]]:
    """(file, its variables) of the `.env` beside the config, then of the one in the
    working directory; a missing file is left out, one file is read once.

    Raises `ConfigError` for a `.env` that cannot be read or parsed.
    """
    candidates = [path.parent / ".env"] if path is not None else []
    # A working directory that was removed has no .env in it.
    with contextlib.suppress(OSError):
        candidates.append(Path.cwd() / ".env")
    out: list[tuple[Path, dict[str, str]]] = []
    seen: set[Path] = set()
    for candidate in candidates:
        try:
            real = candidate.resolve()
        except OSError:
            real = candidate
        if real in seen or not candidate.is_file():
            continue
        seen.add(real)
        out.append((candidate, _read_dotenv(candidate)))
    return out


def read_sources(
    path: Path | None,
    environ: Mapping[str, str],
    files: Sequence[tuple[Path, Mapping[str, str]]] = (),
) -> tuple[dict[str, str], dict[str, Any]]:
    """(the variables `${VAR}` reads, the parsed file) for the config at `path`.

    The variables are `environ` over the `.env` beside the file (taken from `files`, else
    read): the real environment wins. The working directory's `.env` is not among them, so
    which file a `${VAR}` reads does not depend on where a program is started.
    Without a file they are `environ` alone and the table is empty.
    """
    if path is None:
        return dict(environ), {}
    beside = path.parent / ".env"
    found = next((values for file, values in files if file == beside), None)
    if found is None:
        found = _read_dotenv(beside) if beside.is_file() else {}
    return {**found, **environ}, _read_toml(path)


class KeyEnvironment(Mapping[str, str]):
    """The variables a provider key is read from: `real` over each `.env` file in turn.

    A lookup goes through the layers at the moment it is made (a key set in `os.environ`
    after loading the config is seen) and skips blank values, as K1 does: a blank
    variable is not a key. `source(name)` says which file a value came from.
    `repr` names the files, never a value.
    """

    __slots__ = ("_files", "_real")

    def __init__(
        self, real: Mapping[str, str], files: Sequence[tuple[Path, Mapping[str, str]]]
    ) -> None:
        self._real = real
        self._files = tuple((path, dict(values)) for path, values in files)

    def _layers(self) -> Iterator[tuple[Path | None, Mapping[str, str]]]:
        yield None, self._real
        yield from self._files

    def _find(self, name: str) -> tuple[Path | None, str] | None:
        for path, layer in self._layers():
            value = layer.get(name)
            if value is not None and value.strip():
                return path, value
        return None

    def __getitem__(self, name: str) -> str:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return found[1]

    def __iter__(self) -> Iterator[str]:
        return iter({name: None for _, layer in self._layers() for name in layer if name in self})

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def source(self, name: str) -> Path | None:
        """The `.env` file `name`'s value comes from; None when from the real environment
        or unset."""
        found = self._find(name)
        return found[0] if found else None

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(path for path, _ in self._files)

    def __repr__(self) -> str:
        shown = ", ".join(["the environment", *(str(p) for p in self.files)])
        return f"KeyEnvironment({shown})"

    def __deepcopy__(self, memo: dict[int, Any]) -> KeyEnvironment:
        # A view of the environment, not a copy of it: copying a Config keeps the view.
        return self


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8") as stream:
            for binding in parse_stream(stream):
                if binding.error:
                    # The line is not shown: it may hold a key.
                    raise ConfigError(
                        f"{path}: line {binding.original.line} is not a NAME=value line; "
                        "fix or remove it (a value with spaces or '#' needs quotes)"
                    )
                # Values are taken literally: ${VAR} is expanded in config.toml, not in .env.
                if binding.key is not None and binding.value is not None:
                    values[binding.key] = binding.value
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return values


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
