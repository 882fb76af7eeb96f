"""The ELBv2 provider: one entry point that dispatches an operation to its implementation.

Every ELBv2 operation botocore knows is answered: implemented ones by their module (one per
resource kind), the rest with ``OperationNotPermitted`` (HTTP 400, a code botocore models, so
clients can catch it) saying that ecsemu does not support it.
"""

from __future__ import annotations

import time
from typing import Final

from ecsemu.context import RequestContext
from ecsemu.services.elbv2 import (  # noqa: F401  (importing a module registers its operations)
    capacity_reservations,
    listener_attributes,
    listeners,
    load_balancers,
    rules,
    tags,
    target_groups,
    targets,
)
from ecsemu.services.elbv2.base import OPERATIONS, Call, Params, Result
from ecsemu.services.elbv2.errors import OperationNotPermitted
from ecsemu.state.store import Store

SERVICE: Final = "elbv2"
SIGNING_NAME: Final = "elasticloadbalancing"


class Elbv2Provider:
    service = SERVICE
    signing_name = SIGNING_NAME

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise OperationNotPermitted(f"The ELBv2 operation {operation} is not supported by ecsemu yet.")
        return implementation(Call(context, self.store, time.time()), params)

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
