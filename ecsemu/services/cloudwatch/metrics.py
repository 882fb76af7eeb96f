"""Metrics: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics.

Invariants:
- A PutMetricData request is checked whole before anything is written: one bad datum refuses
  the request and stores nothing (AWS's all-or-nothing).
- Users may not write the ``AWS/`` namespaces (ecsemu's own collector does, through
  ``MetricStore.put_many``).
- Buckets start at the query's StartTime rounded down to the period (or to the minute for
  periods that do not divide an hour), so they meet the alarms' windows.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ecsemu.model.metrics import (
    Datapoint,
    MetricKey,
    check_period,
    check_queries,
    dimension_list,
    percentile_rank,
    run_queries,
)
from ecsemu.services.cloudwatch.base import Call, Params, Result, epoch, operation, paginate
from ecsemu.services.cloudwatch.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)

MAX_METRIC_DATA: Final = 1000
MAX_DIMENSIONS: Final = 30
MAX_VALUES: Final = 150
PAST_LIMIT_S: Final = 14 * 86400
FUTURE_LIMIT_S: Final = 2 * 3600
MAX_STATISTICS_DATAPOINTS: Final = 1440
DEFAULT_MAX_DATAPOINTS: Final = 100_800
LIST_METRICS_PAGE: Final = 500
RECENTLY_ACTIVE_S: Final = 3 * 3600
VALUE_LIMIT: Final = 1.174271e108


def _check_number(value: object, member: str) -> float:
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number) or math.isinf(number) or abs(number) > VALUE_LIMIT:
        raise InvalidParameterValue(f"The value {value} for parameter {member} is invalid.")
    return number


def _dimensions(items: list[dict[str, Any]] | None, member: str) -> dict[str, str]:
    items = items or []
    if len(items) > MAX_DIMENSIONS:
        raise InvalidParameterValue(f"The collection {member} must not have a size greater than {MAX_DIMENSIONS}.")
    out: dict[str, str] = {}
    for item in items:
        if item["Name"] in out:
            raise InvalidParameterValue(f"No duplicate dimension names allowed in {member}.")
        out[item["Name"]] = item["Value"]
    return out


def _datum(call: Call, namespace: str, datum: dict[str, Any], index: int) -> list[Datapoint]:
    member = f"MetricData.member.{index}"
    given = [name for name in ("Value", "StatisticValues", "Values") if datum.get(name) is not None]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {member}.{given[0]} and {member}.{given[1]} are mutually exclusive and you have "
            "specified both."
        )
    if not given:
        raise MissingParameter(
            f"At least one of the parameters {member}.Value, {member}.StatisticValues or {member}.Values must be "
            "specified."
        )
    dimensions = _dimensions(datum.get("Dimensions"), f"{member}.Dimensions")
    resolution = int(datum.get("StorageResolution", 60))
    if resolution not in (1, 60):
        raise InvalidParameterValue(f"The value {resolution} for parameter {member}.StorageResolution is invalid.")
    timestamp = epoch(datum["Timestamp"], f"{member}.Timestamp") if "Timestamp" in datum else call.now
    if timestamp < call.now - PAST_LIMIT_S:
        raise InvalidParameterValue(f"The parameter {member}.Timestamp must specify a time within the past two weeks.")
    if timestamp > call.now + FUTURE_LIMIT_S:
        raise InvalidParameterValue(
            f"The parameter {member}.Timestamp must specify a time no more than two hours in the future."
        )
    name, unit = datum["MetricName"], datum.get("Unit")
    if "Value" in given:
        value = _check_number(datum["Value"], f"{member}.Value")
        return [Datapoint(namespace, name, dimensions, timestamp, value, unit, storage_resolution=resolution)]
    if "StatisticValues" in given:
        stats = datum["StatisticValues"]
        numbers = {key: _check_number(stats[key], f"{member}.StatisticValues.{key}") for key in stats}
        if numbers["SampleCount"] <= 0:
            raise InvalidParameterValue(f"The value for parameter {member}.StatisticValues.SampleCount must be > 0.")
        if numbers["Minimum"] > numbers["Maximum"]:
            raise InvalidParameterValue(
                f"The parameter {member}.StatisticValues.Maximum must be greater than {member}.StatisticValues.Minimum."
            )
        return [
            Datapoint(
                namespace, name, dimensions, timestamp, None, unit,
                sample_count=numbers["SampleCount"], total=numbers["Sum"],
                minimum=numbers["Minimum"], maximum=numbers["Maximum"], storage_resolution=resolution,
            )
        ]  # fmt: skip
    values = datum["Values"]
    counts = datum.get("Counts") or [1.0] * len(values)
    if len(values) > MAX_VALUES:
        raise InvalidParameterValue(f"The collection {member}.Values must not have a size greater than {MAX_VALUES}.")
    if len(counts) != len(values):
        raise InvalidParameterValue(f"The parameters {member}.Values and {member}.Counts must be of the same size.")
    points = []
    for position, (value, count) in enumerate(zip(values, counts, strict=True), start=1):
        number = _check_number(value, f"{member}.Values.member.{position}")
        weight = _check_number(count, f"{member}.Counts.member.{position}")
        if weight <= 0:
            raise InvalidParameterValue(
                f"The value {count} for parameter {member}.Counts.member.{position} is invalid."
            )
        points.append(
            Datapoint(namespace, name, dimensions, timestamp, number, unit, count=weight, storage_resolution=resolution)
        )
    return points


@operation("PutMetricData")
def put_metric_data(call: Call, params: Params) -> Result:
    namespace = params["Namespace"]
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
    data = params.get("MetricData") or []
    if not data:
        raise MissingParameter("The parameter MetricData is required.")
    if len(data) > MAX_METRIC_DATA:
        raise InvalidParameterValue(f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA}.")
    points: list[Datapoint] = []
    for index, datum in enumerate(data, start=1):
        points.extend(_datum(call, namespace, datum, index))
    call.metrics.put_many(call.scope, points)
    return {}


def _range(call: Call, params: Params, period: int) -> tuple[float, float]:
    start, end = epoch(params["StartTime"], "StartTime"), epoch(params["EndTime"], "EndTime")
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    grain = period if 3600 % period == 0 else 60
    return math.floor(start / grain) * grain, end


@operation("GetMetricStatistics")
def get_metric_statistics(call: Call, params: Params) -> Result:
    statistics = list(params.get("Statistics") or [])
    extended = list(params.get("ExtendedStatistics") or [])
    if statistics and extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
    if not statistics and not extended:
        raise MissingParameter("Must specify either Statistics or ExtendedStatistics.")
    for name in extended:
        if percentile_rank(name) is None:
            raise InvalidParameterValue(f"The value {name} for parameter ExtendedStatistics is not a valid percentile.")
    period = int(params["Period"])
    check_period(period, "Period")
    start, end = _range(call, params, period)
    requested = math.ceil((end - start) / period)
    if requested > MAX_STATISTICS_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_STATISTICS_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )
    metric = MetricKey(params["Namespace"], params["MetricName"], _dimensions(params.get("Dimensions"), "Dimensions"))
    buckets = call.metrics.aggregate(
        call.scope, metric, start, end, period, unit=params.get("Unit"), by_unit=True, with_values=bool(extended)
    )
    datapoints = []
    for bucket in buckets:
        point: dict[str, Any] = {"Timestamp": bucket.timestamp}
        for name in statistics:
            value = bucket.statistic(name)
            if value is not None:
                point[name] = value
        if extended:
            point["ExtendedStatistics"] = {
                name: value for name in extended if (value := bucket.statistic(name)) is not None
            }
        point["Unit"] = bucket.unit
        datapoints.append(point)
    return {"Label": params["MetricName"], "Datapoints": datapoints}


@operation("GetMetricData")
def get_metric_data(call: Call, params: Params) -> Result:
    queries = params["MetricDataQueries"]
    if not queries:
        raise MissingParameter("The parameter MetricDataQueries is required.")
    check_queries(queries)
    periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
    periods += [int(q["Period"]) for q in queries if q.get("Period")]
    start, end = _range(call, params, min(periods) if periods else 60)
    results = [r for r in run_queries(call.metrics, call.scope, queries, start, end) if r.return_data]
    descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    cells = [
        (position, stamp, result.series[stamp])
        for position, result in enumerate(results)
        for stamp in sorted(result.series, reverse=descending)
    ]
    size = int(params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS)
    chosen, token = paginate(cells, params.get("NextToken"), size)
    out = []
    for position, result in enumerate(results):
        mine = [(stamp, value) for index, stamp, value in chosen if index == position]
        out.append(
            {
                "Id": result.id,
                "Label": result.label,
                "Timestamps": [stamp for stamp, _value in mine],
                "Values": [value for _stamp, value in mine],
                "StatusCode": "PartialData" if token else "Complete",
                "Messages": [],
            }
        )
    answer: Result = {"MetricDataResults": out, "Messages": []}
    if token:
        answer["NextToken"] = token
    return answer


@operation("ListMetrics")
def list_metrics(call: Call, params: Params) -> Result:
    filters = params.get("Dimensions") or []
    if len(filters) > MAX_DIMENSIONS:
        raise InvalidParameterValue(f"The collection Dimensions must not have a size greater than {MAX_DIMENSIONS}.")
    active_since = None
    if params.get("RecentlyActive"):
        if params["RecentlyActive"] != "PT3H":
            raise InvalidParameterValue(
                f"The value {params['RecentlyActive']} for parameter RecentlyActive is invalid."
            )
        active_since = call.now - RECENTLY_ACTIVE_S
    found = call.metrics.list_metrics(call.scope, params.get("Namespace"), params.get("MetricName"), active_since)
    matching = [
        metric
        for metric in found
        if all(
            f["Name"] in metric.dimensions and ("Value" not in f or metric.dimensions[f["Name"]] == f["Value"])
            for f in filters
        )
    ]
    chosen, token = paginate(matching, params.get("NextToken"), LIST_METRICS_PAGE)
    answer: Result = {
        "Metrics": [
            {"Namespace": m.namespace, "MetricName": m.name, "Dimensions": dimension_list(m.dimensions)} for m in chosen
        ]
    }
    if token:
        answer["NextToken"] = token
    return answer
