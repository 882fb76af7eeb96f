"""What every Secrets Manager operation shares: the call, the operation registry, lookups,
values, versions and staging labels.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered under its API name with
    ``@operation("CreateSecret")``; params and results are keyed by the API's own member names.
secret id
    What a caller names a secret with: its name, its ARN, or its ARN without the random suffix
    (:func:`ecsemu.model.secrets_manager.find_secret`).
value
    ``{"SecretString": str}`` or ``{"SecretBinary": <base64>}``: exactly one of the two.

The record layout is :mod:`ecsemu.model.secrets_manager`'s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ecsemu.context import RequestContext, Scope
from ecsemu.model import secrets_manager as model
from ecsemu.services import common
from ecsemu.services.secretsmanager.errors import (
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from ecsemu.state.store import Record, Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]

OPERATIONS: dict[str, Operation] = {}

MAX_TAGS: Final = 50
BOTH_VALUES: Final = "You can't specify both a binary secret value and a string secret value in the same secret."
CHANGED_VERSION: Final = "You can't modify an existing version, you can only create a new version."


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

    def record(self, name: str) -> Record | None:
        return self.store.get(self.scope, model.KIND, name)

    def put(self, name: str, record: Record) -> None:
        self.store.put(self.scope, model.KIND, name, record)


def find(call: Call, secret_id: str) -> model.Secret | None:
    """The secret ``secret_id`` names; a record past its recovery window is deleted on the way."""
    secret = model.find_secret(call.store, call.scope, secret_id, call.now)
    if secret is None:
        stale = call.record(secret_id)
        if stale is not None and model.Secret.from_record(stale).is_gone(call.now):
            call.store.delete(call.scope, model.KIND, secret_id)
    return secret


def require(call: Call, secret_id: str, *, deleted_ok: bool = False) -> model.Secret:
    """The secret ``secret_id`` names; refused when absent, or scheduled for deletion unless
    ``deleted_ok`` (DescribeSecret, RestoreSecret, DeleteSecret)."""
    secret = find(call, secret_id)
    if secret is None:
        raise ResourceNotFoundException(model.NOT_FOUND)
    if secret.is_scheduled_for_deletion and not deleted_ok:
        raise InvalidRequestException(model.MARKED_FOR_DELETION)
    return secret


def spec_of(call: Call, secret: model.Secret) -> dict[str, Any]:
    record = call.record(secret.name)
    assert record is not None, secret.name
    spec: dict[str, Any] = record["spec"]
    return spec


def value_of(params: Params) -> dict[str, str] | None:
    """The value a request carries (None when it carries none); both at once is refused."""
    text, binary = params.get("SecretString"), params.get("SecretBinary")
    if text is not None and binary is not None:
        raise InvalidParameterException(BOTH_VALUES)
    if text is not None:
        return {"SecretString": str(text)}
    if binary is not None:
        return {"SecretBinary": str(binary)}
    return None


def version_id(params: Params) -> str:
    token = params.get("ClientRequestToken")
    return str(token) if token else str(uuid.uuid4())


def same_version(entry: dict[str, Any], value: dict[str, str]) -> bool:
    return all(entry.get(member) == value.get(member) for member in ("SecretString", "SecretBinary"))


def add_version(spec: dict[str, Any], vid: str, value: dict[str, str], stages: list[str], now: float) -> None:
    """Add version ``vid`` with ``stages`` to ``spec``: each label leaves the version that had
    it; the version that loses ``AWSCURRENT`` takes ``AWSPREVIOUS``; beyond ``MAX_VERSIONS``
    the oldest versions without labels go."""
    versions: dict[str, Any] = spec.setdefault("Versions", {})
    previous = next((key for key, entry in versions.items() if model.AWSCURRENT in entry["VersionStages"]), None)
    for entry in versions.values():
        entry["VersionStages"] = [stage for stage in entry["VersionStages"] if stage not in stages]
    if model.AWSCURRENT in stages and previous is not None and previous != vid:
        for entry in versions.values():
            entry["VersionStages"] = [stage for stage in entry["VersionStages"] if stage != model.AWSPREVIOUS]
        versions[previous]["VersionStages"].append(model.AWSPREVIOUS)
    versions[vid] = {**value, "CreatedDate": now, "VersionStages": list(dict.fromkeys(stages))}
    deprecated = [key for key, entry in versions.items() if not entry["VersionStages"]]
    while len(versions) > model.MAX_VERSIONS and deprecated:
        del versions[deprecated.pop(0)]
    spec["LastChangedDate"] = now


def put_value(call: Call, secret: model.Secret, params: Params, value: dict[str, str], stages: list[str]) -> Result:
    """Store ``value`` as a new version of ``secret`` (idempotent on ``ClientRequestToken``)."""
    vid = version_id(params)
    spec = spec_of(call, secret)
    existing = spec.get("Versions", {}).get(vid)
    if existing is not None:
        if not same_version(existing, value):
            raise ResourceExistsException(CHANGED_VERSION)
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": vid,
            "VersionStages": list(existing["VersionStages"]),
        }
    add_version(spec, vid, value, stages, call.now)
    call.put(secret.name, {"spec": spec, "status": {}})
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": vid, "VersionStages": list(dict.fromkeys(stages))}


def check_tags(tags: list[dict[str, str]], existing: list[dict[str, str]]) -> list[dict[str, str]]:
    """``existing`` with ``tags`` laid over it; refused beyond ``MAX_TAGS``."""
    merged = {tag["Key"]: tag["Value"] for tag in existing}
    for tag in tags:
        merged[str(tag["Key"])] = str(tag.get("Value", ""))
    if len(merged) > MAX_TAGS:
        raise LimitExceededException(
            f"The request failed because it would exceed the maximum of {MAX_TAGS} tags on a secret."
        )
    return [{"Key": key, "Value": value} for key, value in merged.items()]


def described(secret: model.Secret) -> Result:
    """What DescribeSecret and ListSecrets share of a secret."""
    shown: Result = {
        "ARN": secret.arn,
        "Name": secret.name,
        "RotationEnabled": False,
        "LastChangedDate": secret.last_changed_date,
        "CreatedDate": secret.created_date,
    }
    for member, value in (
        ("Description", secret.description),
        ("KmsKeyId", secret.kms_key_id),
        ("LastAccessedDate", secret.last_accessed_date),
        ("DeletedDate", secret.deleted_date),
    ):
        if value is not None:
            shown[member] = value
    if secret.tags:
        shown["Tags"] = [{"Key": key, "Value": value} for key, value in secret.tags]
    return shown
