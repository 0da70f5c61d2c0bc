"""Rep accounts for the web app: names and password hashes (scrypt), never passwords.

Signing in takes the same time whether or not the name exists, so the sign-in form does not
tell which names are accounts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from worker.clock import iso
from worker.errors import NotFoundError, OutreachError
from worker.store.models import Rep, ReviewItem

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
RESERVED = frozenset({"me", "unassigned", "nobody"})  # words of the queue's rep filter
MIN_PASSWORD = 10
_DUMMY_HASH = generate_password_hash("not-a-password-of-anyone")


@dataclass(frozen=True)
class SignedIn:
    """A rep whose password checked out; ``version`` changes when the password does."""

    name: str
    version: str


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


def add_rep(session: Session, name: str, password: str, *, at: datetime) -> Rep:
    """A new account; OutreachError when the name is taken or the password too short."""
    name = check_name(name)
    check_password(password)
    if session.scalar(select(Rep.id).where(Rep.name == name)) is not None:
        raise OutreachError(
            f"Rep {name!r} exists already — change the password with 'outreach reps passwd'."
        )
    rep = Rep(
        name=name,
        password_hash=generate_password_hash(password),
        created_at=at,
        password_changed_at=at,
    )
    session.add(rep)
    session.flush()
    return rep


def set_password(session: Session, name: str, password: str, *, at: datetime) -> None:
    """Change a rep's password; their open web sessions end."""
    check_password(password)
    rep = _get(session, name)
    rep.password_hash = generate_password_hash(password)
    rep.password_changed_at = at


def remove_rep(session: Session, name: str) -> int:
    """Delete the account (its sessions end); return how many open items it was assigned.

    Those items go back to the unassigned queue.
    """
    rep = _get(session, name)
    items = list(
        session.scalars(
            select(ReviewItem).where(
                ReviewItem.assignee == rep.name, ReviewItem.resolved_at.is_(None)
            )
        )
    )
    for item in items:
        item.assignee = None
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
