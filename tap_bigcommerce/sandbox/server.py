"""HTTP transport: a threaded loopback server speaking the BigCommerce paths and conventions.

Per request, in order: request hooks → store hash (404) → token (401) → route (404) → scope
(403) → quota (429) → latency → injected fault → endpoint. Every response but ``429_bare``
carries the ``X-Rate-Limit-*`` headers.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import api, rest
from .api import ApiError, Response
from .faults import Fault, Faults, rewrite_body, rewrites_body
from .ratelimit import RateLimiter
from .store import RESOURCES, Store

SCOPES = (
    "products", "customers", "orders", "information", "marketing", "inventory", "locations",
    "channels", "transactions",
)  # fmt: skip
_STORE_PATH = re.compile(r"^/stores/([^/]+)(/.*)?$")


@dataclass(frozen=True)
class Route:
    """One endpoint: path pattern, flavour ("v2" / "v3"), scope, handler."""

    pattern: re.Pattern[str]
    flavour: str
    scope: str
    handler: Callable[..., Response]


def _r(path: str, flavour: str, scope: str, handler: Callable[..., Response]) -> Route:
    return Route(re.compile(f"^{path}/?$"), flavour, scope, handler)


ROUTES = (
    _r(r"/v3/catalog/products", "v3", "products", api.list_products),
    _r(r"/v3/catalog/products/(\d+)/reviews", "v3", "products", api.list_product_reviews),
    _r(r"/v3/customers", "v3", "customers", api.list_customers),
    _r(r"/v3/customers/addresses", "v3", "customers", api.list_customer_addresses),
    _r(r"/v2/orders", "v2", "orders", api.list_orders),
    _r(r"/v2/orders/count", "v2", "orders", api.count_orders),
    _r(r"/v2/orders/(\d+)", "v2", "orders", api.get_order),
    _r(r"/v2/orders/(\d+)/products", "v2", "orders",
       lambda s, q, oid: api.order_sub(s, q, oid, "products")),
    # The documented path has an underscore; the stub URLs in the spec examples have none.
    _r(r"/v2/orders/(\d+)/shipping_?addresses", "v2", "orders",
       lambda s, q, oid: api.order_sub(s, q, oid, "shipping_addresses")),
    _r(r"/v2/orders/(\d+)/coupons", "v2", "orders", api.order_coupons),
    _r(r"/v2/orders/(\d+)/shipments", "v2", "orders", api.order_shipments),
    # "Order Transactions" in the control panel: a scope of its own, not "Orders".
    _r(r"/v3/orders/(\d+)/transactions", "v3", "transactions", api.order_transactions),
    _r(r"/v2/store", "v2", "information", api.store_info),
    _r(r"/v2/time", "v2", "information", api.server_time),
    _r(r"/v3/inventory/items", "v3", "inventory", api.list_inventory_items),
    *(
        _r(resource.path, resource.flavour, resource.scope,
           lambda s, q, *parent, name=resource.name: api.list_rest(s, q, name, *parent))
        for resource in rest.RESOURCES
    ),
)  # fmt: skip


@dataclass(frozen=True)
class RequestInfo:
    """What hooks receive and the log keeps: one request and (in the log) its status."""

    method: str
    path: str
    query: dict[str, str]
    status: int = 0
    at: float = 0.0
    #: The response headers (in the log only), e.g. the ``X-Rate-Limit-*`` values sent.
    headers: dict[str, str] = field(default_factory=dict)


def error_for(flavour: str, status: int, title: str, errors: dict[str, str] | None = None
              ) -> Response:  # fmt: skip
    """An error in the flavour's body format."""
    if flavour == "v2":
        return api.v2_error(status, title)
    return api.v3_error(status, title, errors)


