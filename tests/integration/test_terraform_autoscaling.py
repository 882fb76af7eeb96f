"""Terraform's AWS provider, unchanged, against the services an ECS module declares beside its
service: CloudWatch Logs, SSM Parameter Store, Secrets Manager, SQS, CloudWatch alarms and
Application Auto Scaling.

``tests/terraform/autoscaling/main.tf`` (log group with retention and tags, a String and a
SecureString parameter, a secret and its version, a queue with a redrive policy to its
dead-letter queue, a task definition logging through awslogs and reading secrets from SSM and
Secrets Manager, its service, the service's scalable target, a target tracking and a step policy,
an alarm invoking the step policy, a scheduled action) is applied, planned (no changes: every
attribute the provider reads back equals what it wrote), changed (target value, retention, max
capacity), applied and planned again, and destroyed; boto3 then finds nothing left, not even the
target tracking policy's own alarms.

It runs on the simulated runtime (the session's in-process ecsemu), so no container starts.
Most of its minutes are the provider's own waits, the same against AWS: an SQS queue's create
polls its attributes until six reads in a row match (at least 5 s apart: about 25 s a queue),
and an ECS cluster's create waits 10 s before its first read.

It needs the ``terraform`` CLI and the AWS provider offline (see ``test_terraform``); without them
the test is skipped and says why.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import client
from test_terraform import Terraform, provider_mirror

pytestmark = [pytest.mark.slow]

CONFIGURATION = Path(__file__).resolve().parents[1] / "terraform" / "autoscaling"
SERVICE_ID = "service/tf-workers/worker"


@pytest.fixture
def terraform(tmp_path: Path, endpoint: str) -> Terraform:
    if shutil.which("terraform") is None:
        pytest.skip("Terraform is not installed on this machine: the Terraform test did not run")
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip(
            "no offline copy of the Terraform AWS provider (set ECSEMU_TERRAFORM_PLUGIN_DIR): "
            "the Terraform test did not run"
        )
    work = tmp_path / "autoscaling"
    shutil.copytree(CONFIGURATION, work)
    tf = Terraform(work, mirror, {"endpoint": endpoint})
    tf.run("init", with_variables=False)
    return tf


def timed(timings: dict[str, float], step: str, tf: Terraform, *args: str, check: bool = True) -> int:
    started = time.monotonic()
    done = tf.run(*args, check=check)
    timings[step] = round(time.monotonic() - started, 1)
    if not check and done.returncode != 0:
        pytest.fail(f"terraform {step} exited {done.returncode}:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}")
    return done.returncode


def policy_alarms(cloudwatch: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def test_apply_plan_change_destroy(terraform: Terraform, endpoint: str) -> None:
    timings: dict[str, float] = {}
    scaling, cloudwatch = client("application-autoscaling", endpoint), client("cloudwatch", endpoint)
    logs, ssm, sqs = client("logs", endpoint), client("ssm", endpoint), client("sqs", endpoint)
    secrets, ecs = client("secretsmanager", endpoint), client("ecs", endpoint)

    timed(timings, "apply", terraform, "apply", "-auto-approve")
    assert timed(timings, "plan", terraform, "plan", "-detailed-exitcode", check=False) == 0

    alarm_arns = json.loads(terraform.output("cpu_policy_alarms"))
    alarm_names = [arn.split(":alarm:", 1)[1] for arn in alarm_arns]
    assert sorted(name.split("-")[-6] for name in alarm_names) == ["AlarmHigh", "AlarmLow"]
    assert all(name.startswith(f"TargetTracking-{SERVICE_ID}-") for name in alarm_names)
    thresholds = {name.split("-")[-6]: a["Threshold"] for name, a in policy_alarms(cloudwatch, alarm_names).items()}
    assert thresholds == {"AlarmHigh": 50.0, "AlarmLow": 45.0}
    jobs = sqs.get_queue_attributes(QueueUrl=terraform.output("queue_url"), AttributeNames=["RedrivePolicy"])
    assert json.loads(jobs["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": terraform.output("dlq_arn"),
        "maxReceiveCount": 5,
    }
    service = ecs.describe_services(cluster="tf-workers", services=["worker"])["services"][0]
    assert service["status"] == "ACTIVE"

    terraform.variables.update(cpu_target="60", log_retention_days="14", max_capacity="6")
    timed(timings, "apply (changed)", terraform, "apply", "-auto-approve")
    assert timed(timings, "plan (changed)", terraform, "plan", "-detailed-exitcode", check=False) == 0
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[SERVICE_ID])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in target] == [(1, 6)]
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/ecs/tf-worker")["logGroups"]
    assert group["retentionInDays"] == 14
    thresholds = {name.split("-")[-6]: a["Threshold"] for name, a in policy_alarms(cloudwatch, alarm_names).items()}
    assert thresholds == {"AlarmHigh": 60.0, "AlarmLow": 54.0}

    timed(timings, "destroy", terraform, "destroy", "-auto-approve")
    print(f"terraform timings (s): {timings}")
    assert scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert scaling.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []
    every_alarm = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert (every_alarm["MetricAlarms"], every_alarm.get("CompositeAlarms", [])) == ([], [])
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert ssm.describe_parameters()["Parameters"] == []
    # recovery_window_in_days = 0 is ForceDeleteWithoutRecovery: gone at once, name free.
    assert secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []
    assert ecs.describe_clusters(clusters=["tf-workers"])["clusters"][0]["status"] == "INACTIVE"
