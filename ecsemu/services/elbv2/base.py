"""What every ELBv2 operation shares: the call, the operation registry, ARNs and record ids,
lookups, pagination.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered under its API name with
    ``@operation("CreateLoadBalancer")``. Params and results are keyed by the API's own member
    names (``LoadBalancerArn``, ``DefaultActions``), as boto3 shows them.
record
    One stored resource: ``{"spec": {...}, "status": {...}}``. ``spec`` is what the API wrote
    (keys are the API's member names, so the data plane reads what users wrote); ``status`` is
    written only by the data plane (load balancer proxy and health checker), never by the API.
    Each resource module's docstring lists its record's keys.

Kinds and ids (one record per resource, per account and region)
----------------------------------------------------------------
Every ARN is ``arn:aws:elasticloadbalancing:<region>:<account>:<type>/<record id>``:

* ``elbv2.load_balancer`` — type ``loadbalancer``, id ``app/<name>/<16 hex>`` (``net/`` for a
  Network Load Balancer);
* ``elbv2.target_group`` — type ``targetgroup``, id ``<name>/<16 hex>``;
* ``elbv2.listener`` — type ``listener``, id ``<load balancer id>/<16 hex>``;
* ``elbv2.rule`` — type ``listener-rule``, id ``<listener id>/<16 hex>``.

The id is the ARN's resource part after its type, so an ARN names its record without a scan;
an ARN of another account or region names nothing here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from ecsemu.context import RequestContext, Scope
from ecsemu.errors import ClientError
from ecsemu.model import arns, load_balancing
from ecsemu.model import listener as listener_model
from ecsemu.model import load_balancer as load_balancer_model
from ecsemu.model import rule as rule_model
from ecsemu.model import target_group as target_group_model
from ecsemu.services import common
from ecsemu.services.elbv2.errors import (
    ListenerNotFound,
    LoadBalancerNotFound,
    RuleNotFound,
    TargetGroupNotFound,
    ValidationError,
)
from ecsemu.state.store import Record, Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]

OPERATIONS: dict[str, Operation] = {}

LOAD_BALANCER: Final = load_balancer_model.KIND
TARGET_GROUP: Final = target_group_model.KIND
LISTENER: Final = listener_model.KIND
RULE: Final = rule_model.KIND

# ARN resource type of each kind: "<type>/<record id>".
RESOURCE_TYPES: Final = load_balancing.RESOURCE_TYPES
KIND_OF_RESOURCE_TYPE: Final = {resource_type: kind for kind, resource_type in RESOURCE_TYPES.items()}

ARN_PREFIX: Final = f"arn:aws:{arns.ELBV2}:"


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

    def arn(self, kind: str, record_id: str) -> str:
        return arns.arn(arns.ELBV2, self.scope, RESOURCE_TYPES[kind], record_id)

    def record_id(self, kind: str, arn: object) -> str | None:
        """The id of the record ``arn`` names, if it is an ARN of ``kind`` in this scope."""
        return load_balancing.record_id(self.scope, kind, arn)

    def find(self, kind: str, arn: object) -> Record | None:
        record_id = self.record_id(kind, arn)
        return None if record_id is None else self.store.get(self.scope, kind, record_id)

    def put(self, kind: str, arn: str, record: Record) -> None:
        record_id = self.record_id(kind, arn)
        assert record_id is not None, arn
        self.store.put(self.scope, kind, record_id, record)

    def delete(self, kind: str, arn: str) -> None:
        record_id = self.record_id(kind, arn)
        if record_id is not None:
            self.store.delete(self.scope, kind, record_id)

    def records(self, kind: str) -> list[Record]:
        return self.store.list(self.scope, kind)


_NOT_FOUND: Final[dict[str, tuple[type[ClientError], str, str]]] = {
    LOAD_BALANCER: (LoadBalancerNotFound, "Load balancer '{}' not found", "One or more load balancers not found"),
    TARGET_GROUP: (TargetGroupNotFound, "Target groups '{}' not found", "One or more target groups not found"),
    LISTENER: (ListenerNotFound, "Listener '{}' not found", "One or more listeners not found"),
    RULE: (RuleNotFound, "Rule '{}' not found", "One or more rules not found"),
}


def not_found(kind: str, arn: object = None) -> ClientError:
    """The error AWS answers for a missing resource: naming it, or "one or more" of a list."""
    error, one, many = _NOT_FOUND[kind]
    return error(one.format(arn) if arn is not None else many)


_NOUNS: Final = {
    LOAD_BALANCER: "load balancer",
    TARGET_GROUP: "target group",
    LISTENER: "listener",
    RULE: "listener rule",
}


def check_arn(kind: str, arn: object) -> None:
    """Refuse what is not an ARN of ``kind`` at all (one of another scope is merely not found)."""
    if not isinstance(arn, str) or kind_of_arn(arn) != kind or arn.split(":", 5)[5].count("/") < 2:
        raise ValidationError(f"'{arn}' is not a valid {_NOUNS[kind]} ARN")


def require(call: Call, kind: str, arn: object) -> Record:
    """The record ``arn`` names; its kind's not-found error (naming the ARN) when absent."""
    check_arn(kind, arn)
    record = call.find(kind, arn)
    if record is None:
        raise not_found(kind, arn)
    return record


def require_all(call: Call, kind: str, arns: Sequence[object]) -> list[Record]:
    """The records of ``arns`` in the order given; "one or more ... not found" if any is absent."""
    records = []
    for arn in dict.fromkeys(arns):
        check_arn(kind, arn)
        record = call.find(kind, arn)
        if record is None:
            raise not_found(kind)
        records.append(record)
    return records


def new_hex_id() -> str:
    """The 16 hex digits that end every ELBv2 ARN."""
    return secrets.token_hex(8)


def kind_of_arn(arn: str) -> str | None:
    """The kind an ELBv2 ARN names (whatever its scope), or None."""
    if not arn.startswith(ARN_PREFIX):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    resource_type, _, _ = parts[5].partition("/")
    return KIND_OF_RESOURCE_TYPE.get(resource_type)


def spec_of(record: Record) -> dict[str, Any]:
    spec: dict[str, Any] = record["spec"]
    return spec


def status_of(record: Record) -> dict[str, Any]:
    status: dict[str, Any] = record.get("status") or {}
    return status


def new_record(spec: dict[str, Any]) -> Record:
    return {"spec": spec, "status": {}}


# --------------------------------------------------------------------------------------------
# Pagination: Marker / NextMarker, PageSize 1 to 400 (the bounds are checked at the edge).

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 400


def paginate(items: Sequence[T], params: Params) -> tuple[list[T], str | None]:
    """One page of ``items`` by ``Marker``/``PageSize``, and the ``NextMarker`` if more follow."""
    size = int(params.get("PageSize") or DEFAULT_PAGE_SIZE)
    return common.page(items, params.get("Marker"), size, lambda: ValidationError("The marker is not valid."))


def with_marker(result: Result, next_marker: str | None) -> Result:
    if next_marker:
        result["NextMarker"] = next_marker
    return result


def require_one_of(params: Params, *names: str) -> None:
    """AWS refuses combinations of filters that each select on their own."""
    given = [name for name in names if params.get(name)]
    if len(given) > 1:
        raise ValidationError(f"{' and '.join(given)} cannot be specified at the same time")


def attribute_list(attributes: dict[str, str]) -> list[dict[str, str]]:
    """Stored attributes ``{key: value}`` as the API answers them: ``[{"Key", "Value"}]``."""
    return [{"Key": key, "Value": value} for key, value in attributes.items()]
