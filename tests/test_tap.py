"""The tap against the sandbox store, over real HTTP on 127.0.0.1, run as its CLI."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import socket
from collections import Counter

import pytest

from tap_bigcommerce.replication import ReadWhole
from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.stream_base import BigCommerceStream
from tap_bigcommerce.streams import STREAM_TYPES
from tap_bigcommerce.transform import to_iso
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    discovered_with,
    run_tap,
    sandbox_config,
    select_only,
    store_bookmark,
)

PARENTS = ("products", "customers", "orders")
#: The main streams and the children that ride on their responses (no request of their own).
MAIN = (*PARENTS, "product_variants", "product_images", "product_custom_fields",
        "customer_addresses", "order_products", "order_shipping_addresses")  # fmt: skip
ISO_UTC = "+00:00"


@pytest.fixture
def store() -> Store:
    return Store(seed=11, products=60, customers=45, orders=70, plateau=0)


@pytest.fixture
def sandbox(store: Store):
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        yield sb


def ids(records: list[dict]) -> list[int]:
    return [r["id"] for r in records]


def test_full_sync_emits_every_record_once(sandbox, store):
    run = run_tap(sandbox_config(sandbox.api_url))
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        got = ids(run.records(stream))
        assert sorted(got) == sorted(store.ids(stream)), stream
        assert len(got) == len(set(got)), f"{stream} emitted a record twice"
        moments = [r["date_modified"] for r in run.records(stream)]
        assert moments == sorted(moments), f"{stream} not in date_modified order"


def test_records_that_need_no_conversion_are_written_as_the_api_sent_them(sandbox, store):
    """Products (their v3 dates already in UTC) go out as sent, customers (`Z`) converted.

    A child stream selected makes products take the full path: the records must not differ.
    """
    config = sandbox_config(sandbox.api_url)
    catalog = json.loads(run_tap(config, "--discover").stdout)
    debug = {"TAP_BIGCOMMERCE_LOGLEVEL": "DEBUG"}
    as_sent = run_tap(config, catalog=select_only(catalog, PARENTS), env=debug)
    assert as_sent.returncode == 0, as_sent.stderr
    n = len(store.ids("products"))
    assert f"products: {n} of them needed no conversion" in as_sent.stderr
    assert "customers: 0 of them needed no conversion" in as_sent.stderr
    assert "orders: 0 of them" in as_sent.stderr
    with_children = select_only(catalog, [*PARENTS, "product_images"])
    converted = run_tap(config, catalog=with_children, env=debug)
    assert converted.returncode == 0, converted.stderr
    assert "products: 0 of them needed no conversion" in converted.stderr
    assert as_sent.records("products") == converted.records("products")
    assert as_sent.records("customers") == converted.records("customers")


@pytest.mark.parametrize("children", [True, False], ids=["with-children", "parents-only"])
def test_fields_the_schema_lacks_are_dropped_with_one_warning(children):
    """The live API gains fields before the docs do: the records stay true to the schema.

    One record in three carries the new field, so pages mix records written as sent with
    records converted.
    """
    store = Store(seed=11, products=30, customers=20, orders=20, plateau=0,
                  undocumented={name: {"brand_new": 1} for name in PARENTS},
                  undocumented_every=3)  # fmt: skip
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url)
        catalog = json.loads(run_tap(config, "--discover").stdout)
        run = run_tap(config, catalog=catalog if children else select_only(catalog, PARENTS))
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        got = run.records(stream)
        assert sorted(ids(got)) == store.ids(stream)
        assert not any("brand_new" in record for record in got), stream
        assert all(record.get("name", record.get("email", 1)) for record in got), stream
        warning = f"{stream}: fields not in the schema were dropped: ['brand_new']"
        assert run.stderr.count(warning) == 1, (stream, run.stderr[-2000:])


def test_dates_are_iso_utc_and_empty_dates_null(sandbox):
    run = run_tap(sandbox_config(sandbox.api_url))
    for stream in PARENTS:
        for record in run.records(stream):
            for name in ("date_created", "date_modified"):
                value = record[name]
                assert value.endswith(ISO_UTC), (stream, name, value)
                dt.datetime.fromisoformat(value)
    shipped = [r["date_shipped"] for r in run.records("orders")]
    assert None in shipped, "unshipped orders should have date_shipped null, not ''"
    assert all(v is None or v.endswith(ISO_UTC) for v in shipped)


def test_v2_money_keeps_its_exact_decimal_value(sandbox, store):
    run = run_tap(sandbox_config(sandbox.api_url))
    order = run.records("orders")[0]
    raw = store.record("orders", order["id"])
    for name in ("total_inc_tax", "subtotal_ex_tax", "currency_exchange_rate"):
        assert isinstance(order[name], decimal.Decimal), name
        assert order[name] == decimal.Decimal(raw[name]), name
    line = next(
        ln
        for ln in run.stdout.splitlines()
        if '"stream":"orders"' in ln and f'"id":{order["id"]},' in ln
    )
    assert f'"total_inc_tax":{raw["total_inc_tax"]}' in line, "money must be a JSON number"


@pytest.mark.parametrize(("page_size", "per_page"), [(1, 4), (7, 1), (250, 1)])
def test_paging_reads_everything_on_both_flavours(sandbox, store, page_size, per_page):
    config = sandbox_config(sandbox.api_url, page_size=page_size, max_requests_in_flight=1)
    run = run_tap(config)
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        assert sorted(ids(run.records(stream))) == sorted(store.ids(stream))
    orders_requests = sum(1 for r in sandbox.requests if r.path.endswith("/v2/orders"))
    # One request a page (up to four at page size 1, where every page is a "plateau"),
    # and one more for the end (HTTP 204).
    assert orders_requests <= per_page * len(store.ids("orders")) // page_size + 1 + per_page


@pytest.mark.parametrize("in_flight", [1, 4])
def test_large_window_read_in_parts_side_by_side(in_flight):
    store = Store(seed=9, products=800, customers=400, orders=400, plateau=120)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url, page_size=20, max_requests_in_flight=in_flight)
        # Half a store of changes while the parts are read: nothing may be lost.
        sb.mutate_every(7, touch=2, insert=1, resource="products")
        run = run_tap(config)
        probes = [r for r in sb.requests if r.query.get("limit") == "1" and "page" in r.query]
        sb.hooks.clear()
        again = run_tap(config, state=run.final_state)
    assert run.returncode == 0, run.stderr
    assert bool(probes) == (in_flight > 1), "parts are planned only when reading side by side"
    for stream in PARENTS:
        # A record changed in the run's last second comes again, newer: never the same twice.
        versions = {(r["id"], r["date_modified"]) for r in run.records(stream)}
        assert len(versions) == len(run.records(stream)), f"{stream} repeated a version"
        moments = [r["date_modified"] for r in run.records(stream)]
        assert moments == sorted(moments), f"{stream} not in date_modified order"
        latest = {r["id"]: r["date_modified"] for r in run.records(stream) + again.records(stream)}
        truth = {i: store.record(stream, i)["date_modified"] for i in store.ids(stream)}
        assert set(latest) == set(truth), stream
        for record_id, raw in truth.items():
            assert latest[record_id] == to_iso(raw), (stream, record_id)


@pytest.mark.parametrize("in_flight", [1, 3])
def test_requests_in_flight_never_exceed_the_setting(in_flight):
    # A second shared by 30 products spans pages, so seconds are also read by id meanwhile.
    store = Store(seed=4, products=400, customers=200, orders=200, plateau=30)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, latency_ms=30) as sb:
        run = run_tap(sandbox_config(sb.api_url, page_size=20, max_requests_in_flight=in_flight))
        peak = sb.peak_in_flight
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        assert sorted(ids(run.records(stream))) == sorted(store.ids(stream)), stream
    assert peak == in_flight, f"at most {in_flight} at once, and that many when there is room"


@pytest.mark.parametrize(("quota", "expected_peak"), [(150, 1), (450, 3), (1500, 8)])
def test_requests_in_flight_follow_the_stores_quota(quota, expected_peak):
    # Per 30 s, less the default 20 % reserve, at 4 requests a second for each one in flight:
    # a Standard plan reads one page at a time, a Pro plan three, a larger quota the setting.
    store = Store(seed=4, products=400, customers=100, orders=100, plateau=30)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, latency_ms=30) as sb:
        sb.set_quota(quota, window_ms=30_000)
        config = sandbox_config(sb.api_url, page_size=20, max_requests_in_flight=8)
        run = run_tap(config, catalog=only(sb, *MAIN))
        peak, limited = sb.peak_in_flight, sb.rate_limited
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        assert sorted(ids(run.records(stream))) == sorted(store.ids(stream)), stream
    assert (peak, limited) == (expected_peak, 0)


@pytest.mark.parametrize("in_flight", [2, 8])
def test_threads_and_streams_share_their_connections(in_flight):
    # Each stream and pass brings new threads; over HTTPS a new connection is a handshake.
    store = Store(seed=4, products=400, customers=400, orders=300, plateau=0)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url, page_size=20, max_requests_in_flight=in_flight))
        assert run.returncode == 0, run.stderr
        assert len(sb.requests) > 10 * in_flight
        assert sb.connections_opened <= in_flight + 2, sb.connections_opened


def most_at_once(sb: Sandbox, starts: list, wanted) -> int:
    """The most requests matching `wanted` under way at one moment (start hook, end log)."""
    key = lambda r: (r.path, tuple(sorted(r.query.items())))  # noqa: E731
    began = {key(r): r.at for r in starts}
    events = []
    for r in sb.requests:
        if wanted(r):
            events += [(began[key(r)], 1), (r.at, -1)]
    level = peak = 0
    for _, step in sorted(events):
        level += step
        peak = max(peak, level)
    return peak


def only(sb: Sandbox, *names: str) -> dict:
    """The sandbox's discovered catalog with only the streams `names` selected."""
    return discovered_with(sb.api_url, names)


