"""The errors CloudWatch answers. They are declared in ``ecsemu.model.metrics`` (the model
validates as the API does, and services import the model, never the reverse) and re-exported
here for the service's modules.

Each ``code`` is the shape name (the JSON ``__type``); ``query_code`` is the awsQuery code that
botocore shows for every protocol of this awsQueryCompatible service.

    CloudWatchError (ClientError, HTTP 400 unless said)
    ├── InvalidParameterValue        InvalidParameterValueException / InvalidParameterValue
    ├── MissingParameter             MissingRequiredParameterException / MissingParameter
    ├── InvalidParameterCombination  InvalidParameterCombinationException / InvalidParameterCombination
    ├── InvalidNextToken             InvalidNextToken
    ├── InvalidFormat                InvalidFormatFault / InvalidFormat
    ├── LimitExceeded                LimitExceededFault / LimitExceeded
    ├── ResourceNotFound             ResourceNotFound (HTTP 404: alarms)
    └── ResourceNotFoundException    ResourceNotFoundException (HTTP 404: tagged resources)
"""

from __future__ import annotations

from ecsemu.model.metrics import (
    CloudWatchError,
    InvalidFormat,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
    ResourceNotFoundException,
)

__all__ = [
    "CloudWatchError",
    "InvalidFormat",
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "LimitExceeded",
    "MissingParameter",
    "ResourceNotFound",
    "ResourceNotFoundException",
]
