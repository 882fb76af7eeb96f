"""The task set scheduler: what one EXTERNAL-controller service needs next, as a pure function.

A service whose ``deploymentController.type`` is EXTERNAL has no deployments of its own; its
tasks belong to *task sets* (kind ``task_set``, id ``<cluster>/<service>/<task set id>``,
written by the TaskSet API). A task of a task set carries the task set's id
(``ecs-svc/<19 digits>``) as ``startedBy`` and ``deploymentId``, like a deployment's tasks.

Vocabulary:
- *live* tasks: still desired RUNNING. *unstopped*: lastStatus not yet STOPPED.
- *computed desired count* of a task set: ceil(service desiredCount * scale.value / 100); zero
  for a DRAINING task set and for every task set of a DRAINING service.
- A task set is in *STEADY_STATE* when exactly its computed desired count of tasks is live,
  unstopped and RUNNING; otherwise it is *STABILIZING*.
- *strays*: the service's tasks whose task set no longer exists; they are stopped. Task sets
  created before the service (left by a deleted service of the same name) are not its own.

Rules:
- Each task set is scaled to its computed desired count on its own: missing tasks are placed
  (``PlaceTasks`` with the task set's id as the deployment id), extra ones stopped, those not
  yet RUNNING and then the newest first. Task sets do not wait for one another (the external
  controller owns the pace, through ``scale``).
- Only tasks whose ``serviceName`` is this service are given, so no other task is ever
  stopped. Unhealthy tasks are replaced once the grace period has passed.
- After 3 failed tasks in a task set, each launch waits 2^(n-3) s (at most 30 s) after the
  last failure, as for deployments.
- The planner owns the EXTERNAL service's ``status``: ``taskSetCounts`` {task set id:
  runningCount, pendingCount, stabilityStatus, stabilityStatusAt, drained}, ``events``,
  ``steady`` and, once a DRAINING service has no unstopped task, ``inactive``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.reconcile.actions import Action, PlaceTasks, SetServiceStatus, StopTask
from ecsemu.reconcile.ids import Ids
from ecsemu.reconcile.scheduler import FAILURE_CODES, HEALTH_FAILURE, MAX_BACKOFF_S, THROTTLE_AFTER, task_model_key

Record = dict[str, Any]

STOP_CODE = "ServiceSchedulerInitiated"


def computed_desired_count(desired_count: int, scale: Record | None) -> int:
    """ceil(desiredCount * scale / 100), ECS's rounding (1.2 tasks is 2)."""
    value = float((scale or {}).get("value", 0.0))
    return math.ceil(round(desired_count * value / 100, 9))


def task_sets_of(service_key: str, task_sets: Iterable[Record]) -> list[Record]:
    """The task sets of the service ``<cluster>/<service>``."""
    return [r for r in task_sets if f"{r['clusterName']}/{r['serviceName']}" == service_key]


def belongs(task_set: Record, service: Record) -> bool:
    """Whether a task set is the service's own and not left by an earlier service of that name."""
    spec = service["spec"]
    return (task_set["clusterName"], task_set["serviceName"]) == (spec["clusterName"], spec["serviceName"]) and float(
        task_set["createdAt"]
    ) >= float(spec.get("createdAt") or 0)


def _scaling_reason(task_set_id: str) -> str:
    return f"Scaling activity initiated by (deployment {task_set_id})"


def _stop_order(task: Record) -> tuple[int, float]:
    """Stop the least useful first: not yet running, then the newest."""
    return (1 if task["status"].get("lastStatus") == "RUNNING" else 0, -float(task["spec"]["createdAt"]))


def _ids(tasks: list[Record]) -> str:
    return " ".join(f"(task {t['spec']['taskId']})" for t in tasks)


def _failed(tasks: list[Record]) -> list[Record]:
    failed = []
    for task in tasks:
        if not task_model.is_stopped(task):
            continue
        code, reason = task_model.stop_reason(task)
        if code in FAILURE_CODES or (code == STOP_CODE and reason == HEALTH_FAILURE):
            failed.append(task)
    return failed


def _launch_at(tasks: list[Record], now: float) -> float:
    """When the next launch of a task set may happen, given its failed tasks."""
    failed = _failed(tasks)
    if len(failed) < THROTTLE_AFTER:
        return now
    last_failure = max(float(t["status"].get("stoppedAt") or now) for t in failed)
    return last_failure + min(2.0 ** (len(failed) - THROTTLE_AFTER), MAX_BACKOFF_S)


def _unhealthy(spec: Record, live: list[Record], now: float) -> list[Record]:
    grace = float(spec.get("healthCheckGracePeriodSeconds") or 0)
    sick = []
    for task in live:
        started = task["status"].get("startedAt")
        if (
            task["status"].get("healthStatus") == "UNHEALTHY"
            and now - float(now if started is None else started) >= grace
        ):
            sick.append(task)
    return sick


