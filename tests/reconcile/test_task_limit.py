"""The task limit (issue 11, finding 3): however large a desired count, the planner builds no
more than ``config.MAX_TASKS`` tasks' worth of anything, places only what the limit leaves over
every service, and says so with ECS's placement failure event, once while the cause lasts."""

from __future__ import annotations

import time
from typing import Any

from reconcile_records import SCOPE, service, task

from ecsemu import config
from ecsemu.reconcile.actions import PlaceTasks, SetServiceStatus
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.plan import ScopeState, World, plan
from ecsemu.reconcile.scheduler import plan_service
from ecsemu.reconcile.scheduling import Capacity, unable_to_place
from ecsemu.reconcile.task_lifecycle import TaskSettings

LIMIT_EVENT = (
    "(service svc) was unable to place a task. Reason: You've reached the limit on the number of tasks you can run "
    "concurrently. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)


def _placed(actions: list[Any]) -> int:
    return sum(len(a.task_ids) for a in actions if isinstance(a, PlaceTasks))


def _messages(actions: list[Any]) -> list[str]:
    return [e["message"] for a in actions if isinstance(a, SetServiceStatus) for e in a.status.get("events", [])]


def test_a_huge_desired_count_places_only_up_to_the_limit_at_once() -> None:
    began = time.monotonic()
    actions = plan_service(SCOPE, "c/svc", service(2**31 - 1), [task("a")], 100.0, CountingIds())
    assert time.monotonic() - began < 5
    assert _placed(actions) == config.MAX_TASKS - 1
    assert unable_to_place("svc") == LIMIT_EVENT
    assert LIMIT_EVENT in _messages(actions)


def test_at_the_limit_nothing_is_placed_and_the_event_is_not_repeated() -> None:
    full = Capacity(0)
    first = plan_service(SCOPE, "c/svc", service(5), [task("a")], 100.0, CountingIds(), capacity=full)
    assert _placed(first) == 0
    status = next(a.status for a in first if isinstance(a, SetServiceStatus))
    assert status["events"][0]["message"] == LIMIT_EVENT
    again = service(5)
    again["status"] = status
    second = plan_service(SCOPE, "c/svc", again, [task("a")], 160.0, CountingIds(), capacity=Capacity(0))
    assert _placed(second) == 0
    assert all(not isinstance(a, SetServiceStatus) or a.status["events"] == status["events"] for a in second)


def test_the_limit_is_shared_by_every_service_of_every_scope() -> None:
    other_scope = SCOPE._replace(region="eu-west-1")
    world = World()
    first, second = service(config.MAX_TASKS), service(config.MAX_TASKS)
    second["spec"]["serviceName"] = "other"
    world.scopes[SCOPE] = ScopeState(services={"c/svc": first})
    world.scopes.setdefault(other_scope, ScopeState()).services["c/other"] = second
    actions = plan(world, {}, 100.0, CountingIds(), TaskSettings())
    assert _placed(actions) == config.MAX_TASKS


def test_within_the_limit_nothing_changes() -> None:
    actions = plan_service(SCOPE, "c/svc", service(3), [task("a")], 100.0, CountingIds())
    assert _placed(actions) == 2
    assert LIMIT_EVENT not in _messages(actions)
