"""A reply a rep writes to a lead in the app: sent at most once, through the same gates.

Each reply is a row of ``manual_replies`` claimed by its form's idempotency key (a random
token rendered into the form, or the command line's ``--key``): the first request inserts it,
every later one with the same key — a double-submitted form, a retried request, a second rep
pressing send at once — finds it taken and sends nothing. Its states, like a touch's:

``claimed`` → gates: the lead may still be mailed (the one suppression rule, not unsubscribed
or bounced) and its mailbox has room (``mailboxes.capacity.reserve``: pauses, daily limits,
spacing, as delivery reserves) → ``sending`` (one conditional UPDATE re-checking the
suppression list, committed before the hand-over) → the mailbox's transport (SMTP, outbox
folder, console) → ``sent``, with a ``reply_sent`` event carrying the text as sent on the
lead's timeline. A gate that says no leaves it ``refused`` and a refusal by the server
``failed``: nothing went out, and the same form may try again. A hand-over whose result is
unknown, or a process that stopped after it, leaves it ``unknown`` (``settle_stale``, run
by every batch, scheduler tick and reply): flagged for a rep, never sent again.

After the send the lead's sequences stop, pause (until a date) or keep running, as the rep
chose; a reply from a review item resolves the item with the note "replied".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum, unique
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from worker.delivery.hand_over import NOT_SUPPRESSED, lead_params
from worker.delivery.rendering import lead_fields
from worker.errors import (
    DeliveryUnknownError,
    NotFoundError,
    OutreachError,
    PermanentDeliveryError,
    RefusedError,
    TemporaryDeliveryError,
)
from worker.inbound.reactions import ReplyPolicy
from worker.leads.addresses import domain_of, suppressed_values
from worker.leads.enrollment import BLOCKING_LEAD_STATUSES
from worker.leads.flags import flag
from worker.leads.locales import lead_language
from worker.mailboxes.capacity import count_uncounted_sends, reserve
from worker.review.resolutions import resolve
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Lead, ManualReply, ReviewItem
from worker.transports.local import OutboxTransport
from worker.transports.message import BuiltMessage
from worker.vocabulary import EventKind, LeadStatus, ReviewAction, ReviewReason
from worker.working import lead_actions
from worker.working.reply_threads import (
    Answered,
    answered_message,
    build_reply,
    reply_mailbox,
    with_signature,
)

log = logging.getLogger(__name__)

# The web app takes request bodies up to 10 kB: room for this many characters of any script.
MAX_BODY_CHARS = 4_000
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
_replies: Table = ManualReply.__table__  # type: ignore[assignment]


@unique
class ReplyStatus(StrEnum):
    """Where one reply stands (``ManualReply.status``)."""

    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    REFUSED = "refused"
    FAILED = "failed"
    UNKNOWN = "unknown"


@unique
class Then(StrEnum):
    """What happens to the lead's sequences once the reply went out."""

    STOP = "stop"
    PAUSE = "pause"
    CONTINUE = "continue"


RETRYABLE = (ReplyStatus.REFUSED, ReplyStatus.FAILED)


@dataclass(frozen=True)
class ReplyRequest:
    """A rep's reply as submitted: the form's key, the lead, the text, what comes after."""

    key: str
    lead_id: int
    body: str
    by: str
    then: Then = Then.STOP
    until: datetime | None = None
    item_id: int | None = None


@dataclass(frozen=True)
class Draft:
    """The reply as it would go out (nothing stored): for a preview and a confirmation."""

    lead_email: str
    mailbox: str
    sender: str
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ReplyResult:
    """What became of a reply: its row, status and message; ``already``: an earlier request
    with the same key did the work (nothing was sent now); ``notes``: what happened after
    the send (the item resolved, the sequence stopped or paused, or why not)."""

    reply_id: int
    status: str
    lead_email: str
    mailbox: str | None = None
    subject: str | None = None
    message_id: str | None = None
    already: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class ReplyRefusedError(OutreachError):
    """Raised when a gate or the mail server refused a reply; nothing was sent, and the same
    form may be sent again once the cause is gone."""


