"""Tags of load balancers, target groups, listeners and rules: AddTags, RemoveTags, DescribeTags.

Invariants:
- Every record keeps its tags, as the API shows them, in ``spec.Tags``:
  ``[{"Key": ..., "Value": ...}]`` in the order keys were first added; at most 50, keys unique.
- Keys beginning ``aws:`` are AWS's: users cannot add or remove them.
- DescribeTags shows exactly the user's tags: nothing of the emulator's own bookkeeping (a
  listener's bound port is told by ``GET /_ecsemu/listeners``, never as a tag).
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.services.elbv2.base import (
    Call,
    Params,
    Result,
    kind_of_arn,
    operation,
    require,
    spec_of,
)
from ecsemu.services.elbv2.errors import DuplicateTagKeys, TooManyTags, ValidationError
from ecsemu.state.store import Record

Tags = list[dict[str, str]]

MAX_TAGS: Final = 50
_RESERVED_PREFIXES: Final = ("aws:",)


def _check_key(key: str) -> None:
    for prefix in _RESERVED_PREFIXES:
        if key.lower().startswith(prefix):
            raise ValidationError(f"Tag keys starting with '{prefix}' are reserved and cannot be used: '{key}'")


def validate_tags(tags: list[dict[str, Any]] | None) -> Tags:
    """Tags as given to a Create or AddTags call, checked, in AWS's form."""
    seen: set[str] = set()
    out: Tags = []
    for tag in tags or []:
        key = tag["Key"]
        _check_key(key)
        if key in seen:
            raise DuplicateTagKeys(f"Tag key '{key}' was specified more than once")
        seen.add(key)
        out.append({"Key": key, "Value": tag.get("Value") or ""})
    if len(out) > MAX_TAGS:
        raise TooManyTags("You've reached the limit on the number of tags for this resource.")
    return out


def merged(existing: Tags, added: Tags) -> Tags:
    """``existing`` with ``added`` put over it (a key keeps its place); at most 50."""
    by_key = {tag["Key"]: tag["Value"] for tag in existing}
    for tag in added:
        by_key[tag["Key"]] = tag["Value"]
    if len(by_key) > MAX_TAGS:
        raise TooManyTags("You've reached the limit on the number of tags for this resource.")
    return [{"Key": key, "Value": value} for key, value in by_key.items()]




def _resources(call: Call, arns: list[str]) -> list[tuple[str, str, Record]]:
    found = []
    for arn in arns:
        kind = kind_of_arn(arn)
        if kind is None:
            raise ValidationError(f"'{arn}' is not a valid load balancer, target group, listener or rule ARN")
        found.append((arn, kind, require(call, kind, arn)))
    return found


@operation("AddTags")
def add_tags(call: Call, params: Params) -> Result:
    added = validate_tags(params["Tags"])
    with call.store.transaction():
        for arn, kind, record in _resources(call, params["ResourceArns"]):
            spec = spec_of(record)
            spec["Tags"] = merged(spec.get("Tags", []), added)
            call.put(kind, arn, record)
    return {}


@operation("RemoveTags")
def remove_tags(call: Call, params: Params) -> Result:
    keys = set(params["TagKeys"])
    for key in keys:
        _check_key(key)
    with call.store.transaction():
        for arn, kind, record in _resources(call, params["ResourceArns"]):
            spec = spec_of(record)
            spec["Tags"] = [tag for tag in spec.get("Tags", []) if tag["Key"] not in keys]
            call.put(kind, arn, record)
    return {}


@operation("DescribeTags")
def describe_tags(call: Call, params: Params) -> Result:
    descriptions = [
        {"ResourceArn": arn, "Tags": list(spec_of(record).get("Tags", []))}
        for arn, _kind, record in _resources(call, params["ResourceArns"])
    ]
    return {"TagDescriptions": descriptions}
