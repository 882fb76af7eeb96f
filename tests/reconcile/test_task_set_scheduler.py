"""The task set scheduler's rules, exactly, and its safety properties under random worlds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.model.task_set import computed_desired_count, task_sets_of
from ecsemu.reconcile.actions import PlaceTasks, SetServiceStatus, StopTask
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.task_set_scheduler import plan_task_sets

SCOPE = Scope("123456789012", "us-east-1")
KEY = "c/svc"
DEFINITION: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    "family": "web",
    "revision": 1,
    "containerDefinitions": [{"name": "app", "image": "web", "memory": 64, "essential": True}],
    "networkMode": "bridge",
}


def service(
    desired: int, *, controller: str = "EXTERNAL", status: str = "ACTIVE", grace: int | None = None
) -> dict[str, Any]:
    spec = {
        "serviceName": "svc",
        "clusterName": "c",
        "status": status,
        "desiredCount": desired,
        "deploymentController": {"type": controller},
        "deployments": [],
        "healthCheckGracePeriodSeconds": grace,
    }
    return {"spec": spec, "status": {}}


def task_set(set_id: str, scale: float, *, status: str = "ACTIVE", created: float = 0.0) -> dict[str, Any]:
    return {
        "id": set_id,
        "serviceName": "svc",
        "clusterName": "c",
        "status": status,
        "scale": {"value": scale, "unit": "PERCENT"},
        "createdAt": created,
    }


def task(
    task_id: str,
    set_id: str = "ecs-svc/1",
    *,
    last: str = "RUNNING",
    created: float = 0.0,
    stop: str | None = None,
    health: str | None = None,
) -> dict[str, Any]:
    record = task_model.new_task(
        SCOPE,
        task_id=task_id,
        cluster_name="c",
        definition=DEFINITION,
        now=created,
        started_by=set_id,
        service_name="svc",
        deployment_id=set_id,
    )
    record["status"]["lastStatus"] = last
    if last == "RUNNING":
        record["status"]["startedAt"] = created
    if health:
        record["status"]["healthStatus"] = health
    if stop:
        record["status"].update(
            {"stopCode": stop, "stoppedReason": "Essential container in task exited", "stoppedAt": created}
        )
    return record


def plan(svc: dict[str, Any], sets: list[dict[str, Any]], tasks: list[dict[str, Any]], now: float = 100.0) -> list[Any]:
    return plan_task_sets(SCOPE, KEY, svc, sets, tasks, now, CountingIds())


def status_of(actions: list[Any]) -> dict[str, Any]:
    return next(a.status for a in actions if isinstance(a, SetServiceStatus))


def messages(actions: list[Any]) -> list[str]:
    return [e["message"] for e in status_of(actions)["events"]]


# -- rules, exactly -------------------------------------------------------------------------


def test_computed_desired_count_rounds_up() -> None:
    assert computed_desired_count(4, {"value": 30.0}) == 2
    assert computed_desired_count(3, {"value": 50.0}) == 2
    assert computed_desired_count(10, {"value": 10.0}) == 1
    assert computed_desired_count(3, {"value": 100 / 3}) == 1
    assert computed_desired_count(5, {"value": 0.0}) == 0
    assert computed_desired_count(5, None) == 0


def test_task_sets_of_selects_one_service() -> None:
    mine, other = task_set("ecs-svc/1", 50), {**task_set("ecs-svc/2", 50), "serviceName": "svc-2"}
    assert task_sets_of(KEY, [mine, other]) == [mine]


def test_other_controllers_and_inactive_services_are_left_alone() -> None:
    assert plan(service(2, controller="ECS"), [task_set("ecs-svc/1", 100)], []) == []
    inactive = service(2)
    inactive["status"]["inactive"] = True
    assert plan(inactive, [task_set("ecs-svc/1", 100)], []) == []


def test_places_each_task_set_up_to_its_computed_count() -> None:
    actions = plan(service(4), [task_set("ecs-svc/1", 50), task_set("ecs-svc/2", 30, created=1)], [task("a")])
    placed = [(a.service_key, a.deployment_id, len(a.task_ids)) for a in actions if isinstance(a, PlaceTasks)]
    assert placed == [(KEY, "ecs-svc/1", 1), (KEY, "ecs-svc/2", 2)]
    assert next(m for m in messages(actions) if "has started" in m).startswith(
        "(service svc) has started 2 tasks: (task "
    )
    counts = status_of(actions)["taskSetCounts"]
    assert counts["ecs-svc/1"] == {
        "runningCount": 1,
        "pendingCount": 0,
        "stabilityStatus": "STABILIZING",
        "stabilityStatusAt": 100.0,
    }
    assert status_of(actions)["steady"] is False


def test_scale_in_stops_pending_before_running_and_newest_first() -> None:
    tasks = [task("old", created=1), task("new", created=2), task("pending", last="PENDING", created=0)]
    stops = [a for a in plan(service(4), [task_set("ecs-svc/1", 25)], tasks) if isinstance(a, StopTask)]
    assert [a.key for a in stops] == ["c/pending", "c/new"]
    assert all(
        (a.stop_code, a.reason) == ("ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1)")
        for a in stops
    )


def test_steady_state_is_reported_once_and_keeps_its_time() -> None:
    sets = [task_set("ecs-svc/1", 50)]
    first = plan(service(4), sets, [task("a"), task("b")], now=100)
    status = status_of(first)
    assert status["taskSetCounts"]["ecs-svc/1"]["stabilityStatus"] == "STEADY_STATE"
    assert messages(first) == ["(service svc) has reached a steady state."]
    svc = service(4)
    svc["status"] = status
    assert plan(svc, sets, [task("a"), task("b")], now=200) == []


def test_draining_task_set_stops_its_tasks_then_is_drained() -> None:
    sets = [task_set("ecs-svc/1", 100, status="DRAINING")]
    actions = plan(service(2), sets, [task("a"), task("b", last="PENDING")])
    assert sorted(a.key for a in actions if isinstance(a, StopTask)) == ["c/a", "c/b"]
    assert "drained" not in status_of(actions)["taskSetCounts"]["ecs-svc/1"]
    stopped = [task("a", last="STOPPED"), task("b", last="STOPPED")]
    assert status_of(plan(service(2), sets, stopped))["taskSetCounts"]["ecs-svc/1"]["drained"] is True


def test_tasks_of_a_vanished_task_set_are_stopped() -> None:
    actions = plan(service(1), [task_set("ecs-svc/2", 100)], [task("stray", "ecs-svc/1"), task("kept", "ecs-svc/2")])
    stops = [a for a in actions if isinstance(a, StopTask)]
    assert [(a.key, a.reason) for a in stops] == [("c/stray", "Scaling activity initiated by (deployment ecs-svc/1)")]
    assert "(service svc) has stopped 1 running tasks: (task stray)." in messages(actions)


def test_draining_service_stops_everything_then_goes_inactive() -> None:
    draining = service(0, status="DRAINING")
    actions = plan(draining, [task_set("ecs-svc/1", 100)], [task("a")])
    assert [a.key for a in actions if isinstance(a, StopTask)] == ["c/a"]
    assert "inactive" not in status_of(actions)
    assert status_of(plan(draining, [task_set("ecs-svc/1", 100)], [task("a", last="STOPPED")]))["inactive"] is True


def test_unhealthy_task_is_replaced_after_the_grace_period() -> None:
    sick = task("sick", health="UNHEALTHY", created=0)
    assert not [
        a for a in plan(service(1, grace=60), [task_set("ecs-svc/1", 100)], [sick], now=30) if isinstance(a, StopTask)
    ]
    actions = plan(service(1, grace=60), [task_set("ecs-svc/1", 100)], [sick], now=61)
    assert [(a.key, a.reason) for a in actions if isinstance(a, StopTask)] == [
        ("c/sick", "Task failed container health checks")
    ]
    assert [len(a.task_ids) for a in actions if isinstance(a, PlaceTasks)] == [1]


def test_repeated_failures_throttle_launches() -> None:
    failed = [task(f"f{i}", last="STOPPED", created=90 + i, stop="EssentialContainerExited") for i in range(4)]
    actions = plan(service(1), [task_set("ecs-svc/1", 100)], failed, now=94)
    assert not [a for a in actions if isinstance(a, PlaceTasks)]
    assert "(service svc) is unable to consistently start tasks successfully." in messages(actions)
    later = plan(service(1), [task_set("ecs-svc/1", 100)], failed, now=96)
    assert [len(a.task_ids) for a in later if isinstance(a, PlaceTasks)] == [1]


# -- properties under random worlds ---------------------------------------------------------

LAST = st.sampled_from(["PROVISIONING", "PENDING", "RUNNING", "STOPPING", "STOPPED"])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    svc = service(draw(st.integers(0, 8)), status=draw(st.sampled_from(["ACTIVE", "ACTIVE", "DRAINING"])))
    sets = [
        task_set(
            f"ecs-svc/{i}",
            draw(st.sampled_from([0.0, 10.0, 33.3, 50.0, 100.0])),
            status=draw(st.sampled_from(["ACTIVE", "PRIMARY", "DRAINING"])),
            created=i,
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    tasks = []
    for n in range(draw(st.integers(0, 12))):
        owner = f"ecs-svc/{draw(st.integers(0, 4))}"
        record = task(f"t{n}", owner, last=draw(LAST), created=float(n))
        if draw(st.booleans()) and record["status"]["lastStatus"] != "STOPPED":
            record["spec"]["desiredStatus"] = "STOPPED"
        tasks.append(record)
    return svc, sets, tasks


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_every_task_set_ends_at_its_computed_count_and_nothing_else_is_touched(
    world: tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    svc, sets, tasks = world
    actions = plan(svc, sets, tasks)
    keys = {f"c/{t['spec']['taskId']}" for t in tasks}
    stopped = {a.key for a in actions if isinstance(a, StopTask)}
    assert stopped <= keys, "only the service's own tasks are ever stopped"
    by_id = {f"c/{t['spec']['taskId']}": t for t in tasks}
    assert all(task_model.desired_status(by_id[k]) == "RUNNING" for k in stopped), "a task is asked to stop once"
    placed: dict[str, int] = {}
    for action in actions:
        if isinstance(action, PlaceTasks):
            assert action.service_key == KEY
            placed[action.deployment_id] = placed.get(action.deployment_id, 0) + len(action.task_ids)
    draining_service = svc["spec"]["status"] == "DRAINING"
    for task_set_record in sets:
        wanted = 0
        if not draining_service and task_set_record["status"] != "DRAINING":
            wanted = computed_desired_count(svc["spec"]["desiredCount"], task_set_record["scale"])
        live = [
            k
            for k, t in by_id.items()
            if t["spec"]["deploymentId"] == task_set_record["id"]
            and task_model.desired_status(t) == "RUNNING"
            and k not in stopped
        ]
        assert len(live) + placed.get(task_set_record["id"], 0) == wanted
    assert set(placed) <= {r["id"] for r in sets}, "tasks are placed only for existing task sets"
    known = {r["id"] for r in sets}
    for key, record in by_id.items():
        if record["spec"]["deploymentId"] not in known and task_model.desired_status(record) == "RUNNING":
            assert key in stopped, "tasks of vanished task sets are stopped"


def test_task_sets_left_by_an_earlier_service_of_that_name_are_ignored() -> None:
    svc = service(2)
    svc["spec"]["createdAt"] = 50.0
    old, new = task_set("ecs-svc/1", 100, created=10.0), task_set("ecs-svc/2", 100, created=60.0)
    actions = plan(svc, [old, new], [task("leftover", "ecs-svc/1")])
    assert [a.deployment_id for a in actions if isinstance(a, PlaceTasks)] == ["ecs-svc/2"]
    assert [a.key for a in actions if isinstance(a, StopTask)] == ["c/leftover"]
    assert list(status_of(actions)["taskSetCounts"]) == ["ecs-svc/2"]
