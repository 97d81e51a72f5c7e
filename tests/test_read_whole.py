"""Streams read whole: every row each run, then ACTIVATE_VERSION, and never after a failed read.

Against the sandbox over real HTTP: brands and coupons are walked by id (`id:greater`,
`min_id`), categories and currencies by page, store information is one object, inventory
levels are a row per variant per location.
"""

from __future__ import annotations

import json

import pytest

from tap_bigcommerce.replication import ReadWhole
from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.sandbox.rest import RESOURCES as ALL_RESOURCES
from tap_bigcommerce.streams import STREAM_TYPES
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    discovered_with,
    run_tap,
    sandbox_config,
    select_only,
)

WHOLE = [s.name for s in STREAM_TYPES if isinstance(s.replication, ReadWhole)]
#: The sandbox's tables of the streams read whole (the others are incremental).
RESOURCES = [r for r in ALL_RESOURCES if r.name in WHOLE]
SIZES = {
    "brands": 23, "categories": 23, "coupons": 23, "currencies": 7, "promotions": 12,
    "gift_certificates": 11, "inventory_locations": 8, "category_trees": 7,
}  # fmt: skip
KEY = {"categories": "category_id"}
PATH = {r.name: r.path.replace("\\", "") for r in RESOURCES}


@pytest.fixture
def store() -> Store:
    return Store(seed=4, products=12, customers=5, orders=5, rest_sizes=SIZES)


@pytest.fixture
def sandbox(store: Store):
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        yield sb


@pytest.fixture
def catalog(sandbox) -> dict:
    return discovered_with(sandbox.api_url, WHOLE)


def _sync(sandbox, catalog, **settings):
    run = run_tap(sandbox_config(sandbox.api_url, page_size=5, **settings), catalog=catalog)
    assert run.returncode == 0, run.stderr
    return run


def _ids(run, stream: str) -> list:
    return [r[KEY.get(stream, "id")] for r in run.records(stream)]


