"""botocore's service models, loaded once per service, and the wire facts the gateway reads
from them.

Vocabulary
----------
wire protocols
    The protocols a service answers in, from its model's ``metadata.protocols`` (CloudWatch:
    ``smithy-rpc-v2-cbor``, ``json``, ``query``), else its single ``metadata.protocol``.
query compatible
    A service that moved from the query protocol to JSON or CBOR keeps its query-era error
    codes (model ``metadata.awsQueryCompatible``): its JSON and CBOR errors carry the header
    ``x-amzn-query-error: <query code>;Sender|Receiver``, which botocore reads as the error's
    ``Code`` (botocore ``parsers.py``, ``_do_query_compatible_error_parse``).
query code
    The code an error has in the query protocol: the ``code`` of the error shape's
    ``error`` trait (CloudWatch's ``InvalidParameterValueException`` is ``InvalidParameterValue``),
    else the error's own code. Services whose model lost these traits (SQS) name them on the
    error itself (``query_code``) or in ``LEGACY_QUERY_CODES``.

Invariants: models are read-only once loaded; this module imports nothing of ecsemu.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import botocore.session

_MODELS: dict[str, Any] = {}
_LOCK: Final = threading.Lock()

# Query codes of services whose botocore model no longer carries them (SQS dropped the
# ``error`` traits when it moved to JSON 1.0): the ``awsQueryError`` codes of SQS's Smithy
# model as AWS's SDKs carry it (the SQS API reference lists the same codes under each
# action's "Errors"). Error shapes not named here keep their own name as their query code.
LEGACY_QUERY_CODES: Final[dict[str, dict[str, str]]] = {
    "sqs": {
        "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
        "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
        "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
        "KmsAccessDenied": "KMS.AccessDeniedException",
        "KmsDisabled": "KMS.DisabledException",
        "KmsInvalidKeyUsage": "KMS.InvalidKeyUsageException",
        "KmsInvalidState": "KMS.InvalidStateException",
        "KmsNotFound": "KMS.NotFoundException",
        "KmsOptInRequired": "KMS.OptInRequired",
        "KmsThrottled": "KMS.ThrottlingException",
        "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
        "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
        "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
        "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists": "QueueAlreadyExists",
        "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    },
}


def service_model(name: str) -> Any:
    """botocore's ``ServiceModel`` of ``name`` (loaded once, then cached)."""
    model = _MODELS.get(name)
    if model is not None:
        return model
    with _LOCK:
        model = _MODELS.get(name)
        if model is None:
            model = botocore.session.get_session().get_service_model(name)
            _MODELS[name] = model
    return model


def wire_protocols(name: str) -> tuple[str, ...]:
    metadata = service_model(name).metadata
    protocols = metadata.get("protocols") or [metadata.get("protocol", "")]
    return tuple(str(protocol) for protocol in protocols)


def is_query_compatible(name: str) -> bool:
    return "awsQueryCompatible" in service_model(name).metadata


def query_codes(name: str) -> dict[str, str]:
    """Error shape name → query code, for every error shape of ``name`` that has one."""
    codes = dict(LEGACY_QUERY_CODES.get(name, {}))
    for shape in service_model(name).error_shapes:
        code = shape.metadata.get("error", {}).get("code")
        if code:
            codes[shape.name] = str(code)
    return codes
