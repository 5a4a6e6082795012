"""Measure what construct costs per call against raw httpx and the libraries users pick instead.

    .venv/bin/python benchmarks/run.py                  # the full run, a few minutes
    .venv/bin/python benchmarks/run.py --smoke          # a few calls per row; exit 1 if one breaks
    .venv/bin/python benchmarks/run.py --out docs/performance.md   # also write the table there
    .venv/bin/python benchmarks/run.py --profile construct         # cProfile one row
    .venv/bin/python benchmarks/run.py --only streams              # the three stream modes
    .venv/bin/python benchmarks/run.py --rows "via process"        # rows whose name has this

A fake server (`fake_server.py`) runs in its own process, so `time.process_time()`
in the client process counts the client's CPU alone. Each row runs in a fresh
worker process (this file with `--worker`), warms up, then times `--repeat`
rounds; the table shows the median round. Modes:

    seq     sequential non-streaming calls on one keep-alive client
    conc    concurrent calls, 200 in flight, asyncio
    stream  streamed calls, 500 content chunks each, the server writing one SSE event
            per socket write: CPU per chunk
    burst   the same, the server writing each whole stream in one write
    paced   streamed calls of 200 chunks, one event per write and 1 ms between events,
            as an LLM server sends tokens: a client reads about one event per read
    conns   connections opened by 200 sequential streamed calls (fake server's count)
    import  `import X` timed inside a fresh interpreter, median of 7

`--only` takes modes, or `streams` for stream,burst,paced.

Rows named "via process" call a `construct serve` process (its config pointing at the
fake server) through a `RemoteProvider`, alternating with direct calls in one worker;
they also report the served process's CPU, which the client's process_time leaves out.

Libraries that are not installed (openai, litellm, aiohttp) are skipped.
docs/performance.md says what each row means and holds the latest table.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import http.client
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
MODES = ("seq", "conc", "stream", "burst", "paced", "conns", "import")
MODE_GROUPS = {"streams": ("stream", "burst", "paced")}
STREAM_MODES = frozenset(("stream", "burst", "paced", "conns"))  # calls that stream
PER_CHUNK_MODES = ("burst", "stream", "paced")  # CPU per chunk, in the report's order
STYLE_NAMES = {"burst": "one write", "stream": "per event", "paced": "paced"}

# Per mode: (timed calls per round, warm-up calls). Chosen so the full run takes
# about 5 minutes on 2 cores with every optional library installed (paced streams: 2.5).
SIZES = {
    "full": {
        "seq": (500, 50),
        "conc": (1000, 200),
        "stream": (20, 3),
        "burst": (20, 3),
        "paced": (8, 2),  # about 0.23 s a call: 200 events 1.1 ms apart
        "conns": (200, 0),
    },
    "smoke": {
        "seq": (20, 3),
        "conc": (60, 20),
        "stream": (3, 1),
        "burst": (3, 1),
        "paced": (2, 1),
        "conns": (10, 0),
    },
}
# Slow clients (LiteLLM) get fewer calls per round, so a round lasts about this long;
# per-call numbers do not depend on the count. (seconds, at least this many calls)
ROUND_BUDGET = {
    "seq": (2.0, 50),
    "conc": (2.5, 400),
    "stream": (2.0, 5),
    "burst": (2.0, 5),
    "paced": (2.5, 4),
}
IN_FLIGHT = {"full": 200, "smoke": 20}
# Content chunks per streamed call. The connection count is about giving the socket
# back, not about chunk cost: shorter streams keep 200 calls of the slowest SDK to a
# few seconds. A paced stream lasts (chunks + 3) pauses: 200 keeps a call near 0.23 s.
CHUNKS = {
    "full": {"stream": 500, "burst": 500, "paced": 200, "conns": 50},
    "smoke": {"stream": 20, "burst": 20, "paced": 10, "conns": 5},
}
PACE_MS = 1.0  # between the events of a `paced` stream
IMPORT_RUNS = {"full": 7, "smoke": 1}
# A worker lives through all the rounds of its mode (rows take turns), hence the margin.
WORKER_TIMEOUT_S = {"full": 480, "smoke": 60}
SMOKE_JOBS = 3
IMPORTS = (  # (label, statement, distributions that must be installed)
    ("httpx, pydantic", "httpx, pydantic", ("httpx", "pydantic")),
    ("httpx", "httpx", ("httpx",)),
    ("pydantic", "pydantic", ("pydantic",)),
    ("construct", "construct", ("construct",)),
    ("openai", "openai", ("openai",)),
    ("aiohttp", "aiohttp", ("aiohttp",)),
    ("litellm", "litellm", ("litellm",)),
)
VERSIONS = (
    "construct-llm",
    "httpx",
    "httpcore",
    "h11",
    "pydantic",
    "openai",
    "httpx2",
    "litellm",
    "aiohttp",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # else LiteLLM fetches a cost map at import
    return env


# -- the worker: one row, in its own process -------------------------------------------------
#
# The driver starts a worker, which builds its client, warms up and prints
# {"ready": ...}; then each `round` line on its stdin runs one timed round and
# prints its numbers as one JSON line. The driver asks every row of a mode for
# round 1, then round 2, ..., so all rows see the same drift in machine load.


class ServerStats:
    """The fake server's counters over one keep-alive connection opened before any timing."""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def _ask(self, method: str, path: str) -> dict[str, Any]:
        self._conn.request(method, path, body=b"" if method == "POST" else None)
        return json.loads(self._conn.getresponse().read())

    def reset(self) -> None:
        self._ask("POST", "/stats/reset")

    def read(self) -> dict[str, Any]:
        return self._ask("GET", "/stats")


