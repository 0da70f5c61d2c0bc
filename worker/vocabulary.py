"""The words the worker stores and reads back (stages, statuses, event kinds, review reasons),
each a ``StrEnum`` whose values are the strings in the database: they never change."""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Stage(StrEnum):
    """A lead's place in the pipeline: prospecting → … → delivery, then won or lost."""

    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    CONSIDERATION = "consideration"
    DECISION = "decision"
    DELIVERY = "delivery"
    WON = "won"
    LOST = "lost"


PIPELINE_STAGES: tuple[Stage, ...] = (
    Stage.PROSPECTING,
    Stage.QUALIFICATION,
    Stage.CONSIDERATION,
    Stage.DECISION,
    Stage.DELIVERY,
)
FINAL_STAGES: tuple[Stage, ...] = (Stage.WON, Stage.LOST)


@unique
class LeadStatus(StrEnum):
    """Where a lead stands (``Lead.status``)."""

    ACTIVE = "active"
    PAUSED = "paused"
    NEEDS_REVIEW = "needs_review"
    COMPLETED = "completed"
    STOPPED = "stopped"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


@unique
class EnrollmentStatus(StrEnum):
    """Where a lead's enrollment in one sequence stands (``Enrollment.status``)."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


@unique
class TouchStatus(StrEnum):
    """Where one touch stands (``Touch.status``): an email's, or a call or LinkedIn task's."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    SENDING = "sending"
    # The server accepted it; the timeline entry and the next step follow within seconds.
    DELIVERED = "delivered"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNKNOWN = "unknown"
    TASK_OPEN = "task_open"
    DONE = "done"
    EXPIRED = "expired"


@unique
class InboundStatus(StrEnum):
    """How far a stored inbound message got (``InboundMessage.status``)."""

    STORED = "stored"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    UNPARSEABLE = "unparseable"
    PROCESSED = "processed"
    FAILED = "failed"


@unique
class ReviewReason(StrEnum):
    """Why an item is in the review queue (``ReviewItem.reason``)."""

    HOT_LEAD = "hot_lead"
    REPLY_LOW_CONFIDENCE = "reply_low_confidence"
    # ``reply_`` + the intent of a reply whose ``on_reply`` rule flags it.
    REPLY_POSITIVE = "reply_positive"
    REPLY_NEGATIVE = "reply_negative"
    REPLY_UNSUBSCRIBE = "reply_unsubscribe"
    REPLY_OOO = "reply_ooo"
    REPLY_BOUNCE_HARD = "reply_bounce_hard"
    REPLY_BOUNCE_SOFT = "reply_bounce_soft"
    REPLY_COMPLAINT = "reply_complaint"
    REPLY_REFERRAL = "reply_referral"
    REPLY_QUESTION = "reply_question"
    REPLY_AUTO_REPLY = "reply_auto_reply"
    REPLY_UNKNOWN = "reply_unknown"
    REPLY_LATER = "reply_later"
    REPLY_DATA_REQUEST = "reply_data_request"
    REPLY_LEFT_COMPANY = "reply_left_company"
    COLLEAGUE_REPLIED = "colleague_replied"
    DELIVERY_UNKNOWN = "delivery_unknown"
    DELIVERY_FAILED = "delivery_failed"
    TEMPLATE_ERROR = "template_error"
    CONFIG_ERROR = "config_error"
    SEQUENCE_INVALID = "sequence_invalid"
    # ``inbound_`` + the status of a message that needs a person.
    INBOUND_FAILED = "inbound_failed"
    INBOUND_UNMATCHED = "inbound_unmatched"
    INBOUND_UNPARSEABLE = "inbound_unparseable"
    # ``task_`` + the kind of a manual step's touch.
    TASK_CALL = "task_call"
    TASK_LINKEDIN = "task_linkedin"
    MAILBOX_PAUSED = "mailbox_paused"
    # A marketing-qualified lead whose score reached ``sql_candidate`` (or that replied
    # positively): "accept as SQL?" (``worker.qualification``).
    SALES_ACCEPTANCE = "sales_acceptance"
    # A lead's score crossed a threshold whose ``on_cross`` says ``flag`` or ``notify``
    # (``worker.scoring``).
    SCORE_CROSSED = "score_crossed"


@unique
class Qualification(StrEnum):
    """Where a lead stands in qualification (``Lead.qualification``); None: not an MQL yet."""

    MQL = "mql"  # marketing-qualified: its score reached the ``mql`` threshold
    SQL = "sql"  # sales-qualified: a rep accepted it
    NURTURE = "nurture"  # a rep rejected it as SQL (with a reason): back to nurture


