"""Smithy RPC v2 CBOR (``smithy.protocols#rpcv2Cbor``): CBOR in, CBOR out, driven by botocore's
shapes. Knows nothing of any service.

Wire (Smithy's RPC v2 CBOR spec; botocore ``RpcV2CBORSerializer``/``RpcV2CBORParser``)
------------------------------------------------------------------------------------
* A request is ``POST /service/<ServiceName>/operation/<Operation>`` with the header
  ``smithy-protocol: rpc-v2-cbor`` and a CBOR map of the input (``Content-Type:
  application/cbor``; no body for an empty input). ``<ServiceName>`` is the model's
  ``targetPrefix`` (CloudWatch: ``GraniteServiceVersion20100801``).
* An answer carries ``smithy-protocol: rpc-v2-cbor`` and ``Content-Type: application/cbor``;
  its body is the CBOR map of the output. An error is a map ``{"__type": code, "message": ...}``
  with the error's HTTP status.
* Timestamps are tag 1 over epoch seconds (integer or float); blobs are byte strings.

The bridge to providers
-----------------------
Providers are written for the JSON protocols, so a request is turned into the params the JSON
protocol would have given (:func:`parse_body`): timestamps as epoch seconds (an int when
whole), blobs as base64 text; and a result in those same JSON shapes is written along the
output shape (:func:`serialize_result`): epoch numbers, ``datetime``s or ISO 8601 text become
tag 1, base64 text (or bytes) becomes a byte string, members the model does not know are left
out.

Limits (as ``json_protocol``'s, answered ``SerializationException``, HTTP 400)
-----------------------------------------------------------------------------
A body of at most ``MAX_BODY_BYTES``, one data item with nothing after it, nested at most
``MAX_NESTING_DEPTH`` maps and arrays deep; map keys are text or byte strings only; no tag but
1 (value sharing, string references, bignums... are refused, so no input can expand); a value
of another type than its shape's is refused before any provider runs.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import cbor2

from ecsemu.errors import AwsError
from ecsemu.protocol.json_protocol import (
    MAX_BODY_BYTES,
    MAX_NESTING_DEPTH,
    SerializationException,
    UnknownOperationException,
)

CONTENT_TYPE: Final = "application/cbor"
PROTOCOL_HEADER: Final = "smithy-protocol"
PROTOCOL: Final = "rpc-v2-cbor"
PATH_PREFIX: Final = "/service/"

__all__ = [
    "CONTENT_TYPE",
    "MAX_BODY_BYTES",
    "PROTOCOL",
    "PROTOCOL_HEADER",
    "SerializationException",
    "UnknownOperationException",
    "operation_path",
    "parse_body",
    "serialize_error",
    "serialize_result",
]

_PATH: Final = re.compile(r"/service/([A-Za-z0-9_.-]+)/operation/([A-Za-z0-9_]+)")
# Tags cbor2 would otherwise decode (shared values, string references, bignums, decimals,
# sets...): refused. Tags it does not know come back as ``CBORTag`` and are refused by the walk.
_REFUSED_TAGS: Final = (0, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 100, 256, 258, 260, 261, 1004, 55799)


def _refuse_tag(decoder: Any) -> Any:
    raise cbor2.CBORDecodeError("CBOR tag not accepted")


_SEMANTIC_DECODERS: Final = dict.fromkeys(_REFUSED_TAGS, _refuse_tag)


def operation_path(path: str) -> tuple[str, str] | None:
    """``/service/<ServiceName>/operation/<Operation>`` → (service name, operation); else None."""
    match = _PATH.fullmatch(path)
    return (match.group(1), match.group(2)) if match else None


# --------------------------------------------------------------------------------------------
# Reading the request


def decode(body: bytes) -> Any:
    """The one CBOR data item of ``body``, within the limits above."""
    if len(body) > MAX_BODY_BYTES:
        raise SerializationException(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    stream = io.BytesIO(body)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_SEMANTIC_DECODERS,
            max_depth=MAX_NESTING_DEPTH,
            strict_hashable_types=True,
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, OverflowError, TypeError, RecursionError, MemoryError) as error:
        raise SerializationException(f"Unable to parse the request body as CBOR: {error}") from error
    if stream.tell() != len(body):
        raise SerializationException("Unable to parse the request body as CBOR: data follows the first item.")
    return value


def parse_body(body: bytes, input_shape: Any) -> dict[str, Any]:
    """The params of a request body, in the JSON protocol's shapes (``{}`` for no body)."""
    if not body:
        return {}
    value = decode(body)
    if not isinstance(value, dict):
        raise SerializationException("The request body must be a CBOR map.")
    if input_shape is None:
        return {}
    try:
        return _structure(input_shape, value)
    except _Mismatch as mismatch:
        where = input_shape.name + "".join(reversed(mismatch.segments))
        raise _mismatch(where, mismatch.expected, mismatch.value) from None


