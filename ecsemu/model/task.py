"""The task record: kind ``task``, id ``<cluster>/<task id>`` (the tail of its ARN).

The record is a JSON document ``{"spec": TaskSpec, "status": TaskStatus}``, typed below member
by member (:class:`TaskRecord`); ``?`` marks a member that may be absent.

    spec (TaskSpec)                  # RunTask/StartTask, or the service scheduler (PlaceTasks)
        taskId (32 hex), taskArn, clusterName, clusterArn, taskDefinitionArn, family, revision,
        networkMode ("awsvpc" | "bridge" | "host" | "none"), containers: [ContainerSpec],
        cpu, memory                  # task level, "" when the definition has none
        overrides, desiredStatus ("RUNNING" | "STOPPED"), group, launchType ("EC2" | "FARGATE"),
        createdAt, tags, enableExecuteCommand, version,
        platformVersion?, platformFamily?,              # Fargate
        capacityProviderName?, startedBy?, networkConfiguration?, ephemeralStorage?,
        serviceName?, deploymentId?,                    # a service's or task set's task
        loadBalancers?: [TaskLoadBalancer], containerInstanceArn?,
        stopCode?, stoppedReason?, stopRequestedAt?,    # the stop request (request_stop)
        protection?                                     # UpdateTaskProtection
    status (TaskStatus)              # the reconciler only (SetTaskStatus)
        lastStatus (one of LIFECYCLE), containers: {<name>: ContainerStatus}, version?,
        connectivity?, connectivityAt?, pullStartedAt?, pullStoppedAt?, startedAt?,
        stoppingAt?, executionStoppedAt?, stoppedAt?, healthStatus?,
        stopCode?, stoppedReason?,                      # failures the reconciler saw
        attachments?: [Attachment],
        registrations?: [[target group ARN, target id, port]]   # see reconcile/targets

Invariants:
- Only API providers and the service scheduler's "place/stop" actions write ``spec``;
  only the reconciler writes ``status``.
- ``spec.desiredStatus`` goes RUNNING → STOPPED once; ``status.lastStatus`` follows
  ECS's order and never goes back.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any, Literal, Required, TypedDict, cast

from ecsemu import config
from ecsemu.context import Scope
from ecsemu.model.arns import ecs_arn
from ecsemu.model.tags import Tag
from ecsemu.model.task_definition import TaskDefinitionRecord

KIND = "task"

# lastStatus values in the order a task passes them.
LIFECYCLE = (
    "PROVISIONING", "PENDING", "ACTIVATING", "RUNNING",
    "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED",
)  # fmt: skip
PENDING_STATES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})

# API-shaped blobs, stored as given and passed through unread (or read only by the runtime):
# the task definition as DescribeTaskDefinition shows it, RunTask's overrides and
# networkConfiguration, a Fargate ephemeralStorage.
TaskDefinition = TaskDefinitionRecord
Blob = dict[str, Any]
HealthStatus = Literal["HEALTHY", "UNHEALTHY", "UNKNOWN"]


class ContainerSpec(TypedDict, total=False):
    """One of ``spec.containers``: what the task runs, fixed when it is created."""

    name: Required[str]
    image: Required[str]
    essential: Required[bool]
    containerArn: Required[str]
    cpu: Required[str]
    memory: str
    memoryReservation: str
    stopTimeout: int
    healthCheck: bool  # present (True) only when the definition has a health check


class TaskLoadBalancer(TypedDict):
    """A service task's load balancer entry, pointed at its deployment's target group."""

    targetGroupArn: str
    containerName: str
    containerPort: int


class TaskProtection(TypedDict, total=False):
    protectionEnabled: bool
    expirationDate: float


class TaskSpec(TypedDict, total=False):
    taskId: Required[str]
    taskArn: Required[str]
    clusterName: Required[str]
    clusterArn: Required[str]
    taskDefinitionArn: Required[str]
    family: Required[str]
    revision: Required[int]
    networkMode: Required[str]
    containers: Required[list[ContainerSpec]]
    cpu: Required[str]
    memory: Required[str]
    overrides: Required[Blob]
    desiredStatus: Required[Literal["RUNNING", "STOPPED"]]
    group: Required[str]
    launchType: Required[str]
    createdAt: Required[float]
    tags: Required[list[Tag]]
    enableExecuteCommand: Required[bool]
    version: Required[int]
    platformVersion: str
    platformFamily: str
    capacityProviderName: str
    startedBy: str
    networkConfiguration: Blob
    ephemeralStorage: Blob
    serviceName: str
    deploymentId: str
    loadBalancers: list[TaskLoadBalancer]
    containerInstanceArn: str
    stopCode: str
    stoppedReason: str
    stopRequestedAt: float
    protection: TaskProtection  # {} once protection is turned off


class NetworkBinding(TypedDict, total=False):
    """A published container port, as the runtime reports it."""

    bindIP: str
    containerPort: int
    hostPort: int
    protocol: str


class ContainerStatus(TypedDict, total=False):
    """``status.containers[<name>]``: what the runtime last showed of one container."""

    lastStatus: str  # PENDING, RUNNING, STOPPED
    exitCode: int
    reason: str
    healthStatus: HealthStatus
    networkBindings: list[NetworkBinding]
    runtimeId: str
    imageDigest: str


class AttachmentDetail(TypedDict):
    name: str
    value: str


class Attachment(TypedDict):
    """The awsvpc task's elastic network interface, as DescribeTasks shows it."""

    id: str
    type: str
    status: str  # ATTACHED, DELETED
    details: list[AttachmentDetail]


