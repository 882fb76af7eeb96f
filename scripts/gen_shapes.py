"""Generate ``api_shapes/<service>.json``: JSON Schemas of every operation input.

The files are the committed, reviewable record of what ecsemu accepts at its edge; the runtime
validator (:mod:`ecsemu.protocol.validation`) reads them, never botocore. Regenerate them after
upgrading botocore::

    python scripts/gen_shapes.py                    # ecs elbv2 (the default)
    python scripts/gen_shapes.py logs cloudwatch    # any botocore service names
    python scripts/gen_shapes.py --check            # exit 1 if a committed file is stale

File layout (one file per service, deterministic: sorted keys, ``indent=1``, ASCII)::

    {
     "$schema": "https://json-schema.org/draft/2020-12/schema",
     "$id": "urn:ecsemu:api-shapes:<service>",
     "botocore_version": "1.43.11",
     "service": "ecs", "protocol": "json", "api_version": "2014-11-13",
     "operations": {"DescribeClusters": {<schema of the input>}, ...},
     "$defs": {"ContainerDefinition": {...}, "LaunchType": {...}, ...}
    }

The file itself is a valid (permissive) draft 2020-12 schema whose ``$defs`` hold the shared
shapes, so one operation is validated with ``{"$ref": "urn:ecsemu:api-shapes:ecs#/operations/X"}``
against a registry that holds the file.

Mapping of botocore shape types (every structure and every enum string is a named ``$defs``
entry, referenced with ``{"$ref": "#/$defs/<ShapeName>"}``; everything else is inlined):

============  ======================================================================
botocore      JSON Schema
============  ======================================================================
structure     ``object`` with ``properties`` and ``required``. No
              ``additionalProperties: false``: AWS ignores members it does not know.
              A ``document`` structure is ``{}`` (any JSON value). Unions are plain
              objects (the one-member rule is not expressed).
string        ``string`` with ``enum``, ``minLength``, ``maxLength``. ``pattern`` is
              omitted on purpose: botocore patterns are Java regexes.
integer/long  ``integer`` with ``minimum``/``maximum``; ``format`` ``int32``/``int64``.
float/double  ``number`` with ``minimum``/``maximum``; ``format`` ``float``/``double``.
boolean       ``boolean``.
timestamp     ``["number", "string"]`` (epoch seconds or ISO 8601) with ``format``
              ``timestamp``.
blob          ``string`` with ``contentEncoding: base64``.
list          ``array`` with ``items``, ``minItems``, ``maxItems``.
map           ``object`` with ``additionalProperties`` (the value schema),
              ``propertyNames`` (when the key shape has constraints),
              ``minProperties``, ``maxProperties``.
============  ======================================================================

A deprecated member carries ``"deprecated": true``. Documentation strings are left out to keep
the files small; botocore's ``documentation`` fields are the reference for humans.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_SERVICES = ("ecs", "elbv2")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO_ROOT / "api_shapes"

Schema = dict[str, Any]
ShapeMap = Mapping[str, Mapping[str, Any]]


def load_service_model(service: str) -> Mapping[str, Any]:
    """The raw ``service-2`` model of ``service`` as shipped with the installed botocore."""
    loader = botocore.session.get_session().get_component("data_loader")
    model: Mapping[str, Any] = loader.load_service_model(service, "service-2")
    return model


class _SchemaBuilder:
    """Turns the shapes of one service model into schemas, collecting ``$defs`` on the way."""

    def __init__(self, shapes: ShapeMap) -> None:
        self._shapes = shapes
        self.defs: dict[str, Schema] = {}

    def operation_input(self, operation: Mapping[str, Any]) -> Schema:
        ref = operation.get("input")
        if ref is None:
            return {"type": "object"}
        # The input structure is used by this operation only: inline it.
        return self._structure(self._shapes[ref["shape"]])

    def _reference(self, name: str) -> Schema:
        """Schema for a use of shape ``name``: a ``$ref`` for named shapes, else inline."""
        shape = self._shapes[name]
        if not _is_named(shape):
            return self._inline(shape)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder first: recursive shapes terminate
            self.defs[name] = self._inline(shape)
        return {"$ref": f"#/$defs/{name}"}

    def _inline(self, shape: Mapping[str, Any]) -> Schema:
        kind = shape["type"]
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            schema: Schema = {"type": "array", "items": self._reference(shape["member"]["shape"])}
            _copy_bounds(shape, schema, "minItems", "maxItems")
            return schema
        if kind == "map":
            return self._map(shape)
        return _scalar(shape)

    def _structure(self, shape: Mapping[str, Any]) -> Schema:
        if shape.get("document"):
            return {}
        properties: Schema = {}
        for member_name, member in shape.get("members", {}).items():
            prop = self._reference(member["shape"])
            if member.get("deprecated"):
                prop = {**prop, "deprecated": True}
            properties[member_name] = prop
        schema: Schema = {"type": "object", "properties": properties}
        required = list(shape.get("required", ()))
        if required:
            schema["required"] = required
        return schema

    def _map(self, shape: Mapping[str, Any]) -> Schema:
        schema: Schema = {
            "type": "object",
            "additionalProperties": self._reference(shape["value"]["shape"]),
        }
        key_shape = self._shapes[shape["key"]["shape"]]
        if key_shape["type"] == "string":
            key_schema = _scalar(key_shape)
            if len(key_schema) > 1:  # more than {"type": "string"}
                schema["propertyNames"] = key_schema
        _copy_bounds(shape, schema, "minProperties", "maxProperties")
        return schema


def _is_named(shape: Mapping[str, Any]) -> bool:
    return shape["type"] == "structure" or (shape["type"] == "string" and "enum" in shape)


def _scalar(shape: Mapping[str, Any]) -> Schema:
    kind = shape["type"]
    schema: Schema
    if kind == "string":
        schema = {"type": "string"}
        if "enum" in shape:
            schema["enum"] = list(shape["enum"])
        _copy_bounds(shape, schema, "minLength", "maxLength")
    elif kind in ("integer", "long"):
        schema = {"type": "integer", "format": "int32" if kind == "integer" else "int64"}
        _copy_bounds(shape, schema, "minimum", "maximum")
    elif kind in ("float", "double"):
        schema = {"type": "number", "format": kind}
        _copy_bounds(shape, schema, "minimum", "maximum")
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "timestamp":
        schema = {"type": ["number", "string"], "format": "timestamp"}
    elif kind == "blob":
        schema = {"type": "string", "contentEncoding": "base64"}
    else:
        raise ValueError(f"unsupported botocore shape type {kind!r}")
    return schema


def _copy_bounds(shape: Mapping[str, Any], schema: Schema, low: str, high: str) -> None:
    if "min" in shape:
        schema[low] = shape["min"]
    if "max" in shape:
        schema[high] = shape["max"]


def build_service_schema(service: str, model: Mapping[str, Any] | None = None) -> Schema:
    """The whole ``api_shapes/<service>.json`` document for ``service``."""
    if model is None:
        model = load_service_model(service)
    builder = _SchemaBuilder(model["shapes"])
    operations = {
        name: builder.operation_input(operation)
        for name, operation in sorted(model["operations"].items())
    }
    metadata = model["metadata"]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:ecsemu:api-shapes:{service}",
        "botocore_version": botocore.__version__,
        "service": service,
        "protocol": metadata["protocol"],
        "api_version": metadata["apiVersion"],
        "operations": operations,
        "$defs": builder.defs,
    }


def render(document: Schema) -> str:
    """Deterministic text of a shapes document (what is committed)."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate api_shapes/<service>.json from botocore."
    )
    parser.add_argument(
        "services",
        nargs="*",
        default=list(DEFAULT_SERVICES),
        help="botocore service names (default: %(default)s)",
    )
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)

    stale = []
    for service in args.services:
        text = render(build_service_schema(service))
        path: Path = args.out_dir / f"{service}.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text)} bytes)")
    for path in stale:
        print(f"stale: {path}; run `python scripts/gen_shapes.py`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
