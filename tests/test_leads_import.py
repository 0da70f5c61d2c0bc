"""Lead import (upsert by normalised email, bad rows reported and skipped) and lead views.

Every test runs on SQLite and on PostgreSQL (the ``runtime`` / ``database_url`` fixtures).
"""

from __future__ import annotations

import json
import re
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, select, update

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from tests.conftest import START, copy_project, make_settings
from worker.authoring.templates import TemplateRenderer
from worker.clock import VirtualClock
from worker.delivery.rendering import render_touch
from worker.errors import LeadImportError, NotFoundError
from worker.leads import importing, lifecycle
from worker.leads.csv_input import RowError
from worker.leads.importing import ImportReport, import_leads, read_rows
from worker.leads.read_ahead import read_ahead
from worker.queries.leads import list_leads, show_lead
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead
from worker.timing.windows import due_at

HEADER = "email,first_name,last_name,company,stage,timezone,deal_value,industry"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def write_csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def run_import(runtime: Runtime, path: Path, **options: Any) -> ImportReport:
    return import_leads(runtime.sessions, path, runtime.clock, runtime.catalog, **options)


def lead_by_email(runtime: Runtime, email: str) -> Lead:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None, email
        session.expunge(lead)
        return lead


def count(runtime: Runtime, model: type) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def enrollments_of(runtime: Runtime, email: str) -> list[tuple[str, str]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Enrollment.sequence, Enrollment.status)
            .join(Lead, Lead.id == Enrollment.lead_id)
            .where(Lead.email == email)
            .order_by(Enrollment.id)
        )
        return [(row.sequence, row.status) for row in rows]


# --- importing --------------------------------------------------------------------------


def test_the_sample_file_imports_and_enrolls_by_stage(runtime: Runtime, project: Path) -> None:
    report = run_import(runtime, project / "examples" / "leads.csv")
    assert (report.rows, report.created, report.updated, report.errors) == (25, 25, 0, [])
    assert report.enrollment.enrolled == 25
    with runtime.sessions() as session:
        rows = {r["email"]: r for r in list_leads(session)}
    assert rows["ada@northwind.test"]["sequence"] == "prospecting"
    assert rows["j.schroeder@schroeder-bau.test"]["sequence"] == "qualification"
    assert rows["d.yilmaz@hansa-spedition.test"]["sequence"] == "delivery"
    assert all(row["stage"] == row["sequence"] for row in rows.values())


def test_upsert_by_normalised_email_updates_the_same_lead(runtime: Runtime, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path,
        "first.csv",
        f"""
        {HEADER}
        ada@northwind.test,Ada,Winter,Northwind Traders,prospecting,Europe/London,24000,wholesale
        """,
    )
    again = write_csv(
        tmp_path,
        "again.csv",
        """
        email,company,industry,crm
        "  Ada@Northwind.TEST ",Northwind Holdings,retail,HubSpot
        """,
    )
    assert run_import(runtime, first).created == 1
    before = lead_by_email(runtime, "ada@northwind.test")

    report = run_import(runtime, again)

    assert (report.created, report.updated, report.errors) == (0, 1, [])
    assert count(runtime, Lead) == 1
    after = lead_by_email(runtime, "ada@northwind.test")
    assert after.id == before.id
    assert after.company == "Northwind Holdings"
    assert after.first_name == "Ada"  # not in the second file: kept
    assert after.deal_value == 24000.0
    assert after.fields["industry"] == "retail"  # replaced
    assert after.fields["crm"] == "HubSpot"  # added
    assert enrollments_of(runtime, "ada@northwind.test") == [("prospecting", "active")]


def test_the_same_address_twice_in_one_file_is_one_lead(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "dupes.csv",
        """
        email,company
        grace@pinecrest.test,First
        GRACE@pinecrest.test,Second
        """,
    )
    report = run_import(runtime, path)
    assert report.created == 1
    assert count(runtime, Lead) == 1
    assert lead_by_email(runtime, "grace@pinecrest.test").company == "Second"
    assert report.enrollment.enrolled == 1


