"""The service scheduler: what one ECS-controller service needs next, as a pure function.

It places, stops, throttles, judges health and words its events through the scheduling core
(``ecsemu.reconcile.scheduling``), which the task set scheduler shares; this module holds only
what deployments add: rolling updates, traffic shifts, the circuit breaker, rollbacks.

Vocabulary (the core's *live*, *unstopped*, *failed*, *unhealthy*, plus):
- *healthy* tasks: live, RUNNING, and not failing a health check (a task whose essential
  containers have health checks counts only once they report HEALTHY), and healthy in every
  target group it is registered in.
- The PRIMARY deployment is the newest; older ones are ACTIVE until they have no tasks.

Rules (ECS's rolling update):
- Never more than floor(desired * maximumPercent / 100) live tasks while a deployment rolls,
  and never stop an old task if that leaves fewer than ceil(desired * minimumHealthyPercent
  / 100) healthy ones. Scaling (desiredCount changes) and replacing failed tasks are not
  bound by the minimum.
- Only tasks whose ``serviceName`` is this service are ever counted or stopped.
- Repeated failures throttle launches (the core's throttle, per deployment).
- The planner is the one writer of the service's ``status``, events included
  (``SetServiceStatus``); target registrations become events as the core derives them.
- The deployment circuit breaker (when enabled) marks the PRIMARY deployment FAILED once its
  failed tasks reach the threshold: ceil(desired / 2), at least 3 and at most 200. A FAILED
  deployment launches nothing more; with rollback, a new deployment of the last COMPLETED
  deployment's task definition starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model.service import Deployment, DeploymentStatus, ServiceRecord, ServiceSpec, ServiceStatus
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import TaskRecord
from ecsemu.reconcile import scheduling, traffic_shift
from ecsemu.reconcile.actions import Action, RollBack, SetServiceStatus, ShiftTraffic
from ecsemu.reconcile.ids import Ids

BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


@dataclass
class _Tasks:
    """A deployment's tasks, sorted into what the rules need."""

    live: list[TaskRecord]
    unstopped: list[TaskRecord]
    stopped: list[TaskRecord]


def _sort(tasks: list[TaskRecord]) -> _Tasks:
    live = [t for t in tasks if scheduling.is_live(t)]
    unstopped = [t for t in tasks if not task_model.is_stopped(t)]
    stopped = [t for t in tasks if task_model.is_stopped(t)]
    return _Tasks(live, unstopped, stopped)


@dataclass
class _Round:
    """One planning round of one service: what its rules read, and what they write.

    ``deployments`` are the service's unretired deployments, oldest first (the last one is
    PRIMARY); ``status`` is the status being computed (what ``SetServiceStatus`` writes);
    ``events`` collects this round's event texts, oldest first.
    """

    scope: Scope
    key: str
    spec: ServiceSpec
    deployments: list[Deployment]
    by_deployment: dict[str, _Tasks]
    now: float
    ids: Ids
    target_groups: dict[str, TargetGroup]
    status: ServiceStatus
    events: list[str]
    capacity: scheduling.Capacity

    @property
    def name(self) -> str:
        return str(self.spec["serviceName"])

    @property
    def primary(self) -> Deployment:
        return self.deployments[-1]

    def old_live(self) -> list[TaskRecord]:
        """The live tasks of every deployment but the PRIMARY."""
        return [t for d in self.deployments[:-1] for t in self.by_deployment[d["id"]].live]

    def start(self, count: int) -> list[Action]:
        """Place ``count`` new tasks of the PRIMARY deployment (as many as the task limit
        allows), with ECS's "has started" event and, when cut, its placement failure event."""
        return scheduling.placing(
            self.scope, self.key, self.primary["id"], count, self.ids, self.capacity,
            self.name, self.status, self.events, self.now,
        )  # fmt: skip

    def stop(self, tasks: list[TaskRecord]) -> list[Action]:
        """Ask excess or old tasks to stop, with ECS's "has stopped" event."""
        if tasks:
            self.events.append(scheduling.stopped(self.name, tasks))
        return scheduling.stop(self.scope, tasks, self.primary["id"] if self.deployments else "unknown")


