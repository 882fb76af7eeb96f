"""The scaling loop: samples on a grid of 10 AWS seconds (wider under a fast clock), alarms invoking the Application Auto Scaling
policies they name, one failing step never stopping the others, its tick on a compressed
clock, and its thread.

Records are made through the real providers (ECS, Application Auto Scaling, CloudWatch) on an
in-memory store; ``tick(now)`` is called directly with AWS time.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.model.clock import ScalingClock
from ecsemu.scaling import loop as loop_module
from ecsemu.scaling.collector import Collector
from ecsemu.scaling.loop import ScalingLoop
from ecsemu.services.autoscaling.provider import ApplicationAutoScalingProvider
from ecsemu.services.cloudwatch.provider import CloudWatchProvider
from ecsemu.services.ecs.provider import EcsProvider
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")
T0 = 1_800_000_000.0
TARGET = {"ServiceNamespace": "ecs", "ResourceId": "service/c/web", "ScalableDimension": "ecs:service:DesiredCount"}
SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:scaling-news"


class CountingCollector:
    """Stands for the collector: counts the samples it was asked for, and when."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.sampled = threading.Event()

    def sample(self, now: float) -> int:
        self.samples.append(now)
        self.sampled.set()
        return 0


class FixedClock(ScalingClock):
    def __init__(self, factor: float = 1.0) -> None:
        super().__init__(factor, lambda: T0)


class World:
    """An ECS service (desired 1), its scalable target (1..6), a step scaling policy (+2) and a
    user's alarm whose actions name the policy and an SNS topic."""

    def __init__(self, *, actions: list[str] | None = None) -> None:
        self.store = Store()
        self.now = T0
        self.ecs = EcsProvider(self.store)
        self.aas = ApplicationAutoScalingProvider(self.store, lambda: self.now)
        self.cloudwatch = CloudWatchProvider(self.store, lambda: self.now)
        self.ecs.handle(CONTEXT, "CreateCluster", {"clusterName": "c"})
        self.ecs.handle(
            CONTEXT,
            "RegisterTaskDefinition",
            {
                "family": "web",
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{"name": "app", "image": "app:1"}],
            },
        )
        self.ecs.handle(
            CONTEXT, "CreateService", {"cluster": "c", "serviceName": "web", "taskDefinition": "web", "desiredCount": 1}
        )
        self.aas.handle(CONTEXT, "RegisterScalableTarget", {**TARGET, "MinCapacity": 1, "MaxCapacity": 6})
        self.policy_arn = self.aas.handle(
            CONTEXT,
            "PutScalingPolicy",
            {
                **TARGET,
                "PolicyName": "up",
                "PolicyType": "StepScaling",
                "StepScalingPolicyConfiguration": {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}],
                    "Cooldown": 60,
                },
            },
        )["PolicyARN"]
        self.cloudwatch.handle(
            CONTEXT,
            "PutMetricAlarm",
            {
                "AlarmName": "busy",
                "Namespace": "Custom",
                "MetricName": "Load",
                "Statistic": "Average",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 10.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "AlarmActions": actions if actions is not None else [self.policy_arn, SNS_TOPIC],
            },
        )
        self.collector = CountingCollector()
        self.loop = ScalingLoop(self.store, FixedClock(), self.collector)  # type: ignore[arg-type]

    def alarm(self) -> None:
        self.cloudwatch.handle(
            CONTEXT, "SetAlarmState", {"AlarmName": "busy", "StateValue": "ALARM", "StateReason": "testing"}
        )

    def desired(self) -> int:
        service = self.ecs.handle(CONTEXT, "DescribeServices", {"cluster": "c", "services": ["web"]})["services"][0]
        return int(service["desiredCount"])

    def actions(self) -> list[str]:
        answer = self.cloudwatch.handle(
            CONTEXT, "DescribeAlarmHistory", {"AlarmName": "busy", "HistoryItemType": "Action"}
        )
        return [item["HistorySummary"] for item in answer["AlarmHistoryItems"]]

    def activities(self) -> list[dict[str, Any]]:
        answer = self.aas.handle(
            CONTEXT, "DescribeScalingActivities", {"ServiceNamespace": "ecs", "ResourceId": TARGET["ResourceId"]}
        )
        return list(answer["ScalingActivities"])


# -- sampling ----------------------------------------------------------------------------------


def test_a_sample_only_every_ten_aws_seconds() -> None:
    collector = CountingCollector()
    loop = ScalingLoop(Store(), FixedClock(), collector)  # type: ignore[arg-type]
    for offset in (0.0, 1.0, 5.0, 9.99, 10.0, 15.0, 19.9, 25.0, 26.0, 100.0):
        loop.tick(T0 + offset)
    assert collector.samples == [T0, T0 + 10.0, T0 + 25.0, T0 + 100.0]


