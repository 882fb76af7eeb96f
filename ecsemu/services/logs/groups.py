"""Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy,
DeleteRetentionPolicy, PutLogGroupDeletionProtection (a protected group refuses DeleteLogGroup
with AWS's ``ValidationException``).

DescribeLogGroups answers groups in name order; its ``nextToken`` names the last group answered,
so groups created or deleted between pages neither repeat nor hide the others.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from ecsemu.model import logs as model
from ecsemu.model.log_metric_filters import filters_of
from ecsemu.model.logs import LogGroup
from ecsemu.services.logs.base import (
    Call,
    Params,
    Result,
    after_token,
    group_name_of,
    operation,
    read_after_token,
    require_group,
)
from ecsemu.services.logs.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ValidationException,
)

MAX_GROUPS: Final = 1_000_000  # per account and Region (CreateLogGroup's documented quota)
DEFAULT_LIMIT: Final = 50
RESERVED_PREFIX: Final = "aws/"


def describe(call: Call, group: LogGroup, *, brief: bool = False) -> dict[str, Any]:
    """The ``LogGroup`` shape; ``brief`` (logGroupNamePattern) keeps arn, creationTime, name."""
    arn = model.group_arn(call.scope, group.name)
    if brief:
        return {"logGroupName": group.name, "creationTime": group.creation_time, "arn": f"{arn}:*"}
    answer: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.creation_time,
        "metricFilterCount": len(filters_of(call.logs.store, call.scope, group.name)),
        "arn": f"{arn}:*",
        "storedBytes": call.logs.stored_bytes(call.scope, group.name),
        "logGroupClass": group.log_group_class,
        "logGroupArn": arn,
    }
    if group.retention_in_days is not None:
        answer["retentionInDays"] = group.retention_in_days
    if group.kms_key_id is not None:
        answer["kmsKeyId"] = group.kms_key_id
    if group.deletion_protection is not None:
        answer["deletionProtectionEnabled"] = group.deletion_protection
    return answer


@operation("CreateLogGroup")
def create_log_group(call: Call, params: Params) -> Result:
    name = str(params["logGroupName"])
    if name.startswith(RESERVED_PREFIX):
        raise InvalidParameterException("Log group names can't start with the string aws/")
    with call.logs.store.transaction():
        if call.logs.group_exists(call.scope, name):
            raise ResourceAlreadyExistsException("The specified log group already exists")
        if call.logs.store.count(call.scope, model.GROUP) >= MAX_GROUPS:
            raise LimitExceededException("Resource limit exceeded.")
        group = LogGroup(
            name=name,
            creation_time=call.now_ms,
            log_group_class=params.get("logGroupClass") or "STANDARD",
            kms_key_id=params.get("kmsKeyId"),
            deletion_protection=params.get("deletionProtectionEnabled"),
            tags=dict(params.get("tags") or {}),
        )
        call.logs.put_group(call.scope, group)
    return {}


@operation("DeleteLogGroup")
def delete_log_group(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        if group.deletion_protection:
            raise ValidationException(
                "Cannot delete log group with deletion protection enabled. Disable deletion protection first."
            )
        call.logs.delete_group(call.scope, group.name)
    return {}


@operation("DescribeLogGroups")
def describe_log_groups(call: Call, params: Params) -> Result:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise InvalidParameterException(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )
    after = read_after_token(params.get("nextToken"))
    limit = int(params.get("limit") or DEFAULT_LIMIT)
    wanted_class = params.get("logGroupClass")
    identifiers = params.get("logGroupIdentifiers")
    named = None
    if identifiers is not None:
        named = {group_name_of(call, {"logGroupIdentifier": text}) for text in identifiers}
    chosen: list[LogGroup] = []
    more = False
    for group in call.logs.groups(call.scope):
        if after is not None and group.name <= after:
            continue
        if prefix is not None and not group.name.startswith(prefix):
            continue
        if pattern and pattern not in group.name:
            continue
        if wanted_class is not None and group.log_group_class != wanted_class:
            continue
        if named is not None and group.name not in named:
            continue
        if len(chosen) == limit:
            more = True
            break
        chosen.append(group)
    result: Result = {"logGroups": [describe(call, group, brief=pattern is not None) for group in chosen]}
    if more:
        result["nextToken"] = after_token(chosen[-1].name)
    return result


def check_retention(days: object) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or days not in model.RETENTION_DAYS:
        allowed = ", ".join(str(value) for value in model.RETENTION_DAYS)
        raise InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]"
        )
    return days


@operation("PutRetentionPolicy")
def put_retention_policy(call: Call, params: Params) -> Result:
    days = check_retention(params.get("retentionInDays"))
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        call.logs.put_group(call.scope, replace(group, retention_in_days=days))
        call.logs.expire(call.scope, group.name, call.now_ms)
    return {}


@operation("DeleteRetentionPolicy")
def delete_retention_policy(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        call.logs.put_group(call.scope, replace(group, retention_in_days=None))
    return {}


@operation("PutLogGroupDeletionProtection")
def put_log_group_deletion_protection(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        group = require_group(call, {"logGroupIdentifier": params["logGroupIdentifier"]})
        call.logs.put_group(call.scope, replace(group, deletion_protection=bool(params["deletionProtectionEnabled"])))
    return {}
