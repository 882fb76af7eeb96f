"""Queue attributes as CreateQueue and SetQueueAttributes take them: names, values, the rules
between them, and their normal form (strings, as GetQueueAttributes answers them).

Errors are SQS's: an unknown or read-only name is ``InvalidAttributeName`` ("Unknown Attribute
X."), a value out of range ``InvalidAttributeValue`` ("Invalid value for the parameter X."),
a redrive policy that names no queue ``InvalidParameterValue``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from ecsemu.context import Scope
from ecsemu.model import queues as queue_model
from ecsemu.model.queues import FIFO_SUFFIX, RedrivePolicy
from ecsemu.services.sqs.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue
from ecsemu.state.store import Store

INTEGER_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, queue_model.LARGEST_MAXIMUM_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
BOOLEANS: Final = frozenset({"SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue"})
CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "DeduplicationScope": frozenset({"messageGroup", "queue"}),
    "FifoThroughputLimit": frozenset({"perQueue", "perMessageGroupId"}),
}
FIFO_ONLY: Final = frozenset({"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})
JSON_DOCUMENTS: Final = frozenset({"Policy", "RedriveAllowPolicy"})
SETTABLE: Final = frozenset({*INTEGER_RANGES, *BOOLEANS, *CHOICES, *JSON_DOCUMENTS, "RedrivePolicy", "KmsMasterKeyId"})
MAX_ATTRIBUTE_VALUE_CHARS: Final = 20_480  # a queue policy's size limit (20 KiB)

_STANDARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FIFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")


def check_queue_name(name: str, fifo: bool) -> None:
    if fifo:
        if not _FIFO_NAME.match(name):
            raise InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                "must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not _STANDARD_NAME.match(name):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def _invalid(name: str, reason: str = "") -> InvalidAttributeValue:
    return InvalidAttributeValue(f"Invalid value for the parameter {name}." + (f" Reason: {reason}" if reason else ""))


def normal_attributes(
    store: Store, scope: Scope, queue_name: str, given: Mapping[str, str], *, creating: bool
) -> dict[str, str]:
    """``given`` checked and in normal form; raises SQS's error for the first fault."""
    fifo = queue_name.endswith(FIFO_SUFFIX)
    normal: dict[str, str] = {}
    for name, raw in given.items():
        if name not in SETTABLE or (name in FIFO_ONLY and not fifo):
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        value = raw.strip() if isinstance(raw, str) else raw
        if not isinstance(value, str) or len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise _invalid(name)
        if name in INTEGER_RANGES:
            low, high = INTEGER_RANGES[name]
            if not re.fullmatch(r"-?\d{1,10}", value) or not low <= int(value) <= high:
                raise _invalid(name)
            value = str(int(value))
        elif name in BOOLEANS:
            if value.lower() not in ("true", "false"):
                raise _invalid(name)
            value = value.lower()
            if name == "FifoQueue":
                if not creating:
                    raise _invalid(name, "Modifying queue type is not supported.")
                if value == "true" and not fifo:
                    check_queue_name(queue_name, fifo=True)
                if value == "false" and fifo:
                    raise _invalid(name)
                continue  # implied by the name
        elif name in CHOICES:
            if value not in CHOICES[name]:
                raise _invalid(name)
        elif name in JSON_DOCUMENTS:
            value = _json_document(name, value)
        elif name == "RedrivePolicy":
            value = _redrive_policy(store, scope, queue_name, value)
        normal[name] = value
    if creating and fifo and given.get("FifoQueue", "").strip().lower() != "true":
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    return normal


def _json_document(name: str, value: str) -> str:
    if value == "":
        return value
    try:
        document = json.loads(value)
    except ValueError as error:
        raise _invalid(name) from error
    if not isinstance(document, dict):
        raise _invalid(name)
    return value


def _redrive_policy(store: Store, scope: Scope, queue_name: str, value: str) -> str:
    if value == "":
        return value

    def invalid(reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")

    try:
        document = json.loads(value)
    except ValueError as error:
        raise invalid("Redrive policy is not a valid JSON map.") from error
    if not isinstance(document, dict):
        raise invalid("Redrive policy is not a valid JSON map.")
    target, count = document.get("deadLetterTargetArn"), document.get("maxReceiveCount")
    if not isinstance(target, str) or count is None:
        raise invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn and maxReceiveCount.")
    try:
        receives = int(count)
    except (TypeError, ValueError) as error:
        raise invalid(
            "Invalid value for maxReceiveCount: " + str(count) + ", valid values are from 1 to 1000 both inclusive."
        ) from error
    if isinstance(count, bool) or not 1 <= receives <= 1000:
        raise invalid(f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive.")
    policy = RedrivePolicy(target, receives)
    dead_letter_name = policy.target_name(scope)
    if dead_letter_name is None or queue_model.get_queue(store, scope, dead_letter_name) is None:
        raise invalid("Dead letter target does not exist.")
    if dead_letter_name.endswith(FIFO_SUFFIX) != queue_name.endswith(FIFO_SUFFIX):
        raise invalid("Dead-letter queue must be same type of queue as the source.")
    return policy.render()
