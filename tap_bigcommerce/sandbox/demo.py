"""`make run`: start the sandbox store, sync it with Meltano into JSONL files, say what loaded.

Run from the project folder: `python -m tap_bigcommerce.sandbox.demo [--loader target-jsonl]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tap_bigcommerce.sandbox import Sandbox, Store

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's own key, not a secret


def meltano_env(api_url: str) -> dict[str, str]:
    """Environment for `meltano --environment=sandbox` pointing at the running sandbox."""
    env = dict(os.environ)
    env.setdefault("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    env.update(
        {
            "BIGCOMMERCE_SANDBOX_URL": api_url,
            "TAP_BIGCOMMERCE_ACCESS_TOKEN": SANDBOX_TOKEN,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return env


def meltano_command() -> str:
    """The `meltano` next to this interpreter, else the one on PATH."""
    local = Path(sys.executable).with_name("meltano")
    return str(local) if local.exists() else (shutil.which("meltano") or "meltano")


def main() -> int:
    """Sync the sandbox into `output/` and print records per stream."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loader", default="target-jsonl")
    parser.add_argument("--records", type=int, default=500, help="records per resource")
    args = parser.parse_args()

    meltano = meltano_command()
    env = os.environ | {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    subprocess.run([meltano, "install", "tap-bigcommerce", args.loader], check=True, env=env)  # noqa: S603
    output = Path("output")
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir()

    n = args.records
    store = Store(seed=1, products=n, customers=n, orders=n)
    with Sandbox(store, store_hash="abc123", access_token=SANDBOX_TOKEN, port=0) as sandbox:
        print(f"Sandbox store listening on {sandbox.api_url} (store_hash=abc123)")
        done = subprocess.run(  # noqa: S603
            # --full-refresh: load the whole sandbox every time, not the changes since the
            # previous `make run` (whose bookmark Meltano keeps in `.meltano/`).
            [
                meltano,
                "--environment=sandbox",
                "run",
                "--full-refresh",
                "tap-bigcommerce",
                args.loader,
            ],
            env=meltano_env(sandbox.api_url),
            check=False,
        )
        requests = sandbox.count()
    if done.returncode != 0:
        print(f"meltano run failed with exit code {done.returncode}", file=sys.stderr)
        return done.returncode

    print(f"\nLoaded from the sandbox store ({requests} API requests):")
    for path in sorted(output.glob("*.jsonl")):
        with path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        print(f"  {path.stem:<28} {lines:>7,} records  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
