"""The ELBv2 control plane through boto3 against a live ecsemu — Load balancers and target groups: full flows,
the errors AWS answers, and bad input that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REGION
from elbv2_helpers import SUBNETS, VPC, attributes, error_of, make_alb, make_listener, make_tg

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
