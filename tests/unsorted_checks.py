"""Checks shared by the tests of streams read in windows of dates (price lists, metafields).

A stream's records may be spread over places that each keep a bookmark of their own (a price
list, a resource type); `where(stream, record)` names the place of one record, `bookmarks`
maps a STATE value to {place: bookmark}.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tests.taprun import TapRun

Where = t.Callable[[str, dict], t.Any]
Bookmarks = t.Callable[[dict | None], dict[t.Any, str]]


def moment(value: str) -> dt.datetime:
    """An ISO-8601 date as written by the tap."""
    return dt.datetime.fromisoformat(value)


def assert_sorted_and_state_true(
    run: TapRun, where: Where, bookmarks: Bookmarks, incoming: dict | None = None
) -> None:
    """Each place's records come oldest first; no bookmark runs ahead of what was written.

    `where` returns None for records of streams not checked.
    """
    before = {k: moment(v) for k, v in bookmarks(incoming).items()}
    newest: dict[t.Any, dt.datetime] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            place = where(message["stream"], message["record"])
            if place is None:
                continue
            when = moment(message["record"]["date_modified"])
            assert place not in newest or newest[place] <= when, f"{place}: out of order"
            assert place not in before or before[place] <= when, f"{place}: below its bookmark"
            newest[place] = when
        elif message["type"] == "STATE":
            for place, value in bookmarks(message["value"]).items():
                allowed = [m for m in (newest.get(place), before.get(place)) if m is not None]
                assert allowed and moment(value) <= max(allowed), (place, value)


def assert_nothing_lost(want: dict[tuple, dict], got: dict[tuple, dict], label: str) -> None:
    """Every row the sandbox holds (`want`) came out (`got`: the latest written) as it is."""
    missing = sorted(set(want) - set(got))
    assert not missing, f"{label}: never written: {missing[:5]}"
    stale = [k for k in want if got[k]["date_modified"] != want[k]["date_modified"]]
    assert not stale, f"{label}: latest version never written: {stale[:5]}"
