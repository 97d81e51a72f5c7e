"""How the tap pages through BigCommerce: the v2/v3 differences, and keyset paging.

The two API flavours differ in every detail (envelope, filter and sort spelling, end of
list); each resource's spelling is one small object below, and nothing else in the tap
knows about it.

Paging never uses page numbers: a store that changes during a sync shifts page numbers
under the reader and records are skipped. Instead every request asks for the first page of
"modified at or after the last timestamp read" (keyset paging on `date_modified`), skips the
records at that timestamp it has already yielded, and, when more than a page of records
share one timestamp (a bulk import), walks that timestamp by id before moving past it.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import threading
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import msgspec

from tap_bigcommerce.errors import BadResponseError
from tap_bigcommerce.transform import parse_api_datetime

Record = dict[str, t.Any]
Params = dict[str, t.Any]

ONE_SECOND = dt.timedelta(seconds=1)
#: Pages of a second spanning two pages fetched ahead of the reader. They hold records of
#: pages already queued, so memory stays within about twice what the queued pages hold.
TIE_PAGES_AHEAD = 4


@dataclass
class Page:
    """One response, unpacked: its records, whether more follow, and what the API counted."""

    records: list[Record]
    is_last: bool
    total: int | None = None
    next_cursor: str | None = None


class Flavour:
    """The spelling of one list endpoint: path, filters, sort, envelope, plateau paging."""

    resource: str
    version: str
    path: str
    #: Whether money comes as text (v2's 4-decimal strings) rather than as numbers.
    money_as_text: t.ClassVar[bool] = False
    #: Decodes a page leaving each record as its JSON (`msgspec.Raw`), where the envelope
    #: allows it; `unpack` reads such a document like any other.
    page_decoder: t.ClassVar[msgspec.json.Decoder[t.Any] | None] = None

    def __init__(
        self,
        include: str | None = None,
        extra: Params | None = None,
        *,
        path: str | None = None,
        resource: str | None = None,
    ) -> None:
        """`include` and `extra` go into every request (sub-resources, archived orders).

        `path` and `resource` (the stream's name, for messages) replace the defaults of
        the endpoint this spelling was first written for.
        """
        self.extra: Params = dict(extra or {})
        if include:
            self.extra["include"] = include
        if path is not None:
            self.path = path
        if resource is not None:
            self.resource = resource

    def window_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int
    ) -> Params:
        """Records modified in [lower, upper] (no upper bound: None), oldest first."""
        raise NotImplementedError

    def plateau_params(self, at: dt.datetime, after: t.Any, limit: int) -> Params:
        """Records modified exactly at `at`, in id order, after the id or cursor `after`."""
        raise NotImplementedError

    def unpack(self, document: t.Any, limit: int) -> Page:
        """Turn a response body (None for HTTP 204) into a `Page`."""
        raise NotImplementedError

    def listing_params(self, page: int, limit: int) -> Params:
        """Page `page` of a small listing read by page number (a parent's rows)."""
        return {**self.extra, "page": page, "limit": limit}

    def unpack_listing(self, document: t.Any, limit: int) -> Page:
        """One page of a listing read by page number; None (HTTP 204) is an empty last page.

        The last page is the short one, unless the answer says better (v3's page count).
        """
        if document is None:
            return Page(records=[], is_last=True)
        page = self.unpack(document, limit)
        page.is_last = len(page.records) < limit
        return page

    def probe_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, rank: int
    ) -> Params:
        """The one record at position `rank` (from 0) of the window, as small as possible.

        Only a hint for where to cut the window into parts read side by side: each part is
        still read by keyset, so a store that changes meanwhile costs speed, not records.
        """
        params = {**self.window_params(lower, upper, 1), "page": rank + 1}
        params.pop("include", None)
        params.pop("consignment_structure", None)
        return params

    def plateau_after(self, page: Page) -> t.Any:
        """Where the next plateau request starts: the last id, or the API's cursor."""
        return page.records[-1]["id"]

    def count_params(self, lower: dt.datetime | None, upper: dt.datetime | None) -> Params:
        """The filters of a window, for a count endpoint (where lists carry no total)."""
        raise NotImplementedError

    #: Whether the endpoint sorts by `date_modified` (keyset paging needs it).
    sorts_by_date: t.ClassVar[bool] = True
    #: The date the listing's window filters (`<field>:min`/`:max`) and a bookmark keys on.
    #: Keyset paging (`sorts_by_date`) reads `date_modified`; a window read whole and
    #: sorted by the tap (`readers/unsorted.py`) reads whichever field this names.
    date_field: t.ClassVar[str] = "date_modified"

    #: How a whole listing is walked (streams read whole): "id" (a filter on the id, so a
    #: record created or deleted meanwhile shifts nothing), "page" (page numbers, where the
    #: endpoint has no id filter) or "single" (the endpoint answers one object).
    walk: t.ClassVar[str] = "page"

    def whole_params(self, after: t.Any, page: int, limit: int) -> Params:
        """The next request of a whole listing: ids after `after`, or page `page`."""
        return {**self.extra, "page": page, "limit": limit}


class _V3Envelope(t.TypedDict, total=False):
    data: list[msgspec.Raw]
    meta: dict[str, t.Any]


class _V3Flavour(Flavour):
    """v3: `{"data": [...], "meta": {"pagination": {...}}}`, filters as `attr:min`."""

    version = "v3"
    page_decoder: t.ClassVar[msgspec.json.Decoder[t.Any] | None] = msgspec.json.Decoder(_V3Envelope)

    def format_time(self, moment: dt.datetime) -> str:
        """v3 filters take ISO-8601 with seconds (a date alone gets the current time added)."""
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _window(self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int) -> Params:
        params: Params = {**self.extra, "limit": limit}
        if upper is not None:
            params[f"{self.date_field}:max"] = self.format_time(upper)
        if lower is not None:
            params[f"{self.date_field}:min"] = self.format_time(lower)
        return params

    def unpack(self, document: t.Any, limit: int) -> Page:
        """Read `data` and `meta.pagination` (or `meta.cursor_pagination` on cursor pages)."""
        if not isinstance(document, dict) or not isinstance(document.get("data"), list):
            raise BadResponseError(
                f"{self.resource}: expected a JSON object with a 'data' list from "
                f"/{self.version}/{self.path}, got {_describe(document)}"
            )
        records = document["data"]
        meta = document.get("meta") or {}
        pagination = meta.get("pagination") or {}
        cursor = meta.get("cursor_pagination") or {}
        total = pagination.get("total")
        if cursor and not pagination:
            more = bool((cursor.get("links") or {}).get("next"))
        elif total is not None:
            more = total > len(records)
        else:
            more = len(records) >= limit
        return Page(
            records=records,
            is_last=not more or not records,
            total=total,
            next_cursor=cursor.get("end_cursor"),
        )

    def unpack_listing(self, document: t.Any, limit: int) -> Page:
        """A page by number: `meta.pagination` says which of how many pages it is.

        (`unpack`'s reading of `total` holds only for the first page of a window.) Without a
        page count, the short page is the last; a per-parent list may answer 204 when empty.
        """
        if document is None:
            return Page(records=[], is_last=True)
        page = self.unpack(document, limit)
        pagination = (document.get("meta") or {}).get("pagination") or {}
        current, pages = pagination.get("current_page"), pagination.get("total_pages")
        if isinstance(current, int) and isinstance(pages, int):
            page.is_last = current >= pages or not page.records
        else:
            page.is_last = len(page.records) < limit
        return page


class ProductsFlavour(_V3Flavour):
    """`/v3/catalog/products`: `sort=date_modified&direction=asc`, plateau by `id:greater`."""

    resource = "products"
    path = "catalog/products"

    def window_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int
    ) -> Params:
        """Sort and direction are separate parameters here."""
        return {**self._window(lower, upper, limit), "sort": "date_modified", "direction": "asc"}

    def plateau_params(self, at: dt.datetime, after: t.Any, limit: int) -> Params:
        """Products can be filtered by `id:greater` and sorted by id."""
        params = {**self._window(at, at, limit), "sort": "id", "direction": "asc"}
        if after is not None:
            params["id:greater"] = after
        return params


