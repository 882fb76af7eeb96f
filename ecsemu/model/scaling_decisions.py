"""Application Auto Scaling's decisions: what an alarm, a schedule or new bounds do to an ECS
service's desired count. Pure of I/O but the store; time is an argument (AWS's clock: the caller
may compress it, the values shown stay AWS's).

Entry points (the scaling loop calls them; the API calls :func:`clamp_target`):

- :func:`invoke_policy` — an alarm invoked a policy (its AlarmActions name the policy ARN).
- :func:`run_scheduled_actions` — scheduled actions due since their last check set Min/Max.
- :func:`clamp_to_bounds` — a desired count outside a registered target's [min, max] comes back.

Rules (Application Auto Scaling User Guide: target tracking, step scaling, suspend/resume,
scaling activities):
- Only an alarm in state ALARM acts. A target tracking policy acts on its own two alarms only
  (high: scale out, low: scale in); a step policy on any alarm naming it.
- The capacity is clamped to [MinCapacity, MaxCapacity]. When that leaves it where it is, a
  *not scaled* activity records why (AlreadyAtMaxCapacity, AlreadyAtMinCapacity,
  AlreadyAtDesiredCapacity), shown only to IncludeNotScaledActivities.
- Cooldowns (per scalable target; ECS default 300 s): during a scale-out cooldown only a larger
  scale-out than the last one happens; scale-in waits out its cooldown; a scale-out ends a
  scale-in cooldown.
- Scale-in waits while the ECS service deploys (more than one live deployment), and a target
  tracking policy scales in only when every other target tracking policy of the target (scale-in
  enabled) has its low alarm in ALARM too ("scale in only if all of the target tracking
  policies ... are ready to scale in").
- ``DisableScaleIn`` stops a target tracking policy's scale-in; ``SuspendedState`` stops
  dynamic scale-in / scale-out (policies) and scheduled scaling. Clamps to new bounds are not
  suspended.
- Every change is recorded as an activity in AWS's words (:mod:`scaling_activities`).
"""

from __future__ import annotations

import json
from typing import Any

from ecsemu.context import Scope
from ecsemu.model import alarms, scaling, scaling_activities, scaling_alarms, scaling_math, schedules, service_capacity
from ecsemu.model.scaling import TargetKey
from ecsemu.state.store import Record, Store


def _successful(store: Store, scope: Scope, key: TargetKey, count: int, cause: str, now: float) -> None:
    scaling_activities.record(
        store, scope, key, description=f"Setting desired count to {count}.", cause=cause, status_code="Successful",
        status_message=f"Successfully set desired count to {count}. Change successfully fulfilled by ecs.",
        now=now, end_time=now,
    )  # fmt: skip


def _failed(store: Store, scope: Scope, key: TargetKey, count: int, cause: str, now: float) -> None:
    scaling_activities.record(
        store, scope, key, description=f"Setting desired count to {count}.", cause=cause, status_code="Failed",
        status_message=f"Failed to set desired count to {count}. Reason: ECS service doesn't exist: {key.resource_id}",
        now=now, end_time=now,
    )  # fmt: skip


def _set_count(store: Store, scope: Scope, key: TargetKey, count: int, cause: str, now: float) -> bool:
    service = scaling.ecs_service(key.resource_id)
    done = (
        None
        if service is None
        else service_capacity.set_desired_count(store, scope, service.cluster, service.service, count, now)
    )
    if done is None:
        _failed(store, scope, key, count, cause, now)
        return False
    _successful(store, scope, key, done, cause, now)
    return True


def _current(store: Store, scope: Scope, key: TargetKey) -> int | None:
    service = scaling.ecs_service(key.resource_id)
    return None if service is None else service_capacity.desired_count(store, scope, service.cluster, service.service)


# -- policies ---------------------------------------------------------------------------------


def _cooldowns(policy: dict[str, Any]) -> tuple[int, int]:
    """(scale-out, scale-in) cooldown seconds of a policy."""
    if policy["PolicyType"] == "TargetTrackingScaling":
        configuration = policy["TargetTrackingScalingPolicyConfiguration"]
        return (
            int(configuration.get("ScaleOutCooldown", scaling.DEFAULT_ECS_COOLDOWN_S)),
            int(configuration.get("ScaleInCooldown", scaling.DEFAULT_ECS_COOLDOWN_S)),
        )
    cooldown = int(policy["StepScalingPolicyConfiguration"].get("Cooldown", scaling.DEFAULT_ECS_COOLDOWN_S))
    return cooldown, cooldown


def _wanted(
    policy: dict[str, Any], alarm_name: str, current: int, metric_value: float | None, threshold: float | None
) -> int | None:
    """The capacity the policy asks for on this alarm, or None when it does not act."""
    if policy["PolicyType"] == "TargetTrackingScaling":
        which = scaling_alarms.which_alarm(policy.get("AlarmIds") or {}, alarm_name)
        if which is None:
            return None
        configuration = policy["TargetTrackingScalingPolicyConfiguration"]
        if which == "Low" and configuration.get("DisableScaleIn"):
            return None
        return scaling_math.target_tracking_capacity(
            current, metric_value, float(configuration["TargetValue"]), which == "High"
        )
    breach = None if metric_value is None or threshold is None else metric_value - threshold
    return scaling_math.step_capacity(current, policy["StepScalingPolicyConfiguration"], breach)


