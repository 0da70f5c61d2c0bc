"""Owners and people: reps with a full name, email, time zone and role; leads owned by rule,
by import column or by hand; work for an owned lead goes to its owner; "Mine" first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import select, text

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import make_settings
from tests.web_support import PASSWORD, add_test_rep, sign_in, web_app
from worker.authoring.mailboxes import load_mailboxes
from worker.errors import ConfigError
from worker.leads.flags import HOT, flag
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch, stop_embedded_workers
from worker.review.reps import add_rep, update_rep
from worker.runtime import Runtime, set_runtime
from worker.store import events
from worker.store.db import alembic_config, make_engine, migrate
from worker.store.models import Event, Lead, Rep, ReviewItem
from worker.vocabulary import EventKind, ReviewReason
from worker.web.times import zone_abbreviation

POOL_RULE = """
pools:
  northwind:
    mailboxes: [sales, success]
    owners: [rita, sam]
"""


@pytest.fixture
def web_runtime(project: Path, sqlite_url: str, clock: Any, stub_broker: Any) -> Iterator[Runtime]:
    """A runtime on SQLite only: the web checks need no second database."""
    rt = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(rt)
    yield rt
    stop_embedded_workers()
    rt.close()
    set_runtime(None)


# --- the reps command line --------------------------------------------------------------


def test_reps_are_added_changed_and_listed_with_name_email_zone_and_role(
    project: Path, sqlite_url: str
) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        first = invoke("reps", "add", "rita", "--password-stdin", input=PASSWORD + "\n")
        assert first.exit_code == 0, first.output
        assert "as admin" in first.output  # the first account manages the others
        added = invoke(
            "reps", "add", "sam", "--full-name", "Sam  Lee", "--email", "sam@example.com",
            "--timezone", "America/New_York", "--password-stdin", input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "as rep" in added.output
        zone = invoke("reps", "add", "tom", "--timezone", "Mars/Base", "--password-stdin")
        assert zone.exit_code == 1
        assert zone.output.strip().splitlines() == [
            "Error: Time zone 'Mars/Base' is not known — use an IANA name such as "
            "'Europe/Berlin' or 'America/New_York'."
        ]
        role = invoke("reps", "set", "sam", "--role", "boss")
        assert role.exit_code == 1
        assert role.output.strip() == "Error: Role 'boss' is not known — use 'admin' or 'rep'."
        alone = invoke("reps", "set", "rita", "--role", "rep")
        assert alone.exit_code == 1
        assert "only admin" in alone.output
        changed = invoke("reps", "set", "sam", "--timezone", "Asia/Tokyo", "--role", "admin")
        assert changed.exit_code == 0, changed.output
        rows = json.loads(invoke("reps", "list", "--json").output)
        by_name = {row["name"]: row for row in rows}
        assert by_name["sam"] | {"created_at": None, "password_changed_at": None} == {
            "name": "sam",
            "full_name": "Sam Lee",
            "email": "sam@example.com",
            "timezone": "Asia/Tokyo",
            "role": "admin",
            "created_at": None,
            "password_changed_at": None,
            "open_items": 0,
        }
        assert (by_name["rita"]["role"], by_name["rita"]["timezone"]) == ("admin", "UTC")
    finally:
        reset_cli_runtime()


def test_the_migration_makes_every_existing_rep_an_admin(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0018")
            conn.commit()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO reps (name, password_hash, created_at, password_changed_at)"
                    " VALUES ('ada', 'x', :t, :t), ('bo', 'y', :t, :t)"
                ),
                {"t": datetime(2027, 1, 4, 9)},
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, role, timezone FROM reps ORDER BY name")).all()
        assert [tuple(row) for row in rows] == [("ada", "admin", "UTC"), ("bo", "admin", "UTC")]
    finally:
        engine.dispose()


# --- owners: by rule, by import column; work goes to the owner ----------------------------


def test_owners_come_from_the_pool_rule_and_the_import_column_and_flags_go_to_them(
    runtime: Runtime, project: Path
) -> None:
    mailboxes = project / "mailboxes.yaml"
    mailboxes.write_text(mailboxes.read_text().split("\npools:")[0] + POOL_RULE, encoding="utf-8")
    sequence = project / "sequences" / "prospecting.yaml"
    sequence.write_text(
        sequence.read_text().replace("mailbox: sales", "mailbox: northwind", 1), encoding="utf-8"
    )
    runtime.__dict__.pop("mailboxes", None)
    runtime.__dict__.pop("catalog", None)
    with runtime.sessions.begin() as session:
        for name in ("rita", "sam"):
            add_rep(session, name, PASSWORD, at=runtime.clock.now())
    csv = project / "owned.csv"
    csv.write_text(
        "email,first_name,stage,owner\n"
        + "".join(f"lead{n}@example.test,L{n},prospecting,\n" for n in range(6))
        + "given@example.test,Given,prospecting,SAM\n"
        + "ghost@example.test,Ghost,prospecting,nobody-here\n",
        encoding="utf-8",
    )

    report = import_leads(runtime.sessions, csv, runtime.clock, runtime.catalog)

    assert [str(error) for error in report.errors] == [
        "owned.csv:9: no rep 'nobody-here' — see 'outreach reps list'"
    ]
    assert (report.created, report.enrollment.enrolled) == (7, 7)
    with runtime.sessions() as session:
        owners = dict(session.execute(select(Lead.email, Lead.owner)).all())
        rule_events = session.scalars(
            select(Event.detail).where(Event.kind == EventKind.OWNER_CHANGED)
        ).all()
    assert owners["given@example.test"] == "sam"  # the column wins over the rule
    by_rule = {email: owner for email, owner in owners.items() if email.startswith("lead")}
    assert set(by_rule.values()) == {"rita", "sam"}  # the pool's owners take turns
    assert len(rule_events) == 7

    # Enrolling again keeps the owner; a flag of an owned lead goes to its owner.
    lead_email = "lead0@example.test"
    with runtime.sessions.begin() as session:
        lead = session.scalars(select(Lead).where(Lead.email == lead_email)).one()
        item_id = flag(
            session, lead.id, ReviewReason.REPLY_POSITIVE, at=runtime.clock.now(), priority=HOT
        )
    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert item is not None
        assert item.assignee == by_rule[lead_email]
        assigned = session.scalars(
            select(Event).where(Event.kind == EventKind.ASSIGNED, Event.lead_id == item.lead_id)
        ).one()
    assert assigned.cause == "owner"
    assert assigned.detail["assignee"] == by_rule[lead_email]
    assert assigned.detail["item"] == item_id


# --- the web app: roles, times in the rep's zone, "Mine" first ------------------------------


def test_a_rep_cannot_manage_reps_and_an_admin_can(web_runtime: Runtime) -> None:
    add_test_rep(web_runtime, "ada")  # the first account: an admin
    add_test_rep(web_runtime, "bo")
    with web_runtime.sessions() as session:
        roles = dict(session.execute(select(Rep.name, Rep.role)).all())
    assert roles == {"ada": "admin", "bo": "rep"}
    app = web_app(web_runtime)

    rep = app.test_client()
    token = sign_in(rep, "bo")
    assert 'href="/reps"' not in rep.get("/queue").text  # the nav hides it
    refused = rep.get("/reps")
    assert refused.status_code == 403
    assert "Only an admin can do this" in refused.text
    form = {"csrf_token": token, "name": "eve", "password": PASSWORD, "timezone": "UTC"}
    assert rep.post("/reps", data=form).status_code == 403
    assert rep.post("/reps/bo", data={"csrf_token": token, "role": "admin"}).status_code == 403
    assert rep.post("/reps/ada/remove", data={"csrf_token": token}).status_code == 403

    admin = app.test_client()
    token = sign_in(admin, "ada")
    page = admin.get("/reps")
    assert page.status_code == 200
    assert 'href="/reps"' in page.text
    bad = admin.post("/reps", data={**form, "csrf_token": token, "timezone": "Nowhere/Land"})
    assert bad.status_code == 400
    assert "Time zone &#39;Nowhere/Land&#39; is not known" in bad.text
    added = admin.post(
        "/reps",
        data={
            **form,
            "csrf_token": token,
            "full_name": "Eve Stone",
            "email": "eve@example.com",
            "timezone": "Europe/Berlin",
            "role": "rep",
        },
    )
    assert added.status_code == 302
    promoted = admin.post(
        "/reps/bo",
        data={"csrf_token": token, "timezone": "Asia/Tokyo", "role": "admin", "full_name": "Bo"},
    )
    assert promoted.status_code == 302
    with web_runtime.sessions() as session:
        eve = session.scalars(select(Rep).where(Rep.name == "eve")).one()
        bo = session.scalars(select(Rep).where(Rep.name == "bo")).one()
    assert (eve.full_name, eve.email, eve.timezone, eve.role) == (
        "Eve Stone",
        "eve@example.com",
        "Europe/Berlin",
        "rep",
    )
    assert (bo.timezone, bo.role) == ("Asia/Tokyo", "admin")
    assert rep.get("/reps").status_code == 200  # bo is an admin now, in the same session
    removed = admin.post("/reps/eve/remove", data={"csrf_token": token, "confirm": "yes"})
    assert removed.status_code == 302
    assert 'href="/reps/eve"' not in admin.get("/reps").text


def test_times_are_shown_in_the_rep_s_zone_and_mine_is_the_default_view(
    web_runtime: Runtime,
) -> None:
    add_test_rep(web_runtime, "ada")
    add_test_rep(web_runtime, "bo")
    at = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    with web_runtime.sessions.begin() as session:
        update_rep(session, "ada", timezone="Europe/Berlin")
        leads = [
            Lead(email=f"{who}@example.test", owner=owner, created_at=at, updated_at=at)
            for who, owner in (("mine", "ada"), ("theirs", "bo"), ("nobodys", None))
        ]
        session.add_all(leads)
        session.flush()
        for lead in leads:
            session.add(
                ReviewItem(
                    lead_id=lead.id,
                    reason=ReviewReason.TASK_CALL,
                    detail=f"call {lead.email} before 2027-01-05 08:00 UTC",
                    assignee=lead.owner,
                    due_at=at,
                    created_at=at,
                )
            )
    client = web_app(web_runtime).test_client()
    sign_in(client, "ada")

    queue = client.get("/queue").text
    assert "call mine@example.test" in queue
    assert "theirs@" not in queue
    assert "nobodys@" not in queue
    assert "2027-01-04 10:30 CET" in queue  # 09:30 UTC in Berlin
    assert "before 2027-01-05 09:00 CET" in queue  # a time inside an item's text too
    assert "UTC" not in queue
    assert 'href="/queue?who=all"' in queue
    assert 'aria-current="true">Mine' in queue
    everyone = client.get("/queue?who=all").text
    assert all(f"call {who}@example.test" in everyone for who in ("mine", "theirs", "nobodys"))
    unassigned = client.get("/queue?who=unassigned&reason=task_call").text
    assert "call nobodys@" in unassigned
    assert "call mine@" not in unassigned

    listed = client.get("/leads").text
    assert "mine@example.test" in listed
    assert "theirs@example.test" not in listed
    assert 'Mine <span class="badge">1</span>' in listed
    assert 'Everyone <span class="badge">3</span>' in listed
    assert 'name="who" value="mine"' in listed  # filtering keeps the choice
    assert "theirs@example.test" in client.get("/leads?who=all").text
    nobody = client.get("/leads?who=unassigned").text
    assert "nobodys@example.test" in nobody
    assert "mine@example.test" not in nobody
    with web_runtime.sessions.begin() as session:
        events.record(
            session,
            EventKind.PAUSED,
            at=at,
            lead_id=leads[0].id,
            cause="rep: ada",
            resume_at="2027-02-01T08:00:00Z",
        )
    page = client.get(f"/leads/{leads[0].id}").text
    assert "2027-01-04 10:30 CET" in page
    assert "until 2027-02-01 09:00 CET" in page  # a time inside a timeline line too
    assert " UTC" not in page


def test_a_zone_without_a_letter_abbreviation_shows_its_offset() -> None:
    moment = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    shown = {
        zone: zone_abbreviation(moment.astimezone(ZoneInfo(zone)))
        for zone in ("America/Sao_Paulo", "Asia/Kathmandu", "America/New_York", "UTC")
    }
    assert shown == {
        "America/Sao_Paulo": "UTC-03",
        "Asia/Kathmandu": "UTC+05:45",
        "America/New_York": "EST",
        "UTC": "UTC",
    }


CALLS = """\
name: calls
stage: prospecting
mailbox: sales
steps:
  - template: prospecting/01_intro
  - type: call
    task: "Call {{ first_name }}"
    wait: 2 days
