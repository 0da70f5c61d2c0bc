"""Rep accounts for the web app: names and password hashes (scrypt), never passwords.

A rep also has a full name, an email address (where notifications go), a time zone (pages
show times in it) and a role: ``admin`` (manages reps, mailbox pauses and settings) or
``rep``. Signing in takes the same time whether or not the name exists, so the sign-in form
does not tell which names are accounts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from worker.clock import iso
from worker.errors import FieldError, NotFoundError, OutreachError
from worker.store import events
from worker.store.models import REP_NAME, Lead, Rep, ReviewItem
from worker.vocabulary import EventKind

NAME = REP_NAME
RESERVED = frozenset({"me", "unassigned", "nobody"})  # words of the queue's rep filter
MIN_PASSWORD = 10
ADMIN, REP = "admin", "rep"
ROLES = (ADMIN, REP)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DUMMY_HASH = generate_password_hash("not-a-password-of-anyone")


@dataclass(frozen=True)
class SignedIn:
    """A rep whose password checked out; ``version`` changes when the password does."""

    name: str
    version: str


@dataclass(frozen=True)
class Profile:
    """What a page needs of the signed-in rep: read once per request."""

    name: str
    version: str
    role: str
    timezone: str


def check_name(name: str) -> str:
    """The name, lower-cased; OutreachError when it is not a usable account name."""
    name = name.strip().lower()
    if not NAME.match(name):
        raise OutreachError(
            f"Rep name {name!r} is not usable — use 1 to 100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'rita')."
        )
    if name in RESERVED:
        raise OutreachError(f"Rep name {name!r} is reserved by the queue's filter; pick another.")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OutreachError(f"The password is too short — use at least {MIN_PASSWORD} characters.")


def check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise FieldError("role", f"Role {role!r} is not known — use 'admin' or 'rep'.")
    return role


def check_timezone(zone: str) -> str:
    """The IANA zone name (e.g. 'Europe/Berlin'); FieldError when there is no such zone."""
    zone = zone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(
            "timezone",
            f"Time zone {zone!r} is not known — use an IANA name such as 'Europe/Berlin' "
            "or 'America/New_York'.",
        ) from None
    return zone


def check_email(email: str) -> str | None:
    """The address, or None for an empty one; FieldError when it is not an address."""
    email = email.strip()
    if not email:
        return None
    if not EMAIL.match(email) or len(email) > 320:
        raise FieldError("email", f"Email {email!r} is not an address — e.g. rita@example.com.")
    return email


def check_full_name(full_name: str) -> str | None:
    full_name = " ".join(full_name.split())
    if len(full_name) > 200:
        raise FieldError("full_name", "The full name is too long — use at most 200 characters.")
    return full_name or None


def add_rep(
    session: Session,
    name: str,
    password: str,
    *,
    at: datetime,
    full_name: str = "",
    email: str = "",
    timezone: str = "UTC",
    role: str | None = None,
) -> Rep:
    """A new account; OutreachError when the name is taken or a field is not usable.

    Without a ``role`` the first account is an admin (someone must manage the others) and
    every later one a rep.
    """
    name = check_name(name)
    check_password(password)
    fields = {
        "full_name": check_full_name(full_name),
        "email": check_email(email),
        "timezone": check_timezone(timezone),
        "role": check_role(role) if role is not None else _default_role(session),
    }
    if session.scalar(select(Rep.id).where(Rep.name == name)) is not None:
        raise OutreachError(
            f"Rep {name!r} exists already — change it with 'outreach reps set' or "
            "'outreach reps passwd'."
        )
    rep = Rep(
        name=name,
        password_hash=generate_password_hash(password),
        created_at=at,
        password_changed_at=at,
        **fields,
    )
    session.add(rep)
    session.flush()
    return rep


def update_rep(
    session: Session,
    name: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    timezone: str | None = None,
    role: str | None = None,
) -> Rep:
    """Change the given fields of ``name`` (None: keep; '' clears full name and email).

    OutreachError when that would leave no admin.
    """
    rep = _get(session, name)
    if full_name is not None:
        rep.full_name = check_full_name(full_name)
    if email is not None:
        rep.email = check_email(email)
    if timezone is not None:
        rep.timezone = check_timezone(timezone)
    if role is not None:
        role = check_role(role)
        if rep.role == ADMIN and role != ADMIN:
            _keep_an_admin(session, rep, "make them a rep")
        rep.role = role
    session.flush()
    return rep


def get_rep(session: Session, name: str) -> Rep:
    """The account ``name``; NotFoundError when there is none."""
    return _get(session, name)


def _default_role(session: Session) -> str:
    has_admin = session.scalar(select(Rep.id).where(Rep.role == ADMIN).limit(1)) is not None
    return REP if has_admin else ADMIN


def _keep_an_admin(session: Session, rep: Rep, doing: str) -> None:
    others = select(func.count(Rep.id)).where(Rep.role == ADMIN, Rep.id != rep.id)
    if not session.scalar(others):
        raise OutreachError(
            f"{rep.name!r} is the only admin — make another rep an admin before you {doing}."
        )


def set_password(session: Session, name: str, password: str, *, at: datetime) -> None:
    """Change a rep's password; their open web sessions end."""
    check_password(password)
    rep = _get(session, name)
    rep.password_hash = generate_password_hash(password)
    rep.password_changed_at = at


