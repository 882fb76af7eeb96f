"""The errors SSM answers, one line each: the codes are botocore's ``error.code`` of each modeled
exception, so boto3 raises its modeled exception classes. ``ValidationException`` is the
service's code for invalid input. All are the sender's fault, HTTP 400.
"""

from __future__ import annotations

from ecsemu.errors import ClientError


class ValidationException(ClientError):
    code = "ValidationException"


class ParameterNotFound(ClientError):
    code = "ParameterNotFound"


class ParameterAlreadyExists(ClientError):
    code = "ParameterAlreadyExists"


class ParameterVersionNotFound(ClientError):
    code = "ParameterVersionNotFound"


class ParameterLimitExceeded(ClientError):
    code = "ParameterLimitExceeded"


class ParameterMaxVersionLimitExceeded(ClientError):
    code = "ParameterMaxVersionLimitExceeded"


class ParameterPatternMismatchException(ClientError):
    code = "ParameterPatternMismatchException"


class InvalidAllowedPatternException(ClientError):
    code = "InvalidAllowedPatternException"


class HierarchyLevelLimitExceededException(ClientError):
    code = "HierarchyLevelLimitExceededException"


class UnsupportedParameterType(ClientError):
    code = "UnsupportedParameterType"


class InvalidFilterKey(ClientError):
    code = "InvalidFilterKey"


class InvalidFilterOption(ClientError):
    code = "InvalidFilterOption"


class InvalidFilterValue(ClientError):
    code = "InvalidFilterValue"


class InvalidNextToken(ClientError):
    code = "InvalidNextToken"


class InvalidResourceId(ClientError):
    code = "InvalidResourceId"


class InvalidResourceType(ClientError):
    code = "InvalidResourceType"


class TooManyTagsError(ClientError):
    code = "TooManyTagsError"


class ParameterVersionLabelLimitExceeded(ClientError):
    code = "ParameterVersionLabelLimitExceeded"
