"""Versioned sequences: a changed sequence moves leads in flight by its ``on_change`` policy,
never sends a step twice, records what it skipped, and records the version everywhere."""

from __future__ import annotations

import email
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_settings
from delivery_support import MakeRuntime, runtime_maker
from sqlalchemy import select

from tests.cli_support import reset_cli_runtime
from worker.cli import main
from worker.clock import VirtualClock
from worker.delivery import sequence_changes
from worker.delivery.change_policy import decide
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.leads.enrollment import enroll_leads
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, SequenceVersion, Touch
from worker.vocabulary import EventKind, TouchStatus

STEPS = {
    "a": "prospecting/01_intro",
    "b": "prospecting/02_bump",
    "c": "prospecting/04_pain_point",
    "d": "prospecting/06_right_person",
    "x": "prospecting/07_breakup",
}
EDITS = {
    "delete": ["a", "c", "d"],  # b removed
    "insert": ["a", "x", "b", "c", "d"],  # x before b
    "reorder": ["a", "c", "b", "d"],  # b and c swapped
}


def write_sequence(project: Path, ids: list[str], policy: str | None = None) -> None:
    steps = "".join(
        f"  - id: {i}\n    template: {STEPS[i]}\n    wait: {0 if n == 0 else 1} days\n"
        for n, i in enumerate(ids)
    )
    on_change = f"on_change: {policy}\n" if policy else ""
    (project / "sequences" / "prospecting.yaml").write_text(
        f"name: prospecting\nstage: prospecting\nmailbox: sales\n{on_change}steps:\n{steps}",
        encoding="utf-8",
    )


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def run_day(runtime: Runtime, clock: VirtualClock) -> None:
    """One batch (tick, then send what it made), then a day passes."""
    result = tick(runtime)
    send_touches(runtime, result.to_enqueue)
    clock.advance(timedelta(days=1))


def enroll_staggered(runtime: Runtime, clock: VirtualClock, n: int) -> list[str]:
    """Enroll one lead a day for ``n`` days: afterwards lead k has had n - k steps."""
    emails = [f"lead{k}@example.test" for k in range(n)]
    for address in emails:
        with runtime.sessions.begin() as session:
            lead = Lead(
                email=address,
                first_name="Sam",
                company="Acme",
                timezone="UTC",
                fields={},
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            session.add(lead)
            session.flush()
            spec = runtime.catalog.get("prospecting")
            assert enroll_leads(session, [lead], spec, at=clock.now(), cause="test").enrolled
        run_day(runtime, clock)
    return emails


def sent_per_step(runtime: Runtime) -> Counter[tuple[str, str]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Lead.email, Touch.step_id)
            .join(Touch, Touch.lead_id == Lead.id)
            .where(Touch.status == TouchStatus.SENT)
        )
        return Counter((address, str(step_id)) for address, step_id in rows)


def outbox_per_recipient(project: Path) -> Counter[str]:
    """Messages in the outbox per recipient: what really went out."""
    found: Counter[str] = Counter()
    for path in (project / "outbox").rglob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        found[str(message["To"]).rsplit("<", 1)[-1].rstrip(">")] += 1
    return found


def assert_each_step_sent_once(runtime: Runtime, project: Path) -> Counter[tuple[str, str]]:
    """No step id went out twice to a lead, in the ledger or at the sink."""
    sent = sent_per_step(runtime)
    assert max(sent.values()) == 1
    per_lead = Counter(address for address, _ in sent)
    assert outbox_per_recipient(project) == per_lead
    return sent


def events_of(runtime: Runtime, kind: EventKind) -> list[Event]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def in_flight(make_runtime: MakeRuntime, project: Path, clock: VirtualClock, url: str) -> Any:
    write_sequence(project, ["a", "b", "c", "d"])
    runtime = make_runtime(url, leads=False)
    emails = enroll_staggered(runtime, clock, 4)  # at steps 4, 3, 2, 1 (1-based, next due)
    return runtime, emails