on_complete:
  after: 0 days
  action: stop
"""


def test_a_call_task_of_an_owned_lead_is_assigned_to_its_owner(
    web_runtime: Runtime, project: Path
) -> None:
    (project / "sequences" / "calls.yaml").write_text(CALLS, encoding="utf-8")
    web_runtime.__dict__.pop("catalog", None)
    add_test_rep(web_runtime, "sam")
    csv = project / "calls.csv"
    csv.write_text(
        "email,first_name,company,owner\n"
        "ada@northwind.test,Ada,Northwind,sam\nbo@northwind.test,Bo,Northwind,\n",
        encoding="utf-8",
    )
    import_leads(
        web_runtime.sessions, csv, web_runtime.clock, web_runtime.catalog, sequence="calls"
    )
    run_batch(web_runtime)
    web_runtime.clock.advance(timedelta(days=2))
    run_batch(web_runtime)

    with web_runtime.sessions() as session:
        tasks = dict(
            session.execute(
                select(Lead.email, ReviewItem.assignee)
                .join(Lead, Lead.id == ReviewItem.lead_id)
                .where(ReviewItem.reason == ReviewReason.TASK_CALL)
            ).all()
        )
        causes = session.scalars(select(Event.cause).where(Event.kind == EventKind.ASSIGNED)).all()
    assert tasks == {"ada@northwind.test": "sam", "bo@northwind.test": None}
    assert causes == ["owner"]


def test_owner_rules_are_read_from_mailboxes_yaml_and_bad_names_name_their_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mailboxes.yaml"
    head = (
        "mailboxes:\n"
        "  - name: sales\n    address: a@example.com\n    owner: Rita\n"
        "  - name: success\n    address: b@example.com\n"
        "pools:\n"
    )
    path.write_text(head + "  team:\n    mailboxes: [sales, success]\n    owners: [sam, tom]\n")
    loaded = load_mailboxes(path)
    assert loaded.owner_refs == (("rita", 4), ("sam", 10), ("tom", 10))
    assert [loaded.owner_for("team", "sales", n) for n in (1, 2, 3)] == ["tom", "sam", "tom"]
    assert loaded.owner_for("sales", None, 1) == "rita"
    assert loaded.owner_for("success", None, 1) is None

    path.write_text(head + "  team:\n    mailboxes: [sales]\n    owners: [sam, Sam Lee]\n")
    with pytest.raises(ConfigError, match=r"mailboxes\.yaml:10: pools\.team\.owners: 'Sam Lee'"):
        load_mailboxes(path)
    path.write_text(head + "  team:\n    mailboxes: [sales, nowhere]\n")
    with pytest.raises(ConfigError, match=r"mailboxes\.yaml:9: pool 'team' names unknown mailbox"):
        load_mailboxes(path)
