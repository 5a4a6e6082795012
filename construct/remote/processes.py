"""providers.json: which provider processes to start, and in which order (reference A4).

The file is Infinity's: a JSON object of provider id -> `{"command": [argv...],
"crate_name"?, "git"?, "path"?}`. Document order is significant (the first model of the
first provider is the default), so it is read and written in order. `package` is
construct's own key: the Python package `construct processes update` reinstalls. Keys
neither Infinity nor construct knows are kept in `ProcessEntry.extra`, so a rewrite by
`construct processes add` never drops what another tool wrote there.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, InvalidArgument

__all__ = [
    "DEFAULT_PROVIDERS_JSON",
    "ProcessEntry",
    "load_providers_json",
    "remove",
    "save_providers_json",
    "upsert",
]

DEFAULT_PROVIDERS_JSON = "~/.infinity/providers.json"

# The optional keys both Infinity (crate_name, git, path) and construct (package) read.
_OPTIONAL = ("crate_name", "git", "path", "package")
_ADD_HINT = "add one with `construct processes add ID -- COMMAND...`"


@dataclass(frozen=True)
class ProcessEntry:
    """One provider process: its id and the argv that starts it."""

    id: str
    command: tuple[str, ...]
    crate_name: str | None = None
    git: str | None = None
    path: str | None = None
    package: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidArgument(f"ProcessEntry id must be a non-empty string, got {self.id!r}")
        if isinstance(self.command, str) or not isinstance(self.command, Sequence):
            raise InvalidArgument(
                f"ProcessEntry {self.id}: command must be a list of strings (the program and "
                f"its arguments), got {type(self.command).__name__}"
            )
        command = tuple(self.command)
        if not command or not all(isinstance(a, str) for a in command) or not command[0]:
            raise InvalidArgument(
                f"ProcessEntry {self.id}: command must be a non-empty list of strings whose "
                f"first item names the program, got {list(command)!r}"
            )
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                raise InvalidArgument(
                    f"ProcessEntry {self.id}: {key} must be a string or None, "
                    f"got {type(value).__name__}"
                )
        clash = set(self.extra) & {"command", *_OPTIONAL}
        if clash:
            raise InvalidArgument(
                f"ProcessEntry {self.id}: extra may not hold {', '.join(sorted(clash))}; "
                "pass them as arguments"
            )
        object.__setattr__(self, "command", command)
        # Read-only, so a frozen entry cannot be changed through its extra keys.
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def to_json(self) -> dict[str, Any]:
        """The entry's object in providers.json: absent optional keys are left out (A4)."""
        data: dict[str, Any] = {"command": list(self.command)}
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        data.update(self.extra)
        return data


