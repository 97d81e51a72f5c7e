"""Issue #5, "Never lose a record": the tap against a sandbox store that misbehaves.

Every test runs the real `tap-bigcommerce` command against the sandbox over HTTP on
127.0.0.1: a store that changes while it is read, a crash (SIGKILL) and a rerun from the last
STATE, transient and persistent faults, the shared quota, malformed answers, and the API key
under the most verbose logging.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    run_tap,
    sandbox_config,
    select_only,
    store_bookmark,
    store_bookmarks,
)

PARENTS = ("customers", "orders", "products")
#: The path (and start of the query) of each stream's list endpoint, for fault rules.
LIST_PATH = {
    "products": "/v3/catalog/products?",
    "customers": "/v3/customers?",
    "orders": "/v2/orders?",
}
DEBUG_ENV = {"TAP_BIGCOMMERCE_LOGLEVEL": "DEBUG"}
#: A logged request header (`'X-Auth-Token': '...'` or `X-Auth-Token: ...`).
HEADER_DUMP = re.compile(r"X-Auth-Token['\"]?\s*:")


# ------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def catalog() -> dict:
    """The tap's own catalog with the three top-level streams selected (children off)."""
    with Sandbox(Store(seed=1, products=2, customers=2, orders=2), access_token=TOKEN) as sb:
        run = run_tap(sandbox_config(sb.api_url), "--discover")
    assert run.returncode == 0, run.stderr
    return select_only(json.loads(run.stdout), PARENTS)


def serve(store: Store, **kwargs: object) -> Sandbox:
    return Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0, **kwargs)  # type: ignore[arg-type]


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def seconds(value: str) -> int:
    return int(moment(value).timestamp())


def in_read_order(store: Store, stream: str) -> list[int]:
    """The store's ids in the order the tap reads them: (date_modified, id)."""
    return sorted(store.ids(stream), key=lambda rid: (store.state(stream, rid)[1], rid))


def fingerprint(store: Store, stream: str, rid: int) -> tuple:
    """What identifies the current version of a record as the store holds it."""
    raw = store.record(stream, rid)
    modified = store.state(stream, rid)[1]
    if stream == "products":
        return modified, raw["description"]
    if stream == "orders":
        return modified, raw["status_id"], decimal.Decimal(raw["total_inc_tax"])
    return (modified,)


def emitted_fingerprint(stream: str, record: dict) -> tuple:
    """The same identification, of a record the tap emitted."""
    modified = seconds(record["date_modified"])
    if stream == "products":
        return modified, record["description"]
    if stream == "orders":
        return modified, record["status_id"], decimal.Decimal(record["total_inc_tax"])
    return (modified,)


def latest_emitted(runs: Iterable[TapRun], stream: str) -> dict[int, dict]:
    """Each id's last emitted version over several runs, in run order."""
    latest: dict[int, dict] = {}
    for run in runs:
        for record in run.records(stream):
            latest[record["id"]] = record
    return latest


def assert_latest_versions(store: Store, runs: Iterable[TapRun], stream: str) -> None:
    """Every record of the store was emitted, the last time in its current version."""
    latest = latest_emitted(runs, stream)
    missing = [rid for rid in store.ids(stream) if rid not in latest]
    assert not missing, f"{stream}: {len(missing)} records never emitted, e.g. {missing[:5]}"
    stale = [
        rid
        for rid in store.ids(stream)
        if emitted_fingerprint(stream, latest[rid]) != fingerprint(store, stream, rid)
    ]
    assert not stale, f"{stream}: {len(stale)} records emitted only in an old version: {stale[:5]}"


def assert_state_covers_emitted(run: TapRun, incoming: dict | None = None) -> None:
    """Property 4: no bookmark ever runs ahead of the records written before it."""
    before = {
        name: moment(b["replication_key_value"])
        for name, b in store_bookmarks(incoming).items()
        if b.get("replication_key_value")
    }
    newest: dict[str, dt.datetime] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            stream = message["stream"]
            when = moment(message["record"]["date_modified"])
            newest[stream] = max(when, newest.get(stream, when))
        elif message["type"] == "STATE":
            for stream, bookmark in store_bookmarks(message["value"]).items():
                value = bookmark.get("replication_key_value")
                if value is None:
                    continue
                allowed = [m for m in (newest.get(stream), before.get(stream)) if m is not None]
                assert allowed and moment(value) <= max(allowed), (
                    f"STATE bookmark {stream}={value} is past every record written so far "
                    f"(newest emitted {newest.get(stream)}, incoming {before.get(stream)})"
                )


