"""One task's next step, as a pure function of its record, what the runtime sees, and now.

The path (ECS's own states):

    desired RUNNING:  PROVISIONING --launch--> PENDING --containers up--> ACTIVATING
                      --targets registered--> RUNNING
    desired STOPPED:  ... --> DEACTIVATING --targets drained--> STOPPING --stop containers-->
                      DEPROVISIONING (awsvpc) --> STOPPED --> forgotten after retention

A service task with ``loadBalancers`` registers its container ports in ACTIVATING and
deregisters them in DEACTIVATING, waiting until the load balancer has drained them (see
``ecsemu.reconcile.targets``); other tasks pass those states in one step.

Invariants:
- ``lastStatus`` only moves forward in that order.
- A task that fails (image cannot be pulled, essential container exits, containers vanish)
  gets its stopCode and stoppedReason in ``status`` and takes the stop path.
- Containers are removed from the runtime once the task is STOPPED (unless kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import (
    Attachment,
    HealthStatus,
    NetworkBinding,
    TaskDefinition,
    TaskRecord,
    TaskSpec,
    TaskStatus,
)
from ecsemu.reconcile import targets
from ecsemu.reconcile.actions import (
    Action,
    DeregisterTarget,
    ForgetTask,
    Launch,
    RegisterTarget,
    RemoveContainers,
    SetTaskStatus,
    StopContainers,
)
from ecsemu.reconcile.ids import Ids
from ecsemu.runtime.base import ObservedContainer, ObservedTask, TaskLaunch

DEFAULT_STOP_TIMEOUT_S = 30.0
_CONTAINER_STATUS: dict[str, str] = {"pulling": "PENDING", "created": "PENDING", "running": "RUNNING", "exited": "STOPPED"}


@dataclass(frozen=True)
class TaskSettings:
    stopped_task_retention_s: float = 3600.0
    keep_stopped_containers: bool = False


def plan_task(
    scope: Scope,
    key: str,
    task: TaskRecord,
    observed: ObservedTask | None,
    definition: TaskDefinition | None,
    now: float,
    ids: Ids,
    settings: TaskSettings,
    target_groups: dict[str, TargetGroup] | None = None,
) -> list[Action]:
    spec, old = task["spec"], task["status"]
    target_groups = target_groups or {}
    status: TaskStatus = {**old, "containers": {k: v.copy() for k, v in old.get("containers", {}).items()}}
    actions: list[Action] = []
    last = status.get("lastStatus", "PROVISIONING")

    if last == "STOPPED":
        if observed is not None and not settings.keep_stopped_containers:
            actions.append(RemoveContainers(spec["taskArn"]))
        if now - float(status.get("stoppedAt", now)) >= settings.stopped_task_retention_s:
            actions.append(ForgetTask(scope, key))
        return actions

    if observed is not None:
        _record_containers(status, observed)
        _detect_failure(spec, status, observed, last)
    elif last in ("RUNNING", "ACTIVATING") and not status.get("stopCode") and spec["desiredStatus"] == "RUNNING":
        # The containers are gone without the reconciler stopping them.
        status["stopCode"] = "EssentialContainerExited"
        status["stoppedReason"] = "Essential container in task exited"
        for container in status["containers"].values():
            if container.get("lastStatus") != "STOPPED":
                container.update({"lastStatus": "STOPPED", "reason": "Container no longer exists"})

    desired = task_model.desired_status({"spec": spec, "status": status})
    if desired == "RUNNING":
        actions += _toward_running(spec, status, observed, definition, now, ids)
        actions += _activate(scope, spec, status, target_groups)
    else:
        actions += _toward_stopped(scope, spec, status, observed, now, target_groups)
    if status != old:
        status["version"] = int(old.get("version", 1)) + (1 if status.get("lastStatus") != last else 0)
        actions.append(SetTaskStatus(scope, key, status))
    return actions


def _toward_running(
    spec: TaskSpec, status: TaskStatus, observed: ObservedTask | None, definition: TaskDefinition | None, now: float, ids: Ids
) -> list[Action]:
    last = status.get("lastStatus", "PROVISIONING")
    if last == "PROVISIONING" or (last == "PENDING" and observed is None):
        if definition is None:
            status.update({"stopCode": "TaskFailedToStart", "stoppedReason": "Task definition not found."})
            return []
        if last == "PROVISIONING":
            status.update({"lastStatus": "PENDING", "connectivity": "CONNECTED", "connectivityAt": now})
            if spec["networkMode"] == "awsvpc":
                status["attachments"] = [_eni_attachment(spec, ids.attachment_id())]
        return [Launch(build_launch(spec, definition))]
    if observed is None:
        return []
    if observed.pull_started_at is not None:
        status["pullStartedAt"] = observed.pull_started_at
    if observed.pull_stopped_at is not None:
        status["pullStoppedAt"] = observed.pull_stopped_at
    essentials = [c["name"] for c in spec["containers"] if c["essential"]]
    essential_states = [observed.containers.get(name) for name in essentials]
    status["healthStatus"] = task_health(essential_states)
    if last not in ("PENDING", "ACTIVATING"):
        return []
    if last == "PENDING" and all(c is not None and c.state == "running" for c in essential_states):
        started = [c.started_at for c in observed.containers.values() if c.started_at is not None]
        status.update({"lastStatus": "ACTIVATING", "startedAt": max(started) if started else now})
        return []
    if last == "ACTIVATING":
        return []
    # Still starting: launching again is a no-op while the runtime works on it, and resumes a
    # launch that a restart of the emulator interrupted.
    return [Launch(build_launch(spec, definition))] if definition is not None else []


def _activate(scope: Scope, spec: TaskSpec, status: TaskStatus, target_groups: dict[str, TargetGroup]) -> list[Action]:
    """ACTIVATING: register the task's targets; RUNNING once the target groups show them."""
    if status.get("lastStatus") != "ACTIVATING":
        return []
    if "registrations" not in status:
        wanted = targets.wanted_registrations(spec, status, target_groups)
        if wanted is None:
            return []  # a host port is not reported yet
        status["registrations"] = [list(r) for r in wanted]
    registrations = targets.registrations_of(status)
    pending = [r for r in registrations if not targets.is_registered(target_groups.get(r.target_group_arn), r)]
    if not pending:
        status["lastStatus"] = "RUNNING"
        return []
    service_key = f"{spec['clusterName']}/{spec.get('serviceName', '')}"
    return [RegisterTarget(scope, service_key, r.target_group_arn, r.target_id, r.port) for r in pending]


