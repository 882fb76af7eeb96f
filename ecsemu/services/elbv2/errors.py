"""The errors ELBv2 answers, one line each: the codes are botocore's ``error.code`` of each
modeled exception (``LoadBalancerNotFound``, not ``LoadBalancerNotFoundException``), so boto3
raises its modeled exception classes. ``ValidationError`` is the service's unmodeled code for
invalid input. All are the sender's fault, HTTP 400.
"""

from __future__ import annotations

from ecsemu.errors import ClientError


class ValidationError(ClientError):
    code = "ValidationError"


class LoadBalancerNotFound(ClientError):
    code = "LoadBalancerNotFound"


class TargetGroupNotFound(ClientError):
    code = "TargetGroupNotFound"


class ListenerNotFound(ClientError):
    code = "ListenerNotFound"


class RuleNotFound(ClientError):
    code = "RuleNotFound"


class DuplicateLoadBalancerName(ClientError):
    code = "DuplicateLoadBalancerName"


class DuplicateTargetGroupName(ClientError):
    code = "DuplicateTargetGroupName"


class DuplicateListener(ClientError):
    code = "DuplicateListener"


class DuplicateTagKeys(ClientError):
    code = "DuplicateTagKeys"


class PriorityInUse(ClientError):
    code = "PriorityInUse"


class InvalidConfigurationRequest(ClientError):
    code = "InvalidConfigurationRequest"


class IncompatibleProtocols(ClientError):
    code = "IncompatibleProtocols"


class InvalidLoadBalancerAction(ClientError):
    code = "InvalidLoadBalancerAction"


class InvalidTarget(ClientError):
    code = "InvalidTarget"


class ResourceInUse(ClientError):
    code = "ResourceInUse"


class OperationNotPermitted(ClientError):
    code = "OperationNotPermitted"


class TargetGroupAssociationLimit(ClientError):
    code = "TargetGroupAssociationLimit"


class TooManyTags(ClientError):
    code = "TooManyTags"


class TooManyLoadBalancers(ClientError):
    code = "TooManyLoadBalancers"


class TooManyTargetGroups(ClientError):
    code = "TooManyTargetGroups"


class TooManyListeners(ClientError):
    code = "TooManyListeners"


class TooManyRules(ClientError):
    code = "TooManyRules"


class TooManyTargets(ClientError):
    code = "TooManyTargets"


class TooManyActions(ClientError):
    code = "TooManyActions"


class CertificateNotFound(ClientError):
    code = "CertificateNotFound"


class UnsupportedProtocol(ClientError):
    code = "UnsupportedProtocol"


class CapacityDecreaseRequestsLimitExceeded(ClientError):
    code = "CapacityDecreaseRequestLimitExceeded"


class CapacityUnitsLimitExceeded(ClientError):
    code = "CapacityUnitsLimitExceeded"