def assert_one_line_error(run: TapRun, *expected: str, prefix: str = "tap-bigcommerce: error:"
                          ) -> str:  # fmt: skip
    """The run failed with exactly one line starting with `prefix` and no traceback."""
    assert run.returncode != 0, "the run must fail"
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [ln for ln in run.stderr.splitlines() if prefix in ln]
    assert len(errors) == 1, run.stderr[-3000:]
    for text in expected:
        assert text in errors[0], errors[0]
    assert TOKEN not in run.stdout + run.stderr
    return errors[0]


def assert_prefix(store: Store, run: TapRun, stream: str) -> list[int]:
    """What was emitted of `stream` is the start of its read order: no page skipped."""
    got = [r["id"] for r in run.records(stream)]
    order = in_read_order(store, stream)
    assert got == order[: len(got)], f"{stream}: emitted records are not a gap-free prefix"
    return got


def same_request_repeats(sb: Sandbox, path: str, expect: int) -> int:
    """How often the most repeated request to `path` was sent: retries show up here.

    Keyset paging never sends the same query twice in a clean run. The log keeps a request
    when it is answered, so a slow one that the tap gave up on may still be on its way in.
    """
    deadline = time.monotonic() + 3.0
    while True:
        sent = Counter(
            tuple(sorted(r.query.items()))
            for r in sb.requests
            if r.path.rstrip("/").endswith(path.rstrip("?"))
        )
        most = max(sent.values(), default=0)
        if most >= expect or time.monotonic() > deadline:
            return most
        time.sleep(0.05)


# ------------------------------------------------------------------------------- 1. changes


@pytest.mark.parametrize(
    ("plateau", "size", "page_size", "every", "touch"),
    [
        pytest.param(0, 300, 25, 2, 2, id="many-small-pages"),
        pytest.param(300, 700, 100, 1, 3, id="plateau-bigger-than-page"),
    ],
)
def test_store_changing_during_sync_loses_nothing(catalog, plateau, size, page_size, every, touch):
    store = Store(seed=21, products=size, customers=size, orders=size, plateau=plateau)
    plateau_before = {s: _on_plateau(store, s) for s in PARENTS}
    with serve(store) as sb:
        hook = sb.mutate_every(every, touch=touch, insert=1, seed=5)
        counts_before = store.counts()
        config = sandbox_config(sb.api_url, page_size=page_size)
        first = run_tap(config, catalog=catalog)
        sb.hooks.remove(hook)
        assert first.returncode == 0, first.stderr[-3000:]
        # The store really changed under the reader, plateau included.
        for stream in PARENTS:
            assert store.count(stream) > counts_before[stream], stream
            if plateau:
                assert _on_plateau(store, stream) < plateau_before[stream], stream
        assert_state_covers_emitted(first)
        # Everything already below the bookmark the first run wrote is complete and current:
        # the next run starts at that bookmark and will never look below it again.
        for stream in PARENTS:
            bookmark = seconds(store_bookmark(first.final_state, stream)["replication_key_value"])
            below = {rid for rid in store.ids(stream) if store.state(stream, rid)[1] < bookmark}
            latest = latest_emitted([first], stream)
            lost = [
                rid
                for rid in sorted(below)
                if rid not in latest
                or emitted_fingerprint(stream, latest[rid]) != fingerprint(store, stream, rid)
            ]
            assert not lost, f"{stream}: lost below the bookmark: {lost[:10]}"
        second = run_tap(config, state=first.final_state, catalog=catalog)
    assert second.returncode == 0, second.stderr[-3000:]
    assert_state_covers_emitted(second, first.final_state)
    for stream in PARENTS:
        assert_latest_versions(store, [first, second], stream)
        # The second run only re-reads changes and the bookmark's second, not everything.
        assert len(second.records(stream)) < store.count(stream), stream


def _on_plateau(store: Store, stream: str) -> int:
    at = store.plateau_at.get(stream)
    if at is None:
        return 0
    return sum(1 for rid in store.ids(stream) if store.state(stream, rid)[1] == at)


# ------------------------------------------------------------------------------- 2. crash


