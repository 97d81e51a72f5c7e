"""Which stores a run reads, and each store's share of the one Singer state.

The settings name either one store (`store_hash` and `access_token`) or many (`stores`, a
list of `{store_hash, access_token}`); one store is a list of one. Every bookmark sits in a
state partition whose context starts with the store's `store_hash`, so stores share one
state document without one store's bookmark ever moving another's.
"""

from __future__ import annotations

import copy
import json
import typing as t

from tap_bigcommerce.client import StoreConnection

#: The settings that name one store; in `stores`, each entry has them.
STORE_SETTINGS = ("store_hash", "access_token", "api_key", "api_url")

#: A Singer state document (the SDK's `TapState`).
State = t.Any


def parse_stores_text(config: dict[str, t.Any]) -> None:
    """`stores` given as JSON text (`TAP_BIGCOMMERCE_STORES`) becomes the list it spells.

    Text that is not JSON stays text; validation then says so (without quoting it: it holds
    tokens).
    """
    value = config.get("stores")
    if isinstance(value, str):
        try:
            config["stores"] = json.loads(value)
        except ValueError:
            return


def store_entry_errors(
    config: t.Mapping[str, t.Any],
    check_one: t.Callable[[t.Mapping[str, t.Any]], list[str]],
) -> list[str]:
    """One line per problem with the `stores` setting; `check_one` checks one entry.

    A line names the entry by position and store hash, never by its token.
    """
    stores = config.get("stores")
    if stores is None:
        return []
    single = [name for name in ("store_hash", "access_token", "api_key") if config.get(name)]
    if single:
        return [
            f"stores and {', '.join(single)} are both set: name the stores either in `stores` "
            "or with store_hash and access_token, not both"
        ]
    if not isinstance(stores, list):
        return [
            "stores must be a list of objects such as "
            '[{"store_hash": "abc123", "access_token": "..."}] (JSON in TAP_BIGCOMMERCE_STORES)'
        ]
    if not stores:
        return ["stores is an empty list: name at least one store"]
    errors: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(stores, start=1):
        if not isinstance(entry, dict):
            errors.append(
                f"stores entry {number} must be an object with store_hash and access_token"
            )
            continue
        name = f"stores entry {number}"
        if isinstance(entry.get("store_hash"), str):
            name += f" (store_hash {entry['store_hash'][:40]!r})"
        unknown = sorted(set(entry) - set(STORE_SETTINGS))
        if unknown:
            errors.append(
                f"{name}: unknown settings {', '.join(map(repr, unknown))}; an entry takes "
                f"{', '.join(STORE_SETTINGS)}"
            )
        errors.extend(f"{name}: {line}" for line in check_one(entry))
        store_hash = entry.get("store_hash")
        if isinstance(store_hash, str):
            if store_hash in seen:
                errors.append(f"{name}: the store_hash is listed twice; list each store once")
            seen.add(store_hash)
    return errors


def store_connections(config: t.Mapping[str, t.Any], default_api_url: str) -> list[StoreConnection]:
    """The stores the settings name, in their order (validated already)."""
    entries: list[t.Mapping[str, t.Any]] = config.get("stores") or [config]
    return [
        StoreConnection(
            store_hash=str(entry.get("store_hash", "")),
            access_token=str(entry.get("access_token") or entry.get("api_key") or ""),
            api_url=str(entry.get("api_url") or config.get("api_url") or default_api_url),
        )
        for entry in entries
    ]


def _store_of(partition: t.Mapping[str, t.Any]) -> t.Any:
    return (partition.get("context") or {}).get("store_hash")


def _has_bookmark(stream_state: t.Mapping[str, t.Any]) -> bool:
    keys = ("replication_key_value", "progress_markers")
    return any(stream_state.get(key) is not None for key in keys) or any(
        _store_of(p) is None for p in stream_state.get("partitions") or []
    )


def adopt_unnamed_bookmarks(state: State, store_hash: str | None) -> list[str]:
    """Move bookmarks written before stores were named into `store_hash`'s partitions.

    A state from a version without `store_hash` holds one bookmark per stream (or per price
    list); with one store configured, they are that store's, except where it has a bookmark
    of its own already (a later run wrote it: it is newer). With many stores
    (`store_hash` None) they are no store's and are dropped. Either way none stays, so the
    SDK never sees two partitions of one context. Changes `state` in place and returns the
    streams that had one.
    """
    moved = []
    for name, stream_state in (state.get("bookmarks") or {}).items():
        if not isinstance(stream_state, dict) or not _has_bookmark(stream_state):
            continue
        every = stream_state.get("partitions") or []
        partitions = [p for p in every if _store_of(p) is not None]
        named = [p.get("context") for p in partitions]
        bookmark = {
            key: stream_state.pop(key)
            for key in ("replication_key", "replication_key_value", "progress_markers")
            if key in stream_state
        }
        unnamed = [p for p in every if _store_of(p) is None]
        if bookmark.get("replication_key_value") is not None:
            unnamed.append(bookmark)
        for partition in unnamed if store_hash is not None else []:
            context = {"store_hash": store_hash, **(partition.get("context") or {})}
            if context not in named:
                partitions.append({**partition, "context": context})
                named.append(context)
        stream_state["partitions"] = partitions
        moved.append(name)
    return moved


def state_of_store(state: State, store_hash: str) -> State:
    """The part of the shared state that is `store_hash`'s: its partitions, nothing else."""
    bookmarks: dict[str, t.Any] = {}
    for name, stream_state in (state.get("bookmarks") or {}).items():
        mine = [
            copy.deepcopy(p)
            for p in (stream_state or {}).get("partitions") or []
            if _store_of(p) == store_hash
        ]
        if mine:
            bookmarks[name] = {"partitions": mine}
    return {"bookmarks": bookmarks}


def merge_store_state(state: State, store_hash: str, store_state: t.Mapping[str, t.Any]) -> None:
    """Put `store_hash`'s own state (a STATE message of its run) into the shared `state`.

    Its partitions replace that store's, in place (every other store's stay as they were);
    what a stream keeps outside partitions (child streams, which have no bookmark of their
    own) is taken as it is.
    """
    bookmarks = state.setdefault("bookmarks", {})
    for name, stream_state in (store_state.get("bookmarks") or {}).items():
        shared = bookmarks.setdefault(name, {})
        for key, value in stream_state.items():
            if key != "partitions":
                shared[key] = copy.deepcopy(value)
        theirs = [p for p in stream_state.get("partitions") or [] if _store_of(p) == store_hash]
        if not theirs and "partitions" not in shared:
            continue
        kept = [p for p in shared.get("partitions") or [] if _store_of(p) != store_hash]
        shared["partitions"] = kept + copy.deepcopy(theirs)
