"""The errors CloudWatch Logs answers, one line each; the codes are botocore's modeled exception
names, so boto3 raises its modeled classes. All are the sender's fault, HTTP 400."""

from __future__ import annotations

from ecsemu.errors import ClientError


class InvalidParameterException(ClientError):
    code = "InvalidParameterException"


class ResourceNotFoundException(ClientError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(ClientError):
    code = "ResourceAlreadyExistsException"


class InvalidOperationException(ClientError):
    code = "InvalidOperationException"


class TooManyTagsException(ClientError):
    code = "TooManyTagsException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
INVALID_TOKEN = "The specified nextToken is invalid."


class ValidationException(ClientError):
    code = "ValidationException"
