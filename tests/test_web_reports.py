"""The reports pages of the web app: the whole report with the known counts of
tests/test_report.py, a chart per section as its own SVG response, and the ``since`` filter."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.test_report import EVENTS, LEADS, T0, TOUCHES
from tests.web_support import signed_in_client, web_app
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, Touch
from worker.web.reports import CHART_CSP

CHARTS = ("funnel", "steps", "pipeline", "mailboxes")  # no variants in this scenario


def store_scenario(session: Session) -> None:
    """The report scenario of tests/test_report.py as database rows (ids mapped)."""
    leads: dict[int, int] = {}
    for row in LEADS:
        lead = Lead(
            email=f"lead{row.id}@scenario.test",
            stage=row.stage,
            status=row.status,
            deal_value=row.deal_value,
            fields={},
            created_at=row.created_at,
            updated_at=row.created_at,
        )
        session.add(lead)
        session.flush()
        leads[row.id] = lead.id
    touches: dict[int, int] = {}
    enrollments: dict[tuple[int, str], Enrollment] = {}
    for row in TOUCHES:
        key = (leads[row.lead_id], row.sequence)
        if key not in enrollments:
            enrollments[key] = Enrollment(
                lead_id=key[0], sequence=key[1], status="stopped", enrolled_at=T0
            )
            session.add(enrollments[key])
            session.flush()
        touch = Touch(
            enrollment_id=enrollments[key].id,
            lead_id=leads[row.lead_id],
            sequence=row.sequence,
            step_index=row.step_index,
            status="sent",
            due_at=T0,
            created_at=T0,
            available_at=T0,
            mailbox=row.mailbox,
            variant=row.variant,
        )
        session.add(touch)
        session.flush()
        touches[row.id] = touch.id
    for event in EVENTS:
        session.add(
            Event(
                at=event.at,
                lead_id=leads[event.lead_id] if event.lead_id is not None else None,
                touch_id=touches[event.touch_id] if event.touch_id is not None else None,
                kind=event.kind,
                sequence=event.sequence,
                step_index=event.step_index,
                cause=event.cause,
                detail=dict(event.detail),
            )
        )


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    with runtime.sessions.begin() as session:
        store_scenario(session)
    return signed_in_client(runtime)[0]


def row(*cells: str | int) -> str:
    """A table row as the page writes it: a row header, then numbers (and "-") right-aligned."""
    first, *rest = cells
    tds = "".join(
        f'<td class="num">{c}</td>' if re.fullmatch(r"-|€?[\d,.]+%?", str(c)) else f"<td>{c}</td>"
        for c in rest
    )
    return f'<tr><th scope="row">{first}</th>{tds}</tr>'


def test_the_report_page_shows_every_section_with_the_known_numbers(
    client: FlaskClient,
) -> None:
    response = client.get("/reports")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<h2 id="funnel">Funnel</h2>' in page
    for name in ("steps", "variants", "pipeline", "mailboxes"):
        assert f'id="{name}"' in page
        assert f'href="#{name}"' in page
    # funnel: prospecting entered 5, advanced 3, lost 1, conversion 60%, median 2.5 days
    assert row("prospecting", 5, 3, 1, "60.0%", "2.5") in page
    assert row("qualification", 4, 2, 1, "50.0%", "2.0") in page
    # steps: prospecting step 1 sent 5, dropped 1 (lost); step 2 dropped 1 (bounced)
    assert "<td>1 (1 lost)</td>" in page
    assert "<td>1 (1 bounced)</td>" in page
    assert row("prospecting", 2, 2, "1 bounce_hard, 1 positive", 1, 0, "1 (1 bounced)") in page
    # pipeline: won value €5,000, forecast total €605 (no currency said: the default, EUR)
    assert row("won", 1, "€5,000", "-", "-") in page
    assert '<td class="num">€605</td>' in page
    assert row("sales", 6, "16.7%", "0.0%", "33.3%") in page
    assert "No data." in page  # no A/B variants
    for name in CHARTS:
        assert f'<img src="/reports/charts/{name}.svg" alt="Bar chart: ' in page
    assert "/reports/charts/variants.svg" not in page
    assert " style=" not in page
    assert "<script" not in page
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", CHARTS)
def test_each_chart_is_an_svg_of_its_own_with_a_csp_allowing_only_its_styles(
    client: FlaskClient, name: str
) -> None:
    response = client.get(f"/reports/charts/{name}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Security-Policy"] == CHART_CSP
    svg = response.get_data(as_text=True)
    assert svg.startswith(("<?xml", "<svg"))
    assert "<svg" in svg
    assert "</svg>" in svg
    assert "<script" not in svg
    assert not re.search(r"https?://(?!www\.w3\.org/)", svg)


def test_unknown_and_empty_charts_are_not_found(client: FlaskClient) -> None:
    assert client.get("/reports/charts/nothing.svg").status_code == 404
    assert client.get("/reports/charts/variants.svg").status_code == 404  # no data


def test_since_limits_the_counts_and_reaches_the_charts(client: FlaskClient) -> None:
    since = (T0 + timedelta(days=3)).date().isoformat()
    page = client.get(f"/reports?since={since}").get_data(as_text=True)
    assert row("prospecting", 0, 0, 0, "-", "-") in page
    assert row("qualification", 1, 0, 1, "0.0%", "2.0") in page
    assert f'value="{since}"' in page
    assert f'src="/reports/charts/funnel.svg?since={since}"' in page
    assert "/reports/charts/mailboxes.svg" not in page  # nothing sent since then
    chart = client.get(f"/reports/charts/funnel.svg?since={since}")
    assert chart.status_code == 200


@pytest.mark.parametrize("since", ["yesterday", "2027-13-01", "2027-1-4", "<b>x</b>"])
def test_a_bad_since_is_a_400_with_a_message(client: FlaskClient, since: str) -> None:
    response = client.get("/reports", query_string={"since": since})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "is not a date — write it as YYYY-MM-DD" in page
    assert "<b>x</b>" not in page
    assert client.get("/reports/charts/funnel.svg", query_string={"since": since}).status_code == (
        400
    )


def test_reports_need_a_signed_in_rep(runtime: Runtime) -> None:
    client = web_app(runtime).test_client()
    for path in ("/reports", "/reports/charts/funnel.svg"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
