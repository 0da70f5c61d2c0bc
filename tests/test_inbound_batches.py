"""A batch of replies decides exactly what the same replies decide one at a time.

Processing a batch reads what its messages need at once (``worker.inbound.batch``), acts from
memory, writes its events in one statement and flushes once; one message at a time (the path
a failed batch falls back to) asks the database at every step. Both must leave the same rows:
the same statuses, stage moves, review items, suppressions and events, in the same order.
"""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.conftest import START, copy_project, make_settings, postgres_schema
from worker.clock import VirtualClock
from worker.inbound.ingest import ingest
from worker.leads.colleagues import colleagues
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch, stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.store import events
from worker.store.models import (
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    ReviewItem,
    Suppression,
    Touch,
)
from worker.vocabulary import EventKind, LeadStatus

ingest_module = importlib.import_module("worker.inbound.ingest")
CORPUS = Path(__file__).parent / "corpus" / "messages"
COLUMNS = "email,first_name,last_name,company,stage,timezone,country"
LEADS = [
    "ada@northwind.test,Ada,Winter,Northwind,prospecting,Europe/London,GB",
    "ben@northwind.test,Ben,Stone,Northwind,prospecting,Europe/London,GB",
    "cleo@northwind.test,Cleo,Park,Northwind,prospecting,Europe/London,GB",
    "dora@brauhaus.test,Dora,Lang,Brauhaus,prospecting,Europe/Berlin,DE",
    "emil@alpenwerk.test,Emil,Berg,Alpenwerk,prospecting,Europe/Berlin,DE",
    "fay@kontor.test,Fay,Nord,Kontor,prospecting,Europe/Berlin,DE",
]


def _corpus(kind: str, n: int = 0) -> bytes:
    return sorted((CORPUS / kind).glob("*.eml"))[n].read_bytes()


def _answering(raw: bytes, message_id: str, touch_id: str | None, sender: str | None) -> bytes:
    """``raw`` with a fresh Message-ID, answering ``touch_id``, from ``sender`` when given."""
    head, sep, body = re.split(rb"(\r?\n\r?\n)", raw, maxsplit=1)
    dropped = {b"message-id", b"in-reply-to", b"references"} | ({b"from"} if sender else set())
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() in dropped
        if not dropping:
            kept.append(line)
    added = [f"Message-ID: {message_id}".encode()]
    if touch_id:
        added += [f"In-Reply-To: {touch_id}".encode(), f"References: {touch_id}".encode()]
    if sender:
        added.append(f"From: <{sender}>".encode())
    return b"\n".join(added + kept) + sep + body


def _project(root: Path, database_url: str) -> Runtime:
    home = copy_project(root / "project")
    csv = root / "leads.csv"
    csv.write_text("\n".join([COLUMNS, *LEADS]) + "\n", encoding="utf-8")
    runtime = Runtime.from_settings(make_settings(home, database_url), VirtualClock(START))
    set_runtime(runtime)
    import_leads(runtime.sessions, csv, runtime.clock, runtime.catalog)
    run_batch(runtime)
    stop_embedded_workers()
    assert isinstance(runtime.clock, VirtualClock)
    runtime.clock.advance(timedelta(days=1))
    return runtime


def _maildir(root: Path, runtime: Runtime) -> Path:
    """Replies that meet in one batch: a lead answering twice (the second finds the first's
    review item), three soft bounces of one lead (the third suppresses it), a positive reply
    whose colleagues a question already flagged, an unsubscribe, a stranger, a referral
    from an address without a reference."""
    with runtime.sessions() as session:
        touch = dict(
            session.execute(
                sa.select(Lead.email, Touch.message_id).join(Touch, Touch.lead_id == Lead.id)
            ).all()
        )
    replies = [
        (_corpus("question"), "ben@northwind.test", None),
        (_corpus("question", 1), "ada@northwind.test", None),
        (_corpus("bounce_soft"), "dora@brauhaus.test", None),
        (_corpus("positive"), "ada@northwind.test", None),
        (_corpus("bounce_soft", 1), "dora@brauhaus.test", None),
        (_corpus("question", 2), "ada@northwind.test", None),
        (_corpus("bounce_soft", 2), "dora@brauhaus.test", None),
        (_corpus("unsubscribe"), "emil@alpenwerk.test", None),
        (_corpus("negative"), None, "nobody@elsewhere.test"),
        (_corpus("ooo"), "fay@kontor.test", None),
        (_corpus("referral"), "cleo@northwind.test", "cleo@northwind.test"),
    ]
    folder = root / "maildir"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    for n, (raw, lead, sender) in enumerate(replies):
        data = _answering(raw, f"<batch-{n}@client.test>", touch.get(lead or ""), sender)
        (folder / "new" / f"{n:03d}.eml").write_bytes(data)
    return folder