def test_extra_columns_are_fields_templates_can_use(
    runtime: Runtime, tmp_path: Path, project: Path
) -> None:
    path = write_csv(
        tmp_path,
        "extra.csv",
        """
        Email,First Name,Company,Favourite Colour,Pain Point
        ada@northwind.test,Ada,Northwind Traders,teal,stale deals
        """,
    )
    run_import(runtime, path)
    lead = lead_by_email(runtime, "ada@northwind.test")
    assert lead.first_name == "Ada"
    assert lead.fields["favourite_colour"] == "teal"
    assert lead.fields["pain_point"] == "stale deals"

    template = project / "templates" / "custom" / "colour.txt.j2"
    template.parent.mkdir()
    template.write_text(
        '{% extends "layouts/base.txt.j2" %}\n'
        "{% block subject %}{{ lead.favourite_colour }} for {{ lead.company }}{% endblock %}\n"
        "{% block body %}\nAbout {{ lead.pain_point }}.\n{% endblock %}\n",
        "utf-8",
    )
    spec = runtime.catalog.get("prospecting").model_copy(
        update={
            "steps": [
                runtime.catalog.get("prospecting")
                .steps[0]
                .model_copy(update={"template": "custom/colour"})
            ]
        }
    )
    rendered = render_touch(
        TemplateRenderer(project / "templates"),
        lead,
        runtime.mailboxes.get("sales"),
        spec,
        0,
        "https://u.test/1",
    )
    assert rendered.subject == "teal for Northwind Traders"
    assert rendered.text.startswith("About stale deals.\n")


def test_blank_cells_are_absent_not_empty(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "blank.csv",
        f"""
        {HEADER}
        info@kontor-nord.test,,  ,Kontor Nord,prospecting,,,
        """,
    )
    report = run_import(runtime, path)
    assert report.errors == []
    lead = lead_by_email(runtime, "info@kontor-nord.test")
    assert lead.first_name is None
    assert lead.last_name is None
    assert lead.timezone is None
    assert lead.deal_value is None
    assert "industry" not in lead.fields
    assert "first_name" not in lead.fields
    assert all(value != "" for value in lead.fields.values())


def test_a_blank_cell_on_update_keeps_the_known_value(runtime: Runtime, tmp_path: Path) -> None:
    run_import(
        runtime,
        write_csv(tmp_path, "a.csv", f"{HEADER}\nb@x.test,Bea,Brown,Bco,,,100,retail\n"),
    )
    run_import(runtime, write_csv(tmp_path, "b.csv", f"{HEADER}\nb@x.test,,,Bco 2,,,,\n"))
    lead = lead_by_email(runtime, "b@x.test")
    assert (lead.first_name, lead.company, lead.deal_value) == ("Bea", "Bco 2", 100.0)
    assert lead.fields["industry"] == "retail"


def test_deal_value_is_parsed(runtime: Runtime, tmp_path: Path) -> None:
    cells = {"a": "24000", "b": '"42,500.50"', "c": "42500.5", "d": "1_000", "e": ""}
    rows = "".join(f"{key}@x.test,{cell}\n" for key, cell in cells.items())
    path = write_csv(tmp_path, "d.csv", "email,deal_value\n" + rows)
    assert run_import(runtime, path).errors == []
    values = {key: lead_by_email(runtime, f"{key}@x.test").deal_value for key in cells}
    assert values == {"a": 24000.0, "b": 42500.5, "c": 42500.5, "d": 1000.0, "e": None}


def test_timezone_is_kept_and_used_for_the_first_due_time(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "tz.csv",
        """
        email,timezone,stage
        berlin@x.test,Europe/Berlin,prospecting
        ny@x.test,America/New_York,prospecting
        """,
    )
    run_import(runtime, path)
    assert lead_by_email(runtime, "berlin@x.test").timezone == "Europe/Berlin"
    assert lead_by_email(runtime, "ny@x.test").timezone == "America/New_York"
    with runtime.sessions() as session:
        rows = {r["email"]: r for r in list_leads(session)}
    # prospecting's first step waits "0 days": due at import time, whatever the zone
    assert rows["berlin@x.test"]["next_due_at"] == "2027-01-04T09:00:00Z"
    assert rows["ny@x.test"]["next_due_at"] == "2027-01-04T09:00:00Z"


