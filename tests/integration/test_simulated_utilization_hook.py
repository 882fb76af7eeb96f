"""The simulated runtime's utilization hook, ``POST /_ecsemu/simulated/utilization`` (JSON
``{"taskArn", "cpu"?, "memory"?}``, percent of what the task reserves): its effect on what the
runtime reports and on the AWS/ECS metrics, and its refusals (400 bad body, 415 not JSON, 404
unknown task, 400 on the Docker runtime's emulator)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import requests
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.runtime.base import TaskUsage
from ecsemu.runtime.simulated import SimulatedRuntime
from ecsemu.scaling.collector import Collector

HOOK = "/_ecsemu/simulated/utilization"


def running_service_task(ecs: Any) -> str:
    ecs.create_cluster(clusterName="hook")
    ecs.register_task_definition(
        family="hooked", cpu="256", memory="512", containerDefinitions=[{"name": "app", "image": "app:1"}]
    )
    ecs.create_service(cluster="hook", serviceName="svc", taskDefinition="hooked", desiredCount=1)

    def running() -> str | None:
        arns = ecs.list_tasks(cluster="hook", serviceName="svc", desiredStatus="RUNNING")["taskArns"]
        if not arns:
            return None
        task = ecs.describe_tasks(cluster="hook", tasks=arns[:1])["tasks"][0]
        return str(task["taskArn"]) if task["lastStatus"] == "RUNNING" else None

    return str(wait_until(running, timeout=20, what="a running service task"))


def post(endpoint: str, body: Any) -> requests.Response:
    """POST ``body`` as JSON (``null`` included)."""
    return requests.post(
        f"{endpoint}{HOOK}", data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10
    )


def usage(emulator: Emulator, arn: str) -> TaskUsage:
    assert isinstance(emulator.runtime, SimulatedRuntime)
    return emulator.runtime.usage([arn])[arn]


def test_the_hook_sets_what_the_task_reports(emulator: Emulator, endpoint: str, ecs: Any) -> None:
    arn = running_service_task(ecs)
    answer = post(endpoint, {"taskArn": arn, "cpu": 80, "memory": 30.5})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"taskArn": arn, "cpu": 80, "memory": 30.5}
    assert usage(emulator, arn) == TaskUsage(cpu_percent=80.0, memory_percent=30.5)
    answer = post(endpoint, {"taskArn": arn, "cpu": 10})  # memory kept
    assert answer.status_code == 200 and answer.json() == {"taskArn": arn, "cpu": 10, "memory": None}
    assert usage(emulator, arn) == TaskUsage(cpu_percent=10.0, memory_percent=30.5)
    assert post(endpoint, {"taskArn": arn, "memory": 0}).status_code == 200  # the bounds are allowed
    assert post(endpoint, {"taskArn": arn, "cpu": 10_000}).status_code == 200
    assert usage(emulator, arn) == TaskUsage(cpu_percent=10_000.0, memory_percent=0.0)


def test_the_set_utilization_reaches_the_ecs_metrics(emulator: Emulator, endpoint: str, ecs: Any) -> None:
    arn = running_service_task(ecs)
    assert post(endpoint, {"taskArn": arn, "cpu": 72.5, "memory": 40}).status_code == 200
    now = time.time()
    Collector(emulator.store, emulator.runtime).sample(now)  # type: ignore[arg-type]  # one sample, as the loop takes
    cloudwatch = client("cloudwatch", endpoint)

    def statistic(name: str) -> float:
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/ECS",
            MetricName=name,
            Dimensions=[{"Name": "ClusterName", "Value": "hook"}, {"Name": "ServiceName", "Value": "svc"}],
            StartTime=now - 120,
            EndTime=now + 120,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return max(point["Maximum"] for point in datapoints)

    assert statistic("CPUUtilization") == 72.5
    assert statistic("MemoryUtilization") == 40.0


@pytest.mark.parametrize(
    "body",
    [
        {"cpu": 50},  # no taskArn
        {"taskArn": 5, "cpu": 50},
        {"taskArn": None, "cpu": 50},
        {"taskArn": "TASK", "cpu": "50"},
        {"taskArn": "TASK", "cpu": True},
        {"taskArn": "TASK", "memory": False},
        {"taskArn": "TASK", "cpu": -1},
        {"taskArn": "TASK", "cpu": 10_000.5},
        {"taskArn": "TASK", "memory": 1e9},
        {"taskArn": "TASK", "cpu": [50]},
        {"taskArn": "TASK", "cpu": {"value": 50}},
        {"taskArn": "TASK"},  # neither cpu nor memory
        {"taskArn": "TASK", "cpu": None, "memory": None},
        {"taskArn": "TASK", "cpu": 50, "memory": "lots"},  # one bad value spoils the whole
        [{"taskArn": "TASK", "cpu": 50}],  # not an object
        "TASK",
        None,
    ],
)
def test_bad_bodies_are_refused_with_400_and_change_nothing(
    emulator: Emulator, endpoint: str, ecs: Any, body: Any
) -> None:
    arn = running_service_task(ecs)
    assert post(endpoint, {"taskArn": arn, "cpu": 20, "memory": 20}).status_code == 200
    if isinstance(body, dict):
        body = {key: arn if value == "TASK" else value for key, value in body.items()}
    answer = post(endpoint, body)
    assert answer.status_code == 400, answer.text
    assert "taskArn" in answer.json()["error"] or answer.json()["error"] == "expected a JSON object"
    assert usage(emulator, arn) == TaskUsage(cpu_percent=20.0, memory_percent=20.0)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(emulator: Emulator, endpoint: str, ecs: Any, raw: str) -> None:
    arn = running_service_task(ecs)
    answer = requests.post(
        f"{endpoint}{HOOK}",
        data=f'{{"taskArn": "{arn}", "cpu": {raw}}}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert not math.isnan(usage(emulator, arn).cpu_percent or 0.0)


def test_malformed_json_is_refused(endpoint: str) -> None:
    answer = requests.post(
        f"{endpoint}{HOOK}", data="{not json", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_without_a_json_content_type_415(emulator: Emulator, endpoint: str, ecs: Any, content_type: str | None) -> None:
    arn = running_service_task(ecs)
    headers = {"Content-Type": content_type} if content_type else {}
    answer = requests.post(
        f"{endpoint}{HOOK}", data=f'{{"taskArn": "{arn}", "cpu": 99}}'.encode(), headers=headers, timeout=10
    )
    assert answer.status_code == 415, answer.text
    assert usage(emulator, arn).cpu_percent == 0.0  # not applied


def test_an_unknown_task_is_404(endpoint: str) -> None:
    unknown = "arn:aws:ecs:us-east-1:000000000000:task/hook/0123456789abcdef0123456789abcdef"
    answer = post(endpoint, {"taskArn": unknown, "cpu": 50})
    assert answer.status_code == 404
    assert unknown in answer.json()["error"]


def test_a_stopped_task_is_404_once_removed_and_never_reported(emulator: Emulator, endpoint: str, ecs: Any) -> None:
    arn = running_service_task(ecs)
    ecs.update_service(cluster="hook", service="svc", desiredCount=0)
    assert isinstance(emulator.runtime, SimulatedRuntime)
    runtime = emulator.runtime
    wait_until(lambda: arn not in runtime.usage([arn]), timeout=20, what="the stopping task to leave usage")
    answer = post(endpoint, {"taskArn": arn, "cpu": 50})
    assert answer.status_code in (200, 404)  # 200 while its entry remains (stopped, never reported), then 404
    assert arn not in runtime.usage([arn])


@pytest.mark.docker
def test_the_docker_runtimes_emulator_refuses_with_400(docker_emulator: Emulator) -> None:
    answer = post(docker_emulator.endpoint, {"taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/1", "cpu": 50})
    assert answer.status_code == 400
    assert answer.json() == {"error": "the docker runtime's tasks are measured for real"}
