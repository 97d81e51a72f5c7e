"""The tap: its settings, its streams, and the connection check at discovery."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import decimal
import ipaddress
import os
import re
import signal
import sys
import threading
import time
import typing as t
from functools import cached_property
from types import FrameType
from urllib.parse import urlsplit

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_bigcommerce import DISTRIBUTION, __version__, stopping
from tap_bigcommerce.client import (
    BigCommerceClient,
    QuotaPacer,
    RetryPolicy,
    StoreConnection,
)
from tap_bigcommerce.errors import BigCommerceError, ConfigError, RunStopped, ScopeError
from tap_bigcommerce.fleet import Fleet
from tap_bigcommerce.output import StateFlushingWriter
from tap_bigcommerce.records import catalog_keyed_by_store
from tap_bigcommerce.redact import install_redaction
from tap_bigcommerce.stores import (
    adopt_unnamed_bookmarks,
    parse_stores_text,
    store_connections,
    store_entry_errors,
)
from tap_bigcommerce.stream_base import BigCommerceStream
from tap_bigcommerce.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Catalog

STORE_HASH = re.compile(r"^[a-z0-9]{1,32}$")
DEFAULT_API_URL = "https://api.bigcommerce.com"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "store_hash",
        th.StringType,
        title="Store hash",
        description=(
            "The store's short id from the API path "
            "(`https://api.bigcommerce.com/stores/{store_hash}/v3/`), e.g. `abc123`. "
            "Required, unless `stores` names the stores."
        ),
    ),
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access token (API key)",
        description=(
            "The API account's access token, sent as `X-Auth-Token`. Required (or `api_key`)."
        ),
    ),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        title="API key (synonym)",
        description="Another name for `access_token`, as the control panel calls it.",
    ),
    th.Property(
        "stores",
        th.ArrayType(
            th.ObjectType(
                th.Property("store_hash", th.StringType, required=True),
                th.Property("access_token", th.StringType, secret=True),
                th.Property("api_key", th.StringType, secret=True),
                th.Property("api_url", th.StringType),
            )
        ),
        secret=True,  # the entries hold tokens
        title="Stores",
        description=(
            "Many stores in one run, instead of `store_hash` and `access_token`: a list of "
            '`{"store_hash": ..., "access_token": ...}` (`api_url` optional), read side by '
            "side into the same tables. JSON text in `TAP_BIGCOMMERCE_STORES`."
        ),
    ),
    th.Property(
        "max_stores_in_parallel",
        th.IntegerType,
        default=8,
        title="Max stores in parallel",
        description="Stores read at once (1 to 64) when `stores` names many.",
    ),
    th.Property(
        "max_requests_in_flight_total",
        th.IntegerType,
        default=32,
        title="Max requests in flight, all stores",
        description=(
            "Requests under way at once over all stores (1 to 256); each store also keeps "
            "to its own `max_requests_in_flight` and quota."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="Read records modified at or after this time on the first run.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the API. Plain `http` is refused except for loopback hosts.",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=250,
        title="Page size",
        description="Records per request, 1 to 250 (the API's maximum).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        title="Request timeout",
        description="Seconds to wait for one response before retrying it.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=5,
        title="Max retries",
        description="Retries of one request on 429, 5xx, resets, timeouts and broken bodies.",
    ),
    th.Property(
        "retry_backoff_base",
        th.NumberType,
        default=1.0,
        title="Retry backoff base",
        description="Seconds before the first retry; doubles on each retry (with jitter).",
    ),
    th.Property(
        "retry_backoff_max",
        th.NumberType,
        default=60.0,
        title="Retry backoff max",
        description="Upper bound in seconds of one retry wait.",
    ),
    th.Property(
        "quota_reserve",
        th.NumberType,
        default=0.2,
        title="Quota reserve",
        description=(
            "Share (0 to 0.9) of the store's API quota left to the merchant's other apps: "
            "the tap waits for the quota window to reset rather than use it."
        ),
    ),
    th.Property(
        "max_requests_in_flight",
        th.IntegerType,
        default=8,
        title="Max requests in flight",
        description=(
            "Requests under way at once (1 to 16), when the store's quota leaves room "
            "for it (4 requests a second each); all of them share the one quota pacing. "
            "Orders, heavy with line items, are read in only as many parts at once as "
            "hold about 1,000 orders."
        ),
    ),
    th.Property(
        "include_archived_orders",
        th.BooleanType,
        default=False,
        title="Include archived orders",
        description=(
            "Also read archived (deleted) orders, with `is_deleted` true, so a warehouse can "
            "mark them."
        ),
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User agent",
        description="`User-Agent` header; defaults to `tap-bigcommerce/<version>`.",
    ),
).to_dict()


def validate_settings(config: t.Mapping[str, t.Any]) -> list[str]:
    """Return one readable line per bad setting; never echo a secret's value."""
    if config.get("stores") is not None:
        errors = store_entry_errors(config, _store_errors)
        errors.extend(_check_api_url(config.get("api_url", DEFAULT_API_URL)))
    else:
        errors = _store_errors(config)
    errors.extend(_check_number(config, "page_size", 1, 250, integer=True))
    errors.extend(_check_number(config, "request_timeout", 0.001, 3600))
    errors.extend(_check_number(config, "max_retries", 0, 100, integer=True))
    errors.extend(_check_number(config, "retry_backoff_base", 0, 3600))
    errors.extend(_check_number(config, "retry_backoff_max", 0, 3600))
    errors.extend(_check_number(config, "quota_reserve", 0, 0.9))
    errors.extend(_check_number(config, "max_requests_in_flight", 1, 16, integer=True))
    errors.extend(_check_number(config, "max_stores_in_parallel", 1, 64, integer=True))
    errors.extend(_check_number(config, "max_requests_in_flight_total", 1, 256, integer=True))
    start = config.get("start_date")
    if start is not None:
        try:
            dt.datetime.fromisoformat(str(start))
        except ValueError:
            errors.append(
                f"start_date must be an ISO-8601 date or time such as 2024-01-31T00:00:00Z "
                f"(got {str(start)[:40]!r})"
            )
    return errors


