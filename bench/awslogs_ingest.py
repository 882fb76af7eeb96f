"""The awslogs driver's ingest: a task printing 200,000 lines, every one of them in CloudWatch Logs,
beside ``docker logs`` reading the same lines in the same run.

    python bench/awslogs_ingest.py                 # about 30 s
    python bench/awslogs_ingest.py --lines 500000 --docker-runs 5
    python bench/awslogs_ingest.py --durable       # a store on disk (as users run it), not in memory
    python bench/awslogs_ingest.py --profile       # cProfile of the follower and flusher threads

It builds an Emulator in this process (``--runtime docker``, ephemeral unless ``--durable``,
``keep_stopped_containers`` so the container outlives its task), measures this process's idle
CPU for ``--idle`` seconds, then runs one task of the test image (``ecsemu-test/web:latest``,
busybox) whose one container runs ``seq 1 <lines>`` with the ``awslogs`` driver, and polls the
log stream's counters in the store every 10 ms (no API calls while measuring: the bench's own
client would count as ecsemu's CPU). It prints:

- **every line kept**: the stream read back through the model holds exactly ``1..lines``, in
  order (and GetLogEvents' first page agrees); and whether they were all stored before the task
  said STOPPED (the container is kept, so lines read after that still arrive and are counted);
- **ingest rate** in lines/s, over the first line stored → the last line stored, and over
  RunTask → the last line stored (container start included);
- **ecsemu's CPU per 10,000 lines**: this process's CPU time (``time.process_time``: every
  thread) over RunTask → all stored, less the idle baseline for as long; and how much of it the
  follower thread spent reading and parsing, and handing lines to the writer and the store;
- the peer: ``docker logs --timestamps <container>`` (what ecsemu's follower asks the engine
  for) and plain ``docker logs``, ``--docker-runs`` times each, the median: the CLI's CPU
  (``RUSAGE_CHILDREN``) and wall time, its output counted; and, for information, the Docker
  daemon's CPU in both (from ``/proc/<dockerd>/stat``, when dockerd is a process here);
- **PASS/MISS** for the goals: every line kept (and stored before STOPPED), ≥ 20,000 lines/s,
  ecsemu's CPU ≤ 2x the CPU of ``docker logs --timestamps``.

Only 127.0.0.1 is contacted. The task's containers are removed by id at the end (they carry
ecsemu's labels); nothing else is touched.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import docker, poll

from ecsemu.app import Emulator
from ecsemu.config import Config
from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.model.logs import LogStore
from ecsemu.runtime import docker_logs

IMAGE = "ecsemu-test/web:latest"
SCOPE = Scope("123456789012", "us-east-1")
CLUSTER, FAMILY, GROUP, PREFIX = "bench-awslogs", "bench-awslogs", "/bench/awslogs", "bench"
GOAL_RATE = 20_000.0
GOAL_CPU_RATIO = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def dockerd_cpu() -> float | None:
    """The Docker daemon's CPU seconds so far, when it is a process of this machine."""
    try:
        pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False).stdout.split()
        fields = Path(f"/proc/{pids[0]}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (IndexError, OSError, ValueError):
        return None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def idle_cpu_rate(seconds: float) -> float:
    """This process's CPU seconds per second while the emulator idles."""
    start_cpu, start = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - start_cpu) / (time.monotonic() - start)


