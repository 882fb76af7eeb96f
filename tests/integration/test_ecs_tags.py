"""Tags through boto3: TagResource, UntagResource and ListTagsForResource on clusters, task
definitions, services and tasks; ECS's limits (50 per resource, the reserved aws: prefix);
ARNs that name nothing. A refused call must leave the stored state as it was."""

from __future__ import annotations

from typing import Any

import pytest
from api_state import refused
from conftest import wait_until

from ecsemu.app import Emulator

ACCOUNT, REGION = "123456789012", "us-east-1"


def arn(resource: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:ecs:{region}:{account}:{resource}"


def tags(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


def tag_map(ecs: Any, resource_arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=resource_arn)["tags"]}


@pytest.fixture
def resources(ecs: Any) -> dict[str, str]:
    """One of each taggable kind, none tagged: their ARNs by kind. The service has no tasks."""
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}])
    service = ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)["service"]
    task = ecs.run_task(cluster="prod", taskDefinition="web")["tasks"][0]
    wait_until(
        lambda: ecs.describe_tasks(cluster="prod", tasks=[task["taskArn"]])["tasks"][0]["lastStatus"] == "RUNNING",
        what="the task to run",
    )
    return {
        "cluster": arn("cluster/prod"),
        "task-definition": arn("task-definition/web:1"),
        "service": service["serviceArn"],
        "task": task["taskArn"],
    }


def described_tags(ecs: Any, kind: str, resource_arn: str) -> dict[str, str]:
    """The tags as each resource's Describe* shows them with include TAGS."""
    if kind == "cluster":
        found = ecs.describe_clusters(clusters=[resource_arn], include=["TAGS"])["clusters"][0]["tags"]
    elif kind == "task-definition":
        found = ecs.describe_task_definition(taskDefinition=resource_arn, include=["TAGS"])["tags"]
    elif kind == "service":
        found = ecs.describe_services(cluster="prod", services=[resource_arn], include=["TAGS"])["services"][0]["tags"]
    else:
        found = ecs.describe_tasks(cluster="prod", tasks=[resource_arn], include=["TAGS"])["tasks"][0]["tags"]
    return {t["key"]: t["value"] for t in found}


KINDS = ["cluster", "task-definition", "service", "task"]


@pytest.mark.parametrize("kind", KINDS)
def test_tag_list_untag(ecs: Any, resources: dict[str, str], kind: str) -> None:
    resource_arn = resources[kind]
    assert ecs.list_tags_for_resource(resourceArn=resource_arn)["tags"] == []
    ecs.tag_resource(resourceArn=resource_arn, tags=tags(("team", "web"), ("env", "dev")))
    assert tag_map(ecs, resource_arn) == {"team": "web", "env": "dev"}
    ecs.tag_resource(resourceArn=resource_arn, tags=tags(("env", "prod"), ("cost", "42")))  # overwrite and add
    assert tag_map(ecs, resource_arn) == {"team": "web", "env": "prod", "cost": "42"}
    assert described_tags(ecs, kind, resource_arn) == {"team": "web", "env": "prod", "cost": "42"}
    ecs.untag_resource(resourceArn=resource_arn, tagKeys=["team", "never-there"])
    assert tag_map(ecs, resource_arn) == {"env": "prod", "cost": "42"}
    ecs.untag_resource(resourceArn=resource_arn, tagKeys=["env", "cost"])
    assert ecs.list_tags_for_resource(resourceArn=resource_arn)["tags"] == []


def test_tags_are_kept_per_resource(ecs: Any, resources: dict[str, str]) -> None:
    for kind, resource_arn in resources.items():
        ecs.tag_resource(resourceArn=resource_arn, tags=tags(("kind", kind)))
    for kind, resource_arn in resources.items():
        assert tag_map(ecs, resource_arn) == {"kind": kind}


def test_tags_given_at_creation_are_listed(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod", tags=tags(("a", "1")))
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}], tags=tags(("b", "2"))
    )
    service = ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0, tags=tags(("c", "3"))
    )
    task = ecs.run_task(cluster="prod", taskDefinition="web", tags=tags(("d", "4")))["tasks"][0]
    assert tag_map(ecs, arn("cluster/prod")) == {"a": "1"}
    assert tag_map(ecs, arn("task-definition/web:1")) == {"b": "2"}
    assert tag_map(ecs, service["service"]["serviceArn"]) == {"c": "3"}
    assert tag_map(ecs, task["taskArn"]) == {"d": "4"}


