"""What every SQS operation shares: the call, the operation registry, queue URLs, look-ups and
number checks.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered with ``@operation("SendMessage")``;
    params and results use the JSON protocol's member names (the gateway maps the query
    protocol's onto them).
queue URL
    ``<base url>/<account>/<queue name>``; the base URL is the provider's (the server's own
    endpoint). Any URL whose last two path segments are ``<account>/<name>`` names the queue,
    whatever its scheme and host (clients rewrite hosts), as long as the account is the
    caller's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from ecsemu.context import RequestContext, Scope
from ecsemu.model import queues as queue_model
from ecsemu.model.queue_messages import QueueTables, tables_of
from ecsemu.model.queues import Queue
from ecsemu.services import common
from ecsemu.services.sqs.errors import InvalidAddress, InvalidParameterValue, QueueDoesNotExist
from ecsemu.services.sqs.waiters import QueueWaiters
from ecsemu.state.store import Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]

OPERATIONS: dict[str, Operation] = {}

DEFAULT_BASE_URL: Final = "http://127.0.0.1:4566"


operation = common.registrar(OPERATIONS)  # ``@operation("Name")`` registers an implementation


@dataclass
class Call:
    """One API call: who asks, the store, the time it started and the provider's services."""

    context: RequestContext
    store: Store
    base_url: str
    waiters: QueueWaiters
    now: float = field(default_factory=time.time)

    @property
    def scope(self) -> Scope:
        return self.context.scope

    @property
    def tables(self) -> QueueTables:
        return tables_of(self.store)

    @property
    def now_ms(self) -> int:
        return int(self.now * 1000)

    def queue_url(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/{self.context.account_id}/{name}"

    def queue_arn(self, name: str) -> str:
        return queue_model.queue_arn(self.scope, name)


def queue_name_of(call: Call, url: str) -> str:
    """The queue name a queue URL names in the caller's account (not yet checked to exist)."""
    try:
        path = urlsplit(url).path if "://" in url else url
    except ValueError as error:
        raise InvalidAddress(f"The address {url} is not valid for this endpoint.") from error
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2:
        raise InvalidAddress(f"The address {url} is not valid for this endpoint.")
    account, name = segments[-2], segments[-1]
    if account != call.context.account_id:
        raise QueueDoesNotExist()
    return name


def find_queue(call: Call, url: str) -> Queue:
    queue = queue_model.get_queue(call.store, call.scope, queue_name_of(call, url))
    if queue is None:
        raise QueueDoesNotExist()
    return queue


def bounded(name: str, value: Any, low: int, high: int, reason: str | None = None) -> int:
    """``value`` as an int in [low, high], or SQS's InvalidParameterValue naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        because = reason or f"Must be between {low} and {high}, if provided."
        raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: {because}")
    return value