def _activations(run) -> dict[str, int]:
    return {m["stream"]: m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


def test_every_row_once_then_activate_version_with_the_records_version(sandbox, store, catalog):
    run = _sync(sandbox, catalog)
    for resource in RESOURCES:
        got = _ids(run, resource.name)
        assert got == store.rest.ids(resource.name), resource.name
    assert len(run.records("store_information")) == 1
    levels = run.records("inventory_levels")
    pairs = {(r["variant_id"], r["location_id"]) for r in levels}
    assert len(pairs) == len(levels) > 0
    assert {r["location_id"] for r in levels} == set(store.rest.ids("inventory_locations"))
    activated = _activations(run)
    assert set(activated) == set(WHOLE)
    for stream in WHOLE:
        positions = [i for i, m in enumerate(run.messages) if m.get("stream") == stream]
        last = run.messages[positions[-1]]
        assert last["type"] == "ACTIVATE_VERSION", stream  # after the stream's last record
        versions = {m["version"] for m in run.messages if m.get("stream") == stream and
                    m["type"] == "RECORD"}  # fmt: skip
        assert versions == {activated[stream]}, stream


def test_walks_cost_one_request_per_page(sandbox, store, catalog):
    sandbox.reset_log()
    _sync(sandbox, catalog)
    for name, path in (("brands", PATH["brands"]), ("coupons", PATH["coupons"])):
        asked = [r for r in sandbox.requests if r.path.endswith(path)]
        # 23 rows, 5 a page: 5 pages; the last is short, so it says it is the last.
        assert len(asked) == -(-len(store.rest.ids(name)) // 5), name
    by_id = [r.query for r in sandbox.requests if r.path.endswith(PATH["brands"])]
    assert by_id[0].get("id:greater") is None and by_id[1]["id:greater"] == "5"
    by_min = [r.query for r in sandbox.requests if r.path.endswith(PATH["coupons"])]
    assert by_min[1]["min_id"] == "6"


def test_a_deleted_row_is_missing_from_the_next_version(sandbox, store, catalog):
    first = _sync(sandbox, catalog)
    gone = {r.name: store.rest.ids(r.name)[1:2] for r in RESOURCES} | {"brands": [3, 17]}
    for name, ids in gone.items():
        store.rest.delete(name, ids)
    second = _sync(sandbox, catalog)
    for name, ids in gone.items():
        assert set(_ids(first, name)) - set(_ids(second, name)) == set(ids), name
    assert all(r["location_id"] != 2 for r in second.records("inventory_levels"))
    before, after = _activations(first), _activations(second)
    assert all(after[s] > before[s] for s in WHOLE)


CHANGES = [(r.name, "delete") for r in RESOURCES] + [
    (name, "insert") for name in ("brands", "categories", "coupons")
]


@pytest.mark.parametrize(("stream", "change"), CHANGES, ids=[f"{s}-{c}" for s, c in CHANGES])
def test_rows_created_or_deleted_during_the_walk_shift_nothing(sandbox, store, catalog, stream,
                                                               change):  # fmt: skip
    """After the first page, a row on it is deleted (or one created): no other row is lost."""
    path, calls = PATH[stream], []

    def hook(request):
        if request.path.endswith(path):
            calls.append(request)
        if len(calls) == 2 and request.path.endswith(path):  # page 1 is read, page 2 asked
            if change == "delete":
                store.rest.delete(stream, [store.rest.ids(stream)[1]])
            else:
                store.rest.insert(stream, 1)

    before = set(store.rest.ids(stream))
    sandbox.hooks.append(hook)
    run = _sync(sandbox, catalog.copy())
    sandbox.hooks.remove(hook)
    got = _ids(run, stream)
    assert len(got) == len(set(got)), "a row written twice"
    throughout = before & set(store.rest.ids(stream))
    assert throughout <= set(got), f"lost {sorted(throughout - set(got))}"


def test_a_read_that_fails_sends_no_activate_version(sandbox, catalog):
    sandbox.faults.add("500", path_contains=PATH["coupons"], nth=3, times=None)
    run = run_tap(
        sandbox_config(sandbox.api_url, page_size=5, max_retries=1),
        catalog=select_only(catalog, ["brands", "coupons"]),
    )
    assert run.returncode != 0
    assert "coupons" in run.stderr
    assert "coupons" not in _activations(run)
    # Rows of the two pages read are written (less the one held to tell the last).
    assert 0 < len(run.records("coupons")) <= 10


def test_a_run_killed_mid_stream_sends_no_activate_version():
    # Enough rows that output reaches the pipe (it is flushed in blocks) long before the end.
    store = Store(seed=4, products=2, customers=2, orders=2, rest_sizes={"coupons": 300})
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, latency_ms=100) as sb:
        catalog = discovered_with(sb.api_url, ["coupons"])
        tap = TapProcess(sandbox_config(sb.api_url, page_size=5), catalog=catalog)
        assert tap.wait_for(lambda ms: any(m["type"] == "RECORD" for m in ms))
        run = tap.kill()
    assert 0 < len(run.records("coupons")) < len(store.rest.ids("coupons"))
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_faults_are_retried_and_lose_nothing(sandbox, store, catalog):
    sandbox.set_quota(None, window_ms=600)  # a 429 names a reset under a second away
    sandbox.faults.add("500", path_contains=PATH["brands"], nth=2, times=2)
    sandbox.faults.add("429", path_contains=PATH["currencies"], nth=1)
    sandbox.faults.add("reset", path_contains="/v2/store", nth=1)
    run = _sync(sandbox, catalog)
    assert _ids(run, "brands") == store.rest.ids("brands")
    assert _ids(run, "currencies") == store.rest.ids("currencies")
    assert len(run.records("store_information")) == 1
    assert set(_activations(run)) == set(WHOLE)


def test_without_their_scopes_the_streams_are_skipped_with_one_warning_each(store):
    least = ["products", "customers", "orders"]
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, scopes=least) as sb:
        # With start_date the incremental streams do not read whole (tests/test_deletes.py):
        # the only activations are those of the streams read whole.
        run = run_tap(sandbox_config(sb.api_url, start_date="2000-01-01T00:00:00Z"))
    assert run.returncode == 0, run.stderr
    assert len(run.records("products")) == len(store.ids("products"))
    skipped = {
        "coupons": "Marketing",
        "promotions": "Marketing",
        "gift_certificates": "Marketing",
        "currencies": "Information & Settings",
        "store_information": "Information & Settings",
        "inventory_locations": "Store Locations",
        "inventory_levels": "Store Inventory",
    }
    for stream, scope in skipped.items():
        lines = [line for line in run.stderr.splitlines() if f"{stream}: skipped" in line]
        assert len(lines) == 1, (stream, lines)
        assert "WARNING" in lines[0] and f"'{scope}' scope" in lines[0]
        assert not run.records(stream)
        assert stream not in _activations(run)
    # Brands and categories need the Products scope, which the account has; order statuses
    # the Orders scope, customer groups and attributes the Customers scope.
    assert set(_activations(run)) == {
        "category_trees", "categories", "brands", "order_statuses", "customer_groups",
        "customer_attributes",
    }  # fmt: skip


def test_discovery_warns_of_a_missing_scope_and_still_lists_every_stream(store):
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN,
                 scopes=["products", "customers", "orders"]) as sb:  # fmt: skip
        run = run_tap(sandbox_config(sb.api_url), "--discover")
    assert run.returncode == 0, run.stderr
    streams = {s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]}
    assert streams == {s.name for s in STREAM_TYPES}
    assert "coupons: the API account lacks the 'Marketing' scope" in run.stderr


def test_a_main_stream_without_its_scope_still_fails_the_run(store):
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN,
                 scopes=["products", "customers"]) as sb:  # fmt: skip
        run = run_tap(sandbox_config(sb.api_url))
    assert run.returncode != 0
    assert "Orders: read-only" in run.stderr
