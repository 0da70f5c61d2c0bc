"""Same-thread steps read as one conversation in a mail client: ``Re:`` + the thread's subject,
In-Reply-To the email just before, References from the conversation's first email."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.store.models import Lead, Touch

ADA = "ada@northwind.test"


def _sent_to_ada(runtime, project: Path) -> list[EmailMessage]:
    """Every email Ada got over the whole prospecting sequence, in step order."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    for _ in range(60):
        run_batch(runtime)
        runtime.clock.advance(timedelta(days=1))
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        ids = session.scalars(
            select(Touch.message_id)
            .where(Touch.lead_id == lead.id, Touch.status == "sent")
            .order_by(Touch.step_index)
        ).all()
    by_id = {}
    for path in (project / "outbox").glob("*.eml"):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        by_id[str(msg["Message-ID"])] = msg
    return [by_id[mid] for mid in ids]  # type: ignore[misc]


def _threads(messages: list[EmailMessage]) -> list[list[EmailMessage]]:
    """Group messages the way mail clients do: by the first Message-ID in References
    (or In-Reply-To), the message's own id when it refers to nothing."""
    threads: dict[str, list[EmailMessage]] = {}
    for msg in messages:
        refs = str(msg.get("References", "")).split()
        root = refs[0] if refs else str(msg.get("In-Reply-To") or msg["Message-ID"])
        threads.setdefault(root, []).append(msg)
    return list(threads.values())


def test_a_same_thread_step_continues_the_conversation_of_the_email_before_it(
    runtime, project: Path
) -> None:
    spec = runtime.catalog.get("prospecting")
    same_thread = [i for i, step in enumerate(spec.steps) if step.same_thread]
    assert same_thread  # the example sequence threads its bump and its break-up

    sent = _sent_to_ada(runtime, project)

    assert len(sent) == len(spec.steps)
    threads = _threads(sent)
    # Each email that does not reply starts a conversation; a same-thread step joins the
    # conversation of the email just before it, as a mail client groups them.
    assert len(threads) == len(spec.steps) - len(same_thread)
    for index in same_thread:
        msg, previous = sent[index], sent[index - 1]
        root = next(t for t in threads if msg in t)[0]
        assert previous in next(t for t in threads if msg in t)
        assert str(msg["Subject"]) == f"Re: {root['Subject']}"
        assert str(msg["In-Reply-To"]) == str(previous["Message-ID"])
        refs = str(msg["References"]).split()
        assert refs[0] == str(root["Message-ID"])
        assert refs[-1] == str(previous["Message-ID"])
    for index, msg in enumerate(sent):
        if index not in same_thread:
            assert "In-Reply-To" not in msg
            assert not str(msg["Subject"]).startswith("Re:")