ALL = ["a", "b", "c", "d"]
# Per policy and edit, the step ids each lead gets in all. Before the change lead0 had a-d
# (waiting to complete), lead1 a-c, lead2 a-b and lead3 a (each due the next step).
EXPECTED = {
    ("migrate", "delete"): [ALL, ALL, ALL, ["a", "c", "d"]],  # lead3 never gets b
    ("migrate", "insert"): [ALL] * 4,  # x is before everybody's place: not retroactive
    ("migrate", "reorder"): [ALL, ALL, ALL, ["a", "b", "d"]],  # c moved behind lead3
    ("finish", "delete"): [ALL] * 4,
    ("finish", "insert"): [ALL] * 4,
    ("finish", "reorder"): [ALL] * 4,
    ("restart", "delete"): [ALL, ALL, ALL, ["a", "c", "d"]],
    ("restart", "insert"): [[*ALL, "x"]] * 4,  # from the top: x too, nothing twice
    ("restart", "reorder"): [ALL] * 4,
}


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("policy", ["migrate", "finish", "restart"])
def test_a_changed_sequence_moves_leads_at_every_step_by_its_policy_and_never_sends_twice(
    make_runtime: MakeRuntime,
    project: Path,
    clock: VirtualClock,
    database_url: str,
    policy: str,
    edit: str,
) -> None:
    _, emails = in_flight(make_runtime, project, clock, database_url)
    write_sequence(project, EDITS[edit], policy)
    changed = make_runtime(database_url, leads=False)  # a new run reads the new files
    for _ in range(10):
        run_day(changed, clock)

    sent = assert_each_step_sent_once(changed, project)
    for address, wanted in zip(emails, EXPECTED[(policy, edit)], strict=True):
        assert sorted(step for (who, step), _ in sent.items() if who == address) == wanted
    moved = events_of(changed, EventKind.SEQUENCE_CHANGED)
    assert len(moved) == 4  # one per lead in flight, once
    if edit == "delete" and policy != "finish":
        with changed.sessions() as session:
            told = [
                session.get(Lead, e.lead_id).email  # type: ignore[union-attr]
                for e in moved
                if e.detail["dropped"] == ["b"]
            ]
        assert told == [emails[3]]  # the lead still to get b is told it never will


