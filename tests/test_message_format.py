"""The wire format of built messages: CRLF lines within RFC 5322 limits, headers that decode
back to what the templates rendered, bodies that round-trip."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.mime.text import MIMEText

from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.templates import RenderedEmail
from worker.delivery.rendering import build_message, mime_bytes
from worker.store.models import Enrollment, Lead
from worker.transports.wire import WIRE_POLICY, plain_text_bytes, wire_bytes

MAILBOX = MailboxSpec(name="sales", address="ada@sender.example", display_name="Ada Fischer")


def _build(rendered: RenderedEmail, lead: Lead) -> bytes:
    built = build_message(
        rendered,
        lead=lead,
        mailbox=MAILBOX,
        enrollment=Enrollment(sequence="s", current_step=0),
        same_thread=False,
        sent_at=datetime(2027, 1, 4, 9, tzinfo=UTC),
        unsubscribe_url="https://outreach.example.test/u/1." + "a" * 32,
    )
    return built.data


def test_every_line_ends_in_crlf_and_stays_within_the_smtp_line_limit() -> None:
    long_line = "Wir optimieren Prognosen für Vertriebsteams " * 60
    data = _build(
        RenderedEmail(
            subject="Kurze Frage " * 20, text=long_line + "\n", html=f"<p>{long_line}</p>"
        ),
        Lead(email="jorg@brauhaus.test", first_name="Jörg", last_name="Müller"),
    )
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # no bare LF anywhere
    assert max(len(line) for line in lines) <= 998


def test_headers_and_bodies_decode_back_to_the_rendered_text() -> None:
    from email import message_from_bytes
    from email.policy import default

    text = "Hallo Jörg,\n\ndie Prognose für Q3 liegt bei 42.500 €.\n"
    data = _build(
        RenderedEmail(subject="Prognose für Brauhaus", text=text, html="<p>Hallo Jörg</p>"),
        Lead(email="jorg@brauhaus.test", first_name="Jörg", last_name="Müller"),
    )
    message = message_from_bytes(data, policy=default)
    assert message["Subject"] == "Prognose für Brauhaus"
    assert message["To"].addresses[0].display_name == "Jörg Müller"
    assert message["To"].addresses[0].addr_spec == "jorg@brauhaus.test"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n") == text
    assert "Hallo Jörg" in message.get_body(preferencelist=("html",)).get_content()


def test_the_fast_header_writer_writes_exactly_what_the_policy_would() -> None:
    """``wire_bytes`` skips the fold only where it changes nothing: same bytes, any header."""
    rng = random.Random(20261207)
    alphabet = "ab Z,;:\t<>@.=?\"'é-" + " " * 4
    values = [
        "",
        " leading",
        "trailing ",
        "two  spaces",
        "tab\there",
        "x" * 1200,
        "word " * 250,
        "=?utf-8?q?already_encoded?=",
        "Jörg Müller <jorg@brauhaus.test>",
    ]
    values += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))) for _ in range(400)
    ]
    for value in values:
        msg = MIMEText("body\n", "plain", "utf-8")
        msg["Subject"] = value
        msg["X-Long-Name-Of-A-Header"] = value
        assert wire_bytes(msg) == msg.as_bytes(policy=WIRE_POLICY), repr(value)


def test_a_plain_text_message_is_written_exactly_as_the_mime_classes_would() -> None:
    """``plain_text_bytes`` (every text-only touch) against ``MIMEText`` + the generator:
    the same bytes for any body and headers, so nothing a relay sees has changed."""
    rng = random.Random(20261208)
    pieces = ["Hallo Jörg", "=", " ", "\t", ".", "From me", "€", "😀", "x" * 90, "\n", "\r\n", "\r"]
    texts = ["", "\n", "one line", "trailing space \nand tab\t\n", ".\n..\n", "=3D=\n"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    for index, text in enumerate(texts):
        subject = rng.choice(["Kurze Frage", "Prognose für Q3 " * rng.randint(1, 9), ""])
        headers = [
            ("From", "Ada Fischer <ada@sender.example>"),
            ("To", "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@brauhaus.test>"),
            ("Subject", subject),
            ("Message-ID", f"<{index:024x}@sender.example>"),
        ]
        assert plain_text_bytes(headers, text) == mime_bytes(headers, text), repr(text)


def test_built_messages_are_the_same_whichever_writer_wrote_them() -> None:
    text = "Hallo Jörg,\n\ndie Prognose für Q3 liegt bei 42.500 €.\n" + "lang " * 40 + "\n"
    lead = Lead(email="jorg@brauhaus.test", first_name="Jörg", last_name="Müller")
    data = _build(RenderedEmail(subject="Prognose für Brauhaus", text=text, html=None), lead)
    head, _, _ = data.partition(b"\r\n\r\n")
    headers = [
        (name.decode(), value.decode())
        for name, _, value in (line.partition(b": ") for line in head.split(b"\r\n"))
    ][3:]  # after the three MIME headers
    assert data == mime_bytes(headers, text)