def draft_reply(runtime: Runtime, lead_id: int, body: str, item_id: int | None = None) -> Draft:
    """The reply to ``lead_id`` with ``body`` as it would be sent now; nothing is stored."""
    _check_body(body)
    with runtime.sessions() as session:
        lead, answered, built, mailbox = _prepare(session, runtime, lead_id, item_id, body)
    return Draft(
        lead_email=lead.email,
        mailbox=mailbox,
        sender=built.sender,
        subject=built.subject,
        in_reply_to=answered.message_id,
        references=(*answered.references, answered.message_id),
        text=built.text or "",
    )


def send_reply(runtime: Runtime, request: ReplyRequest) -> ReplyResult:
    """Send the reply at most once per key (see the module); ReplyRefusedError when a gate
    or the server refused it, OutreachError for a request that cannot be a reply."""
    _check_request(runtime, request)
    settle_stale(runtime)
    now = runtime.clock.now()
    reply_id = _claim(runtime, request, now)
    if reply_id is None:
        return _earlier(runtime, request)
    try:
        with runtime.sessions() as session:
            lead, answered, built, mailbox = _prepare(
                session, runtime, request.lead_id, request.item_id, request.body
            )
            email = lead.email
            if lead.status in BLOCKING_LEAD_STATUSES or suppressed_values(session, [email]):
                raise ReplyRefusedError(
                    f"{email} is {_blocked_word(lead.status)} — the reply was not sent "
                    "(nothing goes to an address on the suppression list)."
                )
        postponed = reserve(runtime, mailbox, domain_of(email), now)
        if postponed is not None:
            raise ReplyRefusedError(
                f"Not sent: {postponed.reason}. {_when_again(postponed.reason, mailbox)}"
            )
    except Exception as exc:  # nothing was handed over: the same form may try again
        _finish(runtime, reply_id, ReplyStatus.REFUSED, str(exc))
        raise
    if not _mark_sending(runtime, reply_id, built, answered, mailbox, email):
        error = f"{email} was put on the suppression list meanwhile — the reply was not sent."
        _finish(runtime, reply_id, ReplyStatus.REFUSED, error)
        raise ReplyRefusedError(error)
    problem = _hand_over(runtime, reply_id, mailbox, built)
    if problem is not None:
        return problem
    return _record_sent(runtime, request, reply_id, built, mailbox, email)


# --- checks ---------------------------------------------------------------------------------


def _check_body(body: str) -> None:
    if not body.strip():
        raise OutreachError("The reply is empty — write the text to send.")
    if len(body) > MAX_BODY_CHARS:
        raise OutreachError(
            f"The reply is {len(body):,} characters long; at most {MAX_BODY_CHARS:,} can be sent."
        )


def _check_request(runtime: Runtime, request: ReplyRequest) -> None:
    if not _KEY.match(request.key):
        raise OutreachError(
            "The reply's key must be 8 to 100 letters, digits, '-' or '_' — reload the page "
            "to get a fresh form."
        )
    _check_body(request.body)
    if request.then == Then.PAUSE and request.until is not None:
        if request.until <= runtime.clock.now():
            raise OutreachError("The pause must end in the future — pick a later date.")
    elif request.until is not None:
        raise OutreachError("A date goes only with 'pause until'.")


def _blocked_word(status: str) -> str:
    if status == LeadStatus.UNSUBSCRIBED:
        return "unsubscribed"
    if status == LeadStatus.BOUNCED:
        return "bounced"
    return "on the suppression list"


def _when_again(reason: str, mailbox: str) -> str:
    if "paused" in reason:
        return f"Resume it ('outreach mailboxes resume {mailbox}'), then send again."
    return "Send it again later; the form keeps the text."


