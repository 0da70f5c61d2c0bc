"""Feeding a classified reply to the reply rules, as processing does after matching."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import make_settings
from worker.authoring.problems import Problem
from worker.inbound.reactions import ReplyPolicy, act_on_reply, store_classification
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.rehearsal.validation import validate
from worker.runtime import Runtime
from worker.store.models import InboundMessage, Lead, Touch
from worker.understanding import Classification


def reply_to(
    runtime: Runtime, touch: Touch, found: Classification, policy: ReplyPolicy | None = None
) -> int:
    """A stored reply matched to ``touch``, classified as ``found`` and acted on; its id."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        inbound = InboundMessage(
            dedupe_key=f"test:{now.isoformat()}:{found.intent}:{touch.id}",
            source="test",
            received_at=now,
            raw=b"Subject: re\r\n\r\nbody",
            size=20,
            status="processed",
            lead_id=touch.lead_id,
            touch_id=touch.id,
            matched_by="message_id",
        )
        session.add(inbound)
        session.flush()
        store_classification(inbound, found, now)
        act_on_reply(session, runtime.catalog, policy or ReplyPolicy(), inbound, found, at=now)
        return inbound.id


def first_touch_after_a_batch(runtime: Runtime, project: Path, email: str) -> Touch:
    """Import the sample leads, run one batch, and return ``email``'s first touch."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        touch = session.scalar(
            select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.email == email)
        )
        assert touch is not None, f"no touch for {email}"
        return touch


def reported_at_the_last_line(project: Path, text: str, message: str) -> list[Problem]:
    """Write ``text`` as the project's prospecting.yaml and validate: ``message`` must be
    reported at the file's last line. Returns every problem."""
    (project / "sequences" / "prospecting.yaml").write_text(text, encoding="utf-8")
    problems = validate(make_settings(project, "sqlite://"))
    line = text.count("\n")
    assert any(
        message in p.message and p.line == line and p.path.endswith("prospecting.yaml")
        for p in problems
    ), problems
    return problems
