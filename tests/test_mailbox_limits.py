"""Sending mailboxes: daily limits, spacing, per-domain caps, pools, pauses — across processes.

Each test builds a small project of its own (no send windows), so what is checked is the
mailbox gate alone: exactly the limit goes out today, the rest rolls over, nothing twice.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select, update

from tests.conftest import REDIS_URL, START, free_port, make_settings
from worker.broker import build_broker, install
from worker.clock import VirtualClock
from worker.delivery.claiming import Prepared
from worker.delivery.gates import gates, mailbox_gate
from worker.delivery.tick import tick
from worker.errors import PermanentDeliveryError
from worker.leads.enrollment import enroll_leads
from worker.leads.importing import import_leads
from worker.mailboxes.capacity import count_uncounted_sends, usage_on
from worker.mailboxes.limits import next_day_start
from worker.mailboxes.pauses import check_mailboxes, pause_mailbox, resume_mailbox
from worker.mailboxes.pools import rendezvous
from worker.processes.batch import enqueue, run_batch, stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.store import events
from worker.store.models import (
    Enrollment,
    Event,
    Lead,
    MailboxPause,
    MailboxUsage,
    ReviewItem,
    Touch,
)
from worker.timing.postpone import Postpone
from worker.transports.message import BuiltMessage

TEMPLATE = """\
{% if false %}{% block subject %}A note for {{ lead.first_name | default("you") }}{% endblock %}\
{% endif %}
Hello {{ lead.first_name | default("there") }},

a short note from {{ sender.name }}.
{% if sender.signature is defined %}
{{ sender.signature }}
{% endif %}

Unsubscribe: {{ unsubscribe_url }}
"""
SEQUENCE = """\
name: {name}
stage: {stage}
mailbox: {mailbox}
steps:
  - template: notes/first
    wait: 0 days
  - template: notes/first
    wait: 30 days
