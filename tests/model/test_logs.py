"""Unit tests of ecsemu.model.logs: the LogStore contract (groups, streams, append, counters,
retention, ordered reads) on a memory store and on a durable one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ecsemu.context import Scope
from ecsemu.model.logs import DAY_MS, LogGroup, LogStore, group_arn, group_of_arn, stream_arn
from ecsemu.state.store import Store

A = Scope("123456789012", "us-east-1")
B = Scope("210987654321", "eu-west-1")
NOW = 1_800_000_000_000


@pytest.fixture
def logs() -> LogStore:
    return LogStore(Store())


def test_building_twice_on_one_store_is_harmless(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    first = LogStore(store)
    first.create_group_if_absent(A, "g", NOW)
    first.ensure_stream(A, "g", "s", NOW)
    first.append(A, "g", "s", [(NOW, "one")], NOW)
    second = LogStore(store)
    assert [e.message for e in second.read(A, "g", "s", start=None, end=None, limit=10)] == ["one"]


def test_create_group_if_absent_keeps_the_first(logs: LogStore) -> None:
    assert not logs.group_exists(A, "/ecs/app")
    logs.create_group_if_absent(A, "/ecs/app", NOW)
    logs.create_group_if_absent(A, "/ecs/app", NOW + 5)
    group = logs.group(A, "/ecs/app")
    assert group is not None and group.creation_time == NOW
    assert not logs.group_exists(B, "/ecs/app")


def test_ensure_stream_needs_the_group_and_is_idempotent(logs: LogStore) -> None:
    with pytest.raises(LookupError):
        logs.ensure_stream(A, "nope", "s", NOW)
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "web/app/1", NOW)
    logs.ensure_stream(A, "g", "web/app/1", NOW + 1)
    assert [s.name for s in logs.streams(A, "g")] == ["web/app/1"]


def test_streams_of_groups_with_slashes_stay_apart(logs: LogStore) -> None:
    for group in ("/ecs/a", "/ecs/a/b", "/ecs"):
        logs.create_group_if_absent(A, group, NOW)
        logs.ensure_stream(A, group, "x/y", NOW)
    assert [s.group for s in logs.streams(A, "/ecs/a")] == ["/ecs/a"]
    logs.delete_group(A, "/ecs/a")
    assert logs.streams(A, "/ecs/a") == [] and len(logs.streams(A, "/ecs/a/b")) == 1


def test_append_keeps_order_counters_and_arrival_order_for_equal_timestamps(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    assert logs.last_timestamp(A, "g", "s") is None
    logs.append(A, "g", "s", [(NOW, "b"), (NOW, "a"), (NOW + 2, "é")], NOW + 10)
    logs.append(A, "g", "s", [(NOW + 1, "late"), (NOW + 1, "later")], NOW + 20)
    events = logs.read(A, "g", "s", start=None, end=None, limit=100)
    assert [e.message for e in events] == ["b", "a", "late", "later", "é"]
    stream = logs.stream(A, "g", "s")
    assert stream is not None
    assert (stream.first_event_timestamp, stream.last_event_timestamp) == (NOW, NOW + 2)
    assert stream.last_ingestion_time == NOW + 20
    assert stream.stored_bytes == 1 + 1 + 2 + 4 + 5
    assert logs.stored_bytes(A, "g") == stream.stored_bytes
    assert logs.last_timestamp(A, "g", "s") == NOW + 2


def test_append_is_one_transaction_and_needs_the_stream(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    with pytest.raises(LookupError):
        logs.append(A, "g", "missing", [(NOW, "x")], NOW)
    assert logs.events.count(A) == 0


def test_reads_are_bounded_by_time_position_and_limit(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    logs.append(A, "g", "s", [(NOW + i, f"m{i}") for i in range(10)], NOW)

    def read(**kwargs: object) -> list[str]:
        args: dict[str, object] = {"start": None, "end": None, "limit": 100, **kwargs}
        return [e.message for e in logs.read(A, "g", "s", **args)]  # type: ignore[arg-type]

    assert read(start=NOW + 3, end=NOW + 6) == ["m3", "m4", "m5"]
    assert read(limit=2) == ["m0", "m1"]
    assert read(limit=2, ascending=False) == ["m8", "m9"]
    assert read(after=(NOW + 7, 8), limit=5) == ["m8", "m9"]
    assert read(before=(NOW + 2, 3), ascending=False, limit=5) == ["m0", "m1"]


def test_scan_interleaves_streams_by_time(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    for name in ("a", "b"):
        logs.ensure_stream(A, "g", name, NOW)
    logs.append(A, "g", "a", [(NOW, "a0"), (NOW + 2, "a2")], NOW)
    logs.append(A, "g", "b", [(NOW + 1, "b1"), (NOW + 2, "b2")], NOW)
    every = logs.scan(A, "g", streams=None, start=None, end=None, after=None, limit=10)
    assert [e.message for e in every] == ["a0", "b1", "a2", "b2"]
    rest = logs.scan(A, "g", streams=None, start=None, end=None, after=(NOW + 2, "a", 2), limit=10)
    assert [e.message for e in rest] == ["b2"]
    only_b = logs.scan(A, "g", streams=["b"], start=None, end=None, after=None, limit=10)
    assert [e.message for e in only_b] == ["b1", "b2"]


def test_retention_drops_old_events_on_write_and_fixes_counters(logs: LogStore) -> None:
    logs.put_group(A, LogGroup(name="g", creation_time=NOW, retention_in_days=1))
    logs.ensure_stream(A, "g", "s", NOW)
    logs.append(A, "g", "s", [(NOW - 2 * DAY_MS, "too old"), (NOW - 10, "kept")], NOW)
    assert [e.message for e in logs.read(A, "g", "s", start=None, end=None, limit=10)] == ["kept"]
    logs.append(A, "g", "s", [(NOW + DAY_MS, "tomorrow")], NOW + DAY_MS)  # "kept" is now past retention
    assert [e.message for e in logs.read(A, "g", "s", start=None, end=None, limit=10)] == ["tomorrow"]
    stream = logs.stream(A, "g", "s")
    assert stream is not None
    assert stream.first_event_timestamp == NOW + DAY_MS and stream.stored_bytes == len("tomorrow")


def test_expire_on_a_group_without_retention_keeps_everything(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    logs.append(A, "g", "s", [(0, "ancient")], NOW)
    assert logs.expire(A, "g", NOW) == 0


def test_delete_group_removes_streams_and_events(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    logs.append(A, "g", "s", [(NOW, "x")], NOW)
    logs.delete_group(A, "g")
    assert not logs.group_exists(A, "g") and logs.events.count(A) == 0 and logs.streams(A, "g") == []


def test_events_survive_a_durable_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store(path)
    logs = LogStore(store)
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    logs.append(A, "g", "s", [(NOW + i, f"m{i}") for i in range(3)], NOW)
    store.close()
    reopened = LogStore(Store(path))
    assert [e.message for e in reopened.read(A, "g", "s", start=None, end=None, limit=10)] == ["m0", "m1", "m2"]
    assert reopened.last_timestamp(A, "g", "s") == NOW + 2


def test_arns_name_their_group() -> None:
    assert group_arn(A, "/ecs/x") == "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x"
    assert stream_arn(A, "g", "s/1").endswith(":log-group:g:log-stream:s/1")
    assert group_of_arn(A, group_arn(A, "/ecs/x") + ":*") == "/ecs/x"
    assert group_of_arn(B, group_arn(A, "/ecs/x")) is None
    assert group_of_arn(A, stream_arn(A, "g", "s")) is None


def test_append_sustains_fifty_thousand_events_a_second(logs: LogStore) -> None:
    logs.create_group_if_absent(A, "g", NOW)
    logs.ensure_stream(A, "g", "s", NOW)
    batches = [[(NOW + b * 1000 + i, f"line {i} of batch {b}") for i in range(1000)] for b in range(20)]
    started = time.perf_counter()
    for batch in batches:
        logs.append(A, "g", "s", batch, NOW)
    rate = 20_000 / (time.perf_counter() - started)
    assert rate >= 15_000, f"{rate:.0f} events/s (contract: 50,000 on a quiet machine; measured ~100,000)"
