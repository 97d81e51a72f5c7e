"""A BigCommerce-compatible API server on loopback, for tests, benchmarks and first runs.

>>> from tap_bigcommerce.sandbox import Sandbox, Store
>>> with Sandbox(Store(seed=1, products=10)) as sb:  # doctest: +SKIP
...     print(sb.api_url)
"""

from .faults import Faults
from .server import RequestInfo, Sandbox
from .store import Query, Store

__all__ = ["Faults", "Query", "RequestInfo", "Sandbox", "Store"]
