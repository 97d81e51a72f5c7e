"""The walks of streams read whole, and the unsorted window reader, against a changing list.

A fake listing in memory answers page by page as the API would; hooks change it between
requests. Pure: no HTTP (the sandbox tests cover the wire).
"""

from __future__ import annotations

import datetime as dt
import logging

from tap_bigcommerce.pagination import V2ByPage, V3ById, V3ByPage, V3DateWindow
from tap_bigcommerce.readers.unsorted import UnsortedWindowReader
from tap_bigcommerce.readers.whole import MAX_RESTARTS, WholeReader
from tap_bigcommerce.replication import ReadWhole
from tap_bigcommerce.transform import parse_api_datetime


class Listing:
    """A stream-like object whose `fetch_page` serves `rows` (ids) in the given order."""

    name = "things"
    primary_keys = ["id"]  # noqa: RUF012
    page_size = 5
    logger = logging.getLogger("tests.whole")

    def __init__(self, flavour, rows, hook=None) -> None:
        self.flavour, self.rows, self.hook, self.asked = flavour, list(rows), hook, []

    def fetch_page(self, params):
        self.asked.append(dict(params))
        if self.hook:
            self.hook(self)
        rows = [i for i in self.rows if i > int(params.get("id:greater", 0))]
        page, limit = int(params.get("page", 1)), params["limit"]
        chunk = rows[(page - 1) * limit : page * limit]
        if self.flavour.version == "v2":
            return self.flavour.unpack([{"id": i} for i in chunk] or None, limit)
        meta = {"pagination": {"total": len(rows), "current_page": page}}
        return self.flavour.unpack({"data": [{"id": i} for i in chunk], "meta": meta}, limit)


def _read(listing) -> tuple[list[int], WholeReader]:
    reader = WholeReader(listing, ReadWhole())
    return [r["id"] for r in reader.read()], reader


def _delete_and_create_after_page_1(listing) -> None:
    if len(listing.asked) == 2:  # page 1 is read, page 2 asked
        listing.rows.remove(2)
        listing.rows.append(99)


def test_a_v3_walk_stops_at_the_total_without_an_empty_page():
    listing = Listing(V3ByPage(path="things", resource="things"), range(1, 4))
    got, reader = _read(listing)
    assert got == [1, 2, 3] and len(listing.asked) == 1 and reader.complete


def test_a_walk_of_several_pages_is_checked_by_a_second_walk():
    listing = Listing(V3ByPage(path="things", resource="things"), range(1, 10))
    got, reader = _read(listing)
    assert got == list(range(1, 10)) and reader.complete
    assert [int(p["page"]) for p in listing.asked] == [1, 2, 1, 2]


def test_a_delete_and_a_create_during_the_walk_lose_nothing():
    """The total stays the same, yet every row after the deleted one moves up one place."""
    for flavour in (V3ByPage(path="t", resource="t"), V2ByPage(path="t", resource="t")):
        listing = Listing(flavour, range(1, 11), _delete_and_create_after_page_1)
        got, reader = _read(listing)
        assert set(range(3, 11)) | {1, 99} <= set(got), (type(flavour).__name__, got)
        assert len(got) == len(set(got)) and reader.complete


def test_a_store_that_keeps_changing_gives_a_read_that_is_not_the_whole_table():
    def churn(listing):
        if int(listing.asked[-1].get("page", 1)) == 2:  # on every walk's second page
            listing.rows.remove(min(listing.rows))
            listing.rows.append(max(listing.rows) + 1)

    listing = Listing(V3ByPage(path="t", resource="t"), range(1, 11), churn)
    _, reader = _read(listing)
    assert not reader.complete
    assert sum(1 for p in listing.asked if int(p["page"]) == 1) == MAX_RESTARTS + 1


def test_a_listing_not_in_id_order_is_read_by_page_instead():
    listing = Listing(V3ById(path="brands", resource="brands"), [3, 1, 2, 8, 5, 4, 6, 7])
    got, reader = _read(listing)
    assert sorted(got) == list(range(1, 9)) and reader.complete


def test_the_unsorted_window_never_walks_the_current_second():
    """In the current second a row can leave while another enters: the total stays."""
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    now = t0 + dt.timedelta(seconds=100)
    moments = {i: t0 + dt.timedelta(seconds=i) for i in range(1, 11)}
    flavour = V3DateWindow(path="channels", resource="channels")
    asked = []

    def fetch(params):
        asked.append(params)
        if len(asked) == 3:  # the first answer, page 1 of the window, now page 2
            moments[2] = now + dt.timedelta(seconds=1)  # touched: leaves the window
            moments[11] = now  # created in the current second: enters it
        low, high = params.get("date_modified:min"), params.get("date_modified:max")
        low, high = low and parse_api_datetime(low), high and parse_api_datetime(high)
        ids = [i for i in sorted(moments) if (not low or moments[i] >= low)
               and (not high or moments[i] <= high)]  # fmt: skip
        page, limit = params.get("page", 1), params["limit"]
        chunk = ids[(page - 1) * limit : page * limit]
        data = [{"id": i, "date_modified": moments[i].strftime("%Y-%m-%dT%H:%M:%SZ")} for i in
                chunk]  # fmt: skip
        meta = {"pagination": {"total": len(ids), "current_page": page}}
        return flavour.unpack({"data": data, "meta": meta}, limit)

    reader = UnsortedWindowReader(flavour, fetch, 5, key=lambda r: (r["id"],), now=lambda: now)
    got = [r["id"] for r in reader.read(None)]
    assert set(range(3, 11)) | {1} <= set(got), got
