"""Child rows carried inside a parent's response, where no single field holds them.

Pure functions of one parent record: orders' consignments walked for line items and
shipping addresses (each row carrying its parent's id), and whether BigCommerce cut an
include off (the stream's declaration says where the rest comes from). Rows that sit in
one field of the parent (variants, addresses) need no function: the child names the field.
"""

from __future__ import annotations

import typing as t

Record = dict[str, t.Any]

#: The include's undocumented marker that a consignment's line items were cut off at 50
#: (bigcommerce/docs#960); the tap then reads `/v2/orders/{id}/products` for that order.
CAP_WARNING = "__warning__"

#: `customer_Full.addresses` is "Limited to 10" (customers.v3.yml).
CUSTOMER_ADDRESS_CAP = 10


def customer_addresses_capped(customer: Record) -> bool:
    """True when the customer has more addresses than the include returned."""
    count = customer.get("address_count") or 0
    return isinstance(count, int) and count > len(customer.get("addresses") or [])


def _consignment_groups(order: Record) -> list[Record]:
    """Every consignment of an order (`consignment_structure=object`), of every kind."""
    consignments = order.get("consignments")
    if isinstance(consignments, list):  # the legacy structure: [ {pickups, shipping, ...} ]
        consignments = consignments[0] if consignments else {}
    if not isinstance(consignments, dict):
        return []
    groups: list[Record] = []
    for kind in ("pickups", "shipping", "downloads"):
        groups.extend(g for g in consignments.get(kind) or [] if isinstance(g, dict))
    email = consignments.get("email") or {}
    if isinstance(email, dict):
        groups.extend(g for g in email.get("gift_certificates") or [] if isinstance(g, dict))
    return groups


def order_line_items_capped(order: Record) -> bool:
    """True when the include cut off the line items of one of the order's consignments."""
    return any(CAP_WARNING in group for group in _consignment_groups(order))


def order_child_rows(order: Record) -> dict[str, list[Record]]:
    """Line items and shipping addresses of an order (see `order_rows`)."""
    return order_rows(order)[0]


def order_rows(order: Record) -> tuple[dict[str, list[Record]], bool]:
    """Line items and shipping addresses of an order, and whether the line items are capped.

    With `include=consignments.line_items` the shipping consignments are the order's
    shipping addresses (plus their `line_items`), so no request per order is needed.
    """
    order_id = order["id"]
    items: dict[t.Any, Record] = {}
    capped = False
    for group in _consignment_groups(order):
        capped = capped or CAP_WARNING in group
        group.pop(CAP_WARNING, None)
        for item in group.get("line_items") or []:
            if isinstance(item, dict) and "id" in item:
                items.setdefault(item["id"], {**item, "order_id": order_id})
    consignments = order.get("consignments")
    shipping = consignments.get("shipping") if isinstance(consignments, dict) else None
    addresses = [
        {**{k: v for k, v in group.items() if k != "line_items"}, "order_id": order_id}
        for group in shipping or []
        if isinstance(group, dict)
    ]
    rows = {"order_products": list(items.values()), "order_shipping_addresses": addresses}
    return rows, capped


def inventory_rows(item: Record) -> list[Record]:
    """One row per location of an inventory item (`/v3/inventory/items`).

    An item is a variant (`identity`) with its stock at each location (`locations`); the
    table has one row per variant per location, carrying the variant's fields.
    """
    identity = item.get("identity") or {}
    return [{**identity, **location} for location in item.get("locations") or []]
