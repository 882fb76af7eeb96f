"""Unit tests of ecsemu.taskenv.awslogs: datetime formats as regular expressions, the driver's
options, lines joined into events (time is an argument), and the writer through a real
LogStore on a memory store."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from ecsemu.context import Scope
from ecsemu.model.logs import LogStore
from ecsemu.state.store import Store
from ecsemu.taskenv.awslogs import (
    BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MISSING_GROUP_REASON,
    MULTILINE_FLUSH_S,
    AwsLogsOptions,
    AwsLogsWriter,
    EventJoiner,
    OptionError,
    datetime_regex,
)

TASK_SCOPE = Scope("123456789012", "us-east-1")
TASK = "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef"
SECOND_NS = 1_000_000_000
T0 = 1_800_000_000 * SECOND_NS  # a line's stamp, ns


def container(**options: str) -> dict[str, Any]:
    return {"name": "main", "logConfiguration": {"logDriver": "awslogs", "options": options}}


# --- datetime_regex ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "starts", "continues"),
    [
        ("%Y-%m-%d %H:%M:%S", "2026-12-03 12:00:01 INFO up", "  at frame 2026"),
        ("[%b %d, %Y %H:%M:%S]", "[Dec 03, 2026 12:00:01] boom", "Dec 03, 2026 12:00:01 no bracket"),
        ("%a %b %e %T %Y", "Thu Dec  3 12:00:01 2026 started", "Thu Dec 03 12:00:01 2026 two digits"),
        ("%Y-%m-%dT%H:%M:%S%L%z", "2026-12-03T12:00:01.123+0000 x", "2026-12-03T12:00:01+0000 no millis"),
        ("%d/%m/%y %I:%M %p", "03/12/26 09:15 PM ok", "03/12/26 13:15 PM bad hour"),
        ("%j %%%H", "337 %12 literal percent", "337 12 no percent"),
    ],
)
def test_datetime_regex_matches_lines_starting_with_the_format(fmt: str, starts: str, continues: str) -> None:
    pattern = datetime_regex(fmt)
    assert pattern.search(starts) is not None
    assert pattern.search(continues) is None


def test_datetime_regex_anchors_at_the_start_and_escapes_literals() -> None:
    pattern = datetime_regex("(%H:%M)")
    assert pattern.search("(12:30) x") is not None
    assert pattern.search("x (12:30)") is None  # a timestamp later in the line does not start an event
    assert pattern.search("12:30 no parentheses") is None


# --- AwsLogsOptions ---------------------------------------------------------------------------


def test_options_of_other_drivers_are_none() -> None:
    assert AwsLogsOptions.of({"name": "main"}) is None
    assert AwsLogsOptions.of({"name": "main", "logConfiguration": {"logDriver": "json-file"}}) is None


def test_options_defaults() -> None:
    options = AwsLogsOptions.of(container(**{"awslogs-group": "/ecs/app"}))
    assert options == AwsLogsOptions(
        group="/ecs/app", region=None, stream_prefix=None, create_group=False, starts_event=None
    )
    assert options.scope(TASK_SCOPE) == TASK_SCOPE


def test_options_create_group_and_region_scope() -> None:
    options = AwsLogsOptions.of(
        container(**{"awslogs-group": "g", "awslogs-create-group": "TRUE", "awslogs-region": "eu-west-1"})
    )
    assert options is not None and options.create_group
    assert options.scope(TASK_SCOPE) == Scope("123456789012", "eu-west-1")
    not_true = AwsLogsOptions.of(container(**{"awslogs-group": "g", "awslogs-create-group": "false"}))
    assert not_true is not None and not not_true.create_group


def test_stream_names_with_and_without_a_prefix() -> None:
    prefixed = AwsLogsOptions.of(container(**{"awslogs-group": "g", "awslogs-stream-prefix": "web"}))
    assert prefixed is not None
    assert prefixed.stream("main", "abc123", "f00d" * 16) == "web/main/abc123"
    bare = AwsLogsOptions.of(container(**{"awslogs-group": "g"}))
    assert bare is not None
    assert bare.stream("main", "abc123", "f00d" * 16) == "f00d" * 16  # the Docker container's id, as on EC2


def test_multiline_pattern_and_datetime_format_precedence() -> None:
    multi = AwsLogsOptions.of(container(**{"awslogs-group": "g", "awslogs-multiline-pattern": "^START"}))
    assert multi is not None and multi.starts_event is not None and multi.starts_event.pattern == "^START"
    both = AwsLogsOptions.of(
        container(**{"awslogs-group": "g", "awslogs-multiline-pattern": "^START", "awslogs-datetime-format": "%H:%M"})
    )
    # As Docker: the multiline pattern is ignored when a datetime format is given.
    assert both is not None and both.starts_event is not None
    assert both.starts_event.search("12:30 x") is not None and both.starts_event.search("START") is None


def test_a_bad_multiline_pattern_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="awslogs-multiline-pattern"):
        AwsLogsOptions.of(container(**{"awslogs-group": "g", "awslogs-multiline-pattern": "([unclosed"}))


# --- EventJoiner ------------------------------------------------------------------------------


def test_without_a_pattern_every_line_is_an_event_stamped_in_milliseconds() -> None:
    joiner = EventJoiner(None)
    events = joiner.feed([(T0 + 1_999_999, "one"), (T0 + 2_000_000, "two")], now=0.0)
    assert events == [(T0 // 1_000_000 + 1, "one"), (T0 // 1_000_000 + 2, "two")]
    assert joiner.flush() == []


def test_multiline_events_join_until_the_next_start_and_flush() -> None:
    joiner = EventJoiner(re.compile("^START"))
    lines = [(T0, "START a"), (T0 + 1_000_000, "  a1"), (T0 + 2_000_000, "  a2"), (T0 + 5_000_000, "START b")]
    assert joiner.feed(lines, now=0.0) == [(T0 // 1_000_000, "START a\n  a1\n  a2")]
    assert joiner.feed([(T0 + 6_000_000, "  b1")], now=1.0) == []
    assert joiner.flush() == [(T0 // 1_000_000 + 5, "START b\n  b1")]
    assert joiner.flush() == []


def test_lines_before_the_first_start_make_an_event_of_their_own() -> None:
    joiner = EventJoiner(re.compile("^START"))
    assert joiner.feed([(T0, "preamble"), (T0, "more"), (T0, "START x")], now=0.0) == [
        (T0 // 1_000_000, "preamble\nmore")
    ]


def test_a_pending_event_is_flushed_once_it_waited_the_flush_interval() -> None:
    joiner = EventJoiner(re.compile("^START"))
    assert joiner.feed([(T0, "START a"), (T0, "  a1")], now=100.0) == []
    assert joiner.feed([], now=100.0 + MULTILINE_FLUSH_S - 0.01) == []
    assert joiner.feed([], now=100.0 + MULTILINE_FLUSH_S) == [(T0 // 1_000_000, "START a\n  a1")]
    # A continuation line after the flush starts an event of its own.
    assert joiner.feed([(T0 + SECOND_NS, "  late")], now=106.0) == []
    assert joiner.flush() == [(T0 // 1_000_000 + 1000, "  late")]


def test_a_long_ascii_event_is_split_at_the_limit() -> None:
    message = "x" * (2 * MAX_EVENT_BYTES + 10)
    pieces = EventJoiner(None).feed([(T0, message)], now=0.0)
    assert [len(text) for _, text in pieces] == [MAX_EVENT_BYTES, MAX_EVENT_BYTES, 10]
    assert {stamp for stamp, _ in pieces} == {T0 // 1_000_000}


def test_a_long_event_is_split_into_pieces_within_the_limit() -> None:
    message = "a" + "é" * MAX_EVENT_BYTES  # the byte limit falls inside a two-byte character
    pieces = EventJoiner(None).feed([(T0, message)], now=0.0)
    assert len(pieces) >= 2
    assert all(len(text.encode()) <= MAX_EVENT_BYTES for _, text in pieces)


def test_splitting_a_long_event_keeps_every_character() -> None:
    message = "a" + "é" * MAX_EVENT_BYTES
    pieces = EventJoiner(None).feed([(T0, message)], now=0.0)
    assert "".join(text for _, text in pieces) == message


# --- AwsLogsWriter ----------------------------------------------------------------------------


@pytest.fixture
def logs() -> LogStore:
    return LogStore(Store())


def messages(logs: LogStore, scope: Scope, group: str, stream: str) -> list[tuple[int, str]]:
    return [(e.timestamp, e.message) for e in logs.read(scope, group, stream, start=None, end=None, limit=100_000)]


def test_check_group_reports_ecs_reason_when_missing(logs: LogStore) -> None:
    options = AwsLogsOptions.of(container(**{"awslogs-group": "/ecs/none"}))
    assert options is not None
    assert AwsLogsWriter(logs).check_group(options, TASK_SCOPE) == MISSING_GROUP_REASON
    assert not logs.group_exists(TASK_SCOPE, "/ecs/none")


def test_check_group_creates_it_in_the_options_region(logs: LogStore) -> None:
    options = AwsLogsOptions.of(
        container(**{"awslogs-group": "/ecs/new", "awslogs-create-group": "true", "awslogs-region": "eu-west-1"})
    )
    assert options is not None
    writer = AwsLogsWriter(logs)
    assert writer.check_group(options, TASK_SCOPE) is None
    assert logs.group_exists(Scope("123456789012", "eu-west-1"), "/ecs/new")
    assert not logs.group_exists(TASK_SCOPE, "/ecs/new")
    assert writer.check_group(options, TASK_SCOPE) is None  # present now: nothing to do


def test_check_group_accepts_an_existing_group(logs: LogStore) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "/ecs/there", 0)
    options = AwsLogsOptions.of(container(**{"awslogs-group": "/ecs/there"}))
    assert options is not None
    assert AwsLogsWriter(logs).check_group(options, TASK_SCOPE) is None


def test_write_and_end_store_events_in_order(logs: LogStore) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "g", 0)
    writer = AwsLogsWriter(logs)
    assert not writer.known(TASK, "main")
    writer.register(TASK, "main", (TASK_SCOPE, "g", "app/main/t1", None))
    assert writer.known(TASK, "main")
    writer.write(TASK, "main", [(T0 + i * 1_000_000, f"line-{i}") for i in range(BATCH_EVENTS + 5)])
    writer.end(TASK, "main")
    stored = messages(logs, TASK_SCOPE, "g", "app/main/t1")
    assert stored == [(T0 // 1_000_000 + i, f"line-{i}") for i in range(BATCH_EVENTS + 5)]
    assert not writer.known(TASK, "main")
    writer.write(TASK, "main", [(T0, "after the end")])  # unknown now: ignored
    assert len(messages(logs, TASK_SCOPE, "g", "app/main/t1")) == BATCH_EVENTS + 5


def test_register_keeps_the_first_destination(logs: LogStore) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "g", 0)
    writer = AwsLogsWriter(logs)
    writer.register(TASK, "main", (TASK_SCOPE, "g", "first", None))
    writer.register(TASK, "main", (TASK_SCOPE, "g", "second", None))
    writer.write(TASK, "main", [(T0, "x")])
    assert messages(logs, TASK_SCOPE, "g", "first") == [(T0 // 1_000_000, "x")]
    assert logs.stream(TASK_SCOPE, "g", "second") is None


def test_multiline_events_wait_for_the_end(logs: LogStore) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "g", 0)
    writer = AwsLogsWriter(logs)
    writer.register(TASK, "main", (TASK_SCOPE, "g", "s", re.compile("^START")))
    writer.write(TASK, "main", [(T0, "START one"), (T0, " a"), (T0 + 1_000_000, "START two"), (T0, " b")])
    assert messages(logs, TASK_SCOPE, "g", "s") == [(T0 // 1_000_000, "START one\n a")]
    writer.end(TASK, "main")
    assert [m for _, m in messages(logs, TASK_SCOPE, "g", "s")] == ["START one\n a", "START two\n b"]


def test_resume_after_ns_is_the_end_of_the_newest_stored_millisecond(logs: LogStore) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "g", 0)
    writer = AwsLogsWriter(logs)
    assert writer.resume_after_ns(TASK, "main") is None  # not registered
    writer.register(TASK, "main", (TASK_SCOPE, "g", "s", None))
    assert writer.resume_after_ns(TASK, "main") is None  # nothing stored
    writer.write(TASK, "main", [(T0 + 7_123_456, "a"), (T0 + 9_000_001, "b")])
    assert writer.resume_after_ns(TASK, "main") == T0 + 9_999_999


def test_a_deleted_group_drops_lines_once_with_a_warning(logs: LogStore, caplog: pytest.LogCaptureFixture) -> None:
    logs.create_group_if_absent(TASK_SCOPE, "g", 0)
    writer = AwsLogsWriter(logs)
    writer.register(TASK, "main", (TASK_SCOPE, "g", "s", None))
    writer.write(TASK, "main", [(T0, "kept")])
    logs.delete_group(TASK_SCOPE, "g")
    with caplog.at_level(logging.WARNING, logger="ecsemu.taskenv.awslogs"):
        writer.write(TASK, "main", [(T0 + 1_000_000, "dropped")])
        writer.write(TASK, "main", [(T0 + 2_000_000, "dropped too")])
        writer.end(TASK, "main")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is gone" in warnings[0].getMessage()
    assert not logs.group_exists(TASK_SCOPE, "g")


def test_a_group_that_never_existed_drops_lines_without_raising(logs: LogStore) -> None:
    writer = AwsLogsWriter(logs)
    writer.register(TASK, "main", (TASK_SCOPE, "missing", "s", None))
    writer.write(TASK, "main", [(T0, "x")])
    writer.end(TASK, "main")
    assert not logs.group_exists(TASK_SCOPE, "missing")
