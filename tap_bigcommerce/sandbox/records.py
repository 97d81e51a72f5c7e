"""Deterministic record builders: the full API-format dict of one record, built on demand.

A record is a pure function of ``(seed, id, version)`` plus its two dates: the store keeps only
those few integers per record, and this module turns them into the JSON the real API would
send. Stable traits (names, SKUs, line-item count) depend on ``(seed, id)`` only; the rest also
on ``version``, so a touched record really changes content.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from . import fields
from .formats import iso_offset, iso_z, money4, rate10, rfc2822

_MASK64 = (1 << 64) - 1
_KIND = {"products": 1, "customers": 2, "orders": 3, "variants": 4, "images": 5,
         "custom_fields": 6, "addresses": 7, "line_items": 8, "ship": 9,
         "bulk_pricing_rules": 10, "reviews": 11, "order_coupons": 12, "shipments": 13,
         "transactions": 14}  # fmt: skip


def mix(*parts: int) -> int:
    """Cheap deterministic 64-bit hash of integers (splitmix64 steps); much cheaper than Random."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & _MASK64
        h ^= h >> 29
    return h


def _rng(seed: int, kind: str, rid: int, version: int = 0) -> random.Random:
    return random.Random(mix(seed, _KIND[kind], rid, version))


FIRST_NAMES = (
    "Zoë", "Łukasz", "Anaïs", "José", "Mia", "Søren", "Jane", "Chloé", "Björn", "Ngozi",
    "Ana", "Matthäus", "Émile", "Ren", "Priya", "Siobhán", "Oğuz", "Nuño", "Ada", "Kenji",
)  # fmt: skip
LAST_NAMES = (
    "Łukasz", "Müller", "O'Neil", "Nguyễn", "Smith", "García", "東京", "Ødegaard", "Dubois",
    "Kowalski", "Ivanova", "Schröder", "Tanaka", "Doe", "Ångström", "Núñez", "Okafor", "Lee",
)  # fmt: skip
_ADJ = ("Crème", "Rustic", "Zoë's", "Nordic", "Smith", "Łódź", "Vintage", "東京", "Große", "Tiny")
_NOUN = ("Jar", "Journal", "Towel", "Brûlée Set", "Mug", "Lamp", "Chair", "Tote", "Kettle", "Bowl")
_CITIES = (
    ("Austin", "Texas", "78751", "United States", "US"),
    ("Kraków", "Małopolskie", "30-001", "Poland", "PL"),
    ("東京", "東京都", "100-0001", "Japan", "JP"),
    ("Zürich", "Zürich", "8001", "Switzerland", "CH"),
    ("São Paulo", "São Paulo", "01000-000", "Brazil", "BR"),
    ("Sydney", "New South Wales", "2000", "Australia", "AU"),
)
_PAYMENT = ("Credit Card", "Manual", "cash", "Test Payment Gateway", "PayPal")
_PAYMENT_STATUS = ("authorized", "captured", "paid", "pending", "partially refunded")
_SOURCES = ("www", "manual", "external", "checkout_api", "mobile", "iphone")
_STATUS_NAMES = dict(fields.ORDER_STATUSES)
# Weighted towards the statuses a real store mostly holds.
_STATUS_POOL = (11, 11, 11, 10, 10, 10, 2, 2, 7, 9, 1, 0, 5, 4, 3, 14, 12, 13, 8, 6)
LINE_ITEM_CAP = 50  # include=consignments.line_items returns at most this many (docs#960)


def person_name(seed: int, kind: str, rid: int) -> tuple[str, str]:
    """Stable (first, last) name of a customer / address / order buyer."""
    h = mix(seed, _KIND[kind], rid, 77)
    return FIRST_NAMES[h % len(FIRST_NAMES)], LAST_NAMES[(h >> 20) % len(LAST_NAMES)]


def product_name(seed: int, pid: int) -> str:
    """Stable, unique product name (names are unique per store in BigCommerce)."""
    h = mix(seed, 1, pid, 78)
    return f"{_ADJ[h % len(_ADJ)]} {_NOUN[(h >> 16) % len(_NOUN)]} {pid}"


def order_status_id(seed: int, oid: int, version: int) -> int:
    """Cheap status of an order (used by the status filter and /v2/orders/count)."""
    return _STATUS_POOL[mix(seed, 3, oid, version, 5) % len(_STATUS_POOL)]


def line_item_count(seed: int, oid: int) -> int:
    """Number of line items of an order; every 29th order has more than the include's cap."""
    if oid % 29 == 3:
        return LINE_ITEM_CAP + 1 + mix(seed, 8, oid) % 70
    return 1 + mix(seed, 8, oid) % 5


def _url_path(name: str) -> str:
    return "/" + "-".join(name.lower().replace("'", "").split()) + "/"


def _cdn(pid: int, k: int, size: str) -> str:
    return f"https://cdn11.bigcommerce.com/s-sandbox/images/stencil/{size}/products/{pid}/{k}.jpg"


# --------------------------------------------------------------------------- products


