"""The service scheduler: what one service needs next, as a pure function.

Vocabulary:
- *live* tasks: the service's tasks still desired RUNNING (not asked to stop).
- *healthy* tasks: live, RUNNING, and not failing a health check (a task whose essential
  containers have health checks counts only once they report HEALTHY).
- *failed* tasks: stopped tasks of a deployment whose stop the scheduler did not ask for
  (TaskFailedToStart, EssentialContainerExited, failed health checks).
- The PRIMARY deployment is the newest; older ones are ACTIVE until they have no tasks.

Rules (ECS's rolling update):
- Never more than floor(desired * maximumPercent / 100) live tasks while a deployment rolls,
  and never stop an old task if that leaves fewer than ceil(desired * minimumHealthyPercent
  / 100) healthy ones. Scaling (desiredCount changes) and replacing failed tasks are not
  bound by the minimum.
- Only tasks whose ``serviceName`` is this service are ever counted or stopped.
- Repeated failures throttle launches: after 3 failed tasks in a deployment, each launch
  waits 2^(n-3) s (at most 30 s) after the last failure.
- The deployment circuit breaker (when enabled) marks the PRIMARY deployment FAILED once its
  failed tasks reach the threshold: ceil(desired / 2), at least 3 and at most 200. A FAILED
  deployment launches nothing more; with rollback, a new deployment of the last COMPLETED
  deployment's task definition starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.reconcile import targets, traffic_shift
from ecsemu.reconcile.actions import Action, PlaceTasks, RollBack, SetServiceStatus, ShiftTraffic, StopTask
from ecsemu.reconcile.ids import Ids

Record = dict[str, Any]

FAILURE_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})
HEALTH_FAILURE = "Task failed container health checks"
THROTTLE_AFTER = 3
MAX_BACKOFF_S = 30.0
BREAKER_MIN, BREAKER_MAX = 3, 200
BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


@dataclass
class _Tasks:
    """A service's tasks, sorted into what the rules need."""

    live: list[Record]
    unstopped: list[Record]
    stopped: list[Record]


def _task_id(task: Record) -> str:
    return str(task["spec"]["taskId"])


def is_healthy(task: Record, target_groups: dict[str, Record] | None = None) -> bool:
    """RUNNING, passing its container health checks, and healthy in every target group."""
    status = task["status"]
    if status.get("lastStatus") != "RUNNING":
        return False
    health = status.get("healthStatus", "UNKNOWN")
    has_checks = any(c.get("healthCheck") for c in task["spec"]["containers"] if c["essential"])
    if not (health == "HEALTHY" if has_checks else health != "UNHEALTHY"):
        return False
    groups = target_groups or {}
    return all(
        targets.health_state(groups.get(r.target_group_arn), r) == "healthy" or r.target_group_arn not in groups
        for r in targets.registrations_of(status)
    )


def _sort(tasks: list[Record]) -> _Tasks:
    live = [t for t in tasks if task_model.desired_status(t) == "RUNNING"]
    unstopped = [t for t in tasks if not task_model.is_stopped(t)]
    stopped = [t for t in tasks if task_model.is_stopped(t)]
    return _Tasks(live, unstopped, stopped)


def _failed(tasks: list[Record]) -> list[Record]:
    failed = []
    for task in tasks:
        code, reason = task_model.stop_reason(task)
        if code in FAILURE_CODES or (
            code == "ServiceSchedulerInitiated" and (reason == HEALTH_FAILURE or str(reason).startswith("Task failed ELB"))
        ):
            failed.append(task)
    return failed


def _stop_order(task: Record) -> tuple[int, float]:
    """Stop the least useful first: not yet running, then the newest."""
    return (1 if task["status"].get("lastStatus") == "RUNNING" else 0, -float(task["spec"]["createdAt"]))


