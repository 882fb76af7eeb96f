"""The service scheduler's rules, exactly, and its safety properties under random worlds."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from reconcile_records import SCOPE, service, task

from ecsemu.model.service import breaker_threshold
from ecsemu.reconcile.actions import PlaceTasks, RollBack, SetServiceStatus, StopTask
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.scheduler import plan_service


def _plan(svc: dict[str, Any], tasks: list[dict[str, Any]], now: float = 100.0) -> list[Any]:
    return plan_service(SCOPE, "c/svc", svc, tasks, now, CountingIds())


def _status(actions: list[Any]) -> dict[str, Any]:
    return next(a.status for a in actions if isinstance(a, SetServiceStatus))


def test_places_the_missing_tasks_with_an_event() -> None:
    actions = _plan(service(3), [task("a")])
    placed = [a for a in actions if isinstance(a, PlaceTasks)]
    assert len(placed) == 1 and len(placed[0].task_ids) == 2
    message = _status(actions)["events"][0]["message"]
    assert message.startswith("(service svc) has started 2 tasks: (task ")


def test_scale_in_stops_pending_before_running_and_newest_first() -> None:
    tasks = [task("old", created=1), task("new", created=2), task("pending", last="PENDING", created=0)]
    stops = [a for a in _plan(service(1), tasks) if isinstance(a, StopTask)]
    assert [a.key for a in stops] == ["c/pending", "c/new"]
    assert all(a.reason == "Scaling activity initiated by (deployment ecs-svc/1)" for a in stops)


def test_steady_state_and_completed_deployment() -> None:
    status = _status(_plan(service(2), [task("a"), task("b")]))
    messages = [e["message"] for e in status["events"]]
    assert messages == [
        "(service svc) has reached a steady state.",
        "(service svc) (deployment ecs-svc/1) deployment completed.",
    ]
    assert status["deployments"]["ecs-svc/1"]["rolloutState"] == "COMPLETED"


def test_unhealthy_task_is_replaced_after_the_grace_period() -> None:
    svc = service(1)
    svc["spec"]["healthCheckGracePeriodSeconds"] = 60
    sick = task("sick", created=0, health="UNHEALTHY")
    assert not [a for a in _plan(svc, [sick], now=30) if isinstance(a, StopTask)]
    stops = [a for a in _plan(svc, [sick], now=61) if isinstance(a, StopTask)]
    assert [(a.key, a.reason) for a in stops] == [("c/sick", "Task failed container health checks")]


def test_rolling_update_with_no_room_reports_it_is_stuck() -> None:
    svc = service(2, deployments=("ecs-svc/1", "ecs-svc/2"), minimum=100, maximum=100)
    actions = _plan(svc, [task("a"), task("b")])
    assert not [a for a in actions if isinstance(a, PlaceTasks | StopTask)]
    assert "was unable to stop or start tasks during a deployment" in _status(actions)["events"][0]["message"]


def test_repeated_failures_throttle_launches() -> None:
    failed = []
    for index in range(4):
        dead = task(f"f{index}", last="STOPPED")
        dead["status"].update(stopCode="EssentialContainerExited", stoppedReason="Essential container in task exited", stoppedAt=99.0)
        failed.append(dead)
    actions = _plan(service(1), failed, now=100.0)
    assert not [a for a in actions if isinstance(a, PlaceTasks)]
    assert _status(actions)["events"][0]["message"] == "(service svc) is unable to consistently start tasks successfully."
    assert [a for a in _plan(service(1), failed, now=200.0) if isinstance(a, PlaceTasks)]


# -- properties of a rolling update ------------------------------------------------------------

_LAST = st.sampled_from(["PENDING", "RUNNING", "RUNNING", "RUNNING"])


@st.composite
def rolling_worlds(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    desired = draw(st.integers(0, 8))
    minimum = draw(st.integers(0, 100))
    maximum = draw(st.integers(max(100, minimum), 200))
    svc = service(desired, deployments=("ecs-svc/1", "ecs-svc/2"), minimum=minimum, maximum=maximum)
    old = [task(f"o{i}", deployment="ecs-svc/1", last=draw(_LAST), created=i) for i in range(draw(st.integers(0, 8)))]
    new = [task(f"n{i}", deployment="ecs-svc/2", last=draw(_LAST), created=10 + i) for i in range(draw(st.integers(0, 8)))]
    return svc, old + new


@settings(max_examples=300, deadline=None)
@given(rolling_worlds())
def test_a_rolling_step_keeps_the_bounds(world: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    svc, tasks = world
    spec = svc["spec"]
    desired = spec["desiredCount"]
    maximum = math.floor(desired * spec["deploymentConfiguration"]["maximumPercent"] / 100)
    minimum = math.ceil(desired * spec["deploymentConfiguration"]["minimumHealthyPercent"] / 100)
    actions = _plan(svc, tasks)
    stopped = {a.key for a in actions if isinstance(a, StopTask)}
    placed = sum(len(a.task_ids) for a in actions if isinstance(a, PlaceTasks))
    own = {f"c/{t['spec']['taskId']}" for t in tasks}
    assert stopped <= own  # never a task the service does not own
    live_after = [t for t in tasks if f"c/{t['spec']['taskId']}" not in stopped]
    old_live = [t for t in live_after if t["spec"]["deploymentId"] == "ecs-svc/1"]
    if old_live and placed:
        assert len(live_after) + placed <= max(maximum, len(tasks))  # never above maximumPercent by starting
    healthy_before = sum(1 for t in tasks if t["status"]["lastStatus"] == "RUNNING")
    healthy_after = sum(1 for t in live_after if t["status"]["lastStatus"] == "RUNNING")
    new_count = sum(1 for t in tasks if t["spec"]["deploymentId"] == "ecs-svc/2")
    if new_count <= desired:  # no scale-in of the new deployment in this step
        # stopping old tasks never takes healthy below the minimum (unless it already was)
        assert healthy_after >= min(minimum, healthy_before)


def _failed_tasks(count: int, deployment: str) -> list[dict[str, Any]]:
    failed = []
    for index in range(count):
        dead = task(f"{deployment[-1]}f{index}", deployment=deployment, last="STOPPED")
        dead["status"].update(stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError: nope", stoppedAt=1.0)
        failed.append(dead)
    return failed


def test_circuit_breaker_fails_and_rolls_back_to_the_last_completed_deployment() -> None:
    svc = service(4, deployments=("ecs-svc/1", "ecs-svc/2"))
    svc["spec"]["deploymentConfiguration"]["deploymentCircuitBreaker"] = {"enable": True, "rollback": True}
    svc["status"] = {"deployments": {"ecs-svc/1": {"rolloutState": "COMPLETED"}}}
    old = [task(f"o{i}", deployment="ecs-svc/1") for i in range(4)]
    assert not [a for a in _plan(svc, old + _failed_tasks(2, "ecs-svc/2")) if isinstance(a, RollBack)]
    actions = _plan(svc, old + _failed_tasks(3, "ecs-svc/2"))  # threshold: max(ceil(4/2), 3) = 3
    rollback = [a for a in actions if isinstance(a, RollBack)]
    assert [(a.failed_deployment_id, a.task_definition) for a in rollback] == [("ecs-svc/2", svc["spec"]["taskDefinition"])]
    status = _status(actions)
    assert status["deployments"]["ecs-svc/2"]["rolloutState"] == "FAILED"
    assert status["deployments"]["ecs-svc/2"]["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    messages = [e["message"] for e in status["events"]]
    assert "(service svc) (deployment ecs-svc/2) deployment failed: tasks failed to start." in messages
    assert "(service svc) rolling back to deployment ecs-svc/1." in messages
    assert not [a for a in actions if isinstance(a, PlaceTasks | StopTask)]  # a FAILED deployment launches nothing


def test_breaker_threshold_is_clamped() -> None:
    assert [breaker_threshold(n) for n in (0, 1, 6, 7, 10, 1000)] == [3, 3, 3, 4, 5, 200]
