"""AddTagsToResource, RemoveTagsFromResource and ListTagsForResource, for ``ResourceType``
``Parameter`` (a resource id is the parameter's name, or its ARN). Other resource types are
SSM's, not Parameter Store's: ecsemu answers that it does not support them.

Invariants: a parameter has at most 50 tags; a refused request changes nothing.
"""

from __future__ import annotations

from typing import Any

from ecsemu.errors import NotSupportedError
from ecsemu.model import ssm_parameters as model
from ecsemu.services.ssm.base import Call, Params, Result, check_tags, merged_tags, operation, stored_name
from ecsemu.services.ssm.errors import InvalidResourceId


def _parameter_name(call: Call, params: Params) -> str:
    resource_type = str(params["ResourceType"])
    if resource_type != "Parameter":
        raise NotSupportedError(f"Tags on SSM resources of type {resource_type}")
    name = stored_name(call, str(params["ResourceId"]))
    if name is None:
        raise InvalidResourceId("The resource ID is not valid. Verify that the resource ID is correct and try again.")
    return name


def _tags(call: Call, name: str) -> list[dict[str, str]]:
    record = call.record(name)
    assert record is not None
    tags: list[dict[str, str]] = record["spec"].get("Tags", [])
    return tags


@operation("AddTagsToResource")
def add_tags_to_resource(call: Call, params: Params) -> Result:
    name = _parameter_name(call, params)
    added: list[dict[str, str]] = params["Tags"]
    current = _tags(call, name)
    merged = merged_tags(current, added)
    check_tags(added, existing=len(merged) - len({tag["Key"] for tag in added}))

    def retag(record: dict[str, Any]) -> None:
        record["spec"]["Tags"] = merged

    call.store.update(call.scope, model.KIND, name, retag)
    return {}


@operation("RemoveTagsFromResource")
def remove_tags_from_resource(call: Call, params: Params) -> Result:
    name = _parameter_name(call, params)
    removed = {str(key) for key in params["TagKeys"]}

    def untag(record: dict[str, Any]) -> None:
        record["spec"]["Tags"] = [tag for tag in record["spec"].get("Tags", []) if tag["Key"] not in removed]

    call.store.update(call.scope, model.KIND, name, untag)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Result:
    name = _parameter_name(call, params)
    return {"TagList": _tags(call, name)}
