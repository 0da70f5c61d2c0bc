"""The daily digest (``notifications: daily_digest: true``): each morning, in the rep's own
time zone, one email listing what waits for them — the open review items of the leads they
own, hot leads and tasks due today first. Once a day per rep (its key is the local date);
nothing when nothing waits."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.integrations.notifications import EMAIL, Notice, who, zone
from worker.queries.labels import reason_label
from worker.store.models import Lead, Notification, Rep, ReviewItem
from worker.vocabulary import ReviewReason

DIGEST_HOUR = 8  # local time from which the day's digest goes out
LISTED = 20  # items named in the email; the rest are counted


def digests(session: Session, now: datetime, public_url: str) -> list[Notice]:
    """Today's digest for every rep with an email address whose morning has come and who
    has not had it yet."""
    found = []
    for rep in session.scalars(select(Rep).where(Rep.email.is_not(None)).order_by(Rep.name)):
        local = now.astimezone(zone(rep.timezone))
        if local.hour < DIGEST_HOUR:
            continue
        key = f"digest:{local.date().isoformat()}"
        sent = session.scalar(
            select(Notification.id).where(
                Notification.key == key, Notification.rep == rep.name, Notification.channel == EMAIL
            )
        )
        if sent is not None:
            continue
        rows = session.execute(
            select(ReviewItem.reason, ReviewItem.due_at, Lead)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(ReviewItem.resolved_at.is_(None), Lead.owner == rep.name)
            .order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)
            .limit(500)
        ).all()
        if not rows:
            continue
        reasons = Counter(reason for reason, _, _ in rows)
        today = local.date()
        due = [
            row
            for row in rows
            if row.due_at is not None and row.due_at.astimezone(local.tzinfo).date() <= today
        ]
        lines = [
            f"Good morning{', ' + rep.full_name if rep.full_name else ''}: "
            f"{len(rows)} open item(s) on your leads.",
            f"Hot leads: {reasons.get(ReviewReason.HOT_LEAD, 0)}, tasks due today: {len(due)}.",
            "",
        ]
        for reason, due_at, lead in rows[:LISTED]:
            when = _due(due_at.astimezone(local.tzinfo), today) if due_at else ""
            lines.append(
                f"- {reason_label(reason)}{when}: {who(lead)} — {public_url}/leads/{lead.id}"
            )
        if len(rows) > LISTED:
            lines.append(f"… and {len(rows) - LISTED} more: {public_url}/queue")
        found.append(
            Notice(
                key,
                "daily_digest",
                rep.name,
                None,
                f"Your day: {len(rows)} open item(s), {len(due)} task(s) due",
                "\n".join(lines),
                chat=False,
            )
        )
    return found


def _due(at: datetime, today: date) -> str:
    return f" (due {at:%H:%M})" if at.date() == today else f" (due {at:%a %d %b %H:%M})"


__all__ = ["DIGEST_HOUR", "digests"]
