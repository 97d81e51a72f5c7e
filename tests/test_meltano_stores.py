"""End to end, many stores: `meltano run tap-bigcommerce target-postgres` over three stores.

Three sandbox stores on one sandbox server (distinct hashes, tokens, seeds and sizes, so that
their ids overlap) are read into the same PostgreSQL tables by the real Meltano CLI and
MeltanoLabs target-postgres (activate_version on, soft delete), four times; the module's fixture
does the runs once and the tests check what each left:

1. stores A and B, named in meltano.yml as a list of objects whose tokens are `$CLIENT_A_TOKEN`
   references (Meltano expands variables inside lists and objects), an ordinary run with the
   environment's start_date;
2. store C added (all three in `TAP_BIGCOMMERCE_STORES`, JSON), an ordinary run from Meltano's
   state with start_date unset: A and B read from their bookmarks, C from scratch and whole,
   and nothing may be marked deleted (C's ACTIVATE_VERSION alone would mark A's and B's rows);
3. a product, a brand and a customer deleted in A (ids B and C have too), then `--full-refresh`
   with start_date unset, the stores named with `meltano config set` (JSON text with
   `${CLIENT_A_TOKEN}` references; `stores` is sensitive, so Meltano writes it to `.env`, whose
   values expand `${VAR}` but not `$VAR`): exactly those rows (and A's rows under them) are
   marked deleted;
4. a product and a brand deleted in B and C's token revoked (HTTP 401), another full refresh:
   the run fails naming C, A's and B's rows are all written again, and nothing more is marked
   deleted (C could not be read whole, so no table was).

The runs use a Meltano project of their own in a temporary folder: the repository's
`meltano.yml` (loaders and all) and plugin definition, plus an environment `fleet` that names
the stores, so that `meltano.yml` and `.env` can be written without touching the repository's
(whose `sandbox` environment names one `store_hash`, which `stores` excludes). Plugin venvs
are the repository's (`.meltano/`, linked; installed there if missing). As in
`test_meltano_postgres`: a temporary system database, a unique state id, a PostgreSQL schema
with a random name dropped at the end; without PostgreSQL the tests skip, unless `CI` is set:
there they fail. Deselect with `-m "not e2e"`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import yaml

from tap_bigcommerce.sandbox import RequestInfo, Sandbox, Store
from tests.taprun import store_bookmark
from tests.test_meltano_postgres import (
    CHILD_TABLES,
    PROJECT,
    base_env,
    connect_or_skip,
    declared_keys,
    loader_env,
    meltano,
    parse_time,
    primary_keys,
    query,
    stream_of,
    tail,
)

pytestmark = pytest.mark.e2e

A, B, C = "abc123", "def456", "ghi789"
TOKENS = {A: "token-a-3f9d1c", B: "token-b-8e27a4", C: "token-c-51b6f0"}
#: The variable each store's token is in, as meltano.yml refers to it.
TOKEN_VARS = {A: "CLIENT_A_TOKEN", B: "CLIENT_B_TOKEN", C: "CLIENT_C_TOKEN"}
#: Different seeds and sizes: ids start at 1 in every store, so they overlap.
STORES = {
    A: {"seed": 31, "products": 70, "customers": 45, "orders": 60, "brands": 15},
    B: {"seed": 32, "products": 50, "customers": 60, "orders": 40, "brands": 9},
    C: {"seed": 33, "products": 35, "customers": 30, "orders": 55, "brands": 12},
}
MAIN = ("products", "customers", "orders", "brands")
INCREMENTAL = ("products", "customers", "orders")
#: Deleted in A before the first full refresh (run 3), in B before the second (run 4): ids
#: every store has.
DELETED_IN_A = {"products": 7, "brands": 3, "customers": 5}
DELETED_IN_B = {"products": 8, "brands": 4}
STATE_ENV = "fleet"
#: The plugins the runs use, in the repository's `.meltano/`. Installed only when missing:
#: `make test` may run `test_meltano_postgres` at the same time, with the same venvs, and an
#: install rewrites the tap's console script under its runs.
PLUGIN_EXECUTABLES = (
    PROJECT / ".meltano/extractors/tap-bigcommerce/venv/bin/tap-bigcommerce",
    PROJECT / ".meltano/loaders/target-postgres/venv/bin/target-postgres",
)

#: `{table: {key: (deleted_at, table_version, parent_id)}}`, the key as the tap declares it
#: (store_hash first), parent_id for the child tables of `CHILD_TABLES`.
Snapshot = dict[str, dict[tuple, tuple[dt.datetime | None, int | None, int | None]]]


# ----------------------------------------------------------------- helpers


def make_project(folder: Path) -> Path:
    """A Meltano project in `folder`: the repository's, plus environment `fleet` (A and B).

    The environment names the stores as meltano.yml would: a list of objects whose tokens
    are references (`$CLIENT_A_TOKEN`, `${CLIENT_B_TOKEN}`), never the tokens themselves.
    """
    project = folder / "project"
    project.mkdir()
    shutil.copytree(PROJECT / "plugins", project / "plugins")
    for kind, name in (("extractors", "tap-bigcommerce"), ("loaders", "target-postgres")):
        (project / ".meltano" / kind / name).mkdir(parents=True)
        (project / ".meltano" / kind / name / "venv").symlink_to(
            PROJECT / ".meltano" / kind / name / "venv", target_is_directory=True
        )
    definition = yaml.safe_load((PROJECT / "meltano.yml").read_text())
    for tap in definition["plugins"]["extractors"]:
        if tap["name"] == "tap-bigcommerce":
            tap["pip_url"] = f"-e {PROJECT}"  # never installed from here: --no-install
    tap_config = {
        "api_url": "$BIGCOMMERCE_SANDBOX_URL",
        "start_date": "2000-01-01T00:00:00Z",
        "stores": [
            {"store_hash": A, "access_token": f"${TOKEN_VARS[A]}"},
            {"store_hash": B, "access_token": f"${{{TOKEN_VARS[B]}}}"},
        ],
    }
    definition["environments"].append(
        {
            "name": STATE_ENV,
            "config": {
                "plugins": {"extractors": [{"name": "tap-bigcommerce", "config": tap_config}]}
            },
        }
    )
    (project / "meltano.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    return project


def make_store(seed: int, brands: int, **sizes: int) -> Store:
    return Store(seed=seed, plateau=0, rest_sizes={"brands": brands}, **sizes)


def stores_json(stores: list[str], *, tokens: bool) -> str:
    """`stores` as JSON text: with the tokens themselves, or with `${VAR}` references."""
    return json.dumps(
        [
            {
                "store_hash": h,
                "access_token": TOKENS[h] if tokens else f"${{{TOKEN_VARS[h]}}}",
            }
            for h in stores
        ]
    )


def snapshot(pg: psycopg.Connection, schema: str, keys: dict[str, list[str]]) -> Snapshot:
    """Every row of every table: its key, `_sdc_deleted_at`, `_sdc_table_version`, parent."""
    found: Snapshot = {}
    tables = query(
        pg, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema
    )
    for (table,) in tables:
        columns = [f'"{c}"' for c in keys[table]]
        parent = CHILD_TABLES.get(table, (None, "NULL"))[1]
        rows = query(
            pg,
            f"SELECT {', '.join(columns)}, _sdc_deleted_at, _sdc_table_version, {parent} "
            f'FROM "{schema}"."{table}"',
        )
        found[table] = {tuple(r[: len(columns)]): tuple(r[len(columns) :]) for r in rows}
    return found


def key_counts(
    pg: psycopg.Connection, schema: str, keys: dict[str, list[str]]
) -> dict[str, tuple[int, int]]:
    """Every table's rows and distinct keys: equal when no key is there twice."""
    found = {}
    tables = query(
        pg, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema
    )
    for (table,) in tables:
        key = ", ".join(f'"{c}"' for c in keys[table])
        sql = f'SELECT count(*), count(DISTINCT ({key})) FROM "{schema}"."{table}"'
        ((found[table]),) = query(pg, sql)
    return found


