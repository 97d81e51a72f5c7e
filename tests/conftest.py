"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tap_bigcommerce.sandbox import Sandbox, Store


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox store (120 products, 80 customers, 150 orders), stopped afterwards."""
    with Sandbox(Store(seed=1, products=120, customers=80, orders=150)) as sb:
        yield sb
