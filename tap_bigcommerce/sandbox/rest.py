"""The rest of the store: brands, categories, coupons, currencies ... generated from the spec.

Each resource is a small declaration (`Resource`): its path, flavour, scope, how the API
lets a listing be walked, and how many rows a store holds. Its rows are built from the
spec's types (`spec_types.json`) by one generic generator, with the few fields that must
agree with the rest of the store (ids, references, dates) set by the resource itself, and
spread over the spec's edges like every other record (`spread`). Rows can be created,
changed and deleted while a sync runs; a deleted row vanishes from every listing.
"""

from __future__ import annotations

import time
import typing as t
import zlib
from dataclasses import dataclass, field

from .formats import iso_offset, money4, rfc2822
from .records import mix
from .spec_types import Node, load_tree
from .spread import spread

if t.TYPE_CHECKING:
    from .store import Store

Row = dict[str, t.Any]
#: Builds the fields a row must have right: `(store, row id, the generic row)`.
Fixer = t.Callable[["Store", int, Row], None]


@dataclass(frozen=True)
class Resource:
    """One listing of the rest of the store, as the sandbox serves it."""

    name: str  # the stream's name
    path: str  # route pattern under /stores/{hash}
    flavour: str  # "v2" or "v3"
    scope: str  # one of server.SCOPES
    rows: int  # rows a new store holds
    #: `id:greater` (v3) or `min_id`/`max_id` (v2) filter the listing by id.
    id_filter: bool = False
    #: Sets the fields that must agree with the rest of the store.
    fix: Fixer | None = None
    #: Filters of the form `name:in` on a field of the row (categories' `tree_id:in`).
    in_filters: tuple[str, ...] = ()
    #: v2 dates sent as RFC 2822 text.
    v2_dates: tuple[str, ...] = ()
    #: v2 money sent as 4-decimal text.
    v2_money: tuple[str, ...] = ()
    #: `date_modified:min/max`, `date_modified`, `date_created:min/max` filter the listing.
    date_filter: bool = False
    #: Cursor paging (`after`, `before`) as well as page numbers (v3).
    cursor: bool = False
    #: Rows belong to a row of this resource, named in the path (`/pricelists/{id}/records`)
    #: and in each row's `parent_field`.
    parent: str | None = None
    parent_field: str | None = None
    #: The rows' spec types, where several listings share them (`spec_types.json`).
    schema: str | None = None
    #: `created:min/max` filter the listing on the row's creation (refunds).
    created_filter: bool = False
    #: False where the spec documents no paging (`/v2/order_statuses`): every row, always.
    paged: bool = True


def _fix_category(store: Store, rid: int, row: Row) -> None:
    row["category_id"] = rid
    row["tree_id"] = 1 + rid % 2
    row["parent_id"] = 0 if rid <= 4 else 1 + (rid - 1) % 4


def _fix_tree(store: Store, rid: int, row: Row) -> None:
    row["channels"] = [rid]


def _fix_currency(store: Store, rid: int, row: Row) -> None:
    code = ("USD", "EUR", "JPY", "GBP", "PLN")[(rid - 1) % 5]
    row.update(currency_code=code, is_default=rid == 1, currency_exchange_rate=f"{rid:.10f}")


def _fix_gift_certificate(store: Store, rid: int, row: Row) -> None:
    row["customer_id"] = 1 + rid % max(1, store.count("customers"))
    row["order_id"] = 1 + rid % max(1, store.count("orders"))


def _fix_order_status(store: Store, rid: int, row: Row) -> None:
    from .fields import ORDER_STATUSES

    _, name = ORDER_STATUSES[(rid - 1) % len(ORDER_STATUSES)]
    row.update(name=name, system_label=name, custom_label=name)


def _fix_attribute_value(store: Store, rid: int, row: Row) -> None:
    """A value of an attribute and a customer the store holds."""
    attributes = store.rest.ids("customer_attributes") or [1]
    customers = store.ids("customers") or [1]
    row["attribute_id"] = attributes[rid % len(attributes)]
    row["customer_id"] = customers[rid % len(customers)]


def _fix_subscriber(store: Store, rid: int, row: Row) -> None:
    orders = store.ids("orders") or [1]
    row["order_id"] = orders[rid % len(orders)]
    row["email"] = f"subscriber{rid}@example.com"


def _fix_refund(store: Store, rid: int, row: Row) -> None:
    """A refund of an order the store holds."""
    orders = store.ids("orders") or [1]
    row["order_id"] = orders[rid % len(orders)]