@unique
class ReviewAction(StrEnum):
    """What a rep decides about a review item (``--action``), kept as its resolution."""

    RESUME = "resume"
    STOP = "stop"
    LOST = "lost"
    WON = "won"
    UNSUBSCRIBE = "unsubscribe"
    ADVANCE = "advance"
    SENT = "sent"
    NOT_SENT = "not-sent"
    DONE = "done"
    SKIP = "skip"
    ADD_REFERRAL = "add-referral"
    # Sales acceptance of an MQL (``ReviewReason.SALES_ACCEPTANCE``).
    ACCEPT_SQL = "accept-sql"
    REJECT_SQL = "reject-sql"
    # Not a rep's: the resolution of a task whose ``timeout`` passed.
    TIMEOUT = "timeout"
    # For a message from an unknown sender (``ReviewReason.INBOUND_UNMATCHED``): attach it to
    # an existing lead (processed as its reply), make the sender a lead and attach it, put the
    # sender on the suppression list, or dismiss it as not a lead.
    ATTACH = "attach"
    CREATE_LEAD = "create-lead"
    SUPPRESS_SENDER = "suppress-sender"
    DISMISS = "dismiss"


@unique
class EventKind(StrEnum):
    """What happened to a lead (``Event.kind``), one word per kind of entry in the log."""

    LEAD_CREATED = "lead_created"
    CAPTURED = "captured"
    ENROLLED = "enrolled"
    SCHEDULED = "scheduled"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    SEND_DEFERRED = "send_deferred"
    POSTPONED = "postponed"
    DELIVERY_UNKNOWN = "delivery_unknown"
    REQUEUED = "requeued"
    TASK_OPENED = "task_opened"
    # ``task_`` + the status a task ended with.
    TASK_DONE = "task_done"
    TASK_SKIPPED = "task_skipped"
    TASK_EXPIRED = "task_expired"
    REPLY_RECEIVED = "reply_received"
    CLASSIFIED = "classified"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    SUPPRESSION_ADDED = "suppression_added"
    SUPPRESSION_REMOVED = "suppression_removed"
    SUPPRESSIONS_IMPORTED = "suppressions_imported"
    STAGE_CHANGED = "stage_changed"
    SEQUENCE_COMPLETED = "sequence_completed"
    SEQUENCE_STOPPED = "sequence_stopped"
    PAUSED = "paused"
    RESUMED = "resumed"
    FLAGGED = "flagged"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    # A rep undid a resolution within the undo window (cause: the action undone; detail: item).
    RESOLUTION_UNDONE = "resolution_undone"
    REFERRAL_ADDED = "referral_added"
    MAILBOX_PAUSED = "mailbox_paused"
    MAILBOX_RESUMED = "mailbox_resumed"
    # The sequence's file changed and its ``on_change`` policy moved the lead (detail: from,
    # to, policy, the step it lands on, the steps it will now never get).
    SEQUENCE_CHANGED = "sequence_changed"
    # A due step passed over because its email already went out under an earlier version.
    STEP_PASSED = "step_passed"
    # Engagement signals (``worker.tracking``): a tracked link clicked (detail: url, counted,
    # and why not when a scanner's), an email opened (unreliable), an event from the website
    # or a webinar posted through the API or imported (cause: its type), a rep's logged call.
    LINK_CLICKED = "link_clicked"
    EMAIL_OPENED = "email_opened"
    ACTIVITY = "activity"
    CALL_LOGGED = "call_logged"
    # Scoring (``worker.scoring``): the score crossed a threshold (cause: mql or
    # sql_candidate; detail: score, the rules that made it).
    SCORE_CROSSED = "score_crossed"
    # Sales acceptance (``worker.qualification``): detail holds the rep's answers; a rejection's
    # cause is its reason.
    SQL_ACCEPTED = "sql_accepted"
    SQL_REJECTED = "sql_rejected"
    # A rep working a lead (``worker.working``; cause: ``rep: NAME``): a note (detail: note),
    # edited fields (detail: changes, field -> [before, after]), a new owner (detail:
    # previous, owner).
    NOTE_ADDED = "note_added"
    FIELDS_CHANGED = "fields_changed"
    OWNER_CHANGED = "owner_changed"
    # A person erased on request (``worker.privacy``): no lead, no personal data (detail: the
    # erasure's id and how many rows went).
    LEAD_ERASED = "lead_erased"
    # A reply a rep wrote in the app went out (``worker.working.replies``; cause: ``rep: NAME``;
    # detail: subject, text as sent, mailbox, message_id, reply id).
    REPLY_SENT = "reply_sent"


__all__ = [
    "FINAL_STAGES",
    "PIPELINE_STAGES",
    "EnrollmentStatus",
    "EventKind",
    "InboundStatus",
    "LeadStatus",
    "Qualification",
    "ReviewAction",
    "ReviewReason",
    "Stage",
    "TouchStatus",
]
