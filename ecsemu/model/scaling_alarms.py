"""The CloudWatch alarms a target tracking policy creates and owns, as AWS sets them.

For a policy with target value T on ECS service ``service/<cluster>/<service>`` (Application
Auto Scaling User Guide, "Target tracking scaling policies"; the AWS CLI's put-scaling-policy
examples show the names):

| alarm | name | datapoints | comparison | threshold |
| ----- | ---- | ---------- | ---------- | --------- |
| high  | ``TargetTracking-<resource id>-AlarmHigh-<uuid>`` | 3 of 3 (Period 60) | GreaterThanThreshold | T |
| low   | ``TargetTracking-<resource id>-AlarmLow-<uuid>``  | 15 of 15 (Period 60) | LessThanThreshold | T * 0.9 |

(no low alarm when ``DisableScaleIn`` is true). Both have ``AlarmActions = [policy ARN]``,
``ActionsEnabled``, and the description ``DO NOT EDIT OR DELETE. For TargetTrackingScaling
policy <policy ARN>.``. The metric:

- ``ECSServiceAverageCPUUtilization`` / ``ECSServiceAverageMemoryUtilization``: ``AWS/ECS``
  ``CPUUtilization`` / ``MemoryUtilization``, Average, dimensions ClusterName and ServiceName;
- ``ALBRequestCountPerTarget``: ``AWS/ApplicationELB`` ``RequestCountPerTarget``, Sum, dimension
  TargetGroup = ``targetgroup/<name>/<id>`` (the ResourceLabel's target group part);
- a customized metric: its Namespace, MetricName, Dimensions, Statistic and Unit, or its
  ``Metrics`` (metric math) as the alarm's ``Metrics`` with ``Period`` 60 on each MetricStat.

The alarms are written and removed only through ``ecsemu.model.alarms`` (``put_alarm(store,
scope, params, now) -> alarm_arn`` with PutMetricAlarm's members, ``delete_alarms(store, scope,
names, now)``), through :data:`ALARMS` (a seam tests may replace).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final, Protocol

from ecsemu.context import Scope
from ecsemu.model import alarms
from ecsemu.state.store import Store

PERIOD_S: Final = 60
HIGH_DATAPOINTS: Final = 3
LOW_DATAPOINTS: Final = 15
LOW_FACTOR: Final = 0.9

PREDEFINED: Final = {
    "ECSServiceAverageCPUUtilization": ("AWS/ECS", "CPUUtilization", "Average"),
    "ECSServiceAverageMemoryUtilization": ("AWS/ECS", "MemoryUtilization", "Average"),
    "ALBRequestCountPerTarget": ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum"),
}


class AlarmsApi(Protocol):
    def put_alarm(self, store: Store, scope: Scope, params: dict[str, Any], now: float) -> str: ...

    def delete_alarms(self, store: Store, scope: Scope, names: Sequence[str], now: float) -> None: ...


class _CloudWatch:
    """:mod:`ecsemu.model.alarms`; deleting skips alarms already gone (a user may have deleted a
    policy's alarm by hand: deleting the policy still succeeds, as on AWS)."""

    def put_alarm(self, store: Store, scope: Scope, params: dict[str, Any], now: float) -> str:
        return alarms.put_alarm(store, scope, params, now)

    def delete_alarms(self, store: Store, scope: Scope, names: Sequence[str], now: float) -> None:
        present = [name for name in names if store.get(scope, alarms.KIND, name) is not None]
        if present:
            alarms.delete_alarms(store, scope, present, now)


ALARMS: AlarmsApi = _CloudWatch()


def alarm_name(resource_id: str, which: str, alarm_id: str) -> str:
    return f"TargetTracking-{resource_id}-Alarm{which}-{alarm_id}"


def new_alarm_id() -> str:
    return str(uuid.uuid4())


def _metric(configuration: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """The metric members of PutMetricAlarm for the policy's metric specification."""
    predefined = configuration.get("PredefinedMetricSpecification")
    if predefined:
        namespace, metric_name, statistic = PREDEFINED[predefined["PredefinedMetricType"]]
        if predefined["PredefinedMetricType"] == "ALBRequestCountPerTarget":
            label = str(predefined.get("ResourceLabel") or "")
            target_group = label[label.index("targetgroup/") :] if "targetgroup/" in label else label
            dimensions = [{"Name": "TargetGroup", "Value": target_group}]
        else:
            _, cluster, service = resource_id.split("/", 2)
            dimensions = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
        return {
            "Namespace": namespace, "MetricName": metric_name, "Statistic": statistic, "Dimensions": dimensions,
            "Period": PERIOD_S,
        }  # fmt: skip
    customized = configuration["CustomizedMetricSpecification"]
    if customized.get("Metrics"):
        return {"Metrics": [_query(query) for query in customized["Metrics"]]}  # each MetricStat has Period 60
    metric: dict[str, Any] = {
        "Namespace": customized["Namespace"],
        "MetricName": customized["MetricName"],
        "Statistic": customized["Statistic"],
        "Dimensions": list(customized.get("Dimensions") or []),
        "Period": PERIOD_S,
    }
    if customized.get("Unit"):
        metric["Unit"] = customized["Unit"]
    return metric


def _query(query: dict[str, Any]) -> dict[str, Any]:
    """A TargetTrackingMetricDataQuery as a CloudWatch MetricDataQuery (Period 60)."""
    converted: dict[str, Any] = {"Id": query["Id"]}
    for member in ("Expression", "Label", "ReturnData"):
        if member in query:
            converted[member] = query[member]
    stat = query.get("MetricStat")
    if stat:
        metric = stat["Metric"]
        converted["MetricStat"] = {
            "Metric": {
                key: value for key, value in (
                    ("Namespace", metric.get("Namespace")), ("MetricName", metric.get("MetricName")),
                    ("Dimensions", metric.get("Dimensions")),
                ) if value is not None
            },
            "Period": PERIOD_S,
            "Stat": stat["Stat"],
            **({"Unit": stat["Unit"]} if stat.get("Unit") else {}),
        }  # fmt: skip
    return converted


def alarm_params(
    policy_arn: str, resource_id: str, configuration: dict[str, Any], which: str, alarm_id: str
) -> dict[str, Any]:
    """PutMetricAlarm's members for the policy's ``which`` ("High" or "Low") alarm."""
    target = float(configuration["TargetValue"])
    high = which == "High"
    return {
        "AlarmName": alarm_name(resource_id, which, alarm_id),
        "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}.",
        "ActionsEnabled": True,
        "AlarmActions": [policy_arn],
        "OKActions": [],
        "InsufficientDataActions": [],
        **_metric(configuration, resource_id),
        "EvaluationPeriods": HIGH_DATAPOINTS if high else LOW_DATAPOINTS,
        "DatapointsToAlarm": HIGH_DATAPOINTS if high else LOW_DATAPOINTS,
        "Threshold": target if high else target * LOW_FACTOR,
        "ComparisonOperator": "GreaterThanThreshold" if high else "LessThanThreshold",
    }


def put_policy_alarms(
    store: Store,
    scope: Scope,
    policy_arn: str,
    resource_id: str,
    configuration: dict[str, Any],
    alarm_ids: dict[str, str],
    now: float,
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Create (or rewrite in place) the policy's alarms; remove a low alarm that
    ``DisableScaleIn`` no longer wants. Returns the alarm ids kept and ``[{AlarmName, AlarmARN}]``."""
    wanted = ["High"] if configuration.get("DisableScaleIn") else ["High", "Low"]
    ids = {which: alarm_ids.get(which) or new_alarm_id() for which in wanted}
    removed = [alarm_name(resource_id, which, alarm_id) for which, alarm_id in alarm_ids.items() if which not in ids]
    if removed:
        ALARMS.delete_alarms(store, scope, removed, now)
    alarms = []
    for which in wanted:
        params = alarm_params(policy_arn, resource_id, configuration, which, ids[which])
        arn = ALARMS.put_alarm(store, scope, params, now)
        alarms.append({"AlarmName": params["AlarmName"], "AlarmARN": arn})
    return ids, alarms


def delete_policy_alarms(store: Store, scope: Scope, alarms: Sequence[dict[str, str]], now: float) -> None:
    names = [alarm["AlarmName"] for alarm in alarms]
    if names:
        ALARMS.delete_alarms(store, scope, names, now)


def which_alarm(alarm_ids: dict[str, str], alarm_name_: str) -> str | None:
    """ "High" or "Low" when ``alarm_name_`` is one of the policy's own alarms."""
    for which, alarm_id in alarm_ids.items():
        if alarm_name_.endswith(f"-Alarm{which}-{alarm_id}"):
            return which
    return None
