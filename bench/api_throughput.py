"""API throughput: ecsemu against moto's server, the same raw-HTTP workload, in the same run.

Run by hand from the repository root::

    python bench/api_throughput.py [--seconds 10] [--json]

What it does
------------
1. Measures the client's own ceiling: the same load generator against a trivial responder (a
   canned ``200`` from a few lines of asyncio in its own process), so the ratios below can be
   judged. A server that comes close to the ceiling is measured by the client, not by itself.
2. For each server (ecsemu, then moto): spawns it ``--startup-runs`` times and times spawn →
   first successful ``ListClusters`` answer (the median is reported); keeps the last process,
   reads its idle RSS, seeds it (a cluster, a task definition, a service of 2 on EC2), waits
   until ecsemu says the service runs 2 tasks, drives the workload, reads RSS again, stops it.
3. Prints per server requests/s, p50/p99 latency, errors, start-up and RSS; then the ratios
   ecsemu/moto and PASS/MISS against the goals.

Vocabulary
----------
workload
    DescribeClusters, RegisterTaskDefinition, DescribeServices, ListTasks, cycled by each
    connection (each starting at a different one), as raw AWS JSON 1.1 requests.
connection
    One persistent ``http.client.HTTPConnection`` (keep-alive; reopened when the server closes
    it, and closed with a reset so that no TIME_WAIT socket is left) driven by one client
    thread or process, one request at a time.
pinning
    With two CPUs or more, the server under test (and the trivial responder) runs on the first
    CPU and the client on the others, so neither steals the other's CPU and both servers get
    exactly the same machine: one core (each is one CPython process, bound by its GIL anyway).

Invariants
----------
* Only 127.0.0.1 is ever contacted; only processes this script spawned are signalled, by PID
  (SIGTERM, then SIGKILL after a deadline), also when the run fails or is interrupted.
* Every phase has a deadline; the whole run is bounded in time.
* A response is counted only if its status is 200; any other outcome is an error, and a run
  with errors says so loudly and exits with status 1. Goals missed do not change the status:
  this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, Literal

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"
)

STARTUP_DEADLINE_S = 60.0
STARTUP_POLL_S = 0.005
IDLE_SETTLE_S = 0.5
SEED_DEADLINE_S = 30.0
STOP_DEADLINE_S = 5.0
IO_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 30.0
CEILING_SECONDS = 5.0
BUSY_MACHINE_SHARE = 0.10  # other processes' CPU, in cores, above which a measurement is flagged

GOAL_THROUGHPUT_RATIO = 5.0
GOAL_P99_MS = 5.0
GOAL_STARTUP_RATIO = 0.5
GOAL_IDLE_RSS_MIB = 60.0

ECSEMU_OPTIONS = ("--ephemeral", "--runtime", "simulated")

ClientMode = Literal["threads", "processes"]

CONTAINER = {"name": "app", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128, "essential": True}
SEED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("CreateCluster", {"clusterName": "bench"}),
    ("RegisterTaskDefinition", {"family": "bench", "containerDefinitions": [CONTAINER]}),
    (
        "CreateService",
        {"cluster": "bench", "serviceName": "web", "taskDefinition": "bench", "desiredCount": 2, "launchType": "EC2"},
    ),
)
WORKLOAD: tuple[tuple[str, dict[str, Any]], ...] = (
    ("DescribeClusters", {"clusters": ["bench"]}),
    ("RegisterTaskDefinition", {"family": "bench-load", "containerDefinitions": [CONTAINER]}),
    ("DescribeServices", {"cluster": "bench", "services": ["web"]}),
    ("ListTasks", {"cluster": "bench"}),
)


# --------------------------------------------------------------------------------------------
# The wire


@dataclass(frozen=True)
class Prepared:
    """One request, encoded once: the hot loop only sends bytes."""

    operation: str
    body: bytes
    headers: dict[str, str]


def prepare(operation: str, params: dict[str, Any]) -> Prepared:
    headers = {
        "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": AUTHORIZATION,
    }
    return Prepared(operation, json.dumps(params, separators=(",", ":")).encode(), headers)


class BenchConnection(http.client.HTTPConnection):
    """``http.client``'s connection, closed with a reset instead of a FIN.

    Both servers close the connection after every answer, so each request opens a new one; at
    thousands per second the TIME_WAIT sockets of a normal close use up the 28k ephemeral
    ports of loopback within seconds, and then connects stall (moto measured 3x slower, with
    a p99 of 160 ms, after ecsemu's run). A zero linger leaves no TIME_WAIT on either side.
    The server has already written its whole answer when we close, so it loses nothing.
    """

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def exchange(conn: http.client.HTTPConnection, request: Prepared) -> tuple[int, bytes]:
    conn.request("POST", "/", body=request.body, headers=request.headers)
    response = conn.getresponse()
    return response.status, response.read()


def call(port: int, operation: str, params: dict[str, Any], timeout: float = IO_TIMEOUT_S) -> dict[str, Any]:
    """One request on its own connection; raises unless the answer is 200."""
    conn = BenchConnection(HOST, port, timeout=timeout)
    try:
        status, body = exchange(conn, prepare(operation, params))
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"{operation} answered {status}: {body[:300]!r}")
    result: dict[str, Any] = json.loads(body) if body else {}
    return result


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of all the threads of process ``pid`` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine so far (all CPUs, from /proc/stat).

    User and system time only, as for a process in ``cpu_seconds``: interrupt time (much of it
    loopback networking for our own connections) is attributed to no process.
    """
    user, nice, system = (int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# The load generator (runs in client threads or client processes)


@dataclass
class WorkerResult:
    ok: int = 0
    errors: int = 0
    reconnects: int = 0
    opened: int = 0  # measured requests that had to open a new connection first
    first_error: str = ""
    latencies: bytes = b""  # array("d") of seconds, measured requests only


def drive(port: int, offset: int, warmup_s: float, seconds: float, control: Connection) -> None:
    """One connection: connect, say ready, wait for go, cycle the workload, send the result."""
    requests = [prepare(op, params) for op, params in WORKLOAD]
    conn = BenchConnection(HOST, port, timeout=IO_TIMEOUT_S)
    result = WorkerResult()
    latencies = array("d")
    try:
        conn.connect()
        control.send("ready")
        control.recv()  # go
        measure_from = time.monotonic() + warmup_s
        end = measure_from + seconds
        index = offset
        count = len(requests)
        while True:
            start = time.monotonic()
            if start >= end:
                break
            request = requests[index % count]
            index += 1
            fresh = conn.sock is None  # http.client reopens by itself after a "Connection: close"
            try:
                status, body = exchange(conn, request)
            except (OSError, http.client.HTTPException):
                # The server closed a kept-alive connection: reopen once and retry.
                conn.close()
                result.reconnects += 1
                try:
                    status, body = exchange(conn, request)
                except (OSError, http.client.HTTPException) as error:
                    conn.close()
                    status, body = -1, repr(error).encode()
            finish = time.monotonic()
            if start < measure_from or finish > end:
                continue
            result.opened += fresh
            if status == 200:
                result.ok += 1
                latencies.append(finish - start)
            else:
                result.errors += 1
                if not result.first_error:
                    result.first_error = f"{request.operation}: {status} {body[:200]!r}"
    finally:
        conn.close()
    result.latencies = latencies.tobytes()
    control.send(result)
    control.close()


@dataclass
class LoadResult:
    seconds: float
    ok: int
    errors: int
    reconnects: int
    opened: int
    first_error: str
    client_cpu_s: float
    others_cpu_s: float  # every other process on the machine: a busy machine skews the figures
    server_cpu_s: float | None
    latencies: list[float] = field(repr=False)
    attempts: int = 1  # measurements made; the quietest is kept (see ``quietest``)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    @property
    def opened_per_request(self) -> float:
        return self.opened / max(1, self.ok + self.errors)

    @property
    def client_cpu_share(self) -> float:
        """The client's CPU time over wall time while measured: 1.0 is one core kept busy."""
        return self.client_cpu_s / self.seconds

    @property
    def others_cpu_share(self) -> float:
        return self.others_cpu_s / self.seconds

    @property
    def server_cpu_share(self) -> float:
        """The server's CPU time over wall time while measured: 1.0 is one core kept busy."""
        return math.nan if self.server_cpu_s is None else self.server_cpu_s / self.seconds

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        rank = max(0, math.ceil(q * len(self.latencies)) - 1)
        return self.latencies[rank] * 1000.0


def run_load(
    port: int,
    mode: ClientMode,
    connections: int,
    warmup_s: float,
    seconds: float,
    server_pid: int | None = None,
) -> LoadResult:
    """``connections`` connections in parallel, each its own thread or process, same start.

    The CPU time of the client (this process and its client processes) and of the server (when
    its PID is given) is read as the measurement starts and as it ends.
    """
    pipes: list[Connection] = []
    runners: list[threading.Thread | multiprocessing.process.BaseProcess] = []
    context = multiprocessing.get_context("spawn")
    for offset in range(connections):
        ours, theirs = multiprocessing.Pipe()
        args = (port, offset, warmup_s, seconds, theirs)
        runner: threading.Thread | multiprocessing.process.BaseProcess
        if mode == "threads":
            runner = threading.Thread(target=drive, args=args, daemon=True)
        else:
            runner = context.Process(target=drive, args=args, daemon=True)
        runner.start()
        pipes.append(ours)
        runners.append(runner)
    deadline = warmup_s + seconds + IO_TIMEOUT_S * 2 + HANDSHAKE_TIMEOUT_S
    try:
        for pipe in pipes:
            if not pipe.poll(HANDSHAKE_TIMEOUT_S) or pipe.recv() != "ready":
                raise RuntimeError("a client connection did not get ready in time")
        for pipe in pipes:
            pipe.send("go")
        client_pids = [os.getpid()]
        client_pids += [r.pid for r in runners if isinstance(r, multiprocessing.process.BaseProcess) and r.pid]
        pids: dict[str, list[int]] = {"client": client_pids, "server": [server_pid] if server_pid else []}
        time.sleep(warmup_s)
        before = {side: sum(map(cpu_seconds, ids)) for side, ids in pids.items()}
        machine_before = machine_busy_seconds()
        time.sleep(seconds)
        after = {side: sum(map(cpu_seconds, ids)) for side, ids in pids.items()}
        machine_s = machine_busy_seconds() - machine_before
        results: list[WorkerResult] = []
        for pipe in pipes:
            if not pipe.poll(deadline):
                raise RuntimeError("a client connection did not finish in time")
            results.append(pipe.recv())
    finally:
        for runner in runners:
            runner.join(STOP_DEADLINE_S)
            if isinstance(runner, multiprocessing.process.BaseProcess) and runner.is_alive():
                runner.kill()  # our own child, by its handle
                runner.join(STOP_DEADLINE_S)
    latencies: list[float] = []
    for result in results:
        chunk = array("d")
        chunk.frombytes(result.latencies)
        latencies.extend(chunk)
    latencies.sort()
    return LoadResult(
        seconds=seconds,
        ok=sum(r.ok for r in results),
        errors=sum(r.errors for r in results),
        reconnects=sum(r.reconnects for r in results),
        opened=sum(r.opened for r in results),
        client_cpu_s=after["client"] - before["client"],
        others_cpu_s=max(0.0, machine_s - sum(after.values()) + sum(before.values())),
        server_cpu_s=after["server"] - before["server"] if server_pid else None,
        first_error=next((r.first_error for r in results if r.first_error), ""),
        latencies=latencies,
    )


def quietest(measure: Callable[[], LoadResult], retries: int, what: str) -> LoadResult:
    """Measure again, up to ``retries`` times, while other processes were busy; keep the quietest.

    On a shared machine a burst of someone else's work skews one measurement; it rarely lasts.
    """
    best = measure()
    attempts = 1
    while best.others_cpu_share > BUSY_MACHINE_SHARE and attempts <= retries:
        print(
            f"  {what}: other processes used {best.others_cpu_share:.0%} of a core; measuring again",
            file=sys.stderr,
            flush=True,
        )
        candidate = measure()
        attempts += 1
        if candidate.others_cpu_share < best.others_cpu_share:
            best = candidate
    best.attempts = attempts
    return best


# --------------------------------------------------------------------------------------------
# The trivial responder: the client's ceiling

CEILING_KEEP_ALIVE = "keep-alive"
CEILING_CLOSE = "new connection per request"
_CANNED = b'{"clusters":[],"failures":[]}'


def canned_response(close: bool) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: 0\r\n"
        + (b"Connection: close\r\n" if close else b"")
        + b"Content-Length: "
        + str(len(_CANNED)).encode()
        + b"\r\n\r\n"
        + _CANNED
    )


def respond_trivially(port: int, close: bool, cpus: set[int] | None, ready: Connection) -> None:
    """A canned 200 to every request (asyncio, no HTTP library); with ``close``, closing the
    connection after each answer as werkzeug's server does, else keeping it alive."""
    import asyncio  # noqa: PLC0415  (only the responder process needs it)

    if cpus:
        os.sched_setaffinity(0, cpus)
    response = canned_response(close)

    class Canned(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = b""
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                length = 0
                for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                total = head_end + 4 + length
                if len(self.buffer) < total:
                    return
                self.buffer = self.buffer[total:]
                assert self.transport is not None
                self.transport.write(response)
                if close:
                    self.transport.close()
                    return

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Canned, HOST, port)
        ready.send("ready")
        async with server:
            await loop.run_in_executor(None, ready.recv)  # until told to stop (or EOF)

    with contextlib.suppress(EOFError):  # the parent went away: stop too
        asyncio.run(serve())


def measure_ceiling(
    close: bool,
    mode: ClientMode,
    connections: int,
    warmup_s: float,
    seconds: float,
    cpus: set[int] | None,
    retries: int,
) -> LoadResult:
    kind = CEILING_CLOSE if close else CEILING_KEEP_ALIVE
    port = free_port()
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=respond_trivially, args=(port, close, cpus, theirs), daemon=True
    )
    process.start()
    try:
        if not ours.poll(HANDSHAKE_TIMEOUT_S) or ours.recv() != "ready":
            raise RuntimeError("the trivial responder did not start")
        return quietest(
            lambda: run_load(port, mode, connections, warmup_s, seconds), retries, f"client ceiling ({kind})"
        )
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(STOP_DEADLINE_S)
        if process.is_alive():
            process.kill()  # our own child, by its handle
            process.join(STOP_DEADLINE_S)


