"""The service record: kind ``service``, id ``<cluster>/<service name>`` (the tail of its ARN).

The record is a JSON document ``{"spec": ServiceSpec, "status": ServiceStatus}``, typed below
member by member (:class:`ServiceRecord`, :class:`Deployment`, :class:`DeploymentStatus`, …);
``?`` marks a member that may be absent. In outline:

    {"spec": {                   # CreateService/UpdateService/DeleteService; the scheduler's
                                 # own decisions (rollbacks, traffic steps), re-checked first
        "serviceName", "serviceArn", "clusterName", "clusterArn",
        "status": "ACTIVE" | "DRAINING", "desiredCount": int,
        "taskDefinition": str | None,                  # None for an EXTERNAL controller
        "launchType", "capacityProviderStrategy", "platformVersion",
        "deploymentConfiguration": {"maximumPercent", "minimumHealthyPercent", "strategy",
                                    "deploymentCircuitBreaker": {"enable", "rollback"}, ...},
        "deploymentController": {"type": "ECS" | "EXTERNAL" | "CODE_DEPLOY"},
        "schedulingStrategy", "networkConfiguration", "placementConstraints",
        "placementStrategy", "healthCheckGracePeriodSeconds", "enableECSManagedTags",
        "propagateTags", "enableExecuteCommand", "availabilityZoneRebalancing", "roleArn",
        "createdBy", "createdAt", "tags",
        "loadBalancers": [{"targetGroupArn", "containerName", "containerPort",
                           "advancedConfiguration"?: {"alternateTargetGroupArn",
                                                      "productionListenerRule", ...}}],
        "clientToken"?, "requestDigest"?,              # CreateService's idempotency
        "deletedAt"?, "platformFamily"?,               # DeleteService; a PRIMARY task set's
        "deployments": [{"id", "taskDefinition", "createdAt", "launchType"?,
                         "capacityProviderStrategy"?, "platformVersion"?, "platformFamily"?,
                         "networkConfiguration"?, "targetGroupArns"?,
                         "stopRequested"?: {"stopType", "requestedAt"}}]},   # oldest first;
                                                       # the last one is PRIMARY
     "status": {                 # the service planner only (SetServiceStatus), whole
        "deployments": {<id>: {"runningCount", "pendingCount", "failedTasks", "updatedAt"?,
                               "desiredCount"?,            # an older deployment's live tasks
                               "rolloutState"?, "rolloutStateReason"?,   # the PRIMARY's
                               "finishedAt"?, "trafficPercent"?, "trafficShiftedAt"?,
                               "retired"?, "stopped"?: {"stopType", "at"},
                               "rollback"?: {"deploymentId", "reason", "startedAt"}}},
        "taskSetCounts"?: {<task set id>: {"runningCount", "pendingCount",
                                           "stabilityStatus", "stabilityStatusAt",
                                           "drained"?, "throttled"?, "nextLaunchAt"?}},
        "events": [{"id", "createdAt", "message"}],   # newest first, at most MAX_EVENTS
        "targetEvents"?: {<task id>: {<target group ARN>: "registered" | "deregistered"}},
        "steady"?, "stuck"?, "throttled"?, "nextLaunchAt"?,   # what the events said last
        "inactive"?}}                                  # inactive: DRAINING and no task left

Invariants:
- API providers write ``spec``; the reconciler writes ``status``.
- A deployment id is ``ecs-svc/<19 digits>``; the service's tasks carry it as ``startedBy``.
- An old deployment leaves ``deployments`` once it has no tasks left (status "retired").
- The planner (``SetServiceStatus``) is the one writer of ``status``, events included.

The deployment circuit breaker's threshold lives here because DescribeServiceDeployments
shows it and the scheduler acts on it: ceil(desiredCount / 2), at least 3, at most 200.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Required, TypedDict, cast

from ecsemu.model.tags import Tag

KIND = "service"

# API-shaped blobs, stored as the API call gave them and passed on unread: a capacity provider
# strategy, networkConfiguration, placement constraints and strategies.
Blob = dict[str, Any]


class CircuitBreaker(TypedDict):
    enable: bool
    rollback: bool


class DeploymentConfiguration(TypedDict, total=False):
    """``spec.deploymentConfiguration``: the defaults below, overlaid with what the API got."""

    maximumPercent: Required[int]
    minimumHealthyPercent: Required[int]
    strategy: Required[str]  # ROLLING | BLUE_GREEN | LINEAR | CANARY
    deploymentCircuitBreaker: Required[CircuitBreaker]
    bakeTimeInMinutes: int
    linearConfiguration: Blob  # {stepPercent, stepBakeTimeInMinutes}
    canaryConfiguration: Blob  # {canaryPercent, canaryBakeTimeInMinutes}
    alarms: Blob  # stored and shown, never evaluated


class DeploymentController(TypedDict):
    type: str  # ECS | EXTERNAL (CODE_DEPLOY is refused)


class AdvancedConfiguration(TypedDict, total=False):
    """A blue/green ``loadBalancers`` entry's pair: the alternate group and the rules to move."""

    alternateTargetGroupArn: str
    productionListenerRule: str
    testListenerRule: str
    roleArn: str


