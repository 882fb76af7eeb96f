"""Metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory,
DeleteAlarms, SetAlarmState, EnableAlarmActions, DisableAlarmActions.

The records, their validation, history and evaluation are ``ecsemu.model.alarms``'s (Application
Auto Scaling's target tracking creates its alarms through the same ``put_alarm``). Composite
alarms are not supported: PutCompositeAlarm answers that ecsemu does not support it, and
DescribeAlarms shows no CompositeAlarms.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ecsemu.model import alarms as model
from ecsemu.model.metrics import dimensions_key
from ecsemu.services.cloudwatch.base import Call, Params, Result, epoch, operation, paginate
from ecsemu.services.cloudwatch.errors import (
    InvalidFormat,
    InvalidParameterCombination,
    InvalidParameterValue,
    ResourceNotFound,
)
from ecsemu.services.cloudwatch.tags import validate_tags

MAX_NAMES: Final = 100
DEFAULT_ALARM_PAGE: Final = 50
DEFAULT_HISTORY_PAGE: Final = 100
MAX_STATE_REASON_DATA: Final = 4000


@operation("PutMetricAlarm")
def put_metric_alarm(call: Call, params: Params) -> Result:
    if "Tags" in params:
        params = {**params, "Tags": validate_tags(params["Tags"])}
    model.put_alarm(call.store, call.scope, params, call.now)
    return {}


def _names(params: Params) -> list[str]:
    names = list(params.get("AlarmNames") or [])
    if len(names) > MAX_NAMES:
        raise InvalidParameterValue(f"The collection AlarmNames must not have a size greater than {MAX_NAMES}.")
    return names


@operation("DescribeAlarms")
def describe_alarms(call: Call, params: Params) -> Result:
    names = _names(params)
    if names and params.get("AlarmNamePrefix"):
        raise InvalidParameterCombination("AlarmNames and AlarmNamePrefix cannot be specified together.")
    types = params.get("AlarmTypes") or ["MetricAlarm"]
    records = sorted(call.store.items(call.scope, model.KIND)) if "MetricAlarm" in types else []
    prefix, state, action_prefix = params.get("AlarmNamePrefix"), params.get("StateValue"), params.get("ActionPrefix")
    if params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName"):
        records = []  # only composite alarms have children or parents
    chosen = [
        record
        for name, record in records
        if (not names or name in names)
        and (not prefix or name.startswith(prefix))
        and (not state or record["status"]["StateValue"] == state)
        and (
            not action_prefix
            or any(
                action.startswith(action_prefix)
                for member in ("AlarmActions", "OKActions", "InsufficientDataActions")
                for action in record["spec"].get(member) or []
            )
        )
    ]
    page, token = paginate(chosen, params.get("NextToken"), int(params.get("MaxRecords") or DEFAULT_ALARM_PAGE))
    answer: Result = {"MetricAlarms": [model.describe(call.scope, record) for record in page]}
    if "CompositeAlarm" in types:
        answer["CompositeAlarms"] = []
    if token:
        answer["NextToken"] = token
    return answer


@operation("DescribeAlarmsForMetric")
def describe_alarms_for_metric(call: Call, params: Params) -> Result:
    wanted_dimensions = dimensions_key({d["Name"]: d["Value"] for d in params.get("Dimensions") or []})
    chosen = []
    for _name, record in sorted(call.store.items(call.scope, model.KIND)):
        spec = record["spec"]
        if "Metrics" in spec or spec["MetricName"] != params["MetricName"] or spec["Namespace"] != params["Namespace"]:
            continue
        if dimensions_key({d["Name"]: d["Value"] for d in spec.get("Dimensions") or []}) != wanted_dimensions:
            continue
        if any(member in params and spec.get(member) != params[member] for member in (
            "Statistic", "ExtendedStatistic", "Period", "Unit",
        )):  # fmt: skip
            continue
        chosen.append(model.describe(call.scope, record))
    return {"MetricAlarms": chosen}


@operation("DescribeAlarmHistory")
def describe_alarm_history(call: Call, params: Params) -> Result:
    types = params.get("AlarmTypes") or ["MetricAlarm", "CompositeAlarm"]
    start = epoch(params["StartDate"], "StartDate") if params.get("StartDate") is not None else None
    end = epoch(params["EndDate"], "EndDate") if params.get("EndDate") is not None else None
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue("The parameter StartDate must be less than or equal to the parameter EndDate.")
    items: list[dict[str, Any]] = []
    if "MetricAlarm" in types:
        newest_first = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        items = model.history(
            call.store, call.scope, params.get("AlarmName"), params.get("HistoryItemType"), start, end, newest_first
        )
    page, token = paginate(items, params.get("NextToken"), int(params.get("MaxRecords") or DEFAULT_HISTORY_PAGE))
    answer: Result = {"AlarmHistoryItems": page}
    if token:
        answer["NextToken"] = token
    return answer


@operation("DeleteAlarms")
def delete_alarms(call: Call, params: Params) -> Result:
    model.delete_alarms(call.store, call.scope, _names(params), call.now)
    return {}


@operation("SetAlarmState")
def set_alarm_state(call: Call, params: Params) -> Result:
    reason_data = None
    if params.get("StateReasonData") is not None:
        text = params["StateReasonData"]
        if len(text) > MAX_STATE_REASON_DATA:
            raise InvalidParameterValue(
                f"The parameter StateReasonData must be at most {MAX_STATE_REASON_DATA} characters long."
            )
        try:
            reason_data = json.loads(text)
        except ValueError as error:
            raise InvalidFormat("The parameter StateReasonData is not valid JSON.") from error
        if not isinstance(reason_data, dict):
            raise InvalidFormat("The parameter StateReasonData is not valid JSON.")
    name = params["AlarmName"]
    with call.store.transaction():
        if call.store.get(call.scope, model.KIND, name) is None:
            raise ResourceNotFound(f"Alarm {name} not found")
        model.change_state(
            call.store, call.scope, name, params["StateValue"], params["StateReason"], reason_data, call.now,
            pending=True,
        )  # fmt: skip
    return {}


def _set_actions_enabled(call: Call, params: Params, enabled: bool) -> Result:
    with call.store.transaction():
        for name in dict.fromkeys(_names(params)):

            def change(record: dict[str, Any]) -> None:
                record["spec"]["ActionsEnabled"] = enabled

            call.store.update(call.scope, model.KIND, name, change)
    return {}


@operation("EnableAlarmActions")
def enable_alarm_actions(call: Call, params: Params) -> Result:
    return _set_actions_enabled(call, params, True)


@operation("DisableAlarmActions")
def disable_alarm_actions(call: Call, params: Params) -> Result:
    return _set_actions_enabled(call, params, False)
