"""Starting a provider process the way Infinity's daemon does (reference A6).

A provider process prints the path of its Unix socket alone on its first stdout line,
then serves on that socket and logs to stderr. `start_process` runs the command with
stdin closed and both outputs piped, forwards every stderr line (and any later stdout
line) to the `construct.process.<id>` logger, and waits a bounded time for that first
line. The process gets a session of its own, so closing it reaches the children it spawned.

Failures, each naming the id, the pid, the exit status and the end of the process's stderr:

- the program is not found or cannot be run: `ConfigError` (fix the command);
- no first line in time, or an exit before it: `TransientError` (the provider is
  unavailable; a slow start or a crash at start-up may pass, and a fresh start costs little);
- a first line that is not a Unix socket: `InvalidResponse` (the provider's answer to
  "where are you" cannot be used).

The process is always stopped before the error is raised.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shlex
import shutil
import signal
import stat
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO

from ..errors import ConfigError, InvalidArgument, InvalidResponse, TransientError
from ..secrets import scrub_secret_patterns
from ..transport.subprocess import fit_tail, kill_unclosed, signal_group

__all__ = ["ProviderProcess", "start_process"]

# Enough stderr to show why a process died; each line cut so one runaway line cannot
# crowd out the rest. The part shown in a message is cut again to fit the error's
# 1000-character limit with the advice around it.
_TAIL_LINES = 20
_TAIL_LINE_CHARS = 500
_TAIL_SHOWN_CHARS = 500
# A socket path is at most 108 bytes (sun_path); a first "line" longer than this is not one.
# Reads are bounded so a process that writes without newlines cannot grow our memory.
_FIRST_LINE_BYTES = 4096
_LOG_LINE_BYTES = 16384
# How long, after the process exited, its pipes may take to reach EOF (a grandchild that
# left the group may hold them open; then the readers are abandoned, daemon threads).
_DRAIN_S = 1.0


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


class _Tail:
    """The last stderr lines; written by the reader thread, read by whoever reports."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=_TAIL_LINES)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line[:_TAIL_LINE_CHARS])

    def lines(self) -> list[str]:
        # Copying a deque another thread appends to can raise "mutated during iteration".
        with self._lock:
            return list(self._lines)


def _pump_stderr(pipe: IO[bytes], log: logging.Logger, tail: _Tail) -> None:
    # Holds no reference to the ProviderProcess, so an unclosed one can still be collected.
    for raw in iter(lambda: pipe.readline(_LOG_LINE_BYTES), b""):
        line = scrub_secret_patterns(_decode(raw))
        tail.append(line)
        log.info("%s", line)


