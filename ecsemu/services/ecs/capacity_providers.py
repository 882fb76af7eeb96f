"""Capacity providers: CreateCapacityProvider, UpdateCapacityProvider, DeleteCapacityProvider,
DescribeCapacityProviders.

Kind ``capacity_provider``, id = the provider's name. A record is the provider as ECS
describes it: ``capacityProviderArn``, ``name``, ``status`` (ACTIVE), ``type``
(EC2_AUTOSCALING), ``autoScalingGroupProvider`` with ECS's defaults filled in, ``updateStatus``
and ``updateStatusReason`` of the last update or refused delete, and ``tags``.

Invariants:
- FARGATE and FARGATE_SPOT exist in every account and region without a record; they can be
  neither created, updated nor deleted.
- Names are 1-255 letters, digits, ``_`` and ``-``, not prefixed ``aws``, ``ecs`` or
  ``fargate`` (in any case), and unique; an Auto Scaling group backs at most one provider.
- A provider associated with an ACTIVE cluster, or in a service's capacity provider strategy,
  is not deleted: the call answers it with ``updateStatus`` DELETE_FAILED and the reason, as
  ECS does. A deleted provider's record is removed, so that ``PutClusterCapacityProviders``
  (which checks names against this kind's ids) no longer accepts it.
- ecsemu runs no Auto Scaling groups: the provider is kept and described, never scaled.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.errors import NotSupportedError
from ecsemu.model import service as service_model
from ecsemu.services.ecs import arns
from ecsemu.services.ecs.base import Call, Params, Result, operation, paginate
from ecsemu.services.ecs.errors import ClientException, InvalidParameterException
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.state.store import Record

KIND = "capacity_provider"
BUILT_IN = ("FARGATE", "FARGATE_SPOT")
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_RESERVED_PREFIXES = ("aws", "ecs", "fargate")

MANAGED_SCALING_DEFAULTS: dict[str, Any] = {
    "status": "DISABLED",
    "targetCapacity": 100,
    "minimumScalingStepSize": 1,
    "maximumScalingStepSize": 10000,
    "instanceWarmupPeriod": 300,
}
_SCALING_BOUNDS = {
    "targetCapacity": (1, 100),
    "minimumScalingStepSize": (1, 10000),
    "maximumScalingStepSize": (1, 10000),
    "instanceWarmupPeriod": (0, 10000),
}
_ENABLED = ("ENABLED", "DISABLED")


def _not_found(reference: str) -> ClientException:
    return ClientException(f"The specified capacity provider does not exist: {reference}.")


# -- rendering ------------------------------------------------------------------------------


def render(record: Record, *, include_tags: bool) -> dict[str, Any]:
    rendered = {key: value for key, value in record.items() if key not in ("tags", "createdAt")}
    if include_tags:
        rendered["tags"] = record.get("tags", [])
    return rendered


def _built_in(call: Call, name: str, *, include_tags: bool) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "capacityProviderArn": call.arn("capacity-provider", name),
        "name": name,
        "status": "ACTIVE",
        "type": name,
    }
    if include_tags:
        rendered["tags"] = []
    return rendered


# -- checks ---------------------------------------------------------------------------------


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.lower().startswith(_RESERVED_PREFIXES):
        raise ClientException(
            "The specified capacity provider name is invalid. Up to 255 characters are allowed, including letters "
            '(upper and lowercase), numbers, underscores, and hyphens. The name cannot be prefixed with "aws", "ecs", '
            'or "fargate". Specify a valid name and try again.'
        )
    return name


def _managed_scaling(given: dict[str, Any] | None, base: dict[str, Any]) -> dict[str, Any]:
    scaling = {**base, **{k: v for k, v in (given or {}).items() if v is not None}}
    if scaling["status"] not in _ENABLED:
        raise InvalidParameterException("managedScaling status must be ENABLED or DISABLED.")
    for member, (low, high) in _SCALING_BOUNDS.items():
        value = scaling[member]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidParameterException(f"managedScaling {member} must be between {low} and {high}.")
    if scaling["minimumScalingStepSize"] > scaling["maximumScalingStepSize"]:
        raise InvalidParameterException(
            "The managed scaling minimumScalingStepSize must be less than or equal to the maximumScalingStepSize."
        )
    return scaling


def _auto_scaling_group_provider(given: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (the current settings, or none) with the changes ``given`` asks for."""
    provider = dict(base)
    provider["managedScaling"] = _managed_scaling(
        given.get("managedScaling"), base.get("managedScaling", MANAGED_SCALING_DEFAULTS)
    )
    for member, default in (("managedTerminationProtection", "DISABLED"), ("managedDraining", "ENABLED")):
        value = given.get(member) or base.get(member, default)
        if value not in _ENABLED:
            raise InvalidParameterException(f"{member} must be ENABLED or DISABLED.")
        provider[member] = value
    return provider


def _refuse_managed_instances(params: Params) -> None:
    if params.get("managedInstancesProvider"):
        raise NotSupportedError("Amazon ECS Managed Instances capacity providers (managedInstancesProvider)")
    if params.get("cluster"):
        raise NotSupportedError("Cluster-scoped capacity providers (the cluster parameter)")


def _require(call: Call, reference: Any) -> Record:
    if not reference or not isinstance(reference, str):
        raise InvalidParameterException("capacityProvider can not be blank.")
    name = arns.last_segment(reference)
    if name in BUILT_IN:
        raise ClientException(f"The {name} capacity provider is reserved and can't be changed or deleted.")
    record = call.store.get(call.scope, KIND, name)
    if record is None:
        raise _not_found(reference)
    return record


