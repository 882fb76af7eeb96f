"""Service deployments and service revisions: ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment.

Nothing here has a record of its own: every answer is derived from the service record
(``ecsemu.model.service``), whose ``spec.deployments`` (oldest first) are the deployments
and ``status.deployments`` what the scheduler made of them.

Vocabulary:
- A *deployment* is an entry of ``spec.deployments`` (id ``ecs-svc/<19 digits>``).
- Its *service revision* is the configuration it deploys:
  ``arn:aws:ecs:<region>:<account>:service-revision/<cluster>/<service>/<19 digits>``
  (the digits of the deployment id).
- Its *service deployment* is the history entry ECS shows for it:
  ``arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<22 characters>``
  (a URL-safe digest of the service ARN and deployment id, so the same every time).
- A *rollback deployment* is the deployment the scheduler started to undo a failed or stopped
  one. It is not a service deployment of its own: its progress is the status of the one it
  undoes (ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED), and its revision is
  that one's ``rollback.serviceRevisionArn``.

Status of a service deployment (first rule that holds):
1. rolloutState COMPLETED → SUCCESSFUL.
2. FAILED, or stopped by the scheduler (``status.deployments[id].stopped``): with a rollback
   deployment → ROLLBACK_IN_PROGRESS / ROLLBACK_SUCCESSFUL / ROLLBACK_FAILED as it goes (STOPPED
   if a newer deployment replaced the rollback); a rollback due but not started yet →
   ROLLBACK_REQUESTED; else STOPPED.
3. Replaced by a newer deployment before it completed → STOPPED.
4. ``spec.deployments[i].stopRequested`` not yet acted on → ROLLBACK_REQUESTED (stopType
   ROLLBACK) or STOP_REQUESTED.
5. Else IN_PROGRESS. (PENDING never shows: a deployment starts when it is created.)

The contract with the scheduler for StopServiceDeployment: this module writes only
``spec.deployments[i].stopRequested = {"stopType", "requestedAt"}``. The scheduler, on the
PRIMARY deployment while IN_PROGRESS, answers in one status write with
``rolloutState="FAILED"``, ``stopped={"stopType", "at"}`` and, when it rolls back,
``rollback={"deploymentId", "reason", "startedAt"}`` plus the ``RollBack`` action. The circuit
breaker's rollback writes ``rollback`` the same way; without it a rollback deployment is
recognised as the next deployment, of the last completed task definition, after a FAILED one.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecsemu.errors import ClientError
from ecsemu.model import service as service_model
from ecsemu.model.service import Deployment, DeploymentStatus, DeploymentStopped, ServiceRecord, StopRequest
from ecsemu.services.ecs import arns, services
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate, require
from ecsemu.services.ecs.errors import (
    InvalidParameterException,
    ServiceDeploymentNotFoundException,
    ServiceNotFoundException,
)

DEPLOYMENT_TYPE = "service-deployment"
REVISION_TYPE = "service-revision"
DEPLOYMENT_PREFIX = "ecs-svc/"
MAX_DESCRIBE = 20
STOPPABLE = frozenset({"IN_PROGRESS", "PENDING"})
STOP_UNDER_WAY = frozenset({"STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
SUPERSEDED_REASON = "ECS deployment {id} stopped: a newer deployment started."
STOP_REQUESTED_REASON = "Service deployment stop requested by user."
ROLLBACK_REQUESTED_REASON = "Service deployment rollback requested by user."


class ConflictException(ClientError):
    code = "ConflictException"


# -- identities -----------------------------------------------------------------------------


def deployment_arn(call: Call, service: ServiceRecord, deployment_id: str) -> str:
    spec = service["spec"]
    digest = hashlib.sha256(f"{spec['serviceArn']}|{deployment_id}".encode()).digest()
    tail = base64.urlsafe_b64encode(digest).decode()[:22]
    return call.arn(DEPLOYMENT_TYPE, f"{spec['clusterName']}/{spec['serviceName']}/{tail}")


def revision_arn(call: Call, service: ServiceRecord, deployment_id: str) -> str:
    spec = service["spec"]
    number = deployment_id.removeprefix(DEPLOYMENT_PREFIX)
    return call.arn(REVISION_TYPE, f"{spec['clusterName']}/{spec['serviceName']}/{number}")


def _service_of(call: Call, text: str, resource_type: str) -> tuple[ServiceRecord, str] | None:
    """The service an ARN of ``resource_type`` names (not deleted) and the ARN's last part."""
    parsed = arns.parse(text)
    if parsed is None or parsed.resource_type != resource_type or not call.owns(parsed):
        return None
    parts = parsed.resource.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    stored = call.store.get(call.scope, services.KIND, f"{parts[0]}/{parts[1]}")
    if stored is None or service_model.is_inactive(service := service_model.from_record(stored)):
        return None
    return service, parts[2]


