"""``outreach report``: funnel, steps and drop-off, A/B variants, pipeline forecast and
mailboxes, computed from the event log with known counts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import make_settings
from tests.reply_support import reply_to
from worker.analytics import build_report, compute_report
from worker.analytics.records import EventRow, LeadRow, TouchRow
from worker.clock import VirtualClock
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Lead, Touch
from worker.understanding import Classification

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ADA = "ada@northwind.test"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def moves(lead: int, *path: tuple[float, str, str]) -> list[EventRow]:
    return [
        EventRow(day(d), lead, None, "stage_changed", detail={"previous": a, "stage": b})
        for d, a, b in path
    ]


def sent(touch: TouchRow, at: float) -> EventRow:
    return EventRow(day(at), touch.lead_id, touch.id, "sent", touch.sequence, touch.step_index)


def classified(touch: TouchRow, at: float, intent: str) -> EventRow:
    return EventRow(day(at), touch.lead_id, touch.id, "classified", touch.sequence, cause=intent)


def lead_event(
    lead: int, at: float, kind: str, cause: str, sequence: str | None = None
) -> EventRow:
    return EventRow(day(at), lead, None, kind, sequence, cause=cause)


LEADS = [
    LeadRow(1, "consideration", "needs_review", 1000.0, T0),
    LeadRow(2, "lost", "stopped", 500.0, T0),
    LeadRow(3, "lost", "stopped", None, T0),
    LeadRow(4, "prospecting", "bounced", 200.0, T0),
    LeadRow(5, "qualification", "unsubscribed", 300.0, T0),
    LeadRow(6, "won", "completed", 5000.0, T0),
]
P, Q = "prospecting", "qualification"
TOUCHES = [
    TouchRow(1, 1, P, 0, "sales", None),
    TouchRow(2, 1, P, 1, "sales", None),
    TouchRow(3, 2, P, 0, "support", None),
    TouchRow(4, 3, P, 0, "sales", None),
    TouchRow(5, 4, P, 0, "sales", None),
    TouchRow(6, 4, P, 1, "sales", None),
    TouchRow(7, 5, Q, 0, "support", None),
    TouchRow(8, 6, P, 0, "sales", None),
]
T = {t.id: t for t in TOUCHES}
EVENTS = sorted(
    [
        EventRow(T0, 5, None, "lead_created", cause="import"),
        *(sent(T[i], 0) for i in (1, 3, 4, 5, 7, 8)),
        *(sent(T[i], 1) for i in (2, 6)),
        *moves(1, (2, P, Q), (5, Q, "consideration")),
        classified(T[2], 2, "positive"),
        classified(T[3], 1, "question"),
        *moves(2, (4, P, Q), (6, Q, "lost")),
        classified(T[4], 3, "negative"),
        lead_event(3, 3, "sequence_stopped", "reply: negative", P),
        *moves(3, (3, P, "lost")),
        classified(T[6], 2, "bounce_hard"),
        lead_event(4, 2, "suppressed", "bounce"),
        lead_event(4, 2, "sequence_stopped", "reply: bounce_hard", P),
        classified(T[7], 1, "unsubscribe"),
        lead_event(5, 1, "suppressed", "unsubscribe"),
        lead_event(5, 1, "sequence_stopped", "reply: unsubscribe", Q),
        classified(T[8], 0.5, "ooo"),
        *moves(
            6,
            (1, P, Q),
            (2, Q, "consideration"),
            (3, "consideration", "decision"),
            (4, "decision", "delivery"),
            (5, "delivery", "won"),
        ),
    ],
    key=lambda e: e.at,
)


def by(rows: list[dict[str, Any]], **keys: Any) -> dict[str, Any]:
    [row] = [r for r in rows if all(r[k] == v for k, v in keys.items())]
    return row


def test_the_funnel_counts_entries_advances_losses_conversion_and_median_days() -> None:
    funnel = compute_report(LEADS, EVENTS, TOUCHES)["funnel"]
    summary = [
        (r["stage"], r["entered"], r["advanced"], r["lost"], r["conversion"], r["median_days"])
        for r in funnel
    ]
    assert summary == [
        ("prospecting", 5, 3, 1, 0.6, 2.5),
        ("qualification", 4, 2, 1, 0.5, 2.0),
        ("consideration", 2, 1, 0, 0.5, 1.0),
        ("decision", 1, 1, 0, 1.0, 1.0),
        ("delivery", 1, 1, 0, 1.0, 1.0),
    ]


def test_since_counts_only_stage_entries_and_sends_from_that_date() -> None:
    report = compute_report(LEADS, EVENTS, TOUCHES, since=day(3))
    assert [r["entered"] for r in report["funnel"]] == [0, 1, 1, 1, 1]
    # lead 2 enters qualification on day 4, lead 1 consideration on day 5, lead 6 decision
    # and delivery on days 3 and 4; only lead 3's negative reply (day 3) is left of the steps
    [step] = report["steps"]
    assert (step["step"], step["sent"], step["replies"]) == (1, 0, {"negative": 1})
    assert report["mailboxes"] == []


def test_steps_count_sends_replies_bounces_unsubscribes_and_drop_off_by_reason() -> None:
    steps = compute_report(LEADS, EVENTS, TOUCHES)["steps"]
    assert by(steps, sequence=P, step=1) == {
        "sequence": P,
        "step": 1,
        "sent": 5,
        "replies": {"negative": 1, "ooo": 1, "question": 1},
        "bounces": 0,
        "unsubscribes": 0,
        "drop_off": 1,
        "drop_off_reasons": {"lost": 1},
    }
    assert by(steps, sequence=P, step=2) == {
        "sequence": P,
        "step": 2,
        "sent": 2,
        "replies": {"bounce_hard": 1, "positive": 1},
        "bounces": 1,
        "unsubscribes": 0,
        "drop_off": 1,
        "drop_off_reasons": {"bounced": 1},
    }
    qualification = by(steps, sequence=Q, step=1)
    assert (qualification["sent"], qualification["unsubscribes"]) == (1, 1)
    assert qualification["drop_off_reasons"] == {"unsubscribed": 1}


def test_step_rows_follow_the_given_sequence_order_then_names() -> None:
    keys = lambda rows: [(r["sequence"], r["step"]) for r in rows]  # noqa: E731
    plain = compute_report(LEADS, EVENTS, TOUCHES)["steps"]
    assert keys(plain) == [(P, 1), (P, 2), (Q, 1)]  # by name
    ordered = compute_report(LEADS, EVENTS, TOUCHES, sequence_order=[Q, P])["steps"]
    assert keys(ordered) == [(Q, 1), (P, 1), (P, 2)]


def test_the_catalog_lists_sequences_in_pipeline_order(project: Path) -> None:
    from worker.authoring.sequences import load_catalog

    catalog, _ = load_catalog(project / "sequences", project)
    order = catalog.in_pipeline_order()
    stages = [catalog.get(name).stage for name in order]
    assert stages == sorted(
        stages, key=["prospecting", "qualification", "consideration", "decision", "delivery"].index
    )
    assert order[0] == "prospecting"


def test_pipeline_value_and_forecast_multiply_value_by_the_remaining_conversions() -> None:
    pipeline = compute_report(LEADS, EVENTS, TOUCHES)["pipeline"]
    stages = {r["stage"]: r for r in pipeline["stages"]}
    assert {s: r["value"] for s, r in stages.items()} == {  # no currency said: the default
        "prospecting": {"EUR": 200.0},
        "qualification": {"EUR": 300.0},
        "consideration": {"EUR": 1000.0},
        "decision": {},
        "delivery": {},
        "won": {"EUR": 5000.0},
        "lost": {"EUR": 500.0},
    }
    # prospecting 0.6 * qualification 0.5 * consideration 0.5 * decision 1 * delivery 1
    assert stages["prospecting"]["win_probability"] == pytest.approx(0.15)
    assert stages["prospecting"]["forecast_won"] == {"EUR": pytest.approx(30.0)}
    assert stages["qualification"]["forecast_won"] == {"EUR": pytest.approx(75.0)}
    assert stages["consideration"]["forecast_won"] == {"EUR": pytest.approx(500.0)}
    assert stages["won"]["forecast_won"] is None
    assert pipeline["forecast_won"] == {"EUR": pytest.approx(605.0)}
    assert pipeline["currencies"] == ["EUR"]


def test_mailboxes_show_sent_hard_bounce_rate_and_reply_rate() -> None:
    mailboxes = compute_report(LEADS, EVENTS, TOUCHES)["mailboxes"]
    sales, support = by(mailboxes, mailbox="sales"), by(mailboxes, mailbox="support")
    assert (sales["sent"], sales["hard_bounce_rate"], sales["reply_rate"]) == (6, 1 / 6, 2 / 6)
    assert (support["sent"], support["hard_bounce_rate"], support["reply_rate"]) == (2, 0.0, 1.0)


def _variant_scenario() -> tuple[list[TouchRow], list[EventRow]]:
    """alpha: 100 sent, 20 replies (5 positive); bravo: 100 sent, 10 replies (2 positive) and
    3 auto-replies that are not replies."""
    touches: list[TouchRow] = []
    events: list[EventRow] = []
    plan = {"alpha": (20, 5, 0), "bravo": (10, 2, 3)}
    for variant, (replies, positive, auto) in plan.items():
        for i in range(100):
            touch = TouchRow(len(touches) + 1, len(touches) + 1, P, 0, "sales", variant)
            touches.append(touch)
            events.append(sent(touch, 0))
            if i < replies:
                events.append(classified(touch, 1, "positive" if i < positive else "question"))
            elif i < replies + auto:
                events.append(classified(touch, 1, "auto_reply"))
    return touches, events


def test_variants_compare_reply_rates_with_a_z_test_and_the_sample_size_needed() -> None:
    touches, events = _variant_scenario()
    alpha, bravo = compute_report([], events, touches)["variants"]
    assert (alpha["variant"], alpha["sent"], alpha["reply_rate"], alpha["positive_rate"]) == (
        "alpha",
        100,
        0.2,
        0.05,
    )
    assert (bravo["sent"], bravo["reply_rate"], bravo["positive_rate"]) == (100, 0.1, 0.02)
    # By hand: pooled p = 30/200 = 0.15, se = sqrt(0.15·0.85·(2/100)) = 0.0504975,
    # z = 0.1 / se = 1.98030, two-sided p = 0.04767.
    assert alpha["p_value"] == pytest.approx(0.04767, abs=1e-5)
    assert bravo["p_value"] == alpha["p_value"]
    assert (alpha["compared_with"], bravo["compared_with"]) == ("bravo", "alpha")
    # n = (1.95996·sqrt(2·0.15·0.85) + 0.84162·sqrt(0.16 + 0.09))² / 0.1² = 198.96 → 199
    assert (alpha["sample_needed"], alpha["more_needed"]) == (199, 99)


def test_a_variant_without_a_counterpart_or_difference_gets_n_a() -> None:
    touches = [TouchRow(1, 1, P, 0, "sales", "alpha"), TouchRow(2, 2, P, 1, "sales", "solo")]
    events = [sent(t, 0) for t in touches]
    report = compute_report([], events, [*touches, TouchRow(3, 3, P, 0, "sales", "bravo")])
    [alpha, solo] = report["variants"]
    assert (alpha["p_value"], alpha["sample_needed"]) == ("n/a", "n/a")
    assert (solo["p_value"], solo["more_needed"]) == ("n/a", "n/a")


def _engine_scenario(runtime: Runtime, project: Path) -> dict[str, int]:
    """The example leads imported and sent their first touch; Ada answers yes."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    runtime.clock.advance(timedelta(hours=2))
    with runtime.sessions() as session:
        ada = session.scalar(select(Touch).join(Lead).where(Lead.email == ADA))
        counts = {
            stage: int(n)
            for stage, n in session.execute(select(Lead.stage, func.count()).group_by(Lead.stage))
        }
        counts["sent"] = int(
            session.scalar(
                select(func.count()).where(
                    Touch.status == "sent", Touch.sequence == P, Touch.step_index == 0
                )
            )
            or 0
        )
    assert ada is not None
    reply_to(runtime, ada, Classification("positive", 0.9, text="Yes, let's talk."))
    return counts


