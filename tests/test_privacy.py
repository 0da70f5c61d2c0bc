"""Data-protection requests on SQLite and PostgreSQL: a person with a full history (imported,
mailed by a batch, a click, a reply read and flagged, named in a colleague's referral and a
rep's note) is exported as one JSON document and erased; afterwards no column of any table of
the live database holds their address, name or phone, and their address is refused by an
import, a capture and the send-time rule. Raw mail retention clears only old processed mail."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import START, make_settings
from tests.tracking_support import TRACKED_LINK, add_tracked_sequence, parts
from tests.web_support import PASSWORD, sign_in, web_app
from worker.clock import VirtualClock
from worker.errors import NotFoundError
from worker.inbound.ingest import ingest
from worker.leads.addresses import erased_key, suppressed_values
from worker.leads.capture import capture_lead
from worker.leads.importing import import_leads
from worker.privacy import export, lead_tables
from worker.privacy.retention import purge_raw
from worker.processes.batch import run_batch
from worker.review.reps import add_rep
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime, set_runtime
from worker.store.models import (
    Erasure,
    Event,
    InboundMessage,
    Lead,
    Notification,
    ReviewItem,
    Suppression,
    Touch,
    WebhookDelivery,
)

PERSON = "ada.lovelace@northwind.test"
COLLEAGUE = "bob.byte@northwind.test"
PHONE = "+44 20 7946 0001"
PROFILE = "https://linkedin.example/in/ada-lovelace-1815"
# What identifies the person, searched for in every column after the erasure.
IDENTIFYING = (PERSON, "Ada Lovelace", "Lovelace, Ada", PHONE, PROFILE)
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
# Ada's ``referred_by`` names her colleague: his address is his, and stays.
LEADS_CSV = (
    "email,first_name,last_name,company,phone,linkedin,referred_by\n"
    f"{PERSON},Ada,Lovelace,Northwind Traders,{PHONE},{PROFILE},{COLLEAGUE}\n"
    f"{COLLEAGUE},Bob,Byte,Northwind Traders,,,\n"
)


def _reply(runtime: Runtime, project: Path, touch: Touch, sender: str, text: str) -> None:
    """A real reply to ``touch`` from ``sender``, ingested: stored raw, matched, classified."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales@northwind-analytics.example"
    message["Subject"] = f"Re: {touch.subject}"
    message["Message-ID"] = f"<{touch.id}-reply@northwind.test>"
    message["In-Reply-To"] = touch.message_id
    message["Date"] = format_datetime(runtime.clock.now())
    message.set_content(text)
    path = project / f"reply-{touch.id}.eml"
    path.write_bytes(bytes(message))
    ingest(runtime, str(path))