def test_bad_rows_are_reported_with_file_and_row_and_the_rest_imported(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "mixed.csv",
        f"""
        {HEADER}
        good1@x.test,Ann,A,Aco,prospecting,Europe/Berlin,100,retail
        not-an-email,Bob,B,Bco,prospecting,,,
        tz@x.test,Cy,C,Cco,prospecting,Mars/Olympus,,
        money@x.test,Di,D,Dco,prospecting,,lots,
        short@x.test,Ed,E
        stage@x.test,Fay,F,Fco,negotiation,,,

        good2@x.test,Gus,G,Gco,qualification,,,
        ,Hal,H,Hco,prospecting,,,
        """,
    )
    report = run_import(runtime, path)

    messages = [str(error) for error in report.errors]
    assert len(messages) == 6, messages
    assert messages[0].startswith("mixed.csv:3: ")
    assert "not-an-email" in messages[0]
    assert messages[1].startswith("mixed.csv:4: ")
    assert "Mars/Olympus" in messages[1]
    assert messages[2].startswith("mixed.csv:5: ")
    assert "deal_value 'lots'" in messages[2]
    assert messages[3].startswith("mixed.csv:6: ")
    assert "3 cells" in messages[3]
    assert "8" in messages[3]
    assert messages[4].startswith("mixed.csv:7: ")
    assert "negotiation" in messages[4]
    assert messages[5].startswith("mixed.csv:10: ")
    assert "email" in messages[5]
    assert report.created == 2
    with runtime.sessions() as session:
        emails = sorted(session.scalars(select(Lead.email)))
    assert emails == ["good1@x.test", "good2@x.test"]
    assert report.enrollment.enrolled == 2


def test_a_bad_language_or_currency_is_a_row_error_and_good_ones_are_kept(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "locales.csv",
        """
        email,first_name,country,language,currency
        klaus@x.test,Klaus,DE,Deutsch,EUR
        anna@x.test,Anna,AT,de-AT,eur
        bob@x.test,Bob,GB,en,pounds
        """,
    )
    report = run_import(runtime, path)

    messages = [str(error) for error in report.errors]
    assert len(messages) == 2, messages
    assert messages[0].startswith("locales.csv:2: language 'Deutsch'")
    assert messages[1].startswith("locales.csv:4: currency 'pounds' is not a currency code")
    with runtime.sessions() as session:
        [anna] = session.scalars(select(Lead))
    assert anna.email == "anna@x.test"
    assert (anna.fields["language"], anna.fields["currency"]) == ("de-AT", "EUR")


def test_a_nul_byte_or_a_name_too_long_for_a_header_is_one_row_error_and_the_rest_imported(
    runtime: Runtime, tmp_path: Path
) -> None:
    """PostgreSQL refuses a NUL byte in text and SMTP servers a header line over 998
    characters: each is a row error naming the field, and the other rows are imported."""
    long_name = "A" * 2000
    path = tmp_path / "odd.csv"
    path.write_text(
        f"{HEADER}\n"
        "good1@x.test,Ann,A,Aco,prospecting,,,\n"
        "nul@x.test,B\x00b,B,Bco,prospecting,,,\n"
        f"long@x.test,{long_name[:1999]},L,Lco,prospecting,,,\n"
        "good2@x.test,Gus,G,Gco,qualification,,,\n",
        encoding="utf-8",
    )
    report = run_import(runtime, path)

    messages = [str(error) for error in report.errors]
    assert len(messages) == 2, messages
    assert messages[0].startswith("odd.csv:3: ")
    assert "control character" in messages[0]
    assert "'first_name'" in messages[0]
    assert messages[1].startswith("odd.csv:4: ")
    assert "1999 characters long" in messages[1]
    with runtime.sessions() as session:
        emails = sorted(session.scalars(select(Lead.email)))
    assert emails == ["good1@x.test", "good2@x.test"]


def test_a_file_without_an_email_column_is_a_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "noemail.csv", "name,company\nAda,Northwind\n")
    with pytest.raises(LeadImportError, match=r"noemail\.csv:1: no 'email' column"):
        list(read_rows(path))


def test_an_empty_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LeadImportError, match="empty"):
        list(read_rows(write_csv(tmp_path, "empty.csv", "")))
    with pytest.raises(LeadImportError, match="cannot open"):
        list(read_rows(tmp_path / "missing.csv"))


def test_a_byte_order_mark_and_header_spelling_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffE-Mail,First Name,Organisation\r\na@x.test,Ann,Aco\r\n".encode())
    [(line, row)] = list(read_rows(path))
    assert line == 2
    assert isinstance(row, dict)
    assert (row["email"], row["first_name"], row["company"]) == ("a@x.test", "Ann", "Aco")