def test_orders_parts_side_by_side_stay_within_the_memory_budget():
    # Orders are heavy (line items); parts wait in memory for their turn, so no more are read
    # at once than hold about 1,000 orders: two parts of two pages, not eight.
    store = Store(seed=2, products=1, customers=1, orders=5000)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, latency_ms=20) as sb:
        catalog = only(sb, "orders")
        starts: list = []
        sb.hooks.append(starts.append)
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
        pages = most_at_once(sb, starts, lambda r: r.query.get("limit") == "250")
        probes = [r for r in sb.requests if r.query.get("limit") == "1"]
    assert run.returncode == 0, run.stderr
    assert sorted(ids(run.records("orders"))) == sorted(store.ids("orders"))
    assert probes, "the window is read in parts"
    assert pages == 2


def test_an_error_on_the_readers_side_stops_requests_still_retrying():
    # Page 2 brings a record without `date_modified`, which the reader (not a worker) finds;
    # meanwhile pages 3 to 9 get 503 and wait to retry: the failure must stop them.
    store = Store(seed=5, products=400, customers=1, orders=1, plateau=0)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, latency_ms=20) as sb:
        catalog = only(sb, "products")
        # (Of 20 pages, "page=3" matches page 3 alone, "page=2" pages 2 and 20.)
        sb.faults.add("drop_field:date_modified", path_contains="page=2", times=None)
        for page in range(3, 10):
            sb.faults.add("503", path_contains=f"page={page}", times=None)
        config = sandbox_config(
            sb.api_url,
            page_size=20,
            retry_backoff_base=2,
            retry_backoff_max=2,
            max_retries=3,
        )
        run = run_tap(config, catalog=catalog)
        refused = Counter(r.query["page"] for r in sb.requests if r.status == 503)
    assert run.returncode == 1
    assert "no usable 'date_modified'" in run.stderr, run.stderr[-500:]
    assert refused, "pages were under way when the reader failed"
    assert max(refused.values()) == 1, f"pages retried after the run had failed: {refused}"


