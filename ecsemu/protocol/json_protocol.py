"""The AWS JSON 1.0/1.1 protocol: operation from ``X-Amz-Target``, JSON in, JSON out.

Knows nothing of any service: it turns bytes into (operation, params) and results or
``AwsError``s into (status, headers, body).
"""

from __future__ import annotations

import json
from typing import Any

from ecsemu.errors import AwsError, ClientError

JSON_CONTENT_TYPES = frozenset({"application/x-amz-json-1.1", "application/x-amz-json-1.0"})


class SerializationException(ClientError):
    code = "SerializationException"


class UnknownOperationException(ClientError):
    code = "UnknownOperationException"


def operation_from_target(target: str | None, prefix: str) -> str | None:
    """``Prefix.Operation`` → ``Operation``; None when the target is not for ``prefix``."""
    if not target or "." not in target:
        return None
    target_prefix, _, operation = target.partition(".")
    return operation if target_prefix == prefix and operation else None


def parse_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_CONTENT_TYPES:
        raise UnknownOperationException("")
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise SerializationException(f"Unable to parse the request body as JSON: {error}") from error
    if not isinstance(params, dict):
        kind = "list" if isinstance(params, list) else "value"
        raise SerializationException(f"Start of {kind} found where not expected")
    return params


def serialize_result(result: dict[str, Any]) -> bytes:
    return json.dumps(result, separators=(",", ":")).encode()


def serialize_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return json.dumps(body).encode()


def content_type(version: str) -> str:
    return f"application/x-amz-json-{version}"
