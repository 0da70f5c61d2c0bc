"""The database schema: leads, enrollments, touches (the send ledger), events and suppressions."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from worker.vocabulary import EnrollmentStatus, InboundStatus, LeadStatus, Stage, TouchStatus

LEAD_STATUSES: tuple[LeadStatus, ...] = tuple(LeadStatus)
# Standard lead fields kept as columns; every other CSV column lives in ``Lead.fields``.
LEAD_COLUMNS = ("first_name", "last_name", "company", "timezone", "country", "deal_value")
ENROLLMENT_STATUSES: tuple[EnrollmentStatus, ...] = tuple(EnrollmentStatus)
# An email's touch.
TOUCH_STATUSES: tuple[TouchStatus, ...] = (
    TouchStatus.QUEUED,
    TouchStatus.CLAIMED,
    TouchStatus.SENDING,
    TouchStatus.DELIVERED,
    TouchStatus.SENT,
    TouchStatus.SKIPPED,
    TouchStatus.FAILED,
    TouchStatus.UNKNOWN,
)
# A manual step's touch (kind "call" / "linkedin"): open, then done, skipped or expired.
TASK_STATUSES: tuple[TouchStatus, ...] = (
    TouchStatus.TASK_OPEN,
    TouchStatus.DONE,
    TouchStatus.SKIPPED,
    TouchStatus.EXPIRED,
)

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with shared naming conventions."""

    type_annotation_map = {dict[str, Any]: JSONType, datetime: UTCDateTime}


class Lead(Base):
    """A person the team is in touch with; one row per normalised email address."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(8))
    deal_value: Mapped[float | None] = mapped_column()
    stage: Mapped[str] = mapped_column(String(32), default=Stage.PROSPECTING, index=True)
    status: Mapped[str] = mapped_column(String(32), default=LeadStatus.ACTIVE, index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    # Lead scoring (``worker.scoring``): the score as of ``scored_at`` (None: never scored),
    # each contributing rule with its points and age (``score_detail``), and qualification.
    score: Mapped[float | None] = mapped_column()
    scored_at: Mapped[datetime | None] = mapped_column()
    score_detail: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    qualification: Mapped[str | None] = mapped_column(String(16), index=True)
    mql_at: Mapped[datetime | None] = mapped_column()
    sql_at: Mapped[datetime | None] = mapped_column()
    # The rep who owns the lead (a ``Rep.name``): set by the mailbox's owner rule when it is
    # enrolled, by the import's ``owner`` column, by hand, or when a rep accepts it as SQL.
    owner: Mapped[str | None] = mapped_column(String(100), index=True)


# The pipeline board's cards: the most valuable leads of a stage, read from the front.
Index("ix_leads_stage_value", Lead.stage, Lead.deal_value.desc().nulls_last(), Lead.id)
# ``leads list --sort score``, the queue and the board ordered by score.
Index("ix_leads_score", Lead.score.desc().nulls_last(), Lead.id)
# The qualification report's medians, MQL join and score deciles (migration 0018).
Index(
    "ix_leads_mql",
    Lead.mql_at,
    Lead.created_at,
    Lead.sql_at,
    Lead.id,
    postgresql_where=Lead.mql_at.is_not(None),
    sqlite_where=Lead.mql_at.is_not(None),
)
Index(
    "ix_leads_sql",
    Lead.sql_at,
    Lead.created_at,
    postgresql_where=Lead.sql_at.is_not(None),
    sqlite_where=Lead.sql_at.is_not(None),
)
Index(
    "ix_leads_decided_score",
    Lead.score,
    Lead.id,
    Lead.stage,
    postgresql_where=text("stage IN ('won', 'lost') AND score IS NOT NULL"),
    sqlite_where=text("stage IN ('won', 'lost') AND score IS NOT NULL"),
)


def email_domain(email: Any) -> ColumnElement[str]:
    """SQL for the part of ``email`` after its last ``@`` (all of it without one), written
    the same on SQLite and PostgreSQL: ``rtrim`` drops every character but ``@`` from the
    end. Constants, not parameters, so that a query's expression is the indexed one."""
    at: ColumnElement[str] = literal_column("'@'")
    nothing: ColumnElement[str] = literal_column("''")
    one: ColumnElement[int] = literal_column("1")
    return func.substr(
        email, func.length(func.rtrim(email, func.replace(email, at, nothing))) + one
    )


# A company's colleagues: the leads of one email domain (``worker.leads.colleagues``).
Index("ix_leads_email_domain", email_domain(Lead.email))