def _records_since_last_state(messages: list[dict]) -> int:
    count = 0
    for message in reversed(messages):
        if message["type"] == "STATE":
            return count
        count += message["type"] == "RECORD"
    return -1  # no STATE yet


def _mid_stream_state_then(messages: list[dict], more: int) -> bool:
    """A STATE was written between two records of one stream, and `more` records followed."""
    last_stream = None
    for i, message in enumerate(messages):
        if message["type"] == "RECORD":
            last_stream = message["stream"]
        elif message["type"] == "STATE" and last_stream is not None:
            nxt = next((m for m in messages[i + 1 :] if m["type"] == "RECORD"), None)
            if nxt is not None and nxt["stream"] == last_stream:
                after = sum(1 for m in messages[i + 1 :] if m["type"] == "RECORD")
                if after >= more:
                    return True
    return False


def test_crash_at_any_point_then_rerun_from_last_state_loses_nothing(catalog):
    # Products are the largest stream: several mid-stream STATEs (one per 1,000 records).
    store = Store(seed=31, products=3_500, customers=300, orders=300, plateau=300)
    with serve(store, latency_ms=10) as sb:
        config = sandbox_config(sb.api_url)
        runs: list[TapRun] = []
        incoming: list[dict | None] = [None]
        # Crash 1: early, with some STATE written and records emitted past it.
        tap = TapProcess(config, catalog=catalog)
        assert tap.wait_for(lambda m: _records_since_last_state(m) >= 150)
        runs.append(tap.kill())
        # Crash 2: after a STATE written in the middle of a stream, and records past it.
        state = runs[-1].final_state
        assert state is not None, "no STATE before the first crash"
        incoming.append(state)
        tap = TapProcess(config, state=state, catalog=catalog)
        assert tap.wait_for(lambda m: _mid_stream_state_then(m, 300)), "no mid-stream STATE"
        runs.append(tap.kill())
        # The rerun completes.
        incoming.append(runs[-1].final_state)
        runs.append(run_tap(config, state=runs[-1].final_state, catalog=catalog))
    assert [r.returncode for r in runs[:2]] == [-9, -9], "the tap ended before it was killed"
    assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]
    for run, state in zip(runs, incoming, strict=True):
        assert_state_covers_emitted(run, state)
    for stream in PARENTS:
        assert_latest_versions(store, runs, stream)
    # The last run resumed products in the middle, at the bookmark, rather than from the start.
    resumed_at = store_bookmark(incoming[-1], "products")
    assert resumed_at.get("replication_key_value"), "no products bookmark before the crash"
    mark = seconds(resumed_at["replication_key_value"])
    rest = {rid for rid in store.ids("products") if store.state("products", rid)[1] >= mark}
    assert {r["id"] for r in runs[-1].records("products")} == rest
    assert 0 < len(rest) < store.count("products")


def test_state_is_written_at_least_every_1000_records(catalog):
    store = Store(seed=32, products=1_100, customers=5, orders=5, plateau=0)
    with serve(store) as sb:
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    gap = longest = 0
    for message in run.messages:
        if message["type"] == "RECORD":
            gap += 1
            longest = max(longest, gap)
        elif message["type"] == "STATE":
            gap = 0
    assert longest <= 1000, f"{longest} records in a row without a STATE"


# ------------------------------------------------------------------------------- 3. faults

TRANSIENT = ["429", "429_bare", "500", "502", "503", "reset", "truncated", "slow"]


@pytest.fixture
def small() -> Iterator[Sandbox]:
    store = Store(seed=41, products=90, customers=90, orders=90, plateau=0)
    with serve(store) as sb:
        # A short window, so that a 429's reset is a fraction of a second away.
        sb.set_quota(None, window_ms=600)
        yield sb


