"""Start processes that each print "ready", then release them together with "go": the
shape of every "two processes refresh at once" test."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence


def race(commands: Sequence[Sequence[str]], env: Mapping[str, str]) -> list[str]:
    """Run `commands` at once (each waits for "go" after printing "ready"); their stdout,
    stripped, in order. Every process is killed on the way out, whatever happened."""
    procs = [
        subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        for argv in commands
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:  # all read the stale state before any can refresh it
            p.stdin.write("go\n")
            p.stdin.flush()
        return [p.communicate(timeout=30)[0].strip() for p in procs]
    finally:
        for p in procs:
            p.kill()
