"""The SDK's standard tap tests, against a sandbox store started for this module."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.tap import TapBigCommerce
from tests.taprun import STORE_HASH, TOKEN, sandbox_config

# The standard test class is built at import time and needs the store's URL then.
_sandbox = Sandbox(
    Store(seed=3, products=30, customers=30, orders=40, plateau=0),
    store_hash=STORE_HASH,
    access_token=TOKEN,
    port=0,
)
_sandbox.start()
atexit.register(_sandbox.stop)


def _every_stream_selected() -> dict:
    """The discovered catalog with every stream selected, the opt-in ones too."""
    catalog = TapBigCommerce(config=sandbox_config(_sandbox.api_url), parse_env_config=False)
    discovered = catalog.catalog_dict
    for stream in discovered["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    return discovered


TestTapBigCommerce = get_tap_test_class(
    TapBigCommerce,
    config=sandbox_config(_sandbox.api_url),
    catalog=_every_stream_selected(),
    parse_env_config=False,
    suite_config=SuiteConfig(max_records_limit=None),
)
