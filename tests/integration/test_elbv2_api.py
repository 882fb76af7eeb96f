"""The ELBv2 control plane through boto3 (and once the AWS CLI) against a live ecsemu:
full flows, the errors AWS answers, and bad input that changes nothing."""

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
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer

from ecsemu.app import Emulator
from ecsemu.context import Scope
from tests.conftest import REGION, client, wait_until

SCOPE = Scope("123456789012", REGION)
SUBNETS = ["subnet-0a1", "subnet-0b2"]
VPC = "vpc-0123456789abcdef0"


@pytest.fixture
def elbv2(endpoint: str) -> Any:
    return client("elbv2", endpoint)


@pytest.fixture
def raw_elbv2(endpoint: str) -> Any:
    """A client that skips boto3's own parameter checks, to reach the server's."""
    return client("elbv2", endpoint, config=botocore.config.Config(parameter_validation=False))


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def make_alb(elbv2: Any, name: str = "web", **kwargs: Any) -> dict[str, Any]:
    created: dict[str, Any] = elbv2.create_load_balancer(Name=name, Subnets=SUBNETS, **kwargs)["LoadBalancers"][0]
    return created


def make_tg(elbv2: Any, name: str = "app", protocol: str = "HTTP", port: int = 80, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("TargetType", "ip")
    created: dict[str, Any] = elbv2.create_target_group(Name=name, Protocol=protocol, Port=port, VpcId=VPC, **kwargs)[
        "TargetGroups"
    ][0]
    return created


def forward(tg_arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": tg_arn}]


def make_listener(elbv2: Any, lb_arn: str, tg_arn: str, port: int = 80, protocol: str = "HTTP") -> dict[str, Any]:
    created: dict[str, Any] = elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol=protocol, Port=port, DefaultActions=forward(tg_arn)
    )["Listeners"][0]
    return created


def health(elbv2: Any, tg_arn: str, **kwargs: Any) -> list[tuple[str, int, str, str | None]]:
    descriptions = elbv2.describe_target_health(TargetGroupArn=tg_arn, **kwargs)["TargetHealthDescriptions"]
    return [
        (d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
        for d in descriptions
    ]


def attributes(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


# --------------------------------------------------------------------------------------------
# Load balancers


def test_application_load_balancer_lifecycle(elbv2: Any) -> None:
    lb = make_alb(elbv2, Tags=[{"Key": "team", "Value": "web"}])
    arn = lb["LoadBalancerArn"]
    assert arn.startswith(f"arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/web/")
    hex_id = arn.rsplit("/", 1)[1]
    assert len(hex_id) == 16 and int(hex_id, 16) >= 0
    assert lb["State"] == {"Code": "provisioning"}
    assert lb["DNSName"] == f"web-{hex_id}.{REGION}.elb.localhost"
    assert lb["CanonicalHostedZoneId"] == "Z35SXDOTRQ7X7K"
    assert (lb["Type"], lb["Scheme"], lb["IpAddressType"]) == ("application", "internet-facing", "ipv4")
    assert [(z["ZoneName"], z["SubnetId"]) for z in lb["AvailabilityZones"]] == [
        ("us-east-1a", "subnet-0a1"), ("us-east-1b", "subnet-0b2"),
    ]  # fmt: skip
    assert lb["VpcId"].startswith("vpc-") and len(lb["SecurityGroups"]) == 1

    elbv2.get_waiter("load_balancer_available").wait(
        LoadBalancerArns=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    described = elbv2.describe_load_balancers(Names=["web"])["LoadBalancers"]
    assert [d["LoadBalancerArn"] for d in described] == [arn]
    assert described[0]["State"] == {"Code": "active"}
    assert elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == [{"Key": "team", "Value": "web"}]

    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    elbv2.delete_load_balancer(LoadBalancerArn=arn)  # deleting what is gone succeeds, as in AWS
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    elbv2.get_waiter("load_balancers_deleted").wait(LoadBalancerArns=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def test_internal_network_load_balancer_without_subnets(elbv2: Any) -> None:
    lb = elbv2.create_load_balancer(Name="tcp", Type="network", Scheme="internal")["LoadBalancers"][0]
    assert lb["Type"] == "network" and lb["Scheme"] == "internal"
    assert lb["DNSName"].startswith("internal-tcp-") and lb["DNSName"].endswith(".us-east-1.elb.localhost")
    assert lb["CanonicalHostedZoneId"] == "Z26RNL4JYFTOTI"
    assert ":loadbalancer/net/tcp/" in lb["LoadBalancerArn"]
    assert [z["ZoneName"] for z in lb["AvailabilityZones"]] == ["us-east-1a", "us-east-1b"]
    assert "SecurityGroups" not in lb


def test_create_load_balancer_is_idempotent_but_not_for_other_settings(elbv2: Any) -> None:
    first = make_alb(elbv2)
    again = make_alb(elbv2)
    assert again["LoadBalancerArn"] == first["LoadBalancerArn"]
    code, message, status = error_of(elbv2.create_load_balancer, Name="web", Subnets=SUBNETS, Scheme="internal")
    assert (code, status) == ("DuplicateLoadBalancerName", 400)
    assert message == "A load balancer with the same name 'web' exists, but with different settings"
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 33, f"The load balancer name '{'a' * 33}' cannot be longer than '32' characters"),
        ("-web", "The load balancer name '-web' cannot begin or end with a hyphen"),
        ("internal-web", "The load balancer name 'internal-web' cannot begin with 'internal-'"),
        (
            "web_1",
            "The load balancer name 'web_1' can only contain characters that are alphanumeric characters and hyphens(-)",
        ),
    ],
)
def test_invalid_load_balancer_names(elbv2: Any, name: str, message: str) -> None:
    assert error_of(elbv2.create_load_balancer, Name=name, Subnets=SUBNETS) == ("ValidationError", message, 400)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []


def test_an_application_load_balancer_needs_two_subnets(elbv2: Any) -> None:
    code, message, _ = error_of(elbv2.create_load_balancer, Name="one", Subnets=["subnet-1"])
    assert (code, message) == (
        "ValidationError",
        "At least two subnets in two different Availability Zones must be specified",
    )


def test_describe_load_balancers_not_found(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    code, message, _ = error_of(elbv2.describe_load_balancers, Names=["web", "nope", "gone"])
    assert (code, message) == ("LoadBalancerNotFound", "Load balancers '[nope, gone]' not found")
    missing = lb["LoadBalancerArn"][:-1] + ("0" if lb["LoadBalancerArn"][-1] != "0" else "1")
    code, message, _ = error_of(elbv2.describe_load_balancers, LoadBalancerArns=[lb["LoadBalancerArn"], missing])
    assert (code, message) == ("LoadBalancerNotFound", "One or more load balancers not found")
    with pytest.raises(elbv2.exceptions.LoadBalancerNotFoundException):
        elbv2.describe_load_balancer_attributes(LoadBalancerArn=missing)


def test_describe_load_balancers_pages(elbv2: Any) -> None:
    names = [f"lb{i}" for i in range(5)]
    for name in names:
        make_alb(elbv2, name)
    first = elbv2.describe_load_balancers(PageSize=2)
    assert [lb["LoadBalancerName"] for lb in first["LoadBalancers"]] == ["lb0", "lb1"]
    second = elbv2.describe_load_balancers(PageSize=2, Marker=first["NextMarker"])
    assert [lb["LoadBalancerName"] for lb in second["LoadBalancers"]] == ["lb2", "lb3"]
    paged = elbv2.get_paginator("describe_load_balancers").paginate(PaginationConfig={"PageSize": 2})
    assert [lb["LoadBalancerName"] for page in paged for lb in page["LoadBalancers"]] == names
    code, _, _ = error_of(elbv2.describe_load_balancers, Marker="not-a-marker")
    assert code == "ValidationError"


def test_load_balancer_attributes(elbv2: Any) -> None:
    arn = make_alb(elbv2)["LoadBalancerArn"]
    current = attributes(elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
    assert current["idle_timeout.timeout_seconds"] == "60"
    assert current["deletion_protection.enabled"] == "false"
    assert current["routing.http2.enabled"] == "true"

    changed = elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "120"}]
    )
    assert attributes(changed["Attributes"])["idle_timeout.timeout_seconds"] == "120"

    # One bad attribute among good ones changes nothing.
    code, message, _ = error_of(
        elbv2.modify_load_balancer_attributes,
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "routing.http2.enabled", "Value": "false"},
            {"Key": "idle_timeout.timeout_seconds", "Value": "0"},
        ],
    )
    assert code == "ValidationError" and "idle_timeout.timeout_seconds" in message
    code, message, _ = error_of(
        elbv2.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[{"Key": "nope", "Value": "1"}]
    )
    assert (code, message) == ("ValidationError", "Load balancer attribute key 'nope' is not recognized")
    after = attributes(elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
    assert after == {**current, "idle_timeout.timeout_seconds": "120"}


def test_deletion_protection(elbv2: Any) -> None:
    arn = make_alb(elbv2)["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    code, _, _ = error_of(elbv2.delete_load_balancer, LoadBalancerArn=arn)
    assert code == "OperationNotPermitted"
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elbv2.delete_load_balancer(LoadBalancerArn=arn)


def test_security_groups_subnets_and_ip_address_type(elbv2: Any) -> None:
    arn = make_alb(elbv2)["LoadBalancerArn"]
    assert elbv2.set_security_groups(LoadBalancerArn=arn, SecurityGroups=["sg-1", "sg-2"])["SecurityGroupIds"] == [
        "sg-1",
        "sg-2",
    ]
    zones = elbv2.set_subnets(LoadBalancerArn=arn, Subnets=["subnet-x", "subnet-y", "subnet-z"])["AvailabilityZones"]
    assert [z["SubnetId"] for z in zones] == ["subnet-x", "subnet-y", "subnet-z"]
    assert elbv2.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="dualstack")["IpAddressType"] == "dualstack"
    lb = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert (lb["SecurityGroups"], lb["IpAddressType"], len(lb["AvailabilityZones"])) == (
        ["sg-1", "sg-2"],
        "dualstack",
        3,
    )


# --------------------------------------------------------------------------------------------
# Target groups


def test_http_target_group_health_check_defaults(elbv2: Any) -> None:
    tg = make_tg(elbv2, "app", TargetType="instance")
    assert tg["TargetGroupArn"].startswith(f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/app/")
    expected = {
        "Protocol": "HTTP", "Port": 80, "VpcId": VPC, "TargetType": "instance", "ProtocolVersion": "HTTP1",
        "IpAddressType": "ipv4", "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True, "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2, "HealthCheckPath": "/",
        "Matcher": {"HttpCode": "200"}, "LoadBalancerArns": [],
    }  # fmt: skip
    assert {key: tg[key] for key in expected} == expected
    attrs = attributes(elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"])
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["load_balancing.algorithm.type"] == "round_robin"
    assert attrs["stickiness.enabled"] == "false"
    assert attrs["stickiness.type"] == "lb_cookie"
    assert attrs["slow_start.duration_seconds"] == "0"


def test_network_target_group_health_check_defaults(elbv2: Any) -> None:
    tcp = make_tg(elbv2, "tcp", "TCP", 6379)
    assert (tcp["HealthCheckProtocol"], tcp["HealthCheckTimeoutSeconds"], tcp["HealthCheckIntervalSeconds"]) == (
        "TCP",
        10,
        30,
    )
    assert (tcp["HealthyThresholdCount"], tcp["UnhealthyThresholdCount"]) == (5, 2)
    assert "HealthCheckPath" not in tcp and "Matcher" not in tcp and "ProtocolVersion" not in tcp
    http_checked = make_tg(elbv2, "tcp-http", "TCP", 8080, HealthCheckProtocol="HTTP")
    assert (http_checked["HealthCheckTimeoutSeconds"], http_checked["HealthCheckPath"]) == (6, "/")
    assert http_checked["Matcher"] == {"HttpCode": "200-399"}
    attrs = attributes(elbv2.describe_target_group_attributes(TargetGroupArn=tcp["TargetGroupArn"])["Attributes"])
    assert attrs["stickiness.type"] == "source_ip"
    assert attrs["preserve_client_ip.enabled"] == "false"  # ip targets over TCP


def test_create_target_group_refusals_change_nothing(elbv2: Any, raw_elbv2: Any) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"Name": "a", "Port": 80, "VpcId": VPC}, "ValidationError", "A protocol must be specified"),
        ({"Name": "a", "Protocol": "HTTP", "VpcId": VPC}, "ValidationError", "A port must be specified"),
        ({"Name": "a", "Protocol": "HTTP", "Port": 80}, "ValidationError", "A VPC ID must be specified"),
        ({"Name": "a" * 33, "Protocol": "HTTP", "Port": 80, "VpcId": VPC}, "ValidationError",
         f"Target group name '{'a' * 33}' cannot be longer than '32' characters"),
        ({"Name": "a", "Protocol": "HTTP", "Port": 80, "VpcId": VPC, "HealthCheckProtocol": "TCP"}, "ValidationError",
         "Health check protocol 'TCP' is not supported for target groups with the protocol 'HTTP'"),
        ({"Name": "a", "Protocol": "HTTP", "Port": 80, "VpcId": VPC, "HealthCheckTimeoutSeconds": 30}, "ValidationError",
         "Health check interval must be greater than the timeout."),
        ({"Name": "a", "Protocol": "HTTP", "Port": 80, "VpcId": VPC, "Matcher": {"HttpCode": "600"}}, "ValidationError",
         "Health check matcher HTTP code '600' must be values or ranges between 200 and 499"),
        ({"Name": "a", "TargetType": "lambda"}, "OperationNotPermitted",
         "Target groups of target type 'lambda' are not supported by ecsemu yet."),
    ]  # fmt: skip
    for params, code, message in cases:
        assert error_of(elbv2.create_target_group, **params)[:2] == (code, message), params
    # Constraints of the model are checked at the edge, with AWS's wording.
    code, message, status = error_of(raw_elbv2.create_target_group, Name="a", Protocol="HTTP", Port=0, VpcId=VPC)
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "1 validation error detected: Value '0' at 'port' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert elbv2.describe_target_groups()["TargetGroups"] == []


