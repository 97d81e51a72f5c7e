"""Many stores in one run, over real HTTP against one sandbox server serving several stores.

Each store has its own hash, token, data and quota. These tests check the records (every one
carries its `store_hash`; each store's ids exactly), the state (a partition per store), the
output (valid Singer: one SCHEMA a stream, ACTIVATE_VERSION only when every store was read
whole), failures (one bad store does not stop the others), resume after SIGKILL, the bounds
on stores and requests at once, and the settings.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import datetime as dt
import itertools
import json
import logging
import threading
import typing as t

import pytest

from tap_bigcommerce.client import BigCommerceClient
from tap_bigcommerce.fleet import Fleet, StoresFailedError
from tap_bigcommerce.sandbox.server import SCOPES, Sandbox
from tap_bigcommerce.sandbox.store import Store
from tap_bigcommerce.store_context import current_store
from tap_bigcommerce.tap import TapBigCommerce
from tests.taprun import (
    FAST,
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    discovered_with,
    run_tap,
    store_bookmark,
)

#: The three stores: hash, token, seed. The first is the one other tests use.
STORES = [
    (STORE_HASH, TOKEN, 1),
    ("def456", "token-of-def456-7c1e", 2),
    ("ghi789", "t-ghi-93ab55", 3),
]
PARENTS = ("products", "customers", "orders")
#: What the tests read: the three main streams with their children, and tables read whole.
SELECTED = (
    *PARENTS,
    "product_variants",
    "customer_addresses",
    "order_products",
    "brands",
    "coupons",
)
WHOLE = ("brands", "coupons")


def new_store(seed: int) -> Store:
    # Different sizes, so that the stores differ, and ids from 1 in each, so that they overlap.
    return Store(seed=seed, products=20 + 7 * seed, customers=12 + 3 * seed, orders=15 + 4 * seed)


@contextlib.contextmanager
def serving(count: int = 3) -> t.Iterator[list[Sandbox]]:
    """One sandbox server; the list holds each store's own sandbox, in `STORES` order."""
    (first_hash, first_token, first_seed), *others = STORES[:count]
    with Sandbox(new_store(first_seed), store_hash=first_hash, access_token=first_token) as sb:
        rest = [sb.add_store(h, token, new_store(seed)) for h, token, seed in others]
        yield [sb, *rest]


def stores_config(sandboxes: list[Sandbox], **overrides: t.Any) -> dict[str, t.Any]:
    entries = [{"store_hash": s.store_hash, "access_token": s.access_token} for s in sandboxes]
    return {"stores": entries, "api_url": sandboxes[0].api_url, **FAST, **overrides}


def discovered() -> dict:
    """The discovered catalog, `SELECTED` selected."""
    with serving(1) as (sb,):
        return discovered_with(sb.api_url, SELECTED)


@pytest.fixture(scope="module")
def catalog() -> dict:
    return discovered()


