"""A run over many stores: each store read by a tap of its own, side by side, one output.

Every store gets its own `TapBigCommerce` (its own client and quota pacer: quotas are per
store) running in a thread, at most `max_stores_in_parallel` at once, every request of all
of them within `max_requests_in_flight_total`. Their messages meet in one `Fleet`, which
writes them as one valid Singer stream:

- SCHEMA once per stream; RECORDs as they come (one stream's records from many stores
  interleave);
- STATE: the store's partitions put into the shared state, which is written whole (at most
  every `STATE_EVERY_S`, and when a store ends: it grows with every store); each store's
  part in it covers only what that store has written;
- ACTIVATE_VERSION of a stream only once every store has read it whole (each says so with
  its own message, all with the run's one version), since a target applies it to the whole
  table, every store's rows: a store that failed, was skipped or read only what changed
  would otherwise have its rows marked deleted.

A store that fails does not stop the others; the run ends with one line per failed store.
A signal (SIGTERM, SIGINT) stops them all: no request starts after it, stores not begun are
not begun, nothing more is written, and the last STATE covers every record that was.
"""

from __future__ import annotations

import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor, as_completed

from singer_sdk.singerlib import ActivateVersionMessage, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding.base import GenericSingerWriter

from tap_bigcommerce.errors import BigCommerceError, RunStopped
from tap_bigcommerce.redact import redact
from tap_bigcommerce.store_context import working_for
from tap_bigcommerce.stores import merge_store_state, state_of_store

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message

    from tap_bigcommerce.client import StoreConnection
    from tap_bigcommerce.tap import TapBigCommerce


class StoresFailedError(BigCommerceError):
    """Some stores could not be read; the others were, and their state is written."""


class _StoreWriter(GenericSingerWriter):  # type: ignore[type-arg]
    """What one store's tap writes, handed to the fleet."""

    def __init__(self, fleet: Fleet, store_hash: str) -> None:
        self.fleet = fleet
        self.store_hash = store_hash

    def serialize_message(self, message: Message) -> str:  # pragma: no cover - never asked
        raise NotImplementedError

    def write_message(self, message: Message) -> None:
        self.fleet.take(self.store_hash, message)


def failure_line(exc: BaseException) -> str:
    """What went wrong, in one line: the tap's own message, or the error's type and text."""
    text = str(exc) if isinstance(exc, BigCommerceError) else f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()) or type(exc).__name__)


