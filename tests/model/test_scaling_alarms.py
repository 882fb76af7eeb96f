"""The alarms a target tracking policy owns, as AWS builds them, written through model/alarms."""

from __future__ import annotations

from test_scaling_records import SCOPE, new_store

from ecsemu.model import alarms, scaling_alarms

ARN = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:u:resource/ecs/service/c/s:policyName/cpu"
CPU = {
    "TargetValue": 50.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
}


def test_high_and_low_alarms_for_ecs_cpu() -> None:
    high = scaling_alarms.alarm_params(ARN, "service/c/s", CPU, "High", "u1")
    assert high == {
        "AlarmName": "TargetTracking-service/c/s-AlarmHigh-u1",
        "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {ARN}.",
        "ActionsEnabled": True, "AlarmActions": [ARN], "OKActions": [], "InsufficientDataActions": [],
        "Namespace": "AWS/ECS", "MetricName": "CPUUtilization", "Statistic": "Average",
        "Dimensions": [{"Name": "ClusterName", "Value": "c"}, {"Name": "ServiceName", "Value": "s"}],
        "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 3, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }  # fmt: skip
    low = scaling_alarms.alarm_params(ARN, "service/c/s", CPU, "Low", "u2")
    assert (low["EvaluationPeriods"], low["DatapointsToAlarm"], low["Threshold"], low["ComparisonOperator"]) == (
        15, 15, 45.0, "LessThanThreshold",
    )  # fmt: skip


def test_alb_request_count_per_target_alarm() -> None:
    configuration = {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ALBRequestCountPerTarget",
            "ResourceLabel": "app/web/0123456789abcdef/targetgroup/tg/fedcba9876543210",
        },
    }
    high = scaling_alarms.alarm_params(ARN, "service/c/s", configuration, "High", "u")
    assert (high["Namespace"], high["MetricName"], high["Statistic"]) == (
        "AWS/ApplicationELB",
        "RequestCountPerTarget",
        "Sum",
    )
    assert high["Dimensions"] == [{"Name": "TargetGroup", "Value": "targetgroup/tg/fedcba9876543210"}]


def test_metric_math_alarm_carries_period_on_each_metric_stat() -> None:
    configuration = {
        "TargetValue": 10.0,
        "CustomizedMetricSpecification": {
            "Metrics": [
                {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
                 "Dimensions": [{"Name": "QueueName", "Value": "q"}]}, "Stat": "Sum"}, "ReturnData": False},
                {"Id": "e1", "Expression": "m1 / 2", "Label": "backlog per task", "ReturnData": True},
            ]
        },
    }  # fmt: skip
    params = scaling_alarms.alarm_params(ARN, "service/c/s", configuration, "High", "u")
    assert "Period" not in params and "Namespace" not in params
    assert params["Metrics"][0]["MetricStat"]["Period"] == 60
    assert params["Metrics"][1] == {"Id": "e1", "Expression": "m1 / 2", "Label": "backlog per task", "ReturnData": True}


def test_put_and_delete_through_cloudwatch_alarms() -> None:
    store = new_store()
    alarms.history_table(store)
    ids, made = scaling_alarms.put_policy_alarms(store, SCOPE, ARN, "service/c/s", CPU, {}, 0.0)
    assert set(ids) == {"High", "Low"}
    assert [alarm["AlarmName"] for alarm in made] == [
        f"TargetTracking-service/c/s-AlarmHigh-{ids['High']}", f"TargetTracking-service/c/s-AlarmLow-{ids['Low']}",
    ]  # fmt: skip
    assert store.count(SCOPE, alarms.KIND) == 2
    # DisableScaleIn drops the low alarm, keeps the high one's name
    ids2, made2 = scaling_alarms.put_policy_alarms(
        store, SCOPE, ARN, "service/c/s", {**CPU, "DisableScaleIn": True}, ids, 1.0
    )
    assert ids2 == {"High": ids["High"]}
    assert store.ids(SCOPE, alarms.KIND) == [made2[0]["AlarmName"]]
    assert scaling_alarms.which_alarm(ids, made[1]["AlarmName"]) == "Low"
    # an alarm the user deleted by hand does not stop the policy's deletion
    alarms.delete_alarms(store, SCOPE, [made2[0]["AlarmName"]], 2.0)
    scaling_alarms.delete_policy_alarms(store, SCOPE, made2, 3.0)
    assert store.count(SCOPE, alarms.KIND) == 0
