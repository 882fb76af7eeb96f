"""GetLogEvents latency on a log group of 1,000,000 events, through boto3.

    python bench/logs_query.py                   # 1M events, 500 calls per kind (about 1-2 min)
    python bench/logs_query.py --events 200000 --calls 200
    python bench/logs_query.py --moto            # moto's server as a peer (same events; slow)

It starts ``python -m ecsemu serve --runtime simulated`` on a free port of 127.0.0.1 with a
temporary data directory (a durable store, as users run it), creates a group with one stream of
``--events`` events (PutLogEvents batches of 10,000, timed: the ingest rate through the API) and
an empty stream beside it, then times ``--calls`` GetLogEvents of each kind with one boto3
client (the time boto3's call takes, serialising and parsing included):

- **tail**: the newest page, ``limit`` 100 (no token: what ``aws logs tail`` and consoles ask);
- **head**: ``startFromHead``, ``limit`` 100;
- **seek**: a forward token at a random position in the stream, ``limit`` 100;
- **window**: ``startTime``/``endTime`` a random 100 ms window (100 events);
- **empty**: the empty stream: the floor of the request path, what every call pays anyway;
- **full page**: no limit (AWS's default: up to 10,000 events or 1 MB), fewer calls; its cost
  is mostly JSON and boto3 parsing 10,000 events, reported for information.

It prints p50 and p99 in milliseconds per kind, each p99 against the empty stream's (the
ratio: what the million events cost beside none), the server's own p50/p99 for the same calls
(from its ``--log-format json`` API log: request read to answer written, so a busy machine's
scheduling shows in boto3's figure far more than in this one), the load average, and
PASS/MISS for the goal: boto3's p99 of tail, head, seek and window ≤ 20 ms. With ``--moto`` it does the same against moto's server
(seeded alike) and prints ecsemu's p99 against moto's. Only 127.0.0.1 is contacted; the
servers it started are stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, poll, quietly

GOAL_P99_MS = 20.0
GROUP, STREAM, EMPTY = "/bench/logs", "app/web/1", "app/web/empty"
BATCH = 10_000


def spawn(command: list[str], log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)


def server_times(log: IO[bytes], results: dict[str, list[float]]) -> dict[str, list[float]]:
    """The server's milliseconds for the measured GetLogEvents, split as ``results`` was
    (each kind: one warm-up call, then its samples), from the JSON API log."""
    log.seek(0)
    times = []
    for line in log.read().decode(errors="replace").splitlines():
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, dict) and fields.get("operation") == "GetLogEvents":
            times.append(float(fields["ms"]))
    split: dict[str, list[float]] = {}
    for kind, samples in results.items():
        split[kind], times = times[1 : len(samples) + 1], times[len(samples) + 1 :]
    return split


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def logs_client(port: int) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )


def seed(client: Any, events: int) -> float:
    """Create the group and streams, put ``events`` events; the ingest rate (events/s)."""
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    client.create_log_stream(logGroupName=GROUP, logStreamName=EMPTY)
    started = time.perf_counter()
    for offset in range(0, events, BATCH):
        count = min(BATCH, events - offset)
        client.put_log_events(
            logGroupName=GROUP,
            logStreamName=STREAM,
            logEvents=[
                {"timestamp": start_ms(events) + offset + n, "message": f"{offset + n:07d} GET /api/items 200 12ms"}
                for n in range(count)
            ],
        )
    return events / (time.perf_counter() - started)


def start_ms(events: int) -> int:
    """The first event's timestamp: events are 1 ms apart and end a minute ago (all within 14 days)."""
    return int(time.time() * 1000) - events - 60_000


