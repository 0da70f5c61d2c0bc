""" "Delivery unknown" settled with evidence: each touch's Message-ID looked up in the Sent
folder of its mailbox on a real IMAP server (Dovecot). Found → resolved as sent with the
evidence; not found → suggests not-sent; what remains is resolved in bulk from the command
line or the web queue. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_settings
from sqlalchemy import select

from tests.cli_support import reset_cli_runtime
from tests.imap_support import ImapAccount
from tests.web_support import signed_in_client
from worker.cli import main
from worker.clock import VirtualClock
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.errors import DeliveryUnknownError
from worker.leads.importing import import_leads
from worker.review.evidence import check_sent_folders
from worker.runtime import Runtime, set_runtime
from worker.store.models import Enrollment, Lead, ReviewItem, Touch
from worker.transports.message import BuiltMessage

FILED = 3  # of the 5 touches in doubt, the provider filed these in Sent


class LostAnswerTransport:
    """The server takes each message, the answer is lost; the provider files some in Sent."""

    def __init__(self, account: ImapAccount, filed: int) -> None:
        self.account, self.filed = account, filed
        self.calls = 0

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        self.calls += 1
        if self.calls <= self.filed:
            self.account.append(built.data, folder="Sent")
        raise DeliveryUnknownError("connection lost after the end of DATA")

    def close(self) -> None:
        pass


@pytest.fixture
def runtime(
    project: Path, database_url: str, clock: VirtualClock, imap: ImapAccount, stub_broker: Any
) -> Iterator[Runtime]:
    settings = make_settings(project, database_url, inbox_url=imap.url("INBOX"), sent_grace_s=0)
    made = Runtime.from_settings(settings, clock)
    set_runtime(made)
    yield made
    made.close()
    set_runtime(None)


def _in_doubt(runtime: Runtime, imap: ImapAccount, project: Path) -> list[int]:
    imap.append(b"Subject: an older sent mail\r\n\r\nhello\r\n", folder="Sent")
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    ids = sorted(tick(runtime).created)[:5]
    runtime.transport_override = LostAnswerTransport(imap, FILED)  # type: ignore[assignment]
    outcomes = send_touches(runtime, ids)
    assert [o.result for o in outcomes] == ["unknown"] * 5
    runtime.transport_override = None
    return ids


def _items(runtime: Runtime) -> dict[int, ReviewItem]:
    with runtime.sessions() as session:
        rows = session.scalars(select(ReviewItem).where(ReviewItem.reason == "delivery_unknown"))
        return {item.touch_id: item for item in rows if item.touch_id is not None}


def test_a_touch_found_in_the_sent_folder_is_settled_and_the_rest_suggest_not_sent(
    runtime: Runtime, imap: ImapAccount, project: Path
) -> None:
    ids = _in_doubt(runtime, imap, project)

    result = check_sent_folders(runtime)

    assert result.searched == 5
    assert result.not_searched == {}
    items = _items(runtime)
    assert sorted(result.settled_sent) == sorted(items[t].id for t in ids[:FILED])
    assert sorted(result.suggested_not_sent) == sorted(items[t].id for t in ids[FILED:])
    with runtime.sessions() as session:
        for touch_id in ids[:FILED]:
            item = items[touch_id]
            assert item.resolution == "sent"
            assert item.note is not None
            assert "found in the Sent folder 'Sent'" in item.note
            touch = session.get(Touch, touch_id)
            assert touch is not None
            assert touch.status == "sent"
            assert touch.message_id in item.note
            enrollment = session.get(Enrollment, touch.enrollment_id)
            assert enrollment is not None
            assert enrollment.current_step == 1
        for touch_id in ids[FILED:]:
            item = items[touch_id]
            assert item.resolved_at is None
            assert item.suggested_action == "not-sent"
            assert item.detail is not None
            assert "Not in the Sent folder 'Sent'" in item.detail
    again = check_sent_folders(runtime)  # idempotent: the detail is not repeated
    assert again.settled_sent == []
    assert _items(runtime)[ids[-1]].detail.count("Not in the Sent folder") == 1  # type: ignore[union-attr]

    # What remains is resolved in bulk with each item's suggestion.
    try:
        done = CliRunner().invoke(
            main,
            [
                "review",
                "resolve",
                "--all",
                "--reason",
                "delivery_unknown",
                "--action",
                "suggested",
                "--json",
            ],
            env={"OUTREACH_HOME": str(project), "DATABASE_URL": runtime.settings.database_url},
        )
    finally:
        reset_cli_runtime()
    assert done.exit_code == 0, done.output
    resolved = json.loads(done.output)["resolved"]
    assert sorted(int(k) for k in resolved) == sorted(items[t].id for t in ids[FILED:])
    assert set(resolved.values()) == {"not-sent"}
    with runtime.sessions() as session:
        statuses = dict(
            session.execute(select(Touch.id, Touch.status).where(Touch.id.in_(ids))).all()
        )
        assert [statuses[t] for t in ids] == ["sent"] * FILED + ["queued"] * (5 - FILED)
        open_leads = session.scalars(select(Lead.status).where(Lead.status == "needs_review")).all()
        assert open_leads == []


def test_a_mailbox_without_an_imap_inbox_is_reported_not_guessed(
    project: Path, database_url: str, clock: VirtualClock, imap: ImapAccount, stub_broker: Any
) -> None:
    settings = make_settings(project, database_url, inbox_url=imap.url("INBOX"), sent_grace_s=0)
    runtime = Runtime.from_settings(settings, clock)
    try:
        ids = _in_doubt(runtime, imap, project)
        runtime.settings = settings.with_changes(inbox_url=None)
        result = check_sent_folders(runtime)
        assert result.searched == 0
        assert set(result.not_searched) == {"sales"}
        assert "no IMAP inbox" in result.not_searched["sales"]
        assert all(_items(runtime)[t].suggested_action != "not-sent" for t in ids)
    finally:
        runtime.close()


def test_the_web_queue_resolves_every_delivery_unknown_item_at_once(
    runtime: Runtime, imap: ImapAccount, project: Path
) -> None:
    ids = _in_doubt(runtime, imap, project)
    client, token = signed_in_client(runtime)
    page = client.get("/queue?who=all&reason=delivery_unknown").get_data(as_text=True)
    assert 'action="/queue/resolve-all"' in page
    assert "each its suggested action" in page
    form = {"csrf_token": token, "reason": "delivery_unknown", "back": "/queue"}

    unconfirmed = client.post("/queue/resolve-all", data={**form, "action": "not-sent"})
    assert unconfirmed.status_code == 302
    assert all(item.resolved_at is None for item in _items(runtime).values())

    reply = client.post(
        "/queue/resolve-all",
        data={**form, "action": "not-sent", "confirm": "yes"},
        follow_redirects=True,
    )

    assert reply.status_code == 200
    assert "Resolved 5 item(s): It was not sent: send again." in reply.get_data(as_text=True)
    items = _items(runtime)
    assert {items[t].resolution for t in ids} == {"not-sent"}
    assert all("in bulk by rita" in (items[t].note or "") for t in ids)
    assert client.post("/queue/resolve-all", data={**form, "action": "won"}).status_code == 400
