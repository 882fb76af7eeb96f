"""The ELBv2 operations Terraform's AWS provider calls while it reads load balancers and
listeners (capacity reservations, listener attributes), what it sends that other clients do not
(an empty ``ProtocolVersion``), and that no emulator bookkeeping shows in an AWS answer."""

from __future__ import annotations

import socket
from typing import Any

import requests
from conftest import wait_until
from elbv2_helpers import SUBNETS, error_of, make_alb, make_listener, make_tg

from ecsemu.app import Emulator


def test_capacity_reservation_describe_modify_reset(elbv2: Any) -> None:
    lb_arn = make_alb(elbv2)["LoadBalancerArn"]
    fresh = elbv2.describe_capacity_reservation(LoadBalancerArn=lb_arn)
    fresh.pop("ResponseMetadata")
    assert fresh == {"DecreaseRequestsRemaining": 2, "CapacityReservationState": []}

    raised = elbv2.modify_capacity_reservation(LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 100})
    assert raised["MinimumLoadBalancerCapacity"] == {"CapacityUnits": 100}
    assert [(z["AvailabilityZone"], z["State"]["Code"], z["EffectiveCapacityUnits"]) for z in raised["CapacityReservationState"]] == [
        ("us-east-1a", "provisioned", 50.0),
        ("us-east-1b", "provisioned", 50.0),
    ]
    assert raised["DecreaseRequestsRemaining"] == 2
    described = elbv2.describe_capacity_reservation(LoadBalancerArn=lb_arn)
    assert described["MinimumLoadBalancerCapacity"] == {"CapacityUnits": 100}
    assert "LastModifiedTime" in described

    # Increases are free; two decreases a day (a reset counts as one), then refused.
    elbv2.modify_capacity_reservation(LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 400})
    lowered = elbv2.modify_capacity_reservation(LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 200})
    assert lowered["DecreaseRequestsRemaining"] == 1
    reset = elbv2.modify_capacity_reservation(LoadBalancerArn=lb_arn, ResetCapacityReservation=True)
    assert "MinimumLoadBalancerCapacity" not in reset and reset["DecreaseRequestsRemaining"] == 0
    elbv2.modify_capacity_reservation(LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 300})
    code, _, status = error_of(
        elbv2.modify_capacity_reservation, LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 100}
    )
    assert (code, status) == ("CapacityDecreaseRequestLimitExceeded", 400)
    assert elbv2.describe_capacity_reservation(LoadBalancerArn=lb_arn)["MinimumLoadBalancerCapacity"] == {"CapacityUnits": 300}


def test_capacity_reservation_refusals_change_nothing(elbv2: Any) -> None:
    lb_arn = make_alb(elbv2)["LoadBalancerArn"]
    for kwargs in (
        {},
        {"MinimumLoadBalancerCapacity": {"CapacityUnits": 100}, "ResetCapacityReservation": True},
        {"MinimumLoadBalancerCapacity": {"CapacityUnits": 0}},
    ):
        code, message, status = error_of(elbv2.modify_capacity_reservation, LoadBalancerArn=lb_arn, **kwargs)
        assert (code, status) == ("ValidationError", 400) and message
    code, _, _ = error_of(
        elbv2.modify_capacity_reservation, LoadBalancerArn=lb_arn, MinimumLoadBalancerCapacity={"CapacityUnits": 10**9}
    )
    assert code == "CapacityUnitsLimitExceeded"
    assert "MinimumLoadBalancerCapacity" not in elbv2.describe_capacity_reservation(LoadBalancerArn=lb_arn)
    other = lb_arn[:-1] + ("1" if lb_arn.endswith("0") else "0")  # another id (one in 16 ends in 0)
    code, _, _ = error_of(elbv2.describe_capacity_reservation, LoadBalancerArn=other)
    assert code == "LoadBalancerNotFound"


def test_listener_attributes_of_alb_and_nlb(elbv2: Any) -> None:
    alb = make_alb(elbv2)
    http = make_listener(elbv2, alb["LoadBalancerArn"], make_tg(elbv2)["TargetGroupArn"])
    assert elbv2.describe_listener_attributes(ListenerArn=http["ListenerArn"])["Attributes"] == [
        {"Key": "routing.http.response.server.enabled", "Value": "true"}
    ]
    nlb = elbv2.create_load_balancer(Name="nlb", Type="network", Subnets=SUBNETS)["LoadBalancers"][0]
    tcp = make_listener(elbv2, nlb["LoadBalancerArn"], make_tg(elbv2, "tcp", "TCP", 5432)["TargetGroupArn"], 5432, "TCP")
    assert elbv2.describe_listener_attributes(ListenerArn=tcp["ListenerArn"])["Attributes"] == [
        {"Key": "tcp.idle_timeout.seconds", "Value": "350"}
    ]
    changed = elbv2.modify_listener_attributes(
        ListenerArn=tcp["ListenerArn"], Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "120"}]
    )
    assert changed["Attributes"] == [{"Key": "tcp.idle_timeout.seconds", "Value": "120"}]
    assert elbv2.describe_listener_attributes(ListenerArn=tcp["ListenerArn"])["Attributes"] == changed["Attributes"]
    # Setting what is already so is fine (Terraform sends it).
    elbv2.modify_listener_attributes(
        ListenerArn=http["ListenerArn"], Attributes=[{"Key": "routing.http.response.server.enabled", "Value": "true"}]
    )


