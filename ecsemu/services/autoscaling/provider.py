"""The Application Auto Scaling provider: one entry point that dispatches an operation to its
implementation (one module per resource kind).

Every operation botocore knows is answered: implemented ones by their module, the rest
(GetPredictiveScalingForecast) with an AWS-shaped error saying ecsemu does not support it.
Building the provider declares the side tables its calls write inside their transactions (the
scaling activities, and CloudWatch's alarm history for a policy's own alarms): at start-up, outside
any transaction, as side tables require.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.model import alarms, scaling_activities
from ecsemu.services.autoscaling import (  # noqa: F401  (importing a module registers its operations)
    activities,
    policies,
    scheduled_actions,
    tags,
    targets,
)
from ecsemu.services.autoscaling.base import OPERATIONS, Call, Params, Result
from ecsemu.state.store import Store

SERVICE: Final = "application-autoscaling"
TARGET_PREFIX: Final = "AnyScaleFrontendService"
JSON_VERSION: Final = "1.1"


class ApplicationAutoScalingProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock  # AWS time: the scaling clock (ecsemu.model.clock)
        scaling_activities.declare(store)
        alarms.history_table(store)  # a policy writes its alarms inside its own transaction

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The Application Auto Scaling operation {operation}", code="ValidationException")
        return implementation(Call(context, self.store, self.clock()), params)

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
