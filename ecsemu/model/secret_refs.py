"""What ECS's ``secrets[].valueFrom`` resolution shares between SSM Parameter Store and Secrets
Manager: the one error a reference that does not resolve raises.

``SecretNotFound.reason`` states AWS's own error, as the service would have answered the
lookup (``"ParameterNotFound: ..."``, ``"ResourceNotFoundException: Secrets Manager can't find
the specified secret."``), so the task's ``stoppedReason`` can quote it.
"""

from __future__ import annotations


class SecretNotFound(LookupError):
    """A ``valueFrom`` that names no parameter, secret, version or JSON key in its scope."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
