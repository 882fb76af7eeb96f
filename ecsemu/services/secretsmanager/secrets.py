"""CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, DeleteSecret, RestoreSecret and
GetRandomPassword.

Invariants:
- A refused request changes nothing: every check runs before the one write.
- ``ClientRequestToken`` is the new version's id: the same token with the same value answers
  the version already made; with another value it is refused (``ResourceExistsException``).
- A secret scheduled for deletion answers ``InvalidRequestException`` to every operation but
  DescribeSecret, ListSecrets, RestoreSecret and DeleteSecret with ``ForceDeleteWithoutRecovery``.
- Deleting without recovery frees the name at once; with a recovery window (7 to 30 days,
  30 by default) the secret exists, refused, until its ``DeletionDate``.
"""

from __future__ import annotations

import re
import secrets as random
import string
from typing import Any, Final

from ecsemu.errors import NotSupportedError
from ecsemu.model import secrets_manager as model
from ecsemu.services.secretsmanager.base import (
    Call,
    Params,
    Result,
    add_version,
    check_tags,
    find,
    operation,
    put_value,
    require,
    same_version,
    spec_of,
    value_of,
    version_id,
)
from ecsemu.services.secretsmanager.errors import (
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    ResourceExistsException,
    ResourceNotFoundException,
)

MAX_SECRETS: Final = 500_000
DEFAULT_RECOVERY_DAYS: Final = 30
DAY_S: Final = 86_400
_NAME: Final = re.compile(r"^[A-Za-z0-9/_+=.@\-]+$")
PUNCTUATION: Final = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@operation("CreateSecret")
def create_secret(call: Call, params: Params) -> Result:
    name = str(params["Name"])
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
        )
    if params.get("AddReplicaRegions"):
        raise NotSupportedError("Replicating secrets to other Regions (CreateSecret's AddReplicaRegions)")
    value = value_of(params)
    existing = find(call, name)
    if existing is not None:
        if existing.is_scheduled_for_deletion:
            raise InvalidRequestException(
                "You can't create this secret because a secret with this name is already scheduled for deletion."
            )
        repeated = (
            existing.version(params.get("ClientRequestToken"), None) if params.get("ClientRequestToken") else None
        )
        if repeated is not None and value is not None:
            entry = spec_of(call, existing)["Versions"][repeated.version_id]
            if same_version(entry, value):
                return {"ARN": existing.arn, "Name": existing.name, "VersionId": repeated.version_id}
        raise ResourceExistsException(f"The operation failed because the secret {name} already exists.")
    tags = check_tags(params.get("Tags") or [], [])
    if call.store.count(call.scope, model.KIND) >= MAX_SECRETS:
        raise LimitExceededException(f"You have reached the maximum number of secrets ({MAX_SECRETS}) in this Region.")
    suffix = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(model.SUFFIX_LENGTH))
    arn = model.secret_arn(call.scope, name, suffix)
    spec: dict[str, Any] = {
        "ARN": arn,
        "Name": name,
        "Tags": tags,
        "CreatedDate": call.now,
        "LastChangedDate": call.now,
        "Versions": {},
    }
    for member in ("Description", "KmsKeyId"):
        if params.get(member) is not None:
            spec[member] = params[member]
    result: Result = {"ARN": arn, "Name": name}
    if value is not None:
        vid = version_id(params)
        add_version(spec, vid, value, [model.AWSCURRENT], call.now)
        result["VersionId"] = vid
    call.put(name, {"spec": spec, "status": {}})
    return result


@operation("GetSecretValue")
def get_secret_value(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]))
    wanted_id, wanted_stage = params.get("VersionId"), params.get("VersionStage")
    version = secret.version(wanted_id, wanted_stage)
    if version is None:
        label = f"VersionId: {wanted_id}" if wanted_id else f"staging label: {wanted_stage or model.AWSCURRENT}"
        raise ResourceNotFoundException(f"Secrets Manager can't find the specified secret value for {label}")
    today = call.now - call.now % DAY_S
    if secret.last_accessed_date != today:  # AWS keeps the date only, so a read writes once a day
        call.store.update(
            call.scope, model.KIND, secret.name, lambda record: record["spec"].update(LastAccessedDate=today)
        )
    shown: Result = {
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": version.version_id,
        "VersionStages": list(version.stages),
        "CreatedDate": version.created_date,
    }
    if version.secret_string is not None:
        shown["SecretString"] = version.secret_string
    else:
        shown["SecretBinary"] = version.secret_binary
    return shown