# -- the derived view -----------------------------------------------------------------------


@dataclass
class _View:
    """One service deployment, as derived from the service record."""

    index: int
    deployment: Deployment
    observed: DeploymentStatus
    status: str
    reason: str
    finished_at: float | None = None
    stopped_at: float | None = None
    rollback: Deployment | None = None  # the rollback deployment, once started
    rollback_reason: str | None = None


def _observed(service: ServiceRecord, deployment_id: str) -> DeploymentStatus:
    return service["status"].get("deployments", {}).get(deployment_id, {})


def _rollout(service: ServiceRecord, deployment: Deployment) -> str:
    return str(_observed(service, deployment["id"]).get("rolloutState", "IN_PROGRESS"))


def _rollback_targets(service: ServiceRecord) -> dict[int, int]:
    """Index of a failed or stopped deployment → index of its rollback deployment."""
    spec = service["spec"]
    deployments: list[Deployment] = spec["deployments"]
    positions = {d["id"]: i for i, d in enumerate(deployments)}
    breaker = spec["deploymentConfiguration"].get("deploymentCircuitBreaker") or {}
    found: dict[int, int] = {}
    for index, deployment in enumerate(deployments):
        observed = _observed(service, deployment["id"])
        rollback = observed.get("rollback")
        recorded = rollback.get("deploymentId") if rollback else None
        if recorded:
            if positions.get(recorded, -1) > index:
                found[index] = positions[recorded]
            continue
        if observed.get("rolloutState") != "FAILED" or index + 1 >= len(deployments):
            continue
        if not (breaker.get("rollback") or deployment.get("stopRequested")):
            continue
        completed = [d for d in deployments[:index] if _rollout(service, d) == "COMPLETED"]
        if completed and deployments[index + 1]["taskDefinition"] == completed[-1]["taskDefinition"]:
            found[index] = index + 1
    return found


def _finished(observed: DeploymentStatus, fallback: float) -> float:
    return float(observed.get("finishedAt") or observed.get("updatedAt") or fallback)


def _rollback_due(service: ServiceRecord, index: int) -> bool:
    """Whether the failed or stopped deployment at ``index`` is to be rolled back."""
    spec = service["spec"]
    deployment = spec["deployments"][index]
    stopped: DeploymentStopped | StopRequest | None = (
        _observed(service, deployment["id"]).get("stopped") or deployment.get("stopRequested")
    )
    breaker = spec["deploymentConfiguration"].get("deploymentCircuitBreaker") or {}
    wanted = (stopped is not None and stopped.get("stopType") == "ROLLBACK") or bool(breaker.get("rollback"))
    return wanted and _completed_before(service, index)


def _completed_before(service: ServiceRecord, index: int) -> bool:
    return any(_rollout(service, d) == "COMPLETED" for d in service["spec"]["deployments"][:index])