def test_target_group_idempotency_and_duplicates(elbv2: Any) -> None:
    first = make_tg(elbv2)
    assert make_tg(elbv2)["TargetGroupArn"] == first["TargetGroupArn"]
    code, message, _ = error_of(
        elbv2.create_target_group, Name="app", Protocol="HTTP", Port=8080, VpcId=VPC, TargetType="ip"
    )
    assert (code, message) == (
        "DuplicateTargetGroupName",
        "A target group with the same name 'app' exists, but with different settings",
    )


def test_modify_target_group(elbv2: Any) -> None:
    arn = make_tg(elbv2)["TargetGroupArn"]
    tg = elbv2.modify_target_group(
        TargetGroupArn=arn, HealthCheckPath="/health", HealthCheckIntervalSeconds=10, Matcher={"HttpCode": "200-299"}
    )["TargetGroups"][0]
    assert (tg["HealthCheckPath"], tg["HealthCheckIntervalSeconds"], tg["Matcher"]) == (
        "/health",
        10,
        {"HttpCode": "200-299"},
    )
    assert tg["HealthCheckTimeoutSeconds"] == 5
    code, _, _ = error_of(elbv2.modify_target_group, TargetGroupArn=arn, HealthCheckTimeoutSeconds=20)
    assert code == "ValidationError"
    assert elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["HealthCheckTimeoutSeconds"] == 5


