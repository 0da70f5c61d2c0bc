"""Bad input never raises: the worst case is "unknown" with a low confidence and a reason."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from email.message import EmailMessage, Message

import pytest

from worker.understanding import INTENTS, classify, classify_message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00\xff\xfe\x80garbage\r\n\r\n\xff", id="garbage-bytes"),
        pytest.param(b"just some text without any headers at all", id="no-headers"),
        pytest.param(b"From: \xff\xfe\nSubject: =?x-unknown?Q?=FF?=\n\nhi", id="broken-headers"),
        pytest.param(
            b"Content-Type: multipart/mixed; boundary=nope\n\n--other\n\nunterminated",
            id="broken-multipart",
        ),
        pytest.param(
            b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!notbase64@@",
            id="bad-base64",
        ),
        pytest.param(b"Date: not a date at all\nFrom: a@b.test\n\nhello", id="bad-date"),
        pytest.param(b"Date: Mon, 30 Nov 99999 10:00:00 +0100\n\nhello", id="absurd-date"),
    ],
)
def test_broken_messages_are_classified_without_raising(raw: bytes) -> None:
    found = classify(raw)
    assert found.intent in INTENTS
    assert 0.0 <= found.confidence <= 1.0
    assert found.as_json()["intent"] == found.intent


def test_a_message_without_text_says_so() -> None:
    found = classify(b"")
    assert found.intent == "unknown"
    assert found.confidence <= 0.3
    assert "no readable text" in found.reasons


@pytest.mark.parametrize("charset", ["x-unknown", "unknown-8bit", "utf-99", "base64"])
def test_unknown_charsets_fall_back_to_utf8_then_latin1(charset: str) -> None:
    body = "Kein Interesse, danke. Grüße".encode()
    raw = (
        b"From: anna@client.test\nSubject: Re: x\n"
        + f"Content-Type: text/plain; charset={charset}\n\n".encode()
        + body
    )
    found = classify(raw)
    assert found.intent == "negative"
    assert "Kein Interesse" in found.text
    latin = classify(raw.replace(body, "Kein Interesse, Grüße".encode("latin-1")))
    assert latin.intent == "negative"


def test_an_html_only_message_is_read_as_text() -> None:
    raw = (
        b"From: anna@client.test\nSubject: Re: x\nContent-Type: text/html; charset=utf-8\n\n"
        b"<html><body><p>Sounds <b>good</b>, let&#39;s talk!</p></body></html>"
    )
    found = classify(raw)
    assert found.intent == "positive"
    assert found.text == "Sounds good, let's talk!"


def test_attachments_are_skipped() -> None:
    message = EmailMessage()
    message["From"] = "anna@client.test"
    message["Subject"] = "Re: x"
    message.set_content("Not interested.")
    message.add_attachment(
        b"Sounds good, unsubscribe me", maintype="text", subtype="plain", filename="notes.txt"
    )
    message.add_attachment(b"%PDF-1.4 \x00\xff", maintype="application", subtype="pdf")
    found = classify(message.as_bytes())
    assert found.intent == "negative"
    assert "unsubscribe" not in found.text


def test_an_attachment_only_message_is_unknown() -> None:
    message = EmailMessage()
    message["From"] = "anna@client.test"
    message.add_attachment(b"\x89PNG\r\n", maintype="image", subtype="png", filename="a.png")
    found = classify(message.as_bytes())
    assert found.intent == "unknown"
    assert found.text == ""


def test_five_megabytes_of_text_are_read_quickly_and_capped() -> None:
    body = ("Lorem ipsum dolor sit amet, not a phrase of any kind. " * 100_000)[:5_000_000]
    raw = f"From: anna@client.test\nSubject: Re: x\n\nNot interested.\n{body}".encode()
    started = time.perf_counter()
    found = classify(raw)
    assert time.perf_counter() - started < 10
    assert found.intent == "negative"
    assert len(found.text) <= 100_000
    assert any("first 100000 characters" in reason for reason in found.reasons)


def test_a_long_line_without_breaks_does_not_hang_the_patterns() -> None:
    raw = b"From: a@b.test\n\n" + b"a" * 2_000_000 + b"?"
    started = time.perf_counter()
    classify(raw)
    assert time.perf_counter() - started < 10


def test_classify_message_accepts_a_message_built_in_code() -> None:
    message = Message()
    message["From"] = "anna@client.test"
    message.set_payload("Kein Bedarf.")
    assert classify_message(message).intent == "negative"


def test_a_message_that_breaks_while_being_read_is_unknown_with_a_reason() -> None:
    class Exploding(Message):
        def walk(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        def get_payload(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    found = classify_message(Exploding())
    assert found.intent == "unknown"
    assert found.confidence <= 0.3


def test_relative_dates_fall_back_to_received_at_then_now() -> None:
    raw = (
        b"From: anna@client.test\nSubject: Automatic reply: x\nAuto-Submitted: auto-replied\n\n"
        b"I am out of the office and back next Monday."
    )
    received = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
    assert classify(raw, received_at=received).return_date == date(2026, 12, 7)
    naive = datetime(2026, 12, 2, 12, 0)  # a Wednesday, naive means UTC
    assert classify(raw, received_at=naive).return_date == date(2026, 12, 7)
    assert classify(raw).return_date is not None
