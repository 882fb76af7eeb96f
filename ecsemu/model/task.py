"""The task record: kind ``task``, id ``<cluster>/<task id>`` (the tail of its ARN).

    {"spec": {                       # RunTask/StartTask, or the service scheduler (PlaceTasks)
        "taskId": str (32 hex), "taskArn": str, "clusterName": str, "clusterArn": str,
        "taskDefinitionArn": str, "family": str, "revision": int,
        "networkMode": "awsvpc" | "bridge" | "host" | "none",
        "containers": [{"name", "image", "essential", "containerArn", "cpu": str,
                        "memory"?: str, "memoryReservation"?: str, "stopTimeout"?: int,
                        "healthCheck"?: true}],
        "cpu": str, "memory": str,       # task level, "" when the definition has none
        "overrides": {"containerOverrides": [...], "inferenceAcceleratorOverrides": [...], ...},
        "desiredStatus": "RUNNING" | "STOPPED", "group": str, "launchType": "EC2" | "FARGATE",
        "createdAt": float, "tags": [{"key", "value"}], "enableExecuteCommand": bool,
        "version": int,
        "platformVersion"?, "platformFamily"?,          # Fargate
        "capacityProviderName"?, "startedBy"?, "networkConfiguration"?,
        "serviceName"?, "deploymentId"?,                # a service's or task set's task
        "loadBalancers"?: [{"targetGroupArn", "containerName", "containerPort"}],
        "containerInstanceArn"?,
        "stopCode"?, "stoppedReason"?, "stoppingAt"?},  # the stop request (request_stop)
     "status": {                     # the reconciler only (SetTaskStatus)
        "lastStatus": one of LIFECYCLE, "connectivity"?, "connectivityAt"?,
        "pullStartedAt"?, "pullStoppedAt"?, "startedAt"?, "executionStoppedAt"?, "stoppedAt"?,
        "healthStatus"?: "HEALTHY" | "UNHEALTHY" | "UNKNOWN",
        "stopCode"?, "stoppedReason"?,                  # failures the reconciler saw
        "containers": {<name>: {"lastStatus", "exitCode"?, "reason"?, "healthStatus"?,
                                "networkBindings": [{"bindIP", "containerPort", "hostPort",
                                                     "protocol"}], "runtimeId"?, ...}},
        "attachments"?: [{"id", "type": "ElasticNetworkInterface", "status", "details"}],
        "registrations"?: [[target group ARN, target id, port]]}}   # see reconcile/targets

Invariants:
- Only API providers and the service scheduler's "place/stop" actions write ``spec``;
  only the reconciler writes ``status``.
- ``spec.desiredStatus`` goes RUNNING → STOPPED once; ``status.lastStatus`` follows
  ECS's order and never goes back.
"""

from __future__ import annotations

import uuid
from typing import Any

from ecsemu.context import Scope
from ecsemu.model.arns import ecs_arn

Record = dict[str, Any]

KIND = "task"

# lastStatus values in the order a task passes them.
LIFECYCLE = (
    "PROVISIONING", "PENDING", "ACTIVATING", "RUNNING",
    "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED",
)  # fmt: skip
PENDING_STATES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})


def rank(last_status: str) -> int:
    return LIFECYCLE.index(last_status)