def test_target_group_attributes(elbv2: Any) -> None:
    arn = make_tg(elbv2)["TargetGroupArn"]
    changed = elbv2.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
            {"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
            {"Key": "stickiness.enabled", "Value": "true"},
        ],
    )
    assert attributes(changed["Attributes"])["load_balancing.algorithm.type"] == "least_outstanding_requests"
    code, message, _ = error_of(
        elbv2.modify_target_group_attributes,
        TargetGroupArn=arn,
        Attributes=[
            {"Key": "stickiness.enabled", "Value": "false"},
            {"Key": "load_balancing.algorithm.type", "Value": "random"},
        ],
    )
    assert code == "ValidationError" and "load_balancing.algorithm.type" in message
    attrs = attributes(elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"])
    assert (attrs["stickiness.enabled"], attrs["deregistration_delay.timeout_seconds"]) == ("true", "30")


def test_describe_target_groups_filters_and_errors(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    used, unused = make_tg(elbv2, "used"), make_tg(elbv2, "unused")
    make_listener(elbv2, lb["LoadBalancerArn"], used["TargetGroupArn"])
    by_lb = elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert [tg["TargetGroupName"] for tg in by_lb] == ["used"]
    assert by_lb[0]["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    assert [tg["TargetGroupName"] for tg in elbv2.describe_target_groups(Names=["unused"])["TargetGroups"]] == [
        "unused"
    ]
    code, message, _ = error_of(elbv2.describe_target_groups, Names=["used", "nope"])
    assert (code, message) == ("TargetGroupNotFound", "One or more target groups not found")
    code, _, _ = error_of(elbv2.describe_target_groups, Names=["used"], TargetGroupArns=[unused["TargetGroupArn"]])
    assert code == "ValidationError"
    with pytest.raises(elbv2.exceptions.TargetGroupNotFoundException):
        elbv2.describe_target_groups(TargetGroupArns=[unused["TargetGroupArn"] + "0"])


# --------------------------------------------------------------------------------------------
# Listeners


def test_listener_forward_flow_and_deletes(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    tg = make_tg(elbv2)
    listener = make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"], port=8080)
    lb_path = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    assert listener["ListenerArn"].startswith(f"arn:aws:elasticloadbalancing:{REGION}:123456789012:listener/{lb_path}/")
    assert (listener["Port"], listener["Protocol"]) == (8080, "HTTP")
    assert listener["DefaultActions"] == [
        {
            "Type": "forward",
            "TargetGroupArn": tg["TargetGroupArn"],
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": tg["TargetGroupArn"], "Weight": 1}],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
    ]
    assert elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] == [listener]
    assert make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"], port=8080) == listener  # idempotent

    code, message, _ = error_of(elbv2.delete_target_group, TargetGroupArn=tg["TargetGroupArn"])
    assert (code, message) == (
        "ResourceInUse",
        f"Target group '{tg['TargetGroupArn']}' is currently in use by a listener or a rule",
    )

    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    with pytest.raises(elbv2.exceptions.ListenerNotFoundException):
        elbv2.describe_listeners(ListenerArns=[listener["ListenerArn"]])
    assert elbv2.describe_target_groups()["TargetGroups"][0]["LoadBalancerArns"] == []
    elbv2.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    elbv2.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    assert elbv2.describe_target_groups()["TargetGroups"] == []


def test_weighted_fixed_response_and_redirect_actions(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    blue, green = make_tg(elbv2, "blue"), make_tg(elbv2, "green")
    weighted = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": blue["TargetGroupArn"], "Weight": 80}, {"TargetGroupArn": green["TargetGroupArn"], "Weight": 20},
        ]}}],
    )["Listeners"][0]  # fmt: skip
    action = weighted["DefaultActions"][0]
    assert "TargetGroupArn" not in action
    assert [g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]] == [80, 20]
    tgs = elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert sorted(tg["TargetGroupName"] for tg in tgs) == ["blue", "green"]

    fixed = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=81,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down"}}],
    )["Listeners"][0]  # fmt: skip
    assert fixed["DefaultActions"] == [
        {
            "Type": "fixed-response",
            "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down"},
        }
    ]
    redirect = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=82,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
    )["Listeners"][0]  # fmt: skip
    assert redirect["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301",
    }  # fmt: skip


