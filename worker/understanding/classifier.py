"""Classify one inbound message: bounce, out-of-office, auto-reply, or what the person said.

Order of evidence: a bounce (DSN, mail-system sender, bounce texts) first; then machine replies
(strong auto-reply headers, or out-of-office wording a person's clear answer does not
outweigh); then the reply's own words, where a question or unclear reply that greets someone
else by name and says nothing about our mail is misdirected (``unknown``, see ``addressee``).
The functions here never raise: a message that cannot be read is ``unknown`` with a low
confidence and a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from worker.understanding.addressee import someone_else
from worker.understanding.auto_replies import (
    auto_reply_phrases,
    departure_phrases,
    machine_statements,
    ooo_phrases,
    reads_like_a_machine,
)
from worker.understanding.body import TEXT_LIMIT
from worker.understanding.bounces import Bounce, read_bounce
from worker.understanding.complaints import Complaint, read_complaint
from worker.understanding.deferrals import deferral_date
from worker.understanding.headers import HeaderSignals, addresses_in, read_headers
from worker.understanding.intents import TextVerdict
from worker.understanding.judgement import ModelVerdict, judge
from worker.understanding.language import detect_language
from worker.understanding.mime import address_of, addresses, emails_in, header, parse
from worker.understanding.model import Classification, Intent
from worker.understanding.reading import read_words
from worker.understanding.referrals import referred_address
from worker.understanding.return_dates import return_date

log = logging.getLogger(__name__)
STRONG_HUMAN: frozenset[Intent] = frozenset(
    {"positive", "negative", "unsubscribe", "later", "data_request"}
)
MODEL_MACHINE_AT = 0.75  # the model alone names a machine reply only when this sure


def classify(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    own_addresses: Collection[str] = (),
) -> Classification:
    """Classify a raw RFC 5322 message; never raises."""
    try:
        message = parse(bytes(raw))
    except Exception as exc:
        return _unreadable(exc)
    return classify_message(message, received_at=received_at, own_addresses=own_addresses)


def classify_message(
    message: Message,
    *,
    received_at: datetime | None = None,
    own_addresses: Collection[str] = (),
) -> Classification:
    """Classify a parsed message; never raises."""
    try:
        return _classify(message, received_at, tuple(own_addresses))
    except Exception as exc:  # a message must never stop the pipeline
        log.warning("message could not be classified: %r", exc, exc_info=True)
        return _unreadable(exc)


def _unreadable(exc: Exception) -> Classification:
    return Classification("unknown", 0.1, reasons=(f"message could not be read: {exc!r}",))


def message_date(message: Message, received_at: datetime | None) -> datetime:
    """The Date header (in the sender's zone), else ``received_at``, else now; always aware."""
    value = header(message, "Date")
    if value:
        try:
            found = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            found = None
        if found is not None:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    if received_at is not None:
        return received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    return datetime.now(UTC)


class _Reading:
    """Everything read from one message, shared by the decision steps."""

    def __init__(self, message: Message, received_at: datetime | None):
        from_header = header(message, "From")
        subject = header(message, "Subject")
        self.signals: HeaderSignals = read_headers(
            message, from_header=from_header, subject=subject
        )
        words = read_words(message, subject)
        body = words.body
        self.full = words.full
        self.text = words.text
        self.analysed = words.analysed
        self.language = detect_language(self.text) or detect_language(self.full)
        self.base = message_date(message, received_at)
        self.sender = address_of(from_header)
        self.subject = words.subject
        self.reasons = list(self.signals.reasons)
        if body.truncated:
            self.reasons.append(f"only the first {TEXT_LIMIT} characters were read")
        if body.source == "html":
            self.reasons.append("HTML-only message, read as text")
        if not self.full.strip():
            self.reasons.append("no readable text")

    def result(
        self,
        intent: Intent,
        confidence: float,
        *,
        return_date: date | None = None,
        referral_email: str | None = None,
        bounced_recipients: tuple[str, ...] = (),
    ) -> Classification:
        return Classification(
            intent=intent,
            confidence=confidence,
            return_date=return_date,
            referral_email=referral_email,
            bounced_recipients=bounced_recipients,
            text=self.text,
            language=self.language,
            reasons=tuple(dict.fromkeys(self.reasons)),
        )


def _classify(
    message: Message, received_at: datetime | None, own: tuple[str, ...]
) -> Classification:
    reading = _Reading(message, received_at)
    complaint = read_complaint(message)
    if complaint is not None:
        return _complaint(reading, complaint)
    bounce = read_bounce(message, reading.signals, reading.full, own)
    if bounce is not None and not _reported(bounce) and departure_phrases(reading.text):
        bounce = None  # "nicht zugestellt, da der Empfänger ausgeschieden ist": someone left
    if bounce is not None:
        return _bounce(reading, bounce)
    cc = addresses(addresses_in(message, "Cc", "To"))
    referral = referred_address(reading.text, sender=reading.sender, own=own, cc=cc)
    verdict = judge(reading.analysed, referred=referral is not None)
    if verdict.intent in ("referral", "left_company") and referral is None:
        referral = referred_address(
            reading.text, sender=reading.sender, own=own, cc=cc, anywhere=True
        )
    if verdict.intent == "left_company" and referral is None and reading.sender:
        # "Mette has left; write to me on jens.kragh@…": the colleague who answers takes over
        written = [address.lower() for address in emails_in(reading.text)]
        referral = reading.sender if reading.sender.lower() in written else None
    machine = _machine(reading, verdict, referral)
    if machine is not None:
        return machine
    reading.reasons.extend(verdict.reasons())
    if verdict.intent == "referral":
        if referral:
            reading.reasons.append(f"referred address {referral}")
        else:
            reading.reasons.append("no address to follow: a rep finds the right contact")
        return reading.result("referral", verdict.confidence, referral_email=referral)
    if verdict.intent == "later":
        day = deferral_date(reading.text, reading.base.date(), reading.language or "en")
        return reading.result("later", verdict.confidence, return_date=day)
    settled = verdict.phrases.clear() if isinstance(verdict, ModelVerdict) else verdict.clear()
    if verdict.intent in ("question", "unknown", "positive") and not settled:
        other = someone_else(
            reading.text,
            subject=reading.subject,
            to=addresses_in(message, "To"),
            sender=reading.sender,
            own=own,
        )
        if other is not None:
            reading.reasons.append(f"greets {other!r}, not us, and says nothing about our mail")
            return reading.result("unknown", 0.6)
    if verdict.intent == "unknown" and not reading.text.strip():
        return reading.result("unknown", min(verdict.confidence, 0.3))  # nothing of their own
    return reading.result(verdict.intent, verdict.confidence)


def _complaint(reading: _Reading, complaint: Complaint) -> Classification:
    """An ARF feedback report: a spam complaint (or a "not spam" report, which is none)."""
    who = f" by {complaint.reporter}" if complaint.reporter else ""
    reading.reasons.append(
        f"ARF feedback report (RFC 5965){who}, Feedback-Type: {complaint.feedback_type}"
    )
    if not complaint.is_complaint:
        return reading.result("auto_reply", 0.95)
    return reading.result("complaint", 0.99, bounced_recipients=complaint.recipients)


def _reported(bounce: Bounce) -> bool:
    """True when a delivery status report (RFC 3464) says so, not only the notice's words."""
    return any(reason.startswith("DSN ") for reason in bounce.reasons)


def _bounce(reading: _Reading, bounce: Bounce) -> Classification:
    reading.reasons.extend(bounce.reasons)
    dsn = _reported(bounce)
    confidence = 0.98 if dsn else 0.95 if reading.signals.daemon else 0.9
    return reading.result(
        "bounce_hard" if bounce.severity == "hard" else "bounce_soft",
        confidence,
        bounced_recipients=bounce.recipients,
    )


def _ooo(reading: _Reading, confidence: float) -> Classification:
    """Out of office, with the return date read in the notice's own text (the quoted thread
    below it is our mail, whose dates mean nothing here)."""
    notice = reading.text or reading.full[:20_000]
    day = return_date(notice, reading.base.date(), reading.language or "en")
    return reading.result("ooo", confidence, return_date=day)


def _machine(
    reading: _Reading, verdict: ModelVerdict | TextVerdict, referral: str | None
) -> Classification | None:
    """An out-of-office or other automatic reply, or None when a person wrote it.

    Someone who has left is never ``ooo`` but ``left_company``, with the address it names to
    write to instead (offered to a rep as a referral).
    """
    signals = reading.signals
    machine_like = signals.auto or signals.weak_auto or signals.vacation
    human_says = verdict.confidence >= 0.75 and (
        verdict.intent in STRONG_HUMAN or (verdict.intent == "question" and not machine_like)
    )
    departed = departure_phrases(reading.text)
    left = verdict.intent == "left_company"
    if (departed and not human_says) or left:
        if departed:
            reading.reasons.append(f"departure phrase {departed[0]!r}")
        if left:
            reading.reasons.extend(verdict.reasons())
        if referral:
            reading.reasons.append(f"referred address {referral}")
        confidence = max(verdict.confidence if left else 0.0, 0.9 if departed else 0.0)
        return reading.result("left_company", confidence, referral_email=referral)
    own_ooo = ooo_phrases(reading.text)
    ooo = own_ooo or (ooo_phrases(reading.full) if machine_like else [])
    if signals.auto or (ooo and not human_says) or (signals.vacation and not human_says):
        if ooo or signals.vacation:
            reading.reasons.extend(f"out-of-office phrase {p!r}" for p in ooo[:3])
            return _ooo(reading, 0.95 if signals.auto else 0.85 if own_ooo else 0.75)
        auto = auto_reply_phrases(reading.text)
        if signals.oof_subject and not auto:  # Outlook's automatic replies are its OOO assistant
            return _ooo(reading, 0.8)
        if verdict.intent == "ooo" and verdict.confidence >= 0.5:  # an absence in other words
            reading.reasons.extend(verdict.reasons())
            return _ooo(reading, 0.85)
        reading.reasons.extend(f"auto-reply phrase {p!r}" for p in auto[:3])
        return reading.result("auto_reply", 0.95)
    if verdict.intent in ("ooo", "auto_reply") and verdict.confidence >= MODEL_MACHINE_AT:
        reading.reasons.extend(verdict.reasons())
        if verdict.intent == "ooo":
            return _ooo(reading, verdict.confidence)
        return reading.result("auto_reply", verdict.confidence)
    if verdict.intent == "referral" and not machine_statements(reading.text):
        return None  # a no-reply notice naming a shared address is still a machine
    if verdict.intent in STRONG_HUMAN:
        return None
    machine_text = reads_like_a_machine(reading.text)
    if signals.weak_auto or machine_text:
        reading.reasons.extend(
            f"auto-reply phrase {p!r}" for p in auto_reply_phrases(reading.text)[:3]
        )
        confidence = 0.85 if signals.weak_auto and machine_text else 0.7
        return reading.result("auto_reply", confidence)
    return None