def _toward_stopped(
    scope: Scope, spec: TaskSpec, status: TaskStatus, observed: ObservedTask | None, now: float, target_groups: dict[str, TargetGroup]
) -> list[Action]:
    last = status.get("lastStatus", "PROVISIONING")
    stop = StopContainers(spec["taskArn"], stop_timeout(spec))
    status.setdefault("stoppingAt", now)
    registrations = targets.registrations_of(status)
    service_key = f"{spec['clusterName']}/{spec.get('serviceName', '')}"
    if last in ("RUNNING", "ACTIVATING"):
        status["lastStatus"] = "DEACTIVATING"
        return [DeregisterTarget(scope, service_key, r.target_group_arn, r.target_id, r.port) for r in registrations]
    if last == "DEACTIVATING":
        undone = [r for r in registrations if not targets.is_deregistering(target_groups.get(r.target_group_arn), r)]
        if undone:
            return [DeregisterTarget(scope, service_key, r.target_group_arn, r.target_id, r.port) for r in undone]
        if not all(targets.is_drained(target_groups.get(r.target_group_arn), r, now) for r in registrations):
            return []  # the load balancer is still draining the task's targets
    if last in ("PROVISIONING", "PENDING", "DEACTIVATING"):
        if observed is None:
            return _finish(spec, status, now)
        status["lastStatus"] = "STOPPING"
        return [stop]
    if last == "STOPPING":
        if observed is not None and any(c.state != "exited" for c in observed.containers.values()):
            return [stop]
        status["executionStoppedAt"] = _stopped_at(observed, now)
        if spec["networkMode"] == "awsvpc":
            status["lastStatus"] = "DEPROVISIONING"
            # New attachment entries: the planner never changes what it was handed.
            status["attachments"] = [{**attachment, "status": "DELETED"} for attachment in status.get("attachments", [])]
            return []
        return _finish(spec, status, now)
    if last == "DEPROVISIONING":
        return _finish(spec, status, now)
    return []


