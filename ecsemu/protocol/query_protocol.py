"""The AWS query protocol: a form body in, XML out. Generic: every rule comes from botocore's
service model of the service, loaded once on first use and cached.

Vocabulary
----------
form
    The request body decoded into ``{"Action": ..., "Version": ..., "Names.member.1": ...}``.
    Keys are dotted paths of *serialized names*: a member's ``locationName`` when the model
    gives one, else its own name.
params
    What a provider receives: the form rebuilt into nested dicts keyed by the model's member
    names, the very names boto3 takes (``{"Names": ["a"], "PageSize": 10}``), with values of
    their shape's Python type (int, float, bool, ``datetime``, bytes, str).
result
    What a provider returns, keyed the same way; written as ``<{Op}Response>`` XML.

Wire rules (as botocore's ``QuerySerializer`` writes them and its ``QueryParser`` reads them)
--------------------------------------------------------------------------------------------
* lists: ``Name.member.N`` (``member`` or the list member's ``locationName``), N from 1;
  flattened lists drop the ``.member``; ``Name=`` alone is an empty list.
* maps: ``Name.entry.N.key`` / ``Name.entry.N.value`` (flattened maps drop ``.entry``).
* booleans ``true``/``false``; timestamps ISO 8601 (epoch seconds accepted); blobs base64.
* A result is ``<{Op}Response xmlns=NS><{Op}Result>...</{Op}Result><ResponseMetadata>
  <RequestId>..</RequestId></ResponseMetadata></{Op}Response>``; lists as ``<member>``
  elements, maps as ``<entry><key/><value/></entry>``, timestamps ISO 8601 UTC with
  milliseconds.
* An error is ``<ErrorResponse xmlns=NS><Error><Type>Sender|Receiver</Type><Code/><Message/>
  </Error><RequestId/></ErrorResponse>`` with the HTTP status of the model's error shape of
  that code, else the error's own status.

Invariants
----------
* Members the model does not know are ignored, in both directions (AWS ignores unknown
  request parameters; a result never shows what the model cannot describe).
* A value that cannot be read as its shape's type is refused with ``ValidationError``
  before any provider runs; so is a list or map index that is not an ASCII decimal number
  (``Names.member.²``: ``str.isdigit`` says yes, ``int`` says no), and a form larger than
  ``MAX_FORM_BYTES`` (ecsemu's bound; ELBv2's inputs are a few KiB).
* An error's ``<Code>`` is its query code: its own ``query_code``, else the model's ``error``
  code of its shape (CloudWatch's ``InvalidParameterValueException`` is
  ``InvalidParameterValue``), else its code.
* Services whose model lists ``query`` among its ``protocols`` (CloudWatch) are read from that
  model; SQS, whose model no longer speaks query, from ``legacy_query``'s restored traits.
  ``parse(..., json_values=True)`` gives a provider written for the JSON protocols its values
  (epoch-second timestamps, base64 blobs); a blob result given as text is taken as base64.
* This module knows no service: it imports nothing of ecsemu but the error types and the
  protocol layer's model helpers.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from ecsemu.errors import AwsError, ClientError
from ecsemu.protocol.legacy_query import legacy_query_model
from ecsemu.protocol.service_models import query_codes, service_model, wire_protocols

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE: Final = "text/xml"


class MissingAction(ClientError):
    code = "MissingAction"

    def __init__(self, message: str = "Missing Action") -> None:
        super().__init__(message)


class InvalidAction(ClientError):
    code = "InvalidAction"


class MalformedQueryString(ClientError):
    code = "MalformedQueryString"


class QueryValidationError(ClientError):
    """A form value that cannot be read as its shape's type."""

    code = "ValidationError"


def invalid_action(action: str, version: str | None) -> InvalidAction:
    return InvalidAction(f"Could not find operation {action} for version {version or 'NO_VERSION_SPECIFIED'}")


# --------------------------------------------------------------------------------------------
# Reading the request


MAX_FORM_BYTES: Final = 1024 * 1024


