"""The words a rep reads for the codes the worker stores: one place owns the wording.

Every member of the vocabularies in ``worker.vocabulary`` (and every reply intent) has a
label here; a test fails when one is added without. A value no table knows (an older row, a
free-text suggestion) is shown as readable text rather than refused. ``--json`` output and
forms keep the codes: these labels are for people only.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.understanding import INTENTS
from worker.vocabulary import (
    EnrollmentStatus,
    EventKind,
    InboundStatus,
    LeadStatus,
    Qualification,
    ReviewAction,
    ReviewReason,
    Stage,
    TouchStatus,
)

ENROLL = "enroll:"
RECLASSIFY = "reclassify:"

INTENT_LABELS: Mapping[str, str] = {
    "positive": "Interested",
    "negative": "Not interested",
    "unsubscribe": "Unsubscribe",
    "ooo": "Out of office",
    "bounce_hard": "Hard bounce",
    "bounce_soft": "Soft bounce",
    "complaint": "Spam complaint",
    "referral": "Referral",
    "question": "Question",
    "auto_reply": "Auto-reply",
    "unknown": "Unclear",
    "later": "Later",
    "data_request": "Data request",
    "left_company": "Left the company",
}

STAGE_LABELS: Mapping[str, str] = {
    Stage.PROSPECTING: "Prospecting",
    Stage.QUALIFICATION: "Qualification",
    Stage.CONSIDERATION: "Consideration",
    Stage.DECISION: "Decision",
    Stage.DELIVERY: "Delivery",
    Stage.WON: "Won",
    Stage.LOST: "Lost",
}

STATUS_LABELS: Mapping[str, str] = {
    LeadStatus.ACTIVE: "Active",
    LeadStatus.PAUSED: "Paused",
    LeadStatus.NEEDS_REVIEW: "Needs review",
    LeadStatus.COMPLETED: "Sequence completed",
    LeadStatus.STOPPED: "Stopped",
    LeadStatus.UNSUBSCRIBED: "Unsubscribed",
    LeadStatus.BOUNCED: "Bounced",
}

ENROLLMENT_STATUS_LABELS: Mapping[str, str] = {
    EnrollmentStatus.ACTIVE: "Active",
    EnrollmentStatus.PAUSED: "Paused",
    EnrollmentStatus.COMPLETED: "Completed",
    EnrollmentStatus.STOPPED: "Stopped",
}

TOUCH_STATUS_LABELS: Mapping[str, str] = {
    TouchStatus.QUEUED: "Queued",
    TouchStatus.CLAIMED: "Being sent",
    TouchStatus.SENDING: "Being sent",
    TouchStatus.DELIVERED: "Delivered",
    TouchStatus.SENT: "Sent",
    TouchStatus.SKIPPED: "Skipped",
    TouchStatus.FAILED: "Failed",
    TouchStatus.UNKNOWN: "Delivery unknown",
    TouchStatus.TASK_OPEN: "Task open",
    TouchStatus.DONE: "Done",
    TouchStatus.EXPIRED: "Timed out",
}

INBOUND_STATUS_LABELS: Mapping[str, str] = {
    InboundStatus.STORED: "Stored",
    InboundStatus.MATCHED: "Matched to a lead",
    InboundStatus.UNMATCHED: "Matches no lead",
    InboundStatus.UNPARSEABLE: "Unreadable",
    InboundStatus.PROCESSED: "Processed",
    InboundStatus.FAILED: "Processing failed",
}

QUALIFICATION_LABELS: Mapping[str, str] = {
    Qualification.MQL: "Marketing-qualified (MQL)",
    Qualification.SQL: "Sales-qualified (SQL)",
    Qualification.NURTURE: "Back to nurture",
}

REASON_LABELS: Mapping[str, str] = {
    ReviewReason.HOT_LEAD: "Hot lead",
    ReviewReason.REPLY_LOW_CONFIDENCE: "Reply: unsure what it says",
    ReviewReason.REPLY_POSITIVE: "Reply: interested",
    ReviewReason.REPLY_NEGATIVE: "Reply: not interested",
    ReviewReason.REPLY_UNSUBSCRIBE: "Reply: unsubscribe",
    ReviewReason.REPLY_OOO: "Reply: out of office",
    ReviewReason.REPLY_BOUNCE_HARD: "Reply: hard bounce",
    ReviewReason.REPLY_BOUNCE_SOFT: "Reply: soft bounce",
    ReviewReason.REPLY_COMPLAINT: "Reply: spam complaint",
    ReviewReason.REPLY_REFERRAL: "Reply: referral",
    ReviewReason.REPLY_QUESTION: "Reply: question",
    ReviewReason.REPLY_AUTO_REPLY: "Reply: auto-reply",
    ReviewReason.REPLY_UNKNOWN: "Reply: unclear",
    ReviewReason.REPLY_LATER: "Reply: later",
    ReviewReason.REPLY_DATA_REQUEST: "Reply: data request",
    ReviewReason.REPLY_LEFT_COMPANY: "Reply: left the company",
    ReviewReason.COLLEAGUE_REPLIED: "A colleague replied",
    ReviewReason.DELIVERY_UNKNOWN: "Delivery unknown",
    ReviewReason.DELIVERY_FAILED: "Delivery failed",
    ReviewReason.TEMPLATE_ERROR: "Template error",
    ReviewReason.CONFIG_ERROR: "Configuration error",
    ReviewReason.SEQUENCE_INVALID: "Sequence invalid",
    ReviewReason.INBOUND_FAILED: "Message could not be processed",
    ReviewReason.INBOUND_UNMATCHED: "Message from an unknown sender",
    ReviewReason.INBOUND_UNPARSEABLE: "Unreadable message",
    ReviewReason.TASK_CALL: "Call task",
    ReviewReason.TASK_LINKEDIN: "LinkedIn task",
    ReviewReason.MAILBOX_PAUSED: "Mailbox paused",
    ReviewReason.SALES_ACCEPTANCE: "Accept as SQL?",
    ReviewReason.SCORE_CROSSED: "Score threshold reached",
}

ACTION_LABELS: Mapping[str, str] = {
    ReviewAction.RESUME: "Resume the sequence",
    ReviewAction.STOP: "Stop the sequence",
    ReviewAction.LOST: "Mark as lost",
    ReviewAction.WON: "Mark as won",
    ReviewAction.UNSUBSCRIBE: "Unsubscribe for good",
    ReviewAction.ADVANCE: "Advance to the next stage",
    ReviewAction.SENT: "It was sent",
    ReviewAction.NOT_SENT: "It was not sent: send again",
    ReviewAction.DONE: "Task done",
    ReviewAction.SKIP: "Skip the task",
    ReviewAction.ADD_REFERRAL: "Add the referred person as a lead",
    ReviewAction.ACCEPT_SQL: "Accept as SQL",
    ReviewAction.REJECT_SQL: "Reject: back to nurture",
    ReviewAction.TIMEOUT: "Timed out",
    ReviewAction.ATTACH: "Attach to a lead",
    ReviewAction.CREATE_LEAD: "Create a lead from the sender",
    ReviewAction.SUPPRESS_SENDER: "Suppress the sender",
    ReviewAction.DISMISS: "Dismiss (not a lead)",
}

# What the rep's reading of a reply does, said as a decision ("Mark as a hard bounce").
RECLASSIFY_LABELS: Mapping[str, str] = {
    "positive": "Mark as interested",
    "negative": "Mark as not interested",
    "unsubscribe": "Mark as an unsubscribe request",
    "ooo": "Mark as out of office",
    "bounce_hard": "Mark as a hard bounce",
    "bounce_soft": "Mark as a soft bounce",
    "complaint": "Mark as a spam complaint",
    "referral": "Mark as a referral",
    "question": "Mark as a question",
    "auto_reply": "Mark as an auto-reply",
    "unknown": "Mark as unclear",
    "later": "Mark as 'later'",
    "data_request": "Mark as a data request",
    "left_company": "Mark as left the company",
}

EVENT_LABELS: Mapping[str, str] = {
    EventKind.LEAD_CREATED: "Lead created",
    EventKind.CAPTURED: "Captured from a form",
    EventKind.ENROLLED: "Enrolled",
    EventKind.SCHEDULED: "Email scheduled",
    EventKind.SENT: "Email sent",
    EventKind.SKIPPED: "Email skipped",
    EventKind.FAILED: "Sending failed",
    EventKind.SEND_DEFERRED: "Sending deferred",
    EventKind.POSTPONED: "Postponed",
    EventKind.DELIVERY_UNKNOWN: "Delivery unknown",
    EventKind.REQUEUED: "Queued again",
    EventKind.TASK_OPENED: "Task opened",
    EventKind.TASK_DONE: "Task done",
    EventKind.TASK_SKIPPED: "Task skipped",
    EventKind.TASK_EXPIRED: "Task timed out",
    EventKind.REPLY_RECEIVED: "Reply received",
    EventKind.CLASSIFIED: "Reply read",
    EventKind.UNSUBSCRIBED: "Unsubscribed",
    EventKind.SUPPRESSED: "Not sent: suppressed",
    EventKind.SUPPRESSION_ADDED: "Suppression added",
    EventKind.SUPPRESSION_REMOVED: "Suppression removed",
    EventKind.SUPPRESSIONS_IMPORTED: "Suppressions imported",
    EventKind.STAGE_CHANGED: "Stage changed",
    EventKind.SEQUENCE_COMPLETED: "Sequence completed",
    EventKind.SEQUENCE_STOPPED: "Sequence stopped",
    EventKind.PAUSED: "Paused",
    EventKind.RESUMED: "Resumed",
    EventKind.FLAGGED: "Flagged for review",
    EventKind.ASSIGNED: "Assigned",
    EventKind.RESOLVED: "Review resolved",
    EventKind.RESOLUTION_UNDONE: "Resolution undone",
    EventKind.REFERRAL_ADDED: "Referral added",
    EventKind.MAILBOX_PAUSED: "Mailbox paused",
    EventKind.MAILBOX_RESUMED: "Mailbox resumed",
    EventKind.SEQUENCE_CHANGED: "Sequence changed",
    EventKind.STEP_PASSED: "Step passed over",
    EventKind.LINK_CLICKED: "Link clicked",
    EventKind.EMAIL_OPENED: "Email opened (unreliable)",
    EventKind.ACTIVITY: "Activity",
    EventKind.CALL_LOGGED: "Call logged",
    EventKind.SCORE_CROSSED: "Score crossed a threshold",
    EventKind.SQL_ACCEPTED: "Accepted as SQL",
    EventKind.SQL_REJECTED: "Rejected as SQL",
    EventKind.NOTE_ADDED: "Note",
    EventKind.FIELDS_CHANGED: "Fields edited",
    EventKind.OWNER_CHANGED: "Owner changed",
    EventKind.REPLY_SENT: "Reply sent from the app",
    EventKind.LEAD_ERASED: "Person erased on request",
}


def humanise(code: str | None) -> str:
    """A code no table knows, made readable: ``reply_foo-bar`` → ``Reply foo bar``."""
    if not code:
        return ""
    text = code.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def _look_up(table: Mapping[str, str], code: str | None) -> str:
    if code is None:
        return ""
    return table.get(code) or humanise(code)


def action_label(action: str | None) -> str:
    """A resolution as a decision: ``reclassify:bounce_hard`` → "Mark as a hard bounce",
    ``enroll:ops-test`` → "Enroll in ops-test"."""
    if action and action.startswith(ENROLL):
        return f"Enroll in {action[len(ENROLL) :]}"
    if action and action.startswith(RECLASSIFY):
        intent = action[len(RECLASSIFY) :]
        return RECLASSIFY_LABELS.get(intent) or f"Mark as {intent_label(intent).lower()}"
    return _look_up(ACTION_LABELS, action)


def reason_label(reason: str | None) -> str:
    """Why an item is in the queue: ``hot_lead`` → "Hot lead"."""
    return _look_up(REASON_LABELS, reason)


def intent_label(intent: str | None) -> str:
    """What a reply says: ``ooo`` → "Out of office"."""
    return _look_up(INTENT_LABELS, intent)


def stage_label(stage: str | None) -> str:
    """A pipeline stage (a configured stage no table knows is capitalised)."""
    return _look_up(STAGE_LABELS, stage)


def status_label(status: str | None) -> str:
    """A lead's status: ``needs_review`` → "Needs review"."""
    return _look_up(STATUS_LABELS, status)