class Rounds:
    """One row's timed rounds: client CPU and wall time, what the server counted, and the
    CPU of the provider process the calls go through, if any."""

    def __init__(self, args: argparse.Namespace, per_call: int) -> None:
        self.stats = ServerStats(args.port)
        self.stats.reset()  # opens the stats connection before anything is counted
        self.client = args.client
        self.per_call = per_call  # answer characters, or content chunks, in each call
        self.profile_out = args.profile_out
        self._profiler: Any = None
        if self.profile_out:
            import cProfile

            self._profiler = cProfile.Profile()
        self._cpu = self._wall = self._served_at = 0.0
        self._served: Callable[[], float] | None = None

    def start(self, served_cpu: Callable[[], float] | None = None) -> None:
        self.stats.reset()
        self._served = served_cpu
        if served_cpu:
            self._served_at = served_cpu()
        if self._profiler:
            self._profiler.enable()
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def stop(self, calls: int, total: int, paired: tuple[Side, Side] | None = None) -> None:
        """End a round of `calls` calls; with `paired`, the round alternated blocks of the
        wrapper's and the plain provider's calls, and each side's own time is reported."""
        cpu, wall = time.process_time() - self._cpu, time.perf_counter() - self._wall
        if self._profiler:
            self._profiler.disable()
        # Read over the whole round: in a paired round the process is idle while the plain
        # provider's blocks run, so all of it is the wrapper's.
        served = self._served() - self._served_at if self._served else None
        counts = self.stats.read()
        sent, result = calls, {"cpu": cpu, "wall": wall}
        if paired:
            wrapped, plain = paired
            sent, total = 2 * calls, wrapped.total + plain.total
            result = {
                "cpu": wrapped.cpu,
                "wall": wrapped.wall,
                "plain_cpu": plain.cpu,
                "plain_wall": plain.wall,
            }
        if served is not None:
            result["served_cpu"] = served
        if total != self.per_call * sent or counts["requests"] != sent:
            raise SystemExit(
                f"{self.client}: wrong answers: {total} units in {counts['requests']} requests "
                f"for {sent} calls, expected {self.per_call} units per call"
            )
        _say(result | {"calls": calls, "connections": counts["connections"], "requests": sent})

    def commands(self) -> Iterator[None]:
        """One item per `round` the driver asks for; ends when its stdin closes."""
        for line in sys.stdin:
            if line.strip() != "round":
                break
            yield
        if self._profiler:
            self._profiler.dump_stats(self.profile_out)


class Side:
    """One side of a paired round: its calls' CPU and wall time, summed over blocks."""

    __slots__ = ("_cpu", "_wall", "cpu", "total", "wall")

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0
        self.total = 0

    def start(self) -> None:
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def stop(self, total: int) -> None:
        self.cpu += time.process_time() - self._cpu
        self.wall += time.perf_counter() - self._wall
        self.total += total


# A wrapper row alternates this many blocks of its own calls and the plain provider's,
# in one process (ABBA order): a few per cent between two processes is noise, between
# two halves of one round it is not.
PAIR_BLOCKS = 10


# Concurrent rounds alternate two blocks a side (ABBA over two rounds' halves): a block
# must hold many more calls than are in flight, or its ramp-up and tail would be most of it.
PAIR_BLOCKS_CONC = 2


def _blocks(calls: int, blocks: int = PAIR_BLOCKS) -> Iterator[tuple[int, bool]]:
    """(calls in the block, wrapper first?) for each block of a paired round."""
    for i in range(blocks):
        yield calls // blocks + (i < calls % blocks), i % 2 == 0


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def _made(made: tuple[Any, ...]) -> tuple[Any, Any, Callable[[], float] | None]:
    """A factory's (call, close), and its provider process's CPU reader if it has one."""
    call, close, *served = made
    return call, close, served[0] if served else None


def _round_size(args: argparse.Namespace, warmup_wall: float) -> int:
    """`--calls`, or fewer when a slow client would make a round outlast `--round-budget`."""
    samples = args.warmup - 1
    if not args.round_budget or samples < 1:
        return args.calls
    fit = int(args.round_budget * samples / max(warmup_wall, 1e-9))
    return min(args.calls, max(fit, args.min_calls))


def _serve_sync(
    client: Any, plain: Any, target: Any, args: argparse.Namespace, rounds: Rounds
) -> None:
    stream = args.mode in STREAM_MODES
    call, close, served_cpu = _made(client.make(target, stream))
    plain_call, plain_close = plain.make(target, stream) if plain else (None, lambda: None)

    def run(n: int, call: Any = call) -> int:
        return sum(call() for _ in range(n))

    def paired_round(calls: int) -> tuple[Side, Side]:
        wrapped, bare = Side(), Side()
        for n, wrapper_first in _blocks(calls):
            sides = [(wrapped, call), (bare, plain_call)]
            for side, fn in sides if wrapper_first else sides[::-1]:
                side.start()
                side.stop(run(n, fn))
        return wrapped, bare

    try:
        run(min(args.warmup, 1))  # the first call opens the connection: not a sample
        wall = time.perf_counter()
        run(args.warmup - 1)
        calls = _round_size(args, time.perf_counter() - wall)
        if plain_call:
            run(args.warmup, plain_call)
        _say({"ready": True, "calls": calls})
        for _ in rounds.commands():
            run(args.rewarm)  # reopen what went idle while other rows ran
            if plain_call:
                run(args.rewarm, plain_call)
                rounds.start(served_cpu)
                rounds.stop(calls, 0, paired_round(calls))
                continue
            rounds.start(served_cpu)
            rounds.stop(calls, run(calls))
    finally:
        close()
        plain_close()


