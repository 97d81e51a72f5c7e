"""BigCommerce-style rate limiting: a request quota per fixed time window.

Every response carries the four ``X-Rate-Limit-*`` headers; once the window's quota is used up
the server answers 429 (plus ``X-Retry-After`` in seconds) until the window resets.
"""

from __future__ import annotations

import math
import threading
import time

UNLIMITED_QUOTA = 1_000_000  # sent when no quota is set, like an "unlimited" plan
DEFAULT_WINDOW_MS = 30_000


class RateLimiter:
    """A fixed-window request counter; thread-safe, reconfigurable at run time."""

    def __init__(self, quota: int | None = None, window_ms: int = DEFAULT_WINDOW_MS) -> None:
        self._lock = threading.Lock()
        self.limited_count = 0  # 429s sent because the quota ran out
        self.min_left: int | None = None  # lowest Requests-Left granted since `configure`
        self.configure(quota, window_ms)

    def configure(self, quota: int | None, window_ms: int = DEFAULT_WINDOW_MS) -> None:
        """Set the quota (``None`` = unlimited) and window; starts a fresh window."""
        with self._lock:
            self.quota = quota
            self.window_ms = int(window_ms)
            self._window_start = time.monotonic()
            self._used = 0
            self.min_left = None

    def _roll(self, now: float) -> None:
        elapsed_ms = (now - self._window_start) * 1000
        if elapsed_ms >= self.window_ms:
            windows = int(elapsed_ms // self.window_ms)
            self._window_start += windows * self.window_ms / 1000
            self._used = 0

    def _headers(self, now: float) -> dict[str, str]:
        quota = UNLIMITED_QUOTA if self.quota is None else self.quota
        reset_ms = max(1, int(self.window_ms - (now - self._window_start) * 1000))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(quota),
            "X-Rate-Limit-Requests-Left": str(max(0, quota - self._used)),
        }

    def take(self) -> tuple[bool, dict[str, str]]:
        """Use one request of the quota: ``(allowed, headers)`` (+ ``X-Retry-After`` on 429)."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            quota = UNLIMITED_QUOTA if self.quota is None else self.quota
            if self._used >= quota:
                self.limited_count += 1
                headers = self._headers(now)
                reset_s = int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000
                headers["X-Retry-After"] = str(max(1, math.ceil(reset_s)))
                return False, headers
            self._used += 1
            left = quota - self._used
            self.min_left = left if self.min_left is None else min(self.min_left, left)
            return True, self._headers(now)

    def peek(self) -> dict[str, str]:
        """Current headers without using the quota (for responses that cost nothing)."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            return self._headers(now)

    def exhausted_headers(self) -> dict[str, str]:
        """Headers of an injected 429: nothing left, retry after the window resets."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            h = self._headers(now)
            h["X-Rate-Limit-Requests-Left"] = "0"
            reset_s = int(h["X-Rate-Limit-Time-Reset-Ms"]) / 1000
            h["X-Retry-After"] = str(max(1, math.ceil(reset_s)))
            return h