def _history(runtime: Runtime, project: Path, clock: VirtualClock) -> None:
    """The person's history, through the product's own paths."""
    add_tracked_sequence(project, clicks=True)
    (project / "people.csv").write_text(LEADS_CSV, encoding="utf-8")
    import_leads(
        runtime.sessions, project / "people.csv", runtime.clock, runtime.catalog, sequence="tracked"
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        touches = dict(
            session.execute(select(Lead.email, Touch).join(Touch, Touch.lead_id == Lead.id)).all()
        )
        session.expunge_all()
    assert touches[PERSON].status == "sent", touches[PERSON].last_error
    clock.advance(timedelta(minutes=5))
    emails = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (project / "outbox").rglob("*.eml")
    ]
    [email] = [e for e in emails if PERSON in str(e["To"])]
    assert isinstance(email, EmailMessage)
    link = TRACKED_LINK.findall(parts(email)[0])[0]
    clicked = (
        web_app(runtime)
        .test_client()
        .get(link.removeprefix(runtime.settings.public_url), headers={"User-Agent": CHROME})
    )
    assert clicked.status_code == 302
    _reply(
        runtime,
        project,
        touches[PERSON],
        f"Ada Lovelace <{PERSON}>",
        f"Sounds interesting. Can we talk on Thursday? Call me on {PHONE}.\n\nBest,\nAda Lovelace",
    )
    _reply(
        runtime,
        project,
        touches[COLLEAGUE],
        f"Bob Byte <{COLLEAGUE}>",
        "I'm not the right person for this. Please talk to my colleague Ada Lovelace\n"
        f"({PERSON}), she runs sales operations here.\n\nBob",
    )
    with runtime.sessions() as session:
        referral = session.scalar(
            select(ReviewItem.id)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(Lead.email == COLLEAGUE)
        )
        flagged = session.scalar(
            select(ReviewItem.id)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(Lead.email == PERSON)
        )
    assert referral is not None
    assert flagged is not None
    resolve_now(runtime, referral, "add-referral", note=f"Ada Lovelace decides; {PHONE}")
    resolve_now(runtime, flagged, "stop", note="Called her back")  # kept for undo
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:  # an integration's rows about her
        lead_id = session.scalar(select(Lead.id).where(Lead.email == PERSON))
        event_id = session.scalar(select(Event.id).where(Event.lead_id == lead_id).limit(1))
        body = json.dumps({"lead": {"email": PERSON, "name": "Ada Lovelace"}})
        session.add(
            WebhookDelivery(
                subscription="crm",
                key=f"event:{event_id}",
                event="lead.replied",
                event_id=event_id,
                lead_id=None,
                body=body,
                status="pending",
                created_at=now,
            )
        )
        session.add(
            Notification(
                key="hot:1",
                rep="rita",
                channel="email",
                kind="hot_lead",
                lead_id=lead_id,
                subject="Hot lead: Ada Lovelace",
                text=body,
                status="pending",
                created_at=now,
            )
        )


def _every_value(runtime: Runtime) -> list[tuple[str, str, str]]:
    """(table, column, text) of every non-empty value of every table of the live database."""
    found = []
    with runtime.sessions() as session:
        conn = session.connection()
        for table in inspect(conn).get_table_names():
            result = conn.exec_driver_sql(f'SELECT * FROM "{table}"')
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        text = bytes(value).decode("latin-1")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    found.append((table, column, text))
    return found


