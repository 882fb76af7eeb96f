"""Real containers behind the ECS API: the issue's "done when", as a user would try it.

Tasks run the test web image (tests/images/web, built by scripts/build-test-images.sh). Every
request goes to 127.0.0.1:<published port> as networkBindings report it.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

import pytest
import requests
from conftest import client, wait_until

pytestmark = pytest.mark.docker

IMAGE = "ecsemu-test/web:latest"
WAIT = {"Delay": 1, "MaxAttempts": 60}


def _web(family: str = "web", **container: Any) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {"name": "web", "image": IMAGE, "memory": 64, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5, **container}
        ],
    }


def _url(task: dict[str, Any], path: str = "/") -> str:
    binding = task["containers"][0]["networkBindings"][0]
    assert binding["bindIP"] == "127.0.0.1"
    return f"http://127.0.0.1:{binding['hostPort']}{path}"


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=2)
    except requests.RequestException:
        return None


def _running_tasks(ecs: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"]


def _container_ids(task: dict[str, Any]) -> list[str]:
    return [c["runtimeId"] for c in task["containers"]]


def test_service_of_three_reachable_and_replaced_after_docker_kill(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="real")
    ecs.register_task_definition(**_web())
    ecs.create_service(cluster="real", serviceName="web", taskDefinition="web", desiredCount=3)
    ecs.get_waiter("services_stable").wait(cluster="real", services=["web"], WaiterConfig=WAIT)

    tasks = _running_tasks(ecs, "real", "web")
    assert len(tasks) == 3
    ports = {t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks}
    assert len(ports) == 3
    for task in tasks:
        answer = wait_until(lambda task=task: _get(_url(task)), what="the task to answer")
        assert answer.json()["taskArn"] == task["taskArn"]

    victim = tasks[0]
    subprocess.run(["docker", "kill", victim["containers"][0]["runtimeId"]], check=True, capture_output=True)

    def replaced() -> bool:
        live = _running_tasks(ecs, "real", "web")
        return len(live) == 3 and victim["taskArn"] not in {t["taskArn"] for t in live}

    wait_until(replaced, timeout=30, what="a replacement task")
    stopped = ecs.describe_tasks(cluster="real", tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["containers"][0]["exitCode"] == 137
    events = [e["message"] for e in ecs.describe_services(cluster="real", services=["web"])["services"][0]["events"]]
    assert any(m.startswith("(service web) has started 1 tasks: (task ") for m in events)


def test_unhealthy_task_is_replaced(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="health")
    check = {"command": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"], "interval": 5, "timeout": 2, "retries": 1}
    ecs.register_task_definition(**_web("healthy", healthCheck=check))
    ecs.create_service(cluster="health", serviceName="web", taskDefinition="healthy", desiredCount=1)
    ecs.get_waiter("services_stable").wait(cluster="health", services=["web"], WaiterConfig=WAIT)
    task = _running_tasks(ecs, "health", "web")[0]

    def healthy() -> bool:
        described = ecs.describe_tasks(cluster="health", tasks=[task["taskArn"]])["tasks"][0]
        return bool(described["healthStatus"] == "HEALTHY")

    wait_until(healthy, timeout=30, what="the first health check to pass")
    assert requests.get(_url(task, "/health/fail"), timeout=5).ok

    def replaced() -> bool:
        described = ecs.describe_tasks(cluster="health", tasks=[task["taskArn"]])["tasks"][0]
        return described["desiredStatus"] == "STOPPED" and len(_running_tasks(ecs, "health", "web")) == 1

    wait_until(replaced, timeout=60, what="the unhealthy task to be replaced")
    stopped = ecs.describe_tasks(cluster="health", tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["stoppedReason"] == "Task failed container health checks"
    events = [e["message"] for e in ecs.describe_services(cluster="health", services=["web"])["services"][0]["events"]]
    assert f"(service web) (task {task['taskArn'].rsplit('/', 1)[1]}) failed container health checks." in events


def test_one_off_task_exit_code(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="jobs")
    ecs.register_task_definition(**_web("job", command=["sh", "-c", "exit 3"]))
    task_arn = ecs.run_task(cluster="jobs", taskDefinition="job")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_stopped").wait(cluster="jobs", tasks=[task_arn], WaiterConfig=WAIT)
    task = ecs.describe_tasks(cluster="jobs", tasks=[task_arn])["tasks"][0]
    assert task["containers"][0]["exitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"
    for stamp in ("pullStartedAt", "pullStoppedAt", "stoppingAt", "stoppedAt", "executionStoppedAt"):
        assert stamp in task


def test_missing_image_fails_with_cannot_pull(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="pull")
    ecs.register_task_definition(**_web("ghost", image="ecsemu-test/does-not-exist:1"))
    task_arn = ecs.run_task(cluster="pull", taskDefinition="ghost")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_stopped").wait(cluster="pull", tasks=[task_arn], WaiterConfig=WAIT)
    task = ecs.describe_tasks(cluster="pull", tasks=[task_arn])["tasks"][0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError")


def test_stop_task_and_oom(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="limits")
    ecs.register_task_definition(**_web("small", memory=16))
    arns = [t["taskArn"] for t in ecs.run_task(cluster="limits", taskDefinition="small", count=2)["tasks"]]
    ecs.get_waiter("tasks_running").wait(cluster="limits", tasks=arns, WaiterConfig=WAIT)
    oom, stopped = ecs.describe_tasks(cluster="limits", tasks=arns)["tasks"]
    _get(_url(oom, "/alloc?mb=64"))
    ecs.stop_task(cluster="limits", task=stopped["taskArn"], reason="done here")
    ecs.get_waiter("tasks_stopped").wait(cluster="limits", tasks=arns, WaiterConfig=WAIT)
    by_arn = {t["taskArn"]: t for t in ecs.describe_tasks(cluster="limits", tasks=arns)["tasks"]}
    assert by_arn[oom["taskArn"]]["containers"][0]["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert by_arn[stopped["taskArn"]]["stoppedReason"] == "done here"
    assert by_arn[stopped["taskArn"]]["containers"][0]["exitCode"] == 0  # the app exits on SIGTERM


def test_awsvpc_tasks_share_a_container_port_and_report_bindings(docker_ecs: Any) -> None:
    ecs = docker_ecs
    ecs.create_cluster(clusterName="vpc")
    definition = _web("vpc")
    definition.update(networkMode="awsvpc", cpu="256", memory="512", requiresCompatibilities=["FARGATE"])
    del definition["containerDefinitions"][0]["memory"]
    ecs.register_task_definition(**definition)
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}
    arns = [t["taskArn"] for t in ecs.run_task(cluster="vpc", taskDefinition="vpc", count=3, launchType="FARGATE", networkConfiguration=network)["tasks"]]
    ecs.get_waiter("tasks_running").wait(cluster="vpc", tasks=arns, WaiterConfig=WAIT)
    tasks = ecs.describe_tasks(cluster="vpc", tasks=arns)["tasks"]
    assert len({t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks}) == 3
    for task in tasks:
        answer = wait_until(lambda task=task: _get(_url(task)), what="the task to answer")
        assert json.loads(answer.text)["taskArn"] == task["taskArn"]
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        assert details["privateIPv4Address"] == "127.0.0.1"


def test_kill_dash_nine_restart_adopts_the_same_containers(start_server: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "state"
    server = start_server("--runtime", "docker", data_dir=data_dir)
    ecs = client("ecs", server.endpoint)
    try:
        ecs.create_cluster(clusterName="adopt")
        ecs.register_task_definition(**_web("adopt"))
        ecs.create_service(cluster="adopt", serviceName="web", taskDefinition="adopt", desiredCount=3)
        ecs.get_waiter("services_stable").wait(cluster="adopt", services=["web"], WaiterConfig=WAIT)
        before = {t["taskArn"]: _container_ids(t) for t in _running_tasks(ecs, "adopt", "web")}
        server.kill(signal.SIGKILL)

        server = start_server("--runtime", "docker", data_dir=data_dir)
        ecs = client("ecs", server.endpoint)
        ecs.get_waiter("services_stable").wait(cluster="adopt", services=["web"], WaiterConfig=WAIT)
        after = {t["taskArn"]: _container_ids(t) for t in _running_tasks(ecs, "adopt", "web")}
        assert after == before
        labelled = subprocess.run(
            ["docker", "ps", "-q", "--filter", "label=com.amazonaws.ecs.cluster=adopt", "--filter", "label=ecsemu.container-name=web"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert len(labelled) == 3
    finally:
        ecs.update_service(cluster="adopt", service="web", desiredCount=0)
        ecs.delete_service(cluster="adopt", service="web", force=True)
        ecs.get_waiter("services_inactive").wait(cluster="adopt", services=["web"], WaiterConfig=WAIT)
        requests.post(f"{server.endpoint}/_ecsemu/reset", json={}, timeout=10)
        wait_until(
            lambda: not subprocess.run(["docker", "ps", "-aq", "--filter", "label=com.amazonaws.ecs.cluster=adopt"], capture_output=True, text=True, check=True).stdout.strip(),
            timeout=60, what="the test's containers to be removed",
        )  # fmt: skip


def test_an_ephemeral_emulator_takes_its_containers_with_it(start_server: Any) -> None:
    server = start_server("--runtime", "docker", "--ephemeral")
    ecs = client("ecs", server.endpoint)
    ecs.create_cluster(clusterName="fleeting")
    ecs.register_task_definition(**_web("fleeting"))
    task_arn = ecs.run_task(cluster="fleeting", taskDefinition="fleeting")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster="fleeting", tasks=[task_arn], WaiterConfig=WAIT)
    assert server.kill(signal.SIGTERM) == 0
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=com.amazonaws.ecs.cluster=fleeting"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert left == []
