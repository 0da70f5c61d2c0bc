"""A real IMAP server for the inbox tests: the dedicated Dovecot of ``scripts/services.sh``.

It listens on 127.0.0.1:10143; any user name logs in with the shared test password and gets
its own empty maildir, so every test uses a fresh user. A missing server fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from imapclient import IMAPClient

IMAP_HOST = "127.0.0.1"
IMAP_PORT = int(os.environ.get("TEST_IMAP_PORT", "10143"))
IMAP_PASSWORD = os.environ.get("TEST_IMAP_PASSWORD", "outreach-test")


@dataclass(frozen=True)
class ImapAccount:
    """One test user on the IMAP server."""

    user: str
    password: str = IMAP_PASSWORD
    host: str = IMAP_HOST
    port: int = IMAP_PORT

    def url(
        self,
        folder: str = "",
        *,
        scheme: str = "imap",
        password: str | None = None,
        port: int | None = None,
    ) -> str:
        """``imap://user:password@host:port/FOLDER`` with user and password percent-encoded."""
        secret = quote(self.password if password is None else password, safe="")
        path = f"/{quote(folder)}" if folder else ""
        return (
            f"{scheme}://{quote(self.user, safe='')}:{secret}@{self.host}:{port or self.port}{path}"
        )

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in client of this user."""
        with IMAPClient(self.host, port=self.port, ssl=False, timeout=10) as client:
            client.login(self.user, self.password)
            yield client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        """APPEND raw messages to ``folder`` (created when missing), without flags."""
        with self.client() as client:
            if folder != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            for data in messages:
                client.append(folder, data)

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """The flags of every message in ``folder``, by UID."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            return {
                int(uid): tuple(items[b"FLAGS"])
                for uid, items in client.fetch(client.search("ALL"), ["FLAGS"]).items()
            }

    def recreate(self, folder: str) -> None:
        """Delete and create ``folder`` again: a new UIDVALIDITY, messages to be appended anew."""
        with self.client() as client:
            client.delete_folder(folder)
            client.create_folder(folder)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def clear(self) -> None:
        """Remove every message and folder of this user (the maildir itself stays)."""
        with self.client() as client:
            for _, _, name in client.list_folders():
                if name != "INBOX":
                    with suppress(IMAPClient.Error):
                        client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()


def new_account() -> ImapAccount:
    """A fresh user; fails the test when the server is not running."""
    account = ImapAccount(user=f"t-{uuid.uuid4().hex[:12]}@example.test")
    try:
        with account.client():
            pass
    except OSError as exc:
        pytest.fail(
            f"IMAP server at {IMAP_HOST}:{IMAP_PORT} is not reachable ({exc}); "
            "run 'bash scripts/services.sh'"
        )
    return account


@pytest.fixture
def imap() -> Iterator[ImapAccount]:
    """A fresh IMAP user with an empty INBOX, cleared afterwards."""
    account = new_account()
    yield account
    with suppress(Exception):
        account.clear()


def message(
    n: int,
    *,
    sender: str = "someone@client.test",
    to: str = "ada.fischer@northwind-analytics.example",
    subject: str | None = None,
    body: str = "Thanks, noted.",
    in_reply_to: str | None = None,
    message_id: str | None = None,
) -> bytes:
    """A small inbound message with a unique Message-ID (``<m{n}-…@client.test>``)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject or f"Message {n}"
    msg["Message-ID"] = message_id or f"<m{n}-{uuid.uuid4().hex[:8]}@client.test>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes().replace(b"\n", b"\r\n")