class CustomersFlavour(_V3Flavour):
    """`/v3/customers`: `sort=date_modified:asc`, plateau by the API's own cursor.

    The spec's filter examples carry no offset; the tap sends `Z` all the same, so a value
    can never be read in the store's own timezone (and silently skip hours).
    """

    resource = "customers"
    path = "customers"

    def window_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int
    ) -> Params:
        """Sort takes the colon form."""
        return {**self._window(lower, upper, limit), "sort": "date_modified:asc"}

    def plateau_params(self, at: dt.datetime, after: t.Any, limit: int) -> Params:
        """Customers have no `id:greater`; cursor paging (`after`) walks them by id."""
        params = self._window(at, at, limit)
        if after is not None:
            params["after"] = after
        return params

    def plateau_after(self, page: Page) -> t.Any:
        """The cursor the API handed out; built from the last id if it gave none."""
        if page.next_cursor:
            return page.next_cursor
        return base64.b64encode(f"id:{page.records[-1]['id']}".encode()).decode()


class V3ById(_V3Flavour):
    """A v3 list walked by `id:greater` (brands).

    No sort is sent: the brands spec documents only `sort=name`. The listing comes in id
    order; the reader checks it and walks by page should it not.
    """

    walk = "id"

    def whole_params(self, after: t.Any, page: int, limit: int) -> Params:
        """Ids past the last one read; the first page has no filter."""
        params = {**self.extra, "limit": limit}
        if after is not None:
            params["id:greater"] = after
        return params


