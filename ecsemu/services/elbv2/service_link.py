"""The ELBv2 side of ECS's service-linked role: the typed calls by which ECS registers and
deregisters service tasks and moves production traffic between target groups.

It implements :class:`ecsemu.model.load_balancing.TargetRegistry` with the API's own
operations, so a registration made by ECS is checked, stored and shown exactly as one made
through RegisterTargets. Each call answers True when done, and False when nothing was done:
its target group (or rule) no longer exists, or ELBv2 refused the call. A refusal is logged as
a warning once per distinct refusal (the reconciler asks again every round), never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ecsemu.context import RequestContext, Scope
from ecsemu.errors import ClientError
from ecsemu.services.elbv2.base import Call, Params
from ecsemu.services.elbv2.errors import RuleNotFound, TargetGroupNotFound
from ecsemu.services.elbv2.rules import modify_rule
from ecsemu.services.elbv2.targets import deregister_targets, register_targets
from ecsemu.state.store import Store

log = logging.getLogger(__name__)
MAX_REMEMBERED_REFUSALS = 1000


class Elbv2ServiceLink:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._refusals: dict[str, None] = {}  # said once each; the oldest forgotten first

    def _attempt(self, what: str, operation: Callable[[], object], gone: type[ClientError]) -> bool:
        try:
            operation()
        except gone:
            return False
        except ClientError as error:
            said = f"{what}: {error.code}: {error.message}"
            if said not in self._refusals:
                log.warning("ECS could not %s", said)
                self._refusals[said] = None
                if len(self._refusals) > MAX_REMEMBERED_REFUSALS:
                    del self._refusals[next(iter(self._refusals))]
            return False
        return True

    def _call(self, scope: Scope) -> Call:
        return Call(RequestContext(account_id=scope.account_id, region=scope.region), self._store, self._clock())

    def _targets(self, target_group_arn: str, target_id: str, port: int) -> Params:
        return {"TargetGroupArn": target_group_arn, "Targets": [{"Id": target_id, "Port": port}]}

    def register(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        params = self._targets(target_group_arn, target_id, port)
        return self._attempt(
            f"register {target_id}:{port} in {target_group_arn}",
            lambda: register_targets(self._call(scope), params),
            TargetGroupNotFound,
        )

    def deregister(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        params = self._targets(target_group_arn, target_id, port)
        return self._attempt(
            f"deregister {target_id}:{port} from {target_group_arn}",
            lambda: deregister_targets(self._call(scope), params),
            TargetGroupNotFound,
        )

    def route(self, scope: Scope, rule_arn: str, weights: tuple[tuple[str, int], ...]) -> bool:
        groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights]
        action = {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}
        params = {"RuleArn": rule_arn, "Actions": [action]}
        return self._attempt(f"move traffic on {rule_arn}", lambda: modify_rule(self._call(scope), params), RuleNotFound)
