"""Bounces: RFC 3464 delivery-status reports, flufl.bounce's detectors, and bounce texts.

Severity policy (decided here, tested in tests/test_understanding_bounces.py):

- ``bounce_soft``: ``Action: delayed``; any ``4.x.x`` status; ``5.2.2`` (mailbox full) and
  ``5.2.3`` (message too large): the address exists, so it must not be suppressed for good;
  texts saying the mailbox is full / over quota, or that delivery is delayed and retried.
- ``bounce_hard``: every other ``5.x.x`` (``5.1.1`` unknown user, ``5.1.2``/``5.4.4`` no such
  domain, ``5.1.10`` null MX, ``5.7.x`` rejected by policy), texts such as "user unknown",
  "Benutzer unbekannt", "no such domain", and a failure notice that gives no reason at all.

With several recipients, one hard failure makes the message ``bounce_hard``.

Without a delivery-status report, a bounce needs two pieces of evidence: a mail-system sender
(MAILER-DAEMON, postmaster, MDaemon, Exchange's system mailbox, …), a bounce subject, bounce
wording, ``X-Failed-Recipients``, flufl.bounce; and, when the headers mark the message
machine-made, an SMTP reply with its status ("421 4.4.1") or a statement that the system keeps
retrying ("will keep trying", "wird die Zustellung weiterhin versuchen"). The classifier asks
for a bounce before any out-of-office reading, so a delay warning saying the server is
"vorübergehend nicht erreichbar" is ``bounce_soft``, not ``ooo``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from worker.understanding.headers import HeaderSignals
from worker.understanding.literals import GuardedPattern
from worker.understanding.mime import (
    ADDRESS,
    addresses,
    content_type,
    emails_in,
    headers,
    is_own,
    payload_bytes,
    sender,
)

Severity = Literal["hard", "soft"]
_I = re.IGNORECASE

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
SOFT_STATUSES = frozenset({"5.2.2", "5.2.3"})
MAILBOX_FULL = re.compile(
    r"mailbox (is )?full|mailbox.{0,30}(quota|size limit|storage)|over ?quota|quota (exceeded|full)"
    r"|exceed\w* (the |his |her |their |its )?(storage|quota)|insufficient (system )?storage"
    r"|out of (storage|space)|postfach (ist )?(voll|überfüllt)|postfach.{0,40}überschritten"
    r"|speicher(platz|grenze).{0,40}(erreicht|überschritten|voll)|kontingent.{0,20}überschritten",
    _I,
)
# A mail system saying it keeps the message and tries again ("will keep trying", "wird die
# Zustellung weiterhin versuchen"): a delay warning, never written by a person who is away.
RETRYING = re.compile(
    r"will (keep|continue|be) (trying|to try|retrying|to retry|retried)|(will|shall) (retry"
    r"|re-?attempt)|still being retried|(message|e-?mail|nachricht) (is |has been |remains )?"
    r"(still |noch )?(queued|in the (mail )?queue|(liegt|befindet sich) (noch )?in der"
    r" warteschlange)|(zustellung|zuzustellen|zustellversuch)\b[^.]{0,60}\b(weiterhin|erneut"
    r"|nochmals|später)\b[^.]{0,40}\bversuch|(weiterhin|erneut) (versucht|versuchen)"
    r"|nächster (zustell)?versuch",
    _I,
)
# An SMTP reply with its enhanced status code ("421 4.4.1", "550-5.1.1"): a mail server's words.
SMTP_REPLY = re.compile(r"(?<![\d.])[245]\d\d[ -]\(?[245]\.\d{1,3}\.\d{1,3}(?![\d.]*\d)")
TEMPORARY = re.compile(
    r"\bdelayed\b|not yet been delivered|will (continue to )?(retry|try)|\btemporar(y|ily)\b"
    r"|try again later|\bdeferred\b|still trying|vorübergehend|verzögert|noch nicht zugestellt"
    r"|weiterhin versucht|\bgreylist|" + RETRYING.pattern,
    _I,
)
_DELAYED_ACTION = re.compile(r"^Action:\s*delayed", re.I | re.M)


def is_delay_notice(raw: bytes) -> bool:
    """A report that the mail system is still trying to deliver (the original may yet arrive)."""
    text = raw[:200_000].decode("utf-8", "replace")
    return bool(_DELAYED_ACTION.search(text) or RETRYING.search(text))


HARD = re.compile(
    r"user unknown|unknown (user|recipient|mailbox)|no such (user|recipient|mailbox|address|domain"
    r"|host|person)|(does not|doesn't|did not|does no longer) exist|address not found"
    r"|recipient (address )?rejected|invalid (recipient|address|mailbox|user)|mailbox (is )?"
    r"(unavailable|not found|disabled|inactive)|account (has been |is )?"
    r"(disabled|deactivated|closed|suspended|inactive)|domain name not found"
    r"|domain (not found|does not exist)|nxdomain"
    r"|unrouteable|name service error|blocked|blacklisted|rejected|access denied"
    r"|benutzer unbekannt|unbekannte[rn]? (benutzer|empfänger|adresse)|empfänger\w* (ist )?"
    r"(unbekannt|abgelehnt|ungültig)|existiert nicht|(postfach|adresse) (nicht gefunden|wurde "
    r"nicht gefunden)|ungültige (e-mail-)?(adresse|empfänger)|abgelehnt",
    _I,
)
BOUNCE_TEXT = re.compile(
    r"mail delivery (failed|failure)|returning message to sender|delivery has failed to these"
    r"|could not be delivered|couldn'?t be delivered|\bundeliverable\b|undelivered mail"
    r"|(was|wasn'?t|were) not delivered|message (wasn'?t|was not|could not be) delivered"
    r"|delivery to the following recipients? (failed|has been delayed)|permanent(ly)? fail"
    r"|this is the mail system at host|unable to deliver|delivery status notification"
    r"|message delivery failure|delivery (is|has been) delayed|has not yet been delivered"
    r"|the following address(es)? (had permanent fatal errors|failed)|your message to .{1,80} "
    r"couldn'?t be delivered|address not found|unzustellbar|konnte nicht zugestellt werden"
    r"|nicht zugestellt|zustellung\w* (ist |war )?fehlgeschlagen|postfach voll"
    r"|benutzer unbekannt|delivery failure|failure notice"
    r"|nicht\b[^.!?]{0,60}\bzugestellt\s+(werden|worden)|zustellung\w* (ist |wurde |wird )?"
    r"(verzögert|gescheitert)",
    _I,
)
_BOUNCE_TEXT = GuardedPattern(BOUNCE_TEXT)  # most replies hold none of its words
FAILURE_CONTEXT = re.compile(
    r"fail|reject|unknown|not exist|not found|undeliver|could not|couldn'?t|unable|quota|full"
    r"|recipient|delayed|unzustellbar|unbekannt|nicht|voll|empfänger|error|fehler"
    r"|not (yet )?been delivered|retr(y|ied|ying)|keep trying|zugestellt",
    _I,
)
COPY_MARKERS = re.compile(
    r"^(-{3,} ?this is a copy of|-{3,} ?original message|original message headers"
    r"|-{3,} ?below this line is a copy|reporting-mta:|received: from|return-path:"
    r"|-{3,} ?ursprüngliche nachricht|-{2,} ?(kopfzeilen|header) (der|of the) (ursprünglichen"
    r"|original) (nachricht|message))",
    _I | re.MULTILINE,
)
SYSTEM_ADDRESS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|abuse|hostmaster)@", _I)
SUCCESS_ACTIONS = ("delivered", "relayed", "expanded")


@dataclass(frozen=True)
class Bounce:
    """A bounce: hard or soft, who bounced, and why we think so."""

    severity: Severity
    recipients: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Block:
    recipient: str
    action: str
    status: str
    diagnostic: str


def severity_of(action: str, status: str, text: str) -> Severity | None:
    """Hard or soft from a DSN action, an enhanced status code and the diagnostic text."""
    if action.startswith("delayed") or MAILBOX_FULL.search(text):
        return "soft"
    if status.startswith("4") or status in SOFT_STATUSES:
        return "soft"
    if status.startswith("5"):
        return "hard"
    if HARD.search(text):
        return "hard"
    if TEMPORARY.search(text):
        return "soft"
    if action.startswith(("fail", "error")):
        return "hard"
    return None


def _fields(block: Message | str) -> dict[str, str]:
    if isinstance(block, Message):
        return {key.lower(): " ".join(str(value).split()) for key, value in block.items()}
    found: dict[str, str] = {}
    for line in block.splitlines():
        key, _, value = line.partition(":")
        if value and not key.startswith((" ", "\t")):
            found[key.strip().lower()] = value.strip()
    return found


def _status_blocks(message: Message) -> list[_Block]:
    """Per-recipient blocks of every message/delivery-status part (RFC 3464)."""
    blocks: list[_Block] = []
    for part in message.walk():
        if content_type(part) != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            raw_blocks: list[Message | str] = list(payload)
        else:
            text = payload_bytes(part, 200_000).decode("utf-8", "replace")
            raw_blocks = list(re.split(r"\n\s*\n", text.replace("\r\n", "\n")))
        for raw in raw_blocks:
            fields = _fields(raw)
            recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
            action = fields.get("action", "").lower()
            if not (recipient or action):
                continue
            address = ADDRESS.search(recipient)
            status = STATUS.search(fields.get("status", ""))
            blocks.append(
                _Block(
                    recipient=address.group(0).lower() if address else "",
                    action=action,
                    status=".".join(status.groups()) if status else "",
                    diagnostic=fields.get("diagnostic-code", ""),
                )
            )
    return blocks


def _flufl(message: Message) -> tuple[set[str], set[str]]:
    """flufl.bounce's (temporary, permanent) recipients; empty if a detector breaks."""
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector that breaks on odd input (flufl.bounce logs it)
        return set(), set()

    def decode(found: Collection[bytes]) -> set[str]:
        return {address.decode("ascii", "replace").strip("<>").lower() for address in found}

    return decode(temporary), decode(permanent)


