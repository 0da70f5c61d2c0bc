"""``outreach send-test``: one step sent for real to an address you name, to see it in a
real inbox before any lead gets it.

It is rendered for the lead exactly as ``outreach preview`` shows it and handed to the
sequence's mailbox transport (SMTP, or the outbox folder), with three differences: it goes to
``--to`` instead of the lead, its subject starts with ``[TEST]``, and its unsubscribe link
belongs to no lead. Nothing is written to the database — no touch, no event — so it counts
against no mailbox limit and changes nothing for the lead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from worker.errors import OutreachError
from worker.leads.addresses import normalise_email
from worker.rehearsal.preview import preview_touch
from worker.runtime import Runtime
from worker.transports.local import OutboxTransport
from worker.transports.urls import redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestSend:
    """What was sent where."""

    to: str
    subject: str
    mailbox: str
    via: str


def send_test(
    runtime: Runtime,
    sequence: str,
    step: int,
    email: str,
    to: str,
    variant: str | None = None,
) -> TestSend:
    """Send step ``step`` (1-based) of ``sequence``, rendered for the lead ``email``, to ``to``."""
    try:
        address = normalise_email(to)
    except ValueError:
        raise OutreachError(
            f"--to {to.strip()!r} is not a valid email address — give the inbox the test "
            "should reach, e.g. --to you@example.com"
        ) from None
    spec = runtime.catalog.get(sequence)
    built = preview_touch(runtime, sequence, email, step, variant, test_to=address)
    mailbox = runtime.mailboxes.sender_for(spec.mailbox)
    url = runtime.mailboxes.transport_url(
        mailbox.name, runtime.settings.transport_url, runtime.settings.environ
    )
    transport = runtime.transport_for(mailbox.name)
    via = redact_url(url)
    if isinstance(transport, OutboxTransport):
        # its own file beside the touches' (named by touch id), never replacing an earlier one
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = transport.write(built, f"test-{stamp}")
        via = f"the outbox folder {transport.folder} (as {path.name})"
    else:
        transport.send(built, 0)  # the id names the message only in logs and outbox files
    log.info("test send of %r step %d for %r to %r via %s", sequence, step, email, address, via)
    return TestSend(address, built.subject, mailbox.name, via)


__all__ = ["TestSend", "send_test"]
