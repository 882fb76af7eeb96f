"""CloudWatch Logs through boto3 (and the AWS CLI) against a live ecsemu: groups, streams, tags,
retention, PutLogEvents' batch rules, GetLogEvents' tokens, FilterLogEvents, AWS's errors with
no state change, and events surviving a restart of a durable server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import client

DAY_MS = 86_400_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def logs(endpoint: str) -> Any:
    return client("logs", endpoint)


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


def make_stream(logs: Any, group: str = "/ecs/app", stream: str = "web/app/1") -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(
    logs: Any, messages: list[str], *, start: int | None = None, group: str = "/ecs/app", stream: str = "web/app/1"
) -> None:
    base = now_ms() - 60_000 if start is None else start
    for offset in range(0, len(messages), 10_000):
        chunk = messages[offset : offset + 10_000]
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": base + offset + i, "message": m} for i, m in enumerate(chunk)],
        )


# -- groups --------------------------------------------------------------------------------


def test_log_group_lifecycle(logs: Any) -> None:
    logs.create_log_group(
        logGroupName="/ecs/app", tags={"team": "a"}, kmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k1"
    )
    assert error_of(lambda: logs.create_log_group(logGroupName="/ecs/app")) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )
    (group,) = logs.describe_log_groups()["logGroups"]
    assert group["logGroupName"] == "/ecs/app"
    assert group["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:*"
    assert group["logGroupArn"] == group["arn"][:-2]
    assert group["metricFilterCount"] == 0 and group["storedBytes"] == 0
    assert group["logGroupClass"] == "STANDARD" and "retentionInDays" not in group
    assert group["kmsKeyId"].endswith("key/k1")
    logs.delete_log_group(logGroupName="/ecs/app")
    assert logs.describe_log_groups()["logGroups"] == []
    assert error_of(lambda: logs.delete_log_group(logGroupName="/ecs/app")) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bad name", "InvalidParameterException"),
        ("aws/reserved", "InvalidParameterException"),
        ("x" * 513, "InvalidParameterException"),
    ],
)
def test_bad_group_names_are_refused_and_nothing_is_created(logs: Any, name: str, code: str) -> None:
    assert error_of(lambda: logs.create_log_group(logGroupName=name))[0] == code
    assert logs.describe_log_groups()["logGroups"] == []


def test_describe_log_groups_filters_and_pages_to_the_end(logs: Any) -> None:
    for n in range(7):
        logs.create_log_group(logGroupName=f"/svc/{'ab'[n % 2]}/g{n}")
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/svc/a")["logGroups"]] == [
        "/svc/a/g0", "/svc/a/g2", "/svc/a/g4", "/svc/a/g6",
    ]  # fmt: skip
    brief = logs.describe_log_groups(logGroupNamePattern="g3")["logGroups"]
    assert brief == [{"logGroupName": "/svc/b/g3", "creationTime": brief[0]["creationTime"], "arn": brief[0]["arn"]}]
    names = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 3})
        for g in page["logGroups"]
    ]
    assert len(names) == 7 and names == sorted(names)
    assert (
        error_of(lambda: logs.describe_log_groups(logGroupNamePrefix="/svc", logGroupNamePattern="g"))[0]
        == "InvalidParameterException"
    )
    assert error_of(lambda: logs.describe_log_groups(nextToken="not-a-token"))[0] == "InvalidParameterException"


def test_retention_policy_values_and_enforcement(logs: Any) -> None:
    make_stream(logs)
    put(logs, ["two days old"], start=now_ms() - 2 * DAY_MS)
    put(logs, ["fresh"])
    code, message = error_of(lambda: logs.put_retention_policy(logGroupName="/ecs/app", retentionInDays=2))
    assert code == "InvalidParameterException" and "Member must satisfy enum value set: [1, 3, 5, 7, 14" in message
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    logs.put_retention_policy(logGroupName="/ecs/app", retentionInDays=1)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 1
    events = logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["fresh"]
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == len("fresh")
    logs.delete_retention_policy(logGroupName="/ecs/app")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    assert (
        error_of(lambda: logs.put_retention_policy(logGroupName="/nope", retentionInDays=1))[0]
        == "ResourceNotFoundException"
    )


def test_tags_by_name_and_by_arn(logs: Any) -> None:
    logs.create_log_group(logGroupName="g", tags={"a": "1"})
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    logs.tag_log_group(logGroupName="g", tags={"b": "2"})
    logs.tag_resource(resourceArn=arn, tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName="g")["tags"] == {"a": "1", "b": "2", "c": "3"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.untag_log_group(logGroupName="g", tags=["b"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    too_many = {f"k{n}": "v" for n in range(50)}
    assert error_of(lambda: logs.tag_resource(resourceArn=arn, tags=too_many))[0] == "TooManyTagsException"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    other = arn.replace("123456789012", "999999999999")
    assert error_of(lambda: logs.list_tags_for_resource(resourceArn=other))[0] == "ResourceNotFoundException"


def test_deletion_protection_keeps_a_group(logs: Any) -> None:
    logs.create_log_group(logGroupName="kept", deletionProtectionEnabled=True)
    assert error_of(lambda: logs.delete_log_group(logGroupName="kept")) == (
        "ValidationException",
        "Cannot delete log group with deletion protection enabled. Disable deletion protection first.",
    )
    assert logs.describe_log_groups()["logGroups"][0]["deletionProtectionEnabled"] is True
    logs.put_log_group_deletion_protection(logGroupIdentifier="kept", deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName="kept")
    assert logs.describe_log_groups()["logGroups"] == []


# -- streams -------------------------------------------------------------------------------


def test_log_stream_lifecycle_and_fields(logs: Any) -> None:
    make_stream(logs)
    assert error_of(lambda: logs.create_log_stream(logGroupName="/ecs/app", logStreamName="web/app/1")) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )
    assert (
        error_of(lambda: logs.create_log_stream(logGroupName="/nope", logStreamName="s"))[0]
        == "ResourceNotFoundException"
    )
    assert (
        error_of(lambda: logs.create_log_stream(logGroupName="/ecs/app", logStreamName="a:b"))[0]
        == "InvalidParameterException"
    )
    (stream,) = logs.describe_log_streams(logGroupName="/ecs/app")["logStreams"]
    assert stream["arn"].endswith(":log-group:/ecs/app:log-stream:web/app/1")
    assert "firstEventTimestamp" not in stream and stream["storedBytes"] == 0
    start = now_ms() - 1000
    put(logs, ["a", "b"], start=start)
    (stream,) = logs.describe_log_streams(logGroupName="/ecs/app")["logStreams"]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (start, start + 1)
    assert stream["lastIngestionTime"] >= start and stream["uploadSequenceToken"]
    logs.delete_log_stream(logGroupName="/ecs/app", logStreamName="web/app/1")
    assert error_of(lambda: logs.delete_log_stream(logGroupName="/ecs/app", logStreamName="web/app/1")) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    logs.create_log_stream(logGroupName="/ecs/app", logStreamName="web/app/1")
    assert logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1")["events"] == []


def test_describe_log_streams_orders_and_pages(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    base = now_ms() - 60_000
    for n, name in enumerate(["c", "a", "b", "d", "e"]):
        logs.create_log_stream(logGroupName="g", logStreamName=name)
        put(logs, ["x"], start=base + n, group="g", stream=name)
    by_name = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c", "d", "e"]
    newest = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True, limit=2)
    assert [s["logStreamName"] for s in newest["logStreams"]] == ["e", "d"]
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName="g", orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 2}
    )
    assert [s["logStreamName"] for page in pages for s in page["logStreams"]] == ["e", "d", "b", "a", "c"]
    assert [
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="b")["logStreams"]
    ] == ["b"]
    assert error_of(
        lambda: logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="a")
    ) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    assert len(logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]) == 5
    assert (
        error_of(lambda: logs.describe_log_streams(logGroupName="g", logGroupIdentifier=arn))[0]
        == "InvalidParameterException"
    )


# -- PutLogEvents --------------------------------------------------------------------------


def test_put_log_events_batch_rules(logs: Any) -> None:
    make_stream(logs)
    now = now_ms()
    unordered = [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]
    assert error_of(
        lambda: logs.put_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", logEvents=unordered)
    ) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    assert (
        error_of(lambda: logs.put_log_events(logGroupName="/ecs/app", logStreamName="nope", logEvents=unordered[:1]))[0]
        == "ResourceNotFoundException"
    )
    assert (
        error_of(lambda: logs.put_log_events(logGroupName="/nope", logStreamName="x", logEvents=unordered[:1]))[0]
        == "ResourceNotFoundException"
    )
    assert logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1")["events"] == []
    mixed = [
        {"timestamp": now - 15 * DAY_MS, "message": "too old"},
        {"timestamp": now, "message": "ok"},
        {"timestamp": now + 3 * 3_600_000, "message": "too new"},
    ]
    answer = logs.put_log_events(
        logGroupName="/ecs/app", logStreamName="web/app/1", logEvents=mixed, sequenceToken="ignored"
    )
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 2}
    assert answer["nextSequenceToken"]
    assert [
        e["message"] for e in logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1")["events"]
    ] == ["ok"]


# -- GetLogEvents --------------------------------------------------------------------------


def test_get_log_events_tokens_walk_forward_and_backward_to_a_fixed_point(logs: Any) -> None:
    make_stream(logs)
    messages = [f"line {n}" for n in range(25)]
    put(logs, messages)
    request = {"logGroupName": "/ecs/app", "logStreamName": "web/app/1", "limit": 10}
    seen: list[str] = []
    answer = logs.get_log_events(startFromHead=True, **request)
    token = None
    for _ in range(10):
        seen += [e["message"] for e in answer["events"]]
        if answer["nextForwardToken"] == token:
            break
        token = answer["nextForwardToken"]
        assert token.startswith("f/") and answer["nextBackwardToken"].startswith("b/")
        answer = logs.get_log_events(nextToken=token, **request)
    assert seen == messages
    backward: list[str] = []
    answer = logs.get_log_events(**request)  # the newest page
    token = None
    for _ in range(10):
        backward = [e["message"] for e in answer["events"]] + backward
        if answer["nextBackwardToken"] == token:
            break
        token = answer["nextBackwardToken"]
        answer = logs.get_log_events(nextToken=token, **request)
    assert backward == messages


def test_get_log_events_time_range_identifier_and_bad_input(logs: Any) -> None:
    make_stream(logs)
    start = now_ms() - 10_000
    put(logs, [f"m{n}" for n in range(10)], start=start)
    window = logs.get_log_events(
        logGroupName="/ecs/app", logStreamName="web/app/1", startTime=start + 2, endTime=start + 5, startFromHead=True
    )
    assert [e["message"] for e in window["events"]] == ["m2", "m3", "m4"]
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    by_arn = logs.get_log_events(logGroupIdentifier=arn, logStreamName="web/app/1", limit=1)
    assert [e["message"] for e in by_arn["events"]] == ["m9"]
    assert set(by_arn["events"][0]) == {"timestamp", "message", "ingestionTime"}
    assert (
        error_of(lambda: logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", nextToken="x/1"))[0]
        == "InvalidParameterException"
    )
    assert error_of(lambda: logs.get_log_events(logGroupName="/ecs/app", logStreamName="nope")) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    assert (
        error_of(lambda: logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", limit=10_001))[0]
        == "InvalidParameterException"
    )


def test_an_empty_stream_answers_both_tokens(logs: Any) -> None:
    make_stream(logs)
    answer = logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1")
    again = logs.get_log_events(
        logGroupName="/ecs/app", logStreamName="web/app/1", nextToken=answer["nextForwardToken"]
    )
    assert answer["events"] == again["events"] == [] and again["nextForwardToken"] == answer["nextForwardToken"]
    put(logs, ["arrived later"])
    later = logs.get_log_events(
        logGroupName="/ecs/app", logStreamName="web/app/1", nextToken=answer["nextForwardToken"]
    )
    assert [e["message"] for e in later["events"]] == ["arrived later"]


# -- FilterLogEvents -----------------------------------------------------------------------


def test_filter_log_events_interleaves_streams_and_applies_patterns(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    base = now_ms() - 60_000
    for name, offset in (("a", 0), ("b", 1)):
        logs.create_log_stream(logGroupName="g", logStreamName=name)
        logs.put_log_events(
            logGroupName="g",
            logStreamName=name,
            logEvents=[
                {
                    "timestamp": base + 2 * n + offset,
                    "message": json.dumps({"level": "ERROR" if n % 2 else "INFO", "n": n, "s": name}),
                }
                for n in range(4)
            ],
        )
    every = logs.filter_log_events(logGroupName="g")
    assert [(e["logStreamName"], json.loads(e["message"])["n"]) for e in every["events"]] == [
        ("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 3),
    ]  # fmt: skip
    assert len({e["eventId"] for e in every["events"]}) == 8
    assert {s["logStreamName"] for s in every["searchedLogStreams"]} == {"a", "b"}
    errors = logs.filter_log_events(
        logGroupName="g", filterPattern='{ $.level = "ERROR" && $.n > 1 }', logStreamNames=["b"]
    )
    assert [json.loads(e["message"]) for e in errors["events"]] == [{"level": "ERROR", "n": 3, "s": "b"}]
    terms = logs.filter_log_events(logGroupName="g", filterPattern='"\\"s\\": \\"a\\"" -INFO', logStreamNamePrefix="a")
    assert [json.loads(e["message"])["n"] for e in terms["events"]] == [1, 3]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="g", PaginationConfig={"PageSize": 3})
    assert sum(len(page["events"]) for page in pages) == 8
    assert error_of(lambda: logs.filter_log_events(logGroupName="g", filterPattern="{ $.level = ")) == (
        "InvalidParameterException",
        "If a filter pattern starts with '{' it must end with '}'",
    )
    assert error_of(lambda: logs.filter_log_events(logGroupName="g", filterPattern="{ $.level == 1 }")) == (
        "InvalidParameterException",
        "Invalid filter pattern",
    )
    assert (
        error_of(lambda: logs.filter_log_events(logGroupName="g", logStreamNames=["a"], logStreamNamePrefix="a"))[0]
        == "InvalidParameterException"
    )
    code, message = error_of(lambda: logs.filter_log_events(logGroupName="g", filterPattern="[ip, user]"))
    assert code == "InvalidParameterException" and "not supported by ecsemu" in message


def test_unsupported_operations_answer_a_clear_modeled_error(logs: Any) -> None:
    code, message = error_of(logs.describe_destinations)
    assert code == "InvalidOperationException" and "DescribeDestinations" in message and "not supported" in message


def test_metric_filters_publish_cloudwatch_metrics(logs: Any, endpoint: str) -> None:
    """What Terraform's aws_cloudwatch_log_metric_filter does, and the metric it feeds."""
    logs.create_log_group(logGroupName="/ecs/mf")
    logs.create_log_stream(logGroupName="/ecs/mf", logStreamName="s")
    transformation = {"metricName": "Errors", "metricNamespace": "Mf", "metricValue": "1", "unit": "Count"}
    logs.put_metric_filter(
        logGroupName="/ecs/mf", filterName="errors", filterPattern="ERROR", metricTransformations=[transformation]
    )
    (described,) = logs.describe_metric_filters(logGroupName="/ecs/mf", filterNamePrefix="errors")["metricFilters"]
    assert described["metricTransformations"] == [transformation] and described["filterPattern"] == "ERROR"
    assert logs.describe_log_groups(logGroupNamePrefix="/ecs/mf")["logGroups"][0]["metricFilterCount"] == 1
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/ecs/mf",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "ERROR a"}, {"timestamp": now, "message": "ok"}],
    )
    cloudwatch = client("cloudwatch", endpoint)
    assert cloudwatch.list_metrics(Namespace="Mf")["Metrics"][0]["MetricName"] == "Errors"
    logs.delete_metric_filter(logGroupName="/ecs/mf", filterName="errors")
    assert logs.describe_metric_filters(logGroupName="/ecs/mf")["metricFilters"] == []
    code, _ = error_of(lambda: logs.delete_metric_filter(logGroupName="/ecs/mf", filterName="errors"))
    assert code == "ResourceNotFoundException"