def test_listener_refusals_change_nothing(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    lb_arn = lb["LoadBalancerArn"]
    tg = make_tg(elbv2)
    tcp_tg = make_tg(elbv2, "tcp", "TCP", 80)
    make_listener(elbv2, lb_arn, tg["TargetGroupArn"], port=80)
    missing_tg = tg["TargetGroupArn"][:-4] + "ffff"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"Protocol": "HTTP", "Port": 80, "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]},
         "DuplicateListener", f"A listener already exists on this port for this load balancer '{lb_arn}'"),
        ({"Protocol": "TCP", "Port": 90, "DefaultActions": forward(tg["TargetGroupArn"])},
         "ValidationError", "Listener protocol 'TCP' must be one of 'HTTP, HTTPS'"),
        ({"Protocol": "HTTP", "Port": 90, "DefaultActions": forward(missing_tg)},
         "TargetGroupNotFound", f"Target groups '{missing_tg}' not found"),
        ({"Protocol": "HTTP", "Port": 90, "DefaultActions": forward(tcp_tg["TargetGroupArn"])},
         "IncompatibleProtocols", f"The listener and its associated target group '{tcp_tg['TargetGroupArn']}' have incompatible protocols"),
        ({"Protocol": "HTTPS", "Port": 443, "DefaultActions": forward(tg["TargetGroupArn"])},
         "ValidationError", "A certificate must be specified for HTTPS listeners"),
        ({"Protocol": "HTTP", "Port": 90, "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}]},
         "ValidationError", "Fixed response status code '302' must match the pattern '^(2|4|5)\\d\\d$'"),
        ({"Protocol": "HTTP", "Port": 90, "DefaultActions": [{"Type": "authenticate-oidc", "AuthenticateOidcConfig": {
            "Issuer": "i", "AuthorizationEndpoint": "a", "TokenEndpoint": "t", "UserInfoEndpoint": "u", "ClientId": "c"}}]},
         "OperationNotPermitted", "The action type 'authenticate-oidc' is not supported by ecsemu yet."),
    ]  # fmt: skip
    for params, code, message in cases:
        assert error_of(elbv2.create_listener, LoadBalancerArn=lb_arn, **params)[:2] == (code, message), params
    assert [listener["Port"] for listener in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]] == [80]
    code, _, _ = error_of(
        elbv2.create_listener,
        LoadBalancerArn=lb_arn + "0",
        Protocol="HTTP",
        Port=1,
        DefaultActions=forward(tg["TargetGroupArn"]),
    )
    assert code == "LoadBalancerNotFound"


