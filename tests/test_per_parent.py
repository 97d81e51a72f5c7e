"""Rows from an endpoint of each parent (`PerParent`): product reviews, and what follows."""

from __future__ import annotations

import collections
import decimal
import json
import threading
import typing as t

import pytest

from tap_bigcommerce.overlap import side_by_side
from tap_bigcommerce.pagination import OrdersFlavour, ProductsFlavour
from tap_bigcommerce.readers.children import ChildBatches
from tap_bigcommerce.readers.per_parent import PerParentReader
from tap_bigcommerce.replication import PerParent
from tap_bigcommerce.sandbox import Sandbox, Store, api
from tests.taprun import STORE_HASH, TOKEN, run_tap, sandbox_config, select_only, store_bookmark
from tests.test_tap import most_at_once

#: Product reviews, as `streams.py` declares them.
REVIEWS = PerParent(
    "catalog/products/{id}/reviews",
    has_rows=lambda product: (product.get("reviews_count") or 0) > 0,
    parent_id="product_id",
)

# ------------------------------------------------------------------------ without HTTP


def _v3(rows: list[dict], page: int, pages: int) -> dict:
    return {"data": rows, "meta": {"pagination": {"current_page": page, "total_pages": pages}}}


@pytest.mark.parametrize(
    ("flavour", "document", "limit", "last"),
    [
        (ProductsFlavour(), None, 5, True),  # 204: "There are no reviews on this product."
        (ProductsFlavour(), _v3([{"id": 1}] * 5, 1, 2), 5, False),
        (ProductsFlavour(), _v3([{"id": 1}] * 5, 2, 2), 5, True),  # full, but the last page
        (ProductsFlavour(), {"data": [{"id": 1}] * 5}, 5, False),  # no count: a full page
        (ProductsFlavour(), {"data": [{"id": 1}] * 4}, 5, True),
        (OrdersFlavour(), None, 5, True),  # v2: 204 when there are none (or no more)
        (OrdersFlavour(), [{"id": 1}] * 5, 5, False),
        (OrdersFlavour(), [{"id": 1}] * 4, 5, True),
    ],
)
def test_a_listing_by_page_number_ends_where_its_flavour_says(flavour, document, limit, last):
    page = flavour.unpack_listing(document, limit)
    assert page.is_last is last
    assert page.records == ([] if document is None else flavour.unpack(document, limit).records)