# --------------------------------------------------------------------------------------------
# Servers under test


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: Callable[[int], list[str]]
    env: dict[str, str]
    wait_running: bool  # ecsemu really runs the service's tasks; moto only records them


def ecsemu_spec() -> ServerSpec:
    path = os.environ.get("PYTHONPATH", "")
    env = {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)}
    return ServerSpec(
        "ecsemu",
        lambda port: [sys.executable, "-m", "ecsemu", "serve", *ECSEMU_OPTIONS, "--port", str(port)],
        env,
        wait_running=True,
    )


def moto_spec() -> ServerSpec:
    # The real console script beside this interpreter, not a version manager's shell shim in
    # front of it: the shim's own start-up is not moto's.
    script = Path(sys.executable).parent / "moto_server"
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    return ServerSpec("moto", lambda port: [*prefix, "-H", HOST, "-p", str(port)], {}, wait_running=False)


class ServerProcess:
    """One spawned server; stopped by its PID, never by name."""

    def __init__(self, spec: ServerSpec, cpus: set[int] | None) -> None:
        self.spec = spec
        self.port = free_port()
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        env = {**os.environ, **spec.env}
        self.spawned_at = time.monotonic()
        self.process = subprocess.Popen(
            spec.command(self.port),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if cpus:
            os.sched_setaffinity(self.process.pid, cpus)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> float:
        """Milliseconds from spawn to the first 200 answer to ListClusters."""
        deadline = self.spawned_at + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                call(self.port, "ListClusters", {}, timeout=1.0)
            except (OSError, http.client.HTTPException, RuntimeError):
                time.sleep(STARTUP_POLL_S)
                continue
            return (time.monotonic() - self.spawned_at) * 1000.0
        raise RuntimeError(f"{self.spec.name} did not answer within {STARTUP_DEADLINE_S:.0f} s:\n{self.log_tail()}")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return math.nan

    def log_tail(self, size: int = 2000) -> str:
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - size))
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_DEADLINE_S)
        self.log.close()


