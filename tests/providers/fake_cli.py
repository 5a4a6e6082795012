"""A stand-in for `claude`, `gemini` and `kilo`, run by the tests as those programs.

The tests write small executables named after the real programs (`fake_cli_programs`)
that run this file; `sys.argv[0]` says which tool it plays. It prints output in the
shapes the real tools print (recorded from their current sources: Claude Code's
stream-json, Gemini CLI's stream-json, `kilo run --format json`), in the mode
FAKE_CLI_MODE names, and records what it got (argv, stdin, its pid and its child's)
as one JSON file in FAKE_CLI_LOG.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

# runpy gives sys.argv[0] this file's path: the wrapper passes the name it was run as.
TOOL = globals().get("PROGRAM") or os.path.basename(sys.argv[0])
MODE = os.environ.get("FAKE_CLI_MODE", "ok")
# Lines are still written in halves in "big" mode, without the pause between them.
HALF_LINE_PAUSE = 0.0 if MODE == "big" else 0.005


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def emit(obj: dict, split: bool = True) -> None:
    """One JSON line, flushed in two halves with a pause between: a reader sees partial
    lines, as it does from a real process writing through a pipe."""
    line = json.dumps(obj) + "\n"
    if split and len(line) > 8:
        half = len(line) // 2
        write(line[:half])
        time.sleep(HALF_LINE_PAUSE)
        write(line[half:])
    else:
        write(line)


def claude(pieces: list[str], pause: float = 0.0) -> None:
    session = str(uuid.uuid4())
    emit(
        {
            "type": "system",
            "subtype": "init",
            "model": "claude-sonnet-4-5",
            "session_id": session,
            "tools": [],
            "mcp_servers": [],
        }
    )
    emit(
        {
            "type": "stream_event",
            "session_id": session,
            "uuid": "u0",
            "event": {"type": "message_start", "message": {"model": "claude-sonnet-4-5"}},
        }
    )
    for piece in pieces:
        emit(
            {
                "type": "stream_event",
                "session_id": session,
                "uuid": "u1",
                "event": {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            },
            split=not pause,
        )
        time.sleep(pause)
    text = "".join(pieces)
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {
                "id": "msg_1",
                "model": "claude-sonnet-4-5",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "stop_reason": None,
                "usage": {"input_tokens": 12, "output_tokens": 4},
            },
        }
    )
    emit(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "duration_ms": 900,
            "duration_api_ms": 700,
            "num_turns": 1,
            "result": text,
            "session_id": session,
            "stop_reason": "end_turn",
            "total_cost_usd": 0.0123,
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 2000,
                "output_tokens": 4,
            },
            "permission_denials": [],
        }
    )


def gemini(pieces: list[str], prompt: str, pause: float = 0.0) -> None:
    now = "2026-08-22T10:00:00.000Z"
    emit({"type": "init", "timestamp": now, "session_id": "s1", "model": "gemini-2.5-pro"})
    emit({"type": "message", "timestamp": now, "role": "user", "content": prompt})
    for piece in pieces:
        emit(
            {
                "type": "message",
                "timestamp": now,
                "role": "assistant",
                "content": piece,
                "delta": True,
            },
            split=not pause,
        )
        time.sleep(pause)
    emit(
        {
            "type": "result",
            "timestamp": now,
            "status": "success",
            "stats": {
                "total_tokens": 40,
                "input_tokens": 30,
                "output_tokens": 10,
                "cached": 20,
                "input": 10,
                "duration_ms": 800,
                "tool_calls": 0,
                "models": {
                    "gemini-2.5-pro": {
                        "total_tokens": 40,
                        "input_tokens": 30,
                        "output_tokens": 10,
                        "cached": 20,
                        "input": 10,
                    }
                },
            },
        }
    )


def kilo(pieces: list[str], pause: float = 0.0) -> None:
    """One step with one text part, as a plain answer is; streamed (`pause`), one step
    per piece, as an agent's answer written between tool calls is."""
    base = {"timestamp": 1760000000000, "sessionID": "ses_1"}
    steps = [[piece] for piece in pieces] if pause else [["".join(pieces)]]
    for i, step in enumerate(steps):
        emit({**base, "type": "step_start", "part": {"id": f"s{i}", "type": "step-start"}})
        emit(
            {
                **base,
                "type": "text",
                "part": {
                    "id": f"t{i}",
                    "type": "text",
                    "text": step[0],
                    "time": {"start": 1, "end": 2},
                },
            },
            split=not pause,
        )
        time.sleep(pause)
        reason = "stop" if i == len(steps) - 1 else "tool-calls"
        emit(
            {
                **base,
                "type": "step_finish",
                "part": {
                    "id": f"f{i}",
                    "type": "step-finish",
                    "reason": reason,
                    "cost": 0.002,
                    "tokens": {
                        "input": 30,
                        "output": 10,
                        "reasoning": 0,
                        "cache": {"read": 5, "write": 1},
                    },
                },
            }
        )


