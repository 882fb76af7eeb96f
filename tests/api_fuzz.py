"""Inputs for the API fuzz test, generated from the committed shapes (``api_shapes/``).

A seeded generator (``random.Random``), so a failure names the seed that reproduces it. For one
operation's input schema it makes *valid-ish* values (the schema's types, enums and bounds)
and, at random nodes, *hostile* ones: nulls, wrong JSON types, huge or negative numbers, long
strings, deep nesting, null list elements and unknown members. ``query_form`` writes a params
dict as the query protocol's form (``Name.member.N``, ``Name.entry.N.key``) whatever its types,
and ``hostile_forms`` adds what only a form can say wrong (odd member indexes, a scalar where
a list belongs).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SHAPES_DIR = Path(__file__).resolve().parents[1] / "api_shapes"
Schema = Mapping[str, Any]

# Values that are wrong almost anywhere.
HOSTILE_SCALARS: tuple[Any, ...] = (
    None,
    "",
    " ",
    "x" * 5000,
    "\u0000\u202e\ud7ff\U0001f600",
    -1,
    0,
    2**31 - 1,
    2**31,
    2**63,
    -(2**63) - 1,
    1e308,
    -0.5,
    True,
    False,
    [],
    [None],
    {},
    {"unknownMember": 1},
    "../../../../etc/passwd",
    "/dev/zero",
    "arn:aws:ecs:us-east-1:123456789012:cluster/../x",
)


# Members that name a resource: often given a name the fuzz test created beforehand, so that
# inputs reach past "not found" into each operation.
KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    "cluster": ("default", "fuzz"),
    "clusterName": ("default", "fuzz"),
    "service": ("svc",),
    "serviceName": ("svc",),
    "taskDefinition": ("web", "web:1"),
    "family": ("web",),
    "familyPrefix": ("web",),
    "containerName": ("app",),
    "name": ("app",),
    "Names": ("lb", "tg"),
}


def load(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SHAPES_DIR / f"{service}.json").read_text())
    return document


def deep_nesting(depth: int) -> Any:
    value: Any = 1
    for index in range(depth):
        value = [value] if index % 2 else {"n": value}
    return value


class InputGenerator:
    """Valid-ish and hostile inputs for the operations of one shapes document."""

    def __init__(self, document: Mapping[str, Any], rng: random.Random, *, hostility: float = 0.15) -> None:
        self.defs: Mapping[str, Schema] = document.get("$defs", {})
        self.operations: Mapping[str, Schema] = document["operations"]
        self.rng = rng
        self.hostility = hostility

    def resolve(self, schema: Schema) -> Schema:
        ref = schema.get("$ref")
        return self.defs[ref.rsplit("/", 1)[-1]] if ref else schema

    def params(self, operation: str) -> dict[str, Any]:
        value = self.value(self.operations[operation], depth=0, hostile=True, name="")
        return value if isinstance(value, dict) else {"notAnObject": value}

    def value(self, schema: Schema, *, depth: int, hostile: bool, name: str = "") -> Any:
        rng = self.rng
        if hostile and depth > 0 and rng.random() < self.hostility:
            return self.hostile()
        schema = self.resolve(schema)
        kind = schema.get("type")
        if depth > 6:  # recursive shapes: stop
            return None
        if kind == "object" and "additionalProperties" in schema:
            size = rng.randint(0, 3)
            return {
                self.text(schema.get("propertyNames", {})): self.value(schema["additionalProperties"], depth=depth + 1, hostile=hostile)
                for _ in range(size)
            }
        if kind == "object":
            properties: Mapping[str, Schema] = schema.get("properties", {})
            required = set(schema.get("required", ()))
            out: dict[str, Any] = {}
            for member_name, member in properties.items():
                if member_name in required or rng.random() < 0.5:
                    out[member_name] = self.value(member, depth=depth + 1, hostile=hostile, name=member_name)
            if hostile and rng.random() < 0.05:
                out["unknownMember" + str(rng.randint(0, 9))] = self.hostile()
            return out
        if kind == "array":
            size = rng.choice((0, 1, 1, 2, 3))
            items = [self.value(schema["items"], depth=depth + 1, hostile=hostile, name=name) for _ in range(size)]
            if hostile and rng.random() < 0.05:
                items.append(None)
            return items
        if kind == "string":
            if "contentEncoding" in schema:
                return "aGVsbG8="
            known = KNOWN_NAMES.get(name)
            if known and rng.random() < 0.7:
                return rng.choice(known)
            return self.text(schema)
        if kind in ("integer", "number"):
            low = schema.get("minimum", -5 if kind == "number" else 0)
            high = schema.get("maximum", 20)
            if hostile and rng.random() < 0.1:
                return rng.choice((low - 1, high + 1, 2**31 - 1, -(2**31)))
            return rng.randint(int(low), int(min(high, low + 20)))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == ["number", "string"]:
            return rng.choice((0, 1700000000, "2026-01-01T00:00:00Z"))
        return {"any": [1, "two", None]}  # a document

    def text(self, schema: Schema) -> str:
        rng = self.rng
        enum = schema.get("enum")
        if enum:
            return str(rng.choice(enum))
        low = int(schema.get("minLength", 1))
        high = int(schema.get("maxLength", 12))
        size = rng.randint(low, max(low, min(high, low + 12)))
        return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(size))

    def hostile(self) -> Any:
        rng = self.rng
        if rng.random() < 0.05:
            return deep_nesting(rng.choice((40, 70, 300)))
        return rng.choice(HOSTILE_SCALARS)

    def examples(self, operation: str, count: int) -> Iterator[dict[str, Any]]:
        """``count`` inputs: the first without hostility (a plausible call), then hostile ones."""
        yield self.value(self.operations[operation], depth=0, hostile=False, name="") or {}
        for _ in range(count - 1):
            yield self.params(operation)


# -- the query protocol's form -------------------------------------------------------------


def query_form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``params`` flattened the way botocore's query serializer writes them, any types."""
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        _flatten(key, value, out)
    return out


