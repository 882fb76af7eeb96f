"""Tasks through boto3: RunTask (count, group, startedBy, overrides, tags, awsvpc, launch
types), the lifecycle and its timestamps, StopTask, DescribeTasks, ListTasks filters, task
protection, and boto3's waiters. A refused call must leave the stored state as it was."""

from __future__ import annotations

from typing import Any

import pytest
from api_state import refused
from botocore.config import Config
from botocore.exceptions import WaiterError
from conftest import client, wait_until

from ecsemu.app import Emulator

ACCOUNT, REGION = "123456789012", "us-east-1"
WAIT = {"Delay": 1, "MaxAttempts": 30}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}}
LIFECYCLE = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)


def arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


@pytest.fixture
def prod(ecs: Any) -> Any:
    """Cluster "prod"; task definitions web:1 (EC2, two containers), vpc:1 (awsvpc), fg:1 (Fargate)."""
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="web",
        containerDefinitions=[
            {"name": "app", "image": "nginx:latest", "memory": 128, "environment": [{"name": "MODE", "value": "prod"}]},
            {"name": "sidecar", "image": "busybox", "memory": 64, "essential": False},
        ],
        tags=[{"key": "from", "value": "definition"}],
    )
    ecs.register_task_definition(
        family="vpc",
        networkMode="awsvpc",
        containerDefinitions=[
            {"name": "app", "image": "nginx", "memory": 128, "portMappings": [{"containerPort": 80}]}
        ],
    )
    ecs.register_task_definition(
        family="fg",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx"}],
    )
    return ecs


