"""The sandbox's cache of encoded records: same bytes as rendering afresh, never stale."""

from __future__ import annotations

import json

from tap_bigcommerce.sandbox import Store, api

PRODUCT_INCLUDES = ("variants", "images", "custom_fields", "primary_image")


def _fresh_products_body(store: Store, q: dict[str, str]) -> bytes:
    """What the endpoint sent before the cache: dicts rendered and encoded per request."""
    page_q = {**q, "exclude_fields": " "}  # a blank field list takes the uncached path
    return api.list_products(store, page_q).body


def test_cached_lists_are_byte_identical_to_fresh_renders() -> None:
    store = Store(seed=3, products=40, customers=30, orders=40)
    q = {"limit": "25", "include": ",".join(PRODUCT_INCLUDES), "sort": "date_modified"}
    assert api.list_products(store, q).body == _fresh_products_body(store, q)
    ids = [r["id"] for r in json.loads(api.list_products(store, q).body)["data"]]
    expected = [store.record("products", i, PRODUCT_INCLUDES) for i in ids]
    assert json.loads(api.list_products(store, q).body)["data"] == expected
    oq = {"limit": "10", "include": "consignments.line_items,fees",
          "consignment_structure": "object"}  # fmt: skip
    orders = json.loads(api.list_orders(store, oq).body)
    inc = ("consignments.line_items", "fees")
    assert orders == [store.record("orders", o["id"], inc, object_structure=True) for o in orders]
    customers = json.loads(api.list_customers(store, {"include": "addresses"}).body)["data"]
    assert customers == [store.record("customers", c["id"], ["addresses"]) for c in customers]


def test_touched_record_is_rendered_again() -> None:
    store = Store(seed=3, products=5)
    before = store.record_json("products", 2, ["variants"])
    store.touch("products", [2], when=1_800_000_000)
    after = store.record_json("products", 2, ["variants"])
    assert after != before
    assert json.loads(after) == store.record("products", 2, ["variants"])


def test_cache_stays_within_its_bound() -> None:
    store = Store(seed=3, products=50, cache_bytes=20_000)
    held = store.warm("products", PRODUCT_INCLUDES)
    assert 0 < held <= 20_000
    assert json.loads(store.record_json("products", 1, PRODUCT_INCLUDES)) == store.record(
        "products", 1, PRODUCT_INCLUDES
    )
