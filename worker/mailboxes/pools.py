"""Mailbox pools: which mailbox of a pool writes to a lead, chosen once and then kept.

A sequence's ``mailbox:`` may name a pool of ``mailboxes.yaml``. When a lead is enrolled into
such a sequence its mailbox is chosen once and stored on ``Enrollment.mailbox`` (its touches
copy it):

- the mailbox of the lead's most recent enrollment, when that mailbox is in the pool — a
  conversation stays with one sender across sequences, so replies thread;
- otherwise weighted rendezvous hashing of the lead's address over the pool's mailboxes that
  are not paused (all of them when every one is): each mailbox scores a hash of (address,
  mailbox) weighted by its ``daily_limit``, the highest score wins. The choice is the same
  in every process, spreads leads in proportion to the daily limits, and adding or removing
  a mailbox moves only the leads that have to move.

The pools come from the runtime that made the session (``Session.info["runtime"]``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.mailboxes import Mailboxes
from worker.errors import OutreachError
from worker.store.models import Enrollment, Lead, MailboxPause


def choose_mailboxes(session: Session, leads: Sequence[Lead], mailbox: str) -> dict[int, str]:
    """The mailbox for each lead when ``mailbox`` names a pool; empty when it does not."""
    mailboxes = session_mailboxes(session)
    if mailboxes is None or not mailboxes.is_pool(mailbox) or not leads:
        return {}
    members = mailboxes.members(mailbox)
    previous = previous_mailboxes(session, [lead.id for lead in leads])
    paused = set(
        session.scalars(
            select(MailboxPause.mailbox).where(
                MailboxPause.mailbox.in_(members), MailboxPause.resumed_at.is_(None)
            )
        )
    )
    open_members = [m for m in members if m not in paused] or list(members)
    weights = _weights(mailboxes, open_members)
    chosen = {}
    for lead in leads:
        kept = previous.get(lead.id)
        chosen[lead.id] = kept if kept and kept in members else rendezvous(lead.email, weights)
    return chosen


def previous_mailboxes(session: Session, lead_ids: list[int]) -> dict[int, str]:
    """Each lead's mailbox in its most recent enrollment that has one."""
    found: dict[int, str] = {}
    rows = session.execute(
        select(Enrollment.lead_id, Enrollment.mailbox)
        .where(Enrollment.lead_id.in_(lead_ids), Enrollment.mailbox.is_not(None))
        .order_by(Enrollment.enrolled_at, Enrollment.id)
    )
    for lead_id, mailbox in rows:
        if mailbox:
            found[lead_id] = mailbox
    return found


def rendezvous(key: str, weights: dict[str, int]) -> str:
    """The mailbox with the highest weighted score for ``key`` (deterministic)."""

    def score(name: str) -> float:
        digest = hashlib.blake2b(f"{key}\0{name}".encode(), digest_size=8).digest()
        unit = (int.from_bytes(digest, "big") + 1) / (2**64 + 1)  # in (0, 1)
        return -weights[name] / math.log(unit)

    return max(sorted(weights), key=score)


def _weights(mailboxes: Mailboxes, names: list[str]) -> dict[str, int]:
    """Daily limits as weights; an unlimited mailbox weighs as much as the largest limit."""
    limits = {name: mailboxes.get(name).daily_limit for name in names}
    largest = max((limit for limit in limits.values() if limit), default=1)
    return {name: limit or largest for name, limit in limits.items()}


def session_mailboxes(session: Session) -> Mailboxes | None:
    """The mailboxes of the runtime that made ``session``; None without one or when its
    ``mailboxes.yaml`` cannot be read."""
    runtime: Any = session.info.get("runtime")
    if runtime is None:
        return None
    try:
        return runtime.mailboxes  # type: ignore[no-any-return]
    except OutreachError:
        return None  # an unreadable mailboxes.yaml is reported where mailboxes are used


__all__ = ["choose_mailboxes", "previous_mailboxes", "rendezvous", "session_mailboxes"]