def enrollment_status_label(status: str | None) -> str:
    """Where an enrollment stands."""
    return _look_up(ENROLLMENT_STATUS_LABELS, status)


def touch_status_label(status: str | None) -> str:
    """Where a touch stands: ``unknown`` → "Delivery unknown"."""
    return _look_up(TOUCH_STATUS_LABELS, status)


def inbound_status_label(status: str | None) -> str:
    """How far an inbound message got."""
    return _look_up(INBOUND_STATUS_LABELS, status)


def qualification_label(qualification: str | None) -> str:
    """A lead's qualification: ``sql`` → "Sales-qualified (SQL)"."""
    return _look_up(QUALIFICATION_LABELS, qualification)


def event_label(kind: str | None) -> str:
    """A timeline entry: ``stage_changed`` → "Stage changed"."""
    return _look_up(EVENT_LABELS, kind)


# Causes that are codes of their own (most causes are words already: "due", "import", "rep: rita").
CAUSE_LABELS: Mapping[str, str] = {
    "message_id": "matched by Message-ID",
    "temporary_failure": "temporary failure",
    "sender_stopped": "the sender stopped",
    "no_reply": "no reply",
}


def cause_label(cause: str | None) -> str:
    """Why an event happened, as a timeline shows it: a queue reason or a reply's intent in
    words (``reply_question`` → "Reply: question"), a known code, else the cause as written."""
    if not cause:
        return ""
    if cause in REASON_LABELS:
        return REASON_LABELS[cause]
    if cause in INTENT_LABELS:
        return INTENT_LABELS[cause]
    return CAUSE_LABELS.get(cause, cause)