@pytest.mark.parametrize("kind", KINDS)
def test_at_most_50_tags(ecs: Any, emulator: Emulator, resources: dict[str, str], kind: str) -> None:
    resource_arn = resources[kind]
    ecs.tag_resource(resourceArn=resource_arn, tags=tags(*((f"k{i}", "v") for i in range(49))))
    with refused(emulator, "InvalidParameterException"):
        ecs.tag_resource(resourceArn=resource_arn, tags=tags(("x", "1"), ("y", "2")))  # 51 in all
    ecs.tag_resource(resourceArn=resource_arn, tags=tags(("k0", "new"), ("x", "1")))  # 50 in all: fine
    assert len(tag_map(ecs, resource_arn)) == 50
    with refused(emulator, "InvalidParameterException"):
        ecs.tag_resource(resourceArn=resource_arn, tags=tags(("z", "1")))


def test_more_than_50_tags_in_one_call(ecs: Any, emulator: Emulator, resources: dict[str, str]) -> None:
    with refused(emulator, "InvalidParameterException"):
        ecs.tag_resource(resourceArn=resources["cluster"], tags=tags(*((f"k{i}", "v") for i in range(51))))


@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner", "Aws:x"])
def test_the_aws_prefix_is_reserved(ecs: Any, emulator: Emulator, resources: dict[str, str], key: str) -> None:
    with refused(emulator, "InvalidParameterException"):
        ecs.tag_resource(resourceArn=resources["service"], tags=tags((key, "me")))


def test_ecs_managed_tags_are_kept_apart_from_the_users(ecs: Any, emulator: Emulator) -> None:
    """aws: tags ECS sets do not count toward the 50 and cannot be removed, but never block
    the user's own tagging of the resource."""
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}])
    ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1, enableECSManagedTags=True
    )
    [task_arn] = wait_until(
        lambda: ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"], what="the service's task"
    )
    wait_until(lambda: ecs.describe_tasks(cluster="prod", tasks=[task_arn])["tasks"][0]["lastStatus"] == "RUNNING")
    assert tag_map(ecs, task_arn) == {"aws:ecs:clusterName": "prod", "aws:ecs:serviceName": "web"}

    ecs.tag_resource(resourceArn=task_arn, tags=tags(*((f"k{i}", "v") for i in range(50))))
    assert len(tag_map(ecs, task_arn)) == 52
    with refused(emulator, "InvalidParameterException"):
        ecs.untag_resource(resourceArn=task_arn, tagKeys=["aws:ecs:serviceName"])
    ecs.untag_resource(resourceArn=task_arn, tagKeys=[f"k{i}" for i in range(50)])
    assert tag_map(ecs, task_arn) == {"aws:ecs:clusterName": "prod", "aws:ecs:serviceName": "web"}


@pytest.mark.parametrize(
    "resource_arn",
    [
        "not-an-arn",
        "arn:aws:s3:::bucket",
        arn("cluster"),
        arn("widget/prod"),
        arn("cluster/prod", region="eu-west-1"),
        arn("cluster/prod", account="999999999999"),
    ],
)
def test_invalid_arns(ecs: Any, emulator: Emulator, resources: dict[str, str], resource_arn: str) -> None:
    with refused(emulator, "InvalidParameterException"):
        ecs.tag_resource(resourceArn=resource_arn, tags=tags(("a", "1")))
    with refused(emulator, "InvalidParameterException"):
        ecs.untag_resource(resourceArn=resource_arn, tagKeys=["a"])
    with refused(emulator, "InvalidParameterException"):
        ecs.list_tags_for_resource(resourceArn=resource_arn)


@pytest.mark.parametrize(
    "resource_arn",
    [arn("cluster/ghost"), arn("task-definition/web:9"), arn("service/prod/ghost"), arn(f"task/prod/{'f' * 32}")],
)
def test_arns_of_nothing(ecs: Any, emulator: Emulator, resources: dict[str, str], resource_arn: str) -> None:
    with refused(emulator, "ResourceNotFoundException"):
        ecs.tag_resource(resourceArn=resource_arn, tags=tags(("a", "1")))
    with refused(emulator, "ResourceNotFoundException"):
        ecs.untag_resource(resourceArn=resource_arn, tagKeys=["a"])
    with refused(emulator, "ResourceNotFoundException"):
        ecs.list_tags_for_resource(resourceArn=resource_arn)
