"""Benchmark: the tap against a bare `requests` loop, on the sandbox store, in one run.

    .venv/bin/python benchmarks/run.py [--quick] [--scenario NAME ...]      (also: make bench)

The sandbox store runs in this process (threads). For every scenario the tap (the scenario's
one stream, `products` unless it says otherwise, `quota_reserve: 0`, other settings default)
and the baseline (`bare_loop.py`: page-number paging, one request after another, same endpoint
and parameters as the tap) each run as a
subprocess; their stdout is read and only its RECORD lines counted. Measured per run: wall time
from start to exit (interpreter start-up included), CPU time, the span between the first and
the last response the sandbox sent, requests and 429s as the sandbox logged them, and peak RSS from
`os.wait4` (`ru_maxrss`, read by the small launcher `measured.py`). Ratios compare the tap
with the baseline of the same run; nothing is asserted: timings are for reading, not for
failing a build. Each runner's start-up (imports and exit, no request: `tap-bigcommerce
--about`, `bare_loop.py --help`) is measured too, and the latency ratios are also given
past it, because on a small store it weighs on the tap's ratio.

Scenarios:
  latency0    10k products, no added latency
  latency100  10k and 100k products, 100 ms per request (the baseline is serial; target:
              tap >= 5x)
  quota       BigCommerce's 150 requests / 30 s, scaled in time to 15 / 3 s (same 5 req/s),
              enough products for several windows: share of the quota used, 429s
  memory      10k vs 100k products at 0 ms: the tap's peak RSS (target: within 20 %, < 150 MB)
  orders      20k orders (v2, with their line items), 100 ms per request: speed and memory
  transactions 2k changed orders with `order_transactions` selected (one v3 request per
              order), 100 ms per request; the baseline reads the same requests one after
              another (target: the tap's wall time at most a quarter of the serial one)
  stores      8 stores on one sandbox server, the same data in each (60 products, customers
              and orders, their default child streams selected too), each with its own quota
              scaled as in `quota`: one tap run over all 8 (`stores` setting) against the
              baseline of the tap run on each store in turn (target: at most 1/3 of its wall
              time, no 429); wall time for 1, 2, 4 and 8 stores in one run; and every store's
              records, by stream, counted against its own run's

Each record's JSON is rendered once before the runs (the sandbox caches encoded records), so
the server answers a page in well under a millisecond and the clients are what is measured.
"""

from __future__ import annotations

import argparse
import collections
import compileall
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tap_bigcommerce.sandbox import Sandbox, Store  # noqa: E402

TOKEN = "bench-token"  # the sandbox's own key, not a secret
STORE_HASH = "bench1"
#: BigCommerce's standard quota, and the factor by which the benchmark shortens its window.
REAL_QUOTA, REAL_WINDOW_MS = 150, 30_000
#: What the tap sent when this was written (used only if it cannot be asked).
FALLBACK_PARAMS = {
    "products": {
        "include": "variants,images,custom_fields,primary_image,bulk_pricing_rules,channels",
        "limit": 250,
        "sort": "date_modified",
        "direction": "asc",
    },
    "orders": {
        "include": "consignments.line_items,fees",
        "consignment_structure": "object",
        "limit": 250,
        "sort": "date_modified:asc",
    },
}
ENDPOINTS = {"products": "v3/catalog/products", "orders": "v2/orders"}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    records: int
    latency_ms: float = 0
    quota: int | None = None
    window_ms: int = 30_000
    stream: str = "products"
    #: Child streams selected with the stream, and the per-record listing the baseline reads.
    children: tuple[str, ...] = ()
    each: str | None = None
    #: Stores on the one sandbox server (each its own quota), and the top-level streams read
    #: with `stream` (each with its default child streams): only the `stores` scenario.
    stores: int = 1
    also: tuple[str, ...] = ()