def seed(server: ServerProcess) -> None:
    """The same state in both; for ecsemu, wait until the service really runs its 2 tasks."""
    for operation, params in SEED:
        call(server.port, operation, params)
    if server.spec.wait_running:
        deadline = time.monotonic() + SEED_DEADLINE_S
        while True:
            service = call(server.port, "DescribeServices", {"cluster": "bench", "services": ["web"]})["services"][0]
            if service.get("runningCount") == 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.spec.name}: service not running 2 tasks after {SEED_DEADLINE_S:.0f} s")
            time.sleep(0.05)
    for operation, params in WORKLOAD:  # preflight: every workload request answers 200
        call(server.port, operation, params)


@dataclass
class ServerFigures:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int
    reconnects: int
    opened_per_request: float
    server_cpu_share: float
    client_cpu_share: float
    others_cpu_share: float
    attempts: int
    first_error: str
    startup_ms: float
    startup_runs_ms: list[float]
    rss_idle_mib: float
    rss_after_mib: float


def measure_server(
    spec: ServerSpec, args: argparse.Namespace, cpus: set[int] | None, started: list[ServerProcess]
) -> ServerFigures:
    startups: list[float] = []
    server: ServerProcess | None = None
    for run in range(args.startup_runs):
        server = ServerProcess(spec, cpus)
        started.append(server)
        startups.append(server.wait_ready())
        if run < args.startup_runs - 1:
            server.stop()
    assert server is not None
    time.sleep(IDLE_SETTLE_S)
    rss_idle = server.rss_mib()
    seed(server)
    load = quietest(
        lambda: run_load(server.port, args.clients, args.connections, args.warmup, args.seconds, server.pid),
        args.busy_retries,
        spec.name,
    )
    rss_after = server.rss_mib()
    server.stop()
    return ServerFigures(
        name=spec.name,
        rps=load.rps,
        p50_ms=load.percentile_ms(0.50),
        p99_ms=load.percentile_ms(0.99),
        ok=load.ok,
        errors=load.errors,
        reconnects=load.reconnects,
        opened_per_request=load.opened_per_request,
        server_cpu_share=load.server_cpu_share,
        client_cpu_share=load.client_cpu_share,
        others_cpu_share=load.others_cpu_share,
        attempts=load.attempts,
        first_error=load.first_error,
        startup_ms=statistics.median(startups),
        startup_runs_ms=startups,
        rss_idle_mib=rss_idle,
        rss_after_mib=rss_after,
    )