async def _serve_async(
    client: Any, plain: Any, target: Any, args: argparse.Namespace, rounds: Rounds
) -> None:
    stream = args.mode in STREAM_MODES
    call, close, served_cpu = _made(await client.make(target, stream))
    plain_call, plain_close = (await plain.make(target, stream)) if plain else (None, None)

    async def sequentially(n: int, call: Any = call) -> int:
        total = 0
        for _ in range(n):
            total += await call()
        return total

    async def concurrently(n: int, call: Any = call) -> int:
        left, total = n, 0

        async def one_task() -> None:
            nonlocal left, total
            while left > 0:
                left -= 1
                got = await call()  # not `total += await ...`: that reads total before awaiting
                total += got

        await asyncio.gather(*(one_task() for _ in range(min(args.in_flight, n))))
        return total

    conc = args.mode == "conc"
    run = concurrently if conc else sequentially

    async def paired_round(calls: int) -> tuple[Side, Side]:
        wrapped, bare = Side(), Side()
        for n, wrapper_first in _blocks(calls, PAIR_BLOCKS_CONC if conc else PAIR_BLOCKS):
            sides = [(wrapped, call), (bare, plain_call)]
            for side, fn in sides if wrapper_first else sides[::-1]:
                side.start()
                side.stop(await run(n, fn))
        return wrapped, bare

    try:
        await run(min(args.warmup, 1))
        wall = time.perf_counter()
        await run(args.warmup - 1)
        calls = _round_size(args, time.perf_counter() - wall)
        if plain_call:
            await run(args.warmup, plain_call)
        _say({"ready": True, "calls": calls})
        # Between rounds the loop blocks on stdin: nothing else is running then.
        for _ in rounds.commands():
            await run(args.rewarm)
            if plain_call:
                await run(args.rewarm, plain_call)
                rounds.start(served_cpu)
                rounds.stop(calls, 0, await paired_round(calls))
                continue
            rounds.start(served_cpu)
            rounds.stop(calls, await run(calls))
    finally:
        for closer in (close, plain_close):
            closing = closer() if closer else None
            if inspect.isawaitable(closing):
                await closing


def worker(args: argparse.Namespace) -> int:
    from clients import BY_NAME, Target
    from fake_server import REPLY_TEXT

    client = BY_NAME[args.client]
    missing = [m for m in client.requires if importlib.util.find_spec(m) is None]
    if missing:
        _say({"skipped": f"{missing[0]} is not installed"})
        return 0
    stream = args.mode in STREAM_MODES
    pace = PACE_MS if args.mode == "paced" else 0.0
    target = Target(args.port, args.chunks if stream else 0, pace, args.mode == "burst")
    rounds = Rounds(args, args.chunks if stream else len(REPLY_TEXT))
    # Wrappers are timed against the plain provider, and the plain provider against its
    # floor, in the same process (PAIR_BLOCKS).
    paired = args.mode in ("seq", "conc", *PER_CHUNK_MODES)
    plain = BY_NAME[client.partner] if client.partner and paired else None
    try:
        if client.is_async:
            asyncio.run(_serve_async(client, plain, target, args, rounds))
        else:
            _serve_sync(client, plain, target, args, rounds)
    except ImportError as exc:  # a client that found its library missing only when built
        _say({"skipped": str(exc)})
    return 0


# -- the driver ------------------------------------------------------------------------


