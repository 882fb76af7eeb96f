"""The SSM provider: one entry point that dispatches an operation to its implementation.

Parameter Store is what ecsemu emulates of SSM (``parameters``, ``queries``, ``tags``); every
other operation botocore knows is answered with an AWS-shaped error saying ecsemu does not
support it (never an empty message). Each call runs in one store transaction, so a refused
request changes nothing.
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.services.ssm import parameters, queries, tags
from ecsemu.services.ssm.base import OPERATIONS, Call
from ecsemu.state.store import Store

SERVICE: Final = "ssm"
TARGET_PREFIX: Final = "AmazonSSM"
JSON_VERSION: Final = "1.1"

Params = dict[str, Any]
Result = dict[str, Any]

IMPLEMENTED: Final = (parameters, queries, tags)  # importing them registers their operations


class SsmProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The SSM operation {operation}")
        with self.store.transaction():
            return implementation(Call(context, self.store), params)
