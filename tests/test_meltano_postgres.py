"""End to end: `meltano run tap-bigcommerce target-postgres` from the sandbox into PostgreSQL.

Runs the real Meltano project (`meltano.yml`, environment `sandbox`) against a sandbox store
started in this process and the PostgreSQL server on 127.0.0.1:5432, twice: a first run loads
everything, then records change in the store and a second run resumes from Meltano's state and
upserts the changes. The module's fixture does both runs once; the tests check what they left.
Every row carries the store's `store_hash`, every table's key starts with it, and every bookmark
sits in a state partition of that store (`{"context": {"store_hash": ...}, ...}`).
Then (fixture `refreshed`, used by the last tests only) records and sub-resources are deleted,
`meltano run --full-refresh` with start_date unset marks exactly those rows deleted, and a
fourth, ordinary run marks nothing more.

Everything the runs write goes to places of their own: a temporary Meltano system database (the
user's state in `.meltano/meltano.db` is never read or written), a unique state id, and a
PostgreSQL schema with a random name, dropped at the end. Plugin venvs are the project's
(`.meltano/`): `meltano install` is idempotent.

Without PostgreSQL the tests skip, unless `CI` is set: there they fail. Deselect with
`-m "not e2e"`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tap_bigcommerce.replication import ReadWhole
from tap_bigcommerce.sandbox import RequestInfo, Sandbox, Store, records
from tap_bigcommerce.sandbox.rest import RESOURCES
from tap_bigcommerce.streams import STREAM_TYPES
from tap_bigcommerce.tap import TapBigCommerce
from tests.taprun import STORE_HASH, TOKEN, store_bookmark
from tests.test_children import CHILDREN

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
STREAMS = ("products", "customers", "orders")
#: Money and rate fields of v2 orders (decimal strings in the API), checked to the last digit.
ORDER_MONEY = (
    "total_inc_tax", "total_ex_tax", "total_tax", "subtotal_ex_tax", "subtotal_inc_tax",
    "shipping_cost_inc_tax", "discount_amount", "refunded_amount", "currency_exchange_rate",
)  # fmt: skip
#: The sandbox's tables of the streams read whole.
WHOLE_RESOURCES = [
    r for r in RESOURCES
    if any(s.name == r.name and isinstance(s.replication, ReadWhole) for s in STREAM_TYPES)
]  # fmt: skip
#: Rows of streams read whole deleted between the runs: how many per stream.
WHOLE_DELETED = {"brands": 2, "coupons": 3, "categories": 1, "gift_certificates": 1}
#: Records changed between the runs: (touched, inserted) per stream.
CHANGES = {"products": (7, 4), "customers": (5, 3), "orders": (6, 5)}
#: Variables taken from the caller's environment: where programs are, the CA bundle (uv needs
#: it to reach PyPI), uv's cache under $HOME, proxies and package index mirrors. Nothing else.
PASS_THROUGH = (
    "PATH", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "LANG", "LC_ALL",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_NATIVE_TLS",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
)  # fmt: skip
TIMEOUT_S = 240


# ----------------------------------------------------------------- helpers


def meltano_command() -> str:
    """The `meltano` next to the running interpreter (the project's venv), else on PATH."""
    local = Path(sys.executable).with_name("meltano")
    if local.exists():
        return str(local)
    found = shutil.which("meltano")
    if found is None:
        pytest.fail("meltano is not installed (pip install -e '.[dev]')")
    return found


def connect_or_skip() -> psycopg.Connection:
    """A connection to the test database; skip when there is none (fail when `CI` is set)."""
    try:
        return psycopg.connect(**PG, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {PG['host']}:{PG['port']}: {exc}".strip()
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must provide it, see .ci/run)")
        pytest.skip(reason)


def base_env(folder: Path) -> dict[str, str]:
    """The subprocesses' whole environment: nothing else of the caller's leaks in."""
    env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
    env.setdefault("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    env.setdefault("HOME", str(folder))
    for name in ("NO_PROXY", "no_proxy"):  # the sandbox and PostgreSQL are on loopback
        if name in env:
            env[name] = f"{env[name]},127.0.0.1,localhost"
    env |= {
        "PYTHONUNBUFFERED": "1",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{folder / 'meltano.db'}",
        # A session time zone far from UTC: meltano.yml pins the loader's to UTC (PGTZ).
        "PGTZ": "Asia/Kathmandu",
    }
    return env


def meltano(
    env: dict[str, str], *args: str, cwd: Path = PROJECT
) -> subprocess.CompletedProcess[str]:
    """The real meltano CLI in the project at `cwd`, its output kept."""
    return subprocess.run(
        [meltano_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def loader_env(schema: str) -> dict[str, str]:
    """target-postgres's settings: the test database, into `schema`."""
    return {
        "TARGET_POSTGRES_HOST": PG["host"],
        "TARGET_POSTGRES_PORT": str(PG["port"]),
        "TARGET_POSTGRES_USER": PG["user"],
        "TARGET_POSTGRES_PASSWORD": "",  # trust auth; the loader wants it set
        "TARGET_POSTGRES_DATABASE": PG["dbname"],
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def tail(done: subprocess.CompletedProcess[str], lines: int = 80) -> str:
    return "\n".join((done.stdout + done.stderr).splitlines()[-lines:])


def query(pg: psycopg.Connection, sql: str, *params: object) -> list[tuple]:
    return pg.execute(sql, params or None).fetchall()  # type: ignore[arg-type]


def xmins(pg: psycopg.Connection, schema: str, table: str) -> dict[int, int]:
    """`{id: xmin}`: which transaction last wrote each row."""
    return dict(query(pg, f'SELECT id, xmin::text::bigint FROM "{schema}"."{table}"'))


def as_utc(value: dt.datetime) -> dt.datetime:
    """A loaded time as an aware UTC datetime (a `timestamp` column holds UTC wall time)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def parse_time(text: str) -> dt.datetime:
    """An API time parameter: ISO 8601 (v3) or RFC 2822 (v2)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return email.utils.parsedate_to_datetime(text)


def stream_of(request: RequestInfo) -> str | None:
    """The stream a list request reads, None for other requests."""
    for stream, suffix in (
        ("products", "/v3/catalog/products"),
        ("customers", "/v3/customers"),
        ("orders", "/v2/orders"),
    ):
        if request.path.rstrip("/").endswith(suffix):
            return stream
    return None


# ----------------------------------------------------------------- the two runs


@dataclass
class Loaded:
    """What the two runs did, and snapshots taken between them."""

    pg: psycopg.Connection
    schema: str
    store: Store
    first_seconds: float = 0.0
    second_seconds: float = 0.0
    first_requests: list[RequestInfo] = field(default_factory=list)
    second_requests: list[RequestInfo] = field(default_factory=list)
    first_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # rows, distinct ids
    first_expected: dict[str, int] = field(default_factory=dict)  # store counts then
    state: dict = field(default_factory=dict)  # Meltano's Singer state after run 1
    newest: dict[str, int] = field(default_factory=dict)  # newest date_modified before changes
    at_bookmark: dict[str, set[int]] = field(default_factory=dict)
    changed: dict[str, set[int]] = field(default_factory=dict)
    xmin_before: dict[str, dict[int, int]] = field(default_factory=dict)
    #: Streams read whole: their rows' keys at the first run, and those deleted before the second.
    whole_first: dict[str, list[int]] = field(default_factory=dict)
    whole_deleted: dict[str, list[int]] = field(default_factory=dict)
    #: For the runs of `refreshed`: the environment and the `meltano run` words.
    env: dict[str, str] = field(default_factory=dict)
    run: list[str] = field(default_factory=list)


def counts(pg: psycopg.Connection, schema: str) -> dict[str, tuple[int, int]]:
    sql = 'SELECT count(*), count(DISTINCT id) FROM "{}"."{}"'
    return {s: query(pg, sql.format(schema, s))[0] for s in STREAMS}  # type: ignore[misc]


@pytest.fixture(scope="module")
def loaded(
    meltano_project_alone: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """Install the plugins, run Meltano, change the store, run again; drop the schema after."""
    pg = connect_or_skip()
    folder = tmp_path_factory.mktemp("meltano")
    env = base_env(folder)
    done = meltano(env, "install", "tap-bigcommerce", "target-postgres")
    if done.returncode != 0:
        pg.close()
        pytest.fail(
            "`meltano install tap-bigcommerce target-postgres` failed: it needs PyPI for "
            "meltanolabs-target-postgres==0.8.1 (behind a private CA set "
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt).\n" + tail(done)
        )

    schema = f"e2e_bigcommerce_{uuid.uuid4().hex[:12]}"
    suffix = f"e2e-{uuid.uuid4().hex[:12]}"
    state_id = f"sandbox:tap-bigcommerce-to-target-postgres:{suffix}"
    run = ["--environment=sandbox", "run", "--state-id-suffix", suffix, "--no-install"]
    run += ["tap-bigcommerce", "target-postgres"]
    store = Store(seed=7, products=300, customers=200, orders=250, plateau=0)
    result = Loaded(pg, schema, store)
    try:
        with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sandbox:
            env |= {
                "BIGCOMMERCE_SANDBOX_URL": sandbox.api_url,
                "TAP_BIGCOMMERCE_ACCESS_TOKEN": TOKEN,
                **loader_env(schema),
            }

            # ---- first run: everything
            started = time.monotonic()
            first = meltano(env, *run)
            result.first_seconds = time.monotonic() - started
            assert first.returncode == 0, tail(first)
            result.first_requests = sandbox.requests
            result.first_counts = counts(pg, schema)
            result.first_expected = store.counts()

            got = meltano(env, "state", "get", state_id)
            assert got.returncode == 0, tail(got)
            state = json.loads(got.stdout.strip().splitlines()[-1])
            result.state = state["singer_state"]
            for stream in STREAMS:
                moments = {rid: store.state(stream, rid)[1] for rid in store.ids(stream)}
                result.newest[stream] = newest = max(moments.values())
                result.at_bookmark[stream] = {r for r, m in moments.items() if m == newest}
                result.xmin_before[stream] = xmins(pg, schema, stream)

            result.whole_first = {r.name: store.rest.ids(r.name) for r in WHOLE_RESOURCES}

            # ---- changes in the store, then a second run from Meltano's state
            for name, k in WHOLE_DELETED.items():
                result.whole_deleted[name] = store.rest.ids(name)[1 : 1 + k]
                store.rest.delete(name, result.whole_deleted[name])
            now = int(time.time())
            for stream, (touch, insert) in CHANGES.items():
                ids = store.ids(stream)
                touched = ids[3 :: len(ids) // touch][:touch]  # spread over the id range
                store.touch(stream, touched, when=now)
                inserted = store.insert(stream, insert, when=now)
                result.changed[stream] = set(touched) | set(inserted)
            sandbox.reset_log()
            started = time.monotonic()
            second = meltano(env, *run)
            result.second_seconds = time.monotonic() - started
            assert second.returncode == 0, tail(second)
            result.second_requests = sandbox.requests
            result.env, result.run = env, run
        yield result
    finally:
        pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        pg.close()


# ----------------------------------------------------------------- tests


def test_first_run_loads_every_record(loaded: Loaded):
    for stream in STREAMS:
        rows, distinct = loaded.first_counts[stream]
        assert rows == distinct == loaded.first_expected[stream], stream


def test_meltano_state_holds_the_newest_date_modified(loaded: Loaded):
    for stream in STREAMS:
        stream_state = loaded.state["bookmarks"][stream]
        # One bookmark, in the store's partition: none outside it, none of another store.
        contexts = [p["context"] for p in stream_state["partitions"]]
        assert contexts == [{"store_hash": STORE_HASH}], stream_state
        assert "replication_key_value" not in stream_state, stream_state
        mark = store_bookmark(loaded.state, stream, STORE_HASH)
        assert mark["replication_key"] == "date_modified", mark
        moment = dt.datetime.fromisoformat(mark["replication_key_value"])
        assert moment.timestamp() == loaded.newest[stream], (stream, mark)


def test_second_run_reads_from_the_bookmarks(loaded: Loaded):
    assert len(loaded.second_requests) < len(loaded.first_requests)
    read = {stream_of(r) for r in loaded.second_requests} - {None}
    assert read == set(STREAMS), [r.path for r in loaded.second_requests]
    pages: dict[str, int] = {}
    for request in loaded.second_requests:
        stream = stream_of(request)
        if stream is None or request.query == {"limit": "1"}:
            continue  # not a list request, or the tap's connection check
        lower = request.query.get("date_modified:min") or request.query.get("min_date_modified")
        assert lower, (request.path, request.query)
        assert parse_time(lower).timestamp() >= loaded.newest[stream], (request.path, lower)
        pages[stream] = pages.get(stream, 0) + 1
    # A few changed records per stream fit in one page (page size 250); v3 streams read the
    # store's current second apart, and the first one asks once for the store's clock.
    assert set(pages) == set(STREAMS), pages
    assert max(pages.values()) <= 3, [(r.path, r.query) for r in loaded.second_requests]


def test_second_run_upserts_only_the_changed_records(loaded: Loaded):
    for stream in STREAMS:
        before = loaded.xmin_before[stream]
        after = xmins(loaded.pg, loaded.schema, stream)
        written = {rid for rid, x in after.items() if before.get(rid) != x}
        changed, at_bookmark = loaded.changed[stream], loaded.at_bookmark[stream]
        assert changed <= written, (stream, sorted(changed - written))
        # At least once: a record in the bookmark's second may be read again; nothing else.
        extra = written - changed - at_bookmark
        assert not extra, (stream, sorted(extra)[:20])


def test_tables_hold_the_current_versions_without_duplicates(loaded: Loaded):
    store, pg, schema = loaded.store, loaded.pg, loaded.schema
    for stream in STREAMS:
        rows = query(pg, f'SELECT id, date_created, date_modified FROM "{schema}"."{stream}"')
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)), f"{stream}: duplicate ids"
        assert sorted(ids) == store.ids(stream), stream
        assert len(ids) == store.count(stream) == loaded.first_expected[stream] + CHANGES[stream][1]
        for rid, created, modified in rows:
            expected = store.state(stream, rid)[:2]
            got = (as_utc(created).timestamp(), as_utc(modified).timestamp())
            assert got == expected, (stream, rid, created, modified)
    # Content too: the touched orders' new versions (their status and totals change).
    for oid in loaded.changed["orders"]:
        (status_id,) = query(pg, f'SELECT status_id FROM "{schema}".orders WHERE id = %s', oid)[0]
        assert status_id == store.record("orders", oid)["status_id"], oid


def declared_keys() -> dict[str, list[str]]:
    """Each stream's key as the tap declares it (`store_hash` first)."""
    tap = TapBigCommerce(
        config={"store_hash": STORE_HASH, "access_token": TOKEN, "api_url": "http://127.0.0.1:9"},
        parse_env_config=False,
    )
    return {name: list(stream.primary_keys or []) for name, stream in tap.streams.items()}


def primary_keys(pg: psycopg.Connection, schema: str) -> dict[str, list[str]]:
    """Each table's primary key constraint, its columns in their order."""
    rows = query(
        pg,
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu "
        "ON kcu.constraint_schema = tc.constraint_schema "
        "AND kcu.constraint_name = tc.constraint_name "
        "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s "
        "ORDER BY tc.table_name, kcu.ordinal_position",
        schema,
    )
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_every_table_is_keyed_by_store_and_holds_only_the_sandboxs_rows(loaded: Loaded):
    pg, schema = loaded.pg, loaded.schema
    tables = [
        name
        for (name,) in query(
            pg,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            schema,
        )
    ]
    declared, keys = declared_keys(), primary_keys(pg, schema)
    assert set(STREAMS) <= set(tables) <= set(declared), sorted(tables)
    for table in tables:
        assert declared[table][0] == "store_hash", (table, declared[table])
        # target-postgres makes the stream's key the table's primary key (the upsert's key),
        # its columns in the table's order.
        assert sorted(keys.get(table, [])) == sorted(declared[table]), (table, keys.get(table))
        stores = query(pg, f'SELECT store_hash, count(*) FROM "{schema}"."{table}" GROUP BY 1')
        assert [s for s, _ in stores] == [STORE_HASH], (table, stores)


def test_money_is_numeric_and_exact(loaded: Loaded):
    store, pg, schema = loaded.store, loaded.pg, loaded.schema
    types = dict(
        query(
            pg,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'orders'",
            schema,
        )
    )
    for name in ORDER_MONEY:
        assert types[name] == "numeric", (name, types[name])
    rows = query(pg, f'SELECT id, {", ".join(ORDER_MONEY)} FROM "{schema}".orders')
    assert len(rows) == store.count("orders")
    for oid, *values in rows:
        raw = store.record("orders", oid)
        for name, value in zip(ORDER_MONEY, values, strict=True):
            assert isinstance(value, Decimal), (name, type(value))
            assert value == Decimal(raw[name]), (oid, name, value, raw[name])


def test_dates_are_timestamps(loaded: Loaded):
    for stream in STREAMS:
        types = dict(
            query(
                loaded.pg,
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                loaded.schema,
                stream,
            )
        )
        names = ["date_created", "date_modified"] + (["date_shipped"] * (stream == "orders"))
        for name in names:
            assert types[name].startswith("timestamp"), (stream, name, types[name])


#: Columns the spec types as `number` that once were `integer` (issue: spec types).
WIDENED = {
    "order_products": ["quantity_refunded", "quantity_shipped", "return_id"],
    "order_shipping_addresses": ["items_total", "items_shipped", "shipping_zone_id"],
    "orders": ["items_total", "items_shipped", "shipping_address_count", "customer_id"],
}


def test_widened_columns_are_numeric_and_hold_fractions(loaded: Loaded):
    for table, columns in WIDENED.items():
        types = dict(
            query(
                loaded.pg,
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                loaded.schema,
                table,
            )
        )
        fractions = 0
        for name in columns:
            assert types[name] == "numeric", (table, name, types[name])
            (count,) = query(
                loaded.pg,
                f'SELECT count(*) FROM "{loaded.schema}"."{table}" WHERE {name} <> trunc({name})',
            )[0]
            fractions += count
        assert fractions > 0, f"no fractional value reached {table}"


def test_every_table_read_whole_is_loaded_and_deletions_are_marked(loaded: Loaded):
    """Each run reads them whole and ends with ACTIVATE_VERSION: the deleted rows, and only
    those, get `_sdc_deleted_at` from target-postgres (soft delete, the default)."""
    pg, schema = loaded.pg, loaded.schema
    for resource in WHOLE_RESOURCES:
        key = "category_id" if resource.name == "categories" else "id"
        rows = dict(query(pg, f'SELECT {key}, _sdc_deleted_at FROM "{schema}"."{resource.name}"'))
        assert sorted(rows) == loaded.whole_first[resource.name], resource.name
        deleted = {k for k, at in rows.items() if at is not None}
        assert deleted == set(loaded.whole_deleted.get(resource.name, [])), resource.name
    # Every other table but the opt-in order_transactions (the default selection).
    tables = ("store_information", "inventory_levels", "price_lists", "price_list_records",
              "channels", "product_reviews", "product_bulk_pricing_rules", "refunds",
              "subscribers", "customer_attribute_values", "metafields", "order_coupons",
              "order_shipments", "order_fees")  # fmt: skip
    for table in tables:
        ((count,),) = query(pg, f'SELECT count(*) FROM "{schema}"."{table}"')
        assert count > 0, table


# ----------------------------------------------------------------- deletes (issue #16)

#: Child tables of the incremental streams: (parent stream, column naming the parent).
CHILD_TABLES = CHILDREN
#: More rows of streams read whole deleted before the full refresh.
REFRESH_WHOLE_DELETED = {"brands": 1, "coupons": 1}


@dataclass
class Refreshed:
    """What the full refresh (third run) and the ordinary run after it (fourth) left."""

    seconds: float = 0.0
    #: Per stream, the parent ids deleted; per child table, the child ids deleted themselves.
    deleted: dict[str, set[int]] = field(default_factory=dict)
    #: Per table, `{key: _sdc_deleted_at}` of the rows marked, after the third and fourth run.
    marked_third: dict[str, dict[tuple, dt.datetime]] = field(default_factory=dict)
    marked_fourth: dict[str, dict[tuple, dt.datetime]] = field(default_factory=dict)
    rows_third: dict[str, list[tuple]] = field(default_factory=dict)  # (key, parent id, at)
    touched: set[int] = field(default_factory=set)


def _marked(pg: psycopg.Connection, schema: str) -> dict[str, dict[tuple, dt.datetime]]:
    found = {}
    for table in (*STREAMS, *CHILD_TABLES, *(r.name for r in WHOLE_RESOURCES)):
        key = "category_id" if table == "categories" else "id"
        parent = CHILD_TABLES.get(table, (None, "NULL"))[1]
        rows = query(
            pg,
            f'SELECT {key}, {parent}, _sdc_deleted_at FROM "{schema}"."{table}" '
            "WHERE _sdc_deleted_at IS NOT NULL",
        )
        found[table] = {(k, p): at for k, p, at in rows}
    return found


def _rows(pg: psycopg.Connection, schema: str, table: str) -> list[tuple]:
    parent = CHILD_TABLES.get(table, (None, "NULL"))[1]
    return query(pg, f'SELECT id, {parent}, _sdc_deleted_at FROM "{schema}"."{table}"')


@pytest.fixture(scope="module")
def refreshed(loaded: Loaded) -> Refreshed:
    """Delete in the store, run `--full-refresh` without start_date, then an ordinary run."""
    store, pg, schema = loaded.store, loaded.pg, loaded.schema
    result = Refreshed()
    products, customers = store.ids("products"), store.ids("customers")
    result.deleted["products"] = {products[10], products[40]}
    result.deleted["customers"] = {customers[5], customers[25]}
    includes = ("variants", "images")
    kept = [p for p in products if p not in result.deleted["products"]]
    with_variants = next(
        p for p in kept if len(store.record("products", p, includes)["variants"]) > 1
    )
    variant = store.record("products", with_variants, includes)["variants"][1]["id"]
    with_images = next(p for p in kept if store.record("products", p, includes)["images"])
    image = store.record("products", with_images, includes)["images"][-1]["id"]
    kept_customers = [c for c in customers if c not in result.deleted["customers"]]
    with_addresses = next(c for c in kept_customers if len(store.customer_addresses(c)) > 1)
    address = store.customer_addresses(with_addresses)[0]["id"]
    # Without touching the parents: only a read of the whole table can see these.
    store.delete_children("products", with_variants, "variants", [variant], touch=False)
    store.delete_children("products", with_images, "images", [image], touch=False)
    store.delete_children("customers", with_addresses, "addresses", [address], touch=False)
    result.deleted |= {"product_variants": {variant}, "product_images": {image},
                       "customer_addresses": {address}}  # fmt: skip
    for stream in ("products", "customers"):
        store.delete(stream, result.deleted[stream])
    for name, k in REFRESH_WHOLE_DELETED.items():
        result.deleted[name] = set(store.rest.ids(name)[:k])
        store.rest.delete(name, result.deleted[name])

    with Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN, port=0) as sandbox:
        env = loaded.env | {"BIGCOMMERCE_SANDBOX_URL": sandbox.api_url}
        # ---- third run: a full refresh; the environment's start_date is unset for it
        full = [*loaded.run[:2], "--full-refresh", *loaded.run[2:]]
        started = time.monotonic()
        third = meltano(env | {"TAP_BIGCOMMERCE_START_DATE": ""}, *full)
        result.seconds = time.monotonic() - started
        assert third.returncode == 0, tail(third)
        result.marked_third = _marked(pg, schema)
        result.rows_third = {t: _rows(pg, schema, t) for t in (*STREAMS, *CHILD_TABLES)}

        # ---- fourth run: ordinary, from the state the full refresh left
        result.touched = set(store.ids("products")[:2])
        store.touch("products", result.touched)
        fourth = meltano(env, *loaded.run)
        assert fourth.returncode == 0, tail(fourth)
        result.marked_fourth = _marked(pg, schema)
    return result


def _in_store(store: Store) -> dict[str, set[tuple]]:
    """`(id, parent id)` of every child row the store holds now (as its endpoints list them)."""
    includes = ("variants", "images", "custom_fields", "bulk_pricing_rules")
    found: dict[str, set[tuple]] = {t: set() for t in CHILD_TABLES}
    for pid in store.ids("products"):
        product = store.record("products", pid, includes)
        for table, name in (("product_variants", "variants"), ("product_images", "images"),
                            ("product_custom_fields", "custom_fields"),
                            ("product_bulk_pricing_rules", "bulk_pricing_rules")):  # fmt: skip
            found[table] |= {(row["id"], pid) for row in product[name]}
    for cid in store.ids("customers"):
        found["customer_addresses"] |= {(a["id"], cid) for a in store.customer_addresses(cid)}
    for oid in store.ids("orders"):
        version = store.state("orders", oid)[2]
        for table, build in (
            ("order_products", records.order_products),
            ("order_shipping_addresses", records.order_shipping_addresses),
        ):
            rows = build(store.seed, oid, version, store.store_hash)  # fmt: skip
            found[table] |= {(row["id"], oid) for row in rows}
    return found


def test_a_full_refresh_marks_exactly_the_deleted_rows(loaded: Loaded, refreshed: Refreshed):
    marked, deleted = refreshed.marked_third, refreshed.deleted
    for stream in STREAMS:
        assert {k for k, _ in marked[stream]} == deleted.get(stream, set()), stream
    in_store = _in_store(loaded.store)
    for table, (parent, _) in CHILD_TABLES.items():
        rows = refreshed.rows_third[table]
        # Exactly the rows the store no longer holds: those of a deleted parent, those deleted
        # from a parent that stays, and those a change of their parent replaced.
        if table != "product_reviews":  # their ids in the store: not rebuilt here (yet)
            assert set(marked[table]) == {(k, p) for k, p, _ in rows} - in_store[table], table
        assert {(k, p) for k, p, _ in rows if p in deleted.get(parent, set())} <= set(
            marked[table]
        ), table
        assert {(k, p) for k, p, _ in rows if k in deleted.get(table, set())} <= set(
            marked[table]
        ), table
    assert deleted["product_variants"] and marked["product_variants"]
    for resource in WHOLE_RESOURCES:
        # Those deleted before the second run stay marked; the new ones are marked too.
        before = set(loaded.whole_deleted.get(resource.name, []))
        expected = before | deleted.get(resource.name, set())
        assert {k for k, _ in marked[resource.name]} == expected, resource.name


def test_after_a_full_refresh_the_live_rows_match_the_store(loaded: Loaded, refreshed: Refreshed):
    store = loaded.store
    for stream in STREAMS:
        live = sorted(k for k, _, at in refreshed.rows_third[stream] if at is None)
        assert live == store.ids(stream), stream
    live = {t: {k for k, _, at in refreshed.rows_third[t] if at is None} for t in CHILD_TABLES}
    products = [store.record("products", p, ("variants", "images")) for p in store.ids("products")]
    assert live["product_variants"] == {v["id"] for p in products for v in p["variants"]}
    assert live["product_images"] == {i["id"] for p in products for i in p["images"]}
    addresses = {a["id"] for c in store.ids("customers") for a in store.customer_addresses(c)}
    assert live["customer_addresses"] == addresses


def test_an_ordinary_run_after_a_full_refresh_marks_nothing(loaded: Loaded, refreshed: Refreshed):
    assert refreshed.marked_fourth == refreshed.marked_third
    rows = dict((k, at) for k, _, at in _rows(loaded.pg, loaded.schema, "products"))
    assert all(rows[p] is None for p in refreshed.touched)


def test_the_full_refresh_takes_seconds(refreshed: Refreshed):
    assert refreshed.seconds < 60