# --------------------------------------------------------------------------------------------
# Report


@dataclass
class Goal:
    name: str
    target: str
    value: str
    met: bool


def goals(ecsemu: ServerFigures, moto: ServerFigures) -> list[Goal]:
    throughput = ecsemu.rps / moto.rps
    startup = ecsemu.startup_ms / moto.startup_ms
    return [
        Goal(
            "throughput vs moto",
            f">= {GOAL_THROUGHPUT_RATIO:g}x",
            f"{throughput:.2f}x",
            throughput >= GOAL_THROUGHPUT_RATIO,
        ),
        Goal("ecsemu p99 latency", f"<= {GOAL_P99_MS:g} ms", f"{ecsemu.p99_ms:.2f} ms", ecsemu.p99_ms <= GOAL_P99_MS),
        Goal("start-up vs moto", f"<= {GOAL_STARTUP_RATIO:g}x", f"{startup:.2f}x", startup <= GOAL_STARTUP_RATIO),
        Goal(
            "ecsemu idle RSS",
            f"<= {GOAL_IDLE_RSS_MIB:g} MiB",
            f"{ecsemu.rss_idle_mib:.1f} MiB",
            ecsemu.rss_idle_mib <= GOAL_IDLE_RSS_MIB,
        ),
    ]


def print_report(
    args: argparse.Namespace,
    pinning: str,
    ceilings: dict[str, LoadResult],
    figures: Sequence[ServerFigures],
    met: list[Goal],
) -> None:
    print(
        f"api_throughput: {args.connections} connections ({args.clients}), {args.seconds:g} s per server after "
        f"{args.warmup:g} s warm-up; {pinning}"
    )
    for kind, ceiling in ceilings.items():
        print(
            f"client ceiling, trivial responder, {kind}: {ceiling.rps:,.0f} req/s, "
            f"p50 {ceiling.percentile_ms(0.5):.2f} ms, p99 {ceiling.percentile_ms(0.99):.2f} ms, "
            f"CPU: client {ceiling.client_cpu_share:.0%}, other processes {ceiling.others_cpu_share:.0%} of a core"
            + (f" (quietest of {ceiling.attempts})" if ceiling.attempts > 1 else "")
        )
    print()
    columns = (
        ("req/s", 9),
        ("p50 ms", 8),
        ("p99 ms", 8),
        ("errors", 7),
        ("start-up ms", 12),
        ("RSS idle MiB", 13),
        ("RSS after MiB", 14),
    )
    print(f"{'server':<8}" + "".join(f" {title:>{width}}" for title, width in columns))
    for f in figures:
        print(
            f"{f.name:<8} {f.rps:>9,.0f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.errors:>7} {f.startup_ms:>12.0f} "
            f"{f.rss_idle_mib:>13.1f} {f.rss_after_mib:>14.1f}"
        )
    for f in figures:
        runs = ", ".join(f"{ms:.0f}" for ms in f.startup_runs_ms)
        matching = ceilings.get(CEILING_CLOSE if f.opened_per_request > 0.5 else CEILING_KEEP_ALIVE)
        share = f"; {f.rps / matching.rps:.0%} of the client's ceiling" if matching else ""
        print(
            f"  {f.name}: start-up runs {runs} ms (median shown); CPU while measured: server {f.server_cpu_share:.0%}, "
            f"client {f.client_cpu_share:.0%}, other processes {f.others_cpu_share:.0%} of a core"
            + (f" (quietest of {f.attempts} measurements)" if f.attempts > 1 else "")
        )
        print(
            f"  {' ' * len(f.name)}  new connections per request {f.opened_per_request:.2f}; "
            f"reconnects after a failure {f.reconnects}{share}"
        )
    closers = [f.name for f in figures if f.opened_per_request > 0.5]
    if closers:
        print(
            f"  note: {' and '.join(closers)} closed the connection after every response (werkzeug's server always "
            "sends Connection: close): each request paid a TCP connect and, in the server, a new thread"
        )
    ecsemu, moto = figures
    print()
    print(
        f"ratios ecsemu/moto: throughput {ecsemu.rps / moto.rps:.2f}x, p99 {ecsemu.p99_ms / moto.p99_ms:.2f}x, "
        f"start-up {ecsemu.startup_ms / moto.startup_ms:.2f}x"
    )
    print("goals:")
    for goal in met:
        print(f"  {'PASS' if goal.met else 'MISS'}  {goal.name:<20} {goal.target:<12} measured {goal.value}")
    print_errors(figures, ceilings)