def test_the_sample_is_stamped_with_the_ticks_aws_time() -> None:
    collector = CountingCollector()
    loop = ScalingLoop(Store(), FixedClock(60), collector)  # type: ignore[arg-type]
    loop.tick(T0 + 3600)
    assert collector.samples == [T0 + 3600]


def test_a_real_collector_runs_in_the_tick() -> None:
    store = Store()
    loop = ScalingLoop(store, FixedClock(), Collector(store, None))
    loop.tick(T0)  # nothing to measure: no error, nothing written


# -- alarms invoking policies ------------------------------------------------------------------


def test_an_alarm_in_alarm_invokes_the_policy_it_names() -> None:
    world = World()
    world.alarm()
    world.loop.tick(T0)
    assert world.desired() == 3
    assert world.actions() == [f"Successfully executed action {world.policy_arn}"]
    [activity] = world.activities()
    assert activity["Description"] == "Setting desired count to 3."
    assert activity["Cause"] == "monitor alarm busy in state ALARM triggered policy up"
    assert activity["StatusCode"] == "Successful"


def test_a_non_autoscaling_action_is_ignored() -> None:
    world = World(actions=[SNS_TOPIC])
    world.alarm()
    world.loop.tick(T0)
    assert world.desired() == 1
    assert world.actions() == []  # nothing invoked, nothing recorded
    assert world.activities() == []


def test_the_sns_action_beside_a_policy_is_not_recorded() -> None:
    world = World()
    world.alarm()
    world.loop.tick(T0)
    assert not any(SNS_TOPIC in summary for summary in world.actions())


def test_an_alarm_not_in_alarm_invokes_nothing() -> None:
    world = World()
    world.loop.tick(T0)  # no data: INSUFFICIENT_DATA, which names no action here
    world.loop.tick(T0 + 60)
    assert world.desired() == 1
    assert world.actions() == []


