"""Manual steps: a call or LinkedIn task for a rep instead of an email, in the review queue
with its due date; done, skipped, timed out, or closed when the lead replies."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import START
from worker.cli import main
from worker.errors import OutreachError
from worker.inbound.ingest import ingest
from worker.leads.flags import flag
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.queries.review_queue import list_open
from worker.review.resolutions import resolve
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem, Touch

ADA = "ada@northwind.test"
BO = "bo@bergwerk.test"
DAY = timedelta(days=1)
CALLS = """\
name: calls
stage: prospecting
mailbox: sales
steps:
  - template: prospecting/01_intro
  - type: call
    task: "Call {{ first_name }} at {{ company }} about the forecast scan"
    wait: 2 days
    timeout: 3 days
  - template: prospecting/03_case_study
    wait: 1 day
on_complete:
  after: 0 days
  action: stop
"""
LEADS = """\
email,first_name,last_name,company,timezone
ada@northwind.test,Ada,Winter,Northwind Traders,Europe/London
bo@bergwerk.test,Bo,Berg,Bergwerk AG,
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def calls(runtime: Runtime, project: Path) -> Runtime:
    """Two leads in the 'calls' sequence, their first email sent (Monday 09:00 UTC)."""
    write(project / "sequences" / "calls.yaml", CALLS)  # read on the runtime's first use
    leads = write(project / "few.csv", LEADS)
    report = import_leads(runtime.sessions, leads, runtime.clock, runtime.catalog, sequence="calls")
    assert report.enrollment.enrolled == 2
    assert run_batch(runtime).totals() == {"sent": 2}
    return runtime


def invoke_at(project: Path, database_url: str, now: datetime) -> Callable[..., Result]:
    """The CLI on the test database at the runtime's current time."""
    runner = CliRunner()
    env = {
        "DATABASE_URL": database_url,
        "OUTREACH_HOME": str(project),
        "OUTREACH_SECRET_KEY": "test-secret",
        "OUTREACH_NOW": now.isoformat(),
        "OUTREACH_TRANSPORT_URL": f"file://{project / 'outbox'}",
        "REDIS_URL": None,
    }

    def run(*args: str) -> Result:
        try:
            return runner.invoke(main, list(args), env=env)
        finally:
            reset_cli_runtime()

    return run


def task_of(runtime: Runtime, email: str = ADA) -> tuple[Touch, ReviewItem | None]:
    """The lead's call touch and its latest review item."""
    with runtime.sessions() as session:
        touch = session.scalar(
            select(Touch)
            .join(Lead, Lead.id == Touch.lead_id)
            .where(Lead.email == email, Touch.kind == "call")
        )
        assert touch is not None
        item = session.scalar(
            select(ReviewItem)
            .where(ReviewItem.touch_id == touch.id)
            .order_by(ReviewItem.id.desc())
            .limit(1)
        )
        return touch, item


def enrollment_of(runtime: Runtime, email: str = ADA) -> Enrollment:
    with runtime.sessions() as session:
        return session.scalar(
            select(Enrollment).join(Lead, Lead.id == Enrollment.lead_id).where(Lead.email == email)
        )


def lead_status(runtime: Runtime, email: str = ADA) -> str:
    with runtime.sessions() as session:
        return session.scalar(select(Lead.status).where(Lead.email == email))


def outbox(project: Path) -> int:
    return len(list((project / "outbox").glob("*.eml")))


def open_tasks_due(runtime: Runtime) -> None:
    """Two days after the first email: both call tasks open, nothing is sent."""
    runtime.clock.advance(2 * DAY)
    summary = run_batch(runtime)
    assert summary.totals() == {}
    assert summary.enqueued == 0
    assert len(summary.tick.tasks_opened) == 2


