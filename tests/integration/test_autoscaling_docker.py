"""Auto scaling on real containers under ``--scaling-clock 60``: a CPU-burning busybox service
grows and shrinks on its measured CPU, and a web service behind the embedded ALB grows on its
request count per target.

The burn is switchable: a task burns CPU while the file /tmp/burn exists in it (the test
creates and removes it with ``docker exec`` in ecsemu's own containers). The ALB load is plain
HTTP to the listener on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from alb_fixture import create_web_behind_alb, listener_port
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.config import Config

pytestmark = pytest.mark.docker

IMAGE = "ecsemu-test/web:latest"
TARGET = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
BURN = "while true; do if [ -e /tmp/burn ]; then i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; else sleep 0.1; fi; done"


@pytest.fixture(scope="module")
def fast_docker() -> Iterator[Emulator]:
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="docker", scaling_clock=60))
    instance.start()
    yield instance
    instance.shutdown()


@pytest.fixture
def aws(fast_docker: Emulator) -> Iterator[dict[str, Any]]:
    clients = {
        name: client(name, fast_docker.endpoint) for name in ("ecs", "application-autoscaling", "elbv2", "cloudwatch")
    }
    yield clients
    requests.post(f"{fast_docker.endpoint}/_ecsemu/reset", json={}, timeout=10)
    fast_docker.reconciler.nudge()
    wait_until(lambda: not fast_docker.runtime.observe(), timeout=60, what="the test's containers to be removed")


def desired(ecs: Any, cluster: str, name: str) -> int:
    return int(ecs.describe_services(cluster=cluster, services=[name])["services"][0]["desiredCount"])


def running(ecs: Any, cluster: str, name: str) -> list[str]:
    return list(ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"])


def switch(task_arns: list[str], burn: bool) -> None:
    """Turn each task's burn on or off (in its one container, found by ecsemu's ECS label)."""
    for task_arn in task_arns:
        ids = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}", "--filter", "label=ecsemu.role=container"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()  # fmt: skip
        for container_id in ids:
            command = ["touch", "/tmp/burn"] if burn else ["rm", "-f", "/tmp/burn"]
            subprocess.run(["docker", "exec", container_id, *command], capture_output=True, timeout=30, check=False)


def test_a_cpu_burning_service_scales_out_on_measured_cpu_and_back_in(aws: dict[str, Any]) -> None:
    ecs, aas = aws["ecs"], aws["application-autoscaling"]
    ecs.create_cluster(clusterName="burn")
    ecs.register_task_definition(
        family="burner", cpu="256", memory="128",
        containerDefinitions=[{"name": "burner", "image": IMAGE, "command": ["sh", "-c", BURN], "stopTimeout": 2}],
    )  # fmt: skip
    ecs.create_service(cluster="burn", serviceName="burner", taskDefinition="burner", desiredCount=1)
    wait_until(lambda: len(running(ecs, "burn", "burner")) == 1, timeout=60, what="the first task")
    aas.register_scalable_target(ResourceId="service/burn/burner", MinCapacity=1, MaxCapacity=3, **TARGET)
    aas.put_scaling_policy(
        PolicyName="cpu50", ResourceId="service/burn/burner", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
        **TARGET,
    )  # fmt: skip
    seen: set[int] = set()

    def burning_until_max() -> bool:
        switch(running(ecs, "burn", "burner"), burn=True)
        seen.add(desired(ecs, "burn", "burner"))
        return desired(ecs, "burn", "burner") == 3

    wait_until(burning_until_max, timeout=90, interval=0.5, what="the burning service to scale out to 3")
    wait_until(lambda: len(running(ecs, "burn", "burner")) == 3, timeout=60, what="three running tasks")

    def idle_until_min() -> bool:
        switch(running(ecs, "burn", "burner"), burn=False)
        seen.add(desired(ecs, "burn", "burner"))
        return desired(ecs, "burn", "burner") == 1

    wait_until(idle_until_min, timeout=120, interval=0.5, what="the idle service to scale back in to 1")
    assert min(seen) >= 1 and max(seen) <= 3, seen
    activities = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/burn/burner")[
        "ScalingActivities"
    ]
    assert activities[0]["Description"] == "Setting desired count to 1."
    assert any(
        a["Description"] == "Setting desired count to 3." or a["Description"] == "Setting desired count to 2."
        for a in activities
    )


def test_request_count_through_the_alb_scales_the_service(aws: dict[str, Any], fast_docker: Emulator) -> None:
    ecs, aas, elbv2 = aws["ecs"], aws["application-autoscaling"], aws["elbv2"]
    lb, tg, listener = create_web_behind_alb(
        ecs, elbv2, name="busy", cluster="reqs", listener_port=18090, desired=1, stop_timeout=2
    )
    port = listener_port(elbv2, listener["ListenerArn"])
    wait_until(
        lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=3).status_code == 200,
        timeout=60,
        what="a healthy target",
    )
    label = lb["LoadBalancerArn"].split(":loadbalancer/")[1] + "/" + tg["TargetGroupArn"].split(":")[-1]
    aas.register_scalable_target(ResourceId="service/reqs/busy", MinCapacity=1, MaxCapacity=3, **TARGET)
    aas.put_scaling_policy(
        PolicyName="requests", ResourceId="service/reqs/busy", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 20.0,  # requests per target per AWS minute: 20 a real second at 60x
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label},
            "DisableScaleIn": True,
        },
        **TARGET,
    )  # fmt: skip
    stop = threading.Event()

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            with contextlib.suppress(requests.RequestException):
                session.get(f"http://127.0.0.1:{port}/", timeout=3)

    clients = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for thread in clients:
        thread.start()
    try:
        wait_until(
            lambda: desired(ecs, "reqs", "busy") == 3,
            timeout=90,
            interval=0.5,
            what="the request load to scale out to 3",
        )
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=10)
    cause = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/reqs/busy")[
        "ScalingActivities"
    ][0]["Cause"]
    assert "AlarmHigh" in cause and cause.endswith("triggered policy requests"), cause
    ecs.update_service(cluster="reqs", service="busy", desiredCount=0)
    ecs.delete_service(cluster="reqs", service="busy", force=True)
