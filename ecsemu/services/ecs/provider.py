"""The ECS provider: one entry point that dispatches an operation to its implementation.

Every ECS operation botocore knows is answered: implemented ones by their module, the rest
with an ``UnsupportedOperationException`` naming the operation.
"""

from __future__ import annotations

import time

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.services.ecs import (  # noqa: F401  (importing a module registers its operations)
    account_settings,
    attributes,
    capacity_providers,
    clusters,
    container_instances,
    service_deployments,
    services,
    tags,
    task_definitions,
    task_sets,
    tasks,
)
from ecsemu.services.ecs.base import OPERATIONS, Call, Params, Result, Settings
from ecsemu.state.store import Store

SERVICE = "ecs"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
JSON_VERSION = "1.1"
UNSUPPORTED_CODE = "UnsupportedFeatureException"


class EcsProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        try:
            if implementation is None:
                raise NotSupportedError(f"The ECS operation {operation}")
            return implementation(Call(context, self.store, self.settings, time.time()), params)
        except NotSupportedError as error:
            # ECS's own code for "not available here", so clients can catch it as ECS's.
            error.code = UNSUPPORTED_CODE
            raise

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
