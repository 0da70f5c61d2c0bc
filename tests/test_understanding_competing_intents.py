"""Rules for messages where two readings compete (tests/corpus/README.md, "Decisions"):

- acceptance or a proposed meeting slot outweighs a question (rule 2);
- "decided against" / "dagegen entschieden" / "neither the budget nor …" are a no;
- a mail system's delay warning is a soft bounce before any out-of-office reading;
- a left-the-company notice naming any address is a referral (a person preferred over a role
  address, a role address taken when it is the only one) (rule 5);
- a reply that greets someone else by name and says nothing about our mail is misdirected.

Every text here is written for these tests; none is taken from the corpus or the held-out set.
"""

from __future__ import annotations

import base64

import pytest

from worker.understanding import classify

OURS = "ada.fischer@northwind.example"
OWN = (OURS, "jonas.berg@northwind.example")


def mail(
    body: str,
    *,
    subject: str = "Re: Pipeline review for Larkspur Foods",
    sender: str = "Priya Nair <p.nair@larkspur-foods.test>",
    headers: str = "",
    encoding: str = "8bit",
) -> bytes:
    payload = base64.encodebytes(body.encode()).decode() if encoding == "base64" else body
    return (
        f"From: {sender}\nTo: Ada Fischer <{OURS}>\nSubject: {subject}\n"
        f"Date: Tue, 1 Dec 2026 09:30:00 +0100\n{headers}MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {encoding}\n\n"
        f"{payload}"
    ).encode()


# --- acceptance and scheduling outweigh a question ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "We'd be up for the pipeline audit. Does it need write access to Salesforce?",
        "I'm game for a trial run. Who on our side has to approve the connection?",
        "Please go ahead with the report. Which export format do you need from us?",
        "Count us in. What does the onboarding look like?",
        "Happy to give it a try - is there a limit on the number of users?",
        "Would Thursday at 3pm suit you? I can also do Friday morning.",
        "Are you free on Wednesday afternoon? Happy to bring our ops lead.",
        "Gerne würde ich mir das Tool in einer kurzen Demo anschauen. Wäre Ihnen Mittwoch,"
        " der 9.12., um 14 Uhr recht?",
        "Hätten Sie am Donnerstag um 11 Uhr Zeit? Dann zeige ich Ihnen unsere Zahlen.",
        "Wir sind dabei. Welche Rechte braucht der Zugang in Pipedrive?",
        "Gerne schaue ich mir das an. Was brauchen Sie dafür von uns?",
    ],
)
def test_acceptance_or_a_proposed_slot_with_a_question_is_positive(body: str) -> None:
    found = classify(mail(body), own_addresses=OWN)
    assert found.intent == "positive", found.reasons


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("What happens on Thursday if the nightly sync fails?", "question"),
        ("Why did you go ahead and email our CEO?", "question"),
        ("We're up for renewal with our current vendor next year, so not now.", "negative"),
        ("I'm not open to a call.", "negative"),
        ("Please go ahead and take me off your list.", "unsubscribe"),
    ],
)
def test_acceptance_words_do_not_overreach(body: str, intent: str) -> None:
    assert classify(mail(body), own_addresses=OWN).intent == intent


@pytest.mark.parametrize(
    "body",
    [
        "Ich würde mir das nicht ansehen, danke.",
        "Nicht einverstanden.",
        "We won't go ahead with this.",
    ],
)
def test_negated_acceptance_is_never_positive(body: str) -> None:
    assert classify(mail(body), own_addresses=OWN).intent != "positive"


# --- decisions against us -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Thanks for the walkthrough. We talked it over and decided against it for now.",
        "After a review with finance we've decided to go a different way.",
        "We have decided not to proceed with an external tool this year.",
        "We'll respectfully decline - the team is heads down on the migration.",
        "Neither the budget nor the headcount is there for this in 2027.",
        "Danke für die Unterlagen. Wir haben uns nach Rücksprache mit der GF dagegen entschieden.",
        "Wir entscheiden uns vorerst dagegen, das Thema hat gerade keine Priorität.",
        "Uns fehlt leider beides: Wir haben weder die Zeit noch das Budget für ein neues Tool.",
        "Wir haben aktuell andere Prioritäten und verzichten dankend.",
    ],
)
def test_a_decision_against_us_is_negative(body: str) -> None:
    found = classify(mail(body), own_addresses=OWN)
    assert found.intent == "negative", found.reasons


