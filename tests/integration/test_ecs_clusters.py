"""Clusters through boto3, as users drive them: create (idempotent), describe with include,
list with pagination, update settings, delete (INACTIVE, refused while in use), and the
counts DescribeClusters shows following the tasks and services as they start and stop."""

from __future__ import annotations

from typing import Any

import pytest
from api_state import refused, stored
from botocore.exceptions import ClientError
from conftest import wait_until

from ecsemu.app import Emulator

ACCOUNT, REGION = "123456789012", "us-east-1"
WEB = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:latest", "memory": 128}]}


def cluster_arn(name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"


def describe(ecs: Any, name: str, include: list[str] | None = None) -> dict[str, Any]:
    answer = ecs.describe_clusters(clusters=[name], include=include or [])
    assert answer["failures"] == []
    cluster: dict[str, Any] = answer["clusters"][0]
    return cluster


def counts(ecs: Any, name: str) -> tuple[int, int, int]:
    cluster = describe(ecs, name)
    return cluster["runningTasksCount"], cluster["pendingTasksCount"], cluster["activeServicesCount"]


def statistics(ecs: Any, name: str) -> dict[str, str]:
    return {s["name"]: s["value"] for s in describe(ecs, name, ["STATISTICS"])["statistics"]}


# -- create -----------------------------------------------------------------------------------


def test_create_cluster_answers_the_new_cluster(ecs: Any) -> None:
    cluster = ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "web"}])["cluster"]
    assert cluster["clusterArn"] == cluster_arn("prod")
    assert cluster["clusterName"] == "prod"
    assert cluster["status"] == "ACTIVE"
    assert (cluster["registeredContainerInstancesCount"], cluster["runningTasksCount"]) == (0, 0)
    assert (cluster["pendingTasksCount"], cluster["activeServicesCount"]) == (0, 0)
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert cluster["tags"] == [{"key": "team", "value": "web"}]
    assert cluster["statistics"] == []
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("prod")]


def test_create_cluster_without_a_name_creates_default(ecs: Any) -> None:
    assert ecs.create_cluster()["cluster"]["clusterName"] == "default"
    assert ecs.describe_clusters()["clusters"][0]["clusterArn"] == cluster_arn("default")


def test_create_cluster_is_idempotent(ecs: Any, emulator: Emulator) -> None:
    first = ecs.create_cluster(clusterName="prod", tags=[{"key": "v", "value": "1"}])["cluster"]
    before = stored(emulator)
    again = ecs.create_cluster(clusterName="prod", tags=[{"key": "v", "value": "2"}])["cluster"]
    assert again["clusterArn"] == first["clusterArn"]
    assert again["tags"] == [{"key": "v", "value": "1"}]  # the existing cluster, as it is
    assert stored(emulator) == before
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("prod")]


@pytest.mark.parametrize("name", ["has space", "dot.ted", "x" * 256, "slash/ed"])
def test_create_cluster_refuses_bad_names(ecs: Any, emulator: Emulator, name: str) -> None:
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName=name)
    assert ecs.list_clusters()["clusterArns"] == []


def test_create_cluster_refuses_bad_settings_and_tags(ecs: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName="prod", settings=[{"name": "containerInsights", "value": "sometimes"}])
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName="prod", tags=[{"key": "aws:reserved", "value": "x"}])
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName="prod", tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    assert ecs.list_clusters()["clusterArns"] == []


def test_create_cluster_with_capacity_providers(ecs: Any, emulator: Emulator) -> None:
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName="prod", capacityProviders=["GHOST"])
    with refused(emulator, "InvalidParameterException"):
        ecs.create_cluster(clusterName="prod", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=strategy)
    cluster = ecs.create_cluster(
        clusterName="prod", capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=strategy
    )["cluster"]
    assert (cluster["capacityProviders"], cluster["defaultCapacityProviderStrategy"]) == (
        ["FARGATE", "FARGATE_SPOT"],
        strategy,
    )
    assert describe(ecs, "prod")["defaultCapacityProviderStrategy"] == strategy


# -- describe ---------------------------------------------------------------------------------


