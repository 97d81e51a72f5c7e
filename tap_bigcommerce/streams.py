"""The streams: a declaration each. How they are read lives in `readers/`.

A top-level stream names its endpoint, its API spelling (`pagination.py`), how it
replicates (`replication.py`), the sub-resources it includes and what they carry for its
children; a child stream names its parent. The schema is `schemas/<name>.json`.
"""

from __future__ import annotations

import decimal
import typing as t

from singer_sdk import Stream

from tap_bigcommerce.pagination import (
    CustomersFlavour,
    OrdersFlavour,
    ProductsFlavour,
    V2ById,
    V2ByPage,
    V2Single,
    V2Unpaged,
    V3ById,
    V3ByPage,
    V3CreatedWindow,
    V3DateWindow,
    V3DateWindowCursor,
)
from tap_bigcommerce.replication import (
    AlsoList,
    CompleteByListing,
    CompleteEach,
    EachOf,
    EachRow,
    FromParentInclude,
    IncludedRows,
    Incremental,
    Partition,
    PerParent,
    ReadWhole,
)
from tap_bigcommerce.stream_base import BigCommerceStream, ChildStream
from tap_bigcommerce.subresources import (
    customer_addresses_capped,
    inventory_rows,
    order_child_rows,
    order_line_items_capped,
)


class ProductsStream(BigCommerceStream):
    """Catalog products, `/v3/catalog/products`.

    `options` and `modifiers` are not included: they cut pages to 10 products.
    """

    name = "products"
    scope = "Products"
    strict_scope = True  # a main stream: without its scope the run fails
    endpoint = "catalog/products"
    flavour_type = ProductsFlavour
    replication = Incremental("date_modified")
    includes = (
        "variants",
        "images",
        "custom_fields",
        "primary_image",
        "bulk_pricing_rules",
        "channels",
    )


class CustomersStream(BigCommerceStream):
    """Customers, `/v3/customers`."""

    name = "customers"
    scope = "Customers"
    strict_scope = True  # a main stream: without its scope the run fails
    endpoint = "customers"
    flavour_type = CustomersFlavour
    replication = Incremental("date_modified")
    includes = ("addresses", "storecredit", "attributes", "formfields")


class OrdersStream(BigCommerceStream):
    """Orders, `/v2/orders`: BigCommerce has no v3 endpoint that lists orders.

    v2 lists carry no total: `/v2/orders/count` counts a window. Archived orders are a
    listing of their own (`is_deleted=true`).
    """

    name = "orders"
    scope = "Orders"
    strict_scope = True  # a main stream: without its scope the run fails
    endpoint = "orders"
    flavour_type = OrdersFlavour
    replication = Incremental(
        "date_modified",
        count="orders/count",
        also=(AlsoList("include_archived_orders", {"is_deleted": "true"}),),
    )
    includes = ("consignments.line_items", "fees")
    # The consignments hold both children's rows: one walk over them (`subresources.py`).
    child_rows = IncludedRows(order_child_rows)


class ProductVariantsStream(ChildStream):
    """Variants of each product (`include=variants`)."""

    name = "product_variants"
    parent_stream_type = ProductsStream
    replication = FromParentInclude("variants")


class ProductImagesStream(ChildStream):
    """Images of each product (`include=images`)."""

    name = "product_images"
    parent_stream_type = ProductsStream
    replication = FromParentInclude("images")


class ProductCustomFieldsStream(ChildStream):
    """Custom fields of each product (`include=custom_fields`), with `product_id` added."""

    name = "product_custom_fields"
    parent_stream_type = ProductsStream
    replication = FromParentInclude("custom_fields", parent_id="product_id")


class ProductBulkPricingRulesStream(ChildStream):
    """Bulk pricing rules of each product (`include=bulk_pricing_rules`), with `product_id`."""

    name = "product_bulk_pricing_rules"
    parent_stream_type = ProductsStream
    primary_keys: t.ClassVar[list[str]] = ["id", "product_id"]
    replication = FromParentInclude("bulk_pricing_rules", parent_id="product_id")


class ProductReviewsStream(ChildStream):
    """Reviews of each product that has any, one listing per such product, with `product_id`."""

    name = "product_reviews"
    parent_stream_type = ProductsStream
    primary_keys: t.ClassVar[list[str]] = ["id", "product_id"]
    replication = PerParent(
        "catalog/products/{id}/reviews",
        has_rows=lambda product: (product.get("reviews_count") or 0) > 0,
        parent_id="product_id",
    )


