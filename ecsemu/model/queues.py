"""SQS queues: the queue record, its attribute defaults, and the readers metrics use.

A queue is a record of kind ``sqs.queue`` whose id is the queue name (unique in its account
and region). Stored as JSON, keys in SQS's own words::

    {"spec": {"QueueName": str,
              "Attributes": {name: str},     # the settable attributes as set (strings, as SQS
                                             # answers them); defaults are filled on read
              "Tags": {key: value},
              "CreatedTimestamp": int,       # epoch seconds
              "LastModifiedTimestamp": int},
     "status": {"PurgeRequestedAt"?: float}} # the last PurgeQueue (one per 60 s)

A deleted queue leaves a tombstone (kind ``sqs.deleted_queue``, id the name, ``{"DeletedAt":
float}``) for 60 s: creating a queue of that name before then is ``QueueDeletedRecently``.

Messages are not records: they live in side tables (``queue_messages.py``), and so do the
per-queue running counters read here by :func:`queue_counters`.

Vocabulary
----------
visible
    A message that a ReceiveMessage may return now (``ApproximateNumberOfMessages``).
not visible (in flight)
    Received at least once and inside its visibility timeout
    (``ApproximateNumberOfMessagesNotVisible``).
delayed
    Never received and still inside its delay (``ApproximateNumberOfMessagesDelayed``).

Metrics (issue 10): :func:`queue_depths` gives each queue's counts and the age of its oldest
message at ``now`` (AWS/SQS ApproximateNumberOfMessagesVisible, ...NotVisible, ...Delayed,
ApproximateAgeOfOldestMessage). :func:`queue_counters` gives each queue's running totals of
messages sent, received and deleted since the queue was created (AWS/SQS NumberOfMessagesSent,
NumberOfMessagesReceived, NumberOfMessagesDeleted): a collector keeps the last totals it read
and publishes the difference; totals never decrease while the queue lives, and start again
at 0 for a queue deleted and created anew. Both cost O(queues) index look-ups, no table scan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ecsemu.context import Scope
from ecsemu.model.queue_messages import tables_of
from ecsemu.state.store import Record, Store

KIND: Final = "sqs.queue"
DELETED_KIND: Final = "sqs.deleted_queue"

FIFO_SUFFIX: Final = ".fifo"
MAX_QUEUES: Final = 1_000  # ecsemu's bound per account and region (ListQueues answers 1,000 at most)
MAX_TAGS: Final = 50
DELETED_RECENTLY_S: Final = 60.0
PURGE_INTERVAL_S: Final = 60.0

DEFAULT_MAXIMUM_MESSAGE_SIZE: Final = 262_144  # 256 KiB, the default
LARGEST_MAXIMUM_MESSAGE_SIZE: Final = 1_048_576  # 1 MiB, the most a queue may allow (since 2025)

# Settable attributes and their defaults (strings, as GetQueueAttributes answers them).
STANDARD_DEFAULTS: Final[Mapping[str, str]] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": str(DEFAULT_MAXIMUM_MESSAGE_SIZE),
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS: Final[Mapping[str, str]] = {
    **STANDARD_DEFAULTS,
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
# Attributes only the queue itself reports.
COMPUTED: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)


def queue_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:sqs:{scope.region}:{scope.account_id}:{name}"


@dataclass(frozen=True)
class Queue:
    """A queue as every layer reads it (attributes with their defaults filled)."""

    name: str
    attributes: Mapping[str, str]
    tags: Mapping[str, str]
    created: int
    last_modified: int
    purge_requested_at: float | None

    @property
    def fifo(self) -> bool:
        return self.name.endswith(FIFO_SUFFIX)

    @property
    def visibility_timeout_s(self) -> int:
        return int(self.attributes["VisibilityTimeout"])

    @property
    def delay_s(self) -> int:
        return int(self.attributes["DelaySeconds"])

    @property
    def retention_s(self) -> int:
        return int(self.attributes["MessageRetentionPeriod"])

    @property
    def maximum_message_size(self) -> int:
        return int(self.attributes["MaximumMessageSize"])

    @property
    def receive_wait_s(self) -> int:
        return int(self.attributes["ReceiveMessageWaitTimeSeconds"])

    @property
    def content_based_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def redrive_policy(self) -> RedrivePolicy | None:
        text = self.attributes.get("RedrivePolicy")
        return RedrivePolicy.parse(text) if text else None

    @classmethod
    def from_record(cls, record: Record) -> Queue:
        spec, status = record["spec"], record.get("status", {})
        name = spec["QueueName"]
        defaults = FIFO_DEFAULTS if name.endswith(FIFO_SUFFIX) else STANDARD_DEFAULTS
        return cls(
            name=name,
            attributes={**defaults, **spec.get("Attributes", {})},
            tags=dict(spec.get("Tags", {})),
            created=int(spec["CreatedTimestamp"]),
            last_modified=int(spec["LastModifiedTimestamp"]),
            purge_requested_at=status.get("PurgeRequestedAt"),
        )


@dataclass(frozen=True)
class RedrivePolicy:
    """A queue's dead-letter queue: messages received ``max_receive_count`` times move there."""

    dead_letter_target_arn: str
    max_receive_count: int

    @classmethod
    def parse(cls, text: str) -> RedrivePolicy | None:
        try:
            body = json.loads(text)
            return cls(str(body["deadLetterTargetArn"]), int(body["maxReceiveCount"]))
        except (ValueError, KeyError, TypeError):
            return None

    def render(self) -> str:
        return json.dumps(
            {"deadLetterTargetArn": self.dead_letter_target_arn, "maxReceiveCount": self.max_receive_count},
            separators=(",", ":"),
        )

    def target_name(self, scope: Scope) -> str | None:
        """The dead-letter queue's name when its ARN is of ``scope``; None otherwise."""
        prefix = f"arn:aws:sqs:{scope.region}:{scope.account_id}:"
        if not self.dead_letter_target_arn.startswith(prefix):
            return None
        return self.dead_letter_target_arn[len(prefix) :] or None


