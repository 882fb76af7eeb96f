"""Task definitions through boto3: revisions, describe by family / family:revision / ARN,
tags, listing (filters, order, pages), families, deregister, delete, and every check ECS
makes at registration. A refused call must leave the stored state exactly as it was."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from api_state import refused, stored
from botocore.exceptions import ClientError

from ecsemu.app import Emulator

ACCOUNT, REGION = "123456789012", "us-east-1"
APP = {"name": "app", "image": "nginx:latest", "memory": 128}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


def td_arn(family_revision: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family_revision}"


def register(ecs: Any, family: str = "web", **members: Any) -> dict[str, Any]:
    members.setdefault("containerDefinitions", [dict(APP)])
    answer: dict[str, Any] = ecs.register_task_definition(family=family, **members)
    return answer


def fargate(**members: Any) -> dict[str, Any]:
    base = {
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "nginx"}],
    }
    return {**base, **members}


def listed(ecs: Any, **params: Any) -> list[str]:
    pages = ecs.get_paginator("list_task_definitions").paginate(**params)
    return [arn for page in pages for arn in page["taskDefinitionArns"]]


def families(ecs: Any, **params: Any) -> list[str]:
    pages = ecs.get_paginator("list_task_definition_families").paginate(**params)
    return [family for page in pages for family in page["families"]]


# -- register and describe --------------------------------------------------------------------


def test_register_answers_the_definition_as_ecs_fills_it(ecs: Any) -> None:
    answer = register(
        ecs,
        containerDefinitions=[{**APP, "portMappings": [{"containerPort": 80}]}],
        tags=[{"key": "team", "value": "web"}],
    )
    definition = answer["taskDefinition"]
    assert definition["taskDefinitionArn"] == td_arn("web:1")
    assert (definition["family"], definition["revision"], definition["status"]) == ("web", 1, "ACTIVE")
    assert definition["compatibilities"] == ["EXTERNAL", "EC2"]
    assert definition["registeredBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert "registeredAt" in definition
    assert "tags" not in definition
    assert answer["tags"] == [{"key": "team", "value": "web"}]
    container = definition["containerDefinitions"][0]
    assert (container["cpu"], container["essential"]) == (0, True)
    assert container["portMappings"] == [{"containerPort": 80, "protocol": "tcp"}]
    assert container["environment"] == [] and container["mountPoints"] == [] and container["volumesFrom"] == []


def test_revisions_count_up_and_each_stays_describable(ecs: Any) -> None:
    assert [register(ecs)["taskDefinition"]["revision"] for _ in range(3)] == [1, 2, 3]
    assert register(ecs, "api")["taskDefinition"]["revision"] == 1
    for reference in ("web:2", td_arn("web:2")):
        assert ecs.describe_task_definition(taskDefinition=reference)["taskDefinition"]["revision"] == 2
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 3


def test_fargate_definition_is_compatible_with_both_launch_types(ecs: Any) -> None:
    definition = ecs.register_task_definition(family="fg", **fargate(cpu="1 vCPU", memory="2 GB"))["taskDefinition"]
    assert definition["compatibilities"] == ["EC2", "FARGATE"]
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    # "String values are converted to an integer indicating the CPU units when the task definition
    # is registered" (and GB to MiB): RegisterTaskDefinition, cpu and memory.
    assert (definition["cpu"], definition["memory"]) == ("1024", "2048")
    awsvpc = register(
        ecs, "vpc", networkMode="awsvpc", containerDefinitions=[{**APP, "portMappings": [{"containerPort": 8080}]}]
    )
    port = awsvpc["taskDefinition"]["containerDefinitions"][0]["portMappings"][0]
    assert port == {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}  # awsvpc fills hostPort


def test_describe_includes_tags_only_when_asked(ecs: Any) -> None:
    register(ecs, tags=[{"key": "team", "value": "web"}])
    assert "tags" not in ecs.describe_task_definition(taskDefinition="web")
    assert ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])["tags"] == [
        {"key": "team", "value": "web"}
    ]


@pytest.mark.parametrize(
    "reference",
    ["ghost", "web:9", td_arn("ghost:1"), f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/web:1",
     "arn:aws:ecs:us-east-1:999999999999:task-definition/web:1"],
)  # fmt: skip
def test_describe_unknown_definitions(ecs: Any, emulator: Emulator, reference: str) -> None:
    register(ecs)
    with refused(emulator, "ClientException", "Unable to describe task definition."):
        ecs.describe_task_definition(taskDefinition=reference)


# -- list -------------------------------------------------------------------------------------


def test_list_filters_by_family_and_status_and_sorts(ecs: Any) -> None:
    for family in ("web", "api", "web", "webber", "api"):
        register(ecs, family)
    ecs.deregister_task_definition(taskDefinition="web:1")
    assert listed(ecs) == [td_arn(x) for x in ("api:1", "api:2", "web:2", "webber:1")]
    assert listed(ecs, sort="DESC") == [td_arn(x) for x in ("webber:1", "web:2", "api:2", "api:1")]
    assert listed(ecs, familyPrefix="web") == [td_arn("web:2")]  # the whole family name, not a prefix
    assert listed(ecs, status="INACTIVE") == [td_arn("web:1")]
    assert listed(ecs, familyPrefix="web", status="INACTIVE") == [td_arn("web:1")]
    assert listed(ecs, familyPrefix="ghost") == []


def test_list_pages_through_boto3s_paginator(ecs: Any) -> None:
    for _ in range(7):
        register(ecs)
    pages = list(ecs.get_paginator("list_task_definitions").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["taskDefinitionArns"]) for page in pages] == [3, 3, 1]
    assert [arn for page in pages for arn in page["taskDefinitionArns"]] == [td_arn(f"web:{r}") for r in range(1, 8)]
    first = ecs.list_task_definitions(maxResults=4)
    rest = ecs.list_task_definitions(maxResults=4, nextToken=first["nextToken"])
    assert len(first["taskDefinitionArns"]) == 4 and len(rest["taskDefinitionArns"]) == 3
    assert "nextToken" not in rest


def test_list_families_by_status_and_prefix(ecs: Any) -> None:
    for family in ("web", "webber", "api", "old"):
        register(ecs, family)
    register(ecs, "web")
    ecs.deregister_task_definition(taskDefinition="old:1")
    ecs.deregister_task_definition(taskDefinition="web:1")  # web:2 is still ACTIVE
    assert families(ecs) == ["api", "old", "web", "webber"]  # default: ACTIVE and INACTIVE
    assert families(ecs, status="ALL") == ["api", "old", "web", "webber"]
    assert families(ecs, status="ACTIVE") == ["api", "web", "webber"]
    assert families(ecs, status="INACTIVE") == ["old"]
    assert families(ecs, familyPrefix="web") == ["web", "webber"]
    pages = list(ecs.get_paginator("list_task_definition_families").paginate(PaginationConfig={"PageSize": 3}))
    assert [page["families"] for page in pages] == [["api", "old", "web"], ["webber"]]


# -- deregister -------------------------------------------------------------------------------


def test_deregister_leaves_the_revision_inactive_but_describable(ecs: Any) -> None:
    register(ecs)
    register(ecs)
    answer = ecs.deregister_task_definition(taskDefinition="web:2")["taskDefinition"]
    assert (answer["revision"], answer["status"]) == (2, "INACTIVE")
    assert "deregisteredAt" in answer
    described = ecs.describe_task_definition(taskDefinition="web:2")["taskDefinition"]
    assert described["status"] == "INACTIVE"
    # The family alone now means its latest ACTIVE revision.
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1
    # Deregistering again is harmless.
    assert ecs.deregister_task_definition(taskDefinition=td_arn("web:2"))["taskDefinition"]["status"] == "INACTIVE"


def test_inactive_revision_is_refused_for_new_tasks_and_services(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster()
    register(ecs)
    ecs.deregister_task_definition(taskDefinition="web:1")
    with refused(emulator, "InvalidParameterException", "TaskDefinition is inactive"):
        ecs.run_task(taskDefinition="web:1")
    with refused(emulator, "InvalidParameterException", "TaskDefinition is inactive"):
        ecs.create_service(serviceName="web", taskDefinition=td_arn("web:1"), desiredCount=1)
    # With no ACTIVE revision left, the family alone names nothing.
    with refused(emulator, "ClientException"):
        ecs.run_task(taskDefinition="web")
    with refused(emulator, "ClientException", "Unable to describe task definition."):
        ecs.describe_task_definition(taskDefinition="web")


def test_inactive_revision_is_refused_for_service_updates(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster()
    register(ecs)
    register(ecs)
    ecs.create_service(serviceName="web", taskDefinition="web:1", desiredCount=0)
    ecs.deregister_task_definition(taskDefinition="web:2")
    with refused(emulator, "InvalidParameterException", "TaskDefinition is inactive"):
        ecs.update_service(service="web", taskDefinition="web:2")


def test_deregister_needs_a_revision_of_a_known_family(ecs: Any, emulator: Emulator) -> None:
    register(ecs)
    with refused(emulator, "ClientException"):
        ecs.deregister_task_definition(taskDefinition="web")
    with refused(emulator, "ClientException"):
        ecs.deregister_task_definition(taskDefinition="web:7")
    with refused(emulator, "ClientException"):
        ecs.deregister_task_definition(taskDefinition="ghost:1")
    assert ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "ACTIVE"


# -- delete -----------------------------------------------------------------------------------


def test_delete_needs_inactive_revisions(ecs: Any, emulator: Emulator) -> None:
    register(ecs)
    register(ecs)
    ecs.deregister_task_definition(taskDefinition="web:1")
    before = stored(emulator)
    answer = ecs.delete_task_definitions(taskDefinitions=["web:2", "ghost:1"])
    assert answer["taskDefinitions"] == []
    assert [f["arn"] for f in answer["failures"]] == ["web:2", "ghost:1"]  # as given
    assert "ACTIVE" in answer["failures"][0]["reason"]
    assert stored(emulator) == before

    answer = ecs.delete_task_definitions(taskDefinitions=[td_arn("web:1")])
    assert answer["failures"] == []
    assert [(d["taskDefinitionArn"], d["status"]) for d in answer["taskDefinitions"]] == [
        (td_arn("web:1"), "DELETE_IN_PROGRESS")
    ]
    assert ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"
    assert listed(ecs, status="DELETE_IN_PROGRESS") == [td_arn("web:1")]
    assert listed(ecs, status="INACTIVE") == []
    # Revision numbers are never given twice.
    assert register(ecs)["taskDefinition"]["revision"] == 3


def test_delete_of_a_whole_inactive_family_drops_it_from_families(ecs: Any) -> None:
    register(ecs, "gone")
    register(ecs, "kept")
    ecs.deregister_task_definition(taskDefinition="gone:1")
    ecs.delete_task_definitions(taskDefinitions=["gone:1"])
    assert families(ecs) == ["kept"]


def test_delete_refuses_more_than_ten(ecs: Any, emulator: Emulator) -> None:
    for _ in range(11):
        register(ecs)
    for revision in range(1, 12):
        ecs.deregister_task_definition(taskDefinition=f"web:{revision}")
    with refused(emulator, "InvalidParameterException"):
        ecs.delete_task_definitions(taskDefinitions=[f"web:{r}" for r in range(1, 12)])


# -- registration checks ----------------------------------------------------------------------

BAD_DEFINITIONS: dict[str, tuple[dict[str, Any], str]] = {
    "fargate cpu/memory": (
        fargate(cpu="256", memory="4096"),
        "No Fargate configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS documentation for the valid values.",
    ),
    "fargate without cpu": (
        {k: v for k, v in fargate().items() if k != "cpu"},
        "Fargate requires that 'cpu' be defined at the task level.",
    ),
    "fargate network mode": (fargate(networkMode="bridge"), "Fargate only supports network mode 'awsvpc'."),
    "awsvpc port mismatch": (
        {
            "networkMode": "awsvpc",
            "containerDefinitions": [{**APP, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}],
        },
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
    ),
    "memory required": (
        {"containerDefinitions": [{"name": "app", "image": "nginx"}]},
        "Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified.",
    ),
    "unique names": (
        {"containerDefinitions": [dict(APP), dict(APP)]},
        "Container names must be unique within a Task Definition.",
    ),
    "dependsOn unknown": (
        {"containerDefinitions": [{**APP, "dependsOn": [{"containerName": "db", "condition": "START"}]}]},
        "Cannot depend on container + 'db' because it does not exist",
    ),
    "links unknown": (
        {"containerDefinitions": [{**APP, "links": ["db:database"]}]},
        "Container 'app' links to container 'db' which does not exist in this task definition.",
    ),
    "sum of cpu": (
        {"cpu": "256", "memory": "512", "containerDefinitions": [{**APP, "cpu": 512}]},
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
    ),
    "awslogs options": (
        {
            "containerDefinitions": [
                {**APP, "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-stream-prefix": "web"}}}
            ]
        },
        "Log driver awslogs requires options: awslogs-region, awslogs-group",
    ),
    "essential dependency": (
        {
            "containerDefinitions": [
                {**APP, "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
                {**APP, "name": "init"},
            ]
        },
        "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container",
    ),
}


@pytest.mark.parametrize(("members", "message"), BAD_DEFINITIONS.values(), ids=BAD_DEFINITIONS.keys())
def test_registration_checks(ecs: Any, emulator: Emulator, members: dict[str, Any], message: str) -> None:
    register(ecs, "existing")
    with refused(emulator, "ClientException", message):
        ecs.register_task_definition(family="web", **copy.deepcopy(members))
    assert families(ecs) == ["existing"]  # not even the family was remembered


def test_a_refused_registration_does_not_use_up_a_revision(ecs: Any) -> None:
    register(ecs)
    with pytest.raises(ClientError):
        register(ecs, containerDefinitions=[dict(APP), dict(APP)])
    assert register(ecs)["taskDefinition"]["revision"] == 2


HOST_ACCESS: dict[str, dict[str, Any]] = {
    "privileged": {"containerDefinitions": [{**APP, "privileged": True}]},
    "host network": {"networkMode": "host"},
    "host pid": {"pidMode": "host"},
    "host path volume": {"volumes": [{"name": "root", "host": {"sourcePath": "/"}}]},
    "capabilities": {"containerDefinitions": [{**APP, "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}}}]},
    "devices": {"containerDefinitions": [{**APP, "linuxParameters": {"devices": [{"hostPath": "/dev/mem"}]}}]},
}


@pytest.mark.parametrize("members", HOST_ACCESS.values(), ids=HOST_ACCESS.keys())
def test_host_access_is_refused(ecs: Any, emulator: Emulator, members: dict[str, Any]) -> None:
    with refused(emulator, "ClientException"):
        register(ecs, **copy.deepcopy(members))
    assert families(ecs) == []


@pytest.mark.parametrize(
    ("family", "message"),
    [("has space", "Family contains invalid characters."), ("x" * 256, "Family contains invalid characters."),
     ("", "Family can not be blank.")],
)  # fmt: skip
def test_family_names_are_checked(ecs: Any, emulator: Emulator, family: str, message: str) -> None:
    with refused(emulator, "ClientException", message):
        register(ecs, family)


def test_empty_container_list_is_refused(ecs: Any, emulator: Emulator) -> None:
    with refused(emulator, "ClientException", "Container list cannot be empty."):
        ecs.register_task_definition(family="web", containerDefinitions=[])


def test_bad_tags_are_refused(ecs: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        register(ecs, tags=[{"key": "aws:owner", "value": "me"}])
    with refused(emulator, "InvalidParameterException"):
        register(ecs, tags=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}])