class _Client:
    """Answers per-parent listings from `rows` (by path), `limit` at a time; counts requests."""

    def __init__(self, rows: dict[str, list[dict]], version: str) -> None:
        self.rows = rows
        self.version = version
        self.asked: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def get(self, version: str, path: str, params: dict, *, resource: str, missing_ok: bool):
        assert version == self.version and missing_ok and resource == "product_reviews"
        with self.lock:
            self.asked.append((path, params["page"]))
        if path not in self.rows:
            return None  # 404: the client returns None with missing_ok
        number, limit = params["page"], params["limit"]
        chunk = self.rows[path][(number - 1) * limit : number * limit]
        if version == "v2":
            return chunk or None
        pages = -(-len(self.rows[path]) // limit)
        return _v3(chunk, number, pages) if pages else None

    def cancel(self) -> None:
        pass


class _Parent:
    """What the per-parent reader and `ChildBatches` ask of the parent stream."""

    has_selected_descendents = True
    page_size = 2

    def __init__(self, client: _Client, children: list, flavour_type: type = ProductsFlavour):
        self.client = client
        self.child_streams = children
        self.flavour_type = flavour_type

    def side_by_side(self, work, items):
        return side_by_side(work, items, workers=3)


def _reviews(pid: int, n: int) -> list[dict]:
    return [{"id": pid * 100 + k} for k in range(n)]


@pytest.mark.parametrize("flavour_type", [ProductsFlavour, OrdersFlavour])
def test_each_parent_is_read_to_its_last_page_and_its_rows_carry_its_id(flavour_type):
    version = flavour_type.version
    listed = {
        f"catalog/products/{pid}/reviews": _reviews(pid, n) for pid, n in [(1, 5), (2, 1), (3, 4)]
    }
    client = _Client(listed, version)
    reader = PerParentReader(
        t.cast(t.Any, _Parent(client, [], flavour_type)),
        [("product_reviews", REVIEWS)],
    )
    # Product 9 was deleted since it was read (404): no rows, no error.
    rows = reader.read({"product_reviews": [2, 9, 1, 3]})
    sizes = {2: 1, 1: 5, 3: 4}
    expected = [{**r, "product_id": pid} for pid, n in sizes.items() for r in _reviews(pid, n)]
    assert rows == {"product_reviews": expected}
    asked = sorted(client.asked)
    # v3 pages count themselves; a v2 list ends on a short page (or 204).
    assert [n for p, n in asked if p.endswith("/1/reviews")] == [1, 2, 3]
    assert [n for p, n in asked if p.endswith("/2/reviews")] == [1]
    # Four rows in pages of two: v3 says page 2 is the last, v2 answers 204 to page 3.
    assert [n for p, n in asked if p.endswith("/3/reviews")] == (
        [1, 2] if version == "v3" else [1, 2, 3]
    )
    assert [n for p, n in asked if p.endswith("/9/reviews")] == [1]


class _Child:
    def __init__(self, selected: bool) -> None:
        self.name = "product_reviews"
        self.replication = REVIEWS
        self.selected = selected
        self.has_selected_descendents = False
        self.taken: list[list[dict]] = []
        self.batches: ChildBatches | None = None

    def sync(self, context: t.Any) -> None:
        assert self.batches is not None
        self.taken.append(self.batches.take(self.name))


@pytest.mark.parametrize("selected", [True, False])
def test_only_parents_that_say_they_have_rows_are_asked_and_only_for_a_selected_child(selected):
    products = [{"id": 1, "reviews_count": 3}, {"id": 2, "reviews_count": 0}, {"id": 3}]
    listed = {f"catalog/products/{p['id']}/reviews": _reviews(p["id"], 3) for p in products}
    client = _Client(listed, "v3")
    child = _Child(selected)
    parent = _Parent(client, [child])
    batches = ChildBatches(t.cast(t.Any, parent), None)
    child.batches = batches
    batches.start()
    for k, product in enumerate(products):
        batches.collect(product, keep=True, due=k == len(products) - 1)
        batches.hand_over()
    if selected:
        assert sorted(client.asked) == [
            ("catalog/products/1/reviews", 1),
            ("catalog/products/1/reviews", 2),
        ]
        assert child.taken == [[{**r, "product_id": 1} for r in _reviews(1, 3)]]
    else:
        assert client.asked == []


def test_a_per_parent_child_may_read_an_endpoint_in_another_spelling():
    transactions = PerParent(
        "orders/{id}/transactions", has_rows=bool, flavour_type=ProductsFlavour
    )
    reader = PerParentReader(
        t.cast(t.Any, _Parent(_Client({}, "v3"), [], OrdersFlavour)),
        [("product_reviews", transactions)],
    )
    assert reader.read({"product_reviews": [5]}) == {"product_reviews": []}


# ------------------------------------------------------------------ against the sandbox

#: Five rows a page, so that products with more reviews than that are read page by page.
PAGE = 5
REVIEW_FIELDS = ("id", "product_id", "title", "text", "status", "rating", "email", "name")


def _served_reviews(store: Store, pid: int) -> list[dict]:
    """The reviews the sandbox serves for product `pid` now, each with its `product_id`."""
    answer = api.list_product_reviews(store, {"limit": "250"}, pid)
    rows = json.loads(answer.body)["data"] if answer.status == 200 else []
    return [{**row, "product_id": pid} for row in rows]


def _reviews_of(store: Store) -> dict[int, list[dict]]:
    return {pid: _served_reviews(store, pid) for pid in store.ids("products")}


def _rules_of(store: Store) -> dict[int, list[dict]]:
    return {
        pid: store.record("products", pid, ("bulk_pricing_rules",))["bulk_pricing_rules"]
        for pid in store.ids("products")
    }


def _review(row: dict) -> tuple:
    return tuple(row[name] for name in REVIEW_FIELDS)


def _rule(row: dict) -> tuple:
    amount = decimal.Decimal(str(row["amount"]))
    return (
        row["product_id"],
        row["id"],
        row["quantity_min"],
        row["quantity_max"],
        row["type"],
        amount,
    )


def _asked(sb: Sandbox) -> collections.Counter:
    """Requests for reviews, per product."""
    return collections.Counter(
        int(r.path.split("/")[-2]) for r in sb.requests if r.path.endswith("/reviews")
    )


def _serve(store: Store, **kwargs: t.Any) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)