class V3ByPage(_V3Flavour):
    """A v3 list with no id filter, walked by page number (category trees, locations ...)."""


class V3DateWindow(_V3Flavour):
    """A v3 list filtered by `date_modified:min`/`:max` that documents no sort at all.

    Price lists and channels: their list operations document the date filters and
    page/limit, but no `sort` (and so no order by `date_modified`), so keyset paging on the
    date cannot be used. A window of dates is instead read whole, by page number, with its
    total checked on every page, and sorted by the tap (`readers/unsorted.py`). No `sort`
    is sent: the API documents none, and one it ignored would only hide the problem.
    """

    sorts_by_date: t.ClassVar[bool] = False
    #: "page": pages by number, proven by their totals; "cursor": the API's `after` cursor.
    window_walk: t.ClassVar[str] = "page"
    # Records are sorted before they are written, so they are decoded in full.
    page_decoder = None

    def window_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int
    ) -> Params:
        """Only the date filters: in whatever order the API lists them."""
        return self._window(lower, upper, limit)

    def next_params(self, base: Params, number: int, previous: Page) -> Params:
        """The request after `previous` (page `number - 1`) of the window `base`."""
        return {**base, "page": number}


class V3CreatedWindow(V3DateWindow):
    """As `V3DateWindow`, on `created:min`/`:max` (refunds, which never change once made).

    `/v3/orders/payment_actions/refunds` documents `created:min`/`:max` and page/limit, and
    lists "ordered by refund ID": no sort by date, so a window is read whole and sorted by
    (`created`, id) by the tap, like any unsorted window.
    """

    date_field = "created"


class V3DateWindowCursor(V3DateWindow):
    """As `V3DateWindow`, walked by the API's `after` cursor (price list records).

    The cursor names a position in the listing's own order (the spec's example cursors
    are base64 of an id), so a record that leaves the window meanwhile shifts nothing.
    """

    window_walk = "cursor"

    def next_params(self, base: Params, number: int, previous: Page) -> Params:
        """`after` the end cursor of the previous page (`page` is ignored with it)."""
        if not previous.next_cursor:
            raise BadResponseError(
                f"{self.resource}: the API said more records follow but sent no cursor"
            )
        return {**base, "after": previous.next_cursor}


