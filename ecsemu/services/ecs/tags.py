"""Tags on ECS resources: validation, and TagResource/UntagResource/ListTagsForResource.

A tagged record keeps its tags as ECS shows them, ``[{"key": ..., "value": ...}]``, under
``tags`` (service and task records: under ``spec.tags``). Which record an ARN names is found
by its resource type.

Rules (ECS's): at most 50 tags per resource; keys are unique; keys starting with ``aws:`` (any
case) are reserved: users may neither set nor remove them, and the ones ECS sets itself (ECS
managed tags) do not count toward the 50.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsemu.model.tags import Tag
from ecsemu.services.ecs import arns
from ecsemu.services.ecs.base import Call, Params, Result, operation
from ecsemu.services.ecs.errors import InvalidParameterException, ResourceNotFoundException
from ecsemu.state.store import Record

Tags = list[dict[str, str]]

MAX_TAGS = 50


def validate_tags(tags: Tags) -> list[Tag]:
    """Check tags as ECS does and return them."""
    if len(tags) > MAX_TAGS:
        raise InvalidParameterException("Too many tags. A resource can have at most 50 tags.")
    seen: set[str] = set()
    for tag in tags:
        key = tag.get("key", "")
        if not key:
            raise InvalidParameterException("Tag key cannot be empty.")
        if is_reserved(key):
            raise InvalidParameterException("Tag keys starting with 'aws:' are reserved for system use.")
        if key in seen:
            raise InvalidParameterException(f"Duplicate tag key: {key}")
        seen.add(key)
    return [{"key": tag["key"], "value": tag.get("value", "")} for tag in tags]


def is_reserved(key: str) -> bool:
    """Keys starting with aws: (any case) belong to AWS: users may not set or remove them."""
    return key.lower().startswith("aws:")


def merge_tags(existing: Tags, added: list[Tag]) -> list[Tag]:
    """``existing`` with ``added`` (already validated) set over it. Tags ECS set itself
    (aws:...) are kept as they are and do not count toward the limit."""
    merged = {tag["key"]: tag["value"] for tag in existing}
    merged.update({tag["key"]: tag["value"] for tag in added})
    if sum(1 for key in merged if not is_reserved(key)) > MAX_TAGS:
        raise InvalidParameterException("Too many tags. A resource can have at most 50 tags.")
    return [{"key": key, "value": value} for key, value in merged.items()]


def _locate(call: Call, resource_arn: str) -> tuple[str, str, Callable[[Record], dict[str, Any]]]:
    """The (kind, id, tag holder) of the record an ARN names."""
    parsed = arns.parse(resource_arn)
    if parsed is None or parsed.region != call.scope.region or parsed.account_id != call.scope.account_id:
        raise InvalidParameterException("The ARN provided is invalid.")

    def top(record: Record) -> dict[str, Any]:
        return record

    def spec(record: Record) -> dict[str, Any]:
        spec_part: dict[str, Any] = record["spec"]
        return spec_part

    holders: dict[str, tuple[str, Callable[[Record], dict[str, Any]]]] = {
        "cluster": ("cluster", top),
        "task-definition": ("taskdef", top),
        "service": ("service", spec),
        "task": ("task", spec),
        "container-instance": ("container_instance", top),
        "capacity-provider": ("capacity_provider", top),
        "task-set": ("task_set", top),
    }
    if parsed.resource_type not in holders:
        raise InvalidParameterException("The ARN provided is invalid.")
    kind, holder = holders[parsed.resource_type]
    return kind, parsed.resource, holder


def _require_record(call: Call, kind: str, record_id: str) -> Record:
    record = call.store.get(call.scope, kind, record_id)
    if record is None:
        raise ResourceNotFoundException("The specified resource could not be found.")
    return record


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Result:
    kind, record_id, holder = _locate(call, params["resourceArn"])
    record = _require_record(call, kind, record_id)
    return {"tags": holder(record).get("tags", [])}


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Result:
    kind, record_id, holder = _locate(call, params["resourceArn"])
    added = validate_tags(params.get("tags", []))
    with call.store.transaction():
        record = _require_record(call, kind, record_id)
        target = holder(record)
        target["tags"] = merge_tags(target.get("tags", []), added)
        call.store.put(call.scope, kind, record_id, record)
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Result:
    kind, record_id, holder = _locate(call, params["resourceArn"])
    removed = set(params.get("tagKeys", []))
    if any(is_reserved(key) for key in removed):
        raise InvalidParameterException("Tag keys starting with 'aws:' are reserved for system use.")
    with call.store.transaction():
        record = _require_record(call, kind, record_id)
        target = holder(record)
        target["tags"] = [tag for tag in target.get("tags", []) if tag["key"] not in removed]
        call.store.put(call.scope, kind, record_id, record)
    return {}
