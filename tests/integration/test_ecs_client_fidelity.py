"""ECS answers that clients nobody here wrote depend on (Terraform's AWS provider, moto's ECS
suite in server mode), each as AWS gives it:

- PutClusterCapacityProviders accepts empty lists (Terraform's destroy of
  ``aws_ecs_cluster_capacity_providers``), as does TagResource (its model says ``min: 0``);
  the required lists AWS does refuse empty keep ECS's own words.
- An EFS volume without ``rootDirectory`` comes back with ``/``.
- DescribeServices names an unknown service by its short ARN, without the cluster.
- Fargate refuses ``pidMode: host`` and ``ipcMode`` with its own message, even when the
  emulator allows host access.
- ListClusters keeps listing a deleted (INACTIVE) cluster, as long as DescribeClusters finds it.
- DeleteTaskDefinitions' failures echo the identifier as given; a family without a revision is
  an invalid identifier.
- ``compatibilities`` is derived as ECS derives it now (EXTERNAL for every non-awsvpc mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from api_state import refused
from botocore.config import Config as BotoConfig
from conftest import client

from ecsemu.app import Emulator
from ecsemu.config import Config

ACCOUNT, REGION = "123456789012", "us-east-1"
APP = {"name": "app", "image": "nginx:latest", "memory": 128}
FARGATE = {
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "app", "image": "nginx"}],
}
FARGATE_PID_HOST = (
    "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'."
)


def arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


def register(ecs: Any, family: str = "web", **members: Any) -> dict[str, Any]:
    members.setdefault("containerDefinitions", [dict(APP)])
    definition: dict[str, Any] = ecs.register_task_definition(family=family, **members)["taskDefinition"]
    return definition


# -- empty required lists ---------------------------------------------------------------------


def test_put_cluster_capacity_providers_accepts_empty_lists_and_clears_them(ecs: Any) -> None:
    strategy = [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    ecs.create_cluster(clusterName="prod")
    ecs.put_cluster_capacity_providers(
        cluster="prod", capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=strategy
    )
    # What Terraform sends when it destroys aws_ecs_cluster_capacity_providers.
    cluster = ecs.put_cluster_capacity_providers(
        cluster="prod", capacityProviders=[], defaultCapacityProviderStrategy=[]
    )["cluster"]
    assert (cluster["capacityProviders"], cluster["defaultCapacityProviderStrategy"]) == ([], [])
    described = ecs.describe_clusters(clusters=["prod"])["clusters"][0]
    assert (described["capacityProviders"], described["defaultCapacityProviderStrategy"]) == ([], [])
    # Providers without a default strategy ("an empty array to bypass defining one").
    cluster = ecs.put_cluster_capacity_providers(
        cluster="prod", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[]
    )["cluster"]
    assert (cluster["capacityProviders"], cluster["defaultCapacityProviderStrategy"]) == (["FARGATE"], [])


def test_put_cluster_capacity_providers_still_needs_both_members(endpoint: str, emulator: Emulator) -> None:
    unchecked = client("ecs", endpoint, config=BotoConfig(parameter_validation=False))
    unchecked.create_cluster(clusterName="prod")
    with refused(emulator, "InvalidParameterException"):
        unchecked.put_cluster_capacity_providers(cluster="prod", capacityProviders=[])


def test_tag_resource_accepts_an_empty_tag_list(ecs: Any) -> None:
    cluster_arn = ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "web"}])["cluster"][
        "clusterArn"
    ]
    ecs.tag_resource(resourceArn=cluster_arn, tags=[])
    assert ecs.list_tags_for_resource(resourceArn=cluster_arn)["tags"] == [{"key": "team", "value": "web"}]


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("describe_tasks", {"tasks": []}, "Tasks cannot be empty."),
        ("describe_services", {"services": []}, "Services cannot be empty."),
    ],
)
def test_required_lists_aws_refuses_empty_stay_refused(
    ecs: Any, emulator: Emulator, operation: str, params: dict[str, Any], message: str
) -> None:
    ecs.create_cluster(clusterName="default")
    with refused(emulator, "InvalidParameterException", message):
        getattr(ecs, operation)(**params)


# -- task definitions -------------------------------------------------------------------------


def test_efs_volume_without_root_directory_mounts_the_root(ecs: Any) -> None:
    volumes = [
        {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}},
        {"name": "logs", "efsVolumeConfiguration": {"fileSystemId": "fs-2", "rootDirectory": "/logs"}},
        {"name": "scratch"},
    ]
    expected = [
        {
            "name": "data",
            "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/", "transitEncryption": "ENABLED"},
        },
        {"name": "logs", "efsVolumeConfiguration": {"fileSystemId": "fs-2", "rootDirectory": "/logs"}},
        {"name": "scratch"},
    ]
    assert register(ecs, volumes=volumes)["volumes"] == expected
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["volumes"] == expected


@pytest.mark.parametrize(
    ("members", "compatibilities"),
    [
        ({}, ["EXTERNAL", "EC2"]),
        ({"requiresCompatibilities": ["EC2"]}, ["EXTERNAL", "EC2"]),
        ({"requiresCompatibilities": ["EXTERNAL"]}, ["EXTERNAL", "EC2"]),
        ({"networkMode": "bridge", "cpu": "256", "memory": "512"}, ["EXTERNAL", "EC2"]),
        ({"networkMode": "host"}, ["EXTERNAL", "EC2"]),
        ({"networkMode": "none"}, ["EXTERNAL", "EC2"]),
        ({"networkMode": "awsvpc"}, ["EC2"]),
        ({"networkMode": "awsvpc", "cpu": "256", "memory": "512"}, ["EC2", "FARGATE"]),
        (FARGATE, ["EC2", "FARGATE"]),
    ],
    ids=["none given", "EC2", "EXTERNAL", "bridge with sizes", "host", "none", "awsvpc", "awsvpc sized", "FARGATE"],
)
def test_compatibilities_are_derived_as_ecs_derives_them(
    host_access_ecs: Any, members: dict[str, Any], compatibilities: list[str]
) -> None:
    assert register(host_access_ecs, **members)["compatibilities"] == compatibilities


@pytest.mark.parametrize("allowed", [False, True], ids=["host access refused", "host access allowed"])
def test_fargate_refuses_host_pid_mode_in_its_own_words(
    ecs: Any, emulator: Emulator, host_access_ecs: Any, host_access_emulator: Emulator, allowed: bool
) -> None:
    target, server = (host_access_ecs, host_access_emulator) if allowed else (ecs, emulator)
    with refused(server, "ClientException", FARGATE_PID_HOST):
        register(target, "fg", **FARGATE, pidMode="host")
    with refused(server, "ClientException", "Tasks using the Fargate launch type do not support ipcMode."):
        register(target, "fg", **FARGATE, ipcMode="host")
    assert register(target, "fg", **FARGATE, pidMode="task")["pidMode"] == "task"


def test_delete_task_definitions_echoes_identifiers_and_refuses_bare_families(ecs: Any) -> None:
    register(ecs)
    register(ecs)
    ecs.deregister_task_definition(taskDefinition="web:1")
    given = [
        "web",
        arn("task-definition/web"),
        "web:2",
        arn("task-definition/web:2"),
        "ghost:1",
        arn("task-definition/ghost:3"),
    ]
    answer = ecs.delete_task_definitions(taskDefinitions=given)
    assert answer["taskDefinitions"] == []
    invalid = "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."
    active = "The specified task definition is still in ACTIVE status. Please deregister the target and try again."
    missing = "The specified task definition does not exist. Specify a valid account, family, revision and try again."
    assert answer["failures"] == [
        {"arn": "web", "reason": invalid},
        {"arn": arn("task-definition/web"), "reason": invalid},
        {"arn": "web:2", "reason": active},
        {"arn": arn("task-definition/web:2"), "reason": active},
        {"arn": "ghost:1", "reason": missing},
        {"arn": arn("task-definition/ghost:3"), "reason": missing},
    ]
    deleted = ecs.delete_task_definitions(taskDefinitions=["web:1"])
    assert (deleted["failures"], [d["status"] for d in deleted["taskDefinitions"]]) == ([], ["DELETE_IN_PROGRESS"])


# -- services and clusters --------------------------------------------------------------------


def test_describe_services_names_an_unknown_service_by_its_short_arn(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    answer = ecs.describe_services(cluster="prod", services=["ghost", arn("service/prod/phantom")])
    assert answer["services"] == []
    assert answer["failures"] == [
        {"arn": arn("service/ghost"), "reason": "MISSING"},
        {"arn": arn("service/prod/phantom"), "reason": "MISSING"},  # an ARN is answered as given
    ]


def test_list_clusters_keeps_a_deleted_cluster_while_it_is_describable(ecs: Any) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.create_cluster(clusterName="kept")
    ecs.delete_cluster(cluster="gone")
    assert ecs.describe_clusters(clusters=["gone"])["clusters"][0]["status"] == "INACTIVE"
    assert sorted(ecs.list_clusters()["clusterArns"]) == [arn("cluster/gone"), arn("cluster/kept")]
    pages = ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 1})
    assert sorted(a for page in pages for a in page["clusterArns"]) == [arn("cluster/gone"), arn("cluster/kept")]
    ecs.create_cluster(clusterName="gone")  # created again: one cluster of that name, ACTIVE
    assert sorted(ecs.list_clusters()["clusterArns"]) == [arn("cluster/gone"), arn("cluster/kept")]


# -- an emulator that allows host access ------------------------------------------------------


@pytest.fixture(scope="module")
def host_access_emulator() -> Iterator[Emulator]:
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="simulated", allow_host_access=True))
    instance.start()
    yield instance
    instance.shutdown()


@pytest.fixture
def host_access_ecs(host_access_emulator: Emulator) -> Iterator[Any]:
    yield client("ecs", host_access_emulator.endpoint)
    requests.post(f"{host_access_emulator.endpoint}/_ecsemu/reset", json={}, timeout=10)
