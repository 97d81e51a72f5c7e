"""What a stream declares about how it is read; the readers in `readers/` act on it.

A stream says which of these it is (`replication = ...`); a parent whose includes need a
walk to yield its children's rows says so too (`child_rows = IncludedRows(...)`). Nothing
here sends a request: these are values, read by `readers.reader_for` and
`readers.children`.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Flavour

Record = dict[str, t.Any]


@dataclass(frozen=True)
class AlsoList:
    """A second listing of the same endpoint, read when a setting is on, merged in order.

    Archived orders: `/v2/orders?is_deleted=true` lists only those, with the same filters.
    """

    setting: str
    params: dict[str, t.Any]


@dataclass(frozen=True)
class EachRow:
    """An endpoint read once for each row of another listing, with a bookmark for each.

    Price list records: `pricelists/{price_list_id}/records` for every price list that
    `listing` (`pricelists`) lists on this run, changed or not; the state keeps one
    bookmark per `key` (SDK state partitions), so one list's bookmark never moves another's.
    """

    listing: str
    key: str
    path: str

    def path_for(self, context: Record) -> str:
        """The endpoint read for one row's context, e.g. `pricelists/2/records`."""
        return self.path.format(**context)

    def scope_for(self, context: Record) -> str | None:
        """None: every row's endpoint needs the stream's own scope."""
        return None


@dataclass(frozen=True)
class Partition:
    """One fixed partition of `EachOf`: its `key` value, its endpoint and that one's scope."""

    value: str
    path: str
    scope: str


@dataclass(frozen=True)
class EachOf:
    """An endpoint per fixed partition, with a bookmark for each (SDK state partitions).

    Metafields: one store-wide listing per resource type (`catalog/products/metafields`,
    `customers/metafields` ...), each under its own `key` value (`resource_type`) in the
    state, so one listing that fails never moves another's bookmark. Each needs its own
    resource's scope: without it, that partition is skipped with one warning, the others
    are read.
    """

    key: str
    partitions: tuple[Partition, ...]

    def contexts(self) -> list[Record]:
        """The partitions' contexts, in the order they are read."""
        return [{self.key: p.value} for p in self.partitions]

    def _partition(self, context: Record) -> Partition:
        return next(p for p in self.partitions if p.value == context[self.key])

    def path_for(self, context: Record) -> str:
        """The endpoint read for one partition."""
        return self._partition(context).path

    def scope_for(self, context: Record) -> str | None:
        """The scope one partition's endpoint needs."""
        return self._partition(context).scope

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope some partition needs, each once, in order."""
        return tuple(dict.fromkeys(p.scope for p in self.partitions))


@dataclass(frozen=True)
class Incremental:
    """Records modified since the bookmark on `field`, by the API's own filter and sort.

    `count`: an endpoint that counts a window with the same filters, for lists that carry
    no total (v2), e.g. `orders/count`. `also`: further listings merged in (see `AlsoList`).
    `each`: the endpoint is read once per row of another listing (see `EachRow`), or once
    per fixed partition, each at its own path (see `EachOf`).
    """

    field: str = "date_modified"
    count: str | None = None
    also: tuple[AlsoList, ...] = ()
    each: EachRow | EachOf | None = None

    @property
    def replication_key(self) -> str | None:
        """The bookmark's field."""
        return self.field


@dataclass(frozen=True)
class ReadWhole:
    """Every record on every run, walked as the flavour says (`walk`: by id, by page, one).

    A run covers the whole table, so it ends with ACTIVATE_VERSION after its last record.
    `rows(record)`: the rows one listed record holds, where the table's rows are finer
    than the listing's (inventory: one row per variant per location).
    """

    rows: t.Callable[[Record], list[Record]] | None = None

    @property
    def replication_key(self) -> str | None:
        """None: a stream read whole keeps no bookmark."""
        return None


@dataclass(frozen=True)
class CompleteEach:
    """A capped include completed for each capped parent from `path` (with `{id}`).

    Orders: line items cut off at 50 come whole from `orders/{id}/products`.
    """

    path: str


@dataclass(frozen=True)
class CompleteByListing:
    """A capped include completed for a whole batch with one listing filtered by parent.

    Customers: addresses past the include's 10 come from `customers/addresses` with
    `customer_id:in=` the capped customers; `parent_field` names the parent in each row.
    """

    path: str
    filter: str
    parent_field: str


@dataclass(frozen=True)
class FromParentInclude:
    """Rows that come inside the parent's records, asked for by one of its `includes`.

    `field`: the parent's field that holds them (`variants`); None when the parent's
    `IncludedRows` builds them (orders' consignments hold two children's rows).
    `parent_id`: the name under which each row gets its parent's id, where the API leaves
    it out. `capped(parent)`: whether the include cut the rows off for this parent, asked
    before any row is read; `complete` then says where the rest comes from.
    """

    field: str | None = None
    parent_id: str | None = None
    capped: t.Callable[[Record], bool] | None = None
    complete: CompleteEach | CompleteByListing | None = None

    @property
    def replication_key(self) -> str | None:
        """None: the rows share their parent's bookmark."""
        return None


@dataclass(frozen=True)
class PerParent:
    """Rows of each parent from a per-parent endpoint, e.g. `catalog/products/{id}/reviews`.

    `path` (under `/v2/` or `/v3/`, with `{id}`) is read page by page for each parent
    whose own fields say it has rows (`has_rows(parent)`, such as `reviews_count > 0`), so
    parents without rows cost no request; the rows of a batch's parents are fetched side
    by side (`readers.per_parent`). `parent_id`: the name under which each row gets its
    parent's id, where the API leaves it out. `flavour_type`: the endpoint's spelling
    where it is not the parent's (v3 transactions of v2 orders). `scope`: a scope of its
    own, beyond the parent's (as the control panel names it); without it (HTTP 403) the
    child is skipped for the rest of the run with one warning, and the parent goes on.
    Without `scope` a 403 fails the run, as it does for the parent.
    """

    path: str
    has_rows: t.Callable[[Record], bool]
    parent_id: str | None = None
    flavour_type: type[Flavour] | None = None
    scope: str | None = None

    @property
    def replication_key(self) -> str | None:
        """None: the rows share their parent's bookmark."""
        return None


Replication = Incremental | ReadWhole | FromParentInclude | PerParent


@dataclass(frozen=True)
class IncludedRows:
    """A parent's own walk of its includes, for rows that no single field holds.

    `rows(parent)` gives the rows of each child stream it knows, by the child's name; the
    child streams say `FromParentInclude()` without a field.
    """

    rows: t.Callable[[Record], dict[str, list[Record]]]
