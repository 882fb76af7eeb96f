"""Scaling decisions: alarms invoking policies, cooldowns, clamps, suspension, scheduled actions."""

from __future__ import annotations

from datetime import UTC, datetime

from test_scaling_records import (
    HIGH,
    KEY,
    LOW,
    POLICY_ARN,
    SCOPE,
    activities,
    desired,
    new_store,
    put_service,
    put_step,
    put_target,
    put_target_tracking,
)

from ecsemu.model import alarms, scaling, scaling_alarms
from ecsemu.model.scaling_decisions import clamp_to_bounds, invoke_policy, run_scheduled_actions
from ecsemu.state.store import Store

T0 = 1_800_000_000.0


def invoke(store: Store, alarm: str, metric: float | None, now: float, state: str = "ALARM", **kwargs: float) -> None:
    invoke_policy(store, SCOPE, POLICY_ARN, alarm, state, metric, now, **kwargs)


def test_target_tracking_scales_out_proportionally_and_tells_the_story() -> None:
    store = new_store()
    put_service(store, 2)
    put_target(store, 1, 6)
    put_target_tracking(store)
    invoke(store, HIGH, 100.0, T0)
    assert desired(store) == 4
    [activity] = activities(store)
    assert activity["Description"] == "Setting desired count to 4."
    assert activity["Cause"] == f"monitor alarm {HIGH} in state ALARM triggered policy cpu"
    assert activity["StatusCode"] == "Successful"
    assert activity["StatusMessage"] == "Successfully set desired count to 4. Change successfully fulfilled by ecs."
    assert activity["StartTime"] == activity["EndTime"] == T0


def test_only_alarm_state_acts() -> None:
    store = new_store()
    put_service(store, 2)
    put_target(store, 1, 6)
    put_target_tracking(store)
    invoke(store, HIGH, 100.0, T0, state="OK")
    invoke(store, HIGH, 100.0, T0, state="INSUFFICIENT_DATA")
    invoke(store, "someone-elses-alarm", 100.0, T0)  # not one of the policy's own alarms
    assert desired(store) == 2
    assert activities(store, include_not_scaled=True) == []


def test_capacity_is_clamped_to_max_and_a_not_scaled_activity_says_why() -> None:
    store = new_store()
    put_service(store, 5)
    put_target(store, 1, 6)
    put_target_tracking(store)
    invoke(store, HIGH, 500.0, T0)
    assert desired(store) == 6
    invoke(store, HIGH, 500.0, T0 + 1000)
    assert desired(store) == 6
    assert len(activities(store)) == 1
    not_scaled = activities(store, include_not_scaled=True)[0]
    assert not_scaled["Description"] == "Attempting to scale due to alarm triggered"
    assert not_scaled["StatusCode"] == "Failed"
    assert not_scaled["NotScaledReasons"] == [{"Code": "AlreadyAtMaxCapacity", "MaxCapacity": 6, "CurrentCapacity": 6}]


def test_scale_in_stops_at_min() -> None:
    store = new_store()
    put_service(store, 3)
    put_target(store, 2, 6)
    put_target_tracking(store)
    invoke(store, LOW, 1.0, T0)
    assert desired(store) == 2
    invoke(store, LOW, 1.0, T0 + 1000)
    assert desired(store) == 2
    assert activities(store, include_not_scaled=True)[0]["NotScaledReasons"][0]["Code"] == "AlreadyAtMinCapacity"


def test_scale_out_cooldown_lets_only_a_larger_scale_out_through() -> None:
    store = new_store()
    put_service(store, 2)
    put_target(store, 1, 20)
    put_target_tracking(store, ScaleOutCooldown=300)
    invoke(store, HIGH, 100.0, T0)  # 2 -> 4
    assert desired(store) == 4
    invoke(store, HIGH, 60.0, T0 + 60)  # asks 5: not larger than the 4 still in cooldown? 5 > 4: through
    assert desired(store) == 5
    invoke(store, HIGH, 50.5, T0 + 120)  # asks 6 > 5: through (the cooldown counts the added capacity)
    assert desired(store) == 6
    put_service(store, 4)  # the user lowered it by hand during the cooldown
    invoke(store, HIGH, 60.0, T0 + 180)  # asks 5, not more than the 6 of the last scale-out: blocked
    assert desired(store) == 4
    invoke(store, HIGH, 60.0, T0 + 120 + 300)  # cooldown over
    assert desired(store) == 5


def test_scale_in_cooldown_blocks_scale_in_but_not_scale_out() -> None:
    store = new_store()
    put_service(store, 8)
    put_target(store, 1, 20)
    put_target_tracking(store, ScaleInCooldown=300)
    invoke(store, LOW, 25.0, T0)  # 8 -> 4
    assert desired(store) == 4
    invoke(store, LOW, 10.0, T0 + 100)
    assert desired(store) == 4  # blocked
    invoke(store, HIGH, 100.0, T0 + 150)  # scale-out goes through and ends the scale-in cooldown
    assert desired(store) == 8
    invoke(store, LOW, 25.0, T0 + 200)
    assert desired(store) == 4


