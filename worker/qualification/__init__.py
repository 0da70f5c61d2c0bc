"""Sales acceptance (MQL → SQL): "Accept as SQL?" review items, opened when a lead's score
crosses ``sql_candidate`` or a scored lead replies positively, and a rep's answer to them —
accept (an SQL with an owner, on to consideration) or reject with a reason (back to nurture)."""

from worker.qualification.acceptance import PRIORITY, QUESTION, open_acceptance, open_item
from worker.qualification.answers import (
    INTERESTED,
    REJECT_REASONS,
    Acceptance,
    Rejection,
    acceptance,
    rejection,
)
from worker.qualification.decisions import NURTURE_SEQUENCE, SQL_STAGE, accept, reject

__all__ = [
    "INTERESTED",
    "NURTURE_SEQUENCE",
    "PRIORITY",
    "QUESTION",
    "REJECT_REASONS",
    "SQL_STAGE",
    "Acceptance",
    "Rejection",
    "accept",
    "acceptance",
    "open_acceptance",
    "open_item",
    "reject",
    "rejection",
]
