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

from tap_bigcommerce.replication import Incremental
from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.streams import STREAM_TYPES, ChildStream
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    discovered_with,
    run_tap,
    sandbox_config,
    select_only,
)

# A stream with a bookmark per listed row (price list records) is one table of many
# bookmarks: a full refresh of it is not reconciled (an activation would span them all).
INCREMENTAL = [
    s.name
    for s in STREAM_TYPES
    if isinstance(getattr(s, "replication", None), Incremental) and not s.replication.each
]
CHILDREN = {
    parent: [
        s.name
        for s in STREAM_TYPES
        if issubclass(s, ChildStream) and s.parent_stream_type.name == parent
    ]
    for parent in INCREMENTAL
}
EVERY = INCREMENTAL + [child for children in CHILDREN.values() for child in children]
START_DATE_LINE = "start_date is set, so this run does not see the whole table"

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


# ----------------------------------------------------------------- the tap


@pytest.fixture
def store() -> Store:
    # Customer 50 has 12 addresses (past the include's cap); some orders are archived.
    return Store(seed=4, products=30, customers=55, orders=25, archived_rate=0.2)


@pytest.fixture
def sandbox(store: Store):
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        yield sb


@pytest.fixture
def catalog(sandbox) -> dict:
    return discovered_with(sandbox.api_url, EVERY)


