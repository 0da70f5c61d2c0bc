"""Keys of the JSON API: created (the secret shown once), listed, revoked, and checked.

A key reads ``ok_`` followed by a random secret. Only its SHA-256 digest is stored, beside a
short prefix (``ok_`` and the first characters of the secret) that is not secret: lists show
it, and it finds the row when a key is presented, whose digest is then compared in constant
time. Scope ``read`` reads; ``write`` also creates and changes leads.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.clock import iso
from worker.errors import FieldError, NotFoundError, OutreachError
from worker.store.models import ApiKey

KEY_MARK = "ok_"
PREFIX_CHARS = 8  # of the secret, after ``ok_``: shown in lists, finds the row
SCOPES = ("read", "write")
# ``last_used_at`` is written at most this often per key (not on every request).
USE_RECORDED_EVERY = timedelta(minutes=1)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` is the whole key, shown once and never stored."""

    name: str
    prefix: str
    scope: str
    secret: str


def digest(secret: str) -> str:
    """The stored form of a key: the hex SHA-256 of its text."""
    return hashlib.sha256(secret.encode()).hexdigest()


def allows(scope: str, needed: str) -> bool:
    """Whether a key of ``scope`` may do what needs ``needed`` (write implies read)."""
    return scope in ("write", needed)


def create_key(session: Session, name: str, scope: str, *, at: datetime, by: str | None) -> NewKey:
    """A new key ``name`` with ``scope``; its secret is in the result and nowhere else."""
    if not _NAME.match(name):
        raise FieldError(
            "name",
            f"API key name {name!r} is not allowed — use up to 100 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit",
        )
    if scope not in SCOPES:
        raise FieldError("scope", f"scope {scope!r} is unknown — use 'read' or 'write'")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise OutreachError(
            f"An API key named {name!r} exists — choose another name, or revoke it first "
            f"with 'outreach api-keys revoke {name}' (a revoked key keeps its name)"
        )
    while True:
        secret = KEY_MARK + secrets.token_urlsafe(32)
        prefix = secret[: len(KEY_MARK) + PREFIX_CHARS]
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    session.add(
        ApiKey(
            name=name,
            prefix=prefix,
            secret_hash=digest(secret),
            scope=scope,
            created_at=at,
            created_by=by,
        )
    )
    session.flush()
    return NewKey(name=name, prefix=prefix, scope=scope, secret=secret)


def list_keys(session: Session) -> list[dict[str, Any]]:
    """Every key, oldest first, without its secret (times ISO 8601 UTC)."""
    keys = session.scalars(select(ApiKey).order_by(ApiKey.id))
    return [
        {
            "name": key.name,
            "prefix": key.prefix,
            "scope": key.scope,
            "created_at": iso(key.created_at),
            "created_by": key.created_by,
            "last_used_at": iso(key.last_used_at),
            "revoked_at": iso(key.revoked_at),
        }
        for key in keys
    ]


def revoke_key(session: Session, name_or_prefix: str, *, at: datetime) -> ApiKey:
    """Revoke the key with this name or prefix (from then on it answers 401); revoking a
    revoked key changes nothing."""
    key = session.scalar(
        select(ApiKey).where(or_(ApiKey.name == name_or_prefix, ApiKey.prefix == name_or_prefix))
    )
    if key is None:
        raise NotFoundError(
            f"No API key named {name_or_prefix!r} (or with that prefix) — see "
            "'outreach api-keys list'"
        )
    if key.revoked_at is None:
        key.revoked_at = at
    return key


def authenticate(session: Session, presented: str, *, at: datetime) -> ApiKey | None:
    """The live key ``presented`` is, its use recorded; None for an unknown or revoked key."""
    if not presented.startswith(KEY_MARK) or len(presented) > 200:
        return None
    prefix = presented[: len(KEY_MARK) + PREFIX_CHARS]
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    # Compared even when there is no such key, so that both answers take the same time.
    expected = key.secret_hash if key is not None else digest("")
    if not hmac.compare_digest(digest(presented), expected) or key is None:
        return None
    if key.revoked_at is not None:
        return None
    if key.last_used_at is None or at - key.last_used_at >= USE_RECORDED_EVERY:
        key.last_used_at = at
    return key


__all__ = [
    "KEY_MARK",
    "SCOPES",
    "NewKey",
    "allows",
    "authenticate",
    "create_key",
    "digest",
    "list_keys",
    "revoke_key",
]
