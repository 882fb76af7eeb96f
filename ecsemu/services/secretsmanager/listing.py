"""DescribeSecret and ListSecrets: the reads that describe (never a value).

ListSecrets' filters (``{"Key", "Values"}``) match by prefix: ``name``, ``description``,
``tag-key``, ``tag-value``, ``primary-region``, ``owning-service`` or ``all`` (name,
description, tag keys and values); a value starting with ``!`` excludes what it matches.
Values of one filter are alternatives; filters all apply. Secrets scheduled for deletion are
listed only with ``IncludePlannedDeletion``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ecsemu.model import secrets_manager as model
from ecsemu.services import common
from ecsemu.services.secretsmanager.base import Call, Params, Result, described, operation, require
from ecsemu.services.secretsmanager.errors import InvalidNextTokenException

SORT_KEYS: Final[dict[str, Callable[[model.Secret], Any]]] = {
    "created-date": lambda secret: secret.created_date,
    "last-accessed-date": lambda secret: secret.last_accessed_date or 0.0,
    "last-changed-date": lambda secret: secret.last_changed_date,
    "name": lambda secret: secret.name,
}


@operation("DescribeSecret")
def describe_secret(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]), deleted_ok=True)
    return {**described(secret), "VersionIdsToStages": secret.versions_to_stages()}


def _fields(secret: model.Secret, key: str) -> list[str]:
    if key == "name":
        return [secret.name]
    if key == "description":
        return [secret.description or ""]
    if key == "tag-key":
        return [tag_key for tag_key, _ in secret.tags]
    if key == "tag-value":
        return [tag_value for _, tag_value in secret.tags]
    if key == "all":
        return [secret.name, secret.description or "", *(part for tag in secret.tags for part in tag)]
    return []  # primary-region, owning-service: ecsemu's secrets have neither


def _matches(secret: model.Secret, spec: dict[str, Any]) -> bool:
    fields = _fields(secret, str(spec["Key"]))
    values = [str(value) for value in spec.get("Values") or []]
    wanted = [value for value in values if not value.startswith("!")]
    unwanted = [value[1:] for value in values if value.startswith("!")]
    if any(field.startswith(value) for field in fields for value in unwanted):
        return False
    return not wanted or any(field.startswith(value) for field in fields for value in wanted)


@operation("ListSecrets")
def list_secrets(call: Call, params: Params) -> Result:
    include_deleted = bool(params.get("IncludePlannedDeletion"))
    filters = params.get("Filters") or []
    chosen = []
    for record in call.store.list(call.scope, model.KIND):
        secret = model.Secret.from_record(record)
        if secret.is_gone(call.now) or (secret.is_scheduled_for_deletion and not include_deleted):
            continue
        if all(_matches(secret, spec) for spec in filters):
            chosen.append(secret)
    order = SORT_KEYS[str(params.get("SortBy") or "created-date")]
    chosen.sort(key=order, reverse=params.get("SortOrder") == "desc")
    shown, token = common.page(
        chosen,
        params.get("NextToken"),
        int(params.get("MaxResults") or 100),
        lambda: InvalidNextTokenException("The NextToken value is invalid."),
    )
    result: Result = {
        "SecretList": [{**described(secret), "SecretVersionsToStages": secret.versions_to_stages()} for secret in shown]
    }
    if token:
        result["NextToken"] = token
    return result
