"""What every ECS operation shares: the call's context, the operation registry, pagination,
and resolving a cluster named by name or ARN.

Vocabulary:
- An *operation* is a function ``(call, params) -> result`` registered under its ECS name with
  ``@operation("CreateCluster")``. It reads and writes the store through ``call``, and never
  sees a JSON null: a null member reaches it as an absent one.
- Records are kept per scope (account, region) under a *kind*; see each resource module for
  its kind and id.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ecsemu.context import RequestContext, Scope
from ecsemu.model import cluster as cluster_model
from ecsemu.services import common
from ecsemu.services.ecs import arns
from ecsemu.services.ecs.errors import ClusterNotFoundException, InvalidParameterException
from ecsemu.state.store import Record, Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]

OPERATIONS: dict[str, Operation] = {}

DEFAULT_CLUSTER = cluster_model.DEFAULT_CLUSTER


def operation(name: str) -> Callable[[Operation], Operation]:
    """Register a function as the implementation of the ECS operation ``name``.

    The function sees its input with every JSON ``null`` member left out: AWS reads a null
    member as an absent one, so ``params.get(member, default)`` gives the default for both.
    """

    def register(function: Operation) -> Operation:
        @functools.wraps(function)
        def without_nulls(call: Call, params: Params) -> Result:
            return function(call, _drop_nulls(params))

        OPERATIONS[name] = without_nulls
        return function

    return register


def _drop_nulls(params: Params) -> Params:
    return {key: _drop_null_members(value) for key, value in params.items() if value is not None}


def _drop_null_members(value: Any) -> Any:
    if isinstance(value, dict):
        return _drop_nulls(value)
    if isinstance(value, list):
        return [_drop_null_members(item) for item in value]
    return value


@dataclass(frozen=True)
class Settings:
    """Emulator options that change what the API answers."""

    stopped_task_retention_s: float = 3600.0
    allow_host_access: bool = False


@dataclass
class Call:
    """One API call: the request context, the store, and the time it is handled at."""

    context: RequestContext
    store: Store
    settings: Settings = field(default_factory=Settings)
    now: float = field(default_factory=time.time)

    @property
    def scope(self) -> Scope:
        return self.context.scope

    def arn(self, resource_type: str, resource: str) -> str:
        return arns.arn(self.scope, resource_type, resource)

    # -- clusters, needed by almost every operation ----------------------------------------

    def cluster_name(self, name_or_arn: str | None) -> str:
        """The cluster's name; an ARN of another account or region (or not of a cluster) is
        answered as it is, which no cluster name can match, so it is found nowhere."""
        if not name_or_arn:
            return DEFAULT_CLUSTER
        if arns.is_arn(name_or_arn):
            parsed = arns.parse(name_or_arn)
            if parsed is None or parsed.resource_type != "cluster" or not self.owns(parsed):
                return name_or_arn
            return parsed.resource
        return name_or_arn

    def owns(self, parsed: arns.Arn) -> bool:
        """Whether a parsed ARN is of this call's account and region."""
        return (parsed.account_id, parsed.region) == (self.scope.account_id, self.scope.region)

    def find_cluster(self, name_or_arn: str | None) -> Record | None:
        record = self.store.get(self.scope, "cluster", self.cluster_name(name_or_arn))
        if record is None or record.get("status") == "INACTIVE":
            return None
        return record

    def require_cluster(self, name_or_arn: str | None) -> Record:
        record = self.find_cluster(name_or_arn)
        if record is None:
            raise ClusterNotFoundException()
        return record


T = TypeVar("T")


def paginate(items: Sequence[T], params: Params, *, default_max: int = 100, limit: int = 100) -> tuple[list[T], str | None]:
    """Cut ``items`` into one page by ``maxResults``/``nextToken``; return it and the next token."""
    max_results = params.get("maxResults")
    if max_results is None:
        max_results = default_max
    elif not 1 <= int(max_results) <= limit:
        raise InvalidParameterException(f"maxResults must be between 1 and {limit}.")
    return common.page(
        items, params.get("nextToken"), int(max_results), lambda: InvalidParameterException("Invalid nextToken."), negative_ok=True
    )


def page_result(key: str, items: list[Any], next_token: str | None) -> Result:
    result: Result = {key: items}
    if next_token:
        result["nextToken"] = next_token
    return result


def require(params: Params, name: str) -> Any:
    """A required member; the schema check catches most, this guards the ones it cannot."""
    value = params.get(name)
    if value is None or value == "":
        raise InvalidParameterException(f"{name} can not be blank.")
    return value
