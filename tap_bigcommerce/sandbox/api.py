"""The endpoints: query syntax of each flavour → :class:`Query`, page → response body.

Transport-free: every function takes the store and the decoded query and returns a
:class:`Response`; :mod:`server` adds HTTP, auth, quota and faults around it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import fields, records, rest
from .formats import FilterValueError, parse_v2_date, parse_v3_date
from .store import Query, Store

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50


@dataclass
class Response:
    """A response before it hits the wire."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised inside an endpoint; rendered in the flavour's error format."""

    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.errors = status, title, errors or {}


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is, like the real API)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, dumps(obj))


def _v3_list(records_json: list[bytes], meta: dict[str, Any]) -> Response:
    """``{"data": [...], "meta": ...}`` from encoded records: the bytes ``dumps`` would write."""
    return Response(200, b'{"data":[' + b",".join(records_json) + b'],"meta":' + dumps(meta) + b"}")


def _plain_fields(q: dict[str, str]) -> bool:
    """No ``include_fields`` / ``exclude_fields``: records go out whole, from the cache."""
    return not q.get("include_fields") and not q.get("exclude_fields")


def v3_error(status: int, title: str, errors: dict[str, str] | None = None) -> Response:
    """v3 error body: ``{status, title, type, errors}``."""
    return json_response(
        {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}}, status
    )


def v2_error(status: int, message: str) -> Response:
    """v2 error body: a JSON array of ``{status, message}``."""
    return json_response([{"status": status, "message": message}], status)


# ----------------------------------------------------------------------------- parameters


def _int(q: dict[str, str], name: str, default: int | None = None, minimum: int = 1) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "Invalid input", {name: f"'{raw}' is not an integer"}) from None
    if value < minimum:
        raise ApiError(422, "Invalid input", {name: f"must be at least {minimum}"})
    return value


def _int_list(q: dict[str, str], name: str) -> list[int] | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(422, "Invalid input", {name: f"'{raw}' is not a list of integers"}) from None