class FakeServer:
    """`fake_server.py` in a child process; it stops when we close its stdin."""

    def __init__(self, chunks: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_server.py"), "--chunks", str(chunks)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else b""
        if not line.strip().isdigit():
            self.proc.kill()
            raise SystemExit("the fake server did not start")
        self.port = int(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(5)


class Worker:
    """The driver's handle on one row's worker process."""

    def __init__(
        self, mode: str, client: str, port: int, scale: str, profile_out: str | None = None
    ) -> None:
        calls, warmup = SIZES[scale][mode]
        chunks = CHUNKS[scale].get(mode, 0)
        rewarm = {"conc": IN_FLIGHT[scale], "conns": 0}.get(mode, 1)
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            *("--worker", client, "--mode", mode, "--port", str(port)),
            *("--calls", str(calls), "--warmup", str(warmup), "--rewarm", str(rewarm)),
            *("--chunks", str(chunks), "--in-flight", str(IN_FLIGHT[scale])),
        ]
        if scale == "full" and mode in ROUND_BUDGET:
            budget, least = ROUND_BUDGET[mode]
            cmd += ["--round-budget", str(budget), "--min-calls", str(least)]
        if profile_out:
            cmd += ["--profile-out", profile_out]
        self.client = client
        self.started = time.perf_counter()
        self.rounds: list[dict[str, Any]] = []
        # A file, not a pipe: a chatty library must not block on a full pipe. Closed in close().
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env=_env(),
        )  # fmt: skip
        self.timed_out = False
        self.limit = WORKER_TIMEOUT_S[scale]
        self._timer = threading.Timer(self.limit, self._kill)
        self._timer.daemon = True
        self._timer.start()
        self.state = self._read()  # {"ready"}, {"skipped"} or {"error"}

    def _kill(self) -> None:
        self.timed_out = True
        self.proc.kill()

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line:
            return json.loads(line)
        self.proc.wait()
        if self.timed_out:
            return {"error": f"timed out after {self.limit} s"}
        self._stderr.seek(0)
        tail = self._stderr.read().strip().splitlines() or [f"exit status {self.proc.returncode}"]
        return {"error": tail[-1][:300]}

    def round(self) -> None:
        if "ready" not in self.state:
            return
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("round\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        result = self._read()
        if "error" in result:
            self.state = result
        else:
            self.rounds.append(result)

    def close(self) -> dict[str, Any]:
        """The row's entry: its rounds, or why it has none."""
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()
        self.proc.wait()
        self._timer.cancel()
        self._stderr.close()
        if "ready" in self.state:
            return {"rounds": self.rounds}
        return self.state


def measure_rows(
    rows: list[tuple[str, str]], ports: list[int], scale: str, repeat: int
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every row's entry. One port: the rows of a mode take turns, round by round (a timed
    run). Several: rows run side by side, each against its own server (the smoke run)."""
    done: dict[tuple[str, str], dict[str, Any]] = {}

    def report(mode: str, worker: Worker, entry: dict[str, Any]) -> None:
        state = entry.get("error") or entry.get("skipped") or "ok"
        took = time.perf_counter() - worker.started
        print(f"{mode:7} {worker.client:32} {took:6.1f} s  {state}", file=sys.stderr)

    if len(ports) == 1:
        for mode in dict.fromkeys(m for m, _ in rows):
            workers = [Worker(mode, c, ports[0], scale) for m, c in rows if m == mode]
            for _ in range(1 if mode == "conns" else repeat):
                for w in workers:
                    w.round()
            for w in workers:
                done[(mode, w.client)] = entry = w.close()
                report(mode, w, entry)
        return done

    free: queue.Queue[int] = queue.Queue()
    for port in ports:
        free.put(port)

    def one(row: tuple[str, str]) -> dict[str, Any]:
        port = free.get()
        try:
            w = Worker(row[0], row[1], port, scale)
            for _ in range(1 if row[0] == "conns" else repeat):
                w.round()
            entry = w.close()
        finally:
            free.put(port)
        report(row[0], w, entry)
        return entry

    with ThreadPoolExecutor(len(ports)) as pool:
        return dict(zip(rows, pool.map(one, rows), strict=True))


def _median(rounds: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(r) for r in rounds)


def summarize(mode: str, result: dict[str, Any], chunks: int) -> dict[str, float]:
    rounds = result["rounds"]
    out = {
        "cpu_call": _median(rounds, lambda r: r["cpu"] / r["calls"]),
        "wall_call": _median(rounds, lambda r: r["wall"] / r["calls"]),
        "rps": _median(rounds, lambda r: r["calls"] / r["wall"]),
        "connections": _median(rounds, lambda r: r["connections"]),
        "calls": rounds[0]["calls"],
    }
    if mode in STREAM_MODES:
        out["cpu_chunk"] = _median(rounds, lambda r: r["cpu"] / (r["calls"] * chunks))
    if "plain_cpu" in rounds[0]:
        out["vs_plain"] = _median(rounds, lambda r: r["cpu"] / r["plain_cpu"])
        # Both sides made the same number of calls: req/s over the partner's is wall over wall.
        out["rps_vs_plain"] = _median(rounds, lambda r: r["plain_wall"] / r["wall"])
    # Per unit (a content chunk of a stream, else a call), for the provider-process table.
    per = chunks if mode in STREAM_MODES else 1
    for key in ("cpu", "wall", "plain_cpu", "plain_wall", "served_cpu"):
        if key in rounds[0]:
            out[f"{key}_unit"] = _median(rounds, lambda r, k=key: r[k] / (r["calls"] * per))
    if "plain_cpu" in rounds[0]:
        # Medians of each round's difference: the two sides of a round saw the same load.
        for key in ("cpu", "wall"):
            out[f"{key}_delta_unit"] = _median(
                rounds, lambda r, k=key: (r[k] - r[f"plain_{k}"]) / (r["calls"] * per)
            )
    return out


def compile_packages(names: list[str]) -> None:
    """Write bytecode first: with PYTHONDONTWRITEBYTECODE=1 an editable install never caches it."""
    for name in names:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(location, quiet=1)


def measure_imports(scale: str) -> dict[str, dict[str, Any]]:
    runs = IMPORT_RUNS[scale]
    wanted = [
        (label, stmt)
        for label, stmt, needs in IMPORTS
        if all(importlib.util.find_spec(n) is not None for n in needs)
    ]
    compile_packages(sorted({m.strip() for _, stmt in wanted for m in stmt.split(",")}))
    code = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
    times: dict[str, list[float]] = {label: [] for label, _ in wanted}
    errors: dict[str, str] = {}
    # Round-robin, after one uncounted pass that warms the file cache.
    for i in range(runs + (scale == "full")):
        for label, stmt in wanted:
            if label in errors:
                continue
            done = subprocess.run(
                [sys.executable, "-c", code.format(stmt)],
                capture_output=True,
                text=True,
                env=_env(),
                cwd="/",
            )
            if done.returncode != 0:
                errors[label] = (done.stderr.strip().splitlines() or ["failed"])[-1]
            elif i or scale != "full":
                times[label].append(float(done.stdout.strip().splitlines()[-1]))
    out = {label: {"error": err} for label, err in errors.items()}
    for label, values in times.items():
        if label not in errors:
            out[label] = {"ms": statistics.median(values) * 1000, "runs": len(values)}
    return out


def check_rate_limit(port: int) -> str | None:
    """The fake server's 429 mode reaches construct as RateLimited with retry_after 1 s."""
    from construct import ChatMessage, ChatRequest, RateLimited, create_provider

    provider = create_provider(f"custom:http://127.0.0.1:{port}/429/v1", "k")
    try:
        provider.chat(ChatRequest([ChatMessage.user("hi")]), "m")
    except RateLimited as exc:
        return None if exc.retry_after == 1 else f"retry_after={exc.retry_after!r}, expected 1"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        provider.close()
    return "a 429 answer did not raise RateLimited"


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    versions = {}
    for dist in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    load = ""
    with contextlib.suppress(OSError), open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "load": load,
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "venv": sys.prefix,
        "commit": commit,
        "versions": versions,
    }


