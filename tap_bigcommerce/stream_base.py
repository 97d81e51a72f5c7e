"""The glue between a stream's declaration and the SDK: it picks the reader and emits.

A top-level stream (`BigCommerceStream`) builds its API spelling from `flavour_type`,
`endpoint` and `includes`, reads through the reader its `replication` calls for
(`readers.reader_for`), converts each record, and hands child rows over in batches
(`readers.children`). A `ChildStream` writes the rows its parent handed over.
"""

from __future__ import annotations

import datetime as dt
import time
import typing as t
from functools import cached_property

import msgspec

from tap_bigcommerce.errors import ScopeError, StoreNotFoundError
from tap_bigcommerce.overlap import side_by_side
from tap_bigcommerce.readers import reader_for
from tap_bigcommerce.readers.children import ChildBatches
from tap_bigcommerce.readers.incremental_v2 import count_records
from tap_bigcommerce.readers.progress import Progress
from tap_bigcommerce.records import LeanRecordsMixin
from tap_bigcommerce.replication import (
    EachOf,
    EachRow,
    IncludedRows,
    Incremental,
    PerParent,
    ReadWhole,
    Replication,
)
from tap_bigcommerce.schema_files import load_schema
from tap_bigcommerce.transform import PassThrough, RawRecord

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_bigcommerce.client import BigCommerceClient
    from tap_bigcommerce.pagination import Flavour, Page, Params

_In = t.TypeVar("_In")
_Out = t.TypeVar("_Out")


