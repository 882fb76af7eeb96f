"""Message bodies and message attributes: SQS's checks, sizes and MD5 digests.

MD5OfMessageAttributes is computed as SQS does: for each attribute in order of name, the name,
the data type and the value, each as a 4-byte big-endian length then its bytes (UTF-8 for
text), with a transport byte before the value (1: ``StringValue`` of String and Number types,
2: ``BinaryValue``); the MD5 of the whole, in hex. SDKs check it against what they sent.

Binary values travel as base64 text (the JSON protocol's blob form) and are kept that way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from ecsemu.services.sqs.errors import InvalidMessageContents, InvalidParameterValue, MissingParameter

MAX_ATTRIBUTES: Final = 10
MAX_NAME_CHARS: Final = 256
MAX_TYPE_CHARS: Final = 256

# XML 1.0's characters: what SQS accepts in a body and in string values.
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TYPE = re.compile(r"^(String|Number|Binary)(\..+)?$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

Attributes = dict[str, dict[str, str]]


def check_body(body: str) -> None:
    if not body:
        raise MissingParameter("The request must contain the parameter MessageBody.")
    if _INVALID_CHARACTER.search(body):
        raise InvalidMessageContents(
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
            "#xE000 to #xFFFD | #x10000 to #x10FFFF"
        )


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _binary(name: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidParameterValue(f"Message (user) attribute '{name}' has an invalid binary value.") from error


def check_attributes(given: Mapping[str, Any], *, system: bool = False) -> tuple[Attributes, int]:
    """The attributes in stored form (``{"DataType", "StringValue" | "BinaryValue"}``) and
    their size in bytes (names, types and values)."""
    kind = "system" if system else "user"
    if len(given) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(given)}] exceeds the allowed maximum [{MAX_ATTRIBUTES}]."
        )
    stored: Attributes = {}
    size = 0
    for name, attribute in given.items():
        if (
            not 1 <= len(name) <= MAX_NAME_CHARS
            or not _NAME.match(name)
            or name.lower().startswith(("aws.", "amazon."))
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
        ):
            raise InvalidParameterValue(f"Message ({kind}) attribute name '{name}' is invalid.")
        if system and name != "AWSTraceHeader":
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
        data_type = str(attribute.get("DataType", ""))
        if len(data_type) > MAX_TYPE_CHARS or not _TYPE.match(data_type):
            raise InvalidParameterValue(
                f"The type of message ({kind}) attribute '{name}' is invalid. You must use only the following "
                "supported type prefixes: Binary, Number, String."
            )
        if data_type.startswith("Binary"):
            raw = attribute.get("BinaryValue")
            if raw is None or raw in ("", b""):
                raise InvalidParameterValue(
                    f"Message ({kind}) attribute '{name}' must contain a non-empty message attribute value for "
                    f"message attribute type '{data_type}'."
                )
            value = _binary(name, raw)
            stored[name] = {"DataType": data_type, "BinaryValue": base64.b64encode(value).decode()}
            size += len(value)
        else:
            text = attribute.get("StringValue")
            if not isinstance(text, str) or text == "":
                raise InvalidParameterValue(
                    f"Message ({kind}) attribute '{name}' must contain a non-empty message attribute value for "
                    f"message attribute type '{data_type}'."
                )
            if data_type.startswith("Number") and not _NUMBER.match(text):
                raise InvalidParameterValue(f"Could not cast message attribute '{name}' value to number.")
            if _INVALID_CHARACTER.search(text):
                raise InvalidMessageContents(f"Message ({kind}) attribute '{name}' contains invalid characters.")
            stored[name] = {"DataType": data_type, "StringValue": text}
            size += len(text.encode())
        size += len(name.encode()) + len(data_type.encode())
    return stored, size


def attributes_md5(attributes: Attributes) -> str | None:
    """SQS's MD5 of message attributes (None when there are none)."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)

    def put(data: bytes) -> None:
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)

    for name in sorted(attributes):
        attribute = attributes[name]
        put(name.encode())
        put(attribute["DataType"].encode())
        if "BinaryValue" in attribute:
            digest.update(b"\x02")
            put(base64.b64decode(attribute["BinaryValue"]))
        else:
            digest.update(b"\x01")
            put(attribute["StringValue"].encode())
    return digest.hexdigest()


def select_attributes(attributes: Attributes, names: list[str]) -> Attributes:
    """The attributes ReceiveMessage's ``MessageAttributeNames`` asks for: ``All`` or ``.*``
    (every one), a name, or a prefix ``name.*``."""
    if not names or not attributes:
        return {}
    if "All" in names or ".*" in names:
        return dict(attributes)
    prefixes = tuple(name[:-1] for name in names if name.endswith(".*"))
    exact = set(names)
    return {name: value for name, value in attributes.items() if name in exact or name.startswith(prefixes or ("\0",))}