class ServiceLoadBalancer(TypedDict, total=False):
    targetGroupArn: Required[str]
    containerName: Required[str]
    containerPort: Required[int]
    advancedConfiguration: AdvancedConfiguration


class StopRequest(TypedDict):
    """StopServiceDeployment's request, on the deployment it stops (a spec write)."""

    stopType: str
    requestedAt: float


class Deployment(TypedDict, total=False):
    """One of ``spec.deployments``: a task definition and launch settings, as of its creation."""

    id: Required[str]  # ecs-svc/<19 digits>
    taskDefinition: Required[str]
    createdAt: Required[float]
    launchType: str
    capacityProviderStrategy: list[Blob]
    platformVersion: str
    platformFamily: str
    networkConfiguration: Blob
    targetGroupArns: list[str]  # one per loadBalancers entry: where its tasks register
    stopRequested: StopRequest


class ServiceSpec(TypedDict, total=False):
    serviceName: Required[str]
    serviceArn: Required[str]
    clusterName: Required[str]
    clusterArn: Required[str]
    status: Required[Literal["ACTIVE", "DRAINING"]]
    desiredCount: Required[int]
    taskDefinition: Required[str | None]  # None for an EXTERNAL controller
    launchType: Required[str | None]
    capacityProviderStrategy: Required[list[Blob] | None]
    platformVersion: Required[str | None]
    deploymentConfiguration: Required[DeploymentConfiguration]
    deploymentController: Required[DeploymentController]
    schedulingStrategy: Required[str]
    loadBalancers: Required[list[ServiceLoadBalancer]]
    networkConfiguration: Required[Blob | None]
    placementConstraints: Required[list[Blob]]
    placementStrategy: Required[list[Blob]]
    healthCheckGracePeriodSeconds: Required[int | None]
    enableECSManagedTags: Required[bool]
    propagateTags: Required[str]
    enableExecuteCommand: Required[bool]
    availabilityZoneRebalancing: Required[str]
    roleArn: Required[str]
    createdBy: Required[str]
    createdAt: Required[float]
    tags: Required[list[Tag]]
    deployments: Required[list[Deployment]]  # oldest first; the last one is PRIMARY
    clientToken: str
    requestDigest: str
    deletedAt: float
    platformFamily: str | None  # copied from the PRIMARY task set (EXTERNAL)


class DeploymentStopped(TypedDict):
    stopType: str
    at: float


class Rollback(TypedDict):
    deploymentId: str
    reason: str
    startedAt: float


class DeploymentStatus(TypedDict, total=False):
    """``status.deployments[<id>]``: what the scheduler made of one deployment."""

    runningCount: int
    pendingCount: int
    failedTasks: int
    updatedAt: float
    desiredCount: int  # an older deployment's live tasks
    retired: bool  # an older deployment with no task left
    rolloutState: str  # IN_PROGRESS | COMPLETED | FAILED
    rolloutStateReason: str
    finishedAt: float
    stopped: DeploymentStopped
    rollback: Rollback
    trafficPercent: int  # blue/green, linear, canary: production traffic on this deployment
    trafficShiftedAt: float


class TaskSetCounts(TypedDict, total=False):
    """``status.taskSetCounts[<task set id>]``: what the task set scheduler observed."""

    runningCount: int
    pendingCount: int
    stabilityStatus: str  # STEADY_STATE | STABILIZING
    stabilityStatusAt: float
    drained: bool
    throttled: bool
    nextLaunchAt: float


