"""The readable body of a message: text/plain preferred, else HTML as text; no attachments."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from worker.understanding.html_text import html_to_text
from worker.understanding.mime import content_type, part_text

TEXT_LIMIT = 100_000  # characters analysed; the rest of a huge message is ignored
PART_LIMIT = 1_000_000  # bytes decoded per part
HTML_LIMIT = 400_000  # characters of HTML converted
MAX_PARTS = 200


@dataclass(frozen=True)
class Body:
    """The text to analyse and where it came from."""

    text: str
    source: str  # "plain", "html" or "none"
    truncated: bool = False


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        return disposition == "attachment" or (
            bool(part.get_filename()) and disposition != "inline"
        )
    except Exception:
        return True


def _text_parts(message: Message) -> list[Message]:
    """Inline text parts in order, not descending into attached messages (message/*)."""
    found: list[Message] = []
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        kind = content_type(part)
        try:
            multipart = part.is_multipart()
        except Exception:
            multipart = False
        if kind.startswith("message/"):
            continue
        if multipart:
            try:
                children = [child for child in part.get_payload() if isinstance(child, Message)]
            except Exception:
                children = []
            stack[:0] = children
            continue
        if kind in ("text/plain", "text/html") and not _is_attachment(part):
            found.append(part)
    return found


def _join(texts: list[str]) -> str:
    return "\n\n".join(text.strip("\n") for text in texts if text.strip())


def extract_body(message: Message) -> Body:
    """text/plain parts if any has text, else the HTML parts converted; capped at TEXT_LIMIT."""
    parts = _text_parts(message)
    plain = _join([part_text(p, PART_LIMIT) for p in parts if content_type(p) == "text/plain"])
    source = "plain"
    text = plain
    if not plain.strip():
        html = [part_text(p, PART_LIMIT) for p in parts if content_type(p) == "text/html"]
        text = _join([html_to_text(markup[:HTML_LIMIT]) for markup in html])
        source = "html" if text else "none"
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    truncated = len(text) > TEXT_LIMIT
    return Body(text=text[:TEXT_LIMIT], source=source, truncated=truncated)