class Enrollment(Base):
    """A lead's place in one sequence: which step comes next and when it is due."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("lead_id", "sequence", name="uq_enrollments_lead_sequence"),
        Index("ix_enrollments_due", "status", "next_due_at"),
        Index("ix_enrollments_resume", "status", "resume_at"),
        # The tick's change check: a sequence's enrollments not yet held against its version.
        Index("ix_enrollments_sequence_seen", "sequence", "seen_version"),
        # The tick's pin of new enrollments: partial, so it stays small and its plan stays an
        # index scan even when the statistics still count a million unpinned rows.
        Index(
            "ix_enrollments_unpinned",
            "sequence",
            postgresql_where=text("seen_version IS NULL"),
            sqlite_where=text("seen_version IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[str] = mapped_column(String(100))
    mailbox: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32), default=EnrollmentStatus.ACTIVE)
    current_step: Mapped[int] = mapped_column(default=0)
    next_due_at: Mapped[datetime | None] = mapped_column()
    thread_message_id: Mapped[str | None] = mapped_column(String(300))
    thread_subject: Mapped[str | None] = mapped_column(String(500))
    last_message_id: Mapped[str | None] = mapped_column(String(300))
    # When a paused enrollment resumes by itself (an out-of-office reply's return date).
    resume_at: Mapped[datetime | None] = mapped_column()
    enrolled_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # The sequence version (``SequenceVersion.version``) this enrollment runs, and the version
    # of the files it was last held against (its ``on_change`` policy applied): they differ
    # while a lead finishes an old version (``on_change: finish``). None: not pinned yet.
    version: Mapped[str | None] = mapped_column(String(64))
    seen_version: Mapped[str | None] = mapped_column(String(64))


class Touch(Base):
    """One email of one enrollment's step: the durable send ledger, unique per step."""

    __tablename__ = "touches"
    __table_args__ = (
        # One touch per step id: a step is never sent twice, whatever its place in a version.
        UniqueConstraint("enrollment_id", "step_id", name="uq_touches_enrollment_step_id"),
        Index("ix_touches_status_available", "status", "available_at"),
        Index("ix_touches_status_claimed", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Looked up through uq_touches_enrollment_step (enrollment_id leads it): an index of its
    # own would only cost every new touch one more insert into a big index.
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[str] = mapped_column(String(100))
    step_index: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(32), default=TouchStatus.QUEUED)
    due_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    available_at: Mapped[datetime] = mapped_column()
    enqueued_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(String(64))
    # The process (``Heartbeat.holder``) that claimed the touch, or holds it in its in-process
    # queue: when that process stops beating, the touch is recovered at once (no lease wait).
    holder: Mapped[str | None] = mapped_column(String(120))
    finished_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    mailbox: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(300), unique=True)
    subject: Mapped[str | None] = mapped_column(String(1000))
    last_error: Mapped[str | None] = mapped_column(Text)
    # "email", or a manual task for a rep: "call", "linkedin".
    kind: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    # The A/B variant of the step this lead got (None when the step has no variants).
    variant: Mapped[str | None] = mapped_column(String(64))
    # The text part exactly as sent (shown on the lead's timeline).
    body_text: Mapped[str | None] = mapped_column(Text)
    # The step's stable id and the sequence version the touch is rendered from; ``step_index``
    # is the step's place in that version. None only for touches from before migration 0011
    # until their enrollment is pinned (``worker.delivery.sequence_changes``).
    step_id: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(64))


class SequenceVersion(Base):
    """The content of one version of a sequence (its YAML and every template it can render),
    kept from its first use so that a lead finishing it can still be rendered."""

    __tablename__ = "sequence_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence: Mapped[str] = mapped_column(String(100), index=True)
    # The git commit of the project folder when the version was first used (None: no git).
    git_commit: Mapped[str | None] = mapped_column(String(64))
    first_used_at: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(Text)
    # Template path (relative to ``templates/``) → its text.
    templates: Mapped[dict[str, Any]] = mapped_column()


class Event(Base):
    """An append-only record of something that happened to a lead, with time and cause."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_lead_at", "lead_id", "at"),
        Index("ix_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[str | None] = mapped_column(String(100))
    step_index: Mapped[int | None] = mapped_column()
    cause: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReviewItem(Base):
    """A lead (or an inbound message matching no lead) flagged for a rep, with the reason;
    resolved items keep their resolution."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_open", "resolved_at", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL"), index=True
    )
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(default=0)
    suggested_action: Mapped[str | None] = mapped_column(String(200))
    # For a manual task (call, LinkedIn): when it is due.
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # The rep the item is assigned to (a rep's name), or nobody yet.
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)