"""
MAILBOXES = """\
mailboxes:
  - name: sales
    address: ada@sender.example
    display_name: Ada Sender
{sales}
  - name: success
    address: jonas@sender.example
    display_name: Jonas Sender
{success}
pools:
  team: [sales, success]
{extra}
"""


def write_project(
    root: Path,
    *,
    sales: str = "",
    success: str = "",
    extra: str = "",
    first: str = "sales",
    second: str = "sales",
) -> Path:
    """A project with sequences 'first' (prospecting) and 'second' (qualification)."""
    (root / "sequences").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "notes").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "notes" / "first.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    for name, stage, mailbox in (
        ("first", "prospecting", first),
        ("second", "qualification", second),
    ):
        (root / "sequences" / f"{name}.yaml").write_text(
            SEQUENCE.format(name=name, stage=stage, mailbox=mailbox), encoding="utf-8"
        )
    (root / "mailboxes.yaml").write_text(
        MAILBOXES.format(sales=_indent(sales), success=_indent(success), extra=extra),
        encoding="utf-8",
    )
    return root


def _indent(lines: str) -> str:
    return "\n".join(f"    {line}" for line in lines.splitlines())


def write_leads(path: Path, emails: list[str], stage: str = "prospecting") -> Path:
    rows = [f"{email},Lead{n},{stage},Europe/London,GB" for n, email in enumerate(emails)]
    path.write_text(
        "email,first_name,stage,timezone,country\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    return path


def addresses(count: int, domain: str = "example.test", prefix: str = "lead") -> list[str]:
    return [f"{prefix}{n:03d}@{domain}" for n in range(count)]


@contextmanager
def runtime_builder(tmp_path: Path, clock: VirtualClock) -> Iterator[Any]:
    """``make(database_url, settings={...}, **project)``: a runtime on a fresh small project.

    One message per touch and four send threads unless ``settings`` says otherwise.
    """
    made: list[Runtime] = []

    def make(database_url: str, settings: dict[str, Any] | None = None, **project: Any) -> Runtime:
        home = write_project(tmp_path / f"project{len(made)}", **project)
        changes = {"touches_per_message": 1, "send_threads": 4, **(settings or {})}
        runtime = Runtime.from_settings(make_settings(home, database_url, **changes), clock)
        set_runtime(runtime)
        made.append(runtime)
        return runtime

    try:
        yield make
    finally:
        stop_embedded_workers()
        for runtime in made:
            runtime.close()
        set_runtime(None)


@pytest.fixture
def build(tmp_path: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[Any]:
    with runtime_builder(tmp_path, clock) as make:
        yield make


def import_emails(runtime: Runtime, emails: list[str], stage: str = "prospecting") -> int:
    path = write_leads(runtime.settings.home / f"leads-{len(emails)}-{stage}.csv", emails, stage)
    report = import_leads(runtime.sessions, path, runtime.clock, runtime.catalog)
    assert not report.errors, report.errors
    return report.enrollment.enrolled


def all_touches(runtime: Runtime) -> list[Touch]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Touch).order_by(Touch.id)))


def sent_per_day(runtime: Runtime) -> dict[date, int]:
    days = Counter(t.finished_at.date() for t in all_touches(runtime) if t.status == "sent")
    return dict(sorted(days.items()))


def outbox(runtime: Runtime) -> list[Path]:
    folder = runtime.settings.home / "outbox"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def fake_item(mailbox: str, recipient: str, touch_id: int = 1) -> Prepared:
    """A prepared touch for calling the gate directly."""
    built = BuiltMessage(b"", f"<{touch_id}@sender.example>", "s", "a@sender.example", recipient)
    return Prepared(
        touch_id=touch_id,
        built=built,
        mailbox=mailbox,
        enrollment_id=1,
        lead_id=1,
        sequence="first",
        step_index=0,
        starts_thread=True,
        zone=None,
    )


DAY1 = START.date()


# --- daily limit: database, several threads ----------------------------------------------


def test_a_daily_limit_sends_exactly_the_limit_each_day_and_the_rest_rolls_over(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url, sales="daily_limit: 10")
    assert import_emails(runtime, addresses(25)) == 25

    first = run_batch(runtime)  # 25 messages of one touch each, four threads at once
    assert first.totals() == {"sent": 10, "deferred": 15}
    waiting = [t for t in all_touches(runtime) if t.status == "queued"]
    assert {t.available_at for t in waiting} == {next_day_start(START)}
    assert all("daily limit of 10" in (t.last_error or "") for t in waiting)
    assert {t.attempts for t in waiting} == {0}  # a postponement is not a delivery attempt

    clock.set(START + timedelta(days=1))
    assert run_batch(runtime).totals() == {"sent": 10, "deferred": 5}
    clock.set(START + timedelta(days=2))
    assert run_batch(runtime).totals() == {"sent": 5}

    assert sent_per_day(runtime) == {
        DAY1: 10,
        DAY1 + timedelta(days=1): 10,
        DAY1 + timedelta(days=2): 5,
    }
    recipients = Counter(t.lead_id for t in all_touches(runtime) if t.status == "sent")
    assert len(recipients) == 25
    assert set(recipients.values()) == {1}
    assert len(outbox(runtime)) == 25  # every lead once, none twice
    with runtime.sessions() as session:
        usage = {row.day: row.sent for row in session.scalars(select(MailboxUsage))}
    assert usage == sent_per_day(runtime)


def test_threads_reserving_at_once_never_pass_the_limit(build: Any, database_url: str) -> None:
    runtime = build(database_url, sales="daily_limit: 25")
    now = START
    results: list[Postpone | None] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for n in range(10):
            got = mailbox_gate(runtime, fake_item("sales", f"p{worker}-{n}@example.test"), now)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is None for r in results) == 25
    assert {r.until for r in results if r is not None} == {next_day_start(now)}
    assert usage_on(runtime, ["sales"], DAY1)["sales"].sent == 25


# --- spacing and the per-domain cap: database and Redis ------------------------------------


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Settings for the counts' backend: the database, or Redis under a fresh namespace."""
    if request.param == "database":
        yield {}
        return
    namespace = request.getfixturevalue("redis_namespace")
    yield {"redis_url": REDIS_URL, "redis_namespace": namespace}