def print_errors(figures: Sequence[ServerFigures], ceilings: dict[str, LoadResult]) -> None:
    for f in figures:
        if f.errors:
            print(f"\n!!! {f.name}: {f.errors} ERRORS out of {f.ok + f.errors} requests; first: {f.first_error}")
    for kind, ceiling in ceilings.items():
        if ceiling.errors:
            print(f"\n!!! client ceiling, {kind}: {ceiling.errors} ERRORS; first: {ceiling.first_error}")
    if any(f.errors for f in figures):
        print("!!! THIS RUN HAD ERRORS: its figures are not comparable.")
    busy = busy_phases(figures, ceilings)
    if busy:
        print(
            f"\n!!! THE MACHINE WAS BUSY: other processes used a share of a core while measuring ({', '.join(busy)}); "
            "the figures are skewed, run again on a quiet machine."
        )


def busy_phases(figures: Sequence[ServerFigures], ceilings: dict[str, LoadResult]) -> list[str]:
    """The measurements during which other processes used more than a little CPU."""
    busy = [f"{f.name} {f.others_cpu_share:.0%}" for f in figures if f.others_cpu_share > BUSY_MACHINE_SHARE]
    busy += [f"{k} {c.others_cpu_share:.0%}" for k, c in ceilings.items() if c.others_cpu_share > BUSY_MACHINE_SHARE]
    return busy


