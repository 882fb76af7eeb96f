"""TagResource, UntagResource, ListTagsForResource: tags of scalable targets (the one taggable
Application Auto Scaling resource), named by ScalableTargetARN; at most 50 per target."""

from __future__ import annotations

from ecsemu.model import scaling
from ecsemu.services.autoscaling.base import MAX_TAGS, Call, Params, Result, operation
from ecsemu.services.autoscaling.errors import ResourceNotFoundException, TooManyTagsException, ValidationException
from ecsemu.state.store import Record

ARN_PREFIX = "arn:aws:application-autoscaling:"


def _target(call: Call, arn: str) -> Record:
    if not arn.startswith(ARN_PREFIX) or ":scalable-target/" not in arn:
        raise ValidationException(f"Invalid ResourceARN: {arn}")
    target = scaling.target_by_arn(call.store, call.scope, arn)
    if target is None:
        raise ResourceNotFoundException(
            f"No scalable target found with ARN {arn}",
        )
    return target


def _put(call: Call, target: Record) -> None:
    call.store.put(call.scope, scaling.TARGET_KIND, scaling.key_of(target["spec"]).id, target)


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Result:
    return {"Tags": dict(_target(call, params["ResourceARN"])["spec"].get("Tags") or {})}


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Result:
    with call.store.transaction():
        target = _target(call, params["ResourceARN"])
        merged = {**(target["spec"].get("Tags") or {}), **params["Tags"]}
        if len(merged) > MAX_TAGS:
            raise TooManyTagsException(f"A scalable target can have at most {MAX_TAGS} tags")
        target["spec"]["Tags"] = merged
        _put(call, target)
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Result:
    with call.store.transaction():
        target = _target(call, params["ResourceARN"])
        tags = dict(target["spec"].get("Tags") or {})
        for key in params["TagKeys"]:
            tags.pop(key, None)
        target["spec"]["Tags"] = tags
        _put(call, target)
    return {}