@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_fault_is_retried_and_nothing_is_lost(catalog, small, kind):
    store = small.store
    small.faults.add(kind, path_contains=LIST_PATH["orders"], nth=2, times=2, seconds=1.5)
    config = sandbox_config(small.api_url, page_size=25, request_timeout=0.5)
    started = time.monotonic()
    run = run_tap(config, catalog=catalog)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert small.faults.injected == {kind: 2}
    for stream in PARENTS:
        got = [r["id"] for r in run.records(stream)]
        assert sorted(got) == sorted(store.ids(stream)), stream
        assert len(got) == len(set(got)), stream
    assert_state_covers_emitted(run)
    # The failed request was sent again, twice, with the same parameters.
    assert same_request_repeats(small, LIST_PATH["orders"], 3) == 3
    assert run.stderr.count("retry 1 of 5") == 1 and run.stderr.count("retry 2 of 5") == 1
    orders = [r for r in small.requests if r.path.endswith("/v2/orders")]
    if kind == "429":
        # A 429 with headers is waited out until the window resets, each time.
        for i, request in enumerate(orders[:-1]):
            if request.status == 429:
                reset_s = int(request.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000
                assert orders[i + 1].at - request.at >= reset_s, "retried before the reset"
    else:
        # Backoff without server advice is bounded (FAST: at most 0.05 s a wait).
        budget = 2 * 1.5 + 3.0 if kind == "slow" else 3.0
        assert elapsed < budget + 2.0, f"{elapsed:.1f} s"


@pytest.mark.parametrize("kind", ["truncated", "not_json"])
def test_a_bad_products_page_is_retried_and_nothing_is_lost(catalog, small, kind):
    """v3 pages are decoded with each record left as JSON: a cut-off body is still retried."""
    small.faults.add(kind, path_contains=LIST_PATH["products"], nth=2, times=2)
    run = run_tap(sandbox_config(small.api_url, page_size=25), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert small.faults.injected == {kind: 2}
    got = [r["id"] for r in run.records("products")]
    assert sorted(got) == small.store.ids("products") and len(got) == len(set(got))
    assert all(r["name"] for r in run.records("products"))
    assert_state_covers_emitted(run)


# 502 and 503 take the path of 500 (and a persistent 503 is in the secrets test).
@pytest.mark.parametrize(
    "kind", ["429", "429_bare", "500", "reset", "truncated", "slow", "not_json"]
)
def test_persistent_fault_stops_with_one_line_and_honest_state(catalog, small, kind):
    store = small.store
    small.faults.add(kind, path_contains=LIST_PATH["orders"], nth=3, times=None, seconds=1.0)
    config = sandbox_config(small.api_url, page_size=25, request_timeout=0.3, max_retries=2)
    run = run_tap(config, catalog=catalog)
    line = assert_one_line_error(run, "orders", "still failing after 2 retries")
    assert "GET /stores/abc123/v2/orders" in line
    assert same_request_repeats(small, LIST_PATH["orders"], 3) == 3  # 1 try + 2 retries
    got = assert_prefix(store, run, "orders")
    assert got, "the pages before the fault should have been written"
    assert len(got) <= 2 * 25, "records from the failing page or beyond were written"
    assert_state_covers_emitted(run)


# ------------------------------------------------------------------------------- 4. quota


@pytest.mark.parametrize(("reserve", "lowest_left"), [(0, 0), (0.5, 9)])
def test_shared_quota_is_never_exceeded(catalog, reserve, lowest_left):
    store = Store(seed=51, products=220, customers=220, orders=220, plateau=0)
    with serve(store) as sb:
        sb.set_quota(20, window_ms=1000)
        config = sandbox_config(sb.api_url, page_size=20, quota_reserve=reserve)
        started = time.monotonic()
        run = run_tap(config, catalog=catalog)
        elapsed = time.monotonic() - started
        requests, limited, min_left = len(sb.requests), sb.rate_limited, sb.rate.min_left
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in PARENTS:
        assert sorted(r["id"] for r in run.records(stream)) == sorted(store.ids(stream))
    usable = 20 - int(20 * reserve)
    assert requests > 1.5 * usable, "the sync must need several windows"
    assert limited == 0, f"{limited} requests hit the quota (429)"
    assert min_left is not None and min_left >= lowest_left, f"quota left fell to {min_left}"
    # Pacing waits for the window, not longer: about one window per `usable` requests.
    assert elapsed < (requests / usable + 2) * 1.0 + 2.0, f"{elapsed:.1f} s for {requests}"


# ------------------------------------------------------------------------------- 5. bad input


@pytest.mark.parametrize(
    ("kind", "stream", "expected"),
    [
        ("bad_envelope", "products", "expected a JSON object with a 'data' list"),
        ("bad_envelope", "customers", "expected a JSON object with a 'data' list"),
        ("bad_envelope", "orders", "expected a JSON array from /v2/orders"),
        ("drop_field:id", "orders", "a record without an 'id'"),
        ("drop_field:id", "products", "a record without an 'id'"),
        ("drop_field:date_modified", "customers", "has no usable 'date_modified'"),
        ("drop_field:date_modified", "orders", "has no usable 'date_modified'"),
        ("not_json", "customers", "not JSON"),
    ],
)
def test_bad_answer_stops_before_it_with_one_line(catalog, small, kind, stream, expected):
    store = small.store
    small.faults.add(kind, path_contains=LIST_PATH[stream], nth=3, times=None)
    config = sandbox_config(small.api_url, page_size=25, max_retries=1)
    run = run_tap(config, catalog=catalog)
    assert_one_line_error(run, stream, expected)
    got = assert_prefix(store, run, stream)
    assert len(got) <= 2 * 25, "records of the bad page were written"
    assert_state_covers_emitted(run)


# ------------------------------------------------------------------------------- 6. secrets


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SECRET = "bc-secret-9d41f0c2a7e65b83"
#: Cases that stop at the settings, before any logging at DEBUG level happens.
CONFIG_CASES = {
    "bad-page-size": "page_size must be a whole number from 1 to 250 (got 9999)",
    "both-keys-differ": "access_token and api_key are both set and differ",
}


@pytest.mark.parametrize(
    ("case", "mode"),
    [
        ("ok-with-retries", "sync"),
        ("401", "discover"),
        ("403", "sync"),
        ("404", "discover"),
        ("unreachable", "sync"),
        ("persistent-503", "sync"),
        ("not-json", "sync"),
        ("bad-page-size", "sync"),
        ("both-keys-differ", "discover"),
        ("key-with-newline", "sync"),
        ("key-not-latin-1", "discover"),
    ],
)
def test_api_key_never_printed_even_at_debug(catalog, case, mode):
    key = SECRET
    store = Store(seed=61, products=30, customers=30, orders=30, plateau=0)
    scopes = {"products", "customers"} if case == "403" else None
    with Sandbox(store, store_hash=STORE_HASH, access_token=SECRET, scopes=scopes) as sb:
        config = sandbox_config(sb.api_url, access_token=key, page_size=10, max_retries=1)
        if case == "ok-with-retries":
            sb.faults.add("500", path_contains=LIST_PATH["orders"], nth=2)
            sb.faults.add("reset", path_contains=LIST_PATH["products"], nth=2)
        elif case == "401":
            key = "bc-wrong-1c9e77b04f2d6a35"
            config["access_token"] = key
        elif case == "404":
            config["store_hash"] = "nosuchstore"
        elif case == "unreachable":
            config["api_url"] = f"http://127.0.0.1:{_free_port()}"
        elif case == "persistent-503":
            sb.faults.add("503", path_contains=LIST_PATH["customers"], times=None)
        elif case == "not-json":
            sb.faults.add("not_json", path_contains=LIST_PATH["products"], times=None)
        elif case == "bad-page-size":
            config["page_size"] = 9999
        elif case == "both-keys-differ":
            config["api_key"] = "bc-other-0f3b6c1d2e4a5968"
        elif case == "key-with-newline":
            config["access_token"] = key + "\n"
        elif case == "key-not-latin-1":
            config["access_token"] = key + "\u20ac"
        args = ("--discover",) if mode == "discover" else ()
        run = run_tap(config, *args, catalog=None if args else catalog, env=DEBUG_ENV)
    printed = run.stdout + run.stderr
    if case not in CONFIG_CASES:
        if case in ("key-with-newline", "key-not-latin-1"):
            # Rejected by the settings check before any request (and any DEBUG line).
            assert "access_token must be the key exactly as the control panel shows it" in (
                run.stderr
            )
        else:
            assert "| DEBUG " in run.stderr, "the run was not at the most verbose level"
    for secret in {key, SECRET, config.get("api_key") or SECRET}:
        assert secret not in printed, f"{case}: the key was printed"
        assert secret[-10:] not in printed, f"{case}: part of the key was printed"
    assert not HEADER_DUMP.search(printed), "a request header was logged"
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    if case == "ok-with-retries":
        assert run.returncode == 0, run.stderr[-3000:]
        assert "urllib3" in run.stderr, "urllib3's DEBUG log should be on"
    elif case in CONFIG_CASES:
        # The SDK reports settings itself, one line per bad setting, before any request.
        assert run.returncode != 0
        assert CONFIG_CASES[case] in run.stderr, run.stderr[-3000:]
    else:
        assert_one_line_error(run)
