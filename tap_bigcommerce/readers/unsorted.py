"""Incremental reading of a listing that filters by `date_modified` but cannot sort by it.

Price lists, price list records and channels document `date_modified:min`/`:max` and no
`sort` (see `pagination.V3DateWindow`), so keyset paging on the date is impossible: the
API lists a window in an order of its own (by id), and a page-number walk over it skips a
record whenever another leaves the window meanwhile. So a window [lower, upper] is read
whole before any of it is written, then written sorted by (date_modified, key): the
bookmark (the last date written) then never passes a record not written, and a STATE
after any record is true.

Reading a window whole is safe because its upper bound is the store's clock when the run
started: a record changed meanwhile leaves it (its date moves past the bound, to be read
by the next run, which starts at the bookmark, inclusive) and none can enter, except into
the current second. By page number, every page must report the total of the first and
hold as many records as that total implies; else the set changed and the window is read
again (or cut in two). By cursor (`after`), a position in the listing's own order, a
record leaving moves nothing, so no check is needed.

Only a window of at most `BUFFER` records is held in memory: a larger one (a first sync of
a big price list) is cut in two halves of its dates, each read the same way, earlier half
first. A single second holding more than that is written as read: all its records share
one date, so any order is sorted. On a quiet store an hourly run costs one request: the
first goes without an upper bound and, if it holds the whole answer, is all there is.

The date is the flavour's `date_field`: refunds (`V3CreatedWindow`) are filtered and read
by `created`, listed by id. A refund never changes, so none leaves a window; one created
during the run has `created` at or past the store's second when the run started (`now`,
the window's upper bound): past it, it is outside every window of this run and the next
run reads it (it starts at the bookmark, which is at most `now`); in that very second, it
either is in the answer (and read), or it changes a total (the window is read again), or it
came after the last request, and then the next run reads it, since the bookmark is at most
that second and inclusive. So a refund is read by this run or the next, never zero times.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_bigcommerce.errors import BadResponseError
from tap_bigcommerce.pagination import ONE_SECOND, Page
from tap_bigcommerce.transform import parse_api_datetime

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Params, V3DateWindow

Record = dict[str, t.Any]
Fetch = t.Callable[["Params"], Page]

#: Records of one window held in memory at most before it is cut in two.
BUFFER = 5_000
#: How often a window whose set changed is read again before it is cut (or the run fails).
MAX_RESTARTS = 3
#: The lower end of a window with no bookmark and no start date, for cutting it in two.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


class _ChangedError(Exception):
    """The window's set of records changed while it was read by page number."""


