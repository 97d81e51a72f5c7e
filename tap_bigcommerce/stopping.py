"""Stopping a run on SIGTERM or SIGINT, outside the signal handler.

Python runs a signal handler in the main thread between two of its steps, perhaps while
that thread holds a lock that stopping needs (a `threading.Event`'s, in a retry's wait):
taken again there, the run would hang for good. So the handler only notes the signal and
puts the tap on a queue that is safe to use from a handler (`SimpleQueue.put` is
reentrant); a thread of ours takes it from there and stops the tap's reading, taking
whatever locks that needs like any other thread.
"""

from __future__ import annotations

import queue
import threading
import typing as t


class Stoppable(t.Protocol):
    """What a signal stops: a tap."""

    def stop_reading(self) -> None:
        """Have every request from now on end with `RunStopped`."""


_to_stop: queue.SimpleQueue[Stoppable] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_starting = threading.Lock()

#: The signal that asked this process to stop, once one has.
received: int | None = None


def start() -> None:
    """Start the thread that stops taps (once a process; call it outside a handler)."""
    global _thread
    with _starting:
        if _thread is None:
            _thread = threading.Thread(target=_stop_each, name="stopper", daemon=True)
            _thread.start()


def request_stop(tap: Stoppable, signum: int) -> None:
    """From a signal handler: have `tap` stopped, soon, by the stopper thread."""
    global received
    received = signum
    _to_stop.put(tap)


def _stop_each() -> None:
    while True:
        _to_stop.get().stop_reading()
