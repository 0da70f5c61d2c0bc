"""The whole path on the embedded default: import, tick, send, record."""

from __future__ import annotations

from pathlib import Path

from worker.leads.importing import import_leads
from worker.processes.batch import run_batch


def test_a_batch_sends_every_due_first_touch_once(runtime, project: Path) -> None:
    report = import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    assert report.created == 25
    assert report.enrollment.enrolled == 25

    first = run_batch(runtime)
    second = run_batch(runtime)

    assert first.totals() == {"sent": 25}
    assert second.totals() == {}
    assert len(list((project / "outbox").glob("*.eml"))) == 25