def remove_rep(session: Session, name: str, *, at: datetime, by: str | None = None) -> int:
    """Delete the account (its sessions end); return how many open items it was assigned.

    Those items go back to the unassigned queue, and the leads it owned have no owner (each
    an ``owner_changed`` event). OutreachError when it is the last admin of other accounts.
    """
    rep = _get(session, name)
    others = session.scalar(select(func.count(Rep.id)).where(Rep.id != rep.id))
    if rep.role == ADMIN and others:
        _keep_an_admin(session, rep, "remove them")
    items = list(
        session.scalars(
            select(ReviewItem).where(
                ReviewItem.assignee == rep.name, ReviewItem.resolved_at.is_(None)
            )
        )
    )
    for item in items:
        item.assignee = None
    owned = session.scalars(
        update(Lead)
        .where(Lead.owner == rep.name)
        .values(owner=None, updated_at=at)
        .returning(Lead.id)
        .execution_options(synchronize_session=False)
    ).all()
    cause = f"rep: {by}" if by else "rep removed"
    events.record_many(
        session,
        [
            {
                "kind": EventKind.OWNER_CHANGED,
                "at": at,
                "lead_id": lead_id,
                "cause": cause,
                "detail": {"previous": rep.name, "owner": None},
            }
            for lead_id in owned
        ],
    )
    session.execute(delete(Rep).where(Rep.id == rep.id))
    return len(items)


def list_reps(session: Session) -> list[dict[str, Any]]:
    """Every account with its creation time and open assigned items."""
    counts = select(ReviewItem.assignee, func.count(ReviewItem.id)).where(
        ReviewItem.assignee.is_not(None), ReviewItem.resolved_at.is_(None)
    )
    open_items = dict(session.execute(counts.group_by(ReviewItem.assignee)).all())
    return [
        {
            "name": rep.name,
            "full_name": rep.full_name,
            "email": rep.email,
            "timezone": rep.timezone,
            "role": rep.role,
            "created_at": iso(rep.created_at),
            "password_changed_at": iso(rep.password_changed_at),
            "open_items": open_items.get(rep.name, 0),
        }
        for rep in session.scalars(select(Rep).order_by(Rep.name))
    ]


def rep_names(session: Session) -> list[str]:
    return list(session.scalars(select(Rep.name).order_by(Rep.name)))


def authenticate(session: Session, name: str, password: str) -> SignedIn | None:
    """The rep when name and password match, else None (in the same time either way)."""
    try:
        name = check_name(name)
    except OutreachError:
        name = ""
    rep = session.scalar(select(Rep).where(Rep.name == name)) if name else None
    if rep is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(rep.password_hash, password):
        return None
    return SignedIn(rep.name, session_version(rep))


def current_version(session: Session, name: str) -> str | None:
    """The session version of an existing rep, None when the account is gone."""
    rep = session.scalar(select(Rep).where(Rep.name == name))
    return session_version(rep) if rep is not None else None


def profile(session: Session, name: str) -> Profile | None:
    """The signed-in rep's session version, role and zone; None when the account is gone."""
    rep = session.scalar(select(Rep).where(Rep.name == name))
    if rep is None:
        return None
    return Profile(rep.name, session_version(rep), rep.role, rep.timezone)


def session_version(rep: Rep) -> str:
    """Changes whenever the password does (a new salt each time), which ends the sessions
    signed in before; a new account under an old name gets a new one too."""
    digest = hashlib.sha256(f"{rep.id}:{rep.password_hash}".encode()).hexdigest()
    return digest[:32]


def _get(session: Session, name: str) -> Rep:
    rep = session.scalar(select(Rep).where(Rep.name == name.strip().lower()))
    if rep is None:
        raise NotFoundError(f"No rep {name!r} — see 'outreach reps list'.")
    return rep
