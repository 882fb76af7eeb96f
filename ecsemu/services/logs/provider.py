"""The CloudWatch Logs provider: one entry point that dispatches an operation to its implementation.

Every operation botocore knows is answered: implemented ones by their module (one per resource
kind: ``groups``, ``streams``, ``events``, ``metric_filters``, ``tags``), the rest with ``InvalidOperationException``
(HTTP 400, a code botocore models, so clients can catch it) saying that ecsemu does not support
it — never an empty message.
"""

from __future__ import annotations

from typing import Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.model.logs import LogStore
from ecsemu.services.logs import events, groups, metric_filters, streams, tags  # noqa: F401  (importing registers operations)
from ecsemu.services.logs.base import OPERATIONS, Call, Params, Result, check_patterns
from ecsemu.state.store import Store

SERVICE: Final = "logs"
TARGET_PREFIX: Final = "Logs_20140328"
JSON_VERSION: Final = "1.1"
UNSUPPORTED_CODE: Final = "InvalidOperationException"


class LogsProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store) -> None:
        self.store = store
        self.logs = LogStore(store)

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The CloudWatch Logs operation {operation}", code=UNSUPPORTED_CODE)
        check_patterns(params)
        return implementation(Call(context, self.logs), params)

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