def plan_task_sets(
    scope: Scope, service_key: str, service: Record, task_sets: list[Record], tasks: list[Record], now: float, ids: Ids
) -> list[Action]:
    """Every action the EXTERNAL service ``service_key`` needs next; [] for other services."""
    spec, old = service["spec"], service["status"]
    if spec["deploymentController"]["type"] != "EXTERNAL" or service_model.is_inactive(service):
        return []
    name = spec["serviceName"]
    service_draining = spec["status"] == "DRAINING"
    status: Record = {**old, "taskSetCounts": {}, "events": list(old.get("events", []))}
    previous_counts: dict[str, Record] = old.get("taskSetCounts", {})
    actions: list[Action] = []
    events: list[str] = []
    stopped: list[Record] = []
    all_steady = True
    task_sets = [task_set for task_set in task_sets if belongs(task_set, service)]

    known = {task_set["id"] for task_set in task_sets}
    strays = [t for t in tasks if t["spec"].get("deploymentId") not in known]
    for task in strays:
        if task_model.desired_status(task) == "RUNNING":
            actions.append(
                StopTask(scope, task_model_key(task), STOP_CODE, _scaling_reason(str(task["spec"].get("deploymentId"))))
            )
            stopped.append(task)
    if any(not task_model.is_stopped(t) for t in strays):
        all_steady = False

    for task_set in sorted(task_sets, key=lambda r: (float(r["createdAt"]), r["id"])):
        set_id = task_set["id"]
        own = [t for t in tasks if t["spec"].get("deploymentId") == set_id]
        live = [t for t in own if task_model.desired_status(t) == "RUNNING"]
        draining = service_draining or task_set["status"] == "DRAINING"
        wanted = 0 if draining else computed_desired_count(int(spec["desiredCount"]), task_set.get("scale"))

        for task in _unhealthy(spec, live, now):
            actions.append(StopTask(scope, task_model_key(task), STOP_CODE, HEALTH_FAILURE))
            events.append(f"(service {name}) (task {task['spec']['taskId']}) failed container health checks.")
            live.remove(task)

        excess = len(live) - wanted
        if excess > 0:
            victims = sorted(live, key=_stop_order)[:excess]
            for task in victims:
                actions.append(StopTask(scope, task_model_key(task), STOP_CODE, _scaling_reason(set_id)))
                live.remove(task)
            stopped += victims
        elif excess < 0:
            launch_at = _launch_at(own, now)
            previous = previous_counts.get(set_id, {})
            if launch_at > now:
                if not previous.get("throttled"):
                    events.append(f"(service {name}) is unable to consistently start tasks successfully.")
                status["taskSetCounts"][set_id] = {"throttled": True, "nextLaunchAt": launch_at}
            else:
                task_ids = tuple(ids.task_id() for _ in range(-excess))
                actions.append(PlaceTasks(scope, service_key, set_id, task_ids))
                listed = " ".join(f"(task {task_id})" for task_id in task_ids)
                events.append(f"(service {name}) has started {len(task_ids)} tasks: {listed}.")

        counts = status["taskSetCounts"].setdefault(set_id, {})
        unstopped = [t for t in own if not task_model.is_stopped(t)]
        running = sum(1 for t in unstopped if t["status"].get("lastStatus") == "RUNNING")
        pending = sum(
            1 for t in unstopped if t["status"].get("lastStatus", "PROVISIONING") in task_model.PENDING_STATES
        )
        steady = excess == 0 and len(live) == wanted == len(unstopped) == running
        stability = "STEADY_STATE" if steady else "STABILIZING"
        previous = previous_counts.get(set_id, {})
        counts.update({"runningCount": running, "pendingCount": pending, "stabilityStatus": stability})
        counts["stabilityStatusAt"] = (
            now if previous.get("stabilityStatus") != stability else previous.get("stabilityStatusAt", now)
        )
        if draining and not unstopped:
            counts["drained"] = True
        all_steady = all_steady and steady

    if stopped:
        events.append(f"(service {name}) has stopped {len(stopped)} running tasks: {_ids(stopped)}.")
    if service_draining and all(task_model.is_stopped(t) for t in tasks):
        status["inactive"] = True
    steady_service = all_steady and not service_draining
    if steady_service and not old.get("steady"):
        events.append(f"(service {name}) has reached a steady state.")
    status["steady"] = steady_service
    if events:
        new_events = [{"id": ids.event_id(), "createdAt": now, "message": m} for m in reversed(events)]
        status["events"] = (new_events + status["events"])[: service_model.MAX_EVENTS]
    if status != old:
        actions.append(SetServiceStatus(scope, service_key, status))
    return actions