class CustomerAddressesStream(ChildStream):
    """Addresses of each customer (`include=addresses`); past its cap of 10, one listing a batch."""

    name = "customer_addresses"
    parent_stream_type = CustomersStream
    replication = FromParentInclude(
        "addresses",
        capped=customer_addresses_capped,
        complete=CompleteByListing("customers/addresses", "customer_id:in", "customer_id"),
    )


class OrderProductsStream(ChildStream):
    """Line items of each order (`include=consignments.line_items`); past 50, per order."""

    name = "order_products"
    parent_stream_type = OrdersStream
    replication = FromParentInclude(
        capped=order_line_items_capped, complete=CompleteEach("orders/{id}/products")
    )


class OrderShippingAddressesStream(ChildStream):
    """Shipping addresses of each order (its shipping consignments)."""

    name = "order_shipping_addresses"
    parent_stream_type = OrdersStream
    replication = FromParentInclude()


def _nonzero(value: t.Any) -> bool:
    """Whether an amount is not zero: v2 text (`"0.0000"`), a Decimal or a number alike."""
    try:
        return decimal.Decimal(str(value or 0)) != 0
    except decimal.InvalidOperation:
        return False


class OrderCouponsStream(ChildStream):
    """Coupons applied to each order that has a coupon discount, `/v2/orders/{id}/coupons`."""

    name = "order_coupons"
    parent_stream_type = OrdersStream
    primary_keys: t.ClassVar[list[str]] = ["id", "order_id"]
    replication = PerParent(
        "orders/{id}/coupons",
        has_rows=lambda order: _nonzero(order.get("coupon_discount")),
        parent_id="order_id",
    )


class OrderShipmentsStream(ChildStream):
    """Shipments of each order that has shipped items, `/v2/orders/{id}/shipments`."""

    name = "order_shipments"
    parent_stream_type = OrdersStream
    primary_keys: t.ClassVar[list[str]] = ["id", "order_id"]
    replication = PerParent(
        "orders/{id}/shipments",
        has_rows=lambda order: _nonzero(order.get("items_shipped")),
        parent_id="order_id",
    )


class OrderTransactionsStream(ChildStream):
    """Payment transactions of each order, `/v3/orders/{id}/transactions` (a v2 parent).

    Not selected by default: no field of an order says whether it has any, so it costs one
    request per order read; and it needs a scope of its own (without it: skipped, warned).
    """

    name = "order_transactions"
    parent_stream_type = OrdersStream
    primary_keys: t.ClassVar[list[str]] = ["id", "order_id"]
    selected_by_default = False
    replication = PerParent(
        "orders/{id}/transactions",
        has_rows=lambda order: True,
        parent_id="order_id",
        flavour_type=V3ByPage,
        scope="Order Transactions",
    )


class OrderFeesStream(ChildStream):
    """Fees of each order (`include=fees`), with `order_id`."""

    name = "order_fees"
    parent_stream_type = OrdersStream
    primary_keys: t.ClassVar[list[str]] = ["id", "order_id"]
    replication = FromParentInclude("fees", parent_id="order_id")


# ------------------------------------------------------------------ read whole, every run
# Small tables with no date to key on: read whole each run, then ACTIVATE_VERSION, so that
# a target marks the rows that vanished. Without their scope they are skipped.


class CategoryTreesStream(BigCommerceStream):
    """Category trees (one per storefront channel), `/v3/catalog/trees`."""

    name = "category_trees"
    scope = "Products"
    endpoint = "catalog/trees"
    flavour_type = V3ByPage
    replication = ReadWhole()


class CategoriesStream(BigCommerceStream):
    """Categories of every tree, `/v3/catalog/trees/categories`; `tree_id` on each row."""

    name = "categories"
    scope = "Products"
    endpoint = "catalog/trees/categories"
    flavour_type = V3ByPage
    replication = ReadWhole()
    primary_keys: t.ClassVar[list[str]] = ["category_id"]


class BrandsStream(BigCommerceStream):
    """Brands, `/v3/catalog/brands`, walked by `id:greater`."""

    name = "brands"
    scope = "Products"
    endpoint = "catalog/brands"
    flavour_type = V3ById
    replication = ReadWhole()


