"""Machine replies: RFC 3834 headers, out-of-office versus other automatic replies."""

from __future__ import annotations

from datetime import date

import pytest

from worker.understanding import classify
from worker.understanding.headers import read_headers
from worker.understanding.mime import parse


def mail(body: str, subject: str = "Re: Northwind", headers: str = "") -> bytes:
    return (
        "From: Anna Berger <anna@client.test>\nTo: ada@northwind.example\n"
        f"Subject: {subject}\nDate: Mon, 30 Nov 2026 10:00:00 +0100\n{headers}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\n",
        "Auto-Submitted: auto-generated\n",
        "Auto-Submitted: auto-replied (vacation)\n",
        "X-Autoreply: yes\n",
        "X-Autorespond: Thank you\n",
        "Precedence: auto_reply\n",
    ],
)
def test_strong_auto_reply_headers_mark_a_machine(headers: str) -> None:
    signals = read_headers(parse(mail("Hello", headers=headers)))
    assert signals.auto
    assert classify(mail("Hello", headers=headers)).intent in ("auto_reply", "ooo")


@pytest.mark.parametrize(
    "headers",
    [
        "Precedence: bulk\n",
        "Precedence: junk\n",
        "Precedence: list\n",
        "X-Auto-Response-Suppress: All\n",
        "X-MS-Exchange-Inbox-Rules-Loop: anna@client.test\n",
    ],
)
def test_weak_headers_only_tip_the_balance(headers: str) -> None:
    signals = read_headers(parse(mail("Hello", headers=headers)))
    assert signals.weak_auto
    assert not signals.auto
    assert classify(mail("Hello", headers=headers)).intent == "auto_reply"
    assert classify(mail("Sounds good, let's talk.", headers=headers)).intent == "positive"


def test_auto_submitted_no_means_a_person() -> None:
    raw = mail("Sounds good, let's talk.", headers="Auto-Submitted: no\nPrecedence: bulk\n")
    signals = read_headers(parse(raw))
    assert signals.human
    assert not signals.auto
    assert not signals.weak_auto
    assert classify(raw).intent == "positive"


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Automatic reply: Northwind", "I am out of the office until December 7.", "ooo"),
        ("Automatische Antwort: Northwind", "Ich bin bis 7.12. nicht im Büro.", "ooo"),
        ("Abwesenheitsnotiz: Northwind", "Ich bin derzeit nicht im Büro.", "ooo"),
        ("Out of Office: Northwind", "I'm travelling with limited access to email.", "ooo"),
        ("Re: Northwind", "Ich bin im Urlaub und ab 7.12. wieder erreichbar.", "ooo"),
        ("Re: Northwind", "I am on vacation until December 7.", "ooo"),
        ("Re: Northwind", "I'm on parental leave until March.", "ooo"),
        ("Re: Northwind", "Ich bin in Elternzeit.", "ooo"),
        ("Re: Northwind", "Ich bin außer Haus und nur eingeschränkt erreichbar.", "ooo"),
    ],
)
def test_out_of_office_wording(subject: str, body: str, expected: str) -> None:
    assert classify(mail(body, subject)).intent == expected


@pytest.mark.parametrize(
    "body",
    [
        "Thank you for contacting us. Your ticket number is 48213. We will get back to you"
        " within 24 hours.",
        "This is an automated message. Please do not reply to this email.",
        "Vielen Dank für Ihre Nachricht. Wir haben Ihre Anfrage erhalten und melden uns"
        " schnellstmöglich bei Ihnen.",
    ],
)
def test_acknowledgements_are_auto_replies_not_out_of_office(body: str) -> None:
    found = classify(mail(body, "Auto: Northwind", "Auto-Submitted: auto-replied\n"))
    assert found.intent == "auto_reply"
    found = classify(mail(body))
    assert found.intent == "auto_reply"


def test_a_person_who_is_away_but_answers_clearly_is_a_person() -> None:
    found = classify(mail("I'm travelling this week, but sounds good, let's talk on the 8th."))
    assert found.intent == "positive"


def test_a_sieve_vacation_reply_is_out_of_office_with_its_date() -> None:
    raw = mail(
        "Hello,\n\nI am on annual leave through December 18 and will not be checking email.\n",
        "Auto: Northwind",
        "Auto-Submitted: auto-replied (vacation)\nPrecedence: bulk\n",
    )
    found = classify(raw)
    assert found.intent == "ooo"
    assert found.confidence >= 0.95
    assert found.return_date == date(2026, 12, 21)  # through Friday 18: back on Monday
    assert "header Auto-Submitted: auto-replied (vacation)" in found.reasons


def test_a_read_receipt_is_an_auto_reply() -> None:
    raw = (
        b"From: Anna <anna@client.test>\nTo: ada@northwind.example\n"
        b"Subject: Read: Northwind\nDate: Mon, 30 Nov 2026 10:00:00 +0100\n"
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\n\nYour message was read on Monday.\n"
        b"--B\nContent-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822;anna@client.test\nDisposition: manual-action/MDN-sent-manually;"
        b" displayed\n--B--\n"
    )
    assert classify(raw).intent == "auto_reply"


def test_someone_who_left_is_left_company_with_the_address_to_write_to_instead() -> None:
    left = "Owen Price has left Halcyon Travel. For sales please contact dan@client.test."
    headers = "Auto-Submitted: auto-replied (vacation)\n"
    found = classify(mail(left, "Automatic reply: Northwind", headers))
    assert (found.intent, found.referral_email) == ("left_company", "dan@client.test")
    gone = "Frau Schröder ist nicht mehr für unser Unternehmen tätig."
    found = classify(mail(gone, "Automatische Antwort: Northwind", headers))
    assert (found.intent, found.referral_email) == ("left_company", None)


def test_an_absent_person_naming_a_colleague_is_still_out_of_office() -> None:
    body = (
        "Ich bin bis 18.12. im Urlaub. In dringenden Fällen wenden Sie sich bitte an"
        " meine Kollegin unter berta@client.test."
    )
    found = classify(mail(body, "Abwesenheitsnotiz: Northwind"))
    assert found.intent == "ooo"
    assert found.return_date == date(2026, 12, 21)  # until Friday 18: back on Monday
    assert found.referral_email is None


def test_a_mailbox_no_longer_monitored_is_left_company_naming_the_shared_address() -> None:
    body = "This mailbox is no longer monitored. Please send your request to info@client.test."
    found = classify(mail(body))
    assert (found.intent, found.referral_email) == ("left_company", "info@client.test")


def test_a_question_about_automation_is_a_person_asking() -> None:
    assert classify(mail("Is this an automated email or do you read replies?")).intent == "question"


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("I was on vacation, sorry for the late reply.", "unknown"),
        ("Ich war krank, daher die späte Antwort. Was kostet das?", "question"),
        ("I'm travelling this week - how much does it cost?", "question"),
        ("Out sick today, back tomorrow.", "ooo"),
    ],
)
def test_a_past_absence_is_an_excuse_and_a_person_asking_is_a_person(
    body: str, intent: str
) -> None:
    assert classify(mail(body)).intent == intent


def test_an_outlook_automatic_reply_without_wording_is_out_of_office_with_its_date() -> None:
    found = classify(mail("Back on Jan. 4th.", "Automatic reply: Northwind"))
    assert (found.intent, found.return_date) == ("ooo", date(2027, 1, 4))