class Fleet:
    """The stores of one run, read side by side into one Singer output."""

    #: Seconds between two writes of the shared state: each holds every store's bookmarks.
    STATE_EVERY_S = 1.0

    def __init__(self, tap: TapBigCommerce) -> None:
        """Read the stores of `tap`'s settings; `tap` writes the output and holds the state."""
        self.tap = tap
        self.stores = tap.store_list
        config = tap.config
        self.parallel = int(config.get("max_stores_in_parallel", 8))
        self.slots = threading.BoundedSemaphore(int(config.get("max_requests_in_flight_total", 32)))
        self._lock = threading.RLock()
        self._schemas: set[str] = set()
        self._activated: dict[str, set[str]] = {}
        self.failures: dict[str, str] = {}
        #: The taps of the stores being read now, by store_hash (to stop them).
        self._running: dict[str, TapBigCommerce] = {}
        #: The stores whose work ended, read to the end or failed (not stopped).
        self._ended: set[str] = set()
        #: Set by `stop`: from then on nothing is read and nothing written.
        self.stopped = False
        self._state_written_at = float("-inf")
        self._state_unwritten = False

    def store_tap(self, store: StoreConnection, *, state: dict | None) -> TapBigCommerce:
        """A tap for one store: the run's settings, with that store's connection."""
        settings = {k: v for k, v in self.tap.config.items() if k != "stores"}
        settings.update(
            store_hash=store.store_hash, access_token=store.access_token, api_url=store.api_url
        )
        settings.pop("api_key", None)
        one = type(self.tap)(
            config=settings,
            catalog=self.tap.input_catalog,
            state=state,
            parse_env_config=False,
            message_writer=_StoreWriter(self, store.store_hash),
        )
        one.run_version = self.tap.run_version
        one.shared_slots = self.slots
        return one

    # -------------------------------------------------------------- the output

    def take(self, store_hash: str, message: Message) -> None:
        """Write one store's message, as its kind requires (see the module's docstring)."""
        with self._lock:
            if self.stopped:  # the last STATE covers what was written before: drop the rest
                return
            if isinstance(message, StateMessage):
                merge_store_state(self.tap.state, store_hash, message.value)
                self._state_unwritten = True
                if time.monotonic() - self._state_written_at >= self.STATE_EVERY_S:
                    self._write_state()
            elif isinstance(message, SchemaMessage):
                if message.stream not in self._schemas:
                    self._schemas.add(message.stream)
                    self.tap.write_message(message)
            elif isinstance(message, ActivateVersionMessage):
                stores = self._activated.setdefault(message.stream, set())
                stores.add(store_hash)
                if len(stores) == len(self.stores):
                    self.tap.write_message(message)
                    with working_for(None):  # about every store, not the last one's
                        self.tap.logger.info(
                            "%s: every store was read whole: rows no store still has are "
                            "marked deleted",
                            message.stream,
                        )
            else:
                self.tap.write_message(message)

    # -------------------------------------------------------------- the run

    def sync(self) -> None:
        """Read every store; raise `StoresFailedError` at the end if any failed.

        Stopped (`stop`), it raises `RunStopped` once the stores' threads have ended.
        """
        self.tap.logger.info(
            "Reading %d stores, %d at a time",
            len(self.stores),
            min(self.parallel, len(self.stores)),
        )
        try:
            self.each(self._sync_one, log_failures=True)
        finally:  # also when stopped by a signal, once the stores' threads have ended
            with self._lock:
                self._write_state()
        if self.stopped:
            raise RunStopped("the run was stopped")
        self._raise_failures("could not be read; the other stores were read and their state kept")

    def check(self) -> None:
        """The connection check of discovery, for every store; fails only if none connects."""
        self.each(self._check_one)
        if self.stopped:
            raise RunStopped("the run was stopped")
        if len(self.failures) == len(self.stores):
            self._raise_failures("could not be reached")
        for store_hash, line in self.failures.items():
            self.tap.logger.warning("store '%s' failed the connection check: %s", store_hash, line)
        self.failures.clear()

    def each(
        self, work: t.Callable[[StoreConnection], None], *, log_failures: bool = False
    ) -> None:
        """`work(store)` for every store, `max_stores_in_parallel` at once; failures noted."""

        def one(store: StoreConnection) -> None:
            try:
                with working_for(store.store_hash):
                    work(store)
            except RunStopped:  # a signal: not a failure of the store's
                return
            except Exception as exc:  # one store's failure is reported, the others go on
                if self.stopped:  # whatever it was, the stop came first
                    return
                line = failure_line(exc)
                self.failures[store.store_hash] = line
                if log_failures:  # as it happens; the run's last lines repeat it
                    self.tap.logger.error("store '%s' failed: %s", store.store_hash, line)
                if not isinstance(exc, BigCommerceError):  # not foreseen: where it came from
                    self.tap.logger.debug("store '%s' failed here:", store.store_hash, exc_info=exc)
            if not self.stopped:
                self._ended.add(store.store_hash)

        with ThreadPoolExecutor(self.parallel, thread_name_prefix="store") as pool:
            for done in as_completed([pool.submit(one, store) for store in self.stores]):
                done.result()

    def stop(self) -> None:
        """Stop the run (a signal, by way of `stopping`): no request from now on, no store begins.

        Flags only, and no lock: a store's thread may hold the fleet's for long while it
        writes to a target that reads slowly. The stores' threads end at their next request;
        `sync` then writes the last STATE, which covers every record written.
        """
        self.stopped = True
        for one in list(self._running.values()):
            one.stop_reading()

    @property
    def unfinished(self) -> list[str]:
        """The stores that were neither read to the end nor failed, in order."""
        return [s.store_hash for s in self.stores if s.store_hash not in self._ended]

    def _sync_one(self, store: StoreConnection) -> None:
        self._with_tap(store, lambda one: one.sync_all(), with_state=True)

    def _check_one(self, store: StoreConnection) -> None:
        self._with_tap(store, lambda one: one.check_connection(), with_state=False)

    def _with_tap(
        self,
        store: StoreConnection,
        work: t.Callable[[TapBigCommerce], None],
        *,
        with_state: bool,
    ) -> None:
        """`work(tap)` with a tap of `store` (given its state, if `with_state`)."""
        one = self._started(store, with_state=with_state)
        if one is None:
            return
        try:
            work(one)
        finally:
            with self._lock:
                del self._running[store.store_hash]
                if self._state_unwritten and not self.stopped:  # the store's last bookmarks
                    self._write_state()

    def _started(self, store: StoreConnection, *, with_state: bool) -> TapBigCommerce | None:
        """The tap of `store`, known to `stop`; None if the run is stopped already."""
        with self._lock:
            if self.stopped:
                return None
            state = state_of_store(self.tap.state, store.store_hash) if with_state else None
        one = self.store_tap(store, state=state)  # outside the lock: it takes a while
        with self._lock:
            self._running[store.store_hash] = one
        if self.stopped:  # the stop came while it was set up, and did not see it
            one.stop_reading()
        return one

    def _write_state(self) -> None:
        """Write the shared state (the caller holds the lock)."""
        self.tap.write_message(StateMessage(value=self.tap.state))
        self._state_written_at = time.monotonic()
        self._state_unwritten = False

    def _raise_failures(self, what: str) -> None:
        if not self.failures:
            return
        lines = [f"store '{h}': {line}" for h, line in self.failures.items()]
        count = len(self.failures)
        raise StoresFailedError(
            "\n".join([f"{count} of {len(self.stores)} stores {what}:", *lines])
        )
