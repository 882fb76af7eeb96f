"""GetParametersByPath, DescribeParameters and GetParameterHistory: the reads that list.

Vocabulary
----------
path
    ``/a/b``: the parameters under it are those whose names begin ``/a/b/``; one level below
    it (not ``Recursive``) are those with no further ``/``.
parameter filter
    ``{"Key", "Option", "Values"}`` (``ParameterStringFilter``): keys ``Name``, ``Type``,
    ``KeyId``, ``Path``, ``Tier``, ``DataType``, ``Label`` and ``tag:<key>``; options
    ``Equals`` (the default), ``BeginsWith``, ``Contains`` (Name only), and ``Recursive`` /
    ``OneLevel`` (Path only). GetParametersByPath takes only ``Type``, ``KeyId``, ``Label``
    and ``tag:`` keys (the path is its own).

Lists are in name order; pages use the opaque tokens of :mod:`ecsemu.services.common`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from ecsemu.errors import NotSupportedError
from ecsemu.model import ssm_parameters as model
from ecsemu.services.ssm.base import (
    Call,
    Params,
    Result,
    operation,
    page,
    render_history,
    render_metadata,
    render_parameter,
    require,
)
from ecsemu.services.ssm.errors import (
    HierarchyLevelLimitExceededException,
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    ValidationException,
)

Match = Callable[[model.Parameter], bool]

_PATH: Final = re.compile(r"^/([a-zA-Z0-9_.\-]+/)*([a-zA-Z0-9_.\-]+)?/?$")
BAD_PATH: Final = (
    'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/". '
    'It can\'t be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following '
    "symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, "
    'must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.'
)
DESCRIBE_KEYS: Final = ("Name", "Type", "KeyId", "Path", "Tier", "DataType", "Label")
BY_PATH_KEYS: Final = ("Type", "KeyId", "Label")
OPTIONS: Final = ("Equals", "BeginsWith", "Contains")
PATH_OPTIONS: Final = ("Recursive", "OneLevel")


def _prefix(path: str) -> str:
    """The name prefix of the parameters under ``path`` (``/`` for the root)."""
    if not _PATH.match(path):
        raise ValidationException(BAD_PATH)
    levels = [segment for segment in path.split("/") if segment]
    if levels and levels[0].lower().startswith(("aws", "ssm")):
        raise ValidationException(BAD_PATH)
    if len(levels) > model.MAX_HIERARCHY_LEVELS:
        raise HierarchyLevelLimitExceededException("A hierarchy can have a maximum of 15 levels.")
    return path.rstrip("/") + "/"


def _under(name: str, prefix: str, recursive: bool) -> bool:
    if not name.startswith(prefix) or name == prefix:
        return False
    return recursive or "/" not in name[len(prefix) :]


def _text_match(option: str, values: Sequence[str], field: str) -> bool:
    if option == "BeginsWith":
        return any(field.startswith(value) for value in values)
    if option == "Contains":
        return any(value in field for value in values)
    return field in values


def _filter(spec: dict[str, Any], allowed: Sequence[str]) -> Match:
    key, option, values = str(spec["Key"]), spec.get("Option"), [str(value) for value in spec.get("Values") or []]
    is_tag = key.startswith("tag:")
    if not is_tag and key not in allowed:
        raise InvalidFilterKey(
            f"The following filter key is not valid: {key}. Valid filter keys include: [{', '.join(allowed)}]."
        )
    if key == "Path":
        option = option or "OneLevel"
        if option not in PATH_OPTIONS:
            raise InvalidFilterOption(
                "The following filter option is not valid: "
                + str(option)
                + ". Valid options include: [Recursive, OneLevel]."
            )
        prefixes = [_prefix(value) for value in values or ["/"]]
        recursive = option == "Recursive"
        return lambda parameter: any(_under(parameter.name, prefix, recursive) for prefix in prefixes)
    option = option or "Equals"
    valid_options = (
        OPTIONS if key == "Name" else ("Equals", "BeginsWith") if is_tag or key in ("KeyId",) else ("Equals",)
    )
    if option not in valid_options:
        raise InvalidFilterOption(
            f"The following filter option is not valid: {option}. Valid options include: [{', '.join(valid_options)}]."
        )
    if not values and not is_tag:
        raise InvalidFilterValue(f"The following filter values are missing : null for filter key {key}.")
    if is_tag:
        tag_key = key.removeprefix("tag:")

        def tagged(parameter: model.Parameter) -> bool:
            value = dict(parameter.tags).get(tag_key)
            return value is not None and (not values or _text_match(option, values, value))

        return tagged
    if key == "Name":
        names = [value if value.startswith("/") or "/" not in value else "/" + value for value in values]
        return lambda parameter: _text_match(option, names, parameter.name)
    if key == "Label":
        return lambda parameter: any(label in values for version in parameter.versions for label in version.labels)
    fields: dict[str, Callable[[model.ParameterVersion], str | None]] = {
        "Type": lambda version: version.type,
        "KeyId": lambda version: version.key_id,
        "Tier": lambda version: version.tier,
        "DataType": lambda version: version.data_type,
    }
    read = fields[key]
    return lambda parameter: _text_match(option, values, read(parameter.current) or "")


def _filters(specs: Sequence[dict[str, Any]], allowed: Sequence[str]) -> list[Match]:
    return [_filter(spec, allowed) for spec in specs]


def _all(call: Call) -> list[model.Parameter]:
    parameters = [model.Parameter.from_record(record) for record in call.store.list(call.scope, model.KIND)]
    return sorted(parameters, key=lambda parameter: parameter.name)


def _label_filter(specs: Sequence[dict[str, Any]]) -> list[str]:
    return [str(value) for spec in specs if spec["Key"] == "Label" for value in spec.get("Values") or []]


@operation("GetParametersByPath")
def get_parameters_by_path(call: Call, params: Params) -> Result:
    prefix = _prefix(str(params["Path"]))
    recursive = bool(params.get("Recursive"))
    specs = params.get("ParameterFilters") or []
    matches = _filters(specs, BY_PATH_KEYS)
    labels = _label_filter(specs)
    chosen = [
        parameter
        for parameter in _all(call)
        if _under(parameter.name, prefix, recursive) and all(match(parameter) for match in matches)
    ]
    shown, token = page(chosen, params, 10)
    decrypt = bool(params.get("WithDecryption"))
    answered = []
    for parameter in shown:
        version = parameter.current
        if labels:
            version = next((entry for entry in parameter.versions if set(entry.labels) & set(labels)), version)
        answered.append(render_parameter(call, parameter, version, with_decryption=decrypt))
    result: Result = {"Parameters": answered}
    if token:
        result["NextToken"] = token
    return result


def _legacy_filters(specs: Sequence[dict[str, Any]]) -> list[Match]:
    """DescribeParameters' older ``Filters`` (keys Name, Type, KeyId; names match by prefix)."""
    converted = []
    for spec in specs:
        key = str(spec["Key"])
        if key not in ("Name", "Type", "KeyId"):
            raise InvalidFilterKey(
                f"The following filter key is not valid: {key}. Valid filter keys include: [Name, Type, KeyId]."
            )
        option = "BeginsWith" if key == "Name" else "Equals"
        converted.append({"Key": key, "Option": option, "Values": spec.get("Values") or []})
    return _filters(converted, DESCRIBE_KEYS)


@operation("DescribeParameters")
def describe_parameters(call: Call, params: Params) -> Result:
    if params.get("Filters") and params.get("ParameterFilters"):
        raise ValidationException("You can use either Filters or ParameterFilters in a single request.")
    if params.get("Shared"):
        raise NotSupportedError("Shared parameters (DescribeParameters' Shared)")
    matches = _legacy_filters(params.get("Filters") or []) + _filters(
        params.get("ParameterFilters") or [], DESCRIBE_KEYS
    )
    chosen = [parameter for parameter in _all(call) if all(match(parameter) for match in matches)]
    shown, token = page(chosen, params, 50)
    result: Result = {"Parameters": [render_metadata(call, parameter) for parameter in shown]}
    if token:
        result["NextToken"] = token
    return result


@operation("GetParameterHistory")
def get_parameter_history(call: Call, params: Params) -> Result:
    _name, parameter = require(call, str(params["Name"]))
    shown, token = page(parameter.versions, params, 50)
    decrypt = bool(params.get("WithDecryption"))
    result: Result = {"Parameters": [render_history(parameter, version, with_decryption=decrypt) for version in shown]}
    if token:
        result["NextToken"] = token
    return result
