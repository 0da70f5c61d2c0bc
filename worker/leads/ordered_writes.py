"""Writing batches two at a time, each in its own transaction, committed in order.

On PostgreSQL most of an import's time is the server's (indexes, foreign keys, the report's
triggers), one backend per connection; two connections writing two batches at once keep two
cores busy. ``OrderedWrites`` runs the jobs on up to ``width`` threads and gives each a
``Turn``: a job waits for its turn (``Turn.wait``) before it commits, and before it writes
anything that the previous batch also writes, so batches commit in the file's order, a
later batch sees what an earlier one wrote when it matters, and none commits after one
failed. Results come back in order; the first failure is raised where its batch's result
would have come, after every later job has rolled back.

With ``width`` 1 (SQLite: one writer at a time anyway) each job runs in the caller's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class PreviousJobFailedError(Exception):
    """The batch before this one failed: this one was rolled back and is not reported."""


class Turn:
    """A job's place in line. A job begins once the one before it let it (``let_next_begin``,
    or finished), and commits once the one before it committed (``wait``)."""

    def __init__(self, previous: Turn | None) -> None:
        self.previous = previous
        self.started = threading.Event()
        self.finished = threading.Event()
        self.ok = False

    def wait(self) -> None:
        """Block until the previous job has committed; PreviousJobFailedError if it did not."""
        if self.previous is None:
            return
        self.previous.finished.wait()
        if not self.previous.ok:
            raise PreviousJobFailedError

    def let_next_begin(self) -> None:
        """Let the next job begin: what this one must do before it (e.g. take serial ids
        in the file's order) is done."""
        self.started.set()

    def _run(self, job: Callable[[Turn], T]) -> T:
        if self.previous is not None:
            self.previous.started.wait()
        try:
            result = job(self)
            self.wait()  # a job that never waited still commits after the previous one
            self.ok = True
            return result
        finally:
            self.previous = None  # let finished turns be collected
            self.started.set()
            self.finished.set()


class OrderedWrites(Generic[T]):
    """Jobs run ``width`` at a time, committed and returned in the order they were given."""

    def __init__(self, width: int, name: str = "ordered-writer") -> None:
        self.width = width
        self._pool = ThreadPoolExecutor(width, thread_name_prefix=name) if width > 1 else None
        self._pending: deque[Future[T]] = deque()
        self._last: Turn | None = None

    def submit(self, job: Callable[[Turn], T]) -> Iterator[T]:
        """Start ``job`` (after waiting for room); yields the results now due, oldest first."""
        turn = Turn(self._last)
        self._last = turn
        if self._pool is None:
            yield turn._run(job)
            return
        while len(self._pending) >= self.width:
            yield self._pending.popleft().result()
        self._pending.append(self._pool.submit(turn._run, job))

    def drain(self) -> Iterator[T]:
        """Yield the results of every job still running, oldest first."""
        while self._pending:
            yield self._pending.popleft().result()

    def close(self) -> None:
        """Wait for every job (after a failure the later ones roll back) and stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> OrderedWrites[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


__all__ = ["OrderedWrites", "PreviousJobFailedError", "Turn"]
