"""The sandbox's rest of the store: the endpoints behave as the API documents them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.sandbox.rest import RESOURCES
from tests.test_sandbox import Client

#: The plain listings (price list records are listed per price list).
LISTINGS = [r for r in RESOURCES if "(" not in r.path]
V3 = [r for r in LISTINGS if r.flavour == "v3"]
V2 = [r for r in LISTINGS if r.flavour == "v2"]


def _path(resource) -> str:
    return resource.path.replace("\\", "")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(Store(seed=2, products=6, customers=6, orders=6)) as sb:
        yield sb


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Client]:
    client = Client(sandbox)
    yield client
    client.close()


@pytest.mark.parametrize("resource", V3, ids=[r.name for r in V3])
def test_v3_listings_page_in_an_envelope(api, sandbox, resource):
    ids = sandbox.store.rest.ids(resource.name)
    first = api.get(_path(resource), {"limit": 2}).json()
    assert first["meta"]["pagination"]["total"] == len(ids)
    assert len(first["data"]) == min(2, len(ids))
    assert api.get(_path(resource), {"limit": 251}).status_code == 413


@pytest.mark.parametrize("resource", V2, ids=[r.name for r in V2])
def test_v2_listings_are_arrays_with_204_past_the_end(api, sandbox, resource):
    ids = sandbox.store.rest.ids(resource.name)
    rows = api.get(_path(resource), {"limit": 250}).json()
    assert isinstance(rows, list) and len(rows) == len(ids)
    if not resource.paged:
        # Documented without page or limit (order statuses): every row, whatever is asked.
        assert len(api.get(_path(resource), {"page": 9, "limit": 251}).json()) == len(ids)
        return
    assert api.get(_path(resource), {"page": 9, "limit": 250}).status_code == 204
    assert api.get(_path(resource), {"limit": 251}).status_code == 413


def test_refunds_filter_on_created_and_refer_to_orders(api, sandbox):
    rest = sandbox.store.rest
    ids = rest.ids("refunds")
    third = rest.state("refunds", ids[2])[0]
    since = dt.datetime.fromtimestamp(third, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = api.get("/v3/orders/payment_actions/refunds", {"created:min": since}).json()["data"]
    assert [r["id"] for r in rows] == ids[2:]
    until = api.get("/v3/orders/payment_actions/refunds", {"created:max": since}).json()["data"]
    assert [r["id"] for r in until] == ids[:3]
    assert {r["order_id"] for r in rows} <= set(sandbox.store.ids("orders"))


def test_attribute_values_refer_to_attributes_and_customers(api, sandbox):
    rows = api.get("/v3/customers/attribute-values").json()["data"]
    assert rows and {r["attribute_id"] for r in rows} <= set(
        sandbox.store.rest.ids("customer_attributes")
    )
    assert {r["customer_id"] for r in rows} <= set(sandbox.store.ids("customers"))
    one = rows[0]["customer_id"]
    mine = api.get("/v3/customers/attribute-values", {"customer_id:in": one}).json()["data"]
    assert mine and {r["customer_id"] for r in mine} == {one}


def test_id_filters_where_the_api_has_them(api, sandbox):
    brands = api.get("/v3/catalog/brands", {"id:greater": 5, "sort": "id"}).json()["data"]
    assert [b["id"] for b in brands] == [i for i in sandbox.store.rest.ids("brands") if i > 5]
    coupons = api.get("/v2/coupons", {"min_id": 4, "max_id": 6}).json()
    assert [c["id"] for c in coupons] == [4, 5, 6]
    trees = api.get("/v3/catalog/trees/categories", {"tree_id:in": "2"}).json()["data"]
    assert trees and {c["tree_id"] for c in trees} == {2}


def test_deleted_rows_vanish_and_new_ones_appear(api, sandbox):
    rest = sandbox.store.rest
    rest.delete("coupons", [2])
    (new,) = rest.insert("coupons", 1)
    ids = [c["id"] for c in api.get("/v2/coupons").json()]
    assert 2 not in ids and new in ids
    rest.delete("inventory_locations", [1])
    items = api.get("/v3/inventory/items").json()["data"]
    assert items and all(x["location_id"] != 1 for i in items for x in i["locations"])


def test_each_listing_needs_its_scope():
    with Sandbox(Store(seed=2, products=2, customers=2, orders=2), scopes=["products"]) as sb:
        api = Client(sb)
        try:
            assert api.get("/v3/catalog/brands").status_code == 200
            for path in ("/v2/coupons", "/v3/promotions", "/v2/currencies", "/v3/inventory/items",
                         "/v3/inventory/locations"):  # fmt: skip
                assert api.get(path).status_code == 403, path
        finally:
            api.close()
