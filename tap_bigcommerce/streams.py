"""The streams: a few declarative lines each on top of one base class."""

from __future__ import annotations

import datetime as dt
import json
import time
import typing as t
from functools import cached_property
from importlib import resources
from pathlib import Path

from singer_sdk import Stream

from tap_bigcommerce.pagination import (
    CustomersFlavour,
    Flavour,
    KeysetReader,
    OrdersFlavour,
    Page,
    Params,
    ProductsFlavour,
)
from tap_bigcommerce.transform import compile_record_converter

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_bigcommerce.client import BigCommerceClient

#: Seconds between progress lines on a long sync.
PROGRESS_EVERY_S = 5.0


def schema_dir() -> Path:
    """`schemas/` inside an installed wheel, or at the top of a source checkout."""
    packaged = resources.files("tap_bigcommerce") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas"


def load_schema(name: str) -> dict:
    """The JSON Schema of stream `name`."""
    return json.loads((schema_dir() / f"{name}.json").read_text(encoding="utf-8"))


class BigCommerceStream(Stream):
    """A top-level list endpoint read by keyset paging on `date_modified`."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "date_modified"
    # Records come out in date_modified order, so STATE can be written mid-stream and a
    # rerun after a crash resumes from it.
    is_sorted = True
    #: How many records the API says this run's window holds (for progress lines).
    _expected: int | None = None
    _total_asked = False

    def __init__(self, tap: t.Any) -> None:
        """Load the stream's schema from `schemas/`."""
        super().__init__(tap, schema=load_schema(self.name))

    def make_flavour(self) -> Flavour:
        """The API spelling of this stream's endpoint."""
        raise NotImplementedError

    @cached_property
    def flavour(self) -> Flavour:
        """The API spelling, built once."""
        return self.make_flavour()

    @property
    def client(self) -> BigCommerceClient:
        """The tap's one HTTP client for this store."""
        return t.cast("BigCommerceClient", getattr(self._tap, "client"))  # noqa: B009

    @cached_property
    def _convert(self) -> t.Callable[[t.Any], t.Any]:
        return compile_record_converter(self.schema)

    def upper_bound(self) -> dt.datetime:
        """The newest `date_modified` this run reads: the store's current second.

        Records changed later are left for the next run, which starts at the bookmark
        (inclusive), so a record written in that same second is read then. The store's
        clock (the `Date` header, which never runs ahead of it) is used rather than ours.
        """
        now = self.client.server_now()
        if now is None:
            self.fetch_page(self.flavour.window_params(None, _utcnow(), 1), limit=1)
            now = self.client.server_now() or time.time()
        return dt.datetime.fromtimestamp(int(now), tz=dt.timezone.utc)

    def fetch_page(self, params: Params, *, limit: int) -> Page:
        """One request through the client, unpacked by the flavour."""
        document = self.client.get(
            self.flavour.version, self.flavour.path, params, resource=self.name
        )
        return self.flavour.unpack(document, limit)

    def report_total(self, lower: dt.datetime | None, upper: dt.datetime, page: Page) -> None:
        """Remember how many records the API says the window holds, for progress lines."""
        if not self._total_asked:
            self._total_asked = True
            self._expected = page.total

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read every record modified since the bookmark (or `start_date`), oldest first."""
        limit = int(self.config.get("page_size", 250))
        lower = self.get_starting_timestamp(context)
        upper = self.upper_bound()
        self._expected, self._total_asked = None, False
        emitted = 0
        last_report = time.monotonic()

        def fetch(params: Params) -> Page:
            page = self.fetch_page(params, limit=limit)
            self.report_total(lower, upper, page)
            return page

        reader = KeysetReader(self.flavour, fetch, limit)
        for record in reader.read(lower, upper):
            yield self._convert(record)
            emitted += 1
            if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                self._log_progress(emitted)
        self._log_progress(emitted, done=True)

    def _log_progress(self, emitted: int, *, done: bool = False) -> None:
        total = f" of {self._expected:,}" if self._expected is not None else ""
        state = "done" if done else "so far"
        self.logger.info("%s: %s records %s%s", self.name, f"{emitted:,}", state, total)


class ProductsStream(BigCommerceStream):
    """Catalog products, `/v3/catalog/products`."""

    name = "products"

    def make_flavour(self) -> Flavour:
        """Products are v3."""
        return ProductsFlavour()


class CustomersStream(BigCommerceStream):
    """Customers, `/v3/customers`."""

    name = "customers"

    def make_flavour(self) -> Flavour:
        """Customers are v3."""
        return CustomersFlavour()


class OrdersStream(BigCommerceStream):
    """Orders, `/v2/orders`: BigCommerce has no v3 endpoint that lists orders."""

    name = "orders"

    def make_flavour(self) -> Flavour:
        """Orders are v2."""
        return OrdersFlavour()

    def report_total(self, lower: dt.datetime | None, upper: dt.datetime, page: Page) -> None:
        """v2 lists carry no total: ask `/v2/orders/count` once, with the same filters."""
        if self._total_asked:
            return
        self._total_asked = True
        flavour = t.cast("OrdersFlavour", self.flavour)
        answer = self.client.get(
            "v2", "orders/count", flavour.count_params(lower, upper), resource=self.name
        )
        count = answer.get("count") if isinstance(answer, dict) else None
        self._expected = int(count) if isinstance(count, (int, float)) else None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(tz=dt.timezone.utc)


STREAM_TYPES: list[type[BigCommerceStream]] = [ProductsStream, CustomersStream, OrdersStream]