# -- the report -------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _ratio(value: float | None, floor: float | None) -> str:
    if value is None or not floor:
        return "—"
    return f"{value / floor:.2f}×"


def _pct(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render(
    results: dict[str, dict[str, dict[str, Any]]],
    imports: dict[str, dict[str, Any]],
    info: dict[str, Any],
    scale: str,
    repeat: int,
    elapsed: float,
) -> str:
    from clients import BY_NAME

    out: list[str] = []
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    out += [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['implementation']} "
        f"{info['python']}, {info['system']}"
        + (f", load average {info['load']} at the end" if info["load"] else "")
        + f". Versions: {versions}. construct at "
        f"`{info['commit']}`; venv `{info['venv']}`. Median of {repeat} rounds per row "
        f"({scale} run, {elapsed:.0f} s in all). `CPU` is the client process's "
        "`time.process_time()`; the fake server runs in another process.",
    ]

    def stats(mode: str, name: str) -> dict[str, Any] | None:
        return results.get(mode, {}).get(name, {}).get("summary")

    def problem(mode: str, name: str) -> str | None:
        entry = results.get(mode, {}).get(name, {})
        if entry.get("error"):
            return f"failed: {entry['error']}"
        return entry.get("skipped")

    def rows(mode: str, cells: Callable[[str, dict[str, Any], Any], list[str]], width: int):
        body = []
        for name, entry in results.get(mode, {}).items():
            s = entry.get("summary")
            if s is None:
                body.append([name, *(["—"] * (width - 2)), problem(mode, name) or ""])
                continue
            client = BY_NAME[name]
            floor = stats(mode, client.floor) if client.floor else None
            body.append([name, *cells(name, s, floor)])
        return body

    def note(mode: str, name: str, s: dict[str, Any], key: str) -> str:
        """How a row compares with its partner in the same process; a shortened round."""
        notes = []
        plain = BY_NAME[name].partner
        base = stats(mode, plain) if plain else None
        if "vs_plain" in s and mode == "conc":
            notes.append(
                f"vs {plain}, same process: CPU {_pct(s['vs_plain'], 1.0)}, "
                f"req/s {_pct(s['rps_vs_plain'], 1.0)}"
            )
        elif "vs_plain" in s:
            notes.append(f"{_pct(s['vs_plain'], 1.0)} vs {plain}, same process")
        elif base:
            notes.append(f"{_pct(s[key], base[key])} vs {plain} row")
        if s["calls"] < SIZES[scale][mode][0]:
            notes.append(f"{s['calls']} calls/round")
        return "; ".join(notes)

    if "seq" in results:
        calls, warmup = SIZES[scale]["seq"]
        out += [
            "",
            f"**Sequential** non-streaming calls on one keep-alive client ({calls} timed calls "
            f"per round, fewer for slow clients, after {warmup} warm-up calls). Floors: "
            "`raw httpx` for sync rows, `raw httpx async` for async rows, `raw aiohttp` for "
            "itself.",
            "",
        ]

        def seq_cells(name: str, s: dict[str, Any], floor: Any) -> list[str]:
            return [
                _ms(s["cpu_call"]),
                _ms(s["wall_call"]),
                _ratio(s["cpu_call"], floor and floor["cpu_call"]),
                _ratio(s["wall_call"], floor and floor["wall_call"]),
                note("seq", name, s, "cpu_call"),
            ]

        header = ["client", "CPU ms/call", "wall ms/call", "CPU ÷ floor", "wall ÷ floor", "note"]
        out += _table(header, rows("seq", seq_cells, len(header)))

    if "conc" in results:
        calls, warmup = SIZES[scale]["conc"]
        out += [
            "",
            f"**Concurrent** calls, {IN_FLIGHT[scale]} in flight on one asyncio loop ({calls} "
            "timed calls per round, fewer for slow clients). Each library keeps its default "
            "pool (httpx and aiohttp: 100 connections; construct: 100, 20 kept alive; openai: "
            "1000, 100 kept alive).",
            "",
        ]

        def conc_cells(name: str, s: dict[str, Any], floor: Any) -> list[str]:
            return [
                f"{s['rps']:,.0f}",
                _ms(s["cpu_call"]),
                _ratio(s["rps"], floor and floor["rps"]),
                _ratio(s["cpu_call"], floor and floor["cpu_call"]),
                f"{s['connections']:.0f}",
                note("conc", name, s, "cpu_call"),
            ]

        header = [
            "client", "req/s", "CPU ms/call", "req/s ÷ floor", "CPU ÷ floor", "new conns", "note",
        ]  # fmt: skip
        out += _table(header, rows("conc", conc_cells, len(header)))

    if "stream" in results:
        calls, _ = SIZES[scale]["stream"]
        chunks = CHUNKS[scale]["stream"]
        out += [
            "",
            f"**Streamed** calls, {chunks} content chunks each ({calls} timed calls per round, "
            "fewer for slow clients), the server writing each SSE event with its own socket "
            "write and no pause. CPU per chunk is the call's CPU divided by its content chunks.",
            "",
        ]

        def stream_cells(name: str, s: dict[str, Any], floor: Any) -> list[str]:
            return [
                f"{s['cpu_chunk'] * 1e6:.1f}",
                _ms(s["wall_call"]),
                _ratio(s["cpu_chunk"], floor and floor["cpu_chunk"]),
                note("stream", name, s, "cpu_chunk"),
            ]

        header = ["client", "CPU µs/chunk", "wall ms/call", "CPU ÷ floor", "note"]
        out += _table(header, rows("stream", stream_cells, len(header)))

    styles = [m for m in PER_CHUNK_MODES if m in results]
    if set(styles) - {"stream"}:
        sizes = ", ".join(
            f"{STYLE_NAMES[m]}: {CHUNKS[scale][m]} chunks × {SIZES[scale][m][0]} calls"
            for m in styles
        )
        out += [
            "",
            "**Stream styles**: CPU per chunk (µs) and ÷ floor as the server writes a stream: "
            "*one write* for the whole stream (a client reads many events per socket read); "
            "*per event*, one write per SSE event, no pause; *paced*, one write per event "
            f"and {PACE_MS:g} ms between events, as an LLM server sends tokens (about one "
            f"event per socket read). Per round: {sizes}. A row's note is its CPU over "
            "its partner's (the plain provider's for a wrapper, the floor's for a plain "
            "provider), timed in the same process.",
            "",
        ]
        # The rows that ran in `burst` or `paced`; `stream` alone has its own table.
        names = list(dict.fromkeys(n for m in styles if m != "stream" for n in results[m]))
        body = []
        for name in names:
            client = BY_NAME[name]
            cells, notes = [], []
            for mode in styles:
                s = stats(mode, name)
                if s is None:
                    cells += ["—", problem(mode, name) or "—"]
                    continue
                floor = stats(mode, client.floor) if client.floor else None
                cells += [
                    f"{s['cpu_chunk'] * 1e6:.1f}",
                    _ratio(s["cpu_chunk"], floor and floor["cpu_chunk"]),
                ]
                if "vs_plain" in s:
                    notes.append(f"{STYLE_NAMES[mode]} {_pct(s['vs_plain'], 1.0)}")
            paced = stats("paced", name)
            wall = [_ms(paced["wall_call"]) if paced else "—"] if "paced" in styles else []
            plain = f"vs {client.partner}: " if notes else ""
            body.append([name, *cells, *wall, plain + ", ".join(notes)])
        header = ["client"]
        for mode in styles:
            header += [f"{STYLE_NAMES[mode]} µs", "÷ floor"]
        header += ["paced wall ms/call"] if "paced" in styles else []
        out += _table([*header, "note"], body)

    out += hop_table(results, scale)

    if "conns" in results:
        calls, _ = SIZES[scale]["conns"]
        out += [
            "",
            f"**Connections** opened by {calls} sequential streamed calls "
            f"({CHUNKS[scale]['conns']} chunks each), counted by the fake server. 1 means "
            "every stream gave its connection back to the pool.",
            "",
        ]

        def conns_cells(name: str, s: dict[str, Any], floor: Any) -> list[str]:
            return [f"{s['calls']}", f"{s['connections']:.0f}"]

        header = ["client", "calls", "connections"]
        out += _table(header, rows("conns", conns_cells, len(header)))

    if imports:
        base = imports.get("httpx, pydantic", {}).get("ms")
        runs = max((v.get("runs", 0) for v in imports.values()), default=0)
        out += [
            "",
            f"**Import** time of `import X` timed inside a fresh interpreter (median of {runs}; "
            "bytecode compiled first; interpreter start-up excluded).",
            "",
        ]
        body = []
        for label, v in imports.items():
            if "error" in v:
                body.append([f"`import {label}`", "—", f"failed: {v['error']}"])
            else:
                body.append([f"`import {label}`", f"{v['ms']:.0f}", _ratio(v["ms"], base)])
        out += _table(["import", "ms", "÷ `httpx, pydantic`"], body)

    out += [
        "",
        "**Goals**, from this run. A ratio marked *same process* comes from the paired "
        "blocks of one worker (a wrapper's: its ratio to the plain provider times the plain "
        "provider's to the floor), not from two rows of the tables above.",
        "",
    ]
    out += _table(["goal", "budget", "measured", "met"], goals(results, imports))
    return "\n".join(out) + "\n"


