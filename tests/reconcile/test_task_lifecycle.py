"""A task's path through ECS's states, one planning step at a time."""

from __future__ import annotations

from typing import Any

from reconcile_records import DEFINITION, SCOPE, task

from ecsemu.model import task as task_model
from ecsemu.reconcile.actions import ForgetTask, Launch, RemoveContainers, SetTaskStatus, StopContainers
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.task_lifecycle import TaskSettings, plan_task
from ecsemu.runtime.base import ObservedContainer, ObservedTask

SETTINGS = TaskSettings(stopped_task_retention_s=3600)


def _step(record: dict[str, Any], observed: ObservedTask | None, now: float = 10.0) -> tuple[list[Any], dict[str, Any]]:
    actions = plan_task(SCOPE, "c/" + record["spec"]["taskId"], record, observed, DEFINITION, now, CountingIds(), SETTINGS)
    updates = [a for a in actions if isinstance(a, SetTaskStatus)]
    status = updates[0].status if updates else record["status"]
    return actions, {**record, "status": status}


def _observed(record: dict[str, Any], state: str, **kwargs: Any) -> ObservedTask:
    return ObservedTask(record["spec"]["taskArn"], {"app": ObservedContainer("app", state, **kwargs)})  # type: ignore[arg-type]


def test_provisioning_launches_and_moves_to_pending() -> None:
    actions, record = _step(task("t", last="PROVISIONING", service_name=None), None)
    assert any(isinstance(a, Launch) for a in actions)
    assert record["status"]["lastStatus"] == "PENDING"


def test_running_once_essential_containers_run() -> None:
    record = task("t", last="PENDING", service_name=None)
    _, record = _step(record, _observed(record, "running", started_at=5.0, health="UNKNOWN"))
    assert record["status"]["lastStatus"] == "RUNNING"
    assert record["status"]["startedAt"] == 5.0
    assert record["status"]["containers"]["app"]["lastStatus"] == "RUNNING"


def test_pending_relaunches_until_running() -> None:
    record = task("t", last="PENDING", service_name=None)
    actions, _ = _step(record, _observed(record, "pulling"))
    assert any(isinstance(a, Launch) for a in actions)


def test_essential_exit_stops_the_task_with_ecs_words() -> None:
    record = task("t", last="RUNNING", service_name=None)
    observed = _observed(record, "exited", exit_code=3, finished_at=9.0)
    _, record = _step(record, observed)
    assert task_model.stop_reason(record) == ("EssentialContainerExited", "Essential container in task exited")
    assert record["status"]["containers"]["app"]["exitCode"] == 3
    assert task_model.desired_status(record) == "STOPPED"
    # DEACTIVATING, then STOPPING with the containers already down, then STOPPED.
    _, record = _step(record, observed)
    _, record = _step(record, observed)
    _, record = _step(record, observed)
    assert record["status"]["lastStatus"] == "STOPPED"
    assert record["status"]["executionStoppedAt"] == 9.0


def test_user_stop_walks_the_stop_path() -> None:
    record = task("t", last="RUNNING", service_name=None)
    task_model.request_stop(record, stop_code="UserInitiated", reason="Task stopped by user", now=10.0)
    running = _observed(record, "running")
    seen = []
    actions: list[Any] = []
    for _ in range(2):
        actions, record = _step(record, running)
        seen.append(record["status"]["lastStatus"])
    assert seen == ["DEACTIVATING", "STOPPING"]
    assert any(isinstance(a, StopContainers) and a.timeout_s == 30.0 for a in actions)
    actions, record = _step(record, _observed(record, "exited", exit_code=0, finished_at=11.0))
    assert record["status"]["lastStatus"] == "STOPPED"
    assert any(isinstance(a, RemoveContainers) for a in actions)


def test_pull_failure_fails_the_task_to_start() -> None:
    record = task("t", last="PENDING", service_name=None)
    failed = ObservedTask(record["spec"]["taskArn"], {}, failure="CannotPullContainerError: no such image", failed_container="app")
    _, record = _step(record, failed)
    assert task_model.stop_reason(record) == ("TaskFailedToStart", "CannotPullContainerError: no such image")
    assert record["status"]["containers"]["app"]["reason"] == "CannotPullContainerError: no such image"


def test_stopped_tasks_are_forgotten_after_retention() -> None:
    record = task("t", last="STOPPED", service_name=None)
    record["status"]["stoppedAt"] = 0.0
    assert not [a for a in _step(record, None, now=3599)[0] if isinstance(a, ForgetTask)]
    assert [a for a in _step(record, None, now=3600)[0] if isinstance(a, ForgetTask)]