def _alarm_facts(store: Store, scope: Scope, alarm_name: str) -> tuple[float | None, float | None]:
    """The alarm's threshold and the latest datapoint of its last evaluation, when it exists."""
    record = store.get(scope, alarms.KIND, alarm_name)
    if record is None:
        return None, None
    threshold = record["spec"].get("Threshold")
    latest = None
    try:
        points = json.loads(record["status"].get("StateReasonData") or "{}").get("recentDatapoints") or []
    except (ValueError, AttributeError):
        points = []
    if points:
        latest = float(points[-1])
    return (None if threshold is None else float(threshold)), latest


def _others_ready_to_scale_in(store: Store, scope: Scope, key: TargetKey, policy_arn: str) -> bool:
    """AWS scales in only when every target tracking policy of the target (scale-in enabled) is
    ready to: each other such policy's low alarm is in ALARM too."""
    for _record_id, record in scaling.policies_of(store, scope, key):
        other = record["spec"]
        if other["PolicyARN"] == policy_arn or other["PolicyType"] != "TargetTrackingScaling":
            continue
        if other["TargetTrackingScalingPolicyConfiguration"].get("DisableScaleIn"):
            continue
        low = (other.get("AlarmIds") or {}).get("Low")
        alarm = (
            None
            if low is None
            else store.get(scope, alarms.KIND, scaling_alarms.alarm_name(key.resource_id, "Low", low))
        )
        if alarm is None or alarm["status"].get("StateValue") != "ALARM":
            return False
    return True


def _not_scaled(store: Store, scope: Scope, key: TargetKey, cause: str, reason: dict[str, Any], now: float) -> None:
    scaling_activities.record(
        store, scope, key, description="Attempting to scale due to alarm triggered", cause=cause,
        status_code="Failed", now=now, not_scaled_reasons=[reason],
    )  # fmt: skip


def invoke_policy(
    store: Store,
    scope: Scope,
    policy_arn: str,
    alarm_name: str,
    alarm_state: str,
    metric_value: float | None,
    now: float,
    *,
    threshold: float | None = None,
) -> None:
    """An alarm invoked the policy ``policy_arn``: scale the target as the policy says.

    ``metric_value`` is the value the alarm last evaluated and ``threshold`` the alarm's threshold
    (a step policy's bounds are relative to it); when not given they are read from the alarm's
    record (its Threshold, the newest of its last evaluation's recentDatapoints). Without a
    value, a target tracking policy moves by one and a step policy takes the step that starts at
    the threshold. Scale-in waits while the ECS service has a deployment in progress, and, for a
    target tracking policy, until every other target tracking policy is ready to scale in."""
    if alarm_state != "ALARM":
        return
    with store.transaction():
        found = scaling.policy_by_arn(store, scope, policy_arn)
        if found is None:
            return
        policy = found[1]["spec"]
        key = scaling.key_of(policy)
        target = scaling.get_target(store, scope, key)
        current = _current(store, scope, key)
        if target is None or current is None:
            return
        if metric_value is None or threshold is None:
            known_threshold, latest = _alarm_facts(store, scope, alarm_name)
            threshold = known_threshold if threshold is None else threshold
            metric_value = latest if metric_value is None else metric_value
        wanted = _wanted(policy, alarm_name, current, metric_value, threshold)
        if wanted is None:
            return
        spec, status = target["spec"], target.setdefault("status", {})
        minimum, maximum = int(spec["MinCapacity"]), int(spec["MaxCapacity"])
        scale_out = wanted > current
        if scaling.suspended(target, "DynamicScalingOutSuspended" if scale_out else "DynamicScalingInSuspended"):
            return
        cause = f"monitor alarm {alarm_name} in state ALARM triggered policy {policy['PolicyName']}"
        bounded = scaling_math.clamp(wanted, minimum, maximum)
        if bounded == current:
            _not_scaled(store, scope, key, cause, _reason(wanted, current, minimum, maximum), now)
            return
        scale_out = bounded > current
        if not scale_out and _scale_in_held(store, scope, key, policy):
            return
        out_cooldown, in_cooldown = _cooldowns(policy)
        last_out, last_in = status.get("lastScaleOut"), status.get("lastScaleIn")
        if scale_out and last_out and now < last_out["at"] + last_out["cooldown"] and bounded <= last_out["capacity"]:
            return
        if not scale_out and last_in and now < last_in["at"] + last_in["cooldown"]:
            return
        if not _set_count(store, scope, key, bounded, cause, now):
            return
        if scale_out:
            status["lastScaleOut"] = {"at": now, "capacity": bounded, "cooldown": out_cooldown}
            status.pop("lastScaleIn", None)
        else:
            status["lastScaleIn"] = {"at": now, "cooldown": in_cooldown}
        store.put(scope, scaling.TARGET_KIND, key.id, target)


