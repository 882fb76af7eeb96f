"""What every SSM Parameter Store operation shares: the call, the operation registry, name rules,
lookups, tags, pagination and the shapes parameters are answered in.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered under its API name with
    ``@operation("PutParameter")``; params and results are keyed by SSM's own member names.
name
    What the caller wrote to name a parameter: its name (``/app/db``), or its ARN (which names
    its own account and region: one of another scope names nothing here). A name is valid when
    it follows AWS's rules (:func:`check_name`).

The record layout is :mod:`ecsemu.model.ssm_parameters`'s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from ecsemu.context import RequestContext, Scope
from ecsemu.model import ssm_parameters as model
from ecsemu.services import common
from ecsemu.services.ssm.errors import (
    HierarchyLevelLimitExceededException,
    InvalidNextToken,
    ParameterNotFound,
    TooManyTagsError,
    ValidationException,
)
from ecsemu.state.store import Record, Store

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]
T = TypeVar("T")

OPERATIONS: dict[str, Operation] = {}

MAX_NAME_LENGTH: Final = 1011
MAX_TAGS: Final = 50
_NAME_CHARACTERS: Final = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_RESERVED_PREFIXES: Final = ("aws", "ssm")

NAME_RULES: Final = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, '
    "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of "
    "letters, numbers and the following 3 symbols .-_"
)


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

    @property
    def user(self) -> str:
        """Who ``LastModifiedUser`` names: the calling account's root (ecsemu has no IAM)."""
        return f"arn:aws:iam::{self.context.account_id}:root"

    def record(self, name: str) -> Record | None:
        return self.store.get(self.scope, model.KIND, name)

    def put(self, name: str, record: Record) -> None:
        self.store.put(self.scope, model.KIND, name, record)


# --------------------------------------------------------------------------------------------
# Names


def check_name(name: str) -> None:
    """Refuse a name AWS refuses (characters, reserved prefixes, paths, depth, length)."""
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationException(f"Parameter name can't be longer than {MAX_NAME_LENGTH} characters.")
    if not _NAME_CHARACTERS.match(name):
        raise ValidationException(NAME_RULES)
    if "/" in name and not name.startswith("/"):
        raise ValidationException("Parameter name must be a fully qualified name.")
    segments = name.removeprefix("/").split("/")
    if any(not segment for segment in segments):
        raise ValidationException(NAME_RULES)
    if segments[0].lower().startswith(_RESERVED_PREFIXES):
        raise ValidationException(NAME_RULES)
    if len(segments) > model.MAX_HIERARCHY_LEVELS:
        raise HierarchyLevelLimitExceededException(
            "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and "
            "constraints for parameter names in the Amazon Web Services Systems Manager User Guide."
        )


def stored_name(call: Call, text: str) -> str | None:
    """The name of the stored parameter ``text`` (a name or an ARN, without selector) names."""
    if not text.startswith("arn:"):
        return text if call.record(text) is not None else None
    parsed = model.parse_arn(text)
    if parsed is None or parsed[0] != call.scope:
        return None
    return next((name for name in model.candidate_names(parsed[1]) if call.record(name) is not None), None)


def not_found(name: str) -> ParameterNotFound:
    return ParameterNotFound(f"Parameter {name} not found.")


def require(call: Call, text: str) -> tuple[str, model.Parameter]:
    """The parameter ``text`` (a name or an ARN) names; ``ParameterNotFound`` when none."""
    name = stored_name(call, text)
    record = None if name is None else call.record(name)
    if name is None or record is None:
        raise not_found(text)
    return name, model.Parameter.from_record(record)


# --------------------------------------------------------------------------------------------
# Tags


def check_tags(tags: Sequence[Any], existing: int = 0) -> None:
    for tag in tags:
        if str(tag["Key"]).lower().startswith("aws:"):
            raise ValidationException("The aws: prefix is reserved for AWS use; tag keys can't start with it.")
    if existing + len({tag["Key"] for tag in tags}) > MAX_TAGS:
        raise TooManyTagsError("You exceeded the maximum number of tags allowed for the resource (50).")


def merged_tags(current: Sequence[dict[str, str]], added: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """``current`` with ``added`` laid over it (a key given again takes its new value)."""
    merged = {tag["Key"]: tag["Value"] for tag in current}
    for tag in added:
        merged[tag["Key"]] = tag.get("Value", "")
    return [{"Key": key, "Value": value} for key, value in merged.items()]


# --------------------------------------------------------------------------------------------
# Pagination and rendering


def page(items: Sequence[T], params: Params, default_size: int) -> tuple[list[T], str | None]:
    return common.page(
        items,
        params.get("NextToken"),
        int(params.get("MaxResults") or default_size),
        lambda: InvalidNextToken("The specified token isn't valid."),
    )


def render_parameter(
    call: Call,
    parameter: model.Parameter,
    version: model.ParameterVersion,
    *,
    with_decryption: bool,
    selector: str | None = None,
) -> Result:
    """A parameter as GetParameter(s) and GetParametersByPath answer it."""
    shown: Result = {
        "Name": parameter.name,
        "Type": version.type,
        "Value": version.shown_value(with_decryption),
        "Version": version.version,
        "LastModifiedDate": version.last_modified_date,
        "ARN": model.parameter_arn(call.scope, parameter.name),
        "DataType": version.data_type,
    }
    if selector:
        shown["Selector"] = f":{selector}"
    return shown


def _described(version: model.ParameterVersion) -> Result:
    shown: Result = {
        "Type": version.type,
        "LastModifiedDate": version.last_modified_date,
        "LastModifiedUser": version.last_modified_user,
        "Version": version.version,
        "Tier": version.tier,
        "Policies": [],
        "DataType": version.data_type,
    }
    for member, value in (
        ("KeyId", version.key_id),
        ("Description", version.description),
        ("AllowedPattern", version.allowed_pattern),
    ):
        if value is not None:
            shown[member] = value
    return shown


def render_metadata(call: Call, parameter: model.Parameter) -> Result:
    """A parameter as DescribeParameters answers it (no value)."""
    return {
        "Name": parameter.name,
        "ARN": model.parameter_arn(call.scope, parameter.name),
        **_described(parameter.current),
    }


def render_history(parameter: model.Parameter, version: model.ParameterVersion, *, with_decryption: bool) -> Result:
    """One version as GetParameterHistory answers it."""
    return {
        "Name": parameter.name,
        **_described(version),
        "Value": version.shown_value(with_decryption),
        "Labels": list(version.labels),
    }