def test_a_row_that_is_not_utf8_is_reported_and_later_rows_still_read(tmp_path: Path) -> None:
    rows = [f"l{n}@x.test,Name{n}" for n in range(600)]  # more than one read buffer
    rows.insert(450, "m@x.test,M\xfcller")
    path = tmp_path / "latin1.csv"
    path.write_bytes(("email,last_name\n" + "\n".join(rows) + "\n").encode("latin-1"))
    results = list(read_rows(path))
    errors = [str(row) for _, row in results if isinstance(row, RowError)]
    assert errors == [
        "latin1.csv:452: not UTF-8 text — save the file as 'CSV UTF-8' and import it again"
    ]
    good = [row["email"] for _, row in results if isinstance(row, dict)]
    assert len(good) == 600
    assert good[-1] == "l599@x.test"


def test_a_row_error_names_the_line_where_a_multi_line_row_starts(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "notes.csv",
        'email,note\na@x.test,"two\nlines"\nbad,"also\ntwo"\nc@x.test,ok\n',
    )
    results = [
        (line, str(row) if isinstance(row, RowError) else row["email"])
        for line, row in read_rows(path)
    ]
    assert results == [
        (2, "a@x.test"),
        (4, "notes.csv:4: email 'bad' is not a valid address"),
        (6, "c@x.test"),
    ]


def test_a_file_error_imports_nothing(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "dup.csv", "email,e-mail\na@x.test,b@x.test\n")
    with pytest.raises(LeadImportError, match="appear twice"):
        run_import(runtime, path)
    assert count(runtime, Lead) == 0


def test_sequence_option_enrolls_into_that_sequence(runtime: Runtime, project: Path) -> None:
    report = run_import(runtime, project / "examples" / "leads.csv", sequence="qualification")
    assert report.enrollment.enrolled == 25
    with runtime.sessions() as session:
        sequences = set(session.scalars(select(Enrollment.sequence)))
    assert sequences == {"qualification"}
    assert enrollments_of(runtime, "ada@northwind.test") == [("qualification", "active")]


def test_unknown_sequence_is_a_clear_error_and_nothing_is_imported(
    runtime: Runtime, project: Path
) -> None:
    with pytest.raises(NotFoundError, match="did you mean 'qualification'"):
        run_import(runtime, project / "examples" / "leads.csv", sequence="qualifcation")
    assert count(runtime, Lead) == 0


def test_a_lead_already_in_a_sequence_is_not_enrolled_twice(
    runtime: Runtime, project: Path
) -> None:
    sample = project / "examples" / "leads.csv"
    run_import(runtime, sample)
    again = run_import(runtime, sample)
    assert (again.created, again.updated, again.enrollment.enrolled) == (0, 25, 0)
    assert again.enrollment.skipped == {"already in this sequence": 25}

    other = run_import(runtime, sample, sequence="decision")
    assert other.enrollment.enrolled == 0
    skipped = other.enrollment.skipped
    assert skipped == {"in another sequence": 22, "already in this sequence": 3}
    assert count(runtime, Enrollment) == 25
    assert enrollments_of(runtime, "ada@northwind.test") == [("prospecting", "active")]


def test_won_and_lost_leads_are_imported_but_not_enrolled(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "done.csv", "email,stage\nw@x.test,won\nl@x.test,LOST\n")
    report = run_import(runtime, path)
    assert report.created == 2
    assert report.enrollment.enrolled == 0
    assert report.enrollment.skipped == {
        "no sequence for stage won": 1,
        "no sequence for stage lost": 1,
    }
    assert lead_by_email(runtime, "l@x.test").stage == "lost"
    forced = run_import(runtime, path, sequence="prospecting")
    assert forced.enrollment.enrolled == 0
    assert forced.enrollment.skipped == {"stage won": 1, "stage lost": 1}
    assert count(runtime, Enrollment) == 0


def test_no_enroll_only_upserts(runtime: Runtime, project: Path) -> None:
    report = run_import(runtime, project / "examples" / "leads.csv", enroll=False)
    assert report.created == 25
    assert count(runtime, Enrollment) == 0


def test_import_records_events(runtime: Runtime, tmp_path: Path) -> None:
    run_import(runtime, write_csv(tmp_path, "e.csv", "email\ne@x.test\n"))
    with runtime.sessions() as session:
        data = show_lead(session, "E@X.test")
    kinds = [event["kind"] for event in data["timeline"]]
    assert kinds == ["lead_created", "enrolled"]
    assert all(event["cause"] == "import" for event in data["timeline"])
    assert count(runtime, Event) == 2


