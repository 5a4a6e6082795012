"""What the commands share: the usage error, warnings, one-line messages, dimmed text."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from ..secrets import scrub_secret_patterns

DEFAULT_PROVIDER = "openrouter"


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit 2)."""


def one_line(text: str) -> str:
    """A multi-line message (a list of config problems, an attempt list) as one line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) <= 1:
        return scrub_secret_patterns(lines[0] if lines else "")
    return scrub_secret_patterns(f"{lines[0]} {'; '.join(lines[1:])}")


def warn(message: str) -> None:
    print(f"construct: warning: {one_line(message)}", file=sys.stderr)


def dim(text: str, stream: TextIO) -> str:
    """Faint text on a terminal that allows colour (NO_COLOR: https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return text
    return f"\x1b[2m{text}\x1b[0m" if stream.isatty() else text


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def dotenv_source(environ: Mapping[str, str] | None, var: str) -> str:
    """` in /path/.env` when `var`'s value comes from a `.env` file, else nothing."""
    from ..config import KeyEnvironment

    if isinstance(environ, KeyEnvironment):
        path = environ.source(var)
        if path is not None:
            return f" in {path}"
    return ""