def _page_limit(q: dict[str, str]) -> tuple[int, int]:
    page = _int(q, "page", 1) or 1
    limit = _int(q, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise ApiError(
            413, f"The maximum number of items per page is {MAX_LIMIT}", {"limit": f"{limit}"}
        )
    return page, limit


def _v3_date(q: dict[str, str], name: str, *, date_only_now: bool) -> int | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        return parse_v3_date(raw, date_only_now=date_only_now)
    except FilterValueError as exc:
        raise ApiError(422, "Invalid input", {name: str(exc)}) from None


def _id_bounds(q: dict[str, str], query: Query) -> None:
    """``id:min`` / ``id:max`` / ``id:greater`` / ``id:less`` / ``id`` / ``id:in``."""
    lows = [v for v in (_int(q, "id:min", minimum=0), _int(q, "id", minimum=0)) if v is not None]
    greater = _int(q, "id:greater", minimum=0)
    if greater is not None:
        lows.append(greater + 1)
    highs = [v for v in (_int(q, "id:max", minimum=0), _int(q, "id", minimum=0)) if v is not None]
    less = _int(q, "id:less", minimum=0)
    if less is not None:
        highs.append(less - 1)
    query.id_min = max(lows) if lows else None
    query.id_max = min(highs) if highs else None
    query.id_in = _int_list(q, "id:in")


def _includes(q: dict[str, str], allowed: tuple[str, ...]) -> frozenset[str]:
    raw = q.get("include", "")
    inc = frozenset(x.strip() for x in raw.split(",") if x.strip())
    bad = sorted(inc - set(allowed))
    if bad:
        raise ApiError(422, "Invalid include", {"include": f"unknown value(s): {', '.join(bad)}"})
    return inc


def _v3_meta(total: int, count: int, page: int, limit: int) -> dict[str, Any]:
    total_pages = (total + limit - 1) // limit
    links: dict[str, str] = {}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    links["current"] = f"?page={page}&limit={limit}"
    if page < total_pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    return {"total": total, "count": count, "per_page": limit, "current_page": page,
            "total_pages": total_pages, "links": links}  # fmt: skip


def _select_fields(rec: dict[str, Any], q: dict[str, str], extra: frozenset[str]) -> dict[str, Any]:
    """``include_fields`` keeps only those keys (+ ``id`` + included sub-resources)."""
    only = q.get("include_fields")
    if only:
        keep = {f.strip() for f in only.split(",")} | {"id"} | extra
        rec = {k: v for k, v in rec.items() if k in keep}
    drop = q.get("exclude_fields")
    if drop:
        gone = {f.strip() for f in drop.split(",")} - {"id"}
        rec = {k: v for k, v in rec.items() if k not in gone}
    return rec


# ----------------------------------------------------------------------------- products

PRODUCT_INCLUDES = (
    "bulk_pricing_rules", "channels", "custom_fields", "images", "modifiers", "options",
    "parent_relations", "primary_image", "reviews", "variants", "videos",
)  # fmt: skip
PRODUCT_SORTS = (
    "id", "name", "sku", "price", "date_modified", "date_last_imported", "inventory_level",
    "is_visible", "total_sold", "calculated_price",
)  # fmt: skip


def list_products(store: Store, q: dict[str, str]) -> Response:
    """``GET /v3/catalog/products``."""
    page, limit = _page_limit(q)
    inc = _includes(q, PRODUCT_INCLUDES)
    if inc & {"options", "modifiers"}:
        limit = min(limit, 10)  # documented: options/modifiers limit results to 10 per page
    query = Query()
    _id_bounds(q, query)
    query.dm_min = _v3_date(q, "date_modified:min", date_only_now=True)
    query.dm_max = _v3_date(q, "date_modified:max", date_only_now=True)
    exact = _v3_date(q, "date_modified", date_only_now=True)
    if exact is not None:
        query.dm_min = query.dm_max = exact
    sort = q.get("sort", "id")
    if sort not in PRODUCT_SORTS:
        raise ApiError(422, "Invalid sort", {"sort": f"must be one of {', '.join(PRODUCT_SORTS)}"})
    direction = q.get("direction", "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(422, "Invalid direction", {"direction": "must be asc or desc"})
    query.sort, query.desc = sort, direction == "desc"
    if sort not in ("id", "date_modified"):
        query.sort_key = _product_sort_key(store, sort)
    not_in = _int_list(q, "id:not_in")
    if not_in:
        excluded = set(not_in)
        query.predicate = lambda i: i not in excluded
    total, ids = store.select("products", query, (page - 1) * limit, limit)
    include_set = frozenset(fields.PRODUCT_INCLUDE_FIELDS[k] for k in fields.PRODUCT_INCLUDE_FIELDS
                            if fields.PRODUCT_INCLUDE_FIELDS[k] in inc)  # fmt: skip
    if _plain_fields(q):
        cached = [store.record_json("products", i, inc) for i in ids]
        return _v3_list(cached, {"pagination": _v3_meta(total, len(cached), page, limit)})
    data = [_select_fields(store.record("products", i, inc), q, include_set) for i in ids]
    return json_response(
        {"data": data, "meta": {"pagination": _v3_meta(total, len(data), page, limit)}}
    )


#: ``status`` filter of the reviews listing: ``1`` approved, ``0`` pending.
REVIEW_STATUS = {"1": "approved", "0": "pending"}


def list_product_reviews(store: Store, q: dict[str, str], pid: int) -> Response:
    """``GET /v3/catalog/products/{id}/reviews``: as many as the product's ``reviews_count``.

    404 for an unknown product, 204 for one without reviews (as the spec lists), else the v3
    envelope, paged by page/limit (past the end: an empty page).
    """
    page, limit = _page_limit(q)
    status = q.get("status")
    if status is not None and status not in REVIEW_STATUS:
        raise ApiError(422, "Invalid input", {"status": "must be 0 or 1"})
    try:
        created, modified, version, _ = store.state("products", pid)
    except KeyError:
        raise ApiError(404, "The requested resource was not found.") from None
    count = store.record("products", pid)["reviews_count"] or 0
    rows = store.spread(
        "product_reviews",
        records.product_reviews(store.seed, pid, version, count, created, modified),
    )
    if not rows:
        return Response(204)
    if status is not None:
        rows = [row for row in rows if row["status"] == REVIEW_STATUS[status]]
    chunk = [_select_fields(row, q, frozenset()) for row in rows[(page - 1) * limit : page * limit]]
    return json_response(
        {"data": chunk, "meta": {"pagination": _v3_meta(len(rows), len(chunk), page, limit)}}
    )


def _product_sort_key(store: Store, sort: str) -> Callable[[int], Any]:
    if sort == "name":
        return lambda i: records.product_name(store.seed, i).lower()
    if sort == "date_last_imported":
        imported = store.table("products").imported
        return lambda i: imported.get(i, 0)
    # Other fields need the full record: fine for the sizes anyone sorts by them in a test.
    return lambda i: store.record("products", i)[sort]


# ----------------------------------------------------------------------------- customers

CUSTOMER_INCLUDES = (
    "addresses", "storecredit", "attributes", "formfields", "shopper_profile_id", "segment_ids",
)  # fmt: skip
CUSTOMER_SORTS = {
    "date_created:asc": ("id", False), "date_created:desc": ("id", True),
    "date_modified:asc": ("date_modified", False), "date_modified:desc": ("date_modified", True),
    "last_name:asc": ("last_name", False), "last_name:desc": ("last_name", True),
}  # fmt: skip


def encode_cursor(rid: int) -> str:
    """Customer cursor: base64 of ``id:<n>``."""
    return base64.b64encode(f"id:{rid}".encode()).decode()


def decode_cursor(raw: str, name: str) -> int:
    """Read a cursor; both ``id:<n>`` and ``{"id": n}`` payloads seen in the docs work."""
    try:
        text = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=False).decode()
        if text.startswith("{"):
            return int(json.loads(text)["id"])
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(text)
        return int(value)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "Invalid cursor", {name: f"'{raw}' is not a valid cursor"}) from None