def test_orders_on_a_standard_quota_are_read_without_planning_requests():
    store = Store(seed=2, products=1, customers=1, orders=3000)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        catalog = only(sb, "orders")
        asked = []
        for in_flight in (8, 1):
            sb.set_quota(150, window_ms=30_000)  # learnt from the first answer: one at a time
            sb.reset_log()
            config = sandbox_config(sb.api_url, max_requests_in_flight=in_flight)
            run = run_tap(config, catalog=catalog)
            assert run.returncode == 0, run.stderr
            assert sorted(ids(run.records("orders"))) == sorted(store.ids("orders"))
            asked.append([r for r in sb.requests if "/v2/orders" in r.path])
    # (A progress line on a slow machine may ask /count for the whole run: no upper bound.)
    planning = [
        r
        for r in asked[0]
        if (r.path.endswith("/count") and "max_date_modified" in r.query)
        or r.query.get("limit") == "1"
    ]
    assert not planning
    pages = [[r for r in run if not r.path.endswith("/count")] for run in asked]
    assert len(pages[0]) == len(pages[1]), "more requests than reading one at a time"


def test_orders_whose_count_fails_are_read_whole():
    store = Store(seed=2, products=1, customers=1, orders=1200)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        catalog = only(sb, "orders")
        sb.faults.add("500", path_contains="/v2/orders/count", times=None)
        run = run_tap(sandbox_config(sb.api_url, max_retries=1), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert sorted(ids(run.records("orders"))) == sorted(store.ids("orders"))
    assert "could not count the window" in run.stderr


def test_start_date_past_the_stores_clock_reads_nothing_and_asks_no_empty_window(sandbox):
    run = run_tap(sandbox_config(sandbox.api_url, start_date="2100-01-01T00:00:00Z"))
    assert run.returncode == 0, run.stderr
    # Streams read whole have no bookmark: they are read whole whatever start_date says.
    incremental = {s.name for s in STREAM_TYPES if not isinstance(s.replication, ReadWhole)}
    assert not [m for m in run.messages if m["type"] == "RECORD" and m["stream"] in incremental]
    for request in sandbox.requests:
        low = request.query.get("date_modified:min") or request.query.get("min_date_modified")
        high = request.query.get("date_modified:max") or request.query.get("max_date_modified")
        assert not (low and high and low > high), f"asked for an empty window: {request.query}"


def test_plateau_larger_than_a_page_is_read_whole():
    store = Store(seed=5, products=700, customers=700, orders=700, plateau=300)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url, page_size=100))
    assert run.returncode == 0, run.stderr
    for stream in PARENTS:
        got = ids(run.records(stream))
        assert sorted(got) == sorted(store.ids(stream)), stream
        assert len(got) == len(set(got))


