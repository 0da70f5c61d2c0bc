"""Settle "delivery unknown" items with evidence: their touch's Message-ID in the Sent folder.

Gmail, Microsoft 365 and most hosted mailboxes keep a copy of what was submitted over SMTP in
the account's Sent folder. For each open ``delivery_unknown`` item whose mailbox has an IMAP
inbox, the folder flagged ``\\Sent`` (RFC 6154; or ``?sent=FOLDER`` on the inbox URL) is
searched, read-only, for the touch's Message-ID:

- found: the item is resolved ``sent`` by ``sent-folder``, the evidence in its note;
- not found ``OUTREACH_SENT_GRACE_S`` after the attempt: the item's suggested action becomes
  ``not-sent``, with what was searched, for a rep to confirm (one by one or in bulk).

A mailbox without an IMAP inbox, or one whose server cannot be reached, is reported and left
for the next pass; nothing is ever resolved on a guess.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from imapclient.exceptions import IMAPClientError
from imapclient.imapclient import SENT
from sqlalchemy import select

from worker.errors import OutreachError
from worker.inbound.imap import connect, is_imap_url, parse_imap_url
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime
from worker.store.models import ReviewItem, Touch
from worker.vocabulary import ReviewAction, ReviewReason, TouchStatus

log = logging.getLogger(__name__)

BY = "sent-folder"


@dataclass(frozen=True)
class _Doubt:
    item_id: int
    touch_id: int
    message_id: str
    attempted_at: datetime | None


@dataclass
class SentFolderCheck:
    """What one pass found: items settled as sent, items now suggesting not-sent, mailboxes
    that could not be searched (with why)."""

    searched: int = 0
    settled_sent: list[int] = field(default_factory=list)
    suggested_not_sent: list[int] = field(default_factory=list)
    not_searched: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "searched": self.searched,
            "settled_sent": self.settled_sent,
            "suggested_not_sent": self.suggested_not_sent,
            "not_searched": self.not_searched,
        }


def check_sent_folders(runtime: Runtime) -> SentFolderCheck:
    """One pass over the open delivery-unknown items, mailbox by mailbox."""
    result = SentFolderCheck()
    by_mailbox = _open_doubts(runtime)
    for mailbox, doubts in sorted(by_mailbox.items()):
        url = _inbox_url(runtime, mailbox)
        if url is None or not is_imap_url(url):
            result.not_searched[mailbox] = "no IMAP inbox configured for this mailbox"
            continue
        try:
            _search_mailbox(runtime, mailbox, url, doubts, result)
        except (OutreachError, IMAPClientError, OSError) as exc:
            result.not_searched[mailbox] = str(exc)
            log.warning("sent folder of %s not searched: %s", mailbox, exc)
    if result.settled_sent or result.suggested_not_sent:
        log.info(
            "sent folders: %d searched, %d found (resolved as sent), %d not found",
            result.searched,
            len(result.settled_sent),
            len(result.suggested_not_sent),
            extra={"event": "sent_folder_check", **result.as_dict()},
        )
    return result


def _open_doubts(runtime: Runtime) -> dict[str, list[_Doubt]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(ReviewItem.id, Touch.id, Touch.message_id, Touch.mailbox, Touch.finished_at)
            .join(Touch, Touch.id == ReviewItem.touch_id)
            .where(
                ReviewItem.reason == ReviewReason.DELIVERY_UNKNOWN,
                ReviewItem.resolved_at.is_(None),
                Touch.status == TouchStatus.UNKNOWN,
                Touch.message_id.is_not(None),
            )
            .order_by(ReviewItem.id)
        )
        found: dict[str, list[_Doubt]] = defaultdict(list)
        for item_id, touch_id, message_id, mailbox, finished_at in rows:
            found[mailbox or ""].append(_Doubt(item_id, touch_id, message_id or "", finished_at))
    return dict(found)


def _inbox_url(runtime: Runtime, mailbox: str) -> str | None:
    try:
        return (
            runtime.mailboxes.inbox_url(mailbox, runtime.settings.environ)
            or runtime.settings.inbox_url
        )
    except OutreachError:  # an unset inbox_env variable: `outreach check` says so
        return runtime.settings.inbox_url


def _search_mailbox(
    runtime: Runtime, mailbox: str, text: str, doubts: list[_Doubt], result: SentFolderCheck
) -> None:
    url = parse_imap_url(text)
    with connect(url) as client:
        folder = url.sent_folder or client.find_special_folder(SENT)
        if not folder:
            result.not_searched[mailbox] = (
                f"{url.redacted}: no folder flagged \\Sent — name it with ?sent=FOLDER"
            )
            return
        client.select_folder(folder, readonly=True)
        for doubt in doubts:
            result.searched += 1
            uids = client.search(["HEADER", "Message-ID", doubt.message_id])
            _settle(runtime, mailbox, folder, doubt, uids, result)


def _settle(
    runtime: Runtime,
    mailbox: str,
    folder: str,
    doubt: _Doubt,
    uids: list[int],
    result: SentFolderCheck,
) -> None:
    now = runtime.clock.now()
    if uids:
        note = (
            f"found in the Sent folder {folder!r} of mailbox {mailbox} "
            f"(Message-ID {doubt.message_id}, UID {uids[0]}), checked {now:%Y-%m-%d %H:%M} UTC"
        )
        try:
            resolve_now(runtime, doubt.item_id, ReviewAction.SENT, note=note, by=BY)
        except OutreachError as exc:  # a rep resolved it meanwhile
            log.info("review item %s not settled from the sent folder: %s", doubt.item_id, exc)
            return
        result.settled_sent.append(doubt.item_id)
        log.info(
            "touch %s: found in the sent folder, recorded as sent",
            doubt.touch_id,
            extra={"touch_id": doubt.touch_id, "item_id": doubt.item_id, "event": "sent"},
        )
        return
    grace = timedelta(seconds=runtime.settings.sent_grace_s)
    if doubt.attempted_at is not None and now - doubt.attempted_at < grace:
        return  # the provider may still be filing it
    with runtime.sessions.begin() as session:
        item = session.get(ReviewItem, doubt.item_id)
        if item is None or item.resolved_at is not None:
            return
        item.suggested_action = ReviewAction.NOT_SENT
        evidence = (
            f"Not in the Sent folder {folder!r} of mailbox {mailbox} "
            f"(searched for {doubt.message_id} at {now:%Y-%m-%d %H:%M} UTC)."
        )
        base = (item.detail or "").split("\nNot in the Sent folder", 1)[0]
        item.detail = f"{base}\n{evidence}" if base else evidence
    result.suggested_not_sent.append(doubt.item_id)


__all__ = ["BY", "SentFolderCheck", "check_sent_folders"]