def hop_table(results: dict[str, dict[str, dict[str, Any]]], scale: str) -> list[str]:
    """The rows whose calls go through a provider process, beside their direct partner."""
    from clients import CLIENTS

    modes = [m for m in ("seq", *PER_CHUNK_MODES) if m in results]
    hops = [(c, m) for c in CLIENTS if c.via_process for m in modes if c.name in results[m]]
    if not hops:
        return []
    sizes = ", ".join(
        f"{STYLE_NAMES.get(m, m)}: {SIZES[scale][m][0]} calls"
        + (f" × {CHUNKS[scale][m]} chunks" if m in STREAM_MODES else "")
        for m in modes
    )
    partners = ", ".join(f"`{n}`" for n in dict.fromkeys(c.partner for c, _ in hops))
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10
    out = [
        "",
        "**Provider-process hop**: calls through a `construct serve` process (a "
        "`RemoteProvider` on its Unix socket; the process's provider calls the fake server) "
        f"against the same calls made directly by the row's partner ({partners}), "
        "alternated in blocks in one worker. Per unit: a call for `seq` (the process streams "
        "every upstream call; here one chunk holding the answer), a content chunk for "
        "streams. *CPU* is the client process's; *process CPU* the served process's user + "
        f"system time (`/proc/PID/stat`, {tick_ms:g} ms ticks, read over each round), which "
        "the client's CPU leaves out; *wall* is the caller's elapsed time, both processes "
        "and the waits between them. Δ is the median of each round's difference. Per round: "
        f"{sizes}.",
        "",
    ]
    body = []
    for client, mode in hops:
        s = results[mode][client.name].get("summary")
        label = [
            client.name,
            STYLE_NAMES.get(mode, mode),
            "chunk" if mode in STREAM_MODES else "call",
        ]
        if s is None or "plain_cpu_unit" not in s:
            entry = results[mode][client.name]
            why = entry.get("error") or entry.get("skipped") or "not paired"
            body.append([*label, *(["—"] * 6), why])
            continue
        served = s.get("served_cpu_unit")
        body.append(
            [
                *label,
                f"{s['plain_cpu_unit'] * 1e6:.1f}",
                f"{s['cpu_unit'] * 1e6:.1f}",
                f"{s['cpu_delta_unit'] * 1e6:+.1f}",
                "—" if served is None else f"{served * 1e6:.1f}",
                f"{s['plain_wall_unit'] * 1e6:.1f}",
                f"{s['wall_unit'] * 1e6:.1f}",
                f"{s['wall_delta_unit'] * 1e6:+.1f}",
            ]
        )
    header = [
        "client", "mode", "per", "direct CPU µs", "CPU µs", "Δ CPU µs", "process CPU µs",
        "direct wall µs", "wall µs", "Δ wall µs",
    ]  # fmt: skip
    return out + _table(header, body)