def effective_containers(definition: Record, overrides: Record) -> list[Record]:
    """The task definition's containers with RunTask's container overrides applied."""
    by_name = {o.get("name"): o for o in overrides.get("containerOverrides", [])}
    containers = []
    for container in definition["containerDefinitions"]:
        merged = dict(container)
        override = by_name.get(container["name"], {})
        for member in ("command", "cpu", "memory", "memoryReservation"):
            if member in override:
                merged[member] = override[member]
        if override.get("environment"):
            env = {e.get("name", ""): e.get("value", "") for e in container.get("environment", [])}
            env.update({e["name"]: e.get("value", "") for e in override["environment"]})
            merged["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        if override.get("environmentFiles"):
            merged["environmentFiles"] = container.get("environmentFiles", []) + override["environmentFiles"]
        containers.append(merged)
    return containers


def new_task(
    scope: Scope,
    *,
    task_id: str,
    cluster_name: str,
    definition: Record,
    now: float,
    overrides: Record | None = None,
    started_by: str | None = None,
    group: str | None = None,
    launch_type: str | None = None,
    capacity_provider: str | None = None,
    network_configuration: Record | None = None,
    tags: list[dict[str, str]] | None = None,
    service_name: str | None = None,
    deployment_id: str | None = None,
    container_instance_arn: str | None = None,
    enable_execute_command: bool = False,
    platform_version: str | None = None,
    load_balancers: list[Record] | None = None,
) -> Record:
    """A new task record, desired RUNNING, not yet seen by the reconciler."""
    overrides = overrides or {}
    task_arn = ecs_arn(scope, "task", f"{cluster_name}/{task_id}")
    containers = [
        {
            "name": c["name"],
            "image": c["image"],
            "essential": c.get("essential", True),
            "containerArn": ecs_arn(scope, "container", f"{cluster_name}/{task_id}/{uuid.uuid4()}"),
            "cpu": str(c.get("cpu", 0)),
            **({"memory": str(c["memory"])} if c.get("memory") else {}),
            **({"memoryReservation": str(c["memoryReservation"])} if c.get("memoryReservation") else {}),
            **({"stopTimeout": c["stopTimeout"]} if c.get("stopTimeout") is not None else {}),
            **({"healthCheck": True} if c.get("healthCheck") else {}),
        }
        for c in effective_containers(definition, overrides)
    ]
    fargate = launch_type == "FARGATE" or capacity_provider in ("FARGATE", "FARGATE_SPOT")
    spec: Record = {
        "taskId": task_id,
        "taskArn": task_arn,
        "clusterName": cluster_name,
        "clusterArn": ecs_arn(scope, "cluster", cluster_name),
        "taskDefinitionArn": definition["taskDefinitionArn"],
        "family": definition["family"],
        "revision": definition["revision"],
        "networkMode": definition.get("networkMode", "bridge"),
        "containers": containers,
        "cpu": str(overrides.get("cpu") or definition.get("cpu") or ""),
        "memory": str(overrides.get("memory") or definition.get("memory") or ""),
        "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **overrides},
        "desiredStatus": "RUNNING",
        "group": group or f"family:{definition['family']}",
        "launchType": launch_type or ("FARGATE" if capacity_provider in ("FARGATE", "FARGATE_SPOT") else "EC2"),
        "createdAt": now,
        "tags": tags or [],
        "enableExecuteCommand": enable_execute_command,
        "version": 1,
    }
    if fargate:
        spec["platformVersion"] = platform_version or "1.4.0"
        spec["platformFamily"] = "Linux"
    if capacity_provider:
        spec["capacityProviderName"] = capacity_provider
    if started_by:
        spec["startedBy"] = started_by
    if network_configuration:
        spec["networkConfiguration"] = network_configuration
    if service_name:
        spec["serviceName"] = service_name
    if load_balancers:
        spec["loadBalancers"] = load_balancers
    if deployment_id:
        spec["deploymentId"] = deployment_id
    if container_instance_arn:
        spec["containerInstanceArn"] = container_instance_arn
    if definition.get("ephemeralStorage"):
        spec["ephemeralStorage"] = definition["ephemeralStorage"]
    return {"spec": spec, "status": {"lastStatus": "PROVISIONING", "containers": {}}}


def request_stop(task: Record, *, stop_code: str, reason: str, now: float) -> bool:
    """Ask a task to stop (a spec write); False when it was already asked."""
    spec = task["spec"]
    if desired_status(task) == "STOPPED":
        return False
    spec["desiredStatus"] = "STOPPED"
    spec["stopCode"] = stop_code
    spec["stoppedReason"] = reason
    spec["stopRequestedAt"] = now
    return True


def is_stopped(task: Record) -> bool:
    return bool(task["status"].get("lastStatus") == "STOPPED")


def desired_status(task: Record) -> str:
    """RUNNING until someone (a user, the scheduler, or a failure) asked the task to stop."""
    if task["spec"]["desiredStatus"] == "STOPPED" or task["status"].get("stopCode"):
        return "STOPPED"
    return "RUNNING"


def stop_reason(task: Record) -> tuple[str | None, str | None]:
    """(stopCode, stoppedReason): a failure seen by the reconciler wins over a later request."""
    status, spec = task["status"], task["spec"]
    if status.get("stopCode"):
        return status["stopCode"], status.get("stoppedReason")
    return spec.get("stopCode"), spec.get("stoppedReason")
