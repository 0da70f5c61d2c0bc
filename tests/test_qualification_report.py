"""The qualification report on a small known data set, on SQLite and PostgreSQL: MQLs per
source and sequence, acceptance and rejection reasons, medians, score buckets, deciles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from worker.analytics import build_report
from worker.analytics.html_report import sections
from worker.analytics.qualification import qualification_report
from worker.analytics.report import REPORT_STAGES
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def _lead(n: int, stage: str, **values: Any) -> Lead:
    fields = {"source": values.pop("source")} if "source" in values else {}
    return Lead(
        email=f"l{n}@example.test",
        stage=stage,
        status="active",
        fields=fields,
        created_at=T0,
        updated_at=T0,
        **values,
    )


def _known_data(runtime: Runtime) -> None:
    """Seven leads: four imported, two from a webinar (a ``source`` field), one captured on
    the website; two accepted decisions, two rejections."""
    with runtime.sessions.begin() as session:
        leads = [
            _lead(1, "consideration", score=85, mql_at=T0 + 2 * DAY, sql_at=T0 + 5 * DAY),
            _lead(2, "qualification", score=45, mql_at=T0 + 4 * DAY, qualification="nurture"),
            _lead(3, "prospecting", score=10),
            _lead(4, "prospecting"),
            _lead(5, "won", score=70, mql_at=T0 + 6 * DAY, sql_at=T0 + 8 * DAY, source="webinar"),
            _lead(6, "lost", score=30, source="webinar"),
            _lead(7, "won", score=90, qualification="mql", mql_at=T0 + 1 * DAY),
        ]
        session.add_all(leads)
        session.flush()
        ids = [lead.id for lead in leads]
        for lead_id in ids[:4]:
            session.add(Enrollment(lead_id=lead_id, sequence="prospecting", enrolled_at=T0))
        for lead_id in ids[:2]:
            session.add(Enrollment(lead_id=lead_id, sequence="qualification", enrolled_at=T0))
        session.add_all(
            [
                Event(at=T0, lead_id=ids[6], kind="captured", cause="website", detail={}),
                Event(at=T0, lead_id=ids[0], kind="sql_accepted", cause="rep", detail={}),
                Event(at=T0, lead_id=ids[4], kind="sql_accepted", cause="rep", detail={}),
                Event(at=T0, lead_id=ids[1], kind="sql_rejected", cause="no_budget", detail={}),
                Event(at=T0, lead_id=ids[5], kind="sql_rejected", cause="no_budget", detail={}),
            ]
        )


def test_the_qualification_figures_of_a_known_data_set(runtime: Runtime) -> None:
    _known_data(runtime)
    with runtime.sessions() as session:
        q = qualification_report(session, REPORT_STAGES)

    assert q["by_source"] == [
        {"source": "import", "leads": 4, "mqls": 2, "mql_rate": 0.5, "sqls": 1},
        {"source": "webinar", "leads": 2, "mqls": 1, "mql_rate": 0.5, "sqls": 1},
        {"source": "website", "leads": 1, "mqls": 1, "mql_rate": 1.0, "sqls": 0},
    ]
    assert q["by_sequence"] == [
        {"sequence": "prospecting", "leads": 4, "mqls": 2, "mql_rate": 0.5, "sqls": 1},
        {"sequence": "qualification", "leads": 2, "mqls": 2, "mql_rate": 1.0, "sqls": 1},
    ]
    acceptance = q["acceptance"]
    assert acceptance == {
        "mqls": 4,
        "waiting": 1,
        "accepted": 2,
        "rejected": 2,
        "acceptance_rate": 0.5,
        "rejection_reasons": {"no_budget": 2},
        "median_days_to_mql": 3.0,  # 1, 2, 4, 6 days
        "median_days_to_sql": 6.5,  # 5, 8 days
    }
    buckets = {row["stage"]: row["buckets"] for row in q["score_by_stage"]}
    assert list(buckets) == ["prospecting", "qualification", "consideration", "won", "lost"]
    assert buckets["prospecting"] == {
        "0-19": 1,
        "20-39": 0,
        "40-59": 0,
        "60-79": 0,
        "80+": 0,
        "no score": 1,
    }
    assert buckets["won"]["80+"] == 1
    assert buckets["won"]["60-79"] == 1
    # Won and lost with a score: 30 (lost), 70 (won), 90 (won) — three deciles of one each.
    assert [
        (r["decile"], r["leads"], r["won"], r["min_score"]) for r in q["win_rate_by_decile"]
    ] == [
        (1, 1, 0, 30.0),
        (2, 1, 1, 70.0),
        (3, 1, 1, 90.0),
    ]


def test_the_report_shows_the_qualification_sections_with_charts(runtime: Runtime) -> None:
    _known_data(runtime)
    with runtime.sessions() as session:
        data = build_report(session, qualification=True)
    shown = {section["name"]: section for section in sections(data)}
    assert ["rejected: no_budget", 2] in shown["acceptance"]["rows"]
    for name in ("mql_sources", "mql_sequences", "acceptance", "score_stages", "score_deciles"):
        chart = shown[name]["chart"]
        assert chart is not None
        assert chart.startswith("<svg")


def test_a_team_not_scoring_leads_sees_no_qualification_sections(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        session.add(_lead(1, "prospecting"))
    with runtime.sessions() as session:
        data = build_report(session, qualification=True)
    assert data["qualification"] is None
    assert "acceptance" not in {section["name"] for section in sections(data, charts=False)}
