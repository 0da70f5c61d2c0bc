"""`outreach preview SEQUENCE --lead EMAIL [--step N]`: the email exactly as it would be sent."""

from __future__ import annotations

import re
import tempfile
import webbrowser
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime

ADA = "ada@northwind.test"


@pytest.fixture
def invoke(project: Path, sqlite_url: str) -> Iterator[Invoke]:
    """The CLI on SQLite; the process-wide runtime is reset afterwards."""
    yield make_invoke(project, sqlite_url)
    reset_cli_runtime()


@pytest.fixture
def invoke_any_db(project: Path, database_url: str) -> Iterator[Invoke]:
    """The CLI on SQLite and on PostgreSQL."""
    yield make_invoke(project, database_url)
    reset_cli_runtime()


def headers_and_body(output: str) -> tuple[dict[str, str], str]:
    head, _, body = output.partition("\n\n")
    headers = {}
    for line in head.splitlines():
        name, _, value = line.partition(": ")
        headers[name] = value
    return headers, body


def test_preview_prints_headers_and_text(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA)
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["From"] == "Ada Fischer <ada.fischer@northwind-analytics.example>"
    assert headers["To"] == f"Ada Winter <{ADA}>"
    assert headers["Subject"] == "Forecast accuracy at Northwind Traders"
    assert headers["Date"] == "Mon, 04 Jan 2027 09:00:00 +0000"
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/0.")
    assert "In-Reply-To" not in headers
    assert body.startswith("Hi Ada,\n")
    assert "forecast calls that still run on gut feeling" in body  # a CSV-only column
    assert "Best,\nAda Fischer\nAccount Executive, Northwind Analytics" in body
    assert "Unsubscribe: http://127.0.0.1:8000/u/0." in body
    assert "{{" not in body
    assert "[+ HTML part" not in result.stdout  # step 1 is text only


def test_same_thread_step_shows_re_subject_and_threading(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "2")
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["Subject"] == "Re: Forecast accuracy at Northwind Traders"
    assert "In-Reply-To" in headers
    assert "References" in headers
    assert body.startswith("Hi Ada,\n")


def test_a_step_in_its_own_thread_has_no_re(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "3")
    assert result.exit_code == 0, result.output
    headers, _ = headers_and_body(result.stdout)
    assert not headers["Subject"].startswith("Re:")
    assert "In-Reply-To" not in headers
    assert "[+ HTML part: use --html" in result.stdout  # 03_case_study has an HTML variant


@pytest.fixture(autouse=True)
def preview_files_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``--open`` writes under the test's own folder, never the machine's /tmp."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_html_flag_prints_the_decoded_html_not_quoted_printable(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "3", "--html")
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["Subject"] == "How Kessler Logistik cut forecast error to 6%"
    assert body.lstrip().startswith("<!DOCTYPE html>")
    assert "Northwind Traders" in body
    assert "Content-Transfer-Encoding" not in result.stdout
    assert "=3D" not in body
    assert "=\n" not in body
    sent = invoke("preview", "prospecting", "--lead", ADA, "--step", "3", "--open")
    written = Path(re.findall(r"^  (/\S+\.html)$", sent.stdout, re.M)[0])
    assert body.strip() == written.read_text("utf-8").strip()  # what the email carries


def test_html_flag_on_a_text_only_step_says_so_and_prints_the_text(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "1", "--html")
    assert result.exit_code == 0, result.output
    assert "step 1 has no HTML part: it is sent as text only" in result.stderr
    assert "Hi Ada," in result.stdout


def test_open_writes_html_and_text_files_and_prints_where(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "3", "--open")
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in re.findall(r"^  (/\S+)$", result.stdout, re.M)]
    assert [p.name for p in paths] == ["prospecting-step3.html", "prospecting-step3.txt"]
    page, text = (p.read_text("utf-8") for p in paths)
    assert '<p style="margin:0 0 16px 0;">Hi Ada,</p>' in page
    assert text.startswith("From: Ada Fischer <ada.fischer@northwind-analytics.example>\n")
    assert "Subject: How Kessler Logistik cut forecast error to 6%" in text
    assert "No display here" in result.stdout
    assert opened == []  # headless: no browser is started
    monkeypatch.setenv("DISPLAY", ":0")
    again = invoke("preview", "prospecting", "--lead", ADA, "--step", "3", "--open")
    assert opened
    assert opened[0].startswith("file://")
    assert opened[0].endswith(".html")
    assert "Opened prospecting-step3.html in your browser." in again.stdout


