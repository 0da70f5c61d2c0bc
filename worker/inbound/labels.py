"""Replies a rep labelled, written out as training data (``outreach replies export``).

Each labelled message becomes ``<id>.eml`` (the raw bytes as they arrived) with one row of
``labels.csv``: ``file,intent,return_date,referral_email,labelled_by,labelled_at`` — the format
``outreach replies train --corpus`` and ``outreach replies evaluate`` read. A message whose raw
bytes were cleared (raw mail retention) is left out.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.clock import iso
from worker.store.models import InboundMessage

COLUMNS = ("file", "intent", "return_date", "referral_email", "labelled_by", "labelled_at")


def export_labelled(sessions: sessionmaker[Session], folder: Path) -> int:
    """Write every labelled reply into ``folder``; return how many."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    with sessions() as session:
        query = (
            select(InboundMessage)
            .where(InboundMessage.label.is_not(None), InboundMessage.raw_cleared_at.is_(None))
            .order_by(InboundMessage.id)
            .execution_options(yield_per=200)
        )
        for message in session.scalars(query):
            name = f"{message.id:08d}.eml"
            (folder / name).write_bytes(message.raw)
            dated = message.label in ("ooo", "later") and message.label == message.intent
            referred = message.label in ("referral", "left_company")
            rows.append(
                {
                    "file": name,
                    "intent": message.label or "",
                    "return_date": message.return_date.isoformat()
                    if dated and message.return_date
                    else "",
                    "referral_email": (message.referral_email or "") if referred else "",
                    "labelled_by": message.labelled_by or "",
                    "labelled_at": iso(message.labelled_at) or "",
                }
            )
    temporary = folder / ".labels.csv.tmp"
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, folder / "labels.csv")
    return len(rows)


__all__ = ["COLUMNS", "export_labelled"]
