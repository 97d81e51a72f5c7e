"""Four child streams of orders: coupons, shipments and transactions per order, fees inside.

Over real HTTP against the sandbox: the rows are exactly the sandbox's, the per-order
endpoints are asked once for each order that has rows (transactions: each order, only when
selected), never before STATE that covers their order is out, and faults are retried.
"""

from __future__ import annotations

import collections
import decimal
import json
import typing as t

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store, api
from tap_bigcommerce.sandbox.server import SCOPES
from tap_bigcommerce.streams import OrderCouponsStream, OrderShipmentsStream
from tests.taprun import STORE_HASH, TOKEN, run_tap, sandbox_config, select_only

CHILDREN = ("order_coupons", "order_shipments", "order_transactions", "order_fees")
#: The endpoint of each per-order child (the last part of its path).
ENDPOINTS = {
    "order_coupons": "coupons",
    "order_shipments": "shipments",
    "order_transactions": "transactions",
}
_LISTS = {
    "order_coupons": api.order_coupons,
    "order_shipments": api.order_shipments,
    "order_transactions": api.order_transactions,
}


def _served(store: Store, stream: str, oid: int) -> list[dict]:
    """The rows the sandbox serves for one order now, each with its `order_id`."""
    if stream == "order_fees":
        rows = store.record("orders", oid, ("fees",))["fees"]
    else:
        answer = _LISTS[stream](store, {"limit": "250"}, oid)
        body = json.loads(answer.body) if answer.status == 200 else []
        rows = body["data"] if isinstance(body, dict) else body
    return [{**row, "order_id": oid} for row in rows]


def _keys(rows: t.Iterable[dict]) -> list[tuple]:
    return sorted((row["order_id"], row["id"]) for row in rows)


def _asked(sb: Sandbox) -> dict[str, collections.Counter]:
    """Requests to each per-order endpoint, per order."""
    asked: dict[str, collections.Counter] = {s: collections.Counter() for s in ENDPOINTS}
    for request in sb.requests:
        parts = request.path.rstrip("/").split("/")
        for stream, last in ENDPOINTS.items():
            if parts[-1] == last and parts[-3] == "orders":
                asked[stream][int(parts[-2])] += 1
    return asked


def _serve(store: Store, **kwargs: t.Any) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)


def _catalog(config: dict, names: t.Iterable[str]) -> dict:
    return select_only(json.loads(run_tap(config, "--discover").stdout), ("orders", *names))


@pytest.fixture(scope="module")
def synced():
    store = Store(seed=51, products=2, customers=5, orders=150, plateau=0)
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url)
        catalog = _catalog(config, CHILDREN)
        sb.reset_log()
        run = run_tap(config, catalog=catalog)
        assert run.returncode == 0, run.stderr
        yield store, sb, run


def test_the_has_rows_tests_read_text_and_decimals_alike():
    coupons = OrderCouponsStream.replication.has_rows
    for value in ("0.0000", decimal.Decimal("0"), 0, None, "", "0"):
        assert not coupons({"coupon_discount": value}), value
    for value in ("5.0000", decimal.Decimal("5.0000"), 5, 0.01):
        assert coupons({"coupon_discount": value}), value
    shipments = OrderShipmentsStream.replication.has_rows
    assert shipments({"items_shipped": 2}) and shipments({"items_shipped": decimal.Decimal("0.5")})
    assert not shipments({"items_shipped": 0}) and not shipments({"items_shipped": None})


@pytest.mark.parametrize("stream", CHILDREN)
def test_a_full_sync_gives_exactly_the_sandboxs_rows_with_their_order_id(synced, stream):
    store, _, run = synced
    truth = [row for oid in store.ids("orders") for row in _served(store, stream, oid)]
    assert len(truth) > 10, "too few rows to tell"
    written = run.records(stream)
    assert _keys(written) == _keys(truth)
    assert all(isinstance(row["order_id"], int) for row in written)
    keys = {m["stream"]: m["key_properties"] for m in run.messages if m["type"] == "SCHEMA"}
    assert keys[stream] == ["store_hash", "id", "order_id"]


def test_each_per_order_endpoint_is_asked_once_for_each_order_that_has_rows(synced):
    store, sb, _ = synced
    orders = {oid: store.record("orders", oid) for oid in store.ids("orders")}
    expected = {
        "order_coupons": {o for o, r in orders.items() if decimal.Decimal(r["coupon_discount"])},
        "order_shipments": {o for o, r in orders.items() if (r["items_shipped"] or 0) > 0},
        "order_transactions": set(orders),
    }
    asked = _asked(sb)
    for stream, oids in expected.items():
        assert len(oids) > 0, stream
        assert asked[stream] == collections.Counter(dict.fromkeys(oids, 1)), stream
    assert len(expected["order_coupons"]) < len(orders) > len(expected["order_shipments"])


