"""`start_command` and `CommandRun` against real processes: lines, limits, stopping."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from construct.errors import ConfigError, InvalidResponse, TransientError
from construct.transport import subprocess as command
from construct.transport.deadlines import Clock
from construct.transport.subprocess import find_program, start_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

MiB = 1 << 20


def run(code: str, stdin: str = "", *, max_line: int = MiB, max_total: int = 64 * MiB, loop=None):
    return start_command(
        [sys.executable, "-c", code],
        stdin,
        provider="fake",
        display_name="Fake CLI",
        max_line=max_line,
        max_total=max_total,
        loop=loop,
    )


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_lines_written_in_pieces_arrive_whole_and_the_last_needs_no_newline() -> None:
    code = (
        "import sys, time\n"
        "for piece in ['{\"a\": ', '1}\\n{\"b\"', ': 2}\\r\\n', 'tail']:\n"
        "    sys.stdout.write(piece); sys.stdout.flush(); time.sleep(0.02)\n"
    )
    with run(code) as proc:
        assert list(proc.lines(Clock(5))) == ['{"a": 1}', '{"b": 2}', "tail"]
        assert proc.returncode == 0


def test_input_and_output_larger_than_a_pipe_buffer_do_not_deadlock() -> None:
    # The child echoes its input line by line: it writes while construct still writes.
    stdin = ("y" * 1023 + "\n") * 2048  # 2 MiB
    code = "import sys\nfor line in sys.stdin: sys.stdout.write(line)\n"
    with run(code, stdin) as proc:
        lines = list(proc.lines(Clock(10)))
    assert len(lines) == 2048 and lines[0] == "y" * 1023


def test_the_exit_status_and_the_stderr_tail_are_data() -> None:
    code = (
        "import sys\n"
        "for i in range(100): print(f'line {i} ' + 'x' * 40, file=sys.stderr)\n"
        "print('key sk-proj-abcdefghijklmnopqrstuvwxyz012345', file=sys.stderr)\n"
        "sys.exit(7)\n"
    )
    with run(code) as proc:
        assert list(proc.lines(Clock(5))) == []
        assert proc.returncode == 7
    tail = proc.stderr_tail()
    assert len(tail) <= command.TAIL_SHOWN_CHARS
    assert tail.endswith("key [REDACTED]") and "line 99" in tail and "line 0 " not in tail


def test_a_line_over_its_limit_is_refused() -> None:
    with run("print('z' * 5000)", max_line=1000) as proc:
        with pytest.raises(InvalidResponse, match="max_event_mb"):
            list(proc.lines(Clock(5)))


def test_output_over_its_limit_is_refused() -> None:
    with run("for i in range(1000): print('z' * 100)", max_total=10_000) as proc:
        with pytest.raises(InvalidResponse, match="max_response_mb"):
            list(proc.lines(Clock(5)))


def test_a_silent_command_times_out_and_close_stops_its_group() -> None:
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    start = time.monotonic()
    proc = run(code)
    lines = proc.lines(Clock(0.5))
    child = int(next(lines))
    with pytest.raises(TransientError, match=r"provider_timeout_secs \(0.5 s\).*stopped"):
        next(lines)
    assert time.monotonic() - start < 1.5
    proc.close()
    assert proc.stopped and proc.returncode is not None
    assert gone(proc.pid)
    deadline = time.monotonic() + 1
    while not gone(child) and not _zombie(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(child) or _zombie(child)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return False


def test_close_kills_a_command_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "_GRACE_S", 0.1)
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = run(code)
    assert next(proc.lines(Clock(5))) == "ready"
    start = time.monotonic()
    proc.close()
    assert time.monotonic() - start < 1
    assert proc.returncode == -9 and gone(proc.pid)


def test_close_is_idempotent_and_quick_after_a_normal_exit() -> None:
    proc = run("print('done')")
    assert list(proc.lines(Clock(5))) == ["done"]
    proc.close()
    proc.close()
    assert not proc.stopped and proc.returncode == 0


def test_alines_and_a_cancelled_reader() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        proc = run("import time\nfor i in range(3): print(i, flush=True)\n", loop=loop)
        assert [line async for line in proc.alines(Clock(5))] == ["0", "1", "2"]
        await proc.aclose()

        slow = run("import time\nprint('a', flush=True)\ntime.sleep(30)\n", loop=loop)

        async def read() -> None:
            try:
                async for _line in slow.alines(Clock(10)):
                    pass
            finally:
                await slow.aclose()

        task = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert gone(slow.pid)

    asyncio.run(main())


def test_an_async_timeout_names_the_limit() -> None:
    async def main() -> None:
        proc = run("import time; time.sleep(30)", loop=asyncio.get_running_loop())
        try:
            with pytest.raises(TransientError, match="provider_timeout_secs"):
                async for _line in proc.alines(Clock(0.3)):
                    pass
        finally:
            await proc.aclose()
        assert gone(proc.pid)

    asyncio.run(main())


# -- finding the program ------------------------------------------------------------------------


def test_a_missing_program_names_the_variable_and_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        find_program("claude", None, variable="CLAUDE_CODE_PATH", install="see the docs")
    assert str(caught.value) == (
        "The `claude` command was not found on PATH. Install it (see the docs) and sign in "
        "with it once, or set CLAUDE_CODE_PATH to the program's full path."
    )


def test_the_override_wins_and_a_blank_one_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    program = tmp_path / "my-claude"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_program("claude", str(program), variable="V", install="-")
    assert found == str(program)
    (tmp_path / "claude").write_text("#!/bin/sh\n")
    (tmp_path / "claude").chmod(0o755)
    assert find_program("claude", "  ", variable="V", install="-") == str(tmp_path / "claude")
    not_executable = tmp_path / "notes.txt"
    not_executable.write_text("")
    with pytest.raises(ConfigError, match=r"V is set to .*notes\.txt"):
        find_program("claude", str(not_executable), variable="V", install="-")


def test_a_program_that_cannot_run_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("#!/no/such/interpreter\n")
    broken.chmod(0o755)
    with pytest.raises(ConfigError, match="cannot run"):
        start_command(
            [str(broken)], "", provider="x", display_name="X", max_line=MiB, max_total=MiB
        )
