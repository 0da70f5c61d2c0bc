"""The report from its daily counters equals the report computed in Python from every row,
on a varied, randomly made history, on SQLite and PostgreSQL: whole history and from any
midnight, right after a refresh, with leads still marked (read in memory), and after changes
of every kind the triggers watch. The board's leads and values per stage come from the same
counters and equal a count over every lead."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from worker.analytics import build_report, compute_report
from worker.analytics.queries import REPORT_KINDS, load_events, load_leads, load_touches
from worker.analytics.rollup import REFRESH_LOCK, refresh, rollup_report, stage_totals_now
from worker.queries.board import stage_totals
from worker.store.db import alembic_config, make_engine, migrate, session_factory
from worker.store.models import Enrollment, Event, Lead, ReportDirty, Touch
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, EventKind

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
STAGES = (*PIPELINE_STAGES, *FINAL_STAGES)
SEQUENCES = ("prospecting", "qualification", "zz-retired")
INTENTS = (
    "positive",
    "negative",
    "question",
    "referral",
    "unsubscribe",
    "unknown",
    "ooo",
    "auto_reply",
    "bounce_hard",
    "bounce_soft",
    "complaint",
)
ORDER = ("qualification", "prospecting")
# A lead's currency: its field, else its country's, else the default (JP: not in the table;
# "nope": not a currency code, so its country's or the default).
CURRENCY_SOURCES: list[dict[str, Any]] = [
    {},
    {"country": "GB"},
    {"country": "US"},
    {"country": "DE"},
    {"country": "JP"},
    {"fields": {"currency": "usd"}},
    {"country": "GB", "fields": {"currency": "EUR"}},
    {"fields": {"currency": "nope"}},
]


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def python_report(session: Session, since: datetime | None) -> dict[str, Any]:
    return compute_report(
        load_leads(session), load_events(session), load_touches(session), since, ORDER
    )


def moment(rng: random.Random, low: float = 0, high: float = 30) -> datetime:
    """A time between ``low`` and ``high`` days after T0; often on the hour (ties)."""
    at = T0 + timedelta(days=rng.uniform(low, high))
    if rng.random() < 0.3:
        at = at.replace(minute=0, second=0, microsecond=0)
    return at


def add_history(session: Session, rng: random.Random, leads: int, tag: str) -> list[int]:
    """``leads`` leads with stage changes, touches, sends, replies and exits of every kind."""
    made = []
    for n in range(leads):
        created = moment(rng, 0, 20)
        lead = Lead(
            email=f"lead{n}.{tag}@c{n % 17}.test",
            stage=rng.choice(STAGES),
            status="active",
            deal_value=rng.choice(
                [None, 0.0, 500.0, 1250.5, 0.1, 1234.56, rng.randrange(1, 10**7) / 100]
            ),
            created_at=created,
            updated_at=created,
            **{"fields": {}} | rng.choice(CURRENCY_SOURCES),
        )
        session.add(lead)
        session.flush()
        made.append(lead.id)
        events: list[dict[str, Any]] = []

        def event(kind: str, at: datetime, **values: Any) -> None:
            events.append({"kind": kind, "at": at, "lead_id": lead.id, **values})  # noqa: B023

        if rng.random() < 0.8:
            event("lead_created", created + timedelta(minutes=rng.choice([0, 0, 5, -30])))
        at, stage = created, rng.choice(["prospecting", "prospecting", "qualification"])
        for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
            at += timedelta(days=rng.choice([0, 0.2, 0.9, 1.5, 4.0, 11.3]))
            nxt = rng.choice([*STAGES, "won", "lost"])
            detail = {"previous": stage, "stage": nxt}
            if rng.random() < 0.08:
                detail.pop(rng.choice(["previous", "stage"]))
            event("stage_changed", at, cause="reply: positive", detail=detail)
            stage = nxt
        if rng.random() < 0.7:
            lead.stage = stage
        for sequence in rng.sample(SEQUENCES, rng.choice([0, 1, 1, 2])):
            sent_at = moment(rng, 0, 25)
            enrollment = Enrollment(
                lead_id=lead.id, sequence=sequence, status="active", enrolled_at=created
            )
            session.add(enrollment)
            session.flush()
            for step in sorted(rng.sample(range(6), rng.choice([1, 2, 3, 4]))):
                touch = Touch(
                    enrollment_id=enrollment.id,
                    lead_id=lead.id,
                    sequence=sequence,
                    step_index=step,
                    status="sent",
                    due_at=sent_at,
                    created_at=sent_at,
                    available_at=sent_at,
                    mailbox=rng.choice(["sales", "sales", "success", None]),
                    variant=rng.choice([None, None, "alpha", "bravo"]) if step == 3 else None,
                )
                session.add(touch)
                session.flush()
                where = {"touch_id": touch.id, "sequence": sequence, "step_index": step}
                for _ in range(rng.choice([0, 1, 1, 1, 2])):
                    event("sent", sent_at, cause="due", **where)
                    sent_at += timedelta(hours=rng.choice([0, 5, 30]))
                for _ in range(rng.choice([0, 0, 0, 1, 2])):
                    reply = sent_at + timedelta(days=rng.uniform(-1, 6))
                    intent = rng.choice([*INTENTS, None])
                    event("classified", reply, cause=intent, detail={"confidence": 0.9}, **where)
                if rng.random() < 0.05:
                    event("unsubscribed", sent_at + timedelta(days=1), cause="link", **where)
                event("scheduled", sent_at, cause="due", **where)  # not read by the report
                sent_at += timedelta(days=rng.choice([1, 3, 7]))
            end = sent_at + timedelta(days=rng.uniform(-3, 5))
            roll = rng.random()
            if roll < 0.15:
                event("suppressed", end, cause=rng.choice(["bounce", "unsubscribe", "manual"]))
            if roll < 0.3:
                event("sequence_stopped", end, sequence=sequence, cause="reply: negative")
            elif roll < 0.5:
                event("sequence_completed", end, sequence=rng.choice(SEQUENCES), cause="end")
            elif roll < 0.55:
                event("unsubscribed", end, cause="link")
        if events:
            session.execute(
                Event.__table__.insert(),  # type: ignore[arg-type]
                [
                    {"touch_id": None, "sequence": None, "step_index": None, "cause": None}
                    | {"detail": {}}
                    | row
                    for row in events
                ],
            )
    return made


def midnights() -> list[datetime | None]:
    days = [T0.replace(hour=0) + timedelta(days=n) for n in (-3, 0, 1, 2, 5, 9, 14, 21, 28, 40)]
    return [None, *days]


def assert_same(sessions: sessionmaker[Session], *, refreshed: bool) -> None:
    for since in midnights():
        with sessions() as session:
            expected = python_report(session, since)
        with sessions() as session:
            if refreshed:
                got = build_report(session, since, ORDER)
            else:
                session.execute(select(1))  # a transaction begun: nothing is refreshed
                got = build_report(session, since, ORDER)
        assert got == expected, f"since {since}"
    with sessions() as session:  # the board's columns: a float sum may differ in the last bit
        counted = stage_totals(session)
        assert stage_totals_now(session) == {
            stage: (n, pytest.approx(value, rel=1e-12)) for stage, (n, value) in counted.items()
        }


def test_the_counters_give_the_report_computed_from_every_row(
    sessions: sessionmaker[Session],
) -> None:
    rng = random.Random(1)
    with sessions.begin() as session:
        add_history(session, rng, 150, "a")
    assert_same(sessions, refreshed=False)  # every lead still marked: read in memory
    assert_same(sessions, refreshed=True)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReportDirty)) == 0


def test_changes_after_a_refresh_are_counted_before_and_after_the_next(
    sessions: sessionmaker[Session],
) -> None:
    rng = random.Random(2)
    with sessions.begin() as session:
        first = add_history(session, rng, 120, "a")
    refresh(sessions)
    with sessions.begin() as session:
        add_history(session, rng, 60, "b")
        for lead_id in rng.sample(first, 15):  # later events of existing leads
            session.execute(
                Event.__table__.insert(),  # type: ignore[arg-type]
                [
                    {
                        "kind": "stage_changed",
                        "at": moment(rng, 20, 35),
                        "lead_id": lead_id,
                        "detail": {"previous": "qualification", "stage": "lost"},
                    },
                    {
                        "kind": "suppressed",
                        "at": moment(rng, 20, 35),
                        "lead_id": lead_id,
                        "cause": "bounce",
                        "detail": {},
                    },
                ],
            )
        touches = list(session.scalars(select(Touch).order_by(Touch.id).limit(40)))
        for touch in touches[:10]:
            touch.mailbox = "moved"
        for touch in touches[10:20]:
            touch.variant = "charlie"
            touch.step_index += 10
        session.execute(
            update(Lead).where(Lead.id.in_(first[:10])).values(stage="delivery", created_at=T0)
        )
        session.execute(delete(Lead).where(Lead.id.in_(first[10:14])))
    assert_same(sessions, refreshed=False)
    refresh(sessions, limit=60)  # some done, some still marked
    assert_same(sessions, refreshed=False)
    assert_same(sessions, refreshed=True)


def test_a_refresh_while_another_holds_the_lock_leaves_every_mark_for_later(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    migrate(engine)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            add_history(session, random.Random(4), 30, "a")
        with sessions.begin() as other:
            other.execute(
                select(
                    func.pg_advisory_xact_lock(REFRESH_LOCK, func.hashtext(func.current_schema()))
                )
            )
            assert refresh(sessions) == 0  # the other refresher is at it: nothing done twice
        with sessions() as session:
            assert session.scalar(select(func.count(ReportDirty.lead_id.distinct()))) == 30
        assert_same(sessions, refreshed=False)
        assert refresh(sessions) == 30
    finally:
        engine.dispose()


def test_a_since_that_is_not_a_midnight_reads_every_row(sessions: sessionmaker[Session]) -> None:
    rng = random.Random(3)
    with sessions.begin() as session:
        add_history(session, rng, 40, "a")
    since = T0 + timedelta(days=3, hours=7)
    with sessions() as session:
        expected = python_report(session, since)
        assert build_report(session, since, ORDER) == expected
        with pytest.raises(ValueError, match="midnight"):
            rollup_report(session, since, ORDER)


def test_every_change_the_report_reads_marks_its_lead_and_nothing_else_does(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        leads = [
            Lead(email=f"l{n}@x.test", stage="prospecting", status="active", fields={},
                 created_at=T0, updated_at=T0)
            for n in range(len(REPORT_KINDS) + 8)
        ]  # fmt: skip
        session.add_all(leads)
        session.flush()
        ids = [lead.id for lead in leads]
        enrollment = Enrollment(
            lead_id=ids[0], sequence="prospecting", status="active", enrolled_at=T0
        )
        session.add(enrollment)
        session.flush()
        touch = Touch(
            lead_id=ids[0], enrollment_id=enrollment.id, sequence="prospecting", step_index=0,
            status="queued", due_at=T0, created_at=T0, available_at=T0,
        )  # fmt: skip
        session.add(touch)
        session.flush()
        touch_id = touch.id
    refresh(sessions)

    def marked() -> set[int]:
        with sessions() as session:
            found = set(session.scalars(select(ReportDirty.lead_id)))
        refresh(sessions)
        return found

    with sessions.begin() as session:
        session.execute(
            Event.__table__.insert(),  # type: ignore[arg-type]
            [
                {"kind": kind, "at": T0, "lead_id": lead_id, "detail": {}}
                for kind, lead_id in zip(REPORT_KINDS, ids, strict=False)
            ]
            + [
                {"kind": EventKind.SCHEDULED, "at": T0, "lead_id": ids[-1], "detail": {}},
                {"kind": EventKind.SENT, "at": T0, "lead_id": None, "detail": {}},
            ],
        )
    assert marked() == set(ids[: len(REPORT_KINDS)])
    with sessions.begin() as session:
        session.execute(update(Touch).where(Touch.id == touch_id).values(status="sent"))
        session.execute(update(Lead).where(Lead.id == ids[1]).values(status="paused"))
    assert marked() == set()
    with sessions.begin() as session:
        session.execute(update(Touch).where(Touch.id == touch_id).values(mailbox="success"))
        session.execute(update(Lead).where(Lead.id == ids[2]).values(stage="won"))
        session.execute(update(Lead).where(Lead.id == ids[3]).values(created_at=T0 - timedelta(1)))
        session.execute(update(Lead).where(Lead.id == ids[6]).values(deal_value=2500.0))
    assert marked() == {ids[0], ids[2], ids[3], ids[6]}
    with sessions.begin() as session:
        session.execute(update(Touch).where(Touch.id == touch_id).values(lead_id=ids[4]))
    assert marked() == {ids[0], ids[4]}
    with sessions.begin() as session:
        session.execute(delete(Event).where(Event.lead_id == ids[5]))
        session.execute(delete(Touch).where(Touch.id == touch_id))
        session.execute(delete(Lead).where(Lead.id == ids[-1]))
        session.add(
            Lead(email="new@x.test", stage="prospecting", status="active", fields={},
                 created_at=T0, updated_at=T0)
        )  # fmt: skip
    with sessions() as session:
        new_id = session.scalar(select(Lead.id).where(Lead.email == "new@x.test"))
    assert marked() == {ids[5], ids[4], ids[-1], new_id}


def test_upgrading_marks_every_lead_already_there(database_url: str) -> None:
    engine: Engine = make_engine(database_url)
    try:
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
            conn.commit()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO leads (id, email, stage, status, fields, created_at, updated_at)"
                    " VALUES (7, 'ada@northwind.test', 'decision', 'active', '{}', :t, :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            assert list(session.scalars(select(ReportDirty.lead_id))) == [7]
            report = build_report(session)
        decision = next(r for r in report["funnel"] if r["stage"] == "decision")
        assert decision["entered"] == 1
    finally:
        engine.dispose()


def add_lead(session: Session, name: str, stage: str, value: float, **more: Any) -> int:
    """A lead written with only the columns it names (so also into an older schema)."""
    values = {
        "email": f"{name}@x.test", "stage": stage, "status": "active", "deal_value": value,
        "created_at": T0, "updated_at": T0, "fields": {},
    } | more  # fmt: skip
    lead_id: int = session.execute(insert(Lead).values(**values).returning(Lead.id)).scalar_one()
    return lead_id


def values(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {r["stage"]: r["value"] for r in report["pipeline"]["stages"] if r["value"]}


def test_deal_values_are_counted_per_currency_and_never_added_across(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        add_lead(session, "eur-field", "decision", 1000.0, fields={"currency": "eur"})
        add_lead(session, "eur-country", "decision", 250.25, country="DE")
        gbp = add_lead(session, "gbp-country", "decision", 400.0, country="GB")
        usd = add_lead(session, "usd-field", "decision", 50.0, fields={"currency": "USD"})
        add_lead(session, "usd-over-country", "won", 70.0, country="GB",
                 fields={"currency": "USD"})  # fmt: skip
        add_lead(session, "default", "won", 5.0, country="JP")
    decision = {"EUR": 1250.25, "GBP": 400.0, "USD": 50.0}
    for refreshed in (False, True):  # every lead marked (read in memory), then the counters
        if refreshed:
            refresh(sessions)
        with sessions() as session:
            session.execute(select(1))  # a transaction begun: nothing is refreshed
            report = build_report(session, None, ORDER, "CHF")
            assert values(report) == {"decision": decision, "won": {"CHF": 5.0, "USD": 70.0}}
            assert report["pipeline"]["currencies"] == ["CHF", "EUR", "GBP", "USD"]
            assert report == compute_report(
                load_leads(session), load_events(session), load_touches(session), None, ORDER,
                "CHF",
            )  # fmt: skip
            assert (
                stage_totals_now(session, "CHF")
                == stage_totals(session, "CHF")
                == {
                    "decision": (4, decision),
                    "won": (2, {"CHF": 5.0, "USD": 70.0}),
                }
            )
            # the default applies when read: the counters need no recount for a new one
            assert values(build_report(session, None, ORDER))["won"] == {"EUR": 5.0, "USD": 70.0}

    # the trigger: a change of country or of the currency field marks the lead
    with sessions.begin() as session:
        session.execute(update(Lead).where(Lead.id == gbp).values(country="US"))
        session.execute(update(Lead).where(Lead.id == usd).values(fields={"currency": "GBP"}))
    with sessions() as session:
        assert set(session.scalars(select(ReportDirty.lead_id))) == {gbp, usd}
        marked = build_report(session, None, ORDER, "CHF")  # marked leads read in memory
    refresh(sessions)
    with sessions() as session:
        assert not session.scalar(select(func.count()).select_from(ReportDirty))
        counted = build_report(session, None, ORDER, "CHF")
        expected = compute_report(
            load_leads(session), load_events(session), load_touches(session), None, ORDER, "CHF"
        )
    assert marked == counted == expected
    assert values(counted)["decision"] == {"EUR": 1250.25, "GBP": 50.0, "USD": 400.0}


def test_the_currency_migration_marks_every_lead_and_watches_country_and_fields(
    database_url: str,
) -> None:
    engine: Engine = make_engine(database_url)
    try:
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0011")
            conn.commit()
        sessions = session_factory(engine)
        with sessions.begin() as session:
            lead = add_lead(session, "gb", "decision", 10.0, country="GB")
        with sessions.begin() as session:
            session.execute(delete(ReportDirty))  # counted with the keys before 0012
            session.execute(update(Lead).where(Lead.id == lead).values(country="US"))
            assert not session.scalar(select(func.count()).select_from(ReportDirty))
        migrate(engine)
        with sessions() as session:
            assert list(session.scalars(select(ReportDirty.lead_id))) == [lead]
        refresh(sessions)
        with sessions.begin() as session:
            session.execute(update(Lead).where(Lead.id == lead).values(country="GB"))
            session.execute(update(Lead).where(Lead.id == lead).values(fields={"x": 1}))
            assert session.scalar(select(func.count()).select_from(ReportDirty)) == 2
        with sessions() as session:
            assert values(build_report(session)) == {"decision": {"GBP": 10.0}}
        with engine.connect() as conn:  # and back: the trigger as before, every lead marked
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011")
            conn.commit()
        with sessions.begin() as session:
            assert list(session.scalars(select(ReportDirty.lead_id))) == [lead]
            session.execute(delete(ReportDirty))
            session.execute(update(Lead).where(Lead.id == lead).values(country="US"))
            assert not session.scalar(select(func.count()).select_from(ReportDirty))
        migrate(engine)
    finally:
        engine.dispose()
