"""Read a message without ever raising: parse bytes, decode headers, charsets and addresses."""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Iterable
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}")
_FALLBACKS = ("utf-8", "windows-1252")


def parse(raw: bytes) -> Message:
    """Parse raw bytes leniently (compat32: malformed headers stay strings, never raise)."""
    try:
        return message_from_bytes(raw, policy=compat32)
    except Exception:  # the parser is lenient, but a message must never stop us
        return Message()


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, else UTF-8, else Windows-1252, else Latin-1."""
    names = [charset.strip().strip('"').lower()] if charset else []
    for name in [*names, *_FALLBACKS]:
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def _unescape(text: str) -> str:
    """Undo surrogateescape (raw 8-bit bytes in headers) by reading them as UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8", "replace")


def header(message: Message, name: str) -> str:
    """One header as readable text (RFC 2047 decoded, whitespace folded), or ''."""
    try:
        value = message.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    text = _unescape(str(value))
    try:
        decoded = str(make_header(decode_header(text)))
    except Exception:
        try:
            decoded = "".join(
                decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk
                for chunk, charset in decode_header(text)
            )
        except Exception:
            decoded = text
    return " ".join(decoded.replace("\x00", " ").split())


def headers(message: Message, name: str) -> list[str]:
    """Every occurrence of a header, decoded."""
    try:
        values = message.get_all(name) or []
    except Exception:
        return []
    return [" ".join(_unescape(str(value)).split()) for value in values]


def addresses(values: Iterable[str]) -> list[str]:
    """Lowercased addresses found in address headers (display names dropped)."""
    found: list[str] = []
    try:
        pairs = getaddresses(list(values))
    except Exception:
        pairs = []
    for _name, raw in pairs:
        address = raw.strip().lower()
        if "@" in address and address not in found:
            found.append(address)
    return found


def sender(message: Message) -> str:
    """The From address, lowercased, or ''."""
    return address_of(header(message, "From"))


def address_of(from_header: str) -> str:
    """The address of a decoded From header (``header(message, "From")``), lowercased, or ''."""
    try:
        return parseaddr(from_header)[1].strip().lower()
    except Exception:
        return ""


def header_names(message: Message) -> frozenset[str] | None:
    """The lower-cased names of the headers ``message`` holds (None when they cannot be read):
    ``header`` of a name not among them is '' without a search."""
    try:
        return frozenset(name.lower() for name in message)
    except Exception:
        return None


def emails_in(text: str) -> list[str]:
    """Every address in free text, lowercased, in order, once each."""
    found: list[str] = []
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".'").lower()
        if address not in found:
            found.append(address)
    return found


def content_type(part: Message) -> str:
    """The part's media type, lowercased; text/plain when missing or broken."""
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def param(part: Message, name: str, header_name: str = "content-type") -> str | None:
    """A parameter of a header (charset, report-type, …) as a plain string, or None."""
    try:
        value = part.get_param(name, header=header_name)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value)


def payload_bytes(part: Message, limit: int) -> bytes:
    """The decoded body bytes of a non-multipart part, at most ``limit`` of them."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data[:limit]
    try:
        text = part.get_payload()
    except Exception:
        return b""
    if isinstance(text, str):
        return text[:limit].encode("utf-8", "surrogateescape")
    return b""


def part_text(part: Message, limit: int) -> str:
    """A text part decoded with its charset (fallbacks for unknown or lying charsets)."""
    return decode_bytes(payload_bytes(part, limit), param(part, "charset"))


def is_own(address: str, own: Collection[str]) -> bool:
    """True for one of our addresses, or an address at one of our domains (or subdomains)."""
    address = address.lower()
    domain = address.rpartition("@")[2]
    for raw in own:
        item = raw.strip().lower()
        if not item:
            continue
        if address == item or domain == item.lstrip("@"):
            return True
        if "@" not in item and domain.endswith("." + item.lstrip("@")):
            return True
    return False
