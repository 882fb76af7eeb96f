"""Benchmark: a service of N real tasks, against raw Docker doing the same, in one run.

Measures, with ecsemu running on its Docker runtime:
1. CreateService (N tasks of the test web image) → all N RUNNING *and* answering HTTP on
   their published 127.0.0.1 ports;
2. the floor: ``docker run -d`` of the same N containers in parallel → all answering;
3. ``docker kill`` of one task's container → its replacement RUNNING and answering;
   compared with one ``docker run`` → answering (the "one container start" in the goal).

Goals (issue 3): service ≤ 1.3x raw Docker; replacement ≤ 1 s + one container start.

Run by hand: ``python bench/service_start.py [--tasks 10]``. Needs a Docker engine and the
test images (scripts/ensure-docker.sh, scripts/build-test-images.sh). Talks to 127.0.0.1
only; removes every container it started, by id.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from common import docker, free_port, poll, quietly, reset_and_wait

REPO = Path(__file__).resolve().parents[1]
IMAGE = "ecsemu-test/web:latest"



def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False






def raw_docker_run(count: int) -> tuple[float, float]:
    """Seconds for ``count`` parallel ``docker run`` → all answering; and for one alone."""

    def run_one(_: int) -> str:
        return docker("run", "-d", "--label", "ecsemu.bench=true", "-p", "127.0.0.1::8080", "--memory", "64m", IMAGE)

    def port_of(container: str) -> int:
        return int(docker("port", container, "8080/tcp").splitlines()[0].rsplit(":", 1)[1])

    started: list[str] = []
    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            started = list(pool.map(run_one, range(count)))
        ports = [port_of(c) for c in started]
        poll(lambda: all(answers(p) for p in ports), "raw containers to answer")
        many = time.monotonic() - t0
        t0 = time.monotonic()
        single = run_one(0)
        started.append(single)
        port = port_of(single)
        poll(lambda: answers(port), "one raw container to answer")
        one = time.monotonic() - t0
        return many, one
    finally:
        if started:
            docker("rm", "-f", *started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    count = args.tasks

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="ecsemu-bench-")
    log = open(os.path.join(data_dir, "server.log"), "w")  # noqa: SIM115 (lives as long as the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "ecsemu", "serve", "--runtime", "docker", "--ephemeral", "--port", str(port)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    try:
        poll(lambda: quietly(ecs.list_clusters), "ecsemu to answer", interval=0.05)
        ecs.create_cluster(clusterName="bench")
        ecs.register_task_definition(
            family="bench",
            containerDefinitions=[{"name": "web", "image": IMAGE, "memory": 64, "portMappings": [{"containerPort": 8080}]}],
        )

        def ready_ports() -> list[int] | None:
            arns = ecs.list_tasks(cluster="bench", serviceName="web")["taskArns"]
            if len(arns) != count:
                return None
            tasks = ecs.describe_tasks(cluster="bench", tasks=arns)["tasks"]
            if any(t["lastStatus"] != "RUNNING" for t in tasks):
                return None
            ports = [t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks]
            return ports if all(answers(p) for p in ports) else None

        t0 = time.monotonic()
        ecs.create_service(cluster="bench", serviceName="web", taskDefinition="bench", desiredCount=count)
        poll(ready_ports, "the service's tasks to answer", interval=0.02)
        service_s = time.monotonic() - t0

        arns = ecs.list_tasks(cluster="bench", serviceName="web")["taskArns"]
        victim = ecs.describe_tasks(cluster="bench", tasks=arns[:1])["tasks"][0]
        t0 = time.monotonic()
        docker("kill", victim["containers"][0]["runtimeId"])

        def replaced() -> list[int] | None:
            live = ecs.list_tasks(cluster="bench", serviceName="web")["taskArns"]
            return ready_ports() if victim["taskArn"] not in live else None

        poll(replaced, "the replacement to answer", interval=0.02)
        replacement_s = time.monotonic() - t0

        ecs.update_service(cluster="bench", service="web", desiredCount=0)
        poll(lambda: not ecs.list_tasks(cluster="bench")["taskArns"], "the service to scale in", interval=0.1)
        raw_s, one_s = raw_docker_run(count)
    finally:
        reset_and_wait(endpoint, "bench")
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    ratio = service_s / raw_s
    budget = 1.0 + one_s
    print(f"service of {count}: ecsemu {service_s:.2f} s   raw docker run {raw_s:.2f} s   ratio {ratio:.2f}x  "
          f"(goal <= 1.3x: {'PASS' if ratio <= 1.3 else 'MISS'})")  # fmt: skip
    print(f"replacement after docker kill: {replacement_s:.2f} s   one container start {one_s:.2f} s   "
          f"(goal <= 1 s + one start = {budget:.2f} s: {'PASS' if replacement_s <= budget else 'MISS'})")  # fmt: skip





if __name__ == "__main__":
    main()
