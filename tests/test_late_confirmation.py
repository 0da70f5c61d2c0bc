"""A send the transport confirms only after its lease ran out: the touch is recorded as sent
and its delivery-unknown review item closes itself; a rep's earlier decision is never
overridden (no second advance, no second "sent")."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from worker.delivery.recovery import recover
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.leads.importing import import_leads
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem, Touch
from worker.transports.message import BuiltMessage


class SlowTransport:
    """Takes the message, then answers only when released (a stalled SMTP server)."""

    def __init__(self) -> None:
        self.taken = threading.Event()
        self.release = threading.Event()
        self.sent: list[int] = []

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        self.taken.set()
        assert self.release.wait(30)
        self.sent.append(touch_id)

    def close(self) -> None:
        pass


def _stalled_send(runtime: Runtime, project: Path) -> tuple[int, SlowTransport, threading.Thread]:
    """One touch handed to a stalled transport, then its lease expired (delivery unknown)."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    tick(runtime)
    with runtime.sessions() as session:
        touch_id = session.scalars(select(Touch.id).order_by(Touch.id)).first()
        assert touch_id is not None
    transport = SlowTransport()
    runtime.transport_override = transport  # type: ignore[assignment]
    thread = threading.Thread(target=send_touches, args=(runtime, [touch_id]))
    thread.start()
    assert transport.taken.wait(30)
    runtime.clock.advance(timedelta(seconds=runtime.settings.delivery_lease_s + 1))  # type: ignore[attr-defined]
    assert recover(runtime).unknown == [touch_id]
    return touch_id, transport, thread


def _state(runtime: Runtime, touch_id: int) -> dict[str, Any]:
    with runtime.sessions() as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        lead = session.get(Lead, touch.lead_id)
        enrollment = session.get(Enrollment, touch.enrollment_id)
        item = session.scalar(select(ReviewItem).where(ReviewItem.touch_id == touch_id))
        assert lead is not None
        assert enrollment is not None
        assert item is not None
        sent_events = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.touch_id == touch_id, Event.kind == "sent")
        )
        return {
            "touch": touch.status,
            "lead": lead.status,
            "step": enrollment.current_step,
            "item": item.resolution,
            "note": item.note,
            "sent_events": sent_events,
        }


@pytest.mark.usefixtures("stub_broker")
def test_a_late_confirmation_records_the_send_and_closes_the_item(
    runtime: Runtime, project: Path
) -> None:
    touch_id, transport, thread = _stalled_send(runtime, project)
    assert _state(runtime, touch_id)["touch"] == "unknown"
    assert _state(runtime, touch_id)["lead"] == "needs_review"

    transport.release.set()
    thread.join(30)

    state = _state(runtime, touch_id)
    assert (state["touch"], state["lead"], state["step"]) == ("sent", "active", 1)
    assert state["item"] == "sent"
    assert "confirmed the send after its lease" in state["note"]
    assert state["sent_events"] == 1


@pytest.mark.usefixtures("stub_broker")
def test_a_reps_decision_before_the_late_confirmation_stands(
    runtime: Runtime, project: Path
) -> None:
    touch_id, transport, thread = _stalled_send(runtime, project)
    with runtime.sessions() as session:
        item_id = session.scalar(select(ReviewItem.id).where(ReviewItem.touch_id == touch_id))
    assert item_id is not None
    resolve_now(runtime, item_id, "sent", note="found it in the sent folder")
    decided = _state(runtime, touch_id)

    transport.release.set()
    thread.join(30)

    after = _state(runtime, touch_id)
    assert after == decided  # no second advance, no second "sent" event
    assert (after["touch"], after["step"], after["sent_events"]) == ("sent", 1, 1)
