"""The compiled checkers of the input validator: one immutable ``Node`` per JSON Schema, and
``Violation``, one thing wrong with an input.

See ``ecsemu.protocol.validation`` for the vocabulary and the rules; this module holds the
two-pass machinery (``accepts`` on the hot path, ``explain`` to name every violation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, TypeGuard

ViolationKind = Literal["type", "missing", "constraint"]
JsonSchema = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with an input.

    ``detail`` is the expected type name (kind ``type``) or the AWS constraint clause
    (kinds ``missing`` and ``constraint``).
    """

    kind: ViolationKind
    path: tuple[str, ...]
    value: object
    detail: str
    node: Node | None = field(default=None, compare=False, repr=False)

    @property
    def where(self) -> str:
        return ".".join(self.path)


# --------------------------------------------------------------------------------------------
# Nodes

_Path = tuple[str, ...]
# The ``detail`` of a ``type`` violation that is a null list element.
NULL_ELEMENT: Final = "null list element"
_BLANK: Final[tuple[object, ...]] = (None, "", [])


def _member_segment(name: str) -> str:
    return name[:1].lower() + name[1:]


def _is_integral(value: object) -> TypeGuard[float]:
    """An int, or a float without a fraction (JSON ``1.0``); never a bool."""
    if isinstance(value, int):
        return not isinstance(value, bool)
    return isinstance(value, float) and value.is_integer()


