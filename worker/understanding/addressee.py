"""Mail meant for someone else: a reply in our thread that greets another person by name and
says nothing about our mail ("Hi Dave, pallet count for Thursday is 42 …", "Hallo Herr Petersen,
anbei die Rechnung …"). A person reads it as misdirected (``unknown``), not as a question to us.

The greeting, alone on the first line, must name one person (a first name, or a title and
surname) who is none of us (the display and mailbox names of our To entries and of our own
mailboxes), and the rest must not refer to our mail: no word of the subject other than the
sender's own company name, no word of our domain, no "your offer" / "Ihr Angebot". Only a
question or an unclear reply is read this way; a clear yes, no, opt-out or referral never is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from email.utils import getaddresses

from worker.understanding.mime import is_own

_I = re.IGNORECASE

GREETING = re.compile(
    r"^\W*(hi|hello|hey|dear|morning|good (morning|afternoon)|hallo|liebe[rs]?|moin|servus"
    r"|guten (morgen|tag|abend)|sehr geehrte[rs]?)\s+(?P<title>(herrn?|frau|mr|mrs|ms|miss|dr)"
    r"\.?\s+)*(?P<name>(?-i:[A-ZÄÖÜ])[\w'-]+)(\s+(?-i:[A-ZÄÖÜ])[\w'-]+)?\s*[,!:.]?\s*$",
    _I,
)
# Words after "Hi" that address a group or nobody in particular, not another person.
NOT_A_NAME = re.compile(
    r"(all|team|there|everyone|everybody|folks|guys|sir|madam|colleagues?|kolleg(en|innen)"
    r"|zusammen|leute|damen|herren|kunde|kundin|sales|support|friends)",
    _I,
)
# Words a reply about our mail uses ("your offer", "Ihr Angebot", "this tool").
ABOUT_OUR_MAIL = re.compile(
    r"\b(your|you guys'?|this|that) (e-?mail|mail|message|note|offer|offering|product|tool"
    r"|platform|service|solution|software|proposal|pitch|demo|scan|pricing|company|team)\b"
    r"|\b(ihr|ihre|ihren|ihrem|ihrer|dein|deine|deinen|euer|eure) (e-?mail|mail|nachricht"
    r"|angebot|produkt|tool|lösung|software|plattform|dienst|service|firma|unternehmen|team"
    r"|anfrage|vorschlag)\b|\bunsubscribe\b|\babmelden\b"
    r"|\b(price|prices|pricing|cost|costs|demo|trial|licen[cs]e|preis|preise|kosten|lizenz"
    r"|testzugang|angebot|offer|interested|interesse)\b",
    _I,
)
WORD = re.compile(r"[^\W\d_]{4,}")


def _words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(text)}


def _parts(text: str) -> set[str]:
    return {part.lower() for part in re.split(r"[\W\d_]+", text) if len(part) >= 2}


def _our_people(to: Iterable[str], own: Collection[str]) -> tuple[set[str], set[str]]:
    """(name parts, addresses) of the To entries that are ours (all of them when ``own`` is
    empty) and of our own mailboxes."""
    try:
        entries = getaddresses(list(to))
    except Exception:
        entries = []
    names: set[str] = set()
    addresses: list[str] = [item for item in own if "@" in item]
    for display, raw in entries:
        address = raw.strip().lower()
        if own and not is_own(address, own):
            continue
        names |= _parts(display)
        if "@" in address:
            addresses.append(address)
    for address in addresses:
        names |= _parts(address.split("@")[0])
    return names, set(addresses)


def _domain_words(addresses: Iterable[str]) -> set[str]:
    """Words of the domains ("northwind-analytics.example" → northwind, analytics)."""
    found: set[str] = set()
    for address in addresses:
        domain = address.rpartition("@")[2].lstrip("@")
        labels = domain.split(".")[:-1] or domain.split(".")
        found |= {part.lower() for label in labels for part in label.split("-") if len(part) >= 4}
    return found


def someone_else(
    text: str, *, subject: str, to: Iterable[str], sender: str, own: Collection[str] = ()
) -> str | None:
    """The name a misdirected reply greets, or None when it greets us (or nobody in
    particular) or refers to our mail.

    ``to``: raw To header values; ``sender``: the From address; ``own``: our mailboxes
    (addresses or domains).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    match = GREETING.match(lines[0]) if lines else None
    if match is None:
        return None
    names, ours = _our_people(to, own)
    greeted = match.group("name").lower()
    if NOT_A_NAME.fullmatch(greeted) or greeted in names:
        return None
    body = "\n".join(lines[1:])
    if not body or ABOUT_OUR_MAIL.search(body):
        return None
    theirs = _domain_words([sender])
    topic = (_words(subject) | _domain_words([*ours, *own])) - theirs
    if _words(body) & topic:
        return None
    return match.group("name")
