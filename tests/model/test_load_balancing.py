"""What ECS may read of ELBv2: typed facts over the stored records, ARNs of this scope only."""

from __future__ import annotations

from ecsemu.context import Scope
from ecsemu.model import arns
from ecsemu.model.load_balancing import LoadBalancingFacts, forwarded, record_id
from ecsemu.model.rule import FixedResponse, Forward, Redirect, Rule, actions_from_record
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
TG = arns.arn(arns.ELBV2, SCOPE, "targetgroup", "web/0123456789abcdef")
TG2 = arns.arn(arns.ELBV2, SCOPE, "targetgroup", "green/0123456789abcdef")
LB = arns.arn(arns.ELBV2, SCOPE, "loadbalancer", "app/alb/0123456789abcdef")
LISTENER = arns.arn(arns.ELBV2, SCOPE, "listener", "app/alb/0123456789abcdef/1111111111111111")
RULE = arns.arn(arns.ELBV2, SCOPE, "listener-rule", "app/alb/0123456789abcdef/1111111111111111/2222222222222222")


def _forward(*groups: str) -> dict[str, object]:
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": g, "Weight": 1} for g in groups]}}


def _store() -> Store:
    store = Store()
    tg_spec = {"TargetGroupArn": TG, "TargetGroupName": "web", "Protocol": "HTTP", "Port": 80, "TargetType": "ip"}
    store.put(SCOPE, "elbv2.target_group", "web/0123456789abcdef", {"spec": tg_spec, "status": {}})
    listener = {"ListenerArn": LISTENER, "LoadBalancerArn": LB, "Port": 80, "Protocol": "HTTP", "DefaultActions": [_forward(TG)]}
    store.put(SCOPE, "elbv2.listener", LISTENER.split("listener/", 1)[1], {"spec": listener, "status": {}})
    rule = {"RuleArn": RULE, "ListenerArn": LISTENER, "Priority": 1, "IsDefault": False, "Conditions": [], "Actions": [_forward(TG2)]}
    store.put(SCOPE, "elbv2.rule", RULE.split("listener-rule/", 1)[1], {"spec": rule, "status": {}})
    return store


def test_target_group_and_rule_facts() -> None:
    facts = LoadBalancingFacts(_store(), SCOPE)
    group = facts.target_group(TG)
    assert group is not None and group.target_type == "ip" and group.name == "web"
    assert facts.target_group(TG2) is None
    assert facts.rule_exists(RULE)
    assert facts.target_group_load_balancers() == {TG: [LB], TG2: [LB]}


def test_an_arn_of_another_scope_names_nothing_here() -> None:
    other = Scope("210987654321", "us-east-1")
    assert LoadBalancingFacts(_store(), other).target_group(TG) is None
    assert record_id(other, "elbv2.target_group", TG) is None
    assert record_id(SCOPE, "elbv2.target_group", TG) == "web/0123456789abcdef"
    assert record_id(SCOPE, "elbv2.target_group", None) is None


def test_actions_read_in_order_and_typed() -> None:
    stored = [
        {"Type": "redirect", "Order": 2, "RedirectConfig": {"StatusCode": "HTTP_301", "Protocol": "HTTPS"}},
        {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "503"}},
    ]
    fixed, redirect = actions_from_record(stored)
    assert fixed == FixedResponse(503)
    assert redirect == Redirect("HTTP_301", protocol="HTTPS")
    single = {"Type": "forward", "TargetGroupArn": TG}
    assert actions_from_record([single]) == (Forward(((TG, 1),)),)
    assert forwarded(actions_from_record([_forward(TG, TG2)]) + actions_from_record([single])) == [TG, TG2]


def test_the_default_rule_has_no_priority() -> None:
    record = {"spec": {"RuleArn": RULE, "ListenerArn": LISTENER, "Priority": "default", "IsDefault": True}}
    rule = Rule.from_record(record)
    assert (rule.priority, rule.is_default, rule.actions, rule.conditions) == (None, True, (), ())