def test_spacing_postpones_to_the_last_send_plus_the_spacing(
    build: Any, sqlite_url: str, backend: dict[str, Any]
) -> None:
    runtime = build(sqlite_url, settings=backend, sales="min_spacing: 90 seconds")
    t0 = START
    assert mailbox_gate(runtime, fake_item("sales", "a@example.test"), t0) is None
    later = mailbox_gate(runtime, fake_item("sales", "b@example.test"), t0 + timedelta(seconds=30))
    assert later is not None
    assert later.until == t0 + timedelta(seconds=90)
    assert "once every 90 s" in later.reason
    assert mailbox_gate(runtime, fake_item("success", "b@example.test"), t0) is None  # its own
    assert mailbox_gate(runtime, fake_item("sales", "b@example.test"), later.until) is None
    # across midnight: the last send of the day before still counts
    late = datetime(2027, 1, 4, 23, 59, 30, tzinfo=UTC)
    assert mailbox_gate(runtime, fake_item("sales", "c@example.test"), late) is None
    early = mailbox_gate(
        runtime, fake_item("sales", "d@example.test"), late + timedelta(seconds=40)
    )
    assert early is not None
    assert early.until == late + timedelta(seconds=90)


def test_spacing_spreads_a_batch_over_later_runs(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url, sales="min_spacing: 2 minutes")
    import_emails(runtime, addresses(3))
    sent = []
    for _ in range(3):
        sent.append(run_batch(runtime).totals().get("sent", 0))
        clock.advance(timedelta(minutes=2))
    assert sent == [1, 1, 1]
    finished = sorted(t.finished_at for t in all_touches(runtime) if t.status == "sent")
    assert [b - a for a, b in itertools.pairwise(finished)] == [timedelta(minutes=2)] * 2


def test_a_recipient_domain_cap_holds_across_mailboxes_and_refunds_the_mailbox(
    build: Any, sqlite_url: str, backend: dict[str, Any]
) -> None:
    runtime = build(
        sqlite_url,
        settings=backend,
        sales="daily_limit: 100",
        extra="recipient_domain_daily_limit: 2",
    )
    results = [
        mailbox_gate(runtime, fake_item(box, f"p{n}@big.test"), START)
        for n, box in enumerate(["sales", "success", "sales", "success"])
    ]
    assert results[:2] == [None, None]
    assert all(r is not None and r.until == next_day_start(START) for r in results[2:])
    assert "recipient domain 'big.test' reached its daily limit of 2" in str(results[2])
    assert mailbox_gate(runtime, fake_item("sales", "x@other.test"), START) is None
    # the refused reservations did not use the mailbox's own capacity
    assert usage_on(runtime, ["sales"], DAY1)["sales"].sent == 2
    assert mailbox_gate(runtime, fake_item("sales", "p9@big.test"), next_day_start(START)) is None


def test_a_domain_cap_end_to_end_sends_the_rest_the_next_day(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url, extra="recipient_domain_daily_limit: 3")
    import_emails(runtime, addresses(7, "big.test") + addresses(2, "small.test"))
    assert run_batch(runtime).totals() == {"sent": 5, "deferred": 4}
    clock.set(START + timedelta(days=1))
    assert run_batch(runtime).totals() == {"sent": 3, "deferred": 1}
    clock.set(START + timedelta(days=2))
    assert run_batch(runtime).totals() == {"sent": 1}
    assert len(outbox(runtime)) == 9


def test_the_redis_backend_counts_under_its_namespace(
    build: Any, sqlite_url: str, redis_namespace: str
) -> None:
    settings = {"redis_url": REDIS_URL, "redis_namespace": redis_namespace}
    runtime = build(sqlite_url, settings=settings, sales="daily_limit: 3")
    got = [mailbox_gate(runtime, fake_item("sales", f"r{n}@example.test"), START) for n in range(5)]
    assert [g is None for g in got] == [True, True, True, False, False]
    client = redis.Redis.from_url(REDIS_URL)
    assert int(client.get(f"{redis_namespace}:mailbox-usage:sales:{DAY1.isoformat()}") or 0) == 3
    client.close()
    usage = usage_on(runtime, ["sales", "success"], DAY1)
    assert usage["sales"].sent == 3
    assert usage["sales"].last_sent_at == START
    assert usage["success"].sent == 0
    with runtime.sessions() as session:  # nothing counted in the database
        assert session.scalars(select(MailboxUsage)).all() == []


