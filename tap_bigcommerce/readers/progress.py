"""Progress lines of a long read, with the total the API gave, if it gave one."""

from __future__ import annotations

import contextlib
import logging
import time
import typing as t

from tap_bigcommerce.errors import BigCommerceError

#: A progress line on a long sync every so many seconds, or pages' worth of records.
PROGRESS_EVERY_S = 5.0
PROGRESS_EVERY_PAGES = 20

_T = t.TypeVar("_T")


class Progress:
    """How far one stream's read has come, logged now and then and at the end."""

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        count: t.Callable[[], int | None] | None = None,
    ) -> None:
        """`count`, if given, asks the API for the total when no page said it (v2)."""
        self.name = name
        self.logger = logger
        self._count = count
        self._counted = False  # whether `count` was asked (once is enough)
        #: How many records the API says this run's window holds.
        self.expected: int | None = None

    def reset(self) -> None:
        """A new run: no total known yet."""
        self.expected = None

    def saw_total(self, total: int | None) -> None:
        """A page's count; the widest seen is the window's (others count a part or a second)."""
        if total is not None and total > (self.expected or 0):
            self.expected = total

    def total(self) -> int | None:
        """The total, asked of `count` once, and only when a sync runs long enough to say."""
        if self.expected is None and not self._counted and self._count is not None:
            self._counted = True
            # Without an answer, progress lines go without a total.
            with contextlib.suppress(BigCommerceError):
                self.expected = self._count()
        return self.expected

    def track(self, records: t.Iterable[_T], page_size: int) -> t.Iterator[tuple[_T, bool]]:
        """Each record with whether it is the last, logging progress as they go out.

        One record of look-ahead tells which record is the last (so the final batch of
        child rows is handed over before it). A line every `PROGRESS_EVERY_PAGES` pages'
        worth of records or `PROGRESS_EVERY_S` seconds, and the count at the end.
        """
        emitted, last_report = 0, time.monotonic()
        report_every = PROGRESS_EVERY_PAGES * page_size
        previous: _T | None = None
        held = False
        for record in records:
            if held:
                yield t.cast("_T", previous), False
                emitted += 1
            previous, held = record, True
            due = emitted and emitted % report_every == 0
            if due or time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                self._log(emitted)
        if held:
            yield t.cast("_T", previous), True
            emitted += 1
        self.logger.info("%s: %s records read", self.name, f"{emitted:,}")

    def _log(self, emitted: int) -> None:
        total = self.total()
        of = f" of {total:,}" if total is not None else ""
        self.logger.info("%s: %s records so far%s", self.name, f"{emitted:,}", of)
