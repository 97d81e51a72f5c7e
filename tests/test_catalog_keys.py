"""Catalogs whose keys lack `store_hash`: 0.1's, and keys users chose, run as the tap's CLI.

A catalog saved by 0.1 (before `store_hash` existed) keys a stream by `["id"]` and has no
`store_hash` property; the SDK takes both as they are. The tap puts the store back in front
of every non-empty key and the property back into the schema, so that two stores' rows never
share a key in the target. An empty key is a choice of no key: it stays empty.
"""

from __future__ import annotations

import collections
import copy
import json

import pytest
from jsonschema import Draft7Validator

from tap_bigcommerce.records import store_first
from tap_bigcommerce.sandbox import Sandbox, Store
from tests.taprun import (
    FAST,
    STORE_HASH,
    TOKEN,
    TapRun,
    run_tap,
    sandbox_config,
    select_only,
)

PARENTS = ("products", "customers", "orders")
#: With a child (its key has two ids) and a table read whole.
SELECTED = (*PARENTS, "product_variants", "brands")
OTHER_HASH, OTHER_TOKEN = "def456", "token-of-def456-7c1e"


def new_store(seed: int) -> Store:
    # Ids from 1 in every store: two stores' rows share ids, so only store_hash tells them apart.
    return Store(seed=seed, products=20 + 5 * seed, customers=10, orders=12, plateau=0)


@pytest.fixture(scope="module")
def discovered() -> dict:
    with Sandbox(new_store(1), store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url), "--discover")
    assert run.returncode == 0, run.stderr
    return select_only(json.loads(run.stdout), SELECTED)


def saved_by_0_1(catalog: dict, keys: dict[str, list[str]] | None = None) -> dict:
    """`catalog` as 0.1 wrote it: no `store_hash` in any key, schema or metadata.

    `keys` sets some streams' key (as a user would have edited it then).
    """
    old = copy.deepcopy(catalog)
    for entry in old["streams"]:
        key = [k for k in entry["key_properties"] if k != "store_hash"]
        key = (keys or {}).get(entry["tap_stream_id"], key)
        entry["key_properties"] = key
        entry["schema"]["properties"].pop("store_hash")
        entry["metadata"] = [
            m for m in entry["metadata"] if m["breadcrumb"] != ["properties", "store_hash"]
        ]
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["table-key-properties"] = key
    return old


def schema_messages(run: TapRun) -> dict[str, dict]:
    """The SCHEMA message of each stream (exactly one each)."""
    found = [m for m in run.messages if m["type"] == "SCHEMA"]
    by_stream = {m["stream"]: m for m in found}
    assert len(by_stream) == len(found), "a stream's SCHEMA was written twice"
    return by_stream


def test_keys_get_the_store_in_front_and_nothing_else_moves():
    assert store_first(["id"]) == ["store_hash", "id"]
    assert store_first(("id", "product_id")) == ["store_hash", "id", "product_id"]
    assert store_first(["id", "store_hash"]) == ["store_hash", "id"]
    assert store_first(["store_hash", "id"]) == ["store_hash", "id"]
    assert store_first([]) == []
    assert store_first(()) == []


def test_a_catalog_saved_by_0_1_keys_every_stream_by_store(discovered):
    """Every selected stream's SCHEMA: the key of 0.1 after `store_hash`, and the property.

    And every record carries `store_hash` and is valid against the SCHEMA written before it.
    """
    store = new_store(1)
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url), catalog=saved_by_0_1(discovered))
    assert run.returncode == 0, run.stderr[-2000:]
    schemas = schema_messages(run)
    assert set(SELECTED) <= set(schemas)
    wanted = {e["tap_stream_id"]: e["key_properties"] for e in discovered["streams"]}
    for stream in SELECTED:
        message = schemas[stream]
        assert message["key_properties"][0] == "store_hash", (stream, message["key_properties"])
        assert message["key_properties"] == wanted[stream], stream
        assert message["schema"]["properties"]["store_hash"]["type"] == "string", stream
        records = run.records(stream)
        assert records, stream
        assert all(r["store_hash"] == STORE_HASH for r in records), stream
        validator = Draft7Validator(message["schema"])
        for record in records:
            validator.validate(record)
    assert sorted(r["id"] for r in run.records("products")) == store.ids("products")


