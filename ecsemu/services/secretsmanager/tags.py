"""TagResource and UntagResource. A secret has at most 50 tags; a secret scheduled for deletion
refuses both (``InvalidRequestException``)."""

from __future__ import annotations

from typing import Any

from ecsemu.model import secrets_manager as model
from ecsemu.services.secretsmanager.base import Call, Params, Result, check_tags, operation, require, spec_of


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]))
    merged = check_tags(params["Tags"], spec_of(call, secret).get("Tags", []))

    def retag(record: dict[str, Any]) -> None:
        record["spec"]["Tags"] = merged

    call.store.update(call.scope, model.KIND, secret.name, retag)
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Result:
    secret = require(call, str(params["SecretId"]))
    removed = {str(key) for key in params["TagKeys"]}

    def untag(record: dict[str, Any]) -> None:
        record["spec"]["Tags"] = [tag for tag in record["spec"].get("Tags", []) if tag["Key"] not in removed]

    call.store.update(call.scope, model.KIND, secret.name, untag)
    return {}
