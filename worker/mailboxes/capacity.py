"""Counting mailbox sends across processes: reserve one send, or say until when to wait.

``reserve`` backs the last send-time gate (``worker.delivery.gates``). Just before a touch's
hand-over it looks at the touch's mailbox and

1. postpones the touch while the mailbox is paused (``MailboxPause`` without ``resumed_at``),
   looking again every ``PAUSE_RECHECK_S`` (``outreach mailboxes resume`` frees it at once);
2. reserves one send, atomically and for every process on every host: below the mailbox's
   ``daily_limit`` for the current UTC day, below ``recipient_domain_daily_limit`` for the
   recipient's domain that day, and at least ``min_spacing`` after the mailbox's last send.

A touch that does not fit is postponed, never dropped: to the start of the next UTC day when
a daily count is used up (a send-window gate then moves it into the lead's window), or to
the mailbox's last send plus its spacing. It goes back to the queue and the next tick picks
it up again; nothing is sent twice, because the touch was never marked ``sending``.

Counts live in Redis when ``REDIS_URL`` is set (one Lua script, keys under
``OUTREACH_REDIS_NAMESPACE``), otherwise in the database (``mailbox_usage``,
``domain_usage``: conditional ``UPDATE … WHERE sent < limit`` after an
``INSERT … ON CONFLICT DO NOTHING``; SQLite transactions are ``BEGIN IMMEDIATE``).

A reservation counts a hand-over *attempt*: a touch deferred or skipped after it keeps its
slot, so the count may be above what really went out, never below it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.orm import Session

from worker.mailboxes.limits import (
    Limits,
    Usage,
    daily_full,
    day_of,
    decide,
    domain_full,
    limits_for,
    paused,
    too_soon,
)
from worker.runtime import Runtime
from worker.store.dialect import dialect_insert
from worker.store.models import DomainUsage, MailboxPause, MailboxUsage
from worker.timing.postpone import Postpone

# Day counters are kept a little over a week (the bounce-rate window is 7 days).
log = logging.getLogger(__name__)

REDIS_TTL_S = 8 * 24 * 3600

_usage: Table = MailboxUsage.__table__  # type: ignore[assignment]
_domains: Table = DomainUsage.__table__  # type: ignore[assignment]
_pauses: Table = MailboxPause.__table__  # type: ignore[assignment]
_previous = _usage.alias("previous")

_PAUSED = select(_pauses.c.reason).where(
    _pauses.c.mailbox == bindparam("mailbox"), _pauses.c.resumed_at.is_(None)
)
_USAGE_ROW = select(_usage.c.sent, _usage.c.last_sent_at).where(
    _usage.c.mailbox == bindparam("mailbox"), _usage.c.day == bindparam("day")
)


def paused_mailboxes(runtime: Runtime) -> dict[str, str]:
    """Every mailbox paused now, with the reason (one read)."""
    with runtime.sessions() as session:
        rows = session.connection().execute(
            select(_pauses.c.mailbox, _pauses.c.reason).where(_pauses.c.resumed_at.is_(None))
        )
        return {str(mailbox): str(reason) for mailbox, reason in rows}


def reserve(
    runtime: Runtime,
    mailbox: str,
    domain: str,
    now: datetime,
    paused_now: Mapping[str, str] | None = None,
) -> Postpone | None:
    """Postpone a send while ``mailbox`` is paused or out of capacity; else reserve one send.

    A mailbox without any limit has nothing to count: with ``paused_now`` (the pauses read
    when the chunk began, see ``paused_mailboxes``) it costs no database round trip at all.
    """
    limits = limits_for(runtime.mailboxes, mailbox)
    if limits is None:  # claiming already failed such a touch; nothing to count
        return None
    if not limits.counted and paused_now is not None:
        reason = paused_now.get(mailbox)
        return paused(mailbox, reason, now) if reason is not None else None
    if runtime.settings.uses_redis:
        with runtime.sessions() as session:
            reason = session.connection().scalar(_PAUSED, {"mailbox": mailbox})
        if reason is not None:
            return paused(mailbox, reason, now)
        return _reserve_redis(runtime, mailbox, domain, now, limits)
    return _reserve_db(runtime, mailbox, domain, now, limits)


# --- database ------------------------------------------------------------------------------


class _NoRoomError(Exception):
    """Raised inside the reservation transaction to roll it back (the domain is full)."""

    def __init__(self, postpone: Postpone) -> None:
        super().__init__(postpone.reason)
        self.postpone = postpone


def _reserve_db(
    runtime: Runtime, mailbox: str, domain: str, now: datetime, limits: Limits
) -> Postpone | None:
    """Check the pause and reserve one send, in one transaction (rolled back when refused)."""
    day = day_of(now)
    try:
        with runtime.sessions.begin() as session:
            conn = session.connection()
            reason = conn.scalar(_PAUSED, {"mailbox": mailbox})
            if reason is not None:
                return paused(mailbox, reason, now)
            if not _take_mailbox(session, mailbox, day, now, limits):
                row = conn.execute(_USAGE_ROW, {"mailbox": mailbox, "day": day}).one()
                usage = Usage(row.sent, row.last_sent_at)
                return decide(mailbox, domain, limits, usage, 0, now) or _busy(mailbox, now)
            if limits.domain_daily and not _take_domain(session, domain, day, limits.domain_daily):
                raise _NoRoomError(domain_full(domain, limits.domain_daily, now))
    except _NoRoomError as exc:
        return exc.postpone
    return None


def _take_mailbox(session: Session, mailbox: str, day: date, now: datetime, limits: Limits) -> bool:
    conditions = [_usage.c.mailbox == mailbox, _usage.c.day == day]
    if limits.daily:
        conditions.append(_usage.c.sent < limits.daily)
    if limits.spacing_s:
        cutoff = now - timedelta(seconds=limits.spacing_s)
        conditions.append(or_(_usage.c.last_sent_at.is_(None), _usage.c.last_sent_at <= cutoff))
    take = (
        _usage.update()
        .where(*conditions)
        .values(sent=_usage.c.sent + 1, last_sent_at=now)
        .returning(_usage.c.id)
    )
    conn = session.connection()
    if conn.execute(take).first() is not None:
        return True
    # The day's first send: create the row (carrying the last send over from the day before,
    # so spacing holds across midnight), then try again. A concurrent creator wins harmlessly.
    yesterday = (
        select(_previous.c.last_sent_at)
        .where(_previous.c.mailbox == mailbox, _previous.c.day == day - timedelta(days=1))
        .scalar_subquery()
    )
    conn.execute(
        dialect_insert(session, _usage)
        .values(mailbox=mailbox, day=day, sent=0, last_sent_at=yesterday)
        .on_conflict_do_nothing(index_elements=["mailbox", "day"])
    )
    return conn.execute(take).first() is not None


def _take_domain(session: Session, domain: str, day: date, limit: int) -> bool:
    take = (
        _domains.update()
        .where(_domains.c.domain == domain, _domains.c.day == day, _domains.c.sent < limit)
        .values(sent=_domains.c.sent + 1)
        .returning(_domains.c.id)
    )
    conn = session.connection()
    if conn.execute(take).first() is not None:
        return True
    conn.execute(
        dialect_insert(session, _domains)
        .values(domain=domain, day=day, sent=0)
        .on_conflict_do_nothing(index_elements=["domain", "day"])
    )
    return conn.execute(take).first() is not None


def _busy(mailbox: str, now: datetime) -> Postpone:  # pragma: no cover (a race lost twice)
    return Postpone(now + timedelta(seconds=1), f"mailbox {mailbox!r} is busy")


# --- Redis ---------------------------------------------------------------------------------

# KEYS: the mailbox's count for the day, its last send (epoch ms), the domain's count for the day.
# ARGV: daily limit (0: none), spacing ms, now ms, domain limit (0: none), TTL s.
# Returns {0, sent} when reserved; {1, sent} daily limit; {2, last_ms} spacing; {3, n} domain.
_RESERVE_LUA = """
local limit = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local domain_limit = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local sent = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit > 0 and sent >= limit then return {1, sent} end
if spacing > 0 then
  local last = redis.call('GET', KEYS[2])
  if last and now - tonumber(last) < spacing then return {2, tonumber(last)} end