# --- pauses ---------------------------------------------------------------------------------


def test_a_paused_mailbox_holds_its_touches_and_resuming_frees_them(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url)
    import_emails(runtime, addresses(4))
    with runtime.sessions.begin() as session:
        assert pause_mailbox(session, "sales", "provider warning", at=START)
        assert not pause_mailbox(session, "sales", "again", at=START)
    assert run_batch(runtime).totals() == {"deferred": 4}
    waiting = all_touches(runtime)
    assert {t.available_at for t in waiting} == {START + timedelta(minutes=15)}
    assert all("is paused: provider warning" in (t.last_error or "") for t in waiting)

    clock.advance(timedelta(minutes=5))
    with runtime.sessions.begin() as session:
        assert resume_mailbox(session, "sales", at=clock.now()) == 4
        assert resume_mailbox(session, "sales", at=clock.now()) == -1
    assert run_batch(runtime).totals() == {"sent": 4}
    kinds = _mailbox_events(runtime)
    assert kinds == ["mailbox_paused", "mailbox_resumed"]


def _mailbox_events(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Event.kind).where(Event.kind.like("mailbox_%")).order_by(Event.id)
            )
        )


class RefusingTransport:
    """Refuses every message for good (SMTP 5xx)."""

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        raise PermanentDeliveryError("550 5.7.1 rejected by policy")

    def close(self) -> None:
        pass


def test_repeated_permanent_failures_pause_the_mailbox_until_resumed(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url, settings={"send_threads": 1})
    runtime.transport_override = RefusingTransport()
    import_emails(runtime, addresses(8))

    totals = run_batch(runtime).totals()
    assert totals == {"failed": 5, "deferred": 3}  # the fifth failure paused it
    with runtime.sessions() as session:
        pause = session.get(MailboxPause, "sales")
        items = session.scalars(select(ReviewItem).where(ReviewItem.reason == "mailbox_paused"))
        [item] = list(items)
    assert pause is not None
    assert pause.resumed_at is None
    assert "5 touches failed for good in the last 24 hours" in pause.reason
    assert item.lead_id is None
    assert "outreach mailboxes resume sales" in (item.detail or "")

    runtime.transport_override = None  # the cause is fixed
    clock.advance(timedelta(minutes=1))
    with runtime.sessions.begin() as session:
        assert resume_mailbox(session, "sales", at=clock.now()) == 3
    assert check_mailboxes(runtime) == []  # failures before the resume no longer count
    assert run_batch(runtime).totals() == {"sent": 3}
    with runtime.sessions() as session:
        assert session.get(ReviewItem, item.id).resolution == "resume"