def by_store(run: TapRun, stream: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = collections.defaultdict(list)
    for record in run.records(stream):
        found[record["store_hash"]].append(record["id"])
    return dict(found)


def activations(run: TapRun) -> collections.Counter[str]:
    return collections.Counter(m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION")


# ---------------------------------------------------------------------------- one run, three stores


@pytest.fixture(scope="module")
def three(catalog) -> t.Iterator[tuple[list[Sandbox], TapRun]]:
    with serving(3) as sandboxes:
        for sb in sandboxes:
            sb.latency_ms = 5  # so that the stores' requests overlap
        run = run_tap(stores_config(sandboxes, page_size=10), catalog=catalog)
        yield sandboxes, run


def test_every_store_is_read_exactly_into_the_same_streams(three):
    sandboxes, run = three
    assert run.returncode == 0, run.stderr
    for stream in (*PARENTS, *WHOLE):
        got = by_store(run, stream)
        for sb in sandboxes:
            wanted = sb.store.ids(stream) if stream in PARENTS else sb.store.rest.ids(stream)
            assert sorted(set(got[sb.store_hash])) == sorted(wanted), (stream, sb.store_hash)
    # The same ids in several stores: the key must tell them apart.
    first, second = (set(by_store(run, "products")[sb.store_hash]) for sb in sandboxes[:2])
    assert first & second


def test_every_record_carries_its_store_and_every_key_starts_with_it(three):
    sandboxes, run = three
    hashes = {sb.store_hash for sb in sandboxes}
    schemas = [m for m in run.messages if m["type"] == "SCHEMA"]
    # One SCHEMA per stream, whichever store reached it first.
    assert len(schemas) == len({m["stream"] for m in schemas}) == len(SELECTED)
    for schema in schemas:
        assert schema["key_properties"][0] == "store_hash", schema["stream"]
        assert schema["schema"]["properties"]["store_hash"]["type"] == "string"
    records = [m for m in run.messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in records} == set(SELECTED)
    assert all(m["record"]["store_hash"] in hashes for m in records)
    for stream in SELECTED:
        keys = next(m["key_properties"] for m in schemas if m["stream"] == stream)
        rows = [tuple(m["record"][k] for k in keys) for m in records if m["stream"] == stream]
        assert len(set(rows)) == len(rows), f"{stream}: two records share a key"


def test_state_holds_a_bookmark_per_store(three):
    sandboxes, run = three
    for stream in PARENTS:
        partitions = run.final_state["bookmarks"][stream]["partitions"]
        assert sorted(p["context"]["store_hash"] for p in partitions) == sorted(
            sb.store_hash for sb in sandboxes
        )
        for sb in sandboxes:
            newest = max(
                r["date_modified"] for r in run.records(stream) if r["store_hash"] == sb.store_hash
            )
            assert (
                store_bookmark(run.final_state, stream, sb.store_hash)["replication_key_value"]
                == newest
            ), (stream, sb.store_hash)


def test_state_never_covers_a_record_not_yet_written(three):
    _, run = three
    assert_state_covers_only_records_written(run.messages)


def assert_state_covers_only_records_written(messages: list[dict]) -> None:
    """No STATE holds a bookmark of a store beyond the newest record written for it."""
    newest: dict[tuple[str, str], str] = {}
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] in PARENTS:
            key = (message["stream"], message["record"]["store_hash"])
            newest[key] = max(newest.get(key, ""), message["record"]["date_modified"])
        elif message["type"] == "STATE":
            for stream in PARENTS:
                stream_state = message["value"].get("bookmarks", {}).get(stream) or {}
                for part in stream_state.get("partitions") or []:
                    mark = part.get("replication_key_value")
                    store = part["context"]["store_hash"]
                    assert mark is None or mark <= newest.get((stream, store), ""), part


def test_the_shared_state_is_written_about_once_a_second_and_when_a_store_ends(three):
    # Each STATE holds every store's bookmarks: one per store's STATE would grow as the
    # square of the stores. The run's length, from its log lines' times:
    sandboxes, run = three
    stamps = [
        dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in run.stderr.splitlines()
        if line[:4].isdigit()
    ]
    seconds = (stamps[-1] - stamps[0]).total_seconds()
    states = sum(m["type"] == "STATE" for m in run.messages)
    assert len(sandboxes) <= states <= seconds / Fleet.STATE_EVERY_S + 2 * len(sandboxes) + 2


def test_stores_are_read_side_by_side_and_their_records_interleave(three):
    sandboxes, run = three
    order = [m["record"]["store_hash"] for m in run.messages if m["type"] == "RECORD"]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches > 2 * len(sandboxes), switches
    assert sandboxes[0].server_peak_in_flight > 1
    # Log lines say which store they are about.
    for sb in sandboxes:
        assert f"[{sb.store_hash}]" in run.stderr


def test_a_table_read_whole_is_activated_once_after_every_stores_last_record(three):
    _, run = three
    # No bookmark and no start_date: every stream was read whole in every store.
    assert activations(run) == collections.Counter(SELECTED)
    for stream in SELECTED:
        mine = [m for m in run.messages if m.get("stream") == stream and m["type"] != "SCHEMA"]
        versions = {m["version"] for m in mine}
        assert len(versions) == 1, stream  # one version shared by every store's records
        assert mine[-1]["type"] == "ACTIVATE_VERSION", stream


def test_no_store_token_is_ever_printed(three):
    sandboxes, run = three
    for sb in sandboxes:
        assert sb.access_token not in run.stdout + run.stderr


@contextlib.contextmanager
def serving_big(count: int) -> t.Iterator[list[Sandbox]]:
    """As `serving`, with enough records that the readers split their windows."""
    (first_hash, first_token, _), *others = STORES[:count]
    with Sandbox(big_store(), store_hash=first_hash, access_token=first_token) as sb:
        yield [sb, *(sb.add_store(h, token, big_store()) for h, token, _ in others)]


def big_store() -> Store:
    return Store(seed=4, products=70, customers=10, orders=70)


def test_every_request_for_a_store_is_made_in_its_context_whatever_thread_sends_it(
    catalog, monkeypatch, capsys
):
    # Log lines name their store by a context variable, which threads do not inherit: every
    # pool must hand it on. In process, to see each request's thread and context.
    seen: collections.Counter[tuple[str, str | None, str]] = collections.Counter()
    real_get = BigCommerceClient.get

    def noting(self: BigCommerceClient, *args: t.Any, **kwargs: t.Any) -> t.Any:
        pool = threading.current_thread().name.rsplit("_", 1)[0]
        seen[self.store.store_hash, current_store.get(), pool] += 1
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(BigCommerceClient, "get", noting)
    with serving_big(2) as sandboxes:
        config = stores_config(sandboxes, page_size=5, max_requests_in_flight=2)
        TapBigCommerce(config=config, catalog=catalog, parse_env_config=False).sync_all()
    capsys.readouterr()
    elsewhere = {key for key in seen if key[0] != key[1]}
    assert not elsewhere, elsewhere
    # Among them, those of the pools that once lost it: the current second, the probes.
    pools = {pool for _, _, pool in seen}
    assert {"products-current", "customers-current", "orders-probe"} <= pools, pools


# ---------------------------------------------------------------------------- failures


def test_an_unforeseen_error_in_one_store_is_one_line_and_a_traceback_at_debug(
    catalog, monkeypatch, capsys, caplog
):
    real_get = BigCommerceClient.get

    def failing(self: BigCommerceClient, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if self.store.store_hash == STORES[1][0]:
            raise RuntimeError("a bug of ours")
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(BigCommerceClient, "get", failing)
    caplog.set_level(logging.DEBUG, logger="tap-bigcommerce")
    with serving(2) as sandboxes, pytest.raises(StoresFailedError) as failed:
        TapBigCommerce(
            config=stores_config(sandboxes), catalog=catalog, parse_env_config=False
        ).sync_all()
    capsys.readouterr()
    assert str(failed.value).splitlines() == [
        "1 of 2 stores could not be read; the other stores were read and their state kept:",
        f"store '{STORES[1][0]}': RuntimeError: a bug of ours",
    ]
    (traced,) = [
        r for r in caplog.records if r.levelno == logging.DEBUG and "failed here" in r.getMessage()
    ]
    assert "a bug of ours" in (traced.exc_text or "") and "Traceback" in (traced.exc_text or "")


def test_one_bad_token_among_three_stores_fails_only_that_store(catalog):
    with serving(3) as sandboxes:
        good, bad = [sandboxes[0], sandboxes[2]], sandboxes[1]
        config = stores_config(sandboxes)
        bad.access_token = "a-token-the-store-no-longer-takes"
        run = run_tap(config, catalog=catalog, env={"TAP_BIGCOMMERCE_LOGLEVEL": "DEBUG"})
    assert run.returncode != 0
    errors = [
        line for line in run.stderr.splitlines() if line.startswith("tap-bigcommerce: error:")
    ]
    assert any("1 of 3 stores" in line for line in errors), errors
    (named,) = [line for line in errors if "store '" in line]
    assert f"store '{bad.store_hash}'" in named and "401" in named, named
    for sb in good:  # the others are complete, their state written
        for stream in PARENTS:
            assert sorted(set(by_store(run, stream)[sb.store_hash])) == sb.store.ids(stream)
            assert store_bookmark(run.final_state, stream, sb.store_hash)["replication_key_value"]
    assert bad.store_hash not in by_store(run, "products")
    assert store_bookmark(run.final_state, "products", bad.store_hash) == {}
    # A table one store could not read is not activated: that store's rows would be marked.
    assert activations(run) == collections.Counter()
    for secret in (*(s["access_token"] for s in config["stores"]), bad.access_token):
        assert secret not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("403", "HTTP 403"),  # a main stream's scope
        ("404", "HTTP 404"),  # no such store
        ("retries", "still failing after 5 retries"),
    ],
)
def test_a_store_failing_in_any_way_fails_alone_and_names_itself(catalog, fault, says):
    with serving(3) as sandboxes:
        good, bad = [sandboxes[0], sandboxes[2]], sandboxes[1]
        config = stores_config(sandboxes)
        if fault == "403":
            bad.scopes = frozenset(SCOPES) - {"customers"}
        elif fault == "404":
            config["stores"][1]["store_hash"] = "nosuch9"
        else:
            bad.faults.add("500", path_contains="/orders", times=None)
        run = run_tap(config, catalog=catalog)
    assert run.returncode == 1, run.stderr
    failed = config["stores"][1]["store_hash"]
    errors = [
        line for line in run.stderr.splitlines() if line.startswith("tap-bigcommerce: error:")
    ]
    assert errors[0].endswith(
        "1 of 3 stores could not be read; the other stores were read and their state kept:"
    )
    (named,) = errors[1:]
    assert f"store '{failed}'" in named and says in named, named
    for sb in good:
        for stream in PARENTS:
            assert sorted(set(by_store(run, stream)[sb.store_hash])) == sb.store.ids(stream)
    # A stream is activated only if the failed store, too, had read it whole before failing.
    activated = set(activations(run))
    if fault == "404":
        assert not activated
    else:
        assert {"403": "customers", "retries": "orders"}[fault] not in activated
    for stream in activated & set(PARENTS):
        assert sorted(set(by_store(run, stream)[bad.store_hash])) == bad.store.ids(stream)


