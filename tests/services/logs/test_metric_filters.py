"""Metric filters called on the Logs provider (no gateway): Terraform's
``aws_cloudwatch_log_metric_filter`` puts, describes (by group and name prefix) and deletes them,
and a filter turns the events stored after it into CloudWatch datapoints."""

from __future__ import annotations

from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.model.metrics import MetricKey, MetricStore
from ecsemu.services.logs.base import OPERATIONS, Call, check_patterns
from ecsemu.services.logs.provider import LogsProvider
from ecsemu.state.store import Store

NOW = 1_800_000_000_000
CONTEXT = RequestContext("123456789012", "us-east-1")
ERRORS = {"metricName": "ErrorCount", "metricNamespace": "App", "metricValue": "1", "unit": "Count"}


def call(provider: LogsProvider, operation: str, **params: Any) -> dict[str, Any]:
    check_patterns(params)
    return OPERATIONS[operation](Call(CONTEXT, provider.logs, NOW), params)


def refused(provider: LogsProvider, code: str, operation: str, **params: Any) -> str:
    before = provider.store.revision
    with pytest.raises(AwsError) as caught:
        call(provider, operation, **params)
    assert caught.value.code == code, caught.value
    assert provider.store.revision == before
    return caught.value.message


@pytest.fixture
def provider() -> LogsProvider:
    provider = LogsProvider(Store())
    call(provider, "CreateLogGroup", logGroupName="/ecs/app")
    call(provider, "CreateLogStream", logGroupName="/ecs/app", logStreamName="web/1")
    return provider


def sums(provider: LogsProvider, namespace: str, name: str, dimensions: dict[str, str] | None = None) -> float:
    found = MetricStore(provider.store).aggregate(
        CONTEXT.scope,
        MetricKey(namespace, name, dimensions or {}),
        (NOW - 3_600_000) / 1000,
        (NOW + 60_000) / 1000,
        3600,
    )
    return sum(bucket.statistic("Sum") or 0.0 for bucket in found)


def test_put_describe_delete(provider: LogsProvider) -> None:
    call(provider, "PutMetricFilter", logGroupName="/ecs/app", filterName="errors", filterPattern="ERROR",
         metricTransformations=[ERRORS])  # fmt: skip
    described = call(provider, "DescribeMetricFilters", logGroupName="/ecs/app", filterNamePrefix="err")
    assert described["metricFilters"] == [
        {
            "filterName": "errors",
            "filterPattern": "ERROR",
            "metricTransformations": [ERRORS],
            "creationTime": NOW,
            "logGroupName": "/ecs/app",
            "applyOnTransformedLogs": False,
        }
    ]
    assert call(provider, "DescribeLogGroups")["logGroups"][0]["metricFilterCount"] == 1
    assert call(provider, "DescribeMetricFilters", metricName="ErrorCount", metricNamespace="App")["metricFilters"]
    assert call(provider, "DescribeMetricFilters", logGroupName="/ecs/app", filterNamePrefix="x")["metricFilters"] == []
    call(provider, "DeleteMetricFilter", logGroupName="/ecs/app", filterName="errors")
    assert call(provider, "DescribeMetricFilters")["metricFilters"] == []
    assert "does not exist" in refused(
        provider, "ResourceNotFoundException", "DeleteMetricFilter", logGroupName="/ecs/app", filterName="errors"
    )


def test_bad_filters_are_refused_and_change_nothing(provider: LogsProvider) -> None:
    put = {"logGroupName": "/ecs/app", "filterName": "f", "filterPattern": "ERROR"}
    refused(provider, "ResourceNotFoundException", "PutMetricFilter", **{**put, "logGroupName": "/missing"},
            metricTransformations=[ERRORS])  # fmt: skip
    refused(provider, "InvalidParameterException", "PutMetricFilter", **put,
            metricTransformations=[{**ERRORS, "metricValue": "lots"}])  # fmt: skip
    refused(provider, "InvalidParameterException", "PutMetricFilter", **put,
            metricTransformations=[{**ERRORS, "defaultValue": 0.0, "dimensions": {"Code": "$.code"}}])  # fmt: skip
    refused(provider, "InvalidParameterException", "PutMetricFilter", **{**put, "filterPattern": '{ $.a = "x"'},
            metricTransformations=[ERRORS])  # fmt: skip
    refused(provider, "InvalidParameterException", "PutMetricFilter", **{**put, "filterName": "a:b"},
            metricTransformations=[ERRORS])  # fmt: skip
    refused(provider, "InvalidParameterException", "DescribeMetricFilters", metricName="ErrorCount")


def test_events_stored_after_the_filter_publish_datapoints(provider: LogsProvider) -> None:
    call(provider, "PutMetricFilter", logGroupName="/ecs/app", filterName="errors", filterPattern="ERROR",
         metricTransformations=[{**ERRORS, "defaultValue": 0.0}])  # fmt: skip
    call(provider, "PutMetricFilter", logGroupName="/ecs/app", filterName="latency",
         filterPattern="{ $.latency > 0 }",
         metricTransformations=[{"metricName": "Latency", "metricNamespace": "App", "metricValue": "$.latency",
                                 "dimensions": {"Route": "$.route"}}])  # fmt: skip
    events = [
        {"timestamp": NOW - 2000, "message": "ERROR one"},
        {"timestamp": NOW - 1000, "message": '{"latency": 12.5, "route": "/a"}'},
        {"timestamp": NOW, "message": "ERROR two"},
    ]
    call(provider, "PutLogEvents", logGroupName="/ecs/app", logStreamName="web/1", logEvents=events)
    assert sums(provider, "App", "ErrorCount") == 2.0
    assert sums(provider, "App", "Latency", {"Route": "/a"}) == 12.5
    call(provider, "PutLogEvents", logGroupName="/ecs/app", logStreamName="web/1",
         logEvents=[{"timestamp": NOW, "message": "fine"}])  # fmt: skip
    assert sums(provider, "App", "ErrorCount") == 2.0  # the default value, 0, was published


def test_deleting_the_group_deletes_its_filters(provider: LogsProvider) -> None:
    call(provider, "PutMetricFilter", logGroupName="/ecs/app", filterName="errors", filterPattern="ERROR",
         metricTransformations=[ERRORS])  # fmt: skip
    call(provider, "DeleteLogGroup", logGroupName="/ecs/app")
    call(provider, "CreateLogGroup", logGroupName="/ecs/app")
    assert call(provider, "DescribeMetricFilters")["metricFilters"] == []
