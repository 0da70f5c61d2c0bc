"""The report from daily counters kept up to date lead by lead, instead of the whole log.

``report_counts`` holds, per key and UTC day, the sum over leads of what each adds to the
report (``worker.analytics.contributions``); ``report_leads`` holds each lead's share as last
added and ``report_visits`` its finished stage visits (for the median days). Database
triggers (migrations 0008 and 0012) add a row to ``report_dirty`` in the same transaction as any
change that can alter a lead's share, so the counters never silently go stale:

- ``refresh`` takes dirty leads a batch at a time, computes their shares again from their
  events, replaces the old shares in the counters, and deletes exactly the marks it read
  (a mark written meanwhile stays for the next pass);
- ``rollup_report`` sums the counters from a day on and, for leads still marked, swaps their
  stored shares for freshly computed ones in memory; so it is exact whether or not anybody
  refreshed, and it only reads.

One refresher at a time per schema (a PostgreSQL advisory lock on the schema's name; SQLite
serialises writers anyway); a reader holds the lock shared, so the counters, shares and marks
it reads belong together.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from worker.analytics.contributions import (
    PIPELINE_DAY,
    ClosedVisit,
    LeadParts,
    lead_parts,
    pipeline_parts,
)
from worker.analytics.funnel import (
    SECONDS_PER_DAY,
    Amounts,
    funnel_row,
    in_units,
    pipeline_table,
)
from worker.analytics.mailboxes import mailbox_table
from worker.analytics.queries import (
    among,
    events_of_leads,
    leads_by_id,
    touches_by_id,
)
from worker.analytics.steps import StepKey, step_table
from worker.analytics.variants import VariantKey, variant_table
from worker.leads.locales import DEFAULT_CURRENCY
from worker.store.dialect import dialect_insert, is_postgres
from worker.store.models import Lead, ReportCount, ReportDirty, ReportLead, ReportVisit
from worker.vocabulary import PIPELINE_STAGES

# PostgreSQL advisory lock: this class, and the hash of the schema (several schemas, e.g. of
# tests and benchmarks, may share a database).
REFRESH_LOCK = 731_415
_LOCK_KEYS = (REFRESH_LOCK, func.hashtext(func.current_schema()))
BATCH_LEADS = 5000
_CHUNK = 5000  # ids per IN list
Share = Counter[tuple[str, date]]  # a lead's counts by (key, day)
# Core statements: thousands of plain rows, no ORM bookkeeping.
_INSERT_SHARES = insert(ReportLead.__table__)  # type: ignore[arg-type]
_INSERT_VISITS = insert(ReportVisit.__table__)  # type: ignore[arg-type]


def covers(since: datetime | None) -> bool:
    """Whether the counters can answer a report from ``since``: none, or a UTC midnight."""
    if since is None:
        return True
    moment = since.astimezone(UTC)
    return moment == datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


# --- keeping the counters --------------------------------------------------------------


def refresh(sessions: sessionmaker[Session], *, limit: int | None = None) -> int:
    """Apply the marked leads' new shares, ``BATCH_LEADS`` per transaction, until none is
    marked (or ``limit`` leads were done, or another process is refreshing); returns how
    many leads were done."""
    done = 0
    while limit is None or done < limit:
        size = BATCH_LEADS if limit is None else min(BATCH_LEADS, limit - done)
        with sessions.begin() as session:
            count = refresh_batch(session, size)
        if not count:
            break
        done += count
    return done


def refresh_batch(session: Session, size: int = BATCH_LEADS) -> int:
    """One batch of ``refresh`` in the caller's transaction; returns the leads done (0 when
    none is marked or another refresher holds the lock)."""
    if is_postgres(session) and not session.scalar(
        select(func.pg_try_advisory_xact_lock(*_LOCK_KEYS))
    ):
        return 0
    lead_ids = list(
        session.scalars(
            select(ReportDirty.lead_id).distinct().order_by(ReportDirty.lead_id).limit(size)
        )
    )
    if not lead_ids:
        return 0
    # The marks first, then the data: a change committed after this read keeps its mark.
    marks = list(
        session.scalars(select(ReportDirty.id).where(among(session, ReportDirty.lead_id, lead_ids)))
    )
    old = stored_shares(session, lead_ids)
    new = computed_shares(session, lead_ids)
    delta: Share = Counter()
    for counts in old.values():
        delta.subtract(counts)
    for parts in new.values():
        delta.update(parts.counts)
    _add_to_counters(session, delta)
    session.execute(delete(ReportLead).where(among(session, ReportLead.lead_id, lead_ids)))
    shares = [
        {"lead_id": lead_id, "parts": _dump(parts.counts)}
        for lead_id, parts in new.items()
        if parts.counts
    ]
    if shares:
        session.connection().execute(_INSERT_SHARES, shares)
    session.execute(delete(ReportVisit).where(among(session, ReportVisit.lead_id, lead_ids)))
    visits = [
        {
            "lead_id": lead_id,
            "stage": visit.stage,
            "entered_at": visit.entered,
            "duration_us": visit.duration_us,
        }
        for lead_id, parts in new.items()
        for visit in parts.visits
    ]
    if visits:
        session.connection().execute(_INSERT_VISITS, visits)
    for chunk in _chunks(marks):
        session.execute(delete(ReportDirty).where(among(session, ReportDirty.id, chunk)))
    return len(lead_ids)


def mark_every_lead(session: Session) -> None:
    """Forget every stored share and mark every lead: the next ``refresh`` rebuilds all."""
    for model in (ReportCount, ReportLead, ReportVisit, ReportDirty):
        session.execute(delete(model))
    session.execute(insert(ReportDirty).from_select(["lead_id"], select(Lead.id)))


def _add_to_counters(session: Session, delta: Share) -> None:
    rows = [{"key": k, "day": day, "n": n} for (k, day), n in sorted(delta.items()) if n]
    if not rows:
        return
    stmt = dialect_insert(session, ReportCount.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key", "day"], set_={"n": ReportCount.n + stmt.excluded.n}
    )
    session.connection().execute(stmt, rows)


def stored_shares(session: Session, lead_ids: Sequence[int]) -> dict[int, Share]:
    """The shares last added to the counters for these leads."""
    found: dict[int, Share] = {}
    for chunk in _chunks(lead_ids):
        rows = session.execute(
            select(ReportLead.lead_id, ReportLead.parts).where(
                among(session, ReportLead.lead_id, chunk)
            )
        )
        for lead_id, text in rows:
            found[lead_id] = Counter(
                {(k, date.fromisoformat(day)): n for k, day, n in json.loads(text)}
            )
    return found


def computed_shares(session: Session, lead_ids: Sequence[int]) -> dict[int, LeadParts]:
    """The shares of these leads as their events are now (a lead that is gone adds nothing)."""
    found: dict[int, LeadParts] = {}
    for chunk in _chunks(lead_ids):
        leads = leads_by_id(session, chunk)
        events = events_of_leads(session, chunk)
        touches = touches_by_id(
            session, {e.touch_id for rows in events.values() for e in rows if e.touch_id}
        )
        for lead_id in chunk:
            found[lead_id] = lead_parts(leads.get(lead_id), events.get(lead_id, []), touches)
    return found


def _dump(counts: Share) -> str:
    return json.dumps(
        [[k, day.isoformat(), n] for (k, day), n in sorted(counts.items()) if n],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


# --- reading the report ----------------------------------------------------------------


def rollup_report(
    session: Session,
    since: datetime | None = None,
    sequence_order: Sequence[str] = (),
    default_currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """``compute_report``'s result from the counters (``since``: None or a UTC midnight).

    ``default_currency``: the currency of the values of leads whose own ``currency`` field
    and country say none; the counters file those under no currency, so that the refresh
    needs no settings and a new default applies at once."""
    if not covers(since):
        raise ValueError(f"the report counters start at a UTC midnight, not at {since}")
    _read_lock(session)
    first = since.astimezone(UTC).date() if since is not None else None
    query = select(ReportCount.key, func.sum(ReportCount.n)).group_by(ReportCount.key)
    query = query.where(ReportCount.day >= first if first else ReportCount.day > PIPELINE_DAY)
    totals: Counter[str] = Counter({k: int(n) for k, n in session.execute(query)})
    pipeline = _pipeline_sums(session)
    fresh: list[ClosedVisit] = []  # the marked leads' finished visits as they are now
    marked = _marked(session)
    for chunk in _chunks(marked):
        new = computed_shares(session, chunk)
        for sign, shares in (
            (-1, list(stored_shares(session, chunk).values())),
            (1, [parts.counts for parts in new.values()]),
        ):
            for counts in shares:
                for (k, day), n in counts.items():
                    if day == PIPELINE_DAY:
                        pipeline[k] += sign * n
                    elif first is None or day >= first:
                        totals[k] += sign * n
        fresh += [v for parts in new.values() for v in parts.visits]
    if since is not None:
        fresh = [v for v in fresh if v.entered >= since]
    parts = _Read(totals, pipeline, fresh, exclude_marked=bool(marked))
    return _assemble(session, parts, since, sequence_order, default_currency)


def stage_totals_now(
    session: Session, default_currency: str = DEFAULT_CURRENCY
) -> dict[str, tuple[int, Amounts]]:
    """Per stage that has leads: how many, and their total deal value per currency (no value
    counts 0; ``default_currency`` as in ``rollup_report``), from the counters and, for leads
    marked since the last refresh, their rows as they are."""
    _read_lock(session)
    pipeline = _pipeline_sums(session)
    for chunk in _chunks(_marked(session)):
        for counts in stored_shares(session, chunk).values():
            for (k, day), n in counts.items():
                if day == PIPELINE_DAY:
                    pipeline[k] -= n
        for lead in leads_by_id(session, chunk).values():
            for (k, _day), n in pipeline_parts(lead).items():
                pipeline[k] += n
    return _stage_values(pipeline, default_currency)


def _read_lock(session: Session) -> None:
    """Wait for a refresh under way; none starts until this transaction ends."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock_shared(*_LOCK_KEYS)))


