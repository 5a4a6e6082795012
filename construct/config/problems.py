"""Problems of a config: where each is (`Loc`), how a place is written, how they are reported.

Every stage of `load_config` adds to one `Problems`; the caller gets them all at once in a
`ConfigValidationError`, one `key.path: message` line each. A key value never appears in a
line: keys are registered with `Secret` before any line is built, and every line is scrubbed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..secrets import Secret, is_credential_header, scrub_secret_patterns

__all__ = [
    "ConfigValidationError",
    "Loc",
    "Problems",
    "format_loc",
    "is_secret_loc",
    "register_keys",
]

# Where a value sits in the parsed file: ("model_routes", 0, "api_key").
Loc = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# How much of a TOML key and of a problem line a message shows: no value comes back whole.
MAX_KEY_SHOWN = 60
MAX_LINE = 1000


class ConfigValidationError(ConfigError):
    """The config file has problems; `problems` lists each as `key.path: message`."""

    def __init__(self, problems: Sequence[str], path: Path | None = None) -> None:
        self.problems = [scrub_secret_patterns(p) for p in problems]
        self.path = path
        where = str(path) if path else "the configuration (no config file)"
        count = len(self.problems)
        head = f"{where}: {count} problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


def format_loc(loc: Loc) -> str:
    """`reliability.api_keys[1]`, `model_routes[0].api_key`, `a."quoted/key"`.

    A key longer than `MAX_KEY_SHOWN` is cut (`"xxx…"`): a 10 MB key is not repeated."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            if len(part) > MAX_KEY_SHOWN:
                # Scrubbed before the cut, which could leave a key's head no pattern knows.
                part = scrub_secret_patterns(part[: 10 * MAX_KEY_SHOWN])[:MAX_KEY_SHOWN] + "…"
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


def is_secret_loc(loc: Loc) -> bool:
    """The value at `loc` is a key: an api_key, one of api_keys, a credential header."""
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return False
    if names[-1] in ("api_key", "api_keys"):
        return True
    return names[0] == "extra_headers" and len(names) > 1 and is_credential_header(names[1])


class Problems:
    """The problems found so far, each at its `Loc`, in the order found."""

    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []
        # Every loc with a problem, so `covers` looks up each prefix of a loc instead of
        # scanning every problem: a list of 8,000 unknown fallbacks took 41 s to check.
        self._locs: set[Loc] = set()

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))
        self._locs.add(loc)

    def covers(self, loc: Loc) -> bool:
        """A problem was already found at `loc` or around it; one report per spot is enough."""
        return any(loc[:i] in self._locs for i in range(len(loc) + 1))

    def lines(self, sources: Mapping[Loc, str]) -> list[str]:
        """`key.path (from VAR): message` lines; `sources` names the variable a value came from.

        Each line is scrubbed, then cut at `MAX_LINE` characters."""
        out = []
        for loc, message in self.items:
            source = f" (from {sources[loc]})" if loc in sources else ""
            line = scrub_secret_patterns(f"{format_loc(loc)}{source}: {message}")
            out.append(line if len(line) <= MAX_LINE else line[:MAX_LINE] + "...")
        return out


def register_keys(data: Any, problems: Problems) -> None:
    """Hand every key in `data` to `Secret`, so scrubbing removes it literally from any line."""
    for loc, value in _walk_strings(data):
        if is_secret_loc(loc) and value.strip() and not problems.covers(loc):
            Secret(value)


def _walk_strings(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, (*loc, i))
    elif isinstance(value, str):
        yield loc, value
