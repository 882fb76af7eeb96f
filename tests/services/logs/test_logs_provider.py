"""The Logs provider called directly (no gateway): rules whose requests do not fit through the
gateway's body limit, the pattern checks, and the clock of a call."""

from __future__ import annotations

from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.services.logs.base import OPERATIONS, Call, check_patterns
from ecsemu.services.logs.provider import LogsProvider
from ecsemu.state.store import Store

NOW = 1_800_000_000_000
CONTEXT = RequestContext("123456789012", "us-east-1")


@pytest.fixture
def provider() -> LogsProvider:
    provider = LogsProvider(Store())
    call(provider, "CreateLogGroup", logGroupName="g")
    call(provider, "CreateLogStream", logGroupName="g", logStreamName="s")
    return provider


def call(provider: LogsProvider, operation: str, **params: Any) -> dict[str, Any]:
    check_patterns(params)
    return OPERATIONS[operation](Call(CONTEXT, provider.logs, NOW), params)


def test_a_batch_of_exactly_one_mebibyte_is_taken_and_one_byte_more_is_refused(provider: LogsProvider) -> None:
    big = [{"timestamp": NOW, "message": "x" * (262_144 - 26)} for _ in range(4)]
    call(provider, "PutLogEvents", logGroupName="g", logStreamName="s", logEvents=big)
    over = [*big[:3], {"timestamp": NOW, "message": "x" * (262_144 - 25)}]
    with pytest.raises(AwsError) as caught:
        call(provider, "PutLogEvents", logGroupName="g", logStreamName="s", logEvents=over)
    assert caught.value.code == "InvalidParameterException"
    assert caught.value.message == "Upload too large: 1048577 bytes exceeds limit of 1048576"
    assert provider.logs.events.count(CONTEXT.scope) == 4


def test_a_page_holds_at_most_one_mebibyte(provider: LogsProvider) -> None:
    for _ in range(2):
        big = [{"timestamp": NOW, "message": "y" * (262_144 - 26)} for _ in range(4)]
        call(provider, "PutLogEvents", logGroupName="g", logStreamName="s", logEvents=big)
    page = call(provider, "GetLogEvents", logGroupName="g", logStreamName="s", startFromHead=True)
    assert len(page["events"]) == 4
    rest = call(provider, "GetLogEvents", logGroupName="g", logStreamName="s", nextToken=page["nextForwardToken"])
    assert len(rest["events"]) == 4
    found = call(provider, "FilterLogEvents", logGroupName="g")
    assert len(found["events"]) == 4 and "nextToken" in found


def test_expired_events_are_rejected_by_index(provider: LogsProvider) -> None:
    call(provider, "PutRetentionPolicy", logGroupName="g", retentionInDays=1)
    events = [
        {"timestamp": NOW - 2 * 86_400_000, "message": "expired"},
        {"timestamp": NOW - 1, "message": "kept"},
    ]
    answer = call(provider, "PutLogEvents", logGroupName="g", logStreamName="s", logEvents=events)
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}


@pytest.mark.parametrize(
    ("member", "value"),
    [("logGroupName", "has space"), ("logStreamName", "a:b"), ("logStreamName", "a*"), ("logGroupNamePrefix", "x y")],
)
def test_name_patterns_are_checked_with_aws_text(member: str, value: str) -> None:
    provider = LogsProvider(Store())
    with pytest.raises(AwsError) as caught:
        provider.handle(CONTEXT, "DescribeLogGroups", {member: value})
    assert caught.value.code == "InvalidParameterException"
    assert caught.value.message.startswith(f"1 validation error detected: Value '{value}' at '{member}'")


def test_every_unimplemented_operation_is_answered_with_a_modeled_code() -> None:
    provider = LogsProvider(Store())
    with pytest.raises(AwsError) as caught:
        provider.handle(CONTEXT, "StartQuery", {})
    assert caught.value.code == "InvalidOperationException"
    assert caught.value.message == "The CloudWatch Logs operation StartQuery is not supported by ecsemu yet."


def test_events_past_retention_are_not_answered_before_they_are_deleted(provider: LogsProvider) -> None:
    call(provider, "PutRetentionPolicy", logGroupName="g", retentionInDays=1)
    call(provider, "PutLogEvents", logGroupName="g", logStreamName="s", logEvents=[{"timestamp": NOW, "message": "m"}])
    later = Call(CONTEXT, provider.logs, NOW + 2 * 86_400_000)
    params = {"logGroupName": "g", "logStreamName": "s", "startFromHead": True}
    assert OPERATIONS["GetLogEvents"](later, params)["events"] == []
    assert OPERATIONS["FilterLogEvents"](later, {"logGroupName": "g"})["events"] == []
    assert provider.logs.events.count(CONTEXT.scope) == 1  # still stored: deleted on the next write
    assert call(provider, "GetLogEvents", **params)["events"][0]["message"] == "m"
