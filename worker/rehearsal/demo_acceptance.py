"""The demo's sales rep: every simulated day at the rep's hour, the leads that scoring made
MQLs and that asked sales "Accept as SQL?" are decided, as ``outreach review accept`` /
``reject`` would: the leads of ``REP_ACCEPTS`` are accepted, the others rejected (no
timeline yet). At the end, a summary of the scores."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from worker.review.resolutions import resolve
from worker.runtime import Runtime
from worker.store.models import Lead, ReviewItem
from worker.vocabulary import ReviewAction, ReviewReason

REP = "rita"
REP_ACCEPTS = ("ada@northwind.test",)
ACCEPTED_ANSWERS = {
    "interested": "yes",
    "buying_now": "yes",
    "timeframe": "next quarter",
    "decision_maker": "yes",
}
REJECTED_ANSWERS = {"reason": "no_timeline"}


@dataclass
class AcceptanceDemo:
    """Leads scored and made MQLs, the best scores, and what the rep decided."""

    scored: int = 0
    mqls: int = 0
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    top: list[tuple[str, float, str | None]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What ``outreach demo`` prints about scoring and sales acceptance."""
        said = [
            f"Lead scoring (scoring.yaml): {self.scored} leads scored, {self.mqls} became "
            "MQLs; the best scores:"
        ]
        said += [f"  {score:6.1f}  {state or '-':8} {email}" for email, score, state in self.top]
        said += [
            f"Sales acceptance: the rep ({REP}) accepted {email} as SQL" for email in self.accepted
        ]
        said += [
            f"Sales acceptance: the rep rejected {email} (no timeline yet): back to nurture"
            for email in self.rejected
        ]
        return said


def rep_decides(runtime: Runtime, decided: AcceptanceDemo) -> None:
    """Decide every open "Accept as SQL?" item (see the module's docstring)."""
    with runtime.sessions.begin() as session:
        waiting = session.execute(
            select(ReviewItem.id, Lead.email)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(
                ReviewItem.resolved_at.is_(None),
                ReviewItem.reason == ReviewReason.SALES_ACCEPTANCE,
            )
            .order_by(ReviewItem.id)
        ).all()
        for item_id, email in waiting:
            accept = email in REP_ACCEPTS
            resolve(
                session,
                runtime.catalog,
                item_id,
                ReviewAction.ACCEPT_SQL if accept else ReviewAction.REJECT_SQL,
                at=runtime.clock.now(),
                by=REP,
                answers=ACCEPTED_ANSWERS if accept else REJECTED_ANSWERS,
                note="(simulated rep)",
            )
            (decided.accepted if accept else decided.rejected).append(email)


def summarise(runtime: Runtime, decided: AcceptanceDemo) -> None:
    """Fill in how many leads were scored and made MQLs, and the five best scores."""
    with runtime.sessions() as session:
        decided.scored = session.scalar(select(func.count()).where(Lead.score.is_not(None))) or 0
        decided.mqls = session.scalar(select(func.count()).where(Lead.mql_at.is_not(None))) or 0
        decided.top = [
            (email, float(score or 0), qualification)
            for email, score, qualification in session.execute(
                select(Lead.email, Lead.score, Lead.qualification)
                .where(Lead.score.is_not(None))
                .order_by(Lead.score.desc(), Lead.id)
                .limit(5)
            )
        ]


__all__ = ["AcceptanceDemo", "rep_decides", "summarise"]