def plan_service(
    scope: Scope,
    key: str,
    service: Record,
    tasks: list[Record],
    now: float,
    ids: Ids,
    target_groups: dict[str, Record] | None = None,
) -> list[Action]:
    target_groups = target_groups or {}
    spec, old = service["spec"], service["status"]
    if service_model.is_inactive(service) or spec["deploymentController"]["type"] != "ECS":
        return []
    status: Record = {**old, "deployments": {k: dict(v) for k, v in old.get("deployments", {}).items()}}
    status.setdefault("events", [])
    actions: list[Action] = []
    events: list[str] = []
    deployments = [d for d in spec["deployments"] if not status["deployments"].get(d["id"], {}).get("retired")]
    by_deployment = {d["id"]: _sort([t for t in tasks if t["spec"].get("deploymentId") == d["id"]]) for d in deployments}
    primary = deployments[-1] if deployments else None

    if spec["status"] == "DRAINING":
        live = [t for group in by_deployment.values() for t in group.live]
        actions += _stop_tasks(scope, spec, live, primary, events)
        if not any(group.unstopped for group in by_deployment.values()):
            status["inactive"] = True
    elif primary is not None:
        actions += _replace_unhealthy(scope, spec, by_deployment, now, events, target_groups)
        actions += _stop_requested(scope, key, spec, deployments, ids, events, status, now)
        actions += _circuit_breaker(scope, key, spec, deployments, by_deployment, ids, events, status, now)
        shifting = service_model.strategy(spec) in service_model.TRAFFIC_SHIFTING and len(deployments) > 1
        if status["deployments"].get(primary["id"], {}).get("rolloutState") == "FAILED":
            pass
        elif shifting:
            actions += _shift(scope, key, spec, deployments, by_deployment, now, ids, events, status, target_groups)
        else:
            actions += _roll(scope, key, spec, deployments, by_deployment, now, ids, events, status, target_groups)

    _count(spec, status, deployments, by_deployment, now, events, target_groups)
    if events:
        new_events = [{"id": ids.event_id(), "createdAt": now, "message": m} for m in reversed(events)]
        status["events"] = (new_events + status["events"])[: service_model.MAX_EVENTS]
    if status != old:
        actions.append(SetServiceStatus(scope, key, status))
    return actions


def task_model_key(task: Record) -> str:
    return f"{task['spec']['clusterName']}/{task['spec']['taskId']}"


def _ids(tasks: list[Record]) -> str:
    return " ".join(f"(task {_task_id(t)})" for t in tasks)


def _start_tasks(scope: Scope, key: str, spec: Record, deployment_id: str, count: int, ids: Ids, events: list[str]) -> Action:
    """Place ``count`` new tasks of a deployment, with ECS's "has started" event."""
    task_ids = tuple(ids.task_id() for _ in range(count))
    listed = " ".join(f"(task {task_id})" for task_id in task_ids)
    events.append(f"(service {spec['serviceName']}) has started {count} tasks: {listed}.")
    return PlaceTasks(scope, key, deployment_id, task_ids)


def _stop_tasks(scope: Scope, spec: Record, tasks: list[Record], primary: Record | None, events: list[str]) -> list[Action]:
    """Ask the scheduler's excess or old tasks to stop, with ECS's "has stopped" event."""
    if tasks:
        events.append(f"(service {spec['serviceName']}) has stopped {len(tasks)} running tasks: {_ids(tasks)}.")
    reason = _scaling_reason(primary)
    return [StopTask(scope, task_model_key(task), "ServiceSchedulerInitiated", reason) for task in tasks]


def _scaling_reason(primary: Record | None) -> str:
    deployment = primary["id"] if primary else "unknown"
    return f"Scaling activity initiated by (deployment {deployment})"


