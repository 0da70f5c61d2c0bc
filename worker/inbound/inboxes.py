"""The inboxes to read: ``OUTREACH_INBOX_URL`` and each sending mailbox's ``inbox_env``.

An inbox is an IMAP URL (``imap://``, ``imaps://``, ``imap+starttls://``) or a local path
(maildir, folder of ``.eml`` files, mbox). URLs hold passwords, so they live in the
environment only; ``mailboxes.yaml`` names the variable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.transports.urls import redact_url

DEFAULT_ENV = "OUTREACH_INBOX_URL"


@dataclass(frozen=True)
class InboxSource:
    """One configured inbox; ``error`` says why it cannot be read (e.g. its variable is unset)."""

    name: str
    env: str
    url: str | None = field(repr=False)
    error: str | None = None

    @property
    def shown(self) -> str:
        """The URL with its password redacted (or the variable, when it is unset)."""
        return redact_url(self.url) if self.url else f"${self.env}"


def configured_inboxes(runtime: Runtime, env: Mapping[str, str] | None = None) -> list[InboxSource]:
    """Every configured inbox, each URL once: the default first, then per mailbox.

    A mailbox whose ``inbox_env`` variable is unset is listed with its error, so the other
    inboxes are still read; an invalid ``mailboxes.yaml`` raises ConfigError.
    """
    env = runtime.settings.environ if env is None else env
    sources: list[InboxSource] = []
    if runtime.settings.inbox_url:
        sources.append(InboxSource("default", DEFAULT_ENV, runtime.settings.inbox_url))
    if runtime.settings.mailboxes_file.is_file():
        mailboxes = runtime.mailboxes
        for name, spec in sorted(mailboxes.by_name.items()):
            if not spec.inbox_env:
                continue
            try:
                url = mailboxes.inbox_url(name, env)
            except ConfigError as exc:
                sources.append(InboxSource(name, spec.inbox_env, None, str(exc)))
                continue
            sources.append(InboxSource(name, spec.inbox_env, url))
    seen: set[str] = set()
    unique: list[InboxSource] = []
    for source in sources:
        if source.url is not None and source.url in seen:
            continue
        if source.url is not None:
            seen.add(source.url)
        unique.append(source)
    return unique


@dataclass
class InboxResult:
    """What reading one inbox did; ``error`` when it could not be read (or only in part)."""

    source: InboxSource
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "inbox": self.source.name,
            "env": self.source.env,
            "url": self.source.shown,
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "error": self.error,
        }


@dataclass
class FetchReport:
    """What reading every configured inbox did, and how the new messages were processed."""

    inboxes: list[InboxResult] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> list[str]:
        """One line per inbox that failed, naming it."""
        return [f"inbox {r.source.name}: {r.error}" for r in self.inboxes if r.error]

    def as_dict(self) -> dict[str, Any]:
        return {
            "inboxes": [result.as_dict() for result in self.inboxes],
            "read": sum(r.read for r in self.inboxes),
            "stored": sum(r.stored for r in self.inboxes),
            "duplicates": sum(r.duplicates for r in self.inboxes),
            "failed": sum(1 for r in self.inboxes if r.error),
            "statuses": dict(sorted(self.statuses.items())),
        }
