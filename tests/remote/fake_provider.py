"""A provider process for the tests: `python fake_provider.py MODE DIR`.

It behaves as MODE says, using DIR (a short directory: a socket path has at most 108
bytes) for its socket and for the files it leaves for the test to read.

  serve     bind a socket, print its path, log to stderr, answer each connection "pong"
  silent    log to stderr and never print anything on stdout
  exit3     log to stderr and exit with status 3
  bogus     print a path where no socket is
  stubborn  ignore SIGTERM, then serve
  parent    start a child that sleeps (its pid in DIR/child.pid), then serve
  chatty    print the socket path, then more stdout lines
  brief     print the socket path, then exit with status 5
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def serve(directory: str) -> None:
    path = os.path.join(directory, f"p{os.getpid()}.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    print(path, flush=True)
    log(f"listening on {path}")
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b'"pong"\n')


def main(mode: str, directory: str) -> None:
    log(f"fake provider starting ({mode})")
    if mode == "serve":
        serve(directory)
    elif mode == "silent":
        log("warming up")
        log("still warming up")
        time.sleep(60)
    elif mode == "exit3":
        log("error: no credentials found")
        sys.exit(3)
    elif mode == "bogus":
        print(os.path.join(directory, "nothing-here.sock"), flush=True)
        time.sleep(60)
    elif mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        serve(directory)
    elif mode == "parent":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(os.path.join(directory, "child.pid"), "w") as out:
            out.write(str(child.pid))
        serve(directory)
    elif mode == "chatty":
        path = os.path.join(directory, f"p{os.getpid()}.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen()
        print(path, flush=True)
        print("an extra stdout line", flush=True)
        time.sleep(60)
    elif mode == "brief":
        path = os.path.join(directory, f"p{os.getpid()}.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        print(path, flush=True)
        log("going away")
        sys.exit(5)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
