"""End to end, as a team runs it: touches go out over SMTP, replies come back over IMAP,
the right action happens, and no touch is sent after a reply — also when the reply arrives
while the next touch already sits in the Redis queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from tests.conftest import REDIS_URL, START
from tests.delivery_support import (
    BIN,
    Sink,
    cli_json,
    process_env,
    running_sink,
    start,
    stop,
    wait_until,
)
from tests.imap_support import ImapAccount
from worker.store.models import Lead, Touch

pytestmark = pytest.mark.slow

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


def _two_leads(project: Path) -> Path:
    lines = (project / "examples" / "leads.csv").read_text(encoding="utf-8").splitlines()
    chosen = [lines[0], *(line for line in lines if line.startswith((ADA, KLAUS)))]
    path = project / "two-leads.csv"
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


def _reply(
    to: EmailMessage, sender: str, subject: str, body: str, when: datetime, **headers: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(to["From"])
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<reply-{when.timestamp():.0f}@{sender.rsplit('@', 1)[-1]}>"
    msg["In-Reply-To"] = str(to["Message-ID"])
    msg["References"] = str(to["Message-ID"])
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    quoted = "\n".join(
        "> " + line for line in str(to.get_body(("plain",)).get_content()).splitlines()
    )
    msg.set_content(f"{body}\n\nOn {to['Date']}, {to['From']} wrote:\n{quoted}\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def _sent_to(sink: Sink, address: str) -> list[EmailMessage]:
    with sink.lock:
        pairs = list(zip(sink.envelopes, sink.messages, strict=True))
    return [m for (_, rcpts), m in pairs if address in rcpts]  # type: ignore[misc]


def _touch_statuses(database_url: str, email: str) -> list[tuple[int, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Touch.step_index, Touch.status)
                .join(Lead, Lead.id == Touch.lead_id)
                .where(Lead.email == email)
                .order_by(Touch.step_index)
            ).all()
        return [(int(step), str(status)) for step, status in rows]
    finally:
        engine.dispose()


def test_replies_over_imap_stop_the_sequence_even_with_the_next_touch_queued(
    project: Path,
    postgres_url: str,
    sink: Sink,
    imap: ImapAccount,
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    leads = _two_leads(project)

    def env(at: datetime, **extra: str) -> dict[str, str]:
        return process_env(
            project, postgres_url, sink.url, at, OUTREACH_INBOX_URL=imap.url("INBOX"), **extra
        )

    # Day 0: both leads get the intro over SMTP.
    imported = cli_json(["leads", "import", str(leads)], env(START), project)
    assert imported["enrolled"] == 2
    first = cli_json(["run"], env(START), project)
    assert first["totals"]["sent"] == 2
    [intro_ada] = _sent_to(sink, ADA)
    assert len(_sent_to(sink, KLAUS)) == 1

    # Ada answers yes; the reply lands in the IMAP inbox.
    imap.append(
        _reply(
            intro_ada,
            f"Ada Winter <{ADA}>",
            f"Re: {intro_ada['Subject']}",
            "Sounds good — could you send me a calendar invite for a call next Tuesday?",
            START + timedelta(hours=3),
        )
    )

    # Day 5: the run reads the inbox first; Ada gets nothing more, Klaus gets step 2.
    day5 = START + timedelta(days=5)
    second = cli_json(["run"], env(day5), project)
    assert (second["inbox"]["stored"], second["inbox"]["statuses"]) == (1, {"positive": 1}), second
    assert second["totals"]["sent"] == 1
    assert len(_sent_to(sink, ADA)) == 1
    assert len(_sent_to(sink, KLAUS)) == 2
    ada = cli_json(["leads", "show", ADA], env(day5), project)
    assert (ada["stage"], ada["status"]) == ("qualification", "needs_review")
    assert ada["replies"][0]["intent"] == "positive"
    queue = cli_json(["review", "list"], env(day5), project)
    assert [(i["lead"], i["reason"], i["hot"]) for i in queue] == [(ADA, "hot_lead", True)]

    # Day 14: step 3 for Klaus is enqueued on Redis, but no worker is running yet.
    day14 = START + timedelta(days=14)
    redis_env = env(day14, REDIS_URL=REDIS_URL, OUTREACH_REDIS_NAMESPACE=redis_namespace)
    third = cli_json(["run"], redis_env, project)
    assert (third["enqueued"], third["totals"].get("sent", 0)) == (1, 0), third
    assert _touch_statuses(postgres_url, KLAUS)[-1] == (2, "queued")

    # Klaus's out-of-office arrives while the touch waits in the queue.
    [_, bump_klaus] = _sent_to(sink, KLAUS)
    back = (day14 + timedelta(days=7)).date()
    imap.append(
        _reply(
            bump_klaus,
            f"Klaus Müller <{KLAUS}>",
            f"Abwesenheitsnotiz: {bump_klaus['Subject']}",
            f"Vielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und ab dem "
            f"{back:%d.%m.%Y} wieder erreichbar.",
            day14 + timedelta(minutes=5),
            Auto_Submitted="auto-replied",
        )
    )
    fetched = cli_json(["inbox", "fetch"], redis_env, project)
    assert (fetched["stored"], fetched["statuses"]) == (1, {"ooo": 1}), fetched

    # Now a worker takes the queued touch: it must be skipped, not sent.
    worker = start(
        [str(BIN / "dramatiq"), "worker.actors", "--processes", "1", "--threads", "1"],
        redis_env,
        project,
        log=tmp_path / "worker.log",
    )
    try:
        wait_until(
            lambda: _touch_statuses(postgres_url, KLAUS)[-1] == (2, "skipped"),
            60,
            "the queued touch to be skipped by the worker",
        )
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()
    assert len(_sent_to(sink, KLAUS)) == 2
    klaus = cli_json(["leads", "show", KLAUS], env(day14), project)
    assert klaus["status"] == "paused"
    assert klaus["replies"][0]["intent"] == "ooo"
    assert klaus["replies"][0]["return_date"] == back.isoformat()

    # After the return date the sequence resumes at the same step, once.
    returned = datetime.combine(back, START.timetz()) + timedelta(hours=1)
    resumed = cli_json(["run"], env(returned), project)
    assert resumed["totals"]["sent"] == 1
    assert len(_sent_to(sink, KLAUS)) == 3
    assert _touch_statuses(postgres_url, KLAUS)[-1] == (2, "sent")
    again = cli_json(["run"], env(returned + timedelta(hours=1)), project)
    assert again["totals"].get("sent", 0) == 0
    assert len(_sent_to(sink, ADA)) == 1


def _three_leads(project: Path) -> Path:
    """Ada, Klaus and Tom, Ada's colleague at Northwind Traders (same domain)."""
    lines = (project / "examples" / "leads.csv").read_text(encoding="utf-8").splitlines()
    ada = next(line for line in lines if line.startswith(ADA))
    tom = ada.replace(f"{ADA},Ada,Winter", f"{TOM},Tom,Reed", 1)
    chosen = [lines[0], ada, tom, *(line for line in lines if line.startswith(KLAUS))]
    path = project / "three-leads.csv"
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


