"""What leads and strangers write is shown as text, never as markup, on every page."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from tests.reply_support import reply_to
from tests.web_support import signed_in_client
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Lead, Touch
from worker.understanding import Classification

ADA = "ada@northwind.test"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_reply_text_and_lead_fields_are_escaped(runtime: Runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).where(Lead.email == ADA).values(company=HOSTILE))
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        lead_id = lead.id
        touch = session.scalar(select(Touch).where(Touch.lead_id == lead_id))
        assert touch is not None
    reply_to(runtime, touch, Classification("question", 0.8, text=f"Question: {HOSTILE}?"))
    client, _ = signed_in_client(runtime)
    for path in ("/queue?who=all", f"/leads/{lead_id}", "/board", "/leads?who=all&q=northwind"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path
