"""The qualification report: MQLs per source and per sequence, sales acceptance (MQL → SQL)
with rejection reasons, median days to MQL and to SQL, score distribution per stage, and win
rate per score decile.

Every figure is aggregated in the database (GROUP BY, a window function, a median read at its
offset), so the report reads a few dozen rows however many leads there are. Figures are of
the leads as they are now (``mql_at``, ``sql_at``, ``score``, ``stage``) and of the
acceptance decisions in the log (``sql_accepted``, ``sql_rejected``); ``--since`` does not
apply to them.

Definitions:
- an MQL is a lead that became one at some time (``mql_at`` set), whatever it is now;
- a lead's source is its ``source`` field (a CSV column), else how it came: the capture's
  source (``website``, ``referral``, …), else ``import``;
- per sequence: of the leads ever enrolled in it, those that became MQLs (a lead in two
  sequences counts in both);
- the acceptance rate is accepted / (accepted + rejected) decisions;
- medians are to a tenth of a day;
- win rate per decile: leads won or lost that have a score, in ten groups of equal size by
  score (decile 1 the lowest), won / (won + lost). The score is the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, case, cast, func, literal, select
from sqlalchemy.orm import Session

from worker.store.dialect import is_postgres
from worker.store.models import Enrollment, Event, Lead
from worker.vocabulary import EventKind, Stage

# Score buckets (lower bounds): a score below the first counts in the first.
SCORE_BUCKETS = (0, 20, 40, 60, 80)
NO_SCORE = "no score"
DECILES = 10


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def bucket_label(lower: int) -> str:
    """``0-19``, …, ``80+``."""
    index = SCORE_BUCKETS.index(lower)
    if index + 1 == len(SCORE_BUCKETS):
        return f"{lower}+"
    return f"{lower}-{SCORE_BUCKETS[index + 1] - 1}"


def _bucket() -> ColumnElement[Any]:
    """A lead's score bucket as its lower bound (None: never scored)."""
    whens = [(Lead.score >= lower, lower) for lower in reversed(SCORE_BUCKETS[1:])]
    return case(
        (Lead.score.is_(None), None),
        *whens,
        else_=SCORE_BUCKETS[0],
    )


def _days(session: Session, end: Any, start: Any) -> ColumnElement[float]:
    """Days from ``start`` to ``end`` (fractional)."""
    if is_postgres(session):
        return cast(func.extract("epoch", end - start) / 86400.0, Float)
    return cast(func.julianday(end) - func.julianday(start), Float)


def _median_days(session: Session, column: Any) -> float | None:
    """The median of days from a lead's creation to ``column`` over leads that have one, to
    a tenth of a day: the database counts leads per tenth of a day (a hash aggregate, no
    sort of the leads), the median is read from those few hundred counts."""
    scaled = _days(session, column, Lead.created_at) * 10
    # SQLite has floor() only when built with its math functions; CAST truncates (the same
    # for the days after creation, which are never negative).
    tenths = (func.floor(scaled) if is_postgres(session) else cast(scaled, Integer)).label("tenths")
    counts = sorted(
        (float(t), int(n))
        for t, n in session.execute(
            select(tenths, func.count()).where(column.is_not(None)).group_by(tenths)
        )
    )
    return median_of_counts(counts)


def median_of_counts(counts: Sequence[tuple[float, int]]) -> float | None:
    """The median of values given as sorted (tenths of a day, how many) pairs, in days."""
    total = sum(n for _, n in counts)
    if not total:
        return None
    wanted = (total - 1) // 2, total // 2  # the middle one, or the middle two
    found: list[float] = []
    seen = 0
    for value, n in counts:
        found += [value for index in wanted if seen <= index < seen + n]
        seen += n
    return round(sum(found) / len(found) / 10, 1)


def mql_by_source(session: Session) -> list[dict[str, Any]]:
    """MQLs per source (see the module's docstring); the capture events are joined once,
    grouped, not looked up per lead."""
    captured = (
        select(Event.lead_id, func.min(Event.cause).label("cause"))
        .where(Event.kind == EventKind.CAPTURED, Event.cause != "existing")
        .group_by(Event.lead_id)
        .subquery()
    )
    stated = func.nullif(Lead.fields["source"].as_string(), "")
    source = func.coalesce(stated, captured.c.cause, literal("import")).label("source")
    query = (
        select(source, func.count(), func.count(Lead.mql_at), func.count(Lead.sql_at))
        .select_from(Lead)
        .outerjoin(captured, captured.c.lead_id == Lead.id)
        .group_by(source)
        .order_by(source)
    )
    return [
        {"source": s, "leads": n, "mqls": m, "mql_rate": _rate(m, n), "sqls": q}
        for s, n, m, q in session.execute(query)
    ]