def _notice(text: str) -> str:
    """The bounce's own text, before the copy of the original message it carries."""
    marker = COPY_MARKERS.search(text)
    return text[: marker.start()] if marker else text[:20_000]


def _text_recipients(region: str, exclude: set[str]) -> list[str]:
    """Addresses a bounce text names as failed: on a failure line, alone on a line, or just
    below a failure line ("Delivery has failed to these recipients:")."""
    found: list[str] = []
    since_failure = 99
    for line in region.splitlines():
        failure = bool(FAILURE_CONTEXT.search(ADDRESS.sub("", line)))
        addresses_here = emails_in(line)
        bare = ADDRESS.sub("", line).strip(" \t<>:;,.'\"()[]")
        if addresses_here and (failure or not bare or since_failure <= 3):
            found.extend(
                a
                for a in addresses_here
                if a not in exclude and a not in found and not SYSTEM_ADDRESS.match(a)
            )
        since_failure = 0 if failure else since_failure + 1
    return found


def _text_severity(text: str, flufl_permanent: bool) -> tuple[Severity, str]:
    codes = {".".join(match.groups()) for match in STATUS.finditer(text)}
    hard_codes = sorted(c for c in codes if c.startswith("5") and c not in SOFT_STATUSES)
    if MAILBOX_FULL.search(text):
        return "soft", "text says the mailbox is full"
    if hard_codes:
        return "hard", f"status {hard_codes[0]} in the text"
    if codes:
        return "soft", f"status {sorted(codes)[0]} in the text"
    if HARD.search(text):
        return "hard", "text says the address does not exist or was rejected"
    if TEMPORARY.search(text) and not flufl_permanent:
        return "soft", "text says delivery is delayed"
    return "hard", "a failure notice without a temporary reason"


