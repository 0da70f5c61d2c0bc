"""The public names of webhook events and notifications, and what each one means.

These names are a contract: receivers filter on them. Each comes from the append-only event
log (``worker.store.events``); nothing on the send path knows about webhooks.
"""

from __future__ import annotations

WEBHOOK_EVENTS: dict[str, str] = {
    "lead.created": "a lead was imported or captured",
    "lead.stage_changed": "a lead moved to another pipeline stage (data: previous, stage)",
    "lead.replied": "a reply from a lead was read and classified (data: intent, confidence)",
    "lead.unsubscribed": "a lead unsubscribed (link, mailto or a reply asking to)",
    "lead.bounced": "a lead's address bounced for good and is suppressed",
    "touch.sent": "an email of a sequence went out (data: sequence, step, subject, mailbox)",
    "review_item.created": "a lead was put in the review queue (data: reason, detail)",
    "review_item.resolved": "a rep resolved a review item (data: action, note)",
    "lead.score_crossed": "a lead's score crossed a threshold (data: threshold, score)",
    "lead.sql_accepted": "a rep accepted a lead as a sales-qualified lead",
    "lead.sql_rejected": "a rep sent a lead back to nurture (data: reason)",
}
PING = "ping"  # what ``outreach webhooks test`` sends; never subscribed to

# What a rep is told about, on the lead's owner's channels.
NOTIFICATIONS: dict[str, str] = {
    "hot_lead": "a lead replied with interest (a hot lead in the review queue)",
    "sql_accepted": "a lead of theirs was accepted as a sales-qualified lead",
    "task_due": "a call or LinkedIn task of theirs is due today",
}

__all__ = ["NOTIFICATIONS", "PING", "WEBHOOK_EVENTS"]
