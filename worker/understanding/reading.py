"""The words a person wrote in a message: the body as text, quotes and signatures stripped,
and the subject when it is their own (``Unsubscribe``) or the body holds nothing of theirs."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from worker.understanding.body import Body, extract_body
from worker.understanding.headers import strip_reply_prefix
from worker.understanding.mime import header, parse
from worker.understanding.quotes import strip_quotes


@dataclass(frozen=True)
class Words:
    """The body as text (``full``), the person's part of it (``text``), and what is analysed."""

    body: Body
    full: str
    text: str
    analysed: str
    subject: str


def read_words(message: Message, subject: str | None = None) -> Words:
    """What the classifier and the reply model read of ``message``; ``subject``: its decoded
    Subject header when the caller has it already."""
    body = extract_body(message)
    text = strip_quotes(body.text)
    if subject is None:
        subject = header(message, "Subject")
    plain_subject = strip_reply_prefix(subject)
    # A subject of its own ("Unsubscribe", "Remove me") is part of what the person wrote; so is
    # a reply subject when the body holds no words of the person's (a phone reply typed into
    # the subject line: "Re: … - pls remove me").
    own_subject = plain_subject == subject or not text.strip()
    analysed = f"{plain_subject}\n{text}" if own_subject else text
    return Words(body, body.text, text, analysed, subject)


def person_words(*, raw: bytes | None = None, text: str | None = None) -> str:
    """The analysed words of a raw message, or of a reply text (signatures stripped)."""
    if text is not None:
        return strip_quotes(text)
    assert raw is not None
    return read_words(parse(raw)).analysed


__all__ = ["Words", "person_words", "read_words"]