def _prepare(
    session: Session, runtime: Runtime, lead_id: int, item_id: int | None, body: str
) -> tuple[Lead, Answered, BuiltMessage, str]:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFoundError(f"No lead with id {lead_id}.")
    item = session.get(ReviewItem, item_id) if item_id is not None else None
    if item_id is not None and (item is None or item.lead_id != lead.id):
        raise NotFoundError(f"Review item {item_id} is not about {lead.email}.")
    answered = answered_message(session, lead, item)
    if answered is None:
        raise OutreachError(
            f"{lead.email} has not written and has not been sent any email yet — there is "
            "no thread to reply in."
        )
    mailbox = reply_mailbox(session, runtime, lead, answered)
    text = with_signature(body, mailbox, _language(lead))
    built = build_reply(mailbox, lead, answered, text, runtime.clock.now())
    session.expunge(lead)
    return lead, answered, built, mailbox.name


def _language(lead: Lead) -> str:
    try:
        return lead_language(lead_fields(lead))
    except ValueError:
        return "en"


# --- the ledger -----------------------------------------------------------------------------


def _claim(runtime: Runtime, request: ReplyRequest, now: datetime) -> int | None:
    """Insert the reply's row, or take back one a gate refused; None when the key is taken."""
    values = {
        "lead_id": request.lead_id,
        "item_id": request.item_id,
        "body": request.body,
        "then": request.then.value,
        "until": request.until,
        "by": request.by,
        "started_at": now,  # of the claim; of the hand-over once ``sending``
    }
    with runtime.sessions.begin() as session:
        conn = session.connection()
        inserted = conn.execute(
            dialect_insert(session, _replies)
            .values(key=request.key, status=ReplyStatus.CLAIMED, created_at=now, **values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(_replies.c.id)
        ).first()
        if inserted is not None:
            return int(inserted.id)
        retried = conn.execute(
            _replies.update()
            .where(
                _replies.c.key == request.key,
                _replies.c.lead_id == request.lead_id,
                _replies.c.status.in_(RETRYABLE),
            )
            .values(status=ReplyStatus.CLAIMED, error=None, **values)
            .returning(_replies.c.id)
        ).first()
        return int(retried.id) if retried is not None else None


def _earlier(runtime: Runtime, request: ReplyRequest) -> ReplyResult:
    """The result of the request that took the key first (nothing is sent again)."""
    with runtime.sessions() as session:
        row = session.scalar(select(ManualReply).where(ManualReply.key == request.key))
        if row is None or row.lead_id != request.lead_id:
            raise OutreachError(
                "This reply form was already used — reload the page and write again."
            )
        lead = session.get(Lead, row.lead_id)
        return ReplyResult(
            reply_id=row.id,
            status=row.status,
            lead_email=lead.email if lead is not None else "",
            mailbox=row.mailbox,
            subject=row.subject,
            message_id=row.message_id,
            already=True,
            error=row.error,
        )


_MARK_SENDING = (
    _replies.update()
    .where(
        _replies.c.id == bindparam("rid"),
        _replies.c.status == ReplyStatus.CLAIMED,
        NOT_SUPPRESSED,
    )
    .values(
        status=ReplyStatus.SENDING,
        started_at=bindparam("now"),
        mailbox=bindparam("mbox"),
        message_id=bindparam("mid"),
        in_reply_to=bindparam("irt"),
        inbound_id=bindparam("inbound"),
        subject=bindparam("subj"),
        body=bindparam("text", type_=_replies.c.body.type),
    )
    .returning(_replies.c.id)
)


def _mark_sending(
    runtime: Runtime,
    reply_id: int,
    built: BuiltMessage,
    answered: Answered,
    mailbox: str,
    email: str,
) -> bool:
    """Move the claimed reply to ``sending`` if its address is still not suppressed; the
    message as built is stamped with it and committed before the hand-over."""
    keys = lead_params(0, 0, 0, email)  # the suppression re-check's parameters
    with runtime.sessions.begin() as session:
        row = (
            session.connection()
            .execute(
                _MARK_SENDING,
                {
                    **{k: v for k, v in keys.items() if k not in ("eid", "step", "lid")},
                    "rid": reply_id,
                    "now": runtime.clock.now(),
                    "mbox": mailbox,
                    "mid": built.message_id,
                    "irt": answered.message_id,
                    "inbound": answered.inbound_id,
                    "subj": built.subject,
                    "text": built.text,
                },
            )
            .first()
        )
    return row is not None


def _finish(runtime: Runtime, reply_id: int, status: ReplyStatus, error: str) -> None:
    with runtime.sessions.begin() as session:
        session.connection().execute(
            _replies.update()
            .where(_replies.c.id == reply_id, _replies.c.status.in_(_OPEN))
            .values(status=status, error=error)
        )


_OPEN = (ReplyStatus.CLAIMED, ReplyStatus.SENDING)


# --- hand-over and record -------------------------------------------------------------------


def _hand_over(
    runtime: Runtime, reply_id: int, mailbox: str, built: BuiltMessage
) -> ReplyResult | None:
    """Hand the reply to its mailbox's transport; None when accepted. A refusal is raised
    (``ReplyRefusedError``: nothing went out); an unknown result settles it as ``unknown``."""
    try:
        transport = runtime.transport_for(mailbox)
        if isinstance(transport, OutboxTransport):  # its own file beside the touches'
            transport.write(built, f"reply-{reply_id:08d}")
        else:
            transport.send(built, reply_id)
    except (OutreachError, TemporaryDeliveryError, PermanentDeliveryError) as exc:
        if isinstance(exc, DeliveryUnknownError):
            return _unknown(runtime, reply_id, str(exc))
        error = f"Not sent: {exc}"
        _finish(runtime, reply_id, ReplyStatus.FAILED, error)
        raise ReplyRefusedError(error) from None
    except Exception as exc:  # a transport bug must not look like "not sent"
        log.exception("reply %r: transport crashed", reply_id)
        return _unknown(runtime, reply_id, f"{type(exc).__name__}: {exc}")
    return None


def _unknown(runtime: Runtime, reply_id: int, error: str) -> ReplyResult:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        rows = _settle_unknown(session, _replies.c.id == reply_id, now, error)
    row = rows[0] if rows else None
    with runtime.sessions() as session:
        reply = session.get(ManualReply, reply_id)
        lead = session.get(Lead, reply.lead_id) if reply is not None else None
        return ReplyResult(
            reply_id=reply_id,
            status=ReplyStatus.UNKNOWN if row is not None else (reply.status if reply else ""),
            lead_email=lead.email if lead is not None else "",
            mailbox=reply.mailbox if reply else None,
            subject=reply.subject if reply else None,
            message_id=reply.message_id if reply else None,
            error=error,
        )


def _settle_unknown(session: Session, which: Any, now: datetime, error: str) -> list[Any]:
    """Settle ``sending`` replies matched by ``which`` as ``unknown``: event and review item."""
    rows = list(
        session.connection().execute(
            _replies.update()
            .where(which, _replies.c.status == ReplyStatus.SENDING)
            .values(status=ReplyStatus.UNKNOWN, error=f"delivery unknown: {error}")
            .returning(_replies.c.id, _replies.c.lead_id, _replies.c.subject, _replies.c.by)
        )
    )
    for row in rows:
        events.record(
            session,
            EventKind.DELIVERY_UNKNOWN,
            at=now,
            lead_id=row.lead_id,
            cause="reply",
            reply=row.id,
            subject=row.subject,
            error=error,
        )
        flag(
            session,
            row.lead_id,
            ReviewReason.DELIVERY_UNKNOWN,
            at=now,
            detail=(
                f"the reply {row.subject!r} by {row.by or 'a rep'} was handed to the mail "
                f"server, but no answer was recorded ({error}); it may or may not have been "
                "sent — look in the mailbox's Sent folder before writing again"
            ),
        )
    return rows


def settle_stale(runtime: Runtime) -> list[int]:
    """Settle replies left ``sending`` longer than the delivery lease (their process
    stopped after the hand-over) as ``unknown``, and free those left ``claimed`` (stopped
    before it) for another try; the ids of the unknown ones."""
    now = runtime.clock.now()
    cutoff = now - timedelta(seconds=runtime.settings.delivery_lease_s)
    with runtime.sessions.begin() as session:
        rows = _settle_unknown(
            session,
            _replies.c.started_at < cutoff,
            now,
            "its sender stopped before the result was recorded",
        )
        # Claimed but never handed over (its process stopped): free for the same form again.
        session.connection().execute(
            _replies.update()
            .where(_replies.c.status == ReplyStatus.CLAIMED, _replies.c.started_at < cutoff)
            .values(status=ReplyStatus.REFUSED, error="interrupted before sending")
        )
    return [row.id for row in rows]


def _record_sent(
    runtime: Runtime,
    request: ReplyRequest,
    reply_id: int,
    built: BuiltMessage,
    mailbox: str,
    email: str,
) -> ReplyResult:
    """Record the accepted reply (timeline event), then apply the rep's choice."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        recorded = (
            session.connection()
            .execute(
                _replies.update()
                .where(_replies.c.id == reply_id, _replies.c.status == ReplyStatus.SENDING)
                .values(status=ReplyStatus.SENT, sent_at=now)
                .returning(_replies.c.id)
            )
            .first()
        )
        if recorded is not None:
            events.record(
                session,
                EventKind.REPLY_SENT,
                at=now,
                lead_id=request.lead_id,
                cause=f"rep: {request.by}",
                subject=built.subject,
                text=built.text,
                mailbox=mailbox,
                message_id=built.message_id,
                reply=reply_id,
            )
            count_uncounted_sends(runtime, session, {mailbox: 1}, now)
    notes = _after(runtime, request, now) if recorded is not None else []
    log.info("reply %r to %r sent from %r by %r", reply_id, email, mailbox, request.by)
    return ReplyResult(
        reply_id=reply_id,
        status=ReplyStatus.SENT,
        lead_email=email,
        mailbox=mailbox,
        subject=built.subject,
        message_id=built.message_id,
        notes=notes,
    )


# --- after the send -------------------------------------------------------------------------


def _after(runtime: Runtime, request: ReplyRequest, now: datetime) -> list[str]:
    """Resolve the item (when the reply came from one) and stop, pause or keep the sequences;
    what was done, as lines for the rep.

    The reply is recorded already: whatever fails here is returned as a note, never undone.
    """
    notes: list[str] = []
    try:
        with runtime.sessions.begin() as session:
            lead = session.get(Lead, request.lead_id)
            if lead is None:
                return notes
            if request.item_id is not None:
                notes += _resolve_item(runtime, session, request, now)
            done = apply_then(session, lead, request.then, request.until, at=now, by=request.by)
            if done:
                notes.append(done)
    except OutreachError as exc:
        notes.append(f"the sequence was not changed: {exc}")
    return notes


def _resolve_item(
    runtime: Runtime, session: Session, request: ReplyRequest, now: datetime
) -> list[str]:
    action = ReviewAction.STOP if request.then == Then.STOP else ReviewAction.RESUME
    assert request.item_id is not None
    try:
        with session.begin_nested():
            resolve(
                session,
                runtime.catalog,
                request.item_id,
                action,
                at=now,
                note=f"replied — by {request.by}",
                policy=ReplyPolicy.from_settings(runtime.settings),
                by=request.by,
            )
    except OutreachError as exc:
        return [f"review item {request.item_id} was not resolved: {exc}"]
    return [f"review item {request.item_id} resolved: replied"]


def apply_then(
    session: Session, lead: Lead, then: Then, until: datetime | None, *, at: datetime, by: str
) -> str | None:
    """Stop or pause the lead's sequences after a reply (``continue``: leave them), through
    the reps' lead actions; what was done, or None when nothing was."""
    if then == Then.CONTINUE:
        return None
    try:
        if then == Then.STOP:
            done = lead_actions.stop(session, lead, at=at, by=by, reason="replied")
        else:
            done = lead_actions.pause(session, lead, at=at, by=by, until=until)
    except RefusedError:  # in no sequence: nothing to stop or pause
        return None
    return done.message if done.changed else None


__all__ = [
    "MAX_BODY_CHARS",
    "Draft",
    "ReplyRefusedError",
    "ReplyRequest",
    "ReplyResult",
    "ReplyStatus",
    "Then",
    "apply_then",
    "draft_reply",
    "send_reply",
    "settle_stale",
]
