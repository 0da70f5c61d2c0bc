"""What the headers say: auto-submitted, out-of-office, bulk, bounce (RFC 3834, RFC 3464).

Strong signals (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, ``X-Autorespond``,
``Precedence: auto_reply``, an auto-reply subject) mark a message machine-made. Weak ones
(``Precedence: bulk|junk|list``, ``X-Auto-Response-Suppress``, Exchange's inbox-rules loop header,
a no-reply sender) only tip the balance when the text says nothing a person would say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from worker.understanding.mime import (
    address_of,
    content_type,
    header,
    header_names,
    headers,
    param,
)

_I = re.IGNORECASE

BOUNCE_SUBJECTS = re.compile(
    r"undeliver(ed|able)|returned (mail|to sender)|delivery (status notification|failure|failed"
    r"|has failed|problem|incomplete|delayed)|mail delivery (failed|failure|subsystem)"
    r"|failure notice|non[- ]?delivery|message not delivered|could not be delivered"
    r"|unzustellbar|nicht zustellbar|zustellungsfehler|unzustellbare|fehlgeschlagene zustellung"
    r"|rückläufer|warning: message .{0,80} delayed|delivery delay|nachricht verzögert"
    r"|zustellung (verzögert|fehlgeschlagen|gescheitert|nicht möglich)|verzögerte zustellung"
    r"|zustell(ungs)?verzögerung|delayed mail|message delayed",
    _I,
)
OOO_SUBJECTS = re.compile(
    r"out of (the )?office|\booo\b|abwesenheit|abwesend|autoreply: ?vacation|vacation"
    r"|urlaub|on leave|im urlaub|nicht im büro|out-of-office",
    _I,
)
AUTO_SUBJECTS = re.compile(
    r"^(automatic reply|auto(matic)?[- ]?re(ply|sponse)|automatische antwort|autoreply|auto:"
    r"|abwesenheitsnotiz|out of office|réponse automatique)",
    _I,
)
RECEIPT_SUBJECTS = re.compile(
    r"^(read|gelesen|not read|nicht gelesen|read receipt|lesebestätigung|delivered"
    r"|zugestellt)\s*:",
    _I,
)
DAEMON_LOCALPARTS = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|mail\.delivery|mdaemon"
    r"|mail-?(system|admin|server|robot)|microsoftexchange[0-9a-f]*)(\+.*)?$",
    _I,
)
DAEMON_NAMES = re.compile(
    r"mail delivery (subsystem|system)|mailer[- ]daemon|postmaster|\bmdaemon\b"
    r"|mail ?system (administrator|at)",
    _I,
)
NOREPLY = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|notifications?|automated)", _I)


@dataclass(frozen=True)
class HeaderSignals:
    """Evidence from the headers; ``reasons`` names each piece."""

    auto: bool = False  # strong: machine-made for sure
    weak_auto: bool = False  # bulk, list, suppress, rules loop, no-reply sender
    human: bool = False  # Auto-Submitted: no
    vacation: bool = False  # the headers or subject say out-of-office
    dsn: bool = False  # multipart/report; report-type=delivery-status
    daemon: bool = False  # MAILER-DAEMON, postmaster, "Mail Delivery Subsystem"
    bounce_subject: bool = False
    oof_subject: bool = False  # Outlook "Automatic reply:" / "Automatische Antwort:"
    reasons: tuple[str, ...] = field(default=())


def strip_reply_prefix(subject: str) -> str:
    """The subject without leading Re:/AW:/Fwd: prefixes."""
    return re.sub(r"^((re|aw|wg|fw|fwd|sv|antw)\s*(\[\d+\])?\s*:\s*)+", "", subject, flags=_I)


def _auto_headers(message: Message, reasons: list[str]) -> tuple[bool, bool, bool, bool]:
    """(strong auto, weak auto, says human, says vacation) from the RFC 3834 family."""
    auto = weak = human = vacation = False
    names = header_names(message)

    def get(name: str) -> str:  # most of these headers are absent: no search for them
        return "" if names is not None and name.lower() not in names else header(message, name)

    submitted = get("Auto-Submitted").lower()
    if submitted.startswith("no"):
        human = True
        reasons.append("header Auto-Submitted: no (sent by a person)")
    elif submitted:
        auto = True
        vacation = "vacation" in submitted
        reasons.append(f"header Auto-Submitted: {submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation"):
        value = get(name)
        if value and value.lower() not in ("no", "false", "0"):
            auto = True
            reasons.append(f"header {name}: {value}")
    precedence = get("Precedence").lower()
    if precedence in ("auto_reply", "auto-reply"):
        auto = True
        reasons.append(f"header Precedence: {precedence}")
    elif precedence in ("bulk", "junk", "list"):
        weak = True
        reasons.append(f"header Precedence: {precedence}")
    for name in ("X-Auto-Response-Suppress", "X-MS-Exchange-Inbox-Rules-Loop", "List-Id"):
        if get(name):
            weak = True
            reasons.append(f"header {name} present")
    return auto, weak, human, vacation


def _subject_signals(subject: str, reasons: list[str]) -> tuple[bool, bool, bool, bool]:
    """(bounce subject, Outlook-style auto-reply subject, out-of-office subject, receipt)."""
    bounce = bool(BOUNCE_SUBJECTS.search(subject))
    auto = not bounce and bool(AUTO_SUBJECTS.match(subject))
    vacation = not bounce and bool(OOO_SUBJECTS.search(subject))
    receipt = bool(RECEIPT_SUBJECTS.match(subject))
    if bounce:
        reasons.append(f"bounce subject {subject[:80]!r}")
    elif auto:
        reasons.append(f"auto-reply subject {subject[:80]!r}")
    elif vacation:
        reasons.append(f"out-of-office subject {subject[:80]!r}")
    elif receipt:
        reasons.append(f"receipt subject {subject[:80]!r}")
    return bounce, auto, vacation, receipt


def read_headers(
    message: Message, *, from_header: str | None = None, subject: str | None = None
) -> HeaderSignals:
    """Collect the header evidence of one message; ``from_header`` and ``subject``: the
    decoded From and Subject headers when the caller has them already."""
    reasons: list[str] = []
    auto, weak, human, vacation = _auto_headers(message, reasons)
    if from_header is None:
        from_header = header(message, "From")
    from_address = address_of(from_header)
    local = from_address.split("@")[0]
    if NOREPLY.match(local):
        weak = True
        reasons.append(f"no-reply sender {from_address}")
    daemon = bool(DAEMON_LOCALPARTS.match(local) or DAEMON_NAMES.search(from_header))
    if daemon:
        reasons.append(f"sender {from_address or from_header} is a mail system")
    report_type = (param(message, "report-type") or "").lower()
    report = content_type(message) == "multipart/report"
    dsn = report and report_type == "delivery-status"
    if dsn:
        reasons.append("multipart/report; report-type=delivery-status")
    if report and report_type == "disposition-notification":
        auto = True
        reasons.append("read receipt (report-type=disposition-notification)")
    subject = strip_reply_prefix(header(message, "Subject") if subject is None else subject)
    bounce_subject, oof_subject, vacation_subject, receipt = _subject_signals(subject, reasons)
    auto = (auto or oof_subject or receipt) and not (human and not (dsn or daemon))
    weak = weak and not human
    return HeaderSignals(
        auto=auto,
        weak_auto=weak,
        human=human,
        vacation=vacation or vacation_subject,
        dsn=dsn,
        daemon=daemon,
        bounce_subject=bounce_subject,
        oof_subject=oof_subject,
        reasons=tuple(reasons),
    )


def addresses_in(message: Message, *names: str) -> list[str]:
    """Raw values of address headers, for ``mime.addresses``."""
    values: list[str] = []
    for name in names:
        values.extend(headers(message, name))
    return values
