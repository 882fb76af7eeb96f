"""Account settings, container instances, attributes and capacity providers, driven through
boto3 against the live server, as users do."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from botocore.config import Config
from conftest import client, wait_until
from ecs_other_helpers import error_of

pytestmark = pytest.mark.usefixtures("remember_emulator")

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
WEB = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:latest", "cpu": 256, "memory": 128}]}


# -- account settings -----------------------------------------------------------------------


def test_effective_settings_show_ecs_defaults_for_the_root_user(ecs: Any) -> None:
    assert ecs.list_account_settings()["settings"] == []
    settings = ecs.get_paginator("list_account_settings").paginate(
        effectiveSettings=True, PaginationConfig={"PageSize": 3}
    )
    by_name = {s["name"]: s for page in settings for s in page["settings"]}
    assert len(by_name) == 11
    assert by_name["serviceLongArnFormat"] == {
        "name": "serviceLongArnFormat",
        "value": "enabled",
        "principalArn": ROOT,
        "type": "user",
    }
    assert by_name["awsvpcTrunking"]["value"] == "disabled"
    assert by_name["containerInsights"]["value"] == "disabled"
    assert by_name["fargateTaskRetirementWaitPeriod"]["value"] == "7"
    assert by_name["guardDutyActivate"]["type"] == "aws_managed"


def test_put_list_and_delete_a_setting(ecs: Any) -> None:
    setting = ecs.put_account_setting(name="containerInsights", value="enhanced")["setting"]
    assert setting == {"name": "containerInsights", "value": "enhanced", "principalArn": ROOT, "type": "user"}
    assert ecs.list_account_settings()["settings"] == [setting]
    assert ecs.list_account_settings(name="containerInsights", value="enhanced")["settings"] == [setting]
    assert ecs.list_account_settings(name="containerInsights", value="enabled")["settings"] == []

    deleted = ecs.delete_account_setting(name="containerInsights")["setting"]
    assert deleted["value"] == "enhanced"
    effective = ecs.list_account_settings(name="containerInsights", effectiveSettings=True)["settings"]
    assert effective[0]["value"] == "disabled"


def test_a_principal_inherits_the_root_setting_unless_it_has_its_own(ecs: Any) -> None:
    default = ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")["setting"]
    assert default["principalArn"] == ROOT
    ecs.put_account_setting(name="containerInsights", value="enabled", principalArn=USER)

    def effective(name: str, principal: str) -> str:
        found = ecs.list_account_settings(name=name, principalArn=principal, effectiveSettings=True)
        return str(found["settings"][0]["value"])

    assert effective("awsvpcTrunking", USER) == "enabled"
    assert effective("containerInsights", USER) == "enabled"
    assert effective("containerInsights", ROOT) == "disabled"
    own = ecs.list_account_settings(principalArn=USER)["settings"]
    assert [(s["name"], s["principalArn"]) for s in own] == [("containerInsights", USER)]


def test_bad_account_settings_are_refused_and_change_nothing(ecs: Any) -> None:
    code, message = error_of(ecs.put_account_setting, name="taskLongArnFormat", value="ENABLED")
    assert (code, message) == ("InvalidParameterException", "Invalid setting 'value'")
    assert error_of(ecs.put_account_setting, name="noSuchSetting", value="enabled")[0] == "InvalidParameterException"
    assert error_of(ecs.put_account_setting, name="guardDutyActivate", value="on")[0] == "InvalidParameterException"
    assert error_of(ecs.delete_account_setting, name="guardDutyActivate")[0] == "InvalidParameterException"
    retirement = {"name": "fargateTaskRetirementWaitPeriod", "value": "14", "principalArn": USER}
    assert error_of(ecs.put_account_setting, **retirement)[0] == "InvalidParameterException"
    other_account = "arn:aws:iam::999999999999:user/bob"
    assert (
        error_of(ecs.put_account_setting, name="awsvpcTrunking", value="enabled", principalArn=other_account)[0]
        == "InvalidParameterException"
    )
    assert error_of(ecs.list_account_settings, value="enabled")[0] == "InvalidParameterException"
    assert error_of(ecs.list_account_settings, maxResults=11)[0] == "InvalidParameterException"
    assert ecs.list_account_settings()["settings"] == []
    assert ecs.list_account_settings(principalArn=USER)["settings"] == []
    assert ecs.put_account_setting(name="fargateTaskRetirementWaitPeriod", value="14")["setting"]["value"] == "14"


# -- container instances --------------------------------------------------------------------

IDENTITY = json.dumps(
    {"instanceId": "i-0123456789abcdef0", "instanceType": "t3.large", "availabilityZone": "us-east-1a"}
)


def register(ecs: Any, cluster: str = "hosts", **kwargs: Any) -> dict[str, Any]:
    instance: dict[str, Any] = ecs.register_container_instance(cluster=cluster, **kwargs)["containerInstance"]
    return instance


def resource(instance: dict[str, Any], name: str, member: str = "registeredResources") -> Any:
    found = next(r for r in instance[member] if r["name"] == name)
    return found["stringSetValue"] if found["type"] == "STRINGSET" else found["integerValue"]


def test_register_defaults_to_this_machine(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    instance = register(ecs)
    instance_id = instance["containerInstanceArn"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", instance_id)
    assert (
        instance["containerInstanceArn"] == f"arn:aws:ecs:us-east-1:123456789012:container-instance/hosts/{instance_id}"
    )
    assert (instance["status"], instance["agentConnected"]) == ("ACTIVE", True)
    assert resource(instance, "CPU") == (os.cpu_count() or 1) * 1024
    assert resource(instance, "MEMORY") > 0
    assert "51678" in resource(instance, "PORTS")
    assert instance["versionInfo"]["agentVersion"]
    assert re.fullmatch(r"i-[0-9a-f]{17}", instance["ec2InstanceId"])
    assert {"name": "ecs.os-type", "value": "linux"} in instance["attributes"]
    cluster = ecs.describe_clusters(clusters=["hosts"])["clusters"][0]
    assert cluster["registeredContainerInstancesCount"] == 1


def test_register_with_resources_identity_attributes_and_tags(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    instance = register(
        ecs,
        instanceIdentityDocument=IDENTITY,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096},
        ],
        attributes=[{"name": "stack", "value": "prod"}],
        tags=[{"key": "team", "value": "core"}],
    )
    assert instance["ec2InstanceId"] == "i-0123456789abcdef0"
    assert (resource(instance, "CPU"), resource(instance, "MEMORY")) == (2048, 4096)
    assert {"name": "ecs.instance-type", "value": "t3.large"} in instance["attributes"]
    assert {"name": "stack", "value": "prod"} in instance["attributes"]
    described = ecs.describe_container_instances(
        cluster="hosts",
        containerInstances=[instance["containerInstanceArn"]],
        include=["TAGS", "CONTAINER_INSTANCE_HEALTH"],
    )["containerInstances"][0]
    assert described["tags"] == [{"key": "team", "value": "core"}]
    assert described["healthStatus"]["overallStatus"] == "OK"
    assert ecs.list_tags_for_resource(resourceArn=instance["containerInstanceArn"])["tags"] == [
        {"key": "team", "value": "core"}
    ]

    again = register(
        ecs,
        containerInstanceArn=instance["containerInstanceArn"],
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 1024}],
    )
    assert again["containerInstanceArn"] == instance["containerInstanceArn"]
    assert again["version"] == instance["version"] + 1
    assert {"name": "stack", "value": "prod"} in again["attributes"]


def test_bad_registrations_are_refused_and_change_nothing(ecs: Any) -> None:
    assert error_of(ecs.register_container_instance, cluster="nowhere")[0] == "ClusterNotFoundException"
    ecs.create_cluster(clusterName="hosts")
    assert (
        error_of(ecs.register_container_instance, cluster="hosts", instanceIdentityDocument="{not json")[0]
        == "InvalidParameterException"
    )
    bad_attribute = [{"name": "bad name!", "value": "x"}]
    assert (
        error_of(ecs.register_container_instance, cluster="hosts", attributes=bad_attribute)[0]
        == "InvalidParameterException"
    )
    bad_tags = [{"key": "aws:reserved", "value": "x"}]
    assert error_of(ecs.register_container_instance, cluster="hosts", tags=bad_tags)[0] == "InvalidParameterException"
    unknown = "arn:aws:ecs:us-east-1:123456789012:container-instance/hosts/" + "0" * 32
    code, message = error_of(ecs.register_container_instance, cluster="hosts", containerInstanceArn=unknown)
    assert (code, message) == ("ClientException", f"Referenced container instance {'0' * 32} not registered.")
    assert ecs.list_container_instances(cluster="hosts")["containerInstanceArns"] == []


def test_list_filters_by_status_and_query_and_pages(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    big = register(ecs, instanceIdentityDocument=IDENTITY)["containerInstanceArn"]
    small = register(ecs, attributes=[{"name": "ecs.instance-type", "value": "t2.micro"}])["containerInstanceArn"]
    gone = register(ecs)["containerInstanceArn"]
    ecs.deregister_container_instance(cluster="hosts", containerInstance=gone)

    def listed(**kwargs: Any) -> list[str]:
        pages = ecs.get_paginator("list_container_instances").paginate(cluster="hosts", **kwargs)
        return [arn for page in pages for arn in page["containerInstanceArns"]]

    assert listed() == [big, small]
    assert listed(PaginationConfig={"PageSize": 1}) == [big, small]
    assert gone not in listed(status="ACTIVE")
    assert listed(filter="attribute:ecs.instance-type == t2.micro") == [small]
    assert listed(filter="attribute:ecs.instance-type in [t3.large, m5.xlarge]") == [big]
    assert listed(filter="attribute:ecs.instance-type =~ t.*") == [big, small]
    assert listed(filter="not(attribute:ecs.instance-type == t2.micro) and runningTasksCount == 0") == [big]
    assert listed(filter="attribute:ecs.ami-id !exists || ec2InstanceId == i-0123456789abcdef0") == [big, small]
    assert listed(filter="registeredAt > 2020-01-01 && agentConnected == true") == [big, small]
    for bad in ("attribute:ecs.os-type ===", "nonsense == 1", "(attribute:x exists", "attribute:x in y"):
        assert error_of(ecs.list_container_instances, cluster="hosts", filter=bad)[0] == "InvalidParameterException"
    assert error_of(ecs.list_container_instances, cluster="nowhere")[0] == "ClusterNotFoundException"


def test_describe_reports_unknown_instances_as_missing(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    known = register(ecs)["containerInstanceArn"]
    answer = ecs.describe_container_instances(cluster="hosts", containerInstances=[known.rsplit("/", 1)[1], "f" * 32])
    assert [i["containerInstanceArn"] for i in answer["containerInstances"]] == [known]
    missing = f"arn:aws:ecs:us-east-1:123456789012:container-instance/hosts/{'f' * 32}"
    assert answer["failures"] == [{"arn": missing, "reason": "MISSING"}]
    assert (
        error_of(ecs.describe_container_instances, cluster="hosts", containerInstances=[])[0]
        == "InvalidParameterException"
    )


def test_draining_and_reactivating_an_instance(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    arn = register(ecs)["containerInstanceArn"]
    answer = ecs.update_container_instances_state(cluster="hosts", containerInstances=[arn, "nope"], status="DRAINING")
    assert [i["status"] for i in answer["containerInstances"]] == ["DRAINING"]
    assert answer["failures"][0]["reason"] == "MISSING"
    assert ecs.list_container_instances(cluster="hosts", status="DRAINING")["containerInstanceArns"] == [arn]
    code, _ = error_of(
        ecs.update_container_instances_state, cluster="hosts", containerInstances=[arn], status="REGISTERING"
    )
    assert code == "InvalidParameterException"
    assert (
        ecs.describe_container_instances(cluster="hosts", containerInstances=[arn])["containerInstances"][0]["status"]
        == "DRAINING"
    )
    ecs.update_container_instances_state(cluster="hosts", containerInstances=[arn], status="ACTIVE")
    assert ecs.list_container_instances(cluster="hosts", status="ACTIVE")["containerInstanceArns"] == [arn]


def test_deregistering_an_instance_with_running_tasks_needs_force(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    ecs.register_task_definition(**WEB)
    instance = register(
        ecs,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 1000},
        ],
    )
    arn = instance["containerInstanceArn"]
    ecs.start_task(cluster="hosts", taskDefinition="web", containerInstances=[arn])

    def running() -> dict[str, Any] | None:
        found = ecs.describe_container_instances(cluster="hosts", containerInstances=[arn])["containerInstances"][0]
        return found if found["runningTasksCount"] == 1 else None

    described = wait_until(running, what="the task to run on the instance")
    assert (resource(described, "CPU", "remainingResources"), resource(described, "MEMORY", "remainingResources")) == (
        768,
        872,
    )
    assert ecs.list_tasks(cluster="hosts", containerInstance=arn)["taskArns"]

    code, message = error_of(ecs.deregister_container_instance, cluster="hosts", containerInstance=arn)
    assert (code, message) == ("InvalidParameterException", "Found running tasks on the instance.")
    assert (
        ecs.describe_container_instances(cluster="hosts", containerInstances=[arn])["containerInstances"][0]["status"]
        == "ACTIVE"
    )

    gone = ecs.deregister_container_instance(cluster="hosts", containerInstance=arn, force=True)["containerInstance"]
    assert (gone["status"], gone["agentConnected"]) == ("INACTIVE", False)
    assert ecs.describe_clusters(clusters=["hosts"])["clusters"][0]["registeredContainerInstancesCount"] == 0
    assert (
        ecs.describe_container_instances(cluster="hosts", containerInstances=[arn])["containerInstances"][0]["status"]
        == "INACTIVE"
    )
    code, _ = error_of(ecs.register_container_instance, cluster="hosts", containerInstanceArn=arn)
    assert code == "ClientException"
    code, _ = error_of(ecs.deregister_container_instance, cluster="hosts", containerInstance="0" * 32)
    assert code == "ClientException"


# -- attributes -----------------------------------------------------------------------------


def test_put_list_and_delete_attributes(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    first = register(ecs)["containerInstanceArn"]
    second = register(ecs)["containerInstanceArn"]
    put = ecs.put_attributes(
        cluster="hosts",
        attributes=[
            {"name": "stack", "value": "prod", "targetId": first},
            {
                "name": "stack",
                "value": "test",
                "targetType": "container-instance",
                "targetId": second.rsplit("/", 1)[1],
            },
            {"name": "gpu", "targetId": first},
        ],
    )["attributes"]
    assert put[0] == {"name": "stack", "value": "prod", "targetId": first}

    def listed(**kwargs: Any) -> list[tuple[str, str | None, str]]:
        pages = ecs.get_paginator("list_attributes").paginate(
            cluster="hosts", targetType="container-instance", **kwargs
        )
        return [(a["name"], a.get("value"), a["targetId"]) for page in pages for a in page["attributes"]]

    assert listed(attributeName="stack") == [("stack", "prod", first), ("stack", "test", second)]
    assert listed(attributeName="stack", attributeValue="test") == [("stack", "test", second)]
    assert listed(attributeName="gpu") == [("gpu", None, first)]
    assert len(listed(PaginationConfig={"PageSize": 2})) == len(listed())
    every = ecs.list_attributes(cluster="hosts", targetType="container-instance")["attributes"]
    assert all(a["targetType"] == "container-instance" for a in every)

    ecs.put_attributes(cluster="hosts", attributes=[{"name": "stack", "value": "canary", "targetId": first}])
    assert listed(attributeName="stack")[0] == ("stack", "canary", first)
    ecs.delete_attributes(cluster="hosts", attributes=[{"name": "stack", "targetId": first}])
    assert listed(attributeName="stack") == [("stack", "test", second)]
    described = ecs.describe_container_instances(cluster="hosts", containerInstances=[first])["containerInstances"][0]
    assert {"name": "gpu"} in described["attributes"]


def test_bad_attributes_are_refused_and_change_nothing(ecs: Any) -> None:
    ecs.create_cluster(clusterName="hosts")
    arn = register(ecs)["containerInstanceArn"]
    before = ecs.list_attributes(cluster="hosts", targetType="container-instance")["attributes"]

    unknown = arn[:-32] + "0" * 32
    batch = [{"name": "a", "value": "1", "targetId": arn}, {"name": "b", "value": "2", "targetId": unknown}]
    assert error_of(ecs.put_attributes, cluster="hosts", attributes=batch)[0] == "TargetNotFoundException"
    short_id = [{"name": "a", "targetId": arn.rsplit("/", 1)[1]}]
    assert error_of(ecs.put_attributes, cluster="hosts", attributes=short_id)[0] == "InvalidParameterException"
    bad_value = [{"name": "a", "value": " padded ", "targetId": arn}]
    assert error_of(ecs.put_attributes, cluster="hosts", attributes=bad_value)[0] == "InvalidParameterException"
    eleven = [{"name": f"n{i}", "targetId": arn} for i in range(11)]
    assert error_of(ecs.put_attributes, cluster="hosts", attributes=eleven)[0] == "AttributeLimitExceededException"
    assert error_of(ecs.put_attributes, cluster="nowhere", attributes=batch[:1])[0] == "ClusterNotFoundException"
    assert error_of(ecs.delete_attributes, cluster="hosts", attributes=batch)[0] == "TargetNotFoundException"
    assert (
        error_of(ecs.list_attributes, cluster="hosts", targetType="container-instance", attributeValue="x")[0]
        == "InvalidParameterException"
    )
    assert ecs.list_attributes(cluster="hosts", targetType="container-instance")["attributes"] == before

    ecs.put_attributes(cluster="hosts", attributes=[{"name": f"n{i}", "targetId": arn} for i in range(10)])
    one_more = [{"name": "n10", "targetId": arn}]
    assert error_of(ecs.put_attributes, cluster="hosts", attributes=one_more)[0] == "AttributeLimitExceededException"
    agent_attribute = [{"name": "ecs.capability.extra", "targetId": arn}]
    assert ecs.put_attributes(cluster="hosts", attributes=agent_attribute)["attributes"]


# -- capacity providers ---------------------------------------------------------------------

ASG = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1234:autoScalingGroupName/"


def test_create_and_describe_capacity_providers(ecs: Any) -> None:
    created = ecs.create_capacity_provider(
        name="spot-pool",
        autoScalingGroupProvider={
            "autoScalingGroupArn": ASG + "a",
            "managedScaling": {"status": "ENABLED", "targetCapacity": 90},
        },
        tags=[{"key": "team", "value": "core"}],
    )["capacityProvider"]
    assert created["capacityProviderArn"] == "arn:aws:ecs:us-east-1:123456789012:capacity-provider/spot-pool"
    assert created["status"] == "ACTIVE"
    assert created["autoScalingGroupProvider"] == {
        "autoScalingGroupArn": ASG + "a",
        "managedScaling": {
            "status": "ENABLED",
            "targetCapacity": 90,
            "minimumScalingStepSize": 1,
            "maximumScalingStepSize": 10000,
            "instanceWarmupPeriod": 300,
        },
        "managedTerminationProtection": "DISABLED",
        "managedDraining": "ENABLED",
    }
    everything = ecs.describe_capacity_providers()["capacityProviders"]
    assert [p["name"] for p in everything] == ["spot-pool", "FARGATE", "FARGATE_SPOT"]
    assert "tags" not in everything[0]
    one = ecs.describe_capacity_providers(capacityProviders=[created["capacityProviderArn"], "ghost"], include=["TAGS"])
    assert one["capacityProviders"][0]["tags"] == [{"key": "team", "value": "core"}]
    assert one["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/ghost", "reason": "MISSING"}
    ]
    first = ecs.describe_capacity_providers(maxResults=1)
    second = ecs.describe_capacity_providers(maxResults=1, nextToken=first["nextToken"])
    assert [p["name"] for p in first["capacityProviders"] + second["capacityProviders"]] == ["spot-pool", "FARGATE"]
    assert error_of(ecs.describe_capacity_providers, maxResults=11)[0] == "InvalidParameterException"


def test_bad_capacity_providers_are_refused_and_change_nothing(ecs: Any, endpoint: str) -> None:
    ecs.create_capacity_provider(name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"})
    for name in ("ECS-pool", "aws_pool", "FargateX", "has space", "x" * 256):
        code, message = error_of(
            ecs.create_capacity_provider, name=name, autoScalingGroupProvider={"autoScalingGroupArn": ASG + "b"}
        )
        assert code == "ClientException" and message.startswith("The specified capacity provider name is invalid.")
    code, message = error_of(
        ecs.create_capacity_provider, name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "b"}
    )
    assert (code, message.split(".")[0]) == ("ClientException", "The specified capacity provider already exists")
    code, message = error_of(
        ecs.create_capacity_provider, name="pool2", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"}
    )
    assert code == "ClientException" and "already being used by another capacity provider" in message
    assert error_of(ecs.create_capacity_provider, name="pool3")[0] == "InvalidParameterException"
    steps = {
        "autoScalingGroupArn": ASG + "c",
        "managedScaling": {"minimumScalingStepSize": 20, "maximumScalingStepSize": 10},
    }
    assert (
        error_of(ecs.create_capacity_provider, name="pool4", autoScalingGroupProvider=steps)[0]
        == "InvalidParameterException"
    )
    unchecked = client("ecs", endpoint, config=Config(parameter_validation=False))
    capacity = {"autoScalingGroupArn": ASG + "c", "managedScaling": {"targetCapacity": 0}}
    assert (
        error_of(unchecked.create_capacity_provider, name="pool5", autoScalingGroupProvider=capacity)[0]
        == "InvalidParameterException"
    )
    assert [p["name"] for p in ecs.describe_capacity_providers()["capacityProviders"]] == [
        "pool",
        "FARGATE",
        "FARGATE_SPOT",
    ]


def test_update_capacity_provider(ecs: Any) -> None:
    ecs.create_capacity_provider(name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"})
    updated = ecs.update_capacity_provider(
        name="pool",
        autoScalingGroupProvider={
            "managedScaling": {"status": "ENABLED", "targetCapacity": 75},
            "managedDraining": "DISABLED",
        },
    )["capacityProvider"]
    provider = updated["autoScalingGroupProvider"]
    assert (provider["managedScaling"]["status"], provider["managedScaling"]["targetCapacity"]) == ("ENABLED", 75)
    assert (provider["managedDraining"], provider["autoScalingGroupArn"]) == ("DISABLED", ASG + "a")
    assert updated["updateStatus"] == "UPDATE_COMPLETE"
    assert (
        error_of(ecs.update_capacity_provider, name="ghost", autoScalingGroupProvider={"managedDraining": "ENABLED"})[0]
        == "ClientException"
    )
    assert (
        error_of(ecs.update_capacity_provider, name="FARGATE", autoScalingGroupProvider={"managedDraining": "ENABLED"})[
            0
        ]
        == "ClientException"
    )
    bad = {"managedScaling": {"minimumScalingStepSize": 9000, "maximumScalingStepSize": 10}}
    assert (
        error_of(ecs.update_capacity_provider, name="pool", autoScalingGroupProvider=bad)[0]
        == "InvalidParameterException"
    )
    again = ecs.describe_capacity_providers(capacityProviders=["pool"])["capacityProviders"][0]
    assert again["autoScalingGroupProvider"] == provider


def test_a_provider_in_use_by_a_cluster_is_not_deleted(ecs: Any) -> None:
    ecs.create_capacity_provider(name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"})
    ecs.create_cluster(clusterName="hosts")
    pool_first = [{"capacityProvider": "pool", "weight": 1}]
    ecs.put_cluster_capacity_providers(
        cluster="hosts", capacityProviders=["pool"], defaultCapacityProviderStrategy=pool_first
    )
    assert [p["name"] for p in ecs.describe_capacity_providers(cluster="hosts")["capacityProviders"]] == ["pool"]

    refused = ecs.delete_capacity_provider(capacityProvider="pool")["capacityProvider"]
    assert (refused["status"], refused["updateStatus"]) == ("ACTIVE", "DELETE_FAILED")
    assert refused["updateStatusReason"] == (
        "The capacity provider cannot be deleted because it is associated with cluster: hosts. "
        "Remove the capacity provider from the cluster and try again."
    )
    assert (
        ecs.describe_capacity_providers(capacityProviders=["pool"])["capacityProviders"][0]["updateStatus"]
        == "DELETE_FAILED"
    )

    fargate_only = [{"capacityProvider": "FARGATE", "weight": 1}]
    ecs.put_cluster_capacity_providers(
        cluster="hosts", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=fargate_only
    )
    deleted = ecs.delete_capacity_provider(capacityProvider="arn:aws:ecs:us-east-1:123456789012:capacity-provider/pool")
    assert deleted["capacityProvider"]["updateStatus"] == "DELETE_IN_PROGRESS"
    assert ecs.describe_capacity_providers(capacityProviders=["pool"])["failures"][0]["reason"] == "MISSING"
    assert error_of(ecs.delete_capacity_provider, capacityProvider="pool")[0] == "ClientException"
    assert error_of(ecs.delete_capacity_provider, capacityProvider="FARGATE")[0] == "ClientException"
    code, _ = error_of(
        ecs.put_cluster_capacity_providers,
        cluster="hosts",
        capacityProviders=["pool"],
        defaultCapacityProviderStrategy=pool_first,
    )
    assert code == "InvalidParameterException"
    # The name is free again.
    ecs.create_capacity_provider(name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"})


def test_capacity_provider_tags(ecs: Any) -> None:
    arn = ecs.create_capacity_provider(name="pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "a"})[
        "capacityProvider"
    ]["capacityProviderArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