def test_a_call_task_is_queued_for_a_rep_with_its_due_date_and_never_sent(
    calls: Runtime, project: Path, database_url: str
) -> None:
    open_tasks_due(calls)
    touch, item = task_of(calls)
    due = START + 2 * DAY
    assert (touch.kind, touch.status, touch.due_at) == ("call", "task_open", due)
    assert touch.available_at == due + 3 * DAY  # its timeout
    assert item is not None
    assert item.reason == "task_call"
    assert item.detail == "Call Ada at Northwind Traders about the forecast scan"
    assert (item.due_at, item.suggested_action, item.resolved_at) == (due, "done", None)
    assert lead_status(calls) == "active"  # a task is work, not a problem
    assert enrollment_of(calls).next_due_at is None
    assert outbox(project) == 2
    assert run_batch(calls).tick.tasks_opened == []  # one task per step, however many ticks

    invoke = invoke_at(project, database_url, calls.clock.now())
    listed = invoke("review", "list", "--tasks", "--json")
    table = invoke("review", "list", "--tasks")
    everything = invoke("review", "list")
    shown = invoke("review", "show", str(item.id))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["lead"], r["task"], r["due_at"]) for r in rows] == [
        (ADA, "call", "2027-01-06T09:00:00Z"),
        (BO, "call", "2027-01-06T09:00:00Z"),
    ]
    assert rows[0]["expires_at"] == "2027-01-09T09:00:00Z"
    assert rows[0]["detail"] == "Call Ada at Northwind Traders about the forecast scan"
    assert "2027-01-06 09:00" in table.stdout
    assert "Call Ada at Northwind Traders" in table.stdout
    assert "Call task" in everything.stdout
    assert "2027-01-06 09:00" in everything.stdout
    assert "due: 2027-01-06T09:00:00Z  times out: 2027-01-09T09:00:00Z" in shown.stdout
    assert "suggested: Task done (--action done)" in shown.stdout


def test_done_moves_the_sequence_on_and_the_next_email_goes_out_after_its_wait(
    calls: Runtime, project: Path, database_url: str
) -> None:
    open_tasks_due(calls)
    calls.clock.advance(timedelta(hours=3))
    done_at = calls.clock.now()
    _, item = task_of(calls)
    invoke = invoke_at(project, database_url, done_at)
    result = invoke("review", "resolve", str(item.id), "--action", "done", "--note", "booked")
    assert result.exit_code == 0, result.output
    assert f"resolved #{item.id} (done) for {ADA}" in result.stdout

    touch, item = task_of(calls)
    assert (touch.status, touch.finished_at) == ("done", done_at)
    assert (item.resolution, item.note, item.resolved_at) == ("done", "booked", done_at)
    enrollment = enrollment_of(calls)
    assert (enrollment.status, enrollment.current_step) == ("active", 2)
    assert enrollment.next_due_at == done_at + DAY  # the next step's wait
    assert lead_status(calls) == "active"

    calls.clock.advance(DAY - timedelta(minutes=1))
    assert run_batch(calls).totals() == {}
    calls.clock.advance(timedelta(minutes=1))
    assert run_batch(calls).totals() == {"sent": 1}
    assert outbox(project) == 3
    with calls.sessions() as session:
        kinds = [
            e.kind
            for e in session.scalars(
                select(Event).where(Event.touch_id == touch.id).order_by(Event.id)
            )
        ]
    assert kinds == ["task_opened", "task_done"]
    # the last step went out: the sequence completes (completion.py)
    calls.clock.advance(timedelta(minutes=1))
    assert run_batch(calls).tick.completed == 1
    assert enrollment_of(calls).status == "completed"


def test_skip_moves_on_too_and_other_actions_are_refused_for_a_task(calls: Runtime) -> None:
    open_tasks_due(calls)
    _, item = task_of(calls)
    with (
        calls.sessions.begin() as session,
        pytest.raises(OutreachError, match="resolve it with --action done or skip"),
    ):
        resolve(session, calls.catalog, item.id, "resume", at=calls.clock.now())
    with calls.sessions.begin() as session:
        resolve(session, calls.catalog, item.id, "skip", at=calls.clock.now(), note="no number")
    touch, item = task_of(calls)
    assert (touch.status, item.resolution, item.note) == ("skipped", "skip", "no number")
    assert enrollment_of(calls).current_step == 2
    assert enrollment_of(calls).next_due_at == calls.clock.now() + DAY
    with (
        calls.sessions.begin() as session,
        pytest.raises(OutreachError, match="already resolved"),
    ):
        resolve(session, calls.catalog, item.id, "done", at=calls.clock.now())
    # a skipped task never comes back: the step is behind the enrollment
    calls.clock.advance(DAY)
    assert run_batch(calls).totals() == {"sent": 1}
    assert task_of(calls)[0].status == "skipped"


