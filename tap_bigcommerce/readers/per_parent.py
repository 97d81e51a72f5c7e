"""Rows of each parent from an endpoint of its own (`PerParent`), for a batch of parents.

A product's reviews (`/v3/catalog/products/{id}/reviews`), later an order's coupons or
shipments (`/v2/orders/{id}/coupons`): only the parents whose own fields say they have rows
are asked, and only for a child stream that is selected (`ChildBatches` collects them).
At a batch's hand-over their listings are fetched side by side, `requests_in_flight` at
once (the store's quota pacer holds every thread to it), each read page by page to its
end in the endpoint's spelling (`pagination.Flavour.unpack_listing`: v3 pages count
themselves, v2 lists end on a short page or 204). A parent deleted meanwhile (404) has no
rows. The rows come back in the parents' order, each carrying its parent's id.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict

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
        if declaration.parent_id is not None:
            rows = [{**row, declaration.parent_id: parent_id} for row in rows]
        return rows
