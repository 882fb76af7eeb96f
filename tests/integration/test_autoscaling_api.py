"""Application Auto Scaling through boto3 and the AWS CLI, against the live simulated server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import client, wait_until
from elbv2_helpers import make_alb, make_tg

RESOURCE = "service/web/api"
DIMENSION = "ecs:service:DesiredCount"
TARGET = {"ServiceNamespace": "ecs", "ResourceId": RESOURCE, "ScalableDimension": DIMENSION}
CPU_POLICY = {
    "TargetValue": 50.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
}


@pytest.fixture
def aas(endpoint: str) -> Any:
    return client("application-autoscaling", endpoint)


@pytest.fixture
def cloudwatch(endpoint: str) -> Any:
    return client("cloudwatch", endpoint)


@pytest.fixture
def service(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster(clusterName="web")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}])
    created: dict[str, Any] = ecs.create_service(
        cluster="web", serviceName="api", taskDefinition="api", desiredCount=0
    )["service"]
    return created


def desired_count(ecs: Any) -> int:
    return int(ecs.describe_services(cluster="web", services=["api"])["services"][0]["desiredCount"])


def error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def register(aas: Any, **extra: Any) -> str:
    arn: str = aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=6, **extra)["ScalableTargetARN"]
    return arn


# -- scalable targets --------------------------------------------------------------------------


def test_register_describe_update_deregister(aas: Any, ecs: Any, service: dict[str, Any]) -> None:
    arn = register(aas, Tags={"team": "web"})
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:")
    assert ":scalable-target/" in arn
    [target] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"], target["ScalableTargetARN"]) == (1, 6, arn)
    assert target["RoleARN"].endswith(
        ":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False,
    }  # fmt: skip
    assert desired_count(ecs) == 1  # brought up to the new minimum
    [activity] = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RESOURCE)["ScalingActivities"]
    assert (activity["Description"], activity["Cause"]) == (
        "Setting desired count to 1.",
        "minimum capacity was set to 1",
    )
    # an update with only some members keeps the rest, and the ARN
    again = aas.register_scalable_target(**TARGET, MaxCapacity=10, SuspendedState={"ScheduledScalingSuspended": True})
    assert again["ScalableTargetARN"] == arn
    [target] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RESOURCE])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 10)
    assert target["SuspendedState"]["ScheduledScalingSuspended"] is True
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "web"}
    aas.deregister_scalable_target(**TARGET)
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def test_lowering_max_brings_desired_count_down(aas: Any, ecs: Any, service: dict[str, Any]) -> None:
    ecs.update_service(cluster="web", service="api", desiredCount=5)
    register(aas)
    aas.register_scalable_target(**TARGET, MaxCapacity=3)
    assert desired_count(ecs) == 3
    latest = aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"][0]
    assert latest["Cause"] == "maximum capacity was set to 3"
    assert latest["StatusMessage"] == "Successfully set desired count to 3. Change successfully fulfilled by ecs."


def test_register_refusals_change_nothing(aas: Any, service: dict[str, Any]) -> None:
    code, message = error(aas.register_scalable_target, ServiceNamespace="ecs", ResourceId="service/web/nope",
                          ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)  # fmt: skip
    assert (code, message) == ("ValidationException", "ECS service doesn't exist: service/web/nope")
    assert error(aas.register_scalable_target, **TARGET)[0] == "ValidationException"  # a new target needs min and max
    assert error(aas.register_scalable_target, **TARGET, MinCapacity=5, MaxCapacity=2)[1] == (
        "Minimum capacity cannot be greater than maximum capacity"
    )
    code, message = error(aas.register_scalable_target, ServiceNamespace="ecs", ResourceId="web/api",
                          ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)  # fmt: skip
    assert message == "Unsupported service namespace, resource type or scalable dimension"
    code, message = error(aas.register_scalable_target, ServiceNamespace="dynamodb", ResourceId="table/t",
                          ScalableDimension="dynamodb:table:ReadCapacityUnits", MinCapacity=1, MaxCapacity=2)  # fmt: skip
    assert code == "ValidationException" and "ecsemu" in message and "dynamodb" in message
    assert error(aas.register_scalable_target, ServiceNamespace="nope", ResourceId="x", ScalableDimension=DIMENSION)[
        0
    ] == ("ValidationException")  # not in the model's enum: refused at the edge
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []


def test_deregister_unknown_target(aas: Any, service: dict[str, Any]) -> None:
    code, message = error(aas.deregister_scalable_target, **TARGET)
    assert code == "ObjectNotFoundException"
    assert (
        message
        == f"No scalable target found for service namespace: ecs, resource ID: {RESOURCE}, scalable dimension: {DIMENSION}"
    )


def test_describe_scalable_targets_pages(aas: Any, ecs: Any, service: dict[str, Any]) -> None:
    for name in ("a", "b", "c"):
        ecs.create_service(cluster="web", serviceName=name, taskDefinition="api", desiredCount=0)
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/web/{name}", ScalableDimension=DIMENSION,
                                     MinCapacity=0, MaxCapacity=2)  # fmt: skip
    first = aas.describe_scalable_targets(ServiceNamespace="ecs", MaxResults=2)
    assert len(first["ScalableTargets"]) == 2 and first["NextToken"]
    second = aas.describe_scalable_targets(ServiceNamespace="ecs", MaxResults=2, NextToken=first["NextToken"])
    assert [t["ResourceId"] for t in second["ScalableTargets"]] == ["service/web/c"] and "NextToken" not in second
    assert (
        error(aas.describe_scalable_targets, ServiceNamespace="ecs", NextToken="garbage")[0]
        == "InvalidNextTokenException"
    )
    assert error(aas.describe_scalable_targets, ServiceNamespace="ecs", MaxResults=51)[0] == "ValidationException"


# -- scaling policies ----------------------------------------------------------------------------


def test_target_tracking_policy_owns_its_alarms(aas: Any, cloudwatch: Any, service: dict[str, Any]) -> None:
    register(aas)
    put = aas.put_scaling_policy(PolicyName="cpu50", **TARGET, PolicyType="TargetTrackingScaling",
                                 TargetTrackingScalingPolicyConfiguration=CPU_POLICY)  # fmt: skip
    policy_arn = put["PolicyARN"]
    assert policy_arn.startswith("arn:aws:autoscaling:us-east-1:") and policy_arn.endswith(
        f":resource/ecs/{RESOURCE}:policyName/cpu50"
    )
    names = [alarm["AlarmName"] for alarm in put["Alarms"]]
    assert names[0].startswith(f"TargetTracking-{RESOURCE}-AlarmHigh-") and names[1].startswith(
        f"TargetTracking-{RESOURCE}-AlarmLow-"
    )
    alarms = {alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    high, low = alarms[names[0]], alarms[names[1]]
    assert (high["Namespace"], high["MetricName"], high["Statistic"], high["Period"]) == (
        "AWS/ECS",
        "CPUUtilization",
        "Average",
        60,
    )
    assert (high["EvaluationPeriods"], high["Threshold"], high["ComparisonOperator"]) == (
        3,
        50.0,
        "GreaterThanThreshold",
    )
    assert (low["EvaluationPeriods"], low["Threshold"], low["ComparisonOperator"]) == (15, 45.0, "LessThanThreshold")
    assert high["AlarmActions"] == [policy_arn]
    assert {d["Name"]: d["Value"] for d in high["Dimensions"]} == {"ClusterName": "web", "ServiceName": "api"}
    [shown] = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert shown["PolicyARN"] == policy_arn and shown["Alarms"] == put["Alarms"]
    assert shown["TargetTrackingScalingPolicyConfiguration"] == CPU_POLICY
    # update in place: same ARN and alarm names; DisableScaleIn drops the low alarm
    updated = aas.put_scaling_policy(PolicyName="cpu50", **TARGET, PolicyType="TargetTrackingScaling",
                                     TargetTrackingScalingPolicyConfiguration={**CPU_POLICY, "TargetValue": 70.0, "DisableScaleIn": True})  # fmt: skip
    assert updated["PolicyARN"] == policy_arn and [a["AlarmName"] for a in updated["Alarms"]] == names[:1]
    assert [a["Threshold"] for a in cloudwatch.describe_alarms(AlarmNamePrefix="TargetTracking-")["MetricAlarms"]] == [
        70.0
    ]
    aas.delete_scaling_policy(PolicyName="cpu50", **TARGET)
    assert cloudwatch.describe_alarms(AlarmNamePrefix="TargetTracking-")["MetricAlarms"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []


def test_deregister_deletes_policies_alarms_and_scheduled_actions(
    aas: Any, cloudwatch: Any, service: dict[str, Any]
) -> None:
    register(aas)
    aas.put_scaling_policy(
        PolicyName="cpu",
        **TARGET,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=CPU_POLICY,
    )
    aas.put_scheduled_action(
        ScheduledActionName="night", **TARGET, Schedule="cron(0 22 * * ? *)", ScalableTargetAction={"MaxCapacity": 2}
    )
    aas.deregister_scalable_target(**TARGET)
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_alb_request_count_policy_checks_its_resource_label(
    aas: Any, cloudwatch: Any, elbv2: Any, service: dict[str, Any]
) -> None:
    register(aas)
    lb, tg = make_alb(elbv2), make_tg(elbv2)
    label = lb["LoadBalancerArn"].split(":loadbalancer/")[1] + "/" + tg["TargetGroupArn"].split(":")[-1]
    config = {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label},
    }
    put = aas.put_scaling_policy(
        PolicyName="rps", **TARGET, PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=config
    )
    high = cloudwatch.describe_alarms(AlarmNames=[put["Alarms"][0]["AlarmName"]])["MetricAlarms"][0]
    assert (high["Namespace"], high["MetricName"], high["Statistic"]) == (
        "AWS/ApplicationELB",
        "RequestCountPerTarget",
        "Sum",
    )
    assert high["Dimensions"] == [{"Name": "TargetGroup", "Value": tg["TargetGroupArn"].split(":")[-1]}]
    for bad in (
        label.replace("/targetgroup/", "/tg/"),
        "app/nope/0123456789abcdef/" + tg["TargetGroupArn"].split(":")[-1],
        label.rsplit("/", 1)[0] + "/0000000000000000",
    ):
        bad_config = {
            **config,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": bad},
        }
        assert error(aas.put_scaling_policy, PolicyName="bad", **TARGET, PolicyType="TargetTrackingScaling",
                     TargetTrackingScalingPolicyConfiguration=bad_config)[0] == "ValidationException"  # fmt: skip
    assert [p["PolicyName"] for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]] == [
        "rps"
    ]


def test_customized_metric_policies(aas: Any, cloudwatch: Any, service: dict[str, Any]) -> None:
    register(aas)
    single = {
        "TargetValue": 10.0,
        "CustomizedMetricSpecification": {
            "Namespace": "MyApp",
            "MetricName": "Backlog",
            "Statistic": "Average",
            "Dimensions": [{"Name": "Queue", "Value": "jobs"}],
        },
    }
    put = aas.put_scaling_policy(
        PolicyName="backlog",
        **TARGET,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=single,
    )
    high = cloudwatch.describe_alarms(AlarmNames=[put["Alarms"][0]["AlarmName"]])["MetricAlarms"][0]
    assert (high["Namespace"], high["MetricName"], high["Threshold"]) == ("MyApp", "Backlog", 10.0)
    math = {"TargetValue": 5.0, "CustomizedMetricSpecification": {"Metrics": [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
         "Dimensions": [{"Name": "QueueName", "Value": "jobs"}]}, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "e1", "Expression": "m1 / 2", "Label": "per task", "ReturnData": True}]}}  # fmt: skip
    put = aas.put_scaling_policy(
        PolicyName="math", **TARGET, PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=math
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=[put["Alarms"][0]["AlarmName"]])["MetricAlarms"][0]
    assert [query["Id"] for query in alarm["Metrics"]] == ["m1", "e1"]
    both = {"TargetValue": 5.0, **single, "PredefinedMetricSpecification": CPU_POLICY["PredefinedMetricSpecification"]}
    assert error(aas.put_scaling_policy, PolicyName="both", **TARGET, PolicyType="TargetTrackingScaling",
                 TargetTrackingScalingPolicyConfiguration=both)[0] == "ValidationException"  # fmt: skip


def test_step_scaling_policy(aas: Any, cloudwatch: Any, service: dict[str, Any]) -> None:
    register(aas)
    config = {
        "AdjustmentType": "ChangeInCapacity", "Cooldown": 60, "MetricAggregationType": "Maximum",
        "StepAdjustments": [
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 100.0, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 100.0, "ScalingAdjustment": 3},
        ],
    }  # fmt: skip
    put = aas.put_scaling_policy(
        PolicyName="queue", **TARGET, PolicyType="StepScaling", StepScalingPolicyConfiguration=config
    )
    assert "Alarms" not in put  # step policies are invoked by the user's own alarms
    [shown] = aas.describe_scaling_policies(ServiceNamespace="ecs", PolicyNames=["queue"])["ScalingPolicies"]
    assert shown["StepScalingPolicyConfiguration"] == config and shown["Alarms"] == []
    for bad in (
        {**config, "MinAdjustmentMagnitude": 2},
        {**config, "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 5.0, "ScalingAdjustment": 1},
                                       {"MetricIntervalLowerBound": 6.0, "ScalingAdjustment": 1}]},
        {**config, "AdjustmentType": "ExactCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": -1}]},
        {key: value for key, value in config.items() if key != "AdjustmentType"},
    ):  # fmt: skip
        assert error(
            aas.put_scaling_policy,
            PolicyName="bad",
            **TARGET,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration=bad,
        )[0] == ("ValidationException")
    assert [p["PolicyName"] for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]] == [
        "queue"
    ]


def test_policy_refusals(aas: Any, service: dict[str, Any]) -> None:
    code, message = error(aas.put_scaling_policy, PolicyName="p", **TARGET, PolicyType="TargetTrackingScaling",
                          TargetTrackingScalingPolicyConfiguration=CPU_POLICY)  # fmt: skip
    assert code == "ObjectNotFoundException"
    assert (
        message
        == f"No scalable target registered for service namespace: ecs, resource ID: {RESOURCE}, scalable dimension: {DIMENSION}"
    )
    register(aas)
    assert (
        error(aas.put_scaling_policy, PolicyName="p", **TARGET, PolicyType="TargetTrackingScaling")[0]
        == "ValidationException"
    )
    dynamo = {
        "TargetValue": 5.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
    }
    assert error(aas.put_scaling_policy, PolicyName="p", **TARGET, PolicyType="TargetTrackingScaling",
                 TargetTrackingScalingPolicyConfiguration=dynamo)[0] == "ValidationException"  # fmt: skip
    code, message = error(aas.delete_scaling_policy, PolicyName="p", **TARGET)
    assert code == "ObjectNotFoundException" and message.endswith("policy name: p")
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []


# -- scheduled actions ---------------------------------------------------------------------------


def test_scheduled_actions(aas: Any, service: dict[str, Any]) -> None:
    register(aas)
    aas.put_scheduled_action(ScheduledActionName="morning", **TARGET, Schedule="cron(0 8 ? * MON-FRI *)", Timezone="Europe/Paris",
                             StartTime=1_900_000_000, EndTime=2_000_000_000, ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 8})  # fmt: skip
    aas.put_scheduled_action(
        ScheduledActionName="once",
        **TARGET,
        Schedule="at(2030-01-01T00:00:00)",
        ScalableTargetAction={"MaxCapacity": 2},
    )
    aas.put_scheduled_action(
        ScheduledActionName="often", **TARGET, Schedule="rate(5 minutes)", ScalableTargetAction={"MinCapacity": 1}
    )
    actions = aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"]
    assert [action["ScheduledActionName"] for action in actions] == ["morning", "once", "often"]
    morning = actions[0]
    assert morning["Timezone"] == "Europe/Paris" and morning["ScalableTargetAction"] == {
        "MinCapacity": 3,
        "MaxCapacity": 8,
    }
    assert morning["StartTime"].timestamp() == 1_900_000_000
    assert ":scheduledAction:" in morning["ScheduledActionARN"] and morning["ScheduledActionARN"].endswith(
        ":scheduledActionName/morning"
    )
    # update with only some members
    aas.put_scheduled_action(ScheduledActionName="morning", **TARGET, ScalableTargetAction={"MinCapacity": 4})
    [morning] = aas.describe_scheduled_actions(ServiceNamespace="ecs", ScheduledActionNames=["morning"])[
        "ScheduledActions"
    ]
    assert morning["Schedule"] == "cron(0 8 ? * MON-FRI *)" and morning["ScalableTargetAction"] == {"MinCapacity": 4}
    page = aas.describe_scheduled_actions(ServiceNamespace="ecs", MaxResults=2)
    assert len(page["ScheduledActions"]) == 2 and page["NextToken"]
    aas.delete_scheduled_action(ScheduledActionName="once", **TARGET)
    code, message = error(aas.delete_scheduled_action, ScheduledActionName="once", **TARGET)
    assert code == "ObjectNotFoundException" and message.endswith("scheduled action name: once")


@pytest.mark.parametrize(
    "bad",
    [
        {"Schedule": "cron(0 8 * *)"},
        {"Schedule": "rate(1 minutes)"},
        {"Schedule": "at(2030-01-01)"},
        {"Schedule": "cron(0 8 * * ? *)", "Timezone": "Mars/Olympus"},
        {"Schedule": "cron(0 8 * * ? *)", "StartTime": 2_000_000_000, "EndTime": 1_900_000_000},
        {"Schedule": "cron(0 8 * * ? *)", "ScalableTargetAction": {"MinCapacity": 5, "MaxCapacity": 2}},
        {},
    ],
)
def test_scheduled_action_refusals_change_nothing(aas: Any, service: dict[str, Any], bad: dict[str, Any]) -> None:
    register(aas)
    assert error(aas.put_scheduled_action, ScheduledActionName="bad", **TARGET, **bad)[0] == "ValidationException"
    assert aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []


# -- tags, activities, unsupported -----------------------------------------------------------


def test_tags(aas: Any, service: dict[str, Any]) -> None:
    arn = register(aas)
    aas.tag_resource(ResourceARN=arn, Tags={"env": "test", "team": "web"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "test"}
    missing = arn[:-4] + "0000"
    assert error(aas.list_tags_for_resource, ResourceARN=missing)[0] == "ResourceNotFoundException"
    assert error(aas.tag_resource, ResourceARN=arn, Tags={f"k{i}": "v" for i in range(60)})[0] == "TooManyTagsException"
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "test"}


def test_scaling_activities_pages_and_filters(aas: Any, ecs: Any, service: dict[str, Any]) -> None:
    register(aas)
    for maximum in (5, 4, 3):
        ecs.update_service(cluster="web", service="api", desiredCount=maximum + 1)
        aas.register_scalable_target(**TARGET, MaxCapacity=maximum)
    all_ = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension=DIMENSION)[
        "ScalingActivities"
    ]
    assert [a["Cause"] for a in all_] == [
        "maximum capacity was set to 3", "maximum capacity was set to 4", "maximum capacity was set to 5", "minimum capacity was set to 1",
    ]  # fmt: skip
    first = aas.describe_scaling_activities(ServiceNamespace="ecs", MaxResults=3)
    second = aas.describe_scaling_activities(ServiceNamespace="ecs", MaxResults=3, NextToken=first["NextToken"])
    assert [a["ActivityId"] for a in first["ScalingActivities"] + second["ScalingActivities"]] == [
        a["ActivityId"] for a in all_
    ]
    assert (
        aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/web/other")["ScalingActivities"]
        == []
    )
    assert (
        error(aas.describe_scaling_activities, ServiceNamespace="ecs", ScalableDimension=DIMENSION)[0]
        == "ValidationException"
    )


def test_predictive_scaling_is_not_supported(aas: Any, service: dict[str, Any]) -> None:
    register(aas)
    code, message = error(aas.get_predictive_scaling_forecast, **TARGET, PolicyName="p", StartTime=0, EndTime=3600)
    assert code == "ValidationException" and "not supported by ecsemu" in message


# -- the AWS CLI ---------------------------------------------------------------------------------


def aws(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        pytest.fail("the AWS CLI is not installed; scripts/test.sh installs it with the test extra")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [found, "application-autoscaling", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_cli(endpoint: str, service: dict[str, Any]) -> None:
    common = ["--service-namespace", "ecs", "--resource-id", RESOURCE, "--scalable-dimension", DIMENSION]
    registered = aws(endpoint, "register-scalable-target", *common, "--min-capacity", "1", "--max-capacity", "4")
    assert registered.returncode == 0, registered.stderr
    described = aws(endpoint, "describe-scalable-targets", "--service-namespace", "ecs")
    assert json.loads(described.stdout)["ScalableTargets"][0]["MaxCapacity"] == 4
    policy = aws(endpoint, "put-scaling-policy", *common, "--policy-name", "cpu", "--policy-type", "TargetTrackingScaling",
                 "--target-tracking-scaling-policy-configuration", json.dumps(CPU_POLICY))  # fmt: skip
    assert policy.returncode == 0, policy.stderr
    assert len(json.loads(policy.stdout)["Alarms"]) == 2
    activities = aws(
        endpoint, "describe-scaling-activities", "--service-namespace", "ecs", "--include-not-scaled-activities"
    )
    assert json.loads(activities.stdout)["ScalingActivities"][0]["Description"] == "Setting desired count to 1."
    bad = aws(endpoint, "register-scalable-target", "--service-namespace", "ecs", "--resource-id", "service/web/nope",
              "--scalable-dimension", DIMENSION, "--min-capacity", "1", "--max-capacity", "2")  # fmt: skip
    assert bad.returncode != 0 and "ECS service doesn't exist" in bad.stderr


# -- the decisions, on the live server's store (the scaling loop calls them) ---------------------


def test_an_alarm_invoking_the_policy_scales_the_service(
    aas: Any, ecs: Any, emulator: Any, service: dict[str, Any]
) -> None:
    from ecsemu.context import Scope  # noqa: PLC0415
    from ecsemu.model.scaling_decisions import invoke_policy  # noqa: PLC0415

    register(aas)
    put = aas.put_scaling_policy(PolicyName="cpu", **TARGET, PolicyType="TargetTrackingScaling",
                                 TargetTrackingScalingPolicyConfiguration=CPU_POLICY)  # fmt: skip
    high = put["Alarms"][0]["AlarmName"]
    scope = Scope("123456789012", "us-east-1")
    invoke_policy(emulator.store, scope, put["PolicyARN"], high, "ALARM", 150.0, 2_000_000_000.0)
    assert desired_count(ecs) == 3
    latest = aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"][0]
    assert latest["Cause"] == f"monitor alarm {high} in state ALARM triggered policy cpu"
    assert (latest["Description"], latest["StatusCode"]) == ("Setting desired count to 3.", "Successful")
    wait_until(lambda: len(ecs.list_tasks(cluster="web")["taskArns"]) == 3, what="the scaled-out tasks")
