"""Keyset paging decisions, against an in-memory store that changes between requests."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest

from tap_bigcommerce.errors import BadResponseError
from tap_bigcommerce.overlap import side_by_side
from tap_bigcommerce.pagination import (
    KeysetReader,
    OrdersFlavour,
    Page,
    ProductsFlavour,
    SnapshotReader,
)

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


class MemoryProducts:
    """Just enough of /v3/catalog/products: dm filters, the two sorts, id:greater, limit."""

    def __init__(self, stamps: list[int]) -> None:
        self.rows = {i + 1: BASE + dt.timedelta(seconds=s) for i, s in enumerate(stamps)}
        self.version = {i: 0 for i in self.rows}
        self.requests = 0
        self.asked: list[dict] = []
        self.on_request = lambda: None
        self.tie_order = lambda record_id: record_id
        #: Answers to page 1 that leave out a record but count it (a store mid-change).
        self.short_first_pages = 0
        #: Up to this many seconds of delay after each answer, so that threads finish out
        #: of order.
        self.jitter = 0.0
        self.lock = threading.Lock()
        self.rng = random.Random(0)

    def touch(self, record_id: int, at: dt.datetime) -> None:
        self.rows[record_id] = at
        self.version[record_id] += 1

    def fetch(self, params: dict) -> Page:
        with self.lock:
            page = self._answer(params)
            delay = self.rng.random() * self.jitter
        time.sleep(delay)
        return page

    def _answer(self, params: dict) -> Page:
        self.requests += 1
        self.asked.append(params)
        assert self.requests < 10_000, "reader loops"
        self.on_request()
        lo = params.get("date_modified:min")
        hi = params.get("date_modified:max")
        parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
        rows = [
            (dm, i)
            for i, dm in self.rows.items()
            if (lo is None or dm >= parse(lo))
            and (hi is None or dm <= parse(hi))
            and i > int(params.get("id:greater", 0))
        ]
        if params["sort"] == "id":
            rows.sort(key=lambda r: r[1])
        else:  # ties in whatever order the "database" likes; unstable if it says so
            rows.sort(key=lambda r: (r[0], self.tie_order(r[1])))
        limit = params["limit"]
        offset = (int(params.get("page", 1)) - 1) * limit
        chosen = rows[offset : offset + limit]
        data = [{"id": i, "date_modified": iso(dm), "v": self.version[i]} for dm, i in chosen]
        if self.short_first_pages and "page" in params and int(params["page"]) == 1 and data:
            self.short_first_pages -= 1
            data.pop()
        return ProductsFlavour().unpack(
            {"data": data, "meta": {"pagination": {"total": len(rows), "count": len(data)}}},
            limit,
        )


def read_all(store: MemoryProducts, lower=None, limit=5) -> list[dict]:
    upper = BASE + dt.timedelta(days=1)
    return list(KeysetReader(ProductsFlavour(), store.fetch, limit).read(lower, upper))


def test_reads_each_record_once_in_order():
    store = MemoryProducts([s // 3 for s in range(40)])  # groups of 3 per second
    got = read_all(store)
    assert [r["id"] for r in got] == list(range(1, 41))
    assert [r["date_modified"] for r in got] == sorted(r["date_modified"] for r in got)


def test_plateau_larger_than_a_page_is_walked_by_id():
    store = MemoryProducts([0] * 3 + [5] * 17 + [9] * 4)
    got = read_all(store)
    assert sorted(r["id"] for r in got) == list(range(1, 25))
    assert len(got) == 24


def test_record_equal_to_bookmark_is_read_again():
    store = MemoryProducts([0, 1, 1, 2])
    got = read_all(store, lower=BASE + dt.timedelta(seconds=1))
    assert [r["id"] for r in got] == [2, 3, 4]


@pytest.mark.parametrize("seed", range(20))
def test_store_changing_during_the_read_loses_nothing(seed):
    rng = random.Random(seed)
    stamps = sorted(rng.choice([0, 1, 2, 50, 50, 50, 50, 51]) for _ in range(60))
    store = MemoryProducts(stamps)
    clock = iter(BASE + dt.timedelta(seconds=100 + n) for n in range(10_000))

    def mutate():
        target = rng.choice(list(store.rows))
        store.touch(target, next(clock))
        if rng.random() < 0.3:
            new_id = max(store.rows) + 1
            store.rows[new_id] = next(clock)
            store.version[new_id] = 0

    store.on_request = mutate
    first = read_all(store, limit=7)
    store.on_request = lambda: None
    bookmark = dt.datetime.fromisoformat(first[-1]["date_modified"])
    second = read_all(store, lower=bookmark, limit=7)
    latest = {}
    for record in first + second:
        latest[record["id"]] = record["v"]
    assert latest == store.version  # every record, in its latest version


def test_server_ignoring_the_filter_is_an_error_not_a_loop():
    store = MemoryProducts([0, 1, 2, 3, 4, 5, 6, 7])
    honest = store.fetch
    store_fetch = lambda params: honest({**params, "date_modified:min": None})  # noqa: E731
    reader = KeysetReader(ProductsFlavour(), store_fetch, 3)
    with pytest.raises(BadResponseError, match="ignored the date_modified filter"):
        list(reader.read(None, BASE + dt.timedelta(days=1)))


def test_record_without_date_modified_is_named():
    reader = KeysetReader(ProductsFlavour(), lambda p: Page([{"id": 7}], True), 5)
    with pytest.raises(BadResponseError, match="record 7 has no usable 'date_modified'"):
        list(reader.read(None, BASE))


def test_v2_stops_on_204_and_short_page():
    flavour = OrdersFlavour()
    assert flavour.unpack(None, 250).is_last
    assert flavour.unpack([{"id": 1}], 250).is_last
    assert not flavour.unpack([{"id": 1}, {"id": 2}], 2).is_last
    with pytest.raises(BadResponseError, match="expected a JSON array"):
        flavour.unpack({"data": []}, 250)


def test_v2_filters_use_v2_spelling():
    params = OrdersFlavour().window_params(BASE, BASE, 250)
    assert params["min_date_modified"] == "2024-01-01T00:00:00+00:00"
    assert params["sort"] == "date_modified:asc"
    plateau = OrdersFlavour().plateau_params(BASE, 41, 250)
    assert plateau["min_id"] == 42 and plateau["sort"] == "id:asc"


def in_order(work, items):
    """Pages fetched one after another, as they are asked for."""
    for item in items:
        yield work(item)


def threaded(work, items):
    """The tap's own side-by-side fetching: four threads, six pages ahead."""
    return side_by_side(work, items, workers=4, ahead=6)