def read_bounce(
    message: Message, signals: HeaderSignals, text: str, own: Collection[str]
) -> Bounce | None:
    """The bounce this message reports, or None when it is not a (failure) bounce."""
    blocks = _status_blocks(message)
    failed = [b for b in blocks if not b.action.startswith(SUCCESS_ACTIONS)]
    if blocks and not failed:
        return None  # a delivery report saying the mail arrived
    x_failed = addresses(headers(message, "X-Failed-Recipients"))
    phrase = _BOUNCE_TEXT.search(text[:50_000])
    evidence = [signals.daemon, signals.bounce_subject, bool(phrase), bool(x_failed)]
    if signals.auto or signals.daemon:
        # A machine-made message that quotes SMTP replies or says it keeps retrying is a mail
        # system's report (a person pasting an error never carries these headers).
        notice = _notice(text)
        evidence += [bool(SMTP_REPLY.search(notice)), bool(RETRYING.search(notice))]
    if not (failed or signals.dsn or any(evidence)):
        return None
    temporary, permanent = _flufl(message)
    if not (failed or signals.dsn) and sum(evidence) + bool(temporary or permanent) < 2:
        return None
    reasons = [f"bounce text {phrase.group(0)!r}"] if phrase else []
    if failed:
        return _from_blocks(failed, reasons)
    exclude = {sender(message), *(address.lower() for address in own)}
    recipients = [*x_failed, *sorted(permanent), *sorted(temporary)]
    notice = _notice(text)
    recipients += _text_recipients(notice, exclude | set(recipients))
    recipients = [r for r in dict.fromkeys(recipients) if r and not is_own(r, own)]
    severity, why = _text_severity(notice, bool(permanent))
    if not permanent and temporary and severity == "hard" and not STATUS.search(notice):
        severity, why = "soft", "flufl.bounce reports a temporary failure"
    reasons.append(why)
    return Bounce(severity=severity, recipients=tuple(recipients), reasons=tuple(reasons))


def _from_blocks(failed: list[_Block], reasons: list[str]) -> Bounce:
    severities: list[Severity] = []
    for block in failed:
        severity = severity_of(block.action, block.status, block.diagnostic) or "hard"
        severities.append(severity)
        reasons.append(
            f"DSN Action: {block.action or '-'} Status: {block.status or '-'}"
            f" for {block.recipient or '?'} ({severity})"
        )
    recipients = tuple(dict.fromkeys(b.recipient for b in failed if b.recipient))
    overall: Severity = "hard" if "hard" in severities else "soft"
    return Bounce(severity=overall, recipients=recipients, reasons=tuple(reasons))