@operation("PutSecretValue")
def put_secret_value(call: Call, params: Params) -> Result:
    if params.get("RotationToken"):
        raise NotSupportedError("Rotation (PutSecretValue's RotationToken)")
    secret = require(call, str(params["SecretId"]))
    value = value_of(params)
    if value is None:
        raise InvalidRequestException("You must provide either SecretString or SecretBinary.")
    stages = [str(stage) for stage in params.get("VersionStages") or [model.AWSCURRENT]]
    return put_value(call, secret, params, value, stages)


@operation("UpdateSecret")
def update_secret(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]))
    value = value_of(params)
    result: Result = {"ARN": secret.arn, "Name": secret.name}
    if value is not None:
        written = put_value(call, secret, params, value, [model.AWSCURRENT])
        result["VersionId"] = written["VersionId"]
    changed = {member: params[member] for member in ("Description", "KmsKeyId") if params.get(member) is not None}
    if changed:

        def describe(record: dict[str, Any]) -> None:
            record["spec"].update(changed, LastChangedDate=call.now)

        call.store.update(call.scope, model.KIND, secret.name, describe)
    return result


@operation("DeleteSecret")
def delete_secret(call: Call, params: Params) -> Result:
    force = bool(params.get("ForceDeleteWithoutRecovery"))
    window = params.get("RecoveryWindowInDays")
    if force and window is not None:
        raise InvalidParameterException(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
        )
    days = DEFAULT_RECOVERY_DAYS if window is None else int(window)
    if not force and not 7 <= days <= 30:
        raise InvalidParameterException("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
    secret = require(call, str(params["SecretId"]), deleted_ok=True)
    if force:
        call.store.delete(call.scope, model.KIND, secret.name)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": call.now}
    if secret.is_scheduled_for_deletion:
        raise InvalidRequestException(model.MARKED_FOR_DELETION)
    deletion = call.now + days * DAY_S

    def schedule(record: dict[str, Any]) -> None:
        record["spec"].update(DeletedDate=call.now, DeletionDate=deletion)

    call.store.update(call.scope, model.KIND, secret.name, schedule)
    return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion}


@operation("RestoreSecret")
def restore_secret(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]), deleted_ok=True)

    def restore(record: dict[str, Any]) -> None:
        record["spec"].pop("DeletedDate", None)
        record["spec"].pop("DeletionDate", None)

    if secret.is_scheduled_for_deletion:
        call.store.update(call.scope, model.KIND, secret.name, restore)
    return {"ARN": secret.arn, "Name": secret.name}


@operation("GetRandomPassword")
def get_random_password(call: Call, params: Params) -> Result:
    length = int(params.get("PasswordLength") or 32)
    if not 1 <= length <= 4096:
        raise InvalidParameterException("The PasswordLength value must be between 1 and 4096.")
    excluded = set(str(params.get("ExcludeCharacters") or ""))
    groups = [
        ("ExcludeLowercase", string.ascii_lowercase),
        ("ExcludeUppercase", string.ascii_uppercase),
        ("ExcludeNumbers", string.digits),
        ("ExcludePunctuation", PUNCTUATION),
    ]
    pools = [[c for c in chars if c not in excluded] for flag, chars in groups if not params.get(flag)]
    if params.get("IncludeSpace") and " " not in excluded:
        pools.append([" "])
    pools = [pool for pool in pools if pool]
    if not pools:
        raise InvalidParameterException("The password can't be generated: every character type is excluded.")
    everything = [c for pool in pools for c in pool]
    required = params.get("RequireEachIncludedType", True)
    if required and length < len(pools):
        raise InvalidParameterException("The PasswordLength is too short to include every required character type.")
    chosen = [random.choice(pool) for pool in pools] if required else []
    chosen += [random.choice(everything) for _ in range(length - len(chosen))]
    random.SystemRandom().shuffle(chosen)
    return {"RandomPassword": "".join(chosen)}
