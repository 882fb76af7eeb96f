"""Validate operation inputs at the edge, against the committed ``api_shapes/<service>.json``.

Vocabulary
----------
shapes document
    One ``api_shapes/<service>.json``: JSON Schemas of every operation input, generated from
    botocore by ``scripts/gen_shapes.py``. Read once per service; botocore is not used here.
node
    A compiled, immutable checker for one schema. Nodes of the shared ``$defs`` are compiled
    once per service and shared by every operation that uses them.
violation
    One thing wrong with an input, with its path in AWS's own notation
    (``containerDefinitions.1.member.cpu``: members with a lower-case first letter, list
    elements as ``<1-based index>.member``).
dialect
    How one AWS service words its answer to violations: which error code, which message.

Invariants
----------
* Two passes. :meth:`Node.accepts` is the hot path: no allocation, no path, stops at the first
  problem. Only when it refuses does :meth:`Node.explain` walk again to collect every violation
  with its path. Both implement the same rules; a refusal that ``explain`` cannot account for
  is our bug and surfaces as :class:`~ecsemu.errors.ServerError`.
* Unknown members are ignored (AWS ignores them). A JSON ``null`` is the same as an absent
  member, but a ``null`` list element is malformed (AWS's lists are not sparse: Smithy servers
  refuse such a list when they deserialize it), answered with the dialect's ``type_code``
  (``SerializationException`` for JSON, ``ValidationError`` for query, where a list element
  the form names without a value reads as null). Patterns are not checked (the shapes
  documents omit them).
* Booleans are never numbers, and numbers are never booleans, though Python says otherwise.

What AWS answers (examples from the field; the sources are listed in the project report)
----------------------------------------------------------------------------------------
* A value of the wrong JSON type fails deserialization before any validation:
  ``SerializationException`` ``STRING_VALUE cannot be converted to Integer`` (seen from ECS),
  ``Start of structure or map found where not expected.``, ``Start of list found where not
  expected``. These messages do not name the member; the raised error carries it in ``path``.
* The generic (Coral) constraint wording, one clause per violation::

      1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint:
      Member must have value greater than or equal to 1

  with ``Member must not be null``, ``Member must have length less than or equal to 128``,
  ``Member must satisfy enum value set: [a, b]``; a bad element of a list or map of scalars is
  reported on the collection (``Member must satisfy constraint: [...]``, ``Map value must
  satisfy constraint: [...]``). The code is the service's: ``InvalidParameterException`` (ECS,
  CloudWatch Logs), ``ValidationException`` (most JSON services), ``ValidationError`` (query).
* ECS words a missing or empty top-level required member by hand: ``Tasks cannot be empty.``,
  ``Family can not be blank.``; RegisterTaskDefinition answers ``ClientException``.
* Some required lists may be empty, and then ``[]`` is an answer, not a blank: those whose
  model says ``min: 0`` (TagResource's ``tags``), and those AWS documents as accepting ``[]``
  (PutClusterCapacityProviders' ``capacityProviders`` and ``defaultCapacityProviderStrategy``:
  "you must specify an empty array ([]) to bypass defining a default strategy"; Terraform
  sends both empty when it destroys ``aws_ecs_cluster_capacity_providers``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ecsemu.errors import ClientError, ServerError
from ecsemu.protocol.validation_nodes import NULL_ELEMENT, Compiler, ListNode, Node, StructureNode, Violation


def _default_shapes_dir() -> Path:
    """The shapes an installed package carries (``ecsemu/_shapes``, see setup.py), else the
    checkout's ``api_shapes/`` (an editable install, or running from the repository)."""
    packaged = Path(__file__).resolve().parents[1] / "_shapes"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "api_shapes"


DEFAULT_SHAPES_DIR: Final = _default_shapes_dir()

# A message lists at most this many violations (its count still counts them all), so that a
# huge bad input cannot make a huge answer.
MAX_LISTED_VIOLATIONS: Final = 10

JsonSchema = Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# Errors and violations