def _sync(sandbox, catalog, state=None, **settings) -> TapRun:
    config = sandbox_config(sandbox.api_url, page_size=10, include_archived_orders=True,
                            **settings)  # fmt: skip
    run = run_tap(config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr
    return run


def _activations(run: TapRun) -> dict[str, int]:
    found: dict[str, int] = {}
    for m in run.messages:
        if m["type"] == "ACTIVATE_VERSION":
            assert m["stream"] not in found, f"{m['stream']}: activated twice"
            found[m["stream"]] = m["version"]
    return found


def _ids(run: TapRun, stream: str) -> set:
    return {r["id"] for r in run.records(stream)}


def test_a_full_refresh_activates_every_stream_and_child_after_its_last_record(
    sandbox, store, catalog
):
    run = _sync(sandbox, catalog)
    activated = _activations(run)
    assert set(activated) == set(EVERY)
    for stream in EVERY:
        assert run.records(stream), stream
        positions = [i for i, m in enumerate(run.messages) if m.get("stream") == stream]
        assert run.messages[positions[-1]]["type"] == "ACTIVATE_VERSION", stream
        versions = {m["version"] for m in run.messages
                    if m["type"] == "RECORD" and m["stream"] == stream}  # fmt: skip
        assert versions == {activated[stream]}, stream
    for parent, children in CHILDREN.items():
        if not children:
            continue
        # A parent's children share its run's version, activated once all its rows are out.
        assert {activated[c] for c in children} == {activated[parent]}, parent
        last_row = max(i for i, m in enumerate(run.messages) if m["type"] == "RECORD"
                       and m["stream"] in (parent, *children))  # fmt: skip
        first_activation = min(i for i, m in enumerate(run.messages)
                               if m["type"] == "ACTIVATE_VERSION"
                               and m["stream"] in (parent, *children))  # fmt: skip
        assert last_row < first_activation, parent
    orders = _ids(run, "orders")
    assert orders == set(store.ids("orders", include_archived=True))  # both listings
    assert START_DATE_LINE not in run.stderr


def test_deleted_records_and_children_are_missing_from_the_next_full_refresh(
    sandbox, store, catalog
):
    first = _sync(sandbox, catalog)
    variants = [r for r in first.records("product_variants")]
    kept = variants[0]["product_id"]
    variant = next(v["id"] for v in variants if v["product_id"] == kept)
    store.delete_children("products", kept, "variants", [variant], touch=False)
    store.delete_children("customers", 50, "addresses", [50 * 20 + 11], touch=False)
    gone = next(p for p in store.ids("products") if p != kept)
    store.delete("products", [gone])
    store.delete("customers", [7])
    second = _sync(sandbox, catalog)
    assert _ids(first, "products") - _ids(second, "products") == {gone}
    assert _ids(first, "customers") - _ids(second, "customers") == {7}
    lost = _ids(first, "product_variants") - _ids(second, "product_variants")
    gone_variants = {v["id"] for v in first.records("product_variants") if v["product_id"] == gone}
    assert lost == {variant} | gone_variants
    lost_addresses = _ids(first, "customer_addresses") - _ids(second, "customer_addresses")
    assert 50 * 20 + 11 in lost_addresses
    of_deleted = {a["id"] for a in first.records("customer_addresses") if a["customer_id"] == 7}
    assert lost_addresses == {50 * 20 + 11} | of_deleted
    assert all(second_v > first_v for first_v, second_v in zip(
        _activations(first).values(), _activations(second).values(), strict=True))  # fmt: skip


def test_a_run_from_a_bookmark_activates_nothing_incremental(sandbox, store, catalog):
    first = _sync(sandbox, catalog)
    store.touch("products", store.ids("products")[:3])
    store.touch("customers", [50])
    second = _sync(sandbox, catalog, state=first.final_state)
    assert second.records("products") and second.records("product_variants")
    assert second.records("customer_addresses")
    assert not set(_activations(second)) & set(EVERY)
    for m in second.messages:
        if m["type"] == "RECORD" and m["stream"] in EVERY:
            assert m.get("version") is None, m["stream"]
    assert START_DATE_LINE not in second.stderr


def test_with_start_date_nothing_is_activated_and_one_line_says_why(sandbox, catalog):
    run = _sync(sandbox, catalog, start_date="2000-01-01T00:00:00Z")
    assert run.records("products") and run.records("orders")
    assert not set(_activations(run)) & set(EVERY)
    lines = [line for line in run.stderr.splitlines() if START_DATE_LINE in line]
    assert len(lines) == 1, lines
    assert "INFO" in lines[0] and "deletions are not reconciled" in lines[0]


def test_children_that_are_not_selected_get_no_activation(sandbox, catalog):
    run = _sync(sandbox, select_only(catalog, ["products", "product_variants", "customers"]))
    assert set(_activations(run)) == {"products", "product_variants", "customers"}


def test_a_failed_read_activates_nothing_for_that_stream(sandbox, catalog):
    sandbox.faults.add("500", path_contains="/v3/catalog/products", nth=3, times=None)
    config = sandbox_config(sandbox.api_url, page_size=5, max_retries=1)
    both = ["customers", *CHILDREN["customers"], "products", *CHILDREN["products"]]
    run = run_tap(config, catalog=select_only(catalog, both))
    assert run.returncode != 0
    assert run.records("products")  # the pages read before the failure
    activated = _activations(run)
    assert set(activated) == {"customers", *CHILDREN["customers"]}  # read before products


def test_a_run_killed_mid_stream_activates_nothing_for_it():
    # Enough rows that output reaches the pipe (flushed in 64 kB blocks) long before the end.
    store = Store(seed=4, products=400, customers=2, orders=2)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, latency_ms=60) as sb:
        catalog = discovered_with(sb.api_url, ["products", *CHILDREN["products"]])
        config = sandbox_config(sb.api_url, page_size=5, max_requests_in_flight=1)
        tap = TapProcess(config, catalog=catalog)
        assert tap.wait_for(lambda ms: any(m["type"] == "RECORD" for m in ms))
        run = tap.kill()
    assert 0 < len(run.records("products")) < len(store.ids("products"))
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_an_empty_start_date_is_no_start_date(sandbox, catalog):
    # `TAP_BIGCOMMERCE_START_DATE=` unsets the start_date an environment sets (README).
    run = _sync(sandbox, select_only(catalog, ["customers"]), start_date="")
    assert set(_activations(run)) == {"customers"}
    assert START_DATE_LINE not in run.stderr