def list_customers(store: Store, q: dict[str, str]) -> Response:
    """``GET /v3/customers`` with page and cursor pagination."""
    page, limit = _page_limit(q)
    inc = _includes(q, CUSTOMER_INCLUDES)
    query = Query()
    query.id_in = _int_list(q, "id:in")
    # Timezone-less values are read as UTC; a date alone means midnight.
    query.dm_min = _v3_date(q, "date_modified:min", date_only_now=False)
    query.dm_max = _v3_date(q, "date_modified:max", date_only_now=False)
    query.dc_min = _v3_date(q, "date_created:min", date_only_now=False)
    query.dc_max = _v3_date(q, "date_created:max", date_only_now=False)
    emails = q.get("email:in")
    if emails:
        wanted = {e.strip().lower() for e in emails.split(",")}
        query.predicate = lambda i: f"customer{i}@example.com" in wanted
    sort = q.get("sort")
    if sort is not None:
        if sort not in CUSTOMER_SORTS:
            allowed = ", ".join(CUSTOMER_SORTS)
            raise ApiError(422, "Invalid sort", {"sort": f"must be one of {allowed}"})
        query.sort, query.desc = CUSTOMER_SORTS[sort]
        if query.sort == "last_name":
            query.sort_key = lambda i: records.person_name(store.seed, "customers", i)[1]
    after, before = q.get("after"), q.get("before")
    cursor_mode = after is not None or before is not None
    if cursor_mode:
        # "page will be ignored if you provide before or after"; cursors walk ids ascending.
        query.sort, query.desc, query.sort_key = "id", False, None
        if after is not None:
            lo = decode_cursor(after, "after") + 1
            query.id_min = lo if query.id_min is None else max(query.id_min, lo)
            total, ids = store.select("customers", query, 0, limit)
        else:
            hi = decode_cursor(before or "", "before") - 1
            query.id_max = hi
            query.desc = True
            total, ids = store.select("customers", query, 0, limit)
            ids.reverse()
    else:
        total, ids = store.select("customers", query, (page - 1) * limit, limit)
    meta: dict[str, Any] = {}
    if not cursor_mode:
        meta["pagination"] = _v3_meta(total, len(ids), page, limit)
    if cursor_mode or page == 1:
        meta["cursor_pagination"] = _cursor_meta(store, query, ids, limit, total, cursor_mode,
                                                 after is not None)  # fmt: skip
    if _plain_fields(q):
        return _v3_list([store.record_json("customers", i, inc) for i in ids], meta)
    data = [store.record("customers", i, inc) for i in ids]
    data = [_select_fields(r, q, frozenset(fields.CUSTOMER_INCLUDE_FIELDS)) for r in data]
    return json_response({"data": data, "meta": meta})


