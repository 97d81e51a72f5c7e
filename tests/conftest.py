"""Shared fixtures."""

from __future__ import annotations

import fcntl
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox store (120 products, 80 customers, 150 orders), stopped afterwards."""
    with Sandbox(Store(seed=1, products=120, customers=80, orders=150)) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _signal_handlers_kept() -> Iterator[None]:
    """A tap made in the test's process installs its SIGTERM and SIGINT handlers: undo it."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in kept.items():
        signal.signal(number, handler)


@pytest.fixture(scope="module")
def meltano_project_alone() -> Iterator[None]:
    """The repository's Meltano plugins for this module alone while it runs.

    The end-to-end modules install the tap into, and run it from, the same plugin venvs
    (`.meltano/`): one reinstalling while another runs breaks the other's run. Under
    `pytest -n 2` they would otherwise overlap; with this, one waits for the other.
    """
    lock = Path(__file__).resolve().parents[1] / ".meltano" / "e2e.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