def test_a_bounce_rate_above_the_threshold_pauses_the_mailbox(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    runtime = build(database_url)
    import_emails(runtime, addresses(20))
    assert run_batch(runtime).totals() == {"sent": 20}
    touches = all_touches(runtime)

    clock.advance(timedelta(hours=2))
    _bounce(runtime, touches[0])  # 1 of 20: 5.0 %, not above 5 %
    assert check_mailboxes(runtime) == []
    _bounce(runtime, touches[1])  # 2 of 20: 10 %
    assert tick(runtime) is not None  # the tick checks every mailbox
    with runtime.sessions() as session:
        pause = session.get(MailboxPause, "sales")
    assert pause is not None
    assert pause.resumed_at is None
    assert "2 hard bounces for 20 sent in 7 days (10.0%" in pause.reason
    assert _mailbox_events(runtime) == ["mailbox_paused"]


def test_a_high_bounce_rate_below_the_minimum_sample_does_not_pause(
    build: Any, sqlite_url: str, clock: VirtualClock
) -> None:
    runtime = build(sqlite_url)
    import_emails(runtime, addresses(5))
    run_batch(runtime)
    for touch in all_touches(runtime)[:3]:
        _bounce(runtime, touch)
    assert check_mailboxes(runtime) == []


def _bounce(runtime: Runtime, touch: Touch) -> None:
    """What reply processing records for a hard bounce of ``touch``."""
    with runtime.sessions.begin() as session:
        events.record(
            session,
            "classified",
            at=runtime.clock.now(),
            lead_id=touch.lead_id,
            touch_id=touch.id,
            sequence=touch.sequence,
            step_index=touch.step_index,
            cause="bounce_hard",
        )


# --- pools ----------------------------------------------------------------------------------


def test_a_pool_gives_each_lead_one_mailbox_for_good_across_sequences(
    build: Any, database_url: str
) -> None:
    runtime = build(
        database_url,
        first="team",
        second="team",
        sales="daily_limit: 100",
        success="daily_limit: 100",
    )
    emails = addresses(40)
    import_emails(runtime, emails)
    chosen = _mailboxes_by_email(runtime, "first")
    assert set(chosen.values()) == {"sales", "success"}  # both used
    weights = {"sales": 100, "success": 100}
    assert chosen == {email: rendezvous(email, weights) for email in emails}  # deterministic

    run_batch(runtime)
    senders = {t.lead_id: t.mailbox for t in all_touches(runtime)}
    with runtime.sessions() as session:
        by_id = {lead.id: lead.email for lead in session.scalars(select(Lead))}
    assert {by_id[lead_id]: box for lead_id, box in senders.items()} == chosen

    # a later sequence: the conversation stays with the same sender
    with runtime.sessions.begin() as session:
        session.execute(update(Enrollment).values(status="completed"))
        leads = list(session.scalars(select(Lead)))
        enroll_leads(session, leads, runtime.catalog.get("second"), at=START, cause="test")
    assert _mailboxes_by_email(runtime, "second") == chosen


def test_a_lead_keeps_the_mailbox_it_already_talks_to_and_paused_ones_get_no_new_leads(
    build: Any, sqlite_url: str
) -> None:
    runtime = build(sqlite_url, first="success", second="team")
    old, new = addresses(10, prefix="old"), addresses(10, prefix="new")
    import_emails(runtime, old)  # written from 'success' by the first sequence
    with runtime.sessions.begin() as session:
        session.execute(update(Enrollment).values(status="completed"))
        pause_mailbox(session, "success", "warming up", at=START)
        leads = list(session.scalars(select(Lead)))
        enroll_leads(session, leads, runtime.catalog.get("second"), at=START, cause="test")
    assert set(_mailboxes_by_email(runtime, "second").values()) == {"success"}
    import_emails(runtime, new, stage="qualification")
    fresh = _mailboxes_by_email(runtime, "second")
    assert {fresh[email] for email in new} == {"sales"}  # 'success' is paused


def _mailboxes_by_email(runtime: Runtime, sequence: str) -> dict[str, str | None]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Lead.email, Enrollment.mailbox)
            .join(Enrollment, Enrollment.lead_id == Lead.id)
            .where(Enrollment.sequence == sequence)
        )
        return {row.email: row.mailbox for row in rows}


def test_the_mailbox_gate_runs_last() -> None:
    assert gates()[-1] is mailbox_gate


# --- two dramatiq worker processes on Redis ---------------------------------------------------


