"""Attributes on container instances: PutAttributes, DeleteAttributes, ListAttributes.

Attributes live on their target's record: a container instance (kind ``container_instance``,
id ``<cluster>/<instance id>``, see ``container_instances``) keeps them under ``attributes``
as ECS describes them, ``[{"name": ..., "value": ...}]`` (``value`` absent when unset).

Vocabulary:
- *agent* attributes are the ones the ECS agent reports at registration (names starting with
  ``ecs.`` or ``com.amazonaws.ecs.``); every other attribute is *custom*.
- A *target* is named by id or ARN and looked up in the call's ``cluster`` (default
  ``default``); a long-format ARN naming another cluster names no target.

Invariants:
- A target holds at most ``MAX_CUSTOM`` custom attributes and one attribute per name.
- A call changes all of its targets or none: every attribute is checked before any write.
- Only ``container-instance`` is a target type, as in ECS.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.model import container_instance as container_instance_model
from ecsemu.services.ecs import arns
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import (
    AttributeLimitExceededException,
    InvalidParameterException,
    TargetNotFoundException,
)
from ecsemu.state.store import Record

INSTANCE_KIND = container_instance_model.KIND
TARGET_TYPE = "container-instance"
MAX_CUSTOM = 10
MAX_PER_CALL = 10
AGENT_PREFIXES = ("ecs.", "com.amazonaws.ecs.")

_NAME = re.compile(r"^[a-zA-Z0-9_/\\.-]{1,128}$")
_VALUE = re.compile(r"^[a-zA-Z0-9_.@/\\: -]{1,128}$")

Attribute = dict[str, str]


def is_custom(name: str) -> bool:
    return not name.startswith(AGENT_PREFIXES)


def validate(attribute: dict[str, Any]) -> Attribute:
    """An attribute as a record keeps it (name, optional value), after ECS's checks."""
    name = attribute.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameterException(
            f"Invalid attribute name: {name}. Names are 1-128 letters, numbers, hyphens, underscores, slashes, back slashes or periods."
        )
    value = attribute.get("value")
    if value is None:
        return {"name": name}
    if not isinstance(value, str) or not _VALUE.match(value) or value != value.strip():
        raise InvalidParameterException(
            f"Invalid attribute value for {name}. Values are 1-128 letters, numbers, hyphens, underscores, periods, "
            "at signs, slashes, back slashes, colons or spaces, and can't start or end with a space."
        )
    return {"name": name, "value": value}


def merge(existing: list[Attribute], added: list[Attribute]) -> list[Attribute]:
    """``existing`` with ``added`` put in (same name: the new value wins), within the limit."""
    by_name = {a["name"]: a for a in existing}
    for attribute in added:
        by_name[attribute["name"]] = attribute
    merged = list(by_name.values())
    if sum(1 for a in merged if is_custom(a["name"])) > MAX_CUSTOM:
        raise AttributeLimitExceededException(f"You can apply up to {MAX_CUSTOM} custom attributes for each resource.")
    return merged


# -- targets --------------------------------------------------------------------------------


def instance_key(call: Call, cluster_param: str | None, reference: str) -> str | None:
    """The record id of the container instance ``reference`` names; None when it can't be one."""
    cluster = call.cluster_name(cluster_param)
    if arns.is_arn(reference):
        parsed = arns.parse(reference)
        if (
            parsed is None
            or parsed.resource_type != TARGET_TYPE
            or parsed.region != call.scope.region
            or parsed.account_id != call.scope.account_id
        ):
            return None
        parts = parsed.resource.split("/")
        if len(parts) == 2 and parts[0] != cluster:
            return None
        reference = parts[-1]
    if not reference or "/" in reference:
        return None
    return f"{cluster}/{reference}"