def snapshot(
    store: MemoryProducts, limit: int, fetch_pages=in_order, first_round: int = 1
) -> SnapshotReader:
    keyset = KeysetReader(ProductsFlavour(), store.fetch, limit)
    return SnapshotReader(ProductsFlavour(), keyset, fetch_pages, first_round)


def test_snapshot_reads_each_record_once_with_one_request_a_page():
    store = MemoryProducts(list(range(40)))
    got = list(snapshot(store, 7).read(None, BASE + dt.timedelta(days=1)))
    assert [r["id"] for r in got] == list(range(1, 41))
    assert store.requests == 6  # ceil(40 / 7) pages, nothing else


@pytest.mark.parametrize("fetch_pages", [in_order, threaded])
def test_snapshot_reads_a_second_spanning_two_pages_by_id(fetch_pages):
    store = MemoryProducts([s // 3 for s in range(40)])
    store.tie_order = lambda record_id: -record_id  # ties come in the reverse of id order
    store.jitter = 0.002
    got = list(snapshot(store, 7, fetch_pages).read(None, BASE + dt.timedelta(days=1)))
    assert sorted(r["id"] for r in got) == list(range(1, 41))
    assert len(got) == 40
    assert store.requests <= 2 * 6  # a page, and at most one request per boundary second


@pytest.mark.parametrize("fetch_pages", [in_order, threaded])
def test_snapshot_reads_a_second_spanning_many_pages_once(fetch_pages):
    store = MemoryProducts([0] * 3 + [5] * 60 + [9] * 4)  # 67 records, 10 pages of 7
    store.jitter = 0.002
    got = list(snapshot(store, 7, fetch_pages, 4).read(None, BASE + dt.timedelta(days=1), 67))
    assert sorted(r["id"] for r in got) == list(range(1, 68))
    by_id = [p for p in store.asked if p["sort"] == "id"]
    # Ten pages by number, and the 60 records of second 5 by id once (nine pages of 7).
    assert len(by_id) == 9, f"the second was read by id {len(by_id) / 9:.1f} times"
    assert store.requests == 10 + 9


def test_pages_keep_coming_while_a_second_is_read_by_id():
    store = MemoryProducts([0] * 10 + list(range(1, 51)))  # 9 pages of 7; second 0 spans two
    events: list[tuple[str, int]] = []
    honest = store.fetch

    def fetch(params):
        if params["sort"] == "id":
            time.sleep(0.2)  # a slow answer for the second read by id
            events.append(("second read", 0))
        else:
            events.append(("page", int(params["page"])))
        return honest(params)

    keyset = KeysetReader(ProductsFlavour(), fetch, 7)
    reader = SnapshotReader(ProductsFlavour(), keyset, threaded, first_round=4)
    got = list(reader.read(None, BASE + dt.timedelta(days=1)))
    assert sorted(r["id"] for r in got) == list(range(1, 61))
    before = [number for kind, number in events[: events.index(("second read", 0))]]
    # Six pages ahead allow up to page 8 while the reader waits at page 2; it takes pages
    # early meanwhile, so the last one is asked for too.
    assert max(before) == 9, before


def test_snapshot_sends_the_estimated_pages_with_page_1():
    store = MemoryProducts(list(range(40)))  # six pages of 7
    ready = threading.Barrier(4, timeout=5)
    honest = store.fetch

    def fetch(params):
        if int(params.get("page", 0)) <= 4:
            ready.wait()  # pages 1-4 are all under way before any answer comes
        return honest(params)

    keyset = KeysetReader(ProductsFlavour(), fetch, 7)
    reader = SnapshotReader(ProductsFlavour(), keyset, threaded, first_round=4)
    got = list(reader.read(None, BASE + dt.timedelta(days=1), expected=40))
    assert [r["id"] for r in got] == list(range(1, 41))
    assert sorted(int(p["page"]) for p in store.asked) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("expected", "asked"), [(None, 2), (1, 2), (14, 2), (400, 4)])
def test_snapshot_estimate_wastes_at_most_a_first_round(expected, asked):
    store = MemoryProducts(list(range(10)))  # two pages of 7
    reader = snapshot(store, 7, threaded, first_round=4)
    got = list(reader.read(None, BASE + dt.timedelta(days=1), expected=expected))
    assert [r["id"] for r in got] == list(range(1, 11))
    # Pages past the end may still be under way (longer on a loaded machine); then none more.
    deadline = time.monotonic() + 5
    while len(store.asked) < asked and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert sorted(int(p["page"]) for p in store.asked) == list(range(1, asked + 1))


@pytest.mark.parametrize("lower", [None, BASE])
def test_snapshot_whose_page_1_keeps_changing_falls_back_to_keyset(lower):
    store = MemoryProducts(list(range(30)))
    store.short_first_pages = 10  # every pass would restart at page 1
    got = list(snapshot(store, 7, threaded).read(lower, BASE + dt.timedelta(days=1)))
    assert [r["id"] for r in got] == list(range(1, 31))


def test_a_second_read_whole_before_a_restart_is_not_read_again():
    # Second 5 holds 60 records (pages 1-9 of 7); then 40 records a second apart.
    store = MemoryProducts([0] * 3 + [5] * 60 + list(range(10, 50)))
    honest = store.fetch

    def fetch(params):
        if params.get("page") == 10 and not store.version[100]:
            store.touch(100, BASE + dt.timedelta(days=2))  # leaves the window: a new pass
        return honest(params)

    keyset = KeysetReader(ProductsFlavour(), fetch, 7)
    reader = SnapshotReader(ProductsFlavour(), keyset, in_order)
    got = list(reader.read(None, BASE + dt.timedelta(days=1)))
    assert reader.restarts == 1
    assert sorted(r["id"] for r in got) == list(range(1, 100)) + list(range(101, 104))
    by_id = [p for p in store.asked if p["sort"] == "id"]
    assert len(by_id) == 9, "second 5 was read by id again after the restart"


def test_a_window_in_one_page_is_read_with_one_request_and_no_handoff():
    store = MemoryProducts([0, 0, 1, 2, 3])
    handed: list = []
    reader = KeysetReader(ProductsFlavour(), store.fetch, 7)
    got = list(reader.read(None, lambda: BASE + dt.timedelta(days=1), then=handed.append))
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert store.requests == 1
    assert not handed


@pytest.mark.parametrize(
    ("stamps", "start", "lower", "seen"),
    [
        # The page ends inside second 2: go on from second 2, its ids on the page seen.
        ([0, 0, 1, 1, 2, 2, 2, 2, 3, 4], None, 2, {5, 6, 7}),
        # Likewise when the page holds only second 0 but the read has no lower bound.
        ([0] * 9 + [1, 2, 3], None, 0, set(range(1, 8))),
        # A page all at the lower bound (more records share it than a page holds): that
        # second is walked by id first, then the rest starts after it.
        ([0] * 9 + [1, 2, 3], 0, 1, set()),
    ],
)
def test_the_rest_is_handed_over_from_where_a_keyset_read_would_go_on(stamps, start, lower, seen):
    store = MemoryProducts(stamps)
    handed: list = []

    def rest(first, at, upper, ids):
        handed.append((first, at, upper, ids))
        return iter(())

    upper = BASE + dt.timedelta(days=1)
    begin = None if start is None else BASE + dt.timedelta(seconds=start)
    reader = KeysetReader(ProductsFlavour(), store.fetch, 7)
    got = list(reader.read(begin, lambda: upper, then=rest))
    ((first, at, bound, ids),) = handed
    assert (at, bound, ids) == (BASE + dt.timedelta(seconds=lower), upper, seen)
    assert first.total == len(stamps)
    # Everything before the handover is out, in order, and nothing twice.
    assert [r["id"] for r in got] == [i for i, s in enumerate(stamps, 1) if s < lower or i in seen]


@pytest.mark.parametrize("opening", ["snapshot", "keyset page first"])
@pytest.mark.parametrize("fetch_pages", [in_order, threaded])
@pytest.mark.parametrize("seed", range(25))
def test_snapshot_loses_nothing_in_a_changing_store_with_unstable_ties(seed, fetch_pages, opening):
    rng = random.Random(seed)
    stamps = sorted(rng.choice([0, 1, 2, 3, 50, 50, 50, 50, 51, 52]) for _ in range(90))
    store = MemoryProducts(stamps)
    store.tie_order = lambda record_id: rng.random()  # a database without a stable order
    clock = iter(BASE + dt.timedelta(seconds=100 + n) for n in range(10_000))

    def mutate():
        if rng.random() < 0.5:
            store.touch(rng.choice(list(store.rows)), next(clock))
        if rng.random() < 0.2:
            new_id = max(store.rows) + 1
            store.rows[new_id] = next(clock)
            store.version[new_id] = 0

    store.on_request = mutate
    upper = BASE + dt.timedelta(seconds=99)  # in the past: changes land beyond it
    store.jitter = 0.001
    reader = snapshot(store, 7, fetch_pages, first_round=4)
    if opening == "snapshot":
        first = list(reader.read(None, upper, expected=len(store.rows)))
    else:  # as the tap reads v3: the first page by keyset (no upper bound), then the rest
        keyset = KeysetReader(ProductsFlavour(), store.fetch, 7)

        def rest(page, lower, bound, seen):
            return reader.read(lower, bound, page.total, seen)

        first = list(keyset.read(None, lambda: upper, then=rest))
    store.on_request = lambda: None
    moments = [r["date_modified"] for r in first]
    assert moments == sorted(moments)
    versions = [(r["id"], r["v"]) for r in first]
    assert len(versions) == len(set(versions)), "a record was written twice as it was"
    bookmark = dt.datetime.fromisoformat(first[-1]["date_modified"])
    second = list(
        KeysetReader(ProductsFlavour(), store.fetch, 7).read(bookmark, BASE + dt.timedelta(days=1))
    )
    latest = {}
    for record in first + second:
        latest[record["id"]] = record["v"]
    assert latest == store.version