class UnsortedWindowReader:
    """Reads every record modified in [lower, the store's clock], oldest first.

    `fetch` sends one request; `key` gives a record's primary key (the tie-break within
    a second, and what identifies a record read twice); `now` the store's current second,
    asked after the first response.
    """

    def __init__(
        self,
        flavour: V3DateWindow,
        fetch: Fetch,
        limit: int,
        key: t.Callable[[Record], tuple],
        now: t.Callable[[], dt.datetime],
        buffer: int = BUFFER,
    ) -> None:
        """Read `flavour`'s endpoint through `fetch`, `limit` records per request."""
        self.flavour = flavour
        self.fetch = fetch
        self.limit = limit
        self.key = key
        self.now = now
        self.buffer = max(buffer, limit)
        #: Windows read again because the store changed (for tests and logs).
        self.restarts = 0

    def modified_at(self, record: t.Any) -> dt.datetime:
        """The record's date (`date_field`: `date_modified`, `created`); none is an error."""
        field = self.flavour.date_field
        raw = record.get(field) if isinstance(record, dict) else None
        moment = parse_api_datetime(raw) if isinstance(raw, str) else None
        if moment is None:
            raise BadResponseError(
                f"{self.flavour.resource}: a record has no usable '{field}' ({raw!r})"
            )
        return moment

    def read(self, lower: dt.datetime | None) -> t.Iterator[Record]:
        """Records modified in [lower, now], sorted by (date_modified, key)."""
        first = self.fetch(self.flavour.window_params(lower, None, self.limit))
        upper = self.now()
        if first.is_last or not first.records:
            # One page is one consistent answer: the whole listing since `lower`.
            stamped = [(self.modified_at(r), r) for r in first.records]
            yield from self._sorted([(m, r) for m, r in stamped if m <= upper], lower, upper)
            return
        # Walked by page, the window must lie wholly in the past: in the current second one
        # record can leave (touched) while another enters, the total unchanged, and a page
        # would then skip one for good. That second is read by the next run (inclusive).
        past = upper - ONE_SECOND
        if lower is not None and lower > past:
            return
        yield from self._window(lower, past)

    def _sorted(
        self,
        stamped: list[tuple[dt.datetime, Record]],
        lower: dt.datetime | None,
        upper: dt.datetime,
    ) -> list[Record]:
        """`stamped`'s records, each once, by (date, key), checked in [lower, upper]."""
        for moment, _record in stamped:
            if (lower is not None and moment < lower) or moment > upper:
                raise BadResponseError(
                    f"{self.flavour.resource}: the API ignored the {self.flavour.date_field} "
                    f"filter (a record at {moment.isoformat()}); stopping rather than risk "
                    "skipping records"
                )
        unique = {self.key(r): (m, r) for m, r in stamped}
        ordered = sorted(unique.items(), key=lambda item: (item[1][0], item[0]))
        return [record for _, (_, record) in ordered]

    def _window(self, lower: dt.datetime | None, upper: dt.datetime) -> t.Iterator[Record]:
        """The window [lower, upper], upper known: read whole and sorted, or cut in two."""
        attempts = 0
        while True:
            try:
                records = self._collect(lower, upper)
            except _ChangedError:
                self.restarts += 1
                attempts += 1
                if self._splittable(lower, upper):
                    yield from self._halves(lower, upper)
                    return
                if attempts > MAX_RESTARTS:
                    raise BadResponseError(
                        f"{self.flavour.resource}: the store kept changing while the second "
                        f"{upper.isoformat()} was read; stopping (the next run reads it again)"
                    ) from None
                continue
            if records is None:
                # More than the buffer holds.
                if self._splittable(lower, upper):
                    yield from self._halves(lower, upper)
                else:
                    yield from self._one_second(upper)
                return
            yield from records
            return

    def _splittable(self, lower: dt.datetime | None, upper: dt.datetime) -> bool:
        return (lower or EPOCH) < upper

    def _halves(self, lower: dt.datetime | None, upper: dt.datetime) -> t.Iterator[Record]:
        start = lower or EPOCH
        middle = start + dt.timedelta(seconds=(upper - start).total_seconds() // 2)
        yield from self._window(lower, middle)
        yield from self._window(middle + ONE_SECOND, upper)

    def _pages(self, lower: dt.datetime | None, upper: dt.datetime) -> t.Iterator[Page]:
        """The window's pages; `_ChangedError` when a walk by page number sees the set change."""
        base = self.flavour.window_params(lower, upper, self.limit)
        page = self.fetch(base)
        total, number = page.total, 1
        while True:
            if self.flavour.window_walk == "page" and total is not None:
                expected = min(self.limit, total - (number - 1) * self.limit)
                if page.total != total or len(page.records) != expected:
                    raise _ChangedError
            yield page
            if page.is_last or not page.records:
                return
            if self.flavour.window_walk == "page" and number * self.limit >= (total or 0):
                return
            number += 1
            page = self.fetch(self.flavour.next_params(base, number, page))

    def _collect(self, lower: dt.datetime | None, upper: dt.datetime) -> list[Record] | None:
        """The window's records, sorted; None when it holds more than the buffer."""
        stamped: list[tuple[dt.datetime, Record]] = []
        for page in self._pages(lower, upper):
            if page.total is not None and page.total > self.buffer:
                return None
            stamped.extend((self.modified_at(r), r) for r in page.records)
            if len(stamped) > self.buffer:
                return None
        return self._sorted(stamped, lower, upper)

    def _one_second(self, at: dt.datetime) -> t.Iterator[Record]:
        """A second holding more than the buffer: written as read, each record once."""
        seen: set[tuple] = set()
        for _ in range(MAX_RESTARTS + 1):
            try:
                for page in self._pages(at, at):
                    stamped = [(self.modified_at(r), r) for r in page.records]
                    for record in self._sorted(stamped, at, at):
                        key = self.key(record)
                        if key not in seen:
                            seen.add(key)
                            yield record
                return
            except _ChangedError:
                self.restarts += 1
        raise BadResponseError(
            f"{self.flavour.resource}: the store kept changing while the second "
            f"{at.isoformat()} was read; stopping (the next run reads it again)"
        )
