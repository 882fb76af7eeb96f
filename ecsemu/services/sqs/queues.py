"""Queues: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue, GetQueueAttributes,
SetQueueAttributes, ListDeadLetterSourceQueues.

Invariants:
- A queue's record is written only here (and tags by ``tags.py``); its messages, deduplication
  ids and counters are dropped with it, in the same transaction.
- CreateQueue is idempotent for equal attributes; a queue of the same name with another value
  for a given attribute is ``QueueNameExists`` (query code ``QueueAlreadyExists``).
- Deleting a queue leaves a 60 s tombstone: CreateQueue of that name answers
  ``QueueDeletedRecently`` until it passes.
"""

from __future__ import annotations

from typing import Any

from ecsemu.model import queues as queue_model
from ecsemu.model.queues import DELETED_KIND, FIFO_SUFFIX, KIND, Queue
from ecsemu.services import common
from ecsemu.services.sqs.base import Call, Params, Result, bounded, find_queue, operation
from ecsemu.services.sqs.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    OverLimit,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
)
from ecsemu.services.sqs.queue_attributes import check_queue_name, normal_attributes
from ecsemu.services.sqs.tags import check_tags

READABLE = frozenset({*queue_model.FIFO_DEFAULTS, *queue_model.COMPUTED, "Policy", "RedrivePolicy",
                      "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"})  # fmt: skip


def _invalid_token() -> InvalidParameterValue:
    return InvalidParameterValue("Invalid NextToken value.")


@operation("CreateQueue")
def create_queue(call: Call, params: Params) -> Result:
    name = params["QueueName"]
    given = params.get("Attributes") or {}
    fifo = name.endswith(FIFO_SUFFIX)
    check_queue_name(name, fifo)
    tags = check_tags(params.get("tags") or {})
    with call.store.transaction():
        attributes = normal_attributes(call.store, call.scope, name, given, creating=True)
        existing = queue_model.get_queue(call.store, call.scope, name)
        if existing is not None:
            differing = [key for key, value in attributes.items() if existing.attributes.get(key, "") != value]
            if differing:
                raise QueueNameExists(
                    f"A queue already exists with the same name and a different value for attribute {differing[0]}"
                )
            return {"QueueUrl": call.queue_url(name)}
        tombstone = call.store.get(call.scope, DELETED_KIND, name)
        if tombstone is not None and call.now - float(tombstone["DeletedAt"]) < queue_model.DELETED_RECENTLY_S:
            raise QueueDeletedRecently(
                "You must wait 60 seconds after deleting a queue before you can create another with the same name."
            )
        if call.store.count(call.scope, KIND) >= queue_model.MAX_QUEUES:
            raise OverLimit(f"ecsemu holds at most {queue_model.MAX_QUEUES} queues per account and region.")
        _forget_old_tombstones(call)
        stamp = int(call.now)
        spec: dict[str, Any] = {
            "QueueName": name, "Attributes": attributes, "Tags": tags,
            "CreatedTimestamp": stamp, "LastModifiedTimestamp": stamp,
        }  # fmt: skip
        call.store.put(call.scope, KIND, name, {"spec": spec, "status": {}})
    return {"QueueUrl": call.queue_url(name)}


def _forget_old_tombstones(call: Call) -> None:
    for name, tombstone in call.store.items(call.scope, DELETED_KIND):
        if call.now - float(tombstone["DeletedAt"]) >= queue_model.DELETED_RECENTLY_S:
            call.store.delete(call.scope, DELETED_KIND, name)


@operation("GetQueueUrl")
def get_queue_url(call: Call, params: Params) -> Result:
    owner = params.get("QueueOwnerAWSAccountId")
    if owner is not None and owner != call.context.account_id:
        raise QueueDoesNotExist()
    name = params["QueueName"]
    if queue_model.get_queue(call.store, call.scope, name) is None:
        raise QueueDoesNotExist()
    return {"QueueUrl": call.queue_url(name)}


@operation("ListQueues")
def list_queues(call: Call, params: Params) -> Result:
    prefix = params.get("QueueNamePrefix") or ""
    names = [name for name in call.store.ids(call.scope, KIND) if name.startswith(prefix)]
    size = params.get("MaxResults")
    if size is None:
        if params.get("NextToken"):
            raise InvalidParameterValue("MaxResults is a mandatory parameter when you provide a value for NextToken.")
        chosen, token = names[:1000], None
    else:
        bounded("MaxResults", size, 1, 1000, "MaxResults must be an integer between 1 and 1000.")
        chosen, token = common.page(names, params.get("NextToken"), size, _invalid_token)
    result: Result = {}
    if chosen:
        result["QueueUrls"] = [call.queue_url(name) for name in chosen]
    if token:
        result["NextToken"] = token
    return result


