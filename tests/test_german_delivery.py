"""A German lead's whole prospecting sequence, sent over real SMTP (the aiosmtpd sink): German
copy, German layout and footer, the German A/B subject, and a German unsubscribe page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.delivery_support import MakeRuntime, Sink, running_sink, runtime_maker
from worker.clock import VirtualClock
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.rehearsal.validation import validate
from worker.settings import Settings

HEADER = "email,first_name,last_name,company,country,salutation,crm,industry\n"
KLAUS = "k.mueller@brauhaus.test"
ANNA = "anna@northwind-uk.test"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def _body(message: Message) -> str:
    part = message.get_payload()[0] if message.is_multipart() else message
    return part.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")


def test_a_german_leads_prospecting_sequence_goes_out_in_german_over_smtp(
    make_runtime: MakeRuntime, sqlite_url: str, sink: Sink, clock: VirtualClock, tmp_path: Path
) -> None:
    runtime = make_runtime(sqlite_url, leads=False, transport_url=sink.url)
    leads = tmp_path / "leads.csv"
    leads.write_text(
        HEADER
        + f"{KLAUS},Klaus,Müller,Brauhaus Logistik GmbH,DE,Herr,HubSpot,Logistik\n"
        + f"{ANNA},Anna,Reid,Northwind UK,GB,,Salesforce,wholesale\n",
        encoding="utf-8",
    )
    report = import_leads(
        runtime.sessions, leads, runtime.clock, runtime.catalog, sequence="prospecting"
    )
    assert report.errors == []
    for _ in range(60):  # about eight weeks of daily batches: every step is sent
        run_batch(runtime)
        clock.advance(timedelta(days=1))
    german = [
        m for m, (_, rcpts) in zip(sink.messages, sink.envelopes, strict=True) if KLAUS in rcpts
    ]
    english = [
        m for m, (_, rcpts) in zip(sink.messages, sink.envelopes, strict=True) if ANNA in rcpts
    ]
    steps = len(runtime.catalog.get("prospecting").steps)
    assert len(german) == len(english) == steps

    subjects = [str(m["Subject"]) for m in german]
    assert subjects[0] == "Forecast-Genauigkeit bei Brauhaus Logistik GmbH"
    assert subjects[1] == "Re: Forecast-Genauigkeit bei Brauhaus Logistik GmbH"  # same thread
    assert subjects[3] in (
        "Die Deals, die seit 60 Tagen niemand angefasst hat",  # the A/B variants, both German
        "Ist jeder fünfte Deal in Ihrer Pipeline veraltet?",
    )
    for message in german:
        text = _body(message)
        assert text.startswith("Guten Tag Herr Müller,\n"), text[:80]
        assert "\nViele Grüße\nAda Fischer\n" in text
        assert "Sie möchten keine weiteren E-Mails von uns erhalten? Abmelden: http" in text
        assert "Best," not in text
        assert "Unsubscribe:" not in text
        if message.is_multipart():  # the HTML part is German too
            html = message.get_payload()[1].get_payload(decode=True).decode("utf-8")
            assert '<html lang="de">' in html
            assert "Viele Grüße" in html
    assert any(m.is_multipart() for m in german)
    for message in english:
        text = _body(message)
        assert text.startswith("Hi Anna,\n")
        assert "\nBest,\nAda Fischer\n" in text
        assert "Viele Grüße" not in text


def test_validate_reports_a_step_missing_its_german_template_at_its_line(project: Path) -> None:
    (project / "templates" / "prospecting" / "02_bump.de.txt.j2").unlink()
    (project / "templates" / "prospecting" / "05_social_proof.de.html.j2").unlink()
    problems = validate(Settings.from_env({}, home=project))
    lines = (project / "sequences" / "prospecting.yaml").read_text(encoding="utf-8").splitlines()
    bump = lines.index("  - template: prospecting/02_bump") + 1
    proof = lines.index("  - template: prospecting/05_social_proof") + 1
    found = {(p.path, p.line): p.message for p in problems if p.severity == "error"}
    assert (
        "no 'de' version of templates/prospecting/02_bump.txt.j2"
        in found[("sequences/prospecting.yaml", bump)]
    )
    assert (
        "05_social_proof.html.j2 has no 'de' version"
        in found[("sequences/prospecting.yaml", proof)]
    )
    assert len(found) == 2, found


def test_validate_reports_a_variant_subject_without_its_german_text(project: Path) -> None:
    path = project / "sequences" / "prospecting.yaml"
    text = path.read_text(encoding="utf-8")
    german = '          de: "Ist jeder fünfte Deal in Ihrer Pipeline veraltet?"\n'
    assert german in text
    path.write_text(text.replace(german, ""), encoding="utf-8")
    line = text.splitlines().index("        subject:") + 1
    problems = validate(Settings.from_env({}, home=project))
    assert [(p.path, p.line) for p in problems if "no text in 'de'" in p.message] == [
        ("sequences/prospecting.yaml", line)
    ]


def test_validate_reports_a_sample_lead_with_a_bad_language_at_its_row(project: Path) -> None:
    path = project / "examples" / "leads.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[0] += ",language"
    rows[1] += ",Deutsch"
    rows[2:] = [row + "," for row in rows[2:]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    problems = validate(Settings.from_env({}, home=project))
    assert any(
        p.path == "examples/leads.csv" and p.line == 2 and "did you mean 'de'" in p.message
        for p in problems
    ), [str(p) for p in problems]
