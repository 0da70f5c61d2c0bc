"""The mailboxes page of the web app: an admin sees each mailbox as ``outreach mailboxes``
shows it and pauses or resumes it, recorded with their name; a rep is refused (403)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import make_settings
from tests.web_support import PASSWORD, sign_in, web_app
from worker.clock import VirtualClock
from worker.mailboxes.pauses import pause_states
from worker.processes.batch import stop_embedded_workers
from worker.review.reps import add_rep
from worker.runtime import Runtime, set_runtime
from worker.store.models import Event, MailboxPause
from worker.vocabulary import EventKind

# The example mailboxes, with an owner rule and a transport secret that is not set.
OWNERS_AND_SECRET = {
    "    daily_limit: 150\n": (
        "    daily_limit: 150\n    owner: bo\n    transport_env: OUTREACH_SMTP_SUCCESS_UNSET\n"
    ),
    "  northwind: [sales, success]\n": (
        "  northwind:\n    mailboxes: [sales, success]\n    owners: [ada, bo]\n"
    ),
}


@pytest.fixture
def web_runtime(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[Runtime]:
    """A runtime on SQLite only, with an admin ``ada`` (Berlin time) and a rep ``bo``."""
    path = project / "mailboxes.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in OWNERS_AND_SECRET.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    rt = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(rt)
    with rt.sessions.begin() as session:
        add_rep(session, "ada", PASSWORD, at=clock.now(), timezone="Europe/Berlin", role="admin")
        add_rep(session, "bo", PASSWORD, at=clock.now(), role="rep")
    yield rt
    stop_embedded_workers()
    rt.close()
    set_runtime(None)


def _row(page: str, mailbox: str) -> str:
    """The table row of ``mailbox`` on the mailboxes page."""
    found = re.search(rf'<tr id="mailbox-{mailbox}">(.*?)</tr>', page, re.S)
    assert found, f"no row for {mailbox}"
    return " ".join(found.group(1).split())


def _events(runtime: Runtime) -> list[tuple[str, str | None, dict[str, Any]]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Event.kind, Event.cause, Event.detail)
            .where(Event.kind.in_([EventKind.MAILBOX_PAUSED, EventKind.MAILBOX_RESUMED]))
            .order_by(Event.id)
        ).all()
    return [(kind, cause, detail) for kind, cause, detail in rows]


def _client(runtime: Runtime, name: str) -> tuple[FlaskClient, str]:
    client = web_app(runtime).test_client()
    return client, sign_in(client, name)


def test_a_rep_is_refused_and_an_admin_pauses_and_resumes_a_mailbox(
    web_runtime: Runtime,
) -> None:
    rep, token = _client(web_runtime, "bo")
    assert 'href="/mailboxes"' not in rep.get("/queue").text  # the nav hides it
    refused = rep.get("/mailboxes")
    assert refused.status_code == 403
    assert "Only an admin can do this" in refused.text
    form = {"csrf_token": token, "reason": "rep tries"}
    assert rep.post("/mailboxes/sales/pause", data=form).status_code == 403
    assert rep.post("/mailboxes/sales/resume", data={"csrf_token": token}).status_code == 403
    with web_runtime.sessions() as session:
        assert session.scalars(select(MailboxPause)).all() == []

    admin, token = _client(web_runtime, "ada")
    page = admin.get("/mailboxes")
    assert page.status_code == 200
    assert 'href="/mailboxes" aria-current="page"' in page.text
    sales, success = _row(page.text, "sales"), _row(page.text, "success")
    assert "ada.fischer@northwind-analytics.example" in sales
    assert "0 / 200" in sales
    assert "never" in sales  # no send yet
    assert "ada, bo (pool northwind)" in sales
    assert "Active" in sales
    assert "bo; ada, bo (pool northwind)" in success
    assert "No transport" in success
    assert "$OUTREACH_SMTP_SUCCESS_UNSET" in success
    assert 'action="/mailboxes/sales/pause"' in sales
    assert admin.post("/mailboxes/nowhere/pause", data={"csrf_token": token}).status_code == 404

    paused = admin.post(
        "/mailboxes/sales/pause", data={"csrf_token": token, "reason": "  provider\nwarning "}
    )
    assert paused.status_code == 302
    with web_runtime.sessions() as session:
        state = pause_states(session)["sales"]
    assert (state.paused, state.reason) == (True, "provider warning")
    assert _events(web_runtime) == [
        (
            "mailbox_paused",
            "manual",
            {"mailbox": "sales", "reason": "provider warning", "by": "ada"},
        )
    ]
    page = admin.get("/mailboxes")
    assert "Paused mailbox sales: provider warning." in page.text  # the flash
    sales = _row(page.text, "sales")
    # 09:00 UTC in ada's zone, and the reason; the form now resumes.
    assert "Paused</span> since <time" in sales
    assert "2027-01-04 10:00 CET" in sales
    assert "provider warning" in sales
    assert 'action="/mailboxes/sales/resume"' in sales
    assert "Active" in _row(page.text, "success")
    again = admin.post("/mailboxes/sales/pause", data={"csrf_token": token, "reason": "x"})
    assert again.status_code == 302
    assert "was already paused: provider warning" in admin.get("/mailboxes").text

    resumed = admin.post("/mailboxes/sales/resume", data={"csrf_token": token})
    assert resumed.status_code == 302
    with web_runtime.sessions() as session:
        assert not pause_states(session)["sales"].paused
    kind, cause, detail = _events(web_runtime)[-1]
    assert (kind, cause, detail["by"]) == ("mailbox_resumed", "manual", "ada")
    page = admin.get("/mailboxes")
    assert "Resumed mailbox sales; 0 postponed email(s)" in page.text
    sales = _row(page.text, "sales")
    assert "Active" in sales
    assert "provider warning" not in sales
    assert 'action="/mailboxes/sales/pause"' in sales