def test_optional_members_left_out_are_refused_cleanly(elbv2: Any) -> None:
    lb_arn = make_alb(elbv2)["LoadBalancerArn"]
    tg_arn = make_tg(elbv2)["TargetGroupArn"]
    cases: list[tuple[Any, dict[str, Any]]] = [
        (elbv2.create_listener, {"LoadBalancerArn": lb_arn, "Protocol": "HTTP", "Port": 80,
                                 "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{}]}}]}),
        (elbv2.create_listener, {"LoadBalancerArn": lb_arn, "Protocol": "HTTPS", "Port": 443, "Certificates": [{}],
                                 "DefaultActions": forward(tg_arn)}),
        (elbv2.create_load_balancer, {"Name": "mapped", "Type": "network", "SubnetMappings": [{"AllocationId": "eipalloc-1"}]}),
        (elbv2.modify_load_balancer_attributes, {"LoadBalancerArn": lb_arn, "Attributes": [{}]}),
        (elbv2.set_rule_priorities, {"RulePriorities": [{}]}),
    ]  # fmt: skip
    for call, params in cases:
        code, _, status = error_of(call, **params)
        assert (code, status) == ("ValidationError", 400), params
    assert elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"] == []


def test_https_listener_and_modify(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    tg = make_tg(elbv2)
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
        DefaultActions=forward(tg["TargetGroupArn"]),
    )["Listeners"][0]  # fmt: skip
    assert (listener["Certificates"], listener["SslPolicy"]) == (
        [{"CertificateArn": cert}],
        "ELBSecurityPolicy-2016-08",
    )
    changed = elbv2.modify_listener(ListenerArn=listener["ListenerArn"], Port=8443, Protocol="HTTP")["Listeners"][0]
    assert (changed["Port"], changed["Protocol"]) == (8443, "HTTP")
    assert "Certificates" not in changed and "SslPolicy" not in changed
    with pytest.raises(elbv2.exceptions.ListenerNotFoundException):
        elbv2.delete_listener(ListenerArn=listener["ListenerArn"] + "0")
    elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
    assert elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] == []


def test_a_target_group_serves_one_load_balancer(elbv2: Any) -> None:
    first, second = make_alb(elbv2, "first"), make_alb(elbv2, "second")
    tg = make_tg(elbv2)
    make_listener(elbv2, first["LoadBalancerArn"], tg["TargetGroupArn"])
    make_listener(elbv2, first["LoadBalancerArn"], tg["TargetGroupArn"], port=81)  # the same LB may use it twice
    code, message, _ = error_of(
        elbv2.create_listener,
        LoadBalancerArn=second["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward(tg["TargetGroupArn"]),
    )
    assert (code, message) == (
        "TargetGroupAssociationLimit",
        f"The following target groups cannot be associated with more than one load balancer: {tg['TargetGroupArn']}",
    )


def test_network_load_balancer_listener(elbv2: Any) -> None:
    lb = elbv2.create_load_balancer(Name="nlb", Type="network", Subnets=SUBNETS)["LoadBalancers"][0]
    tg = make_tg(elbv2, "tcp", "TCP", 5432)
    listener = make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"], port=5432, protocol="TCP")
    assert ":listener/net/nlb/" in listener["ListenerArn"]
    code, _, _ = error_of(
        elbv2.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=1,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )  # fmt: skip
    assert code == "ValidationError"
    code, _, _ = error_of(
        elbv2.create_rule, ListenerArn=listener["ListenerArn"], Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/"]}], Actions=forward(tg["TargetGroupArn"]),
    )  # fmt: skip
    assert code == "ValidationError"


# --------------------------------------------------------------------------------------------
# Rules


def test_rules_flow(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    api, web = make_tg(elbv2, "api"), make_tg(elbv2, "web")
    listener = make_listener(elbv2, lb["LoadBalancerArn"], web["TargetGroupArn"])
    arn = listener["ListenerArn"]
    conditions = [
        {"Field": "path-pattern", "Values": ["/api/*"]},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["prod"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}},
    ]
    rule = elbv2.create_rule(
        ListenerArn=arn, Priority=10, Conditions=conditions, Actions=forward(api["TargetGroupArn"])
    )["Rules"][0]
    listener_path = arn.split(":listener/", 1)[1]
    assert rule["RuleArn"].startswith(
        f"arn:aws:elasticloadbalancing:{REGION}:123456789012:listener-rule/{listener_path}/"
    )
    assert (rule["Priority"], rule["IsDefault"]) == ("10", False)
    assert rule["Conditions"][0] == {
        "Field": "path-pattern",
        "Values": ["/api/*"],
        "PathPatternConfig": {"Values": ["/api/*"]},
    }
    assert rule["Conditions"][1] == {
        "Field": "host-header",
        "Values": ["api.example.com"],
        "HostHeaderConfig": {"Values": ["api.example.com"]},
    }
    assert rule["Conditions"][2:] == conditions[2:]
    query = elbv2.create_rule(
        ListenerArn=arn, Priority=5, Conditions=[{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )["Rules"][0]  # fmt: skip

    rules = elbv2.describe_rules(ListenerArn=arn)["Rules"]
    assert [(r["Priority"], r["IsDefault"]) for r in rules] == [("5", False), ("10", False), ("default", True)]
    assert rules[-1]["Actions"] == listener["DefaultActions"] and rules[-1]["Conditions"] == []
    assert "api" in [
        tg["TargetGroupName"]
        for tg in elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    ]

    code, message, _ = error_of(
        elbv2.create_rule, ListenerArn=arn, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
        Actions=forward(api["TargetGroupArn"]),
    )  # fmt: skip
    assert (code, message) == ("PriorityInUse", "Priority '10' is currently in use")

    swapped = elbv2.set_rule_priorities(
        RulePriorities=[{"RuleArn": rule["RuleArn"], "Priority": 5}, {"RuleArn": query["RuleArn"], "Priority": 10}]
    )["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in swapped} == {rule["RuleArn"]: "5", query["RuleArn"]: "10"}
    code, _, _ = error_of(elbv2.set_rule_priorities, RulePriorities=[{"RuleArn": rule["RuleArn"], "Priority": 10}])
    assert code == "PriorityInUse"

    modified = elbv2.modify_rule(RuleArn=rule["RuleArn"], Conditions=[{"Field": "path-pattern", "Values": ["/v2/*"]}])[
        "Rules"
    ][0]
    assert modified["Conditions"][0]["Values"] == ["/v2/*"] and modified["Priority"] == "5"

    default_arn = rules[-1]["RuleArn"]
    code, _, _ = error_of(elbv2.delete_rule, RuleArn=default_arn)
    assert code == "OperationNotPermitted"
    elbv2.delete_rule(RuleArn=rule["RuleArn"])
    with pytest.raises(elbv2.exceptions.RuleNotFoundException):
        elbv2.describe_rules(RuleArns=[rule["RuleArn"]])
    elbv2.delete_target_group(TargetGroupArn=api["TargetGroupArn"])  # no longer used by any rule


def test_rule_condition_refusals(elbv2: Any) -> None:
    lb = make_alb(elbv2)
    tg = make_tg(elbv2)
    arn = make_listener(elbv2, lb["LoadBalancerArn"], tg["TargetGroupArn"])["ListenerArn"]
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"Field": "cookie", "Values": ["a"]}],
         "Condition field 'cookie' must be one of '[http-header, http-request-method, host-header, path-pattern, query-string, source-ip]'"),
        ([{"Field": "path-pattern", "Values": ["/a", "/b", "/c"]}, {"Field": "host-header", "Values": ["a", "b", "c"]}],
         "A rule can only have '5' condition values"),
        ([{"Field": "path-pattern", "Values": ["/a"]}, {"Field": "path-pattern", "Values": ["/b"]}],
         "A rule can only have one 'path-pattern' condition"),
        ([{"Field": "source-ip", "SourceIpConfig": {"Values": ["not-a-cidr"]}}], "The source IP 'not-a-cidr' is not a valid CIDR block"),
        ([{"Field": "http-header", "Values": ["x"]}],
         "Values cannot be specified for the 'http-header' condition field; use 'HttpHeaderConfig'"),
        ([], "A rule must have at least one condition"),
    ]  # fmt: skip
    for conditions, message in cases:
        code, answered, _ = error_of(
            elbv2.create_rule, ListenerArn=arn, Priority=1, Conditions=conditions, Actions=forward(tg["TargetGroupArn"])
        )
        assert (code, answered) == ("ValidationError", message), conditions
    assert len(elbv2.describe_rules(ListenerArn=arn)["Rules"]) == 1


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
        d["ResourceArn"]: [t for t in d["Tags"] if not t["Key"].startswith("ecsemu:")]
        for d in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]
    }
    assert described[arns[0]] == [{"Key": "env", "Value": "test"}]
    assert described[arns[2]] == [{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "me"}]
    assert described[arns[3]] == [
        {"Key": "kind", "Value": "rule"},
        {"Key": "env", "Value": "test"},
        {"Key": "owner", "Value": "me"},
    ]

    # The data plane records the port it bound; DescribeTags shows it, DescribeListeners does not change.
    def bound() -> str | None:
        tags = elbv2.describe_tags(ResourceArns=[listener["ListenerArn"]])["TagDescriptions"][0]["Tags"]
        return next((t["Value"] for t in tags if t["Key"] == "ecsemu:bound-port"), None)

    port = wait_until(bound, what="the listener to be bound")
    socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
    assert elbv2.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"] == [listener]

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