def scenarios(quick: bool) -> dict[str, list[Scenario]]:
    """The scenarios; `quick` shrinks sizes (and the quota window) for a smoke test."""
    n = 500 if quick else 10_000
    big = 10_000 if quick else 100_000
    # Keep quota / window at 150 / 30 s = 5 requests per second, with a shorter window.
    quota, window = (3, 600) if quick else (15, 3_000)
    # The stores scenario: stores on one server, and records of each resource in each.
    stores, each = (4, 10) if quick else (8, 60)
    return {
        "latency0": [Scenario("latency0", f"{n:,} products, 0 ms", n)],
        # A large store too: on 10k records the tap's start-up (a third of a second) and the
        # rounds of requests it cannot overlap weigh on the ratio.
        "latency100": [
            Scenario("latency100", f"{n:,} products, 100 ms/request", n, latency_ms=100),
            Scenario("latency100", f"{big:,} products, 100 ms/request", big, latency_ms=100),
        ],
        "quota": [
            Scenario(
                "quota",
                f"{4 * n if quick else 2 * n:,} products, quota {quota}/{window} ms",
                4 * n if quick else 2 * n,
                quota=quota,
                window_ms=window,
            )
        ],
        "memory": [
            Scenario("memory", f"{n:,} products, 0 ms", n),
            Scenario("memory", f"{big:,} products, 0 ms", big),
        ],
        # Orders (v2) carry their line items: about 10 kB each, three times a product.
        "orders": [
            Scenario("orders", f"{2 * n:,} orders, 100 ms/request", 2 * n, 100, stream="orders")
        ],
        "transactions": [
            Scenario(
                "transactions",
                f"{n // 5:,} orders + transactions, 100 ms",
                n // 5,
                100,
                stream="orders",
                children=("order_transactions",),
                each="v3/orders/{id}/transactions",
            )
        ],
        # Small stores on the Standard plan: the quota, not the network, sets each store's
        # pace (one request at a time), so one run over all of them should last little more
        # than one store's. 60 of each: about 50 requests a store, 4 windows.
        "stores": [
            Scenario(
                "stores",
                f"{stores} stores x {each} each, quota {quota}/{window} ms",
                each,
                quota=quota,
                window_ms=window,
                stores=stores,
                also=("customers", "orders"),
            )
        ],
    }


