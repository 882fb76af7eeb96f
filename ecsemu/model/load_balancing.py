"""What ECS (and any other service) may know of Elastic Load Balancing, as typed reads of the
ELBv2 records, and the typed calls by which ECS acts on it.

ECS never imports the ELBv2 service: it asks :class:`LoadBalancingFacts` (target groups, rules,
which load balancer uses which target group) and acts through a :class:`TargetRegistry`, which
the ELBv2 side implements (``ecsemu.services.elbv2.service_link``) the way ECS's service-linked
role calls the ELBv2 API.

Vocabulary: a target group is *associated* with a load balancer when one of that load balancer's
listeners forwards to it, by default action or by rule. Association is derived from the
listener and rule records each time (never stored), so it cannot go stale; a target group is
associated with at most one load balancer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ecsemu.context import Scope
from ecsemu.model import arns
from ecsemu.model import listener as listener_model
from ecsemu.model import load_balancer as load_balancer_model
from ecsemu.model import rule as rule_model
from ecsemu.model import target_group as target_group_model
from ecsemu.model.listener import Listener
from ecsemu.model.rule import Forward, Rule
from ecsemu.model.target_group import TargetGroup
from ecsemu.state.store import Store

# The ARN resource type of each ELBv2 kind ("<type>/<record id>").
RESOURCE_TYPES = {
    load_balancer_model.KIND: "loadbalancer",
    target_group_model.KIND: "targetgroup",
    listener_model.KIND: "listener",
    rule_model.KIND: "listener-rule",
}


def record_id(scope: Scope, kind: str, arn: object) -> str | None:
    """The id of the ELBv2 record ``arn`` names in ``scope``; None when it names none here."""
    return arns.resource_of(arns.ELBV2, scope, RESOURCE_TYPES[kind], arn)


def forwarded(actions: Iterable[rule_model.Action]) -> list[str]:
    """The target group ARNs typed actions forward to, each once, in order."""
    found: dict[str, None] = {}
    for action in actions:
        if isinstance(action, Forward):
            for arn, _weight in action.weights:
                found[arn] = None
    return list(found)


def target_group_load_balancers(listeners: Iterable[Listener], rules: Iterable[Rule]) -> dict[str, list[str]]:
    """Each associated target group's ARN → the load balancers whose listeners use it."""
    by_arn = {listener.arn: listener for listener in listeners}
    users: dict[str, dict[str, None]] = {}

    def note(actions: Iterable[rule_model.Action], listener_arn: str) -> None:
        listener = by_arn.get(listener_arn)
        if listener is None:
            return
        for arn in forwarded(actions):
            users.setdefault(arn, {})[listener.load_balancer_arn] = None

    for listener in by_arn.values():
        note(listener.default_actions, listener.arn)
    for rule in rules:
        note(rule.actions, rule.listener_arn)
    return {arn: list(lbs) for arn, lbs in users.items()}


class LoadBalancingFacts:
    """Typed reads of one scope's ELBv2 records, for services other than ELBv2."""

    def __init__(self, store: Store, scope: Scope) -> None:
        self._store = store
        self._scope = scope

    def target_group(self, arn: object) -> TargetGroup | None:
        record_key = record_id(self._scope, target_group_model.KIND, arn)
        record = None if record_key is None else self._store.get(self._scope, target_group_model.KIND, record_key)
        return None if record is None else TargetGroup.from_record(record)

    def rule_exists(self, arn: object) -> bool:
        record_key = record_id(self._scope, rule_model.KIND, arn)
        return record_key is not None and self._store.get(self._scope, rule_model.KIND, record_key) is not None

    def target_group_load_balancers(self) -> dict[str, list[str]]:
        listeners = [Listener.from_record(r) for r in self._store.list(self._scope, listener_model.KIND)]
        rules = [Rule.from_record(r) for r in self._store.list(self._scope, rule_model.KIND)]
        return target_group_load_balancers(listeners, rules)


class TargetRegistry(Protocol):
    """How ECS registers service tasks in target groups and moves production traffic, as its
    service-linked role does through the ELBv2 API. Each call answers True when done and False
    when nothing was done: the target group (or rule) no longer exists, or ELBv2 refused the call
    (the implementation logs why). The caller asks again while it still wants it done."""

    def register(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool: ...

    def deregister(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool: ...

    def route(self, scope: Scope, rule_arn: str, weights: tuple[tuple[str, int], ...]) -> bool: ...
