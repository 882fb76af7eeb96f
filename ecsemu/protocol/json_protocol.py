"""The AWS JSON 1.0/1.1 protocol: operation from ``X-Amz-Target``, JSON in, JSON out.

Knows nothing of any service: it turns bytes into (operation, params) and results or
``AwsError``s into (status, headers, body).

Limits (ecsemu's, answered as AWS answers a body it cannot read: 400
``SerializationException``): a body of at most ``MAX_BODY_BYTES`` (the largest input of the
services here is a PutLogEvents batch: 1 MiB of events, counted without their JSON, which adds
up to ~0.5 MiB for 10,000 events; ECS's task definitions are limited to 64 KiB), nested at most ``MAX_NESTING_DEPTH`` objects
and arrays deep (no ECS input shape nests a tenth as deep). So no request makes the layers
after this one recurse without bound or hold an unbounded input.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ecsemu.errors import AwsError, ClientError

JSON_CONTENT_TYPES = frozenset({"application/x-amz-json-1.1", "application/x-amz-json-1.0"})
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
MAX_NESTING_DEPTH: Final = 64


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
    if len(body) > MAX_BODY_BYTES:
        raise SerializationException(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except RecursionError as error:
        raise SerializationException(_too_deep()) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise SerializationException(f"Unable to parse the request body as JSON: {error}") from error
    if not isinstance(params, dict):
        kind = "list" if isinstance(params, list) else "value"
        raise SerializationException(f"Start of {kind} found where not expected")
    if nesting_depth(params) > MAX_NESTING_DEPTH:
        raise SerializationException(_too_deep())
    return params


def _too_deep() -> str:
    return f"The request body nests objects and arrays more than {MAX_NESTING_DEPTH} levels deep."


_CONTAINERS: Final = (dict, list)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def nesting_depth(value: object) -> int:
    """How many objects and arrays deep ``value`` nests (``{}`` is 1), without recursion; at
    most ``MAX_NESTING_DEPTH + 1`` (it stops looking deeper).

    One level at a time; a child's exact type is compared first (``json.loads`` makes only
    these types), so the common case is two identity tests, not ``isinstance`` calls.
    """
    if not isinstance(value, _CONTAINERS):
        return 0
    level: list[Any] = [value]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_NESTING_DEPTH:
            return depth
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                kind = type(child)
                if kind is dict or kind is list or (kind not in _SCALARS and isinstance(child, _CONTAINERS)):
                    deeper.append(child)
        level = deeper
    return depth


def serialize_result(result: dict[str, Any]) -> bytes:
    return json.dumps(result, separators=(",", ":")).encode()


def serialize_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return json.dumps(body).encode()


def content_type(version: str) -> str:
    return f"application/x-amz-json-{version}"
