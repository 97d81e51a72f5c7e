"""Issue #15: `metafields`, seven store-wide listings in one stream, a bookmark per listing.

Each listing (`/v3/catalog/products/metafields`, ... `/v3/channels/metafields`) filters by
`date_modified:min/max` and pages by cursor but documents no sort, so it is read as price
list records are (`readers/unsorted.py`), from its own bookmark: a state partition per
`resource_type`. The tap runs as a user runs it, against the sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
import typing as t

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.sandbox.rest import METAFIELD_LISTINGS
from tap_bigcommerce.streams import MetafieldsStream
from tests import unsorted_checks as checks
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    discovered_with,
    run_tap,
    sandbox_config,
)
from tests.test_sandbox import Client

STREAM = "metafields"
TYPES = tuple(resource_type for resource_type, _, _ in METAFIELD_LISTINGS)
PATHS = {resource_type: path.replace("\\", "") for resource_type, path, _ in METAFIELD_LISTINGS}


def serve(store: Store, **kwargs: t.Any) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)


def small_store(seed: int, **rest_sizes: int) -> Store:
    sizes = {f"metafields_{k}": v for k, v in rest_sizes.items()}
    return Store(seed=seed, products=12, customers=6, orders=6, rest_sizes=sizes)


@pytest.fixture(scope="module")
def catalog() -> dict:
    with serve(Store(seed=1, products=2, customers=2, orders=2)) as sb:
        return discovered_with(sb.api_url, [STREAM])


def key(record: dict) -> tuple[str, int]:
    return record["resource_type"], record["id"]


def store_rows(store: Store, types: t.Iterable[str] = TYPES) -> dict[tuple, dict]:
    """What the sandbox holds now: (resource_type, id) -> row."""
    rows = {}
    for resource_type in types:
        name = f"metafields_{resource_type}"
        for rid in store.rest.ids(name):
            rows[(resource_type, rid)] = store.rest.row(name, rid)
    return rows


def bookmarks(state: dict | None) -> dict[str, str]:
    """resource_type -> bookmark, for the partitions that have one."""
    mark = ((state or {}).get("bookmarks") or {}).get(STREAM) or {}
    return {
        part["context"]["resource_type"]: part["replication_key_value"]
        for part in mark.get("partitions") or []
        if part.get("replication_key_value")
    }


def assert_sorted_and_state_true(run: TapRun, incoming: dict | None = None) -> None:
    """Each listing's records come oldest first; no bookmark runs ahead of what was written."""
    checks.assert_sorted_and_state_true(
        run,
        lambda stream, record: record["resource_type"] if stream == STREAM else None,
        bookmarks,
        incoming,
    )


