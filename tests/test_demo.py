"""``outreach demo``: the real engine over simulated weeks on the embedded default."""

from __future__ import annotations

from pathlib import Path

from tests.cli_support import reset_cli_runtime
from worker.rehearsal.demo import run_demo
from worker.settings import Settings


def test_the_demo_sends_every_touch_of_the_simulated_weeks_into_the_outbox(project: Path) -> None:
    settings = Settings.from_env({}, home=project)
    try:
        result = run_demo(settings, folder=project / "demo", weeks=2)
    finally:
        reset_cli_runtime()

    files = list(result.outbox.glob("*.eml"))
    assert result.imported.created == 25
    assert result.imported.enrollment.enrolled == 25
    assert result.sent == len(files)
    assert result.sent >= 25 * 2  # at least two touches each within two weeks
    assert sum(result.stages.values()) == 26  # and Ada's colleague from the website form
    assert sum(result.statuses.values()) == 26
    # a soft-bounced touch goes out a second time: counted each day it was sent
    sent_daily = sum(day.summary.totals().get("sent", 0) for day in result.days)
    assert sent_daily == result.sent + result.resent


def test_the_demo_command_prints_what_happened(project: Path) -> None:
    from click.testing import CliRunner

    from worker.cli import main

    try:
        outcome = CliRunner().invoke(
            main, ["--home", str(project), "demo", "--weeks", "1"], env={"REDIS_URL": None}
        )
    finally:
        reset_cli_runtime()

    assert outcome.exit_code == 0, outcome.output
    assert "26 sent" in outcome.output  # the sample leads and the colleague from the website
    assert "emails sent" in outcome.output
    assert "Inspect:" in outcome.output


def test_simulated_replies_go_through_the_real_ingestion_and_rules(project: Path) -> None:
    from sqlalchemy import create_engine, select

    from worker.store.models import Enrollment, Event, Lead, ReviewItem, Suppression

    settings = Settings.from_env({}, home=project)
    try:
        result = run_demo(settings, folder=project / "demo", weeks=4)
    finally:
        reset_cli_runtime()

    assert result.replies == {
        "auto_reply": 1,
        "bounce_hard": 1,
        "bounce_soft": 1,
        "later": 1,
        "negative": 1,
        "ooo": 2,
        "positive": 2,
        "question": 2,
        "referral": 1,
        "unsubscribe": 1,
    }
    engine = create_engine(result.database_url)
    try:
        with engine.connect() as conn:
            leads = {row.email: row for row in conn.execute(select(Lead))}
            suppressed = set(conn.scalars(select(Suppression.value)))
            open_items = conn.execute(
                select(ReviewItem.reason, Lead.email)
                .outerjoin(Lead, Lead.id == ReviewItem.lead_id)
                .where(ReviewItem.resolved_at.is_(None))
            ).all()
            resumed = set(
                conn.scalars(
                    select(Lead.email)
                    .join(Event, Event.lead_id == Lead.id)
                    .where(Event.kind == "resumed")
                )
            )
            weber = conn.execute(
                select(Enrollment.sequence, Enrollment.status)
                .join(Lead, Lead.id == Enrollment.lead_id)
                .where(Lead.email == "m.weber@weber-kuehltechnik.test")
                .order_by(Enrollment.id)
            ).all()
    finally:
        engine.dispose()
    ada = leads["ada@northwind.test"]
    assert (ada.stage, ada.status) == ("qualification", "needs_review")
    assert leads["s.schneider@alpenwerk.test"].stage == "lost"
    assert leads["j.carter@brightwave-media.test"].status == "unsubscribed"
    assert leads["info@kontor-nord.test"].status == "bounced"
    assert suppressed == {"j.carter@brightwave-media.test", "info@kontor-nord.test"}
    assert resumed == {"k.mueller@brauhaus-logistik.test", "emily.ross@clearpath-hr.test"}
    assert leads["t.becker@gruenstrom.test"].status == "active"  # ticket auto-reply ignored
    assert [tuple(row) for row in weber] == [("consideration", "stopped"), ("decision", "active")]
    assert sorted((reason, email or "-") for reason, email in open_items) == [
        ("colleague_replied", "tom.reed@northwind.test"),
        ("hot_lead", "ada@northwind.test"),
        ("hot_lead", "sophie.turner@quillstone.test"),
        ("inbound_unmatched", "-"),
        ("reply_later", "o.hughes@fenwick-packaging.test"),
        ("reply_question", "w.tan@harbourline.test"),
        ("reply_referral", "priya.nair@ledgerly.test"),
    ]
    assert result.colleagues_paused == 1
    assert leads["o.hughes@fenwick-packaging.test"].status == "paused"  # until 1 March


def test_with_scoring_the_rep_accepts_one_mql_as_sql_and_rejects_another(project: Path) -> None:
    from sqlalchemy import create_engine, select

    from tests.conftest import REPO
    from worker.store.models import Event, Lead

    (project / "scoring.yaml").write_bytes((REPO / "scoring.yaml").read_bytes())
    settings = Settings.from_env({}, home=project)
    try:
        result = run_demo(settings, folder=project / "demo", weeks=2)
    finally:
        reset_cli_runtime()

    acceptance = result.acceptance
    assert acceptance is not None
    assert acceptance.scored == 26  # the import marked every lead; the first batch scored them
    assert acceptance.accepted == ["ada@northwind.test"]
    assert acceptance.rejected == ["m.weber@weber-kuehltechnik.test"]
    engine = create_engine(result.database_url)
    try:
        with engine.connect() as conn:
            qualified = dict(conn.execute(select(Lead.email, Lead.qualification)).all())
            reasons = list(conn.scalars(select(Event.cause).where(Event.kind == "sql_rejected")))
    finally:
        engine.dispose()
    assert qualified["ada@northwind.test"] == "sql"
    assert qualified["m.weber@weber-kuehltechnik.test"] == "nurture"
    assert reasons == ["no_timeline"]