def test_a_run_from_a_bulk_imports_second_asks_for_no_page_past_the_end():
    # The bookmark sits on a second shared by more records than a page holds (a bulk
    # import): the first page is all of that second, which is then walked by id. The pages
    # sent out together with page 1 of the rest must not count that second again.
    store = Store(seed=8, products=300, customers=1, orders=1, plateau=60)
    at = store.plateau_at["products"]
    assert at is not None
    later = sum(1 for moment in store.table("products").modified if moment > at)
    bookmark = dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).isoformat()
    state = {"bookmarks": {"products": {"replication_key": "date_modified",
                                        "replication_key_value": bookmark}}}  # fmt: skip
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url, page_size=20)
        catalog = only(sb, "products")
        sb.reset_log()
        run = run_tap(config, catalog=catalog, state=state)
        numbered = [int(r.query["page"]) for r in sb.requests if "page" in r.query]
    assert run.returncode == 0, run.stderr
    assert len(run.records("products")) == 60 + later
    assert numbered and max(numbered) <= -(-later // 20), sorted(numbered)


def test_incremental_run_reads_only_changes_and_the_bookmark(sandbox, store):
    first = run_tap(sandbox_config(sandbox.api_url))
    state = first.final_state
    assert state is not None
    touched = {"products": [3, 9], "customers": [4], "orders": [5, 6, 7]}
    for stream, chosen in touched.items():
        store.touch(stream, chosen)
    second = run_tap(sandbox_config(sandbox.api_url), state=state)
    assert second.returncode == 0, second.stderr
    for stream, chosen in touched.items():
        got = set(ids(second.records(stream)))
        assert set(chosen) <= got, stream
        bookmark = store_bookmark(state, stream)["replication_key_value"]
        at_bookmark = {r["id"] for r in first.records(stream) if r["date_modified"] == bookmark}
        # Only the changed records and those sharing the old bookmark's second come again.
        assert got <= set(chosen) | at_bookmark, stream


def test_a_run_with_a_few_changes_costs_one_request_a_stream(sandbox, store):
    config = sandbox_config(sandbox.api_url, page_size=20)  # several pages a stream
    first = run_tap(config)
    assert first.returncode == 0, first.stderr
    for stream in PARENTS:
        store.touch(stream, [2, 3])
    sandbox.reset_log()
    second = run_tap(config, state=first.final_state)
    assert second.returncode == 0, second.stderr
    listings = {"products": "/v3/catalog/products", "customers": "/v3/customers",
                "orders": "/v2/orders"}  # fmt: skip
    asked = Counter(
        stream for r in sandbox.requests for stream, path in listings.items()
        if r.path.endswith(path)
    )  # fmt: skip
    # The first page tells the store's clock and holds every change: nothing else is asked.
    assert asked == {stream: 1 for stream in PARENTS}
    for stream in PARENTS:
        assert {2, 3} <= set(ids(second.records(stream))), stream


def test_record_equal_to_bookmark_is_not_lost(sandbox, store):
    first = run_tap(sandbox_config(sandbox.api_url))
    bookmark = store_bookmark(first.final_state, "orders")["replication_key_value"]
    # Another order changes within the same second as the bookmark, after the first run.
    when = int(dt.datetime.fromisoformat(bookmark).timestamp())
    other = next(i for i in store.ids("orders") if i not in ids(first.records("orders"))[-3:])
    store.touch("orders", [other], when=when)
    second = run_tap(sandbox_config(sandbox.api_url), state=first.final_state)
    assert other in ids(second.records("orders"))


def test_start_date_limits_the_first_run(sandbox, store):
    everything = run_tap(sandbox_config(sandbox.api_url)).records("customers")
    middle = sorted(r["date_modified"] for r in everything)[len(everything) // 2]
    run = run_tap(sandbox_config(sandbox.api_url, start_date=middle))
    got = run.records("customers")
    assert got and all(r["date_modified"] >= middle for r in got)
    assert len(got) == sum(1 for r in everything if r["date_modified"] >= middle)


def test_state_is_standard_sdk_state(sandbox):
    run = run_tap(sandbox_config(sandbox.api_url))
    for stream in PARENTS:
        bookmark = store_bookmark(run.final_state, stream)
        assert bookmark["replication_key"] == "date_modified"
        newest = max(r["date_modified"] for r in run.records(stream))
        assert bookmark["replication_key_value"] == newest


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"store_hash": None}, "store_hash is required"),
        ({"store_hash": "stores/abc123"}, "store_hash must be the short id"),
        ({"store_hash": "abc/../x"}, "store_hash must be the short id"),
        ({"access_token": None}, "access_token (or its synonym api_key) is required"),
        ({"access_token": "  "}, "access_token (or its synonym api_key) is required"),
        ({"api_key": "other-key-123456"}, "access_token and api_key are both set and differ"),
        ({"api_url": "http://api.example.com"}, "uses plain http"),
        ({"api_url": "ftp://x"}, "api_url must be a URL"),
        ({"page_size": 0}, "page_size must be a whole number from 1 to 250"),
        ({"page_size": 251}, "page_size must be a whole number from 1 to 250"),
        ({"page_size": "many"}, "page_size must be a whole number"),
        ({"request_timeout": -1}, "request_timeout must be a number"),
        ({"quota_reserve": 0.95}, "quota_reserve must be a number from 0 to 0.9"),
        ({"max_retries": 1.5}, "max_retries must be a whole number"),
        ({"start_date": "last tuesday"}, "start_date must be an ISO-8601"),
    ],
)
def test_bad_setting_is_named_in_one_line(overrides, expected):
    config = {**sandbox_config("http://127.0.0.1:9"), **overrides}
    config = {k: v for k, v in config.items() if v is not None}
    for args in ((), ("--discover",)):
        run = run_tap(config, *args)
        assert run.returncode != 0
        assert expected in run.stderr
        assert "Traceback" not in run.stderr
        assert TOKEN not in run.stderr + run.stdout
        assert not run.records("products")


