"""Fault injection: chosen requests (or a seeded random share) fail in a chosen way.

Kinds: ``429`` (with rate-limit headers), ``429_bare`` (without any), ``500``, ``502``, ``503``,
``reset`` (status, headers and part of the body, then a TCP RST), ``truncated`` (200 with cut-off
JSON and a matching Content-Length) and ``slow`` (answer after ``seconds``).

Kinds that make a complete, well-formed HTTP answer whose content is wrong (200 only):
``not_json`` (an HTML page, as a proxy or maintenance page would send), ``bad_envelope`` (a v3
object without ``data``; a v2 object instead of an array) and ``drop_field:<name>`` (the middle
record of the page lacks the field ``<name>``, e.g. ``drop_field:id``).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = (
    "429", "429_bare", "500", "502", "503", "reset", "truncated", "slow",
    "not_json", "bad_envelope", "drop_field:<name>",
)  # fmt: skip
#: Kinds that rewrite the body of a successful answer (see :func:`rewrite_body`).
BODY_KINDS = ("not_json", "bad_envelope")
DROP_FIELD = "drop_field:"


@dataclass
class Fault:
    """What to do to one request."""

    kind: str
    seconds: float = 0.0


@dataclass
class _Rule:
    kind: str
    path_contains: str | None
    nth: int
    times: int | None
    seconds: float
    seen: int = 0


class Faults:
    """Thread-safe list of fault rules plus an optional seeded random fault rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._rate = 0.0
        self._kinds: tuple[str, ...] = ()
        self._rng = random.Random(0)
        self._rate_path: str | None = None
        self.injected: dict[str, int] = {}  # kind -> how many were injected

    def add(
        self, kind: str, path_contains: str | None = None, nth: int = 1,
        times: int | None = 1, seconds: float = 2.0,
    ) -> None:  # fmt: skip
        """Fail the ``nth`` matching request (1-based) and the next ``times - 1`` matching ones.

        ``times=None`` fails every matching request from the ``nth`` on. ``seconds`` is the
        delay of the ``slow`` kind.
        """
        _check(kind)
        with self._lock:
            self._rules.append(_Rule(kind, path_contains, max(1, nth), times, seconds))

    def random(
        self, rate: float, kinds: Iterable[str] = ("500", "reset"), seed: int = 0,
        path_contains: str | None = None, seconds: float = 2.0,
    ) -> None:  # fmt: skip
        """Fail a seeded-random share ``rate`` (0..1) of requests with one of ``kinds``."""
        kinds = tuple(kinds)
        for k in kinds:
            _check(k)
        with self._lock:
            self._rate, self._kinds, self._rng = rate, kinds, random.Random(seed)
            self._rate_path, self._seconds = path_contains, seconds

    def clear(self) -> None:
        """Remove every rule and the random rate."""
        with self._lock:
            self._rules.clear()
            self._rate, self._kinds = 0.0, ()

    def pick(self, path: str) -> Fault | None:
        """The fault for a request to ``path`` (path + query string), if any; counts matches."""
        with self._lock:
            chosen: Fault | None = None
            for rule in self._rules:
                if rule.path_contains is not None and rule.path_contains not in path:
                    continue
                rule.seen += 1
                upper = None if rule.times is None else rule.nth + rule.times
                in_range = rule.seen >= rule.nth and (upper is None or rule.seen < upper)
                if chosen is None and in_range:
                    chosen = Fault(rule.kind, rule.seconds)
            if (
                chosen is None and self._rate > 0 and self._kinds
                and (self._rate_path is None or self._rate_path in path)
                and self._rng.random() < self._rate
            ):  # fmt: skip
                chosen = Fault(self._rng.choice(self._kinds), self._seconds)
            if chosen is not None:
                self.injected[chosen.kind] = self.injected.get(chosen.kind, 0) + 1
            return chosen


def rewrites_body(kind: str) -> bool:
    """True for the kinds that turn a good 200 body into a bad one."""
    return kind in BODY_KINDS or kind.startswith(DROP_FIELD)


def rewrite_body(kind: str, body: bytes) -> tuple[bytes, str]:
    """The body and Content-Type a body-rewriting fault turns a JSON list answer into."""
    if kind == "not_json":
        page = b"<html><head><title>Service</title></head><body>Please wait</body></html>"
        return page, "text/html; charset=utf-8"
    document = json.loads(body)
    if kind == "bad_envelope":
        if isinstance(document, list):  # v2: an object where an array belongs
            document = {"items": document}
        elif isinstance(document, dict):  # v3: an object without its `data` list
            document.pop("data", None)
    else:
        name = kind[len(DROP_FIELD) :]
        rows = document.get("data") if isinstance(document, dict) else document
        if isinstance(rows, list) and rows and isinstance(rows[len(rows) // 2], dict):
            rows[len(rows) // 2].pop(name, None)
    return json.dumps(document, separators=(",", ":")).encode(), "application/json"


def _check(kind: str) -> None:
    field_name = kind[len(DROP_FIELD) :] if kind.startswith(DROP_FIELD) else None
    if field_name is not None and field_name.isidentifier():
        return
    if kind not in KINDS or field_name is not None:
        raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