def plan_service(
    scope: Scope,
    key: str,
    service: ServiceRecord,
    tasks: list[TaskRecord],
    now: float,
    ids: Ids,
    target_groups: dict[str, TargetGroup] | None = None,
    capacity: scheduling.Capacity | None = None,
) -> list[Action]:
    """The actions one service needs. ``capacity``: the room the task limit leaves this round,
    shared by every service (by default, what ``tasks`` leave)."""
    target_groups = target_groups or {}
    capacity = capacity if capacity is not None else scheduling.Capacity.left_by(tasks)
    spec, old = service["spec"], service["status"]
    if service_model.is_inactive(service) or spec["deploymentController"]["type"] != "ECS":
        return []
    status: ServiceStatus = {**old, "deployments": {k: v.copy() for k, v in old.get("deployments", {}).items()}}
    events = scheduling.target_events(spec["serviceName"], tasks, target_groups, status)
    deployments = [d for d in spec["deployments"] if not status["deployments"].get(d["id"], {}).get("retired")]
    by_deployment = {d["id"]: _sort([t for t in tasks if t["spec"].get("deploymentId") == d["id"]]) for d in deployments}
    r = _Round(scope, key, spec, deployments, by_deployment, now, ids, target_groups, status, events, capacity)
    actions: list[Action] = []

    if spec["status"] == "DRAINING":
        actions += r.stop([t for group in by_deployment.values() for t in group.live])
        if not any(group.unstopped for group in by_deployment.values()):
            status["inactive"] = True
    elif deployments:
        actions += _replace_unhealthy(r)
        actions += _stop_requested(r)
        actions += _circuit_breaker(r)
        shifting = service_model.strategy(spec) in service_model.TRAFFIC_SHIFTING and len(deployments) > 1
        if status["deployments"].get(r.primary["id"], {}).get("rolloutState") == "FAILED":
            pass
        elif shifting:
            actions += _shift(r)
        else:
            actions += _roll(r)

    _count(r)
    scheduling.add_events(status, events, now, ids)
    if status != old:
        actions.append(SetServiceStatus(scope, key, status))
    return actions


def _replace_unhealthy(r: _Round) -> list[Action]:
    actions: list[Action] = []
    for group in r.by_deployment.values():
        sick, stops = scheduling.replace_unhealthy(r.scope, r.spec, group.live, r.now, r.target_groups, r.events)
        group.live = [t for t in group.live if t not in sick]
        actions += stops
    return actions


def _circuit_breaker(r: _Round) -> list[Action]:
    breaker = r.spec["deploymentConfiguration"].get("deploymentCircuitBreaker") or {}
    primary = r.primary
    entry = r.status["deployments"].setdefault(primary["id"], {})
    if not breaker.get("enable") or entry.get("rolloutState", "IN_PROGRESS") != "IN_PROGRESS":
        return []
    failures = scheduling.failed(r.by_deployment[primary["id"]].stopped)
    if len(failures) < service_model.breaker_threshold(int(r.spec["desiredCount"])):
        return []
    entry.update({"rolloutState": "FAILED", "rolloutStateReason": BREAKER_REASON, "finishedAt": r.now})
    r.events.append(f"(service {r.name}) (deployment {primary['id']}) deployment failed: tasks failed to start.")
    if not breaker.get("rollback"):
        return []
    return _roll_back_from(r, BREAKER_REASON)


def _roll_back_from(r: _Round, reason: str) -> list[Action]:
    """Start a deployment of the last COMPLETED deployment's task definition, and say so."""
    failed = r.primary
    completed = [
        d for d in r.spec["deployments"][:-1]
        if r.status["deployments"].get(d["id"], {}).get("rolloutState") == "COMPLETED"
    ]  # fmt: skip
    if not completed:
        return []
    target = completed[-1]
    new_id = r.ids.deployment_id()
    r.status["deployments"][failed["id"]]["rollback"] = {"deploymentId": new_id, "reason": reason, "startedAt": r.now}
    r.events.append(f"(service {r.name}) rolling back to deployment {target['id']}.")
    return [RollBack(r.scope, r.key, failed["id"], new_id, target["taskDefinition"])]


def _stop_requested(r: _Round) -> list[Action]:
    """StopServiceDeployment asked (a spec write) to stop the PRIMARY deployment: roll back."""
    primary = r.primary
    request = primary.get("stopRequested")
    entry = r.status["deployments"].setdefault(primary["id"], {})
    if not request or entry.get("stopped") or entry.get("rolloutState", "IN_PROGRESS") != "IN_PROGRESS":
        return []
    entry.update(
        {
            "rolloutState": "FAILED",
            "rolloutStateReason": f"ECS deployment {primary['id']} stopped.",
            "stopped": {"stopType": request.get("stopType", "ROLLBACK"), "at": r.now},
        }
    )
    r.events.append(f"(service {r.name}) (deployment {primary['id']}) deployment stopped.")
    return _roll_back_from(r, "Service deployment rolled back because of a stop request.")


def _roll(r: _Round) -> list[Action]:
    desired = int(r.spec["desiredCount"])
    configuration = r.spec["deploymentConfiguration"]
    maximum = math.floor(desired * configuration["maximumPercent"] / 100)
    minimum_healthy = math.ceil(desired * configuration["minimumHealthyPercent"] / 100)
    new = r.by_deployment[r.primary["id"]]
    old_live = r.old_live()
    actions: list[Action] = []

    # Scale in: the primary has more than it should.
    excess = len(new.live) - desired
    if excess > 0:
        victims = scheduling.least_useful(new.live, excess, r.now)
        actions += r.stop(victims)
        new.live = [t for t in new.live if t not in victims]

    # Stop old tasks, keeping the minimum healthy.
    healthy = sum(1 for t in new.live + old_live if scheduling.is_healthy(t, r.target_groups))
    stoppable = healthy - minimum_healthy
    stopped_old = []
    for task in sorted(old_live, key=scheduling.stop_order):
        if not scheduling.is_healthy(task, r.target_groups):
            stopped_old.append(task)
        elif stoppable > 0:
            stopped_old.append(task)
            stoppable -= 1
    actions += r.stop(stopped_old)
    old_live = [t for t in old_live if t not in stopped_old]

    # Start new tasks, within maximumPercent while old tasks remain.
    need = desired - len(new.live)
    room = need if not old_live else min(need, maximum - len(new.live) - len(old_live))
    if need > 0 and room <= 0 and not stopped_old:
        if not r.status.get("stuck"):
            r.events.append(
                f"(service {r.name}) was unable to stop or start tasks during a deployment because of the service "
                "deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
            )
        r.status["stuck"] = True
    else:
        r.status.pop("stuck", None)
    if room > 0:
        wait_until = scheduling.launch_at(new.stopped, r.now)
        if wait_until > r.now:
            if not r.status.get("throttled"):
                r.events.append(scheduling.throttled(r.name))
            r.status["throttled"] = True
            r.status["nextLaunchAt"] = wait_until
        else:
            r.status.pop("throttled", None)
            r.status.pop("nextLaunchAt", None)
            actions += r.start(room)
    return actions


