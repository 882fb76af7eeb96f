"""Secrets Manager secrets: kind ``secretsmanager.secret``, id the secret's name.

Stored as JSON (keys are Secrets Manager's own member names)::

    {"spec": {                                   # written by the Secrets Manager API only
        "ARN": str, "Name": str, "Description"?: str, "KmsKeyId"?: str,
        "Tags": [{"Key": str, "Value": str}],
        "CreatedDate": float, "LastChangedDate": float, "LastAccessedDate"?: float,
        "DeletedDate"?: float,                   # when DeleteSecret scheduled the deletion
        "DeletionDate"?: float,                  # when the secret is gone for good
        "ResourcePolicy"?: str,                  # the policy document as PutResourcePolicy got it
        "Versions": {<VersionId>: {              # oldest first
            "SecretString"?: str, "SecretBinary"?: str (base64),
            "CreatedDate": float, "VersionStages": [str]}}},
     "status": {}}

Vocabulary
----------
ARN
    ``arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters>``. A secret
    is named by its name, its full ARN, or a partial ARN (the ARN without the ``-xxxxxx``
    suffix), as AWS accepts them.
staging label
    ``AWSCURRENT`` (the version a read gets by default), ``AWSPREVIOUS`` (the one before it),
    ``AWSPENDING`` or the caller's own. A label is on at most one version; a version without
    labels is *deprecated* and AWS drops the oldest of those beyond ``MAX_VERSIONS``.
scheduled for deletion
    ``DeletedDate`` is set: every operation but Describe/List/Restore/Delete is refused until
    ``DeletionDate``, after which the secret no longer exists (readers treat it as absent; the
    API deletes the record when it meets it).

Readers use :class:`Secret` (``Secret.from_record``); ECS resolves a container's
``secrets[].valueFrom`` through :func:`resolve_secret`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.secret_refs import SecretNotFound
from ecsemu.state.store import Store

__all__ = [
    "AWSCURRENT",
    "AWSPREVIOUS",
    "KIND",
    "Secret",
    "SecretNotFound",
    "SecretVersion",
    "find_secret",
    "parse_arn",
    "resolve_secret",
    "secret_arn",
]

KIND: Final = "secretsmanager.secret"
SERVICE: Final = "secretsmanager"
AWSCURRENT: Final = "AWSCURRENT"
AWSPREVIOUS: Final = "AWSPREVIOUS"
AWSPENDING: Final = "AWSPENDING"
MAX_VERSIONS: Final = 100
SUFFIX_LENGTH: Final = 6

NOT_FOUND: Final = "Secrets Manager can't find the specified secret."
MARKED_FOR_DELETION: Final = "You can't perform this operation on the secret because it was marked for deletion."

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SecretVersion:
    version_id: str
    created_date: float
    stages: tuple[str, ...]
    secret_string: str | None = None
    secret_binary: str | None = None  # base64, as the wire carries it

    @classmethod
    def from_record(cls, version_id: str, entry: Mapping[str, Any]) -> SecretVersion:
        return cls(
            version_id=version_id,
            created_date=float(entry["CreatedDate"]),
            stages=tuple(entry.get("VersionStages", ())),
            secret_string=entry.get("SecretString"),
            secret_binary=entry.get("SecretBinary"),
        )

    def text(self) -> str:
        """The value as text: the string, or the binary decoded as UTF-8."""
        if self.secret_string is not None:
            return self.secret_string
        try:
            return base64.b64decode(self.secret_binary or "").decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""


@dataclass(frozen=True, slots=True)
class Secret:
    arn: str
    name: str
    created_date: float
    last_changed_date: float
    versions: tuple[SecretVersion, ...]
    description: str | None = None
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    last_accessed_date: float | None = None
    deleted_date: float | None = None
    deletion_date: float | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Secret:
        spec = record["spec"]
        return cls(
            arn=str(spec["ARN"]),
            name=str(spec["Name"]),
            created_date=float(spec["CreatedDate"]),
            last_changed_date=float(spec.get("LastChangedDate", spec["CreatedDate"])),
            versions=tuple(SecretVersion.from_record(vid, entry) for vid, entry in spec.get("Versions", {}).items()),
            description=spec.get("Description"),
            kms_key_id=spec.get("KmsKeyId"),
            tags=tuple((str(tag["Key"]), str(tag["Value"])) for tag in spec.get("Tags", ())),
            last_accessed_date=spec.get("LastAccessedDate"),
            deleted_date=spec.get("DeletedDate"),
            deletion_date=spec.get("DeletionDate"),
        )

    @property
    def is_scheduled_for_deletion(self) -> bool:
        return self.deleted_date is not None

    def is_gone(self, now: float) -> bool:
        """Its recovery window has ended: the secret no longer exists."""
        return self.deletion_date is not None and self.deletion_date <= now

    def version(self, version_id: str | None = None, stage: str | None = None) -> SecretVersion | None:
        """The version with that id and/or staging label (``AWSCURRENT`` when neither is given)."""
        if version_id is None and stage is None:
            stage = AWSCURRENT
        for entry in self.versions:
            if version_id is not None and entry.version_id != version_id:
                continue
            if stage is not None and stage not in entry.stages:
                continue
            return entry
        return None

    def versions_to_stages(self) -> dict[str, list[str]]:
        """Every version that carries a staging label, with its labels (DescribeSecret's map)."""
        return {entry.version_id: list(entry.stages) for entry in self.versions if entry.stages}


def secret_arn(scope: Scope, name: str, suffix: str) -> str:
    return f"arn:aws:{SERVICE}:{scope.region}:{scope.account_id}:secret:{name}-{suffix}"


def parse_arn(text: str) -> tuple[Scope, str] | None:
    """``(scope, resource after "secret:")`` of a secret ARN (full or partial); None otherwise."""
    parts = text.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != SERVICE or parts[5] != "secret":
        return None
    if not parts[3] or not parts[4] or not parts[6]:
        return None
    return Scope(parts[4], parts[3]), parts[6]


def _live(record: Record | None, now: float) -> Secret | None:
    if record is None:
        return None
    secret = Secret.from_record(record)
    return None if secret.is_gone(now) else secret


def find_secret(store: Store, scope: Scope, secret_id: str, now: float | None = None) -> Secret | None:
    """The secret ``secret_id`` names in ``scope`` (a name, a full ARN or a partial ARN), as AWS
    finds it; an ARN names its own account and region, and nothing when those are not
    ``scope``'s. Secrets past their recovery window are absent."""
    moment = time.time() if now is None else now
    if not secret_id.startswith("arn:"):
        return _live(store.get(scope, KIND, secret_id), moment)
    parsed = parse_arn(secret_id)
    if parsed is None or parsed[0] != scope:
        return None
    resource = parsed[1]
    if len(resource) > SUFFIX_LENGTH + 1 and resource[-SUFFIX_LENGTH - 1] == "-":
        full = _live(store.get(scope, KIND, resource[: -SUFFIX_LENGTH - 1]), moment)
        if full is not None and full.arn == secret_id:
            return full
    return _live(store.get(scope, KIND, resource), moment)


def _json_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def resolve_secret(store: Store, scope: Scope, value_from: str) -> str:
    """The value ECS puts in a container's environment for ``secrets[].valueFrom``: a secret's
    ARN (full or partial) or name, optionally followed by ``:<json-key>:<version-stage>:<version-id>``
    (each may be empty). With a JSON key, the SecretString must be a JSON object and the key's
    value is returned. An ARN is looked up in its own account and region. Raises
    :class:`SecretNotFound` when nothing resolves."""
    reference = value_from.strip()
    where = scope
    if reference.startswith("arn:"):
        parts = reference.split(":")
        if len(parts) < 7 or parse_arn(":".join(parts[:7])) is None:
            raise SecretNotFound(f"ResourceNotFoundException: {NOT_FOUND}")
        secret_id, suffixes = ":".join(parts[:7]), parts[7:]
        where = Scope(parts[4], parts[3])
    else:
        secret_id, *suffixes = reference.split(":")
    if len(suffixes) > 3:
        raise SecretNotFound(f"InvalidParameterException: invalid secret reference {value_from}")
    json_key, stage, version_id = ([*suffixes, "", "", ""])[:3]
    secret = find_secret(store, where, secret_id)
    if secret is None:
        raise SecretNotFound(f"ResourceNotFoundException: {NOT_FOUND}")
    if secret.is_scheduled_for_deletion:
        raise SecretNotFound(f"InvalidRequestException: {MARKED_FOR_DELETION}")
    version = secret.version(version_id or None, stage or None)
    if version is None:
        label = f"VersionId: {version_id}" if version_id else f"staging label: {stage or AWSCURRENT}"
        raise SecretNotFound(
            f"ResourceNotFoundException: Secrets Manager can't find the specified secret value for {label}"
        )
    if not json_key:
        return version.text()
    try:
        document = json.loads(version.text())
    except ValueError as error:
        raise SecretNotFound(f"unable to unmarshal secret value of secret {secret.arn} as JSON") from error
    if not isinstance(document, dict) or json_key not in document:
        raise SecretNotFound(f"retrieved secret from Secrets Manager did not contain json key {json_key}")
    return _json_value(document[json_key])
