"""GetResourcePolicy, PutResourcePolicy, DeleteResourcePolicy and ValidateResourcePolicy.

Invariants:
- A secret holds at most one resource policy, stored as the caller sent it (``ResourcePolicy``
  in the spec); GetResourcePolicy answers it unchanged, and answers only ``ARN`` and ``Name``
  when the secret has none (as AWS does: the member is absent, not empty).
- A policy must be a JSON object with a ``Statement`` (a syntax check, as AWS's first one);
  ecsemu evaluates no policy, so ``BlockPublicPolicy`` refuses nothing.
- A secret scheduled for deletion refuses Put/Delete (``InvalidRequestException``) but still
  answers GetResourcePolicy, as Terraform reads it while a secret is in its recovery window.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ecsemu.model import secrets_manager as model
from ecsemu.services.secretsmanager.base import Call, Params, Result, operation, require
from ecsemu.services.secretsmanager.errors import MalformedPolicyDocumentException

MAX_POLICY_LENGTH: Final = 20_480
MALFORMED: Final = "This resource policy contains a syntax error."


def checked_policy(text: str) -> str:
    """``text`` when it is a policy document's JSON; refused otherwise."""
    if len(text) > MAX_POLICY_LENGTH:
        raise MalformedPolicyDocumentException(f"The resource policy is longer than {MAX_POLICY_LENGTH} characters.")
    try:
        document = json.loads(text)
    except ValueError:
        raise MalformedPolicyDocumentException(MALFORMED) from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise MalformedPolicyDocumentException(MALFORMED)
    return text


@operation("GetResourcePolicy")
def get_resource_policy(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]), deleted_ok=True)
    shown: Result = {"ARN": secret.arn, "Name": secret.name}
    record = call.record(secret.name)
    policy = record["spec"].get("ResourcePolicy") if record is not None else None
    if policy is not None:
        shown["ResourcePolicy"] = policy
    return shown


@operation("PutResourcePolicy")
def put_resource_policy(call: Call, params: Params) -> Result:
    policy = checked_policy(str(params["ResourcePolicy"]))
    secret = require(call, str(params["SecretId"]))

    def attach(record: dict[str, Any]) -> None:
        record["spec"]["ResourcePolicy"] = policy

    call.store.update(call.scope, model.KIND, secret.name, attach)
    return {"ARN": secret.arn, "Name": secret.name}


@operation("DeleteResourcePolicy")
def delete_resource_policy(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]))

    def detach(record: dict[str, Any]) -> None:
        record["spec"].pop("ResourcePolicy", None)

    call.store.update(call.scope, model.KIND, secret.name, detach)
    return {"ARN": secret.arn, "Name": secret.name}


@operation("ValidateResourcePolicy")
def validate_resource_policy(call: Call, params: Params) -> Result:
    if params.get("SecretId"):
        require(call, str(params["SecretId"]))
    checked_policy(str(params["ResourcePolicy"]))
    return {"PolicyValidationPassed": True, "ValidationErrors": []}
