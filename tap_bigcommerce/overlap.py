"""Work done side by side on a bounded pool, its results handed back in order."""

from __future__ import annotations

import contextvars
import itertools
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

In = t.TypeVar("In")
Out = t.TypeVar("Out")

_DONE = object()


def side_by_side(
    work: t.Callable[[In], Out],
    items: t.Iterable[In],
    *,
    workers: int,
    ahead: int | None = None,
    on_failure: t.Callable[[], None] = lambda: None,
    name: str = "worker",
) -> t.Generator[Out, None, None]:
    """`work(item)` for each item, `workers` at once, yielded in the order of `items`.

    At most `ahead` (default: `workers`) results are under way or waiting at any time, so
    memory stays bounded; `items` is read only as far as that. If one fails, `on_failure`
    is called (to stop the others' retries) and the error is raised. Closing the generator
    abandons what has not started. Each worker runs in a copy of the caller's context
    variables (the store it works for, `store_context`).
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    try:
        pending = iter(items)
        queued: deque[Future[Out]] = deque(
            in_context(pool, work, item) for item in itertools.islice(pending, ahead or workers)
        )
        while queued:
            result = queued.popleft().result()
            following = next(pending, _DONE)
            if following is not _DONE:
                queued.append(in_context(pool, work, t.cast("In", following)))
            yield result
    except Exception:
        on_failure()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def in_context(pool: ThreadPoolExecutor, work: t.Callable[[In], Out], item: In) -> Future[Out]:
    """`pool.submit(work, item)`, run in a copy of the caller's context variables."""
    return pool.submit(contextvars.copy_context().run, work, item)