end
if domain_limit > 0 then
  local domain_sent = tonumber(redis.call('GET', KEYS[3]) or '0')
  if domain_sent >= domain_limit then return {3, domain_sent} end
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ttl)
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], now, 'EX', ttl)
return {0, sent + 1}
"""

_clients: dict[str, tuple[redis.Redis[bytes], Any]] = {}
_clients_lock = threading.Lock()


def _redis(url: str) -> tuple[redis.Redis[bytes], Any]:
    """One client (its pool is fork-safe) and the registered script per Redis URL."""
    with _clients_lock:
        found = _clients.get(url)
        if found is None:
            client = redis.Redis.from_url(url)
            found = _clients[url] = (client, client.register_script(_RESERVE_LUA))
        return found


def mailbox_key(namespace: str, mailbox: str, day: date) -> str:
    return f"{namespace}:mailbox-usage:{mailbox}:{day.isoformat()}"


def last_send_key(namespace: str, mailbox: str) -> str:
    return f"{namespace}:mailbox-last:{mailbox}"


def domain_key(namespace: str, domain: str, day: date) -> str:
    return f"{namespace}:domain-usage:{domain}:{day.isoformat()}"


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _reserve_redis(
    runtime: Runtime, mailbox: str, domain: str, now: datetime, limits: Limits
) -> Postpone | None:
    settings = runtime.settings
    assert settings.redis_url is not None
    namespace, day = settings.redis_namespace, day_of(now)
    _, script = _redis(settings.redis_url)
    status, value = script(
        keys=[
            mailbox_key(namespace, mailbox, day),
            last_send_key(namespace, mailbox),
            domain_key(namespace, domain, day),
        ],
        args=[
            limits.daily or 0,
            limits.spacing_s * 1000,
            _epoch_ms(now),
            limits.domain_daily or 0,
            REDIS_TTL_S,
        ],
    )
    if status == 0:
        return None
    if status == 1:
        return daily_full(mailbox, limits.daily or 0, now)
    if status == 2:
        return too_soon(mailbox, _from_ms(value), limits.spacing_s)
    return domain_full(domain, limits.domain_daily or 0, now)


# --- reading the counts --------------------------------------------------------------------


def usage_on(runtime: Runtime, mailboxes: list[str], day: date) -> dict[str, Usage]:
    """Each mailbox's sends on ``day`` and its last send, from the backend in use."""
    if not mailboxes:
        return {}
    settings = runtime.settings
    if settings.redis_url:
        client, _ = _redis(settings.redis_url)
        namespace = settings.redis_namespace
        sent = client.mget([mailbox_key(namespace, m, day) for m in mailboxes])
        last = client.mget([last_send_key(namespace, m) for m in mailboxes])
        return {
            name: Usage(int(n or 0), _from_ms(ms) if ms else None)
            for name, n, ms in zip(mailboxes, sent, last, strict=True)
        }
    with runtime.sessions() as session:
        counts = {
            row.mailbox: row.sent
            for row in session.execute(
                select(_usage.c.mailbox, _usage.c.sent).where(
                    _usage.c.mailbox.in_(mailboxes), _usage.c.day == day
                )
            )
        }
        lasts = {
            row.mailbox: row.last
            for row in session.execute(
                select(_usage.c.mailbox, func.max(_usage.c.last_sent_at).label("last"))
                .where(_usage.c.mailbox.in_(mailboxes), _usage.c.day <= day)
                .group_by(_usage.c.mailbox)
            )
        }
    return {name: Usage(counts.get(name, 0), lasts.get(name)) for name in mailboxes}