def _shift(r: _Round) -> list[Action]:
    """Blue/green, linear, canary: start the new revision in full beside the old one, move the
    production listener rules' weights once it is healthy, retire the old after the bake."""
    primary = r.primary
    new = r.by_deployment[primary["id"]]
    entry = r.status["deployments"].setdefault(primary["id"], {})
    configuration = r.spec["deploymentConfiguration"]
    desired = int(r.spec["desiredCount"])
    need = desired - len(new.live)
    if need > 0:
        return r.start(need)
    if need < 0 or sum(1 for t in new.live if scheduling.is_healthy(t, r.target_groups)) < desired:
        return []  # wait until the new revision is healthy in full
    percent = int(entry.get("trafficPercent", 0))
    wanted = traffic_shift.next_percent(configuration, percent, entry.get("trafficShiftedAt"), r.now)
    actions: list[Action] = []
    if wanted != percent:
        previous = r.deployments[-2]
        new_groups, old_groups = primary.get("targetGroupArns") or [], previous.get("targetGroupArns") or []
        for index, balancer in enumerate(r.spec.get("loadBalancers") or []):
            rule = (balancer.get("advancedConfiguration") or {}).get("productionListenerRule")
            if rule and index < len(new_groups) and index < len(old_groups) and new_groups[index] != old_groups[index]:
                weights = ((new_groups[index], wanted), (old_groups[index], 100 - wanted))
                actions.append(ShiftTraffic(r.scope, rule, weights))
        entry.update({"trafficPercent": wanted, "trafficShiftedAt": r.now})
        r.events.append(
            f"(service {r.name}) (deployment {primary['id']}) shifted {wanted}% of production traffic to the new revision."
        )
        return actions
    if wanted >= 100 and traffic_shift.bake_over(configuration, entry.get("trafficShiftedAt"), r.now):
        actions += r.stop(r.old_live())
    return actions


def _count(r: _Round) -> None:
    """Each deployment's counts and rolloutState; the service's steady state."""
    spec, status = r.spec, r.status
    primary_id = r.primary["id"] if r.deployments else None
    for deployment in r.deployments:
        group = r.by_deployment[deployment["id"]]
        entry = status["deployments"].setdefault(deployment["id"], {})
        running = sum(1 for t in group.unstopped if t["status"].get("lastStatus") == "RUNNING")
        pending = sum(1 for t in group.unstopped if t["status"].get("lastStatus") in task_model.PENDING_STATES)
        counts: DeploymentStatus = {"runningCount": running, "pendingCount": pending, "failedTasks": len(scheduling.failed(group.stopped))}
        if deployment["id"] != primary_id:
            counts["desiredCount"] = len(group.live)
            if not group.unstopped and spec["status"] == "ACTIVE":
                counts["retired"] = True
        changed = any(entry.get(k) != v for k, v in counts.items())
        entry.update(counts)
        if changed:
            entry["updatedAt"] = r.now
    if primary_id is None or spec["status"] != "ACTIVE":
        return
    entry = status["deployments"][primary_id]
    others = [d for d in r.deployments[:-1] if not status["deployments"][d["id"]].get("retired")]
    group = r.by_deployment[primary_id]
    healthy = sum(1 for t in group.live if scheduling.is_healthy(t, r.target_groups))
    settled = not others and healthy == spec["desiredCount"] and len(group.unstopped) == spec["desiredCount"]
    if entry.get("rolloutState", "IN_PROGRESS") == "IN_PROGRESS":
        entry["rolloutState"] = "IN_PROGRESS"
        entry["rolloutStateReason"] = f"ECS deployment {primary_id} in progress."
        if settled:
            entry["rolloutState"] = "COMPLETED"
            entry["rolloutStateReason"] = f"ECS deployment {primary_id} completed."
            entry["updatedAt"] = r.now
            r.events.append(f"(service {r.name}) (deployment {primary_id}) deployment completed.")
    steady = settled and entry["rolloutState"] == "COMPLETED"
    if steady and not status.get("steady"):
        r.events.append(scheduling.steady(r.name))
    status["steady"] = steady