def summary(
    args: argparse.Namespace,
    pinning: str,
    ceilings: dict[str, LoadResult],
    figures: Sequence[ServerFigures],
    met: list[Goal],
) -> dict[str, Any]:
    ecsemu, moto = figures
    return {
        "connections": args.connections,
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "pinning": pinning,
        "client_ceilings": {
            kind: {
                "rps": ceiling.rps,
                "p50_ms": ceiling.percentile_ms(0.5),
                "p99_ms": ceiling.percentile_ms(0.99),
                "errors": ceiling.errors,
                "client_cpu_share": ceiling.client_cpu_share,
                "others_cpu_share": ceiling.others_cpu_share,
                "attempts": ceiling.attempts,
            }
            for kind, ceiling in ceilings.items()
        },
        "servers": {f.name: asdict(f) for f in figures},
        "ratios": {
            "throughput": ecsemu.rps / moto.rps,
            "p99": ecsemu.p99_ms / moto.p99_ms,
            "startup": ecsemu.startup_ms / moto.startup_ms,
        },
        "goals": [asdict(goal) for goal in met],
        "errors": any(f.errors for f in figures),
        "machine_busy": busy_phases(figures, ceilings),
    }


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each measurement (default 1)"
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    parser.add_argument(
        "--clients", choices=["threads", "processes"], default="threads",
        help="one thread per connection in this process (default) or one client process per connection",
    )  # fmt: skip
    parser.add_argument(
        "--startup-runs", type=int, default=3, help="spawns per server to time start-up; median (default 3)"
    )
    parser.add_argument(
        "--busy-retries", type=int, default=2,
        help="measure a phase again, up to N times, while other processes use the CPU; keep the quietest (default 2)",
    )  # fmt: skip
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and client to separate CPUs")
    parser.add_argument("--no-ceiling", action="store_true", help="skip measuring the client's ceiling")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary instead of the table")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.connections < 1 or args.startup_runs < 1 or args.busy_retries < 0:
        parser.error("--seconds must be > 0, --warmup and --busy-retries >= 0, --connections and --startup-runs >= 1")
    if args.seconds > 600:
        parser.error("--seconds is capped at 600 to keep the run bounded")
    return args


