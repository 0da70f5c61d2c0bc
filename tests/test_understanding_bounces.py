"""Bounces: RFC 3464 reports (hard vs soft), flufl.bounce, and bounces that are only text."""

from __future__ import annotations

from email.message import EmailMessage, Message

import pytest

from worker.understanding import classify, classify_message
from worker.understanding.bounces import severity_of

OURS = "ada@northwind.example"


def original() -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Ada Fischer <{OURS}>"
    message["To"] = "zed@client.test"
    message["Subject"] = "Northwind for Client"
    message.set_content("Hi Zed,\n\nNot the right time? Unsubscribe: https://x.example/u/1\n")
    return message


def postfix_report(
    recipient: str, action: str, status: str, diagnostic: str, subject: str | None = None
) -> bytes:
    """A multipart/report laid out the way Postfix writes it."""
    return (
        "From: MAILER-DAEMON@mx.client.test (Mail Delivery System)\n"
        f"To: {OURS}\n"
        f"Subject: {subject or 'Undelivered Mail Returned to Sender'}\n"
        "Date: Mon, 30 Nov 2026 10:00:00 +0100\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        '\tboundary="B1"\n\n'
        "--B1\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx.client.test.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{recipient}>: host mx said: {diagnostic}\n\n"
        "--B1\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.client.test\n"
        "Arrival-Date: Mon, 30 Nov 2026 09:59:58 +0100\n\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n\n"
        "--B1\n"
        "Content-Description: Undelivered Message\n"
        "Content-Type: message/rfc822\n\n"
        f"{original().as_string()}\n"
        "--B1--\n"
    ).encode()


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "intent"),
    [
        (
            "failed",
            "5.1.1",
            "550 5.1.1 <x>: Recipient address rejected: User unknown",
            "bounce_hard",
        ),
        ("failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", "bounce_hard"),
        ("failed", "5.4.4", "Host or domain name not found", "bounce_hard"),
        ("failed", "5.7.1", "550 5.7.1 Message rejected as spam", "bounce_hard"),
        ("failed", "5.2.2", "552 5.2.2 Mailbox full", "bounce_soft"),
        ("failed", "5.0.0", "552 Mailbox over quota", "bounce_soft"),
        ("delayed", "4.4.1", "connect to mx.client.test: Connection timed out", "bounce_soft"),
        ("failed", "4.2.2", "452 4.2.2 Over quota", "bounce_soft"),
    ],
)
def test_a_delivery_status_report_is_hard_or_soft_by_action_and_status(
    action: str, status: str, diagnostic: str, intent: str
) -> None:
    found = classify(postfix_report("Zed@Client.test", action, status, diagnostic))
    assert found.intent == intent
    assert found.bounced_recipients == ("zed@client.test",)
    assert found.confidence >= 0.95
    assert any(reason.startswith("DSN Action:") for reason in found.reasons)


def test_a_report_that_the_mail_arrived_is_not_a_bounce() -> None:
    found = classify(
        postfix_report(
            "zed@client.test", "delivered", "2.0.0", "250 ok", "Successful Mail Delivery"
        )
    )
    assert not found.intent.startswith("bounce")


def test_a_report_from_an_already_parsed_message_is_read_the_same_way() -> None:
    from email import message_from_bytes

    message: Message = message_from_bytes(
        postfix_report("zed@client.test", "failed", "5.1.1", "550 5.1.1 User unknown")
    )
    assert classify_message(message).intent == "bounce_hard"


def test_an_exim_bounce_without_a_report_is_read_from_its_text_and_header() -> None:
    raw = (
        "From: Mail Delivery System <Mailer-Daemon@mx.client.test>\n"
        f"To: {OURS}\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: zed@client.test\n"
        "Auto-Submitted: auto-replied\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  zed@client.test\n"
        "    SMTP error from remote mail server after RCPT TO:<zed@client.test>:\n"
        "    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n"
        f"From: {OURS}\nSubject: hello\n\nNot the right time? Unsubscribe.\n"
    ).encode()
    found = classify(raw, own_addresses=[OURS])
    assert found.intent == "bounce_hard"
    assert found.bounced_recipients == ("zed@client.test",)


def test_an_exchange_ndr_is_a_hard_bounce() -> None:
    raw = (
        "From: postmaster@client.test\n"
        f"To: {OURS}\n"
        "Subject: Undeliverable: Northwind for Client\n\n"
        "Delivery has failed to these recipients or groups:\n\n"
        "Zed Client (zed@client.test)\n"
        "The e-mail address you entered couldn't be found.\n\n"
        "Diagnostic information for administrators:\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'\n"
    ).encode()
    found = classify(raw, own_addresses=["northwind.example"])
    assert found.intent == "bounce_hard"
    assert "zed@client.test" in found.bounced_recipients
    assert OURS not in found.bounced_recipients


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        (
            "Ihre Nachricht konnte nicht zugestellt werden.\nBenutzer unbekannt: zed@client.test\n",
            "bounce_hard",
        ),
        (
            "Ihre Nachricht konnte nicht zugestellt werden.\nPostfach voll: zed@client.test\n",
            "bounce_soft",
        ),
    ],
)
def test_german_bounce_texts(body: str, intent: str) -> None:
    raw = (
        "From: MAILER-DAEMON@mx.client.test\n"
        f"To: {OURS}\nSubject: Unzustellbar: Northwind\n\n{body}"
    ).encode()
    found = classify(raw)
    assert found.intent == intent
    assert found.bounced_recipients == ("zed@client.test",)


def test_a_person_writing_about_delivery_problems_is_not_a_bounce() -> None:
    raw = (
        b"From: Anna <anna@client.test>\nTo: ada@northwind.example\nSubject: Re: Northwind\n\n"
        b"Our mail delivery failed last week, could you resend the deck?\n"
    )
    assert not classify(raw).intent.startswith("bounce")


@pytest.mark.parametrize(
    ("action", "status", "text", "expected"),
    [
        ("failed", "5.1.1", "", "hard"),
        ("failed", "5.2.2", "", "soft"),
        ("failed", "5.2.3", "message too large", "soft"),
        ("delayed", "", "", "soft"),
        ("failed", "4.4.7", "", "soft"),
        ("failed", "", "mailbox is full", "soft"),
        ("failed", "", "user unknown", "hard"),
        ("failed", "", "", "hard"),
        ("", "", "", None),
    ],
)
def test_the_severity_policy(action: str, status: str, text: str, expected: str | None) -> None:
    assert severity_of(action, status, text) == expected
