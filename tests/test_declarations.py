"""Streams are declarations: what they say reaches the readers, and nothing more is needed."""

from __future__ import annotations

import typing as t

import pytest

from tap_bigcommerce.pagination import OrdersFlavour, ProductsFlavour
from tap_bigcommerce.readers.children import ChildBatches
from tap_bigcommerce.replication import (
    CompleteByListing,
    CompleteEach,
    IncludedRows,
    Incremental,
    PerParent,
    ReadWhole,
)
from tap_bigcommerce.stream_base import BigCommerceStream, ChildStream
from tap_bigcommerce.streams import STREAM_TYPES, CustomersStream, OrdersStream


def test_every_stream_declares_what_it_is():
    for stream_type in STREAM_TYPES:
        assert stream_type.__dict__.get("replication") is not None, stream_type.name
        if issubclass(stream_type, BigCommerceStream):
            assert stream_type.endpoint and stream_type.flavour_type, stream_type.name
            assert stream_type.replication_key == "date_modified"
        else:
            assert issubclass(stream_type, ChildStream)
            assert stream_type.parent_stream_type in STREAM_TYPES


def test_the_spelling_is_built_from_the_declaration():
    class Brands(BigCommerceStream):
        name = "brands"
        endpoint = "catalog/brands"
        flavour_type = ProductsFlavour
        replication = Incremental("date_modified")
        includes = ("a", "b")

    flavour = Brands.make_flavour(t.cast(t.Any, Brands), extra={"x": 1})
    assert (flavour.path, flavour.resource) == ("catalog/brands", "brands")
    assert flavour.extra == {"x": 1, "include": "a,b"}
    # The class's own default is left alone.
    assert ProductsFlavour().path == "catalog/products"
    assert OrdersFlavour(path="orders").money_as_text


def test_only_a_declared_replication_sets_the_bookmark():
    class Whole(BigCommerceStream):
        name = "currencies"
        endpoint = "currencies"
        flavour_type = OrdersFlavour
        replication = ReadWhole()

    assert Whole.replication_key is None
    with pytest.raises(TypeError, match="only date_modified"):

        class Refunds(BigCommerceStream):
            name = "refunds"
            endpoint = "orders/payment_actions/refunds"
            flavour_type = ProductsFlavour
            replication = Incremental("created")


def test_per_parent_declares_which_parents_have_rows():
    reviews = PerParent("catalog/products/{id}/reviews", has_rows=lambda p: p["reviews_count"] > 0)
    assert reviews.has_rows({"reviews_count": 2}) and not reviews.has_rows({"reviews_count": 0})


class _Parent:
    """Just what `ChildBatches` asks of its parent stream."""

    def __init__(self, listings: dict[str, list[dict]]) -> None:
        self.listings = listings
        self.asked: list[tuple[str, dict]] = []
        self.has_selected_descendents = True
        self.child_streams: list[t.Any] = []


def _batches(included: IncludedRows, listings: dict[str, list[dict]]) -> ChildBatches:
    parent = _Parent(listings)
    batches = ChildBatches(t.cast(t.Any, parent), included)

    def listing(path: str, params: dict) -> t.Iterator[dict]:
        parent.asked.append((path, params))
        yield from listings.get(path, [])

    batches.listing = listing  # type: ignore[method-assign]
    batches.start()
    return batches


def test_a_capped_parent_is_completed_from_its_own_endpoint_at_once():
    included = t.cast(IncludedRows, OrdersStream.child_rows)
    assert isinstance(included.complete, CompleteEach)
    whole = [{"id": n, "order_id": 9} for n in range(60)]
    batches = _batches(included, {"orders/9/products": whole})
    capped = {"id": 9, "consignments": {"shipping": [{"id": 1, "line_items": [{"id": 0}],
                                                      "__warning__": {}}]}}  # fmt: skip
    rows = batches.rows_of(capped)
    assert rows["order_products"] == whole
    assert "__warning__" not in rows["order_shipping_addresses"][0]
    assert batches.rows_of({"id": 10, "consignments": {}})["order_products"] == []
    assert t.cast(_Parent, batches.parent).asked == [("orders/9/products", {})]


def test_capped_parents_of_a_batch_are_completed_with_one_listing():
    included = t.cast(IncludedRows, CustomersStream.child_rows)
    assert isinstance(included.complete, CompleteByListing)
    listed = [{"id": 100 + n, "customer_id": 2} for n in range(12)]
    batches = _batches(included, {"customers/addresses": listed})
    one = {"id": 1, "address_count": 1, "addresses": [{"id": 1, "customer_id": 1}]}
    two = {"id": 2, "address_count": 12, "addresses": [{"id": 100, "customer_id": 2}]}
    batches.collect(one, keep=True, due=False)
    batches.collect(two, keep=True, due=True)
    taken: list[list[dict]] = []
    parent = t.cast(_Parent, batches.parent)
    parent.child_streams = [_Child(lambda: taken.append(batches.take("customer_addresses")))]
    batches.hand_over()
    assert parent.asked == [("customers/addresses", {"customer_id:in": "2"})]
    assert taken == [[{"id": 1, "customer_id": 1}, *listed]]


class _Child:
    selected = True
    has_selected_descendents = False

    def __init__(self, on_sync: t.Callable[[], None]) -> None:
        self.on_sync = on_sync

    def sync(self, context: t.Any) -> None:
        self.on_sync()
