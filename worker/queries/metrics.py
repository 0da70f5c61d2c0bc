"""The figures ``/metrics`` exposes, read from the database when Prometheus scrapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.operations.heartbeats import is_alive, wall_now
from worker.settings import Settings
from worker.store.models import Heartbeat, InboundMessage, ReviewItem, Touch
from worker.vocabulary import TouchStatus


@dataclass(frozen=True)
class Figures:
    """Counts by kind, each a gauge: what is true now, not a running total."""

    touches: dict[str, int] = field(default_factory=dict)  # by status
    review_open: dict[str, int] = field(default_factory=dict)  # by reason
    inbound: dict[str, int] = field(default_factory=dict)  # by intent (or status)
    sent_today: dict[str, int] = field(default_factory=dict)  # by mailbox, UTC day
    failed_today: dict[str, int] = field(default_factory=dict)  # by mailbox, UTC day
    # Registered processes: (holder, roles, seconds since the last beat, alive).
    heartbeats: list[tuple[str, str, float, bool]] = field(default_factory=list)


def read_figures(session: Session, now: datetime, settings: Settings) -> Figures:
    """Every figure in a few grouped queries."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    touches = session.execute(select(Touch.status, func.count()).group_by(Touch.status))
    review = session.execute(
        select(ReviewItem.reason, func.count())
        .where(ReviewItem.resolved_at.is_(None))
        .group_by(ReviewItem.reason)
    )
    label = func.coalesce(InboundMessage.intent, InboundMessage.status)
    inbound = session.execute(select(label, func.count()).group_by(label))
    per_mailbox = (
        select(Touch.status, Touch.mailbox, func.count())
        .where(
            Touch.status.in_((TouchStatus.SENT, TouchStatus.FAILED)),
            Touch.finished_at >= day,
            Touch.finished_at < day + timedelta(days=1),
        )
        .group_by(Touch.status, Touch.mailbox)
    )
    today: dict[str, dict[str, int]] = {TouchStatus.SENT: {}, TouchStatus.FAILED: {}}
    for status, mailbox, n in session.execute(per_mailbox):
        if mailbox:
            today[status][str(mailbox)] = int(n)
    wall = wall_now()
    beats = [
        (row.holder, row.roles, (wall - row.beat_at).total_seconds(), is_alive(row, settings, wall))
        for row in session.scalars(select(Heartbeat).order_by(Heartbeat.holder))
    ]
    return Figures(
        touches={str(k): int(n) for k, n in touches},
        review_open={str(k): int(n) for k, n in review},
        inbound={str(k): int(n) for k, n in inbound},
        sent_today=today[TouchStatus.SENT],
        failed_today=today[TouchStatus.FAILED],
        heartbeats=beats,
    )


__all__ = ["Figures", "read_figures"]