def test_listener_attribute_refusals_change_nothing(elbv2: Any) -> None:
    alb = make_alb(elbv2)
    http = make_listener(elbv2, alb["LoadBalancerArn"], make_tg(elbv2)["TargetGroupArn"])["ListenerArn"]
    nlb = elbv2.create_load_balancer(Name="nlb", Type="network", Subnets=SUBNETS)["LoadBalancers"][0]
    tcp = make_listener(elbv2, nlb["LoadBalancerArn"], make_tg(elbv2, "tcp", "TCP", 5432)["TargetGroupArn"], 5432, "TCP")[
        "ListenerArn"
    ]
    refused = [
        (tcp, "tcp.idle_timeout.seconds", "59", "ValidationError"),
        (tcp, "tcp.idle_timeout.seconds", "6001", "ValidationError"),
        (tcp, "tcp.idle_timeout.seconds", "１２０", "ValidationError"),
        (tcp, "routing.http.response.server.enabled", "true", "ValidationError"),
        (http, "tcp.idle_timeout.seconds", "120", "ValidationError"),
        (http, "no.such.attribute", "1", "ValidationError"),
        (http, "routing.http.response.server.enabled", "maybe", "ValidationError"),
        (http, "routing.http.response.server.enabled", "false", "OperationNotPermitted"),
        (http, "routing.http.response.x_frame_options.header_value", "DENY", "OperationNotPermitted"),
        (http, "routing.http.request.x_amzn_tls_version.header_name", "X-Tls", "OperationNotPermitted"),
    ]
    before = {arn: elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"] for arn in (http, tcp)}
    for arn, key, value, expected in refused:
        # A good attribute first: a refusal of any one changes none.
        good = {"Key": "tcp.idle_timeout.seconds", "Value": "200"} if arn == tcp else {
            "Key": "routing.http.response.server.enabled", "Value": "true"}  # fmt: skip
        code, message, status = error_of(
            elbv2.modify_listener_attributes, ListenerArn=arn, Attributes=[good, {"Key": key, "Value": value}]
        )
        assert (code, status) == (expected, 400), (key, value, message)
        assert message
    assert {arn: elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"] for arn in (http, tcp)} == before
    code, _, _ = error_of(elbv2.describe_listener_attributes, ListenerArn=http[:-1] + ("1" if http.endswith("0") else "0"))
    assert code == "ListenerNotFound"


def test_empty_protocol_version_is_the_default(elbv2: Any) -> None:
    group = elbv2.create_target_group(Name="tf", Protocol="HTTP", Port=80, VpcId="vpc-1", ProtocolVersion="")
    assert group["TargetGroups"][0]["ProtocolVersion"] == "HTTP1"
    tcp = elbv2.create_target_group(Name="tcp", Protocol="TCP", Port=80, VpcId="vpc-1", ProtocolVersion="")
    assert "ProtocolVersion" not in tcp["TargetGroups"][0]
    code, _, _ = error_of(elbv2.create_target_group, Name="bad", Protocol="HTTP", Port=80, VpcId="vpc-1", ProtocolVersion="HTTP3")
    assert code == "ValidationError"


def test_bound_port_is_told_by_the_admin_endpoint_only(elbv2: Any, emulator: Emulator, endpoint: str) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = int(taken.getsockname()[1])
    lb = make_alb(elbv2)
    listener = make_listener(elbv2, lb["LoadBalancerArn"], make_tg(elbv2)["TargetGroupArn"], port=port)
    arn = listener["ListenerArn"]

    def entry() -> dict[str, Any] | None:
        listed = requests.get(f"{endpoint}/_ecsemu/listeners", timeout=5).json()["listeners"]
        found = next((item for item in listed if item["listenerArn"] == arn), None)
        return found if found is not None and found["boundPort"] else None

    bound = wait_until(entry, what="the listener to be bound")
    assert bound["port"] == port and bound["boundPort"] != port and bound["boundAddress"] == "127.0.0.1"
    assert (bound["accountId"], bound["region"], bound["loadBalancerArn"]) == (
        "123456789012", "us-east-1", lb["LoadBalancerArn"])  # fmt: skip
    socket.create_connection(("127.0.0.1", bound["boundPort"]), timeout=2).close()
    assert elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == []
    assert elbv2.describe_listeners(ListenerArns=[arn])["Listeners"] == [listener]
    taken.close()
    del emulator