def test_a_large_file_is_imported_in_batches(runtime: Runtime, tmp_path: Path) -> None:
    rows = "".join(f"lead{n:04d}@bulk.test,Co {n},{n * 10}\n" for n in range(1001))
    rows += "lead0007@bulk.test,Co again,70\n"  # an update in a later batch
    path = write_csv(tmp_path, "bulk.csv", "email,company,deal_value\n" + rows)
    report = run_import(runtime, path)
    assert (report.rows, report.created, report.updated) == (1002, 1001, 1)
    assert report.enrollment.enrolled == 1001
    assert count(runtime, Lead) == 1001
    assert lead_by_email(runtime, "lead0007@bulk.test").company == "Co again"


# --- batches: repeats, bad rows, re-imports, enrollment at scale ---------------------------


def test_an_address_repeated_in_one_batch_is_created_once_then_updated_as_a_later_row_would(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "repeat.csv",
        """
        email,first_name,company,stage,industry,crm
        ada@northwind.test,Ada,Northwind,prospecting,retail,
        ADA@northwind.test,,Northwind Holdings,decision,,HubSpot
        """,
    )
    report = run_import(runtime, path)

    assert (report.rows, report.created, report.updated, report.errors) == (2, 1, 1, [])
    lead = lead_by_email(runtime, "ada@northwind.test")
    assert (lead.first_name, lead.company, lead.stage) == (
        "Ada",
        "Northwind Holdings",
        "prospecting",
    )
    assert (lead.fields["industry"], lead.fields["crm"]) == ("retail", "HubSpot")
    # every good row has an outcome: the first enrolls, the repeat finds it enrolled
    assert report.enrollment.enrolled == 1
    assert report.enrollment.skipped == {"already in this sequence": 1}
    assert enrollments_of(runtime, "ada@northwind.test") == [("prospecting", "active")]
    with runtime.sessions() as session:
        kinds = sorted(session.scalars(select(Event.kind)))
    assert kinds == ["enrolled", "lead_created"]


def _mixed_file(folder: Path) -> Path:
    """Good rows, bad rows in the middle, repeats near and far, a won lead, a suppressed one."""
    lines = ["email,first_name,company,stage,timezone,deal_value"]
    for n in range(40):
        if n % 9 == 4:
            lines.append(f"broken-{n},X,Co,prospecting,,")
        elif n % 11 == 6:
            lines.append(f"tz{n}@bulk.test,X,Co,prospecting,Mars/Olympus,")
        elif n % 13 == 7:
            lines.append(f"l{n - 1}@bulk.test,,Again {n},,,")  # the row just before, again
        elif n % 17 == 15:
            lines.append("L0@BULK.test,Zed,,,Asia/Tokyo,")  # the first lead, much later
        else:
            stage = "won" if n == 21 else "prospecting"
            lines.append(f"l{n}@bulk.test,N{n},Co {n},{stage},Europe/Berlin,{n * 100}")
    lines.append("blocked@bulk.test,B,Co,prospecting,,")
    return write_csv(folder, "mixed.csv", "\n".join(lines) + "\n")


def _snapshot(runtime: Runtime) -> dict[str, Any]:
    with runtime.sessions() as session:
        leads = {
            lead.email: (
                lead.first_name,
                lead.company,
                lead.stage,
                lead.timezone,
                lead.deal_value,
                lead.fields,
            )
            for lead in session.scalars(select(Lead))
        }
        enrolled = sorted(
            (email, sequence, due)
            for email, sequence, due in session.execute(
                select(Lead.email, Enrollment.sequence, Enrollment.next_due_at).join(
                    Enrollment, Enrollment.lead_id == Lead.id
                )
            )
        )
        events = sorted(
            (email, kind)
            for email, kind in session.execute(
                select(Lead.email, Event.kind).join(Event, Event.lead_id == Lead.id)
            )
        )
    return {"leads": leads, "enrolled": enrolled, "events": events}


