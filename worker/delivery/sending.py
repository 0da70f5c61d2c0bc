"""Send touches: claim a chunk, hand each message over, record each acceptance at once.

Touch states: ``queued`` → ``claimed`` (the chunk, atomically) → ``sending`` (one touch, just
before its hand-over) → ``delivered`` (the server accepted it; written with the next touch's
move to ``sending``, so it costs no extra round trip) → ``sent`` (timeline and next step,
recorded in small batches); or ``skipped`` / ``failed`` / ``unknown``, or back to ``queued``
for a retry. A crash therefore leaves at most one touch per sending thread in doubt.

One bad touch never stops the others. A failure of one hand-over is recorded for that touch
alone (deferred, failed or unknown); the sends confirmed before it are recorded first.
"""

from __future__ import annotations

import logging
import uuid

from worker.delivery.claiming import (
    Outcome,
    Prepared,
    claim_and_prepare,
    postpone_claimed,
    release_unsent,
    sending_params,
    skip_claimed,
)
from worker.delivery.gates import first_postponement
from worker.delivery.hand_over import HandOverMarks, hand_over_marks
from worker.delivery.recording import deferred_or_failed, failed, record_sent, unknown
from worker.errors import (
    DeliveryUnknownError,
    OutreachError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from worker.mailboxes.capacity import paused_mailboxes
from worker.runtime import Runtime
from worker.transports.base import SenderRefusedError
from worker.vocabulary import ReviewReason

log = logging.getLogger(__name__)

CLAIM_CHUNK = 50
# Accepted sends are durable at once (``delivered``); their bookkeeping is written per chunk.
RECORD_EVERY = CLAIM_CHUNK


def send_touches(runtime: Runtime, touch_ids: list[int]) -> list[Outcome]:
    """Send each touch at most once, claiming them in chunks of ``CLAIM_CHUNK``."""
    outcomes: list[Outcome] = []
    for start in range(0, len(touch_ids), CLAIM_CHUNK):
        chunk = touch_ids[start : start + CLAIM_CHUNK]
        try:
            outcomes.extend(_send_chunk(runtime, chunk))
        except OutreachError as exc:
            log.error("touches %r: %s", chunk, exc)
            outcomes.extend(Outcome(touch_id, "error", str(exc)) for touch_id in chunk)
    return outcomes


def send_touch(runtime: Runtime, touch_id: int) -> Outcome:
    """Send one touch (see ``send_touches``)."""
    return send_touches(runtime, [touch_id])[0]


def _send_chunk(runtime: Runtime, touch_ids: list[int]) -> list[Outcome]:
    token = uuid.uuid4().hex
    prepared, outcomes = claim_and_prepare(runtime, touch_ids, token)
    confirmed: list[Prepared] = []
    started: set[int] = set()
    try:
        if prepared:
            with hand_over_marks(runtime, token) as marks:
                _hand_over_all(runtime, prepared, token, marks, outcomes, confirmed, started)
    finally:
        # Whatever happens, what the transport confirmed is recorded as sent, and what was
        # never handed over goes back to the queue.
        outcomes.extend(record_sent(runtime, token, confirmed))
        release_unsent(runtime, [p.touch_id for p in prepared if p.touch_id not in started], token)
    return outcomes


def _hand_over_all(
    runtime: Runtime,
    prepared: list[Prepared],
    token: str,
    marks: HandOverMarks,
    outcomes: list[Outcome],
    confirmed: list[Prepared],
    started: set[int],
) -> None:
    """Hand over each prepared touch in turn; ``confirmed`` keeps what awaits recording."""
    accepted: int | None = None  # handed over and accepted, not yet ``delivered`` in the ledger
    # Pauses as the chunk begins, read again after any failure (which may pause a mailbox).
    paused = paused_mailboxes(runtime)
    for item in prepared:
        started.add(item.touch_id)
        postponed = first_postponement(runtime, item, runtime.clock.now(), paused)
        if postponed is not None:
            if accepted is not None:
                marks.delivered(accepted)
                accepted = None
            until, reason = postponed.until, postponed.reason
            outcomes.append(postpone_claimed(runtime, item, token, until, reason))
            continue
        marked = marks.sending(item.touch_id, sending_params(item), confirm=accepted)
        accepted = None
        if not marked:
            outcomes.append(
                skip_claimed(
                    runtime, item, token, "lead, enrollment or suppression changed since claimed"
                )
            )
            continue
        problem = _hand_over(runtime, item, token)
        if problem is not None:
            outcomes.extend(record_sent(runtime, token, confirmed))
            confirmed.clear()
            outcomes.append(problem)
            paused = paused_mailboxes(runtime)
            continue
        confirmed.append(item)
        accepted = item.touch_id
        if len(confirmed) >= RECORD_EVERY:
            accepted = None
            outcomes.extend(record_sent(runtime, token, confirmed))
            confirmed.clear()


def _hand_over(runtime: Runtime, item: Prepared, token: str) -> Outcome | None:
    """Send one prepared message; None when the transport confirmed it, else the outcome.

    A problem of the sending mailbox (transport URL unset or invalid, login or sender address
    refused) defers
    the touch like a temporary refusal: nothing was handed over and the lead is not to blame.
    """
    touch_id = item.touch_id
    try:
        transport = runtime.transport_for(item.mailbox)
    except OutreachError as exc:  # e.g. the mailbox's transport URL is unset: nothing was sent
        log.error("touch %r: no transport for mailbox %r: %s", touch_id, item.mailbox, exc)
        return deferred_or_failed(runtime, touch_id, token, str(exc))
    try:
        transport.send(item.built, touch_id)
    except (TemporaryDeliveryError, SenderRefusedError) as exc:
        return deferred_or_failed(runtime, touch_id, token, str(exc))
    except PermanentDeliveryError as exc:
        return failed(runtime, touch_id, token, str(exc), reason=ReviewReason.DELIVERY_FAILED)
    except DeliveryUnknownError as exc:
        return unknown(runtime, touch_id, token, str(exc))
    except Exception as exc:  # a transport bug must not look like "not sent"
        log.exception("touch %r: transport crashed", touch_id)
        return unknown(runtime, touch_id, token, f"{type(exc).__name__}: {exc}")
    return None


__all__ = ["CLAIM_CHUNK", "RECORD_EVERY", "Outcome", "send_touch", "send_touches"]
