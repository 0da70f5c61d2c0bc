"""The command line of engagement signals: ``outreach events import`` (every bad row reported
with file, line and field, the rest kept), ``outreach events log-call``, and what ``outreach
validate`` says about ``track_clicks`` / ``track_opens``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.cli_support import FIXED_NOW, Invoke, make_invoke, reset_cli_runtime
from tests.tracking_support import add_tracked_sequence
from worker.cli.events import OUTCOMES
from worker.settings import normalise_database_url
from worker.store.models import Event, Lead, ScoreMark
from worker.tracking import CALL_OUTCOMES

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"


@pytest.fixture
def invoke(project: Path, database_url: str) -> Iterator[Invoke]:
    run = make_invoke(project, database_url)
    result = run("leads", "import", str(project / "examples" / "leads.csv"), "--no-enroll")
    assert result.exit_code == 0, result.output
    yield run
    reset_cli_runtime()


def stored(database_url: str, kind: str) -> list[tuple[str, str | None, dict[str, object]]]:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Lead.email, Event.cause, Event.detail, Event.at)
                .join(Lead, Lead.id == Event.lead_id)
                .where(Event.kind == kind)
                .order_by(Event.id)
            )
            return [
                (email, cause, {**detail, "at": at.isoformat()})
                for email, cause, detail, at in rows
            ]
    finally:
        engine.dispose()


def marks(database_url: str) -> int:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with Session(engine) as session:
            return len(list(session.scalars(select(ScoreMark.lead_id))))
    finally:
        engine.dispose()


EVENTS_CSV = f"""\
email,type,at,webinar
{ADA},webinar_attended,2027-01-03T16:00:00Z,Q1 forecasting
nobody@example.test,webinar_attended,2027-01-03T16:00:00Z,Q1 forecasting
{KLAUS},pricing_page_visit,,
{ADA},webinar attended,2027-01-03T16:00:00Z,
{ADA},pricing_page_visit,last tuesday,
,pricing_page_visit,,
{KLAUS},demo_requested,2027-01-02,"Sales, DACH"
"""


def test_an_import_records_good_rows_and_reports_each_bad_one_with_line_and_field(
    invoke: Invoke, project: Path, database_url: str
) -> None:
    path = project / "webinar.csv"
    path.write_text(EVENTS_CSV, encoding="utf-8")
    result = invoke("events", "import", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    errors = [line for line in lines if line.startswith("webinar.csv:")]
    assert [e.split(":")[1] for e in errors] == ["3", "5", "6", "7"]
    assert (
        "webinar.csv:3: field 'email': no lead with the address 'nobody@example.test'" in errors[0]
    )
    assert "import the lead first" in errors[0]
    assert "webinar.csv:5: field 'type': 'webinar attended' is not a type" in errors[1]
    assert "webinar.csv:6: field 'at': 'last tuesday' is not an ISO 8601 time" in errors[2]
    assert "2027-01-04T09:00:00Z" in errors[2]
    assert "webinar.csv:7: field 'email': email is empty" in errors[3]
    assert lines[-1] == "7 rows: 3 events recorded, 4 skipped as invalid"
    assert stored(database_url, "activity") == [
        (
            ADA,
            "webinar_attended",
            {
                "source": "import",
                "data": {"webinar": "Q1 forecasting"},
                "at": "2027-01-03T16:00:00+00:00",
            },
        ),
        (
            KLAUS,
            "pricing_page_visit",
            {"source": "import", "data": {}, "at": "2027-01-04T09:00:00+00:00"},
        ),
        (
            KLAUS,
            "demo_requested",
            {
                "source": "import",
                "data": {"webinar": "Sales, DACH"},
                "at": "2027-01-02T00:00:00+00:00",
            },
        ),
    ]
    assert marks(database_url) >= 2


def test_an_import_reports_json_and_refuses_a_file_without_the_columns(
    invoke: Invoke, project: Path
) -> None:
    path = project / "events.csv"
    path.write_text(f"email,type,at\n{ADA},webinar_attended,\n{ADA},,\n", encoding="utf-8")
    result = invoke("events", "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["recorded"], report["skipped"]) == (2, 1, 1)
    assert report["errors"][0]["line"] == 3
    assert "field 'type': missing" in report["errors"][0]["message"]
    bad = project / "bad.csv"
    bad.write_text("address,kind\na@b.test,x\n", encoding="utf-8")
    refused = invoke("events", "import", str(bad))
    assert refused.exit_code == 1
    assert "bad.csv:1: no 'email' or 'type' column" in refused.output
    assert "Traceback" not in refused.output
    missing = invoke("events", "import", str(project / "nope.csv"))
    assert missing.exit_code == 1
    assert "no such CSV file" in missing.output


def test_a_rep_logs_a_call_on_the_leads_timeline(invoke: Invoke, database_url: str) -> None:
    result = invoke(
        "events",
        "log-call",
        ADA.upper(),
        "--outcome",
        "connected",
        "--note",
        "Pilot in March",
        "--rep",
        "rita",
    )
    assert result.exit_code == 0, result.output
    assert f"call logged for {ADA}: connected" in result.output
    assert stored(database_url, "call_logged") == [
        (
            ADA,
            "connected",
            {
                "outcome": "connected",
                "note": "Pilot in March",
                "rep": "rita",
                "at": "2027-01-04T09:00:00+00:00",
            },
        )
    ]
    unknown = invoke("events", "log-call", "nobody@example.test", "--outcome", "voicemail")
    assert unknown.exit_code == 1
    assert "no lead with the address 'nobody@example.test'" in unknown.output
    wrong = invoke("events", "log-call", ADA, "--outcome", "hung_up")
    assert wrong.exit_code == 2
    assert "connected" in wrong.output
    dated = invoke(
        "events",
        "log-call",
        ADA,
        "--outcome",
        "no_answer",
        "--at",
        "2027-01-03T10:00:00Z",
        "--json",
    )
    assert json.loads(dated.stdout)["outcome"] == "no_answer"
    assert stored(database_url, "call_logged")[-1][2]["at"] == "2027-01-03T10:00:00+00:00"
    assert FIXED_NOW.startswith("2027-01-04T09:00")


def test_the_command_lines_outcomes_are_the_trackings() -> None:
    assert OUTCOMES == CALL_OUTCOMES


def test_validate_warns_that_opens_are_unreliable_and_need_html(
    project: Path, database_url: str
) -> None:
    add_tracked_sequence(project, clicks=True, opens=True)
    text_only = project / "sequences" / "plain.yaml"
    text_only.write_text(
        "name: plain\nstage: prospecting\nmailbox: sales\ntrack_opens: true\nsteps:\n"
        "  - template: tracked/02_plain\n",
        encoding="utf-8",
    )
    run = make_invoke(project, database_url)
    try:
        result = run("validate")
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    assert (
        "sequences/tracked.yaml:10: warning: track_opens: Apple Mail privacy protection "
        "pre-fetches every image: opens are unreliable"
    ) in result.output
    assert "sequences/plain.yaml:4: warning: track_opens: Apple Mail" in result.output
    assert (
        "sequences/plain.yaml:4: warning: track_opens: none of this sequence's emails has an "
        "HTML part" in result.output
    )
    assert "tracked.yaml:10: warning: track_opens: none" not in result.output
    assert "tracked.yaml:9" not in result.output  # track_clicks needs no warning


def test_validate_refuses_a_tracking_setting_that_is_not_true_or_false(
    project: Path, database_url: str
) -> None:
    add_tracked_sequence(project)
    path = project / "sequences" / "tracked.yaml"
    path.write_text(path.read_text().replace("track_clicks: true", "track_clicks: sometimes"))
    run = make_invoke(project, database_url)
    try:
        result = run("validate")
    finally:
        reset_cli_runtime()
    assert result.exit_code == 1
    assert "sequences/tracked.yaml:9:" in result.output
    assert "track_clicks must be true or false" in result.output