class InventoryLocationsStream(BigCommerceStream):
    """Inventory locations (stores, warehouses), `/v3/inventory/locations`."""

    name = "inventory_locations"
    scope = "Store Locations"
    endpoint = "inventory/locations"
    flavour_type = V3ByPage
    replication = ReadWhole()


class InventoryLevelsStream(BigCommerceStream):
    """Stock of every variant at every location, `/v3/inventory/items`: a row per pair."""

    name = "inventory_levels"
    scope = "Store Inventory"
    endpoint = "inventory/items"
    flavour_type = V3ByPage
    replication = ReadWhole(rows=inventory_rows)
    primary_keys: t.ClassVar[list[str]] = ["variant_id", "location_id"]


class PromotionsStream(BigCommerceStream):
    """Promotions (automatic and coupon discounts), `/v3/promotions`."""

    name = "promotions"
    scope = "Marketing"
    endpoint = "promotions"
    flavour_type = V3ByPage
    replication = ReadWhole()


class CouponsStream(BigCommerceStream):
    """Coupons, `/v2/coupons`, walked by `min_id`."""

    name = "coupons"
    scope = "Marketing"
    endpoint = "coupons"
    flavour_type = V2ById
    replication = ReadWhole()


class GiftCertificatesStream(BigCommerceStream):
    """Gift certificates, `/v2/gift_certificates`, walked by `min_id`."""

    name = "gift_certificates"
    scope = "Marketing"
    endpoint = "gift_certificates"
    flavour_type = V2ById
    replication = ReadWhole()


class CurrenciesStream(BigCommerceStream):
    """The store's currencies, `/v2/currencies`."""

    name = "currencies"
    scope = "Information & Settings"
    endpoint = "currencies"
    flavour_type = V2ByPage
    replication = ReadWhole()


class OrderStatusesStream(BigCommerceStream):
    """The store's order statuses, `/v2/order_statuses`: documents no paging, one request."""

    name = "order_statuses"
    scope = "Orders"
    endpoint = "order_statuses"
    flavour_type = V2Unpaged
    replication = ReadWhole()


class CustomerGroupsStream(BigCommerceStream):
    """Customer groups, `/v2/customer_groups` (no v3 list exists), by page; no id filter."""

    name = "customer_groups"
    scope = "Customers"
    endpoint = "customer_groups"
    flavour_type = V2ByPage
    replication = ReadWhole()


class CustomerAttributesStream(BigCommerceStream):
    """Customer attributes (the definitions), `/v3/customers/attributes`, by page."""

    name = "customer_attributes"
    scope = "Customers"
    endpoint = "customers/attributes"
    flavour_type = V3ByPage
    replication = ReadWhole()


class StoreInformationStream(BigCommerceStream):
    """The store's own settings, `/v2/store`: one row."""

    name = "store_information"
    scope = "Information & Settings"
    endpoint = "store"
    flavour_type = V2Single
    replication = ReadWhole()


# ------------------------------------------------------------------ incremental, unsorted
# Filtered by date_modified:min/max, but their list operations document no sort: each
# window of dates is read whole and sorted by the tap (`V3DateWindow`, `readers/unsorted.py`).


class PriceListsStream(BigCommerceStream):
    """Price lists, `/v3/pricelists`."""

    name = "price_lists"
    scope = "Products"
    endpoint = "pricelists"
    flavour_type = V3DateWindow
    replication = Incremental("date_modified")


class PriceListRecordsStream(BigCommerceStream):
    """Prices of each price list, `/v3/pricelists/{price_list_id}/records`, by cursor.

    Every price list is read from its own bookmark (a state partition per `price_list_id`);
    the price lists come from `/v3/pricelists` on every run, changed or not. Its own
    endpoint (the connection check) is that listing.
    """

    name = "price_list_records"
    scope = "Products"
    endpoint = "pricelists"
    flavour_type = V3DateWindowCursor
    replication = Incremental(
        "date_modified",
        each=EachRow("pricelists", "price_list_id", "pricelists/{price_list_id}/records"),
    )
    primary_keys: t.ClassVar[list[str]] = ["price_list_id", "variant_id", "currency"]
    # The state is partitioned by the whole context, which is just `price_list_id`. Naming
    # `state_partitioning_keys` would be the same partitions, but the SDK then treats the
    # stream as unsorted: mid-run STATE would hold progress markers, not resumable bookmarks.