def timed(call: Callable[[], Any], calls: int) -> list[float]:
    call()  # warm
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(client: Any, events: int, calls: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    first = start_ms(events)
    one: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": STREAM, "limit": 100}

    def seek() -> Any:
        position = first + rng.randrange(events)
        token = f"f/{position * 10**36 + 1:056d}"  # ecsemu's token format (see services/logs/events.py)
        return client.get_log_events(nextToken=token, **one)

    def window() -> Any:
        position = first + rng.randrange(events - 100)
        return client.get_log_events(startTime=position, endTime=position + 100, startFromHead=True, **one)

    kinds: dict[str, Callable[[], Any]] = {
        "empty": lambda: client.get_log_events(logGroupName=GROUP, logStreamName=EMPTY, limit=100),
        "tail": lambda: client.get_log_events(**one),
        "head": lambda: client.get_log_events(startFromHead=True, **one),
        "seek": seek,
        "window": window,
    }
    results = {name: timed(call, calls) for name, call in kinds.items()}
    full = lambda: client.get_log_events(logGroupName=GROUP, logStreamName=STREAM)  # noqa: E731
    results["full page"] = timed(full, max(5, calls // 50))
    return results


def report(
    name: str, rate: float, results: dict[str, list[float]], server: dict[str, list[float]] | None = None
) -> bool:
    floor = p99(results["empty"])
    print(f"\n{name}: ingest {rate:,.0f} events/s through PutLogEvents (batches of {BATCH:,})")
    print(
        f"{'kind':<10} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99 / empty':>12} {'server p50':>11} {'server p99':>11}"
    )
    passed = True
    for kind, samples in results.items():
        ratio = p99(samples) / floor if floor else float("nan")
        own = (server or {}).get(kind) or []
        inside = f"{statistics.median(own):>11.2f} {p99(own):>11.2f}" if own else f"{'-':>11} {'-':>11}"
        print(
            f"{kind:<10} {len(samples):>6} {statistics.median(samples):>8.2f} {p99(samples):>8.2f} "
            f"{ratio:>11.2f}x {inside}"
        )
        if kind in ("tail", "head", "seek", "window") and p99(samples) > GOAL_P99_MS:
            passed = False
    return passed


def run_ecsemu(events: int, calls: int) -> tuple[float, dict[str, list[float]], dict[str, list[float]]]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="ecsemu-logs-bench-"))
    command = [sys.executable, "-m", "ecsemu", "serve", "--runtime", "simulated", "--data-dir", str(data)]
    log = tempfile.TemporaryFile()  # noqa: SIM115  (read after the run)
    process = spawn([*command, "--port", str(port), "--log-format", "json"], log)
    try:
        client = logs_client(port)
        poll(lambda: quietly(client.describe_log_groups), "ecsemu to answer", interval=0.1, deadline_s=60)
        rate = seed(client, events)
        results = measure(client, events, calls)
        return rate, results, server_times(log, results)
    finally:
        stop(process)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def run_moto(events: int, calls: int) -> tuple[float, dict[str, list[float]]] | None:
    script = Path(sys.executable).parent / "moto_server"
    if not script.exists():
        print("moto_server is not installed (pip install -e '.[bench]'): no peer", file=sys.stderr)
        return None
    port = free_port()
    process = spawn([str(script), "-H", "127.0.0.1", "-p", str(port)])
    try:
        client = logs_client(port)
        poll(lambda: quietly(client.describe_log_groups), "moto to answer", interval=0.1, deadline_s=60)
        rate = seed(client, events)
        results = measure_moto(client, events, calls)
        return rate, results
    finally:
        stop(process)


def measure_moto(client: Any, events: int, calls: int) -> dict[str, list[float]]:
    """moto's tokens are its own, so no "seek"; the rest as for ecsemu."""
    rng = random.Random(7)
    first = start_ms(events)
    one: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": STREAM, "limit": 100}

    def window() -> Any:
        position = first + rng.randrange(events - 100)
        return client.get_log_events(startTime=position, endTime=position + 100, startFromHead=True, **one)

    kinds: dict[str, Callable[[], Any]] = {
        "empty": lambda: client.get_log_events(logGroupName=GROUP, logStreamName=EMPTY, limit=100),
        "tail": lambda: client.get_log_events(**one),
        "head": lambda: client.get_log_events(startFromHead=True, **one),
        "window": window,
    }
    return {name: timed(call, calls) for name, call in kinds.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--moto", action="store_true", help="also measure moto's server, seeded alike")
    options = parser.parse_args()
    if not 1_000 <= options.events <= 10_000_000 or not 10 <= options.calls <= 100_000:
        parser.error("--events must be 1,000..10,000,000 and --calls 10..100,000")
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    rate, results, server = run_ecsemu(options.events, options.calls)
    passed = report(f"ecsemu, one stream of {options.events:,} events", rate, results, server)
    if options.moto:
        peer = run_moto(options.events, options.calls)
        if peer is not None:
            report(f"moto, one stream of {options.events:,} events", *peer)
            for kind in ("tail", "head", "window"):
                print(f"{kind}: moto p99 / ecsemu p99 = {p99(peer[1][kind]) / p99(results[kind]):.1f}x")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"\ngoal: p99 of tail, head, seek and window <= {GOAL_P99_MS:.0f} ms: {'PASS' if passed else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
