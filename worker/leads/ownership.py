"""Who owns a lead, and the work that goes to the owner.

A lead's owner (``Lead.owner``, a rep's name) is set by the owner rule of ``mailboxes.yaml``
when the lead is enrolled without one (``Mailboxes.owner_for``: a pool's ``owners`` in turn,
or the mailbox's ``owner``), by the ``owner`` column of an import, or by hand
(``worker.working``). Each change is an ``owner_changed`` event. A review item opened for an
owned lead — a flag, a task, "Accept as SQL?" — is assigned to the owner, recorded as an
``assigned`` event as a rep's assignment is.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from worker.leads.bulk_rows import insert_rows, one_of, update_rows
from worker.mailboxes.pools import session_mailboxes
from worker.store import events
from worker.store.models import Event, Lead, Rep, ReviewItem
from worker.vocabulary import EventKind

log = logging.getLogger(__name__)
RULE_CAUSE = "owner rule"  # the cause of an owner set by mailboxes.yaml
OWNER_CAUSE = "owner"  # the cause of an item assigned to the lead's owner


def known_reps(session: Session, names: Collection[str]) -> set[str]:
    """Those of ``names`` that are reps."""
    if not names:
        return set()
    return set(session.scalars(select(Rep.name).where(Rep.name.in_(sorted(names)))))


def owners_by_rule(
    session: Session, enrolled: Mapping[int, str | None], sequence_mailbox: str
) -> dict[int, str]:
    """The owner the rule of ``mailboxes.yaml`` gives each lead just enrolled (lead id →
    the mailbox it was given) into a sequence whose ``mailbox:`` is ``sequence_mailbox``.
    Leads the file names nobody for, or a name that is not a rep, get none."""
    mailboxes = session_mailboxes(session)
    if mailboxes is None or not enrolled or not mailboxes.owner_refs:
        return {}
    wanted = {
        lead_id: owner
        for lead_id, mailbox in enrolled.items()
        if (owner := mailboxes.owner_for(sequence_mailbox, mailbox, lead_id))
    }
    reps = known_reps(session, set(wanted.values()))
    for missing in sorted(set(wanted.values()) - reps):
        log.warning(
            "owner rule names %r, who is not a rep: leads stay without an owner "
            "(see 'outreach check')",
            missing,
        )
    return {lead_id: owner for lead_id, owner in wanted.items() if owner in reps}


def give_owners(session: Session, owners: Mapping[int, str], *, at: datetime, cause: str) -> int:
    """Give each lead without an owner the one ``owners`` names (lead id → rep), with an
    ``owner_changed`` event; leads owned already keep their owner. How many changed."""
    if not owners:
        return 0
    unowned = set(
        session.scalars(
            select(Lead.id).where(one_of(session, Lead.id, list(owners)), Lead.owner.is_(None))
        )
    )
    given = [(lead_id, owners[lead_id]) for lead_id in sorted(unowned)]
    if not given:
        return 0
    update_rows(
        session,
        cast(Table, Lead.__table__),
        [{"id": lead_id, "owner": owner} for lead_id, owner in given],
        columns=("owner",),
        same={"updated_at": at},
    )
    record_owner_changes(session, [(lead_id, None, owner) for lead_id, owner in given], at, cause)
    # Objects of these leads loaded in this session read the new owner.
    for lead_id in unowned:
        loaded = session.identity_map.get(session.identity_key(Lead, lead_id))
        if loaded is not None:
            session.expire(loaded, ["owner", "updated_at"])
    return len(given)


def record_owner_changes(
    session: Session,
    changes: Collection[tuple[int, str | None, str | None]],
    at: datetime,
    cause: str,
) -> None:
    """An ``owner_changed`` event per (lead id, previous owner, new owner), in one statement."""
    insert_rows(
        session,
        cast(Table, Event.__table__),
        [
            {"lead_id": lead_id, "detail": {"previous": previous, "owner": owner}}
            for lead_id, previous, owner in changes
        ],
        columns=("lead_id", "detail"),
        same={"kind": EventKind.OWNER_CHANGED, "at": at, "cause": cause},
    )


def assign_to_owner(session: Session, item: ReviewItem, owner: str | None, *, at: datetime) -> None:
    """Give the new open ``item`` to the lead's ``owner`` (nothing without one), with an
    ``assigned`` event. The item's id is recorded when it has one already (flushed)."""
    if not owner or item.assignee is not None:
        return
    item.assignee = owner
    detail: dict[str, Any] = {"item": item.id, "assignee": owner, "previous": None}
    events.record(
        session,
        EventKind.ASSIGNED,
        at=at,
        lead_id=item.lead_id,
        touch_id=item.touch_id,
        cause=OWNER_CAUSE,
        reason=item.reason,
        **detail,
    )


def owner_of(session: Session, lead_id: int) -> str | None:
    """The lead's owner (from the session's object when it is loaded)."""
    loaded = session.identity_map.get(session.identity_key(Lead, lead_id))
    if isinstance(loaded, Lead):
        return loaded.owner
    return session.scalar(select(Lead.owner).where(Lead.id == lead_id))


__all__ = [
    "OWNER_CAUSE",
    "RULE_CAUSE",
    "assign_to_owner",
    "give_owners",
    "known_reps",
    "owner_of",
    "owners_by_rule",
    "record_owner_changes",
]