def views(service: ServiceRecord) -> list[_View]:
    """The service deployments of ``service``, oldest first (rollback deployments folded in)."""
    spec = service["spec"]
    if spec["deploymentController"]["type"] != "ECS":
        return []
    deployments: list[Deployment] = spec["deployments"]
    rollbacks = _rollback_targets(service)
    folded = set(rollbacks.values())
    result: list[_View] = []
    for index, deployment in enumerate(deployments):
        if index in folded:
            continue
        observed = _observed(service, deployment["id"])
        rollout = observed.get("rolloutState", "IN_PROGRESS")
        done = "completed" if rollout == "COMPLETED" else "in progress"
        reason = str(observed.get("rolloutStateReason") or f"ECS deployment {deployment['id']} {done}.")
        # The first later deployment that is not this one's rollback replaced it.
        later = [d for i, d in enumerate(deployments) if i > index and i != rollbacks.get(index)]
        replaced_at = float(later[0]["createdAt"]) if later else None
        view = _View(index, deployment, observed, "IN_PROGRESS", reason)
        if rollout == "COMPLETED":
            view.status, view.finished_at = "SUCCESSFUL", _finished(observed, deployment["createdAt"])
        elif rollout == "FAILED" or observed.get("stopped"):
            _failed_view(service, view, rollbacks, replaced_at)
        elif replaced_at is not None:
            view.status, view.reason = "STOPPED", SUPERSEDED_REASON.format(id=deployment["id"])
            view.finished_at = view.stopped_at = replaced_at
        elif deployment.get("stopRequested"):
            rollback = deployment["stopRequested"].get("stopType") == "ROLLBACK"
            view.status = "ROLLBACK_REQUESTED" if rollback else "STOP_REQUESTED"
            view.reason = ROLLBACK_REQUESTED_REASON if rollback else STOP_REQUESTED_REASON
        result.append(view)
    return result


def _failed_view(service: ServiceRecord, view: _View, rollbacks: dict[int, int], replaced_at: float | None) -> None:
    deployments: list[Deployment] = service["spec"]["deployments"]
    observed = view.observed
    stopped = observed.get("stopped")
    stopped_at = float(
        (stopped.get("at") if stopped else None) or observed.get("updatedAt") or view.deployment["createdAt"]
    )
    recorded = observed.get("rollback")
    view.rollback_reason = str((recorded.get("reason") if recorded else None) or view.reason)
    target = rollbacks.get(view.index)
    if target is None:
        if replaced_at is None and _rollback_due(service, view.index):
            view.status = "ROLLBACK_REQUESTED"
            return
        view.status, view.finished_at, view.stopped_at = "STOPPED", stopped_at, stopped_at
        return
    rollback = deployments[target]
    view.rollback = rollback
    rollback_observed = _observed(service, rollback["id"])
    rollout = rollback_observed.get("rolloutState", "IN_PROGRESS")
    if rollout == "COMPLETED":
        view.status, view.finished_at = "ROLLBACK_SUCCESSFUL", _finished(rollback_observed, rollback["createdAt"])
    elif rollout == "FAILED":
        view.status, view.finished_at = "ROLLBACK_FAILED", _finished(rollback_observed, rollback["createdAt"])
    elif target + 1 < len(deployments):
        replaced = float(deployments[target + 1]["createdAt"])
        view.status, view.finished_at, view.stopped_at = "STOPPED", replaced, replaced
    else:
        view.status = "ROLLBACK_IN_PROGRESS"


# -- rendering ------------------------------------------------------------------------------


def _summary(call: Call, service: ServiceRecord, deployment: Deployment, *, primary: bool) -> dict[str, Any]:
    observed = _observed(service, deployment["id"])
    requested = service["spec"]["desiredCount"] if primary else observed.get("desiredCount", 0)
    if observed.get("retired"):
        requested = 0
    return {
        "arn": revision_arn(call, service, deployment["id"]),
        "requestedTaskCount": requested,
        "runningTaskCount": observed.get("runningCount", 0),
        "pendingTaskCount": observed.get("pendingCount", 0),
    }


def brief(call: Call, service: ServiceRecord, view: _View) -> dict[str, Any]:
    spec = service["spec"]
    item: dict[str, Any] = {
        "serviceDeploymentArn": deployment_arn(call, service, view.deployment["id"]),
        "serviceArn": spec["serviceArn"],
        "clusterArn": spec["clusterArn"],
        "createdAt": view.deployment["createdAt"],
        "startedAt": view.deployment["createdAt"],
        "targetServiceRevisionArn": revision_arn(call, service, view.deployment["id"]),
        "status": view.status,
        "statusReason": view.reason,
    }
    if view.finished_at is not None:
        item["finishedAt"] = view.finished_at
    return item


