"""Which store the current thread works for, so that log lines of many stores say whose.

A run over many stores reads each in its own thread (and that thread's workers); the store
is a context variable, carried into the workers by `overlap`, and a log record factory puts
`[store_hash]` in front of every line written meanwhile.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import typing as t

current_store: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_store", default=None
)
_installed = False


@contextlib.contextmanager
def working_for(store_hash: str | None) -> t.Iterator[None]:
    """Within the block, log lines start with `[store_hash]` (with None: with nothing)."""
    _install()
    token = current_store.set(store_hash)
    try:
        yield
    finally:
        current_store.reset(token)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def record_naming_the_store(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        store = current_store.get()
        # The SDK's metric lines are JSON that tools parse; their tags name the store.
        if store is not None and not record.name.startswith("singer_sdk.metrics"):
            with contextlib.suppress(TypeError, ValueError):
                record.msg, record.args = f"[{store}] {record.getMessage()}", None
        return record

    logging.setLogRecordFactory(record_naming_the_store)
