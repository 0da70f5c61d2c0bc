"""Every code a rep may read has words: each member of each vocabulary has a label."""

from __future__ import annotations

import pytest

from worker.queries.labels import (
    VOCABULARIES,
    action_label,
    cause_label,
    event_label,
    intent_label,
    reason_label,
    stage_label,
    status_label,
)


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_every_member_of_every_vocabulary_has_a_label(name: str) -> None:
    members, labels = VOCABULARIES[name]
    missing = [str(member) for member in members if not labels.get(member)]
    assert missing == [], f"add labels for these {name} values to worker/queries/labels.py"
    unknown = sorted(set(labels) - {str(member) for member in members})
    assert unknown == [], f"labels for values {name} no longer has"


def test_labels_read_as_decisions_and_reasons_not_codes() -> None:
    assert action_label("reclassify:bounce_hard") == "Mark as a hard bounce"
    assert action_label("enroll:ops-test") == "Enroll in ops-test"
    assert action_label("not-sent") == "It was not sent: send again"
    assert reason_label("hot_lead") == "Hot lead"
    assert reason_label("reply_ooo") == "Reply: out of office"
    assert intent_label("ooo") == "Out of office"
    assert stage_label("qualification") == "Qualification"
    assert status_label("needs_review") == "Needs review"
    assert event_label("resolution_undone") == "Resolution undone"


def test_a_code_no_table_knows_is_still_shown_readably() -> None:
    assert action_label("contact the lead") == "Contact the lead"
    assert reason_label("reply_something_new") == "Reply something new"
    assert stage_label("onboarding") == "Onboarding"
    assert action_label(None) == reason_label("") == ""


def test_a_cause_reads_in_words_and_a_rep_s_cause_is_left_as_written() -> None:
    assert cause_label("reply_question") == "Reply: question"  # a queue reason
    assert cause_label("ooo") == intent_label("ooo")  # a reply's intent
    assert cause_label("message_id") == "matched by Message-ID"
    assert cause_label("rep: rita") == "rep: rita"
    assert cause_label("due") == "due"
    assert cause_label(None) == ""
