"""Auto scaling that really scales, on the simulated runtime under ``--scaling-clock 60`` (one AWS
minute a second): target tracking on CPU, DisableScaleIn, scale-in protection, step scaling on a
queue's depth, a scheduled action, and a customized-metric policy fed by PutMetricData.

The simulated tasks' utilization is set through the documented hook
(``POST /_ecsemu/simulated/utilization``); everything else goes through boto3 as a user's
would. Waits poll with deadlines; the deadlines are AWS's own timings divided by 60, with room.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.config import Config

TARGET = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}


@pytest.fixture(scope="module")
def fast() -> Iterator[Emulator]:
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="simulated", scaling_clock=60))
    instance.start()
    yield instance
    instance.shutdown()


@pytest.fixture
def aws(fast: Emulator) -> Iterator[dict[str, Any]]:
    clients = {name: client(name, fast.endpoint) for name in ("ecs", "application-autoscaling", "cloudwatch", "sqs")}
    yield clients
    requests.post(f"{fast.endpoint}/_ecsemu/reset", json={}, timeout=10)


def service(ecs: Any, name: str, desired: int = 1) -> str:
    ecs.create_cluster(clusterName="scale")
    ecs.register_task_definition(
        family=name, cpu="256", memory="512", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
    )
    ecs.create_service(cluster="scale", serviceName=name, taskDefinition=name, desiredCount=desired)
    return f"service/scale/{name}"


def desired(ecs: Any, name: str) -> int:
    return int(ecs.describe_services(cluster="scale", services=[name])["services"][0]["desiredCount"])


def running(ecs: Any, name: str) -> list[str]:
    return list(ecs.list_tasks(cluster="scale", serviceName=name, desiredStatus="RUNNING")["taskArns"])


def load(emulator: Emulator, ecs: Any, name: str, cpu: float) -> None:
    for task_arn in running(ecs, name):
        answer = requests.post(
            f"{emulator.endpoint}/_ecsemu/simulated/utilization", json={"taskArn": task_arn, "cpu": cpu}, timeout=5
        )
        assert answer.status_code in (200, 404), answer.text  # 404: the task stopped meanwhile


def cpu_policy(aas: Any, resource: str, **extra: Any) -> dict[str, Any]:
    configuration = {
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        **extra,
    }
    return dict(
        aas.put_scaling_policy(
            PolicyName="cpu50",
            ResourceId=resource,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=configuration,
            **TARGET,
        )
    )


def test_cpu_target_tracking_scales_out_to_max_and_back_to_min(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas = aws["ecs"], aws["application-autoscaling"]
    resource = service(ecs, "web")
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=6, **TARGET)
    alarms = cpu_policy(aas, resource)["Alarms"]
    assert [a["AlarmName"].split("-")[-6] for a in alarms] == ["AlarmHigh", "AlarmLow"]
    seen: set[int] = set()

    def busy_until_max() -> bool:
        load(fast, ecs, "web", 90)
        seen.add(desired(ecs, "web"))
        return desired(ecs, "web") == 6

    wait_until(busy_until_max, timeout=40, interval=0.2, what="the service to scale out to its maximum")
    wait_until(lambda: len(running(ecs, "web")) == 6, timeout=20, what="six running tasks")
    for _ in range(10):  # more load changes nothing: never above the maximum
        load(fast, ecs, "web", 95)
        assert desired(ecs, "web") <= 6
        time.sleep(0.2)

    def idle_until_min() -> bool:
        load(fast, ecs, "web", 5)
        seen.add(desired(ecs, "web"))
        return desired(ecs, "web") == 1

    wait_until(idle_until_min, timeout=60, interval=0.2, what="the service to scale back in to its minimum")
    assert min(seen) >= 1 and max(seen) <= 6
    activities = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    newest = activities[0]
    assert newest["Description"] == "Setting desired count to 1."
    assert newest["Cause"].startswith("monitor alarm TargetTracking-service/scale/web-AlarmLow-") and newest[
        "Cause"
    ].endswith("in state ALARM triggered policy cpu50")
    assert newest["StatusCode"] == "Successful"
    assert any(a["Description"] == "Setting desired count to 6." for a in activities)
    events = ecs.describe_services(cluster="scale", services=["web"])["services"][0]["events"]
    assert any("has started" in e["message"] for e in events) and any("has stopped" in e["message"] for e in events)


def test_disable_scale_in_keeps_the_capacity(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas, cloudwatch = aws["ecs"], aws["application-autoscaling"], aws["cloudwatch"]
    resource = service(ecs, "keep")
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=3, **TARGET)
    alarms = cpu_policy(aas, resource, DisableScaleIn=True)["Alarms"]
    assert len(alarms) == 1 and "AlarmHigh" in alarms[0]["AlarmName"]

    def scaled_out() -> bool:
        load(fast, ecs, "keep", 90)
        return desired(ecs, "keep") == 3

    wait_until(scaled_out, timeout=40, interval=0.2, what="scale-out to 3")
    deadline = time.monotonic() + 20  # 20 AWS minutes of idle: target tracking would scale in after 15
    while time.monotonic() < deadline:
        load(fast, ecs, "keep", 1)
        assert desired(ecs, "keep") == 3
        time.sleep(0.5)
    assert [
        a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=[alarms[0]["AlarmName"]])["MetricAlarms"]
    ] == ["OK"]


def test_a_scale_in_protected_task_is_not_the_one_stopped(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas = aws["ecs"], aws["application-autoscaling"]
    resource = service(ecs, "guarded", desired=3)
    wait_until(lambda: len(running(ecs, "guarded")) == 3, timeout=20, what="three running tasks")
    protected = running(ecs, "guarded")[1]
    ecs.update_task_protection(cluster="scale", tasks=[protected], protectionEnabled=True, expiresInMinutes=60)
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=3, **TARGET)
    cpu_policy(aas, resource)

    def scaled_in() -> bool:
        load(fast, ecs, "guarded", 1)
        return desired(ecs, "guarded") == 1 and running(ecs, "guarded") == [protected]

    wait_until(scaled_in, timeout=60, interval=0.2, what="scale-in to the protected task alone")


def test_queue_depth_drives_step_scaling_out_and_in(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas, cloudwatch, sqs = aws["ecs"], aws["application-autoscaling"], aws["cloudwatch"], aws["sqs"]
    resource = service(ecs, "worker")
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=5, **TARGET)

    def step_policy(name: str, adjustments: list[dict[str, Any]]) -> str:
        configuration = {
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": adjustments,
            "Cooldown": 60,
            "MetricAggregationType": "Average",
        }
        answer = aas.put_scaling_policy(
            PolicyName=name,
            ResourceId=resource,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration=configuration,
            **TARGET,
        )
        return str(answer["PolicyARN"])

    out_arn = step_policy("more-workers", [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}])
    in_arn = step_policy("fewer-workers", [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -5}])
    metric = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "jobs"}],
        "Statistic": "Average",
        "Period": 60,
    }
    cloudwatch.put_metric_alarm(
        AlarmName="jobs-backlog",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=100,
        EvaluationPeriods=1,
        AlarmActions=[out_arn],
        **metric,
    )
    cloudwatch.put_metric_alarm(
        AlarmName="jobs-empty",
        ComparisonOperator="LessThanThreshold",
        Threshold=1,
        EvaluationPeriods=2,
        AlarmActions=[in_arn],
        **metric,
    )
    for start in range(0, 200, 10):
        sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": f"job {start + i}"} for i in range(10)]
        )
    wait_until(
        lambda: desired(ecs, "worker") == 5, timeout=40, interval=0.2, what="the backlog to scale the workers out"
    )
    history = cloudwatch.describe_alarm_history(AlarmName="jobs-backlog", HistoryItemType="Action")["AlarmHistoryItems"]
    assert f"Successfully executed action {out_arn}" in [h["HistorySummary"] for h in history], history

    def drained() -> bool:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return not messages

    wait_until(drained, timeout=60, interval=0.01, what="the queue to be drained")
    wait_until(lambda: desired(ecs, "worker") == 1, timeout=40, interval=0.2, what="the workers to scale back in")
    causes = [
        a["Cause"]
        for a in aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    ]
    assert any(c == "monitor alarm jobs-backlog in state ALARM triggered policy more-workers" for c in causes), causes
    assert any(c == "monitor alarm jobs-empty in state ALARM triggered policy fewer-workers" for c in causes), causes


def test_a_scheduled_action_raises_the_minimum_at_its_time(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas = aws["ecs"], aws["application-autoscaling"]
    resource = service(ecs, "daytime")
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=6, **TARGET)
    assert fast.scaling is not None
    at = datetime.fromtimestamp(fast.scaling.clock.now() + 180, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )  # 3 AWS minutes from now
    aas.put_scheduled_action(
        ScheduledActionName="morning",
        ResourceId=resource,
        Schedule=f"at({at})",
        ScalableTargetAction={"MinCapacity": 3},
        **TARGET,
    )
    assert desired(ecs, "daytime") == 1
    wait_until(lambda: desired(ecs, "daytime") == 3, timeout=20, interval=0.1, what="the scheduled action")
    [target] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 6)
    descriptions = [
        a["Description"]
        for a in aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    ]
    assert "Setting desired count to 3." in descriptions, descriptions


def test_a_custom_metric_drives_a_customized_target_tracking_policy(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, aas, cloudwatch = aws["ecs"], aws["application-autoscaling"], aws["cloudwatch"]
    resource = service(ecs, "consumer")
    aas.register_scalable_target(ResourceId=resource, MinCapacity=1, MaxCapacity=4, **TARGET)
    metric = {
        "MetricName": "BacklogPerTask",
        "Namespace": "MyApp",
        "Dimensions": [{"Name": "Service", "Value": "consumer"}],
        "Statistic": "Average",
    }
    aas.put_scaling_policy(
        PolicyName="backlog", ResourceId=resource, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 10.0, "CustomizedMetricSpecification": metric}, **TARGET,
    )  # fmt: skip

    def published_until_scaled() -> bool:
        cloudwatch.put_metric_data(
            Namespace="MyApp",
            MetricData=[{"MetricName": "BacklogPerTask", "Dimensions": metric["Dimensions"], "Value": 35.0}],
        )
        return desired(ecs, "consumer") == 4

    wait_until(published_until_scaled, timeout=40, interval=0.2, what="the custom metric to scale the service out")
    listed = cloudwatch.list_metrics(Namespace="MyApp")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["BacklogPerTask"]


def test_ecs_metrics_are_published_per_service_and_cluster(fast: Emulator, aws: dict[str, Any]) -> None:
    ecs, cloudwatch = aws["ecs"], aws["cloudwatch"]
    service(ecs, "measured", desired=2)
    assert fast.scaling is not None

    def measured() -> list[dict[str, Any]]:
        load(fast, ecs, "measured", 40)
        end = datetime.fromtimestamp(fast.scaling.clock.now() + 60, UTC)  # type: ignore[union-attr]
        start = datetime.fromtimestamp(fast.scaling.clock.now() - 600, UTC)  # type: ignore[union-attr]
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ECS", MetricName="CPUUtilization", Dimensions=[{"Name": "ClusterName", "Value": "scale"}, {"Name": "ServiceName", "Value": "measured"}],
            StartTime=start, EndTime=end, Period=60, Statistics=["Average", "SampleCount"],
        )["Datapoints"]  # fmt: skip
        return [p for p in points if p["Average"] == 40.0 and p["SampleCount"] >= 2]

    wait_until(measured, timeout=20, interval=0.2, what="CPUUtilization datapoints of two tasks at 40 %")
    names = {
        (m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"])))
        for m in cloudwatch.list_metrics(Namespace="AWS/ECS")["Metrics"]
    }
    assert ("CPUUtilization", ("ClusterName",)) in names
    assert ("MemoryUtilization", ("ClusterName", "ServiceName")) in names
