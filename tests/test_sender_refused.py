"""A server that refuses the sending mailbox (MAIL FROM 5xx) is the mailbox's problem, not the
lead's: touches are deferred, nobody is flagged, and they go out once it is fixed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import make_settings
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime, set_runtime
from worker.store.models import ReviewItem


def test_a_refused_sender_defers_touches_and_they_go_out_once_fixed(
    project: Path, sqlite_url: str, clock, stub_broker, smtp_sink
) -> None:
    settings = make_settings(project, sqlite_url, transport_url=smtp_sink.url)
    runtime = Runtime.from_settings(settings, clock)
    set_runtime(runtime)
    try:
        import_leads(runtime.sessions, project / "examples" / "leads.csv", clock, runtime.catalog)
        smtp_sink.mail_reply = "553 5.7.1 Sender address rejected: not owned by user"

        refused = run_batch(runtime)

        assert refused.totals() == {"deferred": 25}
        with runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReviewItem)) == 0
        assert smtp_sink.messages == []

        smtp_sink.mail_reply = None
        clock.advance(timedelta(minutes=2))
        fixed = run_batch(runtime)

        assert fixed.totals() == {"sent": 25}
        assert len(smtp_sink.messages) == 25
    finally:
        runtime.close()
        set_runtime(None)
