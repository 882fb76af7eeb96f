"""The ELBv2 side of ECS's service-linked role: the typed calls by which ECS registers and
deregisters service tasks and moves production traffic between target groups.

It implements :class:`ecsemu.model.load_balancing.TargetRegistry` with the API's own
operations, so a registration made by ECS is checked, stored and shown exactly as one made
through RegisterTargets. Each call answers True when done, False when its target group (or
rule) no longer exists — nothing to do — and raises any other refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ecsemu.context import RequestContext, Scope
from ecsemu.services.elbv2.base import Call, Params
from ecsemu.services.elbv2.errors import RuleNotFound, TargetGroupNotFound
from ecsemu.services.elbv2.rules import modify_rule
from ecsemu.services.elbv2.targets import deregister_targets, register_targets
from ecsemu.state.store import Store


class Elbv2ServiceLink:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def _call(self, scope: Scope) -> Call:
        return Call(RequestContext(account_id=scope.account_id, region=scope.region), self._store, self._clock())

    def _targets(self, target_group_arn: str, target_id: str, port: int) -> Params:
        return {"TargetGroupArn": target_group_arn, "Targets": [{"Id": target_id, "Port": port}]}

    def register(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        try:
            register_targets(self._call(scope), self._targets(target_group_arn, target_id, port))
        except TargetGroupNotFound:
            return False
        return True

    def deregister(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        try:
            deregister_targets(self._call(scope), self._targets(target_group_arn, target_id, port))
        except TargetGroupNotFound:
            return False
        return True

    def route(self, scope: Scope, rule_arn: str, weights: tuple[tuple[str, int], ...]) -> bool:
        groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights]
        action = {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}
        try:
            modify_rule(self._call(scope), {"RuleArn": rule_arn, "Actions": [action]})
        except RuleNotFound:
            return False
        return True