class _Object(dict):
    """A JSON object that remembers the keys it saw twice (json.loads keeps only the last)."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.repeated = []
    for key, value in pairs:
        if key in obj:
            obj.repeated.append(key)
        obj[key] = value
    return obj


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


def _entry(where: Path, id: str, value: Any) -> ProcessEntry:
    """One entry of the file, checked the way the daemon checks it (A4), errors naming it."""
    if not id:
        raise ConfigError(f"{where}: a provider id is empty; give every provider a name")
    if not isinstance(value, dict):
        raise ConfigError(
            f'{where}: provider {id!r} must be an object with a "command" list, '
            f"got {_json_type(value)}"
        )
    if value.repeated:
        raise ConfigError(
            f"{where}: provider {id!r} has the key {value.repeated[0]!r} twice; keep one"
        )
    command = value.get("command")
    example = 'e.g. "command": ["my-provider", "--flag"]'
    if command is None:
        raise ConfigError(
            f'{where}: provider {id!r} has no "command"; give the program and its '
            f"arguments as a list, {example}"
        )
    if not isinstance(command, list):
        raise ConfigError(
            f'{where}: provider {id!r}: "command" must be a list of strings, '
            f"got {_json_type(command)}; {example}"
        )
    odd = next((a for a in command if not isinstance(a, str)), "")
    if not isinstance(odd, str):
        raise ConfigError(
            f'{where}: provider {id!r}: "command" must be a list of strings, but it holds '
            f"{_json_type(odd)} ({json.dumps(odd)}); quote every argument, {example}"
        )
    if not command or not command[0]:
        raise ConfigError(
            f'{where}: provider {id!r}: "command" is empty; its first item names the '
            f"program to run, {example}"
        )
    optional: dict[str, str | None] = {}
    for key in _OPTIONAL:
        item = value.get(key)
        if item is not None and not isinstance(item, str):
            raise ConfigError(
                f"{where}: provider {id!r}: {key!r} must be a string, got {_json_type(item)}"
            )
        optional[key] = item
    extra = {k: v for k, v in value.items() if k != "command" and k not in _OPTIONAL}
    return ProcessEntry(id, tuple(command), **optional, extra=extra)


def _expand(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser()


def load_providers_json(
    path: str | os.PathLike[str] = DEFAULT_PROVIDERS_JSON, *, required: bool = True
) -> list[ProcessEntry]:
    """The entries of providers.json, in document order.

    `required`: the daemon's rule (A4), a missing file or one that names no provider is a
    `ConfigError`. With False both are an empty list, which is what an editor of the file
    (`construct processes add`) wants. Anything else wrong is a `ConfigError` naming the file.
    """
    where = _expand(path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return []
        raise ConfigError(
            f"no model providers configured ({where} not found); {_ADD_HINT}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {where}: {reason}; check the file") from None
    try:
        data = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"failed to parse {where}: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
            'fix the JSON (an object of provider id -> {"command": [...]})'
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f'{where}: expected a JSON object of provider id -> {{"command": [...]}}, '
            f"got {_json_type(data)}"
        )
    if data.repeated:
        raise ConfigError(
            f"{where}: provider id {data.repeated[0]!r} appears more than once; ids must be "
            "unique, keep one of them"
        )
    if not data and required:
        raise ConfigError(f"no providers configured in {where}; {_ADD_HINT}")
    return [_entry(where, id, value) for id, value in data.items()]


def save_providers_json(
    entries: Iterable[ProcessEntry], path: str | os.PathLike[str] = DEFAULT_PROVIDERS_JSON
) -> Path:
    """Write `entries` to providers.json in their order, atomically; returns the path written.

    A reader (a daemon starting up) sees the old file or the new one, never half of one:
    the text goes to a temporary file beside it, which then replaces it.
    """
    entries = list(entries)
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, ProcessEntry):
            raise InvalidArgument(f"expected ProcessEntry values, got {type(entry).__name__}")
        if entry.id in seen:
            raise InvalidArgument(
                f"provider id {entry.id!r} is given twice; providers.json holds each id once"
            )
        seen.add(entry.id)
    text = json.dumps({e.id: e.to_json() for e in entries}, indent=2, ensure_ascii=False) + "\n"
    # A symlinked providers.json (dotfiles) stays a link: the file it points to is replaced.
    target = Path(os.path.realpath(_expand(path)))
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, text)
    return _expand(path)


def _write_atomically(target: Path, text: str) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # 0o666 before the umask, as open() would create it; a rewrite keeps the old mode.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def upsert(entries: Iterable[ProcessEntry], entry: ProcessEntry) -> list[ProcessEntry]:
    """`entries` with `entry` in: an existing id keeps its position (A5), a new one goes last."""
    result = list(entries)
    for i, old in enumerate(result):
        if old.id == entry.id:
            result[i] = entry
            return result
    result.append(entry)
    return result


def remove(entries: Iterable[ProcessEntry], id: str) -> list[ProcessEntry]:
    """`entries` without the one named `id`; a `ConfigError` listing the known ids if absent."""
    result = list(entries)
    kept = [e for e in result if e.id != id]
    if len(kept) == len(result):
        known = ", ".join(e.id for e in result) or "none"
        raise ConfigError(f"no provider process named {id!r}; the configured ids are: {known}")
    return kept
