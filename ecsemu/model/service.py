"""The service record: kind ``service``, id ``<cluster>/<service name>`` (the tail of its ARN).

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
        "deployments": [{"id", "taskDefinition", "createdAt", "launchType"?,
                         "capacityProviderStrategy"?, "platformVersion"?, "platformFamily"?,
                         "networkConfiguration"?, "targetGroupArns"?}]},   # oldest first;
                                                       # the last one is PRIMARY
     "status": {                 # the service planner only (SetServiceStatus), whole
        "deployments": {<id>: {"runningCount", "pendingCount", "failedTasks", "updatedAt"?,
                               "desiredCount"?,            # an older deployment's live tasks
                               "rolloutState"?, "rolloutStateReason"?,   # the PRIMARY's
                               "retired"?, "stopped"?, "rollback"?: {"deploymentId",
                               "reason", "startedAt"}, ...}},
        "taskSetCounts"?: {<task set id>: {"runningCount", "pendingCount",
                                           "stabilityStatus", "stabilityStatusAt"}},
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
from typing import Any

Record = dict[str, Any]

KIND = "service"

DEFAULT_DEPLOYMENT_CONFIGURATION: Record = {
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


def strategy(spec: Record) -> str:
    return str(spec["deploymentConfiguration"].get("strategy") or "ROLLING")


def _target_groups(spec: Record) -> list[str]:
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


def new_deployment(deployment_id: str, spec: Record, now: float) -> Record:
    """A deployment of the service's current task definition and launch settings."""
    deployment: Record = {
        "id": deployment_id,
        "taskDefinition": spec["taskDefinition"],
        "createdAt": now,
        "launchType": spec.get("launchType"),
    }
    for member in ("capacityProviderStrategy", "platformVersion", "platformFamily", "networkConfiguration"):
        if spec.get(member):
            deployment[member] = spec[member]
    if deployment["launchType"] is None:
        del deployment["launchType"]
    if spec.get("loadBalancers"):
        deployment["targetGroupArns"] = _target_groups(spec)
    return deployment


def is_inactive(service: Record) -> bool:
    return bool(service["status"].get("inactive"))


def visible_status(service: Record) -> str:
    """ACTIVE, DRAINING, or INACTIVE once the scheduler has drained a deleted service."""
    return "INACTIVE" if is_inactive(service) else str(service["spec"]["status"])


def primary(service: Record) -> Record:
    deployment: Record = service["spec"]["deployments"][-1]
    return deployment