def test_done_is_refused_for_an_item_that_is_not_a_task(calls: Runtime) -> None:
    with calls.sessions.begin() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        item_id = flag(session, lead.id, "reply_question", at=calls.clock.now())
    with (
        calls.sessions.begin() as session,
        pytest.raises(OutreachError, match="not a call or LinkedIn task"),
    ):
        resolve(session, calls.catalog, item_id, "done", at=calls.clock.now())


def test_a_task_nobody_does_times_out_and_the_sequence_moves_on_by_itself(
    calls: Runtime, project: Path
) -> None:
    open_tasks_due(calls)
    calls.clock.advance(3 * DAY - timedelta(minutes=1))
    summary = run_batch(calls)
    assert summary.tick.tasks_closed == []
    assert task_of(calls)[0].status == "task_open"

    calls.clock.advance(timedelta(minutes=1))
    summary = run_batch(calls)
    expired_at = calls.clock.now()
    assert len(summary.tick.tasks_closed) == 2
    assert summary.totals() == {}
    touch, item = task_of(calls)
    assert (touch.status, touch.finished_at) == ("expired", expired_at)
    assert (item.resolution, item.resolved_at) == ("timeout", expired_at)
    enrollment = enrollment_of(calls)
    assert (enrollment.current_step, enrollment.next_due_at) == (2, expired_at + DAY)
    with calls.sessions() as session:
        assert list_open(session, tasks_only=True) == []

    calls.clock.advance(DAY)
    assert run_batch(calls).totals() == {"sent": 2}
    assert outbox(project) == 4


