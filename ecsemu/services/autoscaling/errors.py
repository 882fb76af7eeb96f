"""The errors Application Auto Scaling answers, one line each (botocore's modeled codes; all the
sender's fault, HTTP 400, except InternalServiceException which ecsemu never raises)."""

from __future__ import annotations

from ecsemu.errors import ClientError


class ValidationException(ClientError):
    code = "ValidationException"


class ObjectNotFoundException(ClientError):
    code = "ObjectNotFoundException"


class ResourceNotFoundException(ClientError):
    code = "ResourceNotFoundException"


class InvalidNextTokenException(ClientError):
    code = "InvalidNextTokenException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


class TooManyTagsException(ClientError):
    code = "TooManyTagsException"


class ConcurrentUpdateException(ClientError):
    code = "ConcurrentUpdateException"


class FailedResourceAccessException(ClientError):
    code = "FailedResourceAccessException"
