"""PutParameter, GetParameter(s), DeleteParameter(s) and version labels.

Invariants:
- A refused request changes nothing: every check runs before the one ``put``.
- A parameter keeps at most ``MAX_VERSIONS`` versions; the write past it drops the oldest, or
  is refused (``ParameterMaxVersionLimitExceeded``) when the oldest carries a label.
- A SecureString version stores its plain value and, beside it, a random ciphertext made when
  it was written: reads without decryption answer the ciphertext, never the value.
- A label is on at most one version of a parameter; labelling another version moves it.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any, Final

import regex  # type: ignore[import-untyped]  # no stubs; its match timeout bounds a caller's AllowedPattern

from ecsemu.errors import NotSupportedError
from ecsemu.model import ssm_parameters as model
from ecsemu.services.ssm.base import (
    Call,
    Params,
    Result,
    check_name,
    check_tags,
    not_found,
    operation,
    render_parameter,
    require,
    stored_name,
)
from ecsemu.services.ssm.errors import (
    InvalidAllowedPatternException,
    ParameterAlreadyExists,
    ParameterLimitExceeded,
    ParameterMaxVersionLimitExceeded,
    ParameterNotFound,
    ParameterPatternMismatchException,
    ParameterVersionLabelLimitExceeded,
    ParameterVersionNotFound,
    ValidationException,
)

DATA_TYPES: Final = ("text", "aws:ec2:image", "aws:ssm:integration")
STANDARD_PARAMETER_LIMIT: Final = 10_000
ADVANCED_PARAMETER_LIMIT: Final = 100_000
MAX_LABELS_PER_VERSION: Final = 10
PATTERN_TIMEOUT_S: Final = 0.1  # the check runs inside the store's transaction: keep it short
_LABEL: Final = re.compile(r"^[a-zA-Z0-9_.\-]{1,100}$")
# What KMS ciphertext blobs begin with (a version byte, then the key's header), so a SecureString
# read without decryption looks like AWS's answer.
_CIPHERTEXT_HEADER: Final = bytes.fromhex("0102020078")

TAGS_AND_OVERWRITE: Final = (
    "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please "
    "remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or "
    "RemoveTagsFromResource."
)
DOWNGRADE: Final = (
    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the "
    "advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced "
    "parameter and recreate it as a standard parameter."
)
STANDARD_TOO_LONG: Final = (
    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
    "parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
)


def _ciphertext(value: str) -> str:
    return base64.b64encode(_CIPHERTEXT_HEADER + secrets.token_bytes(len(value.encode()) + 160)).decode()


def _tier(requested: str | None, current: str | None, value: str) -> str:
    if requested == "Intelligent-Tiering":
        tier = "Advanced" if len(value) > model.STANDARD_VALUE_LIMIT or current == "Advanced" else "Standard"
    else:
        tier = requested or current or "Standard"
    if current == "Advanced" and tier == "Standard":
        raise ValidationException(DOWNGRADE)
    if tier == "Standard" and len(value) > model.STANDARD_VALUE_LIMIT:
        raise ValidationException(STANDARD_TOO_LONG)
    if len(value) > model.ADVANCED_VALUE_LIMIT:
        raise ValidationException(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: "
            f"Member must have length less than or equal to {model.ADVANCED_VALUE_LIMIT}"
        )
    return tier


def _check_pattern(pattern: str, value: str) -> None:
    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError, TypeError) as error:
        raise InvalidAllowedPatternException(
            f"The allowed pattern {pattern} is not a valid regular expression."
        ) from error
    try:
        matched = compiled.fullmatch(value, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        matched = None
    if matched is None:
        raise ParameterPatternMismatchException(
            f"Parameter value, cannot be validated against allowedPattern: {pattern}"
        )


@operation("PutParameter")
def put_parameter(call: Call, params: Params) -> Result:
    name, value = str(params["Name"]), str(params["Value"])
    check_name(name)
    overwrite = bool(params.get("Overwrite"))
    tags: list[dict[str, str]] = params.get("Tags") or []
    if tags and overwrite:
        raise ValidationException(TAGS_AND_OVERWRITE)
    if params.get("Policies"):
        raise NotSupportedError("Parameter policies (PutParameter's Policies)")
    if not value:
        raise ValidationException(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    record = call.record(name)
    existing = None if record is None else model.Parameter.from_record(record)
    if existing is not None and not overwrite:
        raise ParameterAlreadyExists(
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
        )
    current = None if existing is None else existing.current
    parameter_type = params.get("Type") or (None if current is None else current.type)
    if parameter_type is None:
        raise ValidationException("A parameter type is required when you create a parameter.")
    key_id = params.get("KeyId")
    if parameter_type != model.SECURE_STRING:
        if key_id is not None:
            raise ValidationException("KeyId is required for SecureString type parameter only.")
    elif key_id is None:
        key_id = current.key_id if current is not None and current.key_id else model.DEFAULT_KEY_ID
    data_type = params.get("DataType") or (current.data_type if current is not None else "text")
    if data_type not in DATA_TYPES:
        raise ValidationException(
            f"The following data type is not supported: {data_type} (Data type names are all lowercase.)"
        )
    description = params.get("Description", None if current is None else current.description)
    pattern = params.get("AllowedPattern", None if current is None else current.allowed_pattern)
    tier = _tier(params.get("Tier"), None if current is None else current.tier, value)
    if pattern:
        _check_pattern(pattern, value)
    check_tags(tags)
    versions = [] if record is None else list(record["spec"]["Versions"])
    if len(versions) >= model.MAX_VERSIONS:
        oldest = existing.versions[0] if existing is not None else None
        if oldest is not None and oldest.labels:
            raise ParameterMaxVersionLimitExceeded(
                f"You attempted to create a new version of {name} by calling the PutParameter API with the "
                f"overwrite flag. Version {oldest.version}, the oldest version, can't be deleted because it has "
                "a label associated with it. Move the label to another version of the parameter, and try again."
            )
        versions = versions[len(versions) - model.MAX_VERSIONS + 1 :]
    if record is None:
        limit = STANDARD_PARAMETER_LIMIT if tier == "Standard" else ADVANCED_PARAMETER_LIMIT
        if call.store.count(call.scope, model.KIND) >= limit:
            raise ParameterLimitExceeded(
                "You have exceeded the number of parameters for this AWS account. Delete unnecessary parameters and try again."
            )
    number = 1 if current is None else current.version + 1
    entry: dict[str, Any] = {
        "Version": number,
        "Type": parameter_type,
        "Value": value,
        "Tier": tier,
        "DataType": data_type,
        "LastModifiedDate": call.now,
        "LastModifiedUser": call.user,
        "Labels": [],
    }
    if parameter_type == model.SECURE_STRING:
        entry["Ciphertext"] = _ciphertext(value)
        entry["KeyId"] = key_id
    if description is not None:
        entry["Description"] = description
    if pattern:
        entry["AllowedPattern"] = pattern
    spec = {
        "Name": name,
        "Tags": list(tags) if record is None else record["spec"].get("Tags", []),
        "Versions": [*versions, entry],
    }
    call.put(name, {"spec": spec, "status": {}})
    return {"Version": number, "Tier": tier}


def _selected(call: Call, text: str) -> tuple[model.Parameter, model.ParameterVersion, str | None]:
    reference, selector = model.split_selector(text)
    _name, parameter = require(call, reference)
    version = parameter.select(selector)
    if version is None:
        if selector is not None and selector.isdigit():
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {selector} of {reference}. Verify the version and try again."
            )
        raise not_found(text)
    return parameter, version, selector


@operation("GetParameter")
def get_parameter(call: Call, params: Params) -> Result:
    parameter, version, selector = _selected(call, str(params["Name"]))
    shown = render_parameter(
        call, parameter, version, with_decryption=bool(params.get("WithDecryption")), selector=selector
    )
    return {"Parameter": shown}


@operation("GetParameters")
def get_parameters(call: Call, params: Params) -> Result:
    found, invalid = [], []
    decrypt = bool(params.get("WithDecryption"))
    for text in dict.fromkeys(str(name) for name in params["Names"]):
        try:
            parameter, version, selector = _selected(call, text)
        except (ParameterNotFound, ParameterVersionNotFound):
            invalid.append(text)
            continue
        found.append(render_parameter(call, parameter, version, with_decryption=decrypt, selector=selector))
    return {"Parameters": found, "InvalidParameters": invalid}


@operation("DeleteParameter")
def delete_parameter(call: Call, params: Params) -> Result:
    name, _parameter = require(call, str(params["Name"]))
    call.store.delete(call.scope, model.KIND, name)
    return {}


@operation("DeleteParameters")
def delete_parameters(call: Call, params: Params) -> Result:
    deleted, invalid = [], []
    for text in dict.fromkeys(str(name) for name in params["Names"]):
        name = stored_name(call, text)
        if name is None:
            invalid.append(text)
            continue
        call.store.delete(call.scope, model.KIND, name)
        deleted.append(text)
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}


def _valid_label(label: str) -> bool:
    return bool(_LABEL.match(label)) and not label[0].isdigit() and not label.lower().startswith(("aws", "ssm"))


@operation("LabelParameterVersion")
def label_parameter_version(call: Call, params: Params) -> Result:
    name, parameter = require(call, str(params["Name"]))
    wanted = params.get("ParameterVersion")
    version = parameter.current if wanted is None else parameter.select(str(wanted))
    if version is None:
        raise ParameterVersionNotFound(
            f"Systems Manager could not find version {wanted} of {name}. Verify the version and try again."
        )
    labels = list(dict.fromkeys(str(label) for label in params["Labels"]))
    valid = [label for label in labels if _valid_label(label)]
    invalid = [label for label in labels if not _valid_label(label)]
    if len(set(version.labels) | set(valid)) > MAX_LABELS_PER_VERSION:
        raise ParameterVersionLabelLimitExceeded("A parameter version can have maximum 10 labels.")

    def relabel(record: dict[str, Any]) -> None:
        for entry in record["spec"]["Versions"]:
            kept = [label for label in entry["Labels"] if label not in valid]
            entry["Labels"] = kept + valid if entry["Version"] == version.version else kept

    if valid:
        call.store.update(call.scope, model.KIND, name, relabel)
    return {"InvalidLabels": invalid, "ParameterVersion": version.version}


@operation("UnlabelParameterVersion")
def unlabel_parameter_version(call: Call, params: Params) -> Result:
    name, parameter = require(call, str(params["Name"]))
    wanted = int(params["ParameterVersion"])
    version = parameter.select(str(wanted))
    if version is None:
        raise ParameterVersionNotFound(
            f"Systems Manager could not find version {wanted} of {name}. Verify the version and try again."
        )
    labels = list(dict.fromkeys(str(label) for label in params["Labels"]))
    removed = [label for label in labels if label in version.labels]
    invalid = [label for label in labels if label not in version.labels]

    def unlabel(record: dict[str, Any]) -> None:
        for entry in record["spec"]["Versions"]:
            if entry["Version"] == wanted:
                entry["Labels"] = [label for label in entry["Labels"] if label not in removed]

    if removed:
        call.store.update(call.scope, model.KIND, name, unlabel)
    return {"RemovedLabels": removed, "InvalidLabels": invalid}
