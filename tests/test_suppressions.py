"""The suppression list from the command line (list, add, remove, import, export), what a
suppression does to the leads it covers, and the validate warning for a missing unsubscribe
link."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.leads.importing import import_leads
from worker.leads.suppressions import normalise_value
from worker.processes.batch import run_batch
from worker.store.models import Enrollment, Event, Lead, Suppression, Touch

ACME = ["ana@acme.test", "bo@acme.test", "cy@acme.test"]
OTHERS = ["dee@other.test", "eve@sub.acme.test"]


@pytest.fixture
def cli(project: Path, database_url: str) -> Iterator[Invoke]:
    yield make_invoke(project, database_url)
    reset_cli_runtime()


def listed(cli: Invoke) -> list[dict]:
    result = cli("suppressions", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_leads(path: Path, emails: list[str]) -> Path:
    rows = [f"{e},{e.split('@')[0].title()},Acme Ltd,prospecting,Europe/Berlin" for e in emails]
    path.write_text("email,first_name,company,stage,timezone\n" + "\n".join(rows) + "\n", "utf-8")
    return path


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (" Ada@Northwind.TEST ", "ada@northwind.test"),
        ("<ada@northwind.test>", "ada@northwind.test"),
        ("mailto:ada@northwind.test", "ada@northwind.test"),
        ("Example.TEST", "example.test"),
        ("@example.test", "example.test"),
        ("example.test.", "example.test"),
        ("bücher.example.test", "xn--bcher-kva.example.test"),
    ],
)
def test_values_are_normalised(raw: str, stored: str) -> None:
    assert normalise_value(raw) == stored


@pytest.mark.parametrize(
    "raw", ["", "  ", "not an address", "ada@", "@", "a@b@c.test", "localhost", "-x-.test"]
)
def test_invalid_values_are_rejected_with_what_to_write(raw: str) -> None:
    with pytest.raises(ValueError, match=r"example\.test"):
        normalise_value(raw)


# --- add, list, remove --------------------------------------------------------------------


def test_add_list_and_remove_from_the_command_line(cli: Invoke) -> None:
    added = cli("suppressions", "add", " Ada@Northwind.TEST ", "--reason", "asked by phone")
    domain = cli("suppressions", "add", "@Acme.test")
    again = cli("suppressions", "add", "acme.test", "--json")

    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("ada@northwind.test: suppressed")
    assert domain.exit_code == 0, domain.output
    assert json.loads(again.stdout) == {"value": "acme.test", "added": False, "stopped_leads": 0}
    assert [(r["value"], r["kind"], r["reason"]) for r in listed(cli)] == [
        ("acme.test", "domain", "manual"),
        ("ada@northwind.test", "address", "asked by phone"),
    ]
    assert listed(cli)[0]["created_at"] == "2027-01-04T09:00:00Z"

    removed = cli("suppressions", "remove", "ADA@northwind.test", "--note", "wrong person")
    assert removed.exit_code == 0, removed.output
    assert "removed ada@northwind.test" in removed.stdout
    assert [r["value"] for r in listed(cli)] == ["acme.test"]


def test_removal_is_recorded(runtime) -> None:
    from worker.leads.suppressions import add, remove

    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        add(session, "acme.test", reason="manual", at=at)
        session.add(Suppression(value="@acme.test", reason="legacy", created_at=at))
    with runtime.sessions.begin() as session:
        assert sorted(remove(session, "acme.test", at=at, note="typo")) == [
            "@acme.test",
            "acme.test",
        ]
    with runtime.sessions() as session:
        assert session.scalars(select(Suppression.value)).all() == []
        removed = session.scalars(select(Event).where(Event.kind == "suppression_removed")).all()
    assert sorted((e.detail["value"], e.detail["reason"], e.detail["note"]) for e in removed) == [
        ("@acme.test", "legacy", "typo"),
        ("acme.test", "manual", "typo"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "not an address"), "is not a valid address or domain"),
        (("add", "a@b@c.test"), "is not a valid address"),
        (("add", "x@example.test", "--reason", "r" * 65), "longer than 64 characters"),
        (("remove", "nobody@example.test"), "is not on the suppression list"),
    ],
)
def test_bad_values_are_one_clear_line_and_exit_1(cli: Invoke, args, message: str) -> None:
    result = cli("suppressions", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_commands_have_help_with_examples(cli: Invoke) -> None:
    for command in ("list", "add", "remove", "import", "export"):
        result = cli("suppressions", command, "--help")
        assert result.exit_code == 0
        assert "outreach suppressions " + command in result.output


# --- what a suppression does ---------------------------------------------------------------


def test_adding_a_domain_stops_every_lead_of_it_and_the_batch_mails_only_the_others(
    runtime, tmp_path: Path
) -> None:
    from worker.leads.suppressions import add

    import_leads(
        runtime.sessions,
        write_leads(tmp_path / "l.csv", ACME + OTHERS),
        runtime.clock,
        runtime.catalog,
    )
    with runtime.sessions.begin() as session:
        done = add(
            session, normalise_value("@acme.test"), reason="competitor", at=runtime.clock.now()
        )
    assert (done.added, done.stopped_leads) == (True, 3)

    assert run_batch(runtime).totals() == {"sent": 2}  # a subdomain is not the domain
    with runtime.sessions() as session:
        statuses = {
            row.email: row.status for row in session.execute(select(Lead.email, Lead.status))
        }
        open_ = session.scalars(
            select(Lead.email).join(Enrollment).where(Enrollment.status == "active")
        ).all()
    assert {e: statuses[e] for e in ACME} == dict.fromkeys(ACME, "stopped")
    assert sorted(open_) == sorted(OTHERS)


@pytest.mark.parametrize("value", ["acme.test", "@acme.test"])
def test_a_domain_suppressed_after_scheduling_blocks_every_lead_of_it_at_send_time(
    runtime, tmp_path: Path, value: str
) -> None:
    import_leads(
        runtime.sessions,
        write_leads(tmp_path / "l.csv", ACME + OTHERS),
        runtime.clock,
        runtime.catalog,
    )
    queued = tick(runtime).to_enqueue
    assert len(queued) == 5
    with runtime.sessions.begin() as session:  # behind the engine's back: only the last check
        session.add(Suppression(value=value, reason="manual", created_at=runtime.clock.now()))

    results = Counter(outcome.result for outcome in send_touches(runtime, queued))

    assert results == {"sent": 2, "skipped": 3}
    with runtime.sessions() as session:
        sent_to = session.scalars(
            select(Lead.email).join(Touch, Touch.lead_id == Lead.id).where(Touch.status == "sent")
        ).all()
    assert sorted(sent_to) == sorted(OTHERS)


def test_an_unsubscribe_reason_marks_the_lead_unsubscribed(runtime, tmp_path: Path) -> None:
    from worker.leads.suppressions import add

    import_leads(
        runtime.sessions, write_leads(tmp_path / "l.csv", ACME), runtime.clock, runtime.catalog
    )
    with runtime.sessions.begin() as session:
        add(session, "bo@acme.test", reason="unsubscribe", at=runtime.clock.now())
    with runtime.sessions() as session:
        assert session.scalar(select(Lead.status).where(Lead.email == "bo@acme.test")) == (
            "unsubscribed"
        )


# --- CSV import and export ------------------------------------------------------------------


def test_import_reports_bad_rows_by_row_number_and_imports_the_rest(
    cli: Invoke, tmp_path: Path
) -> None:
    path = tmp_path / "dnc.csv"
    path.write_text(
        "Value,Reason\n"
        "ana@acme.test,asked\n"  # 2
        "not an address,\n"  # 3
        "\n"  # 4: blank, ignored
        "@Other.test\n"  # 5: reason missing: the default
        "dee@other.test,a,b\n"  # 6: too many cells
        f"eve@acme.test,{'x' * 70}\n"  # 7
        '"multi\nline@acme.test",x\n'  # 8-9
        "ana@acme.test,again\n",  # 10: already there
        "utf-8",
    )

    result = cli("suppressions", "import", str(path), "--reason", "dnc list", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["errors"] == [
        "dnc.csv:3: 'not an address' is not a valid address or domain — write an address "
        "(ada@example.test), a domain (example.test) or @example.test",
        "dnc.csv:6: row has 3 cells but the header has 2",
        "dnc.csv:7: the reason is longer than 64 characters — shorten it",
        "dnc.csv:8: 'multi\\nline@acme.test' is not a valid address — write an address "
        "(ada@example.test), a domain (example.test) or @example.test",
    ]
    assert {k: report[k] for k in ("rows", "added", "already_suppressed")} == {
        "rows": 7,
        "added": 2,
        "already_suppressed": 1,
    }
    assert "dnc.csv:3: 'not an address'" in result.stderr
    assert [(r["value"], r["reason"]) for r in listed(cli)] == [
        ("ana@acme.test", "asked"),
        ("other.test", "dnc list"),
    ]


def test_import_prints_counts(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("value\nana@acme.test\nnope\n", "utf-8")
    result = cli("suppressions", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 rows: 1 added, 0 already suppressed, 1 skipped as invalid" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "s.csv:1: the file is empty — it needs a header row with 'value'"),
        ("ana@acme.test\nbo@acme.test\n", "s.csv:1: no 'value' column in the header"),
    ],
)
def test_import_without_a_header_is_refused(
    cli: Invoke, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text, "utf-8")
    result = cli("suppressions", "import", str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert listed(cli) == []


def test_import_of_a_missing_file_is_one_line(cli: Invoke, tmp_path: Path) -> None:
    result = cli("suppressions", "import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 1
    assert "cannot open the file" in result.output


def test_import_stops_the_leads_it_covers(cli: Invoke, project: Path, tmp_path: Path) -> None:
    assert (
        cli("leads", "import", str(write_leads(tmp_path / "l.csv", ACME + OTHERS))).exit_code == 0
    )
    path = tmp_path / "s.csv"
    path.write_text("value,reason\nacme.test,competitor\ndee@other.test,bounce\n", "utf-8")

    report = json.loads(cli("suppressions", "import", str(path), "--json").stdout)

    assert report["stopped_leads"] == 4
    shown = json.loads(cli("leads", "show", "dee@other.test", "--json").stdout)
    assert shown["status"] == "bounced"
    assert shown["enrollments"][0]["status"] == "stopped"


def test_export_and_import_round_trip(
    cli: Invoke, project: Path, tmp_path: Path, database_url: str
) -> None:
    for value, reason in [("b@acme.test", "bounce"), ("acme.test", 'competitor, "big"')]:
        assert cli("suppressions", "add", value, "--reason", reason).exit_code == 0
    exported = tmp_path / "out.csv"
    written = cli("suppressions", "export", str(exported))
    to_stdout = cli("suppressions", "export")
    assert written.exit_code == 0, written.output
    assert "2 entries written" in written.stdout
    assert exported.read_text("utf-8") == to_stdout.stdout
    assert exported.read_text("utf-8").splitlines()[0] == "value,reason,created_at"
    before = listed(cli)

    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    fresh = make_invoke(project, other_db)
    try:
        imported = fresh("suppressions", "import", str(exported), "--json")
        assert imported.exit_code == 0, imported.output
        assert json.loads(imported.stdout)["added"] == 2
        assert listed(fresh) == before
    finally:
        reset_cli_runtime()


# --- validate warns about templates without an unsubscribe link -----------------------------


def test_validate_warns_about_a_text_template_without_an_unsubscribe_link(
    cli: Invoke, project: Path
) -> None:
    templates = project / "templates"
    (templates / "layouts" / "bare.txt.j2").write_text(
        "{% block body %}{% endblock %}\n-- {{ sender.name }}\n", "utf-8"
    )
    (templates / "layouts" / "footer.txt.j2").write_text(
        "Unsubscribe: {{ unsubscribe_url }}\n", "utf-8"
    )
    (templates / "extra").mkdir()
    (templates / "extra" / "standalone.txt.j2").write_text(
        "{% block subject %}Hi{% endblock %}\nHello\n", "utf-8"
    )
    (templates / "extra" / "bare_layout.txt.j2").write_text(
        '{% extends "layouts/bare.txt.j2" %}{% block body %}Hi{% endblock %}\n', "utf-8"
    )
    (templates / "extra" / "with_footer.txt.j2").write_text(
        '{% extends "layouts/bare.txt.j2" %}{% block body %}Hi\n'
        '{% include "layouts/footer.txt.j2" %}{% endblock %}\n',
        "utf-8",
    )
    (templates / "extra" / "own_link.txt.j2").write_text(
        "Hi {# unsubscribe_url in a comment does not count #}\nStop: {{ unsubscribe_url }}\n",
        "utf-8",
    )

    result = cli("validate")

    assert result.exit_code == 0, result.output
    warned = sorted(line for line in result.stdout.splitlines() if "unsubscribe link" in line)
    assert [line.split(": warning:")[0] for line in warned] == [
        "templates/extra/bare_layout.txt.j2:1",
        "templates/extra/standalone.txt.j2:1",
    ]
    assert "{{ unsubscribe_url }}" in warned[0]
    assert "(2 warning(s))" in result.stdout
