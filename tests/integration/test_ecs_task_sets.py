"""Task sets (the EXTERNAL deployment controller), driven through boto3 against the live
server, as users do: their API, and the tasks the scheduler runs for them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import wait_until
from ecs_other_helpers import error_of

pytestmark = pytest.mark.usefixtures("remember_emulator")

WEB = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:latest", "cpu": 256, "memory": 128}]}


# -- task sets ------------------------------------------------------------------------------


@pytest.fixture
def external(ecs: Any) -> Any:
    """Cluster ``apps`` with an EXTERNAL-controller service ``web`` of desired count 4."""
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(**WEB)
    ecs.create_service(cluster="apps", serviceName="web", desiredCount=4, deploymentController={"type": "EXTERNAL"})
    return ecs


def task_sets(ecs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ecs.describe_task_sets(cluster="apps", service="web")["taskSets"]
    return found


def test_create_and_describe_task_sets(external: Any) -> None:
    ecs = external
    created = ecs.create_task_set(
        cluster="apps",
        service="web",
        taskDefinition="web",
        scale={"value": 50, "unit": "PERCENT"},
        externalId="blue",
        tags=[{"key": "color", "value": "blue"}],
    )["taskSet"]
    assert re.fullmatch(r"ecs-svc/[1-9]\d{18}", created["id"])
    assert created["taskSetArn"] == f"arn:aws:ecs:us-east-1:123456789012:task-set/apps/web/{created['id']}"
    assert created["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/apps/web"
    assert created["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/apps"
    assert (created["status"], created["computedDesiredCount"], created["launchType"]) == ("ACTIVE", 2, "EC2")
    assert created["taskDefinition"] == "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    assert (created["scale"], created["externalId"], created["stabilityStatus"]) == (
        {"value": 50.0, "unit": "PERCENT"},
        "blue",
        "STABILIZING",
    )
    assert "startedBy" not in created and "tags" not in created

    default = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web:1")["taskSet"]
    assert (default["scale"], default["computedDesiredCount"]) == ({"value": 0.0, "unit": "PERCENT"}, 0)

    assert [t["id"] for t in task_sets(ecs)] == [created["id"], default["id"]]
    answer = ecs.describe_task_sets(
        cluster="apps", service="web", taskSets=[created["taskSetArn"], "ecs-svc/1"], include=["TAGS"]
    )
    assert answer["taskSets"][0]["tags"] == [{"key": "color", "value": "blue"}]
    assert answer["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:task-set/apps/web/ecs-svc/1", "reason": "MISSING"}
    ]
    assert ecs.list_tags_for_resource(resourceArn=created["taskSetArn"])["tags"] == [{"key": "color", "value": "blue"}]


def test_computed_desired_count_follows_scale_and_the_service(external: Any) -> None:
    ecs = external
    task_set = ecs.create_task_set(
        cluster="apps", service="web", taskDefinition="web", scale={"value": 30, "unit": "PERCENT"}
    )["taskSet"]
    assert task_set["computedDesiredCount"] == 2  # ceil(4 x 0.3 = 1.2)
    updated = ecs.update_task_set(
        cluster="apps", service="web", taskSet=task_set["id"], scale={"value": 100, "unit": "PERCENT"}
    )["taskSet"]
    assert (updated["computedDesiredCount"], updated["updatedAt"] >= task_set["updatedAt"]) == (4, True)
    ecs.update_service(cluster="apps", service="web", desiredCount=3)
    assert task_sets(ecs)[0]["computedDesiredCount"] == 3


def test_primary_task_set_moves_and_carries_its_settings_to_the_service(external: Any) -> None:
    ecs = external
    ecs.register_task_definition(**WEB)
    blue = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web:1")["taskSet"]
    green = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web:2")["taskSet"]
    assert (
        ecs.update_service_primary_task_set(cluster="apps", service="web", primaryTaskSet=blue["id"])["taskSet"][
            "status"
        ]
        == "PRIMARY"
    )
    primary = ecs.update_service_primary_task_set(cluster="apps", service="web", primaryTaskSet=green["taskSetArn"])[
        "taskSet"
    ]
    assert primary["status"] == "PRIMARY"
    assert {t["id"]: t["status"] for t in task_sets(ecs)} == {blue["id"]: "ACTIVE", green["id"]: "PRIMARY"}
    service = ecs.describe_services(cluster="apps", services=["web"])["services"][0]
    assert (service["taskDefinition"], service["launchType"]) == (green["taskDefinition"], "EC2")


def test_deleting_a_task_set_drains_it(external: Any) -> None:
    ecs = external
    task_set = ecs.create_task_set(
        cluster="apps", service="web", taskDefinition="web", scale={"value": 25, "unit": "PERCENT"}
    )["taskSet"]
    code, _ = error_of(ecs.delete_task_set, cluster="apps", service="web", taskSet=task_set["id"])
    assert code == "InvalidParameterException"
    assert task_sets(ecs)[0]["status"] == "ACTIVE"
    deleted = ecs.delete_task_set(cluster="apps", service="web", taskSet=task_set["id"], force=True)["taskSet"]
    assert (deleted["status"], deleted["computedDesiredCount"]) == ("DRAINING", 0)
    code, _ = error_of(
        ecs.update_task_set,
        cluster="apps",
        service="web",
        taskSet=task_set["id"],
        scale={"value": 10, "unit": "PERCENT"},
    )
    assert code == "InvalidParameterException"
    code, _ = error_of(
        ecs.update_service_primary_task_set, cluster="apps", service="web", primaryTaskSet=task_set["id"]
    )
    assert code == "InvalidParameterException"
    unscaled = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web")["taskSet"]
    assert ecs.delete_task_set(cluster="apps", service="web", taskSet=unscaled["id"])["taskSet"]["status"] == "DRAINING"


def test_task_set_errors_change_nothing(external: Any) -> None:
    ecs = external
    ecs.create_service(cluster="apps", serviceName="rolling", taskDefinition="web", desiredCount=1)
    code, message = error_of(ecs.create_task_set, cluster="apps", service="rolling", taskDefinition="web")
    assert (code, message) == (
        "InvalidParameterException",
        "Amazon ECS only supports task set management on services configured to use external deployment controllers.",
    )
    assert error_of(ecs.describe_task_sets, cluster="apps", service="rolling")[0] == "InvalidParameterException"
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="ghost", taskDefinition="web")[0]
        == "ServiceNotFoundException"
    )
    assert (
        error_of(ecs.create_task_set, cluster="ghost", service="web", taskDefinition="web")[0]
        == "ClusterNotFoundException"
    )
    assert error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="nope")[0] == "ClientException"
    too_big = {"value": 150, "unit": "PERCENT"}
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="web", scale=too_big)[0]
        == "InvalidParameterException"
    )
    both = {"launchType": "EC2", "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="web", **both)[0]
        == "InvalidParameterException"
    )
    unassociated = [{"capacityProvider": "FARGATE", "weight": 1}]
    assert (
        error_of(
            ecs.create_task_set,
            cluster="apps",
            service="web",
            taskDefinition="web",
            capacityProviderStrategy=unassociated,
        )[0]
        == "InvalidParameterException"
    )
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="web", platformVersion="1.4.0")[0]
        == "InvalidParameterException"
    )
    lb = [
        {
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1",
            "containerName": "app",
            "containerPort": 80,
        }
    ]
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="web", loadBalancers=lb)[0]
        == "UnsupportedFeatureException"
    )
    for missing in ("ecs-svc/1234567890123456789", "arn:aws:ecs:us-east-1:123456789012:task-set/apps/other/ecs-svc/1"):
        code, message = error_of(
            ecs.update_task_set, cluster="apps", service="web", taskSet=missing, scale={"value": 1, "unit": "PERCENT"}
        )
        assert (code, message) == ("TaskSetNotFoundException", "The specified task set does not exist.")
    assert (
        error_of(ecs.delete_task_set, cluster="apps", service="web", taskSet="ecs-svc/1")[0]
        == "TaskSetNotFoundException"
    )
    assert task_sets(ecs) == []

    ecs.delete_service(cluster="apps", service="web", force=True)
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="web")[0]
        == "ServiceNotActiveException"
    )


def test_client_token_makes_create_task_set_idempotent(external: Any) -> None:
    ecs = external
    first = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web", clientToken="deploy-42")["taskSet"]
    again = ecs.create_task_set(cluster="apps", service="web", taskDefinition="web", clientToken="deploy-42")["taskSet"]
    assert first["id"] == again["id"]
    assert len(task_sets(ecs)) == 1


def test_task_set_on_fargate_uses_the_cluster_strategy(external: Any) -> None:
    ecs = external
    ecs.register_task_definition(
        family="tiny",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx"}],
    )
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    assert (
        error_of(ecs.create_task_set, cluster="apps", service="web", taskDefinition="tiny")[0]
        == "InvalidParameterException"
    )
    ecs.put_cluster_capacity_providers(
        cluster="apps",
        capacityProviders=["FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    created = ecs.create_task_set(cluster="apps", service="web", taskDefinition="tiny", networkConfiguration=network)[
        "taskSet"
    ]
    assert [item["capacityProvider"] for item in created["capacityProviderStrategy"]] == ["FARGATE"]
    assert "launchType" not in created
    assert (created["platformVersion"], created["platformFamily"]) == ("LATEST", "Linux")
    assert created["networkConfiguration"] == {
        "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}
    }


# -- task sets run ------------------------------------------------------------------------

WAIT = {"Delay": 1, "MaxAttempts": 30}


def counts(ecs: Any) -> list[tuple[str, str, int, int, str]]:
    return [
        (t["id"], t["status"], t["runningCount"], t["pendingCount"], t["stabilityStatus"])
        for t in ecs.describe_task_sets(cluster="apps", service="web")["taskSets"]
    ]


def test_task_sets_run_their_share_of_the_service(external: Any) -> None:
    ecs = external
    blue = ecs.create_task_set(
        cluster="apps", service="web", taskDefinition="web", scale={"value": 50, "unit": "PERCENT"}
    )
    blue_id = blue["taskSet"]["id"]
    wait_until(lambda: counts(ecs) == [(blue_id, "ACTIVE", 2, 0, "STEADY_STATE")], what="blue to run 2 tasks")
    arns = ecs.list_tasks(cluster="apps", serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster="apps", tasks=arns)["tasks"]
    assert {(t["startedBy"], t["group"]) for t in tasks} == {(blue_id, "service:web")}
    service = ecs.describe_services(cluster="apps", services=["web"])["services"][0]
    assert [(t["id"], t["runningCount"]) for t in service["taskSets"]] == [(blue_id, 2)]

    green = ecs.create_task_set(
        cluster="apps", service="web", taskDefinition="web", scale={"value": 100, "unit": "PERCENT"}
    )
    green_id = green["taskSet"]["id"]
    ecs.update_service_primary_task_set(cluster="apps", service="web", primaryTaskSet=green_id)
    ecs.update_task_set(cluster="apps", service="web", taskSet=blue_id, scale={"value": 0, "unit": "PERCENT"})
    steady = [(blue_id, "ACTIVE", 0, 0, "STEADY_STATE"), (green_id, "PRIMARY", 4, 0, "STEADY_STATE")]
    wait_until(lambda: counts(ecs) == steady, what="green to take over")
    ecs.delete_task_set(cluster="apps", service="web", taskSet=blue_id)
    wait_until(lambda: counts(ecs) == steady[1:], what="blue to drain away")

    ecs.update_service(cluster="apps", service="web", desiredCount=0)
    ecs.delete_service(cluster="apps", service="web")
    ecs.get_waiter("services_inactive").wait(cluster="apps", services=["web"], WaiterConfig=WAIT)
    assert ecs.list_tasks(cluster="apps", serviceName="web")["taskArns"] == []


def test_a_recreated_service_does_not_inherit_old_task_sets(external: Any) -> None:
    ecs = external
    ecs.create_task_set(cluster="apps", service="web", taskDefinition="web")
    ecs.update_service(cluster="apps", service="web", desiredCount=0)
    ecs.delete_service(cluster="apps", service="web")
    ecs.get_waiter("services_inactive").wait(cluster="apps", services=["web"], WaiterConfig=WAIT)
    ecs.create_service(cluster="apps", serviceName="web", desiredCount=1, deploymentController={"type": "EXTERNAL"})
    assert task_sets(ecs) == []
