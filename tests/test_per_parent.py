"""Rows from an endpoint of each parent (`PerParent`): product reviews, and what follows."""

from __future__ import annotations

import threading
import typing as t

import pytest

from tap_bigcommerce.overlap import side_by_side
from tap_bigcommerce.pagination import OrdersFlavour, ProductsFlavour
from tap_bigcommerce.readers.children import ChildBatches
from tap_bigcommerce.readers.per_parent import PerParentReader
from tap_bigcommerce.replication import PerParent

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
