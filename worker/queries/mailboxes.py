"""Read model for ``outreach mailboxes`` and the web app's mailboxes page: each mailbox with
today's usage, pools, owner rule and pause."""

from __future__ import annotations

from typing import Any

from worker.clock import iso
from worker.errors import OutreachError
from worker.mailboxes.capacity import usage_on
from worker.mailboxes.limits import day_of
from worker.mailboxes.pauses import pause_states
from worker.runtime import Runtime


def mailbox_rows(runtime: Runtime) -> list[dict[str, Any]]:
    """One row per configured mailbox, in name order (today is the current UTC day)."""
    mailboxes = runtime.mailboxes
    names = sorted(mailboxes.by_name)
    today = day_of(runtime.clock.now())
    usage = usage_on(runtime, names, today)
    with runtime.sessions() as session:
        pauses = pause_states(session)
    rows = []
    for name in names:
        spec = mailboxes.by_name[name]
        pause = pauses.get(name)
        paused = pause is not None and pause.paused
        try:
            mailboxes.transport_url(name, runtime.settings.transport_url, runtime.settings.environ)
            transport_error = None
        except OutreachError as exc:
            transport_error = str(exc)
        rows.append(
            {
                "name": name,
                "address": spec.address,
                "pools": mailboxes.pools_of(name),
                "owner": spec.owner,
                "pool_owners": {
                    pool: list(mailboxes.pool_owners[pool])
                    for pool in mailboxes.pools_of(name)
                    if mailboxes.pool_owners.get(pool)
                },
                "day": today.isoformat(),
                "sent_today": usage[name].sent,
                "daily_limit": spec.daily_limit,
                "last_sent_at": iso(usage[name].last_sent_at),
                "min_spacing_s": spec.min_spacing_s,
                "paused": paused,
                "paused_at": iso(pause.paused_at) if paused and pause else None,
                "pause_reason": pause.reason if paused and pause else None,
                "transport_error": transport_error,
            }
        )
    return rows


def owner_rule(row: dict[str, Any]) -> str:
    """The owner rule of a row in words: ``sam; rita, tom (pool team)`` ('' if none).

    A pool's owners (in turn) win over the mailbox's own for a sequence that names the pool."""
    rules = [row["owner"]] if row["owner"] else []
    rules += [f"{', '.join(owners)} (pool {pool})" for pool, owners in row["pool_owners"].items()]
    return "; ".join(rules)


__all__ = ["mailbox_rows", "owner_rule"]
