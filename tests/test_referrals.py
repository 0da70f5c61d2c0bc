"""A referral reply: the rep turns the referred address into a lead with one action."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.reply_support import first_touch_after_a_batch, reply_to
from worker.errors import OutreachError
from worker.rehearsal.preview import preview_touch
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem, Suppression
from worker.understanding import Classification

ADA = "ada@northwind.test"
RAJ = "raj.patel@northwind.test"


def _referral(runtime: Runtime, project: Path, referred: str | None = RAJ) -> int:
    touch = first_touch_after_a_batch(runtime, project, ADA)
    found = Classification(
        "referral", 0.9, referral_email=referred, text="Please talk to my colleague Raj."
    )
    reply_to(runtime, touch, found)
    with runtime.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.lead_id == touch.lead_id))
        assert item is not None
        if referred:
            assert item.suggested_action == "add-referral"
        return item.id


def _lead(runtime: Runtime, email: str) -> Lead | None:
    with runtime.sessions() as session:
        return session.scalar(select(Lead).where(Lead.email == email))


def test_add_referral_creates_and_enrolls_the_referred_lead(
    runtime: Runtime, project: Path
) -> None:
    item_id = _referral(runtime, project)
    done = resolve_now(runtime, item_id, "add-referral", note="Raj runs sales ops")
    assert done.action == "add-referral"
    ada, raj = _lead(runtime, ADA), _lead(runtime, RAJ)
    assert ada is not None
    assert raj is not None
    assert (raj.company, raj.timezone, raj.country) == (ada.company, ada.timezone, ada.country)
    assert raj.fields["referred_by"] == ADA
    assert (raj.stage, raj.status) == ("prospecting", "active")
    assert ada.status == "stopped"
    with runtime.sessions() as session:
        enrolled = session.scalars(
            select(Enrollment.sequence).where(Enrollment.lead_id == raj.id)
        ).all()
        assert enrolled == ["prospecting"]
        ada_open = session.scalars(
            select(Enrollment.id).where(
                Enrollment.lead_id == ada.id, Enrollment.status.in_(("active", "paused"))
            )
        ).all()
        assert ada_open == []
        added = session.scalar(
            select(Event).where(Event.lead_id == ada.id, Event.kind == "referral_added")
        )
        assert added is not None
        assert added.detail["referred"] == RAJ


def test_a_suppressed_referred_address_is_never_enrolled(runtime: Runtime, project: Path) -> None:
    item_id = _referral(runtime, project)
    with runtime.sessions.begin() as session:
        session.add(Suppression(value=RAJ, reason="unsubscribe", created_at=runtime.clock.now()))
    resolve_now(runtime, item_id, "add-referral")
    raj = _lead(runtime, RAJ)
    assert raj is not None
    with runtime.sessions() as session:
        assert session.scalars(select(Enrollment).where(Enrollment.lead_id == raj.id)).all() == []


def test_add_referral_needs_a_referred_address(runtime: Runtime, project: Path) -> None:
    item_id = _referral(runtime, project, referred=None)
    with pytest.raises(OutreachError, match="names no referred address"):
        resolve_now(runtime, item_id, "add-referral")
    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert item is not None
        assert item.resolved_at is None  # nothing changed


def test_the_referred_lead_is_told_who_suggested_the_contact(
    runtime: Runtime, project: Path
) -> None:
    item_id = _referral(runtime, project)
    resolve_now(runtime, item_id, "add-referral")
    raj = _lead(runtime, RAJ)
    assert raj is not None
    assert raj.fields["referred_by_name"] == "Ada Winter"

    first = preview_touch(runtime, "prospecting", RAJ, 1)
    assert first.text.startswith("Hi there,\n\nAda Winter suggested I get in touch with you.\n")
