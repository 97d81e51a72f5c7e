"""The sandbox's data: a few integers per record, indexes kept sorted, and mutations.

Per record the store keeps only ``date_created``, ``date_modified``, ``version`` and an
"archived" flag, in flat arrays indexed by id (ids are dense: 1..N, inserts append). The full
record is built on demand by :mod:`records`. Two sorted indexes per partition (live / archived)
make a page request cost O(log n + page): ids ascending, and ``(date_modified, id)`` packed into
one int. ``date_created`` never changes and grows with id, so it needs no index of its own.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import records
from .rest import RestOfStore
from .spread import spread

RESOURCES = ("products", "customers", "orders")
#: Sub-resources that can be deleted from a record that stays (`Store.delete_children`).
CHILD_KINDS = {"products": ("variants", "images", "custom_fields"), "customers": ("addresses",)}
# Seeded history spans 2018-01-01 .. 2025-06-01 UTC: fixed so data never depends on the clock.
HISTORY_START = 1514764800
HISTORY_END = 1748736000
_SHIFT = 1 << 32  # key = date_modified * 2**32 + id
#: Default bound of the encoded-record cache: ~60k products with the tap's includes.
DEFAULT_CACHE_BYTES = 256 << 20


def _key(modified: int, rid: int) -> int:
    return modified * _SHIFT + rid


@dataclass
class Query:
    """A list request, already translated from the flavour's query syntax.

    All bounds are inclusive. ``sort`` is ``id``, ``date_created``, ``date_modified`` or another
    field name (then ``sort_key`` gives the value per id). Ties are always broken by id ascending.
    """

    archived: bool = False
    id_min: int | None = None
    id_max: int | None = None
    id_in: Iterable[int] | None = None
    dm_min: int | None = None
    dm_max: int | None = None
    dc_min: int | None = None
    dc_max: int | None = None
    sort: str = "id"
    desc: bool = False
    predicate: Callable[[int], bool] | None = None
    sort_key: Callable[[int], Any] | None = None


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, exactly as :func:`api.dumps` writes it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class _JsonCache:
    """Encoded records, bounded by total bytes (``None``: unbounded); oldest entry goes first.

    One entry per (record, shape); a new version of a record replaces its entry.
    """

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], tuple[tuple[Any, ...], bytes]] = {}

    def get(self, key: tuple[Any, ...], stamp: tuple[Any, ...]) -> bytes | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == stamp else None

    def put(self, key: tuple[Any, ...], stamp: tuple[Any, ...], body: bytes) -> None:
        if self.max_bytes is not None and len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self._entries[key] = (stamp, body)
            self.size += len(body)
            while self.max_bytes is not None and self.size > self.max_bytes:
                _, evicted = self._entries.pop(next(iter(self._entries)))
                self.size -= len(evicted)


@dataclass
class _Index:
    ids: list[int] = field(default_factory=list)  # ascending
    keys: list[int] = field(default_factory=list)  # ascending (date_modified, id) keys


class _Table:
    """Per-resource state: flat arrays indexed by id + one index per partition."""

    def __init__(self) -> None:
        self.created = array("q", [0])  # index 0 unused: ids start at 1
        self.modified = array("q", [0])
        self.version = array("l", [0])
        self.archived = bytearray(1)
        self.imported: dict[int, int] = {}  # id -> date_last_imported (bulk-import plateau)
        self.parts = (_Index(), _Index())  # (live, archived)
        #: Deleted ids: gone from both indexes; their ids are never given again.
        self.deleted: set[int] = set()
        #: Per record, the ids of its sub-resources deleted (``{"variants": {12, 13}}``).
        self.removed: dict[int, dict[str, set[int]]] = {}

    @property
    def max_id(self) -> int:
        return len(self.created) - 1

    def exists(self, rid: int) -> bool:
        return 1 <= rid <= self.max_id and rid not in self.deleted

    def removed_stamp(self, rid: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The deleted sub-resources of a record, as a value the JSON cache can compare."""
        gone = self.removed.get(rid)
        return tuple(sorted((k, tuple(sorted(v))) for k, v in gone.items())) if gone else ()