class ResolutionUndo(Base):
    """What a resolution changed, kept until ``expires_at`` so a rep can undo it
    (``worker.review.undo``): the state before, as JSON, and the rows it created."""

    __tablename__ = "resolution_undo"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # The last event the resolution wrote: a later one means the lead changed since.
    last_event_id: Mapped[int | None] = mapped_column()


# At most one open "accept as SQL?" item per lead, however many scorers and replies open one
# at the same time (``worker.qualification``).
_OPEN_ACCEPTANCE = text("reason = 'sales_acceptance' AND resolved_at IS NULL")
Index(
    "uq_review_open_acceptance",
    ReviewItem.lead_id,
    unique=True,
    sqlite_where=_OPEN_ACCEPTANCE,
    postgresql_where=_OPEN_ACCEPTANCE,
)


class InboundMessage(Base):
    """A message that came back (reply, bounce, auto-reply), stored raw before processing."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    source: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column()
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(32), default=InboundStatus.STORED, index=True)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(1000))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))
    matched_by: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(32), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    return_date: Mapped[date | None] = mapped_column(Date)
    referral_email: Mapped[str | None] = mapped_column(String(320))
    reply_text: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    processed_at: Mapped[datetime | None] = mapped_column()
    # The intent a rep gave the message (a reclassification, or implied by a resolution): a
    # labelled example for training the reply model (``outreach replies export --labelled``).
    label: Mapped[str | None] = mapped_column(String(32), index=True)
    labelled_by: Mapped[str | None] = mapped_column(String(100))
    labelled_at: Mapped[datetime | None] = mapped_column()
    # When ``raw`` was emptied by raw mail retention (``worker.privacy.retention``).
    raw_cleared_at: Mapped[datetime | None] = mapped_column()


# Raw mail retention reads the processed messages still holding their raw bytes (0024).
_RAW_KEPT = text("processed_at IS NOT NULL AND raw_cleared_at IS NULL")
Index(
    "ix_inbound_raw_kept",
    InboundMessage.processed_at,
    sqlite_where=_RAW_KEPT,
    postgresql_where=_RAW_KEPT,
)


class Erasure(Base):
    """A person erased on request (``worker.privacy.erase``): when, by whom, the hashed
    address and the rows removed per table; never the address itself."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    erased_by: Mapped[str] = mapped_column(String(100))
    address_hash: Mapped[str] = mapped_column(String(80), index=True)
    counts: Mapped[dict[str, Any]] = mapped_column()


