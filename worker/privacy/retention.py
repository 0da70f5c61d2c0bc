"""Raw mail retention: the raw bytes of inbound messages processed more than N days ago are
cleared (``OUTREACH_RAW_MAIL_RETENTION_DAYS``; ``outreach inbox purge-raw``), a chunk per
transaction. What the reports, timelines and the queue read stays: sender, subject, parsed
text, intent, classification. A message not processed yet (stored, failed, unparseable) keeps
its raw bytes whatever its age: they are all there is of it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.runtime import Runtime
from worker.store.models import InboundMessage

log = logging.getLogger(__name__)
CHUNK = 500  # messages per transaction
PER_RUN = 5000  # messages one batch or scheduler run clears at most (the rest: next run)


def purge_configured(runtime: Runtime, limit: int | None = PER_RUN) -> int:
    """``purge_raw`` as the settings say (``raw_mail_retention_days``; unset: nothing)."""
    days = runtime.settings.raw_mail_retention_days
    if days is None:
        return 0
    return purge_raw(runtime.sessions, older_than_days=days, now=runtime.clock.now(), limit=limit)


def purge_raw(
    sessions: sessionmaker[Session],
    *,
    older_than_days: int,
    now: datetime,
    limit: int | None = None,
) -> int:
    """Clear the raw bytes of messages processed before ``now - older_than_days``, at most
    ``limit`` (None: all); how many were cleared."""
    cutoff = now - timedelta(days=older_than_days)
    cleared = 0
    while limit is None or cleared < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - cleared)
        with sessions.begin() as session:
            done = purge_chunk(session, cutoff, now, size)
        cleared += done
        if done < size:
            break
    if cleared:
        log.info("raw mail retention: cleared %d messages processed before %s", cleared, cutoff)
    return cleared


def purge_chunk(session: Session, cutoff: datetime, now: datetime, size: int = CHUNK) -> int:
    """Clear one chunk in the caller's transaction; how many."""
    ids = list(
        session.scalars(
            select(InboundMessage.id)
            .where(
                InboundMessage.processed_at.is_not(None),
                InboundMessage.raw_cleared_at.is_(None),
                InboundMessage.processed_at < cutoff,
            )
            .order_by(InboundMessage.processed_at)
            .limit(size)
        )
    )
    if ids:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids), InboundMessage.raw_cleared_at.is_(None))
            .values(raw=b"", raw_cleared_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


__all__ = ["CHUNK", "PER_RUN", "purge_chunk", "purge_configured", "purge_raw"]
