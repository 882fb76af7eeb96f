"""The CloudWatch provider called directly: dispatch, error codes (with their awsQuery codes),
JSON-able results, durability of metrics and alarms through a reopened durable store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.services.cloudwatch.errors import InvalidParameterValue, MissingParameter
from ecsemu.services.cloudwatch.provider import CloudWatchProvider
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")
ALARM = {
    "AlarmName": "high", "MetricName": "Depth", "Namespace": "Jobs", "Statistic": "Maximum", "Period": 60,
    "EvaluationPeriods": 1, "Threshold": 5, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}  # fmt: skip


def test_error_codes_carry_their_query_codes() -> None:
    assert (InvalidParameterValue.code, InvalidParameterValue.query_code) == (
        "InvalidParameterValueException",
        "InvalidParameterValue",
    )
    assert MissingParameter.query_code == "MissingParameter"
    provider = CloudWatchProvider(Store())
    with pytest.raises(NotSupportedError, match="PutCompositeAlarm"):
        provider.handle(CONTEXT, "PutCompositeAlarm", {})
    assert {"PutMetricData", "GetMetricData", "PutMetricAlarm", "DescribeAlarmHistory"} <= provider.implemented()


def test_datetime_timestamps_in_and_json_able_results_out() -> None:
    provider = CloudWatchProvider(Store())
    now = datetime.fromtimestamp((time.time() // 60) * 60 - 60, UTC)
    datum = {"MetricName": "Depth", "Timestamp": now, "Value": 3.0}
    provider.handle(CONTEXT, "PutMetricData", {"Namespace": "Jobs", "MetricData": [datum]})
    answer = provider.handle(CONTEXT, "GetMetricStatistics", {
        "Namespace": "Jobs", "MetricName": "Depth", "StartTime": now.isoformat(), "EndTime": now.timestamp() + 60,
        "Period": 60, "Statistics": ["Maximum"],
    })  # fmt: skip
    assert answer["Datapoints"] == [{"Timestamp": now.timestamp(), "Maximum": 3.0, "Unit": "None"}]
    provider.handle(CONTEXT, "PutMetricAlarm", ALARM)
    json.dumps(provider.handle(CONTEXT, "DescribeAlarms", {}))
    json.dumps(provider.handle(CONTEXT, "DescribeAlarmHistory", {}))


def test_metrics_and_alarms_survive_a_reopened_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store(path)
    provider = CloudWatchProvider(store)
    stamp = (time.time() // 60) * 60 - 60
    provider.handle(CONTEXT, "PutMetricData", {"Namespace": "Jobs", "MetricData": [
        {"MetricName": "Depth", "Timestamp": stamp, "Value": 9.0}]})  # fmt: skip
    provider.handle(CONTEXT, "PutMetricAlarm", ALARM)
    store.close()
    reopened = CloudWatchProvider(Store(path))
    assert reopened.handle(CONTEXT, "ListMetrics", {})["Metrics"] == [
        {"Namespace": "Jobs", "MetricName": "Depth", "Dimensions": []}
    ]
    (alarm,) = reopened.handle(CONTEXT, "DescribeAlarms", {})["MetricAlarms"]
    assert alarm["AlarmName"] == "high" and alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert len(reopened.handle(CONTEXT, "DescribeAlarmHistory", {})["AlarmHistoryItems"]) == 1
    reopened.store.close()
