"""The load side of ``api_throughput.py``: raw AWS JSON 1.1 requests over persistent
connections, the client threads or processes that drive a server, their figures, and the
client's own ceiling measured against a trivial responder. See ``api_throughput.py``'s
docstring for the vocabulary (workload, connection, pinning, ceiling).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import multiprocessing
import os
import socket
import struct
import sys
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

HOST = "127.0.0.1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"
)

STOP_DEADLINE_S = 5.0
IO_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 30.0
BUSY_MACHINE_SHARE = 0.10  # other processes' CPU, in cores, above which a measurement is flagged

ClientMode = Literal["threads", "processes"]

CONTAINER = {"name": "app", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128, "essential": True}
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
