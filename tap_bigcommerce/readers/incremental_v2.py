"""A v2 window read side by side: cut into parts planned by probes, each read by keyset.

v2 lists carry no total, so the window's size comes from its count endpoint (declared,
e.g. `orders/count`), and tiny probe requests find where to cut it. Parts are read side
by side and yielded in order, so records still come oldest first.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_bigcommerce.errors import BigCommerceError
from tap_bigcommerce.overlap import in_context
from tap_bigcommerce.pagination import KeysetReader, Page, Replay, modified_at, split_window

if t.TYPE_CHECKING:
    from tap_bigcommerce.replication import Incremental
    from tap_bigcommerce.stream_base import BigCommerceStream

#: Each part of the window spans this many pages at most. A part that turns out larger (a
#: bulk import sharing one second) is handed over at that size and its rest streamed, so
#: memory never holds a whole plateau.
MAX_PAGES_PER_PART = 2
#: Parts wait in memory for their turn, and an order with its line items takes about 28 kB
#: once decoded: no more parts are read at once than this many records fill, in parts of
#: two pages (two parts; with the part being written and parts running over their size, up
#: to about twice as many records are held. Measured: 122 MB at peak for the whole tap
#: reading 20k orders, against 148 MB with three parts).
V2_HELD_RECORDS = 1000
#: Windows are cut into parts only when they hold at least this many pages per part read
#: at once; a smaller one is read faster by one reader than planned and read in parts.
SPLIT_MIN_PAGES = 4

Window = tuple[dt.datetime | None, dt.datetime]


def read_side_by_side(
    stream: BigCommerceStream, reader: KeysetReader, lower: dt.datetime | None
) -> t.Iterator[dict]:
    """Read a window in parts, each read by keyset like a whole window, parts in order.

    A window that fits in one page (an hourly run's changes) costs one request, as when
    read serially.
    """
    first = stream.fetch_page(stream.flavour.window_params(lower, None, stream.page_size))
    upper = stream.server_second()
    # Decided only now: the first answer told the quota, which may leave room for one.
    alone = first.is_last or parts_at_once(stream) < 2
    windows = [(lower, upper)] if alone else _plan(stream, lower, upper, first)
    if len(windows) == 1:
        replay = Replay(first, stream.fetch_page)
        yield from KeysetReader(stream.flavour, replay, stream.page_size).read(lower, lambda: upper)
        return
    cap = (MAX_PAGES_PER_PART + 1) * stream.page_size  # parts vary around their size

    def read_part(window: Window) -> tuple[list[dict], Window, bool]:
        records = []
        for record in reader.read(*window):
            records.append(record)
            if len(records) >= cap:
                return records, window, False  # a bulk import: the rest is streamed
        return records, window, True

    parts = stream.side_by_side(read_part, windows, workers=parts_at_once(stream))
    for records, window, whole in parts:
        yield from records
        if not whole:
            # Read the rest of this part here, one page at a time, from where the worker
            # stopped, so memory stays bounded however many records share one second.
            last = reader.modified_at(records[-1])
            seen = {r["id"] for r in records if reader.modified_at(r) == last}
            yield from reader.read(last, window[1], seen)


def parts_at_once(stream: BigCommerceStream) -> int:
    """Parts read side by side: as many as requests in flight, within `V2_HELD_RECORDS`."""
    per_part = MAX_PAGES_PER_PART * stream.page_size
    return max(1, min(stream.requests_in_flight, V2_HELD_RECORDS // per_part))


def count_records(
    stream: BigCommerceStream, lower: dt.datetime | None, upper: dt.datetime | None
) -> int | None:
    """How many records [lower, upper] holds, asked of the declared count endpoint."""
    path = _count_endpoint(stream)
    if path is None:
        return None
    answer = stream.client.get(
        stream.flavour.version,
        path,
        stream.flavour.count_params(lower, upper),
        resource=stream.name,
    )
    count = answer.get("count") if isinstance(answer, dict) else None
    return int(count) if isinstance(count, (int, float)) else None


def _plan(
    stream: BigCommerceStream, lower: dt.datetime | None, upper: dt.datetime, first: Page
) -> list[Window]:
    """Where to cut [lower, upper]: at every n-th record, found by tiny probe requests."""
    whole = [(lower, upper)]
    try:
        total = _window_total(stream, lower, upper, first) or 0
    except BigCommerceError as exc:  # only a hint for the plan: read the window as one
        stream.logger.warning(
            "%s: could not count the window (%s); reading it as one", stream.name, exc
        )
        return whole
    at_once = parts_at_once(stream)
    pages = math.ceil(total / stream.page_size)
    if pages < SPLIT_MIN_PAGES * at_once:
        return whole
    per_part = min(MAX_PAGES_PER_PART, math.ceil(pages / (4 * at_once)))
    # A little under whole pages: a part's last page then comes back short, which says it
    # is the last, instead of a full one that needs another request to find the end.
    step = max(per_part * stream.page_size - stream.page_size // 10, 1)
    with ThreadPoolExecutor(stream.requests_in_flight, f"{stream.name}-probe") as pool:
        probes = [
            in_context(pool, functools.partial(_probe, stream, lower, upper), rank)
            for rank in range(step, total, step)
        ]
        cuts = [probe.result() for probe in probes]
        return split_window(lower, upper, [c for c in cuts if c is not None])


def _window_total(
    stream: BigCommerceStream, lower: dt.datetime | None, upper: dt.datetime, first: Page
) -> int | None:
    """The window's size: from the count endpoint if declared (it also sets progress)."""
    if _count_endpoint(stream) is None:
        return first.total
    stream.progress.expected = count_records(stream, lower, upper)
    return stream.progress.expected


def _count_endpoint(stream: BigCommerceStream) -> str | None:
    # Only streams declared `Incremental` are read in parts.
    return t.cast("Incremental", stream.replication).count


def _probe(
    stream: BigCommerceStream, lower: dt.datetime | None, upper: dt.datetime, rank: int
) -> dt.datetime | None:
    page = stream.fetch_page(stream.flavour.probe_params(lower, upper, rank))
    if not page.records:
        return None
    return modified_at(page.records[0], stream.name)