class ChannelsStream(BigCommerceStream):
    """Sales channels (storefronts, marketplaces, POS), `/v3/channels`."""

    name = "channels"
    scope = "Channel Settings"
    endpoint = "channels"
    flavour_type = V3DateWindow
    replication = Incremental("date_modified")


class MetafieldsStream(BigCommerceStream):
    """Metafields of every resource type, one store-wide listing each (`.../metafields`).

    Each listing filters by `date_modified:min/max` and pages by cursor (`after`) but
    documents no sort (`direction` orders by id), so it is read as price list records
    are. Every listing is read from its own bookmark (a state partition per
    `resource_type`) and needs its resource's scope: one without it is skipped with a
    warning, the others are read. Rows carry `resource_type` and `resource_id` as the API
    sends them (`resource_type` is also set from the partition). Its own endpoint (the
    connection check) is the products' listing.
    """

    name = "metafields"
    scope = "Products"
    endpoint = "catalog/products/metafields"
    flavour_type = V3DateWindowCursor
    replication = Incremental(
        "date_modified",
        each=EachOf(
            "resource_type",
            (
                Partition("product", "catalog/products/metafields", "Products"),
                Partition("variant", "catalog/variants/metafields", "Products"),
                Partition("category", "catalog/categories/metafields", "Products"),
                Partition("brand", "catalog/brands/metafields", "Products"),
                Partition("customer", "customers/metafields", "Customers"),
                Partition("order", "orders/metafields", "Orders"),
                Partition("channel", "channels/metafields", "Channel Settings"),
            ),
        ),
    )
    # The specs call `id` the metafield's unique identifier, but each listing is its own
    # endpoint in its own spec file and none says the ids are one sequence across resource
    # types; with `resource_type` in the key a target never merges two of them.
    primary_keys: t.ClassVar[list[str]] = ["resource_type", "id"]


class CustomerAttributeValuesStream(BigCommerceStream):
    """Each customer's attribute values, `/v3/customers/attribute-values`."""

    name = "customer_attribute_values"
    scope = "Customers"
    endpoint = "customers/attribute-values"
    flavour_type = V3DateWindow
    replication = Incremental("date_modified")


class SubscribersStream(BigCommerceStream):
    """Newsletter subscribers, `/v3/customers/subscribers`.

    Filtered by `date_modified:min` (the bare `date_modified` was reported to match one
    exact time, bigcommerce/api#105), never by `date_modified` alone.
    """

    name = "subscribers"
    scope = "Customers"
    endpoint = "customers/subscribers"
    flavour_type = V3DateWindow
    replication = Incremental("date_modified")


class RefundsStream(BigCommerceStream):
    """Refunds of every order, `/v3/orders/payment_actions/refunds`, by `created`.

    A refund never changes once made, so its bookmark is on `created` (inclusive,
    `created:min`); listed by id, no sort by date, so read as an unsorted window
    (`V3CreatedWindow`, `readers/unsorted.py`, which says why none is lost).
    """

    name = "refunds"
    scope = "Orders"
    endpoint = "orders/payment_actions/refunds"
    flavour_type = V3CreatedWindow
    replication = Incremental("created")


STREAM_TYPES: list[type[Stream]] = [
    ProductsStream,
    ProductVariantsStream,
    ProductImagesStream,
    ProductCustomFieldsStream,
    ProductBulkPricingRulesStream,
    ProductReviewsStream,
    CustomersStream,
    CustomerAddressesStream,
    OrdersStream,
    OrderProductsStream,
    OrderShippingAddressesStream,
    OrderCouponsStream,
    OrderShipmentsStream,
    OrderTransactionsStream,
    OrderFeesStream,
    CategoryTreesStream,
    CategoriesStream,
    BrandsStream,
    InventoryLocationsStream,
    InventoryLevelsStream,
    PromotionsStream,
    CouponsStream,
    GiftCertificatesStream,
    CurrenciesStream,
    StoreInformationStream,
    PriceListsStream,
    PriceListRecordsStream,
    ChannelsStream,
    MetafieldsStream,
    OrderStatusesStream,
    CustomerGroupsStream,
    CustomerAttributesStream,
    CustomerAttributeValuesStream,
    SubscribersStream,
    RefundsStream,
]

__all__ = ["STREAM_TYPES"]
