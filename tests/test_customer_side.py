"""Issue #15: refunds, order statuses, customer groups, attributes, values and subscribers.

Read whole: `order_statuses` (no paging documented: one request), `customer_groups` (v2, by
page) and `customer_attributes` (v3, by page). Incremental on `date_modified`, listings with
no sort (windows read whole, sorted by the tap): `customer_attribute_values`, `subscribers`.
Incremental on `created`: `refunds` (immutable; `created:min`, inclusive). The tap runs as a
user runs it, against the sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import typing as t

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapRun,
    discovered_with,
    run_tap,
    sandbox_config,
    store_bookmark,
)

WHOLE = ("order_statuses", "customer_groups", "customer_attributes")
DATED = {"customer_attribute_values": "date_modified", "subscribers": "date_modified",
         "refunds": "created"}  # fmt: skip
NEW = (*WHOLE, *DATED)
PATH = {
    "order_statuses": "/v2/order_statuses",
    "customer_groups": "/v2/customer_groups",
    "customer_attributes": "/v3/customers/attributes",
    "customer_attribute_values": "/v3/customers/attribute-values",
    "subscribers": "/v3/customers/subscribers",
    "refunds": "/v3/orders/payment_actions/refunds",
}
SIZES = {"customer_groups": 7, "customer_attributes": 6, "customer_attribute_values": 23,
         "subscribers": 17, "refunds": 19}  # fmt: skip


def serve(store: Store, **kwargs: t.Any) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)


def new_store(seed: int) -> Store:
    return Store(seed=seed, products=4, customers=6, orders=6, rest_sizes=SIZES)


@pytest.fixture(scope="module")
def catalog() -> dict:
    with serve(Store(seed=1, products=2, customers=2, orders=2)) as sb:
        return discovered_with(sb.api_url, NEW)


def sync(sb: Sandbox, catalog: dict, state: dict | None = None, **settings: t.Any) -> TapRun:
    run = run_tap(sandbox_config(sb.api_url, **settings), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def as_written(stream: str, row: dict) -> dict:
    """A sandbox row as the tap writes it: v2 dates in ISO-8601, UTC, and its store."""
    if stream == "customer_groups":
        for name in ("date_created", "date_modified"):
            row[name] = email.utils.parsedate_to_datetime(row[name]).isoformat()
    return {**row, "store_hash": STORE_HASH}


def plain(record: dict) -> dict:
    """A written record with its numbers back as JSON numbers (taprun reads Decimals)."""
    return t.cast("dict", json.loads(json.dumps(record, default=float)))


def ids(run: TapRun, stream: str) -> list[int]:
    return [r["id"] for r in run.records(stream)]


def bookmark(run: TapRun, stream: str) -> str | None:
    return store_bookmark(run.final_state, stream).get("replication_key_value")


def activations(run: TapRun) -> set[str]:
    return {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


def stamp(value: str) -> int:
    return int(dt.datetime.fromisoformat(value).timestamp())


# ---------------------------------------------------------------------------- full, then hourly


def test_full_sync_writes_every_row_exactly_and_closes_the_tables_read_whole(catalog):
    store = new_store(seed=21)
    with serve(store) as sb:
        run = sync(sb, catalog, page_size=5)
    for stream in NEW:
        want = [as_written(stream, store.rest.row(stream, i)) for i in store.rest.ids(stream)]
        got = sorted((plain(r) for r in run.records(stream)), key=lambda r: r["id"])
        assert got == want, stream
    for stream, field in DATED.items():
        dates = [stamp(r[field]) for r in run.records(stream)]
        assert dates == sorted(dates), f"{stream}: not in {field} order"
        assert bookmark(run, stream) == max(r[field] for r in run.records(stream))
    assert store_bookmark(run.final_state, "refunds")["replication_key"] == "created"
    # No bookmark and no start_date: every table was read whole, and each ends with
    # ACTIVATE_VERSION after its last record (from STATE, only the tables read whole do).
    assert activations(run) == set(NEW)
    for stream in NEW:
        mine = [m for m in run.messages if m.get("stream") == stream]
        assert mine[-1]["type"] == "ACTIVATE_VERSION", stream
    # Order statuses document no paging: one request, neither page nor limit.
    asked = [r for r in sb.requests if r.path.endswith(PATH["order_statuses"])]
    assert [r.query for r in asked][-1] == {}
    # References hold: a refund's order, an attribute value's attribute and customer.
    assert {r["order_id"] for r in run.records("refunds")} <= set(store.ids("orders"))
    values = run.records("customer_attribute_values")
    assert {v["attribute_id"] for v in values} <= set(ids(run, "customer_attributes"))
    assert {v["customer_id"] for v in values} <= set(store.ids("customers"))


def test_a_run_from_state_reads_the_boundary_rows_again_in_one_request_each(catalog):
    store = new_store(seed=22)
    # Three refunds created in one second: the bookmark's second holds all three.
    boundary = store.rest.insert("refunds", 3)
    with serve(store) as sb:
        first = sync(sb, catalog)
        sb.reset_log()
        second = sync(sb, catalog, state=first.final_state)
    assert ids(second, "refunds") == boundary, "the boundary refunds, read again"
    for stream, field in DATED.items():
        mark = bookmark(first, stream)
        assert mark and {r[field] for r in second.records(stream)} == {mark}, stream
        assert bookmark(second, stream) == mark, stream
        (asked,) = [r for r in sb.requests if r.path.endswith(PATH[stream])]
        assert asked.query[f"{field}:min"] == dt.datetime.fromisoformat(mark).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ), stream
    assert "date_modified" not in [k for r in sb.requests for k in r.query]  # only :min/:max
    for stream in WHOLE:
        assert ids(second, stream) == store.rest.ids(stream), stream
    assert activations(second) == set(WHOLE)


# ---------------------------------------------------------------------------- a changing store


def test_rows_created_or_touched_during_a_sync_are_read_by_this_run_or_the_next(catalog):
    store = new_store(seed=23)
    calls = {stream: 0 for stream in DATED}
    created: list[int] = []
    touched: dict[str, list[int]] = {}

    def hook(request: t.Any) -> None:
        for stream in DATED:
            if not request.path.endswith(PATH[stream]):
                continue
            calls[stream] += 1
            if calls[stream] in (2, 4):  # the first page is read, the walk goes on
                if stream == "refunds":
                    created.extend(store.rest.insert("refunds", 1))
                else:
                    some = [store.rest.ids(stream)[calls[stream]]]
                    store.rest.touch(stream, some)
                    touched.setdefault(stream, []).extend(some)

    with serve(store) as sb:
        sb.hooks.append(hook)
        first = sync(sb, catalog, page_size=5)
        sb.hooks.remove(hook)
        second = sync(sb, catalog, page_size=5, state=first.final_state)
    assert len(created) == 2 and set(touched) == {"customer_attribute_values", "subscribers"}
    for stream, field in DATED.items():
        for run, incoming in ((first, None), (second, first.final_state)):
            dates = [stamp(r[field]) for r in run.records(stream)]
            assert dates == sorted(dates), stream
            if incoming is not None:
                floor = stamp(store_bookmark(incoming, stream)["replication_key_value"])
                assert all(d >= floor for d in dates), f"{stream}: below its bookmark"
        got = {r["id"]: r for run in (first, second) for r in run.records(stream)}
        assert set(got) == set(store.rest.ids(stream)), f"{stream}: a row never written"
        for rid in store.rest.ids(stream):
            assert got[rid][field] == store.rest.row(stream, rid)[field], (stream, rid)
    assert set(created) <= {r["id"] for run in (first, second) for r in run.records("refunds")}


# ---------------------------------------------------------------------------- scopes, faults


def test_without_their_scopes_the_streams_are_skipped_with_one_warning_each(catalog):
    store = new_store(seed=24)
    with serve(store, scopes=["products"]) as sb:
        run = sync(sb, catalog)
    scope = {"order_statuses": "Orders", "refunds": "Orders"}
    for stream in NEW:
        lines = [ln for ln in run.stderr.splitlines() if f"{stream}: skipped" in ln]
        assert len(lines) == 1, (stream, lines)
        assert "WARNING" in lines[0] and f"'{scope.get(stream, 'Customers')}' scope" in lines[0]
        assert not run.records(stream)
    assert not activations(run)
    assert "Traceback" not in run.stderr


def test_faults_are_retried_and_lose_nothing(catalog):
    store = new_store(seed=25)
    with serve(store) as sb:
        sb.set_quota(None, window_ms=600)
        sb.faults.add("500", path_contains=PATH["refunds"], nth=2, times=2)
        sb.faults.add("429", path_contains=PATH["subscribers"], nth=1)
        sb.faults.add("reset", path_contains=PATH["order_statuses"], nth=1)
        sb.faults.add("503", path_contains=PATH["customer_groups"], nth=1)
        run = sync(sb, catalog, page_size=5)
    assert sum(sb.faults.injected.values()) == 5
    for stream in NEW:
        assert sorted(ids(run, stream)) == store.rest.ids(stream), stream
    assert activations(run) == set(NEW)  # a first run: every table read whole
