"""Task sets of EXTERNAL-controller services: CreateTaskSet, DescribeTaskSets, UpdateTaskSet,
DeleteTaskSet, UpdateServicePrimaryTaskSet.

Kind ``task_set``, id ``<cluster>/<service>/<task set id>`` (the tail of its ARN
``task-set/<cluster>/<service>/ecs-svc/<19 digits>``). A record holds, top level, what the
API wrote, under ECS's own names: ``id``, ``taskSetArn``, ``serviceArn``, ``clusterArn``,
``serviceName``, ``clusterName``, ``status`` (ACTIVE, PRIMARY or DRAINING), ``taskDefinition``,
``scale``, launch settings, ``externalId``, ``clientToken``, ``createdAt``, ``updatedAt`` and
``tags`` (top level, where ``tags.py`` looks for them).

What the scheduler observed is not in the record: the reconciler's task set scheduler keeps it
in the service's status (the rules both share are in ``ecsemu.model.task_set``),
``status.taskSetCounts[<task set id>]`` (runningCount, pendingCount, stabilityStatus,
stabilityStatusAt, drained).

Invariants:
- Only services whose ``deploymentController.type`` is EXTERNAL have task sets.
- ``computedDesiredCount`` is derived at the moment of the call from the service's
  desiredCount and the task set's scale (zero once DRAINING), so it is always true.
- At most one task set of a service is PRIMARY; making another PRIMARY makes the old one
  ACTIVE and copies the new one's task definition and launch settings to the service.
- A deleted task set is DRAINING until the scheduler has stopped its tasks; then it is
  ``drained`` and no longer found.
"""

from __future__ import annotations

from typing import Any, cast

from ecsemu.errors import NotSupportedError
from ecsemu.model import service as service_model
from ecsemu.model import task_set as task_set_model
from ecsemu.model.service import ServiceRecord
from ecsemu.model.task_set import (
    ExternalReferences,
    LaunchSettings,
    Scale,
    TaskSetRecord,
    belongs,
    computed_desired_count,
)
from ecsemu.services.ecs import arns, task_definitions
from ecsemu.services.ecs.base import Call, Params, Result, operation
from ecsemu.services.ecs.errors import (
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
    TaskSetNotFoundException,
)
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.services.ecs.tasks import _check_network
from ecsemu.state.store import Record

KIND = task_set_model.KIND
NOT_EXTERNAL = (
    "Amazon ECS only supports task set management on services configured to use external deployment controllers."
)
DEFAULT_SCALE: Scale = {"value": 0.0, "unit": "PERCENT"}
_INTERNAL = frozenset({"serviceName", "clusterName", "clientToken", "tags"})


# -- rendering ------------------------------------------------------------------------------


def render(task_set: TaskSetRecord, service: ServiceRecord, *, include_tags: bool = False) -> dict[str, Any]:
    counts = service["status"].get("taskSetCounts", {}).get(task_set["id"], {})
    draining = task_set["status"] == "DRAINING"
    rendered = {key: value for key, value in task_set.items() if key not in _INTERNAL}
    computed = 0 if draining else computed_desired_count(service["spec"]["desiredCount"], task_set["scale"])
    running, pending = counts.get("runningCount", 0), counts.get("pendingCount", 0)
    # The scheduler's verdict holds only while the counts still match what is asked now.
    steady = counts.get("stabilityStatus") == "STEADY_STATE" and (running, pending) == (computed, 0)
    rendered["computedDesiredCount"] = computed
    rendered["runningCount"] = running
    rendered["pendingCount"] = pending
    rendered["stabilityStatus"] = "STEADY_STATE" if steady else "STABILIZING"
    rendered["stabilityStatusAt"] = (
        counts.get("stabilityStatusAt", task_set["updatedAt"])
        if steady
        else max(float(counts.get("stabilityStatusAt", 0)), float(task_set["updatedAt"]))
    )
    if include_tags:
        rendered["tags"] = task_set.get("tags", [])
    return rendered


def _visible(task_set: TaskSetRecord, service: ServiceRecord) -> bool:
    """Whether the task set still exists: the service's own, and not drained after a delete."""
    counts = service["status"].get("taskSetCounts", {}).get(task_set["id"], {})
    drained = task_set["status"] == "DRAINING" and counts.get("drained")
    return belongs(task_set, service) and not drained


def of_service(call: Call, service: ServiceRecord) -> list[TaskSetRecord]:
    """The service's task sets that still exist, oldest first."""
    stored = call.store.list(call.scope, KIND, under=service["spec"]["clusterName"])
    records = [r for r in map(task_set_model.from_record, stored) if _visible(r, service)]
    return sorted(records, key=lambda r: (float(r["createdAt"]), r["id"]))


def for_service(call: Call, service: ServiceRecord) -> list[dict[str, Any]]:
    """The ``taskSets`` member of DescribeServices for ``service`` (empty unless EXTERNAL)."""
    if service["spec"]["deploymentController"]["type"] != "EXTERNAL":
        return []
    return [render(r, service) for r in of_service(call, service)]


# -- lookups --------------------------------------------------------------------------------