# -- the AWS CLI and durability ------------------------------------------------------------


def aws_logs(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert found is not None, "the AWS CLI is not installed"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [found, "logs", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_the_aws_cli_reads_what_boto3_wrote(logs: Any, endpoint: str) -> None:
    make_stream(logs)
    put(logs, ["hello", "from", "ecsemu"])
    got = aws_logs(
        endpoint,
        "get-log-events",
        "--log-group-name",
        "/ecs/app",
        "--log-stream-name",
        "web/app/1",
        "--start-from-head",
    )
    assert got.returncode == 0, got.stderr
    assert [e["message"] for e in json.loads(got.stdout)["events"]] == ["hello", "from", "ecsemu"]
    filtered = aws_logs(
        endpoint, "filter-log-events", "--log-group-name", "/ecs/app", "--filter-pattern", "?hello ?ecsemu"
    )
    assert [e["message"] for e in json.loads(filtered.stdout)["events"]] == ["hello", "ecsemu"]
    missing = aws_logs(endpoint, "describe-log-streams", "--log-group-name", "/nope")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_events_survive_a_restart_of_a_durable_server(start_server: Callable[..., Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("--runtime", "simulated", data_dir=data)
    first = client("logs", server.endpoint)
    make_stream(first)
    put(first, [f"kept {n}" for n in range(3)])
    assert server.kill(signal.SIGTERM) == 0
    again = start_server("--runtime", "simulated", data_dir=data)
    second = client("logs", again.endpoint)
    events = second.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["kept 0", "kept 1", "kept 2"]
    (stream,) = second.describe_log_streams(logGroupName="/ecs/app")["logStreams"]
    assert stream["lastEventTimestamp"] == events[-1]["timestamp"]


def test_a_full_batch_of_a_mebibyte_goes_through_the_gateway(logs: Any) -> None:
    """10,000 events of 1,048,576 bytes in all (with AWS's 26 bytes each): the largest batch
    PutLogEvents takes, larger than that as JSON, is accepted whole."""
    make_stream(logs)
    size = 1_048_576 // 10_000 - 26
    stamp = now_ms()
    events = [{"timestamp": stamp, "message": f"{i:06d}" + "x" * (size - 6)} for i in range(10_000)]
    answer = logs.put_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", logEvents=events)
    assert "rejectedLogEventsInfo" not in answer
    page = logs.get_log_events(logGroupName="/ecs/app", logStreamName="web/app/1", startFromHead=True, limit=10_000)
    assert len(page["events"]) == 10_000 and page["events"][-1]["message"].startswith("009999")