def answer(pieces: list[str], prompt: str, pause: float = 0.0) -> None:
    if TOOL == "claude":
        claude(pieces, pause)
    elif TOOL == "gemini":
        gemini(pieces, prompt, pause)
    else:
        kilo(pieces, pause)


def first_piece(piece: str) -> None:
    """Output that stops after its first piece of text."""
    if TOOL == "claude":
        emit(
            {
                "type": "stream_event",
                "session_id": "s",
                "uuid": "u",
                "event": {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            }
        )
    elif TOOL == "gemini":
        emit({"type": "message", "role": "assistant", "content": piece, "delta": True})
    else:
        emit({"type": "text", "part": {"type": "text", "text": piece}})


def fail() -> None:
    if TOOL == "claude":
        emit(
            {
                "type": "result",
                "subtype": "success",
                "is_error": True,
                "duration_ms": 10,
                "num_turns": 1,
                "session_id": "s",
                "result": "Invalid API key · Please run /login",
            }
        )
    sys.stderr.write(
        "debug: starting\nerror: the request failed, token sk-ant-api03-"
        "abcdefghijklmnopqrstuvwxyz0123456789\n"
    )
    sys.stderr.flush()
    sys.exit(1)


def main() -> None:
    prompt = sys.stdin.read()
    child = None
    if os.environ.get("FAKE_CLI_CHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    log = os.environ.get("FAKE_CLI_LOG")
    if log:
        record = {
            "tool": TOOL,
            "argv": sys.argv[1:],
            "stdin": prompt,
            "pid": os.getpid(),
            "child": child.pid if child else None,
        }
        with open(os.path.join(log, f"{os.getpid()}.json"), "w") as f:
            json.dump(record, f)
    if MODE == "ok":
        answer(["Hello", ", ", "world."], prompt)
    elif MODE == "echo":
        answer([prompt], prompt)
    elif MODE == "slow":
        answer([f"tick {i} " for i in range(200)], prompt, pause=0.02)
    elif MODE == "big":
        answer(["x" * 1023 + "\n" for _ in range(1024)], prompt)
    elif MODE == "text":
        write("Plain answer,\nin two lines.\n")
    elif MODE == "fail":
        fail()
    elif MODE == "broken":
        answer(["Hello"], prompt)
        write('{"type": "text", "part": \n')
    elif MODE == "half":
        emit({"type": "init", "model": "m", "subtype": "init"})
        time.sleep(0.05)
        sys.exit(0)
    elif MODE in ("hang", "stubborn"):
        if MODE == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        write(json.dumps({"type": "system", "subtype": "init", "model": "m"}) + "\n")
        time.sleep(30)
    elif MODE == "midway":
        first_piece("Partial ")
        sys.stderr.write("fatal: connection reset\n")
        sys.exit(3)


main()
