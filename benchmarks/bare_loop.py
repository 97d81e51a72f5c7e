"""The baseline: a plain `requests` + `json` loop over one v3 list, page after page.

It asks the same endpoint with the same parameters as the tap (passed by `run.py`, which reads
them from the tap itself), but pages by `page=N` one request after another, and prints one
Singer RECORD line per record. No schema, no state, no conversion: the floor a tap is
measured against. On HTTP 429 it sleeps for `X-Retry-After` and asks again.

    python benchmarks/bare_loop.py --url URL --token TOKEN [--param include=variants ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", required=True, help="the list endpoint, e.g. .../v3/catalog/products"
    )
    parser.add_argument("--token", required=True)
    parser.add_argument("--stream", default="products")
    parser.add_argument("--param", action="append", default=[], help="name=value, repeatable")
    args = parser.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.param)

    session = requests.Session()
    session.headers.update({"X-Auth-Token": args.token, "Accept": "application/json"})
    out = sys.stdout
    page = 1
    while True:
        response = session.get(args.url, params={**params, "page": page}, timeout=60)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("X-Retry-After", "1")))
            continue
        response.raise_for_status()
        document = json.loads(response.content)
        for record in document["data"]:
            out.write(json.dumps({"type": "RECORD", "stream": args.stream, "record": record}))
            out.write("\n")
        pagination = document["meta"]["pagination"]
        if not document["data"] or page >= pagination["total_pages"]:
            break
        page += 1
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