def test_a_store_added_later_marks_no_other_stores_rows(catalog):
    with serving(3) as sandboxes:
        first = run_tap(stores_config(sandboxes[:2]), catalog=catalog)
        assert first.returncode == 0, first.stderr
        second = run_tap(stores_config(sandboxes), catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr
    newcomer = sandboxes[2]
    # The new store is read from scratch, the others from their bookmarks ...
    assert sorted(set(by_store(second, "products")[newcomer.store_hash])) == newcomer.store.ids(
        "products"
    )
    for stream in PARENTS:
        assert store_bookmark(second.final_state, stream, newcomer.store_hash)
        for sb in sandboxes[:2]:
            marks = (store_bookmark(r.final_state, stream, sb.store_hash) for r in (first, second))
            old, new = (m.get("replication_key_value") for m in marks)
            assert old == new, (stream, sb.store_hash)
    # ... so no incremental stream is activated (the others' rows would be marked deleted);
    # the tables read whole were read whole in every store.
    assert activations(second) == collections.Counter(WHOLE)


def test_an_earlier_versions_bookmark_next_to_a_stores_own_is_dropped(catalog):
    with serving(2) as sandboxes:
        both = run_tap(stores_config(sandboxes), catalog=catalog)
        assert both.returncode == 0, both.stderr
        # As a state of 0.1, carried through a run of many stores, would hold it.
        state = copy.deepcopy(both.final_state)
        legacy = {"replication_key": "date_modified", "replication_key_value": "2001-01-01"}
        state["bookmarks"]["products"].update(legacy)
        alone = run_tap(stores_config(sandboxes[:1]), catalog=catalog, state=state)
        many = run_tap(stores_config(sandboxes), catalog=catalog, state=state)
    first = sandboxes[0].store_hash
    own = store_bookmark(both.final_state, "products", first)["replication_key_value"]
    # One store: its own bookmark holds (the SDK would refuse two partitions of one store).
    assert alone.returncode == 0, alone.stderr
    assert all(r["date_modified"] >= own for r in alone.records("products"))
    assert len(alone.records("products")) < len(sandboxes[0].store.ids("products"))
    # Many: the bookmark of no store is dropped, with a warning, and never written again.
    assert many.returncode == 0, many.stderr
    assert "bookmarks of no named store (products)" in many.stderr
    for run in (alone, many):
        assert "replication_key_value" not in run.final_state["bookmarks"]["products"]


# ---------------------------------------------------------------------------- resume, bounds


def test_resume_after_sigkill_loses_nothing_in_any_store(catalog):
    with serving(3) as sandboxes:
        for sb in sandboxes:
            sb.latency_ms = 20
        config = stores_config(sandboxes, page_size=5)
        tap = TapProcess(config, catalog=catalog)
        try:
            wrote = tap.wait_for(some_progress_written)
        finally:
            killed = tap.kill()
        assert wrote, killed.stderr
        for sb in sandboxes:
            sb.latency_ms = 0
        rerun = run_tap(config, catalog=catalog, state=killed.final_state)
    assert rerun.returncode == 0, rerun.stderr
    assert_every_record_read(sandboxes, killed, rerun)


def assert_every_record_read(sandboxes: list[Sandbox], *runs: TapRun) -> None:
    """The runs together read every record of the main streams of every store."""
    for sb in sandboxes:
        for stream in PARENTS:
            got = {i for run in runs for i in by_store(run, stream).get(sb.store_hash, [])}
            assert sorted(got) == sb.store.ids(stream), (stream, sb.store_hash)


def test_stores_at_once_and_requests_in_flight_are_bounded(catalog):
    with serving(3) as sandboxes:
        for sb in sandboxes:
            sb.latency_ms = 10
        one_at_a_time = run_tap(stores_config(sandboxes, max_stores_in_parallel=1), catalog=catalog)
        sandboxes[0].server_peak_in_flight = 0
        two_requests = run_tap(
            stores_config(sandboxes, max_requests_in_flight_total=2), catalog=catalog
        )
        peak = sandboxes[0].server_peak_in_flight
    assert one_at_a_time.returncode == 0 and two_requests.returncode == 0
    # One store at a time: every store's records come in one run of lines.
    order = [m["record"]["store_hash"] for m in one_at_a_time.messages if m["type"] == "RECORD"]
    runs = [h for i, h in enumerate(order) if i == 0 or order[i - 1] != h]
    assert runs == [sb.store_hash for sb in sandboxes], runs
    assert peak <= 2
    assert by_store(two_requests, "products").keys() == {sb.store_hash for sb in sandboxes}


def some_progress_written(messages: list[dict]) -> bool:
    """A STATE has come after records of a main stream (the first comes before any)."""
    read = [i for i, m in enumerate(messages) if m.get("stream") in PARENTS]
    return bool(read) and any(m["type"] == "STATE" for m in messages[read[0] :])


# ---------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("stores", "extra", "says"),
    [
        ([], {}, "stores is an empty list"),
        (None, {"store_hash": "abc123"}, "stores and store_hash are both set"),
        ([{"store_hash": "def456"}], {}, "stores entry 1 (store_hash 'def456'): access_token"),
        (
            [{"store_hash": "abc123", "access_token": "x" * 20}] * 2,
            {},
            "stores entry 2 (store_hash 'abc123'): the store_hash is listed twice",
        ),
        ([{"store_hash": "stores/abc", "access_token": "y" * 20}], {}, "stores entry 1"),
        ("not json", {}, "stores must be a list of objects"),
        ([{"store_hash": "abc123", "token": "z" * 20}], {}, "unknown settings 'token'"),
    ],
)
def test_bad_stores_settings_stop_before_any_request(stores, extra, says):
    with serving(1) as (sb,):
        entries = [{"store_hash": "abc123", "access_token": TOKEN}] if stores is None else stores
        config = {"stores": entries, "api_url": sb.api_url, **extra}
        run = run_tap(config)
        asked = len(sb.requests)
    assert run.returncode != 0
    assert says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert asked == 0
    for secret in (TOKEN, "x" * 20, "y" * 20, "z" * 20):
        assert secret not in run.stderr


def test_stores_come_from_one_json_environment_variable(catalog):
    with serving(2) as sandboxes:
        entries = [{"store_hash": s.store_hash, "access_token": s.access_token} for s in sandboxes]
        env = {"TAP_BIGCOMMERCE_STORES": json.dumps(entries), "TAP_BIGCOMMERCE_API_URL": ""}
        env["TAP_BIGCOMMERCE_API_URL"] = sandboxes[0].api_url
        run = run_tap({**FAST}, "--config", "ENV", catalog=catalog, env=env)
    assert run.returncode == 0, run.stderr
    assert by_store(run, "customers").keys() == {s.store_hash for s in sandboxes}
    for sb in sandboxes:
        assert sb.access_token not in run.stdout + run.stderr


def test_discovery_checks_every_store_and_warns_of_one_that_fails():
    with serving(3) as sandboxes:
        config = stores_config(sandboxes)
        sandboxes[2].access_token = "no-longer-valid-token"
        run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr
    assert "store 'ghi789' failed the connection check" in run.stderr
    assert {s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]} >= set(SELECTED)
