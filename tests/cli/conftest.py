"""Run `construct` as a user would: a subprocess, a clean environment, a scratch home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """`construct ...` in `tmp_path`, with HOME there and no key or CONSTRUCT_* variable."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not (k.endswith(("_API_KEY", "_TOKEN")) or k.startswith("CONSTRUCT_"))
            and k != "API_KEY"
        }
        self.env.update(HOME=str(home), NO_COLOR="1", PYTHONIOENCODING="utf-8")

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "construct.cli.main", *args],
            cwd=self.home,
            env={**self.env, **env},
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


CHUNKS = ("Hello", ", wor", "ld!")


@dataclass
class FakeServer:
    """A loopback OpenAI-compatible server; records every request it was sent."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


def _chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "test-model",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            server.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
                return
            if server.status != 200:
                error = {"error": {"message": "Invalid API key provided", "type": "auth_error"}}
                self._send(server.status, json.dumps(error).encode(), "application/json")
                return
            if not body.get("stream"):
                payload = json.dumps(_completion("".join(CHUNKS))).encode()
                self._send(200, payload, "application/json")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            last = len(CHUNKS) - 1
            events = [_chunk(t, "stop" if i == last else None) for i, t in enumerate(CHUNKS)]
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