def _circuit_breaker(service: ServiceRecord, view: _View) -> dict[str, Any]:
    spec = service["spec"]
    breaker = spec["deploymentConfiguration"].get("deploymentCircuitBreaker") or {}
    tripped = view.observed.get("rolloutState") == "FAILED" and not view.observed.get("stopped")
    if not breaker.get("enable"):
        status = "DISABLED"
    elif tripped:
        status = "TRIGGERED"
    elif view.status == "IN_PROGRESS":
        status = "MONITORING"
    else:
        status = "MONITORING_COMPLETE"
    return {
        "status": status,
        "failureCount": int(view.observed.get("failedTasks", 0)),
        "threshold": service_model.breaker_threshold(int(spec["desiredCount"])),
    }


def describe(call: Call, service: ServiceRecord, view: _View) -> dict[str, Any]:
    deployments: list[Deployment] = service["spec"]["deployments"]
    live_primary = view.index == len(deployments) - 1
    item = brief(call, service, view)
    del item["targetServiceRevisionArn"]
    # The revisions it replaces: the one before it, and any older one still running tasks.
    sources = [
        d for i, d in enumerate(deployments[: view.index])
        if i == view.index - 1 or not _observed(service, d["id"]).get("retired")
    ]  # fmt: skip
    item.update(
        updatedAt=view.observed.get("updatedAt", view.deployment["createdAt"]),
        sourceServiceRevisions=[_summary(call, service, d, primary=False) for d in sources],
        targetServiceRevision=_summary(call, service, view.deployment, primary=live_primary),
        deploymentConfiguration=service["spec"]["deploymentConfiguration"],
        deploymentCircuitBreaker=_circuit_breaker(service, view),
        alarms={"status": "DISABLED"},
    )
    if view.stopped_at is not None:
        item["stoppedAt"] = view.stopped_at
    if view.rollback is not None:
        item["rollback"] = {
            "reason": view.rollback_reason,
            "startedAt": view.rollback["createdAt"],
            "serviceRevisionArn": revision_arn(call, service, view.rollback["id"]),
        }
    return item


def revision(call: Call, service: ServiceRecord, deployment: Deployment) -> dict[str, Any]:
    spec = service["spec"]
    item: dict[str, Any] = {
        "serviceRevisionArn": revision_arn(call, service, deployment["id"]),
        "serviceArn": spec["serviceArn"],
        "clusterArn": spec["clusterArn"],
        "taskDefinition": deployment["taskDefinition"],
        "loadBalancers": spec.get("loadBalancers", []),
        "serviceRegistries": [],
        "containerImages": _images(call, deployment["taskDefinition"]),
        "guardDutyEnabled": False,
        "createdAt": deployment["createdAt"],
    }
    for member in (
        "launchType",
        "capacityProviderStrategy",
        "platformVersion",
        "platformFamily",
        "networkConfiguration",
    ):
        if deployment.get(member):
            item[member] = deployment[member]
    return item


def _images(call: Call, task_definition_arn: str) -> list[dict[str, str]]:
    definition = call.store.get(call.scope, "taskdef", task_definition_arn.split("/", 1)[-1])
    if definition is None:
        return []
    return [{"containerName": c["name"], "image": c["image"]} for c in definition.get("containerDefinitions", [])]


# -- operations -----------------------------------------------------------------------------


