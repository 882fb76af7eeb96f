"""CloudWatch against the live server over JSON 1.0 (``X-Amz-Target:
GraniteServiceVersion20100801.<Op>``): metrics, statistics, metric math, alarms, history, tags;
malformed input answers AWS's error and changes nothing.

boto3 speaks RPC v2 CBOR to CloudWatch; these tests post JSON 1.0 directly until the gateway
answers CBOR (then boto3 tests join them)."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0"


def call(endpoint: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = requests.post(
        endpoint,
        headers={
            "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": AUTH,
        },
        data=json.dumps(params),
        timeout=10,
    )
    return response.status_code, response.json() if response.content else {}


def ok(endpoint: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    status, body = call(endpoint, operation, params)
    assert status == 200, body
    return body


def minute() -> float:
    return (time.time() // 60) * 60 - 120


def test_put_and_read_metrics(endpoint: str) -> None:
    t = minute()
    datum = {"MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "a"}], "Unit": "Milliseconds"}
    ok(endpoint, "PutMetricData", {"Namespace": "App", "MetricData": [
        {**datum, "Timestamp": t + 1, "Value": 10.0},
        {**datum, "Timestamp": t + 2, "Values": [20.0, 30.0], "Counts": [1, 2]},
        {**datum, "Timestamp": t + 61, "StatisticValues": {"SampleCount": 2, "Sum": 8, "Minimum": 3, "Maximum": 5}},
    ]})  # fmt: skip
    stats = ok(endpoint, "GetMetricStatistics", {
        "Namespace": "App", "MetricName": "Latency", "Dimensions": datum["Dimensions"], "StartTime": t,
        "EndTime": t + 120, "Period": 60, "Statistics": ["Sum", "SampleCount", "Maximum"],
    })  # fmt: skip
    assert stats["Label"] == "Latency"
    assert [(d["Timestamp"], d["Sum"], d["SampleCount"], d["Maximum"], d["Unit"]) for d in stats["Datapoints"]] == [
        (t, 90.0, 4.0, 30.0, "Milliseconds"),
        (t + 60, 8.0, 2.0, 5.0, "Milliseconds"),
    ]
    p = ok(endpoint, "GetMetricStatistics", {
        "Namespace": "App", "MetricName": "Latency", "Dimensions": datum["Dimensions"], "StartTime": t,
        "EndTime": t + 60, "Period": 60, "ExtendedStatistics": ["p50"],
    })  # fmt: skip
    assert p["Datapoints"][0]["ExtendedStatistics"] == {"p50": 20.0}
    listed = ok(endpoint, "ListMetrics", {"Namespace": "App", "Dimensions": [{"Name": "Api"}]})
    assert listed["Metrics"] == [{"Namespace": "App", "MetricName": "Latency", "Dimensions": datum["Dimensions"]}]
    assert ok(endpoint, "ListMetrics", {"Dimensions": [{"Name": "Api", "Value": "b"}]})["Metrics"] == []


def test_get_metric_data_math_and_pagination(endpoint: str) -> None:
    t = minute() - 180
    data = [{"MetricName": name, "Timestamp": t + 60 * k, "Value": value * (k + 1)}
            for k in range(4) for name, value in (("Errors", 1.0), ("Requests", 10.0))]  # fmt: skip
    ok(endpoint, "PutMetricData", {"Namespace": "Web", "MetricData": data})

    def stat(name: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "Web", "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "m1", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "m2", "MetricStat": stat("Requests")},
        {"Id": "e1", "Expression": "100 * m1 / m2", "Label": "rate"},
    ]
    answer = ok(endpoint, "GetMetricData", {"MetricDataQueries": queries, "StartTime": t, "EndTime": t + 240})
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert set(results) == {"m2", "e1"}
    assert results["e1"]["Label"] == "rate" and results["e1"]["Values"] == [10.0] * 4
    assert results["m2"]["Timestamps"] == [t + 180, t + 120, t + 60, t] and results["m2"]["StatusCode"] == "Complete"
    pages, token = [], None
    while True:
        params = {"MetricDataQueries": queries, "StartTime": t, "EndTime": t + 240, "MaxDatapoints": 3,
                  "ScanBy": "TimestampAscending"}  # fmt: skip
        if token:
            params["NextToken"] = token
        page = ok(endpoint, "GetMetricData", params)
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    assert len(pages) == 3 and pages[0]["MetricDataResults"][0]["StatusCode"] == "PartialData"
    assert [v for p in pages for v in p["MetricDataResults"][0]["Values"]] == [10.0, 20.0, 30.0, 40.0]
    status, body = call(endpoint, "GetMetricData", {"MetricDataQueries": [{"Id": "e1", "Expression": "m9 * 2"}],
                                                    "StartTime": t, "EndTime": t + 60})  # fmt: skip
    assert status == 400 and "InvalidParameterValue" in body["__type"] and "m9" in body["message"]


def test_malformed_puts_answer_aws_errors_and_store_nothing(endpoint: str) -> None:
    bad = [
        ({"Namespace": "AWS/ECS", "MetricData": [{"MetricName": "x", "Value": 1}]}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1, "Values": [1.0]}]}, "InvalidParameterCombination"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x"}]}, "MissingRequiredParameter"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x", "Values": [1.0, 2.0], "Counts": [1]}]}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1, "Timestamp": time.time() - 15 * 86400}]}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1, "Timestamp": time.time() + 3 * 3600}]}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "x", "Value": 1, "StorageResolution": 5}]}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "ok", "Value": 1}] + [{"MetricName": "x", "Value": 1}] * 1000}, "InvalidParameterValue"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "ok", "Value": 1}, {"MetricName": "x", "Value": 1,
          "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}]}, ""),
    ]  # fmt: skip
    for params, code in bad:
        status, body = call(endpoint, "PutMetricData", params)
        assert status == 400, (params, body)
        assert code in body["__type"], body
        assert body.get("message")
    assert ok(endpoint, "ListMetrics", {})["Metrics"] == []


def test_alarm_lifecycle(endpoint: str) -> None:
    alarm = {
        "AlarmName": "cpu-high", "MetricName": "CPU", "Namespace": "App", "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 50, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:t"],
        "Tags": [{"Key": "team", "Value": "web"}],
    }  # fmt: skip
    ok(endpoint, "PutMetricAlarm", alarm)
    (described,) = ok(endpoint, "DescribeAlarms", {"AlarmNames": ["cpu-high"]})["MetricAlarms"]
    assert described["StateValue"] == "INSUFFICIENT_DATA"
    assert described["StateReason"] == "Unchecked: Initial alarm creation"
    assert described["AlarmArn"].endswith(":alarm:cpu-high") and described["Threshold"] == 50.0
    assert described["DatapointsToAlarm"] == 2 and described["TreatMissingData"] == "notBreaching"
    arn = described["AlarmArn"]
    assert ok(endpoint, "ListTagsForResource", {"ResourceARN": arn})["Tags"] == [{"Key": "team", "Value": "web"}]
    ok(endpoint, "TagResource", {"ResourceARN": arn, "Tags": [{"Key": "env", "Value": "dev"}]})
    ok(endpoint, "UntagResource", {"ResourceARN": arn, "TagKeys": ["team"]})
    assert ok(endpoint, "ListTagsForResource", {"ResourceARN": arn})["Tags"] == [{"Key": "env", "Value": "dev"}]
    ok(endpoint, "SetAlarmState", {"AlarmName": "cpu-high", "StateValue": "ALARM", "StateReason": "testing",
                                   "StateReasonData": "{\"a\": 1}"})  # fmt: skip
    assert [a["AlarmName"] for a in ok(endpoint, "DescribeAlarms", {"StateValue": "ALARM"})["MetricAlarms"]] == [
        "cpu-high"
    ]
    assert ok(endpoint, "DescribeAlarms", {"ActionPrefix": "arn:aws:sns:"})["MetricAlarms"]
    assert ok(endpoint, "DescribeAlarms", {"AlarmNamePrefix": "mem"})["MetricAlarms"] == []
    for_metric = ok(endpoint, "DescribeAlarmsForMetric", {"MetricName": "CPU", "Namespace": "App"})
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == ["cpu-high"]
    ok(endpoint, "DisableAlarmActions", {"AlarmNames": ["cpu-high", "absent"]})
    assert ok(endpoint, "DescribeAlarms", {})["MetricAlarms"][0]["ActionsEnabled"] is False
    history = ok(endpoint, "DescribeAlarmHistory", {"AlarmName": "cpu-high"})["AlarmHistoryItems"]
    assert [h["HistoryItemType"] for h in history] == ["StateUpdate", "ConfigurationUpdate"]
    assert history[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    only = ok(endpoint, "DescribeAlarmHistory", {"HistoryItemType": "ConfigurationUpdate", "MaxRecords": 1})
    assert only["AlarmHistoryItems"][0]["HistorySummary"] == 'Alarm "cpu-high" created' and "NextToken" not in only
    ok(endpoint, "DeleteAlarms", {"AlarmNames": ["cpu-high"]})
    assert ok(endpoint, "DescribeAlarms", {})["MetricAlarms"] == []


def test_malformed_alarms_answer_aws_errors_and_change_nothing(endpoint: str) -> None:
    base = {"AlarmName": "a", "MetricName": "CPU", "Namespace": "App", "Statistic": "Average", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}  # fmt: skip
    bad = [
        ({**base, "DatapointsToAlarm": 2}, "InvalidParameterValue"),
        ({**base, "Period": 45}, "InvalidParameterValue"),
        ({**base, "ExtendedStatistic": "p90"}, "InvalidParameterCombination"),
        ({k: v for k, v in base.items() if k != "Statistic"}, "MissingRequiredParameter"),
        ({**base, "Tags": [{"Key": "aws:x", "Value": "y"}]}, "InvalidParameterValue"),
    ]
    for params, code in bad:
        status, body = call(endpoint, "PutMetricAlarm", params)
        assert status == 400 and code in body["__type"], body
    assert ok(endpoint, "DescribeAlarms", {})["MetricAlarms"] == []
    assert ok(endpoint, "DescribeAlarmHistory", {})["AlarmHistoryItems"] == []
    status, body = call(endpoint, "SetAlarmState", {"AlarmName": "nope", "StateValue": "OK", "StateReason": "r"})
    assert status == 404 and body["__type"].endswith("ResourceNotFound")
    status, body = call(endpoint, "DeleteAlarms", {"AlarmNames": ["nope"]})
    assert status == 404
    status, body = call(
        endpoint, "ListTagsForResource", {"ResourceARN": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:x"}
    )
    assert status == 404 and body["__type"].endswith("ResourceNotFoundException")
