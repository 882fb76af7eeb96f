"""PutMetricData throughput: ecsemu against moto's server, the same raw JSON 1.0 workload, in the
same run.

Both servers are spawned on free ports of 127.0.0.1 (ecsemu ``serve --ephemeral --runtime
simulated``; moto through its ``moto_server`` script) and stopped by PID. Each is driven for
``--seconds`` after a 1 s warm-up by ``--connections`` client threads, each on one keep-alive
``http.client`` connection (reopened when the server closes it), posting
``GraniteServiceVersion20100801.PutMetricData`` as AWS JSON 1.0 (both servers answer it; boto3
itself speaks RPC v2 CBOR to CloudWatch) with ``--datapoints`` (20) datapoints of 2 dimensions
each, spread over 10 metrics. Printed per server: requests/s and datapoints/s (answers with
status 200), errors, the server's CPU seconds per request (user + system from ``/proc``: steadier
than requests/s on a shared machine); then the ratio ecsemu/moto and PASS/MISS for the goal
(>= 5x).

    python bench/put_metric_data.py                 # about 30 s
    python bench/put_metric_data.py --seconds 5 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, poll, quietly

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0"
)
GOAL_RATIO = 5.0


def headers(operation: str) -> dict[str, str]:
    return {
        "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": AUTHORIZATION,
    }


def body(worker: int, sequence: int, datapoints: int) -> bytes:
    now = time.time()
    data = [
        {
            "MetricName": f"Metric{(sequence + k) % 10}",
            "Dimensions": [{"Name": "Worker", "Value": str(worker)}, {"Name": "Shard", "Value": str(k % 4)}],
            "Timestamp": now - (k % 60),
            "Value": float((sequence * 7 + k) % 100),
            "Unit": "Count",
        }
        for k in range(datapoints)
    ]
    return json.dumps({"Namespace": "Bench", "MetricData": data}, separators=(",", ":")).encode()


def post(port: int, operation: str, params: dict[str, Any]) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(params).encode(), headers=headers(operation))
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Server:
    """One spawned server, stopped by its PID (SIGTERM, then SIGKILL after 5 s)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name, self.port = name, free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        self.process = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        poll(lambda: quietly(lambda: post(self.port, "ListMetrics", {}) == 200), f"{name} to answer", interval=0.05)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class Figures:
    server: str
    requests_per_s: float
    datapoints_per_s: float
    errors: int
    cpu_ms_per_request: float


def drive(server: Server, connections: int, datapoints: int, warmup_s: float, seconds: float) -> Figures:
    counts = [0] * connections
    errors = [0] * connections
    measuring = threading.Event()
    stop = threading.Event()

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
        sequence = 0
        while not stop.is_set():
            sequence += 1
            try:
                conn.request("POST", "/", body=body(index, sequence, datapoints), headers=headers("PutMetricData"))
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
                status = 0
            if measuring.is_set() and not stop.is_set():
                if status == 200:
                    counts[index] += 1
                else:
                    errors[index] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    time.sleep(warmup_s)
    cpu_before, started = server.cpu_seconds(), time.monotonic()
    measuring.set()
    time.sleep(seconds)
    stop.set()
    elapsed, cpu = time.monotonic() - started, server.cpu_seconds() - cpu_before
    for thread in threads:
        thread.join(15)
    done = sum(counts)
    return Figures(
        server.name,
        done / elapsed,
        done * datapoints / elapsed,
        sum(errors),
        1000 * cpu / done if done else float("nan"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--datapoints", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.connections <= 64 or not 1 <= args.datapoints <= 1000:
        parser.error("--seconds in (0, 600], --connections in [1, 64], --datapoints in [1, 1000]")
    path = os.environ.get("PYTHONPATH", "")
    ecsemu_env = {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)}
    ecsemu = [sys.executable, "-m", "ecsemu", "serve", "--ephemeral", "--runtime", "simulated", "--port", "{port}"]
    script = Path(sys.executable).parent / "moto_server"
    moto = [*([str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]), "-H", HOST, "-p", "{port}"]
    figures = []
    for name, command, env in (("ecsemu", ecsemu, ecsemu_env), ("moto", moto, {})):
        server = Server(name, command, env)
        try:
            figures.append(drive(server, args.connections, args.datapoints, args.warmup, args.seconds))
        finally:
            server.stop()
    ours, theirs = figures
    ratio = ours.requests_per_s / theirs.requests_per_s if theirs.requests_per_s else float("inf")
    verdict = "PASS" if ratio >= GOAL_RATIO else "MISS"
    if args.json:
        print(json.dumps({"servers": [asdict(f) for f in figures], "ratio": ratio, "goal": verdict}, indent=2))
    else:
        print(f"PutMetricData, {args.datapoints} datapoints a request, {args.connections} connections, JSON 1.0")
        print(f"{'server':<8} {'req/s':>9} {'datapoints/s':>13} {'errors':>7} {'CPU ms/req':>11}")
        for f in figures:
            line = f"{f.requests_per_s:>9.0f} {f.datapoints_per_s:>13.0f} {f.errors:>7} {f.cpu_ms_per_request:>11.2f}"
            print(f"{f.server:<8} {line}")
        print(f"ratio ecsemu/moto: {ratio:.2f}x (goal >= {GOAL_RATIO:.0f}x: {verdict})")
    return 1 if any(f.errors for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