def _rows(session: Session) -> list[tuple[Any, ...]]:
    """Every row ingest writes, in id order, without ids and times."""
    rows: list[tuple[Any, ...]] = []
    for row in session.execute(
        sa.select(Lead.email, Lead.stage, Lead.status).order_by(Lead.id)
    ).all():
        rows.append(("lead", *row))
    queries = [
        sa.select(Enrollment.lead_id, Enrollment.sequence, Enrollment.status, Enrollment.resume_at),
        sa.select(Touch.lead_id, Touch.step_index, Touch.status, Touch.available_at),
        sa.select(Event.lead_id, Event.kind, Event.cause, Event.sequence, Event.detail),
        sa.select(ReviewItem.lead_id, ReviewItem.reason, ReviewItem.priority, ReviewItem.due_at),
        sa.select(InboundMessage.lead_id, InboundMessage.status, InboundMessage.intent),
        sa.select(Suppression.value, Suppression.reason),
    ]
    for query in queries:
        table = query.get_final_froms()[0]
        for row in session.execute(query.order_by(table.c.id)).all():
            values = tuple(row)
            if table.name == "events":  # a sent email's Message-ID is random
                detail = {k: v for k, v in values[-1].items() if k != "message_id"}
                values = (*values[:-1], detail)
            rows.append((table.name, *values))
    return rows


def _ingested(root: Path, database_url: str, one_by_one: bool, monkeypatch: Any) -> list[Any]:
    runtime = _project(root, database_url)
    try:
        maildir = _maildir(root, runtime)
        with monkeypatch.context() as patch:
            if one_by_one:  # every batch "fails": each message alone, the database asked
                patch.setattr(ingest_module, "_process_batch", _fail)
            report = ingest(runtime, str(maildir))
        assert report.stored == 11
        with runtime.sessions() as session:
            return _rows(session)
    finally:
        runtime.close()
        set_runtime(None)


def _fail(*args: object) -> list[str]:
    raise RuntimeError("one by one")


def test_a_batch_decides_what_one_message_at_a_time_decides(
    tmp_path: Path, database_url: str, stub_broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        other_url = f"sqlite:///{tmp_path / 'alone.db'}"
        batched = _ingested(tmp_path / "a", database_url, False, monkeypatch)
        alone = _ingested(tmp_path / "b", other_url, True, monkeypatch)
    else:
        batched = _ingested(tmp_path / "a", database_url, False, monkeypatch)
        with postgres_schema() as other_url:
            alone = _ingested(tmp_path / "b", other_url, True, monkeypatch)
    assert batched == alone
    kinds = [row[2] for row in batched if row[0] == "events"]
    assert kinds.count("flagged") >= 4  # the replies above did reach the rules
    assert ("suppressions", "dora@brauhaus.test", "bounce") in batched  # third soft bounce
    items = [(row[1], row[2]) for row in batched if row[0] == "review_items"]
    assert len(items) == len(set(items)), "one open item per lead and reason"


def test_colleagues_count_the_sessions_own_statuses(runtime: Runtime) -> None:
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for n, (email, status) in enumerate(
            [
                ("ada@northwind.test", LeadStatus.ACTIVE),
                ("ben@northwind.test", LeadStatus.ACTIVE),
                ("cleo@northwind.test", LeadStatus.COMPLETED),
                ("dan@sub.northwind.test", LeadStatus.ACTIVE),
                ("eve@northwind.test.example", LeadStatus.ACTIVE),
                ("finn@northwind.test", LeadStatus.PAUSED),
            ]
        ):
            session.add(Lead(id=n + 1, email=email, status=status, created_at=at, updated_at=at))
    with runtime.sessions.begin() as session:
        ada, ben, cleo = (session.get(Lead, n) for n in (1, 2, 3))
        assert ada is not None
        assert ben is not None
        assert cleo is not None
        assert [c.email for c in colleagues(session, ada)] == [
            "ben@northwind.test",
            "finn@northwind.test",
        ]
        ben.status = LeadStatus.STOPPED  # changed in the session, not written yet
        cleo.status = LeadStatus.NEEDS_REVIEW
        found = [c.email for c in colleagues(session, ada)]
        assert found == ["cleo@northwind.test", "finn@northwind.test"]
        assert session.dirty  # and still not written: the query did not flush


def test_buffered_events_are_written_in_order_when_the_block_ends(runtime: Runtime) -> None:
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        session.add(Lead(id=1, email="ada@northwind.test", created_at=at, updated_at=at))
    count = sa.select(sa.func.count(Event.id))
    with runtime.sessions.begin() as session:
        with events.buffered(session):
            events.record(session, EventKind.PAUSED, at=at, lead_id=1, cause="first")
            events.record(session, EventKind.FLAGGED, at=at, lead_id=1, cause="second")
            assert session.scalar(count) == 0  # kept until the block ends
            events.flush_buffered(session)
            assert session.scalar(count) == 2
            events.record(session, EventKind.RESUMED, at=at, lead_id=1, cause="third")
        causes = session.scalars(sa.select(Event.cause).order_by(Event.id)).all()
        assert causes == ["first", "second", "third"]
    with runtime.sessions() as session:
        with pytest.raises(RuntimeError):
            _record_then_fail(session, at)
        assert session.scalar(count) == 3  # nothing written for the failed block
        events.record(session, EventKind.PAUSED, at=at, lead_id=1, cause="at once")
        assert session.scalar(count) == 4  # no block: written at once


def _record_then_fail(session: Session, at: Any) -> None:
    with events.buffered(session):
        events.record(session, EventKind.PAUSED, at=at, lead_id=1, cause="dropped")
        raise RuntimeError("the batch failed")