def _replace_unhealthy(
    scope: Scope,
    spec: Record,
    by_deployment: dict[str, _Tasks],
    now: float,
    events: list[str],
    target_groups: dict[str, Record],
) -> list[Action]:
    grace = float(spec.get("healthCheckGracePeriodSeconds") or 0)
    actions: list[Action] = []
    for group in by_deployment.values():
        for task in list(group.live):
            status = task["status"]
            started = float(status["startedAt"]) if status.get("startedAt") is not None else now
            if now - started < grace:
                continue
            if status.get("healthStatus") == "UNHEALTHY":
                reason = HEALTH_FAILURE
                events.append(f"(service {spec['serviceName']}) (task {_task_id(task)}) failed container health checks.")
            else:
                failing = [
                    r.target_group_arn
                    for r in targets.registrations_of(status)
                    if targets.health_state(target_groups.get(r.target_group_arn), r) == "unhealthy"
                ]
                if not failing or status.get("lastStatus") != "RUNNING":
                    continue
                reason = f"Task failed ELB health checks in (target-group {failing[0]})"
                events.append(
                    f"(service {spec['serviceName']}) (task {_task_id(task)}) failed ELB health checks in (target-group {failing[0]})."
                )
            actions.append(StopTask(scope, task_model_key(task), "ServiceSchedulerInitiated", reason))
            group.live.remove(task)
    return actions


def breaker_threshold(desired: int) -> int:
    return min(max(math.ceil(desired / 2), BREAKER_MIN), BREAKER_MAX)


def _circuit_breaker(
    scope: Scope,
    key: str,
    spec: Record,
    deployments: list[Record],
    by_deployment: dict[str, _Tasks],
    ids: Ids,
    events: list[str],
    status: Record,
    now: float,
) -> list[Action]:
    breaker = spec["deploymentConfiguration"].get("deploymentCircuitBreaker") or {}
    primary = deployments[-1]
    entry = status["deployments"].setdefault(primary["id"], {})
    if not breaker.get("enable") or entry.get("rolloutState", "IN_PROGRESS") != "IN_PROGRESS":
        return []
    if len(_failed(by_deployment[primary["id"]].stopped)) < breaker_threshold(int(spec["desiredCount"])):
        return []
    name = spec["serviceName"]
    entry.update(rolloutState="FAILED", rolloutStateReason=BREAKER_REASON, finishedAt=now)
    events.append(f"(service {name}) (deployment {primary['id']}) deployment failed: tasks failed to start.")
    if not breaker.get("rollback"):
        return []
    return _roll_back_from(scope, key, spec, primary, ids, events, status, now, BREAKER_REASON)


def _roll_back_from(
    scope: Scope,
    key: str,
    spec: Record,
    failed: Record,
    ids: Ids,
    events: list[str],
    status: Record,
    now: float,
    reason: str,
) -> list[Action]:
    """Start a deployment of the last COMPLETED deployment's task definition, and say so."""
    completed = [
        d for d in spec["deployments"][:-1]
        if status["deployments"].get(d["id"], {}).get("rolloutState") == "COMPLETED"
    ]  # fmt: skip
    if not completed:
        return []
    target = completed[-1]
    new_id = ids.deployment_id()
    status["deployments"][failed["id"]]["rollback"] = {"deploymentId": new_id, "reason": reason, "startedAt": now}
    events.append(f"(service {spec['serviceName']}) rolling back to deployment {target['id']}.")
    return [RollBack(scope, key, failed["id"], new_id, target["taskDefinition"])]


def _stop_requested(
    scope: Scope,
    key: str,
    spec: Record,
    deployments: list[Record],
    ids: Ids,
    events: list[str],
    status: Record,
    now: float,
) -> list[Action]:
    """StopServiceDeployment asked (a spec write) to stop the PRIMARY deployment: roll back."""
    primary = deployments[-1]
    request = primary.get("stopRequested")
    entry = status["deployments"].setdefault(primary["id"], {})
    if not request or entry.get("stopped") or entry.get("rolloutState", "IN_PROGRESS") != "IN_PROGRESS":
        return []
    reason = "Service deployment rolled back because of a stop request."
    entry.update(
        rolloutState="FAILED",
        rolloutStateReason=f"ECS deployment {primary['id']} stopped.",
        stopped={"stopType": request.get("stopType", "ROLLBACK"), "at": now},
    )
    events.append(f"(service {spec['serviceName']}) (deployment {primary['id']}) deployment stopped.")
    return _roll_back_from(scope, key, spec, primary, ids, events, status, now, reason)


