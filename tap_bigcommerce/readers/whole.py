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

import typing as t

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Page
    from tap_bigcommerce.replication import ReadWhole
    from tap_bigcommerce.stream_base import BigCommerceStream

#: Walks by page number started again at most this many times when the store changed.
MAX_RESTARTS = 3


class WholeReader:
    """Reads a stream declared `ReadWhole`, through the stream's one HTTP path."""

    def __init__(self, stream: BigCommerceStream, replication: ReadWhole) -> None:
        """Read `stream`'s endpoint whole, as `replication` declares."""
        self.stream = stream
        self.replication = replication

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
        while True:
            page = self._fetch(after, 1)
            yield from self._rows(page)
            if page.is_last or not page.records:
                return
            after = page.records[-1]["id"]

    def _by_page(self) -> t.Iterator[dict]:
        seen: set[tuple] = set()
        for attempt in range(MAX_RESTARTS + 1):
            last_try = attempt == MAX_RESTARTS
            total, number, new, changed = None, 1, 0, False
            while True:
                page = self._fetch(None, number)
                if total is None:
                    total = page.total
                changed = page.total is not None and page.total != total
                for record in self._rows(page):
                    key = self._key(record)
                    if key not in seen:
                        seen.add(key)
                        new += 1
                        yield record
                if (changed and not last_try) or page.is_last or not page.records:
                    break
                number += 1
            if changed and not last_try:
                self.stream.logger.info(
                    "%s: the store changed while read; reading it again", self.stream.name
                )
                continue
            # v2 pages say no total: a walk of several pages is checked by walking again,
            # until a walk finds nothing new (a deletion may have shifted a row past it).
            if total is None and number > 1 and new and not last_try:
                continue
            return
