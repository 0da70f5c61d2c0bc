"""Read models shared by the command line and the web app: leads and their timelines, the
review queue, the pipeline board, mailboxes' usage. Nothing here writes.
"""

from __future__ import annotations

from worker.queries.board import board
from worker.queries.lead_pages import lead_page, leads_page
from worker.queries.leads import list_leads, show_lead
from worker.queries.mailboxes import mailbox_rows
from worker.queries.review_queue import QueueFilter, list_open, show_item

__all__ = [
    "QueueFilter",
    "board",
    "lead_page",
    "leads_page",
    "list_leads",
    "list_open",
    "mailbox_rows",
    "show_item",
    "show_lead",
]
