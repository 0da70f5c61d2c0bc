"""The stored words (``worker.vocabulary``): their values never change, and every value built
from another word (``reply_`` + intent, ``task_`` + kind or status) is a member."""

from __future__ import annotations

from worker.leads.rep_tasks import TASK_KINDS, TASK_REASONS
from worker.store.models import ENROLLMENT_STATUSES, LEAD_STATUSES, TASK_STATUSES, TOUCH_STATUSES
from worker.understanding import INTENTS
from worker.vocabulary import (
    FINAL_STAGES,
    PIPELINE_STAGES,
    EventKind,
    InboundStatus,
    ReviewReason,
    TouchStatus,
)


def test_the_stored_tuples_keep_their_values_and_order() -> None:
    assert PIPELINE_STAGES == (
        "prospecting",
        "qualification",
        "consideration",
        "decision",
        "delivery",
    )
    assert FINAL_STAGES == ("won", "lost")
    assert LEAD_STATUSES == (
        "active",
        "paused",
        "needs_review",
        "completed",
        "stopped",
        "unsubscribed",
        "bounced",
    )
    assert ENROLLMENT_STATUSES == ("active", "paused", "completed", "stopped")
    assert TOUCH_STATUSES == (
        "queued",
        "claimed",
        "sending",
        "delivered",
        "sent",
        "skipped",
        "failed",
        "unknown",
    )
    assert TASK_STATUSES == ("task_open", "done", "skipped", "expired")


def test_every_built_value_is_a_member() -> None:
    reasons = {reason.value for reason in ReviewReason}
    assert {f"reply_{intent}" for intent in INTENTS} <= reasons
    assert {f"task_{kind}" for kind in TASK_KINDS} == set(TASK_REASONS)
    needs_a_person = (InboundStatus.UNMATCHED, InboundStatus.UNPARSEABLE, InboundStatus.FAILED)
    assert {f"inbound_{status}" for status in needs_a_person} <= reasons
    ended = [status for status in TASK_STATUSES if status != TouchStatus.TASK_OPEN]
    assert {f"task_{status}" for status in ended} <= {kind.value for kind in EventKind}


def test_members_read_and_print_as_their_values() -> None:
    assert f"{EventKind.TASK_DONE}" == str(EventKind.TASK_DONE) == "task_done"
    assert ReviewReason.HOT_LEAD == "hot_lead"