def product(
    seed: int, pid: int, created: int, modified: int, version: int,
    includes: frozenset[str] = frozenset(), imported: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A product as ``GET /v3/catalog/products`` returns it, with the asked-for includes."""
    s = _rng(seed, "products", pid)
    r = _rng(seed, "products", pid, version)
    name = product_name(seed, pid)
    n_variants = 1 if s.random() < 0.6 else s.randint(2, 4)
    price = round(r.uniform(1, 500), 2)
    sale = round(price * 0.8, 2) if r.random() < 0.2 else 0.0
    availability = r.choice(("available", "available", "available", "disabled", "preorder"))
    rec: dict[str, Any] = {
        "id": pid,
        "name": name,
        "type": "digital" if s.random() < 0.1 else "physical",
        "sku": f"SKU-{pid:06d}",
        "description": f"<p><span>{name}: lorem ipsum dolor sit amet, v{version}.</span></p>",
        "weight": round(r.uniform(0, 20), 2),
        "width": float(r.randint(0, 40)),
        "depth": float(r.randint(0, 40)),
        "height": float(r.randint(0, 40)),
        "price": price,
        "cost_price": round(price * 0.5, 2),
        "retail_price": round(price * 1.2, 2),
        "sale_price": sale,
        "map_price": 0,
        "tax_class_id": 0,
        "product_tax_code": "",
        "categories": sorted({18 + s.randint(0, 10) for _ in range(s.randint(1, 3))}),
        "brand_id": s.randint(0, 40),
        "inventory_level": r.randint(0, 500),
        "inventory_warning_level": r.randint(0, 10),
        "inventory_tracking": "variant" if n_variants > 1 else r.choice(("none", "product")),
        "fixed_cost_shipping_price": 0,
        "is_free_shipping": r.random() < 0.1,
        "is_visible": r.random() < 0.9,
        "is_featured": r.random() < 0.1,
        "related_products": [-1],
        "warranty": "",
        "bin_picking_number": "",
        "layout_file": "product.html",
        "upc": "" if s.random() < 0.5 else f"{mix(seed, pid) % 10**12:012d}",
        "search_keywords": "jar, glass" if pid % 2 else "",
        "availability_description": "",
        "availability": availability,
        "gift_wrapping_options_type": "any",
        "gift_wrapping_options_list": [],
        "sort_order": 0,
        "condition": s.choice(("New", "New", "Used", "Refurbished")),
        "is_condition_shown": False,
        "order_quantity_minimum": 0,
        "order_quantity_maximum": 0,
        "page_title": "",
        "meta_keywords": [],
        "meta_description": "",
        "view_count": r.randint(0, 5000),
        "preorder_release_date": iso_offset(modified + 86400 * 30)
        if availability == "preorder"
        else None,
        "preorder_message": "",
        "is_preorder_only": False,
        "is_price_hidden": False,
        "price_hidden_label": "",
        "custom_url": {"url": _url_path(name), "is_customized": False},
        "open_graph_type": "product",
        "open_graph_title": "",
        "open_graph_description": "",
        "open_graph_use_meta_description": True,
        "open_graph_use_product_name": True,
        "open_graph_use_image": True,
        "gtin": "",
        "mpn": "",
        "date_last_imported": iso_offset(imported) if imported is not None else None,
        "reviews_rating_sum": r.randint(0, 50),
        # One product in five has reviews, as on most stores (the draw keeps the sequence).
        "reviews_count": r.randint(0, 12) * (mix(seed, pid, 79) % 5 == 0),
        "total_sold": r.randint(0, 900),
        "date_created": iso_offset(created),
        "date_modified": iso_offset(modified),
        "base_variant_id": pid * 10 + 1 if n_variants == 1 else None,
        "calculated_price": sale or price,
        "option_set_id": None,
        "option_set_display": "right",
    }
    if not includes:
        return rec
    n_images = s.randint(0, 3)
    if "custom_fields" in includes:
        rec["custom_fields"] = [
            {"id": pid * 10 + k, "name": ("ISBN", "Material", "Origin")[k - 1],
             "value": ("1234567890123", "Glass", "Łódź, 東京")[k - 1]}
            for k in range(1, 1 + pid % 4)
        ]  # fmt: skip
    if "bulk_pricing_rules" in includes:
        rec["bulk_pricing_rules"] = bulk_pricing_rules(seed, pid, version, price)
    if "images" in includes:
        rec["images"] = [_image(pid, k, modified) for k in range(1, n_images + 1)]
    if "primary_image" in includes:
        rec["primary_image"] = _primary_image(pid, modified) if n_images else None
    if "videos" in includes:
        rec["videos"] = []
    if "parent_relations" in includes:
        rec["parent_relations"] = []
    if "options" in includes:
        rec["options"] = _options(pid, n_variants)
    if "modifiers" in includes:
        rec["modifiers"] = []
    if "channels" in includes:
        rec["channels"] = [1] if pid % 3 else [1, 2]
    if "variants" in includes:
        rec["variants"] = [
            _variant(seed, pid, k, version, rec, n_variants) for k in range(1, n_variants + 1)
        ]
    return rec


_RULE_TYPES = ("price", "percent", "fixed")


def bulk_pricing_rules(seed: int, pid: int, version: int, price: float) -> list[dict[str, Any]]:
    """A product's bulk pricing rules: one to three on every fifth product, none elsewhere.

    Quantity tiers follow each other; the last has no upper bound (`quantity_max` 0).
    """
    if pid % 5:
        return []
    r = _rng(seed, "bulk_pricing_rules", pid, version)
    n = 1 + r.randrange(3)
    rules = []
    low = 0
    for k in range(1, n + 1):
        quantity_min = low + r.randint(2, 10)
        quantity_max = 0 if k == n else quantity_min + r.randint(5, 40)
        kind = r.choice(_RULE_TYPES)
        amount = {"price": round(r.uniform(0.5, 5), 2), "percent": r.choice((5, 10, 15)),
                  "fixed": round(price * 0.9, 2)}[kind]  # fmt: skip
        values = {"id": pid * 10 + k, "quantity_min": quantity_min, "quantity_max": quantity_max,
                  "type": kind, "amount": amount}  # fmt: skip
        rules.append({name: values[name] for name in fields.BULK_PRICING_RULE_FIELDS})
        low = quantity_max
    return rules


_REVIEW_TITLES = (
    "Love it", "Crème de la crème", "Not for me", "東京 quality", "Works as described",
    "Zoë's pick", "Smaller than expected",
)  # fmt: skip
_REVIEW_STATUSES = ("approved", "approved", "approved", "pending", "disapproved")
#: A review's id is its product's id times this, plus its place (fewer reviews a product).
REVIEW_ID_BASE = 1000


def product_reviews(
    seed: int, pid: int, version: int, count: int, created: int, modified: int
) -> list[dict[str, Any]]:
    """The `count` reviews of a product (its `reviews_count`), as `/reviews` lists them.

    Written between the product's creation and its last change, oldest first.
    """
    rows = []
    for k in range(1, count + 1):
        rid = pid * REVIEW_ID_BASE + k
        r = _rng(seed, "reviews", rid, version)
        reviewed = created + (modified - created) * k // (count + 1)
        first, last = person_name(seed, "reviews", rid)
        title = r.choice(_REVIEW_TITLES)
        values = {
            "title": title,
            "text": f"{title}: lorem ipsum, v{version}.",
            "status": r.choice(_REVIEW_STATUSES),
            "rating": r.randint(0, 5),
            "email": "" if r.random() < 0.2 else f"reviewer{rid}@example.com",
            "name": f"{first} {last}",
            "date_reviewed": iso_offset(reviewed),
            "id": rid,
            "date_created": iso_offset(reviewed),
            "date_modified": iso_offset(reviewed + int((modified - reviewed) * r.random())),
        }
        rows.append({name: values[name] for name in fields.REVIEW_FIELDS})
    return rows


def _image(pid: int, k: int, modified: int) -> dict[str, Any]:
    return {
        "is_thumbnail": k == 1,
        "sort_order": k - 1,
        "description": "" if k > 1 else "Main image",
        "date_modified": iso_offset(modified),
        "id": pid * 10 + k,
        "product_id": pid,
        "image_url": _cdn(pid, k, "original"),
        "url_zoom": _cdn(pid, k, "1280x1280"),
        "url_standard": _cdn(pid, k, "500x659"),
        "url_thumbnail": _cdn(pid, k, "100x100"),
        "url_tiny": _cdn(pid, k, "50x50"),
    }


def _primary_image(pid: int, modified: int) -> dict[str, Any]:
    img = _image(pid, 1, modified)
    return {
        "id": img["id"], "product_id": pid, "is_thumbnail": True, "sort_order": 0,
        "description": img["description"], "image_file": f"products/{pid}/1.jpg",
        "url_zoom": img["url_zoom"], "url_standard": img["url_standard"],
        "url_thumbnail": img["url_thumbnail"], "url_tiny": img["url_tiny"],
        "date_modified": img["date_modified"],
    }  # fmt: skip


_SIZES = ("S", "M", "L", "XL")


def _options(pid: int, n_variants: int) -> list[dict[str, Any]]:
    if n_variants == 1:
        return []
    return [{
        "id": pid, "product_id": pid, "display_name": "Size", "type": "rectangles",
        "config": {}, "sort_order": 0,
        "option_values": [
            {"is_default": k == 1, "label": _SIZES[k - 1], "sort_order": k - 1,
             "value_data": None, "id": pid * 10 + k}
            for k in range(1, n_variants + 1)
        ],
    }]  # fmt: skip


def _variant(
    seed: int, pid: int, k: int, version: int, prod: dict[str, Any], n: int
) -> dict[str, Any]:
    r = _rng(seed, "variants", pid * 10 + k, version)
    own_price = r.random() < 0.5 and n > 1  # null price = inherits the product's
    price = round(prod["price"] + k, 2) if own_price else None
    return {
        "cost_price": None if price is None else round(price * 0.5, 2),
        "price": price,
        "sale_price": None,
        "retail_price": None,
        "map_price": None,
        "weight": None if r.random() < 0.7 else round(r.uniform(0, 5), 2),
        "width": None,
        "height": None,
        "depth": None,
        "is_free_shipping": False,
        "fixed_cost_shipping_price": None,
        "purchasing_disabled": r.random() < 0.05,
        "purchasing_disabled_message": "",
        "image_url": "" if k > 1 else _cdn(pid, 1, "original"),
        "upc": "",
        "inventory_level": r.randint(0, 200),
        "inventory_warning_level": 0,
        "bin_picking_number": "",
        "mpn": "",
        "gtin": "",
        "product_id": pid,
        "id": pid * 10 + k,
        "sku": prod["sku"] if n == 1 else f"{prod['sku']}-{_SIZES[k - 1]}",
        "sku_id": None if n == 1 else pid * 10 + k,
        "option_values": []
        if n == 1
        else [
            {
                "id": pid * 10 + k,
                "label": _SIZES[k - 1],
                "option_id": pid,
                "option_display_name": "Size",
            }
        ],
        "calculated_price": price if price is not None else prod["calculated_price"],
        "calculated_weight": prod["weight"],
    }


# --------------------------------------------------------------------------- customers


def customer_address_count(seed: int, cid: int) -> int:
    """How many addresses a customer has; every 50th has more than the include's cap of 10."""
    return _rng(seed, "customers", cid).choice((0, 1, 1, 1, 2, 3, 12)) if cid % 50 else 12


def customer_addresses(seed: int, cid: int, version: int) -> list[dict[str, Any]]:
    """All addresses of a customer, as ``GET /v3/customers/addresses`` returns them."""
    n = customer_address_count(seed, cid)
    return [_customer_address(seed, cid, k, version) for k in range(1, n + 1)]


def customer(
    seed: int, cid: int, created: int, modified: int, version: int,
    includes: frozenset[str] = frozenset(),
) -> dict[str, Any]:  # fmt: skip
    """A customer as ``GET /v3/customers`` returns it, with the asked-for includes."""
    s = _rng(seed, "customers", cid)
    r = _rng(seed, "customers", cid, version)
    first, last = person_name(seed, "customers", cid)
    n_addresses = customer_address_count(seed, cid)
    n_attributes = s.randint(0, 2)
    rec: dict[str, Any] = {
        "email": f"customer{cid}@example.com",
        "first_name": first,
        "last_name": last,
        "company": "" if s.random() < 0.7 else "Acme Łódź GmbH",
        "phone": f"555-{cid % 1000:03d}-{mix(seed, cid) % 10000:04d}",
        "registration_ip_address": "" if s.random() < 0.5 else f"10.0.{cid % 256}.{cid % 199}",
        "notes": "" if r.random() < 0.8 else f"Preferred customer (v{version})",
        "tax_exempt_category": "",
        "customer_group_id": r.choice((0, 0, 0, 1, 2)),
        "id": cid,
        "date_modified": iso_z(modified),
        "date_created": iso_z(created),
        "address_count": n_addresses,
        "attribute_count": n_attributes,
        "authentication": {"force_password_reset": r.random() < 0.05},
        "accepts_product_review_abandoned_cart_emails": r.random() < 0.5,
        "origin_channel_id": 1,
        "channel_ids": [1] if cid % 4 else None,
    }
    if "addresses" in includes:
        # customer_Full.addresses: "Array of customer addresses. Limited to 10".
        rec["addresses"] = [
            _customer_address(seed, cid, k, version) for k in range(1, min(n_addresses, 10) + 1)
        ]
    if "attributes" in includes:
        rec["attributes"] = [
            {"attribute_id": k, "attribute_value": f"value {k}", "customer_id": cid,
             "date_created": iso_z(created), "date_modified": iso_z(modified),
             "id": cid * 10 + k}
            for k in range(1, n_attributes + 1)
        ]  # fmt: skip
    if "formfields" in includes:
        rec["form_fields"] = [{"name": "Newsletter", "value": "yes", "customer_id": cid}]
    if "storecredit" in includes:
        rec["store_credit_amounts"] = [{"amount": round(r.uniform(0, 50), 2) if cid % 3 else 0}]
    if "shopper_profile_id" in includes:
        rec["shopper_profile_id"] = str(uuid.UUID(int=mix(seed, 2, cid, 1) << 64 | cid))
    if "segment_ids" in includes:
        rec["segment_ids"] = [str(uuid.UUID(int=mix(seed, 2, k, 2) << 64 | k)) for k in
                              range(cid % 3)]  # fmt: skip
    return rec


def _customer_address(seed: int, cid: int, k: int, version: int) -> dict[str, Any]:
    aid = cid * 20 + k
    first, last = person_name(seed, "addresses", aid)
    city, state, zip_, country, iso2 = _CITIES[mix(seed, 7, aid) % len(_CITIES)]
    return {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address1": f"{k} Main Street",
        "address2": "" if k % 2 else f"Apt {version}",
        "city": city,
        "state_or_province": state,
        "postal_code": zip_,
        "country_code": iso2,
        "phone": "555-123-4567",
        "address_type": "residential" if k % 3 else "commercial",
        "customer_id": cid,
        "id": aid,
        "country": country,
        "form_fields": [],
    }


# --------------------------------------------------------------------------- orders


def _item_amounts(seed: int, oid: int, k: int, version: int) -> tuple[float, int]:
    """Unit price and quantity of line item ``k``: cheap, so order totals can sum them."""
    h = mix(seed, 8, oid, k, version)
    return (h % 20000 + 100) / 100.0, 1 + (h >> 32) % 3


def order_ship_count(seed: int, oid: int) -> int:
    """Shipping addresses of an order (0 for digital orders)."""
    h = mix(seed, 9, oid) % 20
    return 0 if h == 0 else (2 if h < 3 else 1)


def order(
    seed: int, oid: int, created: int, modified: int, version: int, *, archived: bool,
    n_customers: int, store_hash: str, includes: frozenset[str] = frozenset(),
    object_structure: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """An order as ``GET /v2/orders`` returns it (money as 4-decimal strings, RFC-2822 dates)."""
    s = _rng(seed, "orders", oid)
    r = _rng(seed, "orders", oid, version)
    n_items = line_item_count(seed, oid)
    amounts = [_item_amounts(seed, oid, k, version) for k in range(1, n_items + 1)]
    subtotal = sum(p * q for p, q in amounts)
    items_total = sum(q for _, q in amounts)
    n_ship = order_ship_count(seed, oid)
    shipping = 0.0 if n_ship == 0 else float(5 * n_ship)
    tax = round(subtotal * 0.08, 2)
    discount = 5.0 if oid % 7 == 0 else 0.0
    status_id = order_status_id(seed, oid, version)
    shipped = status_id in (2, 3, 10)
    guest = s.random() < 0.15 or n_customers == 0
    first, last = person_name(seed, "orders", oid)
    city, state, zip_, country, iso2 = _CITIES[mix(seed, 3, oid, 9) % len(_CITIES)]
    base = f"https://api.bigcommerce.com/stores/{store_hash}/v2/orders/{oid}"
    total_ex = subtotal + shipping - discount
    rec: dict[str, Any] = {
        "id": oid,
        "date_modified": rfc2822(modified),
        "date_shipped": rfc2822(max(created, modified - 3600)) if shipped else "",
        "cart_id": str(uuid.UUID(int=mix(seed, 3, oid, 1) << 64 | mix(seed, 3, oid, 2))),
        "status": _STATUS_NAMES[status_id],
        "subtotal_tax": money4(tax),
        "shipping_cost_tax": money4(0),
        "shipping_cost_tax_class_id": 2,
        "handling_cost_tax": money4(0),
        "handling_cost_tax_class_id": 2,
        "wrapping_cost_tax": money4(0),
        "wrapping_cost_tax_class_id": 3,
        "payment_status": r.choice(_PAYMENT_STATUS),
        "store_credit_amount": money4(0),
        "gift_certificate_amount": money4(0),
        "currency_id": 1,
        "currency_code": "USD",
        "currency_exchange_rate": rate10(1),
        "default_currency_id": 1,
        "default_currency_code": "USD",
        "store_default_currency_code": "USD",
        "store_default_to_transactional_exchange_rate": rate10(1),
        "coupon_discount": money4(discount),
        "shipping_address_count": n_ship,
        "is_deleted": archived,
        "total_tax": money4(tax),
        "is_tax_inclusive_pricing": False,
        "is_email_opt_in": s.random() < 0.3,
        "order_source": s.choice(_SOURCES),
        "products": {"url": f"{base}/products", "resource": f"/orders/{oid}/products"},
        "shipping_addresses": {
            "url": f"{base}/shippingaddresses",
            "resource": f"/orders/{oid}/shippingaddresses",
        },
        "coupons": {"url": f"{base}/coupons", "resource": f"/orders/{oid}/coupons"},
        "status_id": status_id,
        "billing_address": {
            "first_name": first,
            "last_name": last,
            "company": "",
            "street_1": "455 Main Street",
            "street_2": "",
            "city": city,
            "state": state,
            "zip": zip_,
            "country": country,
            "country_iso2": iso2,
            "phone": "555-123-4567",
            "email": f"buyer{oid}@example.com",
            "form_fields": [],
        },
        "base_handling_cost": money4(0),
        "base_shipping_cost": money4(shipping),
        "base_wrapping_cost": money4(0),
        "channel_id": 1,
        "customer_id": 0 if guest else 1 + mix(seed, 3, oid, 3) % n_customers,
        "customer_message": "" if r.random() < 0.8 else "Merci — ありがとう",
        "date_created": rfc2822(created),
        "discount_amount": money4(0),
        "ebay_order_id": "0",
        "external_id": None,
        "external_merchant_id": None,
        "external_source": None if oid % 10 else "POS",
        "geoip_country": country,
        "geoip_country_iso2": iso2,
        "handling_cost_ex_tax": money4(0),
        "handling_cost_inc_tax": money4(0),
        "ip_address": f"192.0.2.{oid % 250}",
        "ip_address_v6": "",
        "items_shipped": items_total if shipped else 0,
        "items_total": items_total,
        "order_is_digital": n_ship == 0,
        "payment_method": s.choice(_PAYMENT),
        "payment_provider_id": "" if oid % 3 else f"pi_{mix(seed, oid) % 10**10}",
        "refunded_amount": money4(0),
        "shipping_cost_ex_tax": money4(shipping),
        "shipping_cost_inc_tax": money4(shipping),
        "staff_notes": "",
        "subtotal_ex_tax": money4(subtotal),
        "subtotal_inc_tax": money4(subtotal + tax),
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": "en",
        "external_order_id": "",
        "total_ex_tax": money4(total_ex),
        "total_inc_tax": money4(total_ex + tax),
        "wrapping_cost_ex_tax": money4(0),
        "wrapping_cost_inc_tax": money4(0),
        "credit_card_type": None,
        "custom_status": _STATUS_NAMES[status_id],
    }
    if "consignments" in includes or "consignments.line_items" in includes:
        cons = _consignments(seed, oid, version, rec, "consignments.line_items" in includes,
                             base, store_hash)  # fmt: skip
        rec["consignments"] = cons if object_structure else [cons]
    if "fees" in includes:
        rec["fees"] = [] if oid % 4 else [{
            "id": oid, "type": "custom_fee", "display_name_customer": "Package Protection",
            "display_name_merchant": "Package Protection Fee", "source": "v2",
            "base_cost": 2.5, "cost_ex_tax": 2.5, "cost_inc_tax": 2.7, "cost_tax": 0.2,
            "tax_class_id": None,
        }]  # fmt: skip
    return rec


def order_products(
    seed: int, oid: int, version: int, store_hash: str = "abc123"
) -> list[dict[str, Any]]:
    """All line items of an order, as ``GET /v2/orders/{id}/products`` pages through them."""
    n_ship = order_ship_count(seed, oid)
    return [
        _order_product(seed, oid, k, version, n_ship)
        for k in range(1, line_item_count(seed, oid) + 1)
    ]


def _order_product(seed: int, oid: int, k: int, version: int, n_ship: int) -> dict[str, Any]:
    price, qty = _item_amounts(seed, oid, k, version)
    pid = 1 + mix(seed, 8, oid, k) % 1000
    name = product_name(seed, pid)
    tax = round(price * 0.08, 2)
    return {
        "id": oid * 1000 + k,
        "order_id": oid,
        "product_id": pid,
        "order_pickup_method_id": 0,
        "order_address_id": oid * 10 + 1 + (k % n_ship) if n_ship else 0,
        "name": name,
        "sku": f"SKU-{pid:06d}",
        "type": "physical" if n_ship else "digital",
        "base_price": money4(price),
        "price_ex_tax": money4(price),
        "price_inc_tax": money4(price + tax),
        "price_tax": money4(tax),
        "base_total": money4(price * qty),
        "total_ex_tax": money4(price * qty),
        "total_inc_tax": money4((price + tax) * qty),
        "total_tax": money4(tax * qty),
        "quantity": qty,
        "base_cost_price": money4(price / 2),
        "cost_price_inc_tax": money4(price / 2),
        "cost_price_ex_tax": money4(price / 2),
        "weight": "1.0000",
        "width": "1.0000",
        "height": "1.0000",
        "depth": "1.0000",
        "cost_price_tax": money4(0),
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": money4(0),
        "return_id": 0,
        "wrapping_id": 0,
        "wrapping_name": None,
        "base_wrapping_cost": money4(0),
        "wrapping_cost_ex_tax": money4(0),
        "wrapping_cost_inc_tax": money4(0),
        "wrapping_cost_tax": money4(0),
        "wrapping_message": "",
        "quantity_shipped": 0,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": money4(0),
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": "Zoë & Co",
        "applied_discounts": [],
        "product_options": [],
        "configurable_fields": [],
        "upc": "",
        "variant_id": pid * 10 + 1,
        "name_customer": name,
        "name_merchant": name,
        "gift_certificate_id": None,
        "discounted_total_inc_tax": money4((price + tax) * qty),
    }


def order_shipping_addresses(
    seed: int, oid: int, version: int, store_hash: str = "abc123"
) -> list[dict[str, Any]]:
    """Shipping addresses of an order, as ``GET /v2/orders/{id}/shipping_addresses`` returns."""
    n_ship = order_ship_count(seed, oid)
    counts = [0] * n_ship
    for k in range(1, line_item_count(seed, oid) + 1):
        if n_ship:
            counts[k % n_ship] += _item_amounts(seed, oid, k, version)[1]
    out = []
    for j in range(n_ship):
        sid = oid * 10 + 1 + j
        first, last = person_name(seed, "ship", sid)
        city, state, zip_, country, iso2 = _CITIES[mix(seed, 9, sid) % len(_CITIES)]
        out.append({
            "id": sid, "order_id": oid, "items_total": counts[j], "items_shipped": 0,
            "base_cost": money4(5), "cost_ex_tax": money4(5), "cost_inc_tax": money4(5),
            "cost_tax": money4(0), "cost_tax_class_id": 2, "base_handling_cost": money4(0),
            "handling_cost_ex_tax": money4(0), "handling_cost_inc_tax": money4(0),
            "handling_cost_tax": money4(0), "handling_cost_tax_class_id": 2,
            "shipping_zone_id": 1, "shipping_zone_name": country,
            "form_fields": [],
            "shipping_quotes": {
                "url": f"https://api.bigcommerce.com/stores/{store_hash}/v2/orders/{oid}"
                       f"/shipping_addresses/{sid}/shipping_quotes",
                "resource": f"/orders/{oid}/shipping_addresses/{sid}/shipping_quotes",
            },
            "first_name": first, "last_name": last, "company": "",
            "street_1": f"{j + 1} Harbour Road", "street_2": "", "city": city, "state": state,
            "zip": zip_, "country": country, "country_iso2": iso2, "phone": "555-987-6543",
            "email": f"ship{sid}@example.com", "shipping_method": "Flat Rate",
        })  # fmt: skip
    return out


def order_coupon_count(seed: int, oid: int) -> int:
    """Coupons an order with a coupon discount carries: 1 or 2 (orders say only the sum)."""
    return 1 + mix(seed, 12, oid) % 2


def order_coupons(seed: int, oid: int, coupon_discount: str) -> list[dict[str, Any]]:
    """The coupons of an order, as ``GET /v2/orders/{id}/coupons`` lists them.

    None unless the order's ``coupon_discount`` is not zero; their discounts add up to it.
    """
    total = float(coupon_discount or 0)
    if not total:
        return []
    n = order_coupon_count(seed, oid)
    out = []
    for k in range(n):
        r = _rng(seed, "order_coupons", oid * 10 + k)
        kind = r.choice((0, 1, 2, 3, 4, 5))
        share = round(total / n, 2) if k < n - 1 else round(total - round(total / n, 2) * k, 2)
        out.append({
            "id": oid * 10 + 1 + k, "coupon_id": 1 + mix(seed, 12, oid, k) % 40,
            "order_id": oid, "code": f"SAVE{oid}{'AB'[k]}",
            "amount": money4(share) if kind != 1 else money4(10),
            "type": kind, "discount": money4(share),
        })  # fmt: skip
    return out


_CARRIERS = (
    ("ups", "UPS"), ("usps", "USPS"), ("fedex", "FedEx"), ("", ""), ("auspost", "Aus Post"),
)  # fmt: skip


def order_shipments(
    seed: int, oid: int, version: int, created: int, modified: int, items_shipped: int
) -> list[dict[str, Any]]:
    """The shipments of an order, as ``GET /v2/orders/{id}/shipments`` lists them.

    None unless the order has shipped items; else one or two, splitting its line items.
    """
    if not items_shipped:
        return []
    r = _rng(seed, "shipments", oid, version)
    n = 1 + r.randint(0, 1)
    addresses = order_shipping_addresses(seed, oid, version) or [{}]
    products = order_products(seed, oid, version)
    first, last = person_name(seed, "orders", oid)
    city, state, zip_, country, iso2 = _CITIES[mix(seed, 3, oid, 9) % len(_CITIES)]
    billing = {
        "first_name": first, "last_name": last, "company": "", "street_1": "455 Main Street",
        "street_2": "", "city": city, "state": state, "zip": zip_, "country": country,
        "country_iso2": iso2, "phone": "555-123-4567", "email": f"buyer{oid}@example.com",
    }  # fmt: skip
    out = []
    for k in range(n):
        sid = oid * 10 + 1 + k
        address = addresses[k % len(addresses)]
        provider, display = _CARRIERS[mix(seed, 13, sid) % len(_CARRIERS)]
        number = f"1Z{mix(seed, 13, sid, 1) % 10**12:012d}"
        shipping = {key: address.get(key, billing[key]) for key in billing}
        items = [
            {"order_product_id": p["id"], "product_id": p["product_id"], "quantity": p["quantity"]}
            for j, p in enumerate(products)
            if j % n == k
        ]
        out.append({
            "id": sid, "order_id": oid, "customer_id": 0,
            "order_address_id": address.get("id", 0),
            "date_created": rfc2822(created + (modified - created) * (k + 1) // (n + 1)),
            "tracking_number": number, "merchant_shipping_cost": money4(5 * (k + 1)),
            "shipping_method": "Flat Rate", "shipping_provider": provider,
            "tracking_carrier": provider, "tracking_link": "" if r.random() < 0.5 else
            f"https://track.example.com/{number}",
            "comments": "" if r.random() < 0.7 else "Left at the door — merci",
            "billing_address": billing, "shipping_address": shipping, "items": items,
            "shipping_provider_display_name": display,
            "generated_tracking_link": f"https://www.aftership.com/{number}" if provider else "",
        })  # fmt: skip
    return out


_GATEWAYS = ("stripe", "braintree", "testgateway", "paypalexpress", "square", "adyen")


def order_transactions(
    seed: int, oid: int, version: int, created: int, modified: int, total: str
) -> list[dict[str, Any]]:
    """The payment transactions of an order (1 to 3), as ``/v3/orders/{id}/transactions``."""
    r = _rng(seed, "transactions", oid, version)
    n = 1 + r.randint(0, 2)
    events = ("authorization", "capture", "refund")
    amount = round(float(total or 0), 2)
    out = []
    for k in range(n):
        tid = oid * 10 + 1 + k
        gateway = _GATEWAYS[mix(seed, 14, oid) % len(_GATEWAYS)]
        out.append({
            "event": events[k] if n > 1 else "purchase",
            "method": "credit_card" if k < 2 else "store_credit",
            "amount": amount if k < 2 else round(amount / 4, 2),
            "currency": "USD", "gateway": gateway,
            "gateway_transaction_id": f"txn_{mix(seed, 14, tid) % 10**12}",
            "test": r.random() < 0.1, "status": "ok" if r.random() < 0.95 else "error",
            "fraud_review": r.random() < 0.05,
            "reference_transaction_id": tid - 1 if k else None,
            "offline": {"display_name": ""}, "custom": {"payment_method": ""},
            "payment_method_id": f"{gateway}.card", "id": tid, "order_id": oid,
            "date_created": iso_offset(created + (modified - created) * (k + 1) // (n + 1)),
            "payment_instrument_token": f"tok_{mix(seed, 14, tid, 2) % 10**10}",
            "provider_instrument_token": f"pm_{mix(seed, 14, tid, 3) % 10**10}",
            "provider_customer_id": f"cus_{mix(seed, 14, oid, 4) % 10**8}",
            "avs_result": {"code": "Y", "message": "Address and ZIP match",
                           "street_match": "Match", "postal_match": "Match"},
            "cvv_result": {"code": "M", "message": "CVV2 match"},
            "credit_card": {"card_type": "visa", "card_iin": "411111", "card_last4": "1111",
                            "card_expiry_month": 1 + k, "card_expiry_year": 2030},
            "gift_certificate": {"code": "", "original_balance": 0, "starting_balance": 0,
                                 "remaining_balance": 0, "status": "active"},
            "store_credit": {"remaining_balance": 0},
            "custom_provider_field_result": {
                "receipt_number": f"R{tid}", "authorization_code": f"A{tid % 100000:05d}",
                "fraud_response": "", "amount_received": amount,
            },
        })  # fmt: skip
    return out


def _consignments(
    seed: int,
    oid: int,
    version: int,
    order_rec: dict[str, Any],
    with_items: bool,
    base: str,
    store_hash: str,
) -> dict[str, Any]:
    items = order_products(seed, oid, version) if with_items else None
    n_ship = order_ship_count(seed, oid)
    shipping = []
    for addr in order_shipping_addresses(seed, oid, version, store_hash):
        cons: dict[str, Any] = {k: addr[k] for k in fields.SHIPPING_CONSIGNMENT_FIELDS if k in addr}
        for k in (
            "base_cost",
            "cost_ex_tax",
            "cost_inc_tax",
            "cost_tax",
            "base_handling_cost",
            "handling_cost_ex_tax",
            "handling_cost_inc_tax",
            "handling_cost_tax",
        ):
            cons[k] = float(addr[k])  # consignments carry numbers, not money strings
        mine = [i for i in items or () if i["order_address_id"] == addr["id"]]
        if items is None:
            cons["line_items"] = [
                {"url": f"{base}/products/{oid * 1000 + k}",
                 "resource": f"/orders/{oid}/products/{oid * 1000 + k}"}
                for k in range(1, line_item_count(seed, oid) + 1)
                if oid * 10 + 1 + (k % n_ship) == addr["id"]
            ]  # fmt: skip
        else:
            cons["line_items"] = mine[:LINE_ITEM_CAP]
            if len(mine) > LINE_ITEM_CAP:
                # Undocumented, seen in the wild (bigcommerce/docs#960).
                cons["__warning__"] = {
                    "message": "Not all line items of this consignment are returned with this "
                    f"response, only {LINE_ITEM_CAP} are included. Please use the "
                    "`/v2/orders/{order_id}/products` endpoint to fetch all line items."
                }
        shipping.append({k: cons[k] for k in (*fields.SHIPPING_CONSIGNMENT_FIELDS, "__warning__")
                         if k in cons})  # fmt: skip
    downloads = []
    if not shipping:
        downloads.append({
            "recipient_email": order_rec["billing_address"]["email"],
            "line_items": (items[:LINE_ITEM_CAP] if items is not None
                           else {"url": f"{base}/products", "resource": f"/orders/{oid}/products"}),
        })  # fmt: skip
    return {"pickups": [], "shipping": shipping, "downloads": downloads,
            "email": {"gift_certificates": []}}  # fmt: skip


# --------------------------------------------------------------------------- store


def store_information(store_hash: str) -> dict[str, Any]:
    """``GET /v2/store``: the StoreInformation object (41 properties)."""
    return {
        "id": store_hash,
        "account_uuid": "8d4d492f-17a1-4d95-b396-e1c5720815a5",
        "domain": "sandbox.example.com",
        "secure_url": "https://sandbox.example.com",
        "control_panel_base_url": f"https://store-{store_hash}.mybigcommerce.com",
        "status": "live",
        "name": "Sandbox Store — Zoë's Crèmerie 東京",
        "first_name": "Jane",
        "last_name": "Doe",
        "address": "455 Main Street, Austin, Texas",
        "country": "United States",
        "country_code": "US",
        "infrastructure_region": "us-central1",
        "phone": "555-123-4567",
        "admin_email": "admin@example.com",
        "order_email": "orders@example.com",
        "favicon_url": "https://cdn11.bigcommerce.com/img/bc_favicon.ico",
        "timezone": {
            "name": "Etc/UTC",
            "raw_offset": 0,
            "dst_offset": 0,
            "dst_correction": False,
            "date_format": {
                "display": "M jS Y",
                "export": "M jS Y",
                "extended_display": "M jS Y @ g:i A",
            },
        },
        "language": "en",
        "currency": "USD",
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "Ounces",
        "dimension_units": "Inches",
        "dimension_decimal_places": 2,
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": "Sandbox",
        "plan_level": "Sandbox",
        "plan_is_trial": False,
        "industry": "Technology",
        "logo": [],
        "is_price_entered_with_tax": False,
        "store_id": 1000001,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": {
            "stencil_enabled": True,
            "sitewidehttps_enabled": True,
            "facebook_catalog_id": "",
            "checkout_type": "optimized",
            "wishlists_enabled": True,
            "graphql_storefront_api_enabled": True,
            "shopper_consent_tracking_enabled": True,
            "multi_storefront_enabled": False,
            "storefront_limits": {"active": 1, "total_including_inactive": 1},
        },
    }