def _scale_in_held(store: Store, scope: Scope, key: TargetKey, policy: dict[str, Any]) -> bool:
    service = scaling.ecs_service(key.resource_id)
    if service is not None and service_capacity.deployment_in_progress(store, scope, service.cluster, service.service):
        return True  # "Application Auto Scaling turns off scale-in processes while ECS deployments are in progress"
    return policy["PolicyType"] == "TargetTrackingScaling" and not _others_ready_to_scale_in(
        store, scope, key, policy["PolicyARN"]
    )


def _reason(wanted: int, current: int, minimum: int, maximum: int) -> dict[str, Any]:
    if wanted > current >= maximum:
        return {"Code": "AlreadyAtMaxCapacity", "MaxCapacity": maximum, "CurrentCapacity": current}
    if wanted < current <= minimum:
        return {"Code": "AlreadyAtMinCapacity", "MinCapacity": minimum, "CurrentCapacity": current}
    return {"Code": "AlreadyAtDesiredCapacity", "CurrentCapacity": current}


# -- bounds -----------------------------------------------------------------------------------


def clamp_target(store: Store, scope: Scope, target: Record, now: float) -> None:
    """Bring the service's desired count into the target's [min, max], recording why."""
    key = scaling.key_of(target["spec"])
    current = _current(store, scope, key)
    if current is None:
        return
    minimum, maximum = int(target["spec"]["MinCapacity"]), int(target["spec"]["MaxCapacity"])
    if current < minimum:
        _set_count(store, scope, key, minimum, f"minimum capacity was set to {minimum}", now)
    elif current > maximum:
        _set_count(store, scope, key, maximum, f"maximum capacity was set to {maximum}", now)


def clamp_to_bounds(store: Store, now: float) -> None:
    """Every scope: a desired count outside its registered target's [min, max] is brought back."""
    for scope in store.scopes():
        for target in scaling.targets(store, scope, scaling.ECS_NAMESPACE):
            with store.transaction():
                clamp_target(store, scope, target, now)


# -- scheduled actions ------------------------------------------------------------------------


def _due(action: dict[str, Any], after: float, now: float) -> float | None:
    """The latest run of the action in ``(after, now]`` within its StartTime/EndTime, or None."""
    schedule = schedules.parse(action["Schedule"])
    tz = schedules.zone(action.get("Timezone"))
    start, end = action.get("StartTime"), action.get("EndTime")
    until = min(now, end) if end is not None else now
    epoch = float(start) if start is not None else float(action["CreationTime"])
    runs = [
        schedules.latest_run(schedule, max(after, start) if start is not None else after, until, tz=tz, epoch=epoch)
    ]
    if start is not None and not isinstance(schedule, schedules.At) and after < start <= until:
        runs.append(float(start))  # "performs the action at this time, and then ... the recurrence"
    due = [run for run in runs if run is not None]
    return max(due) if due else None


def run_scheduled_actions(store: Store, now: float) -> None:
    """Every scope: scheduled actions due since their last check set the target's Min/Max
    (and the desired count follows into the new bounds)."""
    for scope in store.scopes():
        for action_id, record in store.items(scope, scaling.SCHEDULED_ACTION_KIND):
            action = record["spec"]
            after = float((record.get("status") or {}).get("lastCheck", action["CreationTime"]))
            try:
                due = _due(action, after, now)
            except schedules.ScheduleError:
                continue
            if due is None:
                continue
            with store.transaction():
                _fire(store, scope, action, now)
                record.setdefault("status", {})["lastCheck"] = now
                if store.get(scope, scaling.SCHEDULED_ACTION_KIND, action_id) is not None:
                    store.put(scope, scaling.SCHEDULED_ACTION_KIND, action_id, record)


def _fire(store: Store, scope: Scope, action: dict[str, Any], now: float) -> None:
    key = scaling.key_of(action)
    target = scaling.get_target(store, scope, key)
    if target is None or scaling.suspended(target, "ScheduledScalingSuspended"):
        return
    bounds = action.get("ScalableTargetAction") or {}
    spec = target["spec"]
    minimum = int(bounds.get("MinCapacity", spec["MinCapacity"]))
    maximum = int(bounds.get("MaxCapacity", spec["MaxCapacity"]))
    cause = f"scheduled action name {action['ScheduledActionName']} was triggered"
    description = f"Setting min capacity to {minimum} and max capacity to {maximum}"
    if minimum > maximum:
        scaling_activities.record(
            store, scope, key, description=description, cause=cause, status_code="Failed", now=now, end_time=now,
            status_message=f"Failed to set min capacity to {minimum} and max capacity to {maximum}. "
            "Reason: Minimum capacity cannot be greater than maximum capacity",
        )  # fmt: skip
        return
    spec["MinCapacity"], spec["MaxCapacity"] = minimum, maximum
    store.put(scope, scaling.TARGET_KIND, key.id, target)
    scaling_activities.record(
        store, scope, key, description=description, cause=cause, status_code="Successful", now=now, end_time=now,
        status_message=f"Successfully set min capacity to {minimum} and max capacity to {maximum}",
    )  # fmt: skip
    clamp_target(store, scope, target, now)