def test_a_failing_policy_is_recorded_as_a_failed_action(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("policy exploded")

    monkeypatch.setattr(loop_module, "invoke_policy", broken)
    world.alarm()
    with caplog.at_level(logging.ERROR, logger="ecsemu.scaling.loop"):
        world.loop.tick(T0)
    assert world.actions() == [f"Failed to execute action {world.policy_arn}"]
    assert world.desired() == 1
    assert any("invoking" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


# -- one failing step never stops the others ---------------------------------------------------


def test_a_failing_sample_is_logged_and_the_alarms_still_act(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()

    def broken(now: float) -> int:
        raise RuntimeError("collector exploded")

    monkeypatch.setattr(world.collector, "sample", broken)
    world.alarm()
    with caplog.at_level(logging.ERROR, logger="ecsemu.scaling.loop"):
        world.loop.tick(T0)
    assert world.desired() == 3
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "scaling: collecting metrics failed"
    ]
    assert caplog.records[0].exc_info is not None


def test_a_failing_alarm_evaluation_does_not_stop_scheduled_actions_or_the_clamp(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    ran: list[str] = []

    def broken_alarms(store: Store, now: float) -> list[Any]:
        raise RuntimeError("alarms exploded")

    monkeypatch.setattr(loop_module.alarm_model, "evaluate_alarms", broken_alarms)
    monkeypatch.setattr(loop_module, "run_scheduled_actions", lambda store, now: ran.append("scheduled"))
    monkeypatch.setattr(loop_module, "clamp_to_bounds", lambda store, now: ran.append("clamp"))
    with caplog.at_level(logging.ERROR, logger="ecsemu.scaling.loop"):
        world.loop.tick(T0)
    assert world.collector.samples == [T0]
    assert ran == ["scheduled", "clamp"]
    assert "scaling: evaluating alarms failed" in [r.getMessage() for r in caplog.records]


def test_a_failing_scheduled_action_step_does_not_stop_the_clamp(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    clamped: list[float] = []

    def broken(store: Store, now: float) -> None:
        raise RuntimeError("schedule exploded")

    monkeypatch.setattr(loop_module, "run_scheduled_actions", broken)
    monkeypatch.setattr(loop_module, "clamp_to_bounds", lambda store, now: clamped.append(now))
    world.alarm()
    with caplog.at_level(logging.ERROR, logger="ecsemu.scaling.loop"):
        world.loop.tick(T0)
    assert clamped == [T0]
    assert world.desired() == 3  # the alarm step ran before
    assert "scaling: running scheduled actions failed" in [r.getMessage() for r in caplog.records]


def test_the_clamp_brings_a_desired_count_back_within_bounds() -> None:
    world = World()
    world.ecs.handle(CONTEXT, "UpdateService", {"cluster": "c", "service": "web", "desiredCount": 9})
    world.loop.tick(T0)
    assert world.desired() == 6


# -- the tick and the thread -------------------------------------------------------------------


@pytest.mark.parametrize(("factor", "sample_every_s"), [(1, 10.0), (20, 10.0), (60, 30.0), (600, 300.0)])
def test_at_most_two_samples_a_real_second(factor: float, sample_every_s: float) -> None:
    loop = ScalingLoop(Store(), ScalingClock(factor), CountingCollector())  # type: ignore[arg-type]
    assert loop.sample_every_s == sample_every_s  # AWS seconds


@pytest.mark.parametrize(
    ("factor", "now", "wait"),
    [
        (1, 1_800_000.0, 1.0),  # the next slot is 10 s away: wake at most a second later
        (60, 1_800_000.0, 0.5),  # slots of 30 AWS s: half a real second
        (60, 1_800_058.5, 1.5 / 60),  # the period ends in 1.5 AWS seconds
        (600, 1_800_000.0, 0.1),  # the period (60 AWS s) ends before the slot (300)
        (600, 1_800_059.9, 0.02),  # never shorter than the floor
    ],
)
def test_the_loop_wakes_at_the_next_slot_or_period_boundary(factor: float, now: float, wait: float) -> None:
    loop = ScalingLoop(Store(), ScalingClock(factor), CountingCollector())  # type: ignore[arg-type]
    assert loop.wait_s(now) == pytest.approx(wait)


def test_start_ticks_in_a_thread_and_stop_joins_it() -> None:
    collector = CountingCollector()
    loop = ScalingLoop(Store(), ScalingClock(600), collector)  # type: ignore[arg-type]
    loop.start()
    thread = loop._thread
    assert thread is not None and thread.name == "ecsemu-scaling" and thread.daemon
    loop.start()  # a second start starts nothing more
    assert loop._thread is thread
    try:
        assert collector.sampled.wait(10), "the loop never sampled"
    finally:
        loop.stop()
    assert not thread.is_alive()
    count = len(collector.samples)
    assert count >= 1
    assert collector.samples == sorted(collector.samples)


def test_stop_without_start_is_harmless() -> None:
    ScalingLoop(Store(), ScalingClock(), CountingCollector()).stop()  # type: ignore[arg-type]


def test_an_alarm_staying_in_alarm_invokes_its_policy_again_each_period() -> None:
    world = World()
    world.alarm()
    world.loop.tick(T0)
    assert world.desired() == 3
    world.now = T0 + 120
    world.cloudwatch.handle(
        CONTEXT,
        "PutMetricData",
        {"Namespace": "Custom", "MetricData": [{"MetricName": "Load", "Value": 50.0, "Timestamp": T0 + 90}]},
    )
    world.loop.tick(T0 + 120)  # still above the threshold, the 60 s cooldown over: +2 again
    assert world.desired() == 5
    assert world.actions() == [f"Successfully executed action {world.policy_arn}"] * 2


def test_target_tracking_on_collected_cpu_scales_out_tick_by_tick() -> None:
    """The collector, the alarms and the policy together, on AWS time, without a thread."""
    from ecsemu.model import task as task_model  # noqa: PLC0415
    from ecsemu.runtime.base import TaskUsage  # noqa: PLC0415

    world = World(actions=[])
    world.aas.handle(
        CONTEXT,
        "PutScalingPolicy",
        {
            **TARGET,
            "PolicyName": "cpu50",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
        },
    )
    definition = {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "family": "web",
        "revision": 1,
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "app:1", "essential": True}],
    }
    record = task_model.new_task(
        CONTEXT.scope, task_id="t1", cluster_name="c", definition=definition, now=T0, service_name="web",
        started_by="ecs-svc/1", deployment_id="ecs-svc/1",
    )  # fmt: skip
    record["status"]["lastStatus"] = "RUNNING"
    world.store.put(CONTEXT.scope, task_model.KIND, "c/t1", record)

    class Busy:
        def usage(self, task_arns: list[str]) -> dict[str, TaskUsage]:
            return {arn: TaskUsage(cpu_percent=100.0, memory_percent=10.0) for arn in task_arns}

    loop = ScalingLoop(world.store, FixedClock(), Collector(world.store, Busy()))
    start = (T0 // 60 + 1) * 60
    for step in range(0, 6 * 60, 10):  # six AWS minutes, a tick every 10 s
        world.now = start + step
        loop.tick(start + step)
        if world.desired() > 1:
            break
    assert world.desired() == 2  # 100 % against a 50 % target: twice the capacity
    [activity] = world.activities()
    assert activity["Cause"].startswith("monitor alarm TargetTracking-service/c/web-AlarmHigh-")