def reply(folder: Path, touch: Touch, sender: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reply-{touch.id}.eml"
    path.write_bytes(
        (
            f"From: {sender}\r\nTo: ada.fischer@northwind-analytics.example\r\n"
            f"Subject: Re: {touch.subject}\r\nMessage-ID: <reply-{touch.id}@lead.example.test>\r\n"
            f"In-Reply-To: {touch.message_id}\r\nReferences: {touch.message_id}\r\n"
            "Date: Wed, 06 Jan 2027 12:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{text}\r\n"
        ).encode()
    )
    return path


def test_a_reply_while_a_task_is_open_closes_it_as_skipped_and_resuming_opens_it_again(
    calls: Runtime, tmp_path: Path
) -> None:
    open_tasks_due(calls)
    with calls.sessions() as session:
        first = session.scalar(
            select(Touch)
            .join(Lead, Lead.id == Touch.lead_id)
            .where(Lead.email == ADA, Touch.step_index == 0)
        )
    calls.clock.advance(timedelta(hours=3))
    ingest(
        calls,
        str(
            reply(
                tmp_path / "inbox",
                first,
                ADA,
                "Hi Ada,\n\nbefore we go further: does it integrate with Zoho CRM, and what "
                "does it cost for a team of 20?\n\nThanks,\nAda",
            )
        ),
    )
    touch, item = task_of(calls)
    assert touch.status == "skipped"
    assert item.resolution == "skipped"
    assert item.resolved_at == calls.clock.now()
    assert enrollment_of(calls).status == "paused"
    assert lead_status(calls) == "needs_review"
    with calls.sessions() as session:
        tasks = list_open(session, tasks_only=True)
        everything = list_open(session)
    assert [row["lead"] for row in tasks] == [BO]  # Bo's task is untouched
    question = next(row for row in everything if row["lead"] == ADA)
    assert question["reason"] == "reply_question"

    # the rep answers the question and resumes: the call is due again
    with calls.sessions.begin() as session:
        resolve(session, calls.catalog, question["id"], "resume", at=calls.clock.now())
    summary = run_batch(calls)
    assert summary.totals() == {}
    reopened, new_item = task_of(calls)
    assert (reopened.id, reopened.status) == (touch.id, "task_open")
    assert new_item.id != item.id
    assert new_item.resolved_at is None
    assert new_item.due_at == calls.clock.now()
    assert lead_status(calls) == "active"


def test_a_task_due_for_a_lead_waiting_for_review_is_skipped_until_it_resumes(
    calls: Runtime,
) -> None:
    with calls.sessions.begin() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        item_id = flag(session, lead.id, "delivery_unknown", at=calls.clock.now())
    calls.clock.advance(2 * DAY)
    summary = run_batch(calls)
    assert len(summary.tick.tasks_opened) == 1  # Bo's
    touch, item = task_of(calls)
    assert (touch.status, item) == ("skipped", None)
    with calls.sessions.begin() as session:
        resolve(session, calls.catalog, item_id, "resume", at=calls.clock.now())
    assert len(run_batch(calls).tick.tasks_opened) == 1
    assert task_of(calls)[0].status == "task_open"


def test_a_task_as_the_last_step_completes_the_sequence_when_done(
    runtime: Runtime, project: Path
) -> None:
    write(
        project / "sequences" / "calls.yaml",
        CALLS.split("  - template: prospecting/03", maxsplit=1)[0]
        + "on_complete:\n  after: 0 days\n  action: stop\n",
    )
    leads = write(project / "few.csv", LEADS)
    import_leads(runtime.sessions, leads, runtime.clock, runtime.catalog, sequence="calls")
    run_batch(runtime)
    runtime.clock.advance(2 * DAY)
    run_batch(runtime)
    _, item = task_of(runtime)
    with runtime.sessions.begin() as session:
        resolve(session, runtime.catalog, item.id, "done", at=runtime.clock.now())
    assert run_batch(runtime).tick.completed == 1
    assert enrollment_of(runtime).status == "completed"
    assert lead_status(runtime) == "completed"


# ---- authoring ---------------------------------------------------------------------------------


def test_validate_reports_task_problems_with_file_and_line(project: Path, sqlite_url: str) -> None:
    path = write(
        project / "sequences" / "tasks.yaml",
        """\
        name: tasks
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
          - type: call
            task: "Call {{ first_name }} about {{ nickname }}"
          - type: linkedin
            task: "Connect with {{ first_name | default('them') }} {% if %}"
        """,
    )
    broken = write(
        project / "sequences" / "mixed.yaml",
        """\
        name: mixed
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
            timeout: 2 days
          - type: call
            template: prospecting/02_bump
            task: "Call"
          - type: linkedin
          - type: call
            task: "Call {{ first_name | default('them') }}"
            timeout: soon
        """,
    )
    invoke = make_invoke(project, sqlite_url)
    try:
        result = invoke("validate", str(path), str(broken))
    finally:
        reset_cli_runtime()
    assert result.exit_code == 1
    out = result.output
    assert (
        "sequences/tasks.yaml:7: step 2 (call task): 'nickname' is undefined — add the field "
        "to the lead or a default"
    ) in out
    assert "(sample lead examples/leads.csv:2 (ada@northwind.test))" in out
    assert "sequences/tasks.yaml:9: step 3 (linkedin task): syntax error:" in out
    assert "sequences/mixed.yaml:13: step 4 timeout: wait 'soon' is not understood" in out
    assert "sequences/mixed.yaml:5: step 1: 'timeout' only applies to manual steps" in out, out
    assert "sequences/mixed.yaml:7: step 2: a call step sends no email: remove 'template'" in out
    assert "sequences/mixed.yaml:10: step 3: missing required key 'task'" in out


def test_preview_prints_the_task_of_a_manual_step(project: Path, sqlite_url: str) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        result = invoke(
            "preview", "qualification", "--lead", "j.schroeder@schroeder-bau.test", "--step", "4"
        )
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Task (call) for a rep, closed by itself after 3 business days if still open\n\n"
    )
    assert "Call Jana at Schröder Bausysteme GmbH: go through the four qualifying questions" in (
        result.stdout
    )


def test_the_demo_opens_call_tasks_a_rep_does_some_and_the_rest_time_out(project: Path) -> None:
    from worker.rehearsal.demo import run_demo
    from worker.settings import Settings

    try:
        result = run_demo(Settings.from_env({}, home=project), folder=project / "demo", weeks=3)
    finally:
        reset_cli_runtime()
    assert result.tasks.get("done", 0) >= 1
    assert result.tasks.get("expired", 0) >= 1
