"""Keyset paging decisions, against an in-memory store that changes between requests."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from tap_bigcommerce.errors import BadResponseError
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
        self.on_request = lambda: None
        self.tie_order = lambda record_id: record_id

    def touch(self, record_id: int, at: dt.datetime) -> None:
        self.rows[record_id] = at
        self.version[record_id] += 1

    def fetch(self, params: dict) -> Page:
        self.requests += 1
        assert self.requests < 10_000, "reader loops"
        self.on_request()
        lo = params.get("date_modified:min")
        hi = params["date_modified:max"]
        parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
        rows = [
            (dm, i)
            for i, dm in self.rows.items()
            if (lo is None or dm >= parse(lo))
            and dm <= parse(hi)
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


def backwards(work, items, ahead=4):
    """Pages fetched in rounds of `ahead`, each round last page first; yielded in order."""
    items = iter(items)
    while chunk := list(itertools.islice(items, ahead)):
        done = {item: work(item) for item in reversed(chunk)}
        for item in chunk:
            yield done[item]


def snapshot(store: MemoryProducts, limit: int, side_by_side=in_order) -> SnapshotReader:
    keyset = KeysetReader(ProductsFlavour(), store.fetch, limit)
    return SnapshotReader(ProductsFlavour(), keyset, side_by_side)


def test_snapshot_reads_each_record_once_with_one_request_a_page():
    store = MemoryProducts(list(range(40)))
    got = list(snapshot(store, 7).read(None, BASE + dt.timedelta(days=1)))
    assert [r["id"] for r in got] == list(range(1, 41))
    assert store.requests == 6  # ceil(40 / 7) pages, nothing else


@pytest.mark.parametrize("side_by_side", [in_order, backwards])
def test_snapshot_reads_a_second_spanning_two_pages_by_id(side_by_side):
    store = MemoryProducts([s // 3 for s in range(40)])
    store.tie_order = lambda record_id: -record_id  # ties come in the reverse of id order
    got = list(snapshot(store, 7, side_by_side).read(None, BASE + dt.timedelta(days=1)))
    assert sorted(r["id"] for r in got) == list(range(1, 41))
    assert len(got) == 40
    assert store.requests <= 2 * 6  # a page, and at most one request per boundary second


@pytest.mark.parametrize("expected", [1, 20, 40, 41, 400])
def test_snapshot_with_an_estimate_asks_its_pages_at_once_and_reads_only_the_window(expected):
    store = MemoryProducts(list(range(40)))
    asked: list[int] = []

    def record_rounds(work, items):
        items = list(items)
        asked.append(len(items))
        return in_order(work, items)

    reader = snapshot(store, 7, record_rounds)
    got = list(reader.read(None, BASE + dt.timedelta(days=1), expected=expected))
    assert [r["id"] for r in got] == list(range(1, 41))
    # Page 1 goes out with the pages the estimate predicts; the rest follow once it is in.
    planned = -(-expected // 7)
    assert asked == [planned, max(6 - planned, 0)]
    assert store.requests == 6, "pages past the window's end are never used"


@pytest.mark.parametrize("side_by_side", [in_order, backwards])
@pytest.mark.parametrize("seed", range(25))
def test_snapshot_loses_nothing_in_a_changing_store_with_unstable_ties(seed, side_by_side):
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
    first = list(snapshot(store, 7, side_by_side).read(None, upper, expected=len(store.rows)))
    store.on_request = lambda: None
    moments = [r["date_modified"] for r in first]
    assert moments == sorted(moments)
    bookmark = dt.datetime.fromisoformat(first[-1]["date_modified"])
    second = list(
        KeysetReader(ProductsFlavour(), store.fetch, 7).read(bookmark, BASE + dt.timedelta(days=1))
    )
    latest = {}
    for record in first + second:
        latest[record["id"]] = record["v"]
    assert latest == store.version