class Sandbox:
    """A started-on-demand BigCommerce-compatible server on loopback over a :class:`Store`.

    Use as a context manager (or ``start()`` / ``stop()``). ``api_url`` is the base the tap
    uses (``{api_url}/stores/{store_hash}/v3/...``). All knobs are safe to change while a sync
    is running.
    """

    def __init__(
        self, store: Store | None = None, store_hash: str = "abc123",
        access_token: str = "sandbox-token",  # noqa: S107 - a public sandbox token
        scopes: Iterable[str] | None = None,
        host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0,
        verbose: bool = False,
    ) -> None:  # fmt: skip
        self.store = store if store is not None else Store()
        self.store.store_hash = store_hash
        self.store_hash = store_hash
        self.access_token = access_token
        self.scopes = frozenset(SCOPES if scopes is None else scopes)
        unknown = self.scopes - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; use {SCOPES}")
        self.host, self.port = host, port
        self.latency_ms = latency_ms
        self.verbose = verbose
        self.faults = Faults()
        self.rate = RateLimiter()
        self.hooks: list[Callable[[RequestInfo], Any]] = []
        self._log: list[RequestInfo] = []
        self._log_lock = threading.Lock()
        self._active = 0
        #: The most requests being answered at one moment since the log was last reset.
        self.peak_in_flight = 0
        #: TCP connections accepted since the log was last reset (keep-alive reuses them).
        self.connections_opened = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        #: The most requests being answered at one moment for all stores of this server.
        self.server_peak_in_flight = 0
        self._server_active = 0
        #: Every store served on this port, by hash (`add_store`); this one among them.
        self.stores: dict[str, Sandbox] = {store_hash: self}
        self._primary: Sandbox | None = None

    def add_store(
        self, store_hash: str, access_token: str, store: Store | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Sandbox:  # fmt: skip
        """Serve another store on this port: its own hash, token, data, scopes and quota.

        Returns its own sandbox object (knobs, faults, request log), which is never started:
        this one's server answers for it (`/stores/{store_hash}/...`).
        """
        if store_hash in self.stores:
            raise ValueError(f"store {store_hash!r} is served already")
        other = Sandbox(store, store_hash=store_hash, access_token=access_token, scopes=scopes,
                        host=self.host, latency_ms=self.latency_ms)  # fmt: skip
        other._primary = self
        self.stores[store_hash] = other
        return other

    def serving(self, raw_path: str) -> Sandbox:
        """The sandbox of the store a request's path names (this one if it names none)."""
        m = _STORE_PATH.match(urlsplit(raw_path).path)
        return self.stores.get(m.group(1), self) if m else self

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Sandbox:
        """Bind and serve in a background thread."""
        handler = type("BoundHandler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name="sandbox-server", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections, release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._log_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT``; the tap appends ``/stores/{store_hash}/v3/...``."""
        return f"http://{self.host}:{(self._primary or self).port}"

    @property
    def base_url(self) -> str:
        """``{api_url}/stores/{store_hash}``, handy in tests."""
        return f"{self.api_url}/stores/{self.store_hash}"

    # ----------------------------------------------------------------- knobs

    def set_quota(self, quota: int | None, window_ms: int = 30_000) -> None:
        """Requests allowed per window (``None`` = unlimited); starts a fresh window."""
        self.rate.configure(quota, window_ms)

    @property
    def rate_limited(self) -> int:
        """How many 429s the quota caused (injected 429 faults are in ``faults.injected``)."""
        return self.rate.limited_count

    def mutate_every(
        self, n_requests: int, touch: int = 0, insert: int = 0,
        resource: str | Iterable[str] | None = None, seed: int = 0, delete: int = 0,
    ) -> Callable[[RequestInfo], None]:  # fmt: skip
        """Every ``n_requests`` requests, touch, insert and delete so many records.

        Touched records mix low positions of the ``date_modified`` order (already listed by a
        sync in progress), records on the plateau and not-yet-listed ones. Returns the hook
        (remove it from ``hooks`` to stop).
        """
        names = RESOURCES if resource is None else (
            (resource,) if isinstance(resource, str) else tuple(resource))  # fmt: skip
        rng = random.Random(seed)
        counter = {"n": 0}
        lock = threading.Lock()
        store = self.store

        def hook(req: RequestInfo) -> None:
            with lock:
                counter["n"] += 1
                if counter["n"] % n_requests:
                    return
            for name in names:
                if touch:
                    store.touch(name, pick_spread(store, name, touch, rng))
                if insert:
                    store.insert(name, insert)
                if delete:
                    store.delete(name, pick_spread(store, name, delete, rng))

        self.hooks.append(hook)
        return hook

    # ----------------------------------------------------------------- log

    @property
    def requests(self) -> list[RequestInfo]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._log)

    def count(self, path_contains: str | None = None, status: int | None = None) -> int:
        """Logged requests whose path contains ``path_contains`` and/or had ``status``."""
        with self._log_lock:
            return sum(
                1 for r in self._log
                if (path_contains is None or path_contains in r.path)
                and (status is None or r.status == status)
            )  # fmt: skip

    def reset_log(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._log.clear()
            self.peak_in_flight = self._active
            self.connections_opened = 0

    def _record(self, info: RequestInfo) -> None:
        with self._log_lock:
            self._log.append(info)

    # ----------------------------------------------------------------- request pipeline

    def resolve(self, method: str, raw_path: str, headers: Any) -> tuple[Response, Fault | None]:
        """Compute the response to one request (without the fault's wire effects)."""
        with self._log_lock:
            self._active += 1
            self.peak_in_flight = max(self.peak_in_flight, self._active)
        try:
            return self._resolve(method, raw_path, headers)
        finally:
            with self._log_lock:
                self._active -= 1

    def _resolve(self, method: str, raw_path: str, headers: Any) -> tuple[Response, Fault | None]:
        parts = urlsplit(raw_path)
        # parse_qsl turns a literal "+" into a space; the date parsers accept that form.
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        info = RequestInfo(method, parts.path, dict(query), at=time.time())
        for hook in list(self.hooks):
            hook(info)
        flavour = "v2" if "/v2/" in parts.path else "v3"
        m = _STORE_PATH.match(parts.path)
        if m is None or m.group(1) != self.store_hash:
            return self._finish(api.v3_error(404, "Not found"), None)
        rest = m.group(2) or "/"
        if headers.get("X-Auth-Token") != self.access_token:
            resp = Response(401, b"Unauthorized: invalid or missing X-Auth-Token",
                            "text/plain; charset=utf-8")  # fmt: skip
            return self._finish(resp, None)
        route, args = _match(rest)
        if route is None:
            return self._finish(error_for(flavour, 404, "The requested resource was not found."),
                                None)  # fmt: skip
        flavour = route.flavour
        if method != "GET":
            return self._finish(error_for(flavour, 405, "Method not allowed"), None)
        if route.scope not in self.scopes:
            return self._finish(
                api.v3_error(403, "You don't have a required scope to access the endpoint"), None
            )
        allowed, rate_headers = self.rate.take()
        if not allowed:
            resp = error_for(flavour, 429, "Too many requests")
            resp.headers.update(rate_headers)
            return resp, None
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self.faults.pick(raw_path)
        if fault is not None and fault.kind in ("429", "429_bare", "500", "502", "503"):
            return self._fault_response(fault, flavour, rate_headers), fault
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        try:
            # A page is read as one consistent snapshot, as a database statement would be:
            # no change from another request lands between choosing the rows and rendering.
            with self.store.lock:
                resp = route.handler(self.store, query, *args)
        except ApiError as exc:
            resp = error_for(flavour, exc.status, exc.title, exc.errors)
        if fault is not None and rewrites_body(fault.kind) and resp.status == 200:
            resp.body, resp.content_type = rewrite_body(fault.kind, resp.body)
        resp.headers.update(rate_headers)
        return resp, fault

    def _finish(self, resp: Response, fault: Fault | None) -> tuple[Response, Fault | None]:
        # Rejected before the quota check: costs nothing, still carries the headers.
        resp.headers.update(self.rate.peek())
        return resp, fault

    def _fault_response(self, fault: Fault, flavour: str, rate_headers: dict[str, str]
                        ) -> Response:  # fmt: skip
        if fault.kind == "429":
            resp = error_for(flavour, 429, "Too many requests")
            resp.headers.update(self.rate.exhausted_headers())
            return resp
        if fault.kind == "429_bare":
            return Response(429, b"Too Many Requests", "text/plain")
        if fault.kind == "500":
            resp = error_for(flavour, 500, "Internal Server Error")
        else:
            text = {"502": "Bad Gateway", "503": "Service Unavailable"}[fault.kind]
            resp = Response(int(fault.kind), f"<html><body>{text}</body></html>".encode(),
                            "text/html")  # fmt: skip
        resp.headers.update(rate_headers)
        return resp


def pick_spread(store: Store, resource: str, k: int, rng: random.Random) -> list[int]:
    """``k`` live ids spread over the ``date_modified`` order: early, plateau, late."""
    with store.lock:
        part = store.table(resource).parts[0]
        n = len(part.keys)
        if n == 0:
            return []
        plateau_at = store.plateau_at.get(resource)
        plateau = []
        if plateau_at is not None:
            lo = _bisect_key(part.keys, plateau_at)
            hi = _bisect_key(part.keys, plateau_at + 1)
            plateau = part.keys[lo:hi]
        chosen: set[int] = set()
        for j in range(k * 3):
            if len(chosen) >= min(k, n):
                break
            bucket = j % 3
            if bucket == 0:  # early: very likely already listed by a running sync
                key = part.keys[rng.randrange(max(1, n // 4))]
            elif bucket == 1 and plateau:
                key = plateau[rng.randrange(len(plateau))]
            else:  # anywhere, mostly not yet listed
                key = part.keys[rng.randrange(n)]
            chosen.add(key % (1 << 32))
        return sorted(chosen)


def _bisect_key(keys: list[int], modified: int) -> int:
    return bisect.bisect_left(keys, modified * (1 << 32))


def _match(rest: str) -> tuple[Route | None, list[int]]:
    for route in ROUTES:
        m = route.pattern.match(rest)
        if m:
            return route, [int(g) for g in m.groups()]
    return None, []


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; keep-alive, no Nagle delay, quiet unless verbose."""

    sandbox: Sandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # http.server otherwise adds ~40 ms per response
    timeout = 60  # idle keep-alive connections are closed after this
    server_version = "BigCommerceSandbox/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.sandbox._log_lock:
            self.sandbox._connections.add(self.connection)
            self.sandbox.connections_opened += 1

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.sandbox._log_lock:
            self.sandbox._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.sandbox.verbose:
            super().log_message(format, *args)

    def handle_one_request(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle_one_request()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._discard_body()
        self._serve("POST")

    def do_PUT(self) -> None:
        self._discard_body()
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _discard_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _serve(self, method: str) -> None:
        server, sb = self.sandbox, self.sandbox.serving(self.path)
        with server._log_lock:
            server._server_active += 1
            server.server_peak_in_flight = max(server.server_peak_in_flight, server._server_active)
        try:
            resp, fault = sb.resolve(method, self.path, self.headers)
        finally:
            with server._log_lock:
                server._server_active -= 1
        parts = urlsplit(self.path)
        sb._record(RequestInfo(method, parts.path, dict(parse_qsl(parts.query, True)),
                               resp.status, time.time(), dict(resp.headers)))  # fmt: skip
        body = resp.body
        kind = fault.kind if fault else None
        if kind == "truncated" and resp.status == 200 and body:
            body = body[: max(1, len(body) // 2)]
        if kind == "reset":
            # Headers announce the whole body, but only part of it is sent before an RST.
            self._send_head(resp, len(body))
            self.wfile.write(body[: max(1, len(body) // 3)])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self._send_head(resp, len(body))
        if resp.status != 204 and body:
            self.wfile.write(body)

    def _send_head(self, resp: Response, length: int) -> None:
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(length))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
