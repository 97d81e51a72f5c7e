"""What an hourly run costs on a quiet store: the requests of a run from the last STATE.

At most one request per incremental stream (per partition of one with fixed partitions:
metafields), and one per 250 rows (a page) of each stream read whole; child rows ride on
their parents' responses (but for the records at the bookmark, read again: a capped include
is completed, a product's reviews are asked).
"""

from __future__ import annotations

import math
from collections import Counter

from tap_bigcommerce.replication import EachOf, Incremental, ReadWhole
from tap_bigcommerce.sandbox import Sandbox, Store, records
from tap_bigcommerce.sandbox.rest import RESOURCES
from tap_bigcommerce.stream_base import BigCommerceStream
from tap_bigcommerce.streams import STREAM_TYPES
from tests.taprun import STORE_HASH, TOKEN, run_tap, sandbox_config

PAGE = 250


def _endpoint(path: str) -> str:
    """`/stores/abc123/v3/catalog/brands` -> `catalog/brands`."""
    return path.split("/", 4)[4].rstrip("/")


def test_a_quiet_hour_costs_one_request_per_incremental_stream_and_per_page_read_whole():
    # More than a page of brands: they cost two requests every run.
    store = Store(seed=9, products=40, customers=30, orders=30, rest_sizes={"brands": 260})
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url)
        first = run_tap(config)
        assert first.returncode == 0, first.stderr
        sb.reset_log()
        hourly = run_tap(config, state=first.final_state)
        assert hourly.returncode == 0, hourly.stderr
        asked = Counter(_endpoint(r.path) for r in sb.requests)
    top = [s for s in STREAM_TYPES if issubclass(s, BigCommerceStream)]
    rows = {r.name: len(store.rest.ids(r.name)) for r in RESOURCES}
    rows["store_information"] = 1
    rows["inventory_levels"] = 1  # a page of items (variants) holds their locations
    expected = {}
    for stream in top:
        each = getattr(stream.replication, "each", None)
        if isinstance(each, EachOf):
            # Fixed partitions (metafields): one request per partition's listing, no parents.
            for partition in each.partitions:
                expected[partition.path] = expected.get(partition.path, 0) + 1
        elif each is not None:
            # One request lists the parents (price lists), then one per parent's listing.
            expected[each.listing] = expected.get(each.listing, 0) + 1
            (parents,) = [s.name for s in top if s.endpoint == each.listing and not
                          getattr(s.replication, "each", None)]  # fmt: skip
            for parent in store.rest.ids(parents):
                expected[each.path.replace("{" + each.key + "}", str(parent))] = 1
        elif isinstance(stream.replication, Incremental):
            expected[stream.endpoint] = expected.get(stream.endpoint, 0) + 1
        else:
            assert isinstance(stream.replication, ReadWhole)
            expected[stream.endpoint] = max(1, math.ceil(rows[stream.name] / PAGE))
    assert expected["catalog/brands"] == 2
    # The records at the bookmark's second are read again (the bookmark is inclusive); one
    # whose include was capped (more than 10 addresses) has the rest read: one request.
    newest = max(store.state("customers", c)[1] for c in store.ids("customers"))
    at_bookmark = [c for c in store.ids("customers") if store.state("customers", c)[1] == newest]
    capped = [c for c in at_bookmark if records.customer_address_count(store.seed, c) > 10]
    if capped:
        expected["customers/addresses"] = 1
    # So does a product at the bookmark's second with reviews: its reviews, one page.
    newest = max(store.state("products", p)[1] for p in store.ids("products"))
    for pid in store.ids("products"):
        reviewed = store.record("products", pid).get("reviews_count")
        if store.state("products", pid)[1] == newest and reviewed:
            expected[f"catalog/products/{pid}/reviews"] = 1
    assert dict(asked) == expected