def _store_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """The problems with one store's settings: its hash, its token, its API URL."""
    errors: list[str] = []
    store_hash = config.get("store_hash")
    if not store_hash:
        errors.append("store_hash is required (the short id in the API path, e.g. 'abc123')")
    elif not isinstance(store_hash, str) or not STORE_HASH.match(store_hash):
        errors.append(
            "store_hash must be the short id from the API path: 1-32 lowercase letters and "
            f"digits, without 'stores/' or 'store-' (got {str(store_hash)[:40]!r})"
        )
    given = [config[k] for k in ("access_token", "api_key") if config.get(k) is not None]
    tokens = [v for v in given if isinstance(v, str) and v.strip()]
    if not tokens or len(tokens) < len(given):
        errors.append("access_token (or its synonym api_key) is required and must be non-empty")
    elif len(set(tokens)) > 1:
        errors.append("access_token and api_key are both set and differ: set only one")
    elif not all(_looks_like_a_key(v) for v in tokens):
        errors.append(
            "access_token must be the key exactly as the control panel shows it: no spaces, "
            "line breaks or non-ASCII characters"
        )
    if "api_url" in config:
        errors.extend(_check_api_url(config["api_url"]))
    return errors


def _looks_like_a_key(value: str) -> bool:
    """An API key is printable ASCII without spaces; anything else was pasted wrongly."""
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)


#: Settings that are numbers; Meltano hands over settings without a `kind` as text.
NUMBER_SETTINGS = {
    "page_size": int,
    "max_retries": int,
    "max_requests_in_flight": int,
    "max_stores_in_parallel": int,
    "max_requests_in_flight_total": int,
    "request_timeout": float,
    "retry_backoff_base": float,
    "retry_backoff_max": float,
    "quota_reserve": float,
}


