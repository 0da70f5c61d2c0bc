"""Simulated prospects for ``outreach demo``: replies of every kind, written to a maildir.

Each scripted lead answers a given touch the way real people and mail servers do (with the
quoted email below, in English or German); the demo's batches then read the maildir through
the real ingestion path, so matching, classification and the reply rules all run for real.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import select

from worker.runtime import Runtime
from worker.store.models import Lead, Touch
from worker.vocabulary import TouchStatus

UNMATCHED_SENDER = "newsletter@press-digest.example"


@dataclass(frozen=True)
class ScriptedReply:
    """Lead ``email`` answers touch number ``after_step`` (1-based) with a ``kind`` reply."""

    email: str
    after_step: int
    kind: str


SCRIPT: tuple[ScriptedReply, ...] = (
    ScriptedReply("ada@northwind.test", 2, "positive_en"),
    ScriptedReply("k.mueller@brauhaus-logistik.test", 1, "ooo_de"),
    ScriptedReply("s.schneider@alpenwerk.test", 3, "negative_de"),
    ScriptedReply("j.carter@brightwave-media.test", 2, "unsubscribe_en"),
    ScriptedReply("info@kontor-nord.test", 1, "bounce_hard"),
    ScriptedReply("w.tan@harbourline.test", 2, "question_en"),
    ScriptedReply("priya.nair@ledgerly.test", 3, "referral_en"),
    ScriptedReply("t.becker@gruenstrom.test", 1, "auto_reply_de"),
    ScriptedReply("emily.ross@clearpath-hr.test", 2, "ooo_en"),
    ScriptedReply("m.weber@weber-kuehltechnik.test", 2, "positive_de"),
    ScriptedReply("sophie.turner@quillstone.test", 1, "question_en"),
    ScriptedReply("ben.walker@atlas-fleet.test", 1, "bounce_soft"),
    ScriptedReply("o.hughes@fenwick-packaging.test", 2, "later_en"),
)
# A colleague of Ada's at Northwind Traders, who came in through the website form: when Ada
# says yes, the prospecting sequence's on_company_reply pauses Tom and flags him for the rep.
COLLEAGUE = {
    "email": "tom.reed@northwind.test",
    "first_name": "Tom",
    "last_name": "Reed",
    "company": "Northwind Traders",
    "title": "Sales Operations Manager",
    "timezone": "Europe/London",
    "country": "GB",
}


def _bodies(lead: Lead, back: date) -> dict[str, tuple[str, str]]:
    name = lead.first_name or "Team"
    return {
        "positive_en": (
            "Re: {subject}",
            "Hi Ada,\n\nthanks for following up — this sounds interesting. Could you send me a "
            "calendar invite for a 30-minute call next week? Tuesday or Wednesday afternoon "
            f"works best.\n\nBest regards,\n{name}",
        ),
        "positive_de": (
            "AW: {subject}",
            "Hallo Frau Fischer,\n\nklingt gut — lassen Sie uns gerne einen Termin für "
            "nächste Woche vereinbaren. Dienstag Vormittag passt mir.\n\n"
            f"Mit freundlichen Grüßen\n{name}",
        ),
        "negative_de": (
            "AW: {subject}",
            "Hallo Frau Fischer,\n\nvielen Dank, aber wir haben derzeit kein Interesse und "
            f"kein Budget dafür.\n\nViele Grüße\n{name}",
        ),
        "unsubscribe_en": (
            "Re: {subject}",
            f"Please remove me from your mailing list and do not contact me again.\n\n{name}",
        ),
        "question_en": (
            "Re: {subject}",
            f"Hi Ada,\n\nbefore we go further: does it integrate with Zoho CRM, and what "
            f"does it cost for a team of 20?\n\nThanks,\n{name}",
        ),
        "referral_en": (
            "Re: {subject}",
            "Hi Ada,\n\nI'm not the right person for this — please reach out to my colleague "
            "Raj Patel (raj.patel@ledgerly.test), he runs sales operations here.\n\n"
            f"Best,\n{name}",
        ),
        "later_en": (
            "Re: {subject}",
            f"Hi Ada,\n\nnot a no, but the timing is wrong: we're in the middle of our ERP "
            "migration until the end of February and nobody here has a free minute. Please "
            f"try me again in March.\n\nCheers,\n{name}",
        ),
        "ooo_en": (
            "Automatic reply: {subject}",
            "Thank you for your email. I am out of the office on annual leave and will be "
            f"back on {back:%A, %B} {back.day}. I will reply as soon as possible after my "
            "return.\n\nFor urgent matters please contact our office.",
        ),
        "ooo_de": (
            "Abwesenheitsnotiz: {subject}",
            "Vielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und ab dem "
            f"{back:%d.%m.%Y} wieder erreichbar. Ihre E-Mail wird nicht weitergeleitet.",
        ),
        "auto_reply_de": (
            "Ihre Anfrage ist bei uns eingegangen [Ticket #48213]",
            "Vielen Dank für Ihre Nachricht. Dies ist eine automatische Bestätigung: Ihre "
            "Anfrage wurde unter der Ticketnummer 48213 erfasst und wird von unserem Team "
            "bearbeitet.\n\nBitte antworten Sie nicht auf diese E-Mail.",
        ),
    }


def compose(kind: str, lead: Lead, touch: Touch, sender: str, now: datetime) -> bytes:
    """The raw bytes of one simulated reply (or delivery report) to ``touch``."""
    if kind in ("bounce_hard", "bounce_soft"):
        return _bounce(kind, lead, touch, sender, now)
    back = (now + timedelta(days=10)).date()
    subject, text = _bodies(lead, back)[kind]
    msg = EmailMessage()
    msg["From"] = f"{lead.first_name or ''} {lead.last_name or ''} <{lead.email}>".strip()
    msg["To"] = sender
    msg["Subject"] = subject.format(subject=_without_reply_prefix(touch.subject or ""))
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=lead.email.rsplit("@", 1)[-1])
    msg["In-Reply-To"] = touch.message_id or ""
    msg["References"] = touch.message_id or ""
    if kind.startswith(("ooo", "auto_reply")):
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content(text + "\n")
    else:
        quoted = "\n".join(
            "> " + line
            for line in (
                f"Hi {lead.first_name or 'there'},",
                "",
                "(our earlier email)",
                "",
                "Unsubscribe: https://outreach.example.test/u/...",
            )
        )
        intro = f"On {format_datetime(touch.finished_at or now)}, Ada Fischer <{sender}> wrote:"
        msg.set_content(f"{text}\n\n{intro}\n{quoted}\n")
    return msg.as_bytes()


def _without_reply_prefix(subject: str) -> str:
    for prefix in ("Re: ", "RE: ", "AW: "):
        if subject.startswith(prefix):
            return subject[len(prefix) :]
    return subject


def _bounce(kind: str, lead: Lead, touch: Touch, sender: str, now: datetime) -> bytes:
    """A Postfix-style RFC 3464 delivery status report about ``touch``."""
    hard = kind == "bounce_hard"
    status, action, diagnostic, subject, explanation = (
        (
            "5.1.1",
            "failed",
            f"550 5.1.1 <{lead.email}>: Recipient address rejected: User unknown",
            "Undelivered Mail Returned to Sender",
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.",
        )
        if hard
        else (
            "4.2.2",
            "delayed",
            f"452 4.2.2 <{lead.email}>: Mailbox full",
            "Delayed Mail (still being retried)",
            "Your message could not be delivered for 4 hours.\n"
            "It will be retried until it is 5 days old.",
        )
    )
    boundary = make_msgid(domain="mx.example.test").strip("<>")
    text = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.test>
To: {sender}
Subject: {subject}
Date: {format_datetime(now)}
Message-ID: {make_msgid(domain="mx.example.test")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.test.

{explanation}

<{lead.email}>: host mx.{lead.email.rsplit("@", 1)[-1]} said: {diagnostic}

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
Arrival-Date: {format_datetime(now)}

Final-Recipient: rfc822; {lead.email}
Original-Recipient: rfc822;{lead.email}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Ada Fischer <{sender}>
To: {lead.email}
Subject: {touch.subject or ""}
Message-ID: {touch.message_id or ""}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode()


def deliver_replies(runtime: Runtime, maildir: Path, answered: set[str]) -> int:
    """Write the replies now due (their touch has gone out) into ``maildir``; return how many."""
    box = mailbox.Maildir(str(maildir), create=True)
    sender = _sender_address(runtime)
    now = runtime.clock.now()
    written = 0
    with runtime.sessions() as session:
        for scripted in SCRIPT:
            if scripted.email in answered:
                continue
            row = session.execute(
                select(Lead, Touch)
                .join(Touch, Touch.lead_id == Lead.id)
                .where(
                    Lead.email == scripted.email,
                    Touch.status == TouchStatus.SENT,
                    Touch.step_index == scripted.after_step - 1,
                )
                .order_by(Touch.id.desc())
                .limit(1)
            ).first()
            if row is None:
                continue
            lead, touch = row
            box.add(compose(scripted.kind, lead, touch, sender, now))
            answered.add(scripted.email)
            written += 1
        if "unmatched" not in answered and written:
            box.add(_unmatched(sender, now))
            answered.add("unmatched")
            written += 1
    return written


def _unmatched(sender: str, now: datetime) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Press Digest <{UNMATCHED_SENDER}>"
    msg["To"] = sender
    msg["Subject"] = "Your company in our year-end list?"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="press-digest.example")
    msg.set_content("Hello, we are compiling a list of analytics vendors. Interested?\n")
    return msg.as_bytes()


def _sender_address(runtime: Runtime) -> str:
    try:
        return runtime.mailboxes.get("sales").address
    except Exception:  # a demo without the sample mailboxes still runs
        return "ada.fischer@northwind-analytics.example"
