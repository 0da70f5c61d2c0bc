"""The reply path: read inboxes (IMAP, maildir, mbox, files, stdin), store every message raw,
match it to its lead and touch, understand it, and act on the sequence's ``on_reply`` rules.
"""

from __future__ import annotations

from worker.inbound.inboxes import FetchReport, configured_inboxes
from worker.inbound.ingest import fetch_inboxes, ingest
from worker.inbound.reactions import ReplyPolicy, act_on_reply

__all__ = [
    "FetchReport",
    "ReplyPolicy",
    "act_on_reply",
    "configured_inboxes",
    "fetch_inboxes",
    "ingest",
]
