"""Issue #14: price_lists, price_list_records and channels, read incrementally.

Their listings filter by `date_modified:min/max` but document no sort, so the tap reads each
window of dates whole and writes it sorted (`readers/unsorted.py`). The tap runs as a user
runs it, against the sandbox over HTTP on 127.0.0.1; the reader's window logic is also
driven straight against the sandbox's endpoint functions (no HTTP), with a tiny buffer.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import typing as t
from urllib.parse import parse_qsl, urlencode

import pytest

from tap_bigcommerce.pagination import V3DateWindow, V3DateWindowCursor
from tap_bigcommerce.readers.unsorted import UnsortedWindowReader
from tap_bigcommerce.sandbox import Sandbox, Store, api
from tap_bigcommerce.sandbox.server import SCOPES
from tests import unsorted_checks as checks
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    discovered_with,
    run_tap,
    sandbox_config,
    select_only,
)

NEW = ("price_lists", "price_list_records", "channels")
KEYS = {
    "price_lists": ("id",),
    "channels": ("id",),
    "price_list_records": ("price_list_id", "variant_id", "currency"),
}
REST = {"price_lists": "price_lists", "channels": "channels"}


def serve(store: Store, **kwargs: t.Any) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)


@pytest.fixture(scope="module")
def catalog() -> dict:
    with serve(Store(seed=1, products=2, customers=2, orders=2)) as sb:
        return discovered_with(sb.api_url, NEW)


def key(stream: str, record: dict) -> tuple:
    return tuple(record[k] for k in KEYS[stream])


def store_rows(store: Store, stream: str) -> dict[tuple, dict]:
    """What the sandbox holds now: key -> row."""
    if stream == "price_list_records":
        rows = {}
        for rid in store.rest.ids(stream):
            row = store.rest.row(stream, rid)
            if row["price_list_id"] in store.rest.ids("price_lists"):
                rows[key(stream, row)] = row
        return rows
    return {(rid,): store.rest.row(stream, rid) for rid in store.rest.ids(stream)}


def record_ids(store: Store, price_list_id: int) -> list[int]:
    """The sandbox's internal ids of one price list's records."""
    ids = store.rest.ids("price_list_records")
    return [
        i for i in ids if store.rest.row("price_list_records", i)["price_list_id"] == price_list_id
    ]


def bookmarks(state: dict | None) -> dict[t.Any, str]:
    """stream (or (stream, price_list_id)) -> bookmark."""
    out: dict[t.Any, str] = {}
    for stream, mark in ((state or {}).get("bookmarks") or {}).items():
        for part in mark.get("partitions") or []:
            context = dict(part["context"])
            assert context.pop("store_hash") == STORE_HASH, part
            if "price_list_id" in context:
                out[(stream, context["price_list_id"])] = part["replication_key_value"]
            elif part.get("replication_key_value"):
                out[stream] = part["replication_key_value"]
    return out


def assert_sorted_and_state_true(run: TapRun, incoming: dict | None = None) -> None:
    """Records of each stream (each price list) come oldest first; no bookmark runs ahead."""

    def where(stream: str, record: dict) -> t.Any:
        return (stream, record["price_list_id"]) if stream == "price_list_records" else stream

    checks.assert_sorted_and_state_true(run, where, bookmarks, incoming)


def latest(runs: list[TapRun], stream: str) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for run in runs:
        for record in run.records(stream):
            out[key(stream, record)] = record
    return out


def assert_nothing_lost(store: Store, runs: list[TapRun]) -> None:
    """Every row the sandbox holds came out, in its current version, in one of the runs."""
    for stream in NEW:
        checks.assert_nothing_lost(store_rows(store, stream), latest(runs, stream), stream)


# ---------------------------------------------------------------------------- full and hourly


def test_full_sync_then_an_hourly_run_from_its_state(catalog):
    store = Store(seed=3, products=20, customers=2, orders=2)
    with serve(store) as sb:
        config = sandbox_config(sb.api_url)
        first = run_tap(config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        for stream in NEW:
            got = [key(stream, r) for r in first.records(stream)]
            assert sorted(got) == sorted(store_rows(store, stream)), stream
            assert len(got) == len(set(got)), stream
        assert_sorted_and_state_true(first)
        marks = bookmarks(first.final_state)
        assert {("price_list_records", pl) for pl in (1, 2, 3)} <= set(marks)

        # Nothing changed: the second run writes only the rows at each bookmark.
        sb.reset_log()
        second = run_tap(config, catalog=catalog, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        for stream in ("price_lists", "channels"):
            assert {r["date_modified"] for r in second.records(stream)} == {marks[stream]}
        for record in second.records("price_list_records"):
            assert record["date_modified"] == marks[("price_list_records", record["price_list_id"])]
        # Cost: one request per incremental stream, one per price list, plus the listing of
        # the price lists that the records are read for.
        paths = [r.path.split("/v3/", 1)[1] for r in sb.requests]
        assert sorted(paths) == sorted(
            [
                "channels",
                "pricelists",  # price_lists, from its bookmark
                "pricelists",  # every price list, for price_list_records
                "pricelists/1/records",
                "pricelists/2/records",
                "pricelists/3/records",
            ]
        ), paths
        assert bookmarks(second.final_state) == marks

        # A row touched between runs comes in the next one; only list 2's bookmark moves.
        later = int(time.time())
        (touched,) = record_ids(store, 2)[:1]
        store.rest.touch("price_list_records", [touched], when=later)
        store.rest.touch("channels", [2], when=later)
        third = run_tap(config, catalog=catalog, state=second.final_state)
        assert third.returncode == 0, third.stderr[-3000:]
    after = bookmarks(third.final_state)
    row = store.rest.row("price_list_records", touched)
    assert key("price_list_records", row) in latest([third], "price_list_records")
    # The boundary row (at the inclusive bookmark) again, then the touched one.
    boundary = [r["id"] for r in second.records("channels")]
    assert [r["id"] for r in third.records("channels")] == [*boundary, 2]
    assert checks.moment(after[("price_list_records", 2)]).timestamp() == later
    assert after[("price_list_records", 1)] == marks[("price_list_records", 1)]
    assert after[("price_list_records", 3)] == marks[("price_list_records", 3)]
    # Records of list 1 were asked for from list 1's own bookmark.
    assert_nothing_lost(store, [first, second, third])


def test_a_price_list_created_later_is_read_from_the_beginning(catalog):
    store = Store(seed=4, products=20, customers=2, orders=2)
    with serve(store) as sb:
        config = sandbox_config(sb.api_url)
        first = run_tap(config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        (new,) = store.rest.insert("price_lists")
        sb.reset_log()
        second = run_tap(config, catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    asked = [r for r in sb.requests if r.path.endswith(f"/pricelists/{new}/records")]
    assert len(asked) == 1 and "date_modified:min" not in asked[0].query
    assert [r["id"] for r in second.records("price_lists")][-1] == new


# ---------------------------------------------------------------------------- a changing store


def test_rows_changed_while_read_are_written_by_this_run_or_the_next(catalog):
    store = Store(
        seed=5, products=60, customers=2, orders=2,
        rest_sizes={"price_list_records": 240, "channels": 40, "price_lists": 3},
    )  # fmt: skip
    counter = {"n": 0}

    def hook(request: t.Any) -> None:
        # Every third page: a record or channel read already, one not read yet, one deleted.
        if "/records" not in request.path and not request.path.endswith("/channels"):
            return
        counter["n"] += 1
        if counter["n"] % 3:
            return
        name = "price_list_records" if "/records" in request.path else "channels"
        ids = store.rest.ids(name)
        store.rest.touch(name, [ids[0], ids[len(ids) // 2]])
        store.rest.delete(name, [ids[-1]])

    with serve(store) as sb:
        sb.hooks.append(hook)
        config = sandbox_config(sb.api_url, page_size=10)
        first = run_tap(config, catalog=catalog)
        sb.hooks.remove(hook)
        assert first.returncode == 0, first.stderr[-3000:]
        second = run_tap(config, catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert counter["n"] >= 9, "the store hardly changed"
    assert_sorted_and_state_true(first)
    assert_sorted_and_state_true(second, first.final_state)
    assert_nothing_lost(store, [first, second])
    # Below the first run's bookmark, the first run alone has every row current.
    marks = bookmarks(first.final_state)
    for k, row in store_rows(store, "price_list_records").items():
        if checks.moment(row["date_modified"]) < checks.moment(marks[("price_list_records", k[0])]):
            written = latest([first], "price_list_records")[k]
            assert written["date_modified"] == row["date_modified"], k


def test_crash_mid_stream_then_rerun_from_last_state_loses_nothing(catalog):
    store = Store(
        seed=6, products=300, customers=2, orders=2,
        rest_sizes={"price_list_records": 2_400, "price_lists": 3},
    )  # fmt: skip
    only_records = select_only(catalog, ["price_list_records"])
    with serve(store, latency_ms=5) as sb:
        config = sandbox_config(sb.api_url, page_size=50)
        tap = TapProcess(config, catalog=only_records)

        def state_then_more(messages: list[dict]) -> bool:
            states = [i for i, m in enumerate(messages) if m["type"] == "STATE"]
            return len(states) >= 2 and len(messages) - states[-1] > 100

        assert tap.wait_for(state_then_more), "no mid-stream STATE"
        crashed = tap.kill()
        assert crashed.returncode == -9, "the tap ended before it was killed"
        state = crashed.final_state
        assert any(k[0] == "price_list_records" for k in bookmarks(state))
        rerun = run_tap(config, catalog=only_records, state=state)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_sorted_and_state_true(crashed)
    assert_sorted_and_state_true(rerun, state)
    want = store_rows(store, "price_list_records")
    got = latest([crashed, rerun], "price_list_records")
    assert set(want) <= set(got)
    # The rerun resumed: fewer records than the whole table.
    assert 0 < len(rerun.records("price_list_records")) < len(want)


# ---------------------------------------------------------------------------- faults, scopes


@pytest.mark.parametrize("kind", ["500", "429"])
def test_a_transient_fault_is_retried(catalog, kind):
    store = Store(seed=7, products=20, customers=2, orders=2)
    with serve(store) as sb:
        sb.set_quota(None, window_ms=600)
        sb.faults.add(kind, path_contains="/pricelists/2/records", times=2)
        sb.faults.add(kind, path_contains="/channels", times=1)
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sb.faults.injected == {kind: 3}
    for stream in NEW:
        assert sorted(key(stream, r) for r in run.records(stream)) == sorted(
            store_rows(store, stream)
        )


def test_channels_without_their_scope_are_skipped_with_one_warning(catalog):
    store = Store(seed=8, products=20, customers=2, orders=2)
    scopes = [s for s in SCOPES if s != "channels"]
    with serve(store, scopes=scopes) as sb:
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.records("channels")
    warnings = [ln for ln in run.stderr.splitlines() if "channels: skipped" in ln]
    assert len(warnings) == 1 and "'Channel Settings' scope" in warnings[0], run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert run.records("price_lists") and run.records("price_list_records")


# ---------------------------------------------------------------------------- the reader itself


def _fetcher(store: Store, name: str, path_args: tuple = ()) -> tuple[t.Callable, list[dict]]:
    """A fetch straight into the sandbox's endpoint function, and the log of its queries."""
    log: list[dict] = []

    def fetch(params: dict) -> t.Any:
        query = dict(parse_qsl(urlencode(params)))
        log.append(query)
        with store.lock:
            response = api.list_rest(store, query, name, *path_args)
        assert response.status == 200, response.body
        return flavour_of(name).unpack(json.loads(response.body), int(params["limit"]))

    return fetch, log


