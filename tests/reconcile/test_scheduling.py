"""The scheduling core, once: failure classification, launch throttle, stop order, unhealthy
tasks and target events; and that both schedulers (deployments, task sets) decide alike."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reconcile_records import SCOPE, TARGET_GROUP, registered_in, service, target_group, task

from ecsemu.reconcile import scheduling
from ecsemu.reconcile.actions import PlaceTasks, SetServiceStatus, StopTask
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.scheduler import plan_service
from ecsemu.reconcile.task_set_scheduler import plan_task_sets

Record = dict[str, Any]
ELB_REASON = f"Task failed ELB health checks in (target-group {TARGET_GROUP})"


def _stopped(task_id: str, code: str | None, reason: str | None, *, at: float = 1.0, where: str = "status") -> Record:
    record = task(task_id, last="STOPPED")
    record[where].update(stopCode=code, stoppedReason=reason)
    record["status"]["stoppedAt"] = at
    return record


# -- failure classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "where", "failed"),
    [
        ("TaskFailedToStart", "CannotPullContainerError: nope", "status", True),
        ("EssentialContainerExited", "Essential container in task exited", "status", True),
        ("ServiceSchedulerInitiated", scheduling.HEALTH_FAILURE, "spec", True),
        ("ServiceSchedulerInitiated", ELB_REASON, "spec", True),
        ("ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1)", "spec", False),
        ("UserInitiated", "Task stopped by user", "spec", False),
        (None, None, "spec", False),
    ],
)
def test_failure_classification(code: str | None, reason: str | None, where: str, failed: bool) -> None:
    assert scheduling.is_failed(_stopped("t", code, reason, where=where)) is failed


def test_a_task_not_yet_stopped_is_not_failed() -> None:
    record = task("t", last="DEACTIVATING")
    record["status"].update(stopCode="EssentialContainerExited", stoppedReason="Essential container in task exited")
    assert not scheduling.is_failed(record)


# -- launch throttle --------------------------------------------------------------------------

_FAILURE = st.sampled_from(
    [("TaskFailedToStart", "x"), ("EssentialContainerExited", "x"), ("ServiceSchedulerInitiated", ELB_REASON)]
)
_STOPPED_AT = st.floats(1, 1000, allow_nan=False)
NOW = 1000.0


@st.composite
def failures(draw: st.DrawFn, max_size: int = 10) -> list[Record]:
    return [_stopped(f"f{i}", *draw(_FAILURE), at=draw(_STOPPED_AT)) for i in range(draw(st.integers(0, max_size)))]


@settings(max_examples=200, deadline=None)
@given(failures(), _FAILURE, _STOPPED_AT)
def test_throttle_is_bounded_and_never_shrinks_with_more_failures(
    failed: list[Record], extra: tuple[str, str], at: float
) -> None:
    wait = scheduling.launch_at(failed, NOW)
    if len(failed) < scheduling.THROTTLE_AFTER:
        assert wait == NOW
    else:
        last = max(t["status"]["stoppedAt"] for t in failed)
        assert last < wait <= last + scheduling.MAX_BACKOFF_S
    # a launch that more failures still allow, fewer failures allow too
    more = scheduling.launch_at([*failed, _stopped("extra", *extra, at=at)], NOW)
    assert max(more, NOW) >= max(wait, NOW)
    # tasks that did not fail change nothing
    benign = [task("live"), _stopped("scaled", "ServiceSchedulerInitiated", scheduling.scaling_reason("ecs-svc/1"))]
    assert scheduling.launch_at([*failed, *benign], NOW) == wait


# -- stop order -------------------------------------------------------------------------------

_LAST = st.sampled_from(["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"])


@st.composite
def live_tasks(draw: st.DrawFn) -> list[Record]:
    return [
        task(f"t{i}", last=draw(_LAST), created=float(draw(st.integers(0, 5)))) for i in range(draw(st.integers(0, 8)))
    ]


@settings(max_examples=200, deadline=None)
@given(live_tasks(), st.integers(-2, 10))
def test_stop_order_takes_the_least_useful_first(tasks: list[Record], count: int) -> None:
    chosen = scheduling.least_useful(tasks, count)
    assert len(chosen) == min(max(count, 0), len(tasks))
    assert all(any(c is t for t in tasks) for c in chosen)
    left = [t for t in tasks if not any(t is c for c in chosen)]
    for victim in chosen:
        for kept in left:
            assert scheduling.stop_order(victim) <= scheduling.stop_order(kept)
    # everything not yet RUNNING goes before anything RUNNING
    if any(c["status"]["lastStatus"] == "RUNNING" for c in chosen):
        assert all(t["status"]["lastStatus"] == "RUNNING" for t in left)


# -- unhealthy tasks ---------------------------------------------------------------------------


@st.composite
def health_worlds(draw: st.DrawFn) -> tuple[list[Record], dict[str, Record], float]:
    tasks, targets = [], {}
    for i in range(draw(st.integers(0, 8))):
        record = task(f"t{i}", last=draw(_LAST), created=float(draw(st.integers(0, 100))))
        record["status"]["startedAt"] = record["spec"]["createdAt"]
        record["status"]["healthStatus"] = draw(st.sampled_from(["HEALTHY", "UNKNOWN", "UNHEALTHY"]))
        if draw(st.booleans()):
            registered_in(record, 30000 + i)
            targets[30000 + i] = {"state": draw(st.sampled_from(["initial", "healthy", "unhealthy", "draining"]))}
        tasks.append(record)
    return tasks, {TARGET_GROUP: target_group(targets)}, float(draw(st.integers(0, 60)))


@settings(max_examples=200, deadline=None)
@given(health_worlds())
def test_unhealthy_tasks_are_replaced_with_a_reason_that_counts_as_failed(
    world: tuple[list[Record], dict[str, Record], float],
) -> None:
    tasks, groups, grace = world
    spec = {"serviceName": "svc", "healthCheckGracePeriodSeconds": grace}
    events: list[str] = []
    sick, stops = scheduling.replace_unhealthy(SCOPE, spec, tasks, 100.0, groups, events)
    assert [a.key for a in stops if isinstance(a, StopTask)] == [scheduling.task_key(t) for t in sick]
    assert all(any(s is t for t in tasks) for s in sick), "only the given tasks are stopped"
    assert len(events) == len(sick)
    for victim, stop in zip(sick, stops, strict=True):
        assert isinstance(stop, StopTask)
        assert 100.0 - victim["status"]["startedAt"] >= grace, "never within the grace period"
        record = task("after", last="STOPPED")
        record["spec"].update(stopCode=stop.stop_code, stoppedReason=stop.reason)
        assert scheduling.is_failed(record), "a task replaced for failing health checks is a failed task"
    for healthy in (t for t in tasks if not any(t is s for s in sick)):
        if 100.0 - healthy["status"]["startedAt"] >= grace:
            assert healthy["status"]["healthStatus"] != "UNHEALTHY"


# -- the two schedulers decide alike ----------------------------------------------------------


def _external(desired: int, grace: float) -> Record:
    svc = service(desired)
    svc["spec"].update(deploymentController={"type": "EXTERNAL"}, deployments=[], healthCheckGracePeriodSeconds=grace)
    return svc


def _one_task_set() -> list[Record]:
    return [{"id": "ecs-svc/1", "serviceName": "svc", "clusterName": "c", "status": "PRIMARY", "createdAt": 0.0,
             "scale": {"value": 100.0, "unit": "PERCENT"}}]  # fmt: skip


def _decisions(actions: list[Any]) -> tuple[list[tuple[str, str]], int]:
    stops = sorted((a.key, a.reason) for a in actions if isinstance(a, StopTask))
    return stops, sum(len(a.task_ids) for a in actions if isinstance(a, PlaceTasks))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), health_worlds(), failures(max_size=5))
def test_a_deployment_and_a_task_set_of_the_same_tasks_are_scheduled_alike(
    desired: int, world: tuple[list[Record], dict[str, Record], float], failed: list[Record]
) -> None:
    tasks, groups, grace = world
    deployment = service(desired)
    deployment["spec"]["healthCheckGracePeriodSeconds"] = grace
    by_deployment = plan_service(SCOPE, "c/svc", deployment, tasks + failed, 100.0, CountingIds(), groups)
    by_task_set = plan_task_sets(
        SCOPE, "c/svc", _external(desired, grace), _one_task_set(), tasks + failed, 100.0, CountingIds(), groups
    )
    assert _decisions(by_deployment) == _decisions(by_task_set)
    stopped = {key for key, _ in _decisions(by_deployment)[0]}
    assert stopped <= {scheduling.task_key(t) for t in tasks if scheduling.is_live(t)}


# -- target events ------------------------------------------------------------------------------


def _events(actions: list[Any]) -> list[str]:
    status = next((a.status for a in actions if isinstance(a, SetServiceStatus)), {})
    return [e["message"] for e in status.get("events", [])]


def test_a_registration_is_announced_once_when_the_target_group_shows_it() -> None:
    svc = service(1)
    record = registered_in(task("a", last="ACTIVATING"), 30001)
    registered = f"(service svc) registered 1 targets in (target-group {TARGET_GROUP})"
    # asked for, not yet in the target group: nothing to tell
    assert registered not in _events(plan_service(SCOPE, "c/svc", svc, [record], 100.0, CountingIds(), {}))
    groups = {TARGET_GROUP: target_group({30001: {"state": "initial"}})}
    first = plan_service(SCOPE, "c/svc", svc, [record], 100.0, CountingIds(), groups)
    assert _events(first).count(registered) == 1
    svc["status"] = next(a.status for a in first if isinstance(a, SetServiceStatus))
    record["status"]["lastStatus"] = "RUNNING"
    again = plan_service(SCOPE, "c/svc", svc, [record], 101.0, CountingIds(), groups)
    assert _events(again).count(registered) == 1  # the one from before


def test_a_deregistration_is_announced_once_for_a_task_being_stopped() -> None:
    svc = _external(1, 0)
    record = registered_in(task("a"), 30001)
    groups = {TARGET_GROUP: target_group({30001: {"state": "healthy"}})}
    first = plan_task_sets(SCOPE, "c/svc", svc, _one_task_set(), [record], 100.0, CountingIds(), groups)
    svc["status"] = next(a.status for a in first if isinstance(a, SetServiceStatus))
    # a deregistration the service did not ask for (the task is still live) is not ECS's event
    gone = {TARGET_GROUP: target_group({30001: {"deregistered": 100.5}})}
    deregistered = f"(service svc) deregistered 1 targets in (target-group {TARGET_GROUP})"
    assert deregistered not in _events(
        plan_task_sets(SCOPE, "c/svc", svc, _one_task_set(), [record], 101.0, CountingIds(), gone)
    )
    record["spec"]["desiredStatus"] = "STOPPED"
    record["status"]["lastStatus"] = "DEACTIVATING"
    second = plan_task_sets(SCOPE, "c/svc", svc, _one_task_set(), [record], 101.0, CountingIds(), gone)
    assert _events(second).count(deregistered) == 1
    svc["status"] = next(a.status for a in second if isinstance(a, SetServiceStatus))
    empty = {TARGET_GROUP: target_group({})}  # drained and forgotten
    again = plan_task_sets(SCOPE, "c/svc", svc, _one_task_set(), [record], 102.0, CountingIds(), empty)
    assert _events(again).count(deregistered) == 1  # the one from before
    record["status"]["lastStatus"] = "STOPPED"
    final = plan_task_sets(SCOPE, "c/svc", svc, _one_task_set(), [record], 103.0, CountingIds(), empty)
    assert "targetEvents" not in next(a.status for a in final if isinstance(a, SetServiceStatus))


def test_a_target_group_deleted_meanwhile_yields_no_event() -> None:
    record = registered_in(task("a", last="ACTIVATING"), 30001)
    assert not scheduling.target_events("svc", [record], {}, {})
