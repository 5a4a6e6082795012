"""A scripted HTTP/1.1 server on 127.0.0.1 for tests where a real socket matters.

Each request is handed to `handler(request) -> Reply`; a `Reply` can send a
normal response, a chunked stream with pauses, or cut the connection midway.
Connections are kept alive, and the server counts them, so tests can tell
whether a client reused its pool.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when the server had read it

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Streamed replies: chunks sent with chunked encoding, `pause` seconds apart.
    chunks: Iterable[bytes] | None = None
    pause: float = 0.0
    # Close the socket after this many chunks (or before the headers with 0), no terminator.
    cut_after: int | None = None
    delay: float = 0.0


class LoopbackServer:
    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # Wake accept() and wait for the thread: a closed descriptor can be reused by the
        # next server, and a stray accept thread would answer its connections.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", "0") or 0))
                request = Request(method, path, headers, body)
                self.requests.append(request)
                if not self._reply(conn, self.handler(request)):
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def _reply(self, conn: socket.socket, reply: Reply) -> bool:
        """Send `reply`; False when the connection must close."""
        if reply.delay:
            time.sleep(reply.delay)
        if reply.cut_after == 0:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        head = [f"HTTP/1.1 {reply.status} X"]
        headers = dict(reply.headers)
        if reply.chunks is None:
            headers.setdefault("content-length", str(len(reply.body)))
        else:
            headers["transfer-encoding"] = "chunked"
        head += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if reply.chunks is None:
            conn.sendall(reply.body)
            return True
        for i, piece in enumerate(reply.chunks):
            if reply.cut_after is not None and i >= reply.cut_after:
                conn.shutdown(socket.SHUT_RDWR)
                return False
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            if reply.pause:
                time.sleep(reply.pause)
        conn.sendall(b"0\r\n\r\n")
        return True


class Script:
    """Replies handed out in order, the last one repeated: `LoopbackServer(Script(a, b, c))`."""

    def __init__(self, *replies: Reply | Callable[[Request], Reply]) -> None:
        self.replies = list(replies)
        self.index = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            reply = self.replies[min(self.index, len(self.replies) - 1)]
            self.index += 1
        return reply(request) if callable(reply) else reply
