"""Ingest inbound mail: store every message raw first, then match it (``outreach inbox ingest``,
``outreach inbox fetch``, and the start of ``outreach run``)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from worker.errors import OutreachError
from worker.inbound.imap import ImapFetch, fetch_imap, is_imap_url
from worker.inbound.inboxes import FetchReport, InboxResult, configured_inboxes
from worker.inbound.processing import mark_failed, process_stored
from worker.inbound.sources import read_source, store, stored_maildir_sources
from worker.runtime import Runtime
from worker.store.models import InboundMessage
from worker.vocabulary import InboundStatus

log = logging.getLogger(__name__)


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
    for raw in read_source(source, stdin, stored):
        report.read += 1
        with runtime.sessions.begin() as session:
            inbound_id = store(session, raw, runtime.clock.now())
        if inbound_id is None:
            report.duplicates += 1
            continue
        report.stored += 1
    return report


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
    left behind); count outcomes by intent or status."""
    statuses: Counter[str] = Counter()
    with runtime.sessions() as session:
        pending = list(
            session.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.status == InboundStatus.STORED)
                .order_by(InboundMessage.id)
            )
        )
    for inbound_id in pending:
        try:
            with runtime.sessions.begin() as session:
                inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
                if inbound is None or inbound.status != InboundStatus.STORED:
                    continue
                statuses[process_stored(session, runtime, inbound, runtime.clock.now())] += 1
        except Exception as exc:  # one bad message never stops the rest
            log.exception("inbound %r could not be processed", inbound_id)
            with runtime.sessions.begin() as session:
                mark_failed(session, runtime, inbound_id, runtime.clock.now(), exc)
            statuses[InboundStatus.FAILED] += 1
    return statuses