def flavour_of(name: str) -> V3DateWindow:
    if name == "price_list_records":
        return V3DateWindowCursor(resource=name, path="pricelists/1/records")
    return V3DateWindow(resource=name, path=name)


@pytest.mark.parametrize("name", ["channels", "price_list_records"])
def test_a_window_larger_than_the_buffer_is_halved_and_comes_out_sorted(name):
    store = Store(seed=9, products=100, customers=2, orders=2, rest_sizes={name: 300})
    args = (1,) if name == "price_list_records" else ()
    ids = store.rest.ids(name)
    # Touch a spread of rows so that id order is not date order.
    store.rest.touch(name, ids[::7], when=1_700_000_000)
    fetch, log = _fetcher(store, name, args)
    now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    keys = KEYS[name]
    reader = UnsortedWindowReader(
        flavour_of(name), fetch, 10, key=lambda r: tuple(r[k] for k in keys),
        now=lambda: now, buffer=25,
    )  # fmt: skip
    got = list(reader.read(None))
    want = [
        r for r in (store.rest.row(name, i) for i in ids) if not args or r["price_list_id"] == 1
    ]
    assert sorted(key(name, r) for r in got) == sorted(key(name, r) for r in want)
    order = [(checks.moment(r["date_modified"]), key(name, r)) for r in got]
    assert order == sorted(order)
    assert any("date_modified:max" in q for q in log), "never cut the window"


def test_a_page_walk_that_sees_the_total_change_reads_the_window_again():
    store = Store(seed=10, products=5, customers=2, orders=2, rest_sizes={"channels": 60})
    fetch, _log = _fetcher(store, "channels")
    state = {"n": 0}

    def changing(params: dict) -> t.Any:
        state["n"] += 1
        if state["n"] == 3:
            # Channel 1, on page 1 (read already), changes and leaves the window (its new
            # date is past it): every later channel shifts one place earlier.
            store.rest.touch("channels", [1], when=2_000_000_000)
        return fetch(params)

    now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    reader = UnsortedWindowReader(
        V3DateWindow(resource="channels", path="channels"), changing, 10,
        key=lambda r: (r["id"],), now=lambda: now,
    )  # fmt: skip
    got = list(reader.read(None))
    assert reader.restarts >= 1
    # Every channel still in the window, once (channel 1 is the next run's).
    assert sorted(r["id"] for r in got) == store.rest.ids("channels")[1:]
    assert len(got) == 59