def _service(call: Call, params: Params) -> ServiceRecord:
    """The ACTIVE EXTERNAL service a call names, or the error ECS gives."""
    cluster = call.require_cluster(params.get("cluster"))
    reference = params.get("service")
    if not reference:
        raise InvalidParameterException("service can not be blank.")
    stored = call.store.get(call.scope, service_model.KIND, f"{cluster['clusterName']}/{arns.last_segment(reference)}")
    if stored is None:
        raise ServiceNotFoundException()
    service = service_model.from_record(stored)
    if service_model.visible_status(service) != "ACTIVE":
        raise ServiceNotActiveException()
    if service["spec"]["deploymentController"]["type"] != "EXTERNAL":
        raise InvalidParameterException(NOT_EXTERNAL)
    return service


def _key(service: ServiceRecord, task_set_id: str) -> str:
    return f"{service['spec']['clusterName']}/{service['spec']['serviceName']}/{task_set_id}"


def _task_set_id(call: Call, service: ServiceRecord, reference: str) -> str | None:
    """The id a reference (id or ARN) names within ``service``; None when it names none."""
    if not arns.is_arn(reference):
        return reference
    parsed = arns.parse(reference)
    if parsed is None or parsed.resource_type != "task-set":
        return None
    if parsed.region != call.scope.region or parsed.account_id != call.scope.account_id:
        return None
    parts = parsed.resource.split("/", 2)
    if len(parts) != 3 or (parts[0], parts[1]) != (service["spec"]["clusterName"], service["spec"]["serviceName"]):
        return None
    return parts[2]


def _find(call: Call, service: ServiceRecord, reference: str) -> TaskSetRecord | None:
    task_set_id = _task_set_id(call, service, reference)
    if not task_set_id:
        return None
    stored = call.store.get(call.scope, KIND, _key(service, task_set_id))
    record = None if stored is None else task_set_model.from_record(stored)
    return record if record is not None and _visible(record, service) else None


def _require(call: Call, service: ServiceRecord, reference: Any) -> TaskSetRecord:
    if not reference or not isinstance(reference, str):
        raise InvalidParameterException("taskSet can not be blank.")
    record = _find(call, service, reference)
    if record is None:
        raise TaskSetNotFoundException("The specified task set does not exist.")
    return record


def _as_arn(call: Call, service: ServiceRecord, reference: str) -> str:
    if arns.is_arn(reference):
        return reference
    return call.arn("task-set", _key(service, reference))


# -- checks ---------------------------------------------------------------------------------


def _scale(given: Any) -> Scale:
    if given is None:
        return DEFAULT_SCALE.copy()
    value, unit = given.get("value", 0.0), given.get("unit", "PERCENT")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidParameterException("The scale value must be between 0 and 100.")
    if unit != "PERCENT":
        raise InvalidParameterException("The scale unit must be PERCENT.")
    return {"value": float(value), "unit": unit}


def _launch(call: Call, cluster: Record, params: Params, definition: Record) -> LaunchSettings:
    """The launch settings of a new task set, after ECS's checks."""
    launch_type, strategy = params.get("launchType"), params.get("capacityProviderStrategy")
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
        )
    if not launch_type and not strategy:
        strategy = cluster.get("defaultCapacityProviderStrategy") or None
        launch_type = None if strategy else "EC2"
    for item in strategy or []:
        if item.get("capacityProvider") not in cluster.get("capacityProviders", []):
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
                "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
                "provider and try again."
            )
    providers = {item.get("capacityProvider") for item in strategy or []}
    fargate = launch_type == "FARGATE" or bool(providers & {"FARGATE", "FARGATE_SPOT"})
    if fargate and "FARGATE" not in definition.get("compatibilities", []):
        raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
    platform_version = params.get("platformVersion")
    if platform_version and not fargate:
        raise InvalidParameterException("The platform version must be null when specifying an EC2 launch type.")
    launch: dict[str, Any] = {"launchType": launch_type, "capacityProviderStrategy": strategy}
    if fargate:
        launch["platformVersion"] = platform_version or "LATEST"
        launch["platformFamily"] = "Linux"
    if params.get("networkConfiguration"):
        network = params["networkConfiguration"]
        awsvpc = network.get("awsvpcConfiguration")
        launch["networkConfiguration"] = (
            {**network, "awsvpcConfiguration": {"assignPublicIp": "DISABLED", **awsvpc}} if awsvpc else network
        )
    # The members ECS left None are not stored: what remains are LaunchSettings' members.
    return cast(LaunchSettings, {key: value for key, value in launch.items() if value is not None})


def _refuse_unsupported(params: Params) -> None:
    if params.get("loadBalancers"):
        raise NotSupportedError("Task set loadBalancers (the ELBv2 integration)")
    if params.get("serviceRegistries"):
        raise NotSupportedError("Service discovery (serviceRegistries)")


# -- operations -----------------------------------------------------------------------------


