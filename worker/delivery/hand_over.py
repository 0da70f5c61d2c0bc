"""The last check before a hand-over, and the record of the one before it, in one commit.

Just before its hand-over each touch moves ``claimed`` → ``sending`` on its own, in one
conditional UPDATE that re-checks everything a reply, pause, stop or suppression could have
changed since the chunk was claimed. The same commit moves the touch this thread handed over
just before to ``delivered`` (the server accepted it). A crash therefore leaves at most the
touch in flight in doubt, and recording an acceptance costs no round trip of its own.

This runs once per message, so it runs on one connection held for the whole chunk, with the
statements compiled once (``store.prepared``): on SQLite one ``BEGIN IMMEDIATE`` … ``COMMIT``
(WAL, ``synchronous=NORMAL``: durable against any crash of the process; see
docs/operations.md for power loss), on PostgreSQL one statement in autocommit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, bindparam, or_, select

from worker.leads.addresses import suppression_keys
from worker.runtime import Runtime
from worker.store.db import driver_write_transaction
from worker.store.models import Enrollment, Lead, Suppression, Touch
from worker.store.prepared import PreparedStatement
from worker.vocabulary import EnrollmentStatus, LeadStatus, TouchStatus

_touches: Table = Touch.__table__  # type: ignore[assignment]
_leads: Table = Lead.__table__  # type: ignore[assignment]
_enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
_suppressions: Table = Suppression.__table__  # type: ignore[assignment]

ENROLLMENT_AT_STEP = (
    select(_enrollments.c.id)
    .where(
        _enrollments.c.id == bindparam("eid"),
        _enrollments.c.status == EnrollmentStatus.ACTIVE,
        _enrollments.c.current_step == bindparam("step"),
    )
    .exists()
)
# In the move to ``sending`` (correlated with the touch): the enrollment still runs the
# sequence version the touch was rendered from (a change applied since moved it on).
SAME_VERSION = (
    select(_enrollments.c.id)
    .where(
        _enrollments.c.id == bindparam("eid"),
        or_(
            _touches.c.version.is_(None),
            _enrollments.c.version.is_(None),
            _enrollments.c.version == _touches.c.version,
        ),
    )
    .exists()
)
NOT_SUPPRESSED = ~(
    select(_suppressions.c.id)
    .where(
        _suppressions.c.value.in_(
            (bindparam("email"), bindparam("domain"), bindparam("at_domain"), bindparam("erased"))
        )
    )
    .exists()
)
LEAD_ACTIVE = (
    select(_leads.c.id)
    .where(_leads.c.id == bindparam("lid"), _leads.c.status == LeadStatus.ACTIVE)
    .exists()
)
# A touch whose claim is still ours (``claimed``, not yet handed over).
OURS = (
    _touches.c.id == bindparam("tid"),
    _touches.c.claim_token == bindparam("token"),
    _touches.c.status == TouchStatus.CLAIMED,
)
_MARK_SENDING = (
    _touches.update()
    .where(*OURS, ENROLLMENT_AT_STEP, SAME_VERSION, LEAD_ACTIVE, NOT_SUPPRESSED)
    # The delivery lease (``delivery.recovery``) runs from the hand-over, not from the
    # chunk's claim: a touch late in a slow chunk is not "unknown" seconds after it went out.
    # The message as rendered is stamped here too: a touch in doubt always has its id.
    .values(
        status=TouchStatus.SENDING,
        claimed_at=bindparam("now"),
        message_id=bindparam("mid"),
        subject=bindparam("subj"),
        mailbox=bindparam("mbox"),
        variant=bindparam("var"),
        body_text=bindparam("body", type_=_touches.c.body_text.type),
    )
    .returning(_touches.c.id)
)
_CONFIRM = (
    _touches.update()
    .where(
        _touches.c.id == bindparam("confirm"),
        _touches.c.claim_token == bindparam("token"),
        _touches.c.status == TouchStatus.SENDING,
    )
    .values(status=TouchStatus.DELIVERED)
)
# PostgreSQL: a data-modifying CTE runs whether or not the outer statement reads it.
_MARK_SENDING_AND_CONFIRM = _MARK_SENDING.add_cte(_CONFIRM.cte("confirmed"))

MARK_SENDING = PreparedStatement(_MARK_SENDING)
MARK_SENDING_AND_CONFIRM = PreparedStatement(_MARK_SENDING_AND_CONFIRM)
CONFIRM = PreparedStatement(_CONFIRM)


def lead_params(enrollment_id: int, step_index: int, lead_id: int, email: str) -> dict[str, Any]:
    """What the re-check (``_MARK_SENDING``, and a skip's re-due) looks the lead up by."""
    address, domain, at_domain, erased = suppression_keys(email)
    return {
        "eid": enrollment_id,
        "step": step_index,
        "lid": lead_id,
        "email": address,
        "domain": domain,
        "at_domain": at_domain,
        "erased": erased,
    }


class HandOverMarks:
    """Marks on one connection: ``sending`` before each hand-over, ``delivered`` after."""

    def __init__(self, runtime: Runtime, conn: Connection, token: str) -> None:
        self._runtime = runtime
        self._engine = conn.engine
        self._dialect = conn.dialect
        self._postgres = conn.dialect.name == "postgresql"
        self._raw: Any = conn.connection.dbapi_connection
        self._token = token

    def sending(self, touch_id: int, checked: dict[str, Any], confirm: int | None = None) -> bool:
        """Move ``touch_id`` to ``sending`` if it is still ours and its lead may still be
        mailed, and ``confirm`` (when given) to ``delivered``; False when not to send.

        ``checked``: the re-check's and the stamp's values (``claiming.sending_params``).
        """
        params = {
            "tid": touch_id,
            "token": self._token,
            "now": self._runtime.clock.now(),
            "confirm": confirm,
            **checked,
        }
        if not self._postgres:
            return self._sqlite_transaction(params, confirm)
        statement = MARK_SENDING_AND_CONFIRM if confirm is not None else MARK_SENDING
        cursor = self._raw.cursor()
        try:  # autocommit: one statement, one round trip
            return statement.run(cursor, self._dialect, params).fetchone() is not None
        finally:
            cursor.close()

    def delivered(self, touch_id: int) -> None:
        """Record at once that the server accepted ``touch_id`` (no next send carries it)."""
        params = {"confirm": touch_id, "token": self._token}
        if self._postgres:
            cursor = self._raw.cursor()
            try:
                CONFIRM.run(cursor, self._dialect, params)
            finally:
                cursor.close()
            return
        with driver_write_transaction(self._engine, self._raw) as cursor:
            CONFIRM.run(cursor, self._dialect, params)

    def _sqlite_transaction(self, params: dict[str, Any], confirm: int | None) -> bool:
        with driver_write_transaction(self._engine, self._raw) as cursor:
            if confirm is not None:
                CONFIRM.run(cursor, self._dialect, params)
            return MARK_SENDING.run(cursor, self._dialect, params).fetchone() is not None


@contextmanager
def hand_over_marks(runtime: Runtime, token: str) -> Iterator[HandOverMarks]:
    """A connection for the marks of one chunk (autocommit on PostgreSQL)."""
    with runtime.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")  # this connection only
        yield HandOverMarks(runtime, conn, token)


__all__ = [
    "ENROLLMENT_AT_STEP",
    "LEAD_ACTIVE",
    "NOT_SUPPRESSED",
    "OURS",
    "HandOverMarks",
    "hand_over_marks",
    "lead_params",
]
