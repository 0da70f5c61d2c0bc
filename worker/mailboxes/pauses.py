"""Pausing sending mailboxes: by hand (``outreach mailboxes pause/resume``) or automatically.

A paused mailbox sends nothing: the send-time gate puts its touches back in the queue and
looks again every 15 minutes (``limits.PAUSE_RECHECK_S``); resuming frees them at once.

A mailbox is paused automatically when

- at least ``OUTREACH_MAILBOX_MAX_FAILURES_24H`` (5) of its touches failed for good with a
  delivery error (event ``failed`` / ``delivery_failed``) in the last 24 hours (0: never), or
- its hard bounces (events ``classified`` / ``bounce_hard`` of touches it sent) in the last 7
  days, over its sends in the last 7 UTC days, are above ``OUTREACH_MAILBOX_MAX_BOUNCE_RATE``
  (0.05), once it sent at least ``OUTREACH_MAILBOX_MIN_SAMPLE`` (20) in those days, or
- its spam complaints (events ``classified`` / ``complaint``: ARF feedback reports about
  touches it sent) in the last 7 days, over its sends in the last 7 UTC days, are above
  ``OUTREACH_MAILBOX_MAX_COMPLAINT_RATE`` (0.003: Gmail's limit is 0.3 %, its guidance below
  0.1 %), once it sent at least the same minimum. At low volume one complaint is enough
  (1 in 300 sends is 0.33 %); 0 turns the rule off.

Only failures and bounces after the mailbox was last resumed count, so the next check does not
undo a resume. The rules are checked at the start of every tick (``outreach run``, the
scheduler: bounces are read from the inboxes before it) and right after a touch fails for
good. A pause is a ``MailboxPause`` row, an event ``mailbox_paused`` and a review item
(reason ``mailbox_paused``, no lead) saying why and how to resume.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.errors import OutreachError
from worker.mailboxes.capacity import sent_since
from worker.mailboxes.limits import day_of, paused_prefix
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Event, MailboxPause, ReviewItem, Touch
from worker.vocabulary import EventKind, ReviewAction, ReviewReason, TouchStatus

log = logging.getLogger(__name__)

FAILURE_WINDOW = timedelta(hours=24)
BOUNCE_WINDOW_DAYS = 7


@dataclass(frozen=True)
class PauseState:
    """A mailbox's pause as stored (``resumed_at`` None: paused now)."""

    mailbox: str
    paused_at: datetime
    reason: str
    resumed_at: datetime | None

    @property
    def paused(self) -> bool:
        return self.resumed_at is None


def pause_states(session: Session) -> dict[str, PauseState]:
    """Every mailbox ever paused, by name."""
    return {
        row.mailbox: PauseState(row.mailbox, row.paused_at, row.reason, row.resumed_at)
        for row in session.scalars(select(MailboxPause))
    }


def pause_mailbox(
    session: Session,
    mailbox: str,
    reason: str,
    *,
    at: datetime,
    cause: str = "manual",
    by: str | None = None,
) -> bool:
    """Pause ``mailbox``; False when it was paused already. Records an event (with ``by``,
    the rep who paused it, when a rep did)."""
    insert = dialect_insert(session, MailboxPause)
    paused = session.execute(
        insert.values(mailbox=mailbox, paused_at=at, reason=reason, resumed_at=None)
        .on_conflict_do_update(
            index_elements=["mailbox"],
            set_={"paused_at": at, "reason": reason, "resumed_at": None},
            where=MailboxPause.resumed_at.is_not(None),
        )
        .returning(MailboxPause.mailbox)
    ).first()
    if paused is None:
        return False
    events.record(
        session,
        EventKind.MAILBOX_PAUSED,
        at=at,
        lead_id=None,
        cause=cause,
        mailbox=mailbox,
        reason=reason,
        by=by,
    )
    log.log(
        logging.WARNING if cause == "auto" else logging.INFO,
        "mailbox %r paused: %s",
        mailbox,
        reason,
        extra={"mailbox": mailbox, "cause": cause, "event": "mailbox_paused"},
    )
    return True


def resume_mailbox(
    session: Session, mailbox: str, *, at: datetime, note: str | None = None, by: str | None = None
) -> int:
    """Resume ``mailbox``; return how many postponed touches were freed (-1: it was not paused).
    The event names ``by``, the rep who resumed it, when a rep did.

    Its open ``mailbox_paused`` review items are closed, and the touches the pause held back
    go back to the queue now instead of at their next re-check.
    """
    resumed = session.execute(
        update(MailboxPause)
        .where(MailboxPause.mailbox == mailbox, MailboxPause.resumed_at.is_(None))
        .values(resumed_at=at)
        .returning(MailboxPause.mailbox)
    ).first()
    if resumed is None:
        return -1
    session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.reason == ReviewReason.MAILBOX_PAUSED,
            ReviewItem.resolved_at.is_(None),
            ReviewItem.detail.startswith(_detail_prefix(mailbox), autoescape=True),
        )
        .values(resolved_at=at, resolution=ReviewAction.RESUME, note=note)
    )
    freed = session.execute(
        update(Touch)
        .where(
            Touch.status == TouchStatus.QUEUED,
            Touch.mailbox == mailbox,
            Touch.available_at > at,
            Touch.last_error.startswith(paused_prefix(mailbox), autoescape=True),
        )
        .values(available_at=at, enqueued_at=None)
        .returning(Touch.id)
    ).all()
    events.record(
        session,
        EventKind.MAILBOX_RESUMED,
        at=at,
        lead_id=None,
        cause="manual",
        mailbox=mailbox,
        note=note,
        by=by,
    )
    return len(freed)


