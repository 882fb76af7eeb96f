"""The scheduling core: the rules every service scheduler shares. Pure functions: they never
change the records they are handed (only the status being computed, where a caller passes it).

Rolling deployments and traffic-shifting deployments (BLUE_GREEN, LINEAR, CANARY) of an ECS
controller service (``scheduler.py``), and the task sets of an EXTERNAL controller service
(``task_set_scheduler.py``), all place, stop, throttle, judge and report through this module,
so they cannot drift apart.

Vocabulary:
- A *group* is what tasks are placed for: a deployment (``ecs-svc/<19 digits>``) or a task
  set (same form of id). A task carries its group's id as ``deploymentId``.
- *own* tasks: the tasks whose ``serviceName`` is the service; callers hand only those in,
  so nothing here ever stops another service's task.
- *live* tasks: still desired RUNNING (nobody asked them to stop). *unstopped*: lastStatus
  not yet STOPPED.
- A *failed* task is a STOPPED task that failed on its own: stop code ``TaskFailedToStart``
  or ``EssentialContainerExited``, or ``ServiceSchedulerInitiated`` because it failed its
  container health checks or ELB health checks (ECS's rule, for services and task sets alike).
- An *unhealthy* task is live, past the service's ``healthCheckGracePeriodSeconds`` since it
  started, and either UNHEALTHY by its container health checks, or RUNNING and ``unhealthy``
  in one of its target groups. The scheduler stops it with the matching reason (so it counts
  as failed once stopped) and places a replacement.

Rules:
- Launch throttle: after 3 failed tasks in a group, each launch waits 2^(n-3) s (at most
  30 s) after the last failure. More failures never allow a launch sooner.
- Task limit: ecsemu runs at most ``ecsemu.config.MAX_TASKS`` unstopped tasks at once, over
  every account and region (what one machine runs). One ``Capacity`` per planning round holds
  the room left; ``place`` takes from it and never builds more than it grants, so a
  desiredCount of 2^31 costs no more than one of MAX_TASKS. A group that gets less than it
  asked for says so with ECS's placement failure event (``unable_to_place``), once while the
  cause lasts (ECS: "duplicate event messages are omitted until either the cause is resolved
  or six hours passes"), and keeps what it has.
- Stop order: the least useful first: tasks not yet RUNNING, then the newest.
- Event texts are ECS's own, written once here (``started``, ``stopped``, ``throttled``,
  ``steady``, ``*_health_failed``, ``registered``, ``deregistered``).
- Target events are derived from the target group records, not from the calls that were
  made: "registered 1 targets" once the group shows the task's registration, "deregistered
  1 targets" once a task being stopped no longer has it there. So an event is recorded only
  for a registration that really happened, and only by the service's one status writer.
  The targets already announced are remembered in the service's status, ``targetEvents``
  {task id: {target group ARN: "registered" | "deregistered"}}, for unstopped tasks only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model.service import Event, ServiceSpec, ServiceStatus
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import TaskRecord
from ecsemu.reconcile import targets
from ecsemu.reconcile.actions import Action, PlaceTasks, StopTask
from ecsemu.reconcile.ids import Ids

STOP_CODE = "ServiceSchedulerInitiated"
FAILURE_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})
HEALTH_FAILURE = "Task failed container health checks"
ELB_FAILURE_PREFIX = "Task failed ELB health checks"
THROTTLE_AFTER = 3
MAX_BACKOFF_S = 30.0


# -- tasks -------------------------------------------------------------------------------------


def task_key(task: TaskRecord) -> str:
    """The task's store id, ``<cluster>/<task id>``."""
    return f"{task['spec']['clusterName']}/{task['spec']['taskId']}"


def task_id(task: TaskRecord) -> str:
    return str(task["spec"]["taskId"])


def is_live(task: TaskRecord) -> bool:
    return task_model.desired_status(task) == "RUNNING"


def is_failed(task: TaskRecord) -> bool:
    """A STOPPED task that failed on its own (see the module's vocabulary)."""
    if not task_model.is_stopped(task):
        return False
    code, reason = task_model.stop_reason(task)
    if code in FAILURE_CODES:
        return True
    return code == STOP_CODE and (reason == HEALTH_FAILURE or str(reason).startswith(ELB_FAILURE_PREFIX))