def _flatten(key: str, value: Any, out: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        if not value:
            out.append((key, ""))
        for index, (name, item) in enumerate(value.items(), start=1):
            if isinstance(name, str) and name and name[0].isupper():
                _flatten(f"{key}.{name}", item, out)
            else:  # a map
                out.append((f"{key}.entry.{index}.key", str(name)))
                _flatten(f"{key}.entry.{index}.value", item, out)
        return
    if isinstance(value, list):
        if not value:
            out.append((key, ""))
        for index, item in enumerate(value, start=1):
            _flatten(f"{key}.member.{index}", item, out)
        return
    if isinstance(value, bool):
        out.append((key, "true" if value else "false"))
        return
    out.append((key, str(value)))


# Form members only a form can get wrong: indexes that are not ASCII digits, huge indexes,
# a scalar where a list or structure belongs, repeated and empty names.
ODD_FORM_MEMBERS: tuple[tuple[str, str], ...] = (
    ("Names.member.\u00b2", "x"),
    ("Names.member.\u0663", "x"),
    ("Names.member.1a", "x"),
    ("Names.member.-1", "x"),
    ("Names.member.99999999999999999999999", "x"),
    ("RulePriorities", "1"),
    ("RulePriorities.member.\u00b9.Priority", "1"),
    ("Tags.member.1", "scalar"),
    ("Attributes.member.1.Key", ""),
    ("LoadBalancerArns.member.0", "x"),
    ("Matcher", "200"),
    ("DefaultActions.member.1.ForwardConfig.TargetGroups.member.\uff11.TargetGroupArn", "x"),
    ("", "x"),
    ("PageSize", "2147483648"),
    ("PageSize", "-5"),
    ("PageSize", "\uff11"),
)


def hostile_forms(rng: random.Random, form: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``form`` with one or two odd members added."""
    odd = list(form)
    for _ in range(rng.randint(1, 2)):
        odd.append(rng.choice(ODD_FORM_MEMBERS))
    return odd
