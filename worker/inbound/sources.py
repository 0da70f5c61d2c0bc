"""Inbound mail sources and raw storage: every message is stored before it is processed.

Sources: one ``.eml`` file, a folder of ``.eml`` files, a maildir, an mbox file, or one message
on standard input (for piping from an MTA). The same Message-ID twice is stored once; a
message without one is deduplicated by the hash of its bytes.
"""

from __future__ import annotations

import hashlib
import logging
import mailbox
import re
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import OutreachError
from worker.store.dialect import dialect_insert
from worker.store.models import InboundMessage
from worker.vocabulary import InboundStatus

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]+>")  # no control characters: stored as text
# A line break (CRLF, CR or LF, as the email parser splits lines) followed by an empty line:
# every such pair holds one of these, and each of these is one.
_EMPTY_LINE = (b"\n\n", b"\n\r", b"\r\r")


@dataclass(frozen=True)
class RawMessage:
    """Bytes of one message and where they came from."""

    source: str
    data: bytes


def read_source(
    path: str, stdin: BinaryIO | None = None, stored: Set[str] = frozenset()
) -> Iterator[RawMessage]:
    """Every message of ``path`` (``-`` for standard input).

    A maildir's messages whose source name is in ``stored`` are not read again: a maildir key
    names one message for as long as it is in the maildir, so a re-run reads only new mail.
    """
    if path == "-":
        if stdin is None:
            raise OutreachError("no standard input to read a message from")
        yield RawMessage("stdin", stdin.read())
        return
    target = Path(path)
    if not target.exists():
        raise OutreachError(
            f"{path}: no such file or folder — give an .eml file, a folder, a maildir or an mbox."
        )
    if target.is_dir():
        if all((target / sub).is_dir() for sub in ("cur", "new", "tmp")):
            box = mailbox.Maildir(str(target), factory=None, create=False)
            for key in sorted(box.iterkeys()):
                name = maildir_source(target, key)
                if name not in stored:
                    yield RawMessage(name, box.get_bytes(key))
            return
        for file in sorted(p for p in target.iterdir() if p.is_file() and p.suffix == ".eml"):
            yield RawMessage(str(file), file.read_bytes())
        return
    with target.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if not is_mbox:
        yield RawMessage(str(target), target.read_bytes())
        return
    box_file = mailbox.mbox(str(target), factory=None, create=False)
    for index, key in enumerate(box_file.iterkeys()):
        yield RawMessage(f"mbox:{target}#{index + 1}", box_file.get_bytes(key))


def maildir_source(folder: Path, key: str) -> str:
    """The source name a maildir message is stored under."""
    return f"maildir:{folder}/{key}"


def stored_maildir_sources(session: Session, path: str) -> set[str]:
    """The source names of the messages already stored from the maildir at ``path``."""
    prefix = maildir_source(Path(path), "")
    query = select(InboundMessage.source).where(
        InboundMessage.source.startswith(prefix, autoescape=True)
    )
    return set(session.scalars(query))


def header_block(data: bytes) -> bytes:
    """The start of ``data`` that holds its whole header block: up to its first empty line
    (a line break followed by one), else all of it. The parser reads no header past that
    line, so parsing this part gives the same headers as parsing everything."""
    ends = [found for found in map(data.find, _EMPTY_LINE) if found >= 0]
    return data[: min(ends) + 1] if ends else data


def header_message_id(data: bytes) -> str | None:
    """The message's own Message-ID (``<…>``), or None when it has none or it is malformed."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block(data))
        value = headers.get("Message-ID")
    except Exception:  # any parse trouble: dedupe by content instead
        return None
    if not value:
        return None
    found = _MESSAGE_ID.search(str(value))
    return found.group(0) if found else None


def dedupe_key(data: bytes) -> tuple[str, str | None]:
    """``("mid:<id>", id)`` when the message has a Message-ID, else a hash of its bytes."""
    message_id = header_message_id(data)
    if message_id:
        return f"mid:{message_id[:390]}", message_id
    return f"sha256:{hashlib.sha256(data).hexdigest()}", None


def store(session: Session, raw: RawMessage, at: datetime) -> int | None:
    """Store the raw message; return its id, or None when it was stored before.

    An empty message (an IMAP server that returned no body) is told apart by where it came
    from, so a second one is never taken for a duplicate of the first.
    """
    stmt = _insert(session).values(**_row(raw, at)).returning(InboundMessage.id)
    stored = session.scalar(stmt)
    return int(stored) if stored is not None else None


def store_many(session: Session, raws: Sequence[RawMessage], at: datetime) -> int:
    """Store the raw messages in one statement, in order; return how many were new (the
    others, and repeats within ``raws``, were stored before)."""
    if not raws:
        return 0
    # Core executemany: the statement compiles once (SQLAlchemy still sends the rows as one
    # multi-row INSERT), and the session has nothing to flush first.
    stmt = _insert(session).returning(InboundMessage.id)
    return len(session.connection().execute(stmt, [_row(raw, at) for raw in raws]).all())


def _insert(session: Session) -> Any:
    return dialect_insert(session, InboundMessage).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )


def _row(raw: RawMessage, at: datetime) -> dict[str, object]:
    key, message_id = dedupe_key(raw.data) if raw.data else (f"empty:{raw.source[:380]}", None)
    return {
        "dedupe_key": key,
        "message_id": message_id,
        "source": raw.source[:500],
        "received_at": at,
        "raw": raw.data,
        "size": len(raw.data),
        "status": InboundStatus.STORED,
    }
