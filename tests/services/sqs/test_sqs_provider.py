"""The SQS provider called directly (no gateway): long polling, durability, retention, receipt
handles, message attribute digests and selection."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.services.sqs.errors import BatchRequestTooLong, QueueDoesNotExist, ReceiptHandleIsInvalid
from ecsemu.services.sqs.message_attributes import attributes_md5, select_attributes
from ecsemu.services.sqs.provider import SqsProvider
from ecsemu.services.sqs.waiters import QueueWaiters
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")


def _create(provider: SqsProvider, name: str, **attributes: str) -> str:
    url: str = provider.handle(CONTEXT, "CreateQueue", {"QueueName": name, "Attributes": attributes})["QueueUrl"]
    return url


def test_queue_urls_use_the_base_url_and_accept_other_hosts() -> None:
    provider = SqsProvider(Store(), base_url="http://localhost:9999/")
    url = _create(provider, "q")
    assert url == "http://localhost:9999/123456789012/q"
    provider.handle(CONTEXT, "SendMessage", {"QueueUrl": "http://elsewhere:1/123456789012/q", "MessageBody": "x"})
    with pytest.raises(QueueDoesNotExist):
        provider.handle(
            CONTEXT, "SendMessage", {"QueueUrl": "http://localhost:9999/000000000000/q", "MessageBody": "x"}
        )


def test_long_poll_wakes_early_and_holds_no_store_lock() -> None:
    provider = SqsProvider(Store())
    url = _create(provider, "q")
    answers: list[Any] = []

    def receive() -> None:
        answers.append(provider.handle(CONTEXT, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 10}))

    thread = threading.Thread(target=receive)
    started = time.monotonic()
    thread.start()
    deadline = time.monotonic() + 5
    while provider.waiters.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.waiters.waiting == 1
    with provider.store.transaction():  # the store is free while the receiver waits
        provider.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "wake"})
    thread.join(timeout=10)
    assert answers[0]["Messages"][0]["Body"] == "wake"
    assert time.monotonic() - started < 5


def test_waiters_are_bounded() -> None:
    waiters = QueueWaiters(max_waiters=0)
    assert waiters.wait(waiters.generation, time.monotonic() + 10) == "refused"
    waiters = QueueWaiters()
    assert waiters.wait(waiters.generation, time.monotonic() + 0.01) == "timeout"


def test_messages_survive_a_reopened_durable_store(tmp_path: Path) -> None:
    path = tmp_path / "data" / "state.db"
    store = Store(path)
    provider = SqsProvider(store)
    url = _create(provider, "durable")
    sent = provider.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "kept"})
    store.close()
    reopened = SqsProvider(Store(path))
    got = reopened.handle(CONTEXT, "ReceiveMessage", {"QueueUrl": url})
    assert got["Messages"][0]["MessageId"] == sent["MessageId"]
    reopened.store.close()


def test_retention_drops_old_messages() -> None:
    provider = SqsProvider(Store())
    url = _create(provider, "short", MessageRetentionPeriod="60")
    provider.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "old"})
    with provider.store.sql() as sql:  # age the message past the retention period
        sql.execute("UPDATE sqs_messages SET sent_ms = sent_ms - 61000")
    attributes = provider.handle(CONTEXT, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_receipt_handle_of_another_queue_is_invalid() -> None:
    provider = SqsProvider(Store())
    first, second = _create(provider, "a"), _create(provider, "b")
    provider.handle(CONTEXT, "SendMessage", {"QueueUrl": first, "MessageBody": "x"})
    handle = provider.handle(CONTEXT, "ReceiveMessage", {"QueueUrl": first})["Messages"][0]["ReceiptHandle"]
    with pytest.raises(ReceiptHandleIsInvalid):
        provider.handle(CONTEXT, "DeleteMessage", {"QueueUrl": second, "ReceiptHandle": handle})


def test_attribute_digest_and_selection() -> None:
    attributes = {"b": {"DataType": "String", "StringValue": "v"}, "a.x": {"DataType": "Binary", "BinaryValue": "AAE="}}
    # The digest covers names in order, so the order of the dict does not matter.
    assert attributes_md5(attributes) == attributes_md5(dict(reversed(list(attributes.items()))))
    assert attributes_md5({}) is None
    assert set(select_attributes(attributes, ["a.*"])) == {"a.x"}
    assert set(select_attributes(attributes, ["All"])) == {"a.x", "b"}
    assert select_attributes(attributes, []) == {}


def test_attribute_digest_matches_aws() -> None:
    # From a message SQS itself delivered (a Lambda SQS event): one String attribute.
    attributes = {"sample-attribute": {"DataType": "String", "StringValue": "sample-value"}}
    assert attributes_md5(attributes) == "7c815262be77a62f56671125069ca888"


def test_batch_of_more_than_one_mebibyte_is_too_long() -> None:
    provider = SqsProvider(Store())
    url = _create(provider, "big", MaximumMessageSize="1048576")
    entries = [{"Id": f"m{index}", "MessageBody": "x" * 400_000} for index in range(3)]
    with pytest.raises(BatchRequestTooLong, match=r"cannot be longer than 1048576 bytes\. You have sent 1200000 bytes"):
        provider.handle(CONTEXT, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    attributes = provider.handle(CONTEXT, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    sent = provider.handle(CONTEXT, "SendMessageBatch", {"QueueUrl": url, "Entries": entries[:2]})
    assert len(sent["Successful"]) == 2
