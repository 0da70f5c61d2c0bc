"""Record a request to a tracked link or an open pixel: a ``Click`` row (clicks), an event,
and a scoring mark, in the caller's transaction.

A click is counted as interest only when ``worker.tracking.scanners`` finds nothing wrong
with it. When a click completes a burst in which every link of the email was clicked within
``burst_s`` seconds, every click of that burst is a scanner's: those counted before are
re-marked (row and event detail alike) and the lead is marked for scoring again. Two clicks
of one burst committing at the same instant may miss each other; the burst is still caught
by the click after them, or it is not a burst a person could tell from one either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.store import events
from worker.store.marks import mark
from worker.store.models import Click, Event, Touch
from worker.tracking.scanners import (
    EVERY_LINK,
    HEAD,
    click_verdict,
    is_every_link,
    scanner_agent,
)
from worker.tracking.tokens import TrackedLink
from worker.vocabulary import EventKind

MAX_AGENT_CHARS = 500


@dataclass(frozen=True)
class ClickResult:
    """What was recorded for one request to a tracked link."""

    click_id: int
    lead_id: int | None
    counted: bool
    verdict: str | None


def record_click(
    session: Session,
    link: TrackedLink,
    *,
    at: datetime,
    method: str,
    user_agent: str | None,
    min_delay_s: float,
    burst_s: float,
) -> ClickResult:
    """Record one request to ``link`` (a valid token's): its ``Click``, its ``link_clicked``
    event (detail: url, link, counted, verdict, click) and a scoring mark for its lead."""
    touch = session.get(Touch, link.touch_id)
    method = method.upper()[:8]
    agent = (user_agent or "").strip()[:MAX_AGENT_CHARS] or None
    sent_at = (touch.finished_at or touch.claimed_at) if touch is not None else None
    verdict = click_verdict(
        method=method, user_agent=agent, at=at, sent_at=sent_at, min_delay_s=min_delay_s
    )
    click = Click(
        touch_id=touch.id if touch is not None else None,
        lead_id=touch.lead_id if touch is not None else None,
        link=link.link,
        url=link.url,
        at=at,
        method=method,
        user_agent=agent,
        counted=verdict is None,
        verdict=verdict,
    )
    session.add(click)
    session.flush()
    if touch is not None and method != HEAD and link.links >= 2:
        burst = list(
            session.scalars(
                select(Click).where(
                    Click.touch_id == touch.id,
                    Click.method != HEAD,
                    Click.at >= at - timedelta(seconds=burst_s),
                    Click.at <= at,
                )
            )
        )
        if is_every_link(link.links, (c.link for c in burst)):
            _every_link_at_once(session, touch.id, [c for c in burst if c.counted], at, burst_s)
    events.record(
        session,
        EventKind.LINK_CLICKED,
        at=at,
        lead_id=click.lead_id,
        touch_id=click.touch_id,
        sequence=touch.sequence if touch is not None else None,
        step_index=touch.step_index if touch is not None else None,
        cause=click.verdict,
        url=link.url,
        link=link.link,
        counted=click.counted,
        verdict=click.verdict,
        click=click.id,
        method=method,
    )
    mark(session, [click.lead_id], at)
    return ClickResult(click.id, click.lead_id, click.counted, click.verdict)


def _every_link_at_once(
    session: Session, touch_id: int, counted: list[Click], at: datetime, burst_s: float
) -> None:
    """Re-mark the burst's counted clicks (the new one among them) and their events."""
    if not counted:
        return
    ids = {c.id for c in counted}
    for c in counted:
        c.counted, c.verdict = False, EVERY_LINK
    earliest = min(c.at for c in counted)
    logged = session.scalars(
        select(Event).where(
            Event.kind == EventKind.LINK_CLICKED,
            Event.touch_id == touch_id,
            Event.at >= earliest,
            Event.at <= at + timedelta(seconds=burst_s),
        )
    )
    for event in logged:
        if (event.detail or {}).get("click") in ids:
            event.detail = {**event.detail, "counted": False, "verdict": EVERY_LINK}
            event.cause = EVERY_LINK
    session.flush()


def record_open(
    session: Session, touch_id: int, *, at: datetime, method: str, user_agent: str | None
) -> int | None:
    """Record a request to a touch's open pixel as an ``email_opened`` event, never counted
    (detail: unreliable, and the scanner or proxy its user agent names); its lead, or None
    when the touch is gone."""
    touch = session.get(Touch, touch_id)
    if touch is None:
        return None
    agent = (user_agent or "").strip()[:MAX_AGENT_CHARS] or None
    events.record(
        session,
        EventKind.EMAIL_OPENED,
        at=at,
        lead_id=touch.lead_id,
        touch_id=touch.id,
        sequence=touch.sequence,
        step_index=touch.step_index,
        unreliable=True,
        counted=False,
        method=method.upper()[:8],
        agent=scanner_agent(agent),
    )
    mark(session, [touch.lead_id], at)
    return touch.lead_id


__all__ = ["ClickResult", "record_click", "record_open"]
