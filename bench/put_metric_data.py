"""PutMetricData throughput: ecsemu against moto's server, in the same run, with the exact
requests boto3 sends.

What boto3 sends: CloudWatch's model lists ``protocols: [smithy-rpc-v2-cbor, json, query]``, and
botocore (1.43) picks the first of its own priority order (``PRIORITY_ORDERED_SUPPORTED_PROTOCOLS``:
json, rest-json, rest-xml, smithy-rpc-v2-cbor, query, ec2), so boto3 speaks **AWS JSON 1.0**
(``X-Amz-Target: GraniteServiceVersion20100801.PutMetricData``, ``x-amzn-query-mode: true``),
not CBOR. moto 5.2 answers CloudWatch in JSON 1.0 or the query protocol (it has no CBOR parser).

- **ecsemu** and **moto**: the requests a real boto3 client builds and signs (its send is
  short-circuited by a ``before-send`` hook), replayed byte for byte to both servers.
- **ecsemu (CBOR)**: the same params serialized by botocore's RPC v2 CBOR serializer (what the
  model names first; SDKs that prefer CBOR send this), to ecsemu only (moto cannot parse it).

Both servers are spawned on free ports of 127.0.0.1 (ecsemu ``serve --ephemeral --runtime
simulated``; moto through its ``moto_server`` script) and stopped by PID. The requests are built
before any server is measured (``--variants`` per connection, cycled; the client does no
serializing while measuring). Each target is driven for ``--seconds`` after a 1 s warm-up by
``--connections`` client threads, each on one keep-alive ``http.client`` connection (reopened
when the server closes it), with ``--datapoints`` (20) datapoints of 2 dimensions each, spread
over 10 metrics. Printed per target: requests/s and datapoints/s (answers with status 200),
errors, the server's CPU ms per request (user + system from ``/proc``: steadier than requests/s on
a shared machine); then the ratios against moto and PASS/MISS for the goal (>= 5x, ecsemu
against moto with boto3's requests).

    python bench/put_metric_data.py                 # about 40 s
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

import boto3
from botocore.serialize import create_serializer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, poll, quietly

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0"
)
GOAL_RATIO = 5.0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def headers(operation: str) -> dict[str, str]:
    return {
        "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": AUTHORIZATION,
    }


def params(worker: int, sequence: int, datapoints: int) -> dict[str, Any]:
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
    return {"Namespace": "Bench", "MetricData": data}


class _Captured(Exception):
    pass


def build_requests(connections: int, variants: int, datapoints: int) -> dict[str, list[list[Request]]]:
    """Per wire ("boto3": captured from a boto3 client; "cbor"), per connection, ``variants``
    requests of the same params."""
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("cloudwatch", endpoint_url=f"http://{HOST}:9")
    captured: list[Request] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        heads = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        captured.append(Request(request.url.split(f"{HOST}:9", 1)[1] or "/", heads, body))
        raise _Captured

    client.meta.events.register("before-send.cloudwatch.PutMetricData", capture)
    operation = client.meta.service_model.operation_model("PutMetricData")
    cbor_serializer = create_serializer("smithy-rpc-v2-cbor", include_validation=False)
    out: dict[str, list[list[Request]]] = {"boto3": [], "cbor": []}
    for worker in range(connections):
        boto3_requests, cbor_requests = [], []
        for sequence in range(variants):
            payload = params(worker, sequence, datapoints)
            try:
                client.put_metric_data(**payload)
            except _Captured:
                boto3_requests.append(captured.pop())
            serialized = cbor_serializer.serialize_to_request(payload, operation)
            body = serialized["body"]
            cbor_requests.append(
                Request(
                    serialized["url_path"],
                    {**dict(serialized["headers"]), "Authorization": AUTHORIZATION},
                    body if isinstance(body, bytes) else body.encode(),
                )
            )
        out["boto3"].append(boto3_requests)
        out["cbor"].append(cbor_requests)
    return out


def post(port: int, operation: str, payload: dict[str, Any]) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(payload).encode(), headers=headers(operation))
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


def drive(
    server: Server, label: str, requests: list[list[Request]], datapoints: int, warmup_s: float, seconds: float
) -> Figures:
    connections = len(requests)
    counts = [0] * connections
    errors = [0] * connections
    measuring = threading.Event()
    stop = threading.Event()

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
        mine = requests[index]
        sequence = 0
        while not stop.is_set():
            request = mine[sequence % len(mine)]
            sequence += 1
            try:
                conn.request("POST", request.path, body=request.body, headers=request.headers)
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
        label,
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
    parser.add_argument("--variants", type=int, default=50, help="distinct requests per connection (cycled)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.connections <= 64 or not 1 <= args.datapoints <= 1000:
        parser.error("--seconds in (0, 600], --connections in [1, 64], --datapoints in [1, 1000]")
    path = os.environ.get("PYTHONPATH", "")
    ecsemu_env = {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)}
    ecsemu = [sys.executable, "-m", "ecsemu", "serve", "--ephemeral", "--runtime", "simulated", "--port", "{port}"]
    script = Path(sys.executable).parent / "moto_server"
    moto = [*([str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]), "-H", HOST, "-p", "{port}"]
    requests = build_requests(args.connections, args.variants, args.datapoints)
    size = {wire: sum(len(r.body) for r in rs[0]) / len(rs[0]) for wire, rs in requests.items()}
    figures = []
    for name, command, env, runs in (
        ("ecsemu", ecsemu, ecsemu_env, (("ecsemu", "boto3"), ("ecsemu (CBOR)", "cbor"))),
        ("moto", moto, {}, (("moto", "boto3"),)),
    ):
        server = Server(name, command, env)
        try:
            for label, wire in runs:
                figures.append(drive(server, label, requests[wire], args.datapoints, args.warmup, args.seconds))
        finally:
            server.stop()
    ours, cbor, theirs = figures

    def ratio(f: Figures) -> float:
        return f.requests_per_s / theirs.requests_per_s if theirs.requests_per_s else float("inf")

    verdict = "PASS" if ratio(ours) >= GOAL_RATIO else "MISS"
    if args.json:
        print(
            json.dumps(
                {
                    "targets": [asdict(f) for f in figures],
                    "ratio_vs_moto": ratio(ours),
                    "ratio_cbor_vs_moto": ratio(cbor),
                    "goal": verdict,
                },
                indent=2,
            )
        )
    else:
        print(
            f"PutMetricData, {args.datapoints} datapoints a request ({size['boto3']:.0f} B as boto3's JSON 1.0, "
            f"{size['cbor']:.0f} B as CBOR), {args.connections} keep-alive connections, {args.seconds:g} s each"
        )
        print(f"{'target':<18} {'req/s':>9} {'datapoints/s':>13} {'errors':>7} {'CPU ms/req':>11} {'vs moto':>8}")
        for f in figures:
            line = f"{f.requests_per_s:>9.0f} {f.datapoints_per_s:>13.0f} {f.errors:>7} {f.cpu_ms_per_request:>11.2f}"
            print(f"{f.server:<18} {line} {ratio(f):>7.2f}x")
        print(f"ratio ecsemu / moto (boto3's requests): {ratio(ours):.2f}x (goal >= {GOAL_RATIO:.0f}x: {verdict})")
    return 1 if any(f.errors for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
