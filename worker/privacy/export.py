"""Everything held about a person as one JSON document (``outreach leads export``; the lead
page, for admins): a data-subject access request answered from the database itself.

Sections: ``lead`` (fields and custom fields), ``emails_sent`` (each touch and reply written
in the app as it was sent: subject, text, Message-ID, mailbox), ``emails_received`` (each
message from or matched to the person: headers, parsed text, the raw mail as text or base64),
``tables`` (every row of every table held about them, by table — a table added later appears
here by itself, see ``worker.privacy.holdings``), and ``mentioned_in`` (other rows that name
them, by table, key and column; those rows' own content belongs to other people).
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from email import message_from_bytes, policy
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import iso
from worker.errors import NotFoundError
from worker.privacy import holdings, mentions
from worker.privacy.erase import address_of

FORMAT = "outreach-personal-data/1"


def export(session: Session, email: str, *, at: datetime) -> dict[str, Any]:
    """The document for the person with address ``email``; NotFoundError when nothing is held."""
    address = address_of(email)
    held = holdings.find(session, address)
    lead = held.of("leads")[0] if held.lead_id is not None else None
    mentioned = list(mentions.find(session, held, mentions.terms(session, address, lead)))
    if not held.total() and not mentioned:
        raise NotFoundError(f"Nothing is held about {address} — no lead, message or entry.")
    return {
        "format": FORMAT,
        "email": address,
        "exported_at": iso(at),
        "lead": _plain(lead) if lead is not None else None,
        "emails_sent": _sent(held),
        "emails_received": [_received(row) for row in held.of("inbound_messages")],
        "tables": {
            table.name: [_plain(row) for row in held.of(table.name)]
            for table in holdings.tables()
            if table.name in held.rows or holdings.LEAD_KEY in table.c
        },
        "mentioned_in": [
            {
                "table": found.table.name,
                "key": [_value(part) for part in found.key],
                "columns": list(found.columns),
            }
            for found in mentioned
        ],
    }


def _sent(held: holdings.Holdings) -> list[dict[str, Any]]:
    sent = [
        {
            "kind": "touch",
            "id": row["id"],
            "sequence": row["sequence"],
            "step": row["step_index"],
            "status": row["status"],
            "at": iso(row["finished_at"] or row["claimed_at"]),
            "mailbox": row["mailbox"],
            "to": held.email,
            "message_id": row["message_id"],
            "subject": row["subject"],
            "text": row["body_text"],
        }
        for row in held.of("touches")
        if row["message_id"] or row["body_text"]
    ]
    sent += [
        {
            "kind": "reply_from_app",
            "id": row.get("id"),
            "status": row.get("status"),
            "at": iso(row.get("sent_at")),
            "mailbox": row.get("mailbox"),
            "to": held.email,
            "message_id": row.get("message_id"),
            "in_reply_to": row.get("in_reply_to"),
            "subject": row.get("subject"),
            "text": row.get("body"),
            "by": row.get("by"),
        }
        for row in held.of("manual_replies")
    ]
    return sent


def _received(row: dict[str, Any]) -> dict[str, Any]:
    raw: bytes = row.get("raw") or b""
    headers: list[list[str]] = []
    if raw:
        try:
            parsed = message_from_bytes(raw, policy=policy.default)
            headers = [[name, str(value)] for name, value in parsed.items()]
        except Exception:  # a message that cannot be parsed is still exported raw
            headers = []
    document = {
        "id": row["id"],
        "received_at": iso(row["received_at"]),
        "from": row["from_address"],
        "subject": row["subject"],
        "message_id": row["message_id"],
        "headers": headers,
        "text": row["reply_text"],
        "intent": row["intent"],
        "raw_cleared_at": iso(row.get("raw_cleared_at")),
    }
    document.update(_raw(raw))
    return document


def _raw(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {"raw": None}
    try:
        return {"raw": raw.decode("utf-8"), "raw_encoding": "text"}
    except UnicodeDecodeError:
        return {"raw": base64.b64encode(raw).decode("ascii"), "raw_encoding": "base64"}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return _raw(value)
    return value


__all__ = ["FORMAT", "export"]
