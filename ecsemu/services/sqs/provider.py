"""The SQS provider: one entry point that dispatches an operation to its implementation.

Every operation botocore knows is answered: implemented ones by their module (one per
resource kind), the rest (permissions, message move tasks) with ``UnsupportedOperation``
(HTTP 400, a code SQS models) saying that ecsemu does not support them.

Params and results use the JSON protocol's member names; the gateway maps the query protocol
onto them, and reads each error's ``query_code`` for the query protocol and for the JSON
protocol's ``x-amzn-query-error`` header (SQS is awsQueryCompatible).

``base_url``: queue URLs are ``<base_url>/<account>/<name>``; the server passes its own
endpoint (or sets the attribute once its port is bound: every call reads it anew).

``unlocked_operations``: ReceiveMessage may wait up to 20 s for a message (long polling), so
the gateway must call it outside its per-call store snapshot; it takes its own short store
transactions and waits holding no store lock (``receive.py``, ``waiters.py``).
"""

from __future__ import annotations

import time
from typing import Final

from ecsemu.context import RequestContext
from ecsemu.model.queue_messages import tables_of
from ecsemu.services.sqs import (  # noqa: F401  (importing a module registers its operations)
    messages,
    queues,
    receive,
    tags,
)
from ecsemu.services.sqs.base import DEFAULT_BASE_URL, OPERATIONS, Call, Params, Result
from ecsemu.services.sqs.errors import UnsupportedOperation
from ecsemu.services.sqs.waiters import QueueWaiters
from ecsemu.state.store import Store

SERVICE: Final = "sqs"
TARGET_PREFIX: Final = "AmazonSQS"
JSON_VERSION: Final = "1.0"


class SqsProvider:
    service = SERVICE
    target_prefix = TARGET_PREFIX
    json_version = JSON_VERSION
    unlocked_operations: frozenset[str] = frozenset({"ReceiveMessage"})

    def __init__(self, store: Store, base_url: str | None = None) -> None:
        self.store = store
        self.base_url = base_url or DEFAULT_BASE_URL
        self.waiters = QueueWaiters()
        tables_of(store)  # declare the side tables now, outside any transaction

    def handle(self, context: RequestContext, operation: str, params: Params) -> Result:
        implementation = OPERATIONS.get(operation)
        if implementation is None:
            raise UnsupportedOperation(f"The SQS operation {operation}")
        return implementation(Call(context, self.store, self.base_url, self.waiters, time.time()), params)

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(OPERATIONS)
