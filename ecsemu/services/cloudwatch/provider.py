"""The CloudWatch provider: one entry point that dispatches an operation to its implementation.

Every operation botocore knows is answered: implemented ones by their module (``metrics``:
PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics; ``alarms``: the metric alarms;
``tags``), the rest with an AWS-shaped error saying ecsemu does not support it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.model import alarms as alarms_model
from ecsemu.model.metrics import MetricStore
from ecsemu.services.cloudwatch import alarms, metrics, tags  # noqa: F401  (registers the operations)
from ecsemu.services.cloudwatch.base import OPERATIONS, Call, Params, Result
from ecsemu.state.store import Store

SERVICE: Final = "cloudwatch"
TARGET_PREFIX: Final = "GraniteServiceVersion20100801"
JSON_VERSION: Final = "1.0"


class CloudWatchProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock  # AWS time: the scaling clock (ecsemu.model.clock)
        self.metrics = MetricStore(store)  # declares the side tables, outside any transaction
        alarms_model.history_table(store)

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The CloudWatch operation {operation}")
        return implementation(Call(context, self.store, self.metrics, self.clock()), params)

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
