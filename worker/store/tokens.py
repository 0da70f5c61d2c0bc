"""Signed, unguessable per-lead tokens for unsubscribe links."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.store.dialect import dialect_insert
from worker.store.models import AppState

_KEY_NAME = "token_secret"


def load_secret(factory: sessionmaker[Session], configured: str | None) -> bytes:
    """``OUTREACH_SECRET_KEY`` if set, else a random key kept in the database (shared by hosts)."""
    if configured:
        return configured.encode()
    with factory.begin() as session:
        stmt = dialect_insert(session, AppState).on_conflict_do_nothing(index_elements=["key"])
        session.execute(stmt.values(key=_KEY_NAME, value=secrets.token_hex(32)))
        value = session.scalar(select(AppState.value).where(AppState.key == _KEY_NAME))
    assert value is not None
    return value.encode()


def lead_token(secret: bytes, lead_id: int) -> str:
    """``<id>.<signature>``: identifies the lead and cannot be guessed or altered."""
    sig = hmac.new(secret, f"unsubscribe:{lead_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{lead_id}.{sig}"


def verify_token(secret: bytes, token: str) -> int | None:
    """The lead id of a valid token, else None."""
    lead_part, _, _sig = token.partition(".")
    if not lead_part.isdigit():
        return None
    expected = lead_token(secret, int(lead_part))
    return int(lead_part) if hmac.compare_digest(expected, token) else None