@pytest.mark.parametrize("batch_rows", [1, 3, 7])
def test_the_outcome_does_not_depend_on_the_batch_size(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    with runtime.sessions.begin() as session:
        lifecycle.suppress(session, "blocked@bulk.test", reason="manual", at=START)
    path = _mixed_file(tmp_path)
    whole = run_import(runtime, path)
    expected = _snapshot(runtime)
    assert whole.enrollment.skipped["suppressed"] == 1
    assert whole.enrollment.skipped["no sequence for stage won"] == 1
    good = whole.rows - len(whole.errors)
    assert whole.created + whole.updated == good
    assert whole.enrollment.enrolled + sum(whole.enrollment.skipped.values()) == good

    with runtime.sessions.begin() as session:
        for model in (Event, Enrollment, Lead):
            session.execute(delete(model))
    monkeypatch.setattr(importing, "BATCH_ROWS", batch_rows)
    batched = run_import(runtime, path)

    assert batched.as_dict() == whole.as_dict()
    assert _snapshot(runtime)["leads"] == expected["leads"]
    assert _snapshot(runtime)["events"] == expected["events"]
    # the same leads enrolled; a repeat that changed its time zone in a later batch keeps the
    # due time of the batch that enrolled it
    assert [e[:2] for e in _snapshot(runtime)["enrolled"]] == [e[:2] for e in expected["enrolled"]]


def test_a_batch_that_fails_keeps_the_batches_before_it(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"b{n}@bulk.test,Co {n}\n" for n in range(10))
    path = write_csv(tmp_path, "fail.csv", "email,company\n" + rows)
    monkeypatch.setattr(importing, "BATCH_ROWS", 4)
    calls = []
    real = importing.upsert_leads

    def failing_third(session: Any, batch: Any, now: datetime) -> Any:
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(session, batch, now)

    monkeypatch.setattr(importing, "upsert_leads", failing_third)
    with pytest.raises(RuntimeError, match="went away"):
        run_import(runtime, path)
    assert calls == [4, 4, 2]
    assert not [t for t in threading.enumerate() if t.name == "lead-import-reader"]
    with runtime.sessions() as session:
        emails = set(session.scalars(select(Lead.email)))
    assert emails == {f"b{n}@bulk.test" for n in range(8)}
    assert count(runtime, Enrollment) == 8


def test_a_reimport_updates_every_lead_and_enrolls_none_twice(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _mixed_file(tmp_path)
    first = run_import(runtime, path)
    leads, enrollments, events = (
        count(runtime, Lead),
        count(runtime, Enrollment),
        count(runtime, Event),
    )
    again = run_import(runtime, path)
    assert [str(e) for e in again.errors] == [str(e) for e in first.errors]
    assert (again.created, again.updated) == (0, first.created + first.updated)
    assert again.enrollment.enrolled == 0
    assert (count(runtime, Lead), count(runtime, Enrollment), count(runtime, Event)) == (
        leads,
        enrollments,
        events,
    )


def test_a_lead_imported_without_enrolling_is_enrolled_later_in_its_new_time_zone(
    runtime: Runtime, tmp_path: Path
) -> None:
    first = write_csv(tmp_path, "a.csv", "email,timezone\nkenji@sakura.test,Europe/London\n")
    run_import(runtime, first, enroll=False)
    again = write_csv(tmp_path, "b.csv", "email,timezone\nkenji@sakura.test,Asia/Tokyo\n")
    report = run_import(runtime, again)
    assert (report.created, report.updated, report.enrollment.enrolled) == (0, 1, 1)
    lead = lead_by_email(runtime, "kenji@sakura.test")
    assert lead.timezone == "Asia/Tokyo"
    with runtime.sessions() as session:
        due = session.scalar(select(Enrollment.next_due_at))
    spec = runtime.catalog.get("prospecting")
    assert due == due_at(
        runtime.catalog.schedules,
        spec.schedule,
        START,
        spec.steps[0].wait,
        timezone="Asia/Tokyo",
        country=None,
        lead_id=lead.id,
        sequence="prospecting",
        step_index=0,
    )


def test_suppressed_addresses_and_domains_are_imported_but_not_enrolled(
    runtime: Runtime, tmp_path: Path
) -> None:
    with runtime.sessions.begin() as session:
        lifecycle.suppress(session, "ada@northwind.test", reason="manual", at=START)
        lifecycle.suppress(session, "blocked.test", reason="manual", at=START)
        lifecycle.suppress(session, "@alsoblocked.test", reason="manual", at=START)
    rows = "".join(f"ok{n}@fine.test\n" for n in range(5))
    rows += "ada@northwind.test\nx@blocked.test\ny@alsoblocked.test\nz@sub.blocked.test\n"
    report = run_import(runtime, write_csv(tmp_path, "s.csv", "email\n" + rows))
    assert report.created == 9
    assert report.enrollment.enrolled == 6  # the five and the subdomain
    assert report.enrollment.skipped == {"suppressed": 3}


def test_first_due_times_at_import_are_those_of_the_send_windows(
    tmp_path: Path, database_url: str, clock: VirtualClock, stub_broker: Any
) -> None:
    """The import works the first due time out once per time zone and country; it must equal
    ``due_at`` for every lead, jitter and holidays included."""
    home = copy_project(tmp_path / "windows", send_windows=True)
    clock.set(datetime(2027, 12, 24, 16, 30, tzinfo=UTC))  # Friday, before a blackout date
    runtime = Runtime.from_settings(make_settings(home, database_url), clock)
    try:
        places = [
            ("Europe/Berlin", "DE"),
            ("Europe/London", "GB"),
            ("America/New_York", "US"),
            ("Asia/Tokyo", "JP"),
            ("", ""),
            ("Europe/Berlin", ""),
            ("", "FR"),
        ]
        rows = "".join(
            f"p{n}@windows.test,{zone},{country},{stage}\n"
            for n in range(60)
            for zone, country in [places[n % len(places)]]
            for stage in [("prospecting", "qualification", "decision")[n % 3]]
        )
        path = write_csv(tmp_path, "w.csv", "email,timezone,country,stage\n" + rows)
        report = run_import(runtime, path)
        assert report.enrollment.enrolled == 60
        with runtime.sessions() as session:
            found = session.execute(
                select(Lead, Enrollment).join(Enrollment, Enrollment.lead_id == Lead.id)
            ).all()
        schedules = runtime.catalog.schedules
        assert schedules.by_name, "the project has send windows"
        jittered = set()
        for lead, enrollment in found:
            spec = runtime.catalog.get(enrollment.sequence)
            expected = due_at(
                schedules,
                spec.schedule,
                clock.now(),
                spec.steps[0].wait,
                timezone=lead.timezone,
                country=lead.country,
                lead_id=lead.id,
                sequence=spec.name,
                step_index=0,
            )
            assert enrollment.next_due_at == expected, lead.email
            jittered.add(expected.minute)
        assert len(jittered) > 3  # the jitter differs from lead to lead
    finally:
        runtime.close()


def test_reading_ahead_hands_items_over_in_order_and_raises_where_the_error_was() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise LeadImportError("broken at 5")

    ahead = read_ahead(items(), depth=2)
    seen = [next(ahead) for _ in range(5)]
    with pytest.raises(LeadImportError, match="broken at 5"):
        next(ahead)
    assert seen == [0, 1, 2, 3, 4]


def test_reading_ahead_stops_its_thread_when_the_caller_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    ahead = read_ahead(endless(), name="test-read-ahead")
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "test-read-ahead"]


# --- command line -----------------------------------------------------------------------


@pytest.fixture
def invoke(project: Path, database_url: str) -> Iterator[Invoke]:
    """The CLI on SQLite and on PostgreSQL; the process-wide runtime is reset afterwards."""
    yield make_invoke(project, database_url)
    reset_cli_runtime()


@pytest.fixture
def invoke_sqlite(project: Path, sqlite_url: str) -> Iterator[Invoke]:
    """The CLI on SQLite only: output and error paths (the import runs on both above)."""
    yield make_invoke(project, sqlite_url)
    reset_cli_runtime()


def test_cli_import_prints_a_summary_and_bad_rows(invoke_sqlite: Invoke, project: Path) -> None:
    bad = write_csv(
        project,
        "bad.csv",
        """
        email,first_name,timezone
        ok@x.test,Ok,Europe/Berlin
        bad-address,Nope,
        tz@x.test,Tz,Nowhere/Land
        """,
    )
    result = invoke_sqlite("leads", "import", str(bad))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "3 rows: 1 created, 0 updated, 2 skipped as invalid; 1 enrolled (not enrolled: none)"
    )
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("bad.csv:3: ")
    assert errors[1].startswith("bad.csv:4: ")
    assert "Traceback" not in result.output


