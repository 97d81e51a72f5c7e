"""Spread the sandbox's values over everything the spec allows a field to hold.

The generators in `records` send what a typical store sends: whole quantities, arrays with
something in them, no nulls. BigCommerce's specs allow more (`quantity_refunded` is a
`number`, many fields are nullable), and a schema of the tap's that is narrower than the spec
would stop a live load on the first such value. So, in some records, a field the spec types as
`number` gets a fraction, a nullable field is null, and an array is empty, chosen from
`spec_types.json` (derived from the specs, not from the tap's schemas, so that a test can
catch a narrowed schema).

The choice is a pure function of the seed, the id of the object that holds the field and the
field's name: the same line item reads the same inside an order and from
`/v2/orders/{id}/products`, and a record read twice is the same record.
"""

from __future__ import annotations

import typing as t
import zlib
from dataclasses import dataclass
from functools import cache

from .records import mix
from .spec_types import Node, load_tree

#: Fields left as generated: the keys, dates and references the store's own logic and the
#: tap's paging rest on, and the arrays that carry child rows (their counts are the store's).
KEEP = frozenset({
    "id", "date_modified", "date_created", "product_id", "customer_id", "order_id",
    "variants", "images", "custom_fields", "addresses", "address_count", "consignments",
    "shipping", "pickups", "downloads", "email", "gift_certificates", "line_items", "fees",
    "bulk_pricing_rules", "__warning__",
})  # fmt: skip
#: One field in so many records gets the unusual value (null, a fraction, an empty array).
EVERY = 6


_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class _Field:
    """What may happen to one field, decided once per stream from the spec's tree."""

    name: str
    salt: int  # the field's name, hashed once
    nullable: bool
    number: bool  # a `number` (not integer): may get a fraction
    array: bool
    keep: bool
    inside: tuple[_Field, ...]  # the fields of an object value, or of each list item
    number_items: bool  # a list of `number`s: its items may get fractions


def _plan(node: Node) -> tuple[_Field, ...]:
    """Only the fields where something can happen, at any depth (the walk stays short)."""
    fields = []
    for name, sub in (node.get("properties") or {}).items():
        items = sub.get("items") or {}
        inside = _plan(sub) + _plan(items)
        field = _Field(
            name=name,
            salt=zlib.crc32(name.encode()),
            nullable=bool(sub.get("nullable")),
            number=_only_number(sub),
            array="array" in (sub.get("types") or ()),
            keep=name in KEEP,
            inside=inside,
            number_items=_only_number(items),
        )
        useful = field.nullable or field.number or field.array or field.inside
        if useful and not (field.keep and not field.inside):
            fields.append(field)
    return tuple(fields)


@cache
def _stream_plan(stream: str) -> tuple[_Field, ...]:
    return _plan(load_tree()[stream])


def spread(stream: str, record: dict[str, t.Any], seed: int) -> dict[str, t.Any]:
    """`record` (changed in place, and returned) with some values moved to the spec's edges."""
    _spread_object(_stream_plan(stream), record, seed, 0)
    return record


def _spread_object(
    fields: tuple[_Field, ...], record: dict[str, t.Any], seed: int, owner: int
) -> None:
    own = record.get("id")
    if type(own) is int:
        owner = own
    base = mix(seed, owner)
    for field in fields:
        if field.name not in record:
            continue
        value = record[field.name]
        # A kept field is never replaced, but what it holds may be spread (its line items).
        choice = -1 if field.keep else _choice(base, field.salt)
        if choice == 0 and field.nullable:
            record[field.name] = None
        elif choice == 1 and field.number and _is_number(value):
            record[field.name] = int(value) + 0.5
        elif choice == 2 and field.array and isinstance(value, list):
            record[field.name] = []
        elif isinstance(value, dict):
            _spread_object(field.inside, value, seed, owner)
        elif isinstance(value, list):
            for k, item in enumerate(value):
                if isinstance(item, dict):
                    _spread_object(field.inside, item, seed, owner)
                elif choice == 3 and field.number_items and _is_number(item):
                    value[k] = int(item) + 0.5


def _choice(base: int, salt: int) -> int:
    """0 to EVERY-1, a cheap hash of the object (`base`) and the field (`salt`)."""
    return (((base ^ salt) * 0x9E3779B97F4A7C15 & _MASK) >> 40) % EVERY


def _is_number(value: t.Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _only_number(node: Node) -> bool:
    """A `number` that the spec does not also allow as an integer alone (those stay whole)."""
    types = node.get("types") or ()
    return "number" in types and "integer" not in types
