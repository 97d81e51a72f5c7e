"""What BigCommerce's OpenAPI specs allow for every field of every stream, and the audit.

`spec_types.json` beside this module holds, for each stream, a tree of the spec's types: which
JSON types a field may take, whether it may be null, its enum and its format, and the same for
its properties and items. It is derived from the official specs (regenerate it with
``python -m tap_bigcommerce.sandbox.spec_derive --spec-dir DIR``) so that the project stands
alone: the sandbox spreads its values over what the tree allows (`spread`), and a test checks
that no schema in ``schemas/`` is narrower than the tree (`narrowings`).

A node of the tree: ``{"types": [...] | null, "nullable": bool, "enum": [...]?, "format": str?,
"properties": {...}?, "items": node?}``; ``types`` null means the spec names no type (anything).
"""

from __future__ import annotations

import json
import typing as t
from functools import cache
from importlib import resources
from pathlib import Path

Node = dict[str, t.Any]

#: Each stream's record, as a spec file and one of its component schemas (plus the properties
#: the tap or an include adds, typed from other components).
#: v2 sends money as text ("Float-As-String") where the tap writes an exact number: a spec
#: `string` that the tap's schema makes a `number` is that conversion, not a narrowing.
CONVERTS_TEXT_MONEY = {
    "orders", "order_products", "order_shipping_addresses", "order_coupons", "order_fees",
    "order_shipments",
}  # fmt: skip

_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def tree_file() -> Path:
    """Where the derived tree lives (inside the package, so an installed wheel has it)."""
    return Path(str(resources.files("tap_bigcommerce.sandbox") / "spec_types.json"))


@cache
def load_tree() -> dict[str, Node]:
    """The spec's types of every stream, read once."""
    return t.cast("dict[str, Node]", json.loads(tree_file().read_text(encoding="utf-8")))


def _ours_types(schema: dict) -> set[str] | None:
    """The JSON types a schema of ours accepts (None: any)."""
    if "anyOf" in schema:
        found: set[str] = set()
        for alternative in schema["anyOf"]:
            sub = _ours_types(alternative)
            if sub is None:
                return None
            found |= sub
        return found
    kind = schema.get("type")
    if kind is None:
        return None
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "number" in kinds:
        kinds.add("integer")  # JSON Schema: every integer is a number
    return kinds


def _ours_sub(schema: dict, key: str) -> t.Any:
    """`properties`/`items` of one of our schemas, looking inside `anyOf` too."""
    if key in schema:
        return schema[key]
    for alternative in schema.get("anyOf", []):
        if key in alternative:
            return alternative[key]
    return None


def narrowings(stream: str, ours: dict, spec: Node, path: str = "") -> list[str]:
    """Every place where `ours` rejects a value that `spec` allows, as readable lines."""
    where = f"{stream}.{path}" if path else stream
    found: list[str] = []
    accepted = _ours_types(ours)
    if accepted is not None:
        allowed = set(_JSON_TYPES) - {"null"} if spec.get("types") is None else set(spec["types"])
        missing = allowed - accepted
        if stream in CONVERTS_TEXT_MONEY and "string" in missing and "number" in accepted:
            missing.discard("string")  # v2 money text, written as an exact number
        if missing:
            found.append(f"{where}: spec allows {sorted(allowed)}, schema has {sorted(accepted)}")
        if spec.get("nullable") and "null" not in accepted:
            found.append(f"{where}: spec allows null, schema does not")
    if "enum" in ours:
        extra = [v for v in spec.get("enum", []) if v not in ours["enum"]]
        if "enum" not in spec or extra:
            found.append(f"{where}: schema has an enum the spec does not impose")
    fmt = ours.get("format")
    if fmt is not None and fmt != spec.get("format") and fmt != "date-time":
        found.append(f"{where}: schema has format {fmt!r}, spec has {spec.get('format')!r}")
    for key in ("pattern", "minimum", "maximum", "minLength", "maxLength", "minItems"):
        if key in ours:
            found.append(f"{where}: schema has {key}, which the spec does not impose")
    if ours.get("additionalProperties") is False:
        found.append(f"{where}: schema forbids additional properties")
    ours_props = _ours_sub(ours, "properties") or {}
    for name, sub in (spec.get("properties") or {}).items():
        if name in ours_props:
            found += narrowings(stream, ours_props[name], sub, f"{path}.{name}" if path else name)
    ours_items = _ours_sub(ours, "items")
    if isinstance(ours_items, dict) and "items" in spec:
        found += narrowings(stream, ours_items, spec["items"], f"{path}[]")
    return found
