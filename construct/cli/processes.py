"""`construct processes list|add|remove|update`: edit providers.json (reference A4, A5).

The file is the one Infinity's daemon reads, so an entry added here is started by it
(and by construct) in file order. Nothing here starts a process: `update` runs pip.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError
from ..remote.processes import (
    DEFAULT_PROVIDERS_JSON,
    ProcessEntry,
    load_providers_json,
    remove,
    save_providers_json,
    upsert,
)
from .common import UsageError, warn

__all__ = ["ADD_USAGE", "run_add", "run_list", "run_remove", "run_update"]

EXIT_FAILED = 1
ADD_USAGE = "construct processes add ID [--package PKG] -- COMMAND [ARGS...]"


def providers_file(args: argparse.Namespace) -> Path:
    """--file, else CONSTRUCT_PROCESSES_FILE, else Infinity's ~/.infinity/providers.json."""
    named = getattr(args, "file", None) or os.environ.get("CONSTRUCT_PROCESSES_FILE", "").strip()
    return Path(named or DEFAULT_PROVIDERS_JSON).expanduser()


def _source(entry: ProcessEntry) -> str:
    if entry.package:
        return f"package {entry.package}"
    if entry.crate_name:
        where = f", git {entry.git}" if entry.git else f", path {entry.path}" if entry.path else ""
        return f"crate {entry.crate_name}{where}"
    return ""


def run_list(args: argparse.Namespace) -> int:
    path = providers_file(args)
    entries = load_providers_json(path, required=False)
    if args.json:
        rows = [{"id": e.id, **e.to_json()} for e in entries]
        print(json.dumps({"file": str(path), "processes": rows}, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        where = f"{path} not found" if not path.exists() else f"none in {path}"
        print(f"no provider processes configured ({where})")
        print(f"add one with: {ADD_USAGE}")
        return 0
    width = max(len(e.id) for e in entries)
    print(f"Provider processes in {path}, in start order:")
    for entry in entries:
        source = _source(entry)
        line = f"  {entry.id.ljust(width)}  {shlex.join(entry.command)}"
        print(f"{line}  ({source})" if source else line)
    return 0


def _add_arguments(words: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """ID and options before `--`, the command after it.

    argparse alone cannot read this: a REMAINDER after ID also swallows the options
    written between ID and `--`, and `nargs="*"` drops a `--` that belongs to the command.
    """
    usage = ADD_USAGE.replace(" -- ", " [--file PATH] -- ")
    parser = argparse.ArgumentParser(prog="construct processes add", usage=usage)
    parser.add_argument("id", metavar="ID")
    parser.add_argument("--package", metavar="PKG", help="the pip package that provides COMMAND")
    parser.add_argument("--file", metavar="PATH", help="providers.json to write")
    if "--" not in words:
        if "-h" in words or "--help" in words:
            parser.parse_args(["--help"])
        raise UsageError(f"put -- before the command: {ADD_USAGE}")
    cut = words.index("--")
    return parser.parse_args(words[:cut]), words[cut + 1 :]


def _program(command: list[str]) -> list[str]:
    """The command as stored: a relative program path made absolute, since the daemon
    that starts it runs in another directory."""
    program = command[0]
    if os.sep in program and not os.path.isabs(program):
        return [os.path.abspath(program), *command[1:]]
    return command


def run_add(args: argparse.Namespace) -> int:
    own, command = _add_arguments(args.words)
    if own.file:
        args.file = own.file
    package = own.package or args.package
    if not own.id.strip():
        raise UsageError(f"the ID is empty; give the provider a name: {ADD_USAGE}")
    if not command or not command[0]:
        raise UsageError(f"no command after --: {ADD_USAGE}")
    if package is not None and (not package.strip() or package.startswith("-")):
        raise UsageError(f"--package takes a package name for pip, got {package!r}")
    command = _program(command)
    if os.sep in command[0]:
        if not os.access(command[0], os.X_OK) or not os.path.isfile(command[0]):
            warn(f"{command[0]} is not an executable file (yet); the command will fail until it is")
    elif shutil.which(command[0]) is None:
        warn(
            f"{command[0]} is not on PATH; install it before the provider process is "
            "started (it is looked up on PATH then)"
        )
    path = providers_file(args)
    entries = load_providers_json(path, required=False)
    old = next((e for e in entries if e.id == own.id), None)
    # Keys another tool wrote beside ours (ProcessEntry.extra) outlive a replacement.
    entry = ProcessEntry(
        own.id, tuple(command), package=package, extra=old.extra if old is not None else {}
    )
    save_providers_json(upsert(entries, entry), path)
    if old is None:
        print(f"Added {own.id} to {path}")
    else:
        print(f"Replaced {own.id} in {path} (position kept)")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    path = providers_file(args)
    if not path.exists():
        raise ConfigError(f"no provider processes configured ({path} not found); nothing to remove")
    entries = load_providers_json(path, required=False)
    try:
        kept = remove(entries, args.id)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    save_providers_json(kept, path)
    left = "" if kept else " (no provider processes left)"
    print(f"Removed {args.id} from {path}{left}")
    return 0


def _pip() -> list[str]:
    """The installer: CONSTRUCT_PIP (e.g. `uv pip`), else the pip of this Python."""
    named = os.environ.get("CONSTRUCT_PIP", "").strip()
    return shlex.split(named) if named else [sys.executable, "-m", "pip"]


def _update_one(entry: ProcessEntry) -> bool:
    assert entry.package is not None
    argv = [*_pip(), "install", "--upgrade", entry.package]
    print(f"{entry.id}: {shlex.join(argv)}", flush=True)
    try:
        # The installer's own output goes straight to the terminal.
        status = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    except OSError as exc:
        print(f"{entry.id}: failed (cannot run {argv[0]}: {exc.strerror or exc})", flush=True)
        return False
    if status != 0:
        print(f"{entry.id}: failed ({argv[0]} exited with status {status})", flush=True)
        return False
    print(f"{entry.id}: ok", flush=True)
    return True


def run_update(args: argparse.Namespace) -> int:
    path = providers_file(args)
    entries = load_providers_json(path)
    if args.ids:
        known = {e.id for e in entries}
        unknown = [i for i in args.ids if i not in known]
        if unknown:
            raise ConfigError(
                f"{path}: no provider process named {', '.join(map(repr, unknown))}; the "
                f"configured ids are: {', '.join(e.id for e in entries)}"
            )
        entries = [e for e in entries if e.id in args.ids]
    failed: list[str] = []
    updated = 0
    tried = sum(1 for e in entries if e.package is not None)
    for entry in entries:
        if entry.package is None:
            why = (
                "a crate: `infinity provider update` reinstalls it"
                if entry.crate_name
                else "no package recorded"
            )
            print(f"{entry.id}: skipped ({why})", flush=True)
        elif _update_one(entry):
            updated += 1
        else:
            failed.append(entry.id)
    if failed:
        print(
            f"construct: error: {len(failed)} of {tried} updates failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if updated:
        print("Restart whatever runs these provider processes to use the new versions.")
    return 0