@pytest.fixture(scope="module")
def synced():
    store = Store(seed=31, products=90, customers=2, orders=2, plateau=0)
    with _serve(store) as sb:
        run = run_tap(sandbox_config(sb.api_url, page_size=PAGE))
        assert run.returncode == 0, run.stderr
        yield store, sb, run


def test_a_full_sync_gives_exactly_the_sandboxs_reviews_and_bulk_pricing_rules(synced):
    store, _, run = synced
    reviews = sorted(_review(r) for rows in _reviews_of(store).values() for r in rows)
    assert sorted(_review(r) for r in run.records("product_reviews")) == reviews
    rules = [{**r, "product_id": pid} for pid, rows in _rules_of(store).items() for r in rows]
    assert sorted(map(_rule, run.records("product_bulk_pricing_rules"))) == sorted(
        map(_rule, rules)
    )
    assert len(reviews) > 20 and len(rules) > 20  # (one product in five has reviews)
    keys = {
        m["stream"]: m["key_properties"]
        for m in run.messages
        if m["type"] == "SCHEMA" and m["stream"].startswith("product_")
    }
    assert (
        keys["product_reviews"]
        == keys["product_bulk_pricing_rules"]
        == [
            "store_hash",
            "id",
            "product_id",
        ]
    )


def test_reviews_are_asked_for_once_a_page_only_for_products_that_have_some(synced):
    store, sb, _ = synced
    counts = {pid: store.record("products", pid)["reviews_count"] for pid in store.ids("products")}
    assert 0 in counts.values() and max(counts.values()) > PAGE, "paging is not exercised"
    # No N+1: one request per page of reviews, none for products without reviews.
    expected = {pid: -(-n // PAGE) for pid, n in counts.items() if n > 0}
    assert dict(_asked(sb)) == expected


def test_deselected_reviews_cost_no_request():
    store = Store(seed=31, products=90, customers=2, orders=2, plateau=0)
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url, page_size=PAGE)
        discovered = json.loads(run_tap(config, "--discover").stdout)
        chosen = ("products", "product_bulk_pricing_rules", "product_variants")
        sb.reset_log()
        run = run_tap(config, catalog=select_only(discovered, chosen))
    assert run.returncode == 0, run.stderr
    assert _asked(sb) == collections.Counter()
    assert run.records("product_bulk_pricing_rules") and not run.records("product_reviews")


def test_review_rows_come_before_the_state_that_covers_their_product():
    # STATE is written every 1,000 products: past 2,000 there are two mid-stream.
    store = Store(seed=32, products=2100, customers=1, orders=1, plateau=0)
    counts = {pid: store.record("products", pid)["reviews_count"] for pid in store.ids("products")}
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url, max_retries=1)
        catalog = select_only(
            json.loads(run_tap(config, "--discover").stdout), ("products", "product_reviews")
        )
        whole = run_tap(config, catalog=catalog)
        # The sixth page of products keeps failing: the run stops after a STATE mid-stream.
        sb.faults.add("503", path_contains="/v3/catalog/products?", nth=6, times=None)
        failed = run_tap(config, catalog=catalog)
        sb.faults.clear()
        rerun = run_tap(config, catalog=catalog, state=failed.final_state)
    assert whole.returncode == 0 and rerun.returncode == 0 and failed.returncode != 0
    for run in (whole, failed):
        covered: list[int] = []  # products written so far
        rows: collections.Counter = collections.Counter()
        states = 0
        for message in run.messages:
            if message["type"] == "RECORD" and message["stream"] == "products":
                covered.append(message["record"]["id"])
            elif message["type"] == "RECORD":
                rows[message["record"]["product_id"]] += 1
            elif message["type"] == "STATE" and message["value"].get("bookmarks", {}).get(
                "products"
            ):
                states += 1
                behind = [pid for pid in covered if rows[pid] != counts[pid]]
                assert not behind, f"STATE covers products whose reviews are not out: {behind[:5]}"
        assert states >= 2
    assert store_bookmark(failed.final_state, "products")["replication_key_value"]
    delivered = {r["product_id"] for r in failed.records("product_reviews")}
    delivered |= {r["product_id"] for r in rerun.records("product_reviews")}
    assert {pid for pid, n in counts.items() if n} - delivered == set()


