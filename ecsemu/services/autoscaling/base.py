"""What every Application Auto Scaling operation shares: the call, the operation registry, the
namespace check, not-found errors, pagination and timestamps.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered with ``@operation("PutScalingPolicy")``;
    params and results use the API's member names (``ResourceId``, ``ScalableDimension``).
target key
    ``(ServiceNamespace, ResourceId, ScalableDimension)``: what names a scalable target, and the
    target a policy or scheduled action belongs to (:class:`ecsemu.model.scaling.TargetKey`).

ecsemu emulates one namespace, ``ecs`` (dimension ``ecs:service:DesiredCount``, resource ids
``service/<cluster>/<service>``): every other namespace is answered with a ValidationException
that says so. Records and their layout: :mod:`ecsemu.model.scaling`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from ecsemu.context import RequestContext, Scope
from ecsemu.model import scaling
from ecsemu.model.scaling import TargetKey
from ecsemu.services import common
from ecsemu.services.autoscaling.errors import InvalidNextTokenException, ObjectNotFoundException, ValidationException
from ecsemu.state.store import Record, Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]
OPERATIONS: dict[str, Operation] = {}

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 50

# Application Auto Scaling quotas (User Guide, "Quotas").
MAX_TARGETS_PER_NAMESPACE: Final = 3000
MAX_POLICIES_PER_TARGET: Final = 50
MAX_SCHEDULED_ACTIONS_PER_TARGET: Final = 200
MAX_STEP_ADJUSTMENTS: Final = 20
MAX_TAGS: Final = 50


operation = common.registrar(OPERATIONS)  # ``@operation("Name")`` registers an implementation


@dataclass
class Call:
    """One API call: the request context, the store, and the time it is handled at."""

    context: RequestContext
    store: Store
    now: float = field(default_factory=time.time)

    @property
    def scope(self) -> Scope:
        return self.context.scope


def require_namespace(namespace: str) -> None:
    if namespace != scaling.ECS_NAMESPACE:
        raise ValidationException(
            f"Unsupported service namespace {namespace}: ecsemu emulates Application Auto Scaling for "
            "the ecs namespace (ecs:service:DesiredCount) only"
        )


def target_key(params: Params) -> TargetKey:
    """The target key of a request, checked as AWS checks it (namespace, dimension, resource id)."""
    namespace = str(params["ServiceNamespace"])
    require_namespace(namespace)
    key = TargetKey(namespace, str(params["ResourceId"]), str(params["ScalableDimension"]))
    if key.dimension != scaling.ECS_DIMENSION or scaling.ecs_service(key.resource_id) is None:
        raise ValidationException("Unsupported service namespace, resource type or scalable dimension")
    return key


def describe_filter(params: Params) -> tuple[str, str | None]:
    """The namespace and (optional) dimension a Describe* call filters on."""
    namespace = str(params["ServiceNamespace"])
    require_namespace(namespace)
    dimension = params.get("ScalableDimension")
    if dimension is not None and dimension != scaling.ECS_DIMENSION:
        raise ValidationException("Unsupported service namespace, resource type or scalable dimension")
    return namespace, dimension


def target_text(key: TargetKey) -> str:
    return f"service namespace: {key.namespace}, resource ID: {key.resource_id}, scalable dimension: {key.dimension}"


def require_target(call: Call, key: TargetKey) -> Record:
    """The registered target, or AWS's ObjectNotFoundException naming it."""
    target = scaling.get_target(call.store, call.scope, key)
    if target is None:
        raise ObjectNotFoundException(f"No scalable target registered for {target_text(key)}")
    return target


T = TypeVar("T")


def paginate(items: Sequence[T], params: Params) -> tuple[list[T], str | None]:
    size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationException(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value {'greater than or equal to 1' if size < 1 else 'less than or equal to 50'}"
        )
    return common.page(items, params.get("NextToken"), size, lambda: InvalidNextTokenException("Invalid token"))


def with_token(result: Result, token: str | None) -> Result:
    if token:
        result["NextToken"] = token
    return result


def timestamp(value: object, member: str) -> float:
    """A request timestamp (epoch seconds, or ISO 8601 text) as epoch seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise ValidationException(f"Invalid {member}: {value}")
