"""A local command as a transport: argv in, the prompt on stdin, stdout back line by line.

The command-line providers (claude-code, gemini-cli, kilocli) run a program per call.
`start_command` starts it with no shell (argv is a list) in a session of its own, so
stopping it reaches every process it started; a thread writes the prompt to stdin and
closes it, two more read stdout (line by line, each line and the whole bounded) and
stderr (its last lines kept for error messages). Reading and writing at once is what
keeps a prompt or an answer larger than a pipe buffer (64 KiB) from deadlocking.

`CommandRun.lines(clock)` and `alines(clock)` give the stdout lines, sync and async,
until the command has exited; the `Clock` (transport/deadlines.py) bounds every wait,
as it bounds an HTTP exchange. `close()` / `aclose()` stop the process group (SIGTERM,
then SIGKILL after a grace) and reap it; the owner calls one whatever happened (an
error, a consumer that stopped reading a stream, a cancelled task).

Failures raised here: the program missing (`ConfigError`, from `find_program`) or not
runnable (`ConfigError`); a limit of the clock ran out (`TransientError` naming it); a
line or the whole output over its limit (`InvalidResponse`). How the command exited is
data (`returncode`, `stderr_tail()`): what a status means is the caller's to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import IO, Any

from ..errors import ConfigError, TransientError
from ..secrets import scrub_secret_patterns
from .body import TooLarge
from .deadlines import Clock
from .errors import too_large

__all__ = [
    "CommandRun",
    "find_program",
    "fit_tail",
    "kill_unclosed",
    "signal_group",
    "start_command",
]

log = logging.getLogger("construct")

# Enough stderr to say why a command failed, each line cut so one runaway line cannot
# crowd out the rest; the part a message shows is cut again (PROVIDERS.md: 512 chars).
_TAIL_LINES = 20
_TAIL_LINE_CHARS = 512
TAIL_SHOWN_CHARS = 512
_STDERR_LINE_BYTES = 16384
# A CLI given SIGTERM saves its session and exits within a few hundred ms; one that
# does not within this is killed.
_GRACE_S = 1.0
# After the process exited, how long its stderr may take to reach EOF (a grandchild
# that left the group may hold it open: then the reader is abandoned, a daemon thread).
_DRAIN_S = 0.5
_EOF = object()


def find_program(program: str, override: str | None, *, variable: str, install: str) -> str:
    """Where `program` is: `override` (the value of `variable`, e.g. CLAUDE_CODE_PATH) when
    it is set and not blank, else `program` looked up on PATH."""
    if override is not None and override.strip():
        path = os.path.expanduser(override.strip())
        found = shutil.which(path)
        if found is None:
            raise ConfigError(
                f"{variable} is set to {path!r}, which is not an executable program. Point "
                f"it at the `{program}` program, or unset it to use the `{program}` on PATH."
            )
        return found
    found = shutil.which(program)
    if found is None:
        raise ConfigError(
            f"The `{program}` command was not found on PATH. Install it ({install}) and "
            f"sign in with it once, or set {variable} to the program's full path."
        )
    return found


class _Tail:
    """The last stderr lines; written by the reader thread, read by whoever reports."""

    __slots__ = ("_lines", "_lock")

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=_TAIL_LINES)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line[:_TAIL_LINE_CHARS])

    def text(self) -> str:
        """The last lines, newest last, that fit TAIL_SHOWN_CHARS, joined by ' | '."""
        with self._lock:
            lines = [line for line in self._lines if line.strip()]
        return " | ".join(fit_tail(lines, TAIL_SHOWN_CHARS))


def _feed(pipe: IO[bytes], data: bytes) -> None:
    # The command may exit (or be stopped) before reading it all: a broken pipe is fine.
    try:
        pipe.write(data)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError, ValueError):
            pipe.close()


def _pump_stderr(pipe: IO[bytes], tail: _Tail, program: str) -> None:
    try:
        for raw in iter(lambda: pipe.readline(_STDERR_LINE_BYTES), b""):
            line = scrub_secret_patterns(raw.decode("utf-8", "replace").rstrip("\r\n"))
            tail.append(line)
            log.debug("%s (stderr): %s", program, line)
    except (OSError, ValueError):
        pass  # the pipe was closed under us


def _pump_stdout(pipe: IO[bytes], put: Any, max_line: int, max_total: int) -> None:
    """Every stdout line to `put` (bytes, newline included), then `_EOF`; a line or an
    output over its limit is put as the `TooLarge` it is, and reading stops."""
    total = 0
    try:
        while raw := pipe.readline(max_line + 1):
            total += len(raw)
            if total > max_total:
                put(TooLarge("body", max_total))
                return
            if len(raw) > max_line and not raw.endswith(b"\n"):
                put(TooLarge("event", max_line))
                return
            put(raw)
    except (OSError, ValueError):
        pass  # the pipe was closed under us: the run is being stopped
    finally:
        put(_EOF)


class CommandRun:
    """One running command; made by `start_command`. Not thread-safe: one owner reads it."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        program: str,
        *,
        provider: str,
        display_name: str,
        stdin: bytes,
        max_line: int,
        max_total: int,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._popen = popen
        self.program = program
        # The Peer transport/errors.py names in its messages.
        self.provider = provider
        self.display_name = display_name
        self.key_env: tuple[str, ...] = ()
        self.connect_hint: str | None = None
        self._closed = False
        self._stopped = False  # close() found it running: its exit status is ours
        self._tail = _Tail()
        self._inbox: queue.SimpleQueue[Any] | asyncio.Queue[Any]
        if loop is None:
            self._inbox = queue.SimpleQueue()
            put = self._inbox.put
        else:
            self._inbox = inbox = asyncio.Queue()

            def put(item: Any) -> None:
                # The loop may be gone (the consumer abandoned the run): nobody is reading.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(inbox.put_nowait, item)

        assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
        self._threads = [
            threading.Thread(
                target=_feed, args=(popen.stdin, stdin), name=f"{program}-stdin", daemon=True
            ),
            threading.Thread(
                target=_pump_stdout,
                args=(popen.stdout, put, max_line, max_total),
                name=f"{program}-stdout",
                daemon=True,
            ),
            threading.Thread(
                target=_pump_stderr,
                args=(popen.stderr, self._tail, program),
                name=f"{program}-stderr",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the command has ended (negative: killed by that signal)."""
        return self._popen.poll()

    @property
    def stopped(self) -> bool:
        """True when close() stopped the command, rather than it exiting by itself."""
        return self._stopped

    def stderr_tail(self) -> str:
        """The end of what the command wrote to stderr (at most 512 characters), scrubbed."""
        return self._tail.text()

    # -- reading -----------------------------------------------------------------------

    def lines(self, clock: Clock) -> Iterator[str]:
        """The stdout lines (without their line ending) until EOF, then the wait for the
        exit; every wait is cut to what `clock` has left."""
        assert isinstance(self._inbox, queue.SimpleQueue)
        while True:
            try:
                item = self._inbox.get(timeout=max(clock.left(), 0))
            except queue.Empty:
                raise self._timed_out(clock) from None
            if item is _EOF:
                break
            yield self._line(item)
        for wait in self._exiting(clock):
            time.sleep(wait)

    async def alines(self, clock: Clock) -> AsyncIterator[str]:
        assert isinstance(self._inbox, asyncio.Queue)
        while True:
            try:
                item = await asyncio.wait_for(self._inbox.get(), max(clock.left(), 0))
            except TimeoutError:
                raise self._timed_out(clock) from None
            if item is _EOF:
                break
            yield self._line(item)
        for wait in self._exiting(clock):
            await asyncio.sleep(wait)

    def _line(self, item: Any) -> str:
        if isinstance(item, TooLarge):
            raise too_large(self, item)
        return item.decode("utf-8", "replace").rstrip("\r\n")

    def _exiting(self, clock: Clock) -> Iterator[float]:
        """The waits (seconds) until the command has exited after closing its stdout."""
        pause = 0.001
        while self._popen.poll() is None:
            if clock.left() <= 0:
                raise self._timed_out(clock)
            yield min(pause, max(clock.left(), 0))
            pause = min(pause * 2, 0.05)

    def _timed_out(self, clock: Clock) -> TransientError:
        tail = self.stderr_tail()
        return TransientError(
            f"{self.display_name}: {clock.why}; construct stopped `{self.program}` (pid "
            f"{self.pid}). Retry, or raise that setting if the command is only slow."
            + (f" stderr: {tail}" if tail else ""),
            provider=self.provider,
        )

    # -- stopping ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the command and everything it started, and reap it. Idempotent."""
        for wait in self._stopping():
            time.sleep(wait)

    async def aclose(self) -> None:
        try:
            for wait in self._stopping():
                await asyncio.sleep(wait)
        except BaseException:
            # Cancelled again while waiting out the grace: no process outlives its call.
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the group at once and reap the command (it cannot refuse to die)."""
        self._closed = True
        self._signal(signal.SIGKILL)
        self._popen.wait()

    def _stopping(self) -> Iterator[float]:
        """SIGTERM, the waits (seconds) of the grace, SIGKILL, the reap; then the waits
        for the stderr reader to drain, so the tail is whole when a message quotes it."""
        if self._closed:
            return
        self._closed = True
        if self._popen.poll() is None:
            self._stopped = True
            self._signal(signal.SIGTERM)
            end = time.monotonic() + _GRACE_S
            while self._popen.poll() is None and time.monotonic() < end:
                yield 0.01
        # Always: a child may outlive the leader (the group's id is the leader's pid).
        self._signal(signal.SIGKILL)
        self._popen.wait()
        end = time.monotonic() + _DRAIN_S
        while self._threads[2].is_alive() and time.monotonic() < end:
            yield 0.01
        for pipe in (self._popen.stdout, self._popen.stderr):
            # A reader still blocked holds its pipe's lock: closing it would block too.
            if pipe is not None and not any(t.is_alive() for t in self._threads[1:]):
                with contextlib.suppress(OSError):
                    pipe.close()

    def _signal(self, sig: signal.Signals) -> None:
        signal_group(self._popen, sig)

    def __enter__(self) -> CommandRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            kill_unclosed(self._popen)

    def __repr__(self) -> str:
        return f"<CommandRun {self.program} pid={self.pid} returncode={self.returncode}>"


def fit_tail(lines: Sequence[str], limit: int) -> list[str]:
    """The last of `lines` (oldest first) that fit `limit` characters with a short joiner
    between them; a last line longer than the limit is cut from its start, so the newest
    words (usually the error) stay."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) > limit:
            if not kept:
                kept.append("…" + line[-(limit - 1) :])
            break
        kept.append(line)
        size += len(line) + 3
    return kept[::-1]


def signal_group(popen: subprocess.Popen[Any], sig: signal.Signals) -> None:
    """`sig` to the process group `popen` leads (start_new_session) and to the leader.

    The group outlives its leader while a child runs, so it is signalled even after the
    leader exited; the leader on its own too, in case it moved itself to another group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)
    with contextlib.suppress(ProcessLookupError, OSError):
        popen.send_signal(sig)


def kill_unclosed(popen: subprocess.Popen[Any]) -> None:
    """For `__del__` of an owner never closed (one that crashed): SIGKILL the group at
    once rather than wait a grace in the garbage collector, and reap it briefly so Popen
    does not warn about a child still running. Never raises."""
    try:
        if popen.poll() is None:
            signal_group(popen, signal.SIGKILL)
            popen.wait(0.1)
    except Exception:
        pass


def start_command(
    argv: Sequence[str],
    stdin: str,
    *,
    provider: str,
    display_name: str,
    max_line: int,
    max_total: int,
    loop: asyncio.AbstractEventLoop | None = None,
) -> CommandRun:
    """Start `argv` (argv[0] a path `find_program` gave) with `stdin` as its input.

    `max_line`: the longest stdout line in bytes; `max_total`: all of stdout. `loop`: the
    running event loop when the lines are read with `alines` (None: `lines`)."""
    program = os.path.basename(argv[0])
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ConfigError(
            f"{display_name}: cannot run {argv[0]}: {exc.strerror or exc}. Check that it is "
            "the program itself and that it is executable."
        ) from None
    return CommandRun(
        popen,
        program,
        provider=provider,
        display_name=display_name,
        stdin=stdin.encode("utf-8"),
        max_line=max_line,
        max_total=max_total,
        loop=loop,
    )
