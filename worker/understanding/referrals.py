"""The address a reply refers us to ("please reach out to my colleague anna@…").

Only the reply's own text counts, so addresses in the quoted thread (ours included) are never
picked. The sender's own address, our own addresses and domains, and no-reply / role-less
machine addresses are excluded. When the text says it copied someone in ("cc'ing", "in CC")
and names no address, the first eligible Cc address is taken.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .mime import emails_in, is_own

CC_WORDS = re.compile(
    r"\b(cc'?ing|cc-ing|cc'?d|cc|copied|copying|looping in|looped in|added|adding|in kopie"
    r"|kopie)\b",
    re.IGNORECASE,
)
MACHINE = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster)\b", re.I)


def _eligible(address: str, sender: str, own: Collection[str]) -> bool:
    return address != sender and not is_own(address, own) and not MACHINE.match(address)


def referred_address(
    text: str, *, sender: str, own: Collection[str], cc: Collection[str] = ()
) -> str | None:
    """The first eligible address in the reply's own text, else a copied-in one, else None."""
    for address in emails_in(text):
        if _eligible(address, sender, own):
            return address
    if CC_WORDS.search(text):
        for address in cc:
            if _eligible(address.lower(), sender, own):
                return address.lower()
    return None
