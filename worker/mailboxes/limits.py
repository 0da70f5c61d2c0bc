"""Mailbox limits: the one decision whether a send fits, shared by the engine and ``simulate``.

A mailbox sends at most ``daily_limit`` messages a UTC day, at least ``min_spacing`` apart,
and at most ``recipient_domain_daily_limit`` to one recipient domain a day. ``decide`` says
whether one more send fits the counts it is given and, when not, until when to wait: the next
UTC day for a used-up daily count, the last send plus the spacing for spacing. The engine
counts across processes (``worker.mailboxes.capacity``); the dry run counts its plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from worker.authoring.mailboxes import Mailboxes
from worker.timing.postpone import Postpone

PAUSE_RECHECK_S = 15 * 60


@dataclass(frozen=True)
class Limits:
    """What one send of a mailbox must fit into (None / 0: no limit)."""

    daily: int | None = None
    spacing_s: int = 0
    domain_daily: int | None = None

    @property
    def counted(self) -> bool:
        """Whether a send must be counted (any limit at all); if not, only a pause stops it."""
        return bool(self.daily) or self.spacing_s > 0 or bool(self.domain_daily)


@dataclass(frozen=True)
class Usage:
    """A mailbox's sends (reservations) on one day and its last send."""

    sent: int = 0
    last_sent_at: datetime | None = None


def day_of(moment: datetime) -> date:
    """The UTC day of ``moment`` (the day the daily limits count on)."""
    return moment.astimezone(UTC).date()


def next_day_start(moment: datetime) -> datetime:
    """Midnight UTC after ``moment``: when the daily counts start again."""
    return datetime.combine(day_of(moment) + timedelta(days=1), time(0), tzinfo=UTC)


def limits_for(mailboxes: Mailboxes, mailbox: str) -> Limits | None:
    """The limits a send of ``mailbox`` must fit into; None for an unknown mailbox."""
    spec = mailboxes.by_name.get(mailbox)
    if spec is None:
        return None
    return Limits(spec.daily_limit, spec.min_spacing_s, mailboxes.recipient_domain_daily_limit)


def decide(
    mailbox: str,
    domain: str,
    limits: Limits,
    usage: Usage,
    domain_sent: int,
    now: datetime,
) -> Postpone | None:
    """None when one more send of ``mailbox`` to ``domain`` fits at ``now``; else why not and
    until when (checked in this order: daily limit, spacing, recipient domain's daily cap)."""
    if limits.daily and usage.sent >= limits.daily:
        return daily_full(mailbox, limits.daily, now)
    last = usage.last_sent_at
    if limits.spacing_s and last is not None and now < last + timedelta(seconds=limits.spacing_s):
        return too_soon(mailbox, last, limits.spacing_s)
    if limits.domain_daily and domain_sent >= limits.domain_daily:
        return domain_full(domain, limits.domain_daily, now)
    return None


def paused(mailbox: str, reason: str, now: datetime) -> Postpone:
    return Postpone(now + timedelta(seconds=PAUSE_RECHECK_S), f"{paused_prefix(mailbox)}: {reason}")


def paused_prefix(mailbox: str) -> str:
    """How a postponement for a paused mailbox starts (resuming frees these touches)."""
    return f"mailbox {mailbox!r} is paused"


def daily_full(mailbox: str, limit: int, now: datetime) -> Postpone:
    return Postpone(
        next_day_start(now), f"mailbox {mailbox!r} reached its daily limit of {limit} (UTC day)"
    )


def domain_full(domain: str, limit: int, now: datetime) -> Postpone:
    return Postpone(
        next_day_start(now),
        f"recipient domain {domain!r} reached its daily limit of {limit} (UTC day)",
    )


def too_soon(mailbox: str, last: datetime, spacing_s: int) -> Postpone:
    return Postpone(
        last + timedelta(seconds=spacing_s),
        f"mailbox {mailbox!r} sends at most once every {spacing_s} s",
    )


__all__ = [
    "PAUSE_RECHECK_S",
    "Limits",
    "Usage",
    "daily_full",
    "day_of",
    "decide",
    "domain_full",
    "limits_for",
    "next_day_start",
    "paused",
    "paused_prefix",
    "too_soon",
]
