"""The Secrets Manager provider: one entry point that dispatches an operation to its implementation.

Implemented operations live in ``secrets``, ``listing``, ``policies`` and ``tags``; every other operation
botocore knows is answered with an AWS-shaped error saying ecsemu does not support it (never an
empty message). Each call runs in one store transaction, so a refused request changes nothing.
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.services.secretsmanager import listing, policies, secrets, tags
from ecsemu.services.secretsmanager.base import OPERATIONS, Call
from ecsemu.state.store import Store

SERVICE: Final = "secretsmanager"
TARGET_PREFIX: Final = "secretsmanager"
JSON_VERSION: Final = "1.1"

Params = dict[str, Any]
Result = dict[str, Any]

IMPLEMENTED: Final = (listing, policies, secrets, tags)  # importing them registers their operations


class SecretsManagerProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise NotSupportedError(f"The Secrets Manager operation {operation}")
        with self.store.transaction():
            return implementation(Call(context, self.store), params)
