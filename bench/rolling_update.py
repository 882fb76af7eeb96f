"""Benchmark: a rolling update of a service of N real tasks, against raw Docker, in one run.

For each deployment configuration (minimumHealthyPercent/maximumPercent 0/200 and 100/200),
with ecsemu running on its Docker runtime:
1. a service of N tasks of the test web image v1 is created and waited for (stable, answering);
2. timed: UpdateService(taskDefinition v2) → the ``services_stable`` waiter's own criteria hold
   (exactly one deployment and runningCount == desiredCount), polled every 0.05 s instead of
   the waiter's 15 s delay; also reported: → all N new tasks answer HTTP 200 (as v2);
3. the floor, right after, in the same run: N v1 containers are started (untimed), then timed:
   N v2 containers ``docker run -d`` in parallel → all answering, then ``docker stop -t 5`` of
   the N old ones in parallel → all stopped.

Goal (issue): ecsemu ≤ 1.5x the floor + the health-check intervals the configuration demands.
Without a container health check (the default) no interval is demanded; with
``--health-check`` (CMD-SHELL, interval 5 s) a configuration that must keep old tasks until new
ones are HEALTHY waits for Docker's first probe, one interval after start, per round of starts.

Run by hand: ``python bench/rolling_update.py [--tasks 10] [--health-check]``. Needs a Docker
engine and the test images (scripts/ensure-docker.sh, scripts/build-test-images.sh). Talks to
127.0.0.1 only; removes every container it started, by id.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from common import DEADLINE_S, docker, free_port, poll, quietly, reset_and_wait

REPO = Path(__file__).resolve().parents[1]
IMAGE_V1 = "ecsemu-test/web:latest"
IMAGE_V2 = "ecsemu-test/web:v2"
CLUSTER = "bench-rolling"
FAMILY = "bench-rolling"
STOP_TIMEOUT_S = 5
HEALTH_INTERVAL_S = 5
GOAL_RATIO = 1.5
STABLE_POLL_S = 0.05
CONFIGURATIONS = ((0, 200), (100, 200))


@dataclass(frozen=True)
class Rollout:
    """One configuration's figures, in seconds from UpdateService (ecsemu) or the first run (floor)."""

    minimum_healthy_percent: int
    maximum_percent: int
    stable_s: float
    answering_s: float
    floor_s: float
    floor_start_s: float
    intervals: int
    interval_s: int



