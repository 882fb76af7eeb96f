"""The errors SQS answers, one line each.

``code`` is the error's ``__type`` on the JSON protocol: botocore's shape name of each modeled
exception (``QueueDoesNotExist``), so boto3 raises its modeled class. ``query_code`` is the
code of the same error on the query protocol (botocore's older ``awsQueryError`` codes, e.g.
``AWS.SimpleQueueService.NonExistentQueue``); the gateway sends it in the
``x-amzn-query-error: <query_code>;Sender`` header of JSON answers (SQS is awsQueryCompatible,
so boto3 then shows it as ``Error.Code``) and as ``<Code>`` of query answers. All are the
sender's fault, HTTP 400.

    ClientError
    ├── InvalidParameterValue, MissingParameter        (SQS's unmodeled common errors)
    ├── QueueDoesNotExist, QueueNameExists, QueueDeletedRecently, PurgeQueueInProgress
    ├── InvalidAttributeName, InvalidAttributeValue, InvalidMessageContents, OverLimit
    ├── ReceiptHandleIsInvalid, MessageNotInflight
    ├── EmptyBatchRequest, TooManyEntriesInBatchRequest, BatchEntryIdsNotDistinct,
    │   InvalidBatchEntryId, BatchRequestTooLong
    └── UnsupportedOperation                            (via NotSupportedError)
"""

from __future__ import annotations

from ecsemu.errors import ClientError, NotSupportedError


class SqsError(ClientError):
    query_code = "InvalidParameterValue"


class InvalidParameterValue(SqsError):
    code = query_code = "InvalidParameterValue"


class MissingParameter(SqsError):
    code = query_code = "MissingParameter"


class QueueDoesNotExist(SqsError):
    code, query_code = "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(SqsError):
    code, query_code = "QueueNameExists", "QueueAlreadyExists"


class QueueDeletedRecently(SqsError):
    code, query_code = "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"


class PurgeQueueInProgress(SqsError):
    code, query_code = "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"


class InvalidAttributeName(SqsError):
    code = query_code = "InvalidAttributeName"


class InvalidAttributeValue(SqsError):
    code = query_code = "InvalidAttributeValue"


class InvalidMessageContents(SqsError):
    code = query_code = "InvalidMessageContents"


class OverLimit(SqsError):
    code = query_code = "OverLimit"


class ReceiptHandleIsInvalid(SqsError):
    code = query_code = "ReceiptHandleIsInvalid"


class MessageNotInflight(SqsError):
    code, query_code = "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"


class EmptyBatchRequest(SqsError):
    code, query_code = "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(SqsError):
    code, query_code = "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(SqsError):
    code, query_code = "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(SqsError):
    code, query_code = "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(SqsError):
    code, query_code = "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"


class UnsupportedOperation(NotSupportedError):
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"

    def __init__(self, what: str) -> None:
        super().__init__(what, code="UnsupportedOperation")


class InvalidAddress(SqsError):
    code = query_code = "InvalidAddress"
