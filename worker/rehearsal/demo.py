"""``outreach demo``: the real engine over simulated weeks on the embedded default."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from worker.broker import build_broker, install
from worker.clock import VirtualClock
from worker.leads.capture import capture_lead
from worker.leads.importing import ImportReport, import_leads
from worker.processes.batch import BatchSummary, run_batch
from worker.rehearsal.demo_acceptance import AcceptanceDemo, rep_decides, summarise
from worker.rehearsal.demo_replies import COLLEAGUE, deliver_replies
from worker.review.resolutions import resolve
from worker.runtime import Runtime, set_runtime
from worker.scoring.config import scoring_path
from worker.settings import Settings
from worker.store.models import Event, InboundMessage, Lead, ReviewItem, Suppression, Touch
from worker.vocabulary import EventKind, ReviewAction, ReviewReason, TouchStatus

# Leads whose call tasks the simulated rep does (the other tasks are left to time out).
REP_CALLS = ("j.schroeder@schroeder-bau.test",)


@dataclass
class DemoDay:
    """What one batch of the simulated weeks did (several run each day)."""

    when: datetime
    summary: BatchSummary


@dataclass
class DemoResult:
    """The whole simulation."""

    folder: Path
    outbox: Path
    database_url: str
    imported: ImportReport
    days: list[DemoDay] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    inbox: Path | None = None
    replies: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    resent: int = 0
    suppressed: int = 0
    review_open: int = 0
    tasks: dict[str, int] = field(default_factory=dict)
    colleagues_paused: int = 0
    acceptance: AcceptanceDemo | None = None  # None: the project has no scoring.yaml


BATCHES_PER_DAY = 8  # 00:30, 03:30, … 21:30 UTC: two or more in every lead's send window
REP_HOUR_UTC = 12


def demo_start(now: datetime) -> datetime:
    """Next Monday, 00:30 UTC (the first batch of the day): a clean start for the weeks."""
    days_ahead = (7 - now.weekday()) % 7 or 7
    start = (now + timedelta(days=days_ahead)).replace(hour=0, minute=30, second=0, microsecond=0)
    return start.astimezone(UTC)


def run_demo(
    settings: Settings,
    *,
    folder: Path,
    weeks: int = 8,
    on_day: Callable[[DemoDay], None] | None = None,
) -> DemoResult:
    """Import the sample leads into a fresh demo database and run one batch per simulated day."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    outbox = folder / "outbox"
    inbox = folder / "inbox"
    database_url = f"sqlite:///{folder / 'outreach-demo.db'}"
    demo_settings = settings.with_changes(
        database_url=database_url,
        redis_url=None,
        transport_url=f"file://{outbox}",
        inbox_url=str(inbox),
        public_url="https://outreach.example.test",
    )
    clock = VirtualClock(demo_start(datetime.now(UTC)))
    install(build_broker(None))
    runtime = Runtime.from_settings(demo_settings, clock)
    set_runtime(runtime)
    try:
        imported = import_leads(
            runtime.sessions,
            settings.sample_leads_file,
            clock,
            runtime.catalog,
            score=scoring_path(settings.home).exists(),  # scored by the first batch
        )
        if "prospecting" in runtime.catalog:
            with runtime.sessions.begin() as session:
                capture_lead(
                    session,
                    runtime.catalog,
                    COLLEAGUE,
                    sequence="prospecting",
                    at=clock.now(),
                    source="website",
                )
        result = DemoResult(
            folder=folder,
            outbox=outbox,
            database_url=database_url,
            imported=imported,
            inbox=inbox,
        )
        scoring = scoring_path(settings.home).exists()
        result.acceptance = AcceptanceDemo() if scoring else None
        answered: set[str] = set()
        deliver_replies(runtime, inbox, answered)  # an empty maildir to start with
        # A batch every few hours, as a cron line would run it: each lead's send window (in
        # its own time zone, Singapore to California) sees at least two batches a day.
        for _ in range(weeks * 7 * BATCHES_PER_DAY):
            summary = run_batch(runtime)
            day = DemoDay(clock.now(), summary)
            result.days.append(day)
            if on_day:
                on_day(day)
            deliver_replies(runtime, inbox, answered)  # they answer before the next batch
            if clock.now().hour == REP_HOUR_UTC:
                work_tasks(runtime)  # a rep makes some of the calls the sequences asked for
                if result.acceptance is not None:  # and decides who sales takes on
                    rep_decides(runtime, result.acceptance)
            clock.advance(timedelta(hours=24 // BATCHES_PER_DAY))
        if result.acceptance is not None:
            summarise(runtime, result.acceptance)
        _tally(runtime, result)
        return result
    finally:
        runtime.close()
        set_runtime(None)


def _tally(runtime: Runtime, result: DemoResult) -> None:
    """What the simulated weeks did: replies, resumptions, suppressions, queue, tasks, stages."""
    with runtime.sessions() as session:
        result.replies = {
            str(intent): int(count)
            for intent, count in session.execute(
                select(InboundMessage.intent, func.count())
                .where(InboundMessage.intent.is_not(None), InboundMessage.lead_id.is_not(None))
                .group_by(InboundMessage.intent)
            )
        }
        result.resumed = _count(
            session, select(func.count()).where(Event.kind == EventKind.RESUMED)
        )
        result.resent = _count(
            session,
            select(func.count()).where(
                Event.kind == EventKind.REQUEUED, Event.cause == "bounce_soft"
            ),
        )
        result.suppressed = _count(session, select(func.count()).select_from(Suppression))
        result.review_open = _count(
            session, select(func.count()).where(ReviewItem.resolved_at.is_(None))
        )
        result.colleagues_paused = _count(
            session,
            select(func.count()).where(
                Event.kind == EventKind.PAUSED, Event.cause.like("colleague %")
            ),
        )
        result.tasks = {
            str(status): int(count)
            for status, count in session.execute(
                select(Touch.status, func.count())
                .where(Touch.kind != "email")
                .group_by(Touch.status)
            )
        }
        stages = session.execute(select(Lead.stage, func.count()).group_by(Lead.stage)).all()
        statuses = session.execute(select(Lead.status, func.count()).group_by(Lead.status)).all()
        result.stages = {str(stage): int(count) for stage, count in stages}
        result.statuses = {str(status): int(count) for status, count in statuses}
        result.sent = (
            session.scalar(
                select(func.count()).select_from(Touch).where(Touch.status == TouchStatus.SENT)
            )
            or 0
        )


def work_tasks(runtime: Runtime) -> int:
    """The simulated rep: calls the leads of ``REP_CALLS`` when their call task is open and
    marks it done (``outreach review resolve ID --action done``); other tasks time out."""
    done = 0
    with runtime.sessions.begin() as session:
        items = session.scalars(
            select(ReviewItem.id)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(
                ReviewItem.resolved_at.is_(None),
                ReviewItem.reason == ReviewReason.TASK_CALL,
                Lead.email.in_(REP_CALLS),
            )
        ).all()
        for item_id in items:
            resolve(
                session,
                runtime.catalog,
                item_id,
                ReviewAction.DONE,
                at=runtime.clock.now(),
                note="called: went through the questions, scan offered (simulated rep)",
            )
            done += 1
    return done


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(query) or 0)