def test_api_key_is_accepted_as_synonym(sandbox, store):
    config = sandbox_config(sandbox.api_url)
    config["api_key"] = config.pop("access_token")
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"access_token": "wrong-key-0000"}, "rejected the API key (HTTP 401): check access_token"),
        ({"store_hash": "nosuchstore"}, "no store 'nosuchstore'"),
        ({"api_url": "UNREACHABLE"}, "could not reach http://127.0.0.1:"),
    ],
)
def test_discovery_failures_end_in_one_line(sandbox, change, expected):
    if change.get("api_url") == "UNREACHABLE":
        change = {"api_url": f"http://127.0.0.1:{free_port()}"}
    run = run_tap({**sandbox_config(sandbox.api_url), **change}, "--discover")
    assert run.returncode != 0
    errors = [ln for ln in run.stderr.splitlines() if "error" in ln.lower()]
    assert any(expected in ln for ln in errors), run.stderr
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr + run.stdout
    assert '"streams"' not in run.stdout


def test_missing_scope_names_the_stream():
    store = Store(seed=2, products=5, customers=5, orders=5)
    scopes = {"products", "customers"}
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, scopes=scopes, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url), "--discover")
        assert sb.count(path_contains="/v2/store") == 0, "discovery must not need /v2/store"
    assert run.returncode != 0
    assert "no access to orders (HTTP 403" in run.stderr
    assert "'Orders: read-only' scope" in run.stderr
    assert "Traceback" not in run.stderr


