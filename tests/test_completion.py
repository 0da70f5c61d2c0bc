"""What happens after the last touch (``on_complete``), and when a sequence file breaks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import make_settings
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime, set_runtime
from worker.store.models import Enrollment, Lead, ReviewItem


def _short_sequence(project: Path, on_complete: str) -> None:
    (project / "sequences" / "short.yaml").write_text(
        "name: short\nstage: prospecting\nmailbox: sales\nsteps:\n"
        "  - template: prospecting/01_intro\n    wait: 0 days\n"
        f"on_complete:\n  after: 1 days\n{on_complete}",
        encoding="utf-8",
    )


def _runtime(project: Path, database_url: str, clock) -> Runtime:
    runtime = Runtime.from_settings(make_settings(project, database_url), clock)
    set_runtime(runtime)
    return runtime


@pytest.mark.parametrize(
    ("on_complete", "stage", "status", "next_sequence"),
    [
        ("  action: stop\n", "prospecting", "completed", None),
        ("  action: lost\n", "lost", "stopped", None),
        ("  action: advance\n", "qualification", "active", "qualification"),
        ("  action: enroll\n  sequence: decision\n", "prospecting", "active", "decision"),
    ],
)
def test_the_on_complete_action_runs_after_the_grace_period(
    project: Path, sqlite_url: str, clock, stub_broker, on_complete, stage, status, next_sequence
) -> None:
    _short_sequence(project, on_complete)
    runtime = _runtime(project, sqlite_url, clock)
    try:
        import_leads(
            runtime.sessions,
            project / "examples" / "leads.csv",
            clock,
            runtime.catalog,
            sequence="short",
        )
        assert run_batch(runtime).totals() == {"sent": 25}
        clock.advance(timedelta(hours=23))
        assert run_batch(runtime).tick.completed == 0  # still within the grace period
        clock.advance(timedelta(hours=1))
        assert run_batch(runtime).tick.completed == 25

        with runtime.sessions() as session:
            lead = session.scalar(select(Lead).where(Lead.email == "ada@northwind.test"))
            enrollments = {
                e.sequence: e.status
                for e in session.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id))
            }
        assert (lead.stage, lead.status) == (stage, status)
        assert enrollments["short"] == "completed"
        if next_sequence:
            assert enrollments[next_sequence] == "active"
    finally:
        runtime.close()
        set_runtime(None)


def test_a_sequence_file_broken_after_enrollment_flags_its_leads_and_the_rest_still_send(
    project: Path, sqlite_url: str, clock, stub_broker
) -> None:
    _short_sequence(project, "  action: stop\n")
    runtime = _runtime(project, sqlite_url, clock)
    import_leads(
        runtime.sessions,
        project / "examples" / "leads.csv",
        clock,
        runtime.catalog,
        sequence="short",
    )
    runtime.close()
    (project / "sequences" / "short.yaml").write_text("name: short\nsteps: [\n", encoding="utf-8")
    (project / "examples" / "more.csv").write_text(
        "email,first_name,company\nnew@fresh.test,Nia,Fresh Co\n", encoding="utf-8"
    )
    runtime = _runtime(project, sqlite_url, clock)
    try:
        import_leads(runtime.sessions, project / "examples" / "more.csv", clock, runtime.catalog)
        summary = run_batch(runtime)

        assert summary.totals() == {"sent": 1}  # the lead in a valid sequence still goes out
        assert any("short.yaml" in problem for problem in summary.problems)
        with runtime.sessions() as session:
            reasons = session.scalars(select(ReviewItem.reason)).all()
        assert reasons.count("sequence_invalid") == 25
        assert run_batch(runtime).totals() == {}  # flagged once, not re-flagged every run
    finally:
        runtime.close()
        set_runtime(None)
