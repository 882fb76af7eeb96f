"""Builders of task and service records for the planner's unit tests."""

from __future__ import annotations

from typing import Any

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model.target_group import TargetGroup

SCOPE = Scope("123456789012", "us-east-1")
DEFINITION: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    "family": "web",
    "revision": 1,
    "containerDefinitions": [{"name": "app", "image": "web", "memory": 64, "essential": True}],
    "networkMode": "bridge",
}


def service(desired: int, *, deployments: tuple[str, ...] = ("ecs-svc/1",), minimum: int = 100, maximum: int = 200) -> dict[str, Any]:
    spec = {
        "serviceName": "svc",
        "clusterName": "c",
        "status": "ACTIVE",
        "desiredCount": desired,
        "taskDefinition": DEFINITION["taskDefinitionArn"],
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {
            **service_model.DEFAULT_DEPLOYMENT_CONFIGURATION,
            "minimumHealthyPercent": minimum,
            "maximumPercent": maximum,
        },
        "deployments": [{"id": d, "taskDefinition": DEFINITION["taskDefinitionArn"], "createdAt": 0.0} for d in deployments],
    }
    return {"spec": spec, "status": {}}


def task(task_id: str, *, deployment: str = "ecs-svc/1", last: str = "RUNNING", created: float = 0.0, service_name: str | None = "svc", health: str | None = None) -> dict[str, Any]:
    record = task_model.new_task(
        SCOPE,
        task_id=task_id,
        cluster_name="c",
        definition=DEFINITION,
        now=created,
        started_by=deployment,
        service_name=service_name,
        deployment_id=deployment,
    )
    record["status"]["lastStatus"] = last
    if last == "RUNNING":
        record["status"]["startedAt"] = created
    if health:
        record["status"]["healthStatus"] = health
    return record


TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"


def target_group(targets: dict[int, dict[str, Any]], *, arn: str = TARGET_GROUP) -> TargetGroup:
    """An ELBv2 target group, as the planner reads it; ``targets`` maps a host port to
    {registered, deregistered?, state?}."""
    spec_targets, health = {}, {}
    for port, target in targets.items():
        key = f"127.0.0.1:{port}"
        entry: dict[str, Any] = {"Id": "127.0.0.1", "Port": port, "RegisteredAt": target.get("registered", 1.0)}
        if target.get("deregistered") is not None:
            entry["DeregisteredAt"] = target["deregistered"]
        spec_targets[key] = entry
        if target.get("state"):
            health[key] = {"State": target["state"], "RegisteredAt": entry["RegisteredAt"]}
    spec = {"TargetGroupArn": arn, "TargetType": "ip", "Targets": spec_targets, "Attributes": {}}
    return TargetGroup.from_record({"spec": spec, "status": {"Targets": health}})


def registered_in(record: dict[str, Any], port: int, *, arn: str = TARGET_GROUP) -> dict[str, Any]:
    """The task, as the lifecycle leaves it once it chose its registration (127.0.0.1:port)."""
    record["status"]["registrations"] = [[arn, "127.0.0.1", port]]
    return record
