"""Email addresses: how they are normalised, their domain, and the one suppression rule.

A suppression-list value is an address (``ada@example.test``), a whole domain
(``example.test``, also written ``@example.test``), or the hash of an erased person's address
(``sha256:`` + 64 hex digits, ``erased_key``). An address is suppressed when the list holds the
address, its domain, ``@`` and its domain, or its hash. Import, capture, enrollment, the
send-time re-check, adding to the list and the unsubscribe page all ask the functions here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, bindparam, false, select
from sqlalchemy.orm import Session

from worker.store.models import Lead, Suppression

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

ERASED_PREFIX = "sha256:"
_ERASED = re.compile(r"^sha256:[0-9a-f]{64}$")
_SUPPRESSED = select(Suppression.value).where(
    Suppression.value.in_(bindparam("keys", expanding=True))
)


def normalise_email(raw: str) -> str:
    """Lower-case, trimmed address; ValueError when it is not an address."""
    email = raw.strip().strip("<>").strip().lower()
    if not email:
        raise ValueError("email is empty — every row needs an email address")
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValueError(f"email {raw.strip()!r} is not a valid address")
    return email


def domain_of(email: str) -> str:
    """The part after the last ``@``."""
    return email.rsplit("@", 1)[-1]


def erased_key(email: str) -> str:
    """The suppression value that keeps an erased person's normalised address from ever being
    mailed again, without holding the address: ``sha256:`` and its SHA-256 in hex."""
    return ERASED_PREFIX + hashlib.sha256(email.encode("utf-8")).hexdigest()


def is_erased_key(value: str) -> bool:
    """Whether a suppression value is an erased person's hashed address."""
    return _ERASED.match(value) is not None


def kind_of(value: str) -> str:
    """Whether a suppression value is an ``address``, a ``domain`` or ``erased`` (a hash)."""
    if is_erased_key(value):
        return "erased"
    return "address" if "@" in value.lstrip("@") else "domain"


def suppression_keys(email: str) -> tuple[str, str, str, str]:
    """The suppression-list values that cover ``email``: itself, its domain, ``@`` + domain,
    and its hash (``erased_key``)."""
    domain = domain_of(email)
    return email, domain, "@" + domain, erased_key(email)


def erased_values(session: Session, emails: Iterable[str]) -> set[str]:
    """The subset of addresses whose person was erased (their hash is on the list)."""
    keys = {erased_key(email): email for email in emails}
    if not keys:
        return set()
    hits = session.scalars(_SUPPRESSED, {"keys": sorted(keys)})
    return {keys[hit] for hit in hits}


def suppressed_values(session: Session, emails: Iterable[str]) -> set[str]:
    """The subset of addresses that a suppression-list value covers."""
    emails = list(emails)
    if not emails:
        return set()
    keys = {email: suppression_keys(email) for email in emails}
    wanted = sorted({key for four in keys.values() for key in four})
    hits = set(session.scalars(_SUPPRESSED, {"keys": wanted}))
    return {email for email, four in keys.items() if hits.intersection(four)}


def covered_by(value: str) -> ColumnElement[bool]:
    """The condition on ``Lead.email`` for the leads a suppression ``value`` covers."""
    kind = kind_of(value)
    if kind == "address":
        return Lead.email == value
    if kind == "erased":
        return false()  # an erased person has no lead left to stop
    return Lead.email.endswith("@" + value.lstrip("@"), autoescape=True)


__all__ = [
    "ERASED_PREFIX",
    "covered_by",
    "domain_of",
    "erased_key",
    "erased_values",
    "is_erased_key",
    "kind_of",
    "normalise_email",
    "suppressed_values",
    "suppression_keys",
]
