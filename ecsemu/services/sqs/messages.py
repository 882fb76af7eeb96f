"""Sending and settling messages: SendMessage(Batch), DeleteMessage(Batch),
ChangeMessageVisibility(Batch).

Vocabulary
----------
receipt handle
    Opaque to clients: urlsafe base64 of ``<queue>\\n<message id>\\n<token>``, where the token
    is drawn anew at each receive and kept with the message. Only the latest receive's handle
    deletes the message or changes its visibility; an older one deletes nothing (and succeeds,
    as SQS documents). A handle that does not decode, or names another queue, is
    ``ReceiptHandleIsInvalid``.
batch
    1 to 10 entries with distinct ids (``[A-Za-z0-9_-]{1,80}``); each entry succeeds or fails
    alone (``Failed`` with the error's query code, ``SenderFault: true``), while a fault of the
    batch itself (empty, too many, repeated or malformed ids, too long) fails the whole call
    and changes nothing.

Invariants:
- A message's size is its body's UTF-8 bytes plus its attributes' names, types and values; it
  is at most the queue's MaximumMessageSize (256 KiB unless set, up to 1 MiB), and a batch's
  sum at most 1 MiB (the gateway's 1 MiB body limit comes first for JSON-escaped input).
- FIFO: a message needs a MessageGroupId; a deduplication id (given, or the SHA-256 of the
  body when ContentBasedDeduplication) seen within 5 minutes returns the first message's id
  and enqueues nothing. Messages carry a SequenceNumber, increasing per queue.
- Waiting receivers are woken after the write commits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any, Final

from ecsemu.model import queue_messages
from ecsemu.model.queues import Queue
from ecsemu.services.sqs.base import Call, Params, Result, bounded, find_queue, operation
from ecsemu.services.sqs.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    OverLimit,
    ReceiptHandleIsInvalid,
    SqsError,
    TooManyEntriesInBatchRequest,
)
from ecsemu.services.sqs.message_attributes import attributes_md5, check_attributes, check_body, md5_hex
from ecsemu.services.sqs.queues import expire

MAX_BATCH_ENTRIES: Final = 10
MAX_BATCH_BYTES: Final = 1_048_576  # a batch carries at most 1 MiB (as one message may)
MAX_VISIBILITY_TIMEOUT_S: Final = 43_200
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FIFO_ID = re.compile(r"^[!-~]{1,128}$")


# -- receipt handles -----------------------------------------------------------------------


def receipt_handle(queue: str, message_id: str, token: str) -> str:
    return base64.urlsafe_b64encode(f"{queue}\n{message_id}\n{token}".encode()).decode()


def read_receipt_handle(queue: Queue, handle: str) -> tuple[str, str]:
    """(message id, token) of a handle for ``queue``."""
    invalid = ReceiptHandleIsInvalid(f'The input receipt handle "{handle}" is not a valid receipt handle.')
    try:
        parts = base64.urlsafe_b64decode(handle.encode()).decode().split("\n")
    except (binascii.Error, ValueError, UnicodeError) as error:
        raise invalid from error
    if len(parts) != 3 or parts[0] != queue.name or not parts[1] or not parts[2]:
        raise invalid
    return parts[1], parts[2]


# -- batches -------------------------------------------------------------------------------


def check_batch(entries: list[dict[str, Any]], entry_kind: str) -> None:
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {entry_kind} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
        if not _ENTRY_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long."
            )


def run_batch(entries: list[dict[str, Any]], each: Callable[[dict[str, Any]], Result]) -> Result:
    successful, failed = [], []
    for entry in entries:
        try:
            successful.append({"Id": entry["Id"], **each(entry)})
        except SqsError as error:
            failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.query_code, "Message": error.message})
    return {"Successful": successful, "Failed": failed}


# -- sending -------------------------------------------------------------------------------


def _prepared(queue: Queue, entry: Params) -> tuple[dict[str, Any], int]:
    """The message row to insert (without id and times) and its size; raises for a fault."""
    body = entry["MessageBody"]
    check_body(body)
    attributes, attributes_size = check_attributes(entry.get("MessageAttributes") or {})
    system, _system_size = check_attributes(entry.get("MessageSystemAttributes") or {}, system=True)
    size = len(body.encode()) + attributes_size
    if size > queue.maximum_message_size:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {queue.maximum_message_size} bytes."
        )
    delay = entry.get("DelaySeconds")
    if delay is not None:
        bounded("DelaySeconds", delay, 0, 900, "DelaySeconds must be >= 0 and <= 900.")
        if queue.fifo and delay:
            raise InvalidParameterValue(
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that "
                "is not valid for this queue type."
            )
    group = entry.get("MessageGroupId")
    deduplication = entry.get("MessageDeduplicationId")
    if queue.fifo:
        if not group:
            raise MissingParameter("The request must contain the parameter MessageGroupId.")
        if deduplication is None and queue.content_based_deduplication:
            deduplication = hashlib.sha256(body.encode()).hexdigest()
        if deduplication is None:
            raise InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
                "explicitly"
            )
    elif deduplication is not None:
        raise InvalidParameterValue(
            f"Value {deduplication} for parameter MessageDeduplicationId is invalid. Reason: The request includes "
            "a parameter that is not valid for this queue type."
        )
    for name, value in (("MessageGroupId", group), ("MessageDeduplicationId", deduplication)):
        if value is not None and not _FIFO_ID.match(value):
            raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: Invalid characters.")
    system_values = {name: value.get("StringValue", "") for name, value in system.items()}
    if group:
        system_values["MessageGroupId"] = group
    if deduplication is not None:
        system_values["MessageDeduplicationId"] = deduplication
    row = {
        "body": body, "md5_body": md5_hex(body), "attributes": attributes, "md5_attributes": attributes_md5(attributes),
        "system": system_values, "group_id": group, "size": size,
        "delay_s": queue.delay_s if delay is None else delay, "system_attributes": system,
    }  # fmt: skip
    return row, size


def _send(call: Call, queue: Queue, prepared: dict[str, Any]) -> Result:
    """Enqueue one prepared message (inside the caller's transaction)."""
    tables = call.tables
    answer: Result = {"MD5OfMessageBody": prepared["md5_body"]}
    if prepared["md5_attributes"]:
        answer["MD5OfMessageAttributes"] = prepared["md5_attributes"]
    system_md5 = attributes_md5(prepared["system_attributes"])
    if system_md5:
        answer["MD5OfMessageSystemAttributes"] = system_md5
    system = dict(prepared["system"])
    if queue.fifo:
        deduplication = system["MessageDeduplicationId"]
        seen = tables.deduplication.seen(call.scope, queue.name, deduplication, call.now_ms)
        if seen is not None:
            return {**answer, "MessageId": seen[0], "SequenceNumber": seen[1]}
    if tables.messages.total(call.scope, queue.name) >= queue_messages.MAX_MESSAGES_PER_QUEUE:
        raise OverLimit(f"ecsemu holds at most {queue_messages.MAX_MESSAGES_PER_QUEUE} messages per queue.")
    message_id = str(uuid.uuid4())
    if queue.fifo:
        sequence = f"{tables.counters.next_sequence(call.scope, queue.name):020d}"
        system["SequenceNumber"] = sequence
        tables.deduplication.remember(
            call.scope, queue.name, system["MessageDeduplicationId"], message_id, sequence, call.now_ms
        )
        answer["SequenceNumber"] = sequence
    row = {key: prepared[key] for key in ("body", "md5_body", "attributes", "md5_attributes", "group_id", "size")}
    row.update(
        message_id=message_id, system=system, sent_ms=call.now_ms, visible_ms=call.now_ms + prepared["delay_s"] * 1000,
        receive_count=0, first_receive_ms=None, receipt=None,
    )  # fmt: skip
    tables.messages.insert(call.scope, queue.name, row)
    tables.counters.add(call.scope, queue.name, sent=1)
    return {**answer, "MessageId": message_id}


@operation("SendMessage")
def send_message(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        prepared, _size = _prepared(queue, params)
        expire(call, queue)
        answer = _send(call, queue, prepared)
    call.waiters.notify()
    return answer


@operation("SendMessageBatch")
def send_message_batch(call: Call, params: Params) -> Result:
    entries = params["Entries"]
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        check_batch(entries, "SendMessageBatchRequestEntry")
        total = sum(len(entry["MessageBody"].encode()) for entry in entries)
        total += sum(_attributes_size(entry) for entry in entries)
        if total > MAX_BATCH_BYTES:
            raise BatchRequestTooLong(
                f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
            )
        expire(call, queue)
        answer = run_batch(entries, lambda entry: _send(call, queue, _prepared(queue, entry)[0]))
    call.waiters.notify()
    return answer


def _attributes_size(entry: Params) -> int:
    size = 0
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or ""
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode()) + len(str(value).encode())
    return size


# -- settling ------------------------------------------------------------------------------


def _delete(call: Call, queue: Queue, handle: str) -> Result:
    message_id, token = read_receipt_handle(queue, handle)
    message = call.tables.messages.find(call.scope, queue.name, message_id)
    if message is not None and message.receipt == token:
        call.tables.messages.remove(call.scope, message)
        call.tables.counters.add(call.scope, queue.name, deleted=1)
    return {}


@operation("DeleteMessage")
def delete_message(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        return _delete(call, queue, params["ReceiptHandle"])


@operation("DeleteMessageBatch")
def delete_message_batch(call: Call, params: Params) -> Result:
    entries = params["Entries"]
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        check_batch(entries, "DeleteMessageBatchRequestEntry")
        return run_batch(entries, lambda entry: _delete(call, queue, entry["ReceiptHandle"]))


def _change_visibility(call: Call, queue: Queue, handle: str, timeout: Any) -> Result:
    message_id, token = read_receipt_handle(queue, handle)
    seconds = bounded("VisibilityTimeout", timeout, 0, MAX_VISIBILITY_TIMEOUT_S)
    message = call.tables.messages.find(call.scope, queue.name, message_id)
    if message is None or message.receipt != token:
        raise InvalidParameterValue(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not "
            "available for visibility timeout change."
        )
    if message.visible_ms <= call.now_ms:
        raise MessageNotInflight("The message referred to isn't in flight.")
    call.tables.messages.set_visible_at(message, call.now_ms + seconds * 1000)
    return {}


@operation("ChangeMessageVisibility")
def change_message_visibility(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        answer = _change_visibility(call, queue, params["ReceiptHandle"], params["VisibilityTimeout"])
    call.waiters.notify()
    return answer


@operation("ChangeMessageVisibilityBatch")
def change_message_visibility_batch(call: Call, params: Params) -> Result:
    entries = params["Entries"]
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        check_batch(entries, "ChangeMessageVisibilityBatchRequestEntry")
        answer = run_batch(
            entries,
            lambda entry: _change_visibility(call, queue, entry["ReceiptHandle"], entry.get("VisibilityTimeout", 0)),
        )
    call.waiters.notify()
    return answer


def new_receipt_token() -> str:
    return secrets.token_urlsafe(24)
