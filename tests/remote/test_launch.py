"""`start_process` and `ProviderProcess`, against real processes (tests/remote/fake_provider.py)."""

from __future__ import annotations

import gc
import logging
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from construct.errors import ConfigError, InvalidArgument, InvalidResponse, TransientError
from construct.remote.spawn import start_process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets and signals")

FAKE = Path(__file__).with_name("fake_provider.py")


@pytest.fixture
def sockdir() -> Iterator[str]:
    # Not tmp_path: its paths can pass the 108 bytes a socket path may have.
    directory = tempfile.mkdtemp(prefix="cst-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fake(sockdir: str) -> Callable[[str], list[str]]:
    return lambda mode: [sys.executable, str(FAKE), mode, sockdir]


def _gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie waiting for a parent that is not us counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_until(check: Callable[[], bool], within_s: float = 1.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _pid_in(message: str) -> int:
    found = re.search(r"\(pid (\d+)\)", message)
    assert found, message
    return int(found.group(1))


def test_the_first_stdout_line_is_the_socket_it_serves_on(fake):
    with start_process(fake("serve"), id="fake") as process:
        assert process.alive and process.returncode is None
        assert process.id == "fake" and process.pid > 0
        assert stat.S_ISSOCK(os.stat(process.socket_path).st_mode)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(process.socket_path)
            assert conn.makefile("rb").readline() == b'"pong"\n'
        assert process.describe_exit() is None
    assert not process.alive
    assert _gone(process.pid)
    assert process.describe_exit().startswith("was stopped by close(); its stderr ended with:")


def test_stderr_lines_reach_the_process_logger(fake, caplog):
    caplog.set_level(logging.INFO, logger="construct.process.fake")
    with start_process(fake("serve"), id="fake") as process:

        def logged() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "construct.process.fake"]

        assert _wait_until(lambda: any("listening on" in m for m in logged()))
        assert logged()[0] == "fake provider starting (serve)"
        assert {r.levelno for r in caplog.records} == {logging.INFO}
        assert process.stderr_tail()[-1] == f"listening on {process.socket_path}"


def test_later_stdout_lines_are_logged_too(fake, caplog):
    caplog.set_level(logging.INFO, logger="construct.process.fake")
    with start_process(fake("chatty"), id="fake"):
        assert _wait_until(
            lambda: "(stdout) an extra stdout line" in [r.getMessage() for r in caplog.records]
        )


def test_a_process_that_never_prints_is_stopped_after_the_timeout(fake):
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        start_process(fake("silent"), id="quiet", timeout_s=1)
    assert time.monotonic() - started < 2
    message = caught.value.message
    assert message.startswith("provider process quiet (pid ")
    assert "did not print a socket path within 1 s" in message
    assert message.endswith(
        "its stderr ended with:\n"
        "  fake provider starting (silent)\n  warming up\n  still warming up"
    )
    assert caught.value.provider == "quiet"
    assert _gone(_pid_in(message))


def test_a_process_that_exits_first_says_its_status_and_stderr(fake):
    with pytest.raises(TransientError) as caught:
        start_process(fake("exit3"), id="broken")
    message = caught.value.message
    assert "provider process broken (pid " in message
    assert "exited (status 3) without printing a socket path" in message
    assert message.endswith("\n  error: no credentials found")
    assert "fake_provider.py exit3" in message  # the command to run by hand


def test_a_first_line_that_is_no_socket_is_refused(fake, sockdir):
    with pytest.raises(InvalidResponse) as caught:
        start_process(fake("bogus"), id="bogus")
    message = caught.value.message
    assert f"printed '{sockdir}/nothing-here.sock' (No such file or directory)" in message
    assert "a provider process prints only its socket path there" in message
    assert _wait_until(lambda: _gone(_pid_in(message)))


def test_a_first_line_that_is_a_plain_file_is_refused(sockdir, tmp_path):
    plain = Path(sockdir) / "plain"
    plain.write_text("")
    script = f"import time; print({str(plain)!r}, flush=True); time.sleep(60)"
    with pytest.raises(InvalidResponse, match=r"plain' \(not a socket\)"):
        start_process([sys.executable, "-c", script], id="plain")


def test_close_kills_a_process_that_ignores_sigterm(fake):
    process = start_process(fake("stubborn"), id="stubborn")
    started = time.monotonic()
    process.close(grace_s=0.3)
    assert 0.3 <= time.monotonic() - started < 1.5
    assert process.returncode == -signal.SIGKILL


def test_close_stops_the_children_too(fake, sockdir):
    process = start_process(fake("parent"), id="parent")
    child = int(Path(sockdir, "child.pid").read_text())
    assert not _gone(child)
    process.close()
    assert _wait_until(lambda: _gone(child)), f"child {child} survived close()"


def test_close_is_idempotent_and_safe_from_threads(fake):
    process = start_process(fake("serve"), id="fake")
    errors: list[BaseException] = []

    def close() -> None:
        try:
            process.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    process.close()
    assert errors == []
    assert process.returncode == -signal.SIGTERM


def test_describe_exit_says_how_a_process_ended_on_its_own(fake):
    with start_process(fake("brief"), id="brief") as process:
        assert _wait_until(lambda: not process.alive)
        assert process.describe_exit() == (
            "exited with status 5; its stderr ended with:\n"
            "  fake provider starting (brief)\n  going away"
        )
        # Closing a process that had already ended does not hide why it ended.
        process.close()
        assert process.describe_exit().startswith("exited with status 5")


def test_describe_exit_names_the_signal(fake):
    with start_process(fake("serve"), id="fake") as process:
        os.kill(process.pid, signal.SIGKILL)
        assert _wait_until(lambda: not process.alive)
        assert process.describe_exit().startswith("was killed by signal 9 (SIGKILL); its stderr")


def test_an_unclosed_process_is_killed_when_collected(fake):
    process = start_process(fake("serve"), id="fake")
    pid = process.pid
    del process
    gc.collect()
    assert _wait_until(lambda: _gone(pid))


def test_a_missing_program_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^provider process x: command not found: no-such-prog-"):
        start_process(["no-such-prog-4242", "--flag"], id="x")
    with pytest.raises(ConfigError, match=r"command not found: /nonexistent/prog \(looked at"):
        start_process(["/nonexistent/prog"], id="x")


def test_a_bare_name_is_looked_up_on_the_path_of_the_env(tmp_path, sockdir):
    program = tmp_path / "my-provider"
    program.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    program.chmod(0o755)
    env = {**os.environ, "PATH": str(tmp_path)}
    with start_process(["my-provider", "serve", sockdir], id="onpath", env=env) as process:
        assert stat.S_ISSOCK(os.stat(process.socket_path).st_mode)


def test_a_file_that_cannot_run_is_a_config_error(tmp_path):
    program = tmp_path / "not-executable"
    program.write_text("")
    with pytest.raises(ConfigError, match=r"cannot run .*not-executable: Permission denied"):
        start_process([str(program)], id="x")


@pytest.mark.parametrize(
    ("command", "kwargs", "says"),
    [
        ([], {}, "non-empty list"),
        ("my-provider --flag", {}, "must be a list of strings"),
        ([""], {}, "non-empty list"),
        (["ok", 3], {}, "non-empty list"),
        (["ok"], {"timeout_s": 0}, "timeout_s must be a positive number"),
        (["ok"], {"timeout_s": -1}, "timeout_s must be a positive number"),
        (["ok"], {"timeout_s": float("nan")}, "timeout_s must be a positive number"),
        (["ok"], {"timeout_s": True}, "timeout_s must be a positive number"),
        (["ok"], {"id": ""}, "id must be a non-empty string"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(command, kwargs, says):
    kwargs = {"id": "x", **kwargs}
    with pytest.raises(InvalidArgument, match=says):
        start_process(command, **kwargs)


def test_a_key_on_stderr_reaches_neither_the_log_nor_the_error(caplog):
    key = "sk-proj-" + "a1b2c3d4" * 6
    caplog.set_level(logging.INFO, logger="construct.process.leaky")
    script = f"import sys; print('using key {key}', file=sys.stderr); sys.exit(2)"
    with pytest.raises(TransientError) as caught:
        start_process([sys.executable, "-c", script], id="leaky")
    assert "exited (status 2)" in caught.value.message
    assert "using key [REDACTED]" in caught.value.message
    logged = [r.getMessage() for r in caplog.records if r.name == "construct.process.leaky"]
    assert logged == ["using key [REDACTED]"]
    assert key not in caught.value.message