def latest(runs: list[TapRun]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for run in runs:
        for record in run.records(STREAM):
            out[key(record)] = record
    return out


def assert_nothing_lost(store: Store, runs: list[TapRun]) -> None:
    checks.assert_nothing_lost(store_rows(store), latest(runs), STREAM)


def listing_of(path: str) -> str:
    """`/stores/abc123/v3/catalog/brands/metafields` -> `/v3/catalog/brands/metafields`."""
    return "/" + path.split("/", 3)[3]


# ---------------------------------------------------------------------------- full and hourly


def test_the_declaration_is_one_partition_per_listing():
    each = MetafieldsStream.replication.each
    assert each is not None
    assert [c["resource_type"] for c in each.contexts()] == list(TYPES)
    assert {p.value: "/v3/" + p.path for p in each.partitions} == PATHS
    assert MetafieldsStream.scopes() == ("Products", "Customers", "Orders", "Channel Settings")


def test_full_sync_then_a_quiet_run_then_one_touched_metafield(catalog):
    store = small_store(3, product=9, variant=7, category=5, brand=4, customer=6, order=5)
    with serve(store) as sb:
        config = sandbox_config(sb.api_url)
        first = run_tap(config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        records = first.records(STREAM)
        for resource_type in TYPES:
            got = sorted(r["id"] for r in records if r["resource_type"] == resource_type)
            assert got == store.rest.ids(f"metafields_{resource_type}"), resource_type
        assert len({key(r) for r in records}) == len(records)
        owners = {
            "product": set(store.ids("products")),
            "customer": set(store.ids("customers")),
            "order": set(store.ids("orders")),
            "category": set(store.rest.ids("categories")),
            "brand": set(store.rest.ids("brands")),
            "channel": set(store.rest.ids("channels")),
            "variant": {v for _, v, _ in store.rest.price_variants()},
        }
        for record in records:
            assert record["resource_id"] in owners[record["resource_type"]], record
        assert_sorted_and_state_true(first)
        partitions = first.final_state["bookmarks"][STREAM]["partitions"]
        assert [p["context"] for p in partitions] == [
            {"store_hash": STORE_HASH, "resource_type": k} for k in TYPES
        ]
        marks = bookmarks(first.final_state)
        assert set(marks) == set(TYPES)

        # Nothing changed: only the rows at each bookmark, one request per listing.
        sb.reset_log()
        second = run_tap(config, catalog=catalog, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        assert sorted(listing_of(r.path) for r in sb.requests) == sorted(PATHS.values())
        for record in second.records(STREAM):
            assert record["date_modified"] == marks[record["resource_type"]], record
        assert {r["resource_type"] for r in second.records(STREAM)} == set(TYPES)
        assert bookmarks(second.final_state) == marks

        # A product metafield touched: only the product partition's bookmark moves.
        later = int(time.time())
        store.rest.touch("metafields_product", [3], when=later)
        third = run_tap(config, catalog=catalog, state=second.final_state)
        assert third.returncode == 0, third.stderr[-3000:]
    after = bookmarks(third.final_state)
    assert checks.moment(after["product"]).timestamp() == later
    assert {k: v for k, v in after.items() if k != "product"} == {
        k: v for k, v in marks.items() if k != "product"
    }
    products = [r["id"] for r in third.records(STREAM) if r["resource_type"] == "product"]
    assert products[-1] == 3
    assert_sorted_and_state_true(third, second.final_state)
    assert_nothing_lost(store, [first, second, third])


# ---------------------------------------------------------------------------- a changing store


def test_metafields_changed_created_and_deleted_while_read_are_not_lost(catalog):
    store = small_store(4, product=60, variant=40, customer=40, channel=30)
    counter = {"n": 0}

    def hook(request: t.Any) -> None:
        # Every second page: one row read already and one not yet touched, one deleted, one new.
        if not request.path.endswith("/metafields"):
            return
        counter["n"] += 1
        if counter["n"] % 2:
            return
        name = next(f"metafields_{k}" for k, p in PATHS.items() if request.path.endswith(p))
        ids = store.rest.ids(name)
        if len(ids) > 3:
            store.rest.touch(name, [ids[0], ids[len(ids) // 2]])
            store.rest.delete(name, [ids[-1]])
        store.rest.insert(name, 1)

    with serve(store) as sb:
        sb.hooks.append(hook)
        config = sandbox_config(sb.api_url, page_size=10)
        first = run_tap(config, catalog=catalog)
        sb.hooks.remove(hook)
        assert first.returncode == 0, first.stderr[-3000:]
        second = run_tap(config, catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert counter["n"] >= 20, "the store hardly changed"
    assert_sorted_and_state_true(first)
    assert_sorted_and_state_true(second, first.final_state)
    assert_nothing_lost(store, [first, second])


# ---------------------------------------------------------------------------- faults, crashes


def test_a_listing_that_keeps_failing_fails_the_run_and_moves_no_other_bookmark(catalog):
    store = small_store(5)
    with serve(store) as sb:
        config = sandbox_config(sb.api_url, max_retries=1)
        first = run_tap(config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        marks = bookmarks(first.final_state)
        # Every listing changes; then the customers' one fails past its retries.
        later = int(time.time())
        for resource_type in TYPES:
            store.rest.touch(f"metafields_{resource_type}", [2], when=later)
        sb.faults.add("500", path_contains="/customers/metafields", times=50)
        failed = run_tap(config, catalog=catalog, state=first.final_state)
    assert failed.returncode == 1
    (error,) = [ln for ln in failed.stderr.splitlines() if ln.startswith("tap-bigcommerce: error")]
    assert "HTTP 500" in error and "/customers/metafields" in error, error
    # Each listing's STATE is written when it is done, with no start marker left in it.
    assert "starting_replication_value" not in json.dumps(failed.final_state)
    assert_sorted_and_state_true(failed, first.final_state)
    after = bookmarks(failed.final_state)
    read = {r["resource_type"] for r in failed.records(STREAM) if r["id"] == 2}
    # The listings before it were written and their bookmarks moved ...
    assert read == {"product", "variant", "category", "brand"}
    for resource_type in read:
        assert checks.moment(after[resource_type]).timestamp() == later, resource_type
    # ... the failed one and those after it kept theirs.
    for resource_type in ("customer", "order", "channel"):
        assert after[resource_type] == marks[resource_type], resource_type
    assert not [r for r in failed.records(STREAM) if r["resource_type"] == "customer"]


def test_sigkill_mid_stream_then_a_rerun_from_the_last_state_loses_nothing(catalog):
    # More product metafields than a STATE's worth (1,000): a bookmark inside the listing.
    store = small_store(6, **{**dict.fromkeys(TYPES, 60), "product": 1_400})
    with serve(store, latency_ms=5) as sb:
        config = sandbox_config(sb.api_url, page_size=100)
        tap = TapProcess(config, catalog=catalog)

        def state_then_more(messages: list[dict]) -> bool:
            states = [i for i, m in enumerate(messages) if m["type"] == "STATE"]
            marked = [i for i in states if bookmarks(messages[i]["value"])]
            return bool(marked) and len(messages) - marked[-1] > 100

        assert tap.wait_for(state_then_more), "no mid-stream STATE"
        crashed = tap.kill()
        assert crashed.returncode == -9, "the tap ended before it was killed"
        state = crashed.final_state
        assert "product" in bookmarks(state), state
        rerun = run_tap(config, catalog=catalog, state=state)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_sorted_and_state_true(crashed)
    assert_sorted_and_state_true(rerun, state)
    assert_nothing_lost(store, [crashed, rerun])
    # The rerun resumed: fewer records than the whole table.
    assert 0 < len(rerun.records(STREAM)) < len(store_rows(store))


# ---------------------------------------------------------------------------- scopes, sandbox


def test_a_listing_without_its_scope_is_skipped_with_one_warning(catalog):
    store = small_store(7)
    with serve(store, scopes=["products", "customers", "orders"]) as sb:
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    warnings = [ln for ln in run.stderr.splitlines() if "metafields: skipped" in ln]
    assert len(warnings) == 1, run.stderr[-3000:]
    assert "resource_type 'channel'" in warnings[0] and "'Channel Settings' scope" in warnings[0]
    readable = [k for k in TYPES if k != "channel"]
    assert sorted(key(r) for r in run.records(STREAM)) == sorted(store_rows(store, readable))
    assert set(bookmarks(run.final_state)) == set(readable)


def test_the_sandbox_serves_each_listing_by_cursor_and_by_date():
    store = small_store(8, product=7)
    with Sandbox(store) as sb:
        api = Client(sb)
        try:
            path = PATHS["product"]
            first = api.get(path, {"limit": 3}).json()
            assert first["meta"]["pagination"]["total"] == 7
            cursor = first["meta"]["cursor_pagination"]["end_cursor"]
            rest = api.get(path, {"limit": 250, "after": cursor}).json()["data"]
            ids = [r["id"] for r in first["data"] + rest]
            assert ids == store.rest.ids("metafields_product")
            store.rest.touch("metafields_product", [5], when=2_000_000_000)
            since = api.get(path, {"date_modified:min": "2033-05-18T03:33:20Z"}).json()["data"]
            assert [r["id"] for r in since] == [5]
            assert api.get(path, {"limit": 251}).status_code == 413
            for resource_type, listing in PATHS.items():
                rows = api.get(listing).json()["data"]
                assert rows and {r["resource_type"] for r in rows} == {resource_type}
        finally:
            api.close()
