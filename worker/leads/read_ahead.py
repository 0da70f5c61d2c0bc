"""Reading ahead: the next items of an iterator are produced in a thread while the caller
works on the current one.

An import parses a batch of CSV rows (Python, holding the GIL) while the database writes the
previous one (SQLite's engine and a wait on PostgreSQL both release the GIL), so on two
cores the two overlap instead of taking turns.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_END = object()


def read_ahead(
    items: Iterator[T], *, depth: int = 1, name: str = "read-ahead"
) -> Generator[T, None, None]:
    """Yield what ``items`` yields, produced by a thread at most ``depth`` items ahead.

    An exception raised by ``items`` is raised here, where its item would have come. When
    the caller stops early (an exception, ``close()``), the thread stops after the item it
    is producing and ``items`` is closed in it.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                handoff.put(item)
                if stop.is_set():
                    return
            handoff.put(_END)
        except BaseException as exc:  # handed to the caller, raised there
            handoff.put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield cast(T, item)
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting to hand over
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        thread.join()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


__all__ = ["read_ahead"]
