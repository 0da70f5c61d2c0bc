"""``schedules.yaml``: loading, errors as ``schedules.yaml:LINE: message``, sequences naming a
schedule (``outreach validate``), and lead countries checked on import."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from tests.conftest import REPO, copy_project
from worker.authoring import load_catalog
from worker.authoring.schedules import Schedules, Span, load_schedules
from worker.errors import ConfigError, NotFoundError
from worker.leads.csv_input import RowError
from worker.leads.importing import import_leads, read_rows
from worker.runtime import Runtime
from worker.settings import Settings

GOOD = """\
default_timezone: Europe/Berlin
schedules:
  business-hours:
    days: [mon, tue, wed, thu, fri]
    hours: "09:00-12:00, 13:30-17:00"
    jitter: 20 minutes
    holidays: true
    blackout: [2026-12-24, "2027-08-02..2027-08-13"]
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "schedules.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project", send_windows=True)


@pytest.fixture
def invoke(project: Path, sqlite_url: str) -> Iterator[Invoke]:
    yield make_invoke(project, sqlite_url)
    reset_cli_runtime()


# --- loading -----------------------------------------------------------------------------


def test_the_shipped_schedules_file_defines_business_hours() -> None:
    schedules = load_schedules(REPO / "schedules.yaml")
    shipped = schedules.get("business-hours")
    assert schedules.default_timezone == "Europe/Berlin"
    assert shipped.days == frozenset(range(5))
    assert shipped.hours == (Span(9 * 60, 12 * 60), Span(13 * 60 + 30, 17 * 60))
    assert shipped.jitter == timedelta(minutes=20)
    assert shipped.holidays is True
    assert (date(2027, 8, 2), date(2027, 8, 13)) in shipped.blackout
    assert (date(2026, 12, 24), date(2026, 12, 24)) in shipped.blackout


def test_every_shipped_sequence_names_a_defined_schedule() -> None:
    catalog, problems = load_catalog(REPO / "sequences", REPO)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert {catalog.get(name).schedule for name in catalog.names()} == {"business-hours"}
    assert "business-hours" in catalog.schedules.by_name


def test_defaults_are_weekdays_nine_to_five_without_jitter(tmp_path: Path) -> None:
    schedules = load_schedules(write(tmp_path, "schedules:\n  plain: {}\n"))
    plain = schedules.get("plain")
    assert plain.days == frozenset(range(5))
    assert plain.hours == (Span(9 * 60, 17 * 60),)
    assert plain.jitter == timedelta(0)
    assert plain.holidays is True
    assert plain.blackout == ()
    assert schedules.default_timezone is None


def test_days_may_be_full_names_and_hours_a_list_ending_at_midnight(tmp_path: Path) -> None:
    text = """\
    schedules:
      night-owls:
        days: [Saturday, sun]
        hours: ["22:00-24:00", "00:00-02:00"]
        jitter: 90 seconds
        holidays: false
    """
    owls = load_schedules(write(tmp_path, text)).get("night-owls")
    assert owls.days == frozenset({5, 6})
    assert owls.hours == (Span(0, 120), Span(22 * 60, 24 * 60))
    assert owls.jitter == timedelta(seconds=90)
    assert owls.holidays is False


def test_a_missing_file_has_no_schedules(tmp_path: Path) -> None:
    schedules = load_schedules(tmp_path / "schedules.yaml")
    assert schedules.by_name == {}
    assert not schedules.found
    with pytest.raises(NotFoundError, match=r"schedules\.yaml not found"):
        schedules.get("business-hours")


def test_an_unknown_name_suggests_the_closest(tmp_path: Path) -> None:
    schedules = load_schedules(write(tmp_path, GOOD))
    with pytest.raises(NotFoundError, match="did you mean 'business-hours'"):
        schedules.get("busines-hours")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("jitter:", "jiter:"), 6, "unknown key 'schedules.business-hours.jiter'"),
        (GOOD.replace("jitter:", "jiter:"), 6, "did you mean 'jitter'"),
        (GOOD.replace("default_timezone", "timezone"), 1, "did you mean 'default_timezone'"),
        (GOOD.replace("Europe/Berlin", "Mars/Olympus"), 1, "time zone 'Mars/Olympus' is unknown"),
        (GOOD.replace("thu, fri", "thu, fryday"), 4, "day 'fryday' is not one of"),
        (GOOD.replace("[mon, tue, wed, thu, fri]", "[]"), 4, "days must be a list"),
        (GOOD.replace("13:30-17:00", "17:00-13:30"), 5, "end before they start"),
        (GOOD.replace("13:30-17:00", "11:00-17:00"), 5, "overlap"),
        (GOOD.replace("13:30-17:00", "13:30-25:00"), 5, "from 00:00 to 24:00"),
        (GOOD.replace("13:30-17:00", "half past one"), 5, "not understood"),
        (GOOD.replace("20 minutes", "a little"), 6, "jitter 'a little' is not understood"),
        (GOOD.replace("20 minutes", "13 hours"), 6, "12 hours or less"),
        (GOOD.replace("holidays: true", "holidays: maybe"), 7, "holidays"),
        (GOOD.replace("2027-08-02..2027-08-13", "2027-08-13..2027-08-02"), 8, "ends before"),
        (GOOD.replace("2027-08-02..2027-08-13", "2027-02-30"), 8, "is not a date"),
        (GOOD.replace("2027-08-02..2027-08-13", "2027-01-01..2028-12-31"), 8, "longer than a"),
        (GOOD.replace("business-hours:", "Business Hours:"), 2, "lowercase letters"),
        (GOOD.replace('"09:00', "'09:00"), 5, "YAML syntax error"),
        (GOOD + "  business-hours: {}\n", 9, "duplicate key 'business-hours'"),
        ("- business-hours\n", 1, "must be a mapping"),
    ],
)
def test_a_bad_schedules_file_names_the_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_schedules(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"schedules.yaml:{line}: "), message
    assert fragment in message


