"""The baseline: a plain `requests` + `json` loop over one list, page after page.

It asks the same endpoint with the same parameters as the tap (passed by `run.py`, which reads
them from the tap itself), but pages by `page=N` one request after another, and prints one
Singer RECORD line per record. No schema, no state, no conversion: the floor a tap is
measured against. On HTTP 429 it sleeps for `X-Retry-After` and asks again. A v3 list ends
at its `total_pages`; a v2 list (a bare array) with HTTP 204 or an empty page. With
`--each URL` (`{id}` in it), each record's own listing is then read too, one request after
another, and its rows printed as RECORD lines of `--each-stream` (order transactions).

    python benchmarks/bare_loop.py --url URL --token TOKEN [--param include=variants ...]
        [--each URL/{id}/transactions --each-stream order_transactions]
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
    parser.add_argument("--each", help="a listing of each record, `{id}` in it (one page)")
    parser.add_argument("--each-stream", default="children")
    args = parser.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.param)

    session = requests.Session()
    session.headers.update({"X-Auth-Token": args.token, "Accept": "application/json"})
    out = sys.stdout

    def get(url: str, query: dict) -> requests.Response:
        while True:
            response = session.get(url, params=query, timeout=60)
            if response.status_code != 429:
                response.raise_for_status()
                return response
            time.sleep(float(response.headers.get("X-Retry-After", "1")))

    page = 1
    while True:
        response = session.get(args.url, params={**params, "page": page}, timeout=60)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("X-Retry-After", "1")))
            continue
        response.raise_for_status()
        if response.status_code == 204:  # v2: past the end
            break
        document = json.loads(response.content)
        records = document if isinstance(document, list) else document["data"]
        for record in records:
            out.write(json.dumps({"type": "RECORD", "stream": args.stream, "record": record}))
            out.write("\n")
            if args.each:
                answer = get(args.each.format(id=record["id"]), {"limit": 250})
                body = json.loads(answer.content) if answer.status_code != 204 else []
                for row in body if isinstance(body, list) else body["data"]:
                    out.write(
                        json.dumps({"type": "RECORD", "stream": args.each_stream, "record": row})
                    )
                    out.write("\n")
        if not records:
            break
        if isinstance(document, dict) and page >= document["meta"]["pagination"]["total_pages"]:
            break
        page += 1
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