class InvalidInputError(ClientError):
    """An input refused at the edge; ``code`` and ``message`` are what AWS would answer."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        path: str = "",
        violations: tuple[Violation, ...] = (),
    ) -> None:
        super().__init__(message, code=code)
        self.path = path
        self.violations = violations


# --------------------------------------------------------------------------------------------
# Dialects: how each service words its refusal


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one service answers invalid input.

    ``constraint_code`` answers missing members and constraint violations,
    ``type_code`` answers values of the wrong JSON type. ``blank_required``: a missing, ``""``
    or ``[]`` top-level required member gets a hand-written message (ECS style), taken from
    ``blank_messages`` when known; ``blank_accepted`` names, per operation, the required
    members that may be ``""`` or ``[]`` all the same (a list whose schema says
    ``minItems: 0`` is accepted empty without being named). ``operation_codes`` overrides
    ``constraint_code`` per operation.
    """

    constraint_code: str
    type_code: str = "SerializationException"
    blank_required: bool = False
    blank_messages: Mapping[tuple[str, str], str] = field(default_factory=dict)
    blank_accepted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    operation_codes: Mapping[str, str] = field(default_factory=dict)

    def code_for(self, operation: str) -> str:
        return self.operation_codes.get(operation, self.constraint_code)

    def blank_message(self, operation: str, violation: Violation) -> str:
        member = violation.path[0]
        known = self.blank_messages.get((operation, member))
        if known is not None:
            return known
        label = member[:1].upper() + member[1:]
        if isinstance(violation.node, ListNode):
            return f"{label} cannot be empty."
        return f"{label} can not be blank."


ECS_DIALECT: Final = Dialect(
    constraint_code="InvalidParameterException",
    blank_required=True,
    blank_messages={
        ("RegisterTaskDefinition", "family"): "Family can not be blank.",
        ("RegisterTaskDefinition", "containerDefinitions"): "Container list cannot be empty.",
    },
    blank_accepted={
        "PutClusterCapacityProviders": frozenset({"capacityProviders", "defaultCapacityProviderStrategy"}),
    },
    operation_codes={"RegisterTaskDefinition": "ClientException"},
)

DIALECTS: Final[Mapping[str, Dialect]] = {
    "ecs": ECS_DIALECT,
    "logs": Dialect(constraint_code="InvalidParameterException"),
    "elbv2": Dialect(constraint_code="ValidationError", type_code="ValidationError"),
}


def dialect_for(service: str, protocol: str) -> Dialect:
    """The dialect of ``service``; unknown services get their protocol's usual words."""
    known = DIALECTS.get(service)
    if known is not None:
        return known
    if protocol == "query":
        return Dialect(constraint_code="ValidationError", type_code="ValidationError")
    return Dialect(constraint_code="ValidationException")


# --------------------------------------------------------------------------------------------
# Turning violations into the error AWS would send


def _render_value(value: object) -> str:
    """A value as AWS (Java) prints it inside ``Value ... at``."""
    if value is None:
        return "null"
    return f"'{_java_text(value)}'"


def _java_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _token_message(value: object, expected: str) -> str:
    """The deserializer's message for a JSON value of the wrong type."""
    if value is None and expected == NULL_ELEMENT:
        return "Null value found in a list whose elements must not be null"
    if isinstance(value, dict):
        return "Start of structure or map found where not expected."
    if isinstance(value, list):
        return "Start of list found where not expected"
    if isinstance(value, bool):
        token = "BOOLEAN_VALUE"
    elif isinstance(value, (int, float)):
        token = "NUMBER_VALUE"
    else:
        token = "STRING_VALUE"
    return f"{token} cannot be converted to {expected}"