def choose_pinning(no_pin: bool) -> tuple[set[int] | None, str]:
    available = sorted(os.sched_getaffinity(0))
    if no_pin or len(available) < 2:
        return None, f"not pinned ({len(available)} CPUs shared by servers and client)"
    server_cpus, client_cpus = {available[0]}, set(available[1:])
    os.sched_setaffinity(0, client_cpus)  # this process and the client threads/processes it starts
    return server_cpus, f"servers pinned to CPU {sorted(server_cpus)}, client to CPU {sorted(client_cpus)}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_cpus, pinning = choose_pinning(args.no_pin)
    started: list[ServerProcess] = []

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        log = sys.stderr
        ceilings: dict[str, LoadResult] = {}
        if not args.no_ceiling:
            for kind, close in ((CEILING_KEEP_ALIVE, False), (CEILING_CLOSE, True)):
                print(f"measuring the client's ceiling ({kind})...", file=log, flush=True)
                seconds = min(args.seconds, CEILING_SECONDS)
                ceilings[kind] = measure_ceiling(
                    close, args.clients, args.connections, args.warmup, seconds, server_cpus, args.busy_retries
                )
        figures = []
        for spec in (ecsemu_spec(), moto_spec()):
            print(f"measuring {spec.name}...", file=log, flush=True)
            figures.append(measure_server(spec, args, server_cpus, started))
    finally:
        for server in started:
            server.stop()
    met = goals(*figures)
    if args.json:
        print(json.dumps(summary(args, pinning, ceilings, figures, met), indent=2))
    else:
        print_report(args, pinning, ceilings, figures, met)
    return 1 if any(f.errors for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
