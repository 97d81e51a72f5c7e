"""Shared fixtures."""

from __future__ import annotations

import signal
from collections.abc import Iterator

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
