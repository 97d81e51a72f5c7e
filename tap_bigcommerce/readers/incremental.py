"""Incremental reading: every record modified since the bookmark, oldest first.

One listing is read by keyset (`pagination.KeysetReader`), serially or, when the quota
leaves room, side by side in the way its flavour allows (`incremental_v3`,
`incremental_v2`). Further listings (archived orders) are read serially and merged in
`date_modified` order under one upper bound.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import typing as t

from tap_bigcommerce.pagination import KeysetReader
from tap_bigcommerce.readers import incremental_v2, incremental_v3
from tap_bigcommerce.readers.unsorted import UnsortedWindowReader

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Flavour, V3DateWindow
    from tap_bigcommerce.replication import Incremental
    from tap_bigcommerce.stream_base import BigCommerceStream

#: How a flavour's window is read side by side: v3 pages carry the window's total, which
#: proves pages by number (a snapshot); v2 lists carry none, so the window is cut in parts.
SIDE_BY_SIDE = {
    "v3": incremental_v3.read_side_by_side,
    "v2": incremental_v2.read_side_by_side,
}


class IncrementalReader:
    """Reads a stream declared `Incremental`, through the stream's one HTTP path."""

    def __init__(
        self, stream: BigCommerceStream, replication: Incremental, flavour: Flavour | None = None
    ) -> None:
        """Read `stream`'s endpoint (or `flavour`'s) as `replication` declares."""
        self.stream = stream
        self.replication = replication
        self.flavour = flavour or stream.flavour

    def listings(self) -> list[KeysetReader]:
        """The listings whose records the stream emits (archived orders, when asked for)."""
        stream = self.stream
        readers = [KeysetReader(stream.flavour, stream.fetch_page, stream.page_size)]
        for also in self.replication.also:
            if stream.config.get(also.setting):
                flavour = stream.make_flavour(extra=also.params)
                fetch = functools.partial(stream.fetch_page, flavour=flavour)
                readers.append(KeysetReader(flavour, fetch, stream.page_size))
        return readers

    def read(self, lower: dt.datetime | None) -> t.Iterator[dict]:
        """Records modified in [lower, the store's current second], oldest first."""
        stream = self.stream
        if not self.flavour.sorts_by_date:
            # Serial: no other request of this stream is under way to stop on an error (and
            # a 403 must not stop the next streams' requests: the stream is only skipped).
            return self._unsorted(lower)
        readers = self.listings()
        upper: t.Any = stream.server_second  # learnt from the first response
        if len(readers) == 1 and stream.requests_in_flight > 1:
            side_by_side = SIDE_BY_SIDE[stream.flavour.version]
            return stream.stopping_others(side_by_side(stream, readers[0], lower))
        if len(readers) == 1:
            return readers[0].read(lower, upper)
        upper = self._first_bound(readers[0])
        return heapq.merge(
            *(reader.read(lower, upper) for reader in readers),
            key=readers[0].modified_at,
        )

    def _unsorted(self, lower: dt.datetime | None) -> t.Iterator[dict]:
        """A listing that cannot be sorted by date: windows read whole, sorted by the tap."""
        stream = self.stream
        flavour = t.cast("V3DateWindow", self.flavour)
        keys = tuple(stream.primary_keys or ("id",))
        reader = UnsortedWindowReader(
            flavour,
            functools.partial(stream.fetch_page, flavour=flavour),
            stream.page_size,
            key=lambda record: tuple(record.get(k) for k in keys),
            now=stream.server_second,
        )
        yield from reader.read(lower)
        if reader.restarts:
            stream.logger.info(
                "%s: the store changed while read; %d windows read again",
                stream.name,
                reader.restarts,
            )

    def _first_bound(self, reader: KeysetReader) -> dt.datetime:
        """The upper bound shared by merged listings, asked of the store before any is read."""
        if self.stream.client.server_now() is None:
            reader.fetch(self.stream.flavour.window_params(None, None, 1))
        return self.stream.server_second()