class _FirstLine:
    """The first stdout line, handed from the reader thread to the thread that waits."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.raw: bytes = b""


def _pump_stdout(pipe: IO[bytes], log: logging.Logger, first: _FirstLine) -> None:
    try:
        first.raw = pipe.readline(_FIRST_LINE_BYTES)
    finally:
        first.ready.set()
    for raw in iter(lambda: pipe.readline(_LOG_LINE_BYTES), b""):
        log.info("(stdout) %s", scrub_secret_patterns(_decode(raw)))


def _tail_text(lines: Sequence[str]) -> str:
    """The last stderr lines that fit the message, one per indented line."""
    return "".join(f"\n  {line}" for line in fit_tail(lines, _TAIL_SHOWN_CHARS))


def _killed_by(returncode: int) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown"
    return f"was killed by signal {-returncode} ({name})"


class ProviderProcess:
    """A running provider process and the socket it serves on; made by `start_process`.

    `close()` stops it (and everything it started); it is idempotent and safe from any
    thread. Use it as a context manager, or give it to the object that talks to the socket.
    """

    def __init__(self, id: str, command: Sequence[str], popen: subprocess.Popen[bytes]) -> None:
        self._id = id
        self._command = tuple(command)
        self._popen = popen
        self._socket_path = ""
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = False  # close() found it running: its exit status is ours, not its
        self._log = logging.getLogger(f"construct.process.{id}")
        self._tail = _Tail()
        self._first = _FirstLine()
        assert popen.stdout is not None and popen.stderr is not None
        self._readers = [
            threading.Thread(
                target=_pump_stderr,
                args=(popen.stderr, self._log, self._tail),
                name=f"construct-process-{id}-stderr",
                daemon=True,
            ),
            threading.Thread(
                target=_pump_stdout,
                args=(popen.stdout, self._log, self._first),
                name=f"construct-process-{id}-stdout",
                daemon=True,
            ),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def id(self) -> str:
        return self._id

    @property
    def command(self) -> tuple[str, ...]:
        return self._command

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def socket_path(self) -> str:
        """The path the process printed: where it serves."""
        return self._socket_path

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self._popen.poll()

    @property
    def alive(self) -> bool:
        return self._popen.poll() is None

    def stderr_tail(self) -> list[str]:
        """The last lines the process wrote to stderr (at most 20, each cut to 500 chars)."""
        return self._tail.lines()

    def describe_exit(self) -> str | None:
        """Why the process is gone, for an error message; None while it runs."""
        returncode = self._popen.poll()
        if returncode is None:
            return None
        # Its last stderr lines may still be in the pipe just after it exited.
        self._join_readers(0.5)
        if self._stopped:
            how = "was stopped by close()"
        elif returncode < 0:
            how = _killed_by(returncode)
        else:
            how = f"exited with status {returncode}"
        return f"{how}; {self._stderr_part()}"

    def _stderr_part(self) -> str:
        tail = self._tail.lines()
        if not tail:
            return "it wrote nothing to stderr"
        return f"its stderr ended with:{_tail_text(tail)}"

    def _await_socket(self, timeout_s: float) -> None:
        """Wait for the first stdout line and check it names a socket; stop the process if not."""
        if not self._first.ready.wait(timeout_s):
            self.close(grace_s=0)
            raise TransientError(
                f"provider process {self._id} (pid {self.pid}) did not print a socket path "
                f"within {timeout_s:g} s and was stopped; a provider process prints its socket "
                "path on its first stdout line and flushes (give a longer timeout_s if it "
                f"starts slowly); {self._stderr_part()}",
                provider=self._id,
            )
        raw = self._first.raw
        if not raw:
            self._raise_no_line()
        line = _decode(raw).strip()
        problem = _not_a_socket(line, raw)
        if problem is not None:
            self.close(grace_s=0)
            raise InvalidResponse(
                f"provider process {self._id} (pid {self.pid}) printed {problem} as its "
                "first stdout line and was stopped; a provider process prints only its "
                f"socket path there and logs to stderr; {self._stderr_part()}",
                provider=self._id,
            )
        self._socket_path = line

    def _raise_no_line(self) -> None:
        # stdout is closed: the process is exiting; its status says how.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(_DRAIN_S)
        returncode = self._popen.poll()
        # Also drains stderr: its last lines may still be in the pipe when stdout ends.
        self.close(grace_s=0)
        if returncode is None:
            what = "closed its stdout"
        elif returncode < 0:
            what = _killed_by(returncode)
        else:
            what = f"exited (status {returncode})"
        command = shlex.join(self._command)
        command = command if len(command) <= 120 else command[:120] + "…"
        raise TransientError(
            f"provider process {self._id} (pid {self.pid}) {what} without printing a socket "
            f"path; run `{command}` by hand to see why; {self._stderr_part()}",
            provider=self._id,
        )

    def close(self, grace_s: float = 2.0) -> None:
        """Stop the process and its children: SIGTERM, then SIGKILL after `grace_s` seconds.

        Idempotent, safe from any thread; returns once the process is reaped."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopped = self._popen.poll() is None
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(max(grace_s, 0))
            # Children had as long as the leader to finish; whatever is left is killed.
            self._signal(signal.SIGKILL)
            self._popen.wait()
            self._join_readers(_DRAIN_S)
            # A reader still blocked holds its pipe's lock: closing that pipe would block too.
            pipes = (self._popen.stderr, self._popen.stdout)
            for reader, pipe in zip(self._readers, pipes, strict=True):
                if not reader.is_alive() and pipe is not None:
                    pipe.close()

    def _signal(self, sig: signal.Signals) -> None:
        signal_group(self._popen, sig)

    def _join_readers(self, timeout_s: float) -> None:
        # A logging handler that asks about the process runs on a reader thread.
        for reader in self._readers:
            if reader is not threading.current_thread():
                reader.join(timeout_s)

    def __enter__(self) -> ProviderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            kill_unclosed(self._popen)

    def __repr__(self) -> str:
        state = "running" if self.alive else (self.describe_exit() or "").split(";")[0]
        return f"<ProviderProcess {self._id} pid={self.pid} {state} socket={self._socket_path!r}>"


