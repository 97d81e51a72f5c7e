"""A v3 window read side by side: its first page, then pages by number proven by totals."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_bigcommerce.overlap import in_context
from tap_bigcommerce.pagination import ONE_SECOND, KeysetReader, Page, Replay, SnapshotReader

if t.TYPE_CHECKING:
    from tap_bigcommerce.stream_base import BigCommerceStream


def read_side_by_side(
    stream: BigCommerceStream, reader: KeysetReader, lower: dt.datetime | None
) -> t.Iterator[dict]:
    """Read a window with up to `requests_in_flight` requests under way at once.

    The first page as a serial read has it, then pages by number over the seconds before
    the run, proven by their totals (`SnapshotReader`), and the current second by keyset.
    Records come oldest first and the bookmark stays true. A window that fits in one page
    (an hourly run's changes) costs one request, as when read serially.
    """
    # The first page tells the store's clock, its quota and how many records there are;
    # the plan for the rest waits for it.
    rest = functools.partial(_rest_side_by_side, stream)
    yield from reader.read(lower, stream.server_second, then=rest)


def _rest_side_by_side(
    stream: BigCommerceStream, first: Page, lower: dt.datetime, now: dt.datetime, seen: set[t.Any]
) -> t.Iterator[dict]:
    """The rest of a v3 window after its first page: [lower, now], `seen` already out.

    Pages by number over the seconds before `now`, side by side, then the current second
    by keyset. v3 says in every page how many records the window holds, so the totals
    prove that nothing moved (`SnapshotReader`). Serially if the quota leaves no room,
    or if only the current second is left.
    """
    reader = KeysetReader(stream.flavour, stream.fetch_page, stream.page_size)
    if stream.requests_in_flight < 2 or lower >= now:
        yield from reader.read(lower, now, seen)
        return
    snapshot = SnapshotReader(
        stream.flavour,
        reader,
        functools.partial(pages_side_by_side, stream),
        stream.requests_in_flight,
    )
    # About how many records are left (the first page's total counted the page too),
    # unless the page was one second, walked by id past the page: then page 1 will say.
    expected = None
    if first.total is not None and reader.modified_at(first.records[-1]) == lower:
        expected = first.total - len(first.records) + len(seen)
    # The current second is read by keyset, like a serial read: a record written in
    # it later is read by the next run, which starts at the bookmark, inclusive. So it
    # may as well be asked for now, alongside the pages, rather than after them.
    ahead = ThreadPoolExecutor(1, thread_name_prefix=f"{stream.name}-current")
    asked = in_context(
        ahead, stream.fetch_page, stream.flavour.window_params(now, now, stream.page_size)
    )
    try:
        # The snapshot needs a window no record can still enter: the seconds before now.
        yield from snapshot.read(lower, now - ONE_SECOND, expected, seen)
        replay = Replay(asked.result(), stream.fetch_page)
        yield from KeysetReader(stream.flavour, replay, stream.page_size).read(now, now)
    finally:
        ahead.shutdown(wait=False, cancel_futures=True)
    if snapshot.restarts:
        stream.logger.info(
            "%s: the store changed while read; %d passes restarted",
            stream.name,
            snapshot.restarts,
        )


def pages_side_by_side(
    stream: BigCommerceStream, fetch: t.Callable[[int], Page], numbers: t.Iterable[int]
) -> t.Generator[Page, None, None]:
    """`fetch(n)` for each page number, up to `requests_in_flight` at once, in order.

    Half as many again are queued behind those, so requests keep going while the reader
    is busy elsewhere (a second read by id between two pages); memory stays bounded.
    """
    return stream.side_by_side(fetch, numbers, ahead=stream.requests_in_flight * 3 // 2)