def _marked(session: Session) -> list[int]:
    return list(session.scalars(select(ReportDirty.lead_id).distinct()))


def _pipeline_sums(session: Session) -> Counter[str]:
    rows = session.execute(
        select(ReportCount.key, func.sum(ReportCount.n))
        .where(ReportCount.day == PIPELINE_DAY)
        .group_by(ReportCount.key)
    )
    return Counter({k: int(n) for k, n in rows})


def _stage_values(pipeline: Counter[str], default_currency: str) -> dict[str, tuple[int, Amounts]]:
    """Per stage with leads: how many, and their value per currency (a value filed under no
    currency is in ``default_currency``)."""
    leads: Counter[str] = Counter()
    values: dict[str, Counter[str]] = {}
    for text, n in pipeline.items():
        if not n:
            continue
        _, stage, what, *currency = json.loads(text)
        if what == "leads":
            leads[stage] += n
        else:
            code = (currency[0] if currency else None) or default_currency
            values.setdefault(stage, Counter())[code] += n
    return {stage: (n, in_units(values.get(stage, {}))) for stage, n in leads.items() if n}


@dataclass
class _Read:
    """What a report is assembled from: counter sums by key (days from ``since``), pipeline
    sums, the marked leads' current visits, and whether stored visits of marked leads must be
    left out."""

    totals: Counter[str]
    pipeline: Counter[str]
    fresh: list[ClosedVisit]
    exclude_marked: bool