def test_the_report_reads_what_the_engine_recorded(runtime: Runtime, project: Path) -> None:
    before = _engine_scenario(runtime, project)
    with runtime.sessions() as session:
        report = build_report(session)
    prospecting = by(report["funnel"], stage=P)
    assert (prospecting["entered"], prospecting["advanced"]) == (before[P], 1)
    assert prospecting["conversion"] == pytest.approx(1 / before[P])
    assert by(report["funnel"], stage=Q)["entered"] == before[Q] + 1
    step = by(report["steps"], sequence=P, step=1)
    assert (step["sent"], step["replies"], step["drop_off"]) == (before["sent"], {"positive": 1}, 0)
    assert sum(m["sent"] for m in report["mailboxes"]) == sum(s["sent"] for s in report["steps"])


def test_outreach_report_prints_tables_and_json(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> None:
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    try:
        _engine_scenario(runtime, project)
    finally:
        reset_cli_runtime()
        runtime.close()
    outreach = make_invoke(project, sqlite_url)
    result = outreach("report", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"funnel", "steps", "variants", "pipeline", "mailboxes"}
    assert by(data["funnel"], stage=P)["advanced"] == 1
    assert all(math.isfinite(v) for v in data["pipeline"]["forecast_won"].values())
    reset_cli_runtime()
    table = outreach("report", "--since", "2027-01-01")
    assert table.exit_code == 0, table.output
    assert "Funnel" in table.output
    assert "Mailboxes" in table.output
    reset_cli_runtime()


def test_values_are_reported_per_currency_in_json_and_tables(
    project: Path, sqlite_url: str, clock: VirtualClock
) -> None:
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    try:
        with runtime.sessions.begin() as session:
            for n, (stage, value, more) in enumerate(
                [
                    ("decision", 1000.0, {"fields": {"currency": "EUR"}}),
                    ("decision", 500.5, {"country": "FR"}),
                    ("decision", 300.0, {"country": "GB"}),
                    ("decision", 20.0, {"country": "GB", "fields": {"currency": "usd"}}),
                    ("won", 7.0, {"country": "US"}),
                ]
            ):
                session.add(
                    Lead(email=f"l{n}@x.test", stage=stage, deal_value=value, created_at=T0,
                         updated_at=T0, **{"fields": {}} | more)
                )  # fmt: skip
    finally:
        runtime.close()
    outreach = make_invoke(project, sqlite_url)
    try:
        result = outreach("report", "--json")
        assert result.exit_code == 0, result.output
        pipeline = json.loads(result.output)["pipeline"]
        stages = {r["stage"]: r for r in pipeline["stages"]}
        assert stages["decision"]["value"] == {"EUR": 1500.5, "GBP": 300.0, "USD": 20.0}
        assert stages["won"]["value"] == {"USD": 7.0}
        assert pipeline["currencies"] == ["EUR", "GBP", "USD"]
        # no history: no chance known, so nothing forecast, in every currency apart
        assert stages["decision"]["forecast_won"] is None
        assert pipeline["forecast_won"] == {"EUR": 0.0, "GBP": 0.0, "USD": 0.0}
        reset_cli_runtime()
        table = outreach("report")
        assert table.exit_code == 0, table.output
        assert "€1,500.50 · £300 · $20" in table.output
        assert "1,820" not in table.output
        assert "1820" not in table.output
    finally:
        reset_cli_runtime()


def test_the_python_report_groups_by_each_leads_currency_and_the_default() -> None:
    leads = [
        LeadRow(1, "prospecting", "active", 100.0, T0, "GBP"),
        LeadRow(2, "prospecting", "active", 10.0, T0, None),
        LeadRow(3, "won", "won", 5.0, T0, "USD"),
    ]
    pipeline = compute_report(leads, [], [], default_currency="CHF")["pipeline"]
    stages = {r["stage"]: r for r in pipeline["stages"]}
    assert stages["prospecting"]["value"] == {"CHF": 10.0, "GBP": 100.0}
    assert stages["won"]["value"] == {"USD": 5.0}
    from worker.analytics.html_report import sections

    [table] = [s for s in sections(compute_report(leads, [], [], None, (), "CHF"), charts=False)
               if s["name"] == "pipeline"]  # fmt: skip
    assert table["rows"][0][2] == "CHF10 · £100"  # English (Babel): never one sum
    assert table["rows"][5][2] == "$5"
    assert table["foot"][4] == "CHF0 · £0"
