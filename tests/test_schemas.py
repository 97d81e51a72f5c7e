"""Checks on the stream JSON Schemas in ``schemas/``.

The schemas describe what the tap emits: v2 money strings become JSON numbers, every date
becomes an ISO-8601 ``date-time`` (or null), and identifiers that only look numeric stay strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, ValidationError

from tap_bigcommerce.transform import compile_record_converter

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# stream -> (property count of the spec schema, extra properties the tap emits on top of it)
EXPECTED = {
    "products": (76, {"channels", "variants"}),
    "product_variants": (27, set()),
    "product_images": (11, set()),
    "product_custom_fields": (3, {"product_id"}),
    "product_bulk_pricing_rules": (5, {"product_id"}),
    "product_reviews": (10, {"product_id"}),
    "customers": (22, {"shopper_profile_id", "segment_ids"}),
    "customer_addresses": (15, set()),
    "orders": (72, {"credit_card_type", "custom_status"}),
    "order_products": (57, set()),
    "order_shipping_addresses": (31, set()),
}
PARENTS = ("products", "customers", "orders")
#: Streams keyed on more than `id`.
KEYS = {
    "product_bulk_pricing_rules": ("id", "product_id"),
    "product_reviews": ("id", "product_id"),
}
PARENT_KEYS = {
    "product_variants": "product_id",
    "product_images": "product_id",
    "product_custom_fields": "product_id",
    "product_bulk_pricing_rules": "product_id",
    "product_reviews": "product_id",
    "customer_addresses": "customer_id",
    "order_products": "order_id",
    "order_shipping_addresses": "order_id",
}

# v2 "Float-As-String" values that the tap turns into exact decimals.
ORDER_MONEY = [
    "subtotal_ex_tax",
    "subtotal_inc_tax",
    "subtotal_tax",
    "total_ex_tax",
    "total_inc_tax",
    "total_tax",
    "base_shipping_cost",
    "shipping_cost_ex_tax",
    "shipping_cost_inc_tax",
    "shipping_cost_tax",
    "base_handling_cost",
    "handling_cost_ex_tax",
    "handling_cost_inc_tax",
    "handling_cost_tax",
    "base_wrapping_cost",
    "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax",
    "wrapping_cost_tax",
    "discount_amount",
    "coupon_discount",
    "refunded_amount",
    "store_credit_amount",
    "gift_certificate_amount",
    "currency_exchange_rate",
    "store_default_to_transactional_exchange_rate",
]
ORDER_PRODUCT_MONEY = [
    "base_price",
    "price_ex_tax",
    "price_inc_tax",
    "price_tax",
    "base_total",
    "total_ex_tax",
    "total_inc_tax",
    "total_tax",
    "base_cost_price",
    "cost_price_inc_tax",
    "cost_price_ex_tax",
    "cost_price_tax",
    "refund_amount",
    "base_wrapping_cost",
    "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax",
    "wrapping_cost_tax",
    "fixed_shipping_cost",
    "discounted_total_inc_tax",
    "weight",
    "width",
    "height",
    "depth",
]
SHIPPING_ADDRESS_MONEY = [
    "base_cost",
    "cost_ex_tax",
    "cost_inc_tax",
    "cost_tax",
    "base_handling_cost",
    "handling_cost_ex_tax",
    "handling_cost_inc_tax",
    "handling_cost_tax",
]
MONEY = {
    "orders": ORDER_MONEY,
    "order_products": ORDER_PRODUCT_MONEY,
    "order_shipping_addresses": SHIPPING_ADDRESS_MONEY,
}
# Strings that look numeric but are identifiers: they must never be Decimal-converted.
IDENTIFIERS = {
    "orders": [
        "ebay_order_id",
        "cart_id",
        "external_id",
        "external_order_id",
        "payment_provider_id",
    ],
    "order_products": ["sku", "upc", "ebay_item_id", "ebay_transaction_id", "external_id"],
    "order_shipping_addresses": ["zip", "phone"],
    "customers": ["phone", "registration_ip_address", "shopper_profile_id"],
    "customer_addresses": ["postal_code", "phone"],
    "products": ["sku", "upc", "gtin", "mpn", "date_last_imported"],
    "product_variants": ["sku", "upc", "gtin", "mpn"],
}
DATE_TIMES = {
    "products": ["date_created", "date_modified", "preorder_release_date"],
    "product_images": ["date_modified"],
    "product_reviews": ["date_created", "date_modified", "date_reviewed"],
    "customers": ["date_created", "date_modified"],
    "orders": ["date_created", "date_modified", "date_shipped"],
    "order_products": ["event_date"],
}


def load(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def types_of(prop: dict) -> set[str]:
    t = prop.get("type", [])
    return {t} if isinstance(t, str) else set(t)


def walk(schema: dict, path: str = ""):
    """Yield (path, subschema) for every nested schema below properties/items."""
    for key, sub in schema.get("properties", {}).items():
        sub_path = f"{path}.{key}" if path else key
        yield sub_path, sub
        yield from walk(sub, sub_path)
    if isinstance(schema.get("items"), dict):
        yield f"{path}[]", schema["items"]
        yield from walk(schema["items"], f"{path}[]")


def test_every_stream_has_a_schema_file():
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} >= set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schema_is_valid_object_schema_keyed_on_id(name):
    schema = load(name)
    Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert "additionalProperties" not in schema
    assert schema["properties"]["id"] == {"type": "integer"}
    assert "id" in schema["required"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_property_counts_match_the_spec(name):
    spec_count, extras = EXPECTED[name]
    props = load(name)["properties"]
    assert extras <= set(props)
    assert len(props) >= spec_count + len(extras)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_field_but_the_key_is_nullable(name):
    # The key: `id`, and a child's parent id where it is part of the key (rows the tap
    # gives their parent's id).
    keys = set(KEYS.get(name, ("id",)))
    for key, prop in load(name)["properties"].items():
        if key in keys or prop.keys() <= {"description"}:
            continue
        assert "null" in types_of(prop), key


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_nested_schema_is_typed(name):
    # The SDK's record conformance raises on a schema without "type" (or "anyOf") as soon as
    # the value is a list, and indexes schema["properties"] for object-typed array items.
    for path, sub in walk(load(name)):
        assert "type" in sub or "anyOf" in sub, path
        if path.endswith("[]") and "object" in types_of(sub):
            assert "properties" in sub, path


def test_form_field_values_are_never_number_typed():
    # Free-form values ("123BAF", 12.2, ["Small"]) must not be Decimal-converted.
    value = load("order_shipping_addresses")["properties"]["form_fields"]["items"]["properties"][
        "value"
    ]
    assert "type" not in value
    assert {"string", "number", "array", "null"} == {branch["type"] for branch in value["anyOf"]}


@pytest.mark.parametrize("name", PARENTS)
def test_parents_replicate_on_date_modified(name):
    schema = load(name)
    assert "date_modified" in schema["required"]
    prop = schema["properties"]["date_modified"]
    assert prop["format"] == "date-time"
    assert "string" in types_of(prop)


@pytest.mark.parametrize("name", sorted(PARENT_KEYS))
def test_children_carry_their_parent_id(name):
    prop = load(name)["properties"][PARENT_KEYS[name]]
    assert "integer" in types_of(prop)


@pytest.mark.parametrize("name", sorted(DATE_TIMES))
def test_dates_are_date_time(name):
    props = load(name)["properties"]
    for field in DATE_TIMES[name]:
        assert props[field]["format"] == "date-time", field
        assert types_of(props[field]) == {"string", "null"}, field


@pytest.mark.parametrize("name", sorted(MONEY))
def test_v2_money_is_emitted_as_number(name):
    props = load(name)["properties"]
    for field in MONEY[name]:
        assert types_of(props[field]) == {"number", "null"}, field


# v2 fields the spec types as `number` that are counts or ids, not money (sent as numbers).
SPEC_NUMBERS = {
    "orders": ["customer_id", "items_shipped", "items_total", "shipping_address_count"],
    "order_products": ["quantity_refunded", "quantity_shipped", "return_id"],
    "order_shipping_addresses": ["items_shipped", "items_total", "shipping_zone_id"],
}


@pytest.mark.parametrize("name", sorted(MONEY))
def test_no_other_v2_top_level_field_is_numeric(name):
    # The tap Decimal-converts string values of number-typed fields, so the set is exact.
    props = load(name)["properties"]
    numeric = {k for k, v in props.items() if types_of(v) == {"number", "null"}}
    assert numeric == set(MONEY[name]) | set(SPEC_NUMBERS.get(name, []))


@pytest.mark.parametrize("name", sorted(IDENTIFIERS))
def test_numeric_looking_identifiers_stay_strings(name):
    props = load(name)["properties"]
    convert = compile_record_converter(load(name), money_as_text=True)
    for field in IDENTIFIERS[name]:
        kinds = types_of(props[field])
        assert "string" in kinds, field
        # `payment_provider_id` may also be a number (the spec): its text still stays text.
        assert convert({field: "0012"})[field] == "0012", field


def test_order_sub_resources_and_includes():
    props = load("orders")["properties"]
    for stub in ("products", "shipping_addresses", "coupons"):
        assert set(props[stub]["properties"]) == {"url", "resource"}
    assert {"pickups", "shipping", "downloads", "email"} <= set(props["consignments"]["properties"])
    line_item = props["consignments"]["properties"]["shipping"]["items"]["properties"][
        "line_items"
    ]["items"]["properties"]
    assert set(ORDER_PRODUCT_MONEY) <= {k for k, v in line_item.items() if "number" in types_of(v)}
    assert types_of(props["fees"]) == {"object", "array", "null"}
    assert types_of(props["is_deleted"]) == {"boolean", "null"}
    assert types_of(props["customer_id"]) == {"number", "null"}  # the spec: number
    assert types_of(props["payment_provider_id"]) == {"string", "number", "null"}


def test_product_variants_match_the_products_include():
    variants = load("product_variants")["properties"]
    included = load("products")["properties"]["variants"]["items"]["properties"]
    assert included == variants
    assert "map_price" in variants


def test_emitted_records_validate():
    order = {
        "id": 100,
        "customer_id": 0,
        "date_created": "2018-01-10T21:05:30+00:00",
        "date_modified": "2018-12-05T20:16:55+00:00",
        "date_shipped": None,
        "subtotal_ex_tax": 336.32,
        "currency_exchange_rate": 1.0,
        "ebay_order_id": "0",
        "payment_provider_id": "",
        "products": {"url": "https://x/v2/orders/100/products", "resource": "/orders/100/products"},
        "fees": [{"id": 1, "type": "custom_fee", "cost_inc_tax": 5.0}],
        "billing_address": {"zip": "78751", "form_fields": [{"name": "n", "value": ["a"]}]},
        "credit_card_type": None,
    }
    Draft7Validator(load("orders")).validate(order)
    Draft7Validator(load("orders")).validate({**order, "fees": {"url": "u", "resource": "r"}})
    with pytest.raises(ValidationError, match="is not of type"):
        Draft7Validator(load("orders")).validate({**order, "subtotal_ex_tax": "336.3200"})

    product = {
        "id": 1,
        "date_modified": "2018-08-24T14:41:00+00:00",
        "categories": [23, 45],
        "tax_class_id": 0,
        "custom_url": {"url": "/a/", "is_customized": False},
        "variants": [{"id": 2, "product_id": 1, "price": None, "option_values": []}],
        "channels": [1],
    }
    Draft7Validator(load("products")).validate(product)
