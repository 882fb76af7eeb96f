"""The command line as a user runs it: start-up line, health, reset, signals, and state that
survives SIGTERM and SIGKILL."""

from __future__ import annotations

import signal
from typing import Any

import requests
from conftest import ServerProcess, client, wait_until

WAIT = {"Delay": 1, "MaxAttempts": 30}


def _seed(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster(clusterName="keep", tags=[{"key": "team", "value": "core"}])
    definition = ecs.register_task_definition(
        family="keep",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}],
        tags=[{"key": "kind", "value": "td"}],
    )["taskDefinition"]
    ecs.create_service(cluster="keep", serviceName="svc", taskDefinition="keep:1", desiredCount=2)
    ecs.get_waiter("services_stable").wait(cluster="keep", services=["svc"], WaiterConfig=WAIT)
    task_arn = ecs.run_task(cluster="keep", taskDefinition="keep")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster="keep", tasks=[task_arn], WaiterConfig=WAIT)
    return {"definition": definition, "task": task_arn}


def _service_tasks(ecs: Any) -> set[str]:
    return set(ecs.list_tasks(cluster="keep", serviceName="svc")["taskArns"])


def test_start_line_health_and_reset(start_server: Any) -> None:
    server: ServerProcess = start_server("--ephemeral", "--runtime", "simulated")
    first_line = wait_until(lambda: server.output().splitlines()[:1], what="the start-up line")[0]
    assert f"listening on {server.endpoint}" in first_line
    assert "runtime simulated" in first_line
    assert requests.get(f"{server.endpoint}/_ecsemu/health", timeout=5).json()["status"] == "ok"
    ecs = client("ecs", server.endpoint)
    ecs.create_cluster(clusterName="gone")
    assert requests.post(f"{server.endpoint}/_ecsemu/reset", json={}, timeout=5).ok
    assert ecs.list_clusters()["clusterArns"] == []
    assert server.kill(signal.SIGTERM) == 0


def test_sigint_stops_cleanly(start_server: Any) -> None:
    server = start_server("--ephemeral", "--runtime", "simulated")
    assert server.kill(signal.SIGINT) == 0


def test_state_survives_sigkill(start_server: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "durable"
    server = start_server("--runtime", "simulated", data_dir=data_dir)
    ecs = client("ecs", server.endpoint)
    seeded = _seed(ecs)
    service_tasks = _service_tasks(ecs)
    # The last write before the kill must survive too.
    ecs.tag_resource(resourceArn=seeded["task"], tags=[{"key": "last", "value": "write"}])
    server.kill(signal.SIGKILL)

    again = start_server("--runtime", "simulated", data_dir=data_dir)
    ecs = client("ecs", again.endpoint)
    cluster = ecs.describe_clusters(clusters=["keep"], include=["TAGS"])["clusters"][0]
    assert cluster["tags"] == [{"key": "team", "value": "core"}]
    described = ecs.describe_task_definition(taskDefinition="keep:1", include=["TAGS"])
    assert described["taskDefinition"]["taskDefinitionArn"] == seeded["definition"]["taskDefinitionArn"]
    assert described["tags"] == [{"key": "kind", "value": "td"}]
    task = ecs.describe_tasks(cluster="keep", tasks=[seeded["task"]], include=["TAGS"])["tasks"][0]
    assert task["lastStatus"] == "RUNNING"
    assert {"key": "last", "value": "write"} in task["tags"]
    # The same service tasks, nothing started twice, and the reconciler carries on.
    ecs.get_waiter("services_stable").wait(cluster="keep", services=["svc"], WaiterConfig=WAIT)
    assert _service_tasks(ecs) == service_tasks
    ecs.update_service(cluster="keep", service="svc", desiredCount=3)
    ecs.get_waiter("services_stable").wait(cluster="keep", services=["svc"], WaiterConfig=WAIT)
    assert len(_service_tasks(ecs)) == 3


def test_state_survives_sigterm(start_server: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "durable"
    server = start_server("--runtime", "simulated", data_dir=data_dir)
    ecs = client("ecs", server.endpoint)
    _seed(ecs)
    assert server.kill(signal.SIGTERM) == 0
    again = start_server("--runtime", "simulated", data_dir=data_dir)
    ecs = client("ecs", again.endpoint)
    assert ecs.list_clusters()["clusterArns"] == ["arn:aws:ecs:us-east-1:123456789012:cluster/keep"]
    assert len(_service_tasks(ecs)) == 2


def test_environment_variables_configure_the_server(start_server: Any) -> None:
    server = start_server(env={"ECSEMU_EPHEMERAL": "1", "ECSEMU_RUNTIME": "simulated", "ECSEMU_ACCOUNT_ID": "210987654321"})
    ecs = client("ecs", server.endpoint)
    arn = ecs.create_cluster(clusterName="env")["cluster"]["clusterArn"]
    assert arn == "arn:aws:ecs:us-east-1:210987654321:cluster/env"
    assert "state in memory" in server.output()