# -- operations -----------------------------------------------------------------------------


@operation("CreateCapacityProvider")
def create_capacity_provider(call: Call, params: Params) -> Result:
    _refuse_managed_instances(params)
    name = _check_name(params.get("name"))
    given = params.get("autoScalingGroupProvider")
    if not given:
        raise InvalidParameterException("autoScalingGroupProvider can not be blank.")
    group = given.get("autoScalingGroupArn")
    if not group:
        raise InvalidParameterException("autoScalingGroupArn can not be blank.")
    provider = _auto_scaling_group_provider(given, {"autoScalingGroupArn": group})
    tags = validate_tags(params.get("tags") or [])
    with call.store.transaction():
        if call.store.get(call.scope, KIND, name) is not None:
            raise ClientException(
                "The specified capacity provider already exists. To change the configuration of an existing "
                "capacity provider, update the capacity provider."
            )
        for other in call.store.list(call.scope, KIND):
            if other["autoScalingGroupProvider"]["autoScalingGroupArn"] == group:
                raise ClientException(
                    "The specified Auto Scaling group ARN is already being used by another capacity provider. "
                    "Specify a unique Auto Scaling group ARN and try again."
                )
        record: Record = {
            "capacityProviderArn": call.arn("capacity-provider", name),
            "name": name,
            "status": "ACTIVE",
            "autoScalingGroupProvider": provider,
            "type": "EC2_AUTOSCALING",
            "tags": tags,
            "createdAt": call.now,
        }
        call.store.put(call.scope, KIND, name, record)
    return {"capacityProvider": render(record, include_tags=True)}


@operation("UpdateCapacityProvider")
def update_capacity_provider(call: Call, params: Params) -> Result:
    _refuse_managed_instances(params)
    given = params.get("autoScalingGroupProvider")
    if not given:
        raise InvalidParameterException("autoScalingGroupProvider can not be blank.")
    with call.store.transaction():
        record = _require(call, params.get("name"))
        record["autoScalingGroupProvider"] = _auto_scaling_group_provider(given, record["autoScalingGroupProvider"])
        record["updateStatus"] = "UPDATE_COMPLETE"
        record.pop("updateStatusReason", None)
        call.store.put(call.scope, KIND, record["name"], record)
    return {"capacityProvider": render(record, include_tags=True)}


def _in_use(call: Call, name: str) -> str | None:
    """Why the provider can't be deleted now, in ECS's words; None when it can."""
    for cluster in call.store.list(call.scope, "cluster"):
        if cluster.get("status") == "ACTIVE" and name in cluster.get("capacityProviders", []):
            return (
                f"The capacity provider cannot be deleted because it is associated with cluster: "
                f"{cluster['clusterName']}. Remove the capacity provider from the cluster and try again."
            )
    for service in call.store.list(call.scope, service_model.KIND):
        spec = service["spec"]
        strategy = spec.get("capacityProviderStrategy") or []
        if not service["status"].get("inactive") and any(item.get("capacityProvider") == name for item in strategy):
            return (
                f"The capacity provider cannot be deleted because it is in the capacity provider strategy of service: "
                f"{spec['serviceName']}. Update the service to remove the capacity provider and try again."
            )
    return None


@operation("DeleteCapacityProvider")
def delete_capacity_provider(call: Call, params: Params) -> Result:
    _refuse_managed_instances(params)
    with call.store.transaction():
        record = _require(call, params.get("capacityProvider"))
        reason = _in_use(call, record["name"])
        if reason is not None:
            record["updateStatus"] = "DELETE_FAILED"
            record["updateStatusReason"] = reason
            call.store.put(call.scope, KIND, record["name"], record)
        else:
            call.store.delete(call.scope, KIND, record["name"])
            record["updateStatus"] = "DELETE_IN_PROGRESS"
            record.pop("updateStatusReason", None)
    return {"capacityProvider": render(record, include_tags=True)}


@operation("DescribeCapacityProviders")
def describe_capacity_providers(call: Call, params: Params) -> Result:
    include_tags = "TAGS" in (params.get("include") or [])
    references = params.get("capacityProviders")
    if references is not None and len(references) > 100:
        raise InvalidParameterException("capacityProviders can have at most 100 items.")
    associated: set[str] | None = None
    if params.get("cluster"):
        associated = set(call.require_cluster(params["cluster"]).get("capacityProviders", []))
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    if not references:
        found = [render(r, include_tags=include_tags) for r in call.store.list(call.scope, KIND)]
        found += [_built_in(call, name, include_tags=include_tags) for name in BUILT_IN]
    else:
        for reference in references:
            name = arns.last_segment(reference)
            record = call.store.get(call.scope, KIND, name)
            if name in BUILT_IN:
                found.append(_built_in(call, name, include_tags=include_tags))
            elif record is not None:
                found.append(render(record, include_tags=include_tags))
            else:
                arn = reference if arns.is_arn(reference) else call.arn("capacity-provider", reference)
                failures.append({"arn": arn, "reason": "MISSING"})
    if associated is not None:
        found = [provider for provider in found if provider["name"] in associated]
    page, token = paginate(found, params, default_max=10, limit=10)
    result: Result = {"capacityProviders": page, "failures": failures}
    if token:
        result["nextToken"] = token
    return result