def list_customer_addresses(store: Store, q: dict[str, str]) -> Response:
    """``GET /v3/customers/addresses``: page/limit and ``customer_id:in`` (no date filter)."""
    page, limit = _page_limit(q)
    wanted = _int_list(q, "customer_id:in")
    customer_ids = wanted if wanted is not None else store.ids("customers")
    rows: list[dict[str, Any]] = []
    for cid in sorted(set(customer_ids)):
        try:
            rows.extend(store.customer_addresses(cid))
        except KeyError:  # no such customer, or deleted
            continue
    chunk = rows[(page - 1) * limit : page * limit]
    return json_response(
        {"data": chunk, "meta": {"pagination": _v3_meta(len(rows), len(chunk), page, limit)}}
    )


def _cursor_meta(
    store: Store, query: Query, ids: list[int], limit: int, total: int, cursor_mode: bool,
    forward: bool,
) -> dict[str, Any]:  # fmt: skip
    start = encode_cursor(ids[0]) if ids else None
    end = encode_cursor(ids[-1]) if ids else None
    links: dict[str, str] = {}
    if ids:
        # Is there anything before the first / after the last returned record?
        probe = Query(
            id_in=query.id_in, dm_min=query.dm_min, dm_max=query.dm_max, dc_min=query.dc_min,
            dc_max=query.dc_max, predicate=query.predicate,
        )  # fmt: skip
        probe.id_max = ids[0] - 1
        has_prev = store.select("customers", probe, 0, 1)[0] > 0
        if not cursor_mode or forward:
            has_next = total > len(ids)
        else:
            probe.id_max, probe.id_min = None, ids[-1] + 1
            has_next = store.select("customers", probe, 0, 1)[0] > 0
        if has_prev:
            links["previous"] = f"?limit={limit}&before={quote(start or '', safe='')}"
        links["current"] = (
            f"?limit={limit}"
            if not cursor_mode
            else f"?limit={limit}&after={quote(encode_cursor(ids[0] - 1), safe='')}"
        )
        if has_next:
            links["next"] = f"?limit={limit}&after={quote(end or '', safe='')}"
    else:
        links["current"] = f"?limit={limit}"
    return {"count": len(ids), "per_page": limit, "start_cursor": start, "end_cursor": end,
            "links": links}  # fmt: skip


# ----------------------------------------------------------------------------- orders (v2)

ORDER_SORTS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id",
               "external_id")  # fmt: skip
ORDER_INCLUDES = ("consignments", "consignments.line_items", "fees")
_V2_INT = re.compile(r"^\d+$")