def test_a_product_touched_during_the_sync_still_gets_its_rows():
    store = Store(seed=33, products=300, customers=2, orders=2, plateau=0)
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url, page_size=20)
        hook = sb.mutate_every(4, touch=2, resource="products", seed=3)
        first = run_tap(config)
        sb.hooks.remove(hook)
        second = run_tap(config, state=first.final_state)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    touched = {pid for pid in store.ids("products") if store.state("products", pid)[2] > 0}
    assert len(touched) > 20
    # A target upserts on the key: the last row written for each review is what it keeps.
    kept = {
        (row["product_id"], row["id"]): _review(row)
        for row in first.records("product_reviews") + second.records("product_reviews")
    }
    truth = _reviews_of(store)
    assert any(truth[pid] for pid in touched)
    for pid, rows in truth.items():
        for row in rows:
            assert kept.get((pid, row["id"])) == _review(row), (pid, row["id"])


@pytest.mark.parametrize("kind", ["500", "429", "429_bare", "reset"])
def test_a_fault_on_the_reviews_endpoint_is_retried_and_loses_nothing(kind):
    store = Store(seed=34, products=60, customers=2, orders=2, plateau=0)
    with _serve(store) as sb:
        # A short window, so that a 429's reset is a fraction of a second away.
        sb.set_quota(None, window_ms=600)
        sb.faults.add(kind, path_contains="/reviews", nth=3, times=2)
        sb.faults.add(kind, path_contains="/reviews", nth=20, times=1)
        run = run_tap(sandbox_config(sb.api_url, page_size=PAGE))
        injected = dict(sb.faults.injected)
    assert run.returncode == 0, run.stderr
    assert injected == {kind: 3}
    reviews = sorted(_review(r) for rows in _reviews_of(store).values() for r in rows)
    assert sorted(_review(r) for r in run.records("product_reviews")) == reviews


@pytest.mark.parametrize("in_flight", [1, 3])
def test_reviews_side_by_side_never_exceed_max_requests_in_flight(in_flight):
    store = Store(seed=35, products=60, customers=2, orders=2, plateau=0)
    with _serve(store, latency_ms=30) as sb:
        config = sandbox_config(sb.api_url, max_requests_in_flight=in_flight)
        catalog = select_only(
            json.loads(run_tap(config, "--discover").stdout), ("products", "product_reviews")
        )
        starts: list = []
        sb.hooks.append(starts.append)
        sb.reset_log()
        run = run_tap(config, catalog=catalog)
        at_once = most_at_once(sb, starts, lambda r: r.path.endswith("/reviews"))
        peak = sb.peak_in_flight
    assert run.returncode == 0, run.stderr
    assert len(run.records("product_reviews")) == sum(map(len, _reviews_of(store).values()))
    assert at_once == in_flight, f"{in_flight} at once, and that many when there is room"
    assert peak <= in_flight