def test_describe_shows_optional_parts_only_when_included(ecs: Any) -> None:
    ecs.create_cluster(
        clusterName="prod",
        tags=[{"key": "team", "value": "web"}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
        configuration={"executeCommandConfiguration": {"logging": "DEFAULT"}},
    )
    plain = describe(ecs, "prod")
    assert {"settings", "tags", "configuration", "attachments"}.isdisjoint(plain)
    assert plain["statistics"] == []

    assert describe(ecs, "prod", ["SETTINGS"])["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert describe(ecs, "prod", ["TAGS"])["tags"] == [{"key": "team", "value": "web"}]
    assert describe(ecs, "prod", ["CONFIGURATIONS"])["configuration"] == {
        "executeCommandConfiguration": {"logging": "DEFAULT"}
    }
    full = describe(ecs, "prod", ["SETTINGS", "TAGS", "STATISTICS", "CONFIGURATIONS"])
    assert {"settings", "tags", "configuration"} <= set(full)
    assert statistics(ecs, "prod") == {
        "runningEC2TasksCount": "0", "runningFargateTasksCount": "0",
        "pendingEC2TasksCount": "0", "pendingFargateTasksCount": "0",
        "activeEC2ServiceCount": "0", "activeFargateServiceCount": "0",
        "drainingEC2ServiceCount": "0", "drainingFargateServiceCount": "0",
    }  # fmt: skip


def test_describe_by_name_or_arn_and_missing_ones_are_failures(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    answer = ecs.describe_clusters(clusters=["prod", cluster_arn("prod"), "ghost", cluster_arn("phantom")])
    assert [c["clusterName"] for c in answer["clusters"]] == ["prod", "prod"]
    assert answer["failures"] == [
        {"arn": cluster_arn("ghost"), "reason": "MISSING"},
        {"arn": cluster_arn("phantom"), "reason": "MISSING"},
    ]


def test_describe_without_clusters_means_default(ecs: Any) -> None:
    assert ecs.describe_clusters()["failures"] == [{"arn": cluster_arn("default"), "reason": "MISSING"}]
    ecs.create_cluster()
    answer = ecs.describe_clusters()
    assert [c["clusterName"] for c in answer["clusters"]] == ["default"]
    assert answer["failures"] == []


# -- list -------------------------------------------------------------------------------------


def test_list_clusters_pages_through_boto3s_paginator(ecs: Any) -> None:
    names = [f"c{i}" for i in range(7)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    pages = list(ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["clusterArns"]) for page in pages] == [3, 3, 1]
    assert "nextToken" not in pages[-1]
    assert [arn for page in pages for arn in page["clusterArns"]] == [cluster_arn(n) for n in names]
    # By hand, with maxResults/nextToken.
    first = ecs.list_clusters(maxResults=5)
    second = ecs.list_clusters(maxResults=5, nextToken=first["nextToken"])
    assert first["clusterArns"] + second["clusterArns"] == [cluster_arn(n) for n in names]
    assert "nextToken" not in second
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn(n) for n in names]


def test_list_clusters_refuses_bad_page_arguments(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="prod")
    with refused(emulator, "InvalidParameterException"):
        ecs.list_clusters(maxResults=101)
    with refused(emulator, "InvalidParameterException"):
        ecs.list_clusters(maxResults=0)
    with refused(emulator, "InvalidParameterException"):
        ecs.list_clusters(nextToken="not-a-token")


# -- update -----------------------------------------------------------------------------------


def test_update_cluster_settings(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    answer = ecs.update_cluster_settings(cluster="prod", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert answer["cluster"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert describe(ecs, "prod", ["SETTINGS"])["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    ecs.update_cluster(cluster=cluster_arn("prod"), settings=[{"name": "containerInsights", "value": "enhanced"}])
    assert describe(ecs, "prod", ["SETTINGS"])["settings"] == [{"name": "containerInsights", "value": "enhanced"}]


def test_update_cluster_configuration(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    configuration = {
        "executeCommandConfiguration": {"logging": "OVERRIDE", "logConfiguration": {"cloudWatchLogGroupName": "exec"}}
    }
    answer = ecs.update_cluster(cluster="prod", configuration=configuration)
    assert answer["cluster"]["configuration"] == configuration
    assert describe(ecs, "prod", ["CONFIGURATIONS"])["configuration"] == configuration


def test_bad_updates_change_nothing(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="prod")
    with refused(emulator, "InvalidParameterException"):
        ecs.update_cluster_settings(cluster="prod", settings=[{"name": "containerInsights", "value": "maybe"}])
    with refused(emulator, "InvalidParameterException"):
        ecs.update_cluster_settings(cluster="prod", settings=[{"name": "favouriteColour", "value": "enabled"}])
    with refused(emulator, "ClusterNotFoundException"):
        ecs.update_cluster_settings(cluster="ghost", settings=[{"name": "containerInsights", "value": "enabled"}])
    with refused(emulator, "ClusterNotFoundException"):
        ecs.update_cluster(cluster="ghost", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert describe(ecs, "prod", ["SETTINGS"])["settings"] == [{"name": "containerInsights", "value": "disabled"}]


# -- delete -----------------------------------------------------------------------------------


def test_delete_cluster_leaves_it_inactive_and_describable(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "web"}])
    ecs.create_cluster(clusterName="keep")
    deleted = ecs.delete_cluster(cluster="prod")["cluster"]
    assert (deleted["clusterArn"], deleted["status"]) == (cluster_arn("prod"), "INACTIVE")
    assert describe(ecs, "prod")["status"] == "INACTIVE"
    # ECS keeps listing a deleted cluster as long as it can be described.
    assert sorted(ecs.list_clusters()["clusterArns"]) == [cluster_arn("keep"), cluster_arn("prod")]
    with refused(emulator, "ClusterNotFoundException"):
        ecs.delete_cluster(cluster="prod")
    ecs.register_task_definition(**WEB)
    with refused(emulator, "ClusterNotFoundException"):
        ecs.run_task(cluster="prod", taskDefinition="web")
    # Creating it again makes a new ACTIVE cluster of that name.
    again = ecs.create_cluster(clusterName="prod")["cluster"]
    assert (again["status"], again["tags"]) == ("ACTIVE", [])
    assert sorted(ecs.list_clusters()["clusterArns"]) == [cluster_arn("keep"), cluster_arn("prod")]


def test_delete_missing_cluster(ecs: Any, emulator: Emulator) -> None:
    with refused(emulator, "ClusterNotFoundException", "Cluster not found."):
        ecs.delete_cluster(cluster="ghost")


def test_delete_is_refused_while_a_service_is_active_or_draining(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(**WEB)
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    wait_until(lambda: counts(ecs, "prod") == (1, 0, 1), what="the service's task to run")  # the scheduler is done
    with refused(emulator, "ClusterContainsServicesException"):
        ecs.delete_cluster(cluster="prod")
    assert describe(ecs, "prod")["status"] == "ACTIVE"
    ecs.delete_service(cluster="prod", service="web", force=True)
    wait_until(
        lambda: ecs.describe_services(cluster="prod", services=["web"])["services"][0]["status"] == "INACTIVE",
        what="the deleted service to drain",
    )
    assert ecs.delete_cluster(cluster="prod")["cluster"]["status"] == "INACTIVE"


def test_delete_is_refused_while_a_task_is_not_stopped(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(**WEB)
    task_arn = ecs.run_task(cluster="prod", taskDefinition="web")["tasks"][0]["taskArn"]
    with pytest.raises(ClientError) as caught:
        ecs.delete_cluster(cluster="prod")
    assert caught.value.response["Error"]["Code"] == "ClusterContainsTasksException"
    assert describe(ecs, "prod")["status"] == "ACTIVE"
    ecs.stop_task(cluster="prod", task=task_arn)
    wait_until(
        lambda: ecs.describe_tasks(cluster="prod", tasks=[task_arn])["tasks"][0]["lastStatus"] == "STOPPED",
        what="the task to stop",
    )
    assert ecs.delete_cluster(cluster="prod")["cluster"]["status"] == "INACTIVE"


# -- counts follow reality --------------------------------------------------------------------


def test_counts_follow_tasks_and_services_as_they_start_and_stop(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    ecs.create_cluster(clusterName="other")
    ecs.register_task_definition(**WEB)

    arns = [t["taskArn"] for t in ecs.run_task(cluster="prod", taskDefinition="web", count=3)["tasks"]]
    running, pending, services = counts(ecs, "prod")
    assert (running + pending, services) == (3, 0)
    wait_until(lambda: counts(ecs, "prod") == (3, 0, 0), what="3 running tasks")

    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2)
    assert counts(ecs, "prod")[2] == 1
    wait_until(lambda: counts(ecs, "prod") == (5, 0, 1), what="the service's tasks to run")
    assert statistics(ecs, "prod")["runningEC2TasksCount"] == "5"
    assert statistics(ecs, "prod")["activeEC2ServiceCount"] == "1"
    assert counts(ecs, "other") == (0, 0, 0)  # nothing leaks into another cluster

    ecs.stop_task(cluster="prod", task=arns[0], reason="scale down")
    wait_until(lambda: counts(ecs, "prod") == (4, 0, 1), what="a stopped task to leave the count")

    ecs.update_service(cluster="prod", service="web", desiredCount=0)
    ecs.delete_service(cluster="prod", service="web")
    assert counts(ecs, "prod")[2] == 0  # DRAINING is not ACTIVE
    wait_until(lambda: counts(ecs, "prod") == (2, 0, 0), what="the service's tasks to stop")
    wait_until(lambda: statistics(ecs, "prod")["drainingEC2ServiceCount"] == "0", what="the service to go INACTIVE")
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("prod"), cluster_arn("other")]


def test_statistics_separate_fargate_from_ec2(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(**WEB)
    ecs.register_task_definition(
        family="fg",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx"}],
    )
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    ecs.run_task(cluster="prod", taskDefinition="fg", launchType="FARGATE", networkConfiguration=network, count=2)
    ecs.run_task(cluster="prod", taskDefinition="web")
    ecs.create_service(
        cluster="prod",
        serviceName="fg",
        taskDefinition="fg",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network,
    )

    def settled() -> bool:
        stats = statistics(ecs, "prod")
        return stats["runningFargateTasksCount"] == "3" and stats["runningEC2TasksCount"] == "1"

    wait_until(settled, what="every task to run")
    stats = statistics(ecs, "prod")
    assert (stats["activeFargateServiceCount"], stats["activeEC2ServiceCount"]) == ("1", "0")
    assert (stats["pendingFargateTasksCount"], stats["pendingEC2TasksCount"]) == ("0", "0")
    assert counts(ecs, "prod") == (4, 0, 1)
