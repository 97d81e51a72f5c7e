"""The sandbox store, over real HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tap_bigcommerce.sandbox import Sandbox, Store, fields
from tap_bigcommerce.sandbox.records import LINE_ITEM_CAP, line_item_count

TOKEN = "sandbox-token"
RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
MONEY4 = re.compile(r"^-?\d+\.\d{4}$")
ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def ts(value: str) -> int:
    """Unix seconds of any date string the sandbox sends."""
    if RFC2822.match(value):
        from email.utils import parsedate_to_datetime

        return int(parsedate_to_datetime(value).timestamp())
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def rfc(t: int) -> str:
    return format_datetime(datetime.fromtimestamp(t, timezone.utc))


class Client:
    """A tiny authenticated client bound to one sandbox."""

    def __init__(self, sb: Sandbox, token: str | None = TOKEN) -> None:
        self.sb = sb
        self.session = requests.Session()
        if token is not None:
            self.session.headers["X-Auth-Token"] = token

    def get(self, path: str, params: Any = None, **kw: Any) -> requests.Response:
        return self.session.get(self.sb.base_url + path, params=params, timeout=30, **kw)

    def raw(self, path_and_query: str) -> requests.Response:
        """GET with the query string sent exactly as written (no re-encoding)."""
        return self.session.get(self.sb.base_url + path_and_query, timeout=30)

    def close(self) -> None:
        self.session.close()


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """Read-only sandbox with a plateau on products and customers (>= 600 records)."""
    with Sandbox(Store(seed=7, products=700, customers=650, orders=300)) as sb:
        yield sb


@pytest.fixture(scope="module")
def api(big: Sandbox) -> Iterator[Client]:
    c = Client(big)
    yield c
    c.close()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    c = Client(sandbox)
    yield c
    c.close()


def all_pages_v3(api: Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = api.get(path, {**params, "page": page}).json()
        out += body["data"]
        pag = body["meta"]["pagination"]
        if page >= pag["total_pages"]:
            return out
        page += 1


def all_pages_v2(api: Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = api.get(path, {**params, "page": page})
        if r.status_code == 204:
            assert r.content == b""
            return out
        assert r.status_code == 200
        out += r.json()
        page += 1


# ------------------------------------------------------------------------------- v3 products


def test_products_envelope_and_links(api: Client, big: Sandbox) -> None:
    r = api.get("/v3/catalog/products", {"limit": 100, "page": 2})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Content-Length"] == str(len(r.content))
    body = r.json()
    assert set(body) == {"data", "meta"}
    pag = body["meta"]["pagination"]
    assert pag == {
        "total": 700, "count": 100, "per_page": 100, "current_page": 2, "total_pages": 7,
        "links": {"previous": "?page=1&limit=100", "current": "?page=2&limit=100",
                  "next": "?page=3&limit=100"},
    }  # fmt: skip
    assert [p["id"] for p in body["data"]] == list(range(101, 201))
    first = api.get("/v3/catalog/products").json()["meta"]["pagination"]
    assert first["per_page"] == 50 and "previous" not in first["links"]


def test_products_all_pages_and_past_the_end(api: Client, big: Sandbox) -> None:
    rows = all_pages_v3(api, "/v3/catalog/products", {"limit": 250})
    assert [p["id"] for p in rows] == big.store.ids("products")
    past = api.get("/v3/catalog/products", {"limit": 250, "page": 9})
    assert past.status_code == 200
    body = past.json()
    assert body["data"] == [] and body["meta"]["pagination"]["count"] == 0
    assert "next" not in body["meta"]["pagination"]["links"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"limit": 251}, 413, "limit"),
        ({"limit": "ten"}, 422, "limit"),
        ({"page": "x"}, 422, "page"),
        ({"date_modified:min": "yesterday"}, 422, "date_modified:min"),
        ({"id:greater": "a"}, 422, "id:greater"),
        ({"sort": "colour"}, 422, "sort"),
        ({"direction": "up"}, 422, "direction"),
        ({"include": "variants,nonsense"}, 422, "include"),
    ],
)
def test_products_invalid_params(api: Client, params: dict[str, Any], status: int, field: str
                                 ) -> None:  # fmt: skip
    r = api.get("/v3/catalog/products", params)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"status", "title", "type", "errors"}
    assert body["status"] == status and field in body["errors"]


def test_products_limit_250_ok(api: Client) -> None:
    assert len(api.get("/v3/catalog/products", {"limit": 250}).json()["data"]) == 250


def test_products_date_modified_filters_inclusive_all_formats(api: Client, big: Sandbox) -> None:
    rec = big.store.record("products", 123)
    t = ts(rec["date_modified"])
    expected = sorted(
        i for i in big.store.ids("products") if t - 86400 <= big.store.state("products", i)[1] <= t
    )
    spellings = [
        f"?date_modified:min={iso(t - 86400).replace('+', '%2B')}"
        f"&date_modified:max={iso(t).replace('+', '%2B')}",
        f"?date_modified:min={t - 86400}&date_modified:max={t}",
        f"?date_modified:min={iso(t - 86400)[:19]}Z&date_modified:max={iso(t)[:19]}Z",
        # A literal "+" decodes to a space; the sandbox reads it as the "+" it was.
        f"?date_modified:min={iso(t - 86400)}&date_modified:max={iso(t)}",
    ]
    for q in spellings:
        ids = [p["id"] for p in api.raw(f"/v3/catalog/products{q}&limit=250").json()["data"]]
        assert ids == expected, q
    assert 123 in expected


def test_products_id_filters(api: Client) -> None:
    def ids(params: dict[str, Any]) -> list[int]:
        return [p["id"] for p in api.get("/v3/catalog/products", params).json()["data"]]

    assert ids({"id:greater": 10, "limit": 3}) == [11, 12, 13]
    assert ids({"id:min": 10, "limit": 3}) == [10, 11, 12]
    assert ids({"id:max": 3}) == [1, 2, 3]
    assert ids({"id:less": 3}) == [1, 2]
    assert ids({"id:in": "5,3,999999,9"}) == [3, 5, 9]
    assert ids({"id:min": 4, "id:max": 6, "id:not_in": "5"}) == [4, 6]


def test_products_sort_date_modified_and_plateau(api: Client, big: Sandbox) -> None:
    rows = all_pages_v3(api, "/v3/catalog/products",
                        {"sort": "date_modified", "direction": "asc", "limit": 250})  # fmt: skip
    keys = [(ts(p["date_modified"]), p["id"]) for p in rows]
    assert keys == sorted(keys) and len(keys) == 700
    # Descending: dates go down, ties (the plateau) stay by id ascending.
    desc = all_pages_v3(api, "/v3/catalog/products",
                        {"sort": "date_modified", "direction": "desc", "limit": 250})  # fmt: skip
    dkeys = [(-ts(p["date_modified"]), p["id"]) for p in desc]
    assert dkeys == sorted(dkeys)
    plateau = big.store.plateau_at["products"]
    assert plateau is not None
    on = api.get("/v3/catalog/products", {"date_modified:min": plateau,
                                          "date_modified:max": plateau, "limit": 250})  # fmt: skip
    assert on.json()["meta"]["pagination"]["total"] == 300
    assert all(p["date_last_imported"] is not None for p in on.json()["data"])


def test_products_sort_name_and_id_desc(api: Client) -> None:
    names = [p["name"] for p in api.get("/v3/catalog/products",
                                        {"sort": "name", "limit": 250}).json()["data"]]  # fmt: skip
    assert names == sorted(names, key=str.lower)
    params = {"sort": "id", "direction": "desc", "limit": 3}
    ids = [p["id"] for p in api.get("/v3/catalog/products", params).json()["data"]]
    assert ids == [700, 699, 698]


def test_products_includes_and_include_fields(api: Client) -> None:
    plain = api.get("/v3/catalog/products", {"limit": 5}).json()["data"]
    assert all(list(p) == list(fields.PRODUCT_DEFAULT_FIELDS) for p in plain)
    every = ",".join(fields.PRODUCT_INCLUDE_FIELDS)
    full = api.get("/v3/catalog/products", {"limit": 10, "include": every}).json()
    assert full["meta"]["pagination"]["per_page"] == 10  # options/modifiers: 10 per page
    for p in full["data"]:
        assert set(p) == set(fields.PRODUCT_FIELDS)
        assert p["variants"]
        for v in p["variants"]:
            assert list(v) == list(fields.VARIANT_FIELDS) and v["product_id"] == p["id"]
        for img in p["images"]:
            assert list(img) == list(fields.IMAGE_FIELDS)
        for cf in p["custom_fields"]:
            assert list(cf) == list(fields.CUSTOM_FIELD_FIELDS)
        if p["images"]:
            assert list(p["primary_image"]) == list(fields.PRIMARY_IMAGE_FIELDS)
    params = {"limit": 2, "include_fields": "name,price", "include": "variants"}
    only = api.get("/v3/catalog/products", params).json()
    assert all(set(p) == {"id", "name", "price", "variants"} for p in only["data"])
    some = api.get("/v3/catalog/products", {"limit": 2, "include": "images"}).json()["data"]
    assert all("images" in p and "variants" not in p for p in some)


def test_product_formats(api: Client) -> None:
    rows = api.get("/v3/catalog/products", {"limit": 250, "include": "variants"}).json()["data"]
    for p in rows:
        assert ISO_OFFSET.match(p["date_created"]) and ISO_OFFSET.match(p["date_modified"])
        assert ts(p["date_created"]) <= ts(p["date_modified"]) < time.time()
        assert isinstance(p["price"], float) and isinstance(p["categories"], list)
    assert any(v["price"] is None for p in rows for v in p["variants"])  # null = inherits
    assert any(p["base_variant_id"] is None for p in rows)  # complex products
    assert any(not n.isascii() for n in (p["name"] for p in rows))


# ------------------------------------------------------------------------------- v3 customers


def test_customers_envelope_both_metas_on_first_page(api: Client) -> None:
    body = api.get("/v3/customers", {"limit": 100}).json()
    assert set(body["meta"]) == {"pagination", "cursor_pagination"}
    cur = body["meta"]["cursor_pagination"]
    assert cur["count"] == 100 and cur["per_page"] == 100
    assert base64.b64decode(cur["end_cursor"]).decode() == "id:100"
    assert base64.b64decode(cur["start_cursor"]).decode() == "id:1"
    assert cur["links"]["next"] == "?limit=100&after=aWQ6MTAw"
    page2 = api.get("/v3/customers", {"limit": 100, "page": 2}).json()
    assert set(page2["meta"]) == {"pagination"}
    assert [c["id"] for c in page2["data"]] == list(range(101, 201))


def test_customers_cursor_walk(api: Client, big: Sandbox) -> None:
    seen: list[int] = []
    body = api.get("/v3/customers", {"limit": 250}).json()
    seen += [c["id"] for c in body["data"]]
    while "next" in body["meta"]["cursor_pagination"]["links"]:
        after = body["meta"]["cursor_pagination"]["end_cursor"]
        body = api.get("/v3/customers", {"limit": 250, "after": after, "page": 7}).json()
        assert set(body["meta"]) == {"cursor_pagination"}  # page ignored, only cursor meta
        seen += [c["id"] for c in body["data"]]
    assert seen == big.store.ids("customers")
    # before: the records just before the cursor, still ascending
    before = api.get("/v3/customers", {"limit": 3, "before": "aWQ6MTA="}).json()  # id:10
    assert [c["id"] for c in before["data"]] == [7, 8, 9]
    # the {"id": n} cursor form from the spec's parameter example works too
    alt = base64.b64encode(b'{"id":204}').decode()
    assert api.get("/v3/customers", {"limit": 1, "after": alt}).json()["data"][0]["id"] == 205
    assert api.get("/v3/customers", {"after": "!!!"}).status_code == 422


def test_customers_cursor_keeps_filters(api: Client, big: Sandbox) -> None:
    t0 = big.store.state("customers", 300)[1]
    expected = [i for i in big.store.ids("customers")
                if i > 50 and big.store.state("customers", i)[1] >= t0]  # fmt: skip
    params = {"date_modified:min": iso(t0)[:19], "limit": 250,
              "after": base64.b64encode(b"id:50").decode()}  # fmt: skip
    got = [c["id"] for c in api.get("/v3/customers", params).json()["data"]]
    assert got == expected[:250]


def test_customers_filters_sorts_and_timezone_less_utc(api: Client, big: Sandbox) -> None:
    t = big.store.state("customers", 200)[1]
    naive = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    rows = all_pages_v3(api, "/v3/customers", {"date_modified:min": naive, "limit": 250,
                                               "sort": "date_modified:asc"})  # fmt: skip
    keys = [(ts(c["date_modified"]), c["id"]) for c in rows]
    assert keys == sorted(keys) and keys[0][0] >= t and (t, 200) in keys
    assert len(rows) == sum(1 for i in big.store.ids("customers")
                            if big.store.state("customers", i)[1] >= t)  # fmt: skip
    desc = api.get("/v3/customers", {"sort": "date_modified:desc", "limit": 250}).json()["data"]
    dk = [(-ts(c["date_modified"]), c["id"]) for c in desc]
    assert dk == sorted(dk)
    c1 = big.store.state("customers", 100)[0]
    created = api.get("/v3/customers", {"date_created:max": iso(c1)[:19], "limit": 250}).json()
    assert created["data"][-1]["id"] == 100
    assert [c["id"] for c in api.get("/v3/customers", {"id:in": "3,1"}).json()["data"]] == [1, 3]
    last = api.get("/v3/customers", {"sort": "last_name:asc", "limit": 50}).json()["data"]
    assert [c["last_name"] for c in last] == sorted(c["last_name"] for c in last)
    assert api.get("/v3/customers", {"sort": "date_modified"}).status_code == 422
    assert api.get("/v3/customers", {"date_created:min": "nope"}).status_code == 422


def test_customers_includes(api: Client) -> None:
    plain = api.get("/v3/customers", {"limit": 20}).json()["data"]
    assert all(list(c) == list(fields.CUSTOMER_DEFAULT_FIELDS) for c in plain)
    full = api.get("/v3/customers", {"limit": 250, "include": ",".join(
        ("addresses", "storecredit", "attributes", "formfields", "shopper_profile_id",
         "segment_ids"))}).json()["data"]  # fmt: skip
    assert all(set(c) == set(fields.CUSTOMER_FIELDS) for c in full)
    addresses = [a for c in full for a in c["addresses"]]
    assert addresses and all(list(a) == list(fields.CUSTOMER_ADDRESS_FIELDS) for a in addresses)
    assert all(len(c["addresses"]) == min(10, c["address_count"]) for c in full)
    assert any(c["address_count"] > 10 for c in full)  # the documented cap is exercised
    assert all(ISO_Z.match(c["date_modified"]) for c in full)


# ------------------------------------------------------------------------------- v2 orders


def test_orders_plain_array_and_204(api: Client, big: Sandbox) -> None:
    r = api.get("/v2/orders")
    assert r.status_code == 200
    rows = r.json()
    assert isinstance(rows, list) and len(rows) == 50
    assert [o["id"] for o in rows] == big.store.ids("orders")[:50]
    every = all_pages_v2(api, "/v2/orders", {"limit": 250})
    assert [o["id"] for o in every] == big.store.ids("orders")
    empty = api.get("/v2/orders", {"min_id": 10**6})
    assert empty.status_code == 204 and empty.content == b""
    assert "Content-Type" not in empty.headers
    for h in RATE_HEADERS:
        assert h in empty.headers
    assert api.get("/v2/orders", {"limit": 251}).status_code == 413


def test_orders_archived_hidden_unless_asked(api: Client, big: Sandbox) -> None:
    live, everything = big.store.count("orders"), big.store.count("orders", include_archived=True)
    assert live < everything
    assert api.get("/v2/orders/count").json()["count"] == live
    archived = all_pages_v2(api, "/v2/orders", {"is_deleted": "true", "limit": 250})
    assert len(archived) == everything - live and all(o["is_deleted"] for o in archived)
    assert not any(o["is_deleted"] for o in all_pages_v2(api, "/v2/orders", {"limit": 250}))


def test_orders_date_filters_rfc2822_iso_and_plus(api: Client, big: Sandbox) -> None:
    t = big.store.state("orders", 150)[1]
    expected = [o for o in big.store.ids("orders") if big.store.state("orders", o)[1] >= t]
    enc = rfc(t).replace("+", "%2B").replace(" ", "%20").replace(",", "%2C")
    spellings = [
        f"?min_date_modified={enc}",
        f"?min_date_modified={rfc(t)}".replace(" ", "%20"),  # literal "+" → space
        f"?min_date_modified={iso(t).replace('+', '%2B')}",
        f"?min_date_modified={iso(t)}",  # literal "+"
        f"?min_date_modified={datetime.fromtimestamp(t, timezone.utc).isoformat()[:19]}.000Z",
        f"?min_date_modified={rfc(t - 4 * 3600)[:-5]}-0400",
    ]
    for q in spellings:
        got = all_pages_v2(api, "/v2/orders" + q, {"limit": 250, "sort": "id"})
        assert [o["id"] for o in got] == expected, q
    r = api.get("/v2/orders", {"min_date_modified": "last tuesday"})
    assert r.status_code == 400 and r.json()[0]["status"] == 400
    t2 = big.store.state("orders", 20)[0]
    created = all_pages_v2(api, "/v2/orders", {"max_date_created": rfc(t2), "limit": 250})
    assert created[-1]["id"] == 20 or big.store.state("orders", 20)[3]


def test_orders_sorts_and_id_filters(api: Client) -> None:
    rows = all_pages_v2(api, "/v2/orders", {"sort": "date_modified:asc", "limit": 250})
    keys = [(ts(o["date_modified"]), o["id"]) for o in rows]
    assert keys == sorted(keys)
    desc = api.get("/v2/orders", {"sort": "date_created:desc", "limit": 5}).json()
    assert [o["id"] for o in desc] == sorted((o["id"] for o in desc), reverse=True)
    ids = [o["id"] for o in api.get("/v2/orders", {"min_id": 10, "max_id": 14}).json()]
    assert ids == [i for i in range(10, 15) if i in {o["id"] for o in rows}]
    assert api.get("/v2/orders", {"sort": "colour:asc"}).status_code == 400
    assert api.get("/v2/orders", {"min_id": "x"}).json() == [
        {"status": 400, "message": "The field 'min_id' is invalid."}
    ]


def test_orders_count_with_filters(api: Client, big: Sandbox) -> None:
    body = api.get("/v2/orders/count", {"min_id": 101}).json()
    assert body["count"] == len([i for i in big.store.ids("orders") if i >= 101])
    assert sum(s["count"] for s in body["statuses"]) == body["count"]
    assert {s["id"] for s in body["statuses"]} == {sid for sid, _ in fields.ORDER_STATUSES}
    status = body["statuses"][3]["id"]
    only = all_pages_v2(api, "/v2/orders", {"status_id": status, "min_id": 101, "limit": 250})
    assert len(only) == body["statuses"][3]["count"]


def test_order_fields_and_formats(api: Client) -> None:
    rows = all_pages_v2(api, "/v2/orders", {"limit": 250})
    money = [k for k in fields.ORDER_DEFAULT_FIELDS if k.endswith(("_tax", "_amount", "_discount"))
             or k.startswith(("subtotal", "total", "base_"))]  # fmt: skip
    for o in rows:
        assert list(o) == list(fields.ORDER_DEFAULT_FIELDS)
        assert RFC2822.match(o["date_created"]) and RFC2822.match(o["date_modified"])
        assert o["date_shipped"] == "" or RFC2822.match(o["date_shipped"])
        assert all(MONEY4.match(o[k]) for k in money), o
        assert re.match(r"^\d+\.\d{10}$", o["currency_exchange_rate"])
        assert list(o["billing_address"]) == list(fields.ORDER_BILLING_ADDRESS_FIELDS)
        assert o["products"]["resource"] == f"/orders/{o['id']}/products"
        assert set(o["shipping_addresses"]) == {"url", "resource"} == set(o["coupons"])
    assert any(o["customer_id"] == 0 for o in rows)  # guest orders
    assert any(o["date_shipped"] == "" for o in rows) and any(o["date_shipped"] for o in rows)
    assert any(not o["billing_address"]["last_name"].isascii() for o in rows)


def test_orders_consignments_include_caps_line_items(api: Client, big: Sandbox) -> None:
    oid = next(i for i in big.store.ids("orders") if line_item_count(big.store.seed, i) > 50)
    params = {"min_id": oid, "max_id": oid, "include": "consignments.line_items,fees",
              "consignment_structure": "object"}  # fmt: skip
    order = api.get("/v2/orders", params).json()[0]
    assert set(order) == set(fields.ORDER_FIELDS)
    cons = order["consignments"]
    assert set(cons) == {"pickups", "shipping", "downloads", "email"}
    shown = [li for c in cons["shipping"] for li in c["line_items"]]
    shown += [li for d in cons["downloads"] for li in d["line_items"]]
    assert any("__warning__" in c for c in cons["shipping"]) or cons["downloads"]
    assert all(len(c["line_items"]) <= LINE_ITEM_CAP for c in cons["shipping"])
    for c in cons["shipping"]:
        assert set(c) - {"__warning__"} == set(fields.SHIPPING_CONSIGNMENT_FIELDS)
        assert all(list(li) == list(fields.ORDER_PRODUCT_FIELDS) for li in c["line_items"])
    # The fallback endpoint pages through all of them, 204 past the end.
    items = all_pages_v2(api, f"/v2/orders/{oid}/products", {"limit": 50})
    assert len(items) == line_item_count(big.store.seed, oid) > len(shown)
    assert all(list(i) == list(fields.ORDER_PRODUCT_FIELDS) for i in items)
    assert len({i["id"] for i in items}) == len(items)
    # Legacy (array) structure without consignment_structure=object; stubs without .line_items
    legacy = api.get("/v2/orders", {"min_id": oid, "max_id": oid,
                                    "include": "consignments"}).json()[0]  # fmt: skip
    assert isinstance(legacy["consignments"], list)
    for c in legacy["consignments"][0]["shipping"]:
        assert all(set(li) == {"url", "resource"} for li in c["line_items"])


def test_order_shipping_addresses_both_spellings(api: Client, big: Sandbox) -> None:
    oid = next(i for i in big.store.ids("orders")
               if big.store.record("orders", i)["shipping_address_count"] == 2)  # fmt: skip
    a = api.get(f"/v2/orders/{oid}/shipping_addresses").json()
    b = api.get(f"/v2/orders/{oid}/shippingaddresses").json()
    assert a == b and len(a) == 2
    assert all(list(x) == list(fields.ORDER_SHIPPING_ADDRESS_FIELDS) for x in a)
    assert api.get(f"/v2/orders/{oid}/shipping_addresses", {"page": 2}).status_code == 204
    consigned = api.get("/v2/orders", {"min_id": oid, "max_id": oid, "include": "consignments",
                                       "consignment_structure": "object"}).json()[0]  # fmt: skip
    assert [c["id"] for c in consigned["consignments"]["shipping"]] == [x["id"] for x in a]
    missing = api.get("/v2/orders/999999/products")
    assert missing.status_code == 404 and missing.json()[0]["status"] == 404
    assert api.get(f"/v2/orders/{oid}").json()["id"] == oid


def test_store_and_time(api: Client) -> None:
    store = api.get("/v2/store").json()
    assert list(store) == list(fields.STORE_FIELDS) and store["id"] == "abc123"
    now = api.get("/v2/time").json()["time"]
    assert abs(now - time.time()) < 5


# ------------------------------------------------------------------------------- auth & errors


def test_auth_errors(big: Sandbox) -> None:
    for token in (None, "wrong"):
        c = Client(big, token)
        try:
            r = c.get("/v3/catalog/products")
            assert r.status_code == 401
            assert r.headers["Content-Type"].startswith("text/plain")
            for h in RATE_HEADERS:
                assert h in r.headers
        finally:
            c.close()
    with requests.Session() as s:
        r = s.get(f"{big.api_url}/stores/nope42/v3/catalog/products",
                  headers={"X-Auth-Token": TOKEN}, timeout=10)  # fmt: skip
    assert r.status_code == 404
    assert r.json() == {"status": 404, "title": "Not found", "type": (
        "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"),
        "errors": {}}  # fmt: skip


def test_unknown_paths_404_in_flavour(api: Client) -> None:
    v3 = api.get("/v3/catalog/no-such-things")
    assert v3.status_code == 404 and v3.json()["status"] == 404
    v2 = api.get("/v2/customers")
    assert v2.status_code == 404 and isinstance(v2.json(), list)


def test_missing_scope_403() -> None:
    with Sandbox(Store(seed=1, products=5, customers=5, orders=5), scopes=["products"]) as sb:
        c = Client(sb)
        try:
            assert c.get("/v3/catalog/products").status_code == 200
            for path in ("/v3/customers", "/v2/orders", "/v2/orders/count", "/v2/store",
                         "/v2/time", "/v2/orders/1/products"):  # fmt: skip
                r = c.get(path)
                assert r.status_code == 403, path
                assert r.json()["title"] == (
                    "You don't have a required scope to access the endpoint"
                )
        finally:
            c.close()


# ------------------------------------------------------------------------------- rate limit


def test_rate_limit_headers_and_429(client: Client, sandbox: Sandbox) -> None:
    r = client.get("/v2/time")
    assert r.headers["X-Rate-Limit-Requests-Quota"] == "1000000"
    assert r.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    sandbox.set_quota(3, window_ms=600)
    lefts = [client.get("/v2/time").headers["X-Rate-Limit-Requests-Left"] for _ in range(3)]
    assert lefts == ["2", "1", "0"]
    limited = client.get("/v3/catalog/products")
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 0 < int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 600
    assert limited.headers["X-Retry-After"] == "1"
    assert sandbox.rate_limited == 1 and sandbox.count(status=429) == 1
    time.sleep(int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000 + 0.05)
    assert client.get("/v2/time").status_code == 200
    sandbox.set_quota(None)
    assert client.get("/v2/time").headers["X-Rate-Limit-Requests-Quota"] == "1000000"


# ------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["429", "429_bare", "500", "502", "503"])
def test_fault_status_kinds(client: Client, sandbox: Sandbox, kind: str) -> None:
    sandbox.faults.add(kind, path_contains="/v2/orders", nth=2, times=1)
    assert client.get("/v2/orders").status_code == 200
    assert client.get("/v2/time").status_code == 200  # not matching: does not count
    r = client.get("/v2/orders")
    assert r.status_code == int(kind[:3])
    has_rate = all(h in r.headers for h in RATE_HEADERS)
    assert has_rate is (kind != "429_bare")
    if kind == "429":
        assert r.headers["X-Rate-Limit-Requests-Left"] == "0" and "X-Retry-After" in r.headers
    if kind == "500":
        assert r.json()[0]["status"] == 500
    assert client.get("/v2/orders").status_code == 200  # times=1
    assert sandbox.faults.injected == {kind: 1}


def test_fault_reset(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("reset", path_contains="/v3/catalog/products")
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        client.get("/v3/catalog/products", {"limit": 250}).json()
    assert client.get("/v3/catalog/products").status_code == 200  # the client reconnects


def test_fault_truncated(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("truncated", path_contains="/v3/customers", times=2)
    for _ in range(2):
        r = client.get("/v3/customers")
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(len(r.content))
        with pytest.raises(requests.JSONDecodeError):
            r.json()
    assert client.get("/v3/customers").json()["data"]


def test_fault_slow_and_latency(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("slow", path_contains="/v2/time", seconds=0.3)
    t0 = time.monotonic()
    assert client.get("/v2/time").status_code == 200
    assert time.monotonic() - t0 >= 0.3
    sandbox.latency_ms = 100
    t0 = time.monotonic()
    client.get("/v2/time")
    assert time.monotonic() - t0 >= 0.1
    sandbox.latency_ms = 0


def test_fault_times_none_random_and_clear(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("503", path_contains="/v2/store", nth=1, times=None)
    assert [client.get("/v2/store").status_code for _ in range(3)] == [503] * 3
    sandbox.faults.clear()
    assert client.get("/v2/store").status_code == 200

    def run() -> list[int]:
        sandbox.faults.random(0.3, kinds=["500", "502"], seed=3)
        codes = [client.get("/v2/time").status_code for _ in range(40)]
        sandbox.faults.clear()
        return codes

    first, second = run(), run()
    assert first == second  # seeded
    assert 0 < sum(c != 200 for c in first) < 40
    assert set(first) <= {200, 500, 502}
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.faults.add("teapot")


def test_fault_bad_content_kinds(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("not_json", path_contains="/v3/catalog/products")
    r = client.get("/v3/catalog/products")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert all(h in r.headers for h in RATE_HEADERS)
    sandbox.faults.add("bad_envelope", path_contains="/v3/customers")
    sandbox.faults.add("bad_envelope", path_contains="/v2/orders")
    v3 = client.get("/v3/customers").json()
    assert isinstance(v3, dict) and "data" not in v3 and "meta" in v3
    v2 = client.get("/v2/orders").json()
    assert isinstance(v2, dict) and isinstance(v2["items"], list)
    sandbox.faults.add("drop_field:id", path_contains="/v2/orders")
    sandbox.faults.add("drop_field:date_modified", path_contains="/v3/customers")
    orders = client.get("/v2/orders", {"limit": 5}).json()
    assert ["id" in o for o in orders] == [True, True, False, True, True]
    customers = client.get("/v3/customers", {"limit": 4}).json()["data"]
    assert ["date_modified" in c for c in customers] == [True, True, False, True]
    assert "date_modified" in client.get("/v3/customers", {"limit": 4}).json()["data"][2]
    assert sandbox.faults.injected == {
        "not_json": 1, "bad_envelope": 2, "drop_field:id": 1, "drop_field:date_modified": 1
    }  # fmt: skip
    sandbox.faults.add("drop_field:id", path_contains="/v2/orders")
    assert client.get("/v2/orders", {"min_id": 10**6}).status_code == 204  # nothing to cut
    for bad in ("drop_field:", "drop_field:<name>", "not-json"):
        with pytest.raises(ValueError, match="unknown fault kind"):
            sandbox.faults.add(bad)


def test_log_keeps_headers_and_quota_low_water_mark(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_quota(5, window_ms=10_000)
    assert sandbox.rate.min_left is None
    for _ in range(3):
        client.get("/v2/time")
    assert sandbox.rate.min_left == 2
    assert [r.headers["X-Rate-Limit-Requests-Left"] for r in sandbox.requests[-3:]] == [
        "4", "3", "2"
    ]  # fmt: skip
    sandbox.set_quota(None)
    assert sandbox.rate.min_left is None


# ------------------------------------------------------------------------------- mutations


def test_touch_moves_record_to_end_and_changes_content(client: Client, sandbox: Sandbox) -> None:
    store = sandbox.store
    before = store.record("products", 3, ["variants"])
    store.touch("products", [3])
    after = store.record("products", 3, ["variants"])
    assert after != before and after["name"] == before["name"]
    assert ts(after["date_modified"]) >= int(time.time()) - 2
    rows = client.get("/v3/catalog/products", {"sort": "date_modified", "limit": 250}).json()
    assert rows["data"][-1]["id"] == 3
    store.touch("orders", [1, 2])
    last = client.get("/v2/orders", {"sort": "date_modified:desc", "limit": 2}).json()
    assert sorted(o["id"] for o in last) == [1, 2]
    with pytest.raises(KeyError):
        store.touch("orders", [10**6])


def test_insert_and_archive(client: Client, sandbox: Sandbox) -> None:
    store = sandbox.store
    new = store.insert("customers", 5)
    assert new == list(range(81, 86)) and store.count("customers") == 85
    c = client.get("/v3/customers", {"id:in": "81"}).json()["data"][0]
    assert c["date_created"] == c["date_modified"]
    assert client.get("/v3/customers").json()["meta"]["pagination"]["total"] == 85
    live = store.count("orders")
    store.archive("orders", [5])
    assert store.count("orders") == live - 1
    assert 5 not in [o["id"] for o in client.get("/v2/orders", {"max_id": 6}).json()]
    assert client.get("/v2/orders", {"is_deleted": "true", "min_id": 5, "max_id": 5}).json()[0][
        "is_deleted"] is True  # fmt: skip


def test_date_only_product_filter_gets_request_time(client: Client, sandbox: Sandbox) -> None:
    now = int(time.time())
    if now % 86400 < 30:
        pytest.skip("too close to midnight UTC")
    sandbox.store.touch("products", [7], when=now - 10)
    sandbox.store.touch("customers", [7], when=now - 10)
    today = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d")
    p = client.get("/v3/catalog/products", {"date_modified:min": today}).json()["data"]
    assert p == []  # "today" means "today at the time of the request"
    p = client.get("/v3/catalog/products", {"date_modified:min": today + "T00:00:00Z"}).json()
    assert [x["id"] for x in p["data"]] == [7]
    c = client.get("/v3/customers", {"date_modified:min": today}).json()["data"]
    assert [x["id"] for x in c] == [7]  # customers: a date alone is midnight UTC


def test_hooks_and_mutate_every(client: Client, sandbox: Sandbox) -> None:
    seen: list[str] = []
    sandbox.hooks.append(lambda req: seen.append(req.path))
    hook = sandbox.mutate_every(3, touch=4, insert=2, resource="products")
    start = int(time.time())
    for _ in range(6):
        client.get("/v3/catalog/products", {"limit": 1})
    assert len(seen) == 6 and seen[0].endswith("/v3/catalog/products")
    assert sandbox.store.count("products") == 124
    touched = [i for i in sandbox.store.ids("products") if i <= 120
               and sandbox.store.state("products", i)[1] >= start]  # fmt: skip
    assert 4 <= len(touched) <= 8
    sandbox.hooks.remove(hook)
    client.get("/v3/catalog/products")
    assert sandbox.store.count("products") == 124


def test_mutate_every_touches_plateau_and_early_records() -> None:
    store = Store(seed=2, products=1000, customers=0, orders=0)
    plateau = store.plateau_at["products"]
    assert plateau is not None
    before = store.select("products", _plateau_query(plateau))[0]
    assert before == 300
    with Sandbox(store) as sb:
        sb.mutate_every(1, touch=30, resource="products", seed=1)
        c = Client(sb)
        try:
            c.get("/v2/time")
        finally:
            c.close()
    assert store.select("products", _plateau_query(plateau))[0] < 300
    early = sorted(store.ids("products"), key=lambda i: store.state("products", i)[1])
    assert store.count("products") == 1000 and early


def _plateau_query(t: int) -> Any:
    from tap_bigcommerce.sandbox import Query

    return Query(dm_min=t, dm_max=t)


# ------------------------------------------------------------------------------- log


def test_request_log(client: Client, sandbox: Sandbox) -> None:
    sandbox.reset_log()
    client.get("/v2/orders", {"limit": 5})
    client.get("/v2/orders", {"min_id": 10**6})
    client.get("/v3/customers")
    reqs = sandbox.requests
    assert [(r.method, r.status) for r in reqs] == [("GET", 200), ("GET", 204), ("GET", 200)]
    assert reqs[0].path == "/stores/abc123/v2/orders" and reqs[0].query == {"limit": "5"}
    assert sandbox.count() == 3 and sandbox.count(path_contains="/v2/orders") == 2
    assert sandbox.count(status=204) == 1
    sandbox.reset_log()
    assert sandbox.requests == [] and sandbox.count() == 0


# ------------------------------------------------------------------------------- data


def test_determinism() -> None:
    a, b, c = (Store(seed=s, products=50, customers=50, orders=50) for s in (5, 5, 6))
    for res in ("products", "customers", "orders"):
        for i in (1, 17, 50):
            assert a.record(res, i) == b.record(res, i)
        assert any(a.record(res, i) != c.record(res, i) for i in (1, 17, 50))
    assert a.record("products", 3, ["variants", "images"]) == b.record(
        "products", 3, ["variants", "images"]
    )


def test_every_record_has_exactly_the_field_lists_keys() -> None:
    store = Store(seed=3, products=60, customers=60, orders=60)
    for i in store.ids("products"):
        p = store.record("products", i, list(fields.PRODUCT_INCLUDE_FIELDS))
        assert set(p) == set(fields.PRODUCT_FIELDS)
        assert all(list(v) == list(fields.VARIANT_FIELDS) for v in p["variants"])
        assert all(list(m) == list(fields.IMAGE_FIELDS) for m in p["images"])
        assert all(list(c) == list(fields.CUSTOM_FIELD_FIELDS) for c in p["custom_fields"])
    for i in store.ids("customers"):
        c = store.record("customers", i, set(fields.CUSTOMER_INCLUDE_FIELDS.values()))
        assert set(c) == set(fields.CUSTOMER_FIELDS)
        assert all(list(a) == list(fields.CUSTOMER_ADDRESS_FIELDS) for a in c["addresses"])
    for i in store.ids("orders", include_archived=True):
        o = store.record("orders", i, ["consignments", "fees"], object_structure=True)
        assert set(o) == set(fields.ORDER_FIELDS)
        assert all(list(f) == list(fields.ORDER_FEE_FIELDS) for f in o["fees"])
        assert list(store.record("orders", i)) == list(fields.ORDER_DEFAULT_FIELDS)
    assert len(fields.PRODUCT_FIELDS) == 78 and len(fields.VARIANT_FIELDS) == 27
    assert len(fields.IMAGE_FIELDS) == 11 and len(fields.CUSTOMER_FIELDS) == 24
    assert len(fields.CUSTOMER_ADDRESS_FIELDS) == 15 and len(fields.ORDER_FIELDS) == 74
    assert len(fields.ORDER_PRODUCT_FIELDS) == 57
    assert len(fields.ORDER_SHIPPING_ADDRESS_FIELDS) == 31
    assert len(fields.STORE_FIELDS) == 41


def test_empty_store() -> None:
    with Sandbox(Store(seed=1, products=0, customers=0, orders=0)) as sb:
        c = Client(sb)
        try:
            body = c.get("/v3/catalog/products").json()
            assert body["data"] == [] and body["meta"]["pagination"]["total"] == 0
            cust = c.get("/v3/customers").json()["meta"]["cursor_pagination"]
            assert cust["count"] == 0 and cust["end_cursor"] is None
            assert c.get("/v2/orders").status_code == 204
            assert c.get("/v2/orders/count").json()["count"] == 0
        finally:
            c.close()


def test_200k_records_build_and_serve() -> None:
    t0 = time.monotonic()
    store = Store(seed=1, products=200_000, customers=200_000, orders=200_000)
    built = time.monotonic() - t0
    assert built < 60  # seconds, not minutes (typically ~1 s)
    assert store.count("products") == 200_000
    with Sandbox(store) as sb:
        c = Client(sb)
        try:
            plateau = store.plateau_at["products"]
            params = {"sort": "date_modified", "limit": 250, "date_modified:min": plateau,
                      "page": 2}  # fmt: skip
            r = c.get("/v3/catalog/products", params)
            body = r.json()
            assert len(body["data"]) == 250
            assert body["meta"]["pagination"]["total"] > 300
            params = {"sort": "id", "id:greater": 150_000, "date_modified:min": plateau,
                      "date_modified:max": plateau, "limit": 250}  # fmt: skip
            r = c.get("/v3/catalog/products", params)
            assert all(ts(p["date_modified"]) == plateau for p in r.json()["data"])
            last = c.get("/v3/customers", {"limit": 250, "after": base64.b64encode(
                b"id:199900").decode()}).json()["data"]  # fmt: skip
            assert [x["id"] for x in last] == list(range(199_901, 200_001))
            orders = c.get("/v2/orders", {"sort": "date_modified:asc", "limit": 250,
                                          "page": 400}).json()  # fmt: skip
            assert len(orders) == 250
        finally:
            c.close()


# ------------------------------------------------------------------------------- CLI


def test_cli_ready_file_and_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_bigcommerce.sandbox", "--port", "0", "--products", "10",
         "--customers", "5", "--orders", "7", "--store-hash", "xyz9", "--ready-file", str(ready),
         "--quota", "100", "--window-ms", "5000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["store_hash"] == "xyz9"
        assert info["counts"]["products"] == 10 and info["counts"]["customers"] == 5
        with requests.Session() as s:
            r = s.get(f"{info['api_url']}/stores/xyz9/v3/catalog/products",
                      headers={"X-Auth-Token": TOKEN}, timeout=10)  # fmt: skip
        assert r.json()["meta"]["pagination"]["total"] == 10
        assert r.headers["X-Rate-Limit-Requests-Quota"] == "100"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.startswith(f"Sandbox store listening on {info['api_url']} (store_hash=xyz9)")
    assert "GET /stores" not in err  # quiet without --verbose