def _is_number(value: object) -> TypeGuard[float]:
    """An int or a float; never a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Node:
    """A compiled schema. Subclasses implement the same rules twice: fast and explained."""

    __slots__ = ()
    type_name = "Object"
    is_scalar = True

    def accepts(self, value: object) -> bool:
        raise NotImplementedError

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        raise NotImplementedError

    def clauses(self) -> list[str]:
        """The AWS constraint clauses of this node, for ``Member must satisfy constraint``."""
        return []

    def _wrong_type(self, value: object, path: _Path, out: list[Violation]) -> None:
        out.append(Violation("type", path, value, self.type_name, self))


class AnyNode(Node):
    """A ``document`` value: any JSON."""

    __slots__ = ()

    def accepts(self, value: object) -> bool:
        return True

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        return


class _Bounded(Node):
    """A scalar with optional inclusive bounds, on its length or on its value."""

    __slots__ = ("high", "low")
    measure = "value"

    def __init__(self, low: float | None, high: float | None) -> None:
        self.low = low
        self.high = high

    def clauses(self) -> list[str]:
        out = []
        if self.high is not None:
            out.append(f"Member must have {self.measure} less than or equal to {self.high}")
        if self.low is not None:
            out.append(f"Member must have {self.measure} greater than or equal to {self.low}")
        return out

    def _explain_bounds(
        self, size: float, value: object, path: _Path, out: list[Violation]
    ) -> None:
        if self.high is not None and size > self.high:
            clause = f"Member must have {self.measure} less than or equal to {self.high}"
            out.append(Violation("constraint", path, value, clause, self))
        if self.low is not None and size < self.low:
            clause = f"Member must have {self.measure} greater than or equal to {self.low}"
            out.append(Violation("constraint", path, value, clause, self))


class StringNode(_Bounded):
    __slots__ = ("enum", "enum_clause")
    type_name = "String"
    measure = "length"

    def __init__(self, enum: tuple[str, ...] | None, low: int | None, high: int | None) -> None:
        super().__init__(low, high)
        self.enum = frozenset(enum) if enum is not None else None
        self.enum_clause = (
            f"Member must satisfy enum value set: [{', '.join(enum)}]" if enum is not None else ""
        )

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if self.enum is not None and value not in self.enum:
            return False
        if self.low is not None and len(value) < self.low:
            return False
        return self.high is None or len(value) <= self.high

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, str):
            self._wrong_type(value, path, out)
            return
        if self.enum is not None and value not in self.enum:
            out.append(Violation("constraint", path, value, self.enum_clause, self))
        self._explain_bounds(len(value), value, path, out)

    def clauses(self) -> list[str]:
        return super().clauses() + ([self.enum_clause] if self.enum_clause else [])


class PlainStringNode(Node):
    """A string without constraints: the commonest node, so it gets the shortest check."""

    __slots__ = ()
    type_name = "String"

    def accepts(self, value: object) -> bool:
        return isinstance(value, str)

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, str):
            self._wrong_type(value, path, out)


PLAIN_STRING: Final = PlainStringNode()


class NumberNode(_Bounded):
    """An integer (``Integer``, ``Long``) or a floating point number (``Double``, ``Float``)."""

    __slots__ = ("is_number", "type_name")

    def __init__(
        self,
        type_name: str,
        is_number: Callable[[object], TypeGuard[float]],
        low: float | None,
        high: float | None,
    ) -> None:
        super().__init__(low, high)
        self.type_name = type_name
        self.is_number = is_number

    def accepts(self, value: object) -> bool:
        if type(value) is int or self.is_number(value):
            return (self.low is None or value >= self.low) and (
                self.high is None or value <= self.high
            )
        return False

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if self.is_number(value):
            self._explain_bounds(value, value, path, out)
        else:
            self._wrong_type(value, path, out)


class BooleanNode(Node):
    __slots__ = ()
    type_name = "Boolean"

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, bool):
            self._wrong_type(value, path, out)


class TimestampNode(Node):
    """Epoch seconds (number) or an ISO 8601 string; a ``datetime`` if a parser made one."""

    __slots__ = ()
    type_name = "Date"

    def accepts(self, value: object) -> bool:
        return isinstance(value, (str, datetime)) or _is_number(value)

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not self.accepts(value):
            self._wrong_type(value, path, out)


class BlobNode(Node):
    """Base64 text on the JSON wire; bytes once a parser decoded it."""

    __slots__ = ()
    type_name = "ByteBuffer"

    def accepts(self, value: object) -> bool:
        return isinstance(value, (str, bytes, bytearray))

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not self.accepts(value):
            self._wrong_type(value, path, out)


class ListNode(_Bounded):
    __slots__ = ("item",)
    type_name = "List"
    measure = "length"
    is_scalar = False

    def __init__(self, item: Node, low: int | None, high: int | None) -> None:
        super().__init__(low, high)
        self.item = item

    def accepts(self, value: object) -> bool:
        if not isinstance(value, list):
            return False
        if self.low is not None and len(value) < self.low:
            return False
        if self.high is not None and len(value) > self.high:
            return False
        if self.item is PLAIN_STRING:  # inlined: lists of plain strings are common
            for element in value:  # noqa: SIM110 (a plain loop: the hot path, faster than all())
                if not isinstance(element, str):
                    return False
            return True
        accepts = self.item.accepts
        for element in value:  # noqa: SIM110 (as above)
            if element is None or not accepts(element):
                return False
        return True

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, list):
            self._wrong_type(value, path, out)
            return
        self._explain_bounds(len(value), value, path, out)
        elements: list[Violation] = []
        for index, element in enumerate(value, start=1):
            where = (*path, f"{index}.member")
            if element is None:  # AWS's lists are not sparse: a null element is malformed
                out.append(Violation("type", where, None, NULL_ELEMENT, self.item))
            else:
                self.item.explain(element, where, elements)
        _fold_scalar_elements(elements, self.item, "Member", path, value, out)


class MapNode(_Bounded):
    __slots__ = ("key", "value")
    type_name = "Map"
    measure = "length"
    is_scalar = False

    def __init__(self, key: Node | None, value: Node, low: int | None, high: int | None) -> None:
        super().__init__(low, high)
        self.key = key
        self.value = value

    def accepts(self, value: object) -> bool:
        if not isinstance(value, dict):
            return False
        if self.low is not None and len(value) < self.low:
            return False
        if self.high is not None and len(value) > self.high:
            return False
        key_accepts = self.key.accepts if self.key is not None else None
        value_accepts = self.value.accepts
        for k, v in value.items():
            if key_accepts is not None and not key_accepts(k):
                return False
            if v is not None and not value_accepts(v):
                return False
        return True

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            self._wrong_type(value, path, out)
            return
        self._explain_bounds(len(value), value, path, out)
        keys: list[Violation] = []
        values: list[Violation] = []
        for k, v in value.items():
            if self.key is not None:
                self.key.explain(k, (*path, str(k)), keys)
            if v is not None:
                self.value.explain(v, (*path, str(k)), values)
        if self.key is not None:
            _fold_scalar_elements(keys, self.key, "Map key", path, value, out)
        _fold_scalar_elements(values, self.value, "Map value", path, value, out)


def _fold_scalar_elements(
    found: list[Violation],
    element: Node,
    subject: str,
    path: _Path,
    collection: object,
    out: list[Violation],
) -> None:
    """AWS reports a bad scalar element once, on its collection; other findings pass through."""
    folded = False
    for violation in found:
        if violation.kind == "type" or not element.is_scalar:
            out.append(violation)
        elif not folded:
            clause = f"{subject} must satisfy constraint: [{', '.join(element.clauses())}]"
            out.append(Violation("constraint", path, collection, clause, element))
            folded = True


class StructureNode(Node):
    """An object with named members. ``blank_required``: ``""`` and ``[]`` count as absent,
    except for the required members named in ``blank_accepted`` (only ``null`` is absent)."""

    __slots__ = ("blank_accepted", "blank_required", "members", "required")
    type_name = "Structure"
    is_scalar = False

    def __init__(self) -> None:
        self.members: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.blank_required = False
        self.blank_accepted: frozenset[str] = frozenset()

    def _is_blank(self, name: str, member: object) -> bool:
        return member in _BLANK and name not in self.blank_accepted

    def accepts(self, value: object) -> bool:
        if not isinstance(value, dict):
            return False
        if self.blank_required:
            for name in self.required:
                member = value.get(name)
                if member is None or self._is_blank(name, member):
                    return False
        else:
            for name in self.required:
                if value.get(name) is None:
                    return False
        members = self.members
        for name, member in value.items():
            node = members.get(name)
            if node is None or member is None:
                continue
            if node is PLAIN_STRING:  # inlined: most members are plain strings
                if not isinstance(member, str):
                    return False
            elif not node.accepts(member):
                return False
        return True

    def explain(self, value: object, path: _Path, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            self._wrong_type(value, path, out)
            return
        for name in self.required:
            member = value.get(name)
            if member is None or (self.blank_required and self._is_blank(name, member)):
                where = (*path, _member_segment(name))
                node = self.members.get(name)
                out.append(Violation("missing", where, member, "Member must not be null", node))
        for name, member in value.items():
            node = self.members.get(name)
            if node is not None and member is not None:
                node.explain(member, (*path, _member_segment(name)), out)


# --------------------------------------------------------------------------------------------
# Compiling schemas into nodes


class Compiler:
    """Compiles the schemas of one shapes document; ``$defs`` nodes are shared."""

    def __init__(self, document: JsonSchema) -> None:
        self._defs: Mapping[str, JsonSchema] = document.get("$defs", {})
        self._compiled: dict[str, Node] = {}

    def compile(self, schema: JsonSchema) -> Node:
        ref = schema.get("$ref")
        if ref is not None:
            return self._reference(ref)
        kind = schema.get("type")
        if kind is None:
            return AnyNode()
        if kind == "object":
            if "additionalProperties" in schema:
                return self._map(schema)
            return self._fill_structure(StructureNode(), schema)
        if kind == "array":
            return ListNode(
                self.compile(schema["items"]), schema.get("minItems"), schema.get("maxItems")
            )
        if kind == "string":
            if "contentEncoding" in schema:
                return BlobNode()
            enum = schema.get("enum")
            if enum is None and "minLength" not in schema and "maxLength" not in schema:
                return PLAIN_STRING
            return StringNode(
                tuple(enum) if enum is not None else None,
                schema.get("minLength"),
                schema.get("maxLength"),
            )
        if kind == "integer":
            type_name = "Long" if schema.get("format") == "int64" else "Integer"
            return NumberNode(type_name, _is_integral, schema.get("minimum"), schema.get("maximum"))
        if kind == "number":
            type_name = "Float" if schema.get("format") == "float" else "Double"
            return NumberNode(type_name, _is_number, schema.get("minimum"), schema.get("maximum"))
        if kind == "boolean":
            return BooleanNode()
        if kind == ["number", "string"]:
            return TimestampNode()
        raise ValueError(f"unsupported schema: {schema!r}")

    def _reference(self, ref: str) -> Node:
        prefix = "#/$defs/"
        if not ref.startswith(prefix):
            raise ValueError(f"unsupported $ref {ref!r}")
        name = ref[len(prefix) :]
        node = self._compiled.get(name)
        if node is not None:
            return node
        schema = self._defs[name]
        if schema.get("type") == "object" and "additionalProperties" not in schema:
            # Register before compiling the members, so that recursive shapes terminate.
            structure = StructureNode()
            self._compiled[name] = structure
            return self._fill_structure(structure, schema)
        node = self.compile(schema)
        self._compiled[name] = node
        return node

    def _fill_structure(self, node: StructureNode, schema: JsonSchema) -> StructureNode:
        properties: Mapping[str, JsonSchema] = schema.get("properties", {})
        node.members = {name: self.compile(prop) for name, prop in properties.items()}
        node.required = tuple(schema.get("required", ()))
        return node

    def _map(self, schema: JsonSchema) -> MapNode:
        names = schema.get("propertyNames")
        return MapNode(
            self.compile(names) if names is not None else None,
            self.compile(schema["additionalProperties"]),
            schema.get("minProperties"),
            schema.get("maxProperties"),
        )