# Each vocabulary with its table, for the test that every member has a label.
VOCABULARIES: Mapping[str, tuple[tuple[str, ...], Mapping[str, str]]] = {
    "Stage": (tuple(Stage), STAGE_LABELS),
    "LeadStatus": (tuple(LeadStatus), STATUS_LABELS),
    "EnrollmentStatus": (tuple(EnrollmentStatus), ENROLLMENT_STATUS_LABELS),
    "TouchStatus": (tuple(TouchStatus), TOUCH_STATUS_LABELS),
    "InboundStatus": (tuple(InboundStatus), INBOUND_STATUS_LABELS),
    "ReviewReason": (tuple(ReviewReason), REASON_LABELS),
    "Qualification": (tuple(Qualification), QUALIFICATION_LABELS),
    "ReviewAction": (tuple(ReviewAction), ACTION_LABELS),
    "EventKind": (tuple(EventKind), EVENT_LABELS),
    "intents": (tuple(INTENTS), INTENT_LABELS),
    "reclassify intents": (tuple(INTENTS), RECLASSIFY_LABELS),
}

# The Jinja filters of the web app, by name.
FILTERS = {
    "action_label": action_label,
    "reason_label": reason_label,
    "intent_label": intent_label,
    "stage_label": stage_label,
    "status_label": status_label,
    "enrollment_status_label": enrollment_status_label,
    "touch_status_label": touch_status_label,
    "inbound_status_label": inbound_status_label,
    "qualification_label": qualification_label,
    "event_label": event_label,
    "cause_label": cause_label,
}

__all__ = [
    "FILTERS",
    "VOCABULARIES",
    "action_label",
    "cause_label",
    "enrollment_status_label",
    "event_label",
    "humanise",
    "inbound_status_label",
    "intent_label",
    "qualification_label",
    "reason_label",
    "stage_label",
    "status_label",
    "touch_status_label",
]
