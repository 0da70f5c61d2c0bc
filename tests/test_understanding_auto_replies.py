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
    assert found.return_date == date(2026, 12, 19)
    assert "header Auto-Submitted: auto-replied (vacation)" in found.reasons
