"""The CloudWatch provider: one entry point that dispatches an operation to its implementation.

Every operation botocore knows is answered: implemented ones by their module, the rest with an
AWS-shaped error saying ecsemu does not support it (never an empty message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.state.store import Store

SERVICE: Final = "cloudwatch"
TARGET_PREFIX: Final = "GraniteServiceVersion20100801"
JSON_VERSION: Final = "1.0"

Params = dict[str, Any]
Result = dict[str, Any]
OPERATIONS: dict[str, Callable[..., Result]] = {}


class CloudWatchProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The CloudWatch operation {operation}")
        return implementation(context, self.store, params)
