"""Services through boto3: create (with the defaults AWS shows), describe, list, update
(scaling, new deployments), delete (DRAINING, then INACTIVE), the tasks a service owns, and
boto3's waiters. A refused call must leave the stored state exactly as it was."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_state import refused
from botocore.exceptions import ClientError, WaiterError
from conftest import wait_until

from ecsemu.app import Emulator
from ecsemu.context import Scope

ACCOUNT, REGION = "123456789012", "us-east-1"
SCOPE = Scope(ACCOUNT, REGION)
WAIT = {"Delay": 1, "MaxAttempts": 30}
DEPLOYMENT_ID = re.compile(r"ecs-svc/\d{19}")
APP = {"name": "app", "image": "nginx:latest", "memory": 128}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}


def arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


@pytest.fixture
def prod(ecs: Any) -> Any:
    """A cluster "prod" with task definitions web:1 and web:2, and the Fargate family fg:1."""
    ecs.create_cluster(clusterName="prod")
    for image in ("nginx:1", "nginx:2"):
        ecs.register_task_definition(family="web", containerDefinitions=[{**APP, "image": image}])
    ecs.register_task_definition(
        family="fg",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx"}],
    )
    return ecs


def describe(ecs: Any, name: str, cluster: str = "prod") -> dict[str, Any]:
    answer = ecs.describe_services(cluster=cluster, services=[name])
    assert answer["failures"] == [], answer["failures"]
    service: dict[str, Any] = answer["services"][0]
    return service


def tasks_of(ecs: Any, name: str, desired: str = "RUNNING", cluster: str = "prod") -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus=desired)["taskArns"]
    if not arns:
        return []
    found: list[dict[str, Any]] = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return found


def steady(ecs: Any, name: str, count: int, cluster: str = "prod") -> dict[str, Any]:
    """Wait until the service has one deployment and ``count`` running tasks; return it."""

    def check() -> dict[str, Any] | None:
        service = describe(ecs, name, cluster)
        done = len(service["deployments"]) == 1 and service["runningCount"] == count and service["pendingCount"] == 0
        return service if done and len(tasks_of(ecs, name, cluster=cluster)) == count else None

    result: dict[str, Any] = wait_until(check, what=f"service {name} to run {count} tasks")
    return result


def messages(service: dict[str, Any]) -> list[str]:
    return [event["message"] for event in service["events"]]


def task_ids(tasks: list[dict[str, Any]]) -> set[str]:
    return {t["taskArn"].rsplit("/", 1)[-1] for t in tasks}


# -- create -----------------------------------------------------------------------------------


def test_create_service_answers_with_ecs_defaults(prod: Any) -> None:
    service = prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2)["service"]
    assert service["serviceArn"] == arn("service/prod/web")
    assert (service["serviceName"], service["clusterArn"], service["status"]) == ("web", arn("cluster/prod"), "ACTIVE")
    assert service["taskDefinition"] == arn("task-definition/web:2")  # the family's latest ACTIVE revision
    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (2, 0, 0)
    assert service["launchType"] == "EC2"
    assert service["schedulingStrategy"] == "REPLICA"
    assert service["deploymentController"] == {"type": "ECS"}
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "strategy": "ROLLING",
    }
    assert service["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
    assert service["createdBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert (service["loadBalancers"], service["serviceRegistries"], service["events"]) == ([], [], [])
    assert (service["propagateTags"], service["enableECSManagedTags"], service["enableExecuteCommand"]) == (
        "NONE",
        False,
        False,
    )
    [deployment] = service["deployments"]
    assert DEPLOYMENT_ID.fullmatch(deployment["id"])
    assert deployment["status"] == "PRIMARY"
    assert deployment["taskDefinition"] == arn("task-definition/web:2")
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (2, 0, 0)
    assert (deployment["failedTasks"], deployment["launchType"]) == (0, "EC2")
    assert deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} in progress."


def test_service_runs_its_tasks_and_reaches_a_steady_state(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=3)
    prod.get_waiter("services_stable").wait(cluster="prod", services=["web"], WaiterConfig=WAIT)
    service = steady(prod, "web", 3)
    [deployment] = service["deployments"]
    assert (deployment["rolloutState"], deployment["runningCount"]) == ("COMPLETED", 3)
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    tasks = tasks_of(prod, "web")
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}
    assert {t["group"] for t in tasks} == {"service:web"}
    assert {t["taskDefinitionArn"] for t in tasks} == {arn("task-definition/web:1")}
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    events = messages(service)
    assert events[0] == "(service web) has reached a steady state."
    assert f"(service web) (deployment {deployment['id']}) deployment completed." in events
    [started] = [m for m in events if m.startswith("(service web) has started 3 tasks: ")]
    assert set(re.findall(r"\(task (\w+)\)", started)) == task_ids(tasks)
    assert started.endswith(").")
    # ListTasks by the deployment id finds exactly the service's tasks.
    by_deployment = prod.list_tasks(cluster="prod", startedBy=deployment["id"])["taskArns"]
    assert sorted(by_deployment) == sorted(t["taskArn"] for t in tasks)


def test_duplicate_service_name_is_not_idempotent(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    with refused(emulator, "InvalidParameterException", "Creation of service was not idempotent."):
        prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    # The same name in another cluster is another service.
    prod.create_cluster(clusterName="other")
    assert prod.create_service(cluster="other", serviceName="web", taskDefinition="web", desiredCount=0)["service"][
        "serviceArn"
    ] == arn("service/other/web")


def test_create_service_retried_with_its_client_token_is_idempotent(prod: Any, emulator: Emulator) -> None:
    params = {
        "cluster": "prod",
        "serviceName": "web",
        "taskDefinition": "web",
        "desiredCount": 0,
        "clientToken": "abc-1",
    }
    first = prod.create_service(**params)["service"]
    again = prod.create_service(**params)["service"]
    assert again["deployments"][0]["id"] == first["deployments"][0]["id"]
    assert again["createdAt"] == first["createdAt"]
    with refused(emulator, "InvalidParameterException", "Creation of service was not idempotent."):
        prod.create_service(**{**params, "desiredCount": 1})  # the same token, another request
    with refused(emulator, "InvalidParameterException", "Creation of service was not idempotent."):
        prod.create_service(**{**params, "clientToken": "abc-2"})


BAD_CREATES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "missing cluster": ({"cluster": "ghost"}, "ClusterNotFoundException", "Cluster not found."),
    "unknown task definition": ({"taskDefinition": "ghost"}, "ClientException", None),
    "bad name": ({"serviceName": "no spaces"}, "InvalidParameterException", None),
    "no desired count": ({"desiredCount": None}, "InvalidParameterException", None),
    "fargate on an EC2 definition": (
        {"launchType": "FARGATE"},
        "InvalidParameterException",
        "Task definition does not support launch_type FARGATE.",
    ),
    "awsvpc without network": (
        {"taskDefinition": "fg", "launchType": "FARGATE"},
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    ),
    "network for bridge": ({"networkConfiguration": NETWORK}, "InvalidParameterException", None),
    "launch type and strategy": (
        {"launchType": "EC2", "capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]},
        "InvalidParameterException",
        None,
    ),
    "minimum above 100": (
        {"deploymentConfiguration": {"minimumHealthyPercent": 150}},
        "InvalidParameterException",
        None,
    ),
    "reserved tag": ({"tags": [{"key": "aws:x", "value": "y"}]}, "InvalidParameterException", None),
}


@pytest.mark.parametrize(("changes", "code", "message"), BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_bad_creates_are_refused(
    prod: Any, emulator: Emulator, changes: dict[str, Any], code: str, message: str | None
) -> None:
    params = {"cluster": "prod", "serviceName": "web", "taskDefinition": "web", "desiredCount": 1, **changes}
    with refused(emulator, code, message):
        prod.create_service(**{k: v for k, v in params.items() if v is not None})
    assert prod.list_services(cluster="prod")["serviceArns"] == []


def test_unsupported_service_features_are_refused_cleanly(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "UnsupportedFeatureException"):
        prod.create_service(
            cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1, schedulingStrategy="DAEMON"
        )


def test_fargate_service_with_network_configuration(prod: Any) -> None:
    service = prod.create_service(
        cluster="prod",
        serviceName="fg",
        taskDefinition="fg",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=NETWORK,
    )["service"]
    assert (service["launchType"], service["platformVersion"]) == ("FARGATE", "LATEST")
    assert service["networkConfiguration"] == NETWORK
    steady(prod, "fg", 1)
    [task] = tasks_of(prod, "fg")
    assert task["launchType"] == "FARGATE"
    assert task["attachments"][0]["type"] == "ElasticNetworkInterface"


def test_service_uses_the_clusters_default_capacity_provider_strategy(prod: Any) -> None:
    strategy = [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    prod.put_cluster_capacity_providers(
        cluster="prod", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=strategy
    )
    service = prod.create_service(
        cluster="prod", serviceName="fg", taskDefinition="fg", desiredCount=1, networkConfiguration=NETWORK
    )["service"]
    assert "launchType" not in service
    assert service["capacityProviderStrategy"] == strategy
    assert service["deployments"][0]["capacityProviderStrategy"] == strategy
    steady(prod, "fg", 1)
    [task] = tasks_of(prod, "fg")
    assert (task["launchType"], task["capacityProviderName"]) == ("FARGATE", "FARGATE")


# -- describe and list ------------------------------------------------------------------------


def test_describe_services_by_name_or_arn_with_missing_ones(prod: Any) -> None:
    prod.create_service(
        cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0, tags=[{"key": "a", "value": "1"}]
    )
    answer = prod.describe_services(
        cluster=arn("cluster/prod"), services=["web", arn("service/prod/web"), "ghost", arn("service/prod/phantom")]
    )
    assert [s["serviceName"] for s in answer["services"]] == ["web", "web"]
    assert answer["failures"] == [
        {"arn": arn("service/ghost"), "reason": "MISSING"},  # a name: ECS answers a short ARN
        {"arn": arn("service/prod/phantom"), "reason": "MISSING"},
    ]
    assert "tags" not in answer["services"][0]
    tagged = prod.describe_services(cluster="prod", services=["web"], include=["TAGS"])["services"][0]
    assert tagged["tags"] == [{"key": "a", "value": "1"}]


def test_describe_services_limits(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        prod.describe_services(cluster="prod", services=[f"s{i}" for i in range(11)])
    with refused(emulator, "InvalidParameterException"):
        prod.describe_services(cluster="prod", services=[])
    with refused(emulator, "ClusterNotFoundException"):
        prod.describe_services(cluster="ghost", services=["web"])


def test_list_services_pages_by_ten_and_filters(prod: Any) -> None:
    names = [f"svc{i:02d}" for i in range(12)]
    for name in names:
        prod.create_service(cluster="prod", serviceName=name, taskDefinition="web", desiredCount=0)
    prod.create_service(
        cluster="prod",
        serviceName="fg",
        taskDefinition="fg",
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration=NETWORK,
    )
    first = prod.list_services(cluster="prod")
    assert len(first["serviceArns"]) == 10  # ListServices answers 10 at a time by default
    rest = prod.list_services(cluster="prod", nextToken=first["nextToken"])
    assert "nextToken" not in rest
    everything = first["serviceArns"] + rest["serviceArns"]
    assert everything == [arn(f"service/prod/{n}") for n in [*names, "fg"]]
    pages = list(prod.get_paginator("list_services").paginate(cluster="prod", PaginationConfig={"PageSize": 5}))
    assert [len(p["serviceArns"]) for p in pages] == [5, 5, 3]
    assert prod.list_services(cluster="prod", launchType="FARGATE")["serviceArns"] == [arn("service/prod/fg")]
    assert len(prod.list_services(cluster="prod", launchType="EC2", maxResults=100)["serviceArns"]) == 12
    assert prod.list_services(cluster="prod", schedulingStrategy="DAEMON")["serviceArns"] == []
    prod.create_cluster(clusterName="empty")
    assert prod.list_services(cluster="empty")["serviceArns"] == []


# -- update -----------------------------------------------------------------------------------


def test_scale_out_and_in_with_events(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    first = steady(prod, "web", 1)
    deployment_id = first["deployments"][0]["id"]
    before = task_ids(tasks_of(prod, "web"))

    updated = prod.update_service(cluster="prod", service="web", desiredCount=3)["service"]
    assert updated["desiredCount"] == 3
    assert [d["id"] for d in updated["deployments"]] == [deployment_id]  # scaling is no new deployment
    service = steady(prod, "web", 3)
    added = task_ids(tasks_of(prod, "web")) - before
    assert len(added) == 2
    started = [m for m in messages(service) if "has started 2 tasks" in m]
    assert len(started) == 1
    assert set(re.findall(r"\(task (\w+)\)", started[0])) == added
    assert started[0].startswith("(service web) has started 2 tasks: (task ") and started[0].endswith(").")

    prod.update_service(cluster="prod", service="web", desiredCount=1)
    service = steady(prod, "web", 1)
    stopped_events = [m for m in messages(service) if "has stopped 2 running tasks" in m]
    assert len(stopped_events) == 1
    assert stopped_events[0].startswith("(service web) has stopped 2 running tasks: (task ")
    stopped = tasks_of(prod, "web", desired="STOPPED")
    assert task_ids(stopped) == set(re.findall(r"\(task (\w+)\)", stopped_events[0]))
    for task in stopped:
        assert task["stopCode"] == "ServiceSchedulerInitiated"
        assert task["stoppedReason"] == f"Scaling activity initiated by (deployment {deployment_id})"


def test_new_task_definition_rolls_a_new_primary_deployment(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=2)
    old = steady(prod, "web", 2)["deployments"][0]
    old_tasks = task_ids(tasks_of(prod, "web"))

    updated = prod.update_service(cluster="prod", service="web", taskDefinition="web:2")["service"]
    assert updated["taskDefinition"] == arn("task-definition/web:2")
    primary, active = updated["deployments"]
    assert (primary["status"], primary["taskDefinition"]) == ("PRIMARY", arn("task-definition/web:2"))
    assert (active["status"], active["id"], active["taskDefinition"]) == (
        "ACTIVE",
        old["id"],
        arn("task-definition/web:1"),
    )
    assert DEPLOYMENT_ID.fullmatch(primary["id"]) and primary["id"] != old["id"]
    assert primary["rolloutState"] == "IN_PROGRESS"

    service = steady(prod, "web", 2)  # the old deployment is gone once drained
    [deployment] = service["deployments"]
    assert (deployment["id"], deployment["status"], deployment["rolloutState"]) == (
        primary["id"],
        "PRIMARY",
        "COMPLETED",
    )
    tasks = tasks_of(prod, "web")
    assert task_ids(tasks).isdisjoint(old_tasks)
    assert {t["startedBy"] for t in tasks} == {primary["id"]}
    assert {t["taskDefinitionArn"] for t in tasks} == {arn("task-definition/web:2")}
    replaced = tasks_of(prod, "web", desired="STOPPED")
    assert task_ids(replaced) == old_tasks
    assert {t["stopCode"] for t in replaced} == {"ServiceSchedulerInitiated"}


def test_force_new_deployment_replaces_tasks_with_the_same_definition(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=1)
    old = steady(prod, "web", 1)["deployments"][0]
    old_tasks = task_ids(tasks_of(prod, "web"))
    updated = prod.update_service(cluster="prod", service="web", forceNewDeployment=True)["service"]
    assert len(updated["deployments"]) == 2
    assert updated["deployments"][0]["taskDefinition"] == old["taskDefinition"]
    assert updated["deployments"][0]["id"] != old["id"]
    service = steady(prod, "web", 1)
    assert service["deployments"][0]["id"] == updated["deployments"][0]["id"]
    assert task_ids(tasks_of(prod, "web")).isdisjoint(old_tasks)


def test_same_task_definition_again_is_no_new_deployment(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=0)
    updated = prod.update_service(cluster="prod", service="web", taskDefinition=arn("task-definition/web:1"))["service"]
    assert len(updated["deployments"]) == 1


def test_update_deployment_configuration(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    updated = prod.update_service(
        cluster="prod", service="web", deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 150}
    )["service"]
    configuration = updated["deploymentConfiguration"]
    assert (configuration["minimumHealthyPercent"], configuration["maximumPercent"]) == (50, 150)
    assert configuration["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}


def test_bad_updates_change_nothing(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=0)
    with refused(emulator, "ServiceNotFoundException", "Service not found."):
        prod.update_service(cluster="prod", service="ghost", desiredCount=1)
    with refused(emulator, "ClusterNotFoundException"):
        prod.update_service(cluster="ghost", service="web", desiredCount=1)
    with refused(emulator, "ClientException"):
        prod.update_service(cluster="prod", service="web", taskDefinition="ghost:1", desiredCount=4)
    with refused(emulator, "InvalidParameterException"):
        prod.update_service(cluster="prod", service="web", deploymentConfiguration={"maximumPercent": 50})
    with refused(emulator, "InvalidParameterException"):
        prod.update_service(cluster="prod", service="web", taskDefinition="fg:1")  # awsvpc, and no network given
    assert describe(prod, "web")["desiredCount"] == 0


# -- delete -----------------------------------------------------------------------------------


def test_delete_needs_desired_count_zero_unless_forced(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    steady(prod, "web", 1)  # the scheduler has placed its task: from now on only the API writes
    with refused(emulator, "InvalidParameterException", "The service cannot be stopped while it is scaled above 0."):
        prod.delete_service(cluster="prod", service="web")
    assert describe(prod, "web")["status"] == "ACTIVE"
    deleted = prod.delete_service(cluster="prod", service="web", force=True)["service"]
    assert (deleted["status"], deleted["desiredCount"]) == ("DRAINING", 0)


def test_deleted_service_drains_then_goes_inactive(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2)
    steady(prod, "web", 2)
    prod.update_service(cluster="prod", service="web", desiredCount=0)
    deleted = prod.delete_service(cluster=arn("cluster/prod"), service=arn("service/prod/web"))["service"]
    assert deleted["status"] == "DRAINING"
    assert prod.list_services(cluster="prod")["serviceArns"] == []  # only ACTIVE services are listed
    prod.get_waiter("services_inactive").wait(cluster="prod", services=["web"], WaiterConfig=WAIT)
    service = describe(prod, "web")
    assert (service["status"], service["runningCount"]) == ("INACTIVE", 0)
    assert tasks_of(prod, "web") == []
    assert {t["lastStatus"] for t in tasks_of(prod, "web", desired="STOPPED")} == {"STOPPED"}
    with refused(emulator, "ServiceNotActiveException", "Service was not ACTIVE."):
        prod.update_service(cluster="prod", service="web", desiredCount=1)
    with refused(emulator, "ServiceNotFoundException"):
        prod.delete_service(cluster="prod", service="ghost")


def test_update_while_draining_is_refused(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2)
    steady(prod, "web", 2)
    assert prod.delete_service(cluster="prod", service="web", force=True)["service"]["status"] == "DRAINING"
    # DRAINING while its tasks stop (or INACTIVE already): either way no longer ACTIVE. (The
    # scheduler is stopping tasks meanwhile, so only the service's own spec is compared.)
    before = emulator.store.get(SCOPE, "service", "prod/web")
    with pytest.raises(ClientError) as caught:
        prod.update_service(cluster="prod", service="web", desiredCount=1)
    assert caught.value.response["Error"]["Code"] == "ServiceNotActiveException"
    after = emulator.store.get(SCOPE, "service", "prod/web")
    assert before is not None and after is not None and before["spec"] == after["spec"]
    assert describe(prod, "web")["status"] in ("DRAINING", "INACTIVE")
    wait_until(lambda: describe(prod, "web")["status"] == "INACTIVE", what="the service to go INACTIVE")


def test_a_name_is_free_again_once_its_service_is_inactive(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=0)
    old_id = describe(prod, "web")["deployments"][0]["id"]
    prod.delete_service(cluster="prod", service="web")
    wait_until(lambda: describe(prod, "web")["status"] == "INACTIVE", what="the service to go INACTIVE")
    again = prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:2", desiredCount=1)["service"]
    assert again["status"] == "ACTIVE"
    assert again["deployments"][0]["id"] != old_id
    steady(prod, "web", 1)
    assert prod.list_services(cluster="prod")["serviceArns"] == [arn("service/prod/web")]


# -- waiters ----------------------------------------------------------------------------------


def test_services_stable_waiter_after_each_change(prod: Any) -> None:
    stable = prod.get_waiter("services_stable")
    prod.create_service(cluster="prod", serviceName="a", taskDefinition="web:1", desiredCount=2)
    prod.create_service(cluster="prod", serviceName="b", taskDefinition="web:1", desiredCount=1)
    stable.wait(cluster="prod", services=["a", "b"], WaiterConfig=WAIT)
    prod.update_service(cluster="prod", service="a", taskDefinition="web:2", desiredCount=3)
    stable.wait(cluster="prod", services=["a", "b"], WaiterConfig=WAIT)
    services = prod.describe_services(cluster="prod", services=["a", "b"])["services"]
    assert [(s["runningCount"], len(s["deployments"])) for s in services] == [(3, 1), (1, 1)]


def test_services_stable_waiter_fails_on_a_missing_service(prod: Any) -> None:
    with pytest.raises(WaiterError):
        prod.get_waiter("services_stable").wait(
            cluster="prod", services=["ghost"], WaiterConfig={"Delay": 1, "MaxAttempts": 2}
        )


def test_a_service_arn_names_its_own_cluster_only(prod: Any, emulator: Emulator) -> None:
    prod.create_cluster(clusterName="other")
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    elsewhere = [arn("service/other/web"), f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/prod/web", arn("task/prod/web")]
    answer = prod.describe_services(cluster="prod", services=elsewhere)
    assert answer["services"] == []
    assert answer["failures"] == [{"arn": a, "reason": "MISSING"} for a in elsewhere]
    for reference in elsewhere:
        with refused(emulator, "ServiceNotFoundException"):
            prod.update_service(cluster="prod", service=reference, desiredCount=1)
    # The short (old) ARN format still names the service in the cluster given.
    assert prod.describe_services(cluster="prod", services=[arn("service/web")])["services"][0]["serviceName"] == "web"
