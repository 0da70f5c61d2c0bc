"""Outgoing webhooks and owner notifications, against a real HTTP receiver on loopback and a
real SMTP server: signed deliveries, retries after a 500, replay, a receiver that is down or
slow never slowing a batch, no event skipped when it commits late, notifications once."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlalchemy import func, insert, select, update

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import REDIS_URL, free_port, make_settings
from tests.webhook_support import (
    SECRET,
    Receiver,
    receiving,
    small_leads,
    verify,
    write_integrations,
)
from worker.actors import INTEGRATIONS_QUEUE, deliver_webhook
from worker.broker import build_broker, install
from worker.clock import VirtualClock
from worker.integrations import attempt, dispatch, forget_lead, integrations_for
from worker.integrations.ledger import replay
from worker.integrations.notifications import send as send_notification
from worker.leads.flags import flag
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch, stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.store.models import (
    Event,
    Lead,
    Notification,
    Rep,
    ReviewItem,
    Touch,
    WebhookAttempt,
    WebhookDelivery,
)
from worker.vocabulary import ReviewReason

ENV = {"OUTREACH_WEBHOOK_CRM_SECRET": SECRET}


def _runtime(project: Path, url: str, clock: VirtualClock, **env: str) -> Runtime:
    settings = make_settings(project, url)
    settings = settings.with_changes(environ={**ENV, **env})
    runtime = Runtime.from_settings(settings, clock)
    set_runtime(runtime)
    return runtime


@pytest.fixture
def sqlite_runtime(project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any):
    runtime = _runtime(project, sqlite_url, clock)
    yield runtime
    stop_embedded_workers()
    runtime.close()
    set_runtime(None)


def _crm(url: str, events: str = "[lead.created]", extra: str = "") -> str:
    return f"webhooks:\n  - name: crm\n    url: {url}\n    events: {events}\n{extra}"


def _deliveries(runtime: Runtime) -> list[WebhookDelivery]:
    with runtime.sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_delivery_is_signed_retried_after_a_500_replayed_and_forgotten(
    sqlite_runtime: Runtime, project: Path, clock: VirtualClock
) -> None:
    runtime = sqlite_runtime
    with receiving(Receiver(answers=[500, 200])) as receiver:
        down = f"http://127.0.0.1:{free_port()}/hook"
        extra = (
            f"  - name: down\n    url: {down}\n    events: [lead.created]\n"
            "    secret_env: OUTREACH_WEBHOOK_CRM_SECRET\n"
        )
        write_integrations(project, _crm(receiver.url, extra=extra))
        import_leads(
            runtime.sessions, small_leads(project, 1), clock, runtime.catalog, enroll=False
        )
        found = dispatch(runtime)
        delivery_id, refused_id = found.deliveries
        assert dispatch(runtime).deliveries == []  # read again: inserted once
        refused = attempt(runtime, refused_id)
        assert refused.result == "retry"
        assert "Connection refused" in (refused.error or "")

        first = attempt(runtime, delivery_id)
        assert (first.result, first.status_code, first.retry_in_s) == ("retry", 500, 30)
        assert attempt(runtime, delivery_id).result == "skipped"  # not due before its backoff
        clock.advance(timedelta(seconds=31))
        assert attempt(runtime, delivery_id).result == "delivered"

        replayed = receiver.requests
        assert len(replayed) == 2
        for request in replayed:
            assert request.headers["Content-Type"] == "application/json"
            assert verify(SECRET, request.headers, request.body)
            assert not verify("another secret", request.headers, request.body)
        document = json.loads(replayed[-1].body)
        assert set(document) == {"id", "event", "occurred_at", "data"}
        assert document["event"] == "lead.created"
        assert document["data"]["lead"]["email"] == "lead0@example.test"
        assert (
            replayed[0].headers["Outreach-Webhook-Id"] == replayed[1].headers["Outreach-Webhook-Id"]
        )

        with runtime.sessions.begin() as session:
            assert replay(session, [delivery_id], now=clock.now()) == [delivery_id]
        assert attempt(runtime, delivery_id).result == "delivered"
        assert len(receiver.requests) == 3
        assert receiver.requests[2].body == receiver.requests[1].body

    with runtime.sessions() as session:
        attempts = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
        ).all()
        assert [a.status_code for a in attempts] == [500, 200, 200]
        assert [a.number for a in attempts] == [1, 2, 3]
        assert len(attempts[0].response or "") == 500
        lead_id = session.scalar(select(Lead.id))
    with runtime.sessions.begin() as session:
        assert forget_lead(session, lead_id) == 2
    assert _deliveries(runtime) == []


def test_a_receiver_that_is_down_or_slow_never_slows_the_batch(
    sqlite_runtime: Runtime, project: Path, clock: VirtualClock
) -> None:
    runtime = sqlite_runtime
    hold = threading.Event()
    with receiving(Receiver(hold=hold)) as slow:
        down = f"http://127.0.0.1:{free_port()}/hook"
        extra = (
            f"    timeout_s: 20\n  - name: down\n    url: {down}\n    events: [touch.sent]\n"
            "    secret_env: OUTREACH_WEBHOOK_CRM_SECRET\n"
        )
        write_integrations(project, _crm(slow.url, "[touch.sent, lead.created]", extra))
        import_leads(runtime.sessions, small_leads(project, 3), clock, runtime.catalog)
        started = time.perf_counter()
        summary = run_batch(runtime)
        elapsed = time.perf_counter() - started
        assert summary.totals().get("sent") == 3
        # a batch that waited for the slow receiver would take its 20 s timeout
        assert elapsed < 10, f"the batch took {elapsed:.1f} s"
        rows = _deliveries(runtime)
        assert sorted((r.subscription, r.event) for r in rows) == sorted(
            [("crm", "lead.created")] * 3
            + [("crm", "touch.sent")] * 3
            + [("down", "touch.sent")] * 3
        )
        assert {r.status for r in rows} == {"pending"}  # nothing delivered, nothing lost
        with runtime.sessions() as session:
            assert session.scalar(select(func.count()).where(Touch.status == "sent")) == 3
        hold.set()


def test_the_dispatcher_does_not_skip_an_event_committed_late(
    project: Path, postgres_url: str, clock: VirtualClock, stub_broker: Any
) -> None:
    runtime = _runtime(project, postgres_url, clock)
    try:
        write_integrations(project, _crm("http://127.0.0.1:9/hook"))
        import_leads(
            runtime.sessions, small_leads(project, 2), clock, runtime.catalog, enroll=False
        )
        assert len(dispatch(runtime).deliveries) == 2
        with runtime.sessions() as session:
            first, second = session.scalars(select(Lead.id).order_by(Lead.id)).all()
        row = {"kind": "lead_created", "at": clock.now(), "detail": {}}
        late = runtime.sessions()
        late.execute(insert(Event), [{**row, "lead_id": first}])  # takes the smaller id
        with runtime.sessions.begin() as session:
            session.execute(insert(Event), [{**row, "lead_id": second}])
        assert len(dispatch(runtime).deliveries) == 1  # the later id, committed first
        late.commit()
        late.close()
        assert len(dispatch(runtime).deliveries) == 1  # the earlier id, read behind the cursor
        assert len({d.event_id for d in _deliveries(runtime)}) == 4
    finally:
        runtime.close()
        set_runtime(None)


def test_a_hot_lead_a_task_due_today_and_the_digest_notify_the_owner_once(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any, smtp_sink: Any
) -> None:
    mailboxes = project / "mailboxes.yaml"
    mailboxes.write_text(
        mailboxes.read_text(encoding="utf-8").replace(
            "mailboxes:\n",
            "mailboxes:\n  - name: system\n    address: outreach@northwind.example\n"
            "    display_name: Outreach\n    transport_env: OUTREACH_SMTP_SYSTEM\n",
            1,
        ),
        encoding="utf-8",
    )
    runtime = _runtime(project, sqlite_url, clock, OUTREACH_SMTP_SYSTEM=smtp_sink.url)
    try:
        with receiving() as chat:
            write_integrations(
                project,
                f"webhooks:\n  - name: team\n    kind: chat\n    url: {chat.url}\n"
                "notifications:\n  mailbox: system\n  daily_digest: true\n",
            )
            import_leads(
                runtime.sessions, small_leads(project, 3), clock, runtime.catalog, enroll=False
            )
            now = clock.now()
            with runtime.sessions.begin() as session:
                hot, task, later = session.scalars(select(Lead.id).order_by(Lead.id)).all()
                session.add(
                    Rep(
                        name="rita",
                        password_hash="-",
                        created_at=now,
                        password_changed_at=now,
                        email="rita@example.test",
                        full_name="Rita Diaz",
                        timezone="Europe/Berlin",
                        role="rep",
                    )
                )
                session.execute(update(Lead).values(owner="rita"))
                flag(session, hot, ReviewReason.HOT_LEAD, at=now, detail="yes, call me")
                for lead_id, hours in ((task, 3), (later, 30)):
                    session.add(
                        ReviewItem(
                            lead_id=lead_id,
                            reason=ReviewReason.TASK_CALL,
                            detail="Call about the pilot",
                            due_at=now + timedelta(hours=hours),
                            created_at=now,
                        )
                    )
            found = dispatch(runtime)
            assert len(found.emails) == 3  # hot lead, task due today, the daily digest
            assert len(found.deliveries) == 2
            again = dispatch(runtime)
            assert (again.emails, again.deliveries) == ([], [])

            config = integrations_for(project)
            results = [send_notification(runtime, i, config) for i in found.emails]
            assert results == ["sent", "sent", "sent"]
            assert send_notification(runtime, found.emails[0], config) == "skipped"
            assert sorted(m["Subject"] for m in smtp_sink.messages) == [
                "Hot lead: Lea0 Nord (Acme 0) replied",
                "Task due today: call Lea1 Nord (Acme 1)",
                "Your day: 3 open item(s), 1 task(s) due",
            ]
            assert smtp_sink.recipients() == ["rita@example.test"] * 3
            [digest] = [m for m in smtp_sink.messages if m["Subject"].startswith("Your day")]
            text = digest.get_payload(decode=True).decode()
            assert "Good morning, Rita Diaz: 3 open item(s) on your leads." in text
            assert "Hot leads: 1, tasks due today: 1." in text
            assert {m["From"] for m in smtp_sink.messages} == {
                "Outreach <outreach@northwind.example>"
            }
            for delivery_id in found.deliveries:
                assert attempt(runtime, delivery_id).result == "delivered"
            texts = sorted(json.loads(r.body)["text"] for r in chat.requests)
            assert "Hot lead: Lea0 Nord" in texts[0]
            assert "(owner: Rita Diaz)" in texts[0]
            with runtime.sessions() as session:
                assert session.scalar(select(func.count()).select_from(Notification)) == 5
            with runtime.sessions() as session:
                # nothing was mailed to a lead, and no touch counted against a mailbox
                assert session.scalar(select(func.count()).select_from(Touch)) == 0
    finally:
        runtime.close()
        set_runtime(None)


def test_the_deliver_webhook_actor_delivers_on_the_redis_broker(
    sqlite_runtime: Runtime, project: Path, clock: VirtualClock, redis_namespace: str
) -> None:
    runtime = sqlite_runtime
    broker = install(build_broker(REDIS_URL, redis_namespace))
    worker = dramatiq.Worker(
        broker, queues={INTEGRATIONS_QUEUE}, worker_threads=1, worker_timeout=100
    )
    worker.start()
    try:
        with receiving() as receiver:
            write_integrations(project, _crm(receiver.url))
            import_leads(
                runtime.sessions, small_leads(project, 1), clock, runtime.catalog, enroll=False
            )
            [delivery_id] = dispatch(runtime).deliveries
            deliver_webhook.send(delivery_id)
            broker.join(INTEGRATIONS_QUEUE, timeout=10_000)
            worker.join()
            assert [d.status for d in _deliveries(runtime)] == ["delivered"]
            assert verify(SECRET, receiver.requests[0].headers, receiver.requests[0].body)
    finally:
        worker.stop()
        install(build_broker(None))


def test_the_command_line_validates_lists_and_replays(project: Path, sqlite_url: str) -> None:
    outreach = make_invoke(project, sqlite_url)
    write_integrations(
        project,
        "webhooks:\n  - name: crm\n    url: http://127.0.0.1:9/hook\n"
        "    events: [lead.created, lead.replyed]\n",
    )
    try:
        for command in ("validate", "webhooks list"):
            result = outreach(*command.split())
            assert result.exit_code == 1
            assert "integrations.yaml:4: unknown webhook event 'lead.replyed'" in result.output
            assert "did you mean 'lead.replied'?" in result.output
        write_integrations(
            project,
            "webhooks:\n  - name: crm\n    url: http://127.0.0.1:9/hook\n"
            "    events: [lead.created]\n",
        )
        assert outreach("leads", "import", str(small_leads(project, 1))).exit_code == 0
        assert outreach("run").exit_code == 0
        listed = json.loads(outreach("webhooks", "list", "--json").output)
        assert (listed[0]["name"], listed[0]["secret_set"]) == ("crm", False)
        rows = json.loads(outreach("webhooks", "deliveries", "--json").output)
        assert [(r["event"], r["status"]) for r in rows] == [("lead.created", "pending")]
        assert "OUTREACH_WEBHOOK_CRM_SECRET is not set" in rows[0]["last_error"]
        shown = outreach("webhooks", "replay", "999")
        assert shown.exit_code == 1
        assert "No webhook delivery 999" in shown.output
        ping = outreach("webhooks", "test", "crmm")
        assert ping.exit_code == 1
        assert "did you mean 'crm'?" in ping.output
    finally:
        reset_cli_runtime()
