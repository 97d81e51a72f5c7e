"""Singer tap for BigCommerce: products, customers and orders."""

from importlib.metadata import PackageNotFoundError, version

#: The name this tap is published under on PyPI. The command stays `tap-bigcommerce` and the
#: package `tap_bigcommerce`; PyPI's `tap-bigcommerce` is another project (singer-io's tap).
DISTRIBUTION = "bigcommerce-singer-tap"

try:
    # The version lives in pyproject.toml only; this is what the installed copy says.
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
