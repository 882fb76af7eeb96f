"""Queue tags: TagQueue, UntagQueue, ListQueueTags (and CreateQueue's ``tags``).

SQS's rules: at most 50 tags a queue; keys 1-128 characters, values 0-256; a key may not start
with ``aws:``. A fault is ``InvalidParameterValue`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ecsemu.model.queues import KIND, MAX_TAGS
from ecsemu.services.sqs.base import Call, Params, Result, find_queue, operation
from ecsemu.services.sqs.errors import InvalidParameterValue

MAX_KEY_CHARS: Final = 128
MAX_VALUE_CHARS: Final = 256


def check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS or key.lower().startswith("aws:"):
            raise InvalidParameterValue(f"Tag key {key} is invalid.")
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
            raise InvalidParameterValue(f"Tag value for key {key} is invalid.")
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"Too many tags. A queue can have at most {MAX_TAGS} tags.")
    return dict(tags)


@operation("TagQueue")
def tag_queue(call: Call, params: Params) -> Result:
    added = check_tags(params["Tags"])
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])
        merged = {**queue.tags, **added}
        if len(merged) > MAX_TAGS:
            raise InvalidParameterValue(f"Too many tags added for queue {queue.name}.")

        def change(record: dict[str, Any]) -> None:
            record["spec"]["Tags"] = merged

        call.store.update(call.scope, KIND, queue.name, change)
    return {}


@operation("UntagQueue")
def untag_queue(call: Call, params: Params) -> Result:
    keys = set(params["TagKeys"])
    with call.store.transaction():
        queue = find_queue(call, params["QueueUrl"])

        def change(record: dict[str, Any]) -> None:
            record["spec"]["Tags"] = {key: value for key, value in queue.tags.items() if key not in keys}

        call.store.update(call.scope, KIND, queue.name, change)
    return {}


@operation("ListQueueTags")
def list_queue_tags(call: Call, params: Params) -> Result:
    queue = find_queue(call, params["QueueUrl"])
    return {"Tags": dict(queue.tags)} if queue.tags else {}