def _coerce_numbers(config: dict[str, t.Any]) -> None:
    """Turn numbers written as text ("30", "0.25") into numbers; leave anything else.

    An empty `start_date` is no start_date: `TAP_BIGCOMMERCE_START_DATE=` unsets the one an
    environment sets, as a full refresh that reconciles deletions needs (README, Deletes).
    """
    if config.get("start_date") in ("", None):
        config.pop("start_date", None)
    parse_stores_text(config)
    for name, kind in NUMBER_SETTINGS.items():
        value = config.get(name)
        if isinstance(value, str):
            # A value that is not a number stays text; validation then names it.
            with contextlib.suppress(ValueError):
                config[name] = kind(value.strip())


def _check_api_url(value: t.Any) -> list[str]:
    if not isinstance(value, str):
        return ["api_url must be a URL such as https://api.bigcommerce.com"]
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [f"api_url must be a URL such as https://api.bigcommerce.com (got {value!r})"]
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return [
            f"api_url {value!r} uses plain http, which would send the API key unencrypted: "
            "use https (http is allowed only for loopback hosts such as the sandbox)"
        ]
    if parts.query or parts.fragment:
        return [f"api_url must not carry a query or fragment (got {value!r})"]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_number(
    config: t.Mapping[str, t.Any], name: str, low: float, high: float, *, integer: bool = False
) -> list[str]:
    value = config.get(name)
    if value is None:
        return []
    kind = "a whole number" if integer else "a number"
    # Config files are parsed with Decimal for fractions.
    valid = isinstance(value, int) if integer else isinstance(value, (int, float, decimal.Decimal))
    if isinstance(value, bool) or not valid or not low <= value <= high:
        return [f"{name} must be {kind} from {low:g} to {high:g} (got {value!r})"]
    return []


