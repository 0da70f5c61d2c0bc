"""The figures ``/metrics`` exposes, read from the database when Prometheus scrapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.store.models import InboundMessage, ReviewItem, Touch
from worker.vocabulary import TouchStatus


@dataclass(frozen=True)
class Figures:
    """Counts by kind, each a gauge: what is true now, not a running total."""

    touches: dict[str, int] = field(default_factory=dict)  # by status
    review_open: dict[str, int] = field(default_factory=dict)  # by reason
    inbound: dict[str, int] = field(default_factory=dict)  # by intent (or status)
    sent_today: dict[str, int] = field(default_factory=dict)  # by mailbox, UTC day


def read_figures(session: Session, now: datetime) -> Figures:
    """Every figure in four grouped queries."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    touches = session.execute(select(Touch.status, func.count()).group_by(Touch.status))
    review = session.execute(
        select(ReviewItem.reason, func.count())
        .where(ReviewItem.resolved_at.is_(None))
        .group_by(ReviewItem.reason)
    )
    label = func.coalesce(InboundMessage.intent, InboundMessage.status)
    inbound = session.execute(select(label, func.count()).group_by(label))
    sent = session.execute(
        select(Touch.mailbox, func.count())
        .where(
            Touch.status == TouchStatus.SENT,
            Touch.finished_at >= day,
            Touch.finished_at < day + timedelta(days=1),
        )
        .group_by(Touch.mailbox)
    )
    return Figures(
        touches={str(k): int(n) for k, n in touches},
        review_open={str(k): int(n) for k, n in review},
        inbound={str(k): int(n) for k, n in inbound},
        sent_today={str(k): int(n) for k, n in sent if k},
    )


__all__ = ["Figures", "read_figures"]
