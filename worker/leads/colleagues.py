"""The other leads of the same company: by the email's domain, or by the company field.

A public mailbox provider's domain (gmail.com, gmx.de …) says nothing about a company, so it
never makes two leads colleagues; neither does an empty company field.

A domain is found through the index on ``email_domain`` (migration 0009: the part after the
last ``@``, the same expression on SQLite and PostgreSQL), not by scanning every address.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from worker.leads.addresses import domain_of
from worker.store.models import Lead, email_domain
from worker.vocabulary import LeadStatus

PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com", "bluewin.ch", "freenet.de", "gmail.com", "gmx.at", "gmx.ch", "gmx.de",
        "gmx.net", "googlemail.com", "hotmail.com", "icloud.com", "live.com", "mail.de",
        "me.com", "outlook.com", "proton.me", "protonmail.com", "t-online.de", "web.de",
        "yahoo.com", "yahoo.de",
    }
)  # fmt: skip
MATCHES = ("domain", "company")
IN_MOTION = (LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.NEEDS_REVIEW)


def colleagues(session: Session, lead: Lead, match: str = "domain") -> list[Lead]:
    """The leads in motion (active, paused, in review) at ``lead``'s company, oldest first.

    Read without flushing the session: a lead whose status the session has changed counts
    with that status, any other with its status in the database — the same leads a query
    after a flush would find, without writing a batch's changes early.
    """
    params: dict[str, object] = {"lead_id": lead.id}
    same: Callable[[Lead], bool] | None = None
    if match == "company":
        name = (lead.company or "").strip().lower()
        if not name:
            return []
        params["name"] = name
        statements = _BY_COMPANY
    else:
        domain = domain_of(lead.email)
        if domain in PUBLIC_MAIL_DOMAINS:
            return []
        params.update(domain=domain, suffix="%@" + _escaped(domain))
        statements = _BY_DOMAIN

        def same(other: Lead) -> bool:  # the statement's condition, in Python
            return "@" in other.email and other.email.rsplit("@", 1)[1] == domain

    if any(isinstance(new, Lead) for new in session.new):
        session.flush()  # a lead not written yet has no id to order by
    # A lead whose status the session changed may be out of date in the database: it counts
    # if it is at the company, whatever its status there, and is judged by its status here.
    changed = [o for o in session.dirty if isinstance(o, Lead) and o.id != lead.id]
    connection = session.connection()  # Core: the session is not flushed first
    if same is not None or not changed:
        ids = set(connection.execute(statements[0], params).scalars())
        ids.update(o.id for o in changed if same is not None and same(o))
    else:  # SQL's lower() and trim() decide who shares a company name
        params["changed"] = [o.id for o in changed]
        ids = set(connection.execute(statements[1], params).scalars())
    with session.no_autoflush:
        found = _leads(session, sorted(ids))
    return [found[i] for i in sorted(found) if found[i].status in IN_MOTION]


def _statements(condition: ColumnElement[bool]) -> tuple[Select[int], Select[int]]:
    """The ids of the other leads meeting ``condition``: those in motion in the database, and
    those or the ``changed`` ones. Built once: making a statement and its cache key costs
    more than running it."""
    base = select(Lead.id).where(Lead.id != bindparam("lead_id"), condition)
    in_motion = Lead.status.in_(IN_MOTION)
    changed = Lead.id.in_(bindparam("changed", expanding=True))
    return base.where(in_motion), base.where(or_(in_motion, changed))


# The indexed expression finds the domain; the suffix keeps the exact old meaning.
_BY_DOMAIN = _statements(
    (email_domain(Lead.email) == bindparam("domain"))
    & Lead.email.like(bindparam("suffix"), escape="/")
)
_BY_COMPANY = _statements(func.lower(func.trim(Lead.company)) == bindparam("name"))


def _escaped(value: str) -> str:
    """``value`` for LIKE with ``/`` as the escape character (as ``autoescape`` writes it)."""
    return value.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _leads(session: Session, ids: list[int]) -> dict[int, Lead]:
    """The leads of ``ids`` by id: the session's own objects, the others read at once."""
    found: dict[int, Lead] = {}
    for lead_id in ids:
        held = session.identity_map.get(session.identity_key(Lead, lead_id))
        if isinstance(held, Lead):
            found[lead_id] = held
    missing = [lead_id for lead_id in ids if lead_id not in found]
    for start in range(0, len(missing), 500):
        query = select(Lead).where(Lead.id.in_(missing[start : start + 500]))
        found.update((other.id, other) for other in session.scalars(query))
    return found


__all__ = ["MATCHES", "PUBLIC_MAIL_DOMAINS", "colleagues"]