def test_a_decision_against_us_in_a_base64_body_is_negative() -> None:
    body = "Guten Tag,\n\nwir haben intern beraten und uns dagegen entschieden.\n\nGruß\nP. Nair\n"
    assert classify(mail(body, encoding="base64"), own_addresses=OWN).intent == "negative"


# --- a mail system's delay warning is a bounce, not an absence ------------------------------


def delay_warning(body: str, *, sender: str, subject: str, auto: bool = True) -> bytes:
    headers = "Auto-Submitted: auto-generated\n" if auto else ""
    return mail(body, subject=subject, sender=sender, headers=headers)


@pytest.mark.parametrize(
    ("sender", "subject", "body"),
    [
        (
            "MDaemon@mx.larkspur-foods.test",
            "Warnung: Zustellung verzögert",
            "Ihre Nachricht an p.nair@larkspur-foods.test konnte seit 12 Stunden nicht\n"
            "zugestellt werden. Der Zielserver ist vorübergehend nicht erreichbar; wir werden die\n"
            "Zustellung weiterhin regelmäßig versuchen.\n\nLetzter Fehler: 421 4.4.2 timeout\n",
        ),
        (
            "Mail System <mailsystem@mx.larkspur-foods.test>",
            "Warning: message delayed",
            "Your message to p.nair@larkspur-foods.test has not been delivered yet. The remote\n"
            "server is temporarily unavailable (451 4.3.0) and we will keep trying for 4 days.\n",
        ),
        (
            "IT Service <it@larkspur-foods.test>",
            "Notice",
            "Automatic notice: the server will keep trying to deliver your message to\n"
            "p.nair@larkspur-foods.test (421 4.4.1 connection timed out). Nothing to do.\n",
        ),
    ],
)
def test_a_delay_warning_from_a_mail_system_is_a_soft_bounce(
    sender: str, subject: str, body: str
) -> None:
    found = classify(delay_warning(body, sender=sender, subject=subject), own_addresses=OWN)
    assert found.intent == "bounce_soft", found.reasons
    assert found.bounced_recipients == ("p.nair@larkspur-foods.test",)


def test_a_person_pasting_an_smtp_error_is_not_a_bounce() -> None:
    body = (
        "Hi Ada, your first mail bounced with 550 5.1.1 and could not be delivered, so please"
        " use my new address priya.nair@larkspur-group.test from now on."
    )
    found = classify(mail(body), own_addresses=OWN)
    assert not found.intent.startswith("bounce"), found.reasons
    # and never an opt-out the worker acts on: no word of opting out is in it
    assert found.intent != "unsubscribe" or found.confidence < 0.6, found.reasons


def test_an_opt_out_read_without_an_opt_out_word_goes_to_a_rep() -> None:
    """Only the model can name an unsubscribe, and below 0.9 only with an opt-out phrase in the
    text: it suppresses for good, so a rep reads the rest first."""
    worded = classify(mail("Please take me off your mailing list."), own_addresses=OWN)
    assert (worded.intent, worded.confidence >= 0.6) == ("unsubscribe", True)
    body = "your first mail bounced, so please use my new address p.nair@larkspur-group.test"
    unworded = classify(mail(f"Hi Ada, {body} from now on."), own_addresses=OWN)
    assert unworded.intent != "unsubscribe" or unworded.confidence < 0.6


def test_a_helpdesk_saying_your_message_is_queued_is_not_a_bounce() -> None:
    body = "Your message has been queued and an agent will answer within 24 hours."
    raw = mail(body, subject="Automatic reply: Pipeline", headers="Auto-Submitted: auto-replied\n")
    assert classify(raw, own_addresses=OWN).intent == "auto_reply"


# --- someone who left: referral with any address, else auto_reply -----------------------------

LEFT = "Auto-Submitted: auto-replied\n"