def _identifying(values: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    patterns = [re.compile(r"\s+".join(map(re.escape, t.split())), re.I) for t in IDENTIFYING]
    return [
        (table, column, term.pattern)
        for table, column, text in values
        for term in patterns
        if term.search(text)
    ]


def test_a_person_is_exported_whole_then_erased_from_every_column_and_stays_refused(
    runtime: Runtime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    _history(runtime, project, clock)
    assert {table for table, _, _ in _identifying(_every_value(runtime))} >= {
        "leads",
        "inbound_messages",
        "events",
        "review_items",
    }
    invoke = make_invoke(project, database_url)
    try:
        exported = invoke("leads", "export", PERSON, "--out", str(project / "ada.json"))
        assert exported.exit_code == 0, exported.output
        document = json.loads((project / "ada.json").read_text(encoding="utf-8"))
        with runtime.sessions() as session:
            named_by_lead = {
                table
                for table in inspect(session.connection()).get_table_names()
                if "lead_id"
                in {c["name"] for c in inspect(session.connection()).get_columns(table)}
            }
        assert set(document["tables"]) >= named_by_lead  # a new table is exported, or this fails
        assert {t.name for t in lead_tables()} == named_by_lead
        assert document["lead"]["fields"]["phone"] == PHONE
        [sent] = document["emails_sent"]
        assert sent["text"].startswith("Hi Ada,")
        assert sent["subject"]
        assert sent["message_id"]
        [received] = document["emails_received"]
        assert received["intent"] == "positive"
        assert PHONE in received["raw"]
        assert ["From", f"Ada Lovelace <{PERSON}>"] in received["headers"]
        for table in ("events", "review_items", "clicks", "enrollments", "touches"):
            assert document["tables"][table], table
        assert {m["table"] for m in document["mentioned_in"]} >= {"events", "inbound_messages"}

        erased = invoke("leads", "erase", PERSON, "--as", "rita", "--json", input="y\n")
        assert erased.exit_code == 0, erased.output
        question, answer = erased.output.split("[y/N]: ", 1)
        assert f"Erase everything held about {PERSON}?" in question
        report = json.loads(answer[answer.index("{") :])
        assert report["deleted"]["leads"] == 1
        assert report["deleted"]["inbound_messages"] == 1
        assert report["scrubbed"]["inbound_messages"] == 1  # the colleague's referral
        for table in ("resolution_undo", "webhook_deliveries", "notifications", "clicks"):
            assert report["deleted"][table] >= 1, table  # found from the schema, not a list

        assert _identifying(_every_value(runtime)) == []
        with runtime.sessions() as session:
            assert session.scalar(select(Lead.email).where(Lead.email == COLLEAGUE))
            referral = session.scalar(select(Event).where(Event.kind == "referral_added"))
            assert referral is not None
            assert referral.detail["referred"] == "[erased]"
            colleague_reply = session.scalar(
                select(InboundMessage).where(InboundMessage.from_address == COLLEAGUE)
            )
            assert colleague_reply is not None
            assert colleague_reply.raw == b""
            assert "colleague [erased]" in (colleague_reply.reply_text or "")
            [erasure] = session.scalars(select(Erasure)).all()
            assert (erasure.erased_by, erasure.address_hash) == ("rita", erased_key(PERSON))
            assert session.scalar(select(Event.kind).where(Event.kind == "lead_erased"))
            assert (
                session.scalar(
                    select(Suppression.reason).where(Suppression.value == erased_key(PERSON))
                )
                == "erasure"
            )
            assert suppressed_values(session, [PERSON, COLLEAGUE]) == {PERSON}

        again = import_leads(
            runtime.sessions, project / "people.csv", runtime.clock, runtime.catalog
        )
        assert [str(e) for e in again.errors] == [
            f"people.csv:2: {PERSON} was erased at the person's request and is suppressed — "
            "it is never imported again; remove the row"
        ]
        assert (again.created, again.updated) == (0, 1)
        with runtime.sessions.begin() as session:
            captured = capture_lead(
                session,
                runtime.catalog,
                {"email": PERSON.upper()},
                sequence="tracked",
                at=runtime.clock.now(),
                source="form",
            )
            assert captured.accepted
            assert captured.erased
            assert captured.lead_id is None
            assert session.scalar(select(Lead.id).where(Lead.email == PERSON)) is None
        with runtime.sessions() as session, pytest.raises(NotFoundError, match="Nothing is held"):
            export(session, PERSON, at=runtime.clock.now())
    finally:
        reset_cli_runtime()


def test_raw_mail_retention_clears_only_old_processed_messages(
    runtime: Runtime, project: Path, clock: VirtualClock
) -> None:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for key, processed in (("old", now - timedelta(days=40)), ("new", now), ("waiting", None)):
            session.add(
                InboundMessage(
                    dedupe_key=key,
                    source="test",
                    received_at=now - timedelta(days=41),
                    raw=b"Subject: hello\r\n\r\nbody",
                    size=24,
                    status="processed" if processed else "failed",
                    subject="hello",
                    processed_at=processed,
                )
            )
    assert purge_raw(runtime.sessions, older_than_days=30, now=now) == 1
    assert purge_raw(runtime.sessions, older_than_days=30, now=now) == 0
    with runtime.sessions() as session:
        kept = {m.dedupe_key: (m.raw, m.subject) for m in session.scalars(select(InboundMessage))}
    assert kept == {
        "old": (b"", "hello"),
        "new": (b"Subject: hello\r\n\r\nbody", "hello"),
        "waiting": (b"Subject: hello\r\n\r\nbody", "hello"),
    }


def test_run_and_purge_raw_clear_old_raw_mail_as_the_setting_or_the_option_says(
    project: Path, sqlite_url: str, stub_broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = b"Subject: hello\r\n\r\nbody"
    now = START  # the command line's OUTREACH_NOW
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), VirtualClock(now))
    processed_ago = {"old": 40, "month": 20, "recent": 1, "waiting": None}
    with runtime.sessions.begin() as session:
        for key, days in processed_ago.items():
            session.add(
                InboundMessage(
                    dedupe_key=key,
                    source="test",
                    received_at=now - timedelta(days=60),
                    raw=raw,
                    size=len(raw),
                    status="processed" if days is not None else "failed",
                    subject="hello",
                    processed_at=None if days is None else now - timedelta(days=days),
                )
            )

    def raw_kept() -> set[str]:
        with runtime.sessions() as session:
            rows = session.execute(select(InboundMessage.dedupe_key, InboundMessage.raw)).all()
        return {key for key, body in rows if body == raw}

    invoke = make_invoke(project, sqlite_url)
    monkeypatch.delenv("OUTREACH_RAW_MAIL_RETENTION_DAYS", raising=False)
    try:
        refused = invoke("inbox", "purge-raw")
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines() == [
            "Error: No retention set — give --older-than DAYS or set "
            "OUTREACH_RAW_MAIL_RETENTION_DAYS."
        ]
        assert raw_kept() == set(processed_ago)
        reset_cli_runtime()

        purged = invoke("inbox", "purge-raw", "--older-than", "30")
        assert purged.exit_code == 0, purged.output
        assert "cleared the raw mail of 1 message(s) processed more than 30 days ago" in (
            purged.stdout
        )
        assert raw_kept() == {"month", "recent", "waiting"}
        reset_cli_runtime()

        monkeypatch.setenv("OUTREACH_RAW_MAIL_RETENTION_DAYS", "10")
        batch = invoke("run", "--json")
        assert batch.exit_code == 0, batch.output
        assert json.loads(batch.stdout)["raw_mail_cleared"] == 1
        assert raw_kept() == {"recent", "waiting"}  # recent, and not processed yet
        reset_cli_runtime()
        again = invoke("run", "--json")
        assert json.loads(again.stdout)["raw_mail_cleared"] == 0
    finally:
        reset_cli_runtime()
        runtime.close()


@pytest.fixture
def sqlite_runtime(project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any) -> Any:
    """The web test's runtime: SQLite only (the database contract above runs on both)."""
    rt = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(rt)
    yield rt
    rt.close()
    set_runtime(None)


def test_only_an_admin_exports_or_erases_from_the_lead_page_after_typing_the_address(
    sqlite_runtime: Runtime, project: Path
) -> None:
    runtime = sqlite_runtime
    (project / "people.csv").write_text(LEADS_CSV, encoding="utf-8")
    import_leads(
        runtime.sessions, project / "people.csv", runtime.clock, runtime.catalog, enroll=False
    )
    with runtime.sessions.begin() as session:
        add_rep(session, "ana", PASSWORD, at=runtime.clock.now(), role="admin")
        add_rep(session, "rita", PASSWORD, at=runtime.clock.now(), role="rep")
        lead_id = session.scalar(select(Lead.id).where(Lead.email == PERSON))
    page, export_url, erase_url = (
        f"/leads/{lead_id}",
        f"/leads/{lead_id}/export.json",
        f"/leads/{lead_id}/erase",
    )

    rep = web_app(runtime).test_client()
    token = sign_in(rep, "rita")
    assert "Erase this person" not in rep.get(page).get_data(as_text=True)
    assert rep.get(export_url).status_code == 403
    assert rep.get(erase_url).status_code == 403
    assert rep.post(erase_url, data={"csrf_token": token, "confirm": PERSON}).status_code == 403

    admin = web_app(runtime).test_client()
    token = sign_in(admin, "ana")
    shown = admin.get(page).get_data(as_text=True)
    assert "Export data (JSON)" in shown
    assert "Erase this person" in shown
    exported = admin.get(export_url)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    assert exported.get_json()["lead"]["email"] == PERSON
    assert PERSON in admin.get(erase_url).get_data(as_text=True)
    wrong = admin.post(erase_url, data={"csrf_token": token, "confirm": COLLEAGUE})
    assert wrong.status_code == 422
    with runtime.sessions() as session:
        assert session.get(Lead, lead_id) is not None  # nothing erased
    done = admin.post(erase_url, data={"csrf_token": token, "confirm": f" {PERSON.upper()} "})
    assert done.status_code == 302
    assert "Erased:" in admin.get(done.headers["Location"]).get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(Lead, lead_id) is None
        assert session.scalar(select(Erasure.erased_by)) == "ana"
    assert admin.get(page).status_code == 404
