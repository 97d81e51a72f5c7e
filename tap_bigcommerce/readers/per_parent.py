"""Rows of each parent from an endpoint of its own (`PerParent`), for a batch of parents.

A product's reviews (`/v3/catalog/products/{id}/reviews`), later an order's coupons or
shipments (`/v2/orders/{id}/coupons`): only the parents whose own fields say they have rows
are asked, and only for a child stream that is selected (`ChildBatches` collects them).
At a batch's hand-over their listings are fetched side by side, `requests_in_flight` at
once (the store's quota pacer holds every thread to it), each read page by page to its
end in the endpoint's spelling (`pagination.Flavour.unpack_listing`: v3 pages count
themselves, v2 lists end on a short page or 204). A parent deleted meanwhile (404) has no
rows. The rows come back in the parents' order, each carrying its parent's id. A child that
needs a scope of its own (`PerParent.scope`) and is refused it (403) has no rows: it is
warned about once and left out of the rest of the run (`refused`).
"""

from __future__ import annotations

import threading
import typing as t
from collections import defaultdict

from tap_bigcommerce.errors import ScopeError

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tap_bigcommerce.pagination import Flavour
    from tap_bigcommerce.replication import PerParent, Record
    from tap_bigcommerce.stream_base import BigCommerceStream


class PerParentReader:
    """Reads the per-parent endpoints of one parent stream's children."""

    def __init__(
        self, parent: BigCommerceStream, children: Sequence[tuple[str, PerParent]]
    ) -> None:
        """`children`: each child stream's name and declaration."""
        self.parent = parent
        self._children: dict[str, tuple[PerParent, Flavour]] = {
            name: (
                declaration,
                (declaration.flavour_type or parent.flavour_type)(
                    path=declaration.path, resource=name
                ),
            )
            for name, declaration in children
        }
        #: Children refused their own scope (HTTP 403): no more requests for them.
        self.refused: set[str] = set()
        self._lock = threading.Lock()

    def read(self, waiting: Mapping[str, Sequence[t.Any]]) -> dict[str, list[Record]]:
        """The rows of each child for the parent ids `waiting` on it, in the parents' order."""
        work = [(name, parent_id) for name, ids in waiting.items() for parent_id in ids]
        rows: defaultdict[str, list[Record]] = defaultdict(list)
        fetched = self.parent.side_by_side(self.rows_of, work)
        for (name, _), found in zip(work, fetched, strict=True):
            rows[name].extend(found)
        return dict(rows)

    def rows_of(self, item: tuple[str, t.Any]) -> list[Record]:
        """Every row of one child for one parent: each page of its listing, until the last."""
        name, parent_id = item
        declaration, flavour = self._children[name]
        if name in self.refused:
            return []
        try:
            rows = self._listing(name, declaration, flavour, parent_id)
        except ScopeError:
            if declaration.scope is None:
                raise  # the parent's own scope: strict, as the parent is
            with self._lock:
                first = name not in self.refused
                self.refused.add(name)
            if first:
                self.parent.logger.warning(
                    "%s: skipped, the API account lacks the '%s' scope (HTTP 403); grant "
                    "it read-only to read this stream, or deselect it",
                    name,
                    declaration.scope,
                )
            return []
        if declaration.parent_id is not None:
            rows = [{**row, declaration.parent_id: parent_id} for row in rows]
        return rows

    def _listing(
        self, name: str, declaration: PerParent, flavour: Flavour, parent_id: t.Any
    ) -> list[Record]:
        path = declaration.path.format(id=parent_id)
        limit = self.parent.page_size
        rows: list[Record] = []
        number = 1
        while True:
            document = self.parent.client.get(
                flavour.version,
                path,
                flavour.listing_params(number, limit),
                resource=name,
                missing_ok=True,  # 404: the parent is gone since it was read
            )
            page = flavour.unpack_listing(document, limit)
            rows.extend(page.records)
            if page.is_last:
                break
            number += 1
        return rows