def test_the_version_is_recorded_on_enrollments_and_sent_touches(
    make_runtime: MakeRuntime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    runtime, _ = in_flight(make_runtime, project, clock, database_url)
    version = runtime.versions.current("prospecting")
    with runtime.sessions() as session:
        assert {e.version for e in session.scalars(select(Enrollment))} == {version.version}
        sent = list(session.scalars(select(Touch).where(Touch.status == TouchStatus.SENT)))
        assert sent
        assert {t.version for t in sent} == {version.version}
        assert {t.step_id for t in sent} == {"a", "b", "c", "d"}
        stored = session.get(SequenceVersion, version.version)
        assert stored is not None
        assert stored.source.startswith("name: prospecting")
        assert set(stored.templates) >= {"prospecting/01_intro.txt.j2", "layouts/base.txt.j2"}


def test_finish_renders_the_old_templates_after_they_changed(
    make_runtime: MakeRuntime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    in_flight(make_runtime, project, clock, database_url)
    write_sequence(project, ["a", "c", "d"], "finish")
    template = project / "templates" / "prospecting" / "06_right_person.txt.j2"
    old_text = template.read_text(encoding="utf-8")
    template.write_text(old_text.replace("{% block body %}", "{% block body %}NEW TEXT "))
    changed = make_runtime(database_url, leads=False)
    for _ in range(6):
        run_day(changed, clock)
    with changed.sessions() as session:
        bodies = [
            t.body_text or ""
            for t in session.scalars(select(Touch).where(Touch.step_id == "d"))
            if t.version != changed.versions.current("prospecting").version
        ]
    assert bodies
    assert not any("NEW TEXT" in body for body in bodies)


@pytest.mark.parametrize("policy", ["migrate", "restart"])
def test_a_crash_inside_the_change_leaves_nothing_applied_and_the_next_tick_applies_it_once(
    make_runtime: MakeRuntime,
    project: Path,
    clock: VirtualClock,
    database_url: str,
    policy: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime, _ = in_flight(make_runtime, project, clock, database_url)
    write_sequence(project, EDITS["delete"], policy)
    changed = make_runtime(database_url, leads=False)

    def crash(session: Any, rows: Any) -> None:
        raise RuntimeError("killed between the change and the next batch")

    monkeypatch.setattr(sequence_changes.events, "record_many", crash)
    with pytest.raises(RuntimeError):
        tick(changed)
    with changed.sessions() as session:
        assert {e.seen_version for e in session.scalars(select(Enrollment))} == {
            runtime.versions.current("prospecting").version
        }  # nothing of the change was kept
    monkeypatch.undo()

    again = make_runtime(database_url, leads=False)
    for _ in range(8):
        run_day(again, clock)
    assert_each_step_sent_once(again, project)
    assert len(events_of(again, EventKind.SEQUENCE_CHANGED)) == 4  # applied exactly once


def test_a_touch_claimed_before_the_change_is_not_sent_after_it(
    make_runtime: MakeRuntime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    write_sequence(project, ["a", "b", "c", "d"])
    runtime = make_runtime(database_url, leads=False)
    enroll_staggered(runtime, clock, 2)
    queued = tick(runtime).to_enqueue  # step b of the first lead, c of the second... queued
    assert queued
    write_sequence(project, EDITS["delete"])
    changed = make_runtime(database_url, leads=False)
    tick(changed)  # applies the change: the queued touch of removed step b is skipped
    send_touches(runtime, queued)  # an old worker still holding the queue message
    assert_each_step_sent_once(changed, project)
    with changed.sessions() as session:
        b = session.scalars(select(Touch).where(Touch.step_id == "b")).all()
    assert all(t.status in (TouchStatus.SENT, TouchStatus.SKIPPED) for t in b)


def test_migrate_lands_on_the_step_after_what_the_lead_passed() -> None:
    kw = {"old_version": "v1", "new_version": "v2"}
    removed = decide("migrate", ["a", "b", "c"], ["a", "c"], 1, {"a"}, **kw)
    assert (removed.position, removed.landing, removed.dropped) == (1, "c", ("b",))
    replaced = decide("migrate", ["a", "b", "c"], ["a", "x", "c"], 1, {"a"}, **kw)
    assert (replaced.landing, replaced.dropped) == ("x", ("b",))
    inserted = decide("migrate", ["a", "b", "c"], ["x", "a", "b", "c"], 2, {"a", "b"}, **kw)
    assert (inserted.landing, inserted.behind) == ("c", ("x",))
    restart = decide("restart", ["a", "b", "c"], ["a", "b", "c"], 2, {"a", "b"}, **kw)
    assert restart.landing == "c"
    finish = decide("finish", ["a", "b", "c"], ["a", "c"], 1, {"a"}, **kw)
    assert (finish.version, finish.landing) == ("v1", "b")


def outreach(project: Path, url: str, *args: str) -> Any:
    env = {"DATABASE_URL": url, "OUTREACH_HOME": str(project), "REDIS_URL": None}
    try:
        return CliRunner().invoke(main, list(args), env=env)
    finally:
        reset_cli_runtime()


def test_sequences_plan_says_when_a_lead_keeps_its_next_email(
    make_runtime: MakeRuntime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    in_flight(make_runtime, project, clock, database_url)
    write_sequence(project, ["a", "b", "c"])  # d removed: whoever is due b or c gets it next

    shown = outreach(project, database_url, "sequences", "plan", "prospecting")

    assert shown.exit_code == 0, shown.output
    lines = [line.strip() for line in shown.output.splitlines()]
    keep = [line for line in lines if "keep their next email" in line]
    assert keep, shown.output
    assert sorted(line.split("  ")[0] for line in keep) == [
        "1 lead(s) keep their next email, step 2 (b)",
        "1 lead(s) keep their next email, step 3 (c)",
    ]
    assert "never sent: d to 3 lead(s)" in lines  # the leads due b, c and d


def test_sequences_plan_shows_who_moves_and_what_is_never_sent(
    make_runtime: MakeRuntime, project: Path, clock: VirtualClock, database_url: str
) -> None:
    in_flight(make_runtime, project, clock, database_url)
    write_sequence(project, EDITS["delete"])

    shown = outreach(project, database_url, "sequences", "plan", "prospecting")
    assert shown.exit_code == 0, shown.output
    assert "1 lead(s) at step 2 (b, removed) → step 2 (c)" in shown.output
    assert "never sent: b to 1 lead(s)" in shown.output
    data = json.loads(outreach(project, database_url, "sequences", "plan", "--json").stdout)
    [plan] = [p for p in data if p["sequence"] == "prospecting"]
    assert plan["never_sent"] == {"b": 1}
    assert any(g["from_id"] == "b" and g["removed"] and g["to_id"] == "c" for g in plan["groups"])

    note = outreach(project, database_url, "validate")
    assert note.exit_code == 0
    assert "note: leads in flight: prospecting (migrate)" in note.output


def test_duplicate_step_ids_and_a_bad_on_change_are_errors_at_their_line(project: Path) -> None:
    (project / "sequences" / "prospecting.yaml").write_text(
        "name: prospecting\nstage: prospecting\nmailbox: sales\non_change: keep\nsteps:\n"
        "  - id: intro\n    template: prospecting/01_intro\n"
        "  - id: intro\n    template: prospecting/02_bump\n"
        "  - template: prospecting/04_pain_point\n"
        "  - template: prospecting/04_pain_point\n",
        encoding="utf-8",
    )
    result = outreach(project, f"sqlite:///{project / 'none.db'}", "validate")
    assert result.exit_code == 1
    assert "sequences/prospecting.yaml:4: on_change: on_change 'keep' is not one of" in (
        result.output
    )
    (project / "sequences" / "prospecting.yaml").write_text(
        "name: prospecting\nstage: prospecting\nmailbox: sales\nsteps:\n"
        "  - id: intro\n    template: prospecting/01_intro\n"
        "  - id: intro\n    template: prospecting/02_bump\n"
        "  - template: prospecting/04_pain_point\n"
        "  - template: prospecting/04_pain_point\n",
        encoding="utf-8",
    )
    result = outreach(project, f"sqlite:///{project / 'none.db'}", "validate")
    assert result.exit_code == 1
    assert "sequences/prospecting.yaml:7: step 2: id 'intro' is already the id of step 1" in (
        result.output
    )
    assert not (project / "none.db").exists()  # validate never creates a database
