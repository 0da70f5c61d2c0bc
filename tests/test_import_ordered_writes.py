"""Import batches written two at a time (``worker.leads.ordered_writes``): they begin and
commit in order, results come back in order, and nothing commits after a failure."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.test_leads_import import count, lead_by_email, run_import, write_csv
from worker.leads import importing
from worker.leads.ordered_writes import OrderedWrites, PreviousJobFailedError, Turn
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead


def _job(n: int, log: list[str], pause: float, fail: bool = False):  # type: ignore[no-untyped-def]
    def run(turn: Turn) -> int:
        log.append(f"begin {n}")
        turn.let_next_begin()
        time.sleep(pause)  # later jobs finish their own work first
        if fail:
            raise RuntimeError(f"job {n} failed")
        turn.wait()
        log.append(f"commit {n}")
        return n

    return run


def test_jobs_begin_commit_and_return_in_order_whatever_their_speed() -> None:
    log: list[str] = []
    results = []
    with OrderedWrites[int](2, name="test-writer") as writes:
        for n, pause in enumerate([0.05, 0.0, 0.03, 0.0]):
            results += writes.submit(_job(n, log, pause))
        results += writes.drain()
    assert results == [0, 1, 2, 3]
    assert [e for e in log if e.startswith("commit")] == [f"commit {n}" for n in range(4)]
    assert [e for e in log if e.startswith("begin")] == [f"begin {n}" for n in range(4)]
    assert not [t for t in threading.enumerate() if t.name.startswith("test-writer")]


def test_nothing_commits_after_a_failed_job_and_its_error_is_raised_first() -> None:
    log: list[str] = []
    results = []
    with (  # noqa: PT012
        pytest.raises(RuntimeError, match="job 1 failed"),
        OrderedWrites[int](2, name="test-writer") as writes,
    ):
        for n, (pause, fail) in enumerate([(0.0, False), (0.05, True), (0.0, False)]):
            results += writes.submit(_job(n, log, pause, fail))
        results += writes.drain()
    assert results == [0]
    assert [e for e in log if e.startswith("commit")] == ["commit 0"]
    assert not [t for t in threading.enumerate() if t.name.startswith("test-writer")]


def test_a_later_job_learns_that_the_one_before_failed() -> None:
    first = Turn(None)
    second = Turn(first)
    with pytest.raises(RuntimeError):
        first._run(lambda turn: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(PreviousJobFailedError):
        second.wait()


def test_width_one_runs_each_job_in_the_callers_thread() -> None:
    threads = []
    with OrderedWrites[int](1) as writes:
        for n in range(3):
            done = list(writes.submit(lambda turn, n=n: threads.append(threading.get_ident()) or n))
            assert done == [n]
    assert set(threads) == {threading.get_ident()}


def test_an_address_in_two_batches_written_at_once_ends_as_the_later_row_says(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of 3: every batch repeats an address of the batch before (written at once on
    # PostgreSQL: the repeat waits for that batch to commit, then updates the lead)
    lines = ["email,company,deal_value,stage"]
    for n in range(12):
        lines.append(f"r{n}@two.test,Co {n},{n},prospecting")
        if n % 3 == 1 and n > 3:
            lines.append(f"r{n - 3}@two.test,Later {n - 3},,decision")
    path = write_csv(tmp_path, "two.csv", "\n".join(lines) + "\n")
    monkeypatch.setattr(importing, "BATCH_ROWS", 3)
    report = run_import(runtime, path)
    assert (report.created, report.updated) == (12, 3)
    assert report.enrollment.enrolled == 12
    assert report.enrollment.skipped == {"already in this sequence": 3}
    for n in (1, 4, 7):
        lead = lead_by_email(runtime, f"r{n}@two.test")
        assert (lead.company, lead.deal_value, lead.stage) == (f"Later {n}", n, "prospecting")
    assert (count(runtime, Lead), count(runtime, Enrollment)) == (12, 12)
    assert not [t for t in threading.enumerate() if t.name.startswith("lead-import-writer")]