class BigCommerceStream(LeanRecordsMixin):
    """A top-level list endpoint, read as its declaration says.

    A stream declares `name`, `endpoint`, `flavour_type` (the API spelling, from
    `pagination.py`), `replication`, and optionally `primary_keys`, `includes` and
    `child_rows` (its own walk of the includes, for child rows no one field holds).
    """

    #: The path under `/v2/` or `/v3/`, e.g. `catalog/products`.
    endpoint: t.ClassVar[str]
    #: The API spelling of the endpoint (`pagination.py`): envelope, filters, sort.
    flavour_type: t.ClassVar[type[Flavour]]
    #: How the stream is read (`replication.py`).
    replication: t.ClassVar[Replication]
    #: Sub-resources asked for with `include=`.
    includes: t.ClassVar[tuple[str, ...]] = ()
    #: A walk of the includes that yields child rows (where no single field holds them).
    child_rows: t.ClassVar[IncludedRows | None] = None
    #: The API account scope the endpoint needs, as the control panel names it.
    scope: t.ClassVar[str]
    #: A main stream fails the run without its scope; any other is skipped with a warning.
    strict_scope: t.ClassVar[bool] = False
    _scope_missing = False

    primary_keys: t.ClassVar[list[str]] = ["id"]
    # Records come out in date_modified order, so STATE can be written mid-stream and a
    # rerun after a crash resumes from it.
    is_sorted = True
    # STATE every 1,000 records (the SDK's default is 10,000), so a crash re-reads little.
    STATE_MSG_FREQUENCY = 1000
    _prepared = 0
    _sent_as_is = 0
    #: Set while a run may write records as the API sent them (see `_may_pass_through`).
    _passing: PassThrough | None = None

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        """The bookmark's field comes from the declaration (None for a stream read whole)."""
        super().__init_subclass__(**kwargs)
        replication = cls.__dict__.get("replication")
        if replication is None:
            return
        if isinstance(replication, Incremental):
            # The flavour filters on its `date_field`; keyset paging (a listing sorted by
            # date) reads date_modified only, a window sorted by the tap reads any field
            # (refunds' `created`, `V3CreatedWindow`).
            flavour = getattr(cls, "flavour_type", None)
            field = getattr(flavour, "date_field", "date_modified")
            keyset = getattr(flavour, "sorts_by_date", True)
            if replication.field != field or (keyset and field != "date_modified"):
                raise TypeError(
                    f"{cls.__name__}: read incrementally on {replication.field!r}, but its "
                    f"flavour filters on {field!r}"
                )
        # A plain class attribute, as the SDK reads and sets it.
        cls.replication_key = replication.replication_key  # type: ignore[assignment]

    def __init__(self, tap: t.Any) -> None:
        """Load the stream's schema from `schemas/`."""
        super().__init__(tap, schema=load_schema(self.name))
        self.child_batches = ChildBatches(self, self.child_rows)
        counted = isinstance(self.replication, Incremental) and self.replication.count
        self.progress = Progress(
            self.name, self.logger, self._count_since_bookmark if counted else None
        )

    def make_flavour(self, extra: Params | None = None) -> Flavour:
        """The API spelling of this stream's endpoint, with `extra` in every request."""
        return self.flavour_type(
            include=",".join(self.includes) or None,
            extra=extra,
            path=self.endpoint,
            resource=self.name,
        )

    @cached_property
    def flavour(self) -> Flavour:
        """The API spelling, built once."""
        return self.make_flavour()

    def flavour_for(self, context: Context | None) -> Flavour:
        """The spelling of the endpoint read for `context` (a price list's records)."""
        each = getattr(self.replication, "each", None)
        if each is None or not context:
            return self.flavour
        flavour = self.make_flavour()
        flavour.path = each.path_for(context)
        return flavour

    @property
    def partitions(self) -> list[dict] | None:
        """The store's context, one per row of the listing read for (`EachRow`, `EachOf`).

        Every bookmark sits in a state partition of its store (`{"store_hash": ...}`), so
        one store's bookmark never moves another's when many stores share the state. Rows
        are listed once per run, from the API, whether or not one changed: a row listed for
        the first time has no bookmark and is read from `start_date` (or whole). Without
        the scope, no partition and one warning.
        """
        store = {"store_hash": self.store_hash}
        each = getattr(self.replication, "each", None)
        if each is None:
            return [store]
        if isinstance(each, EachOf):
            return [{**store, **row} for row in each.contexts()]  # fixed: no request
        if self._each_rows is None:
            self._each_rows = self._list_each_rows(each.listing, each.key)
        return [{**store, **row} for row in self._each_rows]

    _each_rows: list[dict] | None = None
    #: The partition being read (its store, and its row for `EachRow` / `EachOf`).
    _context: Context | None = None

    def _list_each_rows(self, listing: str, key: str) -> list[dict]:
        flavour = self.flavour_type(path=listing, resource=self.name)
        ids: set[t.Any] = set()
        number = 1
        try:
            while True:
                page = self.fetch_page(flavour.whole_params(None, number, self.page_size), flavour)
                ids.update(record["id"] for record in page.records)
                if not page.records or number * self.page_size >= (page.total or 0):
                    break
                number += 1
        except ScopeError:
            self._warn_scope_missing()
            return []
        return [{key: rid} for rid in sorted(ids)]

    @classmethod
    def scopes(cls) -> tuple[str, ...]:
        """Every scope the stream's endpoints need: its own, or those of its partitions."""
        each = getattr(cls.replication, "each", None)
        return each.scopes if isinstance(each, EachOf) else (cls.scope,)

    @property
    def money_as_text(self) -> bool:
        """v2 sends money as text."""
        return self.flavour_type.money_as_text

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

    @property
    def requests_in_flight(self) -> int:
        """How many requests may be under way at once, across all threads.

        The setting, or fewer once the store's quota is known and leaves less room; the
        pacer holds every request to the same number.
        """
        return self.client.pacer.slots()

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
        self.progress.saw_total(page.total)
        return page

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

    def stopping_others(self, records: t.Iterator[dict]) -> t.Iterator[dict]:
        """`records`, except that an error stops requests still under way before it is raised.

        (An error in a worker does so itself; this covers the reader's side: a bad page, a
        second read by id.) Otherwise they would go on retrying while the run ends.
        """
        try:
            yield from records
        except Exception:
            self.client.cancel()
            raise

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read every record modified since the bookmark (or `start_date`), oldest first.

        A read that covers the whole table (`_reads_whole`) ends with ACTIVATE_VERSION for
        the stream and for each of its selected child streams, only once the last record and
        the last child row are out (never on a failed read), so a target marks just the rows
        that vanished. A stream whose scope the API account lacks is skipped with a warning,
        unless it is one of the main streams (`strict_scope`).
        """
        each = getattr(self.replication, "each", None)
        if each is not None and (not context or set(context) == {"store_hash"}):
            return  # no rows to read for (or the scope is missing: warned already)
        self._context = context
        lower = self.get_starting_timestamp(context)
        self.progress.reset()
        self._passing = self._new_pass_through() if self._may_pass_through() else None
        whole = self._reads_whole(context)
        # The records (and the child rows, which the children write in batches from one
        # stream object each) carry the version that the messages after the last one
        # activate; a partial read's carry none. It is the run's, shared by every store.
        version = getattr(self._tap, "run_version") if whole else None  # noqa: B009
        self._stream_version = version
        for child in self.child_streams:
            child._stream_version = version
        reader = reader_for(self, self.flavour_for(context))
        records = reader.read(lower)
        if each is not None and context:
            records = ({**record, **context} for record in records)
        if isinstance(each, EachRow) and context:  # a listed row (price list) may be gone
            records = self._unless_gone(records, context)
        if not self.strict_scope:
            scope = each.scope_for(context) if each is not None and context else None
            records = self._skipped_without_scope(records, scope, context)
        self.child_batches.start()
        self._prepared = self._sent_as_is = 0
        for record, last in self.progress.track(records, self.page_size):
            yield self._prepare(record, last=last)
        # Here the SDK has written the last record, and its children the last batch's rows.
        if version is not None and not self._scope_missing:
            if getattr(reader, "complete", True):
                self._write_activate_version_message(version)
                for child in self.child_streams:
                    # A child refused its scope read nothing: its rows are not gone.
                    if child.selected and child.name not in self.child_batches.refused:
                        child._write_activate_version_message(version)
            else:  # the store kept changing: rows it skipped must not be marked deleted
                self.logger.warning(
                    "%s: the store kept changing while read; deletions are not reconciled "
                    "on this run",
                    self.name,
                )
        if each is not None:
            # The partition is done (its last record is out and in the state): say so now,
            # so that a later partition that fails does not lose this one's bookmark. (The
            # SDK finalizes it next, as here: the start marker goes.)
            self._finalize_state(self.get_context_state(context))
            self._write_state_message()
        self.logger.debug(
            "%s: %s of them needed no conversion and were written as the API sent them",
            self.name,
            f"{self._sent_as_is:,}",
        )

    def _unless_gone(self, records: t.Iterator[dict], context: Context) -> t.Iterator[dict]:
        """`records` of one listed row (a price list), or none if it was deleted (404)."""
        try:
            yield from records
        except StoreNotFoundError:
            # The listing of this store answered a moment ago: the row, not the store, is gone.
            self.logger.info("%s: %s is gone (HTTP 404); nothing to read", self.name, context)

    def _reads_whole(self, context: Context | None) -> bool:
        """Whether this run reads the whole table, so that it may activate a new version.

        Every run of a stream read whole does; an incremental stream's run does when it has
        no bookmark and no `start_date` (`meltano run --full-refresh`, without start_date).
        With `start_date` and no bookmark, one line per run says deletions are not reconciled.
        """
        if isinstance(self.replication, ReadWhole):
            return True
        if not isinstance(self.replication, Incremental) or self.replication.each:
            # One table, many bookmarks (a price list's records): a partition read from
            # scratch is not the whole table, and an activation would mark the others' rows.
            return False
        if self.get_context_state(context).get("replication_key_value") is not None:
            return False  # from a bookmark: only what changed since
        if not self.config.get("start_date"):
            return True
        tap = self._tap
        if not getattr(tap, "_said_start_date_hides_deletions", False):
            tap._said_start_date_hides_deletions = True  # type: ignore[attr-defined]
            self.logger.info(
                "start_date is set, so this run does not see the whole table: deletions are "
                "not reconciled (run without start_date and without state, such as `meltano "
                "run --full-refresh` with start_date unset, to mark deleted rows)"
            )
        return False

    def _skipped_without_scope(
        self,
        records: t.Iterator[dict],
        scope: str | None = None,
        context: Context | None = None,
    ) -> t.Iterator[dict]:
        """`records`, or none and one warning when the first request is refused (403).

        `scope`: what this partition's endpoint needs, where that is not the stream's own
        (metafields of channels); only that partition is skipped.
        """
        self._scope_missing = False
        try:
            first = next(records, None)
        except ScopeError:
            if scope is None:
                self._warn_scope_missing()
            else:
                self._scope_missing = True
                self.logger.warning(
                    "%s: skipped for %s, the API account lacks the '%s' scope (HTTP 403); "
                    "grant it read-only to read them, or deselect the stream",
                    self.name,
                    ", ".join(
                        f"{k} '{v}'" for k, v in (context or {}).items() if k != "store_hash"
                    ),
                    scope,
                )
            return
        if first is not None:
            yield first
            yield from records

    def _warn_scope_missing(self) -> None:
        self._scope_missing = True
        self.logger.warning(
            "%s: skipped, the API account lacks the '%s' scope (HTTP 403); grant it "
            "read-only to read this stream, or deselect it",
            self.name,
            self.scope,
        )

    def _prepare(self, record: dict, *, last: bool) -> dict:
        if type(record) is RawRecord:
            self._sent_as_is += 1
            # Already what the schema promises; no children read from it.
            return self.add_store_hash(record)
        converted = self.add_store_hash(t.cast("dict", self._convert(record)))
        self._prepared += 1
        if self.child_batches.feeding:
            # The SDK writes STATE after every STATE_MSG_FREQUENCY-th record: every child row
            # of the parents it covers must be out before it.
            at_state = self._prepared % self.STATE_MSG_FREQUENCY == 0
            self.child_batches.collect(
                converted,
                # Children follow their parent through stream-map filters, as in the SDK.
                keep=bool(self.stream_maps[0].get_filter_result(converted)),
                due=last or at_state,
            )
        return converted

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """Sync the child streams here, a batch at a time, instead of once per record.

        Nothing is left for the SDK (see `ChildBatches.hand_over`).
        """
        self.child_batches.hand_over()
        return ()

    def take_child_rows(self, child: str) -> list[dict]:
        """The rows of `child` in the batch being handed over."""
        return self.child_batches.take(child)

    def _count_since_bookmark(self) -> int | None:
        """For progress lines: how many records the run reads, where pages do not say."""
        return count_records(self, self.get_starting_timestamp(self._context), None)

    def _new_pass_through(self) -> PassThrough:
        # What paging reads (`id`, `date_modified`) and what the SDK reads, which a catalog
        # may set otherwise (key properties, replication key).
        wanted = ("id", "date_modified", *(self.primary_keys or ()), self.replication_key)
        # `store_hash` is not in the API's JSON: `add_store_hash` puts it in.
        known = {k for k in self.schema.get("properties") or {} if k != "store_hash"}
        keys = tuple(key for key in dict.fromkeys(wanted) if key and key in known)
        return PassThrough(self.schema, keys, self.name)

    def _may_pass_through(self) -> bool:
        """Whether records can be written as the API sent them, when they already match.

        Not when anything else needs the whole record: child streams, deselected fields,
        stream maps or flattening, or batch files.
        """
        return (
            self.flavour.page_decoder is not None
            and getattr(self.replication, "rows", None) is None  # rows split from records
            and self._everything_selected
            and self._default_maps
            and not self.has_selected_descendents
            and self.get_batch_config(self.config) is None
        )


class ChildStream(LeanRecordsMixin):
    """Rows of a parent stream; they share the parent's bookmark.

    A child declares `name`, `parent_stream_type` and `replication` (`FromParentInclude(...)`
    for rows inside the parent's records: which field, and where a capped include's rest
    comes from; `PerParent(...)` for rows at an endpoint of each parent that has any), and
    optionally `primary_keys`.
    """

    #: Where the rows come from: `FromParentInclude(...)` or `PerParent(...)`.
    replication: t.ClassVar[Replication]
    primary_keys: t.ClassVar[list[str]] = ["id"]
    # No state of their own: a changed parent brings its current children along.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, tap: t.Any) -> None:
        """Load the stream's schema from `schemas/`."""
        super().__init__(tap, schema=load_schema(self.name))

    @property
    def money_as_text(self) -> bool:
        """As the parent's (its responses, or endpoints in its spelling), unless declared."""
        replication = self.replication
        if isinstance(replication, PerParent) and replication.flavour_type is not None:
            return replication.flavour_type.money_as_text
        parent = t.cast("type[BigCommerceStream]", self.parent_stream_type)
        return parent.flavour_type.money_as_text

    @property
    def _parent(self) -> BigCommerceStream:
        parent = next(s for s in self._tap.streams.values() if type(s) is self.parent_stream_type)
        return t.cast("BigCommerceStream", parent)

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The rows the parent handed over."""
        for row in self._parent.take_child_rows(self.name):
            yield self.add_store_hash(self._convert(row))

    def _write_state_message(self) -> None:
        """STATE, unless a sibling's rows of the batch being handed over are still to come.

        The state holds the parent's bookmark, which covers every parent of the batch.
        """
        if self._parent.child_batches.holding_state:
            return
        super()._write_state_message()