def goals(results: dict[str, Any], imports: dict[str, Any]) -> list[list[str]]:
    from clients import BY_NAME

    def get(mode: str, name: str, key: str) -> float | None:
        s = results.get(mode, {}).get(name, {}).get("summary")
        return s and s.get(key)

    def same_process(mode: str, name: str) -> float | None:
        """`name`'s CPU ÷ its floor's from same-process pairings: a plain provider's own
        pairing, or a wrapper's ratio to the plain provider times the plain provider's."""
        ratio = get(mode, name, "vs_plain")
        wraps = BY_NAME[name].wraps
        if ratio is None or not wraps:
            return ratio
        inner = same_process(mode, wraps)
        return None if inner is None else ratio * inner

    rows = []

    def ratio_goal(
        what: str, value: float | None, base: float | None, limit: float, least: bool = False
    ) -> None:
        """value ÷ base at most `limit` (at least, with `least`)."""
        budget = f"{'≥' if least else '≤'} {limit:.2f}×"
        if value is None or not base:
            rows.append([what, budget, "not measured", "—"])
            return
        r = value / base
        rows.append([what, budget, f"{r:.2f}×", _yes(r >= limit if least else r <= limit)])

    def paired_goal(what: str, mode: str, name: str, limit: float) -> None:
        ratio = same_process(mode, name)
        ratio_goal(f"{what} (same process)", ratio, 1.0 if ratio else None, limit)

    for name, floor in (("construct", "raw httpx"), ("construct async", "raw httpx async")):
        paired_goal(f"{name}: CPU per call ÷ {floor}", "seq", name, 1.2)
    for name, plain in (
        ("construct routed", "construct"),
        ("construct routed async", "construct async"),
    ):
        ratio = get("seq", name, "vs_plain")  # wrapper and plain calls in one process
        ratio_goal(f"{name}: CPU per call ÷ {plain} (same process)", ratio, ratio and 1.0, 1.05)

    def paired_rps(what: str, name: str, limit: float, floor_over: bool = False) -> None:
        """Concurrent req/s of `name` against its partner's, from one process."""
        r = get("conc", name, "rps_vs_plain")
        value = 1 / r if r and floor_over else r
        ratio_goal(f"{what} (same process)", value, value and 1.0, limit, least=not floor_over)

    paired_rps(
        "construct async, 200 in flight: raw httpx async req/s ÷ construct req/s",
        "construct async",
        1.2,
        floor_over=True,
    )
    paired_goal("construct async, 200 in flight: CPU per call ÷ raw httpx async", "conc",
                "construct async", 1.2)  # fmt: skip
    ratio_goal(
        "`import construct` ÷ `import httpx, pydantic`",
        imports.get("construct", {}).get("ms"),
        imports.get("httpx, pydantic", {}).get("ms"),
        1.2,
    )
    for name in ("construct", "construct async", "construct routed"):
        n = get("conns", name, "connections")
        calls = get("conns", name, "calls")
        shown = "not measured" if n is None else f"{n:.0f} for {calls} calls"
        met = "—" if n is None else _yes(n == 1)
        rows.append([f"{name}: connections for sequential streams", "1", shown, met])
    paired_rps(
        "construct aiohttp, 200 in flight: raw aiohttp req/s ÷ construct req/s",
        "construct aiohttp",
        1.3,
        floor_over=True,
    )
    paired_goal("construct aiohttp, 200 in flight: CPU per call ÷ raw aiohttp", "conc",
                "construct aiohttp", 1.3)  # fmt: skip
    paired_rps(
        "construct routed async, 200 in flight: req/s ÷ construct async req/s",
        "construct routed async",
        0.95,
    )
    # Streams written one event per socket write, without a pause (`stream`) and 1 ms
    # apart (`paced`), as an LLM server sends them.
    for mode, what in (("stream", "per-event"), ("paced", "paced")):
        for name, floor, limit in (
            ("construct", "raw httpx", 1.2),
            ("construct async", "raw httpx async", 1.2),
            ("construct aiohttp", "raw aiohttp", 1.2),
            ("construct routed", "raw httpx", 1.3),
            ("construct routed async", "raw httpx async", 1.3),
            ("construct routed aiohttp", "raw aiohttp", 1.3),
        ):
            paired_goal(f"{name}: CPU per {what} chunk ÷ {floor}", mode, name, limit)
    return rows


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def write_between_markers(path: Path, text: str) -> None:
    doc = path.read_text() if path.exists() else f"{START}\n{END}\n"
    if START not in doc or END not in doc:
        raise SystemExit(f"{path} has no {START} / {END} markers")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}{END}{tail}")


