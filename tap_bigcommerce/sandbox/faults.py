"""Fault injection: chosen requests (or a seeded random share) fail in a chosen way.

Kinds: ``429`` (with rate-limit headers), ``429_bare`` (without any), ``500``, ``502``, ``503``,
``reset`` (status, headers and part of the body, then a TCP RST), ``truncated`` (200 with cut-off
JSON and a matching Content-Length) and ``slow`` (answer after ``seconds``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("429", "429_bare", "500", "502", "503", "reset", "truncated", "slow")


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


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