@operation("DeleteQueue")
def delete_queue(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        call.store.delete(call.scope, KIND, queue.name)
        call.store.put(call.scope, DELETED_KIND, queue.name, {"DeletedAt": call.now})
        tables = call.tables
        tables.messages.purge(call.scope, queue.name)
        tables.deduplication.forget(call.scope, queue.name)
        tables.counters.forget(call.scope, queue.name)
    return {}


@operation("PurgeQueue")
def purge_queue(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        last = queue.purge_requested_at
        if last is not None and call.now - last < queue_model.PURGE_INTERVAL_S:
            raise PurgeQueueInProgress(f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds.")

        def stamp(record: dict[str, Any]) -> None:
            record.setdefault("status", {})["PurgeRequestedAt"] = call.now

        call.store.update(call.scope, KIND, queue.name, stamp)
        call.tables.messages.purge(call.scope, queue.name)
    return {}


def queue_attributes(call: Call, queue: Queue, wanted: set[str]) -> dict[str, str]:
    """The queue's attributes named in ``wanted`` ("All": every one it has)."""
    every = "All" in wanted
    answer: dict[str, str] = {}
    for name, value in queue.attributes.items():
        if (every or name in wanted) and value != "":
            answer[name] = value
    if every or wanted & {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                          "ApproximateNumberOfMessagesDelayed"}:  # fmt: skip
        counts = call.tables.messages.counts(call.scope, queue.name, call.now)
        computed = {
            "ApproximateNumberOfMessages": counts.visible,
            "ApproximateNumberOfMessagesNotVisible": counts.not_visible,
            "ApproximateNumberOfMessagesDelayed": counts.delayed,
        }
        answer.update({key: str(value) for key, value in computed.items() if every or key in wanted})
    fixed = {
        "CreatedTimestamp": str(queue.created),
        "LastModifiedTimestamp": str(queue.last_modified),
        "QueueArn": call.queue_arn(queue.name),
    }
    answer.update({key: value for key, value in fixed.items() if every or key in wanted})
    return answer


@operation("GetQueueAttributes")
def get_queue_attributes(call: Call, params: Params) -> Result:
    names = set(params.get("AttributeNames") or [])
    for name in sorted(names):
        if name != "All" and name not in READABLE:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        expire(call, queue)
        attributes = queue_attributes(call, queue, names)
    return {"Attributes": attributes} if attributes else {}


def expire(call: Call, queue: Queue) -> None:
    """Drop the queue's messages older than its retention period."""
    call.tables.messages.expire(call.scope, queue.name, call.now_ms - queue.retention_s * 1000)


@operation("SetQueueAttributes")
def set_queue_attributes(call: Call, params: Params) -> Result:
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        attributes = normal_attributes(call.store, call.scope, queue.name, params["Attributes"], creating=False)

        def change(record: dict[str, Any]) -> None:
            stored = record["spec"].setdefault("Attributes", {})
            for name, value in attributes.items():
                if value == "" and name in ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId"):
                    stored.pop(name, None)
                else:
                    stored[name] = value
            record["spec"]["LastModifiedTimestamp"] = int(call.now)

        call.store.update(call.scope, KIND, queue.name, change)
    call.waiters.notify()  # a shorter delay or timeout may make messages visible sooner
    return {}


@operation("ListDeadLetterSourceQueues")
def list_dead_letter_source_queues(call: Call, params: Params) -> Result:
    target = find_queue(call, params["QueueUrl"])
    arn = call.queue_arn(target.name)
    sources = []
    for queue in queue_model.list_queues(call.store, call.scope):
        policy = queue.redrive_policy
        if policy is not None and policy.dead_letter_target_arn == arn:
            sources.append(queue.name)
    size = params.get("MaxResults")
    if size is None:
        if params.get("NextToken"):
            raise InvalidParameterValue("MaxResults is a mandatory parameter when you provide a value for NextToken.")
        chosen, token = sources[:1000], None
    else:
        bounded("MaxResults", size, 1, 1000, "MaxResults must be an integer between 1 and 1000.")
        chosen, token = common.page(sources, params.get("NextToken"), size, _invalid_token)
    result: Result = {"queueUrls": [call.queue_url(name) for name in chosen]}
    if token:
        result["NextToken"] = token
    return result
