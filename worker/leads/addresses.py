"""Email addresses: how they are normalised, their domain, and the one suppression rule.

A suppression-list value is an address (``ada@example.test``) or a whole domain
(``example.test``, also written ``@example.test``). An address is suppressed when the list
holds the address, its domain, or ``@`` and its domain. Enrollment, the send-time re-check,
adding to the list and the unsubscribe page all ask the functions here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.orm import Session

from worker.store.models import Lead, Suppression

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

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


def kind_of(value: str) -> str:
    """Whether a suppression value is an ``address`` or a ``domain``."""
    return "address" if "@" in value.lstrip("@") else "domain"


def suppression_keys(email: str) -> tuple[str, str, str]:
    """The suppression-list values that cover ``email``: itself, its domain, ``@`` + domain."""
    domain = domain_of(email)
    return email, domain, "@" + domain


def suppressed_values(session: Session, emails: Iterable[str]) -> set[str]:
    """The subset of addresses that a suppression-list value covers."""
    emails = list(emails)
    if not emails:
        return set()
    keys = {email: suppression_keys(email) for email in emails}
    wanted = sorted({key for three in keys.values() for key in three})
    hits = set(session.scalars(_SUPPRESSED, {"keys": wanted}))
    return {email for email, three in keys.items() if hits.intersection(three)}


def covered_by(value: str) -> ColumnElement[bool]:
    """The condition on ``Lead.email`` for the leads a suppression ``value`` covers."""
    if kind_of(value) == "address":
        return Lead.email == value
    return Lead.email.endswith("@" + value.lstrip("@"), autoescape=True)


__all__ = [
    "covered_by",
    "domain_of",
    "kind_of",
    "normalise_email",
    "suppressed_values",
    "suppression_keys",
]