def _roll(
    scope: Scope,
    key: str,
    spec: Record,
    deployments: list[Record],
    by_deployment: dict[str, _Tasks],
    now: float,
    ids: Ids,
    events: list[str],
    status: Record,
    target_groups: dict[str, Record],
) -> list[Action]:
    name = spec["serviceName"]
    primary = deployments[-1]
    desired = int(spec["desiredCount"])
    configuration = spec["deploymentConfiguration"]
    maximum = math.floor(desired * configuration["maximumPercent"] / 100)
    minimum_healthy = math.ceil(desired * configuration["minimumHealthyPercent"] / 100)
    new = by_deployment[primary["id"]]
    old_live = [t for d in deployments[:-1] for t in by_deployment[d["id"]].live]
    actions: list[Action] = []

    # Scale in: the primary has more than it should.
    excess = len(new.live) - desired
    if excess > 0:
        victims = sorted(new.live, key=_stop_order)[:excess]
        actions += _stop_tasks(scope, spec, victims, primary, events)
        new.live = [t for t in new.live if t not in victims]

    # Stop old tasks, keeping the minimum healthy.
    healthy = sum(1 for t in new.live + old_live if is_healthy(t, target_groups))
    stoppable = healthy - minimum_healthy
    stopped_old = []
    for task in sorted(old_live, key=_stop_order):
        if not is_healthy(task, target_groups):
            stopped_old.append(task)
        elif stoppable > 0:
            stopped_old.append(task)
            stoppable -= 1
    actions += _stop_tasks(scope, spec, stopped_old, primary, events)
    old_live = [t for t in old_live if t not in stopped_old]

    # Start new tasks, within maximumPercent while old tasks remain.
    need = desired - len(new.live)
    room = need if not old_live else min(need, maximum - len(new.live) - len(old_live))
    if need > 0 and room <= 0 and not stopped_old:
        if not status.get("stuck"):
            events.append(
                f"(service {name}) was unable to stop or start tasks during a deployment because of the service "
                "deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
            )
        status["stuck"] = True
    else:
        status.pop("stuck", None)
    if room > 0:
        wait_until = _throttled_until(_failed(new.stopped), now)
        if wait_until > now:
            if not status.get("throttled"):
                events.append(f"(service {name}) is unable to consistently start tasks successfully.")
            status["throttled"] = True
            status["nextLaunchAt"] = wait_until
        else:
            status.pop("throttled", None)
            status.pop("nextLaunchAt", None)
            actions.append(_start_tasks(scope, key, spec, primary["id"], room, ids, events))
    return actions