def failed(tasks: Iterable[TaskRecord]) -> list[TaskRecord]:
    return [task for task in tasks if is_failed(task)]


def is_healthy(task: TaskRecord, target_groups: dict[str, TargetGroup] | None = None) -> bool:
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


def launch_at(tasks: Iterable[TaskRecord], now: float) -> float:
    """When a group may launch next, given its tasks: ``now`` unless throttled by failures."""
    failures = failed(tasks)
    if len(failures) < THROTTLE_AFTER:
        return now
    last_failure = max(float(t["status"].get("stoppedAt") or now) for t in failures)
    return last_failure + min(2.0 ** (len(failures) - THROTTLE_AFTER), MAX_BACKOFF_S)


def stop_order(task: TaskRecord) -> tuple[int, float]:
    """Sort key: the least useful first (not yet running, then the newest)."""
    return (1 if task["status"].get("lastStatus") == "RUNNING" else 0, -float(task["spec"]["createdAt"]))


def is_protected(task: TaskRecord, now: float) -> bool:
    """Scale-in protection (UpdateTaskProtection) holds: the task is not stopped to scale in."""
    protection = task["spec"].get("protection") or {}
    if not protection.get("protectionEnabled"):
        return False
    expires = protection.get("expirationDate")
    return expires is None or float(expires) > now


def least_useful(tasks: Iterable[TaskRecord], count: int, now: float | None = None) -> list[TaskRecord]:
    """The ``count`` tasks to stop first; with ``now``, never a scale-in protected one (ECS
    then leaves more tasks running than desired until protection ends)."""
    candidates = [t for t in tasks if now is None or not is_protected(t, now)]
    return sorted(candidates, key=stop_order)[: max(count, 0)]


# -- actions -----------------------------------------------------------------------------------


def scaling_reason(group_id: str) -> str:
    return f"Scaling activity initiated by (deployment {group_id})"


def stop(scope: Scope, tasks: Iterable[TaskRecord], group_id: str) -> list[Action]:
    """Ask the scheduler's excess or old tasks to stop, in the name of ``group_id``."""
    return [StopTask(scope, task_key(task), STOP_CODE, scaling_reason(group_id)) for task in tasks]


@dataclass
class Capacity:
    """How many more tasks this planning round may place, over every service."""

    room: int

    @classmethod
    def left_by(cls, tasks: Iterable[TaskRecord]) -> Capacity:
        """The room ``config.MAX_TASKS`` leaves beside ``tasks`` (the unstopped ones count)."""
        return cls(task_model.room_for_tasks(tasks))

    def take(self, count: int) -> int:
        granted = max(0, min(count, self.room))
        self.room -= granted
        return granted


def place(
    scope: Scope, service_key: str, group_id: str, count: int, ids: Ids, capacity: Capacity
) -> PlaceTasks | None:
    """Place up to ``count`` new tasks of a group (a deployment or a task set), as many as
    ``capacity`` grants; None when it grants none."""
    granted = capacity.take(count)
    if granted <= 0:
        return None
    return PlaceTasks(scope, service_key, group_id, tuple(ids.task_id() for _ in range(granted)))


def placing(
    scope: Scope,
    service_key: str,
    group_id: str,
    count: int,
    ids: Ids,
    capacity: Capacity,
    name: str,
    status: ServiceStatus,
    events: list[str],
    now: float,
) -> list[Action]:
    """``place`` with its events: "has started", and the placement failure when the task
    limit cut the count (unless the service's newest event already says so, from the last
    six hours)."""
    action = place(scope, service_key, group_id, count, ids, capacity)
    if action is not None:
        events.append(started(name, action))
    if action is None or len(action.task_ids) < count:
        message = unable_to_place(name)
        previous = status.get("events") or []
        repeated = bool(previous) and previous[0]["message"] == message and now - previous[0]["createdAt"] < DUPLICATE_EVENT_S
        if not repeated and message not in events:
            events.append(message)
    return [action] if action is not None else []