class _V2Flavour(Flavour):
    """v2: a plain array, HTTP 204 when there is nothing (more), money as text."""

    version = "v2"
    money_as_text = True

    def unpack(self, document: t.Any, limit: int) -> Page:
        """v2 lists are bare arrays; 204 (None) means nothing more."""
        if document is None:
            return Page(records=[], is_last=True)
        if not isinstance(document, list):
            raise BadResponseError(
                f"{self.resource}: expected a JSON array from /v2/{self.path}, "
                f"got {_describe(document)}"
            )
        return Page(records=document, is_last=len(document) < limit)


class V2ById(_V2Flavour):
    """A v2 list walked by `min_id` (inclusive), in id order (coupons, gift certificates)."""

    walk = "id"

    def whole_params(self, after: t.Any, page: int, limit: int) -> Params:
        """`min_id` one past the last id read."""
        params = {**self.extra, "limit": limit}
        if after is not None:
            params["min_id"] = int(after) + 1
        return params


class V2ByPage(_V2Flavour):
    """A v2 list with no id filter, walked by page number (currencies, order statuses)."""


class V2Unpaged(_V2Flavour):
    """A v2 list that documents no paging at all (`/v2/order_statuses`): one request, all.

    No `page` or `limit` is sent: an API that ignored them would answer the same rows to
    every page, and a walk by page number would never end.
    """

    walk = "single"

    def whole_params(self, after: t.Any, page: int, limit: int) -> Params:
        """No paging: the whole list."""
        return dict(self.extra)


class V2Single(_V2Flavour):
    """A v2 endpoint that answers one object (`/v2/store`): one record."""

    walk = "single"

    def whole_params(self, after: t.Any, page: int, limit: int) -> Params:
        """No paging: the object itself."""
        return dict(self.extra)

    def unpack(self, document: t.Any, limit: int) -> Page:
        """The object is the one record."""
        if not isinstance(document, dict):
            raise BadResponseError(
                f"{self.resource}: expected a JSON object from /v2/{self.path}, "
                f"got {_describe(document)}"
            )
        return Page(records=[document], is_last=True)