def count_uncounted_sends(
    runtime: Runtime, session: Session, sends: Mapping[str, int], now: datetime
) -> None:
    """Count sends of mailboxes without limits (``reserve`` counted nothing for them), so the
    day's usage and the bounce and complaint rates see them: one increment per mailbox, in
    ``session``'s transaction (the database) or in Redis."""
    uncounted = {
        mailbox: n
        for mailbox, n in sends.items()
        if n
        and (limits := limits_for(runtime.mailboxes, mailbox)) is not None
        and not limits.counted
    }
    if not uncounted:
        return
    settings = runtime.settings
    day = day_of(now)
    if settings.redis_url:
        client, _ = _redis(settings.redis_url)
        pipe = client.pipeline()
        for mailbox, n in uncounted.items():
            key = mailbox_key(settings.redis_namespace, mailbox, day)
            pipe.incrby(key, n)
            pipe.expire(key, REDIS_TTL_S)
            pipe.set(last_send_key(settings.redis_namespace, mailbox), _epoch_ms(now))
        try:
            pipe.execute()
        except redis.RedisError as exc:  # a lost count must never stop recording the sends
            log.warning("sends of %s not counted in Redis: %s", sorted(uncounted), exc)
        return
    insert = dialect_insert(session, _usage)
    for mailbox, n in uncounted.items():
        session.execute(
            insert.values(mailbox=mailbox, day=day, sent=n, last_sent_at=now).on_conflict_do_update(
                index_elements=["mailbox", "day"],
                set_={"sent": _usage.c.sent + n, "last_sent_at": now},
            )
        )


def _counted(runtime: Runtime, mailbox: str) -> bool:
    """Whether ``reserve`` counts the sends of ``mailbox`` (True for an unknown one: skip it)."""
    limits = limits_for(runtime.mailboxes, mailbox)
    return limits is None or limits.counted


def sent_since(runtime: Runtime, mailbox: str, first_day: date, last_day: date) -> int:
    """The mailbox's sends (reservations) from ``first_day`` to ``last_day``, both included."""
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    settings = runtime.settings
    if settings.redis_url:
        client, _ = _redis(settings.redis_url)
        counts = client.mget([mailbox_key(settings.redis_namespace, mailbox, d) for d in days])
        return sum(int(count or 0) for count in counts)
    with runtime.sessions() as session:
        rows = session.scalars(
            select(_usage.c.sent).where(
                _usage.c.mailbox == mailbox, _usage.c.day >= first_day, _usage.c.day <= last_day
            )
        )
        return sum(rows)


__all__ = [
    "REDIS_TTL_S",
    "count_uncounted_sends",
    "domain_key",
    "last_send_key",
    "mailbox_key",
    "paused_mailboxes",
    "reserve",
    "sent_since",
    "usage_on",
]
