"""The database: schema, engines and migrations, portable upserts, and the append-only event log.

Everything else reads and writes through these models; nothing here knows about sequences.
"""

from __future__ import annotations

from worker.store import events
from worker.store.db import make_engine, migrate, schema_is_current, session_factory
from worker.store.dialect import dialect_insert, is_postgres
from worker.store.models import (
    AppState,
    Base,
    DomainUsage,
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    MailboxPause,
    MailboxUsage,
    Rep,
    ReviewItem,
    Suppression,
    Touch,
)
from worker.store.tokens import lead_token, load_secret, verify_token

__all__ = [
    "AppState",
    "Base",
    "DomainUsage",
    "Enrollment",
    "Event",
    "InboundMessage",
    "Lead",
    "MailboxPause",
    "MailboxUsage",
    "Rep",
    "ReviewItem",
    "Suppression",
    "Touch",
    "dialect_insert",
    "events",
    "is_postgres",
    "lead_token",
    "load_secret",
    "make_engine",
    "migrate",
    "schema_is_current",
    "session_factory",
    "verify_token",
]
