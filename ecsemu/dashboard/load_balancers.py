"""The dashboard's view of one scope's ELBv2 records: load balancers, their listeners (the port
asked for and the port the load balancer really bound), rules, target groups and target health.

Vocabulary (as in :mod:`ecsemu.model.target_group`): a *registration* is one target key
(``<Id>:<Port>``) of a target group; its *state* is what DescribeTargetHealth would show now:

1. deregistered, draining delay not over: ``draining`` (over: the target is gone, not shown);
2. the group is associated with no load balancer: ``unused``;
3. health the load balancer judged for this very registration: that state;
4. otherwise ``initial`` (registration in progress).

Invariants: pure (records in, plain JSON-ready dicts out; ``now`` is an argument); every list is
bounded (``MAX_*``), and a cut list says how much it left out (``<list>Omitted``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ecsemu.context import Scope
from ecsemu.model import listener as listener_model
from ecsemu.model import load_balancer as load_balancer_model
from ecsemu.model import rule as rule_model
from ecsemu.model import target_group as target_group_model
from ecsemu.model.listener import Listener
from ecsemu.model.load_balancer import LoadBalancer
from ecsemu.model.load_balancing import target_group_load_balancers
from ecsemu.model.rule import Action, Condition, FixedResponse, Forward, Redirect, Rule
from ecsemu.model.target_group import TargetGroup
from ecsemu.state.store import Store

MAX_LISTENERS: Final = 50
MAX_RULES: Final = 50
MAX_TARGETS: Final = 50
MAX_TARGET_GROUPS: Final = 50

View = dict[str, Any]
T = TypeVar("T")

DRAINING: Final = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
NOT_IN_USE: Final = (
    "unused",
    "Target.NotInUse",
    "Target group is not configured to receive traffic from the load balancer",
)
REGISTERING: Final = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")


def bounded(view: View, name: str, items: Sequence[T], limit: int, build: Callable[[T], Any] | None = None) -> None:
    """Put the first ``limit`` of ``items`` under ``name`` (each through ``build``, when given:
    only those are built); a cut list says how many it left out, in ``<name>Omitted``."""
    kept = items[:limit]
    view[name] = [build(item) for item in kept] if build is not None else list(kept)
    if len(items) > limit:
        view[f"{name}Omitted"] = len(items) - limit


def name_of_arn(arn: str) -> str:
    """The name an ELBv2 ARN carries (``…:targetgroup/web/0123…`` → ``web``)."""
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    if parts[0] in ("loadbalancer", "listener", "listener-rule") and len(parts) > 2:
        return parts[2]
    return parts[1] if len(parts) > 1 else resource


@dataclass(frozen=True, slots=True)
class Elbv2Records:
    """One scope's ELBv2 records, typed; ``users``: target group ARN → the load balancers whose
    listeners forward to it (derived once, as :mod:`ecsemu.model.load_balancing` derives it)."""

    load_balancers: tuple[LoadBalancer, ...]
    load_balancer_states: Mapping[str, str]  # ARN → State.Code
    listeners: tuple[Listener, ...]
    rules: tuple[Rule, ...]
    target_groups: Mapping[str, TargetGroup]  # ARN → group
    users: Mapping[str, list[str]]

    @classmethod
    def read(cls, store: Store, scope: Scope) -> Elbv2Records:
        lb_records = store.list(scope, load_balancer_model.KIND)
        listeners = tuple(Listener.from_record(r) for r in store.list(scope, listener_model.KIND))
        rules = tuple(Rule.from_record(r) for r in store.list(scope, rule_model.KIND))
        groups = (TargetGroup.from_record(r) for r in store.list(scope, target_group_model.KIND))
        return cls(
            load_balancers=tuple(LoadBalancer.from_record(r) for r in lb_records),
            load_balancer_states={
                str(r["spec"]["LoadBalancerArn"]): str(
                    ((r.get("status") or {}).get("State") or {}).get("Code") or "active"
                )
                for r in lb_records
            },
            listeners=listeners,
            rules=rules,
            target_groups={group.arn: group for group in groups},
            users=target_group_load_balancers(listeners, rules),
        )


def target_state(group: TargetGroup, key: str, in_use: bool, now: float) -> tuple[str, str | None, str | None] | None:
    """(state, reason, description) of one registration by the rules above; None once gone."""
    target = group.targets.get(key)
    if target is None or group.is_gone(target, now):
        return None
    if target.is_deregistering:
        return DRAINING
    if not in_use:
        return NOT_IN_USE
    health = group.current_health(key)
    if health is not None and health.state:
        return health.state, health.reason, health.description
    return REGISTERING


def _health_view(group: TargetGroup, target_id: str, port: int, in_use: bool, now: float) -> View | None:
    judged = target_state(group, f"{target_id}:{port}", in_use, now)
    if judged is None:
        return None
    state, reason, description = judged
    view: View = {"id": target_id, "port": port, "state": state}
    if reason:
        view["reason"] = reason
    if description:
        view["description"] = description
    return view


def target_health(records: Elbv2Records, group_arn: str, target_id: str, port: int, now: float) -> View | None:
    """One registration's state as a task's row shows it; None when it is not (or no longer) there."""
    group = records.target_groups.get(group_arn)
    if group is None:
        return None
    view = _health_view(group, target_id, port, bool(records.users.get(group_arn)), now)
    if view is not None:
        view["targetGroupArn"] = group_arn
        view["targetGroupName"] = group.name
    return view


def target_group_view(group: TargetGroup, in_use: bool, now: float) -> View:
    view: View = {
        "name": group.name,
        "arn": group.arn,
        "protocol": group.protocol,
        "port": group.port,
        "targetType": group.target_type,
        "healthCheck": f"{group.health_check.protocol} {group.health_check.path} every {group.health_check.interval_s:g}s",
    }
    targets = [
        health
        for target in group.targets.values()
        if (health := _health_view(group, target.id, target.port, in_use, now)) is not None
    ]
    bounded(view, "targets", targets, MAX_TARGETS)
    return view


def describe_condition(condition: Condition) -> str:
    if condition.field == "http-header":
        return f"http-header {condition.header}: {', '.join(condition.values)}"
    if condition.field == "query-string":
        pairs = (f"{key}={value}" if key is not None else value for key, value in condition.pairs)
        return f"query-string: {', '.join(pairs)}"
    return f"{condition.field}: {', '.join(condition.values)}"


def describe_action(action: Action) -> str:
    if isinstance(action, Forward):
        if len(action.weights) == 1:
            return f"forward to {name_of_arn(action.weights[0][0])}"
        return "forward to " + ", ".join(f"{name_of_arn(arn)} (weight {weight})" for arn, weight in action.weights)
    if isinstance(action, Redirect):
        return f"redirect {action.status_code} to {action.protocol}://{action.host}:{action.port}{action.path}?{action.query}"
    assert isinstance(action, FixedResponse)
    return f"fixed-response {action.status_code}"


def _rule_view(rule: Rule) -> View:
    return {
        "priority": rule.priority,
        "conditions": [describe_condition(c) for c in rule.conditions],
        "actions": [describe_action(a) for a in rule.actions],
    }


def listener_view(listener: Listener, rules: Iterable[Rule]) -> View:
    view: View = {
        "arn": listener.arn,
        "protocol": listener.protocol,
        "port": listener.port,
        "boundPort": listener.status.bound_port,
        "boundAddress": listener.status.bound_address,
        "defaultActions": [describe_action(a) for a in listener.default_actions],
    }
    if listener.status.error:
        view["error"] = listener.status.error
    own = sorted(
        (r for r in rules if r.listener_arn == listener.arn and not r.is_default), key=lambda r: r.priority or 0
    )
    bounded(view, "rules", own, MAX_RULES, _rule_view)
    return view


def load_balancers_view(records: Elbv2Records, now: float) -> tuple[list[View], list[View]]:
    """(load balancers, each with its listeners and the target groups they forward to;
    target groups no load balancer uses)."""
    users = records.users
    views = []
    for lb in sorted(records.load_balancers, key=lambda lb: lb.name):
        listeners = sorted((ln for ln in records.listeners if ln.load_balancer_arn == lb.arn), key=lambda ln: ln.port)
        view: View = {
            "name": lb.name,
            "arn": lb.arn,
            "type": lb.type,
            "dnsName": lb.dns_name,
            "state": records.load_balancer_states.get(lb.arn, "provisioning"),
        }
        bounded(view, "listeners", listeners, MAX_LISTENERS, lambda ln: listener_view(ln, records.rules))
        groups = [g for g in records.target_groups.values() if lb.arn in users.get(g.arn, [])]
        bounded(view, "targetGroups", groups, MAX_TARGET_GROUPS, lambda g: target_group_view(g, True, now))
        views.append(view)
    unused = [target_group_view(g, False, now) for g in records.target_groups.values() if not users.get(g.arn)]
    return views, unused[:MAX_TARGET_GROUPS]
