"""The ELBv2 control plane through boto3 against a live ecsemu — Targets, their health, tags, and the wire (routing, unsupported operations, regions, the AWS CLI): full flows,
the errors AWS answers, and bad input that changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import botocore.config
import botocore.session
import pytest
import requests
from alb_fixture import listener_port
from botocore.serialize import create_serializer
from conftest import REGION, client, wait_until
from elbv2_helpers import SCOPE, error_of, forward, health, make_alb, make_listener, make_tg

from ecsemu.app import Emulator

# --------------------------------------------------------------------------------------------
# Targets and their health


def test_target_health_follows_registration_and_use(elbv2: Any, emulator: Emulator) -> None:
    tg = make_tg(elbv2)
    tg_arn = tg["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}, {"Id": "10.0.0.6", "Port": 8081}])
    assert health(elbv2, tg_arn) == [
        ("10.0.0.5", 80, "unused", "Target.NotInUse"),
        ("10.0.0.6", 8081, "unused", "Target.NotInUse"),
    ]

    lb = make_alb(elbv2)
    make_listener(elbv2, lb["LoadBalancerArn"], tg_arn)
    # Once a listener uses the group, targets are initial: registering, then first checks
    # (the data plane's health checker moves them on).
    described = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    assert described[0]["Target"] == {"Id": "10.0.0.5", "Port": 80}
    assert described[0]["HealthCheckPort"] == "80"
    assert described[0]["TargetHealth"]["State"] == "initial"
    assert described[0]["TargetHealth"]["Reason"] in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking")
    asked = health(elbv2, tg_arn, Targets=[{"Id": "10.0.0.6", "Port": 8081}, {"Id": "10.0.0.7"}])
    assert asked[0][:3] == ("10.0.0.6", 8081, "initial")
    assert asked[1] == ("10.0.0.7", 80, "unused", "Target.NotRegistered")

    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}]
    )
    elbv2.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])
    assert health(elbv2, tg_arn)[0] == ("10.0.0.5", 80, "draining", "Target.DeregistrationInProgress")
    wait_until(lambda: [t[0] for t in health(elbv2, tg_arn)] == ["10.0.0.6"], timeout=5, what="draining to end")

    # Registering again starts a new registration: older health does not count.
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])
    assert ("10.0.0.5", 80, "initial") in [t[:3] for t in health(elbv2, tg_arn)]


def test_deregistering_from_an_unused_group_is_immediate(elbv2: Any) -> None:
    tg_arn = make_tg(elbv2)["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])  # again: no change
    assert len(health(elbv2, tg_arn)) == 1
    elbv2.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])
    assert health(elbv2, tg_arn) == []
    code, _, _ = error_of(elbv2.deregister_targets, TargetGroupArn=tg_arn, Targets=[{"Id": "10.0.0.5"}])
    assert code == "InvalidTarget"


def test_register_targets_refusals_change_nothing(elbv2: Any) -> None:
    ip_tg = make_tg(elbv2)["TargetGroupArn"]
    code, message, _ = error_of(
        elbv2.register_targets, TargetGroupArn=ip_tg, Targets=[{"Id": "10.0.0.1"}, {"Id": "i-0abc"}]
    )
    assert (code, message) == ("ValidationError", "The IP address 'i-0abc' is not a valid IPv4 address")
    instance_tg = make_tg(elbv2, "inst", TargetType="instance")["TargetGroupArn"]
    code, _, _ = error_of(elbv2.register_targets, TargetGroupArn=instance_tg, Targets=[{"Id": "10.0.0.1"}])
    assert code == "InvalidTarget"
    elbv2.register_targets(TargetGroupArn=instance_tg, Targets=[{"Id": "i-0123456789abcdef0", "Port": 32768}])
    assert health(elbv2, ip_tg) == []
    assert health(elbv2, instance_tg) == [("i-0123456789abcdef0", 32768, "unused", "Target.NotInUse")]
    with pytest.raises(elbv2.exceptions.TargetGroupNotFoundException):
        elbv2.register_targets(TargetGroupArn=ip_tg + "0", Targets=[{"Id": "10.0.0.1"}])


# --------------------------------------------------------------------------------------------
# Tags


def test_tags_across_resources(elbv2: Any, emulator: Emulator) -> None:
    lb = make_alb(elbv2)
    tg = make_tg(elbv2)
    listener = make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"])
    rule = elbv2.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/"]}],
        Actions=forward(tg["TargetGroupArn"]), Tags=[{"Key": "kind", "Value": "rule"}],
    )["Rules"][0]  # fmt: skip
    arns = [lb["LoadBalancerArn"], tg["TargetGroupArn"], listener["ListenerArn"], rule["RuleArn"]]
    elbv2.add_tags(ResourceArns=arns, Tags=[{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "me"}])
    elbv2.remove_tags(ResourceArns=arns[:2], TagKeys=["owner"])
    described = {
        d["ResourceArn"]: d["Tags"]
        for d in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]
    }
    assert described[arns[0]] == [{"Key": "env", "Value": "test"}]
    assert described[arns[2]] == [{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "me"}]
    assert described[arns[3]] == [
        {"Key": "kind", "Value": "rule"},
        {"Key": "env", "Value": "test"},
        {"Key": "owner", "Value": "me"},
    ]

    # The data plane's bound port is told by the admin endpoint, never in what the API shows:
    # no tag of the emulator's own, and DescribeListeners unchanged.
    port = listener_port(elbv2, listener["ListenerArn"])
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert elbv2.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"] == [listener]
    assert elbv2.describe_tags(ResourceArns=[listener["ListenerArn"]])["TagDescriptions"][0]["Tags"] == [
        {"Key": "env", "Value": "test"},
        {"Key": "owner", "Value": "me"},
    ]
    elbv2.add_tags(ResourceArns=[listener["ListenerArn"]], Tags=[{"Key": "ecsemu:mine", "Value": "user's own"}])
    elbv2.remove_tags(ResourceArns=[listener["ListenerArn"]], TagKeys=["ecsemu:mine"])

    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]  # 51 with "env"
    code, _, _ = error_of(elbv2.add_tags, ResourceArns=[lb["LoadBalancerArn"]], Tags=too_many)
    assert code == "TooManyTags"
    code, _, _ = error_of(elbv2.add_tags, ResourceArns=[lb["LoadBalancerArn"]], Tags=[{"Key": "aws:x", "Value": "v"}])
    assert code == "ValidationError"
    code, _, _ = error_of(elbv2.add_tags, ResourceArns=[lb["LoadBalancerArn"]], Tags=[{"Key": "a"}, {"Key": "a"}])
    assert code == "DuplicateTagKeys"
    assert described[arns[0]] == elbv2.describe_tags(ResourceArns=[arns[0]])["TagDescriptions"][0]["Tags"]
    del emulator
    with pytest.raises(elbv2.exceptions.LoadBalancerNotFoundException):
        elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"] + "0"])


# --------------------------------------------------------------------------------------------
# The wire: routing, unsupported operations, regions, the AWS CLI


def test_every_other_operation_is_a_clean_400(elbv2: Any) -> None:
    code, message, status = error_of(elbv2.describe_ssl_policies)
    assert (code, status) == ("OperationNotPermitted", 400)
    assert message == "The ELBv2 operation DescribeSSLPolicies is not supported by ecsemu yet."
    with pytest.raises(elbv2.exceptions.OperationNotPermittedException):
        elbv2.describe_trust_stores()


def test_unsigned_form_requests_are_routed_by_action(endpoint: str) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = requests.post(endpoint, data="Action=DescribeLoadBalancers&Version=2015-12-01", headers=form, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/xml"
    assert answer.text.startswith(
        '<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
    )
    assert answer.headers["x-amzn-RequestId"] in answer.text

    missing = requests.post(endpoint, data="Version=2015-12-01", headers=form, timeout=10)
    assert missing.status_code == 400
    assert "<Code>MissingAction</Code>" in missing.text and "<Type>Sender</Type>" in missing.text

    unknown = requests.post(endpoint, data="Action=DescribeNothing&Version=2015-12-01", headers=form, timeout=10)
    assert unknown.status_code == 400
    assert (
        "<Code>InvalidAction</Code><Message>Could not find operation DescribeNothing for version 2015-12-01</Message>"
        in unknown.text
    )

    # Classic ELB shares the endpoint name; its version is not this API's.
    classic = requests.post(endpoint, data="Action=DescribeLoadBalancers&Version=2012-06-01", headers=form, timeout=10)
    assert classic.status_code == 400 and "<Code>InvalidAction</Code>" in classic.text

    # The JSON protocol is untouched.
    ecs = requests.post(
        endpoint, data="{}", timeout=10,
        headers={"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters", "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    assert ecs.status_code == 200 and ecs.json() == {"clusterArns": []}


def test_state_is_per_region_and_account(endpoint: str, elbv2: Any) -> None:
    make_alb(elbv2)
    west = client("elbv2", endpoint, region_name="us-west-2")
    assert west.describe_load_balancers()["LoadBalancers"] == []
    other_account = client("elbv2", endpoint, aws_access_key_id="111122223333")
    assert other_account.describe_load_balancers()["LoadBalancers"] == []
    lb = make_alb(west, "west")
    assert lb["LoadBalancerArn"].startswith("arn:aws:elasticloadbalancing:us-west-2:123456789012:")
    assert lb["CanonicalHostedZoneId"] == "Z1H1FL5HABSF5"


def test_aws_cli_describe_load_balancers(endpoint: str, elbv2: Any) -> None:
    make_alb(elbv2, "cli")
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        pytest.fail("the AWS CLI is not installed; scripts/test.sh installs it with the test extra")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
    done = subprocess.run(
        [found, "elbv2", "describe-load-balancers", "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [lb["LoadBalancerName"] for lb in json.loads(done.stdout)["LoadBalancers"]] == ["cli"]
    failed = subprocess.run(
        [found, "elbv2", "describe-load-balancers", "--names", "nope", "--endpoint-url", endpoint],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert failed.returncode != 0 and "LoadBalancerNotFound" in failed.stderr


def test_account_limits(elbv2: Any) -> None:
    limits = {limit["Name"]: limit["Max"] for limit in elbv2.describe_account_limits()["Limits"]}
    assert limits["application-load-balancers"] == "50"
    assert limits["listeners-per-application-load-balancer"] == "50"


def test_records_survive_a_reread(elbv2: Any, emulator: Emulator) -> None:
    """The records hold what the data plane will read, under the documented kinds and ids."""
    lb = make_alb(elbv2)
    tg = make_tg(elbv2)
    listener = make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"])
    lb_id = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    record = emulator.store.get(SCOPE, "elbv2.load_balancer", lb_id)
    assert record is not None and record["status"] == {}
    assert record["spec"]["DNSName"] == lb["DNSName"]
    listener_id = listener["ListenerArn"].split(":listener/", 1)[1]
    listener_record = emulator.store.get(SCOPE, "elbv2.listener", listener_id)
    assert listener_record is not None
    assert (
        listener_record["spec"]["Port"] == 80
        and listener_record["spec"]["DefaultActions"] == listener["DefaultActions"]
    )
    rule_id = listener_record["spec"]["DefaultRuleArn"].split(":listener-rule/", 1)[1]
    default_rule = emulator.store.get(SCOPE, "elbv2.rule", rule_id)
    assert default_rule is not None and default_rule["spec"]["IsDefault"] is True


def filled(shape: Any, depth: int = 0, *, sparse: bool = False) -> Any:
    """A value of ``shape`` with every member (``sparse``: every required member) set to
    something plausible but arbitrary."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        names = shape.required_members if sparse else list(shape.members)
        return {name: filled(shape.members[name], depth + 1, sparse=sparse) for name in names}
    if kind == "list":
        return [filled(shape.member, depth + 1, sparse=sparse)]
    if kind == "map":
        return {"key": filled(shape.value, depth + 1, sparse=sparse)}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x<&>"
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind in ("float", "double"):
        return 1.0
    if kind == "timestamp":
        return datetime(2024, 1, 1, tzinfo=UTC)
    return b"blob"


def test_no_operation_ever_answers_500(endpoint: str) -> None:
    """Every operation of botocore's model, empty and filled with odd values: never a 500."""
    model = botocore.session.get_session().get_service_model("elbv2")
    serializer = create_serializer("query", include_validation=False)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for name in model.operation_names:
        operation = model.operation_model(name)
        shape = operation.input_shape
        for params in ({}, filled(shape) if shape else {}, filled(shape, sparse=True) if shape else {}):
            body = urlencode(serializer.serialize_to_request(params, operation)["body"])
            answer = requests.post(endpoint, data=body, headers=headers, timeout=10)
            assert answer.status_code in (200, 400), (name, answer.status_code, answer.text)
            assert answer.text.endswith("Response>"), (name, answer.text)