def marked(snap: Snapshot) -> dict[str, set[tuple]]:
    """The keys of the rows marked deleted, per table."""
    return {t: {k for k, (at, _, _) in rows.items() if at is not None} for t, rows in snap.items()}


def live_ids(snap: Snapshot, table: str, store_hash: str) -> list[int]:
    return sorted(k[1] for k, (at, _, _) in snap[table].items() if k[0] == store_hash and not at)


def sandbox_ids(store: Store, table: str) -> list[int]:
    return store.ids(table) if table in INCREMENTAL else store.rest.ids(table)


def lower_bound(request: RequestInfo) -> str | None:
    return request.query.get("date_modified:min") or request.query.get("min_date_modified")


# ----------------------------------------------------------------- the four runs


@dataclass
class Fleet:
    """What the four runs did, and snapshots taken after each."""

    pg: psycopg.Connection
    schema: str
    stores: dict[str, Store]
    project: Path
    runs: list[subprocess.CompletedProcess] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    snaps: list[Snapshot] = field(default_factory=list)
    states: list[dict] = field(default_factory=list)  # Meltano's Singer state after each run
    #: At each run, the ids each store has, per table of `MAIN` (orders: not archived ones).
    ids: list[dict[str, dict[str, list[int]]]] = field(default_factory=list)
    #: After each run, every table's rows and distinct keys (store_hash, id...).
    counts: list[dict[str, tuple[int, int]]] = field(default_factory=list)
    #: Run 2's requests, per store.
    requests: dict[str, list[RequestInfo]] = field(default_factory=dict)
    #: The meltano.yml of the project, as run 1 read it; its .env, as runs 3 and 4 did.
    meltano_yml: str = ""
    dotenv: str = ""


