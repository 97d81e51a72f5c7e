"""Command line: ``python -m tap_bigcommerce.sandbox`` runs a sandbox store until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .faults import KINDS
from .server import SCOPES, Sandbox
from .store import Store


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options (all knobs that make sense from outside a test)."""
    p = argparse.ArgumentParser(
        prog="python -m tap_bigcommerce.sandbox",
        description="BigCommerce-compatible API on loopback with seeded data.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port")
    p.add_argument("--store-hash", default="abc123")
    p.add_argument("--access-token", default="sandbox-token")
    p.add_argument("--scopes", default=",".join(SCOPES),
                   help=f"comma list of {', '.join(SCOPES)}")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--products", type=int, default=120)
    p.add_argument("--customers", type=int, default=80)
    p.add_argument("--orders", type=int, default=150)
    p.add_argument(
        "--plateau",
        type=int,
        default=None,
        help="records sharing one date_modified (default: 300 if >= 600 records)",
    )
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--quota", type=int, default=None, help="requests per window (default: none)")
    p.add_argument("--window-ms", type=int, default=30_000)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--fault-kinds", default="500,reset", help=f"comma list of {', '.join(KINDS)}")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write {api_url, store_hash, counts} as JSON here once listening",
    )
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until interrupted."""
    args = build_parser().parse_args(argv)
    store = Store(seed=args.seed, products=args.products, customers=args.customers,
                  orders=args.orders, plateau=args.plateau)  # fmt: skip
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    sandbox = Sandbox(store, store_hash=args.store_hash, access_token=args.access_token,
                      scopes=scopes, host=args.host, port=args.port,
                      latency_ms=args.latency_ms, verbose=args.verbose)  # fmt: skip
    if args.quota is not None:
        sandbox.set_quota(args.quota, window_ms=args.window_ms)
    if args.fault_rate > 0:
        kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
        sandbox.faults.random(args.fault_rate, kinds=kinds, seed=args.fault_seed)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with sandbox:
        print(f"Sandbox store listening on {sandbox.api_url} (store_hash={args.store_hash})",
              flush=True)  # fmt: skip
        if args.ready_file is not None:
            ready = {"api_url": sandbox.api_url, "store_hash": args.store_hash,
                     "counts": store.counts()}  # fmt: skip
            tmp = args.ready_file.with_suffix(args.ready_file.suffix + ".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(args.ready_file)  # atomic: a watcher never reads half a file
        while not stop.wait(0.5):
            pass
    print("Sandbox store stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
