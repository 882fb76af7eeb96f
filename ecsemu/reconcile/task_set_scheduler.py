"""The task set scheduler: what one EXTERNAL-controller service needs next, as a pure function.

A service whose ``deploymentController.type`` is EXTERNAL has no deployments of its own; its
tasks belong to *task sets* (kind ``task_set``, id ``<cluster>/<service>/<task set id>``,
written by the TaskSet API). A task of a task set carries the task set's id
(``ecs-svc/<19 digits>``) as ``startedBy`` and ``deploymentId``, like a deployment's tasks.

It places, stops, throttles, judges health and words its events through the scheduling core
(``ecsemu.reconcile.scheduling``), which the deployments' scheduler shares; the rules the
TaskSet API shows (computed desired count, which task sets a service owns) are in
``ecsemu.model.task_set``.

Vocabulary (the core's *live*, *unstopped*, *failed*, *unhealthy*, plus):
- *computed desired count* of a task set: ceil(service desiredCount * scale.value / 100); zero
  for a DRAINING task set and for every task set of a DRAINING service.
- A task set is in *STEADY_STATE* when exactly its computed desired count of tasks is live,
  unstopped and RUNNING; otherwise it is *STABILIZING*.
- *strays*: the service's tasks whose task set no longer exists; they are stopped. Task sets
  created before the service (left by a deleted service of the same name) are not its own.

Rules:
- Each task set is scaled to its computed desired count on its own: missing tasks are placed
  (``PlaceTasks`` with the task set's id as the deployment id), extra ones stopped in the
  core's stop order. Task sets do not wait for one another (the external controller owns the
  pace, through ``scale``).
- Only tasks whose ``serviceName`` is this service are given, so no other task is ever
  stopped. Unhealthy tasks (container or ELB health checks) are replaced once the grace
  period has passed.
- Repeated failures throttle launches (the core's throttle, per task set).
- The planner is the one writer of the EXTERNAL service's ``status``: ``taskSetCounts``
  {task set id: runningCount, pendingCount, stabilityStatus, stabilityStatusAt, drained},
  ``events`` (target registrations included, as the core derives them), ``steady`` and, once
  a DRAINING service has no unstopped task, ``inactive``.
"""

from __future__ import annotations

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model.service import ServiceRecord, ServiceStatus, TaskSetCounts
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import TaskRecord
from ecsemu.model.task_set import TaskSetRecord, belongs, computed_desired_count
from ecsemu.reconcile import scheduling
from ecsemu.reconcile.actions import Action, SetServiceStatus
from ecsemu.reconcile.ids import Ids


def plan_task_sets(
    scope: Scope,
    service_key: str,
    service: ServiceRecord,
    task_sets: list[TaskSetRecord],
    tasks: list[TaskRecord],
    now: float,
    ids: Ids,
    target_groups: dict[str, TargetGroup] | None = None,
    capacity: scheduling.Capacity | None = None,
) -> list[Action]:
    """Every action the EXTERNAL service ``service_key`` needs next; [] for other services.
    ``capacity``: the room the task limit leaves this round (by default, what ``tasks`` leave)."""
    target_groups = target_groups or {}
    capacity = capacity if capacity is not None else scheduling.Capacity.left_by(tasks)
    spec, old = service["spec"], service["status"]
    if spec["deploymentController"]["type"] != "EXTERNAL" or service_model.is_inactive(service):
        return []
    name = spec["serviceName"]
    service_draining = spec["status"] == "DRAINING"
    status: ServiceStatus = {**old, "taskSetCounts": {}}
    previous_counts: dict[str, TaskSetCounts] = old.get("taskSetCounts", {})
    actions: list[Action] = []
    events = scheduling.target_events(name, tasks, target_groups, status)
    stopped: list[TaskRecord] = []
    all_steady = True
    task_sets = [task_set for task_set in task_sets if belongs(task_set, service)]

    known = {task_set["id"] for task_set in task_sets}
    strays = [t for t in tasks if t["spec"].get("deploymentId") not in known]
    for task in strays:
        if scheduling.is_live(task):
            actions += scheduling.stop(scope, [task], str(task["spec"].get("deploymentId")))
            stopped.append(task)
    if any(not task_model.is_stopped(t) for t in strays):
        all_steady = False

    for task_set in sorted(task_sets, key=lambda r: (float(r["createdAt"]), r["id"])):
        set_id = task_set["id"]
        own = [t for t in tasks if t["spec"].get("deploymentId") == set_id]
        live = [t for t in own if scheduling.is_live(t)]
        draining = service_draining or task_set["status"] == "DRAINING"
        wanted = 0 if draining else computed_desired_count(int(spec["desiredCount"]), task_set.get("scale"))

        sick, stops = scheduling.replace_unhealthy(scope, spec, live, now, target_groups, events)
        live = [t for t in live if t not in sick]
        actions += stops

        excess = len(live) - wanted
        if excess > 0:
            victims = scheduling.least_useful(live, excess)
            actions += scheduling.stop(scope, victims, set_id)
            live = [t for t in live if t not in victims]
            stopped += victims
        elif excess < 0:
            launch_at = scheduling.launch_at(own, now)
            previous = previous_counts.get(set_id, {})
            if launch_at > now:
                if not previous.get("throttled"):
                    events.append(scheduling.throttled(name))
                status["taskSetCounts"][set_id] = {"throttled": True, "nextLaunchAt": launch_at}
            else:
                actions += scheduling.placing(scope, service_key, set_id, -excess, ids, capacity, name, old, events, now)

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
        events.append(scheduling.stopped(name, stopped))
    if service_draining and all(task_model.is_stopped(t) for t in tasks):
        status["inactive"] = True
    steady_service = all_steady and not service_draining
    if steady_service and not old.get("steady"):
        events.append(scheduling.steady(name))
    status["steady"] = steady_service
    scheduling.add_events(status, events, now, ids)
    if status != old:
        actions.append(SetServiceStatus(scope, service_key, status))
    return actions
