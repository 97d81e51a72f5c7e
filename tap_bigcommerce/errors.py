"""Errors the tap raises, each with a message a person can act on.

Every message is built by the tap itself from the status code, the store hash and the
stream name, so no message can ever carry the API key.
"""

from __future__ import annotations


class BigCommerceError(Exception):
    """Base class: the run cannot go on; the message says what to fix."""


class ConfigError(BigCommerceError):
    """A setting is missing or malformed."""


class AuthError(BigCommerceError):
    """HTTP 401: BigCommerce did not accept the API key."""


class ScopeError(BigCommerceError):
    """HTTP 403: the API account lacks the scope a stream needs."""


class StoreNotFoundError(BigCommerceError):
    """HTTP 404 on a list endpoint: the store hash (or API URL) is wrong."""


class RequestRejectedError(BigCommerceError):
    """A 4xx other than 401/403/404/429: the request itself is wrong."""


class UnreachableError(BigCommerceError):
    """The API host could not be reached at all."""


class RetriesExhaustedError(BigCommerceError):
    """A transient fault (429, 5xx, reset, timeout, bad body) persisted past the retries."""


class BadResponseError(BigCommerceError):
    """The API answered, but not with what its documentation promises."""


class RunStopped(BaseException):
    """A signal stopped the run: work under way ends with this, and nothing logs it as a fault.

    A `BaseException`, like the `SystemExit` the signal raises in the main thread, so that
    handlers of errors (which log them and call the stream's read failed) let it pass.
    """