def mql_by_sequence(session: Session) -> list[dict[str, Any]]:
    """MQLs among the leads ever enrolled in each sequence (each lead once per sequence: an
    enrollment is unique per lead and sequence). The leads are counted from the enrollments
    alone; only the MQLs are joined to their leads."""
    leads = dict(
        session.execute(
            select(Enrollment.sequence, func.count()).group_by(Enrollment.sequence)
        ).all()
    )
    qualified = {
        sequence: (mqls, sqls)
        for sequence, mqls, sqls in session.execute(
            select(Enrollment.sequence, func.count(), func.count(Lead.sql_at))
            .join(Lead, Lead.id == Enrollment.lead_id)
            .where(Lead.mql_at.is_not(None))
            .group_by(Enrollment.sequence)
        )
    }
    rows = []
    for sequence in sorted(leads):
        n = int(leads[sequence])
        m, q = qualified.get(sequence, (0, 0))
        rows.append(
            {"sequence": sequence, "leads": n, "mqls": m, "mql_rate": _rate(m, n), "sqls": q}
        )
    return rows


def acceptance(session: Session, mqls: int) -> dict[str, Any]:
    """Acceptance decisions, reasons, medians; ``mqls``: how many leads ever became MQLs
    (``mql_by_source`` counted them already)."""
    decided = dict(
        session.execute(
            select(Event.kind, func.count())
            .where(Event.kind.in_((EventKind.SQL_ACCEPTED, EventKind.SQL_REJECTED)))
            .group_by(Event.kind)
        ).all()
    )
    reasons = session.execute(
        select(Event.cause, func.count())
        .where(Event.kind == EventKind.SQL_REJECTED)
        .group_by(Event.cause)
        .order_by(func.count().desc(), Event.cause)
    ).all()
    accepted = int(decided.get(EventKind.SQL_ACCEPTED, 0))
    rejected = int(decided.get(EventKind.SQL_REJECTED, 0))
    waiting = session.scalar(select(func.count()).where(Lead.qualification == "mql")) or 0
    return {
        "mqls": mqls,
        "waiting": waiting,
        "accepted": accepted,
        "rejected": rejected,
        "acceptance_rate": _rate(accepted, accepted + rejected),
        "rejection_reasons": {str(cause or "unknown"): n for cause, n in reasons},
        "median_days_to_mql": _median_days(session, Lead.mql_at),
        "median_days_to_sql": _median_days(session, Lead.sql_at),
    }


def score_by_stage(session: Session, stages: Sequence[str]) -> list[dict[str, Any]]:
    """Leads per stage and score bucket; ``stages`` in pipeline order (others follow)."""
    bucket = _bucket().label("bucket")
    counts: dict[str, dict[str, int]] = {}
    query = select(Lead.stage, bucket, func.count()).group_by(Lead.stage, bucket)
    for stage, lower, n in session.execute(query):
        label = NO_SCORE if lower is None else bucket_label(int(lower))
        counts.setdefault(stage, {})[label] = n
    order = [s for s in stages if s in counts] + sorted(set(counts) - set(stages))
    labels = [bucket_label(b) for b in SCORE_BUCKETS] + [NO_SCORE]
    return [
        {"stage": stage, "buckets": {label: counts[stage].get(label, 0) for label in labels}}
        for stage in order
    ]


def win_rate_by_decile(session: Session) -> list[dict[str, Any]]:
    decided = (
        select(
            Lead.score.label("score"),
            Lead.stage.label("stage"),
            func.ntile(DECILES).over(order_by=(Lead.score, Lead.id)).label("decile"),
        )
        .where(Lead.stage.in_((Stage.WON, Stage.LOST)), Lead.score.is_not(None))
        .subquery()
    )
    won = func.sum(case((decided.c.stage == Stage.WON, 1), else_=0))
    query = (
        select(
            decided.c.decile,
            func.count(),
            won,
            func.min(decided.c.score),
            func.max(decided.c.score),
        )
        .group_by(decided.c.decile)
        .order_by(decided.c.decile)
    )
    return [
        {
            "decile": int(d),
            "leads": n,
            "won": int(w or 0),
            "win_rate": _rate(int(w or 0), n),
            "min_score": float(low),
            "max_score": float(high),
        }
        for d, n, w, low, high in session.execute(query)
    ]


def in_use(session: Session) -> bool:
    """Whether any lead was ever scored or made an MQL (read along ``ix_leads_score``)."""
    scored = select(Lead.id).where(Lead.score.is_not(None)).limit(1)
    qualified = select(Lead.id).where(Lead.qualification.is_not(None)).limit(1)
    return session.scalar(scored) is not None or session.scalar(qualified) is not None


def qualification_report(session: Session, stages: Sequence[str]) -> dict[str, Any] | None:
    """Every figure of the qualification report (see the module's docstring); None when no
    lead was ever scored or qualified (a team not using scoring sees no empty sections)."""
    if not in_use(session):
        return None
    by_source = mql_by_source(session)
    return {
        "by_source": by_source,
        "by_sequence": mql_by_sequence(session),
        "acceptance": acceptance(session, sum(row["mqls"] for row in by_source)),
        "score_by_stage": score_by_stage(session, stages),
        "win_rate_by_decile": win_rate_by_decile(session),
    }


__all__ = ["DECILES", "NO_SCORE", "SCORE_BUCKETS", "bucket_label", "in_use", "qualification_report"]