class TapBigCommerce(Tap):
    """Singer tap for a BigCommerce store's products, customers and orders."""

    name = "tap-bigcommerce"
    #: The distribution the SDK reads metadata of (--about: supported Python versions).
    package_name = DISTRIBUTION
    config_jsonschema = CONFIG_SCHEMA
    # Discovery checks the connection, so it must validate the settings first.
    dynamic_catalog = True
    message_writer_class = StateFlushingWriter

    @classmethod
    def get_plugin_version(cls) -> str:
        """The version `--about` prints: the installed distribution's, as in the User-Agent."""
        return __version__

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Our own checks first: their messages say what to fix and never echo the key,
        # unlike generic JSON Schema messages.
        _coerce_numbers(self._config)
        install_redaction(self.config)
        errors = validate_settings(self.config)
        if errors and raise_errors:
            # Not the SDK's ConfigValidationError: `main` prints ours as plain lines.
            raise ConfigError("\n".join(errors))
        return errors or super()._validate_config(raise_errors=raise_errors)

    #: The slots of a run over many stores (`fleet.py`): requests in flight in total.
    shared_slots: threading.Semaphore | None = None

    @cached_property
    def store_list(self) -> list[StoreConnection]:
        """Every store the settings name (one, or those of `stores`), in order."""
        return store_connections(self.config, DEFAULT_API_URL)

    @property
    def many_stores(self) -> bool:
        """Whether the run reads several stores, each by a tap of its own (`fleet.py`)."""
        return len(self.store_list) > 1

    @cached_property
    def store(self) -> StoreConnection:
        """The store this tap reads (with many stores, each has a tap of its own)."""
        if self.many_stores:
            raise RuntimeError("a run over many stores reads each with a tap of its own")
        return self.store_list[0]

    @cached_property
    def run_version(self) -> int:
        """The version of every table this run reads whole, the same in every store."""
        return time.time_ns() // 1_000_000

    def setup_mapper(self) -> None:
        """Set up the stream maps, from a catalog whose keys all start with `store_hash`.

        (The SDK's mapper writes the SCHEMA messages from the catalog given, and each stream
        takes its key from it: an old catalog is brought up to date first, once.)
        """
        if self._input_catalog is not None:
            self._input_catalog = catalog_keyed_by_store(self._input_catalog)
        super().setup_mapper()

    @property
    def input_catalog(self) -> Catalog | None:
        """The catalog given with `--catalog` (or by Meltano), if any."""
        return self._input_catalog

    @property
    def client(self) -> BigCommerceClient:
        """The one HTTP client (and quota pacer) that every stream shares."""
        client = self.__dict__.get("_client")
        if client is None:
            # Kept first, then the stop looked at; `stop_reading` does the two the other way
            # round: so one of them sees the other, and a stop never misses a new client.
            client = self.__dict__.setdefault("_client", self._new_client())
            if self._stop_requested:
                client.stop()
        return t.cast("BigCommerceClient", client)

    def _new_client(self) -> BigCommerceClient:
        return BigCommerceClient(
            self.store,
            timeout=float(self.config.get("request_timeout", 60)),
            user_agent=self.config.get("user_agent") or f"tap-bigcommerce/{__version__}",
            retry=RetryPolicy(
                max_retries=int(self.config.get("max_retries", 5)),
                backoff_base=float(self.config.get("retry_backoff_base", 1.0)),
                backoff_max=float(self.config.get("retry_backoff_max", 60.0)),
            ),
            pacer=QuotaPacer(
                reserve=float(self.config.get("quota_reserve", 0.2)),
                max_in_flight=int(self.config.get("max_requests_in_flight", 8)),
                shared=self.shared_slots,
            ),
            logger=self.logger,
        )

    def discover_streams(self) -> list[Stream]:
        """Return the streams; schemas are static files, so this makes no request."""
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def check_connection(self) -> None:
        """One `limit=1` request per stream on its own endpoint, with its own scope.

        `/v2/store` and `/v2/time` would need a scope a least-privilege key lacks.
        Raises a `BigCommerceError` naming what to fix. With many stores, every store is
        checked; one that fails is a warning (its sync will fail alone), all failing an error.
        """
        if self.many_stores:
            self._new_fleet().check()
            return
        for stream in self.streams.values():
            if isinstance(stream, BigCommerceStream):
                try:
                    stream.fetch_page({"limit": 1})
                except ScopeError:
                    if stream.strict_scope:
                        raise
                    self.logger.warning(
                        "%s: the API account lacks the '%s' scope; the stream will be skipped",
                        stream.name,
                        stream.scope,
                    )
        self.logger.info("Connected to store '%s'", self.store.store_hash)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load the state; bookmarks from before stores were named are the one store's."""
        super().load_state(state)
        if not self.many_stores:
            moved = adopt_unnamed_bookmarks(self.state, self.store.store_hash)
            if moved:
                self.logger.info(
                    "Bookmarks of %s from an earlier version are now store '%s''s (where it had "
                    "none of its own)",
                    ", ".join(moved),
                    self.store.store_hash,
                )
        elif unnamed := adopt_unnamed_bookmarks(self.state, None):
            self.logger.warning(
                "The state holds bookmarks of no named store (%s), from a run of one store by "
                "an earlier version: with many stores they belong to none, so they are dropped "
                "and those streams are read from start_date (a first run of this version with "
                "only that store configured would have kept them as its)",
                ", ".join(unnamed),
            )

    def sync_all(self) -> None:  # type: ignore[misc] # final in the SDK; the base is called
        """Sync every selected stream; with many stores, every store's, side by side.

        Stopped by a signal, it ends with the last STATE and exits 128 plus its number.
        """
        with self._stoppable(
            "The last STATE covers every record written: the next run goes on from it"
        ):
            if self.many_stores:
                self._new_fleet().sync()
            else:
                super().sync_all()

    #: The run over many stores under way, if any (a signal stops it).
    _fleet: Fleet | None = None
    #: The signal that asked the run to stop, once one has (the tap that received it).
    _stop_signal: int | None = None
    #: Set by `stop_reading` (a store's tap, by its fleet).
    _stopping = False

    @property
    def _stop_requested(self) -> bool:
        return self._stopping or self._stop_signal is not None

    def _new_fleet(self) -> Fleet:
        self._fleet = Fleet(self)
        if self._stop_requested:  # a signal came before the fleet was set up
            self._fleet.stop()
        return self._fleet

    def _setup_signal_handlers(self) -> None:
        """The SDK's handlers (`_handle_termination`), and the thread that does the stopping."""
        if threading.current_thread() is threading.main_thread():
            stopping.start()
        super()._setup_signal_handlers()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT: have the run stop, at the next request of every thread.

        The SDK's handler writes the state and exits at once, from wherever the main thread
        was: in the middle of writing a line, or (many stores) in a wait that then lets every
        store run to its end. Here the signal is noted, and the stopper thread (`stopping`)
        stops the reading: each store's requests end with `RunStopped`, and `sync_all` ends
        the run with the last STATE and exit 128 + signum. A second signal changes nothing
        (SIGKILL ends the run at once, and loses nothing either).
        """
        if self._stop_signal is None:
            self._stop_signal = signum  # from here on, no new client or fleet may read
            stopping.request_stop(self, signum)

    def stop_reading(self) -> None:
        """Have every request from now on, in every thread and store, end with `RunStopped`."""
        self._stopping = True
        if self._fleet is not None:
            self._fleet.stop()
        client = self.__dict__.get("_client")
        if client is not None:
            client.stop()

    @contextlib.contextmanager
    def _stoppable(self, outcome: str) -> t.Iterator[None]:
        """Turn the end of a run that a signal stopped into its STATE, a line and an exit.

        Whatever ends the run once the signal came (the stop itself, a request that was
        failing anyway, or nothing: the last request was made) ends it as stopped.
        `outcome`: what the line says the stop leaves behind.
        """
        try:
            yield
        except (RunStopped, Exception):
            if self._stop_signal is None:  # no signal here (a store's tap: its fleet's)
                raise
        if self._stop_signal is None:
            return
        fleet = self._fleet
        if fleet is None and isinstance(self.message_writer, StateFlushingWriter):
            # The fleet writes its own; one store's state in memory may be ahead of
            # child rows still to come, the last STATE written never is.
            self.message_writer.end_with_last_state()
        unfinished = fleet.unfinished if fleet else []
        self.logger.warning(
            "Stopped by %s%s. %s",
            signal.Signals(self._stop_signal).name,
            f"; stores not finished: {', '.join(unfinished)}" if unfinished else "",
            outcome,
        )
        raise SystemExit(128 + self._stop_signal)

    def run_discovery(self) -> str:
        """Check the connection, then print the catalog."""
        with self._stoppable("No catalog was written"):
            self.check_connection()
        return super().run_discovery()


#: glibc's `mallopt` parameter for the size from which allocations are mapped from the OS.
_M_MMAP_THRESHOLD = -3


def _return_freed_bodies_to_the_os() -> None:
    """Have glibc map allocations of 256 kB and more (response bodies) straight from the OS.

    By default glibc raises that threshold as large blocks are freed; megabyte bodies then
    come from the worker threads' heaps, which keep growing over a long sync (measured: peak
    RSS 72 MB at 10k products, 87 MB at 100k). With the threshold fixed, a freed body goes
    back to the OS and memory stays flat (67 and 68 MB). Elsewhere (macOS, Windows) nothing
    changes, and a threshold the user set (`MALLOC_MMAP_THRESHOLD_`, `GLIBC_TUNABLES`) stays.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library to ask, or no mallopt in it
        return
    mallopt(_M_MMAP_THRESHOLD, 256 * 1024)


def main() -> None:
    """Console entry point: a `BigCommerceError` ends the run with one line, not a traceback."""
    _return_freed_bodies_to_the_os()
    try:
        TapBigCommerce.cli()
    except BigCommerceError as exc:
        for line in str(exc).splitlines():
            print(f"tap-bigcommerce: error: {line}", file=sys.stderr)
        sys.exit(1)
    except RunStopped:  # a stop outside a sync or discovery (`--test`)
        signum = stopping.received or signal.SIGTERM
        print(f"tap-bigcommerce: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        sys.exit(128 + signum)


__all__ = ["ConfigError", "TapBigCommerce", "main"]

if __name__ == "__main__":
    main()
