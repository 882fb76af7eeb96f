"""A blue/green deployment behind the embedded ALB: the new revision starts in full in the
alternate target group, the production listener rule moves all traffic to it, and the old
revision is retired — with no failed request under steady load."""

from __future__ import annotations

from typing import Any

import pytest
from alb_fixture import WAIT, SteadyLoad, create_blue_green_service, listener_port, weighted_listener
from conftest import client, wait_until

pytestmark = pytest.mark.docker

HEALTH = {
    "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
}  # fmt: skip


def _definition(ecs: Any, image: str) -> str:
    return str(
        ecs.register_task_definition(
            family="bg", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": image, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5}],
        )["taskDefinition"]["taskDefinitionArn"]
    )  # fmt: skip


def test_blue_green_moves_traffic_to_the_new_target_group(docker_ecs: Any, docker_emulator: Any) -> None:
    ecs, elbv2 = docker_ecs, client("elbv2", docker_emulator.endpoint)
    lb = elbv2.create_load_balancer(Name="bg", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    blue, green = (
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip", **HEALTH)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for name in ("bg-blue", "bg-green")
    )
    for arn in (blue, green):
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}])
    listener, production_rule = weighted_listener(elbv2, lb["LoadBalancerArn"], blue, green, 18081)
    port = listener_port(elbv2, listener)

    ecs.create_cluster(clusterName="bg")
    create_blue_green_service(ecs, "bg", _definition(ecs, "ecsemu-test/web:latest"), blue, green, production_rule)
    ecs.get_waiter("services_stable").wait(cluster="bg", services=["web"], WaiterConfig=WAIT)

    def healthy_in(arn: str, count: int) -> bool:
        states = [d["TargetHealth"]["State"] for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]
        return states.count("healthy") == count

    wait_until(lambda: healthy_in(blue, 2), timeout=60, what="blue to be healthy")

    try:
        with SteadyLoad(port) as load:
            v2 = _definition(ecs, "ecsemu-test/web:v2")
            ecs.update_service(cluster="bg", service="web", taskDefinition=v2)
            wait_until(lambda: healthy_in(green, 2), timeout=90, what="the green revision to be healthy")
            ecs.get_waiter("services_stable").wait(cluster="bg", services=["web"], WaiterConfig=WAIT)
            load.more(what="requests after the switch")
    finally:
        ecs.update_service(cluster="bg", service="web", desiredCount=0)
        ecs.delete_service(cluster="bg", service="web", force=True)
        ecs.get_waiter("services_inactive").wait(cluster="bg", services=["web"], WaiterConfig=WAIT)
    assert load.failures == []
    assert load.versions[0] == "v1" and set(load.versions[-20:]) == {"v2"}
    forward = elbv2.describe_rules(RuleArns=[production_rule])["Rules"][0]["Actions"][0]["ForwardConfig"]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in forward["TargetGroups"]}
    assert weights == {green: 100, blue: 0}
    messages = [e["message"] for e in ecs.describe_services(cluster="bg", services=["web"])["services"][0]["events"]]
    assert any("shifted 100% of production traffic" in m for m in messages)