@pytest.mark.parametrize(
    ("key", "written"),
    [
        (["sku"], ["store_hash", "sku"]),
        (["id", "store_hash"], ["store_hash", "id"]),
        ([], []),
    ],
    ids=["users-own-key", "store-last", "no-key"],
)
def test_a_key_chosen_in_a_0_1_catalog(discovered, key, written):
    """A chosen key gets the store in front; an empty one stays empty (no key at all).

    The property is in the schema either way: the records carry it whatever the key.
    """
    store = new_store(1)
    catalog = saved_by_0_1(select_only(discovered, ["products"]), keys={"products": key})
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        run = run_tap(sandbox_config(sb.api_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    message = schema_messages(run)["products"]
    assert message["key_properties"] == written
    assert "store_hash" in message["schema"]["properties"]
    products = run.records("products")
    assert sorted(p["id"] for p in products) == store.ids("products")
    assert all(p["store_hash"] == STORE_HASH for p in products)


def test_a_stream_map_on_a_0_1_catalog_sees_the_whole_key(discovered):
    """A stream map checks that its key is in its schema: both are fixed before it is set up."""
    store = new_store(1)
    catalog = saved_by_0_1(select_only(discovered, ["products"]))
    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        config = sandbox_config(sb.api_url, stream_maps={"products": {"name": None}})
        run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    message = schema_messages(run)["products"]
    assert message["key_properties"] == ["store_hash", "id"]
    assert "store_hash" in message["schema"]["properties"]
    assert "name" not in message["schema"]["properties"]
    products = run.records("products")
    assert products and all(p["store_hash"] == STORE_HASH and "name" not in p for p in products)


@pytest.mark.parametrize(
    "stream_maps", [None, {"products": {"name": None}}], ids=["as-is", "stream-map"]
)
def test_two_stores_with_a_0_1_catalog_never_share_a_key(discovered, stream_maps):
    """The case the fix is for: the same ids in two stores, one table in the target.

    The stores' taps share the catalog: the one that fixes an entry first must not leave
    the other with a mapper set up from it as it was (nor half fixed: a stream map checks
    that its key is in its schema).
    """
    first, second = new_store(1), new_store(2)
    with Sandbox(first, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sb:
        sb.add_store(OTHER_HASH, OTHER_TOKEN, second)
        config = {
            "stores": [
                {"store_hash": STORE_HASH, "access_token": TOKEN},
                {"store_hash": OTHER_HASH, "access_token": OTHER_TOKEN},
            ],
            "api_url": sb.api_url,
            **FAST,
            **({"stream_maps": stream_maps} if stream_maps else {}),
        }
        run = run_tap(config, catalog=saved_by_0_1(discovered))
    assert run.returncode == 0, run.stderr[-2000:]
    schemas = schema_messages(run)
    for stream in SELECTED:
        key = schemas[stream]["key_properties"]
        assert key[0] == "store_hash", (stream, key)
        assert "store_hash" in schemas[stream]["schema"]["properties"], stream
        records = run.records(stream)
        keys = collections.Counter(tuple(r[k] for k in key) for r in records)
        assert keys and max(keys.values()) == 1, f"{stream}: two rows share a key"
        assert {r["store_hash"] for r in records} == {STORE_HASH, OTHER_HASH}, stream
    by_store = collections.defaultdict(list)
    for product in run.records("products"):
        by_store[product["store_hash"]].append(product["id"])
    assert sorted(by_store[STORE_HASH]) == first.ids("products")
    assert sorted(by_store[OTHER_HASH]) == second.ids("products")
    assert set(by_store[STORE_HASH]) & set(by_store[OTHER_HASH]), "ids should overlap"
