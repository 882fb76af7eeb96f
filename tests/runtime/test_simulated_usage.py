"""The simulated runtime's utilization hook: ``set_utilization`` then ``usage`` (what the
metrics collector reads), for tasks it holds, and not for stopped or unknown ones."""

from __future__ import annotations

import pytest

from ecsemu.runtime.base import TaskLaunch, TaskUsage
from ecsemu.runtime.simulated import SimulatedRuntime, UnknownTarget

ARN = "arn:aws:ecs:us-east-1:123456789012:task/c/{}"


class Clock:
    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def __call__(self) -> float:
        return self.at


def _launch(runtime: SimulatedRuntime, task_id: str) -> str:
    arn = ARN.format(task_id)
    runtime.launch(
        TaskLaunch(
            task_arn=arn, task_id=task_id, cluster="c", family="web", revision=1, network_mode="awsvpc",
            containers=[{"name": "app", "image": "app:1", "portMappings": []}],
        )
    )  # fmt: skip
    return arn


def _runtime(state: dict | None = None) -> tuple[SimulatedRuntime, Clock]:  # type: ignore[type-arg]
    clock = Clock()
    return SimulatedRuntime(state, pull_s=1.0, stop_s=1.0, clock=clock), clock


def test_a_task_uses_nothing_until_told_then_reports_what_it_was_told() -> None:
    runtime, clock = _runtime()
    arn = _launch(runtime, "t1")
    clock.at += 2
    assert runtime.usage([arn]) == {arn: TaskUsage(cpu_percent=0.0, memory_percent=0.0)}
    runtime.set_utilization(arn, cpu_percent=75, memory_percent=40.5)
    [usage] = runtime.usage([arn]).values()
    assert (usage.cpu_percent, usage.memory_percent) == (75.0, 40.5)
    assert usage.cpu_seconds is None and usage.memory_mib is None  # percents, taken as they are


def test_setting_one_keeps_the_other() -> None:
    runtime, _ = _runtime()
    arn = _launch(runtime, "t1")
    runtime.set_utilization(arn, cpu_percent=80, memory_percent=30)
    runtime.set_utilization(arn, cpu_percent=10)
    assert runtime.usage([arn])[arn] == TaskUsage(cpu_percent=10.0, memory_percent=30.0)
    runtime.set_utilization(arn, memory_percent=90)
    assert runtime.usage([arn])[arn] == TaskUsage(cpu_percent=10.0, memory_percent=90.0)


def test_only_the_tasks_asked_for_are_returned() -> None:
    runtime, _ = _runtime()
    one, two = _launch(runtime, "t1"), _launch(runtime, "t2")
    runtime.set_utilization(one, cpu_percent=50)
    runtime.set_utilization(two, cpu_percent=20)
    assert set(runtime.usage([one])) == {one}
    assert runtime.usage([]) == {}
    assert runtime.usage([ARN.format("never-launched")]) == {}
    assert runtime.usage([one, two])[two].cpu_percent == 20.0


def test_an_unknown_task_is_refused() -> None:
    runtime, _ = _runtime()
    with pytest.raises(UnknownTarget, match="no simulated task"):
        runtime.set_utilization(ARN.format("nope"), cpu_percent=50)
    assert isinstance(UnknownTarget("x"), LookupError)  # the admin hook answers 404 for a LookupError


def test_a_stopped_or_removed_task_is_not_reported() -> None:
    runtime, clock = _runtime()
    arn = _launch(runtime, "t1")
    runtime.set_utilization(arn, cpu_percent=60)
    clock.at += 2
    runtime.stop(arn, 30)
    assert runtime.usage([arn]) == {}  # asked to stop: no longer measured
    clock.at += 2
    assert runtime.usage([arn]) == {}
    runtime.remove(arn)
    assert runtime.usage([arn]) == {}
    with pytest.raises(UnknownTarget):
        runtime.set_utilization(arn, cpu_percent=10)


def test_the_utilization_lives_in_the_state_and_survives_a_restart() -> None:
    state: dict = {}  # type: ignore[type-arg]
    runtime, _ = _runtime(state)
    arn = _launch(runtime, "t1")
    runtime.set_utilization(arn, cpu_percent=33, memory_percent=44)
    again, _ = _runtime(state)
    assert again.usage([arn])[arn] == TaskUsage(cpu_percent=33.0, memory_percent=44.0)
