"""``outreach report --html FILE``: a self-contained page with an SVG chart per section and
the report's numbers as escaped tables."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.test_report import EVENTS, LEADS, TOUCHES
from worker.analytics import compute_report
from worker.analytics.html_report import render_html, write_html
from worker.authoring.formatting import amounts_text

NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
EVIL = "<script>alert(1)</script>"


def external_links(page: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"'<>)]+", page)) - NAMESPACES


def cell(value: Any) -> str:
    numeric = ' class="n"' if isinstance(value, int) else ""
    return f"<td{numeric}>{value}</td>"


def assert_self_contained(page: str) -> None:
    assert page.count("<svg") >= 3
    assert external_links(page) == set()
    assert "<script" not in page.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)


def test_the_page_has_a_chart_per_section_and_the_numbers_as_tables(tmp_path: Path) -> None:
    data = compute_report(LEADS, EVENTS, TOUCHES)
    path = write_html(data, tmp_path / "out" / "report.html", datetime(2027, 2, 1, tzinfo=UTC))
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "2027-02-01 00:00:00" in page
    assert page.count("<svg") == 4  # funnel, steps, pipeline, mailboxes (no variants here)
    assert_self_contained(page)
    for row in data["funnel"]:
        cells = [row["stage"], row["entered"], row["advanced"], row["lost"]]
        assert "".join(cell(c) for c in cells) in page
    assert "<td>€605</td>" in page  # the pipeline's forecast total
    assert "<td>€5,000</td>" in page  # won value
    assert "<td>16.7%</td>" in page  # sales hard bounce rate
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left


def test_every_value_is_escaped_in_tables_and_charts() -> None:
    data = compute_report(LEADS, EVENTS, TOUCHES)
    data["mailboxes"][0]["mailbox"] = EVIL
    data["funnel"][0]["stage"] = EVIL
    data["steps"][0]["sequence"] = f'"{EVIL}'
    page = render_html(data)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert_self_contained(page)


def test_empty_sections_say_so() -> None:
    page = render_html(compute_report([], [], []))
    assert "No data." in page
    assert external_links(page) == set()


def test_outreach_report_html_writes_the_page_and_prints_its_path(
    project: Path, sqlite_url: str
) -> None:
    leads = project / "examples" / "leads.csv"
    with leads.open(encoding="utf-8", newline="") as file:
        rows: list[dict[str, Any]] = list(csv.DictReader(file))
    rows[0]["company"] = EVIL
    rows[0]["first_name"] = "<b>Ada</b>"
    with leads.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    outreach = make_invoke(project, sqlite_url)
    target = project / "reports" / "pipeline.html"
    try:
        imported = outreach("leads", "import", str(leads))
        assert imported.exit_code == 0, imported.output
        ran = outreach("run")
        assert ran.exit_code == 0, ran.output
        reset_cli_runtime()
        data = json.loads(outreach("report", "--json").output)
        reset_cli_runtime()
        result = outreach("report", "--html", str(target))
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(target.resolve())
    page = target.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<b>Ada</b>" not in page
    assert sum(s["sent"] for s in data["steps"]) > 0
    for row in data["funnel"]:
        assert f"<td>{row['stage']}</td>" in page
        assert f'<td class="n">{row["entered"]}</td>' in page
    for row in data["steps"]:
        assert f'<td class="n">{row["sent"]}</td>' in page
    for row in data["mailboxes"]:
        assert f"<td>{row['mailbox']}</td>" in page
    forecast = data["pipeline"]["forecast_won"]  # one amount per currency, never one sum
    assert f"<td>{amounts_text(forecast, data['pipeline']['currencies'])}</td>" in page


def test_an_unwritable_path_is_a_clear_error(project: Path, sqlite_url: str) -> None:
    blocker = project / "file"
    blocker.write_text("x", encoding="utf-8")
    outreach = make_invoke(project, sqlite_url)
    try:
        result = outreach("report", "--html", str(blocker / "report.html"))
    finally:
        reset_cli_runtime()
    assert result.exit_code == 1
    assert "cannot write" in result.output