def replace_unhealthy(
    scope: Scope,
    spec: ServiceSpec,
    live: list[TaskRecord],
    now: float,
    target_groups: dict[str, TargetGroup],
    events: list[str],
) -> tuple[list[TaskRecord], list[Action]]:
    """The unhealthy tasks among ``live``, and the stops that replace them (with their events)."""
    grace = float(spec.get("healthCheckGracePeriodSeconds") or 0)
    name = spec["serviceName"]
    sick: list[TaskRecord] = []
    actions: list[Action] = []
    for task in live:
        status = task["status"]
        started = float(status["startedAt"]) if status.get("startedAt") is not None else now
        if now - started < grace:
            continue
        if status.get("healthStatus") == "UNHEALTHY":
            reason = HEALTH_FAILURE
            events.append(container_health_failed(name, task))
        else:
            failing = [
                r.target_group_arn
                for r in targets.registrations_of(status)
                if targets.health_state(target_groups.get(r.target_group_arn), r) == "unhealthy"
            ]
            if not failing or status.get("lastStatus") != "RUNNING":
                continue
            reason = f"{ELB_FAILURE_PREFIX} in (target-group {failing[0]})"
            events.append(elb_health_failed(name, task, failing[0]))
        sick.append(task)
        actions.append(StopTask(scope, task_key(task), STOP_CODE, reason))
    return sick, actions


# -- event texts -------------------------------------------------------------------------------


DUPLICATE_EVENT_S = 6 * 3600.0


def unable_to_place(name: str) -> str:
    """ECS's event when a quota on running tasks keeps it from placing (service event messages:
    "service (service-name) was unable to place a task. Reason: You've reached the limit on the
    number of tasks you can run concurrently")."""
    return (
        f"(service {name}) was unable to place a task. Reason: You've reached the limit on the number of tasks "
        "you can run concurrently. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    )


def started(name: str, action: PlaceTasks) -> str:
    listed = " ".join(f"(task {task_id})" for task_id in action.task_ids)
    return f"(service {name}) has started {len(action.task_ids)} tasks: {listed}."


def stopped(name: str, tasks: list[TaskRecord]) -> str:
    listed = " ".join(f"(task {task_id(t)})" for t in tasks)
    return f"(service {name}) has stopped {len(tasks)} running tasks: {listed}."


def throttled(name: str) -> str:
    return f"(service {name}) is unable to consistently start tasks successfully."


def steady(name: str) -> str:
    return f"(service {name}) has reached a steady state."


def container_health_failed(name: str, task: TaskRecord) -> str:
    return f"(service {name}) (task {task_id(task)}) failed container health checks."


def elb_health_failed(name: str, task: TaskRecord, target_group_arn: str) -> str:
    return f"(service {name}) (task {task_id(task)}) failed ELB health checks in (target-group {target_group_arn})."


def registered(name: str, target_group_arn: str) -> str:
    return f"(service {name}) registered 1 targets in (target-group {target_group_arn})"


def deregistered(name: str, target_group_arn: str) -> str:
    return f"(service {name}) deregistered 1 targets in (target-group {target_group_arn})"


# -- the service's status ----------------------------------------------------------------------


def target_events(name: str, tasks: Iterable[TaskRecord], target_groups: dict[str, TargetGroup], status: ServiceStatus) -> list[str]:
    """The registrations the target groups show since the last round, as events (oldest first).

    Updates ``status["targetEvents"]``, the memory of what was announced (see the module's rules).
    """
    previous = status.get("targetEvents", {})
    memory: dict[str, dict[str, str]] = {}
    events: list[str] = []
    for task in tasks:
        if task_model.is_stopped(task):
            continue
        announced = dict(previous.get(task_id(task), {}))
        for registration in targets.registrations_of(task["status"]):
            arn = registration.target_group_arn
            group = target_groups.get(arn)
            if group is None:
                continue  # the target group is gone: nothing happened there to tell
            said = announced.get(arn)
            if said is None and targets.is_registered(group, registration):
                events.append(registered(name, arn))
                announced[arn] = "registered"
            elif said == "registered" and not is_live(task) and targets.is_deregistering(group, registration):
                events.append(deregistered(name, arn))
                announced[arn] = "deregistered"
        if announced:
            memory[task_id(task)] = announced
    if memory:
        status["targetEvents"] = memory
    else:
        status.pop("targetEvents", None)
    return events


def add_events(status: ServiceStatus, messages: list[str], now: float, ids: Ids) -> None:
    """Put this round's events (given oldest first) at the head of the service's events."""
    if not messages:
        return
    new_events: list[Event] = [{"id": ids.event_id(), "createdAt": now, "message": m} for m in reversed(messages)]
    status["events"] = (new_events + list(status.get("events", [])))[: service_model.MAX_EVENTS]