def test_default_ecs_cooldown_is_300_seconds() -> None:
    store = new_store()
    put_service(store, 8)
    put_target(store, 1, 20)
    put_target_tracking(store)
    invoke(store, LOW, 25.0, T0)
    invoke(store, LOW, 10.0, T0 + 299)
    assert desired(store) == 4
    invoke(store, LOW, 10.0, T0 + 300)
    assert desired(store) == 1


def test_disable_scale_in_and_suspended_states() -> None:
    store = new_store()
    put_service(store, 4)
    put_target(store, 1, 10)
    put_target_tracking(store, DisableScaleIn=True)
    invoke(store, LOW, 1.0, T0)
    assert desired(store) == 4
    put_target_tracking(store)
    put_target(store, 1, 10, DynamicScalingInSuspended=True, DynamicScalingOutSuspended=True)
    invoke(store, LOW, 1.0, T0)
    invoke(store, HIGH, 100.0, T0)
    assert desired(store) == 4
    assert activities(store, include_not_scaled=True) == []


def test_step_scaling_uses_the_breach_above_the_alarm_threshold() -> None:
    store = new_store()
    put_service(store, 2)
    put_target(store, 1, 10)
    put_step(
        store, AdjustmentType="ChangeInCapacity", Cooldown=60,
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 100.0, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 100.0, "ScalingAdjustment": 3},
        ],
    )  # fmt: skip
    invoke(store, "queue-depth-high", 250.0, T0, threshold=100.0)  # breach 150: +3
    assert desired(store) == 5
    invoke(store, "queue-depth-high", 150.0, T0 + 30, threshold=100.0)  # +1 = 6 > 5: larger, through
    assert desired(store) == 6
    invoke(store, "queue-depth-high", 150.0, T0 + 90, threshold=100.0)
    assert desired(store) == 7
    assert activities(store)[0]["Cause"] == "monitor alarm queue-depth-high in state ALARM triggered policy cpu"


def test_step_scaling_exact_capacity_scales_in_to_it() -> None:
    store = new_store()
    put_service(store, 6)
    put_target(store, 1, 10)
    put_step(
        store,
        AdjustmentType="ExactCapacity",
        StepAdjustments=[{"MetricIntervalUpperBound": 0.0, "ScalingAdjustment": 1}],
    )
    invoke(store, "queue-empty", 0.0, T0, threshold=1.0)
    assert desired(store) == 1


def test_a_draining_service_is_not_scaled() -> None:
    store = new_store()
    put_service(store, 2, status="DRAINING")
    put_target(store, 3, 6)
    put_target_tracking(store)
    clamp_to_bounds(store, T0)
    assert desired(store) == 2
    assert activities(store) == []  # nothing to scale: no desired count to read
    put_service(store, 2)
    clamp_to_bounds(store, T0)
    assert desired(store) == 3
    assert activities(store)[0]["Cause"] == "minimum capacity was set to 3"


def test_clamp_to_bounds_brings_desired_count_back_below_max() -> None:
    store = new_store()
    put_service(store, 9)
    put_target(store, 1, 6)
    clamp_to_bounds(store, T0)
    assert desired(store) == 6
    [activity] = activities(store)
    assert (activity["Description"], activity["Cause"]) == (
        "Setting desired count to 6.",
        "maximum capacity was set to 6",
    )
    clamp_to_bounds(store, T0 + 1)
    assert len(activities(store)) == 1  # nothing more to do


def put_action(store: Store, schedule: str, created: float, **extra: object) -> None:
    store.put(SCOPE, scaling.SCHEDULED_ACTION_KIND, scaling.child_id(KEY, "morning"), {
        "spec": {
            "ScheduledActionName": "morning", "ScheduledActionARN": "arn:x", "ServiceNamespace": "ecs",
            "ResourceId": KEY.resource_id, "ScalableDimension": KEY.dimension, "Schedule": schedule,
            "CreationTime": created, **extra,
        },
        "status": {},
    })  # fmt: skip


def target_bounds(store: Store) -> tuple[int, int]:
    target = scaling.get_target(store, SCOPE, KEY)
    assert target is not None
    return target["spec"]["MinCapacity"], target["spec"]["MaxCapacity"]


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def test_scheduled_action_sets_min_and_max_then_clamps_desired() -> None:
    store = new_store()
    put_service(store, 1)
    put_target(store, 1, 6)
    put_action(
        store,
        "cron(0 9 * * ? *)",
        at(2026, 5, 4),
        Timezone="Europe/Paris",
        ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 8},
    )
    run_scheduled_actions(store, at(2026, 5, 4, 6, 59))  # 08:59 in Paris: not yet
    assert target_bounds(store) == (1, 6)
    run_scheduled_actions(store, at(2026, 5, 4, 7, 0, 5))  # 09:00:05 CEST
    assert target_bounds(store) == (3, 8)
    assert desired(store) == 3
    story = [(a["Description"], a["Cause"]) for a in activities(store)]
    assert story == [
        ("Setting desired count to 3.", "minimum capacity was set to 3"),
        ("Setting min capacity to 3 and max capacity to 8", "scheduled action name morning was triggered"),
    ]
    assert activities(store)[1]["StatusMessage"] == "Successfully set min capacity to 3 and max capacity to 8"
    run_scheduled_actions(store, at(2026, 5, 4, 7, 30))
    assert len(activities(store)) == 2  # run once


