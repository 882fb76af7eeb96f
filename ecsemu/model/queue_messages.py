"""SQS messages, FIFO deduplication entries and per-queue counters: side tables of the store.

Tables (``state/tables.py``: every row is scoped by account and region, every index starts
with them):

``sqs_messages``
    One row per message in a queue. ``visible_ms`` is when it may next be received (its send
    time plus delay, then the end of each visibility timeout); ``receive_count`` how often it
    was received; ``receipt`` the token of its latest receive (the receipt handle names it).
    Indexes: ``(queue, visible_ms, receive_count)`` — "the next visible messages of queue Q" is
    an index range in order, and the three counts are index ranges; ``(queue, message_id)`` —
    a receipt handle's message; ``(queue, sent_ms)`` — retention and the oldest message's age.
``sqs_deduplication``
    FIFO deduplication ids seen in the last 5 minutes, per queue (``expires_ms``).
``sqs_counters``
    Per queue: running totals sent / received / deleted, the FIFO sequence counter, and
    ``stored``: how many messages the queue holds now (kept by every write of this module, so
    the per-queue bound is checked without counting rows).

Invariants:
- Times are integer epoch milliseconds.
- A message is *delayed* when ``visible_ms > now`` and ``receive_count = 0``, *in flight* when
  ``visible_ms > now`` and ``receive_count > 0``, *visible* otherwise.
- Every call runs inside the store's transaction (a call outside one is its own), so message
  writes commit with the record writes of the same API call.
- Counts are bounded by ecsemu's quota of messages per queue (``MAX_MESSAGES_PER_QUEUE``).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.state.store import Store
from ecsemu.state.tables import SideTable, TableSpec

MAX_MESSAGES_PER_QUEUE: Final = 100_000  # ecsemu's bound (AWS: unlimited backlog, 120,000 in flight)
MAX_DEDUPLICATION_ENTRIES: Final = 100_000  # per FIFO queue
DEDUPLICATION_WINDOW_MS: Final = 5 * 60 * 1000

MESSAGES: Final = TableSpec(
    "sqs_messages",
    columns=(
        ("queue", "TEXT"),
        ("message_id", "TEXT"),
        ("body", "TEXT"),
        ("md5_body", "TEXT"),
        ("attributes", "TEXT"),  # JSON {name: {"DataType", "StringValue" | "BinaryValue"}}
        ("md5_attributes", "TEXT"),
        ("system", "TEXT"),  # JSON: MessageGroupId, MessageDeduplicationId, SequenceNumber, ...
        ("group_id", "TEXT"),
        ("sent_ms", "INTEGER"),
        ("visible_ms", "INTEGER"),
        ("receive_count", "INTEGER"),
        ("first_receive_ms", "INTEGER"),
        ("receipt", "TEXT"),
        ("size", "INTEGER"),
    ),
    indexes=(("queue", "visible_ms", "receive_count"), ("queue", "message_id"), ("queue", "sent_ms")),
)
DEDUPLICATION: Final = TableSpec(
    "sqs_deduplication",
    columns=(
        ("queue", "TEXT"),
        ("deduplication_id", "TEXT"),
        ("message_id", "TEXT"),
        ("sequence_number", "TEXT"),
        ("expires_ms", "INTEGER"),
    ),
    indexes=(("queue", "deduplication_id"), ("queue", "expires_ms")),
)
COUNTERS: Final = TableSpec(
    "sqs_counters",
    columns=(
        ("queue", "TEXT"),
        ("sent", "INTEGER"),
        ("received", "INTEGER"),
        ("deleted", "INTEGER"),
        ("sequence", "INTEGER"),
        ("stored", "INTEGER"),
    ),
    indexes=(("queue",),),
)

_SCOPED = "account = ? AND region = ? AND queue = ?"
_COLUMNS = ", ".join(("rowid", *MESSAGES.column_names))


@dataclass(frozen=True)
class Message:
    """One stored message (``row`` is its SQLite rowid, stable while it lives)."""

    row: int
    queue: str
    message_id: str
    body: str
    md5_body: str
    attributes: dict[str, dict[str, str]]
    md5_attributes: str | None
    system: dict[str, str]
    group_id: str | None
    sent_ms: int
    visible_ms: int
    receive_count: int
    first_receive_ms: int | None
    receipt: str | None
    size: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Message:
        (rowid, queue, message_id, body, md5_body, attributes, md5_attributes, system, group_id,
         sent_ms, visible_ms, receive_count, first_receive_ms, receipt, size) = row  # fmt: skip
        return cls(
            int(rowid), queue, message_id, body, md5_body, json.loads(attributes or "{}"), md5_attributes,
            json.loads(system or "{}"), group_id, int(sent_ms), int(visible_ms), int(receive_count),
            first_receive_ms, receipt, int(size),
        )  # fmt: skip


@dataclass(frozen=True)
class Counts:
    visible: int
    not_visible: int
    delayed: int


def _scope(scope: Scope, queue: str) -> tuple[str, str, str]:
    return (scope.account_id, scope.region, queue)


class MessageTable:
    """The ``sqs_messages`` table of one store (it keeps each queue's ``stored`` count)."""

    def __init__(self, store: Store, counters: CounterTable) -> None:
        self.store = store
        self.counters = counters
        self.table = SideTable(store, MESSAGES)

    def insert(self, scope: Scope, queue: str, message: dict[str, Any]) -> None:
        row = {**message, "queue": queue}
        for key in ("attributes", "system"):
            row[key] = json.dumps(row.get(key) or {}, separators=(",", ":"))
        self.table.insert(scope, [row])
        self.counters.add(scope, queue, stored=1)

    def total(self, scope: Scope, queue: str) -> int:
        """How many messages the queue holds (O(1): the counters' ``stored``)."""
        return self.counters.stored(scope, queue)

    def counts(self, scope: Scope, queue: str, now: float) -> Counts:
        now_ms = int(now * 1000)
        with self.store.sql() as sql:
            visible = sql.execute(
                f"SELECT COUNT(*) FROM sqs_messages WHERE {_SCOPED} AND visible_ms <= ?",
                (*_scope(scope, queue), now_ms),
            ).fetchone()[0]
            in_flight, delayed = sql.execute(
                "SELECT COALESCE(SUM(receive_count > 0), 0), COALESCE(SUM(receive_count = 0), 0) "
                f"FROM sqs_messages WHERE {_SCOPED} AND visible_ms > ?",
                (*_scope(scope, queue), now_ms),
            ).fetchone()
        return Counts(int(visible), int(in_flight), int(delayed))

    def oldest_sent_ms(self, scope: Scope, queue: str) -> int | None:
        with self.store.sql() as sql:
            row = sql.execute(f"SELECT MIN(sent_ms) FROM sqs_messages WHERE {_SCOPED}", _scope(scope, queue)).fetchone()
        return None if row[0] is None else int(row[0])

    def next_visible_ms(self, scope: Scope, queue: str, now_ms: int) -> int | None:
        """When the next message not visible now becomes visible (None: none is waiting)."""
        with self.store.sql() as sql:
            row = sql.execute(
                f"SELECT MIN(visible_ms) FROM sqs_messages WHERE {_SCOPED} AND visible_ms > ?",
                (*_scope(scope, queue), now_ms),
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def visible(self, scope: Scope, queue: str, now_ms: int, limit: int) -> list[Message]:
        """Up to ``limit`` visible messages, the earliest visible first (an index range)."""
        with self.store.sql() as sql:
            rows = sql.execute(
                f"SELECT {_COLUMNS} FROM sqs_messages WHERE {_SCOPED} AND visible_ms <= ? ORDER BY visible_ms LIMIT ?",
                (*_scope(scope, queue), now_ms, limit),
            ).fetchall()
        return [Message.from_row(row) for row in rows]

    def visible_in_open_groups(self, scope: Scope, queue: str, now_ms: int, limit: int) -> list[Message]:
        """FIFO: up to ``limit`` visible messages in send order, of the message groups with no
        message in flight."""
        with self.store.sql() as sql:
            rows = sql.execute(
                f"SELECT {_COLUMNS} FROM sqs_messages WHERE {_SCOPED} AND visible_ms <= ? AND group_id NOT IN ("
                f"SELECT group_id FROM sqs_messages WHERE {_SCOPED} AND visible_ms > ? AND receive_count > 0) "
                "ORDER BY rowid LIMIT ?",
                (*_scope(scope, queue), now_ms, *_scope(scope, queue), now_ms, limit),
            ).fetchall()
        return [Message.from_row(row) for row in rows]

    def find(self, scope: Scope, queue: str, message_id: str) -> Message | None:
        with self.store.sql() as sql:
            row = sql.execute(
                f"SELECT {_COLUMNS} FROM sqs_messages WHERE {_SCOPED} AND message_id = ?",
                (*_scope(scope, queue), message_id),
            ).fetchone()
        return None if row is None else Message.from_row(row)

    def received(self, message: Message, *, visible_ms: int, receipt: str, now_ms: int) -> None:
        first = message.first_receive_ms if message.first_receive_ms is not None else now_ms
        with self.store.sql() as sql:
            sql.execute(
                "UPDATE sqs_messages SET visible_ms = ?, receipt = ?, receive_count = receive_count + 1, "
                "first_receive_ms = ? WHERE rowid = ?",
                (visible_ms, receipt, first, message.row),
            )

    def set_visible_at(self, message: Message, visible_ms: int) -> None:
        with self.store.sql() as sql:
            sql.execute("UPDATE sqs_messages SET visible_ms = ? WHERE rowid = ?", (visible_ms, message.row))

    def move(self, scope: Scope, message: Message, queue: str, *, visible_ms: int, system: dict[str, str]) -> None:
        """Move a message to another queue of its scope (redrive): it arrives never received."""
        with self.store.sql() as sql:
            sql.execute(
                "UPDATE sqs_messages SET queue = ?, visible_ms = ?, receive_count = 0, first_receive_ms = NULL, "
                "receipt = NULL, system = ? WHERE rowid = ?",
                (queue, visible_ms, json.dumps(system, separators=(",", ":")), message.row),
            )
        self.counters.add(scope, message.queue, stored=-1)
        self.counters.add(scope, queue, stored=1)

    def remove(self, scope: Scope, message: Message) -> None:
        with self.store.sql() as sql:
            sql.execute("DELETE FROM sqs_messages WHERE rowid = ?", (message.row,))
        self.counters.add(scope, message.queue, stored=-1)

    def purge(self, scope: Scope, queue: str) -> int:
        removed = self.table.delete(scope, "queue = ?", (queue,))
        self.counters.add(scope, queue, stored=-removed)
        return removed

    def expire(self, scope: Scope, queue: str, before_ms: int) -> int:
        """Drop the queue's messages sent before ``before_ms`` (its retention period)."""
        removed = self.table.delete(scope, "queue = ? AND sent_ms < ?", (queue, before_ms))
        self.counters.add(scope, queue, stored=-removed)
        return removed


class DeduplicationTable:
    """FIFO deduplication ids of the last 5 minutes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = SideTable(store, DEDUPLICATION)

    def seen(self, scope: Scope, queue: str, deduplication_id: str, now_ms: int) -> tuple[str, str] | None:
        """The (message id, sequence number) sent under this id within the window, if any."""
        self.table.delete(scope, "queue = ? AND expires_ms <= ?", (queue, now_ms))
        rows = self.table.select(scope, "queue = ? AND deduplication_id = ?", (queue, deduplication_id), limit=1)
        return (rows[0]["message_id"], rows[0]["sequence_number"]) if rows else None

    def remember(
        self, scope: Scope, queue: str, deduplication_id: str, message_id: str, sequence: str, now_ms: int
    ) -> None:
        self.table.insert(
            scope,
            [{"queue": queue, "deduplication_id": deduplication_id, "message_id": message_id,
              "sequence_number": sequence, "expires_ms": now_ms + DEDUPLICATION_WINDOW_MS}],
        )  # fmt: skip
        if self.table.count(scope, "queue = ?", (queue,)) > MAX_DEDUPLICATION_ENTRIES:
            self.table.cap(scope, MAX_DEDUPLICATION_ENTRIES, newest_by="expires_ms", where="queue = ?", params=(queue,))

    def forget(self, scope: Scope, queue: str) -> None:
        self.table.delete(scope, "queue = ?", (queue,))


class CounterTable:
    """Per-queue running totals (sent, received, deleted) and the FIFO sequence counter."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = SideTable(store, COUNTERS)

    def _ensure(self, scope: Scope, queue: str) -> None:
        if not self.table.count(scope, "queue = ?", (queue,)):
            self.table.insert(
                scope, [{"queue": queue, "sent": 0, "received": 0, "deleted": 0, "sequence": 0, "stored": 0}]
            )

    def add(
        self, scope: Scope, queue: str, *, sent: int = 0, received: int = 0, deleted: int = 0, stored: int = 0
    ) -> None:
        if not (sent or received or deleted or stored):
            return
        self._ensure(scope, queue)
        with self.store.sql() as sql:
            sql.execute(
                "UPDATE sqs_counters SET sent = sent + ?, received = received + ?, deleted = deleted + ?, "
                f"stored = stored + ? WHERE {_SCOPED}",
                (sent, received, deleted, stored, *_scope(scope, queue)),
            )

    def stored(self, scope: Scope, queue: str) -> int:
        with self.store.sql() as sql:
            row = sql.execute(f"SELECT stored FROM sqs_counters WHERE {_SCOPED}", _scope(scope, queue)).fetchone()
        return 0 if row is None else int(row[0])

    def next_sequence(self, scope: Scope, queue: str) -> int:
        self._ensure(scope, queue)
        with self.store.sql() as sql:
            sql.execute(f"UPDATE sqs_counters SET sequence = sequence + 1 WHERE {_SCOPED}", _scope(scope, queue))
            row = sql.execute(f"SELECT sequence FROM sqs_counters WHERE {_SCOPED}", _scope(scope, queue)).fetchone()
        return int(row[0])

    def read_all(self, scope: Scope) -> dict[str, tuple[int, int, int]]:
        return {row["queue"]: (row["sent"], row["received"], row["deleted"]) for row in self.table.select(scope)}

    def forget(self, scope: Scope, queue: str) -> None:
        self.table.delete(scope, "queue = ?", (queue,))


@dataclass(frozen=True)
class QueueTables:
    messages: MessageTable
    deduplication: DeduplicationTable
    counters: CounterTable


_TABLES: weakref.WeakKeyDictionary[Store, QueueTables] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def tables_of(store: Store) -> QueueTables:
    """The SQS side tables of ``store``, declared on first use (call it once at start-up,
    outside a transaction: the SQS provider does so when it is built)."""
    with _TABLES_LOCK:
        tables = _TABLES.get(store)
        if tables is None:
            counters = CounterTable(store)
            tables = QueueTables(MessageTable(store, counters), DeduplicationTable(store), counters)
            _TABLES[store] = tables
        return tables
