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
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

# api_load.py sits beside this script (its directory is first on sys.path, here and in the client processes).
from api_load import (
    BUSY_MACHINE_SHARE,
    CEILING_CLOSE,
    CEILING_KEEP_ALIVE,
    CONTAINER,
    HOST,
    STOP_DEADLINE_S,
    WORKLOAD,
    LoadResult,
    call,
    free_port,
    measure_ceiling,
    quietest,
    run_load,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_DEADLINE_S = 60.0
STARTUP_POLL_S = 0.005
IDLE_SETTLE_S = 0.5
SEED_DEADLINE_S = 30.0
CEILING_SECONDS = 5.0
GOAL_THROUGHPUT_RATIO = 5.0
GOAL_P99_MS = 5.0
GOAL_STARTUP_RATIO = 0.5
GOAL_IDLE_RSS_MIB = 60.0

ECSEMU_OPTIONS = ("--ephemeral", "--runtime", "simulated")

SEED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("CreateCluster", {"clusterName": "bench"}),
    ("RegisterTaskDefinition", {"family": "bench", "containerDefinitions": [CONTAINER]}),
    (
        "CreateService",
        {"cluster": "bench", "serviceName": "web", "taskDefinition": "bench", "desiredCount": 2, "launchType": "EC2"},
    ),
)


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