def _assemble(
    session: Session,
    read: _Read,
    since: datetime | None,
    sequence_order: Sequence[str],
    default_currency: str,
) -> dict[str, Any]:
    funnel: dict[str, Counter[str]] = {stage: Counter() for stage in PIPELINE_STAGES}
    sent: Counter[StepKey] = Counter()
    replies: dict[StepKey, Counter[str]] = {}
    unsubscribes: Counter[StepKey] = Counter()
    drops: dict[StepKey, Counter[str]] = {}
    variants: dict[VariantKey, Counter[str]] = {}
    mailboxes: dict[str, Counter[str]] = {}
    for text, n in read.totals.items():
        if not n:
            continue
        section, *rest = json.loads(text)
        if section == "funnel":
            funnel.setdefault(rest[0], Counter())[rest[1]] += n
        elif section == "sent":
            sent[(rest[0], rest[1])] += n
        elif section == "reply":
            replies.setdefault((rest[0], rest[1]), Counter())[rest[2]] += n
        elif section == "unsub":
            unsubscribes[(rest[0], rest[1])] += n
        elif section == "drop":
            drops.setdefault((rest[0], rest[1]), Counter())[rest[2]] += n
        elif section == "variant":
            variants.setdefault((rest[0], rest[1], rest[2]), Counter())[rest[3]] += n
        elif section == "mailbox":
            mailboxes.setdefault(rest[0], Counter())[rest[1]] += n
    funnel_rows = []
    for stage in PIPELINE_STAGES:
        tally = funnel[stage]
        entered = sum(tally.values())
        mine = [v.duration_us for v in read.fresh if v.stage == stage]
        closed = entered - tally["open"]
        middle = _median_days(session, stage, since, closed, mine, read.exclude_marked)
        funnel_rows.append(funnel_row(stage, entered, tally["advanced"], tally["lost"], middle))
    return {
        "since": since.isoformat() if since else None,
        "funnel": funnel_rows,
        "steps": step_table(sent, replies, unsubscribes, drops, sequence_order),
        "variants": variant_table(variants),
        "pipeline": pipeline_table(_stage_values(read.pipeline, default_currency), funnel_rows),
        "mailboxes": mailbox_table(mailboxes),
    }


