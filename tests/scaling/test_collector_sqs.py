"""The metrics collector's AWS/SQS metrics: depths every sample and message counters as
differences. Fakes and readers: ``collector_support``."""

from __future__ import annotations

import time

import pytest
from collector_support import CONTEXT, T0, Wall, nothing, one

from ecsemu.scaling.collector import Collector
from ecsemu.services.sqs.provider import SqsProvider
from ecsemu.state.store import Store

# -- AWS/SQS -----------------------------------------------------------------------------------


def sqs_setup() -> tuple[Store, SqsProvider, str, Collector]:
    store = Store()
    sqs = SqsProvider(store)
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    return store, sqs, url, Collector(store, None)


def sqs_one(store: Store, name: str, at: float) -> float:
    return one(store, "AWS/SQS", name, {"QueueName": "jobs"}, at)


def test_queue_depths_every_sample() -> None:
    store, sqs, url, collector = sqs_setup()
    for index in range(5):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "later", "DelaySeconds": 600})
    received = sqs.handle(
        CONTEXT, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 2, "VisibilityTimeout": 600}
    )
    assert len(received["Messages"]) == 2
    collector.sample(T0)
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0) == 3
    assert sqs_one(store, "ApproximateNumberOfMessagesNotVisible", T0) == 2
    assert sqs_one(store, "ApproximateNumberOfMessagesDelayed", T0) == 1
    assert 0 <= sqs_one(store, "ApproximateAgeOfOldestMessage", T0) < 60
    collector.sample(T0 + 10)  # depths are published every sample
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0 + 10) == 3


def test_an_empty_queue_has_zero_depth_and_no_oldest_age() -> None:
    store, _sqs, _url, collector = sqs_setup()
    collector.sample(T0)
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0) == 0
    assert nothing(store, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "jobs"}, T0)


def test_the_oldest_message_age_grows_with_the_wall_clock() -> None:
    store = Store()
    sqs = SqsProvider(store)
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "m"})
    wall = Wall(time.time() + 120)
    Collector(store, None, wall=wall).sample(T0)
    assert sqs_one(store, "ApproximateAgeOfOldestMessage", T0) == pytest.approx(120, abs=5)


def test_message_counters_publish_their_differences() -> None:
    store, sqs, url, collector = sqs_setup()
    collector.sample(T0)
    for index in range(4):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    received = sqs.handle(
        CONTEXT, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 3, "VisibilityTimeout": 600}
    )
    sqs.handle(CONTEXT, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": received["Messages"][0]["ReceiptHandle"]})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 4
    assert sqs_one(store, "NumberOfMessagesReceived", T0 + 10) == 3
    assert sqs_one(store, "NumberOfMessagesDeleted", T0 + 10) == 1
    collector.sample(T0 + 20)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 20) == 0  # published every sample, zero when quiet


def test_the_first_sample_of_a_queue_at_start_publishes_no_history() -> None:
    # At ecsemu's start the durable totals are old: the first reading is the baseline.
    store, sqs, url, _ = sqs_setup()
    for index in range(3):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    Collector(store, None).sample(T0)
    assert sqs_one(store, "NumberOfMessagesSent", T0) == 0


def test_a_queue_created_after_the_collector_started_counts_from_zero() -> None:
    store = Store()
    sqs = SqsProvider(store)
    collector = Collector(store, None)
    collector.sample(T0)  # the collector runs; no queue yet
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    for index in range(3):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 3


def test_a_queue_created_again_counts_its_sends_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecsemu.services.sqs import provider as sqs_provider  # noqa: PLC0415

    class Later:
        offset = 0.0

        @classmethod
        def time(cls) -> float:
            return time.time() + cls.offset

    monkeypatch.setattr(sqs_provider, "time", Later)
    store, sqs, url, collector = sqs_setup()
    collector.sample(T0)
    for index in range(5):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 5
    sqs.handle(CONTEXT, "DeleteQueue", {"QueueUrl": url})
    Later.offset = 61.0  # AWS: 60 s before a queue of the same name may be created again
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    collector.sample(T0 + 20)
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "again"})
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "again"})
    collector.sample(T0 + 30)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 30) == 2
