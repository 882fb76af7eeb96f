"""The queue model: records read with defaults, redrive policies, and the metrics readers."""

from __future__ import annotations

import time

from ecsemu.context import Scope
from ecsemu.model import queues
from ecsemu.model.queue_messages import tables_of
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")


def _queue(store: Store, name: str, **attributes: str) -> None:
    spec = {"QueueName": name, "Attributes": attributes, "Tags": {}, "CreatedTimestamp": 1, "LastModifiedTimestamp": 1}
    store.put(SCOPE, queues.KIND, name, {"spec": spec, "status": {}})


def _message(
    store: Store, queue: str, message_id: str, *, sent_ms: int, visible_ms: int, receive_count: int = 0
) -> None:
    tables_of(store).messages.insert(
        SCOPE,
        queue,
        {"message_id": message_id, "body": "b", "md5_body": "", "attributes": {}, "system": {}, "sent_ms": sent_ms,
         "visible_ms": visible_ms, "receive_count": receive_count, "size": 1},
    )  # fmt: skip


def test_defaults_fill_what_was_not_set() -> None:
    store = Store()
    _queue(store, "q", VisibilityTimeout="5")
    _queue(store, "f.fifo")
    queue = queues.get_queue(store, SCOPE, "q")
    assert queue is not None and queue.visibility_timeout_s == 5 and queue.retention_s == 345_600 and not queue.fifo
    fifo = queues.get_queue(store, SCOPE, "f.fifo")
    assert fifo is not None and fifo.fifo and fifo.attributes["FifoQueue"] == "true"
    assert not fifo.content_based_deduplication


def test_redrive_policy_parses_and_names_its_target() -> None:
    policy = queues.RedrivePolicy.parse(
        '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":"3"}'
    )
    assert policy == queues.RedrivePolicy("arn:aws:sqs:us-east-1:123456789012:dlq", 3)
    assert policy.target_name(SCOPE) == "dlq"
    assert policy.target_name(Scope("210987654321", "us-east-1")) is None
    assert queues.RedrivePolicy.parse("not json") is None


def test_queue_depths_count_visible_in_flight_delayed_and_oldest_age() -> None:
    store = Store()
    tables_of(store)
    _queue(store, "q")
    _queue(store, "empty")
    now = time.time()
    now_ms = int(now * 1000)
    _message(store, "q", "visible", sent_ms=now_ms - 10_000, visible_ms=now_ms - 10_000)
    _message(store, "q", "in-flight", sent_ms=now_ms - 5_000, visible_ms=now_ms + 30_000, receive_count=1)
    _message(store, "q", "delayed", sent_ms=now_ms, visible_ms=now_ms + 60_000)
    depths = {depth.queue_name: depth for depth in queues.queue_depths(store, SCOPE, now)}
    q = depths["q"]
    assert (q.visible, q.not_visible, q.delayed) == (1, 1, 1)
    assert q.oldest_age_s is not None and 9.9 <= q.oldest_age_s <= 10.1
    assert depths["empty"] == queues.QueueDepth("empty", 0, 0, 0, None)


def test_queue_counters_are_running_totals() -> None:
    store = Store()
    counters = tables_of(store).counters
    _queue(store, "q")
    counters.add(SCOPE, "q", sent=3)
    counters.add(SCOPE, "q", received=2, deleted=1)
    assert queues.queue_counters(store, SCOPE) == [queues.QueueCounters("q", 3, 2, 1)]
    counters.forget(SCOPE, "q")
    assert queues.queue_counters(store, SCOPE) == [queues.QueueCounters("q", 0, 0, 0)]