def _days(duration_us: int) -> float:
    """Microseconds as days, computed as the funnel computes them from two times."""
    return timedelta(microseconds=duration_us).total_seconds() / SECONDS_PER_DAY


def _median_days(
    session: Session,
    stage: str,
    since: datetime | None,
    count: int,
    fresh: list[int],
    dirty: bool,
) -> float | None:
    """The median of the stage's finished visits (entered from ``since`` on) in days, as
    ``statistics.median`` gives it: the middle one, or the mean of the middle two.

    The stored visits (minus those of marked leads) are read in order of duration from the
    ``count // 2 - len(fresh)``-th on; merged with the ``fresh`` ones (the marked leads'
    visits as they are now), they hold the middle of all ``count``.
    """
    if count <= 0:
        return None
    low, high = (count - 1) // 2, count // 2
    fresh = sorted(fresh)
    start = max(0, low - len(fresh))
    query = select(ReportVisit.duration_us).where(ReportVisit.stage == stage)
    if since is not None:
        query = query.where(ReportVisit.entered_at >= since)
    if dirty:
        query = query.where(~exists().where(ReportDirty.lead_id == ReportVisit.lead_id))
    query = query.order_by(ReportVisit.duration_us).offset(start).limit(high + 1 - start)
    stored = list(session.scalars(query))
    if start and stored:
        below = bisect_left(fresh, stored[0])  # fresh ones shorter than every stored one read
        merged, base = sorted(stored + fresh[below:]), start + below
    else:
        merged, base = sorted(stored + fresh), 0
    if high - base >= len(merged) or low < base:
        raise RuntimeError(f"report counters out of step with the stored {stage} visits")
    a, b = _days(merged[low - base]), _days(merged[high - base])
    return a if low == high else (a + b) / 2


__all__ = [
    "BATCH_LEADS",
    "covers",
    "mark_every_lead",
    "refresh",
    "refresh_batch",
    "rollup_report",
    "stage_totals_now",
]