class Profiled:
    """cProfile on every follower and flusher thread (``--profile``): the bench wraps the
    methods those threads run; ecsemu is unchanged."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def install(self) -> None:
        for name in ("_follow", "_flush_loop"):
            original = getattr(docker_logs.LogFollowers, name)
            setattr(docker_logs.LogFollowers, name, self._wrap(original))

    def _wrap(self, function: Any) -> Any:
        def run(*args: Any) -> Any:
            profile = cProfile.Profile()
            with self.lock:
                self.profiles.append(profile)
            return profile.runcall(function, *args)

        return run

    def report(self, top: int = 30) -> str:
        out = io.StringIO()
        with self.lock:
            profiles = [p for p in self.profiles if p.getstats()]
        if not profiles:
            return "(nothing profiled)"
        stats = pstats.Stats(profiles[0], stream=out)
        for profile in profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


class ThreadCpu:
    """Where ecsemu's CPU goes, without a profiler: the follower threads' own CPU time
    (``time.thread_time``), and the part of it spent handing lines to the sink (the awslogs
    writer and the store). The bench wraps those two methods; ecsemu is unchanged."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.follower = 0.0
        self.sink = 0.0  # handing on, in the follower threads
        self.flusher = 0.0  # handing on, in the flusher thread

    def install(self) -> None:
        follow, hand_on = docker_logs.LogFollowers._follow, docker_logs._Batch.hand_on

        def timed_follow(*args: Any) -> Any:
            start = time.thread_time()
            try:
                return follow(*args)
            finally:
                with self.lock:
                    self.follower += time.thread_time() - start

        def timed_hand_on(batch: Any, sink: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return hand_on(batch, sink, **kwargs)
            finally:
                spent = time.thread_time() - start
                with self.lock:
                    if threading.current_thread().name == "ecsemu-logs-flush":
                        self.flusher += spent
                    else:
                        self.sink += spent

        docker_logs.LogFollowers._follow = timed_follow  # type: ignore[method-assign]
        docker_logs._Batch.hand_on = timed_hand_on  # type: ignore[method-assign]


def run_docker_logs(container_id: str, lines: int, *, timestamps: bool) -> tuple[float, float, float | None]:
    """(CLI CPU s, wall s, daemon CPU s) of one ``docker logs`` reading the container's output."""
    command = ["docker", "logs", *(["--timestamps"] if timestamps else []), container_id]
    cpu, daemon, start = children_cpu(), dockerd_cpu(), time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        count = sum(chunk.count(b"\n") for chunk in iter(lambda: process.stdout.read(1 << 20), b""))  # type: ignore[union-attr]
        process.wait(timeout=120)
    wall = time.monotonic() - start
    after = dockerd_cpu()
    if count != lines:
        raise SystemExit(f"docker logs printed {count} lines, not {lines}")
    return children_cpu() - cpu, wall, (after - daemon) if after is not None and daemon is not None else None


def stored_count(logs: LogStore, stream: str) -> int:
    """Events stored in the stream so far (its counters; no read of the events)."""
    current = logs.stream(SCOPE, GROUP, stream)
    return 0 if current is None else current.next_seq - 1  # seq numbers start at 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--docker-runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline")
    parser.add_argument("--durable", action="store_true", help="a store on disk (temporary directory)")
    parser.add_argument("--profile", action="store_true", help="cProfile the follower threads")
    args = parser.parse_args()
    if not 1 <= args.lines <= 10_000_000 or not 1 <= args.docker_runs <= 20:
        parser.error("--lines must be 1..10,000,000 and --docker-runs 1..20")
    logging.basicConfig(level=logging.WARNING)
    docker("image", "inspect", IMAGE)  # exits loudly when the image is missing (scripts/build-test-images.sh)

    profiled = Profiled()
    thread_cpu = ThreadCpu()
    if args.profile:
        profiled.install()
    else:
        thread_cpu.install()
    data_dir = Path(tempfile.mkdtemp(prefix="ecsemu-bench-awslogs-"))
    config = Config(
        port=0,
        ephemeral=not args.durable,
        data_dir=data_dir,
        runtime="docker",
        keep_stopped_containers=True,
        log_level="WARNING",
        quiet=True,
    )
    emulator = Emulator.build(config)
    emulator.start()
    task_arn = ""
    container_ids: list[str] = []
    try:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=SCOPE.region
        )
        ecs = session.client("ecs", endpoint_url=emulator.endpoint)
        logs_api = session.client("logs", endpoint_url=emulator.endpoint)
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(
            family=FAMILY,
            containerDefinitions=[
                {
                    "name": "main",
                    "image": IMAGE,
                    "memory": 128,
                    "command": ["seq", "1", str(args.lines)],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": GROUP,
                            "awslogs-region": SCOPE.region,
                            "awslogs-stream-prefix": PREFIX,
                            "awslogs-create-group": "true",
                        },
                    },
                }
            ],
        )
        logs = LogStore(emulator.store)
        idle_rate = idle_cpu_rate(args.idle)

        # --- ecsemu: RunTask → every line stored -------------------------------------------
        cpu_start, started = time.process_time(), time.monotonic()
        task_arn = ecs.run_task(cluster=CLUSTER, taskDefinition=FAMILY)["tasks"][0]["taskArn"]
        stream = f"{PREFIX}/main/{task_arn.rsplit('/', 1)[1]}"
        key = task_arn.split(":", 5)[5].removeprefix("task/")
        first_stored: float | None = None
        stored_at_stop: int | None = None  # lines stored when the task said STOPPED, if before all
        deadline = time.monotonic() + 300
        progress = (0, time.monotonic())
        longest_stall = 0.0  # the longest wait between two stored batches, once storing began
        while True:
            count = stored_count(logs, stream)
            now = time.monotonic()
            if count and first_stored is None:
                first_stored = now
            if count >= args.lines:
                break
            if count != progress[0]:
                longest_stall = max(longest_stall, now - progress[1]) if count and progress[0] else longest_stall
                progress = (count, now)
            if stored_at_stop is None:
                record = emulator.store.get(SCOPE, task_model.KIND, key)
                if record is not None and record["status"].get("lastStatus") == "STOPPED":
                    stored_at_stop = count
            if now > deadline or (stored_at_stop is not None and now - progress[1] > 60):
                raise SystemExit(
                    f"{count} of {args.lines} lines stored, and no more coming"
                    + (f" (the task said STOPPED with {stored_at_stop} stored)" if stored_at_stop is not None else "")
                )
            time.sleep(0.01)
        all_stored = time.monotonic()
        cpu_used = time.process_time() - cpu_start
        elapsed = all_stored - started
        ecsemu_cpu = max(0.0, cpu_used - idle_rate * elapsed)

        def stopped() -> dict[str, Any] | None:
            task = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
            return task if task["lastStatus"] == "STOPPED" else None

        task = poll(stopped, "the task to stop", interval=0.1)
        stopped_at = time.monotonic()
        container_id = str(task["containers"][0]["runtimeId"])
        container_ids = docker(
            "ps", "-aq", "--no-trunc", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}"
        ).split()

        # --- every line kept ------------------------------------------------------------------
        events = logs.read(SCOPE, GROUP, stream, start=None, end=None, limit=args.lines + 10)
        kept = [e.message for e in events] == [str(i) for i in range(1, args.lines + 1)]
        page = logs_api.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=3)
        kept = kept and [e["message"] for e in page["events"]] == ["1", "2", "3"]

        # --- the peer: docker logs of the same container -------------------------------------
        peers: dict[str, tuple[float, float, float | None]] = {}
        for timestamps in (True, False):
            runs = [run_docker_logs(container_id, args.lines, timestamps=timestamps) for _ in range(args.docker_runs)]
            daemon = [r[2] for r in runs if r[2] is not None]
            peers["docker logs --timestamps" if timestamps else "docker logs"] = (
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
                statistics.median(daemon) if daemon else None,
            )
    finally:
        emulator.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
        for container_id in container_ids:
            subprocess.run(["docker", "rm", "-f", container_id], capture_output=True, check=False, timeout=60)
        if task_arn:
            left = docker("ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}").split()
            for container_id in left:
                subprocess.run(["docker", "rm", "-f", container_id], capture_output=True, check=False, timeout=60)

    assert first_stored is not None
    window = max(all_stored - first_stored, 1e-9)
    rate_window, rate_total = args.lines / window, args.lines / elapsed
    per_10k = ecsemu_cpu / args.lines * 10_000
    peer_cpu, _peer_wall, peer_daemon = peers["docker logs --timestamps"]
    peer_per_10k = peer_cpu / args.lines * 10_000
    ratio = per_10k / peer_per_10k if peer_per_10k else float("inf")

    print(f"awslogs ingest: {args.lines:,} lines, store {'durable (SQLite file)' if args.durable else 'in memory'}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"  idle baseline of this process: {idle_rate * 1000:.1f} ms CPU/s")
    print(f"  RunTask -> first line stored: {first_stored - started:.2f} s; -> all stored: {elapsed:.2f} s; "
          f"-> STOPPED seen by the bench: {stopped_at - started:.2f} s")  # fmt: skip
    print(f"  every line kept: {'yes' if kept else 'NO'} ({len(events):,} events in {stream})")
    if stored_at_stop is not None:
        print(f"  !! the task said STOPPED with only {stored_at_stop:,} of {args.lines:,} lines stored "
              f"(the rest arrived later: the container was kept)")  # fmt: skip
    print(f"  ingest rate: {rate_window:,.0f} lines/s (first -> last stored, {window:.2f} s); "
          f"{rate_total:,.0f} lines/s (RunTask -> all stored)")  # fmt: skip
    print(f"  longest wait between two stored batches: {longest_stall:.2f} s")
    if not args.profile:
        print(f"  of ecsemu's CPU: follower thread {thread_cpu.follower:.2f} s (reading and parsing "
              f"{thread_cpu.follower - thread_cpu.sink:.2f} s, handing on to the writer and store "
              f"{thread_cpu.sink:.2f} s); flusher thread handing on {thread_cpu.flusher:.2f} s")  # fmt: skip
    print(f"  ecsemu CPU: {ecsemu_cpu:.2f} s ({cpu_used:.2f} s less idle), {per_10k * 1000:.1f} ms per 10,000 lines")
    for name, (cpu, wall, daemon) in peers.items():
        daemon_text = f", dockerd {daemon:.2f} s" if daemon is not None else ""
        print(f"  {name}: CLI CPU {cpu:.2f} s ({cpu / args.lines * 10_000 * 1000:.1f} ms per 10,000 lines), "
              f"wall {wall:.2f} s{daemon_text} (median of {args.docker_runs})")  # fmt: skip
    if peer_daemon is not None:
        print(
            f"  (ecsemu's follower makes dockerd do the same reading as docker logs --timestamps: {peer_daemon:.2f} s)"
        )
    goals = [
        ("every line kept", kept, "yes" if kept else "no"),
        (
            "every line stored before STOPPED",
            stored_at_stop is None,
            "yes" if stored_at_stop is None else f"no: {stored_at_stop:,} of {args.lines:,}",
        ),
        (f"ingest >= {GOAL_RATE:,.0f} lines/s", rate_window >= GOAL_RATE, f"{rate_window / GOAL_RATE:.2f}x the goal"),
        (
            f"CPU <= {GOAL_CPU_RATIO:.0f}x docker logs",
            ratio <= GOAL_CPU_RATIO,
            f"{ratio:.2f}x the CPU of docker logs --timestamps",
        ),
    ]
    for name, ok, detail in goals:
        print(f"  {'PASS' if ok else 'MISS'}  {name}: {detail}")
    if args.profile:
        print("\nfollower and flusher threads, by own time:\n" + profiled.report())
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
