"""Tags of alarms: TagResource, UntagResource, ListTagsForResource, and PutMetricAlarm's Tags.

Invariants:
- An alarm keeps its tags in ``spec.Tags`` as the API shows them (``[{"Key", "Value"}]``), in
  the order keys were first added; at most 50, keys unique; keys beginning ``aws:`` are AWS's.
- A resource ARN that is not an alarm of this scope answers ResourceNotFoundException (insight
  rules are not supported, so they are never found).
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.model import alarms as model
from ecsemu.services.cloudwatch.base import Call, Params, Result, operation
from ecsemu.services.cloudwatch.errors import InvalidParameterValue, LimitExceeded, ResourceNotFoundException
from ecsemu.state.store import Record

MAX_TAGS: Final = 50


def validate_tags(tags: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    by_key: dict[str, str] = {}
    for tag in tags or []:
        key = tag["Key"]
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue(f"Invalid tag key: {key}. Tag keys starting with 'aws:' are reserved.")
        by_key[key] = tag.get("Value", "")
    if len(by_key) > MAX_TAGS:
        raise LimitExceeded(f"The maximum number of tags ({MAX_TAGS}) per resource has been exceeded.")
    return [{"Key": key, "Value": value} for key, value in by_key.items()]


def _require(call: Call, arn: str) -> tuple[str, Record]:
    name = model.name_of_arn(call.scope, arn)
    record = None if name is None else call.store.get(call.scope, model.KIND, name)
    if name is None or record is None:
        raise ResourceNotFoundException(f"The resource {arn} does not exist.")
    return name, record


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Result:
    added = validate_tags(params["Tags"])
    with call.store.transaction():
        name, record = _require(call, params["ResourceARN"])
        merged = {tag["Key"]: tag["Value"] for tag in record["spec"].get("Tags") or []}
        merged.update({tag["Key"]: tag["Value"] for tag in added})
        record["spec"]["Tags"] = validate_tags([{"Key": k, "Value": v} for k, v in merged.items()])
        call.store.put(call.scope, model.KIND, name, record)
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Result:
    keys = set(params["TagKeys"])
    with call.store.transaction():
        name, record = _require(call, params["ResourceARN"])
        record["spec"]["Tags"] = [tag for tag in record["spec"].get("Tags") or [] if tag["Key"] not in keys]
        call.store.put(call.scope, model.KIND, name, record)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Result:
    _name, record = _require(call, params["ResourceARN"])
    return {"Tags": list(record["spec"].get("Tags") or [])}