def profile(client: str, port: int, scale: str, mode: str) -> None:
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "profile.out")
        worker = Worker(mode, client, port, scale, profile_out=out)
        for _ in range(3):
            worker.round()
        result = worker.close()
        if "rounds" not in result:
            raise SystemExit(f"{client}: {result}")
        stats = pstats.Stats(out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="construct benchmarks against raw httpx, openai, litellm and aiohttp."
    )
    parser.add_argument("--smoke", action="store_true", help="a few calls per mode (CI)")
    parser.add_argument("--repeat", type=int, help="timed rounds per row (default 5; smoke 1)")
    parser.add_argument("--out", type=Path, help="write the table into this markdown file")
    parser.add_argument(
        "--only",
        help=f"comma-separated modes out of {','.join(MODES)}; "
        + "; ".join(f"{k} = {','.join(v)}" for k, v in MODE_GROUPS.items()),
    )
    parser.add_argument("--rows", metavar="TEXT", help="only the rows whose name contains TEXT")
    parser.add_argument("--profile", metavar="CLIENT", help="cProfile one row and print the top")
    parser.add_argument("--profile-mode", default="seq", choices=("seq", "conc", *PER_CHUNK_MODES))
    # Worker-only arguments.
    parser.add_argument("--worker", metavar="CLIENT", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rewarm", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--chunks", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--in-flight", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--round-budget", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--min-calls", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.client = args.worker
        return worker(args)

    from clients import CLIENTS

    scale = "smoke" if args.smoke else "full"
    repeat = args.repeat or (1 if args.smoke else 5)
    asked = [m.strip() for m in args.only.split(",")] if args.only else list(MODES)
    modes = list(dict.fromkeys(m for a in asked for m in MODE_GROUPS.get(a, (a,))))
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    # A timed run measures one row at a time; the smoke run only checks that every row
    # still works, so it runs a few at once, each against its own server (the counters
    # are per server).
    jobs = SMOKE_JOBS if args.smoke and not args.profile else 1
    servers = [FakeServer(CHUNKS[scale]["stream"]) for _ in range(jobs)]
    failures: list[str] = []
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        if args.profile:
            profile(args.profile, servers[0].port, scale, args.profile_mode)
            return 0
        rows = [(m, c.name) for m in modes if m != "import" for c in CLIENTS if m in c.modes]
        rows = [r for r in rows if not args.rows or args.rows in r[1]]
        entries = measure_rows(rows, [s.port for s in servers], scale, repeat)
        for (mode, name), entry in entries.items():
            chunks = CHUNKS[scale].get(mode, 0)
            if "rounds" in entry:
                entry["summary"] = summarize(mode, entry, chunks)
            elif "error" in entry:
                failures.append(f"{mode} / {name}: {entry['error']}")
        for row in rows:  # the table keeps the CLIENTS order
            results.setdefault(row[0], {})[row[1]] = entries[row]
        if args.smoke:
            problem = check_rate_limit(servers[0].port)
            if problem:
                failures.append(f"429 mode: {problem}")
    finally:
        for server in servers:
            server.close()
    imports = measure_imports(scale) if "import" in modes else {}
    failures += [f"import {k}: {v['error']}" for k, v in imports.items() if "error" in v]
    elapsed = time.perf_counter() - started
    report = render(results, imports, machine(), scale, repeat, elapsed)
    if args.out:
        write_between_markers(args.out, report)
    if args.smoke:
        # Smoke numbers mean nothing (a few calls, rows run side by side): say what ran.
        entries = [e for rows in results.values() for e in rows.values()]
        ran = sum("rounds" in e for e in entries) + sum("ms" in v for v in imports.values())
        skipped = sum("skipped" in e for e in entries)
        print(
            f"benchmark smoke run: {ran} rows measured, {skipped} skipped "
            f"(library not installed), {len(failures)} broken, {elapsed:.0f} s"
        )
    else:
        print(report)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