class OrdersFlavour(_V2Flavour):
    """`/v2/orders`: a plain array, HTTP 204 past the end, `min_date_modified`, `min_id`."""

    resource = "orders"
    path = "orders"

    def __init__(
        self,
        include: str | None = None,
        extra: Params | None = None,
        *,
        path: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Consignments are asked for as objects, the documented non-legacy structure."""
        super().__init__(include, extra, path=path, resource=resource)
        if include and "consignments" in include:
            self.extra["consignment_structure"] = "object"

    @staticmethod
    def format_time(moment: dt.datetime) -> str:
        """v2 accepts RFC-2822 or ISO-8601; the `+` is percent-encoded by `requests`."""
        return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")

    def _window(self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int) -> Params:
        params: Params = {**self.extra, "limit": limit}
        if upper is not None:
            params["max_date_modified"] = self.format_time(upper)
        if lower is not None:
            params["min_date_modified"] = self.format_time(lower)
        return params

    def window_params(
        self, lower: dt.datetime | None, upper: dt.datetime | None, limit: int
    ) -> Params:
        """Sort direction is appended with a colon."""
        return {**self._window(lower, upper, limit), "sort": "date_modified:asc"}

    def plateau_params(self, at: dt.datetime, after: t.Any, limit: int) -> Params:
        """`min_id` is inclusive, so start one past the last id read."""
        params = {**self._window(at, at, limit), "sort": "id:asc"}
        if after is not None:
            params["min_id"] = int(after) + 1
        return params

    def count_params(self, lower: dt.datetime | None, upper: dt.datetime | None) -> Params:
        """The filters of a window, for `/v2/orders/count` (v2 lists carry no total)."""
        params = self._window(lower, upper, 1)
        params.pop("limit")
        params.pop("include", None)
        params.pop("consignment_structure", None)
        return params


Fetch = t.Callable[[Params], Page]
#: Reads the rest of a window after its first page: given that page, where a keyset read
#: would go on (`lower`, and the ids already yielded at `lower`) and the upper bound.
Handoff = t.Callable[[Page, dt.datetime, dt.datetime, set[t.Any]], t.Iterator["Record"]]


def modified_at(record: t.Any, resource: str) -> dt.datetime:
    """A record's `date_modified`, checked; a record without it or `id` is an error."""
    if not isinstance(record, dict) or "id" not in record:
        raise BadResponseError(f"{resource}: the API returned a record without an 'id'")
    raw = record.get("date_modified")
    moment = parse_api_datetime(raw) if isinstance(raw, str) else None
    if moment is None:
        raise BadResponseError(
            f"{resource}: record {record['id']} has no usable 'date_modified' ({raw!r})"
        )
    return moment


class KeysetReader:
    """Reads every record modified in [lower, upper] exactly once, oldest first.

    `fetch` sends one request and returns its `Page`; everything else here is a pure
    decision, so it is tested without HTTP.
    """

    def __init__(self, flavour: Flavour, fetch: Fetch, limit: int) -> None:
        """Read `flavour`'s endpoint through `fetch`, `limit` records per request."""
        self.flavour = flavour
        self.fetch = fetch
        self.limit = limit

    def modified_at(self, record: t.Any) -> dt.datetime:
        """The record's `date_modified`, checked (see `modified_at`)."""
        return modified_at(record, self.flavour.resource)

    def read(
        self,
        lower: dt.datetime | None,
        upper: dt.datetime | t.Callable[[], dt.datetime],
        seen: set[t.Any] | None = None,
        then: Handoff | None = None,
    ) -> t.Iterator[Record]:
        """Yield each record modified in [lower, upper], in `date_modified` order.

        `upper` may be a function, called once the first response has arrived (it reads the
        store's clock from that response); the first request then goes without an upper
        bound and whatever it returns past the bound is left for the next run.

        `then`, if given, reads the rest once the first page's records are out, if there is
        a rest: from where this reader would go on, which is all it relies on.
        """
        # Ids already yielded whose date_modified equals `lower` (given when resuming a read).
        seen = set(seen or ())
        bound = None if callable(upper) else upper
        opening: Page | None = None
        while bound is None or lower is None or lower <= bound:
            # (Past the first page, `bound` and `lower` are both set.)
            if then is not None and opening is not None and bound and lower:
                yield from then(opening, lower, bound, seen)
                return
            page = self.fetch(self.flavour.window_params(lower, bound, self.limit))
            if bound is None:
                bound = upper() if callable(upper) else upper
                page = _cut(page, bound, self.modified_at)
            opening = opening or page
            stamped = [(self.modified_at(record), record) for record in page.records]
            if not stamped:
                return
            self.check_window(stamped, lower, bound)
            first, last = stamped[0][0], stamped[-1][0]
            if first == last == lower and not page.is_last:
                # A full page, all at the lower bound: more than a page of records share this
                # second (a bulk import), so moving the bound cannot get past them. Walk the
                # second by id, then step past it: it lies in the past (the upper bound is
                # the store's clock at the start), so no record can still be written into it.
                yield from self.read_second(last, seen)
                lower, seen = last + ONE_SECOND, set()
                continue
            for moment, record in stamped:
                if not (moment == lower and record["id"] in seen):
                    yield record
            if page.is_last:
                return
            # `last` is past `lower` here (a page all at `lower` took the plateau branch).
            seen = {record["id"] for moment, record in stamped if moment == last}
            lower = last

    def read_second(
        self, at: dt.datetime, seen: set[t.Any], fetched: t.Sequence[Page] = ()
    ) -> t.Iterator[Record]:
        """Yield every record modified in the second `at`, by id, except those in `seen`.

        `fetched` holds the answers to the first requests, if they were already sent (by
        `fetch_second`).
        """
        after: t.Any = None
        last_id: t.Any = None
        ready = list(fetched)
        while True:
            if ready:
                page = ready.pop(0)
            else:
                page = self.fetch(self.flavour.plateau_params(at, after, self.limit))
            for record in page.records:
                moment = self.modified_at(record)
                if moment != at or (last_id is not None and record["id"] <= last_id):
                    raise BadResponseError(
                        f"{self.flavour.resource}: the API ignored the id paging filters "
                        f"(record {record['id']} at {moment.isoformat()}); stopping rather "
                        "than reading the same records forever"
                    )
                last_id = record["id"]
                if record["id"] not in seen:
                    yield record
            if page.is_last or not page.records:
                return
            after = self.flavour.plateau_after(page)

    def fetch_second(
        self, at: dt.datetime, pages: int, stop: t.Callable[[], bool] = lambda: False
    ) -> list[Page]:
        """The first `pages` requests of `read_second(at, ...)`, fewer if the second ends.

        `stop()` is asked before each request; when it says so, what was fetched is returned.
        """
        fetched: list[Page] = []
        after: t.Any = None
        while len(fetched) < pages and not stop():
            page = self.fetch(self.flavour.plateau_params(at, after, self.limit))
            fetched.append(page)
            if page.is_last or not page.records:
                break
            after = self.flavour.plateau_after(page)
        return fetched

    def check_window(  # noqa: D102 - see the message below
        self,
        stamped: list[tuple[dt.datetime, Record]],
        lower: dt.datetime | None,
        upper: dt.datetime,
    ) -> None:
        previous = None
        for moment, record in stamped:
            outside = (lower is not None and moment < lower) or moment > upper
            if outside or (previous is not None and moment < previous):
                raise BadResponseError(
                    f"{self.flavour.resource}: the API ignored the date_modified filter or "
                    f"sort (record {record['id']} at {moment.isoformat()}); stopping rather "
                    "than risk skipping or repeating records forever"
                )
            previous = moment


#: Runs `work(item)` for each item, several at once, and yields the results in item order;
#: closing what it returns abandons the rest.
SideBySide = t.Callable[[t.Callable[[int], Page], t.Iterable[int]], t.Generator[Page, None, None]]


class SnapshotReader:
    """Reads a v3 window by page number, many pages at once, and proves it lost nothing.

    The window's upper bound lies in the past, so its set of records can only shrink while
    it is read (a changed record moves past the bound). Every v3 page reports the set's
    `total`: pages that report the same total as the first were all cut from the very same
    set, so by page number they partition it exactly, except within one second, whose order
    the API does not promise: a second that spans two pages is read whole by `KeysetReader`
    (by id), once. When a page reports another total (records left), the reader starts a
    new pass from the last record it yielded (keyset: inclusive, skipping ids already
    yielded at that second); a pass that cannot get past its first second has it walked by
    id.

    `side_by_side` fetches the pages, several at once, and yields them in order. Whichever
    of two neighbouring pages arrives second sees whether they share a second and, if so,
    asks for that second by id at once, so the reader rarely waits for it.
    """

    def __init__(
        self,
        flavour: Flavour,
        keyset: KeysetReader,
        side_by_side: SideBySide,
        first_round: int = 1,
    ) -> None:
        """Read `flavour`'s endpoint; `keyset` walks seconds holding more than a page.

        `first_round`: how many pages an estimate may send out together with page 1 (the
        requests in flight); if the estimate is high, at most that many less one are wasted.
        """
        self.flavour = flavour
        self.keyset = keyset
        self.side_by_side = side_by_side
        self.first_round = first_round
        self.limit = keyset.limit
        #: Passes started again (for tests and logs).
        self.restarts = 0

    def read(
        self,
        lower: dt.datetime | None,
        upper: dt.datetime,
        expected: int | None = None,
        seen: set[t.Any] | None = None,
    ) -> t.Iterator[Record]:
        """Yield each record modified in [lower, upper], in `date_modified` order.

        `expected`, an estimate of how many records the window holds (from an earlier
        response), lets the pages it predicts go out together with page 1 instead of
        waiting for page 1's total. `seen`: ids already yielded at `lower` (when this
        goes on from a keyset read), skipped.
        """
        seen = set(seen or ())
        while lower is None or lower <= upper:
            outcome: list[t.Any] = []
            yield from self._pass(lower, upper, seen, outcome, expected)
            expected = None  # a new pass asks for page 1 first
            if not outcome:
                return  # the window is complete
            last, at_last, complete = outcome
            self.restarts += 1
            if last is None:
                # Not one record yet, and the store keeps changing under page 1: read the
                # window by keyset instead, which needs no stable set.
                yield from self.keyset.read(lower, upper, seen)
                return
            if complete:
                # Its last second was read whole by id, and lies in the past: step past it.
                lower, seen = last + ONE_SECOND, set()
            elif last == lower:
                # No progress past the first second: walk that second by id, step past it.
                yield from self.keyset.read_second(last, at_last)
                lower, seen = last + ONE_SECOND, set()
            else:
                lower, seen = last, at_last

    def _pass(
        self,
        lower: dt.datetime | None,
        upper: dt.datetime,
        seen: set[t.Any],
        outcome: list[t.Any],
        expected: int | None = None,
    ) -> t.Iterator[Record]:
        """One pass of the window.

        On return `outcome` is empty when the window is done, else [the last second yielded,
        its ids, whether that second was read whole].
        """
        arrivals = _Arrivals(self.flavour.window_params(lower, upper, self.limit), self.keyset)
        planned = 1 if expected is None else min(self._pages(expected), self.first_round)
        stream = self.side_by_side(arrivals.fetch, arrivals.numbers(planned, self._pages))
        total = pages = 0
        last: dt.datetime | None = lower
        at_last = set(seen)
        whole: dt.datetime | None = None  # the second last read whole by id
        # Pages taken early from `stream` while waiting for a second read by id (so that
        # requests keep going meanwhile); they come next, in order.
        early: deque[Page] = deque()

        def in_turn() -> t.Iterator[Page]:
            while True:
                following = early.popleft() if early else next(stream, None)
                if following is None:
                    return
                yield following

        try:
            for number, page in enumerate(in_turn(), start=1):
                if number == 1:
                    if page.total is None:
                        raise BadResponseError(f"{self.flavour.resource}: the API sent no total")
                    total, pages = page.total, self._pages(page.total)
                if number > pages:
                    break  # asked for on an estimate that was too high: past the end
                stamped = [(self.keyset.modified_at(r), r) for r in page.records]
                self.keyset.check_window(stamped, lower, upper)
                expected_count = min(self.limit, total - (number - 1) * self.limit)
                if page.total != total or len(stamped) != expected_count:
                    # The set changed: a new pass from here (past `last` if it was read whole).
                    outcome.extend([last, at_last, last is not None and last == whole])
                    return
                tie = None
                if number > 1 and stamped and stamped[0][0] == last:
                    # One second spans two pages, and the API does not promise the order
                    # of records within a second: read that second whole, by id (once,
                    # however many pages it spans).
                    tie = last
                    if tie != whole:
                        promise = arrivals.tie_promise(tie)
                        while promise and not promise.done() and len(early) < self.first_round:
                            following = next(stream, None)
                            if following is None:
                                break
                            early.append(following)
                        fetched = promise.result() if promise else []
                        for record in self.keyset.read_second(tie, at_last, fetched):
                            yield record
                            at_last.add(record["id"])
                        whole = tie
                for moment, record in stamped:
                    if moment == tie or (moment == lower and record["id"] in seen):
                        continue
                    yield record
                    if moment != last:
                        last, at_last = moment, set()
                    at_last.add(record["id"])
        finally:
            arrivals.abandon()
            stream.close()

    def _pages(self, records: int) -> int:
        return max(1, -(-records // self.limit))


class _Arrivals:
    """The pages of one pass as they arrive, in any order, from several threads.

    It says which page numbers to ask for: the planned first round, then, once page 1 has
    told the total, the rest. For each page it keeps only its first and last second and its
    total. When two neighbouring pages are both in, report the same total and share a
    second, the thread that brought the second of them has that second fetched by id (the
    first `TIE_PAGES_AHEAD` pages of it, once per second, on a thread of its own) for the
    reader, which needs it next.
    """

    def __init__(self, base: Params, keyset: KeysetReader) -> None:
        self.base = base
        self.keyset = keyset
        self._lock = threading.Lock()
        self._ends: dict[int, tuple[dt.datetime, dt.datetime, int | None] | None] = {}
        self._ties: dict[dt.datetime, Future[list[Page]]] = {}
        self._asked: set[dt.datetime] = set()  # seconds fetched ahead, ever, in this pass
        self._first_in = threading.Event()
        self._total: int | None = None
        self._abandoned = False
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="second-by-id")

    def numbers(self, planned: int, pages_for: t.Callable[[int], int]) -> t.Iterator[int]:
        """Page numbers: 1 to `planned`, then (after page 1 is in) the rest of the window."""
        yield from range(1, planned + 1)
        # Read by the thread that waits for page 1's result anyway: waiting costs nothing.
        self._first_in.wait()
        if self._total is not None:
            yield from range(planned + 1, pages_for(self._total) + 1)

    def fetch(self, number: int) -> Page:
        """Page `number` of the window (and any second it is the second to see shared)."""
        try:
            page = self.keyset.fetch({**self.base, "page": number})
            if number == 1:
                self._total = page.total
        finally:
            if number == 1:
                self._first_in.set()  # also on failure: the page's error is raised in order
        records = page.records
        ends = None
        if records:
            first, last = self.keyset.modified_at(records[0]), self.keyset.modified_at(records[-1])
            ends = (first, last, page.total)
        with self._lock:
            self._ends[number] = ends
            for before, after in ((number - 1, number), (number, number + 1)):
                left, right = self._ends.get(before), self._ends.get(after)
                if not (left and right and left[1] == right[0] and left[2] == right[2]):
                    continue
                if self._abandoned or left[1] in self._asked:
                    continue
                self._asked.add(left[1])
                # On its own thread, so this page is handed over at once.
                second = left[1]
                self._ties[second] = self._pool.submit(
                    contextvars.copy_context().run,
                    self.keyset.fetch_second,
                    second,
                    TIE_PAGES_AHEAD,
                    self._is_abandoned,
                )
        return page

    def tie_promise(self, second: dt.datetime) -> Future[list[Page]] | None:
        """The pages by id of `second` being fetched ahead, if they are."""
        with self._lock:
            return self._ties.pop(second, None)

    def _is_abandoned(self) -> bool:
        return self._abandoned

    def abandon(self) -> None:
        """The pass is over: fetch no more seconds for it."""
        with self._lock:
            self._abandoned = True
            self._ties.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


class Replay:
    """A fetch that answers its first call with a page already fetched."""

    def __init__(self, first: Page, fetch: Fetch) -> None:
        """`first` answers the first call; `fetch` every later one."""
        self.first: Page | None = first
        self.fetch = fetch

    def __call__(self, params: Params) -> Page:
        """The page held, the first time; then a request."""
        page, self.first = self.first, None
        return page if page is not None else self.fetch(params)


def split_window(
    lower: dt.datetime | None, upper: dt.datetime, cuts: t.Iterable[dt.datetime]
) -> list[tuple[dt.datetime | None, dt.datetime]]:
    """Cut [lower, upper] at each timestamp in `cuts` into closed, disjoint, ordered windows.

    Timestamps have whole seconds, so [a, b) is the closed window [a, b - 1 s]. Repeated or
    out-of-range cuts are ignored; together the windows cover [lower, upper] exactly.
    """
    points = sorted({c for c in cuts if (lower is None or c > lower) and c <= upper})
    windows: list[tuple[dt.datetime | None, dt.datetime]] = []
    start = lower
    for point in points:
        windows.append((start, point - ONE_SECOND))
        start = point
    windows.append((start, upper))
    return windows


def _cut(page: Page, bound: dt.datetime, modified_at: t.Callable[[t.Any], dt.datetime]) -> Page:
    """Drop records past `bound` from a page; if any were dropped, nothing else is in range."""
    kept = [record for record in page.records if modified_at(record) <= bound]
    if len(kept) == len(page.records):
        return page
    return Page(records=kept, is_last=True, total=page.total, next_cursor=page.next_cursor)


def _describe(document: t.Any) -> str:
    if isinstance(document, dict):
        return f"an object with keys {sorted(document)[:5]}"
    if isinstance(document, list):
        return "an array"
    return type(document).__name__