def build_error(dialect: Dialect, operation: str, violations: list[Violation]) -> InvalidInputError:
    """The one error AWS answers for ``violations`` (which must not be empty)."""
    found = tuple(violations)
    for violation in found:
        if violation.kind == "type":
            return InvalidInputError(
                _token_message(violation.value, violation.detail),
                code=dialect.type_code,
                path=violation.where,
                violations=found,
            )
    code = dialect.code_for(operation)
    if dialect.blank_required:
        for violation in found:
            if violation.kind == "missing" and len(violation.path) == 1:
                return InvalidInputError(
                    dialect.blank_message(operation, violation),
                    code=code,
                    path=violation.where,
                    violations=found,
                )
    count = len(found)
    clauses = "; ".join(
        f"Value {_render_value(v.value)} at '{v.where}' failed to satisfy constraint: {v.detail}"
        for v in found[:MAX_LISTED_VIOLATIONS]
    )
    plural = "error" if count == 1 else "errors"
    return InvalidInputError(
        f"{count} validation {plural} detected: {clauses}",
        code=code,
        path=found[0].where,
        violations=found,
    )


# --------------------------------------------------------------------------------------------
# Loading and the public entry point


@dataclass(slots=True)
class _ServiceShapes:
    document: JsonSchema
    compiler: Compiler
    dialect: Dialect


def load_shapes_document(service: str, directory: Path | None = None) -> dict[str, Any]:
    """Read ``<directory>/<service>.json`` (default: ``DEFAULT_SHAPES_DIR``)."""
    path = (directory or DEFAULT_SHAPES_DIR) / f"{service}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LookupError(f"no shapes for service {service!r} (looked for {path})") from None
    document: dict[str, Any] = json.loads(text)
    return document


class InputValidator:
    """Validates operation inputs of any service with a shapes document in ``shapes_dir``.

    Documents are read on first use of a service; operations are compiled on first use, under
    a lock (a half-compiled recursive node must never be seen). Lookups take no lock.
    """

    def __init__(self, shapes_dir: Path | None = None) -> None:
        self._shapes_dir = shapes_dir
        self._services: dict[str, _ServiceShapes] = {}
        self._operations: dict[tuple[str, str], tuple[Node, Dialect]] = {}
        self._compile_lock = threading.Lock()

    def validate(self, service: str, operation: str, params: object) -> None:
        """Return if ``params`` is a valid input, else raise :class:`InvalidInputError`."""
        compiled = self._operations.get((service, operation))
        if compiled is None:
            with self._compile_lock:
                compiled = self._compile(service, operation)
        node, dialect = compiled
        if node.accepts(params):
            return
        violations: list[Violation] = []
        node.explain(params, (), violations)
        if not violations:
            raise ServerError(f"validator refused {service}.{operation} input without a reason")
        raise build_error(dialect, operation, violations)

    def _service(self, service: str) -> _ServiceShapes:
        shapes = self._services.get(service)
        if shapes is None:
            document = load_shapes_document(service, self._shapes_dir)
            dialect = dialect_for(service, document.get("protocol", "json"))
            shapes = _ServiceShapes(document, Compiler(document), dialect)
            self._services[service] = shapes
        return shapes

    def _compile(self, service: str, operation: str) -> tuple[Node, Dialect]:
        compiled = self._operations.get((service, operation))
        if compiled is not None:  # another thread won the race
            return compiled
        shapes = self._service(service)
        schema = shapes.document["operations"].get(operation)
        if schema is None:
            raise LookupError(f"{service} has no operation {operation!r}")
        node = shapes.compiler.compile(schema)
        if isinstance(node, StructureNode) and shapes.dialect.blank_required:
            # The input structure is inline: this node is ours alone.
            node.blank_required = True
            node.blank_accepted = shapes.dialect.blank_accepted.get(operation, frozenset()) | frozenset(
                name
                for name in node.required
                if isinstance(member := node.members.get(name), ListNode) and member.low == 0
            )
        compiled = (node, shapes.dialect)
        self._operations[(service, operation)] = compiled
        return compiled


_DEFAULT_VALIDATOR: Final = InputValidator()


def validate_input(service: str, operation: str, params: dict[str, Any]) -> None:
    """Validate ``params`` of ``service``'s ``operation`` against the committed shapes.

    Raises :class:`InvalidInputError` (a :class:`~ecsemu.errors.ClientError`) carrying the
    code and message AWS answers, and :class:`LookupError` for an unknown service or operation.
    """
    _DEFAULT_VALIDATOR.validate(service, operation, params)