@operation("CreateTaskSet")
def create_task_set(call: Call, params: Params) -> Result:
    _refuse_unsupported(params)
    scale = _scale(params.get("scale"))
    tags = validate_tags(params.get("tags") or [])
    token = params.get("clientToken")
    if token is not None and not 1 <= len(token) <= 36:
        raise InvalidParameterException("clientToken must be between 1 and 36 characters.")
    with call.store.transaction():
        service = _service(call, params)
        if token:
            for existing in of_service(call, service):
                if existing.get("clientToken") == token:
                    return {"taskSet": render(existing, service)}
        cluster = call.require_cluster(params.get("cluster"))
        definition = task_definitions.require_active(call, params.get("taskDefinition") or "")
        _check_network(definition, params)
        spec = service["spec"]
        task_set_id = arns.new_deployment_id()
        references: ExternalReferences = {}
        if params.get("externalId"):
            references["externalId"] = params["externalId"]
        if token:
            references["clientToken"] = token
        record: TaskSetRecord = {
            "id": task_set_id,
            "taskSetArn": call.arn("task-set", f"{spec['clusterName']}/{spec['serviceName']}/{task_set_id}"),
            "serviceArn": spec["serviceArn"],
            "clusterArn": spec["clusterArn"],
            "serviceName": spec["serviceName"],
            "clusterName": spec["clusterName"],
            "status": "ACTIVE",
            "taskDefinition": definition["taskDefinitionArn"],
            **_launch(call, cluster, params, definition),
            "loadBalancers": [],
            "serviceRegistries": [],
            "scale": scale,
            "createdAt": call.now,
            "updatedAt": call.now,
            "tags": tags,
            **references,
        }
        call.store.put(call.scope, KIND, _key(service, task_set_id), task_set_model.to_record(record))
    return {"taskSet": render(record, service)}


@operation("DescribeTaskSets")
def describe_task_sets(call: Call, params: Params) -> Result:
    service = _service(call, params)
    include_tags = "TAGS" in (params.get("include") or [])
    references = params.get("taskSets")
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    if not references:
        found = [render(r, service, include_tags=include_tags) for r in of_service(call, service)]
    else:
        for reference in references:
            record = _find(call, service, reference)
            if record is None:
                failures.append({"arn": _as_arn(call, service, reference), "reason": "MISSING"})
            else:
                found.append(render(record, service, include_tags=include_tags))
    return {"taskSets": found, "failures": failures}


@operation("UpdateTaskSet")
def update_task_set(call: Call, params: Params) -> Result:
    if params.get("scale") is None:
        raise InvalidParameterException("scale can not be blank.")
    scale = _scale(params["scale"])
    with call.store.transaction():
        service = _service(call, params)
        record = _require(call, service, params.get("taskSet"))
        if record["status"] == "DRAINING":
            raise InvalidParameterException("The task set is being deleted and can't be updated.")
        record["scale"] = scale
        record["updatedAt"] = call.now
        call.store.put(call.scope, KIND, _key(service, record["id"]), task_set_model.to_record(record))
    return {"taskSet": render(record, service)}


@operation("DeleteTaskSet")
def delete_task_set(call: Call, params: Params) -> Result:
    with call.store.transaction():
        service = _service(call, params)
        record = _require(call, service, params.get("taskSet"))
        if record["status"] != "DRAINING":
            if record["scale"]["value"] > 0 and not params.get("force"):
                raise InvalidParameterException(
                    "The task set cannot be deleted until it is scaled down to 0. Scale it to 0 or use the force parameter."
                )
            record["status"] = "DRAINING"
            record["updatedAt"] = call.now
            call.store.put(call.scope, KIND, _key(service, record["id"]), task_set_model.to_record(record))
    return {"taskSet": render(record, service)}


@operation("UpdateServicePrimaryTaskSet")
def update_service_primary_task_set(call: Call, params: Params) -> Result:
    with call.store.transaction():
        service = _service(call, params)
        record = _require(call, service, params.get("primaryTaskSet"))
        if record["status"] == "DRAINING":
            raise InvalidParameterException("A task set that is being deleted can't be made the primary task set.")
        for other in of_service(call, service):
            if other["status"] == "PRIMARY" and other["id"] != record["id"]:
                other["status"] = "ACTIVE"
                other["updatedAt"] = call.now
                call.store.put(call.scope, KIND, _key(service, other["id"]), task_set_model.to_record(other))
        if record["status"] != "PRIMARY":
            record["status"] = "PRIMARY"
            record["updatedAt"] = call.now
            call.store.put(call.scope, KIND, _key(service, record["id"]), task_set_model.to_record(record))
        spec = service["spec"]
        # The PRIMARY task set's task definition and launch settings become the service's
        # (None where the task set has none).
        spec["taskDefinition"] = record.get("taskDefinition")
        spec["launchType"] = record.get("launchType")
        spec["capacityProviderStrategy"] = record.get("capacityProviderStrategy")
        spec["platformVersion"] = record.get("platformVersion")
        spec["platformFamily"] = record.get("platformFamily")
        spec["networkConfiguration"] = record.get("networkConfiguration")
        call.store.put(call.scope, service_model.KIND, f"{spec['clusterName']}/{spec['serviceName']}", service_model.to_record(service))
    return {"taskSet": render(record, service)}