class TaskStatus(TypedDict, total=False):
    lastStatus: Required[str]
    containers: Required[dict[str, ContainerStatus]]
    version: int
    connectivity: str
    connectivityAt: float
    pullStartedAt: float
    pullStoppedAt: float
    startedAt: float
    stoppingAt: float
    executionStoppedAt: float
    stoppedAt: float
    healthStatus: HealthStatus
    stopCode: str
    stoppedReason: str
    attachments: list[Attachment]
    # [target group ARN, target id, port]: a JSON array, so a list (reconcile/targets reads it)
    registrations: list[list[str | int]]


class TaskRecord(TypedDict):
    spec: TaskSpec
    status: TaskStatus


def from_record(record: dict[str, Any]) -> TaskRecord:
    """The stored document, typed: no copy, no conversion (the JSON is the record)."""
    return cast(TaskRecord, record)


def to_record(task: TaskRecord) -> dict[str, Any]:
    """The typed record as the store takes it: the same object."""
    return cast(dict[str, Any], task)


def rank(last_status: str) -> int:
    return LIFECYCLE.index(last_status)


def effective_containers(definition: TaskDefinition, overrides: Blob) -> list[dict[str, Any]]:
    """The task definition's containers with RunTask's container overrides applied (container
    definitions are API-shaped: the runtime reads them as ECS wrote them)."""
    by_name = {o.get("name"): o for o in overrides.get("containerOverrides", [])}
    containers = []
    for container in definition["containerDefinitions"]:
        merged = dict(container)
        override = by_name.get(container["name"], {})
        for member in ("command", "cpu", "memory", "memoryReservation"):
            if member in override:  # a copy: the launch outlives the (shared) task record
                merged[member] = copy.deepcopy(override[member])
        if override.get("environment"):
            env = {e.get("name", ""): e.get("value", "") for e in container.get("environment", [])}
            env.update({e["name"]: e.get("value", "") for e in override["environment"]})
            merged["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        if override.get("environmentFiles"):
            merged["environmentFiles"] = container.get("environmentFiles", []) + copy.deepcopy(override["environmentFiles"])
        containers.append(merged)
    return containers


def _container_spec(scope: Scope, cluster_name: str, task_id: str, container: dict[str, Any]) -> ContainerSpec:
    arn = ecs_arn(scope, "container", f"{cluster_name}/{task_id}/{uuid.uuid4()}")
    spec: ContainerSpec = {
        "name": container["name"],
        "image": container["image"],
        "essential": container.get("essential", True),
        "containerArn": arn,
        "cpu": str(container.get("cpu", 0)),
    }
    if container.get("memory"):
        spec["memory"] = str(container["memory"])
    if container.get("memoryReservation"):
        spec["memoryReservation"] = str(container["memoryReservation"])
    if container.get("stopTimeout") is not None:
        spec["stopTimeout"] = container["stopTimeout"]
    if container.get("healthCheck"):
        spec["healthCheck"] = True
    return spec


def new_task(
    scope: Scope,
    *,
    task_id: str,
    cluster_name: str,
    definition: TaskDefinition,
    now: float,
    overrides: Blob | None = None,
    started_by: str | None = None,
    group: str | None = None,
    launch_type: str | None = None,
    capacity_provider: str | None = None,
    network_configuration: Blob | None = None,
    tags: list[Tag] | None = None,
    service_name: str | None = None,
    deployment_id: str | None = None,
    container_instance_arn: str | None = None,
    enable_execute_command: bool = False,
    platform_version: str | None = None,
    load_balancers: list[TaskLoadBalancer] | None = None,
) -> TaskRecord:
    """A new task record, desired RUNNING, not yet seen by the reconciler."""
    overrides = overrides or {}
    task_arn = ecs_arn(scope, "task", f"{cluster_name}/{task_id}")
    containers = [_container_spec(scope, cluster_name, task_id, c) for c in effective_containers(definition, overrides)]
    fargate = launch_type == "FARGATE" or capacity_provider in ("FARGATE", "FARGATE_SPOT")
    spec: TaskSpec = {
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


def request_stop(task: TaskRecord, *, stop_code: str, reason: str, now: float) -> bool:
    """Ask a task to stop (a spec write); False when it was already asked."""
    spec = task["spec"]
    if desired_status(task) == "STOPPED":
        return False
    spec["desiredStatus"] = "STOPPED"
    spec["stopCode"] = stop_code
    spec["stoppedReason"] = reason
    spec["stopRequestedAt"] = now
    return True


def is_stopped(task: TaskRecord) -> bool:
    return bool(task["status"].get("lastStatus") == "STOPPED")


def room_for_tasks(tasks: Iterable[TaskRecord]) -> int:
    """How many more tasks ecsemu starts beside ``tasks`` (all of every account and region):
    ``config.MAX_TASKS`` less the unstopped ones. RunTask and the schedulers both ask here."""
    return max(0, config.MAX_TASKS - sum(1 for task in tasks if not is_stopped(task)))


def desired_status(task: TaskRecord) -> Literal["RUNNING", "STOPPED"]:
    """RUNNING until someone (a user, the scheduler, or a failure) asked the task to stop."""
    if task["spec"]["desiredStatus"] == "STOPPED" or task["status"].get("stopCode"):
        return "STOPPED"
    return "RUNNING"


def stop_reason(task: TaskRecord) -> tuple[str | None, str | None]:
    """(stopCode, stoppedReason): a failure seen by the reconciler wins over a later request."""
    status, spec = task["status"], task["spec"]
    if status.get("stopCode"):
        return status["stopCode"], status.get("stoppedReason")
    return spec.get("stopCode"), spec.get("stoppedReason")
