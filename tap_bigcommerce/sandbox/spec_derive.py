"""Derive `spec_types.json` from BigCommerce's OpenAPI files, and audit the schemas.

``python -m tap_bigcommerce.sandbox.spec_derive --spec-dir DIR`` rewrites the tree from the
spec files in DIR (needs PyYAML); ``--audit`` then lists every place where a schema in
``schemas/`` is narrower than the spec (and exits 1 if there is one).
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t
from pathlib import Path

from tap_bigcommerce.sandbox.spec_types import Node, load_tree, narrowings, tree_file

#: The list response's item: product_Full plus `channels` (with include=channels).
_PRODUCT_LIST_ITEM = (
    "paths", "/catalog/products", "get", "responses", "200", "content", "application/json",
    "schema", "properties", "data", "items",
)  # fmt: skip
SOURCES: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "products": ("products_catalog.v3.yml", _PRODUCT_LIST_ITEM),
    "product_variants": ("products_catalog.v3.yml", "productVariant_Full"),
    "product_images": ("products_catalog.v3.yml", "productImage_Full"),
    "product_custom_fields": ("products_catalog.v3.yml", "customFieldData"),
    "customers": ("customers.v3.yml", "customer_Full"),
    "customer_addresses": ("customers.v3.yml", "address_Full"),
    "orders": ("orders.v2.oas2.yml", "order_Resp"),
    "order_products": ("orders.v2.oas2.yml", "orderProducts"),
    "order_shipping_addresses": ("orders.v2.oas2.yml", "orderShippingAddress"),
    "order_fees": ("orders.v2.oas2.yml", "orderFees_Resp"),
}
#: Streams whose record is the item of a list endpoint's answer (`GET path`, 2xx): the
#: envelope's `data` unwrapped, then the array's items (or the object itself: /v2/store).
LIST_SOURCES: dict[str, tuple[str, str]] = {
    "category_trees": ("category-trees_catalog.v3.yml", "/catalog/trees"),
    "categories": ("category-trees_catalog.v3.yml", "/catalog/trees/categories"),
    "brands": ("brands_catalog.v3.yml", "/catalog/brands"),
    "product_bulk_pricing_rules": (
        "products_catalog.v3.yml",
        "/catalog/products/{product_id}/bulk-pricing-rules",
    ),
    "product_reviews": ("products_catalog.v3.yml", "/catalog/products/{product_id}/reviews"),
    "price_lists": ("price_lists.v3.yml", "/pricelists"),
    "price_list_records": ("price_lists.v3.yml", "/pricelists/{price_list_id}/records"),
    "inventory_locations": ("locations.v3.yml", "/inventory/locations"),
    "inventory_levels": ("inventory.v3.yml", "/inventory/items"),
    "channels": ("channels.v3.yml", "/channels"),
    "coupons": ("marketing.v2.yml", "/coupons"),
    "promotions": ("promotions.v3.yml", "/promotions"),
    "gift_certificates": ("marketing.v2.yml", "/gift_certificates"),
    "currencies": ("currencies.v2.yml", "/currencies"),
    "store_information": ("store_information.v2.yml", "/store"),
    # The seven listings (products, variants, categories, brands, customers, orders,
    # channels) share the fields; the products' `resource_type` enum holds every other's.
    "metafields": ("products_catalog.v3.yml", "/catalog/products/metafields"),
    "order_statuses": ("orders.v2.oas2.yml", "/order_statuses"),
    "customer_groups": ("customers.v2.yml", "/customer_groups"),
    "customer_attributes": ("customers.v3.yml", "/customers/attributes"),
    "customer_attribute_values": ("customers.v3.yml", "/customers/attribute-values"),
    "subscribers": ("subscribers.v3.yml", "/customers/subscribers"),
    "refunds": ("orders.v3.yml", "/orders/payment_actions/refunds"),
    "order_coupons": ("orders.v2.oas2.yml", "/orders/{order_id}/coupons"),
    "order_shipments": ("orders.v2.oas2.yml", "/orders/{order_id}/shipments"),
    "order_transactions": ("orders.v3.yml", "/orders/{order_id}/transactions"),
}
#: Rows the tap builds from a nested list: one row per item of `inside`, carrying the fields
#: of `outer` beside the item's own (inventory: one row per variant per location).
ROW_PER_ITEM: dict[str, tuple[str, str]] = {"inventory_levels": ("identity", "locations")}
#: Fields the tap adds to rows that do not carry them (their parent's id).
ADDED_FIELDS: dict[str, dict[str, Node]] = {
    "product_bulk_pricing_rules": {"product_id": {"types": ["integer"], "nullable": False}},
    "product_custom_fields": {"product_id": {"types": ["integer"], "nullable": False}},
    "product_reviews": {"product_id": {"types": ["integer"], "nullable": False}},
    "order_coupons": {"order_id": {"types": ["integer"], "nullable": False}},
    "order_shipments": {"order_id": {"types": ["integer"], "nullable": False}},
    "order_transactions": {"order_id": {"types": ["integer"], "nullable": False}},
    "order_fees": {"order_id": {"types": ["integer"], "nullable": False}},
}
#: The key of each stream whose schema `--write-schemas` writes (keys are never null).
NEW_STREAM_KEYS: dict[str, tuple[str, ...]] = {
    "category_trees": ("id",),
    "categories": ("category_id",),
    "brands": ("id",),
    "product_bulk_pricing_rules": ("id", "product_id"),
    "product_reviews": ("id", "product_id"),
    "price_lists": ("id", "date_modified"),
    "price_list_records": ("price_list_id", "variant_id", "currency", "date_modified"),
    "inventory_locations": ("id",),
    "inventory_levels": ("variant_id", "location_id"),
    "channels": ("id", "date_modified"),
    "coupons": ("id",),
    "promotions": ("id",),
    "gift_certificates": ("id",),
    "currencies": ("id",),
    "store_information": ("id",),
    "metafields": ("resource_type", "id", "date_modified"),
    "order_statuses": ("id",),
    "customer_groups": ("id",),
    "customer_attributes": ("id",),
    "customer_attribute_values": ("id", "date_modified"),
    "subscribers": ("id", "date_modified"),
    "refunds": ("id", "created"),
    "order_coupons": ("id", "order_id"),
    "order_shipments": ("id", "order_id"),
    "order_transactions": ("id", "order_id"),
    "order_fees": ("id", "order_id"),
}
#: Properties documented outside the record's own component: (stream, property) -> the spec
#: file, the component and whether the property is a list of it.
EXTRA_PROPERTIES: dict[tuple[str, str], tuple[str, str, bool]] = {
    # In every response with include=variants, missing from product_Full.
    ("products", "variants"): ("products_catalog.v3.yml", "productVariant_Full", True),
}


class _Spec:
    """One spec file, its `$ref`s resolved and its schemas normalised into nodes."""

    def __init__(self, path: Path) -> None:
        import yaml  # only needed to regenerate the tree

        self.document = yaml.safe_load(path.read_text(encoding="utf-8"))

    def component(self, name: str | tuple[str, ...]) -> Node:
        """A component schema by name, or any schema by its path in the document."""
        path = ("components", "schemas", name) if isinstance(name, str) else name
        target: t.Any = self.document
        for part in path:
            target = target[part]
        return self.node(target, ())

    def list_item(self, path: str) -> Node:
        """The record of `GET path`: its 2xx JSON answer, `data` unwrapped, items taken."""
        responses = self.document["paths"][path]["get"]["responses"]
        answer = next(v for k, v in responses.items() if str(k).startswith("2") and v)
        if "$ref" in answer:  # a shared response object (components/responses)
            answer = self._resolve(answer["$ref"])
        node = self.node(answer["content"]["application/json"]["schema"], ())
        data = (node.get("properties") or {}).get("data")
        if data is not None:
            node = data
        return t.cast("Node", node.get("items", node))

    def _resolve(self, ref: str) -> dict:
        target: t.Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return t.cast("dict", target)

    def node(self, schema: dict, seen: tuple[str, ...]) -> Node:
        ref = schema.get("$ref")
        if ref is not None:
            if ref in seen:  # a recursive schema: anything below this depth
                return {"types": None, "nullable": True}
            return self.node(self._resolve(ref), (*seen, ref))
        parts = [self.node(s, seen) for s in schema.get("allOf", [])]
        alternatives = [self.node(s, seen) for s in schema.get("anyOf", schema.get("oneOf", []))]
        own: Node = {"types": None, "nullable": bool(schema.get("nullable"))}
        kind = schema.get("type")
        if kind is not None:
            own["types"] = sorted(set(kind) if isinstance(kind, list) else {kind})
        if "enum" in schema:
            own["enum"] = list(schema["enum"])
            if None in own["enum"]:
                own["nullable"] = True
            if own["types"] is None:  # an enum without a type: the types of its values
                own["types"] = sorted({_json_type(v) for v in own["enum"] if v is not None})
        if isinstance(schema.get("format"), str) and own["types"] == ["string"]:
            own["format"] = schema["format"]
        if "properties" in schema:
            own["properties"] = {k: self.node(v, seen) for k, v in schema["properties"].items()}
        if isinstance(schema.get("items"), dict):
            own["items"] = self.node(schema["items"], seen)
        merged = _all_of([own, *parts])
        if alternatives:
            merged = _all_of([merged, _any_of(alternatives)])
        return merged


def _json_type(value: t.Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "object" if isinstance(value, dict) else "array"


def _all_of(nodes: list[Node]) -> Node:
    """Composition as the specs use `allOf`: properties add up, a type given anywhere holds."""
    out: Node = {"types": None, "nullable": any(n.get("nullable") for n in nodes)}
    for n in nodes:
        if n.get("types") is not None:
            out["types"] = n["types"] if out["types"] is None else out["types"]
        for key in ("enum", "format", "items"):
            if key in n and key not in out:
                out[key] = n[key]
        if "properties" in n:
            out.setdefault("properties", {}).update(n["properties"])
    if out["types"] is None and "properties" in out:
        out["types"] = ["object"]
    return out


def _any_of(nodes: list[Node]) -> Node:
    """Alternatives: a value of any of them is allowed."""
    types: set[str] | None = set()
    for n in nodes:
        if n.get("types") is None:
            types = None
            break
        assert types is not None
        types |= set(n["types"])
    out: Node = {
        "types": None if types is None else sorted(types),
        "nullable": any(n.get("nullable") for n in nodes),
    }
    props: dict[str, Node] = {}
    for n in nodes:
        for name, sub in n.get("properties", {}).items():
            props[name] = _any_of([props[name], sub]) if name in props else sub
    if props:
        out["properties"] = props
    items = [n["items"] for n in nodes if "items" in n]
    if items:
        out["items"] = _any_of(items)
    return out


def derive(spec_dir: Path) -> dict[str, Node]:
    """The tree of every stream, from the spec files in `spec_dir`."""
    specs: dict[str, _Spec] = {}

    def spec(name: str) -> _Spec:
        if name not in specs:
            specs[name] = _Spec(spec_dir / name)
        return specs[name]

    tree: dict[str, Node] = {}
    for stream, (file, component) in SOURCES.items():
        tree[stream] = spec(file).component(component)
    for stream, (file, path) in LIST_SOURCES.items():
        tree[stream] = spec(file).list_item(path)
    for stream, (outer, inside) in ROW_PER_ITEM.items():
        props = tree[stream]["properties"]
        row = dict(props[outer].get("properties") or {})
        row.update(props[inside]["items"].get("properties") or {})
        tree[stream] = {"types": ["object"], "nullable": False, "properties": row}
    for stream, added in ADDED_FIELDS.items():
        tree[stream].setdefault("properties", {}).update(added)
    for (stream, prop), (file, component, is_list) in EXTRA_PROPERTIES.items():
        sub = spec(file).component(component)
        if is_list:
            sub = {"types": ["array"], "nullable": False, "items": sub}
        tree[stream].setdefault("properties", {})[prop] = sub
    return tree


#: v2 dates the spec types as plain text (RFC 2822, or "" for none): the tap writes them as
#: ISO-8601 `date-time` in UTC, as it does the orders' dates.
V2_DATES = {
    "coupons": {"date_created", "expires"},
    "gift_certificates": {"purchase_date", "expiry_date"},
    "customer_groups": {"date_created", "date_modified"},
    "order_shipments": {"date_created"},
}
#: Untyped in the spec (any JSON value): a schema every SDK path and target can handle.
ANY_VALUE: dict[str, t.Any] = {
    "anyOf": [
        {"type": ["number", "string", "boolean", "null"]},
        {"type": "object", "properties": {}},
        {"type": "array", "items": {"type": ["number", "string", "boolean", "null"]}},
    ]
}


def to_schema(node: Node, keys: t.Iterable[str] = (), dates: t.Iterable[str] = ()) -> dict:
    """A stream's JSON Schema from its spec node: every field nullable but the keys.

    Types as wide as the spec's, no enum, pattern or format imposed, except `date-time`
    where the tap writes ISO-8601 dates.
    """
    keys, dates = set(keys), set(dates)
    schema: dict[str, t.Any] = {"type": "object", "properties": {}}
    for name, sub in (node.get("properties") or {}).items():
        field = _field_schema(sub, nullable=name not in keys)
        if name in dates and "string" in (sub.get("types") or ()):
            field["format"] = "date-time"
        schema["properties"][name] = field
    schema["required"] = [k for k in schema["properties"] if k in keys]
    return schema


def _field_schema(node: Node, *, nullable: bool = True) -> dict:
    types = node.get("types")
    if types is None:
        return dict(ANY_VALUE)
    kinds = [*types, "null"] if nullable else list(types)
    field: dict[str, t.Any] = {"type": kinds[0] if len(kinds) == 1 else kinds}
    if node.get("format") == "date-time":
        field["format"] = "date-time"
    if "object" in types:
        field["properties"] = {
            name: _field_schema(sub) for name, sub in (node.get("properties") or {}).items()
        }
    if "array" in types:
        field["items"] = _field_schema(node.get("items") or {"types": None})
    return field


def write_schema(stream: str, tree: dict[str, Node], keys: t.Iterable[str], path: Path) -> None:
    """`schemas/<stream>.json`, one field a line where it fits."""
    schema = to_schema(tree[stream], keys, V2_DATES.get(stream, ()))
    lines = ["{", '  "type": "object",', '  "properties": {']
    props = list(schema["properties"].items())
    for k, (name, field) in enumerate(props):
        comma = "," if k < len(props) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(field, ensure_ascii=False)}{comma}")
    lines += ["  },", f'  "required": {json.dumps(schema["required"])}', "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Regenerate `spec_types.json` from the specs, write new schemas, audit them all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec-dir", type=Path, help="write the tree from these spec files")
    parser.add_argument("--audit", action="store_true", help="list every narrowing in schemas/")
    parser.add_argument(
        "--write-schemas", nargs="+", metavar="STREAM", help="(re)write these schemas/ files"
    )
    args = parser.parse_args(argv)
    if args.spec_dir is not None:
        from tap_bigcommerce.streams import STREAM_TYPES

        # Only the streams the tap has: a test keeps the two lists equal.
        names = {t.cast("str", stream.name) for stream in STREAM_TYPES}  # type: ignore[misc]
        tree = {k: v for k, v in derive(args.spec_dir).items() if k in names}
        tree_file().write_text(json.dumps(tree, indent=1, sort_keys=True) + "\n", "utf-8")
        load_tree.cache_clear()
        print(f"wrote {tree_file()} ({len(tree)} streams)")
    if args.write_schemas:
        from tap_bigcommerce.schema_files import schema_dir

        for stream in args.write_schemas:
            path = schema_dir() / f"{stream}.json"
            write_schema(stream, load_tree(), NEW_STREAM_KEYS[stream], path)
            print(f"wrote {path}")
    if args.audit:
        from tap_bigcommerce.schema_files import load_schema

        total = 0
        for stream, spec in load_tree().items():
            for line in narrowings(stream, load_schema(stream), spec):
                print(line)
                total += 1
        print(f"{total} narrowings")
        return 1 if total else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
