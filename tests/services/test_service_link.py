"""The typed calls by which ECS acts on ELBv2 (ecsemu.services.elbv2.service_link): done, or
False when the target group or rule is gone, and any other refusal raised."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ecsemu.context import RequestContext, Scope
from ecsemu.model.load_balancing import LoadBalancingFacts, TargetRegistry
from ecsemu.services.elbv2.provider import Elbv2Provider
from ecsemu.services.elbv2.service_link import Elbv2ServiceLink
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
CONTEXT = RequestContext(account_id=SCOPE.account_id, region=SCOPE.region)


def _setup() -> tuple[Store, dict[str, Any]]:
    store = Store()
    elbv2 = Elbv2Provider(store)
    lb = elbv2.handle(CONTEXT, "CreateLoadBalancer", {"Name": "alb", "Subnets": ["subnet-1", "subnet-2"]})
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    groups = {}
    for name, target_type in (("blue", "ip"), ("green", "ip"), ("inst", "instance")):
        created = elbv2.handle(
            CONTEXT,
            "CreateTargetGroup",
            {"Name": name, "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1", "TargetType": target_type},
        )
        groups[name] = created["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.handle(
        CONTEXT,
        "CreateListener",
        {
            "LoadBalancerArn": lb_arn,
            "Protocol": "HTTP",
            "Port": 80,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": groups["blue"]}],
        },
    )["Listeners"][0]
    rule = elbv2.handle(
        CONTEXT,
        "CreateRule",
        {
            "ListenerArn": listener["ListenerArn"],
            "Priority": 1,
            "Conditions": [{"Field": "path-pattern", "Values": ["/*"]}],
            "Actions": [{"Type": "forward", "TargetGroupArn": groups["blue"]}],
        },
    )["Rules"][0]
    return store, {**groups, "rule": rule["RuleArn"], "lb": lb_arn}


def test_register_and_deregister_are_stored_as_the_api_stores_them() -> None:
    store, arns = _setup()
    link: TargetRegistry = Elbv2ServiceLink(store, clock=lambda: 100.0)

    assert link.register(SCOPE, arns["blue"], "127.0.0.1", 32768) is True
    group = LoadBalancingFacts(store, SCOPE).target_group(arns["blue"])
    assert group is not None
    target = group.targets["127.0.0.1:32768"]
    assert (target.registered_at, target.deregistered_at) == (100.0, None)

    assert link.deregister(SCOPE, arns["blue"], "127.0.0.1", 32768) is True
    group = LoadBalancingFacts(store, SCOPE).target_group(arns["blue"])
    assert group is not None and group.targets["127.0.0.1:32768"].deregistered_at == 100.0  # draining


def test_a_gone_target_group_or_rule_is_nothing_to_do() -> None:
    store, arns = _setup()
    link = Elbv2ServiceLink(store)
    gone_group = arns["blue"].replace("blue/", "gone/")
    assert link.register(SCOPE, gone_group, "127.0.0.1", 1) is False
    assert link.deregister(SCOPE, gone_group, "127.0.0.1", 1) is False
    assert link.route(SCOPE, arns["rule"][:-4] + "0000", ((arns["blue"], 1),)) is False


def test_other_refusals_are_logged_once_and_answer_false(caplog: pytest.LogCaptureFixture) -> None:
    store, arns = _setup()
    link = Elbv2ServiceLink(store)
    with caplog.at_level(logging.WARNING, logger="ecsemu.services.elbv2.service_link"):
        assert link.register(SCOPE, arns["inst"], "not-an-instance", 80) is False
        assert link.register(SCOPE, arns["inst"], "not-an-instance", 80) is False
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "InvalidTarget" in warnings[0], warnings


def test_route_moves_the_rule_weights() -> None:
    store, arns = _setup()
    link = Elbv2ServiceLink(store)
    assert link.route(SCOPE, arns["rule"], ((arns["blue"], 20), (arns["green"], 80))) is True
    rules = Elbv2Provider(store).handle(CONTEXT, "DescribeRules", {"RuleArns": [arns["rule"]]})["Rules"]
    groups = rules[0]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert [(g["TargetGroupArn"], g["Weight"]) for g in groups] == [(arns["blue"], 20), (arns["green"], 80)]
    assert LoadBalancingFacts(store, SCOPE).target_group_load_balancers()[arns["green"]] == [arns["lb"]]
