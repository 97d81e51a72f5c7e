"""Reading a stream whole: every record on every run, so that deletions can reach the target.

A listing is walked by id where the endpoint filters on it (`id:greater`, `min_id`): a record
created or deleted during the walk then moves no other record past the reader. Where it has
no such filter the walk goes by page number; a v3 page says how many records the listing
holds, and a walk during which that number changed is started again (a deletion would
otherwise shift a record onto a page already read), a few times at most. A v2 page says no
total: a walk of more than one page is walked again until a walk finds nothing new. A
record met twice is written once.
"""

from __future__ import annotations

import itertools
import typing as t

from tap_bigcommerce.pagination import Flavour

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Page
    from tap_bigcommerce.replication import ReadWhole
    from tap_bigcommerce.stream_base import BigCommerceStream

#: Walks by page number started again at most this many times when the store changed.
MAX_RESTARTS = 3
#: A walk by id stops after this many pages (a listing that never ends is not one).
MAX_PAGES = 100_000


class WholeReader:
    """Reads a stream declared `ReadWhole`, through the stream's one HTTP path."""

    def __init__(self, stream: BigCommerceStream, replication: ReadWhole) -> None:
        """Read `stream`'s endpoint whole, as `replication` declares."""
        self.stream = stream
        self.replication = replication
        #: False when the store kept changing through every walk: the read may lack rows,
        #: so it must not be taken for the whole table (no ACTIVATE_VERSION).
        self.complete = True
        #: Keys written by a walk by id, should it have to go on by page.
        self._seen: set[tuple] = set()

    def read(self, lower: t.Any = None) -> t.Iterator[dict]:
        """Every record of the listing (`lower` is ignored: there is no bookmark)."""
        walk = self.stream.flavour.walk
        if walk == "id":
            yield from self._by_id()
        elif walk == "single":
            yield from self._rows(self._fetch(None, 1))
        else:
            yield from self._by_page()

    def _fetch(self, after: t.Any, page: int) -> Page:
        stream = self.stream
        return stream.fetch_page(stream.flavour.whole_params(after, page, stream.page_size))

    def _fetch_page_number(self, page: int) -> Page:
        """Page `page` of the listing, whatever the flavour's own walk (its fallback)."""
        stream = self.stream
        return stream.fetch_page(Flavour.whole_params(stream.flavour, None, page, stream.page_size))

    def _rows(self, page: Page) -> list[dict]:
        """The table's rows on one page (several per listed record, where declared)."""
        split = self.replication.rows
        if split is None:
            return page.records
        return [row for record in page.records for row in split(record)]

    def _key(self, record: dict) -> tuple:
        return tuple(record.get(k) for k in self.stream.primary_keys)

    def _by_id(self) -> t.Iterator[dict]:
        after = None
        for number in itertools.count(1):
            page = self._fetch(after, 1)
            ids = [record["id"] for record in page.records]
            if any(b <= a for a, b in itertools.pairwise([after, *ids]) if a is not None):
                # Not in id order after all: an id filter would skip rows. Walk by page.
                self.stream.logger.warning(
                    "%s: the listing is not in id order; reading it by page", self.stream.name
                )
                yield from self._by_page(seen=self._seen)
                return
            for record in self._rows(page):
                self._seen.add(self._key(record))
                yield record
            if page.is_last or not page.records or number > MAX_PAGES:
                return
            after = ids[-1]

    def _by_page(self, seen: set[tuple] | None = None) -> t.Iterator[dict]:
        seen = set() if seen is None else seen
        for attempt in range(MAX_RESTARTS + 1):
            last_try = attempt == MAX_RESTARTS
            total, number, new, changed = None, 1, 0, False
            while True:
                page = self._fetch_page_number(number)
                if total is None:
                    total = page.total
                changed = changed or (page.total is not None and page.total != total)
                for record in self._rows(page):
                    key = self._key(record)
                    if key not in seen:
                        seen.add(key)
                        new += 1
                        yield record
                # A v3 page counts the listing: past the last row, no further request.
                done = page.total is not None and number * self.stream.page_size >= page.total
                if (changed and not last_try) or done or page.is_last or not page.records:
                    break
                number += 1
            if changed and not last_try:
                self.stream.logger.info(
                    "%s: the store changed while read; reading it again", self.stream.name
                )
                continue
            # A walk of several pages is walked again until a walk finds nothing new: a row
            # deleted and another created meanwhile leave the total as it was, yet shift a
            # row past the walk.
            if number > 1 and new and not last_try:
                continue
            # The last walk still saw the store change: the table may lack rows.
            self.complete = not (changed or (number > 1 and new and attempt > 0))
            return
