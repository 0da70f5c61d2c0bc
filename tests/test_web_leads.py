"""The leads list, a lead's timeline and the pipeline board of the web app, and the text of
each sent email stored on its touch."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from sqlalchemy import func, select, update

from tests.web_support import signed_in_client, web_app
from worker.inbound.ingest import ingest
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.queries.lead_pages import event_summary
from worker.store.models import Enrollment, InboundMessage, Lead, Touch

ADA = "ada@northwind.test"  # prospecting, first name Ada, deal value 24000


def _import(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )


def _add_leads(runtime, stage: str, values: list[float | None], prefix: str = "") -> None:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for number, value in enumerate(values):
            session.add(
                Lead(
                    email=f"{prefix}{stage}{number}@example.test",
                    first_name=f"{stage.capitalize()}{number}",
                    company=f"{stage} co {number}",
                    stage=stage,
                    deal_value=value,
                    created_at=now,
                    updated_at=now,
                )
            )


def _column(page: str, stage: str) -> str:
    found = re.search(rf'<section class="column stage-{stage}".*?</section>', page, re.S)
    assert found, f"no column for {stage}"
    return found.group(0)


def _lead_id(runtime, email: str) -> int:
    with runtime.sessions() as session:
        lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
    assert lead_id is not None
    return lead_id


def _quoted_reply(touch: Touch, sent: EmailMessage, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ada Winter <{ADA}>"
    msg["To"] = str(sent["From"])
    msg["Subject"] = f"Re: {sent['Subject']}"
    msg["Message-ID"] = "<reply-ada-1@northwind.test>"
    msg["In-Reply-To"] = touch.message_id
    msg["References"] = touch.message_id
    original = sent.get_body(("plain",))
    assert original is not None
    quoted = "\n".join("> " + line for line in str(original.get_content()).splitlines())
    msg.set_content(f"{body}\n\nOn Mon, 4 Jan 2027, {sent['From']} wrote:\n{quoted}\n")
    return msg.as_bytes()


def test_every_page_needs_a_signed_in_rep(runtime) -> None:
    client = web_app(runtime).test_client()
    for path in ("/board", "/leads", "/leads?stage=won", "/leads/1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path


def test_the_board_counts_and_sums_each_stage_and_links_to_the_rest(runtime) -> None:
    _add_leads(runtime, "prospecting", [1000, 2000, None])
    _add_leads(runtime, "qualification", [float(n * 100) for n in range(1, 16)])
    _add_leads(runtime, "won", [1234.5])
    client, _ = signed_in_client(runtime)

    response = client.get("/board")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    prospecting = _column(page, "prospecting")
    assert '<data value="3">3</data>' in prospecting
    assert ">€3,000</data>" in prospecting  # no currency said: the default, EUR
    names = re.findall(r'class="who">([^<]+)<', prospecting)
    assert names == ["Prospecting1", "Prospecting0", "Prospecting2"]  # highest value first
    assert "more</a>" not in prospecting
    assert 'href="/leads?stage=prospecting&amp;who=all"' in prospecting  # everyone's leads

    qualification = _column(page, "qualification")
    assert '<data value="15">15</data>' in qualification
    assert ">€12,000</data>" in qualification
    assert len(re.findall(r'<li class="deal">', qualification)) == 12
    assert re.search(
        r'<a href="/leads\?stage=qualification&amp;who=all">\+3 more</a>', qualification
    )
    assert "Qualification14<" in qualification
    assert "Qualification3<" in qualification
    assert "Qualification2<" not in qualification

    assert ">€1,234.50</data>" in _column(page, "won")
    lost = _column(page, "lost")
    assert '<data value="0">0</data>' in lost
    assert "No leads." in lost
    for stage in ("consideration", "decision", "delivery"):
        assert '<data value="0">0</data>' in _column(page, stage)
    assert "19 leads" in page
    assert 'style="' not in page
    assert "<script" not in page


def test_the_board_sums_each_currency_apart_and_never_across(runtime) -> None:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for email, stage, value, more in (
            ("eur@x.test", "decision", 1000.5, {"fields": {"currency": "eur"}}),
            ("de@x.test", "decision", 2000.0, {"country": "DE"}),
            ("gb@x.test", "decision", 300.0, {"country": "GB"}),
            ("usd@x.test", "decision", 40.0, {"country": "GB", "fields": {"currency": "USD"}}),
            ("jp@x.test", "won", 7.0, {"country": "JP"}),  # no currency: the default, EUR
        ):
            session.add(
                Lead(email=email, stage=stage, deal_value=value, created_at=now,
                     updated_at=now, **{"fields": {}} | more)
            )  # fmt: skip
    client, _ = signed_in_client(runtime)

    page = client.get("/board").get_data(as_text=True)

    decision = _column(page, "decision")
    assert (
        '<data value="3000.5" class="money">€3,000.50</data> · '
        '<data value="300.0" class="money">£300</data> · '
        '<data value="40.0" class="money">$40</data>'
    ) in decision
    assert ">£300<" in decision  # the cards in their currencies
    assert ">$40<" in decision
    assert ">€1,000.50<" in decision
    assert "3,340" not in page  # never added across currencies
    assert "3340" not in page
    assert re.search(r"total deal value <data[^>]*>€3,007.50</data> · <data[^>]*>£300</data>"
                     r" · <data[^>]*>\$40</data>", page)  # fmt: skip
    assert "share of the largest stage by leads" in decision  # amounts are not comparable
    # the counters follow a change of country or currency field (the trigger marks the lead)
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).where(Lead.email == "gb@x.test").values(country="US"))
        session.execute(
            update(Lead).where(Lead.email == "jp@x.test").values(fields={"currency": "GBP"})
        )
    page = client.get("/board").get_data(as_text=True)
    assert ">$340</data>" in _column(page, "decision")
    assert "£300" not in _column(page, "decision")
    assert ">£7</data>" in _column(page, "won")


def test_the_leads_list_filters_by_stage_status_and_search_and_pages(runtime) -> None:
    _add_leads(runtime, "prospecting", [None] * 55)
    _add_leads(runtime, "decision", [5000, 7000])
    with runtime.sessions.begin() as session:
        session.execute(
            update(Lead).where(Lead.email == "decision1@example.test").values(status="paused")
        )
    client, _ = signed_in_client(runtime)

    decision = client.get("/leads?who=all&stage=decision").get_data(as_text=True)
    assert "decision0@example.test" in decision
    assert "decision1@example.test" in decision
    assert "prospecting0@example.test" not in decision
    assert "2 leads" in decision
    assert "€7,000" in decision  # no currency or country: the default currency
    lead_id = _lead_id(runtime, "decision0@example.test")
    assert f'href="/leads/{lead_id}"' in decision

    paused = client.get("/leads?who=all&status=paused").get_data(as_text=True)
    assert "decision1@example.test" in paused
    assert "decision0@example.test" not in paused

    searched = client.get("/leads?who=all&q=DECISION+CO+1").get_data(as_text=True)
    assert "1 lead" in searched
    assert "decision1@example.test" in searched

    first = client.get("/leads?who=all").get_data(as_text=True)
    assert "57 leads, page 1 of 2" in first
    assert first.count('<td><a href="/leads/') == 50  # one row per lead
    assert 'href="/leads?page=2&amp;who=all"' in first
    second = client.get("/leads?who=all&stage=prospecting&page=2").get_data(as_text=True)
    assert "prospecting54@example.test" in second
    assert "prospecting0@" not in second
    assert "page=1&amp;stage=prospecting" in second  # the filter stays on the other pages

    assert "No leads match." in client.get("/leads?who=all&q=nobody-here").get_data(as_text=True)
    assert client.get("/leads?page=abc&stage=nonsense").status_code == 200


def test_the_timeline_shows_the_sent_email_the_reply_and_what_followed(
    runtime, project: Path, tmp_path: Path
) -> None:
    _import(runtime, project)
    run_batch(runtime)
    ada = _lead_id(runtime, ADA)
    with runtime.sessions() as session:
        sent = list(session.scalars(select(Touch).where(Touch.status == "sent")))
        [touch] = [t for t in sent if t.lead_id == ada]
    assert sent
    assert all(t.body_text for t in sent)
    assert touch.body_text is not None
    assert "Hi Ada," in touch.body_text
    assert "Would 20 minutes be worth it" in touch.body_text
    outbox = sorted((project / "outbox").rglob("*.eml"))
    sent_mail = next(
        m
        for m in (message_from_bytes(p.read_bytes(), policy=default) for p in outbox)
        if isinstance(m, EmailMessage) and m["Message-ID"] == touch.message_id
    )
    runtime.clock.advance(timedelta(hours=2))
    folder = tmp_path / "replies"
    folder.mkdir()
    reply = "Sounds good, let's talk next week. Tuesday works for me."
    (folder / "reply.eml").write_bytes(_quoted_reply(touch, sent_mail, reply))
    assert ingest(runtime, str(folder)).stored == 1
    with runtime.sessions() as session:
        inbound = session.scalar(select(InboundMessage))
    assert inbound is not None
    assert inbound.intent == "positive"
    client, _ = signed_in_client(runtime)

    response = client.get(f"/leads/{ada}")

    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Northwind Traders" in page
    assert "Europe/London" in page
    assert "£24,000" in page  # a GB lead's deal value is in pounds
    assert "Head of Sales" in page  # a custom field
    mail = re.search(r"<details>.*?<pre class=\"mail\">(.*?)</pre>", page, re.S)
    assert mail, "no sent email on the timeline"
    assert "Hi Ada," in mail.group(1)
    assert "Would 20 minutes be worth it" in mail.group(1)
    assert touch.subject
    assert touch.subject in page
    quote = re.search(r'<blockquote class="reply">(.*?)</blockquote>', page, re.S)
    assert quote, "no reply on the timeline"
    assert quote.group(1).strip() == reply  # without the quoted original
    confidence = round(inbound.confidence * 100)
    assert re.search(rf"Interested · {confidence}%", page)  # the intent in words
    assert "prospecting → qualification" in page
    assert "Sequence stopped" in page
    assert "Flagged" in page
    assert "hot lead" in page
    assert 'href="/queue"' in page
    # chronological: the email, then the reply, then the stage change
    assert page.index('<pre class="mail">') < page.index('<blockquote class="reply">')
    assert page.index('<blockquote class="reply">') < page.index("prospecting → qualification")


def test_a_touch_sent_before_texts_were_stored_says_so(runtime, project: Path) -> None:
    _import(runtime, project)
    run_batch(runtime)
    ada = _lead_id(runtime, ADA)
    with runtime.sessions.begin() as session:
        session.execute(update(Touch).where(Touch.lead_id == ada).values(body_text=None))
    client, _ = signed_in_client(runtime)

    page = client.get(f"/leads/{ada}").get_data(as_text=True)

    assert "Text not recorded" in page
    assert '<pre class="mail">' not in page


def test_an_unknown_lead_is_not_found(runtime) -> None:
    client, _ = signed_in_client(runtime)
    assert client.get("/leads/999999").status_code == 404
    assert client.get("/leads/abc").status_code == 404


def test_event_details_read_as_one_line() -> None:
    assert event_summary("stage_changed", "reply", {"previous": "decision", "stage": "won"}) == (
        "decision → won"
    )
    assert event_summary("assigned", "rep: rita", {"previous": None, "assignee": "sam"}) == (
        "nobody → sam"
    )
    paused = event_summary("paused", "ooo", {"resume_at": "2027-01-12T09:00:00+00:00"})
    assert paused == "until 2027-01-12 09:00 UTC"
    classified = event_summary(
        "classified", "referral", {"confidence": 0.8, "referral_email": "bo@x.test"}
    )
    assert classified == "referral (80%); referral email: bo@x.test"
    assert event_summary("resolved", "dismiss", {"item": 3, "note": "spoke on the phone"}) == (
        "note: spoke on the phone"
    )


def _next_email(page: str) -> str:
    found = re.search(r'<section class="card next-email".*?</section>', page, re.S)
    assert found, "no next-email section"
    return found.group(0)


def test_the_lead_page_shows_the_next_email_as_it_will_be_sent(runtime, project: Path) -> None:
    _import(runtime, project)
    run_batch(runtime)  # step 1 goes out; step 2 (same thread) is next
    ada = _lead_id(runtime, ADA)
    client, _ = signed_in_client(runtime)
    with runtime.sessions() as session:
        touches = session.scalar(select(func.count()).select_from(Touch))

    section = _next_email(client.get(f"/leads/{ada}").get_data(as_text=True))

    assert "Next email: prospecting, step 2" in section
    assert "<strong>Re: Forecast accuracy at Northwind Traders</strong>" in section
    assert '<pre class="mail next">Hi Ada,' in section
    assert "Bringing this back to the top of your inbox" in section
    with runtime.sessions() as session:  # looking renders; it sends nothing
        assert session.scalar(select(func.count()).select_from(Touch)) == touches


def test_the_next_email_is_escaped_on_the_lead_page(runtime, project: Path) -> None:
    _import(runtime, project)
    ada = _lead_id(runtime, ADA)
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).where(Lead.id == ada).values(company="<b>Evil</b> & Co"))
    client, _ = signed_in_client(runtime)

    section = _next_email(client.get(f"/leads/{ada}").get_data(as_text=True))

    assert "Next email: prospecting, step 1" in section
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in section  # the text as sent, shown as text
    assert "<b>Evil</b>" not in section


def test_a_next_email_that_cannot_be_rendered_says_why(runtime, project: Path) -> None:
    _import(runtime, project)
    ada = _lead_id(runtime, ADA)
    with runtime.sessions.begin() as session:  # a sequence since renamed in git
        session.execute(
            update(Enrollment).where(Enrollment.lead_id == ada).values(sequence="prospectin")
        )
    client, _ = signed_in_client(runtime)

    section = _next_email(client.get(f"/leads/{ada}").get_data(as_text=True))

    assert "Cannot be rendered" in section
    assert "No sequence named &#39;prospectin&#39;" in section
    assert "did you mean &#39;prospecting&#39;?" in section


def test_a_lead_without_an_open_sequence_has_no_next_email(runtime) -> None:
    _add_leads(runtime, "won", [1000.0])
    lead = _lead_id(runtime, "won0@example.test")
    client, _ = signed_in_client(runtime)
    assert "next-email" not in client.get(f"/leads/{lead}").get_data(as_text=True)
