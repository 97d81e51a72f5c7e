"""Singer tap for BigCommerce: products, customers and orders."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tap-bigcommerce")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