#: Price lists a new store holds; each record belongs to one of these (ids 1..N).
PRICE_LISTS = 3
_PRICE_CURRENCIES = ("USD", "EUR", "JPY", "GBP", "PLN")


def _fix_price_record(store: Store, rid: int, row: Row) -> None:
    """A record of price list 1 + (rid - 1) % PRICE_LISTS, for a variant the store sells.

    (price_list_id, variant_id, currency) is unique: the variants of the store's first
    products, then each again in the next currency.
    """
    variants = store.rest.price_variants()
    n = (rid - 1) // PRICE_LISTS
    product_id, variant_id, sku = variants[n % len(variants)]
    row.update(
        price_list_id=1 + (rid - 1) % PRICE_LISTS,
        variant_id=variant_id,
        product_id=product_id,
        sku=sku,
        currency=_PRICE_CURRENCIES[(n // len(variants)) % len(_PRICE_CURRENCIES)].lower(),
    )


#: Metafields of each resource type: (resource_type, listing path, scope).
METAFIELD_LISTINGS = (
    ("product", r"/v3/catalog/products/metafields", "products"),
    ("variant", r"/v3/catalog/variants/metafields", "products"),
    ("category", r"/v3/catalog/categories/metafields", "products"),
    ("brand", r"/v3/catalog/brands/metafields", "products"),
    ("customer", r"/v3/customers/metafields", "customers"),
    ("order", r"/v3/orders/metafields", "orders"),
    ("channel", r"/v3/channels/metafields", "channels"),
)
#: Metafields of each resource type a new store holds.
METAFIELDS = 6


def _owners(store: Store, resource_type: str) -> list[int]:
    """The live ids of the resources of `resource_type` (variants: of the first products)."""
    if resource_type == "variant":
        return [variant for _, variant, _ in store.rest.price_variants()]
    if resource_type in ("product", "customer", "order"):
        return store.ids(f"{resource_type}s")
    name = {"category": "categories", "brand": "brands", "channel": "channels"}[resource_type]
    return store.rest.ids(name)


def _metafield_fixer(resource_type: str) -> Fixer:
    def fix(store: Store, rid: int, row: Row) -> None:
        owners = _owners(store, resource_type) or [1]
        row.update(resource_type=resource_type, resource_id=owners[(rid - 1) % len(owners)])
        row["key"] = f"key-{rid}"
        row["namespace"] = f"App Namespace {1 + rid % 2}"

    return fix


RESOURCES: tuple[Resource, ...] = (
    Resource("category_trees", r"/v3/catalog/trees", "v3", "products", 2, fix=_fix_tree),
    Resource(
        "categories",
        r"/v3/catalog/trees/categories",
        "v3",
        "products",
        24,
        fix=_fix_category,
        in_filters=("tree_id", "category_id"),
    ),
    Resource("brands", r"/v3/catalog/brands", "v3", "products", 15, id_filter=True),
    Resource("inventory_locations", r"/v3/inventory/locations", "v3", "locations", 3),
    Resource("promotions", r"/v3/promotions", "v3", "marketing", 8),
    Resource(
        "coupons",
        r"/v2/coupons",
        "v2",
        "marketing",
        20,
        id_filter=True,
        v2_dates=("date_created", "expires"),
        v2_money=("amount", "min_purchase"),
    ),
    Resource(
        "gift_certificates",
        r"/v2/gift_certificates",
        "v2",
        "marketing",
        12,
        id_filter=True,
        fix=_fix_gift_certificate,
        v2_dates=("purchase_date", "expiry_date"),
        v2_money=("amount", "balance"),
    ),
    Resource("currencies", r"/v2/currencies", "v2", "information", 3, fix=_fix_currency),
    # Documented: date_modified:min/max and id:in, page/limit and cursors; no sort.
    Resource(
        "price_lists",
        r"/v3/pricelists",
        "v3",
        "products",
        PRICE_LISTS,
        date_filter=True,
        cursor=True,
    ),
    # Documented: date_modified:min/max, variant_id:in, product_id:in, currency, page/limit
    # and cursors; no sort.
    Resource(
        "price_list_records",
        r"/v3/pricelists/(\d+)/records",
        "v3",
        "products",
        8 * PRICE_LISTS,
        fix=_fix_price_record,
        in_filters=("variant_id", "product_id"),
        date_filter=True,
        cursor=True,
        parent="price_lists",
        parent_field="price_list_id",
    ),
    # Documented: date_modified:min/max, date_created:min/max, page/limit; no sort.
    Resource("channels", r"/v3/channels", "v3", "channels", 4, date_filter=True),
    # Documented: date_modified:min/max, date_created:min/max, key, namespace, direction
    # (by id), page/limit and cursors; no sort. Each listing numbers its own rows.
    *(
        Resource(
            f"metafields_{resource_type}",
            path,
            "v3",
            scope,
            METAFIELDS,
            fix=_metafield_fixer(resource_type),
            date_filter=True,
            cursor=True,
            schema="metafields",
        )
        for resource_type, path, scope in METAFIELD_LISTINGS
    ),
    # Documented: nothing (no filter, no paging).
    Resource(
        "order_statuses",
        r"/v2/order_statuses",
        "v2",
        "orders",
        15,
        fix=_fix_order_status,
        paged=False,
    ),
    # Documented: date_created/date_modified (:min/:max), name, is_default, page/limit;
    # default order by id, no sort.
    Resource(
        "customer_groups",
        r"/v2/customer_groups",
        "v2",
        "customers",
        4,
        date_filter=True,
        v2_dates=("date_created", "date_modified"),
    ),
    # Documented: date_created/date_modified (:min/:max), name, type, page/limit; no sort.
    Resource(
        "customer_attributes", r"/v3/customers/attributes", "v3", "customers", 5, date_filter=True
    ),
    # Documented: customer_id:in, attribute_id:in, date_created/date_modified (:min/:max),
    # page/limit; no sort.
    Resource(
        "customer_attribute_values",
        r"/v3/customers/attribute-values",
        "v3",
        "customers",
        12,
        fix=_fix_attribute_value,
        in_filters=("customer_id", "attribute_id"),
        date_filter=True,
    ),
    # Documented: id:in, date_created/date_modified (:min/:max), email, order_id ...,
    # page/limit; no sort.
    Resource(
        "subscribers",
        r"/v3/customers/subscribers",
        "v3",
        "customers",
        10,
        fix=_fix_subscriber,
        date_filter=True,
    ),
    # Documented: order_id:in, id:in, created:min/max, page/limit; ordered by id, no sort.
    Resource(
        "refunds",
        r"/v3/orders/payment_actions/refunds",
        "v3",
        "orders",
        10,
        fix=_fix_refund,
        in_filters=("order_id",),
        created_filter=True,
    ),
)
BY_NAME = {resource.name: resource for resource in RESOURCES}


@dataclass
class _Rows:
    """The live rows of one resource: id -> (date_created, date_modified, version)."""

    state: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    next_id: int = 1


class RestOfStore:
    """The rows of every `Resource` of one store, and the changes made to them."""

    def __init__(self, store: Store, sizes: dict[str, int] | None = None) -> None:
        """Rows as many as each resource's default, or as `sizes` says."""
        self.store = store
        # The store's own lock: a listing is one snapshot of these rows too.
        self._lock = store.lock
        self._price_variants: list[tuple[int, int, str]] | None = None
        self._tables: dict[str, _Rows] = {}
        base = 1_600_000_000 + store.seed % 1000 * 3600
        for resource in RESOURCES:
            rows = _Rows()
            n = (sizes or {}).get(resource.name, resource.rows)
            for k in range(n):
                at = base + k * 61
                rows.state[rows.next_id] = (at, at, 0)
                rows.next_id += 1
            self._tables[resource.name] = rows

    def price_variants(self) -> list[tuple[int, int, str]]:
        """(product id, variant id, sku) of the variants of the store's first products."""
        if self._price_variants is None:
            found = [
                (pid, variant["id"], variant["sku"])
                for pid in self.store.ids("products")[:300]
                for variant in self.store.record("products", pid, ("variants",))["variants"]
            ]
            self._price_variants = found or [(1, 11, "SKU-000001")]
        return self._price_variants

    def state(self, name: str, rid: int) -> tuple[int, int, int]:
        """(date_created, date_modified, version) of one row."""
        with self._lock:
            return self._tables[name].state[rid]

    def ids(self, name: str) -> list[int]:
        """The live ids of `name`, ascending."""
        with self._lock:
            return sorted(self._tables[name].state)

    def row(self, name: str, rid: int) -> Row:
        """One row as the API sends it."""
        with self._lock:
            created, modified, version = self._tables[name].state[rid]
        return build_row(self.store, BY_NAME[name], rid, created, modified, version)

    def delete(self, name: str, ids: t.Iterable[int]) -> None:
        """Rows gone from every listing."""
        with self._lock:
            for rid in ids:
                self._tables[name].state.pop(rid, None)

    def touch(self, name: str, ids: t.Iterable[int], when: int | None = None) -> None:
        """Rows changed now (a new version, `date_modified` moved)."""
        now = int(time.time()) if when is None else when
        with self._lock:
            table = self._tables[name].state
            for rid in ids:
                created, _, version = table[rid]
                table[rid] = (created, now, version + 1)

    def insert(self, name: str, count: int = 1) -> list[int]:
        """New rows, with ids past the largest ever given."""
        now = int(time.time())
        with self._lock:
            rows = self._tables[name]
            new = list(range(rows.next_id, rows.next_id + count))
            for rid in new:
                rows.state[rid] = (now, now, 0)
            rows.next_id += count
        return new


# --------------------------------------------------------------------------- generation


def build_row(
    store: Store, resource: Resource, rid: int, created: int, modified: int, version: int
) -> Row:
    """A row of `resource`: every field its spec documents, typed as the spec types it."""
    node = load_tree()[resource.schema or resource.name]
    salt = mix(store.seed, zlib.crc32(resource.name.encode()), rid, version)
    row = t.cast("Row", _value(node, resource.name, rid, salt, modified, depth=0))
    if "id" in row:
        row["id"] = rid
    for name in ("date_created", "created_at", "created"):
        if name in row:
            row[name] = iso_offset(created)
    for name in ("date_modified", "updated_at", "last_updated"):
        if name in row:
            row[name] = iso_offset(modified)
    if resource.fix is not None:
        resource.fix(store, rid, row)
    spread(resource.schema or resource.name, row, store.seed)
    for name in resource.v2_dates:
        if name in row:
            row[name] = rfc2822(created if name in ("date_created", "purchase_date") else modified)
    for name in resource.v2_money:
        if name in row:
            row[name] = money4((salt % 100_000) / 100)
    return row


def _value(node: Node, name: str, rid: int, salt: int, modified: int, depth: int) -> t.Any:
    """A value of the spec's type for field `name` (deterministic in `salt`)."""
    h = mix(salt, zlib.crc32(name.encode()))
    types = node.get("types") or ["string"]
    if node.get("enum"):
        values = [v for v in node["enum"] if v is not None]
        if values:
            return values[h % len(values)]
    kind = "object" if "object" in types else "array" if "array" in types else types[0]
    if kind == "object":
        if depth > 3:
            return {}
        props = node.get("properties") or {}
        return {k: _value(sub, k, rid, h, modified, depth + 1) for k, sub in props.items()}
    if kind == "array":
        if depth > 3:
            return []
        items = node.get("items") or {"types": ["string"]}
        return [_value(items, name, rid, h + k, modified, depth + 1) for k in range(1 + h % 2)]
    if kind == "integer":
        return int(h % 1000)
    if kind == "number":
        return round((h % 100_000) / 100, 2)
    if kind == "boolean":
        return bool(h % 2)
    if node.get("format") == "date-time":
        return iso_offset(modified)
    if "email" in name:
        return f"{name.replace('_', '.')}{rid}@example.com"
    return f"{name.replace('_', ' ').title()} {rid} — Zoë 東京"


#: Products whose variants have stock rows (`/v3/inventory/items`), from the lowest id.
INVENTORY_PRODUCTS = 10


def inventory_items(store: Store) -> list[Row]:
    """`/v3/inventory/items`: each variant of the first products, with its stock per location.

    Only live locations appear, so a deleted location's rows vanish from the listing.
    """
    locations = [store.rest.row("inventory_locations", lid) for lid in store.rest.ids(
        "inventory_locations")]  # fmt: skip
    items = []
    for pid in store.ids("products")[:INVENTORY_PRODUCTS]:
        product = store.record("products", pid, ("variants",))
        for variant in product.get("variants") or []:
            h = mix(store.seed, variant["id"])
            items.append({
                "identity": {
                    "sku": variant.get("sku"), "variant_id": variant["id"], "product_id": pid,
                    "sku_id": variant.get("sku_id"),
                },
                "locations": [
                    {
                        "location_id": loc["id"], "location_code": loc.get("code"),
                        "location_name": loc.get("label"),
                        "available_to_sell": (h + loc["id"]) % 50,
                        "total_inventory_onhand": (h + loc["id"]) % 50 + 2,
                        "location_enabled": loc.get("enabled"),
                        "settings": {
                            "safety_stock": 2, "is_in_stock": True, "warning_level": 3,
                            "bin_picking_number": f"BIN-{variant['id']}-{loc['id']}",
                        },
                    }
                    for loc in locations
                ],
            })  # fmt: skip
    return items
