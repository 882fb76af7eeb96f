"""CloudWatch Logs: log groups and log streams (store records), their events (a side table), and
:class:`LogStore`, the one writer of events and of the streams' counters.

Records (per account and region)::

    kind "logs.group",  id <log group name>
        {"spec": {"logGroupName", "creationTime", "logGroupClass", "retentionInDays"?, "kmsKeyId"?,
                  "deletionProtectionEnabled"?, "tags": {key: value}},
         "status": {}}
    kind "logs.stream", id <group name with "/" written ":">/<log stream name>
        {"spec": {"logGroupName", "logStreamName", "creationTime"},
         "status": {"firstEventTimestamp"?, "lastEventTimestamp"?, "lastIngestionTime"?,
                    "storedBytes", "nextSeq"}}

Metric filters (kind "logs.metricFilter", under their group) are
:mod:`ecsemu.model.log_metric_filters`'s; ``append`` publishes what they turn the new events into
(CloudWatch datapoints, in the same transaction) and ``delete_group`` deletes them.

A group name never holds ``:`` and a stream name may hold ``/``, so a stream's id is "under" its
group (``Store.list(..., under=...)`` reads one group's streams without a scan).

Events live in the side table ``logs_events`` (group, stream, timestamp, seq, ingestion time,
message), indexed by (group, stream, timestamp, seq) for GetLogEvents and by (group, timestamp)
for FilterLogEvents and retention.

Invariants:
- ``seq`` numbers a stream's events in arrival order (from the stream's ``nextSeq``), so
  (timestamp, seq) orders a stream's events by time and keeps arrival order for equal
  timestamps; it is the position GetLogEvents' tokens name.
- Only :class:`LogStore` writes events and a stream's ``status``: it keeps ``storedBytes``
  (UTF-8 bytes of the messages kept), ``firstEventTimestamp`` / ``lastEventTimestamp`` (oldest
  and newest kept) and ``lastIngestionTime`` equal to what the events table holds, in the same
  transaction as the events.
- Retention: an event older than ``now - retentionInDays`` is never answered (reads filter it)
  and is deleted on the next write to its group and when a retention is set.
- Times are milliseconds since the epoch and always arguments (``now_ms``), never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from ecsemu.context import Scope
from ecsemu.model import log_metric_filters
from ecsemu.model.metrics import MetricStore
from ecsemu.state.store import Record, Store
from ecsemu.state.tables import SideTable, TableSpec

GROUP: Final = "logs.group"
STREAM: Final = "logs.stream"
SERVICE: Final = "logs"
DAY_MS: Final = 86_400_000
RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_GROUP_CLASSES: Final = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY")

EVENTS: Final = TableSpec(
    "logs_events",
    columns=(
        ("group_name", "TEXT"),
        ("stream_name", "TEXT"),
        ("timestamp", "INTEGER"),
        ("seq", "INTEGER"),
        ("ingestion_time", "INTEGER"),
        ("message", "TEXT"),
    ),
    indexes=(("group_name", "stream_name", "timestamp", "seq"), ("group_name", "timestamp")),
)
_COLUMNS: Final = "stream_name, timestamp, seq, ingestion_time, message"


def group_arn(scope: Scope, name: str) -> str:
    """The log group's ARN without AWS's trailing ``:*`` (``logGroupArn``)."""
    return f"arn:aws:{SERVICE}:{scope.region}:{scope.account_id}:log-group:{name}"


def stream_arn(scope: Scope, group: str, stream: str) -> str:
    return f"{group_arn(scope, group)}:log-stream:{stream}"


def group_of_arn(scope: Scope, text: str) -> str | None:
    """The group name an ARN of this scope names (with or without ``:*``); None otherwise."""
    prefix = group_arn(scope, "")
    if not text.startswith(prefix):
        return None
    name = text[len(prefix) :]
    name = name.removesuffix(":*")
    return name if name and ":" not in name else None


def stream_id(group: str, stream: str) -> str:
    return f"{group.replace('/', ':')}/{stream}"


def _group_head(group: str) -> str:
    return group.replace("/", ":")


@dataclass(frozen=True)
class LogGroup:
    name: str
    creation_time: int
    log_group_class: str = "STANDARD"
    retention_in_days: int | None = None
    kms_key_id: str | None = None
    deletion_protection: bool | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Record) -> LogGroup:
        spec = record["spec"]
        return cls(
            name=spec["logGroupName"],
            creation_time=int(spec["creationTime"]),
            log_group_class=spec.get("logGroupClass", "STANDARD"),
            retention_in_days=spec.get("retentionInDays"),
            kms_key_id=spec.get("kmsKeyId"),
            deletion_protection=spec.get("deletionProtectionEnabled"),
            tags=dict(spec.get("tags") or {}),
        )

    def to_record(self) -> Record:
        spec: dict[str, Any] = {
            "logGroupName": self.name,
            "creationTime": self.creation_time,
            "logGroupClass": self.log_group_class,
            "tags": dict(self.tags),
        }
        for key, value in (
            ("retentionInDays", self.retention_in_days),
            ("kmsKeyId", self.kms_key_id),
            ("deletionProtectionEnabled", self.deletion_protection),
        ):
            if value is not None:
                spec[key] = value
        return {"spec": spec, "status": {}}

    def retention_cutoff(self, now_ms: int) -> int | None:
        """Events with a timestamp below this are past the group's retention (None: kept forever)."""
        return None if self.retention_in_days is None else now_ms - self.retention_in_days * DAY_MS


