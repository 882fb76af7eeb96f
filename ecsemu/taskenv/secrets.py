"""``secrets[].valueFrom`` → the container's environment variables, as the ECS agent fetches
them at task start: an SSM parameter (a name, or an ``arn:aws:ssm:`` ARN) or a Secrets Manager
secret (an ``arn:aws:secretsmanager:`` ARN, with ECS's ``:json-key:version-stage:version-id``
suffixes). A value that does not resolve stops the task with ECS's ResourceInitializationError.

``logConfiguration.secretOptions`` resolve the same way (they become log driver options, which
ecsemu's awslogs writer does not need, so they are only checked).
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.secret_refs import SecretNotFound
from ecsemu.model.secrets_manager import resolve_secret
from ecsemu.model.ssm_parameters import resolve_parameter
from ecsemu.runtime.base import LaunchRefused
from ecsemu.state.store import Store

_PREFIX: Final = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
)
MAX_SECRETS: Final = 100


def _reason(value_from: str, found: SecretNotFound) -> str:
    if value_from.startswith("arn:aws:secretsmanager:"):
        return (
            f"{_PREFIX}unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {value_from} from secrets manager: {found.reason}"
        )
    return f"{_PREFIX}unable to retrieve secrets from ssm: service call has been retried 1 time(s): {found.reason}"


def resolve(store: Store, scope: Scope, value_from: str) -> str:
    """One ``valueFrom``'s value; ``SecretNotFound`` when it does not resolve."""
    if value_from.startswith("arn:aws:secretsmanager:"):
        return resolve_secret(store, scope, value_from)
    return resolve_parameter(store, scope, value_from)


def secret_environment(store: Store, scope: Scope, container: dict[str, Any]) -> dict[str, str]:
    """The container's secrets as variables; ``LaunchRefused`` with ECS's reason for the
    first one that does not resolve."""
    entries = list(container.get("secrets") or [])
    entries += list(((container.get("logConfiguration") or {}).get("secretOptions")) or [])
    env: dict[str, str] = {}
    for entry in entries[:MAX_SECRETS]:
        value_from = str(entry.get("valueFrom") or "")
        try:
            value = resolve(store, scope, value_from)
        except SecretNotFound as found:
            raise LaunchRefused(_reason(value_from, found), container.get("name")) from None
        if entry in (container.get("secrets") or []):
            env[str(entry.get("name"))] = value
    return env