def test_all_prints_every_step_with_its_due_date(invoke: Invoke) -> None:
    result = invoke("preview", "qualification", "--lead", ADA, "--all")
    assert result.exit_code == 0, result.output
    heads = re.findall(r"^=== Step (\d) of 8 \((\w+)\), due (.+) ===$", result.stdout, re.M)
    assert [int(n) for n, _, _ in heads] == list(range(1, 9))
    assert heads[3][1] == "call"
    # The copy has no send windows: each wait counts from the step before, from 09:00 UTC
    # on Mon 4 Jan 2027 (the fixed clock), in the lead's zone (Europe/London = UTC in winter).
    assert heads[0][2] == "Mon 2027-01-04 09:00 GMT (0 days after enrollment)"
    assert heads[1][2] == "Wed 2027-01-06 09:00 GMT (2 business days after step 1)"
    assert result.stdout.count("Subject: ") == 7  # seven emails and one call task
    assert "Task (call) for a rep" in result.stdout
    assert "if enrolled now" in result.stdout


def test_all_with_a_step_is_one_clear_error(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--all", "--step", "2")
    assert result.exit_code == 1
    assert "--all shows every step" in result.output
    assert "Traceback" not in result.output


def test_lead_email_is_matched_case_insensitively(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", "  ADA@Northwind.Test ")
    assert result.exit_code == 0, result.output
    assert f"To: Ada Winter <{ADA}>" in result.stdout


def test_a_lead_without_first_name_gets_the_default(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", "sales-ops@cobalt-security.test")
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["To"] == "sales-ops@cobalt-security.test"
    assert body.startswith("Hi there,\n")


def test_a_german_lead_without_a_name_gets_the_german_greeting(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", "info@kontor-nord.test")
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["Subject"] == "Forecast-Genauigkeit bei Kontor Nord Handels GmbH"
    assert body.startswith("Guten Tag,\n\ndie meisten Vertriebsverantwortlichen")
    assert "Viele Grüße\nAda Fischer" in body
    assert "Abmelden: http" in body
    assert "Best," not in body


def test_unknown_sequence_is_one_line_with_a_suggestion(invoke: Invoke) -> None:
    result = invoke("preview", "prospectin", "--lead", ADA)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "did you mean 'prospecting'" in lines[0]
    assert "Traceback" not in result.output


def test_a_sequence_whose_file_is_invalid_says_so(invoke: Invoke, project: Path) -> None:
    path = project / "sequences" / "prospecting.yaml"
    path.write_text(path.read_text("utf-8").replace("stage: prospecting", "stage: cold"), "utf-8")
    result = invoke("preview", "prospecting", "--lead", ADA)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sequences/prospecting.yaml is invalid" in lines[0]
    assert "outreach validate" in lines[0]


def test_unknown_lead_is_a_clear_error_without_traceback(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", "nobody@nowhere.test")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "nobody@nowhere.test" in lines[0]
    assert "import" in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_invalid_address_is_a_clear_error(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", "not-an-address")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a valid address" in result.stderr


def test_a_step_beyond_the_sequence_is_a_clear_error(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "9")
    assert result.exit_code == 1
    assert "steps 1-7" in result.stderr
    assert "Traceback" not in result.output


def test_a_template_error_is_shown_not_sent(invoke: Invoke, project: Path) -> None:
    path = project / "templates" / "prospecting" / "01_intro.txt.j2"
    path.write_text(
        path.read_text("utf-8").replace("{{ lead.company }}", "{{ lead.nickname }}", 1), "utf-8"
    )
    result = invoke("preview", "prospecting", "--lead", ADA)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "templates/prospecting/01_intro.txt.j2:2:" in lines[0]
    assert "nickname" in lines[0]


def test_a_lead_in_the_database_wins_over_the_sample_file(
    invoke_any_db: Invoke, project: Path
) -> None:
    csv = project / "update.csv"
    csv.write_text("email,first_name,company\nada@northwind.test,Adelheid,Southwind Ltd\n", "utf-8")
    imported = invoke_any_db("leads", "import", str(csv), "--no-enroll")
    assert imported.exit_code == 0, imported.output
    result = invoke_any_db("preview", "prospecting", "--lead", ADA)
    assert result.exit_code == 0, result.output
    headers, body = headers_and_body(result.stdout)
    assert headers["Subject"] == "Forecast accuracy at Southwind Ltd"
    assert headers["To"] == f"Adelheid <{ADA}>"
    assert not headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/0.")
    assert body.startswith("Hi Adelheid,\n")


def test_preview_help_has_examples(invoke: Invoke) -> None:
    result = invoke("preview", "--help")
    assert result.exit_code == 0
    assert "outreach preview prospecting --lead ada@northwind.test --step 2" in result.output


def test_preview_says_which_language_the_email_is_in(invoke: Invoke, project: Path) -> None:
    german = "k.mueller@brauhaus-logistik.test"
    result = invoke("preview", "prospecting", "--lead", german)
    assert result.exit_code == 0, result.output
    assert "Language: de (the lead's)" in result.stderr
    assert "Language: en (the lead's)" in invoke("preview", "prospecting", "--lead", ADA).stderr
    # Without its German text the step goes out in the sequence's default language.
    (project / "templates" / "prospecting" / "01_intro.de.txt.j2").unlink()
    result = invoke("preview", "prospecting", "--lead", german)
    assert "Language: en (the lead's is de, but this step has no de text)" in result.stderr
