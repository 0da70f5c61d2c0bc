"""The address a reply refers us to ("please reach out to my colleague anna@…").

Only the reply's own text counts, so addresses in the quoted thread (ours included) are never
picked, and only addresses written in a sentence (or right after a line ending in ":"), so a
company address in a signature is not a referral. The sender's own address, our own addresses
and domains, and machine addresses (no-reply, postmaster) are excluded; a person's address is
preferred over a role address (support@, info@, vertrieb@). When the text says it copied someone
in ("cc'ing", "in CC") and names no address, the first eligible Cc address is taken.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from worker.understanding.mime import ADDRESS, emails_in, is_own

CC_WORDS = re.compile(
    r"\b(cc'?ing|cc-ing|cc'?d|cc|copied|copying|looping in|looped in|added|adding|in kopie"
    r"|kopie)\b",
    re.IGNORECASE,
)
MACHINE = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster)\b", re.I)
ROLE = re.compile(
    r"^(info|support|sales|vertrieb|office|kontakt|contact|hello|hallo|team|service|admin|help"
    r"|hilfe|einkauf|purchasing|procurement|marketing|mail|post|empfang|reception|zentrale"
    r"|enquiries|inquiries|anfragen|accounts|billing|buchhaltung|finance|hr|jobs|karriere|press"
    r"|presse|customer[._-]?(service|care|success)|kundenservice|kundendienst|verkauf)"
    r"([._-]?(team|desk|dept|department|abteilung|de|uk|us|eu|dach|intl))?@",
    re.I,
)
WORD = re.compile(r"[^\W\d_]{2,}")


def _eligible(address: str, sender: str, own: Collection[str]) -> bool:
    return address != sender and not is_own(address, own) and not MACHINE.match(address)


def _written_in_a_sentence(text: str) -> list[str]:
    """Addresses on a line with at least three other words, or below a line ending in ":"."""
    found: list[str] = []
    previous = ""
    for line in text.splitlines():
        addresses = emails_in(line)
        words = WORD.findall(ADDRESS.sub(" ", line))
        if addresses and (len(words) >= 3 or previous.rstrip().endswith(":")):
            found += [a for a in addresses if a not in found]
        if line.strip():
            previous = line
    return found


def referred_address(
    text: str,
    *,
    sender: str,
    own: Collection[str],
    cc: Collection[str] = (),
    anywhere: bool = False,
) -> str | None:
    """A person's address written in the reply's own text (else a role address), else a
    copied-in one, else None. ``anywhere``: when the reply is known to be a referral, an
    address on a line of its own (under "… is Anna Schmidt:" or in a name block) counts too."""
    written = emails_in(text) if anywhere else _written_in_a_sentence(text)
    eligible = [a for a in written if _eligible(a, sender, own)]
    people = [a for a in eligible if not ROLE.match(a)]
    if people or eligible:
        return (people or eligible)[0]
    if CC_WORDS.search(text):
        for address in cc:
            if _eligible(address.lower(), sender, own):
                return address.lower()
    return None
