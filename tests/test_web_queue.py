"""The review queue page: flagged leads hot first with the reply, its classification and the
suggested action; filters; one-click resolving; assigning to reps; CSRF and sign-in."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import timedelta
from pathlib import Path

from click.testing import Result
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.web_support import add_test_rep, signed_in_client, web_app
from worker.inbound.reactions import ReplyPolicy, act_on_reply, store_classification
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Event, InboundMessage, Lead, ReviewItem, Touch
from worker.understanding import Classification, classify

ADA = "ada@northwind.test"  # prospecting, mailbox sales
KLAUS = "k.mueller@brauhaus-logistik.test"  # prospecting, mailbox sales
DENIZ = "d.yilmaz@hansa-spedition.test"  # delivery, mailbox success
LEADS = """\
email,first_name,last_name,company,stage,timezone
ada@northwind.test,Ada,Winter,Northwind Traders,prospecting,Europe/London
k.mueller@brauhaus-logistik.test,Klaus,Müller,Brauhaus Logistik GmbH,prospecting,Europe/Berlin
d.yilmaz@hansa-spedition.test,Deniz,Yilmaz,Hansa Spedition GmbH,delivery,Europe/Berlin
"""
QUESTION = """\
From: {email}
To: ada.fischer@northwind-analytics.example
Subject: Re: {subject}
Message-ID: <{tag}@reply.test>
Content-Type: text/plain; charset=utf-8

How much does the scan cost, and how long does it take?

On Mon, 4 Jan 2027 at 09:00, Ada Fischer wrote:
> Hi there, stale deals inflate the pipeline.
> Best, Ada
"""
CALLS = """\
name: calls
stage: prospecting
mailbox: sales
steps:
  - template: prospecting/01_intro
  - type: call
    task: "Call {{ first_name }} at {{ company }} about the forecast scan"
    wait: 2 days
  - template: prospecting/03_case_study
    wait: 1 day
on_complete:
  after: 0 days
  action: stop
