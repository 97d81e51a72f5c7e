"""Profile the tap's own work per record: `python benchmarks/profile_tap.py [--products N]`.

The sandbox runs in a forked child process (its records rendered once beforehand), so the
profile holds only the tap: `TapBigCommerce(config, catalog).sync_all()` in this process with
`products` alone selected, under cProfile, its stdout (fd 1) sent to /dev/null. Prints the
functions with the most own time (tottime) as a share of the run and in microseconds per
record, then the same by cumulative time. cProfile profiles the calling thread only: with
requests in worker threads, their time shows here as waiting.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import os
import pstats
import sys
import time
import typing as t
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_bigcommerce.sandbox import Sandbox, Store

TOKEN = "bench-token"
INCLUDES = ["variants", "images", "custom_fields", "primary_image", "bulk_pricing_rules",
            "channels"]  # fmt: skip


def serve(products: int, conn: Connection) -> None:
    """The sandbox, in the child process: render, listen, say where, wait to be told to stop."""
    store = Store(seed=1, products=products, customers=1, orders=1, cache_bytes=None)
    store.warm("products", INCLUDES)
    with Sandbox(store, store_hash="bench1", access_token=TOKEN) as sb:
        conn.send(sb.api_url)
        conn.recv()


@contextlib.contextmanager
def stdout_to_devnull() -> t.Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    server = ctx.Process(target=serve, args=(args.products, there), daemon=True)
    server.start()
    api_url = here.recv()
    try:
        from tap_bigcommerce.tap import TapBigCommerce

        config = {"store_hash": "bench1", "access_token": TOKEN, "api_url": api_url,
                  "quota_reserve": 0}  # fmt: skip
        catalog = TapBigCommerce(config=config, parse_env_config=False).catalog_dict
        for stream in catalog["streams"]:
            for entry in stream.get("metadata", []):
                if entry.get("breadcrumb") == []:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] == "products"
        tap = TapBigCommerce(config=config, catalog=catalog, parse_env_config=False)
        profiler = cProfile.Profile()
        with stdout_to_devnull():
            started = time.perf_counter()
            profiler.enable()
            tap.sync_all()
            profiler.disable()
            elapsed = time.perf_counter() - started
    finally:
        here.send("stop")
        server.join(timeout=10)

    n = args.products
    stats = pstats.Stats(profiler)
    entries = t.cast(dict[t.Any, t.Any], stats.stats)  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in entries.values())
    print(f"{n:,} products in {elapsed:.2f} s ({n / elapsed:,.0f} records/s) under cProfile;")
    print(f"profiled own time {total:.2f} s = {total / n * 1e6:,.0f} us per record\n")
    for key, title in (("tottime", "own time"), ("cumtime", "cumulative time")):
        print(f"top {args.top} by {title}:")
        print(f"{'%':>6} {'us/rec':>8} {'calls':>10}  function")
        index = 2 if key == "tottime" else 3
        ranked = sorted(entries.items(), key=lambda kv: kv[1][index], reverse=True)
        for (file, line, func), values in ranked[: args.top]:
            seconds, calls = values[index], values[1]
            where = f"{_short(file)}:{line}({func})"
            print(f"{seconds / total:>6.1%} {seconds / n * 1e6:>8.1f} {calls:>10,}  {where}")
        print()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(0)
    return 0


def _short(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


if __name__ == "__main__":
    sys.exit(main())