# --- sequences naming a schedule ---------------------------------------------------------


def test_a_missing_schedules_file_is_fine_when_no_sequence_names_one(tmp_path: Path) -> None:
    stripped = copy_project(tmp_path / "plain")  # sequences without 'schedule:'
    catalog, problems = load_catalog(stripped / "sequences", stripped)
    assert [p for p in problems if p.severity == "error"] == []
    assert len(catalog.names()) == 5
    assert catalog.schedules == Schedules(source="schedules.yaml")


def test_a_sequence_naming_a_schedule_needs_the_file(project: Path) -> None:
    (project / "schedules.yaml").unlink()
    catalog, problems = load_catalog(project / "sequences", project)
    found = {str(p) for p in problems}
    assert (
        "sequences/prospecting.yaml:4: schedule 'business-hours' is not defined: "
        "schedules.yaml not found — create it (see docs/authoring.md, 'Send windows') or "
        "remove 'schedule:'"
    ) in found
    assert catalog.names() == []  # nothing is sent outside the window it asked for
    with pytest.raises(NotFoundError, match="is invalid"):
        catalog.get("prospecting")


def test_validate_reports_an_unknown_schedule_with_file_line_and_suggestion(
    invoke: Invoke, project: Path
) -> None:
    path = project / "sequences" / "decision.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("schedule: business-hours", "schedule: busines-hours"), "utf-8")

    result = invoke("validate")

    assert result.exit_code == 1
    assert (
        "sequences/decision.yaml:4: schedule 'busines-hours' is not in schedules.yaml — did you "
        "mean 'business-hours'? (known: business-hours)"
    ) in result.output
    assert "prospecting.yaml" not in result.output


def test_validate_reports_a_bad_schedules_file_and_what_it_blocks(
    invoke: Invoke, project: Path
) -> None:
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("jitter: 20 minutes", "jitter: soon"), "utf-8")

    result = invoke("validate")

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(
        line.startswith("schedules.yaml:9: schedules.business-hours.jitter: jitter 'soon'")
        for line in lines
    ), result.output
    assert (
        "sequences/prospecting.yaml:4: schedule 'business-hours' cannot be used while "
        "schedules.yaml is invalid"
    ) in lines


def test_validate_passes_on_the_shipped_project(invoke: Invoke) -> None:
    result = invoke("validate")
    assert result.exit_code == 0, result.output


def test_a_misspelt_schedule_key_in_a_sequence_suggests_schedule(project: Path) -> None:
    path = project / "sequences" / "prospecting.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("schedule: business", "schedul: business"), "utf-8")
    _, problems = load_catalog(project / "sequences", project)
    assert any(
        str(p).startswith("sequences/prospecting.yaml:4: unknown key 'schedul' — did you mean")
        for p in problems
    )


def test_the_settings_know_where_schedules_live(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    assert settings.schedules_file == tmp_path.resolve() / "schedules.yaml"


# --- countries of leads ------------------------------------------------------------------


def rows_of(tmp_path: Path, body: str) -> list[object]:
    path = tmp_path / "leads.csv"
    path.write_text("email,country\n" + textwrap.dedent(body), encoding="utf-8")
    return [row for _, row in read_rows(path)]


def test_countries_are_iso_codes_normalised_on_import(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        """\
        a@x.test,de
        b@x.test, US
        c@x.test,UK
        d@x.test,
        e@x.test,XK
        """,
    )
    assert [row.get("country") for row in rows if isinstance(row, dict)] == [
        "DE",
        "US",
        "GB",
        None,
        "XK",
    ]


@pytest.mark.parametrize("country", ["XX", "Germany", "EU", "D", "U5"])
def test_an_unknown_country_is_an_error_naming_the_row(tmp_path: Path, country: str) -> None:
    rows = rows_of(tmp_path, f"good@x.test,DE\nbad@x.test,{country}\n")
    error = rows[1]
    assert isinstance(error, RowError)
    assert str(error) == (
        f"leads.csv:3: country {country!r} is not an ISO 3166 country code — use two letters "
        "such as DE, GB or US"
    )


def test_import_skips_a_row_with_an_unknown_country_and_keeps_the_rest(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "email,timezone,country\n"
        "ok@x.test,Europe/Berlin,DE\n"
        "nowhere@x.test,Europe/Berlin,XX\n"
        "also@x.test,America/New_York,US\n",
        encoding="utf-8",
    )
    report = import_leads(runtime.sessions, path, runtime.clock, runtime.catalog)
    assert [str(error) for error in report.errors] == [
        "leads.csv:3: country 'XX' is not an ISO 3166 country code — use two letters such as "
        "DE, GB or US"
    ]
    assert report.created == 2


def test_the_import_command_prints_the_bad_country_row(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("email,country\nok@x.test,DE\nbad@x.test,XX\n", encoding="utf-8")
    result = invoke("leads", "import", str(path))
    assert "leads.csv:3: country 'XX' is not an ISO 3166 country code" in result.output
