"""Scheduled actions: PutScheduledAction, DescribeScheduledActions, DeleteScheduledAction.

Rules (Application Auto Scaling API Reference, PutScheduledAction; User Guide, scheduled
scaling): the target must be registered; Schedule is ``at()``, ``rate()`` or ``cron()``
(:mod:`ecsemu.model.schedules`), read in ``Timezone`` (IANA; UTC by default); StartTime before
EndTime; ScalableTargetAction's MinCapacity ≤ MaxCapacity. Putting an action of an existing name
updates only the members given. The scaling loop runs them
(:func:`ecsemu.model.scaling_decisions.run_scheduled_actions`).
"""

from __future__ import annotations

from typing import Any

from ecsemu.model import scaling, schedules
from ecsemu.services.autoscaling.base import (
    MAX_SCHEDULED_ACTIONS_PER_TARGET,
    Call,
    Params,
    Result,
    describe_filter,
    operation,
    paginate,
    require_target,
    target_key,
    target_text,
    timestamp,
    with_token,
)
from ecsemu.services.autoscaling.errors import LimitExceededException, ObjectNotFoundException, ValidationException

SHOWN = (
    "ScheduledActionName", "ScheduledActionARN", "ServiceNamespace", "Schedule", "Timezone", "ResourceId",
    "ScalableDimension", "StartTime", "EndTime", "ScalableTargetAction", "CreationTime",
)  # fmt: skip


def render(spec: dict[str, Any]) -> dict[str, Any]:
    return {member: spec[member] for member in SHOWN if spec.get(member) is not None}


@operation("PutScheduledAction")
def put_scheduled_action(call: Call, params: Params) -> Result:
    key = target_key(params)
    name = str(params["ScheduledActionName"])
    with call.store.transaction():
        require_target(call, key)
        record_id = scaling.child_id(key, name)
        existing = call.store.get(call.scope, scaling.SCHEDULED_ACTION_KIND, record_id)
        if existing is None:
            if not params.get("Schedule"):
                raise ValidationException("Schedule is required for a new scheduled action")
            if len(scaling.scheduled_actions_of(call.store, call.scope, key)) >= MAX_SCHEDULED_ACTIONS_PER_TARGET:
                raise LimitExceededException(
                    f"A scalable target can have at most {MAX_SCHEDULED_ACTIONS_PER_TARGET} scheduled actions"
                )
            spec: dict[str, Any] = {
                "ScheduledActionName": name,
                "ScheduledActionARN": scaling.new_scheduled_action_arn(call.scope, key, name),
                "ServiceNamespace": key.namespace, "ResourceId": key.resource_id, "ScalableDimension": key.dimension,
                "CreationTime": call.now,
            }  # fmt: skip
            status: dict[str, Any] = {}
        else:
            spec, status = existing["spec"], existing.get("status") or {}
        for member in ("Schedule", "Timezone"):
            if params.get(member):
                spec[member] = params[member]
        for member in ("StartTime", "EndTime"):
            if params.get(member) is not None:
                spec[member] = timestamp(params[member], member)
        if params.get("ScalableTargetAction") is not None:
            spec["ScalableTargetAction"] = {
                bound: int(value) for bound, value in params["ScalableTargetAction"].items() if value is not None
            }
        try:
            schedules.parse(spec["Schedule"])
            schedules.zone(spec.get("Timezone"))
        except schedules.ScheduleError as error:
            raise ValidationException(str(error)) from None
        if (
            spec.get("StartTime") is not None
            and spec.get("EndTime") is not None
            and spec["StartTime"] >= spec["EndTime"]
        ):
            raise ValidationException("StartTime must be before EndTime")
        bounds = spec.get("ScalableTargetAction") or {}
        if any(value < 0 for value in bounds.values()):
            raise ValidationException("MinCapacity and MaxCapacity must be 0 or greater")
        if "MinCapacity" in bounds and "MaxCapacity" in bounds and bounds["MinCapacity"] > bounds["MaxCapacity"]:
            raise ValidationException("Minimum capacity cannot be greater than maximum capacity")
        if existing is not None and existing["spec"] != spec:
            status["lastCheck"] = call.now  # a changed schedule runs from now on
        call.store.put(call.scope, scaling.SCHEDULED_ACTION_KIND, record_id, {"spec": spec, "status": status})
    return {}


@operation("DescribeScheduledActions")
def describe_scheduled_actions(call: Call, params: Params) -> Result:
    namespace, dimension = describe_filter(params)
    names = set(params.get("ScheduledActionNames") or [])
    resource_id = params.get("ResourceId")
    found = [
        record["spec"]
        for record in call.store.list(call.scope, scaling.SCHEDULED_ACTION_KIND, under=namespace)
        if (not names or record["spec"]["ScheduledActionName"] in names)
        and (resource_id is None or record["spec"]["ResourceId"] == resource_id)
        and (dimension is None or record["spec"]["ScalableDimension"] == dimension)
    ]
    page, token = paginate(found, params)
    return with_token({"ScheduledActions": [render(spec) for spec in page]}, token)


@operation("DeleteScheduledAction")
def delete_scheduled_action(call: Call, params: Params) -> Result:
    key = target_key(params)
    name = str(params["ScheduledActionName"])
    with call.store.transaction():
        record_id = scaling.child_id(key, name)
        if call.store.get(call.scope, scaling.SCHEDULED_ACTION_KIND, record_id) is None:
            raise ObjectNotFoundException(
                f"No scheduled action found for {target_text(key)}, scheduled action name: {name}"
            )
        call.store.delete(call.scope, scaling.SCHEDULED_ACTION_KIND, record_id)
    return {}