def run(ecs: Any, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("cluster", "prod")
    params.setdefault("taskDefinition", "web")
    answer = ecs.run_task(**params)
    assert answer["failures"] == []
    tasks: list[dict[str, Any]] = answer["tasks"]
    return tasks


def describe(ecs: Any, task_arn: str, **params: Any) -> dict[str, Any]:
    answer = ecs.describe_tasks(cluster="prod", tasks=[task_arn], **params)
    assert answer["failures"] == []
    task: dict[str, Any] = answer["tasks"][0]
    return task


def wait_for(ecs: Any, task_arn: str, last_status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        task = describe(ecs, task_arn)
        return task if task["lastStatus"] == last_status else None

    task: dict[str, Any] = wait_until(check, what=f"task to be {last_status}")
    return task


def listed(ecs: Any, **params: Any) -> set[str]:
    pages = ecs.get_paginator("list_tasks").paginate(cluster="prod", **params)
    return {task_arn for page in pages for task_arn in page["taskArns"]}


# -- run --------------------------------------------------------------------------------------


def test_run_task_answers_the_new_task(prod: Any) -> None:
    [task] = run(prod)
    assert task["taskArn"].startswith(arn("task/prod/"))
    assert len(task["taskArn"].rsplit("/", 1)[-1]) == 32
    assert (task["clusterArn"], task["taskDefinitionArn"]) == (arn("cluster/prod"), arn("task-definition/web:1"))
    assert (task["desiredStatus"], task["lastStatus"]) == ("RUNNING", "PROVISIONING")
    assert (task["group"], task["launchType"]) == ("family:web", "EC2")
    assert "startedBy" not in task
    assert [c["name"] for c in task["containers"]] == ["app", "sidecar"]
    assert {c["taskArn"] for c in task["containers"]} == {task["taskArn"]}
    assert task["overrides"] == {"containerOverrides": [], "inferenceAcceleratorOverrides": []}
    assert "createdAt" in task


def test_run_task_count_group_and_started_by(prod: Any) -> None:
    tasks = run(prod, count=10, group="batch", startedBy="nightly-job")
    assert len({t["taskArn"] for t in tasks}) == 10
    assert {(t["group"], t["startedBy"]) for t in tasks} == {("batch", "nightly-job")}
    assert listed(prod, startedBy="nightly-job") == {t["taskArn"] for t in tasks}
    prod.get_waiter("tasks_running").wait(cluster="prod", tasks=[t["taskArn"] for t in tasks], WaiterConfig=WAIT)


@pytest.mark.parametrize("count", [0, 11])
def test_run_task_count_must_be_1_to_10(prod: Any, emulator: Emulator, count: int) -> None:
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(cluster="prod", taskDefinition="web", count=count)
    assert listed(prod) == set()


def test_run_task_overrides(prod: Any) -> None:
    overrides = {
        "containerOverrides": [
            {
                "name": "app",
                "command": ["echo", "hi"],
                "environment": [{"name": "EXTRA", "value": "1"}],
                "cpu": 64,
                "memory": 256,
            }
        ],
        "cpu": "512",
        "memory": "1024",
    }
    [task] = run(prod, overrides=overrides)
    task = wait_for(prod, task["taskArn"], "RUNNING")
    assert task["overrides"]["containerOverrides"] == overrides["containerOverrides"]
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    app = next(c for c in task["containers"] if c["name"] == "app")
    assert (app["cpu"], app["memory"]) == ("64", "256")
    sidecar = next(c for c in task["containers"] if c["name"] == "sidecar")
    assert (sidecar["cpu"], sidecar["memory"]) == ("0", "64")


def test_run_task_refuses_overrides_of_unknown_containers(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(
            cluster="prod",
            taskDefinition="web",
            overrides={"containerOverrides": [{"name": "ghost", "command": ["x"]}]},
        )


def test_run_task_tags_and_propagation(prod: Any) -> None:
    [plain] = run(prod, tags=[{"key": "team", "value": "web"}])
    assert describe(prod, plain["taskArn"], include=["TAGS"])["tags"] == [{"key": "team", "value": "web"}]
    assert "tags" not in describe(prod, plain["taskArn"])
    [propagated] = run(prod, tags=[{"key": "team", "value": "web"}], propagateTags="TASK_DEFINITION")
    tags = describe(prod, propagated["taskArn"], include=["TAGS"])["tags"]
    assert sorted(t["key"] for t in tags) == ["from", "team"]


def test_awsvpc_task_needs_a_network_configuration(prod: Any, emulator: Emulator) -> None:
    with refused(
        emulator,
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    ):
        prod.run_task(cluster="prod", taskDefinition="vpc")
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(
            cluster="prod", taskDefinition="vpc", networkConfiguration={"awsvpcConfiguration": {"subnets": []}}
        )
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(cluster="prod", taskDefinition="web", networkConfiguration=NETWORK)  # bridge mode


def test_awsvpc_task_gets_its_eni_attachment_once_running(prod: Any) -> None:
    [task] = run(prod, taskDefinition="vpc", networkConfiguration=NETWORK)
    task = wait_for(prod, task["taskArn"], "RUNNING")
    [attachment] = task["attachments"]
    assert (attachment["type"], attachment["status"]) == ("ElasticNetworkInterface", "ATTACHED")
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] == "subnet-1"
    assert details["networkInterfaceId"].startswith("eni-")
    assert "privateIPv4Address" in details
    prod.stop_task(cluster="prod", task=task["taskArn"])
    stopped = wait_for(prod, task["taskArn"], "STOPPED")
    assert stopped["attachments"][0]["status"] == "DELETED"


def test_fargate_launch_checks(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException", "Task definition does not support launch_type FARGATE."):
        prod.run_task(cluster="prod", taskDefinition="vpc", launchType="FARGATE", networkConfiguration=NETWORK)
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(
            cluster="prod",
            taskDefinition="fg",
            launchType="FARGATE",
            capacityProviderStrategy=[{"capacityProvider": "FARGATE"}],
            networkConfiguration=NETWORK,
        )
    [task] = run(prod, taskDefinition="fg", launchType="FARGATE", networkConfiguration=NETWORK)
    assert (task["launchType"], task["platformVersion"], task["platformFamily"]) == ("FARGATE", "1.4.0", "Linux")
    assert (task["cpu"], task["memory"]) == ("256", "512")
    [spot] = run(
        prod,
        taskDefinition="fg",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT"}],
        networkConfiguration=NETWORK,
    )
    assert (spot["launchType"], spot["capacityProviderName"]) == ("FARGATE", "FARGATE_SPOT")


def test_run_task_refusals_that_name_missing_things(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "ClusterNotFoundException"):
        prod.run_task(cluster="ghost", taskDefinition="web")
    with refused(emulator, "ClientException"):
        prod.run_task(cluster="prod", taskDefinition="ghost")
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(cluster="prod", taskDefinition="web", startedBy="x" * 129)
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(cluster="prod", taskDefinition="web", tags=[{"key": "aws:x", "value": "y"}])


def test_run_task_is_idempotent_by_client_token(prod: Any, emulator: Emulator) -> None:
    first = run(prod, count=2, clientToken="deploy-42", startedBy="ci")
    again = run(prod, count=2, clientToken="deploy-42", startedBy="ci")  # a retry of the same request
    assert [t["taskArn"] for t in again] == [t["taskArn"] for t in first]
    assert listed(prod) == {t["taskArn"] for t in first}
    with refused(emulator, "ConflictException"):
        prod.run_task(cluster="prod", taskDefinition="web", count=3, clientToken="deploy-42", startedBy="ci")
    # The token is the cluster's: another cluster may use it for its own request.
    prod.create_cluster(clusterName="other")
    [elsewhere] = run(prod, cluster="other", clientToken="deploy-42")
    assert elsewhere["clusterArn"] == arn("cluster/other")
    # Without a token of the caller's own, boto3 sends a fresh one each time.
    assert run(prod)[0]["taskArn"] != run(prod)[0]["taskArn"]


# -- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_timestamps_are_present_and_ordered(prod: Any) -> None:
    [task] = run(prod)
    running = wait_for(prod, task["taskArn"], "RUNNING")
    for member in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "connectivityAt"):
        assert member in running, member
    assert "stoppedAt" not in running
    assert {c["lastStatus"] for c in running["containers"]} == {"RUNNING"}
    prod.stop_task(cluster="prod", task=task["taskArn"])
    stopped = wait_for(prod, task["taskArn"], "STOPPED")
    order = [
        "createdAt",
        "pullStartedAt",
        "pullStoppedAt",
        "startedAt",
        "stoppingAt",
        "executionStoppedAt",
        "stoppedAt",
    ]
    times = [stopped[member] for member in order]
    assert times == sorted(times), dict(zip(order, times, strict=True))
    assert stopped["startedAt"] == running["startedAt"]
    assert stopped["version"] > running["version"] > task.get("version", 0)
    assert {c["lastStatus"] for c in stopped["containers"]} == {"STOPPED"}


def test_last_status_only_moves_forward(prod: Any) -> None:
    [task] = run(prod)
    seen: list[str] = []

    def watch() -> bool:
        status = describe(prod, task["taskArn"])["lastStatus"]
        if not seen or seen[-1] != status:
            seen.append(status)
            if status == "RUNNING":
                prod.stop_task(cluster="prod", task=task["taskArn"])
        return status == "STOPPED"

    wait_until(watch, interval=0.01, what="the task to run and stop")
    ranks = [LIFECYCLE.index(status) for status in seen]
    assert ranks == sorted(ranks), seen
    assert "RUNNING" in seen


def test_list_tasks_never_answers_desired_pending(prod: Any) -> None:
    """Only lastStatus can be PENDING; ListTasks(desiredStatus=PENDING) answers nothing."""
    [task] = run(prod)
    assert describe(prod, task["taskArn"])["lastStatus"] in ("PROVISIONING", "PENDING", "ACTIVATING")
    assert prod.list_tasks(cluster="prod", desiredStatus="PENDING")["taskArns"] == []
    wait_for(prod, task["taskArn"], "RUNNING")
    assert prod.list_tasks(cluster="prod", desiredStatus="PENDING")["taskArns"] == []


# -- stop -------------------------------------------------------------------------------------


def test_stop_task_flips_desired_status_at_once(prod: Any) -> None:
    [task] = run(prod)
    wait_for(prod, task["taskArn"], "RUNNING")
    stopped = prod.stop_task(cluster="prod", task=task["taskArn"])["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    assert (stopped["stopCode"], stopped["stoppedReason"]) == ("UserInitiated", "Task stopped by user")
    assert describe(prod, task["taskArn"])["desiredStatus"] == "STOPPED"
    assert task["taskArn"] not in listed(prod)  # ListTasks filters on desiredStatus
    assert task["taskArn"] in listed(prod, desiredStatus="STOPPED")
    prod.get_waiter("tasks_stopped").wait(cluster="prod", tasks=[task["taskArn"]], WaiterConfig=WAIT)
    final = describe(prod, task["taskArn"])
    assert (final["lastStatus"], final["stopCode"], final["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "Task stopped by user",
    )
    assert {c.get("exitCode") for c in final["containers"]} == {0}


def test_stop_task_with_a_reason_by_id_before_it_runs(prod: Any) -> None:
    [task] = run(prod)
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    prod.stop_task(cluster=arn("cluster/prod"), task=task_id, reason="deploy v2")
    # Asking again changes nothing: the first reason stays.
    again = prod.stop_task(cluster="prod", task=task["taskArn"], reason="other")["task"]
    assert again["stoppedReason"] == "deploy v2"
    final = wait_for(prod, task["taskArn"], "STOPPED")
    assert (final["stopCode"], final["stoppedReason"]) == ("UserInitiated", "deploy v2")


def test_stop_task_refusals(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException", "The referenced task was not found."):
        prod.stop_task(cluster="prod", task="0" * 32)
    with refused(emulator, "ClusterNotFoundException"):
        prod.stop_task(cluster="ghost", task="0" * 32)


# -- describe ---------------------------------------------------------------------------------


def test_describe_tasks_by_id_or_arn_with_missing_ones(prod: Any) -> None:
    [task] = run(prod, tags=[{"key": "a", "value": "1"}])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    ghost = "f" * 32
    answer = prod.describe_tasks(
        cluster="prod", tasks=[task_id, task["taskArn"], ghost, arn(f"task/prod/{'e' * 32}")], include=["TAGS"]
    )
    assert [t["taskArn"] for t in answer["tasks"]] == [task["taskArn"]] * 2
    assert answer["tasks"][0]["tags"] == [{"key": "a", "value": "1"}]
    assert answer["failures"] == [
        {"arn": arn(f"task/prod/{ghost}"), "reason": "MISSING"},
        {"arn": arn(f"task/prod/{'e' * 32}"), "reason": "MISSING"},
    ]


def test_describe_tasks_refusals(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        prod.describe_tasks(cluster="prod", tasks=[])
    with refused(emulator, "ClusterNotFoundException"):
        prod.describe_tasks(cluster="ghost", tasks=["f" * 32])


def test_tasks_running_waiter_fails_for_a_missing_task(prod: Any) -> None:
    with pytest.raises(WaiterError):
        prod.get_waiter("tasks_running").wait(
            cluster="prod", tasks=["f" * 32], WaiterConfig={"Delay": 1, "MaxAttempts": 2}
        )


# -- list -------------------------------------------------------------------------------------


def test_list_tasks_filters(prod: Any) -> None:
    web = {t["taskArn"] for t in run(prod, count=2, startedBy="me")}
    [vpc] = run(prod, taskDefinition="vpc", networkConfiguration=NETWORK)
    [fargate] = run(prod, taskDefinition="fg", launchType="FARGATE", networkConfiguration=NETWORK)
    [stopped] = run(prod)
    prod.stop_task(cluster="prod", task=stopped["taskArn"])
    prod.create_service(cluster="prod", serviceName="svc", taskDefinition="web", desiredCount=2)
    service_tasks = wait_until(lambda: len(listed(prod, serviceName="svc")) == 2 and listed(prod, serviceName="svc"))

    assert listed(prod) == web | {vpc["taskArn"], fargate["taskArn"]} | service_tasks
    assert listed(prod, desiredStatus="RUNNING") == listed(prod)
    assert listed(prod, desiredStatus="STOPPED") == {stopped["taskArn"]}
    assert listed(prod, desiredStatus="PENDING") == set()  # ECS never desires PENDING
    assert listed(prod, family="web") == web | service_tasks
    assert listed(prod, family="web", desiredStatus="STOPPED") == {stopped["taskArn"]}
    assert listed(prod, startedBy="me") == web
    assert listed(prod, serviceName="svc") == service_tasks
    assert listed(prod, serviceName=arn("service/prod/svc")) == service_tasks
    assert listed(prod, launchType="FARGATE") == {fargate["taskArn"]}
    assert listed(prod, launchType="EC2") == web | {vpc["taskArn"]} | service_tasks
    assert listed(prod, family="ghost") == set()
    prod.create_cluster(clusterName="other")
    assert prod.list_tasks(cluster="other")["taskArns"] == []


def test_list_tasks_pages(prod: Any) -> None:
    arns = {t["taskArn"] for t in run(prod, count=10)} | {t["taskArn"] for t in run(prod, count=3)}
    pages = list(prod.get_paginator("list_tasks").paginate(cluster="prod", PaginationConfig={"PageSize": 5}))
    assert [len(p["taskArns"]) for p in pages] == [5, 5, 3]
    assert {a for p in pages for a in p["taskArns"]} == arns


def test_list_tasks_refusals(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="svc", taskDefinition="web", desiredCount=0)
    with refused(emulator, "InvalidParameterException"):
        prod.list_tasks(cluster="prod", serviceName="svc", family="web")
    with refused(emulator, "InvalidParameterException"):
        prod.list_tasks(cluster="prod", startedBy="me", family="web")
    with refused(emulator, "ServiceNotFoundException"):
        prod.list_tasks(cluster="prod", serviceName="ghost")
    with refused(emulator, "ClusterNotFoundException"):
        prod.list_tasks(cluster="ghost")
    with refused(emulator, "InvalidParameterException"):
        prod.list_tasks(cluster="prod", maxResults=101)


# -- task protection --------------------------------------------------------------------------


def test_task_protection_for_service_tasks(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="svc", taskDefinition="web", desiredCount=1)
    [task_arn] = wait_until(lambda: list(listed(prod, serviceName="svc")), what="the service's task")
    [standalone] = run(prod)

    answer = prod.update_task_protection(
        cluster="prod", tasks=[task_arn, standalone["taskArn"]], protectionEnabled=True, expiresInMinutes=60
    )
    [protected] = answer["protectedTasks"]
    assert (protected["taskArn"], protected["protectionEnabled"]) == (task_arn, True)
    assert "expirationDate" in protected
    assert [(f["arn"], f["reason"]) for f in answer["failures"]] == [(standalone["taskArn"], "TASK_NOT_VALID")]

    got = prod.get_task_protection(cluster="prod", tasks=[task_arn])["protectedTasks"]
    assert [(p["taskArn"], p["protectionEnabled"]) for p in got] == [(task_arn, True)]
    assert got[0]["expirationDate"] == protected["expirationDate"]

    prod.update_task_protection(cluster="prod", tasks=[task_arn], protectionEnabled=False)
    [off] = prod.get_task_protection(cluster="prod", tasks=[task_arn])["protectedTasks"]
    assert off["protectionEnabled"] is False
    assert "expirationDate" not in off


def test_task_protection_refusals(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="svc", taskDefinition="web", desiredCount=1)
    [task_arn] = wait_until(lambda: list(listed(prod, serviceName="svc")), what="the service's task")
    wait_until(lambda: describe(prod, task_arn)["lastStatus"] == "RUNNING")
    with refused(emulator, "InvalidParameterException"):
        prod.update_task_protection(cluster="prod", tasks=[task_arn], protectionEnabled=True, expiresInMinutes=2881)
    with refused(emulator, "ClusterNotFoundException"):
        prod.update_task_protection(cluster="ghost", tasks=[task_arn], protectionEnabled=True)
    missing = prod.get_task_protection(cluster="prod", tasks=["f" * 32])
    assert (missing["protectedTasks"], [f["reason"] for f in missing["failures"]]) == ([], ["TASK_NOT_VALID"])


# -- overrides meeting odd definitions --------------------------------------------------------


def test_environment_overrides_need_names(prod: Any, emulator: Emulator) -> None:
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"value": "no name"}]}]}
    with refused(emulator, "InvalidParameterException"):
        prod.run_task(cluster="prod", taskDefinition="web", overrides=overrides)


def test_environment_override_on_a_definition_with_a_nameless_variable(prod: Any, endpoint: str) -> None:
    prod.register_task_definition(
        family="odd",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64, "environment": [{"value": "v"}]}],
    )
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": "1"}]}]}
    once = client("ecs", endpoint, config=Config(retries={"total_max_attempts": 1}))  # a 500 is not retried
    [task] = run(once, taskDefinition="odd", overrides=overrides)
    assert task["overrides"]["containerOverrides"] == overrides["containerOverrides"]
