"""``plan(world, observed, now, ids)``: every action the world needs next. Pure.

``World`` is a snapshot of the desired state (tasks, services and the task definitions they
use, per scope). ``observed`` is the runtime's view, keyed by task ARN. Containers the
runtime holds for tasks that no longer exist are removed: that is how orphans left by a
crash are cleaned up.

Invariant: the planner never changes the records of the ``World`` — they are shared with later
rounds (``ecsemu.state.mirror``). A new status is a new object (``{**old, ...}``, new lists and
dicts for what changes); the test suite checks it every round (``ECSEMU_VERIFY_SHARED_RECORDS``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ecsemu.context import Scope
from ecsemu.model.service import ServiceRecord
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import TaskDefinition, TaskRecord
from ecsemu.model.task_set import TaskSetRecord, task_sets_of
from ecsemu.reconcile.actions import Action, RemoveContainers
from ecsemu.reconcile.ids import Ids
from ecsemu.reconcile.scheduler import plan_service
from ecsemu.reconcile.scheduling import Capacity
from ecsemu.reconcile.task_lifecycle import TaskSettings, plan_task
from ecsemu.reconcile.task_set_scheduler import plan_task_sets
from ecsemu.runtime.base import ObservedTask


@dataclass
class ScopeState:
    tasks: dict[str, TaskRecord] = field(default_factory=dict)  # key → task record
    services: dict[str, ServiceRecord] = field(default_factory=dict)  # key → service record
    definitions: dict[str, TaskDefinition] = field(default_factory=dict)  # task definition ARN → record
    task_sets: dict[str, TaskSetRecord] = field(default_factory=dict)  # key → task set record
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)  # target group ARN → typed view


@dataclass
class World:
    scopes: dict[Scope, ScopeState] = field(default_factory=dict)


def plan(
    world: World, observed: dict[str, ObservedTask], now: float, ids: Ids, settings: TaskSettings
) -> list[Action]:
    actions: list[Action] = []
    known_arns: set[str] = set()
    # The task limit is ecsemu's, over every scope: one room for the whole round.
    capacity = Capacity.left_by(task for state in world.scopes.values() for task in state.tasks.values())
    for scope, state in world.scopes.items():
        tasks_by_service: dict[str, list[TaskRecord]] = defaultdict(list)
        for key, task in state.tasks.items():
            spec = task["spec"]
            known_arns.add(spec["taskArn"])
            definition = state.definitions.get(spec["taskDefinitionArn"])
            actions += plan_task(
                scope, key, task, observed.get(spec["taskArn"]), definition, now, ids, settings, state.target_groups
            )
            if "serviceName" in spec:
                tasks_by_service[f"{spec['clusterName']}/{spec['serviceName']}"].append(task)
        for key, service in state.services.items():
            own = tasks_by_service.get(key, [])
            actions += plan_service(scope, key, service, own, now, ids, state.target_groups, capacity)
            owned = task_sets_of(key, state.task_sets.values())
            actions += plan_task_sets(scope, key, service, owned, own, now, ids, state.target_groups, capacity)
    for task_arn in observed:
        if task_arn not in known_arns:
            actions.append(RemoveContainers(task_arn))
    return actions


def in_motion(world: World) -> bool:
    """Whether anything is between states, so the loop should look again soon."""
    for state in world.scopes.values():
        for task in state.tasks.values():
            last = task["status"].get("lastStatus", "PROVISIONING")
            if last != "STOPPED" and (last != "RUNNING" or task["spec"]["desiredStatus"] != "RUNNING"):
                return True
        for service in state.services.values():
            if not service["status"].get("steady") and not service["status"].get("inactive"):
                return True
    return False