def _moment(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError as error:
                raise InvalidParameterException(f"Invalid timestamp: {value}") from error
    return float(value)


@operation("ListServiceDeployments")
def list_service_deployments(call: Call, params: Params) -> Result:
    reference = require(params, "service")
    cluster = call.require_cluster(params.get("cluster"))
    service = services.find(call, cluster["clusterName"], reference)
    if service is None or service_model.is_inactive(service):
        raise ServiceNotFoundException()
    wanted = set(params.get("status") or [])
    created = params.get("createdAt") or {}
    before = _moment(created["before"]) if "before" in created else None
    after = _moment(created["after"]) if "after" in created else None
    selected = []
    for view in reversed(views(service)):  # newest first
        at = float(view.deployment["createdAt"])
        if wanted and view.status not in wanted:
            continue
        if (before is not None and at > before) or (after is not None and at < after):
            continue
        selected.append(brief(call, service, view))
    page, token = paginate(selected, params, default_max=20, limit=100)
    return page_result("serviceDeployments", page, token)


def _check_count(references: list[str], member: str) -> None:
    if not references:
        raise InvalidParameterException(f"{member} can not be empty.")
    if len(references) > MAX_DESCRIBE:
        raise InvalidParameterException(f"{member} can have at most {MAX_DESCRIBE} items.")


def _find_view(call: Call, text: str) -> tuple[ServiceRecord, _View] | None:
    found = _service_of(call, text, DEPLOYMENT_TYPE)
    if found is None:
        return None
    service, _ = found
    for view in views(service):
        if deployment_arn(call, service, view.deployment["id"]) == text:
            return service, view
    return None


@operation("DescribeServiceDeployments")
def describe_service_deployments(call: Call, params: Params) -> Result:
    references: list[str] = params.get("serviceDeploymentArns") or []
    _check_count(references, "serviceDeploymentArns")
    found, failures = [], []
    for text in references:
        match = _find_view(call, text)
        if match is None:
            failures.append({"arn": text, "reason": "MISSING"})
        else:
            found.append(describe(call, *match))
    return {"serviceDeployments": found, "failures": failures}


@operation("DescribeServiceRevisions")
def describe_service_revisions(call: Call, params: Params) -> Result:
    references: list[str] = params.get("serviceRevisionArns") or []
    _check_count(references, "serviceRevisionArns")
    found, failures = [], []
    for text in references:
        match = _service_of(call, text, REVISION_TYPE)
        deployment = None
        if match is not None and match[0]["spec"]["deploymentController"]["type"] == "ECS":
            service, number = match
            deployment = next(
                (d for d in service["spec"]["deployments"] if d["id"] == DEPLOYMENT_PREFIX + number), None
            )
        if match is None or deployment is None:
            failures.append({"arn": text, "reason": "MISSING"})
        else:
            found.append(revision(call, match[0], deployment))
    return {"serviceRevisions": found, "failures": failures}


@operation("StopServiceDeployment")
def stop_service_deployment(call: Call, params: Params) -> Result:
    text = str(require(params, "serviceDeploymentArn"))
    stop_type = params.get("stopType", "ROLLBACK")
    parsed = arns.parse(text)
    if parsed is None or parsed.resource_type != DEPLOYMENT_TYPE:
        raise InvalidParameterException(f"Invalid service deployment ARN: {text}")
    if stop_type != "ROLLBACK":
        raise InvalidParameterException(
            f"stopType {stop_type} is not valid for this deployment. The valid value is ROLLBACK."
        )
    with call.store.transaction():
        match = _find_view(call, text)
        if match is None:
            raise ServiceDeploymentNotFoundException(f"Service deployment {text} not found.")
        service, view = match
        if view.status in STOP_UNDER_WAY:
            return {"serviceDeploymentArn": text}  # the stop or rollback already goes on
        if view.status not in STOPPABLE:
            raise ConflictException(f"The service deployment is {view.status} and can no longer be stopped.")
        if not _completed_before(service, view.index):
            raise ConflictException(
                "The service deployment has no earlier successful service revision to roll back to."
            )
        index = view.index
        requested: StopRequest = {"stopType": stop_type, "requestedAt": call.now}

        def request(record: dict[str, Any]) -> None:
            service_model.from_record(record)["spec"]["deployments"][index]["stopRequested"] = requested

        key = services.service_key(service["spec"]["clusterName"], service["spec"]["serviceName"])
        call.store.update(call.scope, services.KIND, key, request)
    return {"serviceDeploymentArn": text}
