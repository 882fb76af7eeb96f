"""The server talks (issue 14): one line per API call, per task state change and per service
event; JSON lines on request; a stop that says what it leaves behind; ``--version``; an image
that cannot be had is explained once, with what to do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from conftest import REPO, client, wait_until

from ecsemu import __version__

APP = {"name": "app", "image": "ecsemu-test/web:latest", "memory": 64}


def _service(endpoint: str) -> Any:
    ecs = client("ecs", endpoint)
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="web", containerDefinitions=[APP])
    ecs.create_service(cluster="c", serviceName="web", taskDefinition="web", desiredCount=1)
    return ecs


def test_every_call_task_change_and_service_event_is_logged(start_server: Callable[..., Any]) -> None:
    server = start_server("--runtime", "simulated")
    ecs = _service(server.endpoint)
    ecs.get_waiter("services_stable").wait(cluster="c", services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ecs.describe_services(cluster="c", services=["nope"])
    with pytest.raises(ecs.exceptions.ClientError):
        ecs.describe_clusters(clusters=["c"], include=["NOPE"])
    wait_until(lambda: "has reached a steady state" in server.output(), what="the steady-state event in the log")
    output = server.output()
    assert "ecs CreateCluster 200 " in output
    assert "ecs CreateService 200 " in output
    assert "InvalidParameterException" in output  # the refused DescribeClusters, with its error code
    assert "task c/" in output and "-> RUNNING" in output
    assert "service c/web: (service web) has started 1 tasks: (task " in output
    assert "service c/web: (service web) has reached a steady state." in output
    assert server.kill(signal.SIGINT) == 0
    assert f"ecsemu stopped; state kept in {server.data_dir}" in server.output()


def test_json_lines_and_quiet(start_server: Callable[..., Any]) -> None:
    server = start_server("--runtime", "simulated", "--ephemeral", "--log-format", "json")
    client("ecs", server.endpoint).list_clusters()

    def call_line() -> dict[str, Any] | None:
        for line in server.output().splitlines():
            if line.startswith("{"):
                parsed = json.loads(line)
                if parsed.get("operation") == "ListClusters":
                    return dict(parsed)
        return None

    line = wait_until(call_line, what="the JSON line of the call")
    assert line["logger"] == "ecsemu.api" and line["level"] == "INFO"
    assert (line["service"], line["status"]) == ("ecs", 200) and isinstance(line["ms"], float)
    assert server.kill(signal.SIGTERM) == 0
    assert "its state was in memory" in server.output()

    quiet = start_server("--runtime", "simulated", "--ephemeral", "--quiet")
    client("ecs", quiet.endpoint).list_clusters()
    assert quiet.kill(signal.SIGTERM) == 0
    assert "ListClusters" not in quiet.output()


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ecsemu", "--version"], capture_output=True, text=True, cwd=REPO, timeout=30, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"ecsemu {__version__}")


@pytest.mark.docker
def test_an_image_that_cannot_be_had_is_explained_once(start_server: Callable[..., Any]) -> None:
    server = start_server("--runtime", "docker", "--ephemeral")
    ecs = client("ecs", server.endpoint)
    ecs.create_cluster()
    ecs.register_task_definition(family="gone", containerDefinitions=[{"name": "app", "image": "ecsemu-test/none:404", "memory": 64}])
    arns = [t["taskArn"] for t in ecs.run_task(taskDefinition="gone", count=2)["tasks"]]
    ecs.get_waiter("tasks_stopped").wait(tasks=arns, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    reasons = {t["stoppedReason"].split(":")[0] for t in ecs.describe_tasks(tasks=arns)["tasks"]}
    assert reasons == {"CannotPullContainerError"}
    hints = [line for line in server.output().splitlines() if "image ecsemu-test/none:404 is not in the local Docker" in line]
    assert len(hints) == 1, server.output()[-3000:]
    assert "docker build -t ecsemu-test/none:404" in hints[0]
    assert server.kill(signal.SIGTERM) == 0


@pytest.mark.docker
def test_a_durable_stop_says_what_it_leaves_running_and_how_to_adopt_it(start_server: Callable[..., Any]) -> None:
    server = start_server("--runtime", "docker")
    ecs = client("ecs", server.endpoint)
    ecs.create_cluster()
    ecs.register_task_definition(family="web", containerDefinitions=[APP])
    arn = ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert server.kill(signal.SIGINT) == 0
    farewell = server.output()
    assert "1 tasks' containers are left running" in farewell, farewell[-2000:]
    assert f"ecsemu serve --data-dir {server.data_dir}` adopts them" in farewell
    assert "docker rm -f $(docker ps -aq --filter label=ecsemu.namespace=d-" in farewell

    again = start_server("--runtime", "docker", data_dir=server.data_dir)  # adopts the task, then stops it
    ecs = client("ecs", again.endpoint)
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
    ecs.stop_task(task=arn)
    ecs.get_waiter("tasks_stopped").wait(tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