@pytest.fixture(scope="module")
def fleet(meltano_project_alone: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Install the plugins, then the four runs (see the module's docstring); drop the schema."""
    pg = connect_or_skip()
    folder = tmp_path_factory.mktemp("meltano-stores")
    env = base_env(folder)
    if not all(path.exists() for path in PLUGIN_EXECUTABLES):
        done = meltano(env, "install", "tap-bigcommerce", "target-postgres", cwd=PROJECT)
        if done.returncode != 0:
            pg.close()
            pytest.fail("`meltano install tap-bigcommerce target-postgres` failed\n" + tail(done))
    project = make_project(folder)

    schema = f"e2e_stores_{uuid.uuid4().hex[:12]}"
    suffix = f"e2e-{uuid.uuid4().hex[:12]}"
    state_id = f"{STATE_ENV}:tap-bigcommerce-to-target-postgres:{suffix}"
    run = [f"--environment={STATE_ENV}", "run", "--state-id-suffix", suffix, "--no-install"]
    run += ["tap-bigcommerce", "target-postgres"]
    full_refresh = [*run[:2], "--full-refresh", *run[2:]]
    stores = {h: make_store(**sizes) for h, sizes in STORES.items()}
    result = Fleet(pg, schema, stores, project)
    keys = declared_keys()
    try:
        with Sandbox(stores[A], store_hash=A, access_token=TOKENS[A], port=0) as sandbox:
            served = {A: sandbox}
            served |= {h: sandbox.add_store(h, TOKENS[h], stores[h]) for h in (B, C)}
            env |= {TOKEN_VARS[h]: TOKENS[h] for h in TOKENS} | {
                "BIGCOMMERCE_SANDBOX_URL": sandbox.api_url,
                **loader_env(schema),
            }

            def one_run(args: list[str], extra: dict[str, str] | None = None) -> None:
                started = time.monotonic()
                done = meltano(env | (extra or {}), *args, cwd=project)
                result.seconds.append(time.monotonic() - started)
                result.runs.append(done)
                result.ids.append({h: {t: sandbox_ids(stores[h], t) for t in MAIN} for h in STORES})
                result.snaps.append(snapshot(pg, schema, keys))
                result.counts.append(key_counts(pg, schema, keys))
                got = meltano(env, "state", "get", state_id, cwd=project)
                assert got.returncode == 0, tail(got)
                result.states.append(json.loads(got.stdout.strip().splitlines()[-1]))

            # ---- 1: A and B, from meltano.yml (references), with start_date
            result.meltano_yml = (project / "meltano.yml").read_text()
            one_run(run)
            assert result.runs[0].returncode == 0, tail(result.runs[0])

            # ---- 2: C added (TAP_BIGCOMMERCE_STORES), from the state, start_date unset
            for sb in served.values():
                sb.reset_log()
            one_run(
                run,
                {
                    "TAP_BIGCOMMERCE_STORES": stores_json([A, B, C], tokens=True),
                    "TAP_BIGCOMMERCE_START_DATE": "",
                },
            )
            assert result.runs[1].returncode == 0, tail(result.runs[1])
            result.requests = {h: sb.requests for h, sb in served.items()}

            # ---- 3: deletions in A, full refresh; stores set with `meltano config set`
            done = meltano(env, f"--environment={STATE_ENV}", "config", "set", "tap-bigcommerce",
                "stores", stores_json([A, B, C], tokens=False), cwd=project,
            )  # fmt: skip
            assert done.returncode == 0, tail(done)
            result.dotenv = (project / ".env").read_text()
            for table, rid in DELETED_IN_A.items():
                delete(stores[A], table, rid)
            one_run(full_refresh, {"TAP_BIGCOMMERCE_START_DATE": ""})
            assert result.runs[2].returncode == 0, tail(result.runs[2])

            # ---- 4: deletions in B, C's token revoked (401), full refresh
            for table, rid in DELETED_IN_B.items():
                delete(stores[B], table, rid)
            served[C].access_token = "revoked-token"  # the sandbox's own: C's requests get 401
            one_run(full_refresh, {"TAP_BIGCOMMERCE_START_DATE": ""})
        yield result
    finally:
        pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        pg.close()


def delete(store: Store, table: str, rid: int) -> None:
    if table in INCREMENTAL:
        store.delete(table, [rid])
    else:
        store.rest.delete(table, [rid])


# ----------------------------------------------------------------- a: one set of tables


def test_first_run_loads_both_named_stores(fleet: Fleet):
    # meltano.yml holds references only: Meltano expanded them inside the list's objects.
    for h in (A, B):
        assert TOKENS[h] not in fleet.meltano_yml
    snap = fleet.snaps[0]
    for table in MAIN:
        assert {k[0] for k in snap[table]} == {A, B}, table
        for h in (A, B):
            assert live_ids(snap, table, h) == fleet.ids[0][h][table], (table, h)
    state = fleet.states[0]["singer_state"]
    for stream in INCREMENTAL:
        contexts = [p["context"] for p in state["bookmarks"][stream]["partitions"]]
        assert sorted(c["store_hash"] for c in contexts) == [A, B], contexts


def test_every_store_lands_in_the_same_tables(fleet: Fleet):
    """After run 2: one table per stream, every store's rows in it, as many as it has.

    (C is named only in `TAP_BIGCOMMERCE_STORES`: its rows show that Meltano passed it.)
    """
    snap, ids = fleet.snaps[1], fleet.ids[1]
    for table in MAIN:
        per_store = {h: sorted(k[1] for k in snap[table] if k[0] == h) for h in STORES}
        assert per_store == {h: ids[h][table] for h in STORES}, table
        # The same ids under every store: only (store_hash, id) tells the rows apart.
        shared = set.intersection(*(set(ids[h][table]) for h in STORES))
        assert len(shared) > min(STORES[h][table] for h in STORES) // 2, (table, shared)
        assert set.intersection(*(set(p) for p in per_store.values())) == shared, table
    for table, rows in snap.items():
        # Every table holds every store's rows, and no key twice.
        assert {k[0] for k in rows} == set(STORES), table
        count, distinct = fleet.counts[1][table]
        assert count == distinct == len(rows), (table, count, distinct)


def test_every_table_is_keyed_by_store_then_its_own_key(fleet: Fleet):
    keys, tables = declared_keys(), primary_keys(fleet.pg, fleet.schema)
    for table in fleet.snaps[1]:
        assert keys[table][0] == "store_hash", table
        assert sorted(tables[table]) == sorted(keys[table]), (table, tables[table])


# ----------------------------------------------------------------- d: a store added later


def test_a_store_added_later_is_read_from_scratch_the_others_from_their_bookmarks(fleet: Fleet):
    state = fleet.states[0]["singer_state"]
    for h in STORES:
        pages = {s: 0 for s in INCREMENTAL}
        for request in fleet.requests[h]:
            stream = stream_of(request)
            if stream is None or request.query == {"limit": "1"}:
                continue  # not a list request, or the connection check
            pages[stream] += 1
            lower = lower_bound(request)
            if h == C:
                # No bookmark and no start_date: everything, with no lower bound.
                assert lower is None, (h, request.path, request.query)
            else:
                mark = store_bookmark(state, stream, h)["replication_key_value"]
                assert lower, (h, request.path, request.query)
                moment = dt.datetime.fromisoformat(mark).timestamp()
                assert parse_time(lower).timestamp() >= moment, (h, request.path, lower, mark)
        assert all(pages.values()), (h, pages)
    after = fleet.states[1]["singer_state"]
    for stream in INCREMENTAL:
        contexts = [p["context"] for p in after["bookmarks"][stream]["partitions"]]
        assert sorted(c["store_hash"] for c in contexts) == [A, B, C], contexts
        for h in (A, B):  # nothing changed in A and B: their bookmarks stayed
            assert store_bookmark(after, stream, h) == store_bookmark(state, stream, h), stream


def test_a_store_added_later_marks_no_row_deleted(fleet: Fleet):
    before, after = fleet.snaps[0], fleet.snaps[1]
    for table, rows in after.items():
        assert not marked(after)[table], table
        assert set(before.get(table, {})) <= set(rows), table
    # Not for want of a chance: C was read whole (its rows carry the run's version), A's and
    # B's product rows are older (run 1 read from start_date: no version), so C's
    # ACTIVATE_VERSION alone would have marked all of them.
    versions = {h: {v for k, (_, v, _) in after["products"].items() if k[0] == h} for h in STORES}
    (c_version,) = versions[C]
    assert c_version is not None
    assert all(v is None or v < c_version for h in (A, B) for v in versions[h]), versions
    out = fleet.runs[1].stdout + fleet.runs[1].stderr
    assert "brands: every store was read whole" in out
    assert "products: every store was read whole" not in out


# ----------------------------------------------------------------- b: a full refresh


def test_config_set_keeps_references_in_dotenv(fleet: Fleet):
    """`meltano config set ... stores` (a sensitive setting) wrote `.env`, references only."""
    assert fleet.dotenv.startswith("TAP_BIGCOMMERCE_STORES="), fleet.dotenv
    assert "${CLIENT_C_TOKEN}" in fleet.dotenv
    assert not any(token in fleet.dotenv for token in TOKENS.values())
    # Run 3 read all three stores with them (Meltano expanded them).
    assert fleet.runs[2].returncode == 0


def test_a_full_refresh_marks_exactly_the_rows_deleted_in_one_store(fleet: Fleet):
    before, after = marked(fleet.snaps[1]), marked(fleet.snaps[2])
    snap = fleet.snaps[2]
    new = {table: after[table] - before.get(table, set()) for table in after}
    for table, rid in DELETED_IN_A.items():
        assert new[table] == {(A, rid)}, (table, new[table])
        # The same id in the other stores stays live.
        for h in (B, C):
            assert snap[table][(h, rid)][0] is None, (table, h)
    for table, (parent, _) in CHILD_TABLES.items():
        under = {
            k
            for k, (_, _, pid) in snap[table].items()
            if k[0] == A and pid == DELETED_IN_A.get(parent)
        }
        assert new[table] == under, (table, sorted(new[table]), sorted(under))
    assert new["product_variants"] and new["customer_addresses"]
    for table, keys in new.items():
        assert all(k[0] == A for k in keys), (table, sorted(keys))
    for table in MAIN:
        for h in STORES:
            assert live_ids(snap, table, h) == fleet.ids[2][h][table], (table, h)
        # One version for every store's rows: the run's, which the one ACTIVATE_VERSION names.
        versions = {v for at, v, _ in snap[table].values() if at is None}
        assert len(versions) == 1 and None not in versions, (table, versions)


# ----------------------------------------------------------------- c: one store failing


def test_a_failing_store_fails_the_run_and_names_itself(fleet: Fleet):
    done = fleet.runs[3]
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "1 of 3 stores could not be read" in out, tail(done)
    assert f"store '{C}'" in out and "401" in out, tail(done)
    assert TOKENS[A] not in out and TOKENS[B] not in out


def test_a_failing_store_leaves_the_others_complete(fleet: Fleet):
    before, after = fleet.snaps[2], fleet.snaps[3]
    for table in MAIN:
        old = {v for _, v, _ in before[table].values()}
        versions = set()
        for h in (A, B):
            # Every row the store has, written again by this run (its one new version).
            ids = fleet.ids[3][h][table]
            versions |= {after[table][(h, rid)][1] for rid in ids}
            assert live_ids(after, table, h) == sorted(
                set(ids) | ({DELETED_IN_B[table]} if h == B and table in DELETED_IN_B else set())
            ), (table, h)
        assert len(versions) == 1 and not versions & old, (table, versions, old)
        # C's rows as they were.
        assert {k: v for k, v in after[table].items() if k[0] == C} == {
            k: v for k, v in before[table].items() if k[0] == C
        }, table
    # Meltano kept the state the tap wrote for A and B.
    state = fleet.states[3]["singer_state"]
    for stream in INCREMENTAL:
        for h in (A, B):
            assert store_bookmark(state, stream, h).get("replication_key_value"), (stream, h)


def test_a_failing_store_lets_no_row_be_marked_deleted(fleet: Fleet):
    """C could not be read whole: no ACTIVATE_VERSION, so B's deleted rows stay unmarked."""
    before, after = marked(fleet.snaps[2]), marked(fleet.snaps[3])
    assert after == before
    for table, rid in DELETED_IN_B.items():
        assert fleet.snaps[3][table][(B, rid)][0] is None, table
    out = fleet.runs[3].stdout + fleet.runs[3].stderr
    assert "every store was read whole" not in out


def test_the_runs_take_seconds(fleet: Fleet):
    assert max(fleet.seconds) < 60, fleet.seconds