def test_cli_import_twice_reports_updates_and_skipped_enrollments(
    invoke: Invoke, project: Path
) -> None:
    sample = str(project / "examples" / "leads.csv")
    assert invoke("leads", "import", sample).exit_code == 0
    result = invoke("leads", "import", sample, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {
        "rows": 25,
        "created": 0,
        "updated": 25,
        "enrolled": 0,
        "not_enrolled": {"already in this sequence": 25},
        "errors": [],
    }


def test_cli_import_unknown_sequence_is_one_line_exit_1(
    invoke_sqlite: Invoke, project: Path
) -> None:
    result = invoke_sqlite(
        "leads", "import", str(project / "examples" / "leads.csv"), "--sequence", "x"
    )
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "No sequence named 'x'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_import_missing_file_is_one_line_exit_1(invoke_sqlite: Invoke, project: Path) -> None:
    result = invoke_sqlite("leads", "import", str(project / "nope.csv"))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.csv" in result.stderr


def test_cli_import_with_sequence(invoke_sqlite: Invoke, project: Path) -> None:
    path = write_csv(project, "new.csv", "email\nnew@x.test\n")
    result = invoke_sqlite("leads", "import", str(path), "--sequence", "decision")
    assert result.exit_code == 0, result.output
    listed = json.loads(invoke_sqlite("leads", "list", "--json").stdout)
    assert [(row["email"], row["sequence"]) for row in listed] == [("new@x.test", "decision")]


def test_cli_leads_list_json_follows_the_contract(invoke: Invoke, project: Path) -> None:
    assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    result = invoke("leads", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 25
    for row in rows:
        assert {"email", "stage", "status", "sequence", "step", "next_due_at"} <= set(row)
        assert row["status"] == "active"
        assert row["step"] == 1
        assert ISO_UTC.match(row["next_due_at"]), row["next_due_at"]
    ada = next(row for row in rows if row["email"] == "ada@northwind.test")
    assert ada["stage"] == "prospecting"
    assert ada["sequence"] == "prospecting"
    assert ada["next_due_at"] == "2027-01-04T09:00:00Z"

    only = json.loads(invoke("leads", "list", "--json", "--stage", "decision").stdout)
    assert {row["stage"] for row in only} == {"decision"}
    assert len(only) == 3


def test_cli_leads_list_shows_a_paused_leads_resume_time_as_next_due(
    invoke: Invoke, project: Path, database_url: str
) -> None:
    assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    engine = create_engine(database_url)
    with engine.begin() as connection:
        ada_id = connection.scalar(select(Lead.id).where(Lead.email == "ada@northwind.test"))
        connection.execute(
            update(Enrollment)
            .where(Enrollment.lead_id == ada_id)
            .values(status="paused", resume_at=datetime(2027, 1, 18, 8, 0), next_due_at=None)
        )
    engine.dispose()
    rows = json.loads(invoke("leads", "list", "--json").stdout)
    ada = next(row for row in rows if row["email"] == "ada@northwind.test")
    assert (ada["enrollment_status"], ada["next_due_at"]) == ("paused", "2027-01-18T08:00:00Z")


def test_cli_leads_list_of_an_unenrolled_lead_has_nulls(invoke: Invoke, project: Path) -> None:
    path = write_csv(project, "one.csv", "email,stage\nwon@x.test,won\n")
    assert invoke("leads", "import", str(path)).exit_code == 0
    rows = json.loads(invoke("leads", "list", "--json").stdout)
    assert rows == [
        {
            **rows[0],
            "email": "won@x.test",
            "stage": "won",
            "sequence": None,
            "step": None,
            "next_due_at": None,
        }
    ]


def test_cli_leads_show_json_has_fields_and_timeline(invoke: Invoke, project: Path) -> None:
    assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    result = invoke("leads", "show", "Ada@Northwind.test", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["email"] == "ada@northwind.test"
    assert data["stage"] == "prospecting"
    assert data["sequence"] == "prospecting"
    assert data["fields"]["industry"] == "wholesale"
    assert data["fields"]["pain_point"] == "forecast calls that still run on gut feeling"
    assert "referrer" not in data["fields"]  # blank in the CSV
    assert data["deal_value"] == 24000.0
    timeline = data["timeline"]
    assert [event["kind"] for event in timeline] == ["lead_created", "enrolled"]
    assert timeline[1]["sequence"] == "prospecting"
    for event in timeline:
        assert ISO_UTC.match(event["at"])
    assert data["enrollments"][0]["sequence"] == "prospecting"


def test_cli_leads_show_text(invoke_sqlite: Invoke, project: Path) -> None:
    assert invoke_sqlite("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    result = invoke_sqlite("leads", "show", "ada@northwind.test")
    assert result.exit_code == 0, result.output
    assert "ada@northwind.test" in result.stdout
    assert "industry: wholesale" in result.stdout
    assert "Enrolled" in result.stdout  # the timeline reads in words (worker.queries.labels)


def test_cli_leads_show_unknown_lead_is_one_line_exit_1(invoke_sqlite: Invoke) -> None:
    result = invoke_sqlite("leads", "show", "nobody@x.test", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nobody@x.test" in result.stderr
    assert "Traceback" not in result.output