def _not_a_socket(line: str, raw: bytes) -> str | None:
    """What the first line is, when it is not the path of a Unix socket."""
    shown = repr(line[:200] + ("…" if len(line) > 200 else ""))
    if len(raw) >= _FIRST_LINE_BYTES and not raw.endswith(b"\n"):
        return f"{len(raw)}+ bytes without a newline"
    if not line:
        return "an empty line"
    try:
        mode = os.stat(line).st_mode
    except OSError as exc:
        return f"{shown} ({exc.strerror or 'not found'})"
    if not stat.S_ISSOCK(mode):
        return f"{shown} (not a socket)"
    return None


def _executable(id: str, program: str, env: Mapping[str, str] | None) -> str:
    """Where `program` is: a bare name is looked up on PATH (the child's), a path used as is."""
    if os.sep in program or (os.altsep and os.altsep in program):
        found = program if os.path.isfile(program) else None
    else:
        path = (env if env is not None else os.environ).get("PATH", os.defpath)
        found = shutil.which(program, path=path)
    if found is None:
        where = "on PATH" if os.sep not in program else "at that path"
        raise ConfigError(
            f"provider process {id}: command not found: {program} (looked {where}); install "
            "it, or give its absolute path as the first item of the command"
        )
    return found


def _check(command: object, id: object, timeout_s: object) -> tuple[str, ...]:
    if not isinstance(id, str) or not id:
        raise InvalidArgument(f"id must be a non-empty string naming the provider, got {id!r}")
    if isinstance(command, str | bytes) or not isinstance(command, Sequence):
        raise InvalidArgument(
            f"provider process {id}: command must be a list of strings (the program and its "
            f"arguments), got {type(command).__name__}; e.g. ['my-provider', '--flag']"
        )
    if not command or not all(isinstance(a, str) for a in command) or not command[0]:
        raise InvalidArgument(
            f"provider process {id}: command must be a non-empty list of strings whose "
            f"first item names the program, got {list(command)!r}"
        )
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise InvalidArgument(
            f"provider process {id}: timeout_s must be a positive number of seconds, "
            f"got {timeout_s!r}"
        )
    return tuple(command)


def start_process(
    command: Sequence[str],
    *,
    id: str,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> ProviderProcess:
    """Start a provider process and wait until it prints its socket path (A6).

    `command` is the argv (`command[0]` a bare name looked up on PATH, or a path); `env`
    the process's whole environment (None: this process's). Waits at most `timeout_s`
    seconds for the first stdout line. Raises as the module docstring says; the process
    never outlives a failure.
    """
    argv = _check(command, id, timeout_s)
    executable = _executable(id, argv[0], env)
    try:
        popen = subprocess.Popen(
            argv,
            executable=executable,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise ConfigError(
            f"provider process {id}: cannot run {executable}: {exc.strerror or exc}; check "
            "that it is an executable program"
        ) from None
    process = ProviderProcess(id, argv, popen)
    try:
        process._await_socket(float(timeout_s))
    except BaseException:
        # Ctrl-C while waiting included: the process never outlives a failed start.
        process.close(grace_s=0)
        raise
    return process