def _target(call: Call, cluster_param: str | None, attribute: dict[str, Any]) -> tuple[str, Record]:
    target_id = attribute.get("targetId")
    if not target_id:
        raise InvalidParameterException("targetId can not be blank.")
    target_type = attribute.get("targetType")
    if target_type is None and not arns.is_arn(target_id):
        raise InvalidParameterException("targetType is required when targetId is not an ARN.")
    if target_type is not None and target_type != TARGET_TYPE:
        raise InvalidParameterException(f"Invalid targetType: {target_type}")
    key = instance_key(call, cluster_param, target_id)
    record = call.store.get(call.scope, INSTANCE_KIND, key) if key else None
    if key is None or record is None or record.get("status") == "INACTIVE":
        raise TargetNotFoundException(f"Could not find target {target_id}.")
    return key, record


def _echo(attribute: dict[str, Any]) -> dict[str, Any]:
    """An attribute of the request as ECS answers it back."""
    return {k: attribute[k] for k in ("name", "value", "targetType", "targetId") if attribute.get(k) is not None}


def _changes(call: Call, params: Params) -> dict[str, tuple[Record, list[dict[str, Any]]]]:
    """The request's attributes grouped by target record id; raises before anything is written."""
    call.require_cluster(params.get("cluster"))
    attributes = params.get("attributes") or []
    if not attributes:
        raise InvalidParameterException("attributes can not be empty.")
    grouped: dict[str, tuple[Record, list[dict[str, Any]]]] = {}
    for attribute in attributes:
        key, record = _target(call, params.get("cluster"), attribute)
        grouped.setdefault(key, (record, []))[1].append(attribute)
    return grouped


# -- operations -----------------------------------------------------------------------------


@operation("PutAttributes")
def put_attributes(call: Call, params: Params) -> Result:
    if len(params.get("attributes") or []) > MAX_PER_CALL:
        raise AttributeLimitExceededException(f"You can specify up to {MAX_PER_CALL} attributes in a single call.")
    with call.store.transaction():
        grouped = _changes(call, params)
        updated = {}
        for key, (record, attributes) in grouped.items():
            record["attributes"] = merge(record.get("attributes", []), [validate(a) for a in attributes])
            updated[key] = record
        for key, record in updated.items():
            record["version"] = int(record.get("version", 1)) + 1
            call.store.put(call.scope, INSTANCE_KIND, key, record)
    return {"attributes": [_echo(a) for a in params["attributes"]]}


@operation("DeleteAttributes")
def delete_attributes(call: Call, params: Params) -> Result:
    if len(params.get("attributes") or []) > MAX_PER_CALL:
        raise InvalidParameterException(f"You can specify up to {MAX_PER_CALL} attributes for each request.")
    for attribute in params.get("attributes") or []:
        if not attribute.get("name"):
            raise InvalidParameterException("Attribute name can not be blank.")
    with call.store.transaction():
        grouped = _changes(call, params)
        for key, (record, attributes) in grouped.items():
            removed = {a["name"] for a in attributes}
            record["attributes"] = [a for a in record.get("attributes", []) if a["name"] not in removed]
            record["version"] = int(record.get("version", 1)) + 1
            call.store.put(call.scope, INSTANCE_KIND, key, record)
    return {"attributes": [_echo(a) for a in params["attributes"]]}


@operation("ListAttributes")
def list_attributes(call: Call, params: Params) -> Result:
    if params.get("targetType") != TARGET_TYPE:
        raise InvalidParameterException(f"Invalid targetType: {params.get('targetType')}")
    name, value = params.get("attributeName"), params.get("attributeValue")
    if value is not None and not name:
        raise InvalidParameterException("attributeName must be specified when attributeValue is specified.")
    cluster = call.require_cluster(params.get("cluster"))
    found: list[dict[str, Any]] = []
    for instance in call.store.list(call.scope, INSTANCE_KIND):
        if instance.get("clusterName") != cluster["clusterName"] or instance.get("status") == "INACTIVE":
            continue
        for attribute in instance.get("attributes", []):
            if name is not None and attribute["name"] != name:
                continue
            if value is not None and attribute.get("value") != value:
                continue
            found.append({**attribute, "targetType": TARGET_TYPE, "targetId": instance["containerInstanceArn"]})
    page, token = paginate(found, params)
    return page_result("attributes", page, token)
