"""The one HTTP path: every request of every stream goes through `BigCommerceClient.get`.

It owns the auth header, the base URL, pacing by the `X-Rate-Limit-*` headers, retries with
bounded backoff, timeouts, and the mapping of HTTP failures to messages a person can act on.
Nothing here ever formats the API key into a message or a log line.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
import typing as t
from dataclasses import dataclass, field

import msgspec
import requests
import urllib3

from tap_bigcommerce.errors import (
    AuthError,
    BigCommerceError,
    ConfigError,
    RequestRejectedError,
    RetriesExhaustedError,
    RunStopped,
    ScopeError,
    StoreNotFoundError,
    UnreachableError,
)

#: Statuses worth another try: the quota, and the server side being unwell.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: The scope an API account needs for each resource, as the control panel names it.
SCOPE_NAMES = {
    "products": "Products: read-only",
    "customers": "Customers: read-only",
    "orders": "Orders: read-only",
}

_json = msgspec.json.Decoder()

#: Each request in flight needs this many requests per second of the quota to be worth it
#: (one request takes 100-300 ms); a smaller quota gets fewer at once (a Pro plan's 450 per
#: 30 s less a 20 % reserve: 3), and a Standard plan's 150 per 30 s one at a time, where the
#: quota, not the network, sets the pace.
MIN_RATE_PER_SLOT = 4.0


@dataclass(frozen=True)
class StoreConnection:
    """Where a store lives and how to authenticate: one value per store, never global."""

    store_hash: str
    access_token: str = field(repr=False)
    api_url: str = "https://api.bigcommerce.com"

    def url(self, version: str, path: str) -> str:
        """Return the full URL of `path` under the store's `v2` or `v3` API."""
        return f"{self.api_url.rstrip('/')}/stores/{self.store_hash}/{version}/{path.lstrip('/')}"


@dataclass
class RetryPolicy:
    """How often and how long to retry a transient fault."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff, jittered between half and all of it, bounded by `backoff_max`."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


class QuotaPacer:
    """Keeps a store's requests inside its shared quota, across all threads.

    BigCommerce reports on every response how many requests are left in the current window
    and when the window resets. The pacer lets a request start only while more than
    `reserve` of the quota (plus the requests already in flight) would remain, and otherwise
    waits for the reset, so the merchant's other apps keep their share. It also keeps at
    most `slots()` requests under way at once, whichever thread sends them.
    """

    def __init__(
        self,
        reserve: float = 0.0,
        *,
        max_in_flight: int = 8,
        shared: threading.Semaphore | None = None,
    ) -> None:
        """Create a pacer that leaves the fraction `reserve` of each window to other apps.

        `shared`: the slots of a run over many stores, one per request in flight in total;
        each request holds one of its store's and one of these.
        """
        self.reserve = reserve
        self.max_in_flight = max_in_flight
        self._shared = shared
        # Set when the run ends: waits for a slot or for the reset end at once.
        self._stopped = threading.Event()
        self._lock = threading.Condition()
        self._left: int | None = None
        self._quota: int | None = None
        self._window_s: float | None = None
        self._reset_at = 0.0
        self._in_flight = 0

    def rate(self) -> float | None:
        """Requests per second the tap may use, once a response has told the quota."""
        if not self._quota or not self._window_s:
            return None
        return self._quota * (1 - self.reserve) / self._window_s

    def slots(self) -> int:
        """How many requests may be under way at once.

        `max_in_flight`, or fewer once the quota is known and would leave each of them less
        than `MIN_RATE_PER_SLOT` requests per second.
        """
        rate = self.rate()
        if rate is None:
            return self.max_in_flight
        return max(1, min(self.max_in_flight, int(rate / MIN_RATE_PER_SLOT)))

    def _reserved(self) -> int:
        return int(self.reserve * self._quota) if self._quota else 0

    def acquire(self) -> None:
        """Block until a request may start without eating into the reserve."""
        with self._lock:
            while True:
                if self._stopped.is_set():  # the caller sees the run end; it releases the slot
                    self._in_flight += 1
                    break
                now = time.monotonic()
                if self._left is not None and now >= self._reset_at:
                    # The window has rolled over: the quota is whole again.
                    self._left = self._quota
                    self._reset_at = now + (self._window_s or 0.0)
                if self._in_flight >= self.slots():
                    # A slot frees when a request finishes, which notifies.
                    self._lock.wait(timeout=1.0)
                    continue
                if self._left is None or self._left - self._in_flight > self._reserved():
                    self._in_flight += 1
                    break
                wait = max(self._reset_at - now, 0.0) + 0.01
                # Sleep outside the lock would let others race; a Condition wait releases it.
                self._lock.wait(timeout=wait)
        if self._shared is not None:
            # Taken after the store's own slot, never while holding its lock: other stores
            # wait only on requests actually under way.
            self._shared.acquire()

    def release(self, headers: t.Mapping[str, str] | None) -> None:
        """Record a finished request and what its response said about the quota."""
        if self._shared is not None:
            self._shared.release()
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            if headers is not None:
                self._observe(headers)
            self._lock.notify_all()

    def _observe(self, headers: t.Mapping[str, str]) -> None:
        try:
            left = int(headers["X-Rate-Limit-Requests-Left"])
            reset_s = int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000
        except (KeyError, ValueError):
            return
        try:
            self._quota = int(headers["X-Rate-Limit-Requests-Quota"])
            self._window_s = int(headers["X-Rate-Limit-Time-Window-Ms"]) / 1000
        except (KeyError, ValueError):
            self._quota = self._quota or left
        reset_at = time.monotonic() + reset_s
        same_window = self._left is not None and abs(reset_at - self._reset_at) < 1.0
        if same_window and self._left is not None:
            # Responses can arrive out of order: within a window the smallest count is true.
            self._left = min(self._left, left)
        else:
            self._left = left
            self._reset_at = reset_at

    def wait_for_reset(self, seconds: float) -> None:
        """After a 429: nobody may start a request before the window resets."""
        with self._lock:
            self._left = 0
            self._reset_at = max(self._reset_at, time.monotonic() + seconds)
        self._stopped.wait(seconds)

    def stop(self) -> None:
        """End every wait now and from now on (the run is ending): no request waits its turn."""
        self._stopped.set()
        with self._lock:
            self._lock.notify_all()


class _Transient(Exception):  # noqa: N818 - internal signal, never leaves the client
    """A fault worth another try; `wait` is the server's own advice in seconds, if any."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@dataclass
