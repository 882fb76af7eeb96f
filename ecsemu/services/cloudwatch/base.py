"""What every CloudWatch operation shares: the call, the operation registry, timestamps and
pagination.

An operation is a function ``(call, params) -> result`` registered with
``@operation("PutMetricData")``; params and results use the API's member names. Timestamps
arrive as epoch seconds, ISO 8601 text or ``datetime`` (whatever the wire protocol's parser made)
and leave as epoch seconds (floats): the serializer of each protocol writes them in its form.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ecsemu.context import RequestContext, Scope
from ecsemu.model.metrics import MetricStore
from ecsemu.services import common
from ecsemu.services.cloudwatch.errors import InvalidNextToken, InvalidParameterValue
from ecsemu.state.store import Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]
OPERATIONS: dict[str, Operation] = {}
T = TypeVar("T")


operation = common.registrar(OPERATIONS)  # ``@operation("Name")`` registers an implementation


@dataclass
class Call:
    context: RequestContext
    store: Store
    metrics: MetricStore
    now: float = field(default_factory=time.time)

    @property
    def scope(self) -> Scope:
        return self.context.scope


def epoch(value: object, member: str) -> float:
    """A timestamp member as epoch seconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise InvalidParameterValue(f"The value {value} for parameter {member} is not a valid timestamp.")


def paginate(items: Sequence[T], token: str | None, size: int) -> tuple[list[T], str | None]:
    return common.page(items, token, size, lambda: InvalidNextToken("The service returned an invalid NextToken."))
