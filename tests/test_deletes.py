"""Deletes reach the warehouse (issue #16): a full read of an incremental stream activates a
new version for it and its children; partial, failed and killed runs never do.

First the sandbox's deletes (records, and sub-resources of records that stay), then the tap
as a subprocess over real HTTP against the sandbox.
"""

from __future__ import annotations

import json
import typing as t

import pytest
import requests

from tap_bigcommerce.sandbox import Sandbox, Store
from tests.taprun import STORE_HASH, TOKEN

# ----------------------------------------------------------------- the sandbox's deletes


class Api:
    def __init__(self, sb: Sandbox) -> None:
        self.base = sb.base_url
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = TOKEN

    def get(self, path: str, **params: t.Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=30)

    def v3_all(self, path: str, **params: t.Any) -> list[dict]:
        rows, page = [], 1
        while True:
            body = self.get(path, page=page, limit=50, **params).json()
            rows += body["data"]
            if page >= body["meta"]["pagination"]["total_pages"]:
                return rows
            page += 1

    def v2_all(self, path: str, **params: t.Any) -> list[dict]:
        rows, page = [], 1
        while (r := self.get(path, page=page, limit=50, **params)).status_code == 200:
            rows += r.json()
            page += 1
        assert r.status_code == 204
        return rows


@pytest.fixture
def small() -> Store:
    return Store(seed=3, products=40, customers=60, orders=30, archived_rate=0.2)


def test_a_deleted_record_vanishes_from_every_listing(small: Store):
    store = small
    archived = store.ids("orders", include_archived=True)[-1:]
    store.archive("orders", archived)
    with_reviews = next(p for p in store.ids("products")[1:] if store.record("products", p)[
        "reviews_count"])  # fmt: skip
    gone = {"products": [1, with_reviews], "customers": [3, 50], "orders": [4, *archived]}
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        api = Api(sb)
        for name, ids in gone.items():
            store.delete(name, ids)
            assert not set(ids) & set(store.ids(name, include_archived=True)), name
        store.delete("products", [1])  # again: nothing happens
        products = api.v3_all("/v3/catalog/products", include="variants,images")
        assert [p["id"] for p in products] == store.ids("products") == [
            p for p in range(1, 41) if p not in gone["products"]]  # fmt: skip
        total = api.get("/v3/catalog/products", limit=1).json()["meta"]["pagination"]["total"]
        assert total == 38 == store.count("products")
        assert api.get(f"/v3/catalog/products/{with_reviews}/reviews").status_code == 404
        inventory = api.v3_all("/v3/inventory/items")
        assert 1 not in {i["identity"]["product_id"] for i in inventory}
        customers = {c["id"] for c in api.v3_all("/v3/customers", include="addresses")}
        assert customers == set(range(1, 61)) - {3, 50}
        by_id = api.v3_all("/v3/customers", **{"id:in": "2,3,50"})
        assert [c["id"] for c in by_id] == [2]
        addresses = api.v3_all("/v3/customers/addresses")
        assert {a["customer_id"] for a in addresses} <= customers
        assert not api.v3_all("/v3/customers/addresses", **{"customer_id:in": "50"})
        live = {o["id"] for o in api.v2_all("/v2/orders")}
        archived_listed = {o["id"] for o in api.v2_all("/v2/orders", is_deleted="true")}
        assert live | archived_listed == set(range(1, 31)) - set(gone["orders"])
        assert api.get("/v2/orders/count").json()["count"] == len(live) == store.count("orders")
        for path in ("/v2/orders/4", "/v2/orders/4/products", "/v2/orders/4/shipping_addresses"):
            assert api.get(path).status_code == 404, path
        with pytest.raises(KeyError):
            store.touch("products", [1])


def test_deleted_children_vanish_and_their_parent_stays(small: Store):
    store = small
    includes = ("variants", "images", "custom_fields", "primary_image")
    pid = next(p for p in store.ids("products")
               if len(store.record("products", p, includes)["variants"]) >= 2
               and len(store.record("products", p, includes)["images"]) >= 2
               and store.record("products", p, includes)["custom_fields"])  # fmt: skip
    before = store.record("products", pid, includes)
    cached = store.record_json("products", pid, includes)
    variant, image, field = before["variants"][1]["id"], before["images"][0]["id"], before[
        "custom_fields"][0]["id"]  # fmt: skip
    store.delete_children("products", pid, "variants", [variant])
    store.delete_children("products", pid, "images", [image], touch=False)
    store.delete_children("products", pid, "custom_fields", [field], touch=False)
    after = store.record("products", pid, includes)
    assert [v["id"] for v in after["variants"]] == [
        v["id"] for v in before["variants"] if v["id"] != variant]  # fmt: skip
    assert image not in [i["id"] for i in after["images"]] and after["images"]
    assert after["primary_image"] is None  # it was the thumbnail
    assert field not in [f["id"] for f in after["custom_fields"]]
    assert after["date_modified"] != before["date_modified"]  # a variant's deletion touches
    assert json.loads(store.record_json("products", pid, includes)) == after != json.loads(cached)

    cid = 50  # every 50th customer has 12 addresses: more than the include's 10
    whole = store.customer_addresses(cid)
    assert len(whole) == 12
    first = store.record("customers", cid, ("addresses",))
    store.record_json("customers", cid, ("addresses",))
    store.delete_children("customers", cid, "addresses", [whole[1]["id"]], touch=False)
    trimmed = store.record("customers", cid, ("addresses",))
    assert trimmed["date_modified"] == first["date_modified"]
    assert trimmed["address_count"] == 11
    assert [a["id"] for a in trimmed["addresses"]] == [a["id"] for a in whole if a["id"] !=
                                                        whole[1]["id"]][:10]  # fmt: skip
    assert json.loads(store.record_json("customers", cid, ("addresses",))) == trimmed
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        api = Api(sb)
        listed = api.v3_all("/v3/customers/addresses", **{"customer_id:in": str(cid)})
        assert len(listed) == 11 and whole[1]["id"] not in {a["id"] for a in listed}
        if pid <= 10:  # inventory lists the variants of the first products
            items = api.v3_all("/v3/inventory/items")
            assert variant not in {i["identity"]["variant_id"] for i in items}
    with pytest.raises(ValueError, match="deletable"):
        store.delete_children("products", pid, "reviews", [1])


def test_records_are_deleted_while_a_sync_runs(small: Store):
    with Sandbox(small, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        sb.mutate_every(3, delete=1, resource="customers")
        api = Api(sb)
        for _ in range(6):
            api.get("/v3/customers", limit=5)
    assert small.count("customers") == 58
