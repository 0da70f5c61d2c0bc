"""Ingest inbound mail: store every message raw first, then match it (``outreach inbox ingest``,
``outreach inbox fetch``, and the start of ``outreach run``)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import OutreachError
from worker.inbound.imap import ImapFetch, fetch_imap, is_imap_url
from worker.inbound.inboxes import FetchReport, InboxResult, configured_inboxes
from worker.inbound.processing import mark_failed, process_many, process_stored
from worker.inbound.sources import RawMessage, read_source, store_many, stored_maildir_sources
from worker.runtime import Runtime
from worker.store.models import InboundMessage
from worker.vocabulary import InboundStatus

log = logging.getLogger(__name__)
BATCH = 100  # messages per transaction, storing and processing


@dataclass
class IngestReport:
    """What one ingestion did."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            **dict(sorted(self.statuses.items())),
        }


def ingest(runtime: Runtime, path: str, stdin: BinaryIO | None = None) -> IngestReport:
    """Store each message of ``path`` or IMAP URL (its own transaction), then match what is new."""
    report = IngestReport()
    store_from(runtime, path, stdin, report)
    report.statuses.update(match_pending(runtime))
    return report


def store_from(
    runtime: Runtime, source: str, stdin: BinaryIO | None = None, report: IngestReport | None = None
) -> IngestReport:
    """Store every new message of a path, ``file://`` URL or IMAP URL; counts go to ``report``."""
    report = report if report is not None else IngestReport()
    if is_imap_url(source):
        fetched = ImapFetch()
        try:
            fetch_imap(runtime.sessions, runtime.clock, source, fetched)
        finally:
            report.read += fetched.read
            report.stored += fetched.stored
            report.duplicates += fetched.duplicates
        return report
    if source.startswith("file://"):
        source = unquote(urlsplit(source).path)
    stored: set[str] = set()
    if source != "-" and Path(source).is_dir():
        with runtime.sessions() as session:
            stored = stored_maildir_sources(session, source)
    batch: list[RawMessage] = []
    for raw in read_source(source, stdin, stored):
        report.read += 1
        batch.append(raw)
        if len(batch) == BATCH:
            _store_batch(runtime, batch, report)
            batch = []
    if batch:
        _store_batch(runtime, batch, report)
    return report


def _store_batch(runtime: Runtime, batch: list[RawMessage], report: IngestReport) -> None:
    """Store ``batch`` in one transaction. Nothing is lost if it fails: a file, folder, maildir
    or mbox keeps every message, and a re-run stores what did not commit."""
    with runtime.sessions.begin() as session:
        stored = store_many(session, batch, runtime.clock.now())
    report.stored += stored
    report.duplicates += len(batch) - stored


def fetch_inboxes(runtime: Runtime) -> FetchReport:
    """Read every configured inbox, then match what is new once.

    An inbox that fails is reported with its error and the others are still read; with no
    inbox configured nothing is read or matched.
    """
    report = FetchReport()
    for source in configured_inboxes(runtime):
        result = InboxResult(source, error=source.error)
        report.inboxes.append(result)
        if source.url is None:
            continue
        counts = IngestReport()
        try:
            store_from(runtime, source.url, None, counts)
        except OutreachError as exc:
            result.error = str(exc)
            log.warning("inbox %s: %s", source.name, exc)
        result.read = counts.read
        result.stored = counts.stored
        result.duplicates = counts.duplicates
    if report.inboxes:
        report.statuses.update(match_pending(runtime))
    return report


def match_pending(runtime: Runtime) -> Counter[str]:
    """Match, classify and act on every stored message not processed yet (also those a crash
    left behind); count outcomes by intent or status.

    ``BATCH`` messages share a transaction; when any of them fails, that batch is rolled back
    and its messages are processed one by one, each in its own transaction, so one bad message
    is set aside (``failed``, in the review queue) and never stops the rest.
    """
    with runtime.sessions() as session:
        pending = list(
            session.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.status == InboundStatus.STORED)
                .order_by(InboundMessage.id)
            )
        )
    statuses: Counter[str] = Counter()
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        outcomes: Sequence[str | None]
        try:
            with runtime.sessions.begin() as session:
                outcomes = _process_batch(session, runtime, chunk)
        except Exception as exc:
            log.warning("inbound batch failed (%s); processing its messages one by one", exc)
            outcomes = [_process_alone(runtime, inbound_id) for inbound_id in chunk]
        statuses.update(outcome for outcome in outcomes if outcome is not None)
    return statuses


def _process_batch(session: Session, runtime: Runtime, chunk: list[int]) -> list[str]:
    """Process the messages of ``chunk`` still stored (another process may have taken some),
    read in one query and locked until the transaction ends."""
    query = (
        select(InboundMessage)
        .where(InboundMessage.id.in_(chunk), InboundMessage.status == InboundStatus.STORED)
        .order_by(InboundMessage.id)
        .with_for_update()
    )
    return process_many(session, runtime, session.scalars(query).all())


def _process(session: Session, runtime: Runtime, inbound_id: int) -> str | None:
    """Process one stored message in ``session``; None when another process took it."""
    inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
    if inbound is None or inbound.status != InboundStatus.STORED:
        return None
    return process_stored(session, runtime, inbound, runtime.clock.now())


def _process_alone(runtime: Runtime, inbound_id: int) -> str | None:
    """Process one message in its own transaction; a failure marks it ``failed``."""
    try:
        with runtime.sessions.begin() as session:
            return _process(session, runtime, inbound_id)
    except Exception as exc:
        log.exception("inbound %r could not be processed", inbound_id)
        with runtime.sessions.begin() as session:
            mark_failed(session, runtime, inbound_id, runtime.clock.now(), exc)
        return InboundStatus.FAILED