@pytest.mark.parametrize(
    ("body", "referral"),
    [
        (
            "Tom Baker left Finch Ltd at the end of October. For anything sales-related please"
            " write to sales-team@finch.test.",
            "sales-team@finch.test",
        ),
        (
            "Tom Baker left Finch Ltd at the end of October. For sales please write to"
            " sales@finch.test or to his replacement, lucy.ward@finch.test.",
            "lucy.ward@finch.test",
        ),
        (
            "Herr Brandt ist zum 30.11. aus der Firma ausgeschieden. Anfragen richten Sie bitte"
            " künftig an das Postfach vertriebsteam@brandt.test.",
            "vertriebsteam@brandt.test",
        ),
    ],
)
def test_a_left_company_notice_names_the_address_to_write_to_instead(
    body: str, referral: str
) -> None:
    found = classify(mail(body, subject="Automatic reply: Pipeline", headers=LEFT))
    assert (found.intent, found.referral_email) == ("left_company", referral), found.reasons


def test_a_left_company_notice_without_an_address_is_left_company_all_the_same() -> None:
    body = "Tom Baker left Finch Ltd in October. This mailbox is no longer monitored."
    found = classify(mail(body, subject="Automatic reply: Pipeline", headers=LEFT))
    assert (found.intent, found.referral_email) == ("left_company", None)


def test_someone_who_left_town_and_comes_back_is_out_of_office() -> None:
    body = "Maria Lopez left Hamburg on Monday for a trade fair and will be back on 7 December."
    found = classify(mail(body, subject="Automatic reply: Pipeline", headers=LEFT))
    assert found.intent == "ooo"


# --- mail meant for someone else --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Hi Tom,\n\ncan you confirm the loading slot for Friday and send the CMR copies?",
        "Hallo Frau Kramer,\n\nanbei die Lieferscheine von gestern. Können Sie die bitte prüfen?",
    ],
)
def test_a_reply_greeting_someone_else_about_something_else_is_unknown(body: str) -> None:
    found = classify(mail(body), own_addresses=OWN)
    assert found.intent == "unknown", found.reasons


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("Hi Ada,\n\ncan you send the new slides?", "question|positive"),  # greets us
        # asking for the material to go on is interest (a positive reading is right too)
        ("Hallo Herr Berg,\n\nkönnen Sie mir die Unterlagen schicken?", "question|positive"),
        ("Hi team,\n\ncan you share a reference customer?", "question"),  # nobody in particular
        ("Hi Tom,\n\nhow much does it cost per seat?", "question"),  # a clear product question
        # our subject, but a colleague greeted: the model may read it as misdirected (a rep
        # then looks); what matters is that the greeting rule does not decide it
        ("Hi Tom,\n\ncould the pipeline review also cover Q1?", "question|unknown"),
        ("Hi Tom,\n\ncan you look at your offer again?", "question"),  # refers to our mail
        ("Hi Tom,\n\nsounds good, let's talk on Monday.", "positive"),  # a clear yes stays
    ],
)
def test_a_greeting_alone_does_not_make_a_reply_misdirected(body: str, intent: str) -> None:
    found = classify(mail(body), own_addresses=OWN)
    assert found.intent in intent.split("|"), found.reasons
    assert not any(reason.startswith("greets") for reason in found.reasons)


def test_a_mail_system_saying_the_recipient_left_is_left_company_not_a_bounce() -> None:
    """A notice without a delivery report whose reason is that someone left: the address is
    not broken, the person is gone (the lead stops; a rep looks for the successor)."""
    body = (
        "Dies ist eine automatisch erzeugte Nachricht.\n\nIhre Nachricht an Herrn Dirk"
        " Bredenbeck wurde nicht zugestellt, da der Empfänger aus dem Unternehmen ausgeschieden"
        " ist. Die Nachricht wurde gelöscht und nicht weitergeleitet.\n"
    )
    found = classify(
        delay_warning(
            body,
            sender="Postmaster <postmaster@larkspur-foods.test>",
            subject="Automatische Benachrichtigung: Empfänger ausgeschieden",
        ),
        own_addresses=OWN,
    )
    assert found.intent == "left_company", found.reasons


def test_a_colleague_who_takes_over_is_the_address_to_write_to() -> None:
    body = (
        "Hello Ada,\n\nMette Lauridsen left us at the end of October, her mailbox is forwarded"
        " to me. I have taken over her customers, so if you want to continue you can write to"
        " me on p.nair@larkspur-foods.test.\n\nJens"
    )
    found = classify(mail(body), own_addresses=OWN)
    assert (found.intent, found.referral_email) == ("left_company", "p.nair@larkspur-foods.test")