def _v2_int(q: dict[str, str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    if not _V2_INT.match(raw):
        raise ApiError(400, f"The field '{name}' is invalid.")
    return int(raw)


def _v2_date(q: dict[str, str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        return parse_v2_date(raw)
    except FilterValueError:
        raise ApiError(400, f"The field '{name}' is invalid: '{raw}'.") from None


def _v2_page_limit(q: dict[str, str]) -> tuple[int, int]:
    page = _v2_int(q, "page") or 1
    limit = _v2_int(q, "limit") or DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise ApiError(413, f"The maximum limit is {MAX_LIMIT}.")
    return page, limit


def order_query(store: Store, q: dict[str, str]) -> Query:
    """Translate the v2 order filters (shared by the list and ``/count``)."""
    query = Query()
    query.id_min, query.id_max = _v2_int(q, "min_id"), _v2_int(q, "max_id")
    query.dm_min = _v2_date(q, "min_date_modified")
    query.dm_max = _v2_date(q, "max_date_modified")
    query.dc_min, query.dc_max = _v2_date(q, "min_date_created"), _v2_date(q, "max_date_created")
    # is_deleted is not a documented list parameter (orders.v2.oas2.yml documents only the
    # field, :4396 "deleted/archived"); like the Control Panel, archived orders are hidden
    # unless is_deleted=true is asked for, which then lists only the archived ones.
    deleted = q.get("is_deleted", "false").lower()
    if deleted not in ("true", "false", "1", "0"):
        raise ApiError(400, "The field 'is_deleted' is invalid.")
    query.archived = deleted in ("true", "1")
    status = _v2_int(q, "status_id")
    if status is not None:
        t = store.table("orders")
        query.predicate = lambda i: records.order_status_id(store.seed, i, t.version[i]) == status
    sort = q.get("sort", "id")
    name, _, direction = sort.partition(":")
    if name not in ORDER_SORTS or direction not in ("", "asc", "desc"):
        raise ApiError(400, f"The field 'sort' is invalid: '{sort}'.")
    query.desc = direction == "desc"
    query.sort = name
    if name == "status_id":
        t = store.table("orders")
        query.sort_key = lambda i: records.order_status_id(store.seed, i, t.version[i])
    elif name in ("customer_id", "channel_id", "external_id"):
        query.sort_key = lambda i: store.record("orders", i)[name] or 0
    return query


def list_orders(store: Store, q: dict[str, str]) -> Response:
    """``GET /v2/orders``: a plain array; 204 with no body when the page is empty."""
    page, limit = _v2_page_limit(q)
    inc = _includes_v2(q)
    query = order_query(store, q)
    _, ids = store.select("orders", query, (page - 1) * limit, limit)
    if not ids:
        return Response(204)
    obj = q.get("consignment_structure") == "object"
    cached = [store.record_json("orders", i, inc, object_structure=obj) for i in ids]
    return Response(200, b"[" + b",".join(cached) + b"]")


def _includes_v2(q: dict[str, str]) -> frozenset[str]:
    inc = frozenset(x.strip() for x in q.get("include", "").split(",") if x.strip())
    bad = sorted(inc - set(ORDER_INCLUDES))
    if bad:
        raise ApiError(400, f"The field 'include' is invalid: {', '.join(bad)}.")
    return inc


def count_orders(store: Store, q: dict[str, str]) -> Response:
    """``GET /v2/orders/count``: ``{count, statuses}`` under the same filters."""
    query = order_query(store, q)
    with store.lock:
        _, ids = store.select("orders", query)
        version = store.table("orders").version
        per_status: dict[int, int] = {}
        for i in ids:
            sid = records.order_status_id(store.seed, i, version[i])
            per_status[sid] = per_status.get(sid, 0) + 1
    statuses = [
        {"id": sid, "name": name, "system_label": name, "custom_label": name,
         "system_description": f"{name} orders.", "count": per_status.get(sid, 0),
         "sort_order": pos}
        for pos, (sid, name) in enumerate(fields.ORDER_STATUSES)
    ]  # fmt: skip
    return json_response({"count": len(ids), "statuses": statuses})


def _order_state(store: Store, oid: int) -> tuple[int, int, int, bool]:
    try:
        return store.state("orders", oid)
    except KeyError:
        raise ApiError(404, "The requested resource was not found.") from None


def get_order(store: Store, q: dict[str, str], oid: int) -> Response:
    """``GET /v2/orders/{id}``."""
    _order_state(store, oid)
    obj = q.get("consignment_structure") == "object"
    return Response(200, store.record_json("orders", oid, _includes_v2(q), object_structure=obj))


def order_sub(store: Store, q: dict[str, str], oid: int, what: str) -> Response:
    """``/v2/orders/{id}/products`` and ``/shipping_addresses``: paged arrays, 204 past the end."""
    page, limit = _v2_page_limit(q)
    _, _, version, _ = _order_state(store, oid)
    if what == "products":
        stream, build = "order_products", records.order_products
    else:
        stream, build = "order_shipping_addresses", records.order_shipping_addresses
    items = store.spread(stream, build(store.seed, oid, version, store.store_hash))
    chunk = items[(page - 1) * limit : page * limit]
    return json_response(chunk) if chunk else Response(204)


def order_coupons(store: Store, q: dict[str, str], oid: int) -> Response:
    """``GET /v2/orders/{id}/coupons``: those of an order with a coupon discount; 204 if none."""
    page, limit = _v2_page_limit(q)
    _order_state(store, oid)
    order = store.record("orders", oid)
    rows = store.spread(
        "order_coupons", records.order_coupons(store.seed, oid, order["coupon_discount"])
    )
    chunk = rows[(page - 1) * limit : page * limit]
    return json_response(chunk) if chunk else Response(204)


def order_shipments(store: Store, q: dict[str, str], oid: int) -> Response:
    """``GET /v2/orders/{id}/shipments``: those of an order with shipped items; 204 if none."""
    page, limit = _v2_page_limit(q)
    created, modified, version, _ = _order_state(store, oid)
    shipped = store.record("orders", oid)["items_shipped"] or 0
    rows = store.spread(
        "order_shipments",
        records.order_shipments(store.seed, oid, version, created, modified, shipped),
    )
    chunk = rows[(page - 1) * limit : page * limit]
    return json_response(chunk) if chunk else Response(204)


def order_transactions(store: Store, q: dict[str, str], oid: int) -> Response:
    """``GET /v3/orders/{id}/transactions``: the v3 envelope, paged by page/limit.

    404 (v3 body) for an unknown order; 204 past the last page.
    """
    page, limit = _page_limit(q)
    created, modified, version, _ = _order_state(store, oid)
    total = store.record("orders", oid)["total_inc_tax"]
    rows = store.spread(
        "order_transactions",
        records.order_transactions(store.seed, oid, version, created, modified, total),
    )
    chunk = rows[(page - 1) * limit : page * limit]
    if not chunk:
        return Response(204)
    return json_response(
        {"data": chunk, "meta": {"pagination": _v3_meta(len(rows), len(chunk), page, limit)}}
    )


# ----------------------------------------------------------------------------- store info


def store_info(store: Store, q: dict[str, str]) -> Response:
    """``GET /v2/store``."""
    return json_response(records.store_information(store.store_hash))


def server_time(store: Store, q: dict[str, str]) -> Response:
    """``GET /v2/time``."""
    return json_response({"time": int(time.time())})


# ----------------------------------------------------------------------------- the rest


def _rest_rows(
    store: Store, q: dict[str, str], resource: rest.Resource, parent: int | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The rows a listing of `resource` answers, in id order, filtered as asked: (id, row).

    Listings that document no `sort` are in id order whatever `sort` says (ignored, as
    undocumented parameters are).
    """
    ids = store.rest.ids(resource.name)
    if resource.parent is not None and parent not in store.rest.ids(resource.parent):
        raise ApiError(404, f"{resource.parent} {parent} was not found")
    if resource.id_filter:
        if resource.flavour == "v3":
            greater = _int(q, "id:greater", minimum=0)
            low = None if greater is None else greater + 1
            high = None
        else:
            low, high = _v2_int(q, "min_id"), _v2_int(q, "max_id")
        ids = [i for i in ids if (low is None or i >= low) and (high is None or i <= high)]
    wanted = _int_list(q, "id:in")
    if wanted is not None:
        ids = [i for i in ids if i in set(wanted)]
    if resource.date_filter:
        ids = _dated(store, q, resource.name, ids)
    if resource.created_filter:
        ids = _created(store, q, resource.name, ids)
    rows = [(i, store.rest.row(resource.name, i)) for i in ids]
    if resource.parent_field is not None:
        rows = [(i, r) for i, r in rows if r.get(resource.parent_field) == parent]
    for name in resource.in_filters:
        values = _int_list(q, f"{name}:in")
        if values is not None:
            rows = [(i, r) for i, r in rows if r.get(name) in set(values)]
    if resource.name == "price_list_records":
        currencies = q.get("currency:in", q.get("currency"))
        if currencies:
            wanted_codes = {c.strip().lower() for c in currencies.split(",")}
            rows = [(i, r) for i, r in rows if r.get("currency") in wanted_codes]
    return rows


def _dated(store: Store, q: dict[str, str], name: str, ids: list[int]) -> list[int]:
    """`date_modified:min/max` (inclusive), `date_modified`, `date_created:min/max`."""
    low = _v3_date(q, "date_modified:min", date_only_now=False)
    high = _v3_date(q, "date_modified:max", date_only_now=False)
    exact = _v3_date(q, "date_modified", date_only_now=False)
    if exact is not None:
        low = high = exact
    created_low = _v3_date(q, "date_created:min", date_only_now=False)
    created_high = _v3_date(q, "date_created:max", date_only_now=False)
    kept = []
    for i in ids:
        created, modified, _ = store.rest.state(name, i)
        if (low is not None and modified < low) or (high is not None and modified > high):
            continue
        if (created_low is not None and created < created_low) or (
            created_high is not None and created > created_high
        ):
            continue
        kept.append(i)
    return kept


def _created(store: Store, q: dict[str, str], name: str, ids: list[int]) -> list[int]:
    """`created:min/max` (inclusive), on the row's creation (refunds)."""
    low = _v3_date(q, "created:min", date_only_now=False)
    high = _v3_date(q, "created:max", date_only_now=False)
    kept = []
    for i in ids:
        created = store.rest.state(name, i)[0]
        if (low is None or created >= low) and (high is None or created <= high):
            kept.append(i)
    return kept


def _rest_cursor_meta(chunk: list[int], more: bool, before: bool, limit: int) -> dict[str, Any]:
    start = encode_rest_cursor(chunk[0]) if chunk else None
    end = encode_rest_cursor(chunk[-1]) if chunk else None
    links: dict[str, str] = {}
    if more and end is not None and not before:
        links["next"] = f"?limit={limit}&after={quote(end, safe='')}"
    if more and start is not None and before:
        links["previous"] = f"?limit={limit}&before={quote(start, safe='')}"
    return {"count": len(chunk), "per_page": limit, "start_cursor": start, "end_cursor": end,
            "links": links}  # fmt: skip


def encode_rest_cursor(rid: int) -> str:
    """A price-list cursor, as in the spec's examples: base64 of the id (`Nw==` is 7)."""
    return base64.b64encode(str(rid).encode()).decode()


def decode_rest_cursor(raw: str, name: str) -> int:
    """Read a cursor written by `encode_rest_cursor`."""
    try:
        return int(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "Invalid cursor", {name: f"'{raw}' is not a valid cursor"}) from None


def list_rest(store: Store, q: dict[str, str], name: str, parent: int | None = None) -> Response:
    """A listing of the rest of the store: a v3 envelope, or a v2 array (204 when empty).

    A v3 listing with cursors: `after`/`before` (not with `page`) answer only
    `cursor_pagination`; `page` only `pagination`; neither, both (as the spec says).
    """
    resource = rest.BY_NAME[name]
    if resource.flavour == "v3":
        page, limit = _page_limit(q)
        rows = _rest_rows(store, q, resource, parent)
        after, before = q.get("after"), q.get("before")
        if resource.cursor and (after is not None or before is not None):
            if after is not None and before is not None:
                raise ApiError(422, "Invalid input", {"after": "cannot be used with 'before'"})
            if "page" in q:
                raise ApiError(422, "Invalid input", {"page": "cannot be used with a cursor"})
            if after is not None:
                lo = decode_rest_cursor(after, "after")
                rest_rows = [(i, r) for i, r in rows if i > lo]
                picked = rest_rows[:limit]
            else:
                hi = decode_rest_cursor(before or "", "before")
                rest_rows = [(i, r) for i, r in rows if i < hi]
                picked = rest_rows[-limit:]
            more = len(rest_rows) > len(picked)
            chunk_ids = [i for i, _ in picked]
            cursor_meta = _rest_cursor_meta(chunk_ids, more, before is not None, limit)
            return json_response(
                {"data": [r for _, r in picked], "meta": {"cursor_pagination": cursor_meta}}
            )
        picked = rows[(page - 1) * limit : page * limit]
        chunk = [r for _, r in picked]
        meta: dict[str, Any] = {"pagination": _v3_meta(len(rows), len(chunk), page, limit)}
        if resource.cursor and "page" not in q:
            meta["cursor_pagination"] = _rest_cursor_meta(
                [i for i, _ in picked], len(rows) > len(picked), False, limit
            )
        return json_response({"data": chunk, "meta": meta})
    if not resource.paged:
        # Documented without page or limit: every row, whatever is asked.
        everything = [r for _, r in _rest_rows(store, q, resource)]
        return json_response(everything) if everything else Response(204)
    page, limit = _v2_page_limit(q)
    chunk = [r for _, r in _rest_rows(store, q, resource)[(page - 1) * limit : page * limit]]
    return json_response(chunk) if chunk else Response(204)


def list_inventory_items(store: Store, q: dict[str, str]) -> Response:
    """``GET /v3/inventory/items``: variants with their stock per location, page/limit."""
    page, limit = _page_limit(q)
    items = rest.inventory_items(store)
    variants = _int_list(q, "variant_id:in")
    if variants is not None:
        items = [i for i in items if i["identity"]["variant_id"] in set(variants)]
    locations = _int_list(q, "location_id:in")
    if locations is not None:
        for item in items:
            item["locations"] = [x for x in item["locations"] if x["location_id"] in locations]
    chunk = items[(page - 1) * limit : page * limit]
    meta = {"pagination": _v3_meta(len(items), len(chunk), page, limit)}
    return json_response({"data": chunk, "meta": meta})