class Event(TypedDict):
    id: str
    createdAt: float
    message: str


class ServiceStatus(TypedDict, total=False):
    deployments: dict[str, DeploymentStatus]
    taskSetCounts: dict[str, TaskSetCounts]
    events: list[Event]  # newest first, at most MAX_EVENTS
    targetEvents: dict[str, dict[str, str]]  # task id → target group ARN → registered | deregistered
    steady: bool
    stuck: bool
    throttled: bool
    nextLaunchAt: float
    inactive: bool


class ServiceRecord(TypedDict):
    spec: ServiceSpec
    status: ServiceStatus


def from_record(record: dict[str, Any]) -> ServiceRecord:
    """The stored document, typed: no copy, no conversion (the JSON is the record)."""
    return cast(ServiceRecord, record)


def to_record(service: ServiceRecord) -> dict[str, Any]:
    """The typed record as the store takes it: the same object."""
    return cast(dict[str, Any], service)


DEFAULT_DEPLOYMENT_CONFIGURATION: DeploymentConfiguration = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "strategy": "ROLLING",
}
MAX_EVENTS = 100
TRAFFIC_SHIFTING = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
BREAKER_MIN, BREAKER_MAX = 3, 200


def breaker_threshold(desired_count: int) -> int:
    """The failed tasks that mark a deployment FAILED: ceil(desired / 2), within [3, 200]."""
    return min(max(math.ceil(desired_count / 2), BREAKER_MIN), BREAKER_MAX)


def strategy(spec: ServiceSpec) -> str:
    return str(spec["deploymentConfiguration"].get("strategy") or "ROLLING")


def _target_groups(spec: ServiceSpec) -> list[str]:
    """The target group each of the service's ``loadBalancers`` entries sends a new deployment's
    tasks to. Rolling: the entry's own. Blue/green (and linear, canary): the one of the pair
    (``targetGroupArn``, ``advancedConfiguration.alternateTargetGroupArn``) that the previous
    deployment did not use, so the new revision starts beside the old one."""
    entries = spec.get("loadBalancers") or []
    previous = spec["deployments"][-1].get("targetGroupArns") if spec.get("deployments") else None
    chosen = []
    for index, entry in enumerate(entries):
        primary_group = entry["targetGroupArn"]
        alternate = (entry.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
        if strategy(spec) in TRAFFIC_SHIFTING and alternate and previous and index < len(previous):
            chosen.append(alternate if previous[index] == primary_group else primary_group)
        else:
            chosen.append(primary_group)
    return chosen


def new_deployment(deployment_id: str, spec: ServiceSpec, now: float) -> Deployment:
    """A deployment of the service's current task definition and launch settings (an ECS
    controller's: an EXTERNAL one has no task definition and no deployments)."""
    task_definition = spec["taskDefinition"]
    if task_definition is None:
        raise ValueError(f"service {spec['serviceName']} has no task definition to deploy")
    deployment: Deployment = {"id": deployment_id, "taskDefinition": task_definition, "createdAt": now}
    launch_type = spec.get("launchType")
    if launch_type is not None:
        deployment["launchType"] = launch_type
    capacity_provider_strategy = spec.get("capacityProviderStrategy")
    if capacity_provider_strategy:
        deployment["capacityProviderStrategy"] = capacity_provider_strategy
    platform_version = spec.get("platformVersion")
    if platform_version:
        deployment["platformVersion"] = platform_version
    platform_family = spec.get("platformFamily")
    if platform_family:
        deployment["platformFamily"] = platform_family
    network_configuration = spec.get("networkConfiguration")
    if network_configuration:
        deployment["networkConfiguration"] = network_configuration
    if spec.get("loadBalancers"):
        deployment["targetGroupArns"] = _target_groups(spec)
    return deployment


def is_inactive(service: ServiceRecord) -> bool:
    return bool(service["status"].get("inactive"))


def visible_status(service: ServiceRecord) -> str:
    """ACTIVE, DRAINING, or INACTIVE once the scheduler has drained a deleted service."""
    return "INACTIVE" if is_inactive(service) else str(service["spec"]["status"])


def primary(service: ServiceRecord) -> Deployment:
    return service["spec"]["deployments"][-1]
