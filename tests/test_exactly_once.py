"""Each due touch goes out exactly once — with real processes, real queues and a real SMTP
server: overlapping cron runs, duplicated and redelivered queue messages, Redis workers with a
scheduler and a cron run at the same time, a worker killed mid-send, and touches that must not
go out at all."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL, START, make_settings
from delivery_support import (
    BIN,
    FINAL,
    OUTREACH,
    MakeRuntime,
    Sink,
    cli_json,
    finish,
    import_file,
    process_env,
    running_sink,
    runtime_maker,
    sample_emails,
    start,
    start_together,
    statuses,
    stop,
    stop_all,
    touches,
    wait_until,
    write_renamed_leads,
)
from sqlalchemy import select, update

from worker.actors import send_touches
from worker.broker import QUEUE, build_broker, install
from worker.clock import VirtualClock
from worker.delivery import sending
from worker.delivery.tick import tick
from worker.processes.batch import embedded_worker_for, enqueue, summarise
from worker.processes.scheduler import tick_and_enqueue
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem, Suppression, Touch

ADA = "ada@northwind.test"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def _exactly_once(sink: Sink, emails: list[str]) -> None:
    counts = sink.counts()
    twice = {email: n for email, n in counts.items() if n != 1}
    assert not twice, f"sent more than once: {twice}"
    assert sorted(counts) == sorted(emails)


# --- (a) two cron runs at the same time ----------------------------------------------------


@pytest.mark.slow
def test_two_overlapping_cron_runs_send_every_due_touch_once(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, project: Path, tmp_path: Path
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url)  # migrated, 25 leads due
    sink.data_delay_s = 0.01  # keep both runs busy long enough to overlap
    env = process_env(
        project,
        database_url,
        sink.url,
        START,
        OUTREACH_TICK_BATCH_SIZE="1",  # both runs create touches, one at a time
        OUTREACH_TOUCHES_PER_MESSAGE="1",
        OUTREACH_SEND_THREADS="4",
    )
    runs = start_together(["run", "--json"], 2, env, project, tmp_path / "go")
    try:
        results = [finish(run, timeout_s=60) for run in runs]
    finally:
        for run in runs:
            stop(run, grace_s=0)

    for code, out, err in results:
        assert code == 0, f"exit {code}\n{out}\n{err}"
    sent = [json_totals(out).get("sent", 0) for _, out, _ in results]
    assert sum(sent) == 25, sent
    _exactly_once(sink, sample_emails(project))
    assert statuses(runtime) == {"sent": 25}
    assert {t.attempts for t in touches(runtime)} == {1}


def json_totals(out: str) -> dict[str, int]:
    data = json.loads(out)
    assert data["delivery_unknown_open"] == 0
    totals: dict[str, int] = data["totals"]
    return totals


# --- (b) duplicated and redelivered messages, concurrent callers ---------------------------


def test_duplicated_redelivered_and_concurrent_sends_deliver_each_touch_once(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, project: Path
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url, send_threads=4)
    ids = tick(runtime).to_enqueue
    assert len(ids) == 25
    broker = send_touches.broker
    embedded_worker_for(broker, 4)
    outcomes: list[sending.Outcome] = []
    lock = threading.Lock()
    barrier = threading.Barrier(5)

    def call_service(order: list[int]) -> None:
        barrier.wait(timeout=10)
        result = sending.send_touches(runtime, order)
        with lock:
            outcomes.extend(result)

    callers = [
        threading.Thread(target=call_service, args=(ids if n % 2 else ids[::-1],), daemon=True)
        for n in range(4)
    ]
    for caller in callers:
        caller.start()
    barrier.wait(timeout=10)
    for _ in range(3):  # the same ids, three times
        send_touches.send(ids)
    redelivered = send_touches.message(ids[::-1])
    broker.enqueue(redelivered)  # one message delivered twice, as after a lost ack
    broker.enqueue(redelivered)
    enqueue(ids, 4)  # and once more in chunks
    for caller in callers:
        caller.join(timeout=60)
        assert not caller.is_alive()
    broker.join(QUEUE, timeout=60_000, fail_fast=True)

    _exactly_once(sink, sample_emails(project))
    assert statuses(runtime) == {"sent": 25}
    assert {t.attempts for t in touches(runtime)} == {1}  # claimed once each
    direct = Counter(o.result for o in outcomes)
    assert set(direct) <= {"sent", "not_claimed"}
    assert direct["sent"] + direct["not_claimed"] == 4 * 25
    with runtime.sessions() as session:
        kinds = Counter(session.scalars(select(Event.kind).where(Event.kind == "sent")))
    assert kinds["sent"] == 25


# --- (c) Redis workers, scheduler and cron together ---------------------------------------


def _queue_drained(namespace: str) -> bool:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [f"{namespace}:{QUEUE}.msgs", f"{namespace}:{QUEUE}.DQ.msgs"]
        return all(client.hlen(key) == 0 for key in keys)
    finally:
        client.close()


def _dead_letters(namespace: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.hlen(f"{namespace}:{QUEUE}.XQ.msgs"))
    finally:
        client.close()


def _settled(runtime: Runtime, expected: int) -> bool:
    found = statuses(runtime)
    return sum(found.values()) == expected and set(found) <= set(FINAL)


@pytest.mark.slow
def test_redis_workers_scheduler_and_cron_deliver_each_touch_once(
    project: Path,
    postgres_url: str,
    redis_namespace: str,
    sink: Sink,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        project, postgres_url, redis_url=REDIS_URL, transport_url=sink.url, tick_batch_size=1
    )
    runtime = Runtime.from_settings(settings, clock)
    runtime.engine  # noqa: B018  (migrate before the workers start)
    broker = install(build_broker(REDIS_URL, redis_namespace))
    env = process_env(
        project,
        postgres_url,
        sink.url,
        START,
        REDIS_URL=REDIS_URL,
        OUTREACH_REDIS_NAMESPACE=redis_namespace,
        OUTREACH_TICK_BATCH_SIZE="1",  # cron and scheduler tick one enrollment at a time
    )
    dramatiq_cmd = [
        str(BIN / "dramatiq"),
        "worker.actors",
        "--processes",
        "2",
        "--threads",
        "2",
        "--worker-shutdown-timeout",
        "10000",
    ]
    logs = [tmp_path / f"workers-{n}.log" for n in range(2)]
    workers = [start(dramatiq_cmd, env, project, log=log) for log in logs]
    cron = None
    try:
        # phase 1: one tick, every id enqueued twice, four worker processes competing
        first = sample_emails(project)
        assert import_file(runtime, project / "examples" / "leads.csv") == 25
        ids = tick(runtime).to_enqueue
        assert len(ids) == 25
        enqueue(ids, 5)
        enqueue(ids[::-1], 5)
        wait_until(lambda: _settled(runtime, 25), 60, "25 touches settled by the workers")
        wait_until(lambda: _queue_drained(redis_namespace), 30, "the Redis queue to drain")
        assert statuses(runtime) == {"sent": 25}
        _exactly_once(sink, first)

        # phase 2: new leads; the scheduler ticks while a cron `outreach run --wait` runs
        second: list[str] = []
        for copy in range(4):
            more = tmp_path / f"more-{copy}.csv"
            second += write_renamed_leads(project, more, f"b{copy}-")
            assert import_file(runtime, more) == 25
        go = tmp_path / "go"
        [cron] = start_together(["run", "--wait", "--json", "--timeout", "60"], 1, env, project, go)
        deadline = time.monotonic() + 60
        while cron.poll() is None and time.monotonic() < deadline:
            tick_and_enqueue(runtime)
            time.sleep(0.05)
        code, out, err = finish(cron, timeout_s=60)
        assert code == 0, f"outreach run --wait exited {code}\n{out}\n{err}"
        tick_and_enqueue(runtime)
        wait_until(lambda: _settled(runtime, 125), 60, "125 touches settled by the workers")
        wait_until(lambda: _queue_drained(redis_namespace), 30, "the Redis queue to drain")
        assert statuses(runtime) == {"sent": 125}
        assert {t.attempts for t in touches(runtime)} == {1}
        _exactly_once(sink, first + second)
        assert _dead_letters(redis_namespace) == 0
    finally:
        codes = stop_all(workers, grace_s=30)
        if cron is not None:
            stop(cron, grace_s=0)
        install(build_broker(None))
        broker.close()
        runtime.close()
    output = "\n".join(log.read_text() for log in logs)
    assert codes == [0, 0], output
    assert "Traceback" not in output, output


# --- (d) a worker killed mid-send: delivery unknown, never resent ------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_send_leaves_delivery_unknown_never_resent(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, project: Path
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url)
    sink.stall_data = True  # take the message content, then never answer
    env = process_env(project, database_url, sink.url, START)
    run = start([OUTREACH, "run", "--json"], env, project)
    try:
        if not sink.stalled.wait(timeout=30):
            stop(run, grace_s=0)
            raise AssertionError(f"no send reached the server:\n{run.communicate(timeout=10)}")
        os.kill(run.pid, signal.SIGKILL)  # the process we started, mid-send
        run.wait(timeout=10)
    finally:
        stop(run, grace_s=0)
    assert run.returncode == -signal.SIGKILL
    sink.stall_data = False
    sink.release.set()

    in_flight = [t for t in touches(runtime) if t.status == "sending"]
    assert len(in_flight) == 1
    # Only the touch in flight is in doubt; the rest of its chunk was claimed but never
    # handed over, and is requeued when the claim's lease expires.
    assert statuses(runtime) == {"sending": 1, "claimed": 24}
    email = _email(runtime, in_flight[0].lead_id)
    assert sink.data_seen == [email]

    later = process_env(project, database_url, sink.url, START + timedelta(hours=1))
    summary = cli_json(["run"], later, project)
    assert summary["expired_claims"] == 1
    assert summary["delivery_unknown_open"] == 1
    assert summary["totals"] == {"sent": 24}  # the rest of the killed batch is not lost

    shown = cli_json(["leads", "show", email], later, project)
    assert shown["status"] == "needs_review"
    assert [(t["status"], t["delivery_unknown"]) for t in shown["touches"]] == [("unknown", True)]
    assert [r["reason"] for r in shown["review"]] == ["delivery_unknown"]
    assert "delivery_unknown" in [e["kind"] for e in shown["timeline"]]

    again = process_env(project, database_url, sink.url, START + timedelta(hours=30))
    summary = cli_json(["run"], again, project)
    assert summary["delivery_unknown_open"] == 1
    assert summary["totals"] == {}
    assert sink.data_seen.count(email) == 1  # never handed over a second time
    assert email not in sink.recipients()
    others = [e for e in sample_emails(project) if e != email]
    assert Counter(sink.recipients()) == Counter(others)


def _email(runtime: Runtime, lead_id: int) -> str:
    with runtime.sessions() as session:
        email = session.scalar(select(Lead.email).where(Lead.id == lead_id))
    assert email is not None
    return email


# --- (e) nothing broken goes out ------------------------------------------------------------


def test_touches_checked_at_send_time_skip_or_fail_and_the_rest_goes_out(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, project: Path
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url, send_threads=2)
    ids = tick(runtime).to_enqueue
    assert len(ids) == 25
    suppressed = "j.carter@brightwave-media.test"
    domain_suppressed = "priya.nair@ledgerly.test"
    paused = "w.tan@harbourline.test"
    stopped = "o.hughes@fenwick-packaging.test"
    now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    with runtime.sessions.begin() as session:  # after scheduling, before any worker ran
        session.add(Suppression(value=suppressed, reason="unsubscribed", created_at=now))
        session.add(Suppression(value="ledgerly.test", reason="complaint", created_at=now))
        session.execute(
            update(Enrollment)
            .where(Enrollment.lead_id == _lead_id(session, paused))
            .values(status="paused")
        )
        session.execute(update(Lead).where(Lead.email == stopped).values(status="stopped"))
        ada = session.scalar(select(Lead).where(Lead.email == ADA))
        assert ada is not None
        ada.company = None  # the intro's subject needs it, without a default
        ada.fields = {k: v for k, v in ada.fields.items() if k != "company"}

    broker = send_touches.broker
    embedded_worker_for(broker, 2)
    enqueue(ids, 25)  # one message: a broken touch must not stop the others in it
    broker.join(QUEUE, timeout=60_000, fail_fast=True)

    totals: Counter[str] = Counter()
    for counts in summarise(runtime, ids).values():
        totals.update(counts)
    assert totals == {"sent": 20, "skipped": 4, "failed": 1}
    held_back = {suppressed, domain_suppressed, paused, stopped, ADA}
    assert not held_back & set(sink.data_seen)
    _exactly_once(sink, [e for e in sample_emails(project) if e not in held_back])

    with runtime.sessions() as session:
        by_email = {
            email: touch
            for touch, email in session.execute(
                select(Touch, Lead.email).join(Lead, Lead.id == Touch.lead_id)
            )
        }
        reviews = list(session.execute(select(ReviewItem.reason, ReviewItem.lead_id)))
        ada = session.scalar(select(Lead).where(Lead.email == ADA))
    assert by_email[suppressed].last_error == "suppressed"
    assert by_email[domain_suppressed].last_error == "suppressed"
    assert by_email[paused].last_error == "enrollment paused"
    assert by_email[stopped].last_error == "lead stopped"
    failed = by_email[ADA]
    assert failed.status == "failed"
    assert "company" in (failed.last_error or "")
    assert ada is not None
    assert ada.status == "needs_review"
    assert reviews == [("template_error", ada.id)]


def _lead_id(session: Any, email: str) -> int:
    lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
    assert lead_id is not None
    return int(lead_id)
