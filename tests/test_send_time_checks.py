"""The last checks at send time, and the ledger's rules for re-scheduling a step."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select, update

from worker.delivery.claiming import claim_and_prepare, mark_sending, skip_claimed
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.store.models import Enrollment, Lead, Touch


def _import(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )


def test_a_lead_paused_after_the_claim_is_skipped_not_sent(runtime, project: Path) -> None:
    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    prepared, outcomes = claim_and_prepare(runtime, ids[:3], "token-1")
    assert len(prepared) == 3
    assert outcomes == []
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).where(Lead.id == prepared[0].lead_id).values(status="paused"))

    assert mark_sending(runtime, prepared[0], "token-1") is False
    assert skip_claimed(runtime, prepared[0], "token-1", "lead changed").result == "skipped"
    assert mark_sending(runtime, prepared[1], "token-1") is True
    assert mark_sending(runtime, prepared[1], "token-1") is False  # only once
    assert mark_sending(runtime, prepared[2], "other-token") is False  # not ours


def test_a_step_skipped_while_paused_is_sent_when_the_enrollment_is_due_again(
    runtime, project: Path
) -> None:
    _import(runtime, project)
    ids = tick(runtime).to_enqueue  # queued, then the lead goes on holiday
    with runtime.sessions.begin() as session:
        first = session.scalars(select(Enrollment).order_by(Enrollment.id)).first()
        first.status = "paused"
    results = Counter(outcome.result for outcome in send_touches(runtime, ids))
    assert results == {"sent": 24, "skipped": 1}

    with runtime.sessions.begin() as session:
        enrollment = session.get(Enrollment, first.id)
        enrollment.status = "active"
        enrollment.next_due_at = runtime.clock.now()
    resumed = run_batch(runtime)

    assert resumed.totals() == {"sent": 1}
    with runtime.sessions() as session:
        statuses = session.scalars(
            select(Touch.status).where(Touch.enrollment_id == first.id, Touch.step_index == 0)
        ).all()
    assert statuses == ["sent"]  # the same ledger row, revived, not a second one


def test_a_sent_step_is_never_scheduled_again(runtime, project: Path) -> None:
    _import(runtime, project)
    assert run_batch(runtime).totals() == {"sent": 25}
    with runtime.sessions.begin() as session:
        # Force every enrollment back to step 1 and due now, as a buggy resume might.
        session.execute(update(Enrollment).values(current_step=0, next_due_at=runtime.clock.now()))
    again = run_batch(runtime)
    assert again.totals() == {}
    assert len(list((project / "outbox").glob("*.eml"))) == 25


def test_an_address_suppressed_after_the_claim_is_not_sent(runtime, project: Path) -> None:
    from worker.store.models import Suppression

    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    prepared, _ = claim_and_prepare(runtime, ids[:2], "token-2")
    with runtime.sessions.begin() as session:
        session.add(
            Suppression(
                value=prepared[0].built.recipient,
                reason="unsubscribe",
                created_at=runtime.clock.now(),
            )
        )
        domain = prepared[1].built.recipient.rsplit("@", 1)[1]
        session.add(Suppression(value=domain, reason="domain", created_at=runtime.clock.now()))

    assert mark_sending(runtime, prepared[0], "token-2") is False
    assert mark_sending(runtime, prepared[1], "token-2") is False


def test_a_lead_resumed_while_its_touch_was_being_skipped_is_not_left_stuck(
    runtime, project: Path
) -> None:
    from worker.leads import lifecycle as lead_state

    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    prepared, _ = claim_and_prepare(runtime, ids[:1], "token-1")
    item = prepared[0]
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        enrollment = session.get(Enrollment, item.enrollment_id)
        lead_state.pause(session, [enrollment], at=now, cause="out of office")
    assert mark_sending(runtime, item, "token-1") is False
    # The lead comes back before the sender writes its skip: the touch still looks claimed.
    with runtime.sessions.begin() as session:
        enrollment = session.get(Enrollment, item.enrollment_id)
        lead_state.resume(session, [enrollment], at=now, cause="return date reached")
    assert skip_claimed(runtime, item, "token-1", "enrollment paused").result == "skipped"

    again = tick(runtime).to_enqueue
    assert item.touch_id in again
    assert [o.result for o in send_touches(runtime, [item.touch_id])] == ["sent"]


def test_a_lead_resumed_while_the_claim_skips_its_touch_is_not_left_stuck(
    runtime, project: Path, monkeypatch
) -> None:
    from worker.delivery import claiming
    from worker.leads import lifecycle as lead_state

    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        enrollment = session.scalars(
            select(Enrollment)
            .join(Touch, Touch.enrollment_id == Enrollment.id)
            .where(Touch.id == ids[0])
        ).one()
        lead_state.pause(session, [enrollment], at=now, cause="out of office")
    checked = claiming.why_not

    def resumed_meanwhile(lead, enrollment, step_index, blocked):  # type: ignore[no-untyped-def]
        reason = checked(lead, enrollment, step_index, blocked)
        with runtime.sessions.begin() as session:
            fresh = session.get(Enrollment, enrollment.id)
            lead_state.resume(session, [fresh], at=now, cause="return date reached")
        return reason

    monkeypatch.setattr(claiming, "why_not", resumed_meanwhile)
    assert [o.result for o in send_touches(runtime, ids[:1])] == ["skipped"]
    monkeypatch.setattr(claiming, "why_not", checked)

    assert ids[0] in tick(runtime).to_enqueue
    assert [o.result for o in send_touches(runtime, ids[:1])] == ["sent"]


def test_a_skip_for_a_lead_still_paused_does_not_reschedule_the_step(
    runtime, project: Path
) -> None:
    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    prepared, _ = claim_and_prepare(runtime, ids[:1], "token-1")
    with runtime.sessions.begin() as session:
        session.execute(
            update(Lead).where(Lead.id == prepared[0].lead_id).values(status="needs_review")
        )
    assert mark_sending(runtime, prepared[0], "token-1") is False
    skip_claimed(runtime, prepared[0], "token-1", "lead changed")
    with runtime.sessions() as session:
        enrollment = session.get(Enrollment, prepared[0].enrollment_id)
        assert enrollment.next_due_at is None


def test_the_delivery_lease_starts_at_the_hand_over_not_at_the_chunk_claim(
    runtime, project: Path, clock
) -> None:
    from datetime import timedelta

    from worker.delivery.recovery import recover

    _import(runtime, project)
    ids = tick(runtime).to_enqueue
    prepared, _ = claim_and_prepare(runtime, ids[:2], "token-1")
    lease = timedelta(seconds=runtime.settings.delivery_lease_s)
    clock.advance(lease - timedelta(seconds=5))  # a slow chunk: its last touch goes out late
    assert mark_sending(runtime, prepared[1], "token-1") is True
    clock.advance(timedelta(seconds=10))  # the transport answers ten seconds later

    assert recover(runtime).unknown == []  # in flight for ten seconds: not "delivery unknown"
    with runtime.sessions() as session:
        assert session.get(Touch, prepared[1].touch_id).status == "sending"
        assert session.get(Touch, prepared[0].touch_id).status == "queued"  # never handed over