def version_at(port: int) -> str | None:
    """The ``version`` the test web image reports on ``port``, or None unless it answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            if response.status != 200:
                return None
            return str(json.loads(response.read()).get("version"))
    except (OSError, ValueError):
        return None






def demanded_intervals(desired: int, minimum_healthy_percent: int, maximum_percent: int) -> int:
    """Health-check intervals a rolling update must wait, when new tasks count only once HEALTHY.

    Docker runs a container's first probe one interval after it starts. Old tasks may be stopped
    only while ceil(desired * minimum / 100) tasks stay healthy, and at most floor(desired *
    maximum / 100) tasks are live; ``services_stable`` itself needs RUNNING tasks, not healthy
    ones. Each round of starts that must become healthy before old tasks can go costs one interval.
    """
    maximum = math.floor(desired * maximum_percent / 100)
    minimum = math.ceil(desired * minimum_healthy_percent / 100)
    old, new, healthy_new, intervals = desired, 0, 0, 0
    while True:
        old -= min(old, max(0, healthy_new + old - minimum))
        room = desired - new if not old else min(desired - new, maximum - new - old)
        new += max(room, 0)
        if not old and new == desired:
            return intervals
        if healthy_new == new:
            raise SystemExit(f"{minimum_healthy_percent}/{maximum_percent} cannot roll {desired} tasks")
        healthy_new = new
        intervals += 1


def docker_floor(count: int) -> tuple[float, float]:
    """Seconds for ``count`` v2 containers → all answering, then ``docker stop`` of ``count`` v1 ones.

    Returns (the whole floor, its start part). Every container started is removed, by id.
    """

    def run(image: str) -> str:
        return docker("run", "-d", "--label", "ecsemu.bench=true", "-p", "127.0.0.1::8080", "--memory", "64m", image)

    def port_of(container: str) -> int:
        return int(docker("port", container, "8080/tcp").splitlines()[0].rsplit(":", 1)[1])

    started: list[str] = []
    lock = threading.Lock()

    def run_tracked(image: str) -> str:
        container = run(image)
        with lock:
            started.append(container)
        return container

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            old = list(pool.map(run_tracked, [IMAGE_V1] * count))
            old_ports = [port_of(c) for c in old]
            poll(lambda: all(version_at(p) == "v1" for p in old_ports), "the old raw containers to answer")
            t0 = time.monotonic()
            new = list(pool.map(run_tracked, [IMAGE_V2] * count))
            ports = [port_of(c) for c in new]
            poll(lambda: all(version_at(p) == "v2" for p in ports), "the new raw containers to answer")
            start_s = time.monotonic() - t0
            list(pool.map(lambda c: docker("stop", "-t", str(STOP_TIMEOUT_S), c), old))
            return time.monotonic() - t0, start_s
    finally:
        if started:
            docker("rm", "-f", *started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument(
        "--health-check",
        action="store_true",
        help=f"a CMD-SHELL container health check, interval {HEALTH_INTERVAL_S} s",
    )
    args = parser.parse_args()
    count: int = args.tasks

    others = len(docker("ps", "-q").split())
    load_at_start = os.getloadavg()[0]
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="ecsemu-bench-")
    log = open(os.path.join(data_dir, "server.log"), "w")  # noqa: SIM115 (lives as long as the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "ecsemu", "serve", "--runtime", "docker", "--ephemeral", "--port", str(port)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    results: list[Rollout] = []
    try:
        ecs = client(endpoint)
        poll(lambda: quietly(ecs.list_clusters), "ecsemu to answer", interval=0.05)
        ecs.create_cluster(clusterName=CLUSTER)
        v1, v2 = (register(ecs, image, args.health_check) for image in (IMAGE_V1, IMAGE_V2))
        for minimum, maximum in CONFIGURATIONS:
            stable_s, answering_s = ecsemu_rollout(endpoint, count, minimum, maximum, v1, v2, args.health_check)
            floor_s, floor_start_s = docker_floor(count)
            intervals = demanded_intervals(count, minimum, maximum) if args.health_check else 0
            results.append(
                Rollout(minimum, maximum, stable_s, answering_s, floor_s, floor_start_s, intervals, HEALTH_INTERVAL_S)
            )
    finally:
        reset_and_wait(endpoint, CLUSTER)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()

    check = (
        f"CMD-SHELL health check, interval {HEALTH_INTERVAL_S} s" if args.health_check else "no container health check"
    )
    print(
        f"rolling update of {count} tasks, v1 → v2, bridge, stopTimeout {STOP_TIMEOUT_S} s, no load balancer, {check}"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, 1-min load average {load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} "
        f"at end, {others} other containers running at start"
    )
    for r in results:
        allowance = r.intervals * r.interval_s
        budget = GOAL_RATIO * r.floor_s + allowance
        ratio = r.stable_s / r.floor_s
        demanded = (f"{r.intervals} x {r.interval_s} s = {allowance} s of health-check intervals demanded" if r.intervals
                    else "no health-check interval demanded")  # fmt: skip
        print(f"{r.minimum_healthy_percent:>3}/{r.maximum_percent}: ecsemu {r.stable_s:.2f} s to services_stable "
              f"(all new answering at {r.answering_s:.2f} s)   floor {r.floor_s:.2f} s "
              f"(start+answer {r.floor_start_s:.2f} s, then stop)   ratio {ratio:.2f}x   "
              f"goal <= {GOAL_RATIO}x floor + {allowance} s = {budget:.2f} s ({demanded}): "
              f"{'PASS' if r.stable_s <= budget else 'MISS'}")  # fmt: skip


def client(endpoint: str) -> Any:
    return boto3.client(
        "ecs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )


def register(ecs: Any, image: str, health_check: bool) -> str:
    container: dict[str, Any] = {
        "name": "web", "image": image, "memory": 64, "stopTimeout": STOP_TIMEOUT_S,
        "portMappings": [{"containerPort": 8080}],
    }  # fmt: skip
    if health_check:
        container["healthCheck"] = {
            "command": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"],
            "interval": HEALTH_INTERVAL_S, "timeout": 2, "retries": 3,
        }  # fmt: skip
    definition = ecs.register_task_definition(family=FAMILY, networkMode="bridge", containerDefinitions=[container])
    return str(definition["taskDefinition"]["taskDefinitionArn"])


def ecsemu_rollout(
    endpoint: str, count: int, minimum: int, maximum: int, v1: str, v2: str, health_check: bool
) -> tuple[float, float]:
    """Seconds from UpdateService(v2) to ``services_stable``, and to all new tasks answering.

    With a health check, the update starts only once every v1 task is HEALTHY: ECS stops old
    tasks that are not yet healthy at once, which would skip the interval the goal allows for.
    """
    ecs = client(endpoint)
    name = f"web-{minimum}-{maximum}"
    ecs.create_service(
        cluster=CLUSTER, serviceName=name, taskDefinition=v1, desiredCount=count,
        deploymentConfiguration={"minimumHealthyPercent": minimum, "maximumPercent": maximum},
    )  # fmt: skip

    def stable() -> bool:
        service = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
        return len(service["deployments"]) == 1 and service["runningCount"] == service["desiredCount"]

    def answering(watcher: Any, definition: str, version: str, healthy: bool = False) -> bool:
        arns = watcher.list_tasks(cluster=CLUSTER, serviceName=name)["taskArns"]
        if len(arns) < count:
            return False
        tasks = watcher.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        ours = [t for t in tasks if t["taskDefinitionArn"] == definition and t["lastStatus"] == "RUNNING"]
        if len(ours) != count or (healthy and any(t.get("healthStatus") != "HEALTHY" for t in ours)):
            return False
        return all(version_at(t["containers"][0]["networkBindings"][0]["hostPort"]) == version for t in ours)

    poll(
        lambda: stable() and answering(ecs, v1, "v1", healthy=health_check),
        f"{name} on v1 to be stable and answering",
        interval=0.1,
    )

    answered: list[float] = []
    watcher = client(endpoint)

    def watch(t0: float) -> None:
        deadline = t0 + DEADLINE_S
        while time.monotonic() < deadline:
            if quietly(lambda: answering(watcher, v2, "v2")):
                answered.append(time.monotonic() - t0)
                return
            time.sleep(STABLE_POLL_S)

    t0 = time.monotonic()
    ecs.update_service(cluster=CLUSTER, service=name, taskDefinition=v2)
    thread = threading.Thread(target=watch, args=(t0,), daemon=True)
    thread.start()
    poll(stable, f"{name} to be stable on v2", interval=STABLE_POLL_S)
    stable_s = time.monotonic() - t0
    thread.join(timeout=max(0.0, t0 + DEADLINE_S - time.monotonic()) + 5)
    if not answered:
        raise SystemExit(f"timed out waiting for {name}'s new tasks to answer")

    ecs.delete_service(cluster=CLUSTER, service=name, force=True)
    poll(lambda: not ecs.list_tasks(cluster=CLUSTER)["taskArns"], f"{name}'s tasks to stop", interval=0.1)
    return stable_s, answered[0]





if __name__ == "__main__":
    main()