def test_order_transactions_is_opt_in_and_costs_nothing_unless_selected():
    store = Store(seed=52, products=2, customers=2, orders=40, plateau=0)
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url)
        discovered = json.loads(run_tap(config, "--discover").stdout)
        roots = {
            s["stream"]: next(m["metadata"] for m in s["metadata"] if not m["breadcrumb"])
            for s in discovered["streams"]
        }
        assert roots["order_transactions"]["selected"] is False
        assert roots["order_transactions"]["selected-by-default"] is False
        assert all(roots[s]["selected"] for s in ("orders", *CHILDREN[:2], "order_fees"))
        sb.reset_log()
        default = run_tap(config)  # no catalog: every stream selected by default
        by_default = _asked(sb)
        sb.reset_log()
        deselected = run_tap(config, catalog=_catalog(config, ()))
        orders_only = _asked(sb)
    assert default.returncode == 0 and deselected.returncode == 0, default.stderr
    assert not default.records("order_transactions") and default.records("order_coupons")
    assert not by_default["order_transactions"] and by_default["order_coupons"]
    assert all(not counts for counts in orders_only.values())
    assert deselected.records("orders") and not deselected.records("order_coupons")


def test_child_rows_come_before_the_state_that_covers_their_order():
    # STATE is written every 1,000 orders: past 2,000 there are two mid-stream.
    store = Store(seed=53, products=1, customers=5, orders=2100, plateau=0)
    with _serve(store) as sb:
        config = sandbox_config(sb.api_url)
        run = run_tap(config, catalog=_catalog(config, CHILDREN[:3]))
    assert run.returncode == 0, run.stderr
    wanted = {
        stream: collections.Counter(
            oid for oid in store.ids("orders") for _ in _served(store, stream, oid)
        )
        for stream in CHILDREN[:3]
    }
    covered: list[int] = []
    rows: dict[str, collections.Counter] = {s: collections.Counter() for s in CHILDREN[:3]}
    states = 0
    for message in run.messages:
        if message["type"] == "RECORD" and message["stream"] == "orders":
            covered.append(message["record"]["id"])
        elif message["type"] == "RECORD" and message["stream"] in rows:
            rows[message["stream"]][message["record"]["order_id"]] += 1
        elif message["type"] == "STATE" and message["value"].get("bookmarks", {}).get("orders"):
            states += 1
            for stream, counts in rows.items():
                behind = [oid for oid in covered if counts[oid] != wanted[stream][oid]]
                assert not behind, f"STATE covers orders whose {stream} are not out: {behind[:5]}"
    assert states >= 2


@pytest.mark.parametrize("kind", ["500", "429", "reset"])
def test_a_fault_on_a_per_order_endpoint_is_retried_and_loses_nothing(kind):
    store = Store(seed=54, products=2, customers=2, orders=80, plateau=0)
    with _serve(store) as sb:
        sb.set_quota(None, window_ms=600)
        sb.faults.add(kind, path_contains="/shipments", nth=2, times=2)
        sb.faults.add(kind, path_contains="/transactions", nth=5, times=1)
        config = sandbox_config(sb.api_url)
        run = run_tap(config, catalog=_catalog(config, CHILDREN))
        injected = dict(sb.faults.injected)
    assert run.returncode == 0, run.stderr
    assert injected == {kind: 3}
    for stream in CHILDREN:
        truth = [row for oid in store.ids("orders") for row in _served(store, stream, oid)]
        assert _keys(run.records(stream)) == _keys(truth), stream


def test_without_the_transactions_scope_order_transactions_is_skipped_with_a_warning():
    store = Store(seed=55, products=2, customers=2, orders=60, plateau=0)
    with _serve(store, scopes=[s for s in SCOPES if s != "transactions"]) as sb:
        config = sandbox_config(sb.api_url, page_size=20)  # three batches of orders
        run = run_tap(config, catalog=_catalog(config, CHILDREN))
        refused = sb.count("/transactions", status=403)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "'Order Transactions' scope" in line]
    assert len(warnings) == 1 and "order_transactions: skipped" in warnings[0]
    assert not run.records("order_transactions")
    others = ("order_coupons", "order_shipments", "order_fees")
    for stream in others:  # the others go on
        truth = [row for oid in store.ids("orders") for row in _served(store, stream, oid)]
        assert _keys(run.records(stream)) == _keys(truth), stream
    # Read whole (no start_date, no state): activated, except the child that read nothing,
    # whose rows a target would otherwise mark deleted.
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated >= {"orders", *others} and "order_transactions" not in activated
    # Only the first batch's requests under way when the first 403 came back.
    assert 1 <= refused <= 20
