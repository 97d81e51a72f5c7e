"""The shared state of many stores: each store's part, merged back, and older states adopted."""

from __future__ import annotations

import threading

from tap_bigcommerce.client import QuotaPacer
from tap_bigcommerce.stores import (
    adopt_unnamed_bookmarks,
    merge_store_state,
    state_of_store,
)


def part(store: str, value: str, **context: object) -> dict:
    return {
        "context": {"store_hash": store, **context},
        "replication_key": "date_modified",
        "replication_key_value": value,
    }


SHARED = {
    "bookmarks": {
        "products": {"partitions": [part("a", "2024-01-01"), part("b", "2024-02-02")]},
        "price_list_records": {
            "partitions": [
                part("a", "2024-03-03", price_list_id=1),
                part("b", "2024-04-04", price_list_id=1),
            ]
        },
    }
}


def test_a_stores_part_holds_its_partitions_only():
    mine = state_of_store(SHARED, "b")
    assert mine == {
        "bookmarks": {
            "products": {"partitions": [part("b", "2024-02-02")]},
            "price_list_records": {"partitions": [part("b", "2024-04-04", price_list_id=1)]},
        }
    }
    assert state_of_store(SHARED, "new") == {"bookmarks": {}}


def test_merging_a_stores_state_moves_no_other_stores_bookmark():
    import copy

    shared = copy.deepcopy(SHARED)
    merge_store_state(
        shared,
        "a",
        {
            "bookmarks": {
                "products": {"partitions": [part("a", "2025-05-05")]},
                "orders": {"partitions": [part("a", "2025-06-06")]},
            }
        },
    )
    products = {
        p["context"]["store_hash"]: p["replication_key_value"]
        for p in shared["bookmarks"]["products"]["partitions"]
    }
    assert products == {"a": "2025-05-05", "b": "2024-02-02"}
    assert shared["bookmarks"]["orders"] == {"partitions": [part("a", "2025-06-06")]}
    assert shared["bookmarks"]["price_list_records"] == SHARED["bookmarks"]["price_list_records"]
    # A store's message that names another store's partition does not change it.
    merge_store_state(shared, "a", {"bookmarks": {"products": {"partitions": [part("b", "1999")]}}})
    assert part("b", "2024-02-02") in shared["bookmarks"]["products"]["partitions"]


def test_bookmarks_of_an_earlier_version_become_the_one_stores():
    state = {
        "bookmarks": {
            "products": {"replication_key": "date_modified", "replication_key_value": "2024-01-01"},
            "price_list_records": {
                "partitions": [
                    {"context": {"price_list_id": 2}, "replication_key_value": "2024-02-02"}
                ]
            },
            "brands": {},
        }
    }
    assert sorted(adopt_unnamed_bookmarks(state, "abc")) == ["price_list_records", "products"]
    assert state["bookmarks"]["products"] == {"partitions": [part("abc", "2024-01-01")]}
    assert state["bookmarks"]["price_list_records"]["partitions"] == [
        {
            "context": {"store_hash": "abc", "price_list_id": 2},
            "replication_key_value": "2024-02-02",
        }
    ]
    assert adopt_unnamed_bookmarks(state, "abc") == []  # once only


def test_requests_in_flight_over_all_stores_keep_to_the_shared_slots():
    shared = threading.BoundedSemaphore(2)
    pacers = [QuotaPacer(max_in_flight=8, shared=shared) for _ in range(3)]
    lock, now, peak = threading.Lock(), [0], [0]
    release = threading.Event()

    def request(pacer: QuotaPacer) -> None:
        pacer.acquire()
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        release.wait(0.05)
        with lock:
            now[0] -= 1
        pacer.release(None)

    threads = [threading.Thread(target=request, args=(p,)) for p in pacers for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


def test_an_earlier_versions_bookmark_never_doubles_a_stores_own():
    # Left behind by a run of many stores, next to the store's own (newer) bookmark.
    legacy = {"replication_key": "date_modified", "replication_key_value": "2020-01-01"}
    state = {"bookmarks": {"products": {**legacy, "partitions": [part("abc", "2024-01-01")]}}}
    assert adopt_unnamed_bookmarks(state, "abc") == ["products"]
    assert state["bookmarks"]["products"] == {"partitions": [part("abc", "2024-01-01")]}
    # The same for a partition of a price list, and only where the store has none.
    unnamed = {"context": {"price_list_id": 1}, "replication_key_value": "2020-01-01"}
    state = {
        "bookmarks": {
            "price_list_records": {
                "partitions": [
                    part("abc", "2024-01-01", price_list_id=1),
                    unnamed,
                    {**unnamed, "context": {"price_list_id": 2}},
                ]
            }
        }
    }
    adopt_unnamed_bookmarks(state, "abc")
    contexts = [p["context"] for p in state["bookmarks"]["price_list_records"]["partitions"]]
    assert contexts == [
        {"store_hash": "abc", "price_list_id": 1},
        {"store_hash": "abc", "price_list_id": 2},
    ]


def test_with_many_stores_an_earlier_versions_bookmarks_are_dropped():
    state = {
        "bookmarks": {
            "products": {
                "replication_key_value": "2020-01-01",
                "partitions": [part("a", "2024-01-01"), {"replication_key_value": "2020"}],
            },
            "orders": {"partitions": [part("b", "2024-02-02")]},
        }
    }
    assert adopt_unnamed_bookmarks(state, None) == ["products"]
    assert state["bookmarks"] == {
        "products": {"partitions": [part("a", "2024-01-01")]},
        "orders": {"partitions": [part("b", "2024-02-02")]},
    }