class ClientStats:
    """Counts kept for progress logs and benchmarks."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0


class BigCommerceClient:
    """Sends GET requests to one store, paced, retried, and with errors made readable."""

    def __init__(
        self,
        store: StoreConnection,
        *,
        timeout: float = 60.0,
        user_agent: str = "tap-bigcommerce",
        retry: RetryPolicy | None = None,
        pacer: QuotaPacer | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        """Create a client for `store`; `pacer` is shared by every thread using the store."""
        self.store = store
        self.timeout = timeout
        self.user_agent = user_agent
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or QuotaPacer()
        self.logger = logger or logging.getLogger("tap_bigcommerce")
        self.stats = ClientStats()
        self._local = threading.local()
        # The store's clock at one moment of ours, measured on the monotonic clock so that a
        # jump of the local wall clock cannot move the run's upper bound.
        self._server_clock: tuple[float, float] | None = None
        self._reached = False
        self._cancelled = threading.Event()
        self._stopped_by_signal = False
        # Every thread's session draws on one pool of connections (urllib3's pools are
        # thread-safe): threads come and go with each stream and pass, and over HTTPS each
        # new connection costs a TLS handshake. The pacer never lets more than
        # `max_in_flight` requests (any thread's) be under way at once: the pool keeps that many.
        self._connections = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=self.pacer.max_in_flight, max_retries=0
        )

    def cancel(self) -> None:
        """Make every request under way give up instead of retrying (the run is ending)."""
        self._cancelled.set()
        self.pacer.stop()

    def stop(self) -> None:
        """As `cancel`, for a run stopped by a signal: requests end with `RunStopped`."""
        self._stopped_by_signal = True
        self.cancel()

    def _given_up(self, resource: str) -> BaseException:
        if self._stopped_by_signal:
            return RunStopped(f"{resource}: the run was stopped")
        return BigCommerceError(f"{resource}: stopped, another request failed")

    @property
    def session(self) -> requests.Session:
        """One session per thread: `requests.Session` is not meant to be shared."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            for scheme in ("https://", "http://"):
                session.mount(scheme, self._connections)
            session.headers.update(
                {
                    "X-Auth-Token": self.store.access_token,
                    "Accept": "application/json",
                    "User-Agent": self.user_agent,
                }
            )
            self._local.session = session
        return session

    def server_now(self) -> float | None:
        """The store's clock as a unix time, from the `Date` header, or None before a reply."""
        if self._server_clock is None:
            return None
        server, at = self._server_clock
        return server + (time.monotonic() - at)

    def get(
        self,
        version: str,
        path: str,
        params: t.Mapping[str, t.Any] | None = None,
        *,
        resource: str,
        missing_ok: bool = False,
        decoder: msgspec.json.Decoder[t.Any] | None = None,
    ) -> t.Any:
        """GET a JSON document; return None for HTTP 204. Raise a `BigCommerceError` on failure.

        `resource` names the stream the request serves, so that an error can say which scope
        or endpoint is at fault. `missing_ok`: a 404 means "gone" (an order deleted since it
        was listed) and returns None, instead of "no such store". `decoder`: a typed decoder
        to read the body with; a body it does not fit is decoded as plain JSON instead.
        """
        url = self.store.url(version, path)
        attempt = 0
        while True:
            attempt += 1
            if self._cancelled.is_set():
                raise self._given_up(resource)
            try:
                return self._attempt(url, params, resource, decoder)
            except StoreNotFoundError:
                if missing_ok:
                    return None
                raise
            except _Transient as fault:
                if self._cancelled.is_set():  # no retry, and no failure of its own to tell
                    raise self._given_up(resource) from None
                if attempt > self.retry.max_retries:
                    raise RetriesExhaustedError(
                        f"{resource}: {fault.reason}, still failing after "
                        f"{self.retry.max_retries} retries (GET {_path_only(url)}); the run "
                        "stopped and its state covers only records already written"
                    ) from None
                delay = fault.wait if fault.wait is not None else self.retry.delay(attempt)
                self.stats.retries += 1
                self.logger.warning(
                    "%s: %s; retry %d of %d in %.1f s",
                    resource,
                    fault.reason,
                    attempt,
                    self.retry.max_retries,
                    delay,
                )
                if fault.wait is not None:
                    self.pacer.wait_for_reset(delay)
                else:
                    self._cancelled.wait(delay)

    def _attempt(
        self,
        url: str,
        params: t.Mapping[str, t.Any] | None,
        resource: str,
        decoder: msgspec.json.Decoder[t.Any] | None = None,
    ) -> t.Any:
        """Send the request once; return its document, raise `_Transient` or a fatal error."""
        self.pacer.acquire()
        headers = None
        try:
            if self._cancelled.is_set():  # it may have waited for a slot meanwhile
                raise self._given_up(resource)
            self.stats.requests += 1
            # Never follow a redirect: `requests` would send X-Auth-Token to the new host.
            # The body is read in one call rather than requests' 10 kB chunks (pages of
            # products run to a megabyte).
            response = self.session.get(
                url, params=params, timeout=self.timeout, allow_redirects=False, stream=True
            )
            headers = response.headers
            self._note_server_time(headers)
            self._reached = True
            try:
                body = response.raw.read(decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Transient(f"the response broke off ({type(exc).__name__})") from None
            finally:
                response.close()
        except requests.exceptions.ConnectionError as exc:
            if not self._reached and _is_connect_failure(exc):
                raise UnreachableError(_unreachable_message(self.store.api_url, exc)) from None
            raise _Transient("connection failed or was reset") from None
        except requests.exceptions.Timeout:
            raise _Transient(f"no answer within the {self.timeout:g} s request_timeout") from None
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
            # Raised before anything is sent, and its text would quote the key: no retry.
            raise ConfigError(
                "access_token (or user_agent) cannot be sent as an HTTP header: it has spaces, "
                "line breaks or other characters an API key never has; copy the key again"
            ) from None
        except requests.exceptions.RequestException as exc:
            # ChunkedEncodingError, ContentDecodingError: the body broke off mid-way.
            raise _Transient(f"the response broke off ({type(exc).__name__})") from None
        finally:
            self.pacer.release(headers)
        return self._interpret(response, body, resource, decoder)

    def _interpret(
        self,
        response: requests.Response,
        body: bytes,
        resource: str,
        decoder: msgspec.json.Decoder[t.Any] | None = None,
    ) -> t.Any:
        status = response.status_code
        if status == 204:
            return None
        if 300 <= status < 400:
            raise RequestRejectedError(
                f"{resource}: GET {_path_only(response.url)} answered with a redirect "
                f"(HTTP {status}); the tap follows none, so the API key goes nowhere else: "
                "check api_url"
            )
        if status == 200:
            try:
                if decoder is not None:
                    # Not the shape expected: plain JSON, for the caller to say what it is.
                    with contextlib.suppress(msgspec.ValidationError):
                        return decoder.decode(body)
                return _json.decode(body)
            except (msgspec.DecodeError, UnicodeDecodeError):
                raise _Transient(_not_json_reason(response, body)) from None
        if status == 429:
            self.stats.throttled += 1
            raise _Transient("HTTP 429 (store quota used up)", _retry_after(response.headers))
        if status in RETRYABLE_STATUSES:
            raise _Transient(f"HTTP {status} from BigCommerce")
        raise _status_error(status, response, body, resource, self.store)

    def _note_server_time(self, headers: t.Mapping[str, str]) -> None:
        if self._server_clock is not None:
            return
        date = headers.get("Date")
        if date:
            try:
                server = email.utils.parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                return
            self._server_clock = (server, time.monotonic())


#: The longest wait a 429's headers can ask for when they name no window: BigCommerce's
#: windows are 30 s, so anything far beyond is a broken header, not a reason to stall.
MAX_QUOTA_WAIT_S = 120.0


def _retry_after(headers: t.Mapping[str, str]) -> float | None:
    """Seconds to wait after a 429, from BigCommerce's headers; None when they are absent."""
    wait = _header_seconds(headers, "X-Rate-Limit-Time-Reset-Ms", 1000)
    if wait is None:
        wait = _header_seconds(headers, "X-Retry-After", 1) or _header_seconds(
            headers, "Retry-After", 1
        )
    if wait is None:
        # A 429 without the headers means the platform is under load: back off exponentially.
        return None
    window = _header_seconds(headers, "X-Rate-Limit-Time-Window-Ms", 1000)
    return min(wait + 0.05, 2 * window if window else MAX_QUOTA_WAIT_S)


def _header_seconds(headers: t.Mapping[str, str], name: str, per_second: int) -> float | None:
    try:
        return max(float(headers[name]) / per_second, 0.0)
    except (KeyError, ValueError):
        return None


def _not_json_reason(response: requests.Response, body: bytes) -> str:
    """Why a 200 body could not be read: not JSON at all (a proxy's page), or cut short."""
    kind = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if kind and not kind.endswith("json"):
        return f"the response was not JSON (HTTP 200 with Content-Type {kind[:40]})"
    return f"the response was not complete JSON ({len(body)} bytes)"


def _status_error(
    status: int, response: requests.Response, body: bytes, resource: str, store: StoreConnection
) -> BigCommerceError:
    where = f"GET {_path_only(response.url)}"
    if status == 401:
        return AuthError(
            "BigCommerce rejected the API key (HTTP 401): check access_token "
            f"for store_hash '{store.store_hash}'"
        )
    if status == 403:
        scope = SCOPE_NAMES.get(resource, resource)
        return ScopeError(
            f"the API account has no access to {resource} (HTTP 403 on {where}): give it the "
            f"'{scope}' scope in the control panel, or deselect the {resource} stream; a wrong "
            "store_hash can also cause this"
        )
    if status == 404:
        return StoreNotFoundError(
            f"no store '{store.store_hash}' at {store.api_url} (HTTP 404 on {where}): check "
            "store_hash (the short id in the API path, e.g. 'abc123') and api_url"
        )
    detail = _error_detail(body)
    return RequestRejectedError(f"{resource}: BigCommerce refused {where} (HTTP {status}){detail}")


def _error_detail(raw: bytes) -> str:
    """The API's own words about a rejected request: v3 objects and v2 arrays differ."""
    try:
        body = _json.decode(raw)
    except msgspec.DecodeError:
        return ""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return f": {body[0].get('message', '')}"
    if isinstance(body, dict):
        title = body.get("title", "")
        errors = body.get("errors") or {}
        return f": {title} {errors}".rstrip() if errors else f": {title}"
    return ""


def _path_only(url: str) -> str:
    """The path of a URL without its query string, for messages."""
    after_host = url.split("://", 1)[-1]
    path = "/" + after_host.split("/", 1)[-1] if "/" in after_host else "/"
    return path.split("?", 1)[0]


def _is_connect_failure(exc: requests.exceptions.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "Connection refused")
    )


def _unreachable_message(api_url: str, exc: Exception) -> str:
    reason = "name not found" if "NameResolution" in repr(exc) else "connection refused"
    return f"could not reach {api_url} ({reason}): check api_url and the network"