"""


# ---- set-up ----------------------------------------------------------------------------------


def _import(
    runtime: Runtime, project: Path, text: str = LEADS, sequence: str | None = None
) -> None:
    path = project / "web-queue-leads.csv"
    path.write_text(text, encoding="utf-8")
    import_leads(runtime.sessions, path, runtime.clock, runtime.catalog, sequence=sequence)
    run_batch(runtime)


def _touch(runtime: Runtime, email: str) -> Touch:
    with runtime.sessions() as session:
        touch = session.scalar(
            select(Touch)
            .join(Lead, Lead.id == Touch.lead_id)
            .where(Lead.email == email, Touch.status == "sent")
        )
        assert touch is not None
        return touch


def _reply(runtime: Runtime, email: str, found: Classification | None = None) -> int:
    """A reply from ``email`` to its first email (the question with quoted history unless
    ``found`` says otherwise), classified and acted on as processing does."""
    touch = _touch(runtime, email)
    now = runtime.clock.now()
    raw = QUESTION.format(email=email, subject=touch.subject, tag=f"{touch.id}-{now:%H%M%S}")
    raw_bytes = raw.replace("\n", "\r\n").encode()
    found = found or classify(raw_bytes)
    with runtime.sessions.begin() as session:
        inbound = InboundMessage(
            dedupe_key=f"web-queue:{touch.id}:{now.isoformat()}",
            source="test",
            received_at=now,
            raw=raw_bytes,
            size=len(raw_bytes),
            status="processed",
            from_address=email,
            subject=f"Re: {touch.subject}",
            lead_id=touch.lead_id,
            touch_id=touch.id,
            matched_by="message_id",
        )
        session.add(inbound)
        session.flush()
        store_classification(inbound, found, now)
        act_on_reply(session, runtime.catalog, ReplyPolicy(), inbound, found, at=now)
        return inbound.id


def _flagged(runtime: Runtime, project: Path) -> dict[str, int]:
    """Three flagged leads: two questions (Klaus first, Deniz), then Ada's hot positive reply;
    their open item ids by email."""
    _import(runtime, project)
    _reply(runtime, KLAUS)
    runtime.clock.advance(timedelta(minutes=30))
    _reply(runtime, DENIZ)
    runtime.clock.advance(timedelta(hours=2))
    _reply(runtime, ADA, Classification("positive", 0.9, text="Sounds good, let's talk."))
    return _open_items(runtime)


def _open_items(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Lead.email, ReviewItem.id)
            .join(Lead, Lead.id == ReviewItem.lead_id)
            .where(ReviewItem.resolved_at.is_(None))
        )
        return {row.email: row.id for row in rows}


def _item(runtime: Runtime, item_id: int) -> ReviewItem:
    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert item is not None
        return item


def _lead(runtime: Runtime, email: str) -> Lead:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None
        return lead


def _listed(client: FlaskClient, query: str = "") -> list[int]:
    """The item ids on the queue page, in order."""
    response = client.get(f"/queue?who=all&{query.lstrip('?')}")  # everyone's, not only mine
    assert response.status_code == 200
    return [
        int(n)
        for n in re.findall(r'<article class="card queue-item[^"]*" id="item-(\d+)"', response.text)
    ]


# ---- listing ---------------------------------------------------------------------------------


def test_the_queue_shows_hot_leads_first_with_the_reply_its_classification_and_suggestion(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, _ = signed_in_client(runtime)

    assert _listed(client) == [items[ADA], items[KLAUS], items[DENIZ]]
    page = client.get("/queue?who=all").text
    ada, klaus = _lead(runtime, ADA), _lead(runtime, KLAUS)
    assert 'class="badge hot">HOT<' in page
    assert f'href="/leads/{ada.id}"' in page
    assert "Brauhaus Logistik GmbH" in page
    # The reply without its quoted history, with its subject and classification.
    assert "How much does the scan cost, and how long does it take?" in page
    assert "Ada Fischer wrote:" not in page
    assert "stale deals inflate the pipeline" not in page
    assert f"Re: {_touch(runtime, KLAUS).subject}" in page
    assert ">Question<" in page  # the intent as a rep reads it
    with runtime.sessions() as session:  # the classifier's own confidence, as the page rounds it
        asked = session.scalar(
            select(InboundMessage.confidence).where(InboundMessage.lead_id == klaus.id)
        )
    assert f"{asked:.0%} confident" in page
    assert ">Interested<" in page
    assert "90% confident" in page
    # The suggested action is the primary button; the others are in the select.
    klaus_card = _card(page, items[KLAUS])
    assert 'name="action" value="resume"' in klaus_card
    assert '<option value="advance">' in klaus_card
    assert '<option value="reclassify:positive">' in klaus_card
    assert '<option value="enroll:delivery">' in klaus_card
    assert '<option value="done">' not in klaus_card
    ada_card = _card(page, items[ADA])
    assert 'name="action" value="enroll:qualification"' in ada_card
    assert "qualification" in ada_card
    assert klaus.stage == "prospecting"
    assert "unassigned" in ada_card


def _card(page: str, item_id: int) -> str:
    start = page.index(f'id="item-{item_id}"')
    end = page.find("</article>", start)
    return page[start:end]


def test_filters_by_reason_stage_and_mailbox_narrow_the_queue(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, _ = signed_in_client(runtime)

    assert _listed(client, "?reason=hot_lead") == [items[ADA]]
    assert _listed(client, "?reason=reply_question") == [items[KLAUS], items[DENIZ]]
    assert _listed(client, "?stage=delivery") == [items[DENIZ]]
    assert _listed(client, "?stage=qualification") == [items[ADA]]  # advanced by the reply
    assert _listed(client, "?mailbox=success") == [items[DENIZ]]
    assert _listed(client, "?mailbox=sales") == [items[ADA], items[KLAUS]]
    assert _listed(client, "?mailbox=sales&reason=reply_question") == [items[KLAUS]]
    assert _listed(client, "?reason=nothing-like-this") == []
    page = client.get("/queue?who=all&stage=delivery").text
    assert '<option value="delivery" selected>' in page
    assert '<option value="hot_lead">' in page  # every reason present stays selectable


# ---- resolving -------------------------------------------------------------------------------


def test_advance_resolves_the_item_moves_the_lead_on_and_keeps_the_filters(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)
    back = "/queue?reason=reply_question"

    response = client.post(
        f"/queue/{items[KLAUS]}/resolve",
        data={"action": "advance", "note": "call booked", "back": back, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == back
    page = client.get(back)
    assert page.status_code == 200
    assert f"Resolved #{items[KLAUS]} as Advance to the next stage for {KLAUS}." in page.text
    assert _listed(client) == [items[ADA], items[DENIZ]]
    lead = _lead(runtime, KLAUS)
    assert (lead.stage, lead.status) == ("qualification", "active")
    item = _item(runtime, items[KLAUS])
    assert (item.resolution, item.note) == ("advance", "call booked — by rita")
    with runtime.sessions() as session:
        event = session.scalar(
            select(Event).where(Event.lead_id == lead.id, Event.kind == "resolved")
        )
        assert event is not None
        assert event.cause == "advance"
        assert event.detail["note"] == "call booked — by rita"


def test_the_action_menu_resolves_and_the_rep_is_recorded_without_a_note(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)

    chosen = {"action": "lost", "note": "", "back": "/queue"}
    response = client.post(
        f"/queue/{items[DENIZ]}/resolve",
        data={**chosen, "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert f"Resolved #{items[DENIZ]} as Mark as lost" in response.text
    item = _item(runtime, items[DENIZ])
    assert (item.resolution, item.note) == ("lost", "by rita")
    assert _lead(runtime, DENIZ).stage == "lost"


def test_an_action_that_does_not_apply_shows_the_error_and_leaves_the_item_open(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)

    for action, says in (
        ("done", "is not a call or LinkedIn task"),
        ("enroll:no-such-sequence", "no-such-sequence"),
        ("dance", "Unknown action &#39;dance&#39;"),
    ):
        response = client.post(
            f"/queue/{items[KLAUS]}/resolve",
            data={"action": action, "back": "/queue?stage=prospecting", "csrf_token": token},
        )
        assert response.headers["Location"] == "/queue?stage=prospecting"
        page = client.get("/queue?stage=prospecting")
        assert page.status_code == 200
        assert 'class="flash error"' in page.text
        assert f"#{items[KLAUS]} not resolved" in page.text
        assert says in page.text
    item = _item(runtime, items[KLAUS])
    assert (item.resolved_at, item.resolution) == (None, None)
    assert _lead(runtime, KLAUS).status == "needs_review"
    assert items[KLAUS] in _listed(client)


def test_malformed_requests_change_nothing(runtime: Runtime, project: Path) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)
    url = f"/queue/{items[KLAUS]}/resolve"

    assert client.post(url, data={"csrf_token": token}).status_code == 400
    assert client.post(url, data={"action": "x" * 101, "csrf_token": token}).status_code == 400
    long_note = {"action": "stop", "note": "n" * 2001, "csrf_token": token}
    assert client.post(url, data=long_note).status_code == 400
    missing = client.post("/queue/999999/resolve", data={"action": "stop", "csrf_token": token})
    assert missing.status_code == 404
    assert client.get("/queue/999999").status_code == 404
    assert _item(runtime, items[KLAUS]).resolved_at is None
    # Only local queue pages are returned to.
    for back in ("https://evil.test/queue", "//evil.test/queue", "/leads", "/queue\\x"):
        response = client.post(
            f"/queue/{items[DENIZ]}/assign", data={"rep": "", "back": back, "csrf_token": token}
        )
        assert response.headers["Location"] == "/queue"


def test_posts_without_a_csrf_token_or_a_session_are_refused(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)
    url = f"/queue/{items[KLAUS]}/resolve"

    assert client.post(url, data={"action": "stop"}).status_code == 400
    assign = f"/queue/{items[KLAUS]}/assign"
    assert client.post(assign, data={"rep": "rita"}).status_code == 400
    stranger = web_app(runtime).test_client()
    assert stranger.post(url, data={"action": "stop", "csrf_token": token}).status_code == 401
    assert stranger.get("/queue").status_code == 302  # to the sign-in page
    item = _item(runtime, items[KLAUS])
    assert (item.resolved_at, item.assignee) == (None, None)
    assert _lead(runtime, KLAUS).status == "needs_review"


# ---- assigning -------------------------------------------------------------------------------


def test_assigning_to_a_rep_shows_in_the_rep_filters(runtime: Runtime, project: Path) -> None:
    items = _flagged(runtime, project)
    add_test_rep(runtime, "bob")
    client, token = signed_in_client(runtime)
    url = f"/queue/{items[DENIZ]}/assign"

    response = client.post(url, data={"rep": "bob", "back": "/queue?rep=bob", "csrf_token": token})
    assert response.headers["Location"] == "/queue?rep=bob"
    assert f"Assigned #{items[DENIZ]} to bob." in client.get("/queue?rep=bob").text
    assert _item(runtime, items[DENIZ]).assignee == "bob"
    assert _listed(client, "?rep=bob") == [items[DENIZ]]
    assert _listed(client, "?rep=unassigned") == [items[ADA], items[KLAUS]]
    assert _listed(client, "?rep=me") == []
    everyone = client.get("/queue?who=all").text
    assert "assigned to <strong>bob</strong>" in _card(everyone, items[DENIZ])

    client.post(url, data={"rep": "rita", "csrf_token": token})
    assert _listed(client, "?rep=me") == [items[DENIZ]]
    failed = client.post(
        url, data={"rep": "nobody-here", "csrf_token": token}, follow_redirects=True
    )
    assert failed.status_code == 200
    assert "No rep &#39;nobody-here&#39;" in failed.text
    assert _item(runtime, items[DENIZ]).assignee == "rita"
    client.post(url, data={"rep": "", "csrf_token": token})
    assert _item(runtime, items[DENIZ]).assignee is None
    assert _listed(client, "?rep=unassigned") == [items[ADA], items[KLAUS], items[DENIZ]]
    with runtime.sessions() as session:
        assigned = session.scalars(
            select(Event).where(Event.kind == "assigned").order_by(Event.id)
        ).all()
    assert [(e.detail["assignee"], e.cause) for e in assigned] == [
        ("bob", "rep: rita"),
        ("rita", "rep: rita"),
        (None, "rep: rita"),
    ]


# ---- tasks and the item page -----------------------------------------------------------------


def test_a_call_task_shows_its_text_and_due_time_and_is_done_with_one_click(
    runtime: Runtime, project: Path
) -> None:
    (project / "sequences" / "calls.yaml").write_text(textwrap.dedent(CALLS), encoding="utf-8")
    _import(runtime, project, LEADS.splitlines()[0] + "\n" + LEADS.splitlines()[1] + "\n", "calls")
    runtime.clock.advance(timedelta(days=2))
    run_batch(runtime)
    [item_id] = _open_items(runtime).values()
    client, token = signed_in_client(runtime)

    card = _card(client.get("/queue?who=all").text, item_id)
    assert "Call Ada at Northwind Traders about the forecast scan" in card
    assert "due 2027-01-06 09:00 UTC" in card
    assert 'name="action" value="done"' in card
    assert '<option value="skip">' in card
    assert "reclassify:" not in card
    response = client.post(
        f"/queue/{item_id}/resolve",
        data={"action": "done", "note": "demo on Friday", "csrf_token": token},
        follow_redirects=True,
    )
    assert f"Resolved #{item_id} as Task done for {ADA}." in response.text
    assert _listed(client) == []
    with runtime.sessions() as session:
        touch = session.scalar(select(Touch).where(Touch.kind == "call"))
        assert touch is not None
        assert touch.status == "done"


def test_the_item_page_shows_the_item_and_the_lead_timeline(
    runtime: Runtime, project: Path
) -> None:
    items = _flagged(runtime, project)
    client, token = signed_in_client(runtime)

    page = client.get(f"/queue/{items[ADA]}?back=/queue%3Freason%3Dhot_lead")
    assert page.status_code == 200
    assert "Recent timeline" in page.text
    assert "Stage changed" in page.text  # event kinds as a rep reads them
    assert "Reply read" in page.text
    assert 'href="/queue?reason=hot_lead"' in page.text
    client.post(f"/queue/{items[ADA]}/resolve", data={"action": "won", "csrf_token": token})
    resolved = client.get(f"/queue/{items[ADA]}").text
    assert "Resolved" in resolved
    assert "won" in resolved
    assert "by rita" in resolved


# ---- the command line ------------------------------------------------------------------------


def test_review_list_filters_and_review_assign_on_the_command_line(
    runtime: Runtime, project: Path, database_url: str
) -> None:
    items = _flagged(runtime, project)
    add_test_rep(runtime, "bob")
    invoke = make_invoke(project, database_url)
    try:
        assigned = invoke("review", "assign", str(items[DENIZ]), "bob")
        mailbox = invoke("review", "list", "--json", "--mailbox", "success")
        by_bob = invoke("review", "list", "--json", "--rep", "bob")
        unassigned = invoke("review", "list", "--json", "--rep", "unassigned")
        hot = invoke("review", "list", "--json", "--reason", "hot_lead", "--stage", "qualification")
        table = invoke("review", "list", "--rep", "bob")
        unknown = invoke("review", "assign", str(items[KLAUS]), "nobody-here")
        neither = invoke("review", "assign", str(items[KLAUS]))
        back = invoke("review", "assign", str(items[DENIZ]), "--unassign")
    finally:
        reset_cli_runtime()

    def ids(result: Result) -> list[int]:
        assert result.exit_code == 0, result.output
        return [row["id"] for row in json.loads(result.output)]

    assert assigned.exit_code == 0, assigned.output
    assert f"#{items[DENIZ]} assigned to bob" in assigned.output
    assert ids(mailbox) == [items[DENIZ]]
    assert ids(by_bob) == [items[DENIZ]]
    assert json.loads(by_bob.output)[0]["assignee"] == "bob"
    assert ids(unassigned) == [items[ADA], items[KLAUS]]
    assert ids(hot) == [items[ADA]]
    assert "bob" in table.output
    assert unknown.exit_code == 1
    assert "No rep 'nobody-here'" in unknown.output
    assert neither.exit_code == 1
    assert "--unassign" in neither.output
    assert back.exit_code == 0, back.output
    assert f"#{items[DENIZ]} unassigned (was bob)" in back.output
    assert _item(runtime, items[DENIZ]).assignee is None
    assert _item(runtime, items[KLAUS]).assignee is None
