"""Streams are declarations: what they say reaches the readers, and nothing more is needed."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_bigcommerce.pagination import OrdersFlavour, ProductsFlavour, V3CreatedWindow
from tap_bigcommerce.readers.children import ChildBatches
from tap_bigcommerce.replication import (
    CompleteByListing,
    CompleteEach,
    Incremental,
    PerParent,
    ReadWhole,
)
from tap_bigcommerce.stream_base import BigCommerceStream, ChildStream
from tap_bigcommerce.streams import (
    STREAM_TYPES,
    CustomerAddressesStream,
    CustomersStream,
    OrderProductsStream,
    OrderShippingAddressesStream,
    OrdersStream,
    ProductsStream,
)


def test_every_stream_declares_what_it_is():
    for stream_type in STREAM_TYPES:
        assert stream_type.__dict__.get("replication") is not None, stream_type.name
        if issubclass(stream_type, BigCommerceStream):
            assert stream_type.endpoint and stream_type.flavour_type, stream_type.name
            expected = stream_type.replication.replication_key
            assert stream_type.replication_key == expected, stream_type.name
            assert isinstance(stream_type.replication, Incremental) == (expected is not None)
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
    # A bookmark on a field the flavour does not filter on is refused ...
    with pytest.raises(TypeError, match="flavour filters on 'date_modified'"):

        class Refunds(BigCommerceStream):
            name = "refunds"
            endpoint = "orders/payment_actions/refunds"
            flavour_type = ProductsFlavour
            replication = Incremental("created")

    # ... and so is keyset paging on anything but date_modified (it reads that field).
    class CreatedKeyset(ProductsFlavour):
        date_field = "created"

    with pytest.raises(TypeError, match="read incrementally on 'created'"):

        class Sorted(BigCommerceStream):
            name = "refunds"
            endpoint = "orders/payment_actions/refunds"
            flavour_type = CreatedKeyset
            replication = Incremental("created")

    # A window sorted by the tap reads whichever field its flavour filters on.
    class Created(BigCommerceStream):
        name = "refunds"
        endpoint = "orders/payment_actions/refunds"
        flavour_type = V3CreatedWindow
        replication = Incremental("created")

    assert Created.replication_key == "created"
    params = V3CreatedWindow().window_params(dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc),
                                             None, 250)  # fmt: skip
    assert params == {"limit": 250, "created:min": "2024-01-02T00:00:00Z"}


def test_per_parent_declares_which_parents_have_rows():
    reviews = PerParent("catalog/products/{id}/reviews", has_rows=lambda p: p["reviews_count"] > 0)
    assert reviews.has_rows({"reviews_count": 2}) and not reviews.has_rows({"reviews_count": 0})


class _Child:
    """Just what `ChildBatches` asks of a child stream."""

    has_selected_descendents = False

    def __init__(self, stream_type: type, on_sync: t.Callable[[], None] = lambda: None) -> None:
        self.name = stream_type.name
        self.replication = stream_type.replication
        self.selected = True
        self.on_sync = on_sync

    def sync(self, context: t.Any) -> None:
        self.on_sync()


class _Parent:
    """Just what `ChildBatches` asks of its parent stream."""

    has_selected_descendents = True

    def __init__(self, children: list[_Child]) -> None:
        self.child_streams = children
        self.asked: list[tuple[str, dict]] = []


def _batches(
    parent_type: type[BigCommerceStream], children: list[_Child], listings: dict[str, list[dict]]
) -> tuple[ChildBatches, _Parent]:
    parent = _Parent(children)
    batches = ChildBatches(t.cast(t.Any, parent), parent_type.child_rows)

    def listing(path: str, params: dict) -> t.Iterator[dict]:
        parent.asked.append((path, params))
        yield from listings.get(path, [])

    batches.listing = listing  # type: ignore[method-assign]
    batches.start()
    return batches, parent


def test_rows_in_one_field_need_only_the_childs_declaration():
    children = [_Child(s) for s in STREAM_TYPES if s.parent_stream_type is ProductsStream]
    batches, parent = _batches(ProductsStream, children, {})
    product = {
        "id": 4,
        "variants": [{"id": 1, "product_id": 4}],
        "custom_fields": [{"id": 2}],
        "bulk_pricing_rules": [{"id": 3, "quantity_min": 2}],
        "reviews_count": 5,
    }
    assert batches.rows_of(product) == {
        "product_variants": [{"id": 1, "product_id": 4}],
        "product_images": [],
        "product_custom_fields": [{"id": 2, "product_id": 4}],
        "product_bulk_pricing_rules": [{"id": 3, "quantity_min": 2, "product_id": 4}],
    }
    assert parent.asked == []


def test_a_capped_parent_is_completed_from_its_own_endpoint_at_once():
    assert isinstance(OrderProductsStream.replication.complete, CompleteEach)
    children = [_Child(OrderProductsStream), _Child(OrderShippingAddressesStream)]
    whole = [{"id": n, "order_id": 9} for n in range(60)]
    batches, parent = _batches(OrdersStream, children, {"orders/9/products": whole})
    capped = {"id": 9, "consignments": {"shipping": [{"id": 1, "line_items": [{"id": 0}],
                                                      "__warning__": {}}]}}  # fmt: skip
    rows = batches.rows_of(capped)
    assert rows["order_products"] == whole
    assert "__warning__" not in rows["order_shipping_addresses"][0]
    assert batches.rows_of({"id": 10, "consignments": {}})["order_products"] == []
    assert parent.asked == [("orders/9/products", {})]


def test_capped_parents_of_a_batch_are_completed_with_one_listing():
    assert isinstance(CustomerAddressesStream.replication.complete, CompleteByListing)
    taken: list[list[dict]] = []
    child = _Child(CustomerAddressesStream, lambda: taken.append(batches.take(child.name)))
    listed = [{"id": 100 + n, "customer_id": 2} for n in range(12)]
    batches, parent = _batches(CustomersStream, [child], {"customers/addresses": listed})
    one = {"id": 1, "address_count": 1, "addresses": [{"id": 1, "customer_id": 1}]}
    two = {"id": 2, "address_count": 12, "addresses": [{"id": 100, "customer_id": 2}]}
    batches.collect(one, keep=True, due=False)
    batches.collect(two, keep=True, due=True)
    batches.hand_over()
    assert parent.asked == [("customers/addresses", {"customer_id:in": "2"})]
    assert taken == [[{"id": 1, "customer_id": 1}, *listed]]