@dataclass(frozen=True)
class LogStream:
    group: str
    name: str
    creation_time: int
    first_event_timestamp: int | None = None
    last_event_timestamp: int | None = None
    last_ingestion_time: int | None = None
    stored_bytes: int = 0
    next_seq: int = 1

    @classmethod
    def from_record(cls, record: Record) -> LogStream:
        spec, status = record["spec"], record.get("status") or {}
        return cls(
            group=spec["logGroupName"],
            name=spec["logStreamName"],
            creation_time=int(spec["creationTime"]),
            first_event_timestamp=status.get("firstEventTimestamp"),
            last_event_timestamp=status.get("lastEventTimestamp"),
            last_ingestion_time=status.get("lastIngestionTime"),
            stored_bytes=int(status.get("storedBytes", 0)),
            next_seq=int(status.get("nextSeq", 1)),
        )

    def to_record(self) -> Record:
        status: dict[str, Any] = {"storedBytes": self.stored_bytes, "nextSeq": self.next_seq}
        for key, value in (
            ("firstEventTimestamp", self.first_event_timestamp),
            ("lastEventTimestamp", self.last_event_timestamp),
            ("lastIngestionTime", self.last_ingestion_time),
        ):
            if value is not None:
                status[key] = value
        spec = {"logGroupName": self.group, "logStreamName": self.name, "creationTime": self.creation_time}
        return {"spec": spec, "status": status}

    @property
    def upload_sequence_token(self) -> str:
        return f"{self.next_seq:056d}"


class LogEvent(NamedTuple):
    """One stored event (a tuple: read by the hundred thousand, built straight from SQLite rows)."""

    stream: str
    timestamp: int
    seq: int
    ingestion_time: int
    message: str

    @property
    def key(self) -> tuple[int, int]:
        """Its position in its stream."""
        return (self.timestamp, self.seq)


def message_bytes(message: str) -> int:
    """The message's size in UTF-8 (ASCII text, the common case, without encoding it)."""
    return len(message) if message.isascii() else len(message.encode("utf-8"))