@dataclass
class Run:
    runner: str
    records: int
    wall_s: float
    cpu_s: float
    span_s: float
    requests: int
    throttled: int
    peak_mb: float
    returncode: int
    first_at: float = 0.0
    last_at: float = 0.0
    allowed: int = 0
    window_start: float = 0.0  # when the sandbox's quota window clock started for this run
    #: Records by store_hash and stream (counted only where asked: runs over many stores).
    by_store: dict[str, collections.Counter[str]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


def clean_env() -> dict[str, str]:
    """The caller's environment minus what would change what the tap reads or logs."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TAP_BIGCOMMERCE") and k not in ("LOGLEVEL", "SINGER_SDK_LOG_CONFIG")
    }


def tap_command() -> list[str]:
    script = Path(sys.executable).with_name("tap-bigcommerce")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_bigcommerce.tap"]


def count_records(
    stream: t.IO[bytes], out: list[int], by_store: dict[str, collections.Counter[str]] | None = None
) -> None:
    """Count Singer RECORD lines (any JSON spacing) without keeping them.

    `by_store`: also count them by the record's `store_hash` and stream (each line decoded).
    """
    n = 0
    for line in stream:
        if line.startswith(b'{"type":') and b'"RECORD"' in line[:24]:
            n += 1
            if by_store is not None:
                message = json.loads(line)
                store = str(message["record"].get("store_hash"))
                by_store.setdefault(store, collections.Counter())[message["stream"]] += 1
    out.append(n)


def under_launcher(command: list[str], report: Path) -> list[str]:
    """`command` run by `measured.py`, which writes its wall time, CPU and peak RSS to `report`."""
    return [sys.executable, "-I", "-S", str(HERE / "measured.py"), str(report), "--", *command]


def measure(
    runner: str,
    command: list[str],
    sb: Sandbox | t.Sequence[Sandbox],
    workdir: Path,
    *,
    by_store: bool = False,
) -> Run:
    """Run `command`, count its records, and read its cost from the OS and the sandbox.

    The command runs under `measured.py`, a small launcher that times it and reads its peak
    RSS with `os.wait4` (see there why not directly from this big process). With several
    sandboxes (the stores of one server), requests and 429s are those of all of them;
    `by_store`: records are also counted by store and stream.
    """
    stores = [sb] if isinstance(sb, Sandbox) else list(sb)
    for one in stores:
        one.reset_log()
    limited_before = sum(one.rate_limited for one in stores)
    stderr_path = workdir / f"{runner}.stderr"
    report = workdir / f"{runner}.report.json"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            under_launcher(command, report), stdout=subprocess.PIPE, stderr=stderr, env=clean_env()
        )
        assert proc.stdout is not None
        counted: list[int] = []
        tally: dict[str, collections.Counter[str]] | None = {} if by_store else None
        reader = threading.Thread(
            target=count_records, args=(proc.stdout, counted, tally), daemon=True
        )
        reader.start()
        proc.wait()
        reader.join()
        proc.stdout.close()
    measured = json.loads(report.read_text())
    log = [r for one in stores for r in one.requests]
    if measured["returncode"] != 0:
        tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
        print(f"  {runner} exited with {measured['returncode']}:", *tail, sep="\n    ",
              file=sys.stderr)  # fmt: skip
    first = min((r.at for r in log), default=0.0)
    last = max((r.at for r in log), default=0.0)
    return Run(
        runner=runner,
        records=counted[0] if counted else 0,
        wall_s=measured["wall_s"],
        cpu_s=measured["cpu_s"],
        span_s=last - first,
        requests=len(log),
        throttled=sum(one.rate_limited for one in stores) - limited_before,
        peak_mb=measured["maxrss_kib"] / 1024,  # KiB on Linux
        returncode=measured["returncode"],
        first_at=first,
        last_at=last,
        allowed=sum(1 for r in log if r.status != 429),
        by_store=tally or {},
    )


def startup_s(command: list[str], workdir: Path, tries: int = 3) -> float:
    """Wall time of `command` (best of `tries`): a runner's start-up and exit, no request."""
    best = math.inf
    report = workdir / "startup.report.json"
    for _ in range(tries):
        subprocess.run(under_launcher(command, report), capture_output=True, env=clean_env())
        best = min(best, json.loads(report.read_text())["wall_s"])
    return best


class Bench:
    """One sandbox per store size (its records rendered once), and the runs made on them."""

    def __init__(self, workdir: Path, settings: dict[str, t.Any] | None = None) -> None:
        self.workdir = workdir
        self.settings = settings or {}
        self.sandboxes: dict[tuple[str, int], Sandbox] = {}
        self.memo: dict[tuple[t.Any, ...], tuple[Run, Run]] = {}
        self.catalog_paths: dict[str, Path] = {}
        self.params: dict[str, dict[str, t.Any]] = {}

    def sandbox(self, stream: str, count: int) -> Sandbox:
        if (stream, count) not in self.sandboxes:
            # cache_bytes=None: every record's JSON stays cached (~4.3 kB a product with the
            # tap's includes; ~430 MB for 100k, in this process, which is not measured).
            sizes = {"products": 1, "customers": 1, "orders": 1, stream: count}
            store = Store(seed=1, **sizes, cache_bytes=None)
            sb = Sandbox(store, store_hash=STORE_HASH, access_token=TOKEN).start()
            self.sandboxes[(stream, count)] = sb
            params = self.tap_params(sb, stream)
            started = time.perf_counter()
            includes = [x for x in str(params.get("include", "")).split(",") if x]
            whole = params.get("consignment_structure") == "object"
            held = store.warm(stream, includes, object_structure=whole)
            print(
                f"  (sandbox: {count:,} {stream} rendered in "
                f"{time.perf_counter() - started:.1f} s, {held / 2**20:.0f} MB cached)",
                file=sys.stderr,
            )
        return self.sandboxes[(stream, count)]

    def config(self, sb: Sandbox) -> dict[str, t.Any]:
        return {
            "store_hash": sb.store_hash,
            "access_token": sb.access_token,
            "api_url": sb.api_url,
            "quota_reserve": 0,
            **self.settings,
        }

    def tap_params(self, sb: Sandbox, name: str) -> dict[str, t.Any]:
        """What the tap sends for a stream (include, limit, sort), asked of the tap itself."""
        if name not in self.params:
            from tap_bigcommerce.tap import TapBigCommerce

            tap = TapBigCommerce(config=self.config(sb), parse_env_config=False)
            stream = t.cast(t.Any, tap.streams[name])
            try:
                params = dict(stream.flavour.window_params(None, None, stream.page_size))
            except (AttributeError, TypeError):  # the tap's internals moved: say so, go on
                params = dict(FALLBACK_PARAMS[name])
                print("  (could not ask the tap for its parameters; using", params,
                      ")", file=sys.stderr)  # fmt: skip
            self.params[name] = params
        return self.params[name]

    def catalog(self, sb: Sandbox, name: str, children: tuple[str, ...] = ()) -> Path:
        """`--discover`, then select the one stream (its child streams stay off but these)."""
        key = ",".join((name, *children))
        if key not in self.catalog_paths:
            config = self.write_json("discover-config.json", self.config(sb))
            done = subprocess.run(
                [*tap_command(), "--config", str(config), "--discover"],
                capture_output=True,
                env=clean_env(),
                check=True,
            )
            catalog = json.loads(done.stdout)
            for stream in catalog["streams"]:
                for entry in stream.get("metadata", []):
                    if entry.get("breadcrumb") == []:
                        entry["metadata"]["selected"] = stream["tap_stream_id"] in (
                            name,
                            *children,
                        )
            self.catalog_paths[key] = self.write_json(f"catalog-{key}.json", catalog)
        return self.catalog_paths[key]

    def write_json(self, name: str, value: t.Any) -> Path:
        path = self.workdir / name
        path.write_text(json.dumps(value))
        return path

    def run(self, sc: Scenario) -> tuple[Run, Run]:
        """Tap, then baseline, on the scenario's sandbox."""
        key = (sc.stream, sc.records, sc.latency_ms, sc.quota, sc.window_ms, sc.children)
        if key in self.memo:
            return self.memo[key]
        sb = self.sandbox(sc.stream, sc.records)
        sb.latency_ms = sc.latency_ms
        config = self.write_json("config.json", self.config(sb))
        catalog = self.catalog(sb, sc.stream, sc.children)
        params = self.tap_params(sb, sc.stream)
        tap_cmd = [*tap_command(), "--config", str(config), "--catalog", str(catalog)]
        bare_cmd = [
            sys.executable,
            str(HERE / "bare_loop.py"),
            "--url",
            f"{sb.base_url}/{ENDPOINTS[sc.stream]}",
            "--token",
            TOKEN,
            "--stream",
            sc.stream,
            *(arg for k, v in params.items() for arg in ("--param", f"{k}={v}")),
        ]
        if sc.each:
            bare_cmd += ["--each", f"{sb.base_url}/{sc.each}", "--each-stream", sc.children[0]]
        runs = []
        for runner, command in (("tap", tap_cmd), ("bare", bare_cmd)):
            sb.set_quota(sc.quota, window_ms=sc.window_ms)  # a fresh window for each run
            window_start = time.time()
            run = measure(runner, command, sb, self.workdir)
            run.window_start = window_start
            runs.append(run)
        sb.set_quota(None)
        sb.latency_ms = 0
        self.memo[key] = (runs[0], runs[1])
        return self.memo[key]

    def store_sandboxes(self, sc: Scenario) -> list[Sandbox]:
        """`sc.stores` stores served by one sandbox server, the same data in each, warmed."""
        names = (sc.stream, *sc.also)
        sizes = {"products": 1, "customers": 1, "orders": 1, **dict.fromkeys(names, sc.records)}
        hashes = [f"store{i}" for i in range(1, sc.stores + 1)]
        # Each store its own `Store` (the same seed and sizes: the same records), token,
        # quota and request log; the first one's server answers for all.
        primary = Sandbox(
            Store(seed=1, **sizes, cache_bytes=None), store_hash=hashes[0], access_token=TOKEN
        ).start()
        self.sandboxes[("stores", sc.records)] = primary
        stores = [primary] + [
            primary.add_store(h, f"{TOKEN}-{i}", Store(seed=1, **sizes, cache_bytes=None))
            for i, h in enumerate(hashes[1:], start=2)
        ]
        started = time.perf_counter()
        for name in names:
            params = self.tap_params(primary, name)
            includes = [x for x in str(params.get("include", "")).split(",") if x]
            whole = params.get("consignment_structure") == "object"
            for sb in stores:
                sb.store.warm(name, includes, object_structure=whole)
        print(
            f"  (sandbox: {len(stores)} stores of {sc.records:,} {', '.join(names)} rendered "
            f"in {time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
        return stores

    def stores_config(self, stores: t.Sequence[Sandbox]) -> dict[str, t.Any]:
        """The settings of one run over `stores` (the `stores` setting)."""
        entries = [
            {"store_hash": sb.store_hash, "access_token": sb.access_token, "api_url": sb.api_url}
            for sb in stores
        ]
        return {"stores": entries, "quota_reserve": 0, **self.settings}

    def default_children(self, sb: Sandbox, parents: t.Sequence[str]) -> tuple[str, ...]:
        """The child streams of `parents` that a discovered catalog selects by default."""
        from tap_bigcommerce.tap import TapBigCommerce

        tap = TapBigCommerce(config=self.config(sb), parse_env_config=False)
        return tuple(
            name
            for name, stream in tap.streams.items()
            if stream.parent_stream_type is not None
            and stream.parent_stream_type.name in parents
            and stream.selected_by_default
        )

    def run_stores(self, sc: Scenario) -> StoresRuns:
        """The tap on each store in turn, then one run over all stores, then over fewer."""
        stores = self.store_sandboxes(sc)
        names = (sc.stream, *sc.also)
        children = self.default_children(stores[0], names)
        catalog = self.catalog(stores[0], sc.stream, (*sc.also, *children))
        result = StoresRuns(streams=(*names, *children), hashes=[sb.store_hash for sb in stores])

        def timed(runner: str, config: dict[str, t.Any], these: list[Sandbox]) -> Run:
            path = self.write_json("config.json", config)
            for sb in these:
                sb.set_quota(sc.quota, window_ms=sc.window_ms)  # a fresh window for each run
            window_start = time.time()
            command = [*tap_command(), "--config", str(path), "--catalog", str(catalog)]
            run = measure(runner, command, these, self.workdir, by_store=True)
            run.window_start = window_start
            if sc.quota:
                for sb in these:
                    log = sb.requests  # this run's, until the next one resets it
                    if log:
                        first, last = min(r.at for r in log), max(r.at for r in log)
                        windows = windows_between(first, last, window_start, sc.window_ms)
                        allowed = sum(1 for r in log if r.status != 429)
                        used = allowed / (windows * sc.quota)
                        label = "alone" if runner == "serial" else f"{len(these)} in one run"
                        result.quota_used.setdefault(label, []).append(used)
            return run

        # The baseline: what a scheduler running one store after another would take.
        for sb in stores:
            result.serial.append(timed("serial", self.config(sb), [sb]))
        # All stores first, right after the baseline; then the growth from one store up.
        counts = sorted({k for k in (1, 2, 4, 8, 16, 32, 64) if k < sc.stores} | {sc.stores})
        for k in [sc.stores, *counts[:-1]]:
            result.fleet[k] = timed("tap", self.stores_config(stores[:k]), stores[:k])
        for sb in stores:
            sb.set_quota(None)
        return result

    def close(self) -> None:
        for sb in self.sandboxes.values():
            sb.stop()


@dataclass
class StoresRuns:
    """The runs of the `stores` scenario."""

    streams: tuple[str, ...]
    hashes: list[str]
    #: The tap on each store alone, one after another (the baseline), in store order.
    serial: list[Run] = field(default_factory=list)
    #: One run over the first k stores, by k.
    fleet: dict[int, Run] = field(default_factory=dict)
    #: Share of its quota each store used (windows from its first to its last request), by
    #: run: "alone" (the baseline), "k in one run".
    quota_used: dict[str, list[float]] = field(default_factory=dict)

    def baseline(self) -> Run:
        """The serial runs as one: times, requests, 429s and records summed; peak the highest."""
        runs = self.serial
        return Run(
            runner="serial",
            records=sum(r.records for r in runs),
            wall_s=sum(r.wall_s for r in runs),
            cpu_s=sum(r.cpu_s for r in runs),
            span_s=max(r.last_at for r in runs) - min(r.first_at for r in runs),
            requests=sum(r.requests for r in runs),
            throttled=sum(r.throttled for r in runs),
            peak_mb=max(r.peak_mb for r in runs),
            returncode=max((r.returncode for r in runs), key=abs),
            allowed=sum(r.allowed for r in runs),
        )

    def own_counts(self) -> dict[str, collections.Counter[str]]:
        """Records by stream of each store in its own run (those that name that store)."""
        return {
            h: run.by_store.get(h, collections.Counter())
            for h, run in zip(self.hashes, self.serial, strict=True)
        }

    def mismatches(self, k: int) -> list[str]:
        """Where the run over k stores wrote other records than the stores' own runs."""
        own = self.own_counts()
        lines = [
            f"{h}'s own run: {sum(c.values()):,} records of store_hash {other}"
            for h, run in zip(self.hashes, self.serial, strict=True)
            for other, c in run.by_store.items()
            if other != h
        ]
        got = self.fleet[k].by_store
        expected = self.hashes[:k]
        lines += [f"{h}: records of a store not in the run" for h in got if h not in expected]
        lines += [f"{h}: its own run wrote no record" for h in expected if not own[h]]
        for h in expected:
            theirs, mine = got.get(h, collections.Counter()), own[h]
            for stream in sorted(set(theirs) | set(mine)):
                if theirs[stream] != mine[stream]:
                    lines.append(f"{h} {stream}: {theirs[stream]:,} (own run {mine[stream]:,})")
        return lines


def windows_touched(run: Run, window_ms: int) -> int:
    """Quota windows from the one of the first request to the one of the last, inclusive."""
    return windows_between(run.first_at, run.last_at, run.window_start, window_ms)


def windows_between(first_at: float, last_at: float, window_start: float, window_ms: int) -> int:
    """Windows (the first starting at `window_start`) from `first_at`'s to `last_at`'s."""
    w = window_ms / 1000
    first = math.floor((first_at - window_start) / w)
    return math.floor((last_at - window_start) / w) - first + 1


HEADER = (
    f"{'scenario':<44} {'runner':<6} {'records':>8} {'wall s':>7} {'CPU s':>6} {'span s':>7} "
    f"{'rec/s':>8} {'requests':>8} {'429s':>5} {'peak MB':>8}"
)


def row(title: str, run: Run) -> str:
    failed = "" if run.returncode == 0 else f"  (exit {run.returncode})"
    return (
        f"{title:<44} {run.runner:<6} {run.records:>8,} {run.wall_s:>7.2f} {run.cpu_s:>6.2f} "
        f"{run.span_s:>7.2f} "
        f"{run.rate:>8,.0f} {run.requests:>8,} {run.throttled:>5} {run.peak_mb:>8.1f}{failed}"
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def stores_report(sc: Scenario, result: StoresRuns, startup: float) -> tuple[list[str], list[str]]:
    """Rows (the run over all stores, the baseline) and notes of the `stores` scenario."""
    title = f"{sc.name}: {sc.title}"
    k = sc.stores
    whole, serial = result.fleet[k], result.baseline()
    rows = [row(title, whole), row("", serial)]
    top = (sc.stream, *sc.also)
    children = result.streams[len(top) :]
    notes = [
        f"{title}: {', '.join(top)} with their default children ({', '.join(children)}); "
        f"tap: one run over the {k} stores (`stores`), serial: the tap on each store in turn "
        "(the row sums the runs)",
        f"  wall s {k} stores in one run / one after another: {whole.wall_s:.2f} / "
        f"{serial.wall_s:.2f} = {ratio(whole.wall_s, serial.wall_s)} (target: at most 0.33x)",
        f"  past start-up (less {startup:.2f} s a run): {whole.wall_s - startup:.2f} / "
        f"{serial.wall_s - k * startup:.2f} = "
        f"{ratio(whole.wall_s - startup, serial.wall_s - k * startup)}",
        f"  429s: {whole.throttled} over all {k} stores in one run (target: 0); "
        f"{serial.throttled} in the runs one after another",
    ]
    if sc.quota:
        shares = [f"{label} {min(u):.0%}-{max(u):.0%}" for label, u in result.quota_used.items()]
        notes.append(
            f"  quota used by each store (its own {sc.quota}/{sc.window_ms / 1000:g} s; allowed "
            f"requests / (its windows x quota)): {', '.join(shares)}"
        )
    one = result.fleet[1].wall_s
    notes += [
        "  wall time by the number of stores in one run (the run of 1 is a single-store run):",
        f"    {'stores':>6} {'wall s':>7} {'vs 1':>6} {'requests':>8} {'429s':>5} {'records':>8}"
        "  records as each store's own run",
    ]
    for n, run in sorted(result.fleet.items()):
        wrong = result.mismatches(n)
        same = "yes" if not wrong and run.returncode == 0 else "NO: " + "; ".join(wrong[:3])
        notes.append(
            f"    {n:>6} {run.wall_s:>7.2f} {ratio(run.wall_s, one):>6} {run.requests:>8,} "
            f"{run.throttled:>5} {run.records:>8,}  {same}"
        )
    own = result.own_counts()
    got = whole.by_store
    cells = [
        f"{h} {sum(got.get(h, collections.Counter()).values()):,}/{sum(own[h].values()):,}"
        for h in result.hashes
    ]
    wrong = result.mismatches(k)
    notes.append(
        f"  records by store_hash, {k} stores in one run / the store's own run"
        + (" (equal stream by stream):" if not wrong else ": DIFFERENT")
    )
    notes += ["    " + "  ".join(cells[i : i + 4]) for i in range(0, len(cells), 4)]
    notes += [f"    {line}" for line in wrong]
    return rows, notes


def tap_fingerprint() -> str:
    """A hash of the tap's source (sandbox aside), to notice it changing during a run."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted((ROOT / "tap_bigcommerce").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    fingerprint = tap_fingerprint()
    all_scenarios = scenarios(quick=False)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(all_scenarios),
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a tap setting for every tap run, e.g. max_requests_in_flight=8 (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)}
    chosen = scenarios(args.quick)
    names = args.scenario or list(chosen)

    # As an installed tap would be: byte-compiled, so no run spends its start compiling
    # (where PYTHONDONTWRITEBYTECODE is set, a source checkout never gets .pyc files).
    if not compileall.compile_dir(ROOT / "tap_bigcommerce", quiet=1):
        print("  (could not byte-compile the tap: its runs include compiling it)", file=sys.stderr)
    table: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tap-bigcommerce-bench-") as folder:
        bench = Bench(Path(folder), settings)
        # What each run pays before its first request and after its last, whatever the
        # store's size: imports (the tap: `singer_sdk`; the loop: `requests`) and exit.
        startup = {
            "tap": startup_s([*tap_command(), "--about"], Path(folder)),
            "bare": startup_s([sys.executable, str(HERE / "bare_loop.py"), "--help"], Path(folder)),
        }
        try:
            for name in names:
                print(f"running {name} ...", file=sys.stderr, flush=True)
                memory_runs: list[tuple[Scenario, Run]] = []
                for sc in chosen[name]:
                    if sc.stores > 1:
                        rows, more = stores_report(sc, bench.run_stores(sc), startup["tap"])
                        table += rows
                        notes += more
                        continue
                    tap, bare = bench.run(sc)
                    title = f"{sc.name}: {sc.title}"
                    table += [row(title, tap), row("", bare)]
                    against = "serial" if sc.latency_ms else "bare"
                    notes.append(
                        f"{title}: tap/{against} rec/s {ratio(tap.rate, bare.rate)}, "
                        f"requests {ratio(tap.requests, bare.requests)}, "
                        f"peak MB {ratio(tap.peak_mb, bare.peak_mb)}"
                    )
                    if sc.each:
                        notes.append(
                            f"  wall s tap/serial: {tap.wall_s:.2f} / {bare.wall_s:.2f} = "
                            f"{ratio(tap.wall_s, bare.wall_s)} (target: at most 0.25x)"
                        )
                    if sc.latency_ms:
                        after = [run.wall_s - startup[run.runner] for run in (tap, bare)]
                        notes.append(
                            f"  past start-up (each wall s less its runner's start-up): "
                            f"tap/{against} {ratio(after[1], after[0])}"
                        )
                    if sc.quota:
                        for run in (tap, bare):
                            windows = windows_touched(run, sc.window_ms)
                            used = run.allowed / (windows * sc.quota)
                            notes.append(
                                f"  {run.runner}: {run.allowed} requests in {windows} windows of "
                                f"{sc.quota} = {used:.0%} of the quota; {run.throttled} x 429 "
                                f"(quota {REAL_QUOTA}/{REAL_WINDOW_MS // 1000} s scaled to "
                                f"{sc.quota}/{sc.window_ms / 1000:g} s, same requests per second)"
                            )
                    memory_runs.append((sc, tap))
                if name == "memory" and len(memory_runs) == 2:
                    (small, a), (large, b) = memory_runs
                    notes.append(
                        f"  tap peak RSS {large.records:,} vs {small.records:,} products: "
                        f"{b.peak_mb:.1f} / {a.peak_mb:.1f} MB = {ratio(b.peak_mb, a.peak_mb)} "
                        "(target: within 1.20x and under 150 MB)"
                    )
        finally:
            bench.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work on the machine skews timings)")
    print(HEADER)
    print("-" * len(HEADER))
    print(*table, sep="\n")
    print()
    print("wall s: process start to exit; CPU s: its user + system time (all threads);")
    print("span s: first to last response sent by the sandbox;")
    print("rec/s: records / wall s; peak MB: the process's maximum RSS (ru_maxrss).")
    print(
        f"start-up, no request (best of 3): tap {startup['tap']:.2f} s (`tap-bigcommerce "
        f"--about`), bare {startup['bare']:.2f} s (`bare_loop.py --help`)"
    )
    print(*notes, sep="\n")
    if tap_fingerprint() != fingerprint:
        print("WARNING: the tap's source changed during the run; rows may mix two versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