def test_discovery_checks_each_stream_with_one_small_request(sandbox):
    run = run_tap(sandbox_config(sandbox.api_url), "--discover")
    assert run.returncode == 0, run.stderr
    assert '"tap_stream_id": "orders"' in run.stdout.replace(
        '"tap_stream_id":"', '"tap_stream_id": "'
    )
    limits = [r for r in sandbox.requests if r.query.get("limit") == "1"]
    top_level = [s for s in STREAM_TYPES if issubclass(s, BigCommerceStream)]
    assert len(limits) == len(top_level)
    assert {r.path.rsplit("/v", 1)[1].split("/", 1)[1] for r in limits} == {
        s.endpoint for s in top_level
    }


def test_about_and_test_modes(sandbox):
    about = run_tap({}, "--about", "--format=markdown")
    assert about.returncode == 0
    assert "| store_hash |" in about.stdout
    tested = run_tap(sandbox_config(sandbox.api_url), "--test")
    assert tested.returncode == 0, tested.stderr


# With a child stream selected the parents take the full path; alone, products could be
# written as sent: these settings must switch that off.
WHICH = pytest.mark.parametrize("parents_only", [False, True], ids=["all", "parents-only"])


def discovered(config: dict, parents_only: bool) -> dict:
    catalog = json.loads(run_tap(config, "--discover").stdout)
    return select_only(catalog, PARENTS) if parents_only else catalog