def get_queue(store: Store, scope: Scope, name: str) -> Queue | None:
    record = store.get(scope, KIND, name)
    return None if record is None else Queue.from_record(record)


def list_queues(store: Store, scope: Scope) -> list[Queue]:
    return [Queue.from_record(record) for record in store.list(scope, KIND)]


# -- metrics readers -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDepth:
    """One queue's message counts at a moment, and the age of its oldest message (None: empty)."""

    queue_name: str
    visible: int
    not_visible: int
    delayed: int
    oldest_age_s: float | None


@dataclass(frozen=True)
class QueueCounters:
    """Running totals since the queue was created (see the module docstring)."""

    queue_name: str
    sent: int
    received: int
    deleted: int


def queue_depths(store: Store, scope: Scope, now: float) -> list[QueueDepth]:
    """Every queue of ``scope``, in creation order, with its counts at ``now`` (epoch seconds)."""
    messages = tables_of(store).messages
    depths = []
    with store.transaction():
        for name in store.ids(scope, KIND):
            counts = messages.counts(scope, name, now)
            oldest = messages.oldest_sent_ms(scope, name)
            depths.append(
                QueueDepth(
                    queue_name=name,
                    visible=counts.visible,
                    not_visible=counts.not_visible,
                    delayed=counts.delayed,
                    oldest_age_s=None if oldest is None else max(0.0, now - oldest / 1000),
                )
            )
    return depths


def queue_counters(store: Store, scope: Scope) -> list[QueueCounters]:
    """Every queue of ``scope`` with its running totals of sent, received and deleted messages."""
    counters = tables_of(store).counters
    with store.transaction():
        names = store.ids(scope, KIND)
        totals = counters.read_all(scope)
    return [QueueCounters(name, *totals.get(name, (0, 0, 0))) for name in names]
