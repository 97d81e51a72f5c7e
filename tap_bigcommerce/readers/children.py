"""Child rows: collected from each parent record, handed to the child streams in batches.

Rows are handed over in batches of about `CHILD_BATCH_ROWS` (and at the end), always
before the parent record that completes the batch is written, and before any STATE that
covers their parents, so STATE never runs ahead of a child row. Each child stream declares
where its rows are: inside the parent (`FromParentInclude`, and, where an include can be cut
off, where the rest comes from), or at an endpoint of each parent (`PerParent`): those
parents are collected with the batch and their listings read at its hand-over
(`per_parent`), only for a child that is selected.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict

from tap_bigcommerce.readers.per_parent import PerParentReader
from tap_bigcommerce.replication import (
    CompleteByListing,
    CompleteEach,
    FromParentInclude,
    IncludedRows,
    PerParent,
)

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Params
    from tap_bigcommerce.stream_base import BigCommerceStream

#: Child rows are handed to their streams in batches of about this many (and at the end).
CHILD_BATCH_ROWS = 1000


class ChildBatches:
    """The child rows of one parent stream, collected and handed over a batch at a time."""

    def __init__(self, parent: BigCommerceStream, included: IncludedRows | None) -> None:
        """Collect for `parent` what its child streams declare; `included`: its own walk."""
        self.parent = parent
        self.included = included
        self.feeding = False
        self._children: list[tuple[str, FromParentInclude]] = []
        self._pending: defaultdict[str, list[dict]] = defaultdict(list)
        # Per child, the parents whose include was capped, completed at hand-over.
        self._capped: defaultdict[str, list[t.Any]] = defaultdict(list)
        # Per selected `PerParent` child, the parents that have rows, read at hand-over.
        self._per_parent: list[tuple[str, PerParent]] = []
        self._waiting: defaultdict[str, list[t.Any]] = defaultdict(list)
        self._hand_over = False
        self._batch: dict[str, list[dict]] = {}
        self._batch_number = 0
        #: While a batch is handed over, before its last child: no STATE may be written.
        self.holding_state = False
        #: Children refused their own scope this run: not read whole, so never activated.
        self.refused: set[str] = set()

    def start(self) -> None:
        """A run begins: collect only if a child stream (or one below it) is selected."""
        self.feeding = self.parent.has_selected_descendents
        # Every child's rows, selected or not, are collected (and counted toward a batch).
        self._children = [
            (child.name, replication)
            for child in self.parent.child_streams
            if isinstance(replication := getattr(child, "replication", None), FromParentInclude)
        ]
        # Rows behind a request per parent are asked for only for a child that is selected.
        self._per_parent = [
            (child.name, replication)
            for child in self.parent.child_streams
            if isinstance(replication := getattr(child, "replication", None), PerParent)
            and (child.selected or child.has_selected_descendents)
        ]
        self._waiting = defaultdict(list)
        self.refused = set()

    def collect(self, record: dict, *, keep: bool, due: bool) -> None:
        """Take the child rows of `record` (if `keep`: it passed the stream maps' filter).

        `due`: a hand-over must come before the next record (the last record, or STATE
        follows this one); otherwise one comes once a batch is full.
        """
        if keep:
            for name, rows in self.rows_of(record).items():
                self._pending[name].extend(rows)
            for name, per_parent in self._per_parent:
                if per_parent.has_rows(record):
                    self._waiting[name].append(record["id"])
        # A capped parent counts as a row, as does one with rows of its own to be read: its
        # listing brings at least one.
        waiting = sum(len(rows) for rows in self._pending.values())
        waiting += sum(len(ids) for ids in self._capped.values())
        waiting += sum(len(ids) for ids in self._waiting.values())
        self._hand_over = due or waiting >= CHILD_BATCH_ROWS

    def rows_of(self, record: dict) -> dict[str, list[dict]]:
        """Rows of the child streams carried by one parent record, completed if capped."""
        # Asked first: the parent's walk may drop the include's marker of a cut.
        capped = {name: bool(inc.capped(record)) for name, inc in self._children if inc.capped}
        rows = self.included.rows(record) if self.included is not None else {}
        for name, inc in self._children:
            if inc.field is not None:
                found = record.get(inc.field)
                if not isinstance(found, list):
                    # Not included, the API sends a link stub (`{url, resource}`): no rows.
                    found = []
                if inc.parent_id is not None:
                    rows[name] = [{**row, inc.parent_id: record["id"]} for row in found]
                else:
                    rows[name] = list(found)
            if not capped.get(name):
                continue
            if isinstance(inc.complete, CompleteEach):
                rows[name] = list(self.listing(inc.complete.path.format(id=record["id"]), {}))
            elif isinstance(inc.complete, CompleteByListing):
                self._capped[name].append(record["id"])
        return rows

    def hand_over(self) -> None:
        """Sync the child streams with the batch, if one is due (called after each parent).

        The SDK would sync children per parent record, and skip them when a stream map
        filters that one record out; a batch holds the rows of many parents, so it is synced
        here whatever happens to the record that closes it.
        """
        if not (self._hand_over and (self._pending or self._waiting)):
            return
        pending, self._pending = self._pending, defaultdict(list)
        capped, self._capped = self._capped, defaultdict(list)
        waiting, self._waiting = self._waiting, defaultdict(list)
        self._hand_over = False
        self._complete(pending, capped)
        if waiting:
            reader = PerParentReader(self.parent, self._per_parent)
            pending.update(reader.read(waiting))
            # A child refused its own scope is asked no more this run (warned once).
            self.refused |= reader.refused
            self._per_parent = [(n, p) for n, p in self._per_parent if n not in self.refused]
        self._batch_number += 1
        self._batch = dict(pending)
        syncing = [c for c in self.parent.child_streams if c.selected or c.has_selected_descendents]
        for k, child in enumerate(syncing):
            # Each child's sync ends with STATE, which holds the parent's bookmark: only the
            # last child's is written, once every child's rows of the batch are out.
            self.holding_state = k < len(syncing) - 1
            # The context stays small: the SDK logs it with every metric.
            child.sync(context={"batch": self._batch_number})
        self.holding_state = False
        self._batch = {}

    def take(self, child: str) -> list[dict]:
        """The rows of `child` in the batch being handed over."""
        return self._batch.get(child, [])

    def _complete(self, pending: dict[str, list[dict]], capped: dict[str, list[t.Any]]) -> None:
        """Fetch what an include left out for the batch's capped parents, one listing a child."""
        for name, inc in self._children:
            complete = inc.complete
            if not capped.get(name) or not isinstance(complete, CompleteByListing):
                continue
            ids = set(capped[name])
            rows = [r for r in pending.get(name, []) if r.get(complete.parent_field) not in ids]
            wanted = {complete.filter: ",".join(map(str, sorted(ids)))}
            rows.extend(self.listing(complete.path, wanted))
            pending[name] = rows

    def listing(self, path: str, params: Params) -> t.Iterator[dict]:
        """Every record of a small per-parent listing (line items, addresses), by page number.

        These listings have no dates to key on; they belong to parents read a moment ago and
        are read at once, so page numbers are safe here.
        """
        parent = self.parent
        page = 1
        while True:
            query = {**params, "page": page, "limit": parent.page_size}
            document = parent.client.get(
                parent.flavour.version, path, query, resource=parent.name, missing_ok=True
            )
            if document is None:  # 204 past the end, or 404: the parent is gone
                return
            unpacked = parent.flavour.unpack(document, parent.page_size)
            yield from unpacked.records
            if unpacked.is_last:
                return
            page += 1