TOM = "tom.reed@northwind.test"


def test_a_later_reply_waits_for_its_day_and_a_yes_pauses_the_colleagues_over_imap(
    project: Path, postgres_url: str, sink: Sink, imap: ImapAccount
) -> None:
    leads = _three_leads(project)

    def env(at: datetime) -> dict[str, str]:
        return process_env(
            project, postgres_url, sink.url, at, OUTREACH_INBOX_URL=imap.url("INBOX")
        )

    assert cli_json(["leads", "import", str(leads)], env(START), project)["enrolled"] == 3
    assert cli_json(["run"], env(START), project)["totals"]["sent"] == 3
    [intro_ada], [intro_klaus] = _sent_to(sink, ADA), _sent_to(sink, KLAUS)
    imap.append(
        _reply(
            intro_ada,
            f"Ada Winter <{ADA}>",
            f"Re: {intro_ada['Subject']}",
            "Sounds good, let's talk. Tuesday afternoon works for me.",
            START + timedelta(hours=2),
        ),
        _reply(
            intro_klaus,
            f"Klaus Müller <{KLAUS}>",
            f"AW: {intro_klaus['Subject']}",
            "Hallo Frau Fischer,\n\ngrundsätzlich interessant, aber wir stecken bis Ende "
            "Februar in der ERP-Umstellung. Melden Sie sich bitte im März wieder.\n\nGruß\nKlaus",
            START + timedelta(hours=3),
        ),
    )

    # Day 7: Ada advances; Tom, her colleague, is paused and goes to the rep; Klaus waits.
    day7 = START + timedelta(days=7)
    week = cli_json(["run"], env(day7), project)
    assert week["inbox"]["statuses"] == {"positive": 1, "later": 1}, week
    assert week["totals"].get("sent", 0) == 0
    tom = cli_json(["leads", "show", TOM], env(day7), project)
    assert tom["status"] == "needs_review"
    klaus = cli_json(["leads", "show", KLAUS], env(day7), project)
    assert klaus["status"] == "paused"
    assert klaus["replies"][0]["intent"] == "later"
    assert klaus["replies"][0]["return_date"] == "2027-03-01"
    queue = {i["reason"]: i["lead"] for i in cli_json(["review", "list"], env(day7), project)}
    assert (queue["colleague_replied"], queue["reply_later"]) == (TOM, KLAUS)

    # 1 March: Klaus's sequence resumes at the step it stopped at; Tom stays with the rep.
    march = datetime(2027, 3, 1, 10, 0, tzinfo=START.tzinfo)
    resumed = cli_json(["run"], env(march), project)
    assert resumed["totals"]["sent"] == 1, resumed
    assert len(_sent_to(sink, KLAUS)) == 2
    assert len(_sent_to(sink, TOM)) == 1
    assert len(_sent_to(sink, ADA)) == 1