def _detail_prefix(mailbox: str) -> str:
    return f"Mailbox {mailbox!r} paused"


def _review(session: Session, mailbox: str, why: str, at: datetime) -> None:
    session.add(
        ReviewItem(
            lead_id=None,
            reason=ReviewReason.MAILBOX_PAUSED,
            detail=(
                f"{_detail_prefix(mailbox)}: {why}. Nothing is sent from it until it is resumed; "
                "its touches wait in the queue. Find the cause (its SMTP account, the sender's "
                "reputation, the quality of the leads), then resume it on the Mailboxes page "
                f"or with 'outreach mailboxes resume {mailbox}' — that also closes this item."
            ),
            created_at=at,
        )
    )


# --- automatic pauses ----------------------------------------------------------------------


def check_mailboxes(runtime: Runtime, only: str | None = None) -> list[str]:
    """Pause every mailbox (or ``only`` this one) that breaks a rule; return their names.

    A mailbox file that cannot be read is logged and skipped (the tick goes on).
    """
    try:
        names = sorted(runtime.mailboxes.by_name)
    except OutreachError as exc:
        log.warning("mailboxes not checked for auto-pause: %s", exc)
        return []
    if only is not None:
        names = [only] if only in names else []
    if not names:
        return []
    settings = runtime.settings
    now = runtime.clock.now()
    with runtime.sessions() as session:
        states = pause_states(session)
        failures = _times(
            session, EventKind.FAILED, ReviewReason.DELIVERY_FAILED, now - FAILURE_WINDOW, names
        )
        week = now - timedelta(days=BOUNCE_WINDOW_DAYS)
        bounces = _times(session, EventKind.CLASSIFIED, "bounce_hard", week, names)
        complaints = _times(session, EventKind.CLASSIFIED, "complaint", week, names)
    found: dict[str, str] = {}
    for name in names:
        state = states.get(name)
        if state is not None and state.paused:
            continue
        since = state.resumed_at if state is not None else None
        failed = [at for at in failures.get(name, []) if since is None or at > since]
        bounced = [at for at in bounces.get(name, []) if since is None or at > since]
        complained = [at for at in complaints.get(name, []) if since is None or at > since]
        limit = settings.mailbox_max_failures_24h
        if limit and len(failed) >= limit:
            found[name] = f"{len(failed)} touches failed for good in the last 24 hours"
            continue
        if not bounced and not complained:
            continue
        today = day_of(now)
        sent = sent_since(runtime, name, today - timedelta(days=BOUNCE_WINDOW_DAYS - 1), today)
        if sent < settings.mailbox_min_sample:
            continue
        why = _over_rate(
            len(complained), sent, settings.mailbox_max_complaint_rate, "spam complaints"
        )
        why = why or _over_rate(
            len(bounced), sent, settings.mailbox_max_bounce_rate, "hard bounces"
        )
        if why:
            found[name] = why
    paused: list[str] = []
    if found:
        with runtime.sessions.begin() as session:
            for name, why in found.items():
                if pause_mailbox(session, name, why, at=now, cause="auto"):
                    _review(session, name, why, now)
                    paused.append(name)
    return paused


def _over_rate(count: int, sent: int, limit: float, what: str) -> str | None:
    """Why a rate breaks its limit (0: no limit), or None."""
    rate = count / sent if sent else 1.0
    if not count or not limit or rate <= limit:
        return None
    return f"{count} {what} for {sent} sent in 7 days ({rate:.1%}, above {limit:.1%})"


def after_failure(runtime: Runtime, touch_id: int, reason: str) -> None:
    """After a touch failed for good: pause its mailbox if it now fails too often."""
    if reason != ReviewReason.DELIVERY_FAILED or not runtime.settings.mailbox_max_failures_24h:
        return
    with runtime.sessions() as session:
        mailbox = session.scalar(select(Touch.mailbox).where(Touch.id == touch_id))
    if mailbox:
        check_mailboxes(runtime, only=mailbox)


def _times(
    session: Session, kind: EventKind, cause: str, since: datetime, names: list[str]
) -> dict[str, list[datetime]]:
    """When events of ``kind``/``cause`` about touches of each mailbox happened since ``since``."""
    rows = session.execute(
        select(Touch.mailbox, Event.at)
        .join(Touch, Touch.id == Event.touch_id)
        .where(
            Event.kind == kind, Event.cause == cause, Event.at >= since, Touch.mailbox.in_(names)
        )
    )
    found: dict[str, list[datetime]] = defaultdict(list)
    for mailbox, at in rows:
        if mailbox is not None:
            found[mailbox].append(at)
    return found


__all__ = [
    "PauseState",
    "after_failure",
    "check_mailboxes",
    "pause_mailbox",
    "pause_states",
    "resume_mailbox",
]
