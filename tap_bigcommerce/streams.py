"""The streams: a few declarative lines each on top of one base class."""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import json
import math
import time
import typing as t
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from importlib import resources
from pathlib import Path

import msgspec
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage

from tap_bigcommerce.errors import BigCommerceError
from tap_bigcommerce.overlap import side_by_side
from tap_bigcommerce.pagination import (
    ONE_SECOND,
    CustomersFlavour,
    Flavour,
    KeysetReader,
    OrdersFlavour,
    Page,
    Params,
    ProductsFlavour,
    SnapshotReader,
    modified_at,
    split_window,
)
from tap_bigcommerce.subresources import (
    customer_addresses_capped,
    customer_rows,
    order_rows,
    product_rows,
)
from tap_bigcommerce.transform import PassThrough, RawRecord, compile_record_converter

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_bigcommerce.client import BigCommerceClient

#: A progress line on a long sync every so many seconds, or pages' worth of records.
PROGRESS_EVERY_S = 5.0
PROGRESS_EVERY_PAGES = 20
#: Child rows are handed to their streams in batches of about this many (and at the end),
#: always before the parent record that completes the batch, so STATE never runs ahead.
CHILD_BATCH_ROWS = 1000
#: Reading v2 side by side, each part of the window spans this many pages at most. A part
#: that turns out larger (a bulk import sharing one second) is handed over at that size and
#: its rest streamed, so memory never holds a whole plateau.
MAX_PAGES_PER_PART = 2
#: Parts wait in memory for their turn, and an order with its line items takes about 28 kB
#: once decoded: no more parts are read at once than this many records fill, in parts of
#: two pages (two parts; with the part being written and parts running over their size, up
#: to about twice as many records are held. Measured: 122 MB at peak for the whole tap
#: reading 20k orders, against 148 MB with three parts).
V2_HELD_RECORDS = 1000
#: v2 windows are cut into parts only when they hold at least this many pages per part
#: read at once; a smaller one is read faster by one reader than planned and read in parts.
SPLIT_MIN_PAGES = 4

Window = tuple[dt.datetime | None, dt.datetime]
_In = t.TypeVar("_In")
_Out = t.TypeVar("_Out")


def schema_dir() -> Path:
    """`schemas/` inside an installed wheel, or at the top of a source checkout."""
    packaged = resources.files("tap_bigcommerce") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas"


def load_schema(name: str) -> dict:
    """The JSON Schema of stream `name`."""
    return json.loads((schema_dir() / f"{name}.json").read_text(encoding="utf-8"))


class LeanRecordsMixin(Stream):
    """The per-record path of every stream: the tap's own conversion, then the message.

    `transform.py` gives every field the schema's type and drops unknown ones, so the SDK's
    recursive conformance pass (half the run time) is off. And with every field selected
    (the usual case) the SDK's walk for deselected fields removes nothing, yet costs a third
    of the rest: it is skipped then; with any field deselected the SDK's own path runs.
    A v3 record that needs no conversion at all arrives as a `RawRecord` and is written as
    the API sent it, never decoded in full.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: "v2" or "v3": which API flavour the records come from (v2 sends money as text).
    flavour_version: t.ClassVar[str]
    _unknown_seen: frozenset[str] = frozenset()

    @cached_property
    def _convert(self) -> t.Callable[[t.Any], t.Any]:
        return compile_record_converter(
            self.schema, self._note_unknown, money_as_text=self.flavour_version == "v2"
        )

    def _note_unknown(self, names: set[str]) -> None:
        new = names - self._unknown_seen
        if new:
            self._unknown_seen |= new
            self.logger.warning(
                "%s: fields not in the schema were dropped: %s", self.name, sorted(new)
            )

    @cached_property
    def _everything_selected(self) -> bool:
        return all(self.mask.values())

    @cached_property
    def _default_maps(self) -> bool:
        """No stream map or flattening changes this stream's records."""
        return all(
            type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
            for stream_map in self.stream_maps
        )

    def _generate_record_messages(self, record: dict) -> t.Generator[RecordMessage, None, None]:
        if not self._everything_selected:
            yield from super()._generate_record_messages(record)
            return
        extracted = dt.datetime.now(tz=dt.timezone.utc)
        if type(record) is RawRecord:
            # Only ever read with every field selected and the default maps: written as is.
            for stream_map in self.stream_maps:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=t.cast("dict", record.raw),
                    version=self._stream_version,
                    time_extracted=extracted,
                )
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )


class BigCommerceStream(LeanRecordsMixin):
    """A top-level list endpoint read by keyset paging on `date_modified`.

    Sub-resources arrive inside each record (through `include`); they are handed to the
    child streams in batches, before the parent record that closes the batch is written.
    """

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "date_modified"
    # Records come out in date_modified order, so STATE can be written mid-stream and a
    # rerun after a crash resumes from it.
    is_sorted = True
    # STATE every 1,000 records (the SDK's default is 10,000), so a crash re-reads little.
    STATE_MSG_FREQUENCY = 1000
    #: How many records the API says this run's window holds (for progress lines).
    _expected: int | None = None
    _feeds_children = False
    _prepared = 0
    _sent_as_is = 0
    #: Set while a run may write records as the API sent them (see `_may_pass_through`).
    _passing: PassThrough | None = None

    def __init__(self, tap: t.Any) -> None:
        """Load the stream's schema from `schemas/`."""
        super().__init__(tap, schema=load_schema(self.name))
        self._pending: defaultdict[str, list[dict]] = defaultdict(list)
        self._hand_over = False
        self._batch: dict[str, list[dict]] = {}
        self._batch_number = 0

    def make_flavour(self) -> Flavour:
        """The API spelling of this stream's endpoint."""
        raise NotImplementedError

    @cached_property
    def flavour(self) -> Flavour:
        """The API spelling, built once."""
        return self.make_flavour()

    @property
    def client(self) -> BigCommerceClient:
        """The tap's one HTTP client for this store."""
        return t.cast("BigCommerceClient", getattr(self._tap, "client"))  # noqa: B009

    @property
    def page_size(self) -> int:
        """Records per request."""
        return int(self.config.get("page_size", 250))

    def server_second(self) -> dt.datetime:
        """The newest `date_modified` this run reads: the store's current second.

        Records changed later are left for the next run, which starts at the bookmark
        (inclusive), so a record written in that same second is read then. The store's
        clock (the `Date` header, which never runs ahead of it) is used rather than ours.
        """
        now = self.client.server_now() or time.time()
        return dt.datetime.fromtimestamp(int(now), tz=dt.timezone.utc)

    def _new_pass_through(self) -> PassThrough:
        # What paging reads (`id`, `date_modified`) and what the SDK reads, which a catalog
        # may set otherwise (key properties, replication key).
        wanted = ("id", "date_modified", *(self.primary_keys or ()), self.replication_key)
        known = self.schema.get("properties") or {}
        keys = tuple(key for key in dict.fromkeys(wanted) if key and key in known)
        return PassThrough(self.schema, keys, self.name)

    def _may_pass_through(self) -> bool:
        """Whether records can be written as the API sent them, when they already match.

        Not when anything else needs the whole record: child streams, deselected fields,
        stream maps or flattening, or batch files.
        """
        return (
            self.flavour.page_decoder is not None
            and self._everything_selected
            and self._default_maps
            and not self.has_selected_descendents
            and self.get_batch_config(self.config) is None
        )

    def fetch_page(self, params: Params, flavour: Flavour | None = None) -> Page:
        """One request through the client, unpacked by the flavour."""
        flavour = flavour or self.flavour
        passing = self._passing if flavour.page_decoder is not None else None
        if passing is not None and not passing.worth_trying:
            passing = None
        document = self.client.get(
            flavour.version,
            flavour.path,
            params,
            resource=self.name,
            decoder=flavour.page_decoder if passing is not None else None,
        )
        page = flavour.unpack(document, int(params.get("limit", self.page_size)))
        if passing is not None:
            page.records = [
                passing.read(r) if isinstance(r, msgspec.Raw) else r for r in page.records
            ]
        # The widest count seen is the window's (others count a part, a second or the rest).
        if page.total is not None and page.total > (self._expected or 0):
            self._expected = page.total
        return page

    def readers(self) -> list[KeysetReader]:
        """The listings whose records this stream emits (orders add archived ones)."""
        return [KeysetReader(self.flavour, self.fetch_page, self.page_size)]

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read every record modified since the bookmark (or `start_date`), oldest first."""
        lower = self.get_starting_timestamp(context)
        self._expected = None
        self._passing = self._new_pass_through() if self._may_pass_through() else None
        readers = self.readers()
        upper: t.Any = self.server_second  # learnt from the first response
        if len(readers) == 1 and self.requests_in_flight > 1:
            records: t.Iterator[dict] = self._stopping_others(
                self._read_side_by_side(readers[0], lower)
            )
        elif len(readers) == 1:
            records = readers[0].read(lower, upper)
        else:
            upper = self._first_bound(readers[0])
            records = heapq.merge(
                *(reader.read(lower, upper) for reader in readers),
                key=readers[0].modified_at,
            )
        self._feeds_children = self.has_selected_descendents
        self._prepared = self._sent_as_is = 0
        emitted, last_report = 0, time.monotonic()
        report_every = PROGRESS_EVERY_PAGES * self.page_size
        previous = None
        # One record of look-ahead tells which record is the last, so the final batch of
        # child rows is handed over before it.
        for record in records:
            if previous is not None:
                yield self._prepare(previous, last=False)
                emitted += 1
            previous = record
            due = emitted and emitted % report_every == 0
            if due or time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                self._log_progress(emitted)
        if previous is not None:
            yield self._prepare(previous, last=True)
            emitted += 1
        self.logger.info("%s: %s records read", self.name, f"{emitted:,}")
        self.logger.debug(
            "%s: %s of them needed no conversion and were written as the API sent them",
            self.name,
            f"{self._sent_as_is:,}",
        )

    def _stopping_others(self, records: t.Iterator[dict]) -> t.Iterator[dict]:
        """`records`, except that an error stops requests still under way before it is raised.

        (An error in a worker does so itself; this covers the reader's side: a bad page, a
        second read by id.) Otherwise they would go on retrying while the run ends.
        """
        try:
            yield from records
        except Exception:
            self.client.cancel()
            raise

    @property
    def requests_in_flight(self) -> int:
        """How many requests may be under way at once, across all threads.

        The setting, or fewer once the store's quota is known and leaves less room; the
        pacer holds every request to the same number.
        """
        return self.client.pacer.slots()

    def _read_side_by_side(
        self, reader: KeysetReader, lower: dt.datetime | None
    ) -> t.Iterator[dict]:
        """Read a window with up to `requests_in_flight` requests under way at once.

        v3 (products, customers): the first page as a serial read has it, then pages by
        number over the seconds before the run, proven by their totals (`SnapshotReader`),
        and the current second by keyset. v2 (orders): the window is cut into parts, each
        read by keyset like a whole window, and parts are yielded in order. Either way
        records come oldest first and the bookmark stays true. A window that fits in one
        page (an hourly run's changes) costs one request, as when read serially.
        """
        if self.flavour.version == "v3":
            # The first page tells the store's clock, its quota and how many records there
            # are; the plan for the rest waits for it.
            yield from reader.read(lower, self.server_second, then=self._rest_side_by_side)
            return
        first = self.fetch_page(self.flavour.window_params(lower, None, self.page_size))
        upper = self.server_second()
        # Decided only now: the first answer told the quota, which may leave room for one.
        alone = first.is_last or self.parts_at_once < 2
        windows = [(lower, upper)] if alone else self._plan(lower, upper, first)
        if len(windows) == 1:
            replay = _Replay(first, self.fetch_page)
            yield from KeysetReader(self.flavour, replay, self.page_size).read(lower, lambda: upper)
            return
        cap = (MAX_PAGES_PER_PART + 1) * self.page_size  # parts vary around their size

        def read_part(window: Window) -> tuple[list[dict], Window, bool]:
            records = []
            for record in reader.read(*window):
                records.append(record)
                if len(records) >= cap:
                    return records, window, False  # a bulk import: the rest is streamed
            return records, window, True

        parts = self.side_by_side(read_part, windows, workers=self.parts_at_once)
        for records, window, whole in parts:
            yield from records
            if not whole:
                # Read the rest of this part here, one page at a time, from where the worker
                # stopped, so memory stays bounded however many records share one second.
                last = reader.modified_at(records[-1])
                seen = {r["id"] for r in records if reader.modified_at(r) == last}
                yield from reader.read(last, window[1], seen)

    def _rest_side_by_side(
        self, first: Page, lower: dt.datetime, now: dt.datetime, seen: set[t.Any]
    ) -> t.Iterator[dict]:
        """The rest of a v3 window after its first page: [lower, now], `seen` already out.

        Pages by number over the seconds before `now`, side by side, then the current second
        by keyset. v3 says in every page how many records the window holds, so the totals
        prove that nothing moved (`SnapshotReader`). Serially if the quota leaves no room,
        or if only the current second is left.
        """
        reader = KeysetReader(self.flavour, self.fetch_page, self.page_size)
        if self.requests_in_flight < 2 or lower >= now:
            yield from reader.read(lower, now, seen)
            return
        snapshot = SnapshotReader(
            self.flavour, reader, self.pages_side_by_side, self.requests_in_flight
        )
        # About how many records are left (the first page's total counted the page too),
        # unless the page was one second, walked by id past the page: then page 1 will say.
        expected = None
        if first.total is not None and reader.modified_at(first.records[-1]) == lower:
            expected = first.total - len(first.records) + len(seen)
        # The current second is read by keyset, like a serial read: a record written in
        # it later is read by the next run, which starts at the bookmark, inclusive. So it
        # may as well be asked for now, alongside the pages, rather than after them.
        ahead = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-current")
        asked = ahead.submit(self.fetch_page, self.flavour.window_params(now, now, self.page_size))
        try:
            # The snapshot needs a window no record can still enter: the seconds before now.
            yield from snapshot.read(lower, now - ONE_SECOND, expected, seen)
            replay = _Replay(asked.result(), self.fetch_page)
            yield from KeysetReader(self.flavour, replay, self.page_size).read(now, now)
        finally:
            ahead.shutdown(wait=False, cancel_futures=True)
        if snapshot.restarts:
            self.logger.info(
                "%s: the store changed while read; %d passes restarted",
                self.name,
                snapshot.restarts,
            )

    def pages_side_by_side(
        self, fetch: t.Callable[[int], Page], numbers: t.Iterable[int]
    ) -> t.Generator[Page, None, None]:
        """`fetch(n)` for each page number, up to `requests_in_flight` at once, in order.

        Half as many again are queued behind those, so requests keep going while the reader
        is busy elsewhere (a second read by id between two pages); memory stays bounded.
        """
        return self.side_by_side(fetch, numbers, ahead=self.requests_in_flight * 3 // 2)

    @property
    def parts_at_once(self) -> int:
        """v2 parts read side by side: as many as requests in flight, within `V2_HELD_RECORDS`."""
        per_part = MAX_PAGES_PER_PART * self.page_size
        return max(1, min(self.requests_in_flight, V2_HELD_RECORDS // per_part))

    def side_by_side(
        self,
        work: t.Callable[[_In], _Out],
        items: t.Iterable[_In],
        ahead: int | None = None,
        workers: int | None = None,
    ) -> t.Generator[_Out, None, None]:
        """`work(item)` for each item, `workers` (default: `requests_in_flight`) at once.

        Results come in order; see `overlap.side_by_side`. A failure stops the retries of
        requests still under way.
        """
        return side_by_side(
            work,
            items,
            workers=workers or self.requests_in_flight,
            ahead=ahead,
            on_failure=self.client.cancel,
            name=self.name,
        )

    def _plan(self, lower: dt.datetime | None, upper: dt.datetime, first: Page) -> list[Window]:
        """Where to cut [lower, upper]: at every n-th record, found by tiny probe requests."""
        whole = [(lower, upper)]
        try:
            total = self.window_total(lower, upper, first) or 0
        except BigCommerceError as exc:  # only a hint for the plan: read the window as one
            self.logger.warning(
                "%s: could not count the window (%s); reading it as one", self.name, exc
            )
            return whole
        pages = math.ceil(total / self.page_size)
        if pages < SPLIT_MIN_PAGES * self.parts_at_once:
            return whole
        per_part = min(MAX_PAGES_PER_PART, math.ceil(pages / (4 * self.parts_at_once)))
        # A little under whole pages: a part's last page then comes back short, which says it
        # is the last, instead of a full one that needs another request to find the end.
        step = max(per_part * self.page_size - self.page_size // 10, 1)
        with ThreadPoolExecutor(self.requests_in_flight) as pool:
            cuts = pool.map(lambda rank: self._probe(lower, upper, rank), range(step, total, step))
            return split_window(lower, upper, [c for c in cuts if c is not None])

    def _probe(
        self, lower: dt.datetime | None, upper: dt.datetime, rank: int
    ) -> dt.datetime | None:
        page = self.fetch_page(self.flavour.probe_params(lower, upper, rank))
        if not page.records:
            return None
        return modified_at(page.records[0], self.name)

    def window_total(
        self, lower: dt.datetime | None, upper: dt.datetime, first: Page
    ) -> int | None:
        """How many records [lower, upper] holds; v3 says so in every response."""
        return first.total

    def _first_bound(self, reader: KeysetReader) -> dt.datetime:
        if self.client.server_now() is None:
            reader.fetch(self.flavour.window_params(None, None, 1))
        return self.server_second()

    def _prepare(self, record: dict, *, last: bool) -> dict:
        if type(record) is RawRecord:
            self._sent_as_is += 1
            return record  # already what the schema promises; no children read from it
        converted = t.cast("dict", self._convert(record))
        self._prepared += 1
        if self._feeds_children:
            # Children follow their parent through stream-map filters, as in the SDK.
            if self.stream_maps[0].get_filter_result(converted):
                for name, rows in self.child_rows(converted).items():
                    self._pending[name].extend(rows)
            waiting = sum(len(rows) for rows in self._pending.values())
            # The SDK writes STATE after every STATE_MSG_FREQUENCY-th record: every child row
            # of the parents it covers must be out before it.
            at_state = self._prepared % self.STATE_MSG_FREQUENCY == 0
            self._hand_over = last or at_state or waiting >= CHILD_BATCH_ROWS
        return converted

    def child_rows(self, record: dict) -> dict[str, list[dict]]:
        """Rows of the child streams carried by one raw record."""
        return {}

    def every_page(self, path: str, params: Params) -> t.Iterator[dict]:
        """Every record of a small per-parent listing (line items, addresses), by page number.

        These listings have no dates to key on; they belong to parents read a moment ago and
        are read at once, so page numbers are safe here.
        """
        page = 1
        while True:
            query = {**params, "page": page, "limit": self.page_size}
            document = self.client.get(
                self.flavour.version, path, query, resource=self.name, missing_ok=True
            )
            if document is None:  # 204 past the end, or 404: the parent is gone
                return
            unpacked = self.flavour.unpack(document, self.page_size)
            yield from unpacked.records
            if unpacked.is_last:
                return
            page += 1

    def complete_children(self, pending: dict[str, list[dict]]) -> None:
        """Fetch what an include left out, for a whole batch at once."""

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """Sync the child streams here, a batch at a time, instead of once per record.

        The SDK would sync children per parent record, and skip them when a stream map
        filters that one record out; a batch holds the rows of many parents, so it is synced
        here whatever happens to the record that closes it. Nothing is left for the SDK.
        """
        if self._hand_over and self._pending:
            pending, self._pending = self._pending, defaultdict(list)
            self._hand_over = False
            self.complete_children(pending)
            self._batch_number += 1
            self._batch = dict(pending)
            for child in self.child_streams:
                if child.selected or child.has_selected_descendents:
                    # The context stays small: the SDK logs it with every metric.
                    child.sync(context={"batch": self._batch_number})
            self._batch = {}
        return ()

    def take_child_rows(self, child: str) -> list[dict]:
        """The rows of `child` in the batch being handed over."""
        return self._batch.get(child, [])

    def _log_progress(self, emitted: int) -> None:
        total = self.expected_total()
        of = f" of {total:,}" if total is not None else ""
        self.logger.info("%s: %s records so far%s", self.name, f"{emitted:,}", of)

    def expected_total(self) -> int | None:
        """How many records the API says this run will read, if it said."""
        return self._expected


class ChildStream(LeanRecordsMixin):
    """Rows that come inside their parent's records; they share the parent's bookmark."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    # No state of their own: a changed parent brings its current children along.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, tap: t.Any) -> None:
        """Load the stream's schema from `schemas/`."""
        super().__init__(tap, schema=load_schema(self.name))

    @property
    def flavour_version(self) -> str:  # type: ignore[override]
        """The parent's API flavour: children come inside its responses."""
        return t.cast("type[BigCommerceStream]", self.parent_stream_type).flavour_version

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The rows the parent handed over."""
        parent = next(s for s in self._tap.streams.values() if type(s) is self.parent_stream_type)
        for row in t.cast("BigCommerceStream", parent).take_child_rows(self.name):
            yield self._convert(row)


class ProductsStream(BigCommerceStream):
    """Catalog products, `/v3/catalog/products`."""

    name = "products"
    flavour_version = "v3"

    def make_flavour(self) -> Flavour:
        """Products are v3; `options`/`modifiers` are left out (they cut pages to 10)."""
        return ProductsFlavour(
            include="variants,images,custom_fields,primary_image,bulk_pricing_rules,channels"
        )

    def child_rows(self, record: dict) -> dict[str, list[dict]]:
        """Variants, images and custom fields."""
        return product_rows(record)


class CustomersStream(BigCommerceStream):
    """Customers, `/v3/customers`."""

    name = "customers"
    flavour_version = "v3"

    def make_flavour(self) -> Flavour:
        """Customers are v3."""
        return CustomersFlavour(include="addresses,storecredit,attributes,formfields")

    def child_rows(self, record: dict) -> dict[str, list[dict]]:
        """Addresses; customers with more than the include's 10 are completed later."""
        rows = customer_rows(record)
        if customer_addresses_capped(record):
            rows["_capped_customers"] = [{"id": record["id"]}]
        return rows

    def complete_children(self, pending: dict[str, list[dict]]) -> None:
        """Read all addresses of the capped customers with one `customer_id:in` listing."""
        capped = {row["id"] for row in pending.pop("_capped_customers", [])}
        if not capped:
            return
        addresses = [
            a for a in pending.get("customer_addresses", []) if a.get("customer_id") not in capped
        ]
        wanted = {"customer_id:in": ",".join(map(str, sorted(capped)))}
        addresses.extend(self.every_page("customers/addresses", wanted))
        pending["customer_addresses"] = addresses


class OrdersStream(BigCommerceStream):
    """Orders, `/v2/orders`: BigCommerce has no v3 endpoint that lists orders."""

    name = "orders"
    flavour_version = "v2"
    _counted = False  # whether progress has asked /v2/orders/count (once is enough)

    def make_flavour(self) -> Flavour:
        """Orders are v2; line items and shipping addresses come inside each order."""
        return OrdersFlavour(include="consignments.line_items,fees")

    def readers(self) -> list[KeysetReader]:
        """Live orders, and archived ones when `include_archived_orders` is set."""
        readers = super().readers()
        if self.config.get("include_archived_orders"):
            archived = OrdersFlavour(
                include="consignments.line_items,fees", extra={"is_deleted": "true"}
            )
            readers.append(
                KeysetReader(archived, lambda p: self.fetch_page(p, archived), self.page_size)
            )
        return readers

    def child_rows(self, record: dict) -> dict[str, list[dict]]:
        """Line items and shipping addresses; all line items when the include cut them off."""
        rows, capped = order_rows(record)
        if capped:
            rows["order_products"] = list(self.every_page(f"orders/{record['id']}/products", {}))
        return rows

    def window_total(
        self, lower: dt.datetime | None, upper: dt.datetime, first: Page
    ) -> int | None:
        """v2 lists carry no total: `/v2/orders/count` takes the same filters."""
        self._expected = self._count(lower, upper)
        return self._expected

    def expected_total(self) -> int | None:
        """Asked of `/v2/orders/count` once, and only when a sync runs long enough to say."""
        if self._expected is None and not self._counted:
            self._counted = True
            # Without an answer, progress lines go without a total.
            with contextlib.suppress(BigCommerceError):
                self._expected = self._count(self.get_starting_timestamp(None), None)
        return self._expected

    def _count(self, lower: dt.datetime | None, upper: dt.datetime | None) -> int | None:
        flavour = t.cast("OrdersFlavour", self.flavour)
        answer = self.client.get(
            "v2", "orders/count", flavour.count_params(lower, upper), resource=self.name
        )
        count = answer.get("count") if isinstance(answer, dict) else None
        return int(count) if isinstance(count, (int, float)) else None


class ProductVariantsStream(ChildStream):
    """Variants of each product (`include=variants`)."""

    name = "product_variants"
    parent_stream_type = ProductsStream


class ProductImagesStream(ChildStream):
    """Images of each product (`include=images`)."""

    name = "product_images"
    parent_stream_type = ProductsStream


class ProductCustomFieldsStream(ChildStream):
    """Custom fields of each product (`include=custom_fields`), with `product_id` added."""

    name = "product_custom_fields"
    parent_stream_type = ProductsStream


class CustomerAddressesStream(ChildStream):
    """Addresses of each customer (`include=addresses`, completed past the cap of 10)."""

    name = "customer_addresses"
    parent_stream_type = CustomersStream


class OrderProductsStream(ChildStream):
    """Line items of each order (`include=consignments.line_items`, completed past the cap)."""

    name = "order_products"
    parent_stream_type = OrdersStream


class OrderShippingAddressesStream(ChildStream):
    """Shipping addresses of each order (its shipping consignments)."""

    name = "order_shipping_addresses"
    parent_stream_type = OrdersStream


STREAM_TYPES: list[type[Stream]] = [
    ProductsStream,
    ProductVariantsStream,
    ProductImagesStream,
    ProductCustomFieldsStream,
    CustomersStream,
    CustomerAddressesStream,
    OrdersStream,
    OrderProductsStream,
    OrderShippingAddressesStream,
]


class _Replay:
    """A fetch that answers its first call with a page already fetched."""

    def __init__(self, first: Page, fetch: t.Callable[[Params], Page]) -> None:
        self.first: Page | None = first
        self.fetch = fetch

    def __call__(self, params: Params) -> Page:
        page, self.first = self.first, None
        return page if page is not None else self.fetch(params)
