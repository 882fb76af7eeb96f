"""Scalable targets: RegisterScalableTarget, DescribeScalableTargets, DeregisterScalableTarget.

Rules (Application Auto Scaling API Reference, RegisterScalableTarget):
- A new target needs MinCapacity and MaxCapacity; registering an existing one updates only the
  members given (and returns the same ScalableTargetARN). Min ≤ Max, both ≥ 0.
- The ECS service must exist (ValidationException ``ECS service doesn't exist: <resource id>``).
- RoleARN defaults to the ECS service-linked role; SuspendedState members default to false.
- A desired count outside the new [min, max] is brought back at once, as an activity
  (``minimum capacity was set to N`` / ``maximum capacity was set to N``).
- Deregistering deletes the target's policies (and their own alarms) and scheduled actions.
"""

from __future__ import annotations

from typing import Any

from ecsemu.model import scaling, scaling_alarms, scaling_decisions, service_capacity
from ecsemu.services.autoscaling.base import (
    MAX_TAGS,
    MAX_TARGETS_PER_NAMESPACE,
    Call,
    Params,
    Result,
    describe_filter,
    operation,
    paginate,
    require_target,
    target_key,
    target_text,
    with_token,
)
from ecsemu.services.autoscaling.errors import (
    LimitExceededException,
    ObjectNotFoundException,
    TooManyTagsException,
    ValidationException,
)


def render(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServiceNamespace": spec["ServiceNamespace"],
        "ResourceId": spec["ResourceId"],
        "ScalableDimension": spec["ScalableDimension"],
        "MinCapacity": spec["MinCapacity"],
        "MaxCapacity": spec["MaxCapacity"],
        "RoleARN": spec["RoleARN"],
        "CreationTime": spec["CreationTime"],
        "SuspendedState": dict(spec["SuspendedState"]),
        "ScalableTargetARN": spec["ScalableTargetARN"],
    }


def _check_capacity(minimum: int, maximum: int) -> None:
    if minimum < 0 or maximum < 0:
        raise ValidationException("Minimum and maximum capacity must be 0 or greater")
    if minimum > maximum:
        raise ValidationException("Minimum capacity cannot be greater than maximum capacity")


@operation("RegisterScalableTarget")
def register_scalable_target(call: Call, params: Params) -> Result:
    key = target_key(params)
    service = scaling.ecs_service(key.resource_id)
    assert service is not None  # target_key checked it
    with call.store.transaction():
        if not service_capacity.service_exists(call.store, call.scope, service.cluster, service.service):
            raise ValidationException(f"ECS service doesn't exist: {key.resource_id}")
        existing = scaling.get_target(call.store, call.scope, key)
        tags = dict(params.get("Tags") or {})
        if existing is None:
            if params.get("MinCapacity") is None or params.get("MaxCapacity") is None:
                raise ValidationException(
                    "MinCapacity and MaxCapacity are required for registering a new scalable target"
                )
            if call.store.count(call.scope, scaling.TARGET_KIND, under=key.namespace) >= MAX_TARGETS_PER_NAMESPACE:
                raise LimitExceededException(
                    f"The maximum number of scalable targets ({MAX_TARGETS_PER_NAMESPACE}) for namespace {key.namespace} has been reached"
                )
            record: dict[str, Any] = {
                "spec": {
                    "ServiceNamespace": key.namespace, "ResourceId": key.resource_id, "ScalableDimension": key.dimension,
                    "MinCapacity": 0, "MaxCapacity": 0, "RoleARN": scaling.default_role_arn(call.scope),
                    "CreationTime": call.now,
                    "SuspendedState": dict.fromkeys(scaling.SUSPENDED_KEYS, False),
                    "ScalableTargetARN": scaling.new_target_arn(call.scope), "Tags": {},
                },
                "status": {},
            }  # fmt: skip
        else:
            record = existing
        spec = record["spec"]
        minimum = params["MinCapacity"] if params.get("MinCapacity") is not None else spec["MinCapacity"]
        maximum = params["MaxCapacity"] if params.get("MaxCapacity") is not None else spec["MaxCapacity"]
        _check_capacity(int(minimum), int(maximum))
        spec["MinCapacity"], spec["MaxCapacity"] = int(minimum), int(maximum)
        if params.get("RoleARN"):
            spec["RoleARN"] = params["RoleARN"]
        for member, value in (params.get("SuspendedState") or {}).items():
            if member in scaling.SUSPENDED_KEYS and value is not None:
                spec["SuspendedState"][member] = bool(value)
        if tags:
            merged = {**spec.get("Tags", {}), **tags}
            if len(merged) > MAX_TAGS:
                raise TooManyTagsException(f"A scalable target can have at most {MAX_TAGS} tags")
            spec["Tags"] = merged
        call.store.put(call.scope, scaling.TARGET_KIND, key.id, record)
        scaling_decisions.clamp_target(call.store, call.scope, record, call.now)
    return {"ScalableTargetARN": spec["ScalableTargetARN"]}


@operation("DescribeScalableTargets")
def describe_scalable_targets(call: Call, params: Params) -> Result:
    namespace, dimension = describe_filter(params)
    wanted = set(params.get("ResourceIds") or [])
    found = [
        record["spec"]
        for record in scaling.targets(call.store, call.scope, namespace)
        if (not wanted or record["spec"]["ResourceId"] in wanted)
        and (dimension is None or record["spec"]["ScalableDimension"] == dimension)
    ]
    page, token = paginate(found, params)
    return with_token({"ScalableTargets": [render(spec) for spec in page]}, token)


@operation("DeregisterScalableTarget")
def deregister_scalable_target(call: Call, params: Params) -> Result:
    key = target_key(params)
    with call.store.transaction():
        if scaling.get_target(call.store, call.scope, key) is None:
            raise ObjectNotFoundException(f"No scalable target found for {target_text(key)}")
        require_target(call, key)
        for record_id, policy in scaling.policies_of(call.store, call.scope, key):
            scaling_alarms.delete_policy_alarms(call.store, call.scope, policy["spec"].get("Alarms") or [], call.now)
            call.store.delete(call.scope, scaling.POLICY_KIND, record_id)
        for record_id, _action in scaling.scheduled_actions_of(call.store, call.scope, key):
            call.store.delete(call.scope, scaling.SCHEDULED_ACTION_KIND, record_id)
        call.store.delete(call.scope, scaling.TARGET_KIND, key.id)
    return {}
