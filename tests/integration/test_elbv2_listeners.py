"""The ELBv2 control plane through boto3 against a live ecsemu — Listeners and rules: full flows,
the errors AWS answers, and bad input that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REGION
from elbv2_helpers import SUBNETS, error_of, forward, make_alb, make_listener, make_tg

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
