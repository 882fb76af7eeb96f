"""Tags of log groups: the older name-based TagLogGroup / UntagLogGroup / ListTagsLogGroup and the
ARN-based TagResource / UntagResource / ListTagsForResource (a log group's ARN, with or without
the trailing ``:*``). A group holds at most 50 tags; a request that would pass that changes
nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final

from ecsemu.model import logs as model
from ecsemu.model.logs import LogGroup
from ecsemu.services.logs.base import Call, Params, Result, operation
from ecsemu.services.logs.errors import ResourceNotFoundException, TooManyTagsException

MAX_TAGS: Final = 50


def _group_of_arn(call: Call, arn: str) -> LogGroup:
    name = model.group_of_arn(call.scope, arn)
    if name is None:
        raise ResourceNotFoundException("The specified resource does not exist.")
    return call.group(name)


def _tag(call: Call, group: LogGroup, tags: Mapping[str, str]) -> None:
    merged = {**group.tags, **tags}
    if len(merged) > MAX_TAGS:
        raise TooManyTagsException(f"A resource can have no more than {MAX_TAGS} tags.")
    call.logs.put_group(call.scope, replace(group, tags=merged))


def _untag(call: Call, group: LogGroup, keys: Iterable[str]) -> None:
    removed = set(keys)
    call.logs.put_group(call.scope, replace(group, tags={k: v for k, v in group.tags.items() if k not in removed}))


@operation("TagLogGroup")
def tag_log_group(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        _tag(call, call.group(str(params["logGroupName"])), params["tags"])
    return {}


@operation("UntagLogGroup")
def untag_log_group(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        _untag(call, call.group(str(params["logGroupName"])), params["tags"])
    return {}


@operation("ListTagsLogGroup")
def list_tags_log_group(call: Call, params: Params) -> Result:
    return {"tags": call.group(str(params["logGroupName"])).tags}


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        _tag(call, _group_of_arn(call, str(params["resourceArn"])), params["tags"])
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        _untag(call, _group_of_arn(call, str(params["resourceArn"])), params["tagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Result:
    return {"tags": _group_of_arn(call, str(params["resourceArn"])).tags}
