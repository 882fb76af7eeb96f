"""The errors Secrets Manager answers, one line each: the codes are botocore's ``error.code`` of
each modeled exception, so boto3 raises its modeled exception classes. All are the sender's
fault, HTTP 400.
"""

from __future__ import annotations

from ecsemu.errors import ClientError


class ResourceNotFoundException(ClientError):
    code = "ResourceNotFoundException"


class ResourceExistsException(ClientError):
    code = "ResourceExistsException"


class InvalidParameterException(ClientError):
    code = "InvalidParameterException"


class InvalidRequestException(ClientError):
    code = "InvalidRequestException"


class InvalidNextTokenException(ClientError):
    code = "InvalidNextTokenException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


class MalformedPolicyDocumentException(ClientError):
    code = "MalformedPolicyDocumentException"
