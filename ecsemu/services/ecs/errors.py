"""The exceptions ECS answers with, one line each (names and status as in botocore's model)."""

from __future__ import annotations

from ecsemu.errors import ClientError


class ClientException(ClientError):
    code = "ClientException"


class InvalidParameterException(ClientError):
    code = "InvalidParameterException"


class ClusterNotFoundException(ClientError):
    code = "ClusterNotFoundException"

    def __init__(self, message: str = "Cluster not found.") -> None:
        super().__init__(message)


class ClusterContainsServicesException(ClientError):
    code = "ClusterContainsServicesException"


class ClusterContainsTasksException(ClientError):
    code = "ClusterContainsTasksException"


class ClusterContainsContainerInstancesException(ClientError):
    code = "ClusterContainsContainerInstancesException"


class ServiceNotFoundException(ClientError):
    code = "ServiceNotFoundException"

    def __init__(self, message: str = "Service not found.") -> None:
        super().__init__(message)


class ServiceNotActiveException(ClientError):
    code = "ServiceNotActiveException"

    def __init__(self, message: str = "Service was not ACTIVE.") -> None:
        super().__init__(message)


class ResourceNotFoundException(ClientError):
    code = "ResourceNotFoundException"


class ResourceInUseException(ClientError):
    code = "ResourceInUseException"


class TargetNotFoundException(ClientError):
    code = "TargetNotFoundException"


class AttributeLimitExceededException(ClientError):
    code = "AttributeLimitExceededException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


class TaskSetNotFoundException(ClientError):
    code = "TaskSetNotFoundException"


class UnsupportedFeatureException(ClientError):
    code = "UnsupportedFeatureException"


class ServiceDeploymentNotFoundException(ClientError):
    code = "ServiceDeploymentNotFoundException"
