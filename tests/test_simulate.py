"""``outreach simulate`` sends nothing, and its plan is what the engine then really does:
the same touches at the same times (send windows, holidays, jitter), and the same number per
mailbox and day when a daily limit rolls work over."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.rehearsal.simulation import simulate
from worker.store.models import Lead, Touch

STEP = timedelta(hours=1)


def _import(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )


def _actual(runtime, until: datetime) -> list[tuple[str, str, int, datetime]]:
    """Run a batch every hour until ``until``; every touch sent, with its send time."""
    while runtime.clock.now() < until:
        run_batch(runtime)
        runtime.clock.advance(STEP)
    with runtime.sessions() as session:
        rows = session.execute(
            select(Lead.email, Touch.sequence, Touch.step_index, Touch.finished_at)
            .join(Lead, Lead.id == Touch.lead_id)
            .where(Touch.status == "sent")
        ).all()
    return [(email, seq, step + 1, at) for email, seq, step, at in rows]


def _limit_sales(project: Path, limit: int) -> None:
    path = project / "mailboxes.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - name: sales")
    end = text.index("  - name:", start + 1)
    block = text[start:end]
    kept = [line for line in block.splitlines() if "daily_limit" not in line]
    kept.insert(1, f"    daily_limit: {limit}")
    path.write_text(text[:start] + "\n".join(kept) + "\n" + text[end:], encoding="utf-8")


def test_the_plan_is_what_the_engine_then_sends(runtime, project: Path) -> None:
    _import(runtime, project)
    start = runtime.clock.now()
    days = 6

    plan = simulate(runtime, days)

    with runtime.sessions() as session:
        assert session.scalar(select(Touch.id)) is None  # a dry run creates nothing
    assert not (project / "outbox").exists() or not any((project / "outbox").iterdir())
    planned = {(t.lead, t.sequence, t.step): t.at for t in plan if t.kind == "email"}
    assert len(planned) > 25
    actual = {
        (email, seq, step): at
        for email, seq, step, at in _actual(runtime, start + timedelta(days=days))
    }
    # The batch runs every hour: each send happens in the first batch after its time.
    common = set(planned) & set(actual)
    assert len(common) >= len(planned) - 25  # the plan's tail may fall after the last batch
    for key in common:
        assert timedelta(0) <= actual[key] - planned[key] < STEP + timedelta(seconds=1), key
    late = set(actual) - set(planned)
    assert all(actual[k] > start + timedelta(days=days) - STEP for k in late), late


def test_a_daily_limit_rolls_the_plan_over_like_the_engine(runtime, project: Path) -> None:
    _limit_sales(project, 8)
    runtime.__dict__.pop("mailboxes", None)
    _import(runtime, project)
    start = runtime.clock.now()

    plan = simulate(runtime, 3)

    per_day = Counter(t.at.date() for t in plan if t.mailbox == "sales")
    assert max(per_day.values(), default=0) == 8
    assert any("daily limit" in note for t in plan for note in t.notes)
    sent = _actual(runtime, start + timedelta(days=3))
    with runtime.sessions() as session:
        sales = {
            email
            for (email,) in session.execute(
                select(Lead.email)
                .join(Touch, Touch.lead_id == Lead.id)
                .where(Touch.mailbox == "sales")
            )
        }
    actual_per_day = Counter(at.date() for email, _, _, at in sent if email in sales)
    for day, count in per_day.items():
        if day < (start + timedelta(days=3)).date():
            assert actual_per_day[day] == count, (day, per_day, actual_per_day)


def test_the_simulate_command_prints_local_times_and_json(project: Path, sqlite_url: str) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
        shown = invoke("simulate", "--days", "3", "--lead", "k.mueller@brauhaus-logistik.test")
        data = json.loads(invoke("simulate", "--days", "5", "--json").output)
        nothing = invoke("leads", "show", "k.mueller@brauhaus-logistik.test", "--json")
    finally:
        reset_cli_runtime()
    assert shown.exit_code == 0, shown.output
    assert "CET" in shown.output  # the lead's local time (Europe/Berlin)
    assert {row["lead"] for row in data} >= {"ada@northwind.test"}
    assert all(row["at"].endswith("Z") for row in data)
    assert json.loads(nothing.output)["touches"] == []