# The walk below builds no path while it succeeds: a value of the wrong kind raises
# ``_Mismatch``, and each enclosing list, map or structure adds its segment as it unwinds.


class _Mismatch(Exception):
    def __init__(self, expected: str, value: object) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.segments: list[str] = []  # innermost first


def _value(shape: Any, value: Any) -> Any:
    """A CBOR value (as cbor2 decodes it) → the JSON protocol's value, along ``shape``."""
    if value is None:
        return None
    kind = shape.type_name
    if type(value) is str:
        if kind == "string":  # the commonest case first
            return value
    elif type(value) is float and kind == "double":
        return value
    if kind == "structure":
        return _structure(shape, value)
    if kind == "list":
        if not isinstance(value, list):
            raise _Mismatch("an array", value)
        member = shape.member
        out: list[Any] = []
        index = 0
        try:
            for index, item in enumerate(value):  # noqa: B007 (read when an element is refused)
                out.append(_value(member, item))
        except _Mismatch as mismatch:
            mismatch.segments.append(f"[{index}]")
            raise
        return out
    if kind == "map":
        if not isinstance(value, dict):
            raise _Mismatch("a map", value)
        mapped: dict[str, Any] = {}
        item_shape = shape.value
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Mismatch("a map with text keys", key)
            try:
                mapped[key] = _value(item_shape, item)
            except _Mismatch as mismatch:
                mismatch.segments.append(f".{key}")
                raise
        return mapped
    return _scalar(kind, value)


def _structure(shape: Any, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Mismatch("a map", value)
    out: dict[str, Any] = {}
    members = shape.members
    for key, item in value.items():
        member = members.get(key) if isinstance(key, str) else None
        if member is not None:
            if type(item) is str and member.type_name == "string":  # inlined: the commonest member
                out[key] = item
                continue
            try:
                out[key] = _value(member, item)
            except _Mismatch as mismatch:
                mismatch.segments.append(f".{key}")
                raise
    return out


def _scalar(kind: str, value: Any) -> Any:
    if kind in ("string", "character"):
        if isinstance(value, str):
            return value
        raise _Mismatch("a text string", value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise _Mismatch("a boolean", value)
    if kind in ("integer", "long", "short", "byte"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch("an integer", value)
    if kind in ("float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _Mismatch("a number", value)
    if kind == "timestamp":
        if isinstance(value, datetime):
            return _epoch(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _Mismatch("a timestamp (tag 1)", value)
    if kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        raise _Mismatch("a byte string", value)
    if isinstance(value, (str, int, float, bool, list, dict)):  # documents and kinds unknown here
        return value
    raise _Mismatch(kind, value)


def _epoch(moment: datetime) -> int | float:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _mismatch(where: str, expected: str, value: object) -> SerializationException:
    return SerializationException(f"Expected {expected} at {where}, found a CBOR {_cbor_kind(value)}.")


def _cbor_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text string"
    if isinstance(value, (bytes, bytearray)):
        return "byte string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime):
        return "timestamp"
    return "value of another kind"


# --------------------------------------------------------------------------------------------
# Writing the answer


def serialize_result(result: Mapping[str, Any], output_shape: Any) -> bytes:
    """The CBOR body of a provider's ``result`` (in the JSON protocol's shapes)."""
    if output_shape is None:
        return cbor2.dumps({})
    return cbor2.dumps(_write(output_shape, result))


def _write(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name} must be a mapping, not {type(value).__name__}")
        return {
            name: _write(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None
        }
    if kind == "list":
        return [None if item is None else _write(shape.member, item) for item in value]
    if kind == "map":
        return {str(key): None if item is None else _write(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, _epoch_of(value))
    if kind == "blob":
        return _blob_bytes(value)
    if kind in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _epoch_of(value: object) -> int | float:
    if isinstance(value, datetime):
        return _epoch(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _epoch(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise TypeError(f"a timestamp must be a number, a datetime or ISO 8601 text, not {type(value).__name__}")


def _blob_bytes(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value.encode("utf-8")
    raise TypeError(f"a blob must be base64 text or bytes, not {type(value).__name__}")


def serialize_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return cbor2.dumps(body)