class Store:
    """Seeded, deterministic BigCommerce data: products, customers and orders.

    ``plateau=None`` applies the default rule (300 records share one ``date_modified`` when a
    resource has at least 600 records), ``0`` disables it, ``k`` puts ``k`` records on it.
    ``archived_rate`` is the share of orders that are archived (``is_deleted``).
    ``undocumented`` adds fields to the records of a resource (every ``undocumented_every``-th
    id), as the live API does when it gains a field before the docs (and the tap's schemas)
    list it.
    """

    def __init__(
        self, seed: int = 1, products: int = 120, customers: int = 80, orders: int = 150,
        plateau: int | None = None, archived_rate: float = 0.02,
        cache_bytes: int | None = DEFAULT_CACHE_BYTES,
        undocumented: dict[str, dict[str, Any]] | None = None, undocumented_every: int = 1,
        spread_values: bool = True, rest_sizes: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.seed = seed
        self.spread_values = spread_values
        self.undocumented = {name: dict(extra) for name, extra in (undocumented or {}).items()}
        self.undocumented_every = max(1, undocumented_every)
        self.store_hash = "abc123"  # set by Sandbox; only used in v2 stub URLs
        self.plateau_setting = plateau
        self.plateau_at: dict[str, int | None] = {}
        self._lock = threading.RLock()
        self._tables = {name: _Table() for name in RESOURCES}
        self._json = _JsonCache(cache_bytes)
        self._n_customers_seeded = customers
        for name, n in (("products", products), ("customers", customers), ("orders", orders)):
            self._seed_table(name, n, archived_rate if name == "orders" else 0.0)
        #: Brands, categories, coupons ... (see `rest`); `rest_sizes` sets how many of each.
        self.rest = RestOfStore(self, rest_sizes)

    # ----------------------------------------------------------------- seeding

    def _plateau_size(self, n: int) -> int:
        if self.plateau_setting is None:
            return 300 if n >= 600 else 0
        return max(0, min(self.plateau_setting, n))

    def _seed_table(self, name: str, n: int, archived_rate: float) -> None:
        t = self._tables[name]
        rng = random.Random(records.mix(self.seed, len(name), 4242))
        span = HISTORY_END - HISTORY_START
        step = max(1, span // (n + 1))
        created = [HISTORY_START + (i * span) // (n + 1) + rng.randrange(step) for i in range(n)]
        modified = [
            c if rng.random() < 0.4 else c + int(rng.random() * (HISTORY_END - c)) for c in created
        ]
        k = self._plateau_size(n)
        self.plateau_at[name] = None
        if k:
            # A bulk import at 70% of the history re-saved k records created before it.
            t_imp = HISTORY_START + span * 7 // 10
            eligible = bisect.bisect_left(created, t_imp)
            if eligible < k:
                t_imp = created[k - 1] if k <= n else HISTORY_END
                eligible = bisect.bisect_right(created, t_imp)
            for i in rng.sample(range(eligible), k):
                modified[i] = t_imp
                t.imported[i + 1] = t_imp
            self.plateau_at[name] = t_imp
        t.created.extend(created)
        t.modified.extend(modified)
        t.version.extend([0] * n)
        arch = bytearray(1 if rng.random() < archived_rate else 0 for _ in range(n))
        t.archived.extend(arch)
        for part in (0, 1):
            ids = [i + 1 for i in range(n) if arch[i] == part]
            t.parts[part].ids = ids
            t.parts[part].keys = sorted(_key(modified[i - 1], i) for i in ids)

    # ----------------------------------------------------------------- read side

    def table(self, resource: str) -> _Table:
        """The raw state of a resource (for the server; not a stable API)."""
        try:
            return self._tables[resource]
        except KeyError:
            raise KeyError(f"unknown resource {resource!r}; one of {RESOURCES}") from None

    @property
    def lock(self) -> threading.RLock:
        """Held while reading several facts that must agree (e.g. a page and its total)."""
        return self._lock

    def ids(self, resource: str, include_archived: bool = False) -> list[int]:
        """Current ids of a resource, ascending (archived orders only if asked)."""
        with self._lock:
            t = self.table(resource)
            if include_archived:
                return [i for i in range(1, t.max_id + 1) if i not in t.deleted]
            return list(t.parts[0].ids)

    def count(self, resource: str, include_archived: bool = False) -> int:
        """Number of records (archived orders excluded unless asked)."""
        with self._lock:
            t = self.table(resource)
            return t.max_id - len(t.deleted) if include_archived else len(t.parts[0].ids)

    def state(self, resource: str, rid: int) -> tuple[int, int, int, bool]:
        """``(date_created, date_modified, version, archived)`` of one record."""
        with self._lock:
            t = self.table(resource)
            if not t.exists(rid):
                raise KeyError(f"{resource} {rid} does not exist")
            return t.created[rid], t.modified[rid], t.version[rid], bool(t.archived[rid])

    def record(
        self, resource: str, rid: int, includes: Iterable[str] = (), *,
        object_structure: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """The API-format dict of one record, as the list endpoint returns it."""
        created, modified, version, archived = self.state(resource, rid)
        inc = frozenset(includes)
        if resource == "products":
            imported = self._tables["products"].imported.get(rid)
            rec = records.product(self.seed, rid, created, modified, version, inc, imported)
        elif resource == "customers":
            rec = records.customer(self.seed, rid, created, modified, version, inc)
        else:
            rec = records.order(
                self.seed, rid, created, modified, version, archived=archived,
                n_customers=self._n_customers_seeded, store_hash=self.store_hash, includes=inc,
                object_structure=object_structure,
            )  # fmt: skip
        gone = self._tables[resource].removed.get(rid)
        if gone:
            self._without_removed(resource, rid, rec, gone, version)
        if self.spread_values:
            spread(resource, rec, self.seed)
        if rid % self.undocumented_every == 0:
            rec.update(self.undocumented.get(resource, {}))
        return rec

    def _without_removed(
        self, resource: str, rid: int, rec: dict[str, Any], gone: dict[str, set[int]],
        version: int,
    ) -> None:  # fmt: skip
        """Rebuild a record's includes without its deleted sub-resources."""
        for kind, ids in gone.items():
            if kind == "addresses":
                rows = self._addresses(rid, version)
                rec["address_count"] = len(rows)
                if "addresses" in rec:
                    rec["addresses"] = rows[:10]  # the include's cap
            elif isinstance(rec.get(kind), list):
                rec[kind] = [row for row in rec[kind] if row.get("id") not in ids]
        primary = rec.get("primary_image")
        if isinstance(primary, dict) and primary.get("id") in gone.get("images", ()):
            rec["primary_image"] = None

    def _addresses(self, cid: int, version: int) -> list[dict[str, Any]]:
        rows = records.customer_addresses(self.seed, cid, version)
        gone = self._tables["customers"].removed.get(cid, {}).get("addresses")
        return [row for row in rows if row["id"] not in gone] if gone else rows

    def customer_addresses(self, cid: int) -> list[dict[str, Any]]:
        """Every live address of a customer, as ``/v3/customers/addresses`` lists them."""
        _, _, version, _ = self.state("customers", cid)
        return self.spread("customer_addresses", self._addresses(cid, version))

    def spread(self, stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows of a per-parent listing, spread as `record` spreads whole records."""
        if self.spread_values:
            for row in rows:
                spread(stream, row, self.seed)
        return rows

    def record_json(
        self, resource: str, rid: int, includes: Iterable[str] = (), *,
        object_structure: bool = False,
    ) -> bytes:  # fmt: skip
        """``dumps(record(...))``, cached: list responses join these bytes.

        Building and encoding a record costs ~0.2 ms (a product with includes; ~0.5 ms an
        order with line items), which would make the server, not the client, the bottleneck of
        a benchmark. The cache key is the record and the shape asked for; the entry is checked
        against everything the record is a function of (version, dates, archived flag, store
        hash, deleted sub-resources), so a touched, archived, re-hashed or trimmed record is
        rendered afresh.
        """
        inc = frozenset(includes)
        key = (resource, rid, inc, object_structure and resource == "orders")
        with self._lock:
            t = self.table(resource)
            if not t.exists(rid):
                raise KeyError(f"{resource} {rid} does not exist")
            stamp = (t.version[rid], t.modified[rid], t.archived[rid],
                     t.imported.get(rid), self.store_hash, t.removed_stamp(rid))  # fmt: skip
        hit = self._json.get(key, stamp)
        if hit is not None:
            return hit
        body = _dumps(self.record(resource, rid, inc, object_structure=object_structure))
        self._json.put(key, stamp, body)
        return body

    def warm(
        self, resource: str, includes: Iterable[str] = (), *, object_structure: bool = False
    ) -> int:
        """Render every live record of ``resource`` into the cache; returns the bytes held."""
        for rid in self.ids(resource):
            self.record_json(resource, rid, includes, object_structure=object_structure)
        return self._json.size

    def select(
        self, resource: str, q: Query, offset: int = 0, limit: int | None = None
    ) -> tuple[int, list[int]]:
        """Ids matching ``q`` in its order: ``(total, ids[offset:offset+limit])``."""
        with self._lock:
            return self._select(self.table(resource), q, offset, limit)

    def _select(self, t: _Table, q: Query, offset: int, limit: int | None) -> tuple[int, list[int]]:
        part = t.parts[1 if q.archived else 0]
        created, modified = t.created, t.modified
        id_lo = q.id_min if q.id_min is not None else 1
        id_hi = q.id_max if q.id_max is not None else t.max_id
        # date_created grows with id, so a date_created range is an id range.
        if q.dc_min is not None:
            id_lo = max(id_lo, bisect.bisect_left(created, q.dc_min, 1))
        if q.dc_max is not None:
            id_hi = min(id_hi, bisect.bisect_right(created, q.dc_max, 1) - 1)
        end = None if limit is None else offset + limit
        a0, a1 = bisect.bisect_left(part.ids, id_lo), bisect.bisect_right(part.ids, id_hi)
        has_id = id_lo > 1 or id_hi < t.max_id
        has_dm = q.dm_min is not None or q.dm_max is not None
        b0 = 0 if q.dm_min is None else bisect.bisect_left(part.keys, _key(q.dm_min, 0))
        b1 = (len(part.keys) if q.dm_max is None
              else bisect.bisect_left(part.keys, _key(q.dm_max + 1, 0)))  # fmt: skip
        simple = q.id_in is None and q.predicate is None
        by_id = q.sort in ("id", "date_created")
        # Fast paths: the index already is the answer, in order.
        if simple and by_id and not has_dm:
            total = max(0, a1 - a0)
            if not q.desc:
                stop = a1 if end is None else min(a1, a0 + end)
                return total, part.ids[a0 + offset : stop]
            hi = a1 - offset
            lo = a0 if end is None else max(a0, a1 - end)
            return total, part.ids[lo:hi][::-1] if hi > lo else []
        if simple and q.sort == "date_modified" and not q.desc and not has_id:
            total = max(0, b1 - b0)
            stop = b1 if end is None else min(b1, b0 + end)
            return total, [k % _SHIFT for k in part.keys[b0 + offset : stop]]
        # General path: scan the smallest candidate set, filter, sort.
        archived_flag = 1 if q.archived else 0
        if q.id_in is not None:
            cand: Iterable[int] = sorted(
                {i for i in q.id_in if t.exists(i) and t.archived[i] == archived_flag}
            )
        elif has_dm and (b1 - b0) < (a1 - a0):
            cand = sorted(k % _SHIFT for k in part.keys[b0:b1])
        else:
            cand = part.ids[a0:a1]
        dm_lo = q.dm_min if q.dm_min is not None else -(1 << 62)
        dm_hi = q.dm_max if q.dm_max is not None else 1 << 62
        pred = q.predicate
        matched = [
            i for i in cand
            if id_lo <= i <= id_hi and dm_lo <= modified[i] <= dm_hi and (pred is None or pred(i))
        ]  # fmt: skip
        if by_id:
            if q.desc:
                matched.reverse()
        else:
            key = modified.__getitem__ if q.sort == "date_modified" else q.sort_key
            # matched is id-ascending; a stable sort (also with reverse=True) keeps ties by id.
            matched.sort(key=key, reverse=q.desc)
        return len(matched), matched[offset:end]

    # ----------------------------------------------------------------- mutations

    def _move(self, t: _Table, rid: int, new_modified: int, new_part: int | None = None) -> None:
        old_part = t.archived[rid]
        part = t.parts[old_part]
        old = _key(t.modified[rid], rid)
        pos = bisect.bisect_left(part.keys, old)
        if pos < len(part.keys) and part.keys[pos] == old:
            del part.keys[pos]
        if new_part is not None and new_part != old_part:
            del part.ids[bisect.bisect_left(part.ids, rid)]
            t.archived[rid] = new_part
            part = t.parts[new_part]
            bisect.insort(part.ids, rid)
        t.modified[rid] = new_modified
        bisect.insort(part.keys, _key(new_modified, rid))

    def touch(self, resource: str, ids: Iterable[int], when: int | None = None) -> None:
        """Modify records now: ``date_modified`` = now, content changes (version + 1).

        The records move to the end of the ``date_modified`` order, exactly what makes naive
        page-number paging skip records.
        """
        now = int(time.time()) if when is None else when
        with self._lock:
            t = self.table(resource)
            for rid in ids:
                if not t.exists(rid):
                    raise KeyError(f"{resource} {rid} does not exist")
                t.version[rid] += 1
                t.imported.pop(rid, None)
                self._move(t, rid, max(now, t.created[rid]))

    def archive(self, resource: str, ids: Iterable[int], archived: bool = True) -> None:
        """Archive (``is_deleted``) or restore orders; counts as a modification."""
        now = int(time.time())
        with self._lock:
            t = self.table(resource)
            for rid in ids:
                if not t.exists(rid):
                    raise KeyError(f"{resource} {rid} does not exist")
                t.version[rid] += 1
                self._move(t, rid, max(now, t.created[rid]), 1 if archived else 0)

    def delete(self, resource: str, ids: Iterable[int]) -> None:
        """Delete records: gone from every listing, count, get, include and per-parent endpoint.

        (Orders are archived rather than deleted in BigCommerce, see `archive`; deleting one
        is what an API call or an app can still do.) Ids already gone are ignored.
        """
        with self._lock:
            t = self.table(resource)
            for rid in ids:
                if not t.exists(rid):
                    continue
                part = t.parts[t.archived[rid]]
                key = _key(t.modified[rid], rid)
                del part.keys[bisect.bisect_left(part.keys, key)]
                del part.ids[bisect.bisect_left(part.ids, rid)]
                t.deleted.add(rid)
                t.removed.pop(rid, None)

    def delete_children(
        self, resource: str, parent_id: int, kind: str, child_ids: Iterable[int], *,
        touch: bool = True,
    ) -> None:  # fmt: skip
        """Delete sub-resources of a record that stays: no include or listing holds them.

        A product's variants, images and custom fields, a customer's addresses.

        As BigCommerce does when a variant changes, the record's ``date_modified`` moves to now
        (``touch``; its content changes too, as with `touch`); ``touch=False`` leaves it, which
        only a full read of the table can notice.
        """
        if kind not in CHILD_KINDS.get(resource, ()):
            raise ValueError(f"{resource} have no deletable {kind!r}; {CHILD_KINDS}")
        with self._lock:
            t = self.table(resource)
            if not t.exists(parent_id):
                raise KeyError(f"{resource} {parent_id} does not exist")
            t.removed.setdefault(parent_id, {}).setdefault(kind, set()).update(child_ids)
            if touch:
                self.touch(resource, [parent_id])

    def insert(self, resource: str, count: int, when: int | None = None) -> list[int]:
        """Create ``count`` new records (new ids, created = modified = now); returns their ids."""
        now = int(time.time()) if when is None else when
        with self._lock:
            t = self.table(resource)
            start = t.max_id + 1
            new = list(range(start, start + count))
            for rid in new:
                t.created.append(max(now, t.created[-1]))  # keeps date_created sorted by id
                t.modified.append(t.created[rid])
                t.version.append(0)
                t.archived.append(0)
                t.parts[0].ids.append(rid)
                bisect.insort(t.parts[0].keys, _key(t.modified[rid], rid))
            return new

    def counts(self) -> dict[str, int]:
        """Live record counts per resource."""
        return {name: self.count(name) for name in RESOURCES}
