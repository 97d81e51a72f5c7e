"""Every value BigCommerce's spec allows passes the SCHEMA the tap itself sends.

`spec_types.json` (derived from the official OpenAPI specs, not from `schemas/`) says what each
field may hold; the sandbox spreads its values over that (fractions in `number` fields,
nulls, empty arrays); the records of a full sync must then validate against their own
SCHEMA messages, as a target validates them.
"""

from __future__ import annotations

import copy
import decimal
import json

import pytest
from jsonschema import Draft7Validator

from tap_bigcommerce.sandbox import Sandbox, Store, records
from tap_bigcommerce.sandbox.spec_types import load_tree, narrowings
from tap_bigcommerce.schema_files import load_schema
from tap_bigcommerce.streams import STREAM_TYPES
from tests.taprun import STORE_HASH, TOKEN, run_tap, sandbox_config, select_only

STREAMS = [stream.name for stream in STREAM_TYPES]
PARENTS = ("products", "customers", "orders")


def test_every_stream_has_its_spec_types():
    assert set(load_tree()) == set(STREAMS)


@pytest.mark.parametrize("stream", STREAMS)
def test_no_schema_is_narrower_than_the_spec(stream):
    assert narrowings(stream, load_schema(stream), load_tree()[stream]) == []


@pytest.mark.parametrize(
    ("field", "narrowed", "expected"),
    [
        ("quantity_refunded", {"type": ["integer", "null"]}, "spec allows ['number']"),
        ("event_date", {"type": "string", "format": "date-time"}, "spec allows null"),
        ("type", {"type": ["string", "null"], "enum": ["physical"]}, "an enum"),
        ("sku", {"type": ["string", "null"], "maxLength": 3}, "maxLength"),
        ("applied_discounts", {"type": ["object", "null"]}, "spec allows ['array']"),
    ],
)
def test_the_audit_names_each_kind_of_narrowing(field, narrowed, expected):
    schema = copy.deepcopy(load_schema("order_products"))
    spec = copy.deepcopy(load_tree()["order_products"])
    spec["properties"][field]["nullable"] = True  # so that a non-null schema narrows it
    schema["properties"][field] = narrowed
    found = narrowings("order_products", schema, spec)
    assert any(field in line and expected in line for line in found), found


def test_the_audit_looks_inside_nested_objects_and_arrays():
    schema = copy.deepcopy(load_schema("orders"))
    shipping = schema["properties"]["consignments"]["properties"]["shipping"]["items"]
    shipping["properties"]["line_items"]["items"]["properties"]["return_id"] = {"type": "integer"}
    found = narrowings("orders", schema, load_tree()["orders"])
    assert found == [
        "orders.consignments.shipping[].line_items[].return_id: "
        "spec allows ['number'], schema has ['integer']"
    ]


def _leaves(value, path=""):
    """(path, value) of every value inside a record, list positions as `[]`."""
    yield path, value
    if isinstance(value, dict):
        for name, sub in value.items():
            yield from _leaves(sub, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for sub in value:
            yield from _leaves(sub, f"{path}[]")


def test_the_sandbox_spreads_values_over_what_the_spec_allows():
    store = Store(seed=5, products=60, customers=40, orders=60, plateau=0)
    seen: dict[str, set[str]] = {"fraction": set(), "null": set(), "empty": set()}
    for resource in PARENTS:
        for rid in store.ids(resource):
            includes = {"products": ("variants", "images", "custom_fields")}.get(resource, ())
            for path, value in _leaves(store.record(resource, rid, includes)):
                if isinstance(value, float) and not value.is_integer():
                    seen["fraction"].add(f"{resource}.{path}")
                elif value is None:
                    seen["null"].add(f"{resource}.{path}")
                elif value == []:
                    seen["empty"].add(f"{resource}.{path}")
    assert "orders.items_total" in seen["fraction"]
    assert "products.tax_class_id" in seen["fraction"]
    assert "products.categories" in seen["empty"]
    assert "products.preorder_release_date" in seen["null"]
    for kind, paths in seen.items():
        assert len(paths) >= 5, (kind, sorted(paths))


def test_a_line_item_reads_the_same_wherever_it_is_listed():
    """Inside its order's consignments and from `/v2/orders/{id}/products`."""
    store = Store(seed=5, products=5, customers=5, orders=40, plateau=0)
    compared = 0
    for oid in store.ids("orders"):
        order = store.record(
            "orders", oid, ("consignments", "consignments.line_items"), object_structure=True
        )
        inside = {
            item["id"]: item
            for kind in ("pickups", "shipping", "downloads")
            for group in order["consignments"].get(kind) or []
            for item in group.get("line_items") or []
        }
        _, _, version, _ = store.state("orders", oid)
        listed = store.spread("order_products", records.order_products(5, oid, version, "abc123"))
        for item in listed:
            if item["id"] in inside:
                assert inside[item["id"]] == item
                compared += 1
    assert compared > 50


def _validate(messages: list[dict]) -> dict[str, int]:
    """Every RECORD against the last SCHEMA of its stream (Draft 7 with formats); counts."""
    validators: dict[str, Draft7Validator] = {}
    counts: dict[str, int] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            schema = message["schema"]
            Draft7Validator.check_schema(schema)
            validators[message["stream"]] = Draft7Validator(
                schema, format_checker=Draft7Validator.FORMAT_CHECKER
            )
        elif message["type"] == "RECORD":
            stream = message["stream"]
            errors = [
                f"{stream} {message['record'].get('id')} at "
                f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validators[stream].iter_errors(message["record"])
            ]
            assert not errors, errors[:10]
            counts[stream] = counts.get(stream, 0) + 1
    return counts


@pytest.mark.parametrize("selection", ["every-stream", "parents-only"])
def test_every_record_of_a_full_sync_validates_against_its_own_schema(selection):
    """Parents only: v3 records then go out as the API sent them, unconverted."""
    store = Store(seed=5, products=60, customers=40, orders=60, plateau=0)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url)
        discovered = json.loads(run_tap(config, "--discover").stdout)
        # Every stream: the opt-in ones (order_transactions) too, selected in the catalog.
        catalog = select_only(discovered, STREAMS if selection == "every-stream" else PARENTS)
        run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    counts = _validate(run.messages)
    expected = STREAMS if selection == "every-stream" else list(PARENTS)
    assert set(counts) == set(expected)
    for resource in PARENTS:
        assert counts[resource] == len(store.ids(resource))
    # The spread values did reach the output (else the check above proves little).
    items = run.records("order_products") if selection == "every-stream" else []
    if items:
        refunded = [r["quantity_refunded"] for r in items]
        assert any(isinstance(q, decimal.Decimal) and q != q.to_integral_value() for q in refunded)