@pytest.mark.slow
def test_two_worker_processes_on_redis_share_the_daily_limit(
    tmp_path: Path, postgres_url: str, redis_namespace: str, clock: VirtualClock
) -> None:
    from tests.delivery_support import (
        BIN,
        process_env,
        running_sink,
        start,
        stop_all,
        wait_until,
    )

    home = write_project(tmp_path / "project", sales="daily_limit: 7")
    with running_sink() as sink:
        settings = make_settings(
            home,
            postgres_url,
            redis_url=REDIS_URL,
            redis_namespace=redis_namespace,
            transport_url=sink.url,
        )
        runtime = Runtime.from_settings(settings, clock)
        runtime.engine  # noqa: B018  (migrate before the workers start)
        broker = install(build_broker(REDIS_URL, redis_namespace))
        env = process_env(
            home,
            postgres_url,
            sink.url,
            START,
            REDIS_URL=REDIS_URL,
            OUTREACH_REDIS_NAMESPACE=redis_namespace,
        )
        command = [str(BIN / "dramatiq"), "worker.actors", "--processes", "1", "--threads", "3"]
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        workers = [start(command, env, home, log=log) for log in logs]
        try:
            assert import_emails(runtime, addresses(20)) == 20
            ids = tick(runtime).to_enqueue
            enqueue(ids, 1)  # one message per touch: both processes take part
            enqueue(ids[::-1], 1)  # and every one twice
            wait_until(lambda: _settled(runtime), 60, "every touch sent or postponed")
        finally:
            codes = stop_all(workers, grace_s=30)
            install(build_broker(None))
            broker.close()
        touches = all_touches(runtime)
        runtime.close()
    output = "\n".join(log.read_text() for log in logs)
    assert codes == [0, 0], output
    assert "Traceback" not in output, output
    assert len(sink.recipients()) == 7  # exactly the daily limit, each once
    assert len(set(sink.recipients())) == 7
    assert Counter(t.status for t in touches) == {"sent": 7, "queued": 13}
    assert {t.available_at for t in touches if t.status == "queued"} == {next_day_start(START)}
    client = redis.Redis.from_url(REDIS_URL)
    assert int(client.get(f"{redis_namespace}:mailbox-usage:sales:{DAY1.isoformat()}") or 0) == 7
    client.close()


def _settled(runtime: Runtime) -> bool:
    touches = all_touches(runtime)
    sent = sum(t.status == "sent" for t in touches)
    later = sum(t.status == "queued" and t.available_at > START for t in touches)
    return sent + later == len(touches) and sent > 0


def test_a_touch_postponed_by_an_earlier_gate_uses_no_capacity(
    build: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.delivery.gates

    runtime = build(database_url, sales="daily_limit: 10")
    assert import_emails(runtime, addresses(3)) == 3

    def closed(runtime: Runtime, item: Prepared, now: datetime, paused: object) -> Postpone:
        return Postpone(now + timedelta(hours=1), "outside send window")

    monkeypatch.setattr(worker.delivery.gates, "window_gate", closed)
    assert run_batch(runtime).totals() == {"deferred": 3}
    assert usage_on(runtime, ["sales"], DAY1)["sales"].sent == 0


def test_a_mailbox_without_limits_is_counted_per_chunk_and_a_pause_stops_the_next_chunk(
    build: Any, database_url: str, clock: VirtualClock
) -> None:
    """No limit: nothing is reserved per touch, but the day's sends are still counted (usage,
    bounce and complaint rates) once per chunk, and a pause stops every chunk that starts
    after it."""
    runtime = build(database_url, settings={"touches_per_message": 25})
    import_emails(runtime, addresses(30))
    assert run_batch(runtime).totals() == {"sent": 30}
    assert usage_on(runtime, ["sales"], DAY1)["sales"].sent == 30

    import_emails(runtime, addresses(10, prefix="more"))
    with runtime.sessions.begin() as session:
        pause_mailbox(session, "sales", "checking the account", at=clock.now())
    assert run_batch(runtime).totals() == {"deferred": 10}
    assert usage_on(runtime, ["sales"], DAY1)["sales"].sent == 30


def test_sends_of_a_mailbox_without_limits_are_counted_in_redis_too(
    build: Any, sqlite_url: str, redis_namespace: str
) -> None:
    settings = {"redis_url": REDIS_URL, "redis_namespace": redis_namespace}
    runtime = build(sqlite_url, settings=settings, success="daily_limit: 5")
    with runtime.sessions.begin() as session:
        count_uncounted_sends(runtime, session, {"sales": 7, "success": 3}, START)
        count_uncounted_sends(runtime, session, {"sales": 2}, START)
    usage = usage_on(runtime, ["sales", "success"], DAY1)
    assert usage["sales"].sent == 9
    assert usage["success"].sent == 0  # limited: its reservations count it, not this
    assert usage["sales"].last_sent_at == START


def test_redis_down_never_stops_recording_sends_it_would_only_count(
    build: Any, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    runtime = build(sqlite_url, settings={"redis_url": closed})
    with runtime.sessions.begin() as session:
        count_uncounted_sends(runtime, session, {"sales": 4}, START)
    assert "sends of ['sales'] not counted in Redis" in caplog.text