def test_scheduled_scaling_suspended_and_end_time() -> None:
    store = new_store()
    put_service(store, 1)
    put_target(store, 1, 6, ScheduledScalingSuspended=True)
    put_action(store, "rate(1 hour)", T0, ScalableTargetAction={"MinCapacity": 2})
    run_scheduled_actions(store, T0 + 3600)
    assert target_bounds(store) == (1, 6)
    put_target(store, 1, 6)
    put_action(store, "rate(1 hour)", T0, EndTime=T0 + 1800, ScalableTargetAction={"MinCapacity": 2})
    run_scheduled_actions(store, T0 + 7200)
    assert target_bounds(store) == (1, 6)  # ended before its first run


def test_scheduled_action_start_time_runs_first_then_recurs() -> None:
    store = new_store()
    put_service(store, 1)
    put_target(store, 1, 6)
    put_action(store, "rate(1 day)", T0, StartTime=T0 + 600, ScalableTargetAction={"MaxCapacity": 4})
    run_scheduled_actions(store, T0 + 601)
    assert target_bounds(store) == (1, 4)
    assert len(activities(store)) == 1


def test_scale_in_waits_while_the_service_deploys() -> None:
    store = new_store()
    put_service(store, 4)
    record = store.get(SCOPE, "service", "c/s")
    assert record is not None
    record["spec"]["deployments"] = [{"id": "ecs-svc/1"}, {"id": "ecs-svc/2"}]
    store.put(SCOPE, "service", "c/s", record)
    put_target(store, 1, 10)
    put_target_tracking(store)
    invoke(store, LOW, 1.0, T0)
    assert desired(store) == 4
    invoke(store, HIGH, 100.0, T0)  # scale-out goes on during a deployment
    assert desired(store) == 8
    record["spec"]["desiredCount"] = 8
    record["status"] = {"deployments": {"ecs-svc/1": {"retired": True}}}
    store.put(SCOPE, "service", "c/s", record)
    invoke(store, LOW, 10.0, T0 + 1000)
    assert desired(store) == 2


def test_target_tracking_scales_in_only_when_every_policy_is_ready() -> None:
    store = new_store()
    alarms.history_table(store)
    put_service(store, 6)
    put_target(store, 1, 10)
    put_target_tracking(store)
    other_arn = POLICY_ARN.replace("cpu", "memory")
    store.put(SCOPE, scaling.POLICY_KIND, scaling.child_id(KEY, "memory"), {
        "spec": {
            "PolicyARN": other_arn, "PolicyName": "memory", "ServiceNamespace": "ecs", "ResourceId": KEY.resource_id,
            "ScalableDimension": KEY.dimension, "PolicyType": "TargetTrackingScaling", "CreationTime": 0.0,
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60.0},
            "AlarmIds": {"High": "h2", "Low": "l2"}, "Alarms": [],
        },
        "status": {},
    })  # fmt: skip
    low_alarm = scaling_alarms.alarm_params(other_arn, KEY.resource_id, {"TargetValue": 60.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "ECSServiceAverageMemoryUtilization"}}, "Low", "l2")  # fmt: skip
    alarms.put_alarm(store, SCOPE, low_alarm, T0)
    invoke(store, LOW, 10.0, T0)  # the memory policy's low alarm is not in ALARM: hold
    assert desired(store) == 6
    alarms.change_state(store, SCOPE, low_alarm["AlarmName"], "ALARM", "test", None, T0)
    invoke(store, LOW, 10.0, T0)
    assert desired(store) == 2


def test_step_threshold_and_value_are_read_from_the_alarm_when_not_given() -> None:
    store = new_store()
    alarms.history_table(store)
    put_service(store, 2)
    put_target(store, 1, 10)
    put_step(
        store, AdjustmentType="ChangeInCapacity",
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 50.0, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 50.0, "ScalingAdjustment": 4},
        ],
    )  # fmt: skip
    alarms.put_alarm(store, SCOPE, {
        "AlarmName": "depth", "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Sum",
        "Period": 60, "EvaluationPeriods": 1, "Threshold": 100.0, "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [POLICY_ARN],
    }, T0)  # fmt: skip
    invoke(store, "depth", 200.0, T0)  # threshold 100 from the alarm: breach 100, +4
    assert desired(store) == 6