@WHICH
def test_stream_maps_and_flattening(sandbox, parents_only):
    config = sandbox_config(
        sandbox.api_url,
        stream_maps={
            "customers": {"email": None, "email_domain": "email.split('@')[-1]"},
            "products": {"name": None},
        },
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    run = run_tap(config, catalog=discovered(config, parents_only))
    assert run.returncode == 0, run.stderr
    customer = run.records("customers")[0]
    assert "email" not in customer and "email_domain" in customer
    products = run.records("products")
    assert products and all("custom_url__url" in p and "name" not in p for p in products)


@WHICH
def test_deselected_fields_are_left_out(sandbox, parents_only):
    config = sandbox_config(sandbox.api_url)
    catalog = discovered(config, parents_only)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if entry["tap_stream_id"] in ("customers", "products") and item["breadcrumb"] in (
                ["properties", "email"],
                ["properties", "phone"],
                ["properties", "sku"],
            ):
                item["metadata"]["selected"] = False
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    customers = run.records("customers")
    assert customers and all("email" not in c and "phone" not in c for c in customers)
    products = run.records("products")
    assert products and all("sku" not in p for p in products)
    assert all("name" in p and "price" in p for p in products), "the other fields stay"


def test_batch_files_hold_whole_records(sandbox, store, tmp_path):
    config = sandbox_config(
        sandbox.api_url,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": tmp_path.as_uri(), "prefix": "batch-"},
        },
    )
    run = run_tap(config, catalog=discovered(config, parents_only=True))
    assert run.returncode == 0, run.stderr
    rows = [
        json.loads(line)
        for path in sorted(tmp_path.glob("batch-*products*"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    assert sorted(ids(rows)) == store.ids("products")
    assert all(row["name"] and "price" in row for row in rows)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"key_properties": ["sku"]}, ["store_hash", "sku"]),
        ({"key_properties": []}, []),
        ({"replication_key": None}, ["store_hash", "id"]),
    ],
    ids=["sku-key", "no-key", "full-table"],
)
def test_catalog_key_overrides_still_read_every_product(sandbox, store, change, key):
    """A key chosen in the catalog gets `store_hash` in front; an empty one stays empty."""
    config = sandbox_config(sandbox.api_url)
    catalog = discovered(config, parents_only=True)
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == "products")
    top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
    if "key_properties" in change:
        entry["key_properties"] = top["table-key-properties"] = change["key_properties"]
    else:
        entry["replication_key"] = None
        entry["replication_method"] = top["forced-replication-method"] = "FULL_TABLE"
        top.pop("valid-replication-keys", None)
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(ids(run.records("products"))) == store.ids("products")
    (schema,) = [m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "products"]
    assert schema["key_properties"] == key


def test_long_sync_reports_progress_with_the_api_total():
    store = Store(seed=12, products=10, customers=10, orders=230, plateau=0)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url, page_size=5, max_requests_in_flight=1))
    assert run.returncode == 0, run.stderr
    total = store.count("orders")
    lines = [ln for ln in run.stderr.splitlines() if "orders: " in ln and "records so far" in ln]
    assert [ln.split("orders: ")[1] for ln in lines[:2]] == [
        f"100 records so far of {total}",
        f"200 records so far of {total}",
    ]


def test_a_redirect_is_refused_and_the_key_goes_nowhere_else():
    import http.server
    import threading

    seen_tokens: list[str | None] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen_tokens.append(self.headers.get("X-Auth-Token"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Redirector(Elsewhere):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{other.server_port}{self.path}")
            self.end_headers()

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (other, front)]
    for thread in threads:
        thread.start()
    try:
        run = run_tap(sandbox_config(f"http://127.0.0.1:{front.server_port}"))
    finally:
        for server in (front, other):
            server.shutdown()
            server.server_close()
    assert run.returncode != 0
    assert "answered with a redirect (HTTP 302)" in run.stderr
    assert seen_tokens == [], "the key must never reach the redirect's target"
