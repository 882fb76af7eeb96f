"""ReceiveMessage: short and long polling, visibility timeouts, redrive to a dead-letter queue.

A receive takes up to MaxNumberOfMessages (1-10) visible messages, makes each invisible for
the visibility timeout (the call's, else the queue's), counts the receive and gives it a new
receipt handle. Standard queues answer the earliest visible first; FIFO queues answer in send
order and skip a message group while one of its messages is in flight.

Long polling (WaitTimeSeconds, else the queue's ReceiveMessageWaitTimeSeconds, 0-20 s): when
no message is visible the call waits (``waiters.py``), holding no store lock, and looks again
when a message is sent, made visible, or due to become visible; it answers as soon as it has
one message, or empty when the time is up.

Redrive: a message about to be received for the (maxReceiveCount + 1)th time moves, in the
same transaction, to the queue's dead-letter queue (when that queue exists in the same account
and region) with ``DeadLetterQueueSourceArn`` set, its receive count at 0 and its sent time
kept; it is not answered.

FIFO: the candidates are the first visible messages, in send order, of the message groups with
no message in flight (one query); once this call takes a message of a group, the group's next
messages may follow it in the same answer, in order.

Bound: at most ``ROUNDS`` passes of at most 10 candidates (redrive may take candidates away).
"""

from __future__ import annotations

import time
from typing import Any, Final

from ecsemu.model import queues as queue_model
from ecsemu.model.queue_messages import Message
from ecsemu.model.queues import Queue
from ecsemu.services.sqs.base import Call, Params, Result, bounded, find_queue, operation
from ecsemu.services.sqs.message_attributes import attributes_md5, select_attributes
from ecsemu.services.sqs.messages import MAX_VISIBILITY_TIMEOUT_S, new_receipt_token, receipt_handle
from ecsemu.services.sqs.queues import expire

MAX_WAIT_S: Final = 20
ROUNDS: Final = 10
SYSTEM_ATTRIBUTES: Final = frozenset({
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SequenceNumber",
    "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
})  # fmt: skip


@operation("ReceiveMessage")
def receive_message(call: Call, params: Params) -> Result:
    queue = find_queue(call, params["QueueUrl"])
    count = bounded("MaxNumberOfMessages", params.get("MaxNumberOfMessages", 1), 1, 10)
    visibility = params.get("VisibilityTimeout")
    if visibility is not None:
        bounded("VisibilityTimeout", visibility, 0, MAX_VISIBILITY_TIMEOUT_S)
    wait = params.get("WaitTimeSeconds")
    if wait is not None:
        bounded("WaitTimeSeconds", wait, 0, MAX_WAIT_S, f"Must be >= 0 and <= {MAX_WAIT_S}, if provided.")
    wait_s = queue.receive_wait_s if wait is None else wait
    names = {*(params.get("AttributeNames") or ()), *(params.get("MessageSystemAttributeNames") or ())}
    attribute_names = list(params.get("MessageAttributeNames") or ())
    deadline = time.monotonic() + wait_s
    while True:
        seen = call.waiters.generation
        call.now = time.time()
        with call.store.transaction():
            queue = find_queue(call, params["QueueUrl"])
            taken, moved = _take(call, queue, count, visibility)
            next_visible_ms = (
                None if taken else call.tables.messages.next_visible_ms(call.scope, queue.name, call.now_ms)
            )
        if moved:
            call.waiters.notify()
        if taken or time.monotonic() >= deadline:
            break
        until = deadline
        if next_visible_ms is not None:
            until = min(deadline, time.monotonic() + max(0.0, next_visible_ms / 1000 - call.now))
        if call.waiters.wait(seen, until) == "refused":
            break
    if not taken:
        return {}
    return {"Messages": [_render(call, queue, message, receipt, names, attribute_names) for message, receipt in taken]}


def _take(call: Call, queue: Queue, count: int, visibility: int | None) -> tuple[list[tuple[Message, str]], bool]:
    """Receive up to ``count`` visible messages; also whether any moved to a dead-letter queue."""
    messages = call.tables.messages
    expire(call, queue)
    dead_letter = _dead_letter_queue(call, queue)
    timeout_ms = (queue.visibility_timeout_s if visibility is None else visibility) * 1000
    taken: list[tuple[Message, str]] = []
    moved = False
    for _round in range(ROUNDS):
        limit = count - len(taken)
        if queue.fifo:
            candidates = messages.visible_in_open_groups(call.scope, queue.name, call.now_ms, limit)
        else:
            candidates = messages.visible(call.scope, queue.name, call.now_ms, limit)
        for message in candidates:
            if dead_letter is not None and message.receive_count >= dead_letter[1]:
                system = {**message.system, "DeadLetterQueueSourceArn": call.queue_arn(queue.name)}
                messages.move(call.scope, message, dead_letter[0], visible_ms=call.now_ms, system=system)
                moved = True
                continue
            token = new_receipt_token()
            messages.received(message, visible_ms=call.now_ms + timeout_ms, receipt=token, now_ms=call.now_ms)
            taken.append((message, token))
            if len(taken) == count:
                break
        if len(taken) == count or len(candidates) < limit:
            break
    if taken:
        call.tables.counters.add(call.scope, queue.name, received=len(taken))
    return taken, moved


def _dead_letter_queue(call: Call, queue: Queue) -> tuple[str, int] | None:
    policy = queue.redrive_policy
    if policy is None:
        return None
    name = policy.target_name(call.scope)
    if name is None or name == queue.name or queue_model.get_queue(call.store, call.scope, name) is None:
        return None
    return name, policy.max_receive_count


def _render(
    call: Call, queue: Queue, message: Message, token: str, names: set[str], attribute_names: list[str]
) -> Result:
    rendered: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": receipt_handle(queue.name, message.message_id, token),
        "MD5OfBody": message.md5_body,
        "Body": message.body,
    }
    if names:
        first = message.first_receive_ms if message.first_receive_ms is not None else call.now_ms
        every = {
            "SenderId": call.context.account_id,
            "SentTimestamp": str(message.sent_ms),
            "ApproximateReceiveCount": str(message.receive_count + 1),
            "ApproximateFirstReceiveTimestamp": str(first),
            **message.system,
        }
        wanted = SYSTEM_ATTRIBUTES if "All" in names else names
        attributes = {key: value for key, value in every.items() if key in wanted}
        if attributes:
            rendered["Attributes"] = attributes
    selected = select_attributes(message.attributes, attribute_names)
    if selected:
        rendered["MessageAttributes"] = selected
        rendered["MD5OfMessageAttributes"] = attributes_md5(selected)
    return rendered
