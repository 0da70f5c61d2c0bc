"""What the API returns for a lead, an event and a review item (times ISO 8601 UTC), and how
a lead is named in a path: its id, or its email address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clock import iso
from worker.errors import NotFoundError
from worker.leads.addresses import normalise_email
from worker.queries.leads import current_enrollments, lead_row
from worker.store.models import LEAD_COLUMNS, Event, Lead, ReviewItem


def find_lead(session: Session, ref: str) -> Lead:
    """The lead with id ``ref`` (digits) or address ``ref``; NotFoundError otherwise."""
    if ref.isdigit():
        lead = session.get(Lead, int(ref))
    else:
        try:
            email = normalise_email(ref)
        except ValueError:
            raise NotFoundError(f"No lead {ref!r} — give a lead's id or email address") from None
        lead = session.scalar(select(Lead).where(Lead.email == email))
    if lead is None:
        raise NotFoundError(f"No lead {ref!r} — list the leads with GET /api/v1/leads")
    return lead


def lead_records(session: Session, leads: list[Lead]) -> list[dict[str, Any]]:
    """``leads`` as the API shows them, with their current sequence."""
    enrollments = current_enrollments(session, [lead.id for lead in leads])
    return [lead_record(lead, lead_row(lead, enrollments.get(lead.id))) for lead in leads]


def lead_record(lead: Lead, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": lead.id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "timezone": lead.timezone,
        "country": lead.country,
        "deal_value": lead.deal_value,
        "currency": row.get("currency"),
        "stage": lead.stage,
        "status": lead.status,
        "owner": lead.owner,
        "sequence": row.get("sequence"),
        "step": row.get("step"),
        "enrollment_status": row.get("enrollment_status"),
        "next_due_at": row.get("next_due_at"),
        "score": lead.score,
        "qualification": lead.qualification,
        # Custom fields only: the lead's own fields are kept there too (as an import does).
        "fields": {k: v for k, v in (lead.fields or {}).items() if k not in LEAD_COLUMNS},
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
    }


def one_lead(session: Session, lead: Lead) -> dict[str, Any]:
    return lead_records(session, [lead])[0]


def event_record(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "lead_id": event.lead_id,
        "kind": event.kind,
        "sequence": event.sequence,
        "step": event.step_index + 1 if event.step_index is not None else None,
        "touch_id": event.touch_id,
        "cause": event.cause,
        "detail": dict(event.detail or {}),
    }


def review_record(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "status": "open" if item.resolved_at is None else "resolved",
        "lead_id": item.lead_id,
        "inbound_id": item.inbound_id,
        "touch_id": item.touch_id,
        "reason": item.reason,
        "detail": item.detail,
        "priority": item.priority,
        "suggested_action": item.suggested_action,
        "assignee": item.assignee,
        "due_at": iso(item.due_at),
        "created_at": iso(item.created_at),
        "resolved_at": iso(item.resolved_at),
        "resolution": item.resolution,
        "note": item.note,
    }


__all__ = ["event_record", "find_lead", "lead_records", "one_lead", "review_record"]