class LogStore:
    """Groups, streams and events of one store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events = SideTable(store, EVENTS)  # CREATE ... IF NOT EXISTS: building twice is harmless
        self.metrics = MetricStore(store)  # where the groups' metric filters publish

    # -- groups ----------------------------------------------------------------------------

    def group(self, scope: Scope, name: str) -> LogGroup | None:
        record = self.store.get(scope, GROUP, name)
        return None if record is None else LogGroup.from_record(record)

    def groups(self, scope: Scope) -> list[LogGroup]:
        return sorted((LogGroup.from_record(record) for record in self.store.list(scope, GROUP)), key=_name)

    def group_exists(self, scope: Scope, group: str) -> bool:
        return self.store.get(scope, GROUP, group) is not None

    def put_group(self, scope: Scope, group: LogGroup) -> None:
        self.store.put(scope, GROUP, group.name, group.to_record())

    def create_group_if_absent(self, scope: Scope, group: str, now_ms: int) -> None:
        with self.store.transaction():
            if not self.group_exists(scope, group):
                self.put_group(scope, LogGroup(name=group, creation_time=now_ms))

    def delete_group(self, scope: Scope, group: str) -> None:
        """The group, its streams and their events."""
        with self.store.transaction():
            for record_id in self.store.ids(scope, STREAM, under=_group_head(group)):
                self.store.delete(scope, STREAM, record_id)
            for metric_filter in log_metric_filters.filters_of(self.store, scope, group):
                self.store.delete(
                    scope, log_metric_filters.KIND, log_metric_filters.record_id(group, metric_filter.name)
                )
            self.events.delete(scope, "group_name = ?", (group,))
            self.store.delete(scope, GROUP, group)

    def stored_bytes(self, scope: Scope, group: str) -> int:
        return sum(stream.stored_bytes for stream in self.streams(scope, group))

    # -- streams ---------------------------------------------------------------------------

    def stream(self, scope: Scope, group: str, name: str) -> LogStream | None:
        record = self.store.get(scope, STREAM, stream_id(group, name))
        return None if record is None else LogStream.from_record(record)

    def streams(self, scope: Scope, group: str) -> list[LogStream]:
        records = self.store.list(scope, STREAM, under=_group_head(group))
        return [LogStream.from_record(record) for record in records]

    def put_stream(self, scope: Scope, stream: LogStream) -> None:
        self.store.put(scope, STREAM, stream_id(stream.group, stream.name), stream.to_record())

    def ensure_stream(self, scope: Scope, group: str, stream: str, now_ms: int) -> None:
        """Create the stream unless it exists; LookupError if the group does not exist."""
        with self.store.transaction():
            if not self.group_exists(scope, group):
                raise LookupError(group)
            if self.stream(scope, group, stream) is None:
                self.put_stream(scope, LogStream(group=group, name=stream, creation_time=now_ms))

    def delete_stream(self, scope: Scope, group: str, stream: str) -> None:
        with self.store.transaction():
            self.events.delete(scope, "group_name = ? AND stream_name = ?", (group, stream))
            self.store.delete(scope, STREAM, stream_id(group, stream))

    # -- events: writes --------------------------------------------------------------------

    def append(self, scope: Scope, group: str, stream: str, events: Sequence[tuple[int, str]], now_ms: int) -> None:
        """Add ``(timestamp ms, message)`` events, in order, to an existing stream (LookupError
        if the group or stream does not exist); events past the group's retention are dropped."""
        with self.store.transaction():
            log_group = self.group(scope, group)
            current = self.stream(scope, group, stream)
            if log_group is None or current is None:
                raise LookupError(f"{group}/{stream}")
            cutoff = log_group.retention_cutoff(now_ms)
            if cutoff is not None:
                self._expire(scope, group, cutoff)
                current = self.stream(scope, group, stream) or current
                events = [event for event in events if event[0] >= cutoff]
            if not events:
                return
            seq = current.next_seq
            rows = [
                (scope.account_id, scope.region, group, stream, timestamp, seq + index, now_ms, message)
                for index, (timestamp, message) in enumerate(events)
            ]
            with self.store.sql() as connection:
                connection.executemany(
                    "INSERT INTO logs_events (account, region, group_name, stream_name, timestamp, seq, "
                    "ingestion_time, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            first, last = min(event[0] for event in events), max(event[0] for event in events)
            self.put_stream(
                scope,
                LogStream(
                    group=group,
                    name=stream,
                    creation_time=current.creation_time,
                    first_event_timestamp=_least(current.first_event_timestamp, first),
                    last_event_timestamp=max(current.last_event_timestamp or last, last),
                    last_ingestion_time=now_ms,
                    stored_bytes=current.stored_bytes + sum(message_bytes(message) for _ts, message in events),
                    next_seq=seq + len(events),
                ),
            )
            published = [
                datapoint
                for metric_filter in log_metric_filters.filters_of(self.store, scope, group)
                for datapoint in log_metric_filters.datapoints(metric_filter, events, now_ms)
            ]
            self.metrics.put_many(scope, published)

    def expire(self, scope: Scope, group: str, now_ms: int) -> int:
        """Delete the group's events past its retention; how many went."""
        with self.store.transaction():
            log_group = self.group(scope, group)
            cutoff = None if log_group is None else log_group.retention_cutoff(now_ms)
            return 0 if cutoff is None else self._expire(scope, group, cutoff)

    def _expire(self, scope: Scope, group: str, cutoff: int) -> int:
        scoped = (scope.account_id, scope.region, group)
        where = "account = ? AND region = ? AND group_name = ?"
        with self.store.sql() as connection:
            if (
                connection.execute(
                    f"SELECT 1 FROM logs_events WHERE {where} AND timestamp < ? LIMIT 1", (*scoped, cutoff)
                ).fetchone()
                is None
            ):
                return 0
            dropped = connection.execute(
                f"SELECT stream_name, COUNT(*), SUM(length(CAST(message AS BLOB))) FROM logs_events "
                f"WHERE {where} AND timestamp < ? GROUP BY stream_name",
                (*scoped, cutoff),
            ).fetchall()
            connection.execute(f"DELETE FROM logs_events WHERE {where} AND timestamp < ?", (*scoped, cutoff))
            total = 0
            for name, count, size in dropped:
                total += int(count)
                current = self.stream(scope, group, name)
                if current is None:
                    continue
                bounds = connection.execute(
                    f"SELECT MIN(timestamp), MAX(timestamp) FROM logs_events WHERE {where} AND stream_name = ?",
                    (*scoped, name),
                ).fetchone()
                self.put_stream(
                    scope,
                    LogStream(
                        group=group,
                        name=name,
                        creation_time=current.creation_time,
                        first_event_timestamp=bounds[0],
                        last_event_timestamp=bounds[1] if bounds[1] is not None else current.last_event_timestamp,
                        last_ingestion_time=current.last_ingestion_time,
                        stored_bytes=max(0, current.stored_bytes - int(size or 0)),
                        next_seq=current.next_seq,
                    ),
                )
        return total

    # -- events: reads ---------------------------------------------------------------------

    def last_timestamp(self, scope: Scope, group: str, stream: str) -> int | None:
        current = self.stream(scope, group, stream)
        return None if current is None else current.last_event_timestamp

    def read(
        self,
        scope: Scope,
        group: str,
        stream: str,
        *,
        start: int | None,
        end: int | None,
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
        ascending: bool = True,
        limit: int,
    ) -> list[LogEvent]:
        """One stream's events with ``start <= timestamp < end`` and key strictly between
        ``after`` and ``before``, the first ``limit`` of them from the oldest (``ascending``) or
        from the newest; always answered oldest first."""
        clauses = ["account = ? AND region = ? AND group_name = ? AND stream_name = ?"]
        params: list[Any] = [scope.account_id, scope.region, group, stream]
        _bounds(clauses, params, start, end, after, before)
        direction = "ASC" if ascending else "DESC"
        sql = (
            f"SELECT {_COLUMNS} FROM logs_events WHERE {' AND '.join(clauses)} "
            f"ORDER BY timestamp {direction}, seq {direction} LIMIT ?"
        )
        with self.store.sql() as connection:
            rows = connection.execute(sql, (*params, limit)).fetchall()
        events = list(map(LogEvent._make, rows))
        return events if ascending else events[::-1]

    def scan(
        self,
        scope: Scope,
        group: str,
        *,
        streams: Iterable[str] | None,
        start: int | None,
        end: int | None,
        after: tuple[int, str, int] | None,
        limit: int,
    ) -> list[LogEvent]:
        """The group's events (of ``streams`` when given) in (timestamp, stream, seq) order,
        with ``start <= timestamp < end``, strictly after the position ``after``."""
        clauses = ["account = ? AND region = ? AND group_name = ?"]
        params: list[Any] = [scope.account_id, scope.region, group]
        _bounds(clauses, params, start, end, None, None)
        if streams is not None:
            names = sorted(set(streams))
            if not names:
                return []
            clauses.append(f"stream_name IN ({', '.join('?' for _ in names)})")
            params.extend(names)
        if after is not None:
            clauses.append("(timestamp, stream_name, seq) > (?, ?, ?)")
            params.extend(after)
        sql = (
            f"SELECT {_COLUMNS} FROM logs_events WHERE {' AND '.join(clauses)} "
            "ORDER BY timestamp, stream_name, seq LIMIT ?"
        )
        with self.store.sql() as connection:
            rows = connection.execute(sql, (*params, limit)).fetchall()
        return list(map(LogEvent._make, rows))


def _bounds(
    clauses: list[str],
    params: list[Any],
    start: int | None,
    end: int | None,
    after: tuple[int, int] | None,
    before: tuple[int, int] | None,
) -> None:
    if start is not None:
        clauses.append("timestamp >= ?")
        params.append(start)
    if end is not None:
        clauses.append("timestamp < ?")
        params.append(end)
    if after is not None:
        clauses.append("(timestamp, seq) > (?, ?)")
        params.extend(after)
    if before is not None:
        clauses.append("(timestamp, seq) < (?, ?)")
        params.extend(before)


def _least(current: int | None, candidate: int) -> int:
    return candidate if current is None else min(current, candidate)


def _name(group: LogGroup) -> str:
    return group.name
