"""The schemas and the sandbox's generators agree on every documented field."""

from __future__ import annotations

import pytest

from tap_bigcommerce.sandbox import fields
from tap_bigcommerce.schema_files import load_schema

#: (stream, the sandbox's field list, fields the tap adds itself)
PAIRS = [
    ("products", fields.PRODUCT_FIELDS, set()),
    ("product_variants", fields.VARIANT_FIELDS, set()),
    ("product_images", fields.IMAGE_FIELDS, set()),
    ("product_custom_fields", fields.CUSTOM_FIELD_FIELDS, {"product_id"}),
    ("product_bulk_pricing_rules", fields.BULK_PRICING_RULE_FIELDS, {"product_id"}),
    ("product_reviews", fields.REVIEW_FIELDS, {"product_id"}),
    ("customers", fields.CUSTOMER_FIELDS, set()),
    ("customer_addresses", fields.CUSTOMER_ADDRESS_FIELDS, set()),
    ("orders", fields.ORDER_FIELDS, set()),
    ("order_products", fields.ORDER_PRODUCT_FIELDS, set()),
    ("order_shipping_addresses", fields.ORDER_SHIPPING_ADDRESS_FIELDS, set()),
    ("order_coupons", fields.ORDER_COUPON_FIELDS, set()),
    ("order_shipments", fields.ORDER_SHIPMENT_FIELDS, set()),
    ("order_transactions", fields.ORDER_TRANSACTION_FIELDS, set()),
    ("order_fees", fields.ORDER_FEE_FIELDS, {"order_id"}),
]


@pytest.mark.parametrize(("stream", "generated", "added"), PAIRS, ids=[p[0] for p in PAIRS])
def test_schema_has_exactly_the_documented_fields(stream, generated, added):
    declared = set(load_schema(stream)["properties"])
    # `store_hash`, in every schema, is the tap's: which store the record comes from.
    assert declared == set(generated) | added | {"store_hash"}


def test_order_billing_address_is_fully_described():
    billing = load_schema("orders")["properties"]["billing_address"]["properties"]
    assert set(billing) == set(fields.ORDER_BILLING_ADDRESS_FIELDS)
