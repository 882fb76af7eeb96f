"""Account settings: PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
DeleteAccountSetting.

Kind ``account_setting``, id ``<principal ARN>/<setting name>``; a record is the setting as
ECS shows it: ``{"name", "value", "principalArn", "type"}``. Only settings someone set are
stored; the rest come from ECS's defaults (``AWS_DEFAULTS``).

Vocabulary:
- The *root* principal is ``arn:aws:iam::<account>:root``. Every caller of ecsemu is the root
  user, so a call without ``principalArn`` acts on the root's settings, and
  PutAccountSettingDefault is PutAccountSetting for the root.
- A principal's *effective* value of a setting is its own, else the root's, else ECS's default.

Invariants:
- A stored value is always one ECS accepts for that name (``VALID_VALUES``).
- ``guardDutyActivate`` is managed by AWS: it is listed with ``type: aws_managed`` and can be
  neither put nor deleted.
- Settings belong to a scope (account and region), as in ECS.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import InvalidParameterException
from ecsemu.state.store import Record

KIND = "account_setting"

_ENABLED = frozenset({"enabled", "disabled"})

# Every name of botocore's ``SettingName``, with the values ECS accepts for it.
VALID_VALUES: dict[str, frozenset[str]] = {
    "serviceLongArnFormat": _ENABLED,
    "taskLongArnFormat": _ENABLED,
    "containerInstanceLongArnFormat": _ENABLED,
    "awsvpcTrunking": _ENABLED,
    "containerInsights": frozenset({"enabled", "disabled", "enhanced"}),
    "fargateFIPSMode": _ENABLED,
    "tagResourceAuthorization": frozenset({"on", "off"}),
    "fargateTaskRetirementWaitPeriod": frozenset({"0", "7", "14"}),
    "guardDutyActivate": frozenset({"on", "off"}),
    "defaultLogDriverMode": frozenset({"blocking", "non-blocking"}),
    "fargateEventWindows": _ENABLED,
}

# What a new account sees today (long ARNs are mandatory since 2021, tag authorization is on
# for every account, and the log driver mode became non-blocking on 25 June 2025).
AWS_DEFAULTS: dict[str, str] = {
    "serviceLongArnFormat": "enabled",
    "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled",
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "fargateFIPSMode": "disabled",
    "tagResourceAuthorization": "on",
    "fargateTaskRetirementWaitPeriod": "7",
    "guardDutyActivate": "off",
    "defaultLogDriverMode": "non-blocking",
    "fargateEventWindows": "disabled",
}
AWS_MANAGED = frozenset({"guardDutyActivate"})
ROOT_ONLY = frozenset({"fargateTaskRetirementWaitPeriod"})

_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(root|(user|role)/[\w+=,.@/-]+)$")


def root_arn(call: Call) -> str:
    return f"arn:aws:iam::{call.scope.account_id}:root"


def _principal(call: Call, params: Params) -> str:
    """The principal a call acts on: the one named, else the caller (the root user)."""
    principal = params.get("principalArn")
    if principal is None or principal == "":
        return root_arn(call)
    match = _PRINCIPAL.match(principal)
    if match is None:
        raise InvalidParameterException("Invalid principalArn.")
    if match.group(1) != call.scope.account_id:
        raise InvalidParameterException("principalArn must belong to the caller's account.")
    return str(principal)


def _name(params: Params) -> str:
    name = params.get("name")
    if not name:
        raise InvalidParameterException("name can not be blank.")
    if name not in VALID_VALUES:
        raise InvalidParameterException(f"Invalid setting name: {name}")
    return str(name)


def _writable(name: str) -> None:
    if name in AWS_MANAGED:
        raise InvalidParameterException(f"The {name} account setting is managed by AWS and can't be changed.")


def _record_id(principal: str, name: str) -> str:
    return f"{principal}/{name}"


def _setting(name: str, value: str, principal: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "principalArn": principal,
        "type": "aws_managed" if name in AWS_MANAGED else "user",
    }


def effective_value(call: Call, name: str, principal: str | None = None) -> str:
    """What applies to ``principal`` (default: the root user) for setting ``name``."""
    root = root_arn(call)
    for owner in (principal or root, root):
        record = call.store.get(call.scope, KIND, _record_id(owner, name))
        if record is not None:
            return str(record["value"])
    return AWS_DEFAULTS[name]


def _put(call: Call, name: str, value: Any, principal: str) -> Result:
    _writable(name)
    if not isinstance(value, str) or value not in VALID_VALUES[name]:
        raise InvalidParameterException("Invalid setting 'value'")
    if name in ROOT_ONLY and principal != root_arn(call):
        raise InvalidParameterException(f"The {name} account setting can only be set for the root user.")
    record: Record = _setting(name, value, principal)
    call.store.put(call.scope, KIND, _record_id(principal, name), record)
    return {"setting": record}


@operation("PutAccountSetting")
def put_account_setting(call: Call, params: Params) -> Result:
    name = _name(params)
    return _put(call, name, params.get("value"), _principal(call, params))


@operation("PutAccountSettingDefault")
def put_account_setting_default(call: Call, params: Params) -> Result:
    name = _name(params)
    return _put(call, name, params.get("value"), root_arn(call))


@operation("DeleteAccountSetting")
def delete_account_setting(call: Call, params: Params) -> Result:
    name = _name(params)
    _writable(name)
    principal = _principal(call, params)
    with call.store.transaction():
        record = call.store.get(call.scope, KIND, _record_id(principal, name))
        call.store.delete(call.scope, KIND, _record_id(principal, name))
    if record is None:
        # Nothing was set: deleting is a no-op that answers what applies now.
        record = _setting(name, effective_value(call, name, principal), principal)
    return {"setting": record}


@operation("ListAccountSettings")
def list_account_settings(call: Call, params: Params) -> Result:
    name, value = params.get("name"), params.get("value")
    if value is not None and not name:
        raise InvalidParameterException("You must also specify an account setting name to use the value filter.")
    if name is not None and name not in VALID_VALUES:
        raise InvalidParameterException(f"Invalid setting name: {name}")
    principal = _principal(call, params)
    names = [name] if name else sorted(VALID_VALUES)
    settings: list[dict[str, Any]] = []
    for setting_name in names:
        if params.get("effectiveSettings"):
            settings.append(_setting(setting_name, effective_value(call, setting_name, principal), principal))
            continue
        record = call.store.get(call.scope, KIND, _record_id(principal, setting_name))
        if record is not None:
            settings.append(record)
    if value is not None:
        settings = [s for s in settings if s["value"] == value]
    page, token = paginate(settings, params, default_max=10, limit=10)
    return page_result("settings", page, token)