def _shift(
    scope: Scope,
    key: str,
    spec: Record,
    deployments: list[Record],
    by_deployment: dict[str, _Tasks],
    now: float,
    ids: Ids,
    events: list[str],
    status: Record,
    target_groups: dict[str, Record],
) -> list[Action]:
    """Blue/green, linear, canary: start the new revision in full beside the old one, move the
    production listener rules' weights once it is healthy, retire the old after the bake."""
    name = spec["serviceName"]
    primary = deployments[-1]
    new = by_deployment[primary["id"]]
    entry = status["deployments"].setdefault(primary["id"], {})
    configuration = spec["deploymentConfiguration"]
    actions: list[Action] = []
    need = int(spec["desiredCount"]) - len(new.live)
    if need > 0:
        actions.append(_start_tasks(scope, key, spec, primary["id"], need, ids, events))
        return actions
    if need < 0 or sum(1 for t in new.live if is_healthy(t, target_groups)) < int(spec["desiredCount"]):
        return actions  # wait until the new revision is healthy in full
    percent = int(entry.get("trafficPercent", 0))
    wanted = traffic_shift.next_percent(configuration, percent, entry.get("trafficShiftedAt"), now)
    if wanted != percent:
        previous = deployments[-2]
        for index, balancer in enumerate(spec.get("loadBalancers") or []):
            rule = (balancer.get("advancedConfiguration") or {}).get("productionListenerRule")
            new_groups, old_groups = primary.get("targetGroupArns") or [], previous.get("targetGroupArns") or []
            if rule and index < len(new_groups) and index < len(old_groups) and new_groups[index] != old_groups[index]:
                actions.append(ShiftTraffic(scope, rule, ((new_groups[index], wanted), (old_groups[index], 100 - wanted))))
        entry.update(trafficPercent=wanted, trafficShiftedAt=now)
        events.append(f"(service {name}) (deployment {primary['id']}) shifted {wanted}% of production traffic to the new revision.")
        return actions
    if wanted >= 100 and traffic_shift.bake_over(configuration, entry.get("trafficShiftedAt"), now):
        old_live = [t for d in deployments[:-1] for t in by_deployment[d["id"]].live]
        actions += _stop_tasks(scope, spec, old_live, primary, events)
    return actions


def _throttled_until(failed: list[Record], now: float) -> float:
    if len(failed) < THROTTLE_AFTER:
        return now
    last_failure = max(float(t["status"].get("stoppedAt") or now) for t in failed)
    return last_failure + min(2.0 ** (len(failed) - THROTTLE_AFTER), MAX_BACKOFF_S)


def _count(
    spec: Record,
    status: Record,
    deployments: list[Record],
    by_deployment: dict[str, _Tasks],
    now: float,
    events: list[str],
    target_groups: dict[str, Record],
) -> None:
    name = spec["serviceName"]
    primary_id = deployments[-1]["id"] if deployments else None
    for deployment in deployments:
        group = by_deployment[deployment["id"]]
        entry = status["deployments"].setdefault(deployment["id"], {})
        running = sum(1 for t in group.unstopped if t["status"].get("lastStatus") == "RUNNING")
        pending = sum(1 for t in group.unstopped if t["status"].get("lastStatus") in task_model.PENDING_STATES)
        counts = {"runningCount": running, "pendingCount": pending, "failedTasks": len(_failed(group.stopped))}
        if deployment["id"] != primary_id:
            counts["desiredCount"] = len(group.live)
            if not group.unstopped and spec["status"] == "ACTIVE":
                counts["retired"] = True
        changed = any(entry.get(k) != v for k, v in counts.items())
        entry.update(counts)
        if changed:
            entry["updatedAt"] = now
    if primary_id is None or spec["status"] != "ACTIVE":
        return
    entry = status["deployments"][primary_id]
    others = [d for d in deployments[:-1] if not status["deployments"][d["id"]].get("retired")]
    group = by_deployment[primary_id]
    healthy = sum(1 for t in group.live if is_healthy(t, target_groups))
    settled = not others and healthy == spec["desiredCount"] and len(group.unstopped) == spec["desiredCount"]
    if entry.get("rolloutState", "IN_PROGRESS") == "IN_PROGRESS":
        entry["rolloutState"] = "IN_PROGRESS"
        entry["rolloutStateReason"] = f"ECS deployment {primary_id} in progress."
        if settled:
            entry["rolloutState"] = "COMPLETED"
            entry["rolloutStateReason"] = f"ECS deployment {primary_id} completed."
            entry["updatedAt"] = now
            events.append(f"(service {name}) (deployment {primary_id}) deployment completed.")
    steady = settled and entry["rolloutState"] == "COMPLETED"
    if steady and not status.get("steady"):
        events.append(f"(service {name}) has reached a steady state.")
    status["steady"] = steady