class Suppression(Base):
    """An address or whole domain that must never be mailed again."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()


class AppState(Base):
    """Small named values shared by every process (e.g. the token-signing key)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MailboxUsage(Base):
    """Sends per mailbox and day (the database side of daily limits and spacing)."""

    __tablename__ = "mailbox_usage"
    __table_args__ = (UniqueConstraint("mailbox", "day", name="uq_mailbox_usage_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    sent: Mapped[int] = mapped_column(default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column()


class DomainUsage(Base):
    """Sends per recipient domain and day (an optional per-domain daily cap)."""

    __tablename__ = "domain_usage"
    __table_args__ = (UniqueConstraint("domain", "day", name="uq_domain_usage_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date)
    sent: Mapped[int] = mapped_column(default=0)


class MailboxPause(Base):
    """A sending mailbox paused (automatically or by a rep) until someone resumes it."""

    __tablename__ = "mailbox_pauses"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    resumed_at: Mapped[datetime | None] = mapped_column()


class Heartbeat(Base):
    """A running process (scheduler, worker, cron run) that says it is alive every few seconds.

    Touches it holds are recovered as soon as its row is stale or gone; ``/healthz`` and
    ``outreach check`` report a stale one. Times are wall-clock, whatever clock the run uses.
    """

    __tablename__ = "heartbeats"

    holder: Mapped[str] = mapped_column(String(120), primary_key=True)
    roles: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    beat_at: Mapped[datetime] = mapped_column()
    # A dramatiq worker process's Redis consumer id: what it fetched goes back to the queue
    # as soon as it is known dead (``worker.broker.requeue_fetched``).
    consumer: Mapped[str | None] = mapped_column(String(64))


# A rep's name (``Rep.name``, ``Lead.owner``, ``ReviewItem.assignee``): lower case, no spaces.
REP_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


class Rep(Base):
    """A person who signs in to the web app; only a hash of the password is kept."""

    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column()
    password_changed_at: Mapped[datetime] = mapped_column()
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))  # where notifications go
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    role: Mapped[str] = mapped_column(String(16), default="rep")  # "admin" or "rep"


class ReportDirty(Base):
    """A lead whose contribution to the report must be computed again.

    Written by database triggers (migration 0008) when a lead is added, changes stage or is
    deleted, when an event the report reads is written, and when a touch changes what it is
    counted under; ``worker.analytics.rollup.refresh`` removes the rows it has applied.
    """

    __tablename__ = "report_dirty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: a deleted lead stays here until its contribution is taken away.
    lead_id: Mapped[int] = mapped_column(Integer, index=True)


class ReportLead(Base):
    """A lead's contribution to ``report_counts`` as last applied (JSON: ``[[key, day, n],
    …]``), so that a refresh can take it away before adding the new one."""

    __tablename__ = "report_leads"

    lead_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parts: Mapped[str] = mapped_column(Text)


class ReportCount(Base):
    """The report's daily counters: the sum over leads of their contributions, per key and
    UTC day (see ``worker.analytics.contributions``)."""

    __tablename__ = "report_counts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)  # deal values are summed in millionths


class ReportVisit(Base):
    """A lead's finished stay in a pipeline stage: the funnel's median days are read from
    these in order of duration."""

    __tablename__ = "report_visits"
    __table_args__ = (
        Index("ix_report_visits_stage_duration", "stage", "duration_us", "entered_at", "lead_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(Integer, index=True)
    stage: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[datetime] = mapped_column()
    duration_us: Mapped[int] = mapped_column(BigInteger)


class ScoreMark(Base):
    """A lead whose score must be computed again (an event arrived since it was scored)."""

    __tablename__ = "score_marks"
    # The tick reads the marks due by now (a decay mark is due later: migration 0017).
    __table_args__ = (Index("ix_score_marks_marked_at", "marked_at"),)

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    marked_at: Mapped[datetime] = mapped_column()


class ScoreCrossing(Base):
    """A lead's score crossed a threshold: once per (lead, threshold), whoever computed it."""

    __tablename__ = "score_crossings"
    __table_args__ = (UniqueConstraint("lead_id", "threshold", name="uq_score_crossings"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    threshold: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column()
    at: Mapped[datetime] = mapped_column()


class Click(Base):
    """One request to a tracked link (``/c/TOKEN``), counted as interest or not (and why)."""

    __tablename__ = "clicks"
    __table_args__ = (Index("ix_clicks_touch_at", "touch_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    link: Mapped[int] = mapped_column()  # the link's place in the email, from 0
    url: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
    method: Mapped[str] = mapped_column(String(8))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    counted: Mapped[bool] = mapped_column()
    # Why a click is not counted (a scanner's user agent, HEAD, seconds after delivery, every
    # link at once); None when counted.
    verdict: Mapped[str | None] = mapped_column(String(64))


class ManualReply(Base):
    """A reply a rep wrote to a lead in the app (``worker.working.replies``): claimed once
    by its form's idempotency ``key``, then ``sending`` → ``sent`` (or ``refused``,
    ``failed``, ``unknown``), with the message as built and what it answered."""

    __tablename__ = "manual_replies"
    __table_args__ = (
        UniqueConstraint("key", name="uq_manual_replies_key"),
        Index("ix_manual_replies_status", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id", ondelete="SET NULL"))
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    mailbox: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(300))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    subject: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    then: Mapped[str] = mapped_column(String(16))  # stop, pause or continue
    until: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    """A key of the JSON API (``/api/v1``): only the SHA-256 digest of its secret is kept,
    with a short non-secret prefix that names it in lists; scope ``read`` or ``write``."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("name", name="uq_api_keys_name"),
        UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One event for one webhook subscription (``integrations.yaml``): the exact JSON body
    signed and sent, its status (pending, delivered, failed) and attempts. Unique per
    (subscription, key), so an event read twice is delivered once."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription", "key", name="uq_webhook_deliveries_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))  # "event:ID", "ping:…", "notify:…"
    event: Mapped[str] = mapped_column(String(64))  # the public name, e.g. lead.replied
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    enqueued_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(Base):
    """One attempt of a webhook delivery: the HTTP status, the start of the response, the
    error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column()


class Notification(Base):
    """A rep told about a lead (hot lead, accepted SQL, task due today) on one channel
    (``email`` or ``chat:SUBSCRIPTION``): one row per (key, rep, channel), so exactly once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("key", "rep", "channel", name="uq_notifications_key"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    rep: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(110))
    kind: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    enqueued_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