def read_form(body: bytes, query_string: bytes = b"") -> dict[str, str]:
    """The request's parameters: the URL's query string, then the body (the body wins)."""
    form: dict[str, str] = {}
    for raw in (query_string, body):
        if not raw:
            continue
        if len(raw) > MAX_FORM_BYTES:
            raise QueryValidationError(f"The request is larger than {MAX_FORM_BYTES} bytes.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedQueryString("The request body is not valid UTF-8.") from error
        form.update(parse_qsl(text, keep_blank_values=True))
    return form


def action_of(form: Mapping[str, str]) -> str:
    action = form.get("Action")
    if not action:
        raise MissingAction()
    return action


class _Absent:
    """Marks a member the form does not mention (None is never a form value)."""


_ABSENT: Final = _Absent()


class _FormReader:
    """Rebuilds params from a form along an input shape."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.form = form
        # Every dotted prefix of every key, with the segments that follow it.
        self.children: dict[str, set[str]] = {}
        for key in form:
            parts = key.split(".")
            prefix = parts[0]
            for part in parts[1:]:
                self.children.setdefault(prefix, set()).add(part)
                prefix = f"{prefix}.{part}"

    def read(self, shape: Any, key: str, path: tuple[str, ...]) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, key, path)
        if kind == "list":
            return self._list(shape, key, path)
        if kind == "map":
            return self._map(shape, key, path)
        raw = self.form.get(key)
        if raw is None:
            return _ABSENT
        return _scalar_from_text(shape, raw, path)

    def _structure(self, shape: Any, key: str, path: tuple[str, ...]) -> Any:
        if key and key not in self.children:
            return _ABSENT
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = _member_wire_name(member, name)
            value = self.read(member, f"{key}.{wire}" if key else wire, (*path, _segment(name)))
            if value is not _ABSENT:
                out[name] = value
        return out

    def _list(self, shape: Any, key: str, path: tuple[str, ...]) -> Any:
        if shape.serialization.get("flattened"):
            items_key = key
        else:
            items_key = f"{key}.{shape.member.serialization.get('name', 'member')}"
        indices = _indices(self.children.get(items_key, ()), items_key)
        if not indices:
            return [] if self.form.get(key) == "" else _ABSENT
        out = []
        for index in indices:
            value = self.read(shape.member, f"{items_key}.{index}", (*path, f"{index}.member"))
            out.append(None if value is _ABSENT else value)
        return out

    def _map(self, shape: Any, key: str, path: tuple[str, ...]) -> Any:
        entries_key = key if shape.serialization.get("flattened") else f"{key}.entry"
        indices = _indices(self.children.get(entries_key, ()), entries_key)
        if not indices:
            return {} if self.form.get(key) == "" else _ABSENT
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out: dict[str, Any] = {}
        for index in indices:
            entry = f"{entries_key}.{index}"
            map_key = self.read(shape.key, f"{entry}.{key_name}", (*path, f"{index}.key"))
            if map_key is _ABSENT:
                continue
            value = self.read(shape.value, f"{entry}.{value_name}", (*path, str(map_key)))
            out[map_key] = None if value is _ABSENT else value
        return out


def _indices(segments: Iterable[str], key: str) -> list[int]:
    """The 1-based indexes under a list's or map's ``key``, in order; anything else there
    (``Names.member.²``, ``Names.member.x``) is refused."""
    indices: set[int] = set()
    for segment in segments:
        if not (segment.isascii() and segment.isdigit()):
            raise QueryValidationError(
                f"1 validation error detected: Value '{segment}' at '{key}' failed to satisfy constraint: "
                "Member must be a list index (an ASCII decimal number)"
            )
        indices.add(int(segment))
    return sorted(indices)


def _segment(name: str) -> str:
    """A member name as AWS writes it in validation messages (``pageSize``)."""
    return name[:1].lower() + name[1:]


def _member_wire_name(member: Any, name: str) -> str:
    if member.type_name == "list" and member.serialization.get("flattened"):
        named = member.member.serialization.get("name")
        if named:
            return str(named)
    return str(member.serialization.get("name", name))


_TYPE_NAMES: Final = {
    "integer": "Integer",
    "long": "Long",
    "float": "Float",
    "double": "Double",
    "boolean": "Boolean",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}


def _scalar_from_text(shape: Any, raw: str, path: tuple[str, ...]) -> Any:
    kind = shape.type_name
    try:
        if kind in ("string", "character"):
            return raw
        if kind in ("integer", "long"):
            return int(raw.strip())
        if kind in ("float", "double"):
            return float(raw.strip())
        if kind == "boolean":
            lowered = raw.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(raw)
            return lowered == "true"
        if kind == "timestamp":
            return _parse_timestamp(raw.strip())
        if kind == "blob":
            return base64.b64decode(raw, validate=True)
    except (ValueError, OverflowError, binascii.Error) as error:
        where = ".".join(path)
        raise QueryValidationError(
            f"1 validation error detected: Value '{raw}' at '{where}' failed to satisfy constraint: "
            f"Member must be of type {_TYPE_NAMES.get(kind, kind)}"
        ) from error
    return raw


def _parse_timestamp(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Writing the answer


def _timestamp_text(value: object) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        return str(value)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _scalar_text(shape: Any, value: object) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _timestamp_text(value)
    if kind == "blob":
        if isinstance(value, str):  # already base64 text, as the JSON protocols carry blobs
            return value
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"a blob must be bytes or base64 text, not {type(value).__name__}")
        return base64.b64encode(value).decode()
    if kind in ("integer", "long"):
        return str(int(value))  # type: ignore[call-overload]
    if kind in ("float", "double"):
        return repr(float(value))  # type: ignore[arg-type]
    return str(value)


class _XmlWriter:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def element(self, shape: Any, value: object, tag: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            self._structure(shape, value, tag)
        elif kind == "list":
            self._list(shape, value, tag)
        elif kind == "map":
            self._map(shape, value, tag)
        else:
            self.parts.append(f"<{tag}>{_xml_text(_scalar_text(shape, value))}</{tag}>")

    def members(self, shape: Any, value: object) -> None:
        if not isinstance(value, Mapping):
            return
        for name, member in shape.members.items():
            member_value = value.get(name)
            if member_value is None:
                continue
            if member.type_name == "list" and member.serialization.get("flattened"):
                tag = _member_wire_name(member, name)
                for item in member_value:
                    if item is not None:
                        self.element(member.member, item, tag)
            else:
                self.element(member, member_value, str(member.serialization.get("name", name)))

    def _structure(self, shape: Any, value: object, tag: str) -> None:
        self.parts.append(f"<{tag}>")
        self.members(shape, value)
        self.parts.append(f"</{tag}>")

    def _list(self, shape: Any, value: object, tag: str) -> None:
        item_tag = str(shape.member.serialization.get("name", "member"))
        self.parts.append(f"<{tag}>")
        for item in value if isinstance(value, (list, tuple)) else ():
            if item is not None:
                self.element(shape.member, item, item_tag)
        self.parts.append(f"</{tag}>")

    def _map(self, shape: Any, value: object, tag: str) -> None:
        key_tag = str(shape.key.serialization.get("name", "key"))
        value_tag = str(shape.value.serialization.get("name", "value"))
        flattened = bool(shape.serialization.get("flattened"))
        if not flattened:
            self.parts.append(f"<{tag}>")
        for key, item in value.items() if isinstance(value, Mapping) else ():
            self.parts.append(f"<{tag}>" if flattened else "<entry>")
            self.element(shape.key, key, key_tag)
            if item is not None:
                self.element(shape.value, item, value_tag)
            self.parts.append(f"</{tag}>" if flattened else "</entry>")
        if not flattened:
            self.parts.append(f"</{tag}>")

    def text(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


_XML_ESCAPES: Final = {'"': "&quot;", "\r": "&#13;"}
# Characters XML 1.0 cannot carry at all, even escaped: they are shown as U+FFFD.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text), _XML_ESCAPES)


# --------------------------------------------------------------------------------------------
# One service's model, ready for both directions


class QueryService:
    """A botocore service model of the query protocol, with what parsing and writing need."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name: str = model.service_name
        self.namespace: str = model.metadata.get("xmlNamespace", "")
        self.api_version: str = model.api_version
        self.operations: frozenset[str] = frozenset(model.operation_names)
        self.query_codes: dict[str, str] = query_codes(self.name)
        self._error_statuses: dict[str, int] = {}
        for shape in model.error_shapes:
            error = shape.metadata.get("error", {})
            status = int(error.get("httpStatusCode", 400))
            self._error_statuses[shape.name] = status
            self._error_statuses[error.get("code", shape.name)] = status

    def parse(self, operation: str, form: Mapping[str, str], *, json_values: bool = False) -> dict[str, Any]:
        """The params of ``operation`` in ``form`` (whose ``Action`` names it); with
        ``json_values``, in the values the JSON protocols give (see :func:`as_json_values`)."""
        shape = self.model.operation_model(operation).input_shape
        if shape is None:
            return {}
        params = _FormReader(form).read(shape, "", ())
        if not isinstance(params, dict):
            return {}
        return as_json_values(params) if json_values else params

    def serialize_result(self, operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
        shape = self.model.operation_model(operation).output_shape
        writer = _XmlWriter()
        writer.parts.append(f'<{operation}Response xmlns="{self.namespace}">')
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{operation}Result")
            writer.parts.append(f"<{wrapper}>")
            writer.members(shape, result)
            writer.parts.append(f"</{wrapper}>")
        writer.parts.append(
            f"<ResponseMetadata><RequestId>{_xml_text(request_id)}</RequestId></ResponseMetadata></{operation}Response>"
        )
        return writer.text()

    def error_status(self, error: AwsError) -> int:
        return self._error_statuses.get(error.code, error.status_code)

    def query_code(self, error: AwsError) -> str:
        """``error``'s code in this protocol: its own ``query_code``, else the model's query
        code of its error shape, else its code."""
        return error.query_code or self.query_codes.get(error.code) or error.code

    def serialize_error(self, error: AwsError, request_id: str) -> tuple[bytes, int]:
        code = self.query_code(error)
        return serialize_error(error, request_id, self.namespace, code=code), self.error_status(error)


def serialize_error(error: AwsError, request_id: str, namespace: str = "", *, code: str | None = None) -> bytes:
    """The ``ErrorResponse`` document of ``error`` (its status is the caller's to choose),
    with ``code`` in place of the error's own when given."""
    kind = "Sender" if error.sender_fault else "Receiver"
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f"<ErrorResponse{xmlns}><Error><Type>{kind}</Type><Code>{_xml_text(code or error.code)}</Code>"
        f"<Message>{_xml_text(error.message)}</Message></Error>"
        f"<RequestId>{_xml_text(request_id)}</RequestId></ErrorResponse>"
    ).encode()


def as_json_values(value: Any) -> Any:
    """``value`` with the values the JSON protocols give in place of the query protocol's:
    ``datetime`` → epoch seconds (an int when whole), bytes → base64 text."""
    if isinstance(value, dict):
        return {key: as_json_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json_values(item) for item in value]
    if isinstance(value, datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def query_model(name: str) -> Any:
    """botocore's model of ``name`` as the query protocol reads it: the model itself when it
    speaks query (alone or among its ``protocols``), else the model with the query-era
    wire traits of ``legacy_query`` (SQS); LookupError for any other service."""
    if "query" in wire_protocols(name):
        return service_model(name)
    legacy = legacy_query_model(name)
    if legacy is None:
        raise LookupError(f"{name} does not speak the query protocol")
    return legacy


_SERVICES: dict[str, QueryService] = {}
_SERVICES_LOCK: Final = threading.Lock()


def query_service(name: str) -> QueryService:
    """The :class:`QueryService` of botocore's service ``name`` (loaded once, then cached)."""
    service = _SERVICES.get(name)
    if service is not None:
        return service
    with _SERVICES_LOCK:
        service = _SERVICES.get(name)
        if service is None:
            model = query_model(name)
            service = QueryService(model)
            _SERVICES[name] = service
    return service