def _finish(spec: TaskSpec, status: TaskStatus, now: float) -> list[Action]:
    status["lastStatus"] = "STOPPED"
    status["stoppedAt"] = now
    status.setdefault("executionStoppedAt", now)
    status.pop("healthStatus", None)
    for container in status["containers"].values():
        container["lastStatus"] = "STOPPED"
    for container_spec in spec["containers"]:
        status["containers"].setdefault(container_spec["name"], {"lastStatus": "STOPPED"})
    return [RemoveContainers(spec["taskArn"])]


def _stopped_at(observed: ObservedTask | None, now: float) -> float:
    if observed is None:
        return now
    finished = [c.finished_at for c in observed.containers.values() if c.finished_at is not None]
    return max(finished) if finished else now


def _record_containers(status: TaskStatus, observed: ObservedTask) -> None:
    for name, container in observed.containers.items():
        entry = status["containers"].setdefault(name, {})
        entry["lastStatus"] = _CONTAINER_STATUS[container.state]
        entry["healthStatus"] = container.health
        if container.exit_code is not None:
            entry["exitCode"] = container.exit_code
        if container.reason is not None:
            entry["reason"] = container.reason
        if container.runtime_id is not None:
            entry["runtimeId"] = container.runtime_id
        if container.image_digest is not None:
            entry["imageDigest"] = container.image_digest
        if container.network_bindings:
            # The runtime reports each binding with exactly NetworkBinding's members.
            entry["networkBindings"] = [cast(NetworkBinding, dict(b)) for b in container.network_bindings]
    if observed.failure and observed.failed_container:
        status["containers"].setdefault(observed.failed_container, {})["reason"] = observed.failure


def _detect_failure(spec: TaskSpec, status: TaskStatus, observed: ObservedTask, last: str) -> None:
    if status.get("stopCode") or spec["desiredStatus"] == "STOPPED":
        return
    if observed.failure:
        status.update({"stopCode": "TaskFailedToStart", "stoppedReason": observed.failure})
        return
    for container in spec["containers"]:
        seen = observed.containers.get(container["name"])
        if container["essential"] and seen is not None and seen.state == "exited":
            status.update({"stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited"})
            return


def task_health(essentials: list[ObservedContainer | None]) -> HealthStatus:
    """ECS's rule: any essential UNHEALTHY → UNHEALTHY; any UNKNOWN → UNKNOWN; else HEALTHY."""
    healths = [c.health if c is not None else "UNKNOWN" for c in essentials]
    if "UNHEALTHY" in healths:
        return "UNHEALTHY"
    if "UNKNOWN" in healths or not healths:
        return "UNKNOWN"
    return "HEALTHY"


def stop_timeout(spec: TaskSpec) -> float:
    timeouts = [c.get("stopTimeout") for c in spec["containers"]]
    given = [float(t) for t in timeouts if t is not None]
    return max(given) if given else DEFAULT_STOP_TIMEOUT_S


def build_launch(spec: TaskSpec, definition: TaskDefinition) -> TaskLaunch:
    containers = task_model.effective_containers(definition, spec.get("overrides", {}))
    return TaskLaunch(
        task_arn=spec["taskArn"],
        task_id=spec["taskId"],
        cluster=spec["clusterName"],
        family=spec["family"],
        revision=int(spec["revision"]),
        network_mode=spec["networkMode"],
        containers=containers,
        volumes=list(definition.get("volumes", [])),
        cpu=spec.get("cpu", ""),
        memory=spec.get("memory", ""),
    )


def _eni_attachment(spec: TaskSpec, attachment_id: str) -> Attachment:
    awsvpc = (spec.get("networkConfiguration") or {}).get("awsvpcConfiguration", {})
    subnets = awsvpc.get("subnets") or ["subnet-local"]
    return {
        "id": attachment_id,
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": [
            {"name": "subnetId", "value": subnets[0]},
            {"name": "networkInterfaceId", "value": "eni-" + attachment_id.replace("-", "")[:17]},
            {"name": "macAddress", "value": "02:00:00:00:00:01"},
            {"name": "privateDnsName", "value": "localhost"},
            {"name": "privateIPv4Address", "value": "127.0.0.1"},
        ],
    }
