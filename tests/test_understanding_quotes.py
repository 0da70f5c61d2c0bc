"""Quote and signature stripping: what the person wrote, for English and German mail clients."""

from __future__ import annotations

import pytest

from worker.understanding import classify
from worker.understanding.html_text import html_to_text
from worker.understanding.quotes import strip_quotes

FOOTER = "Not the right time? Unsubscribe: https://outreach.example/u/abc"


def mail(body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
    return (
        "From: Anna Berger <anna@client.test>\n"
        "To: Ada Fischer <ada@northwind.example>\n"
        "Subject: Re: Northwind for Client\n"
        "Date: Mon, 30 Nov 2026 10:00:00 +0100\n"
        f"Content-Type: {content_type}\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Sounds good!\n\nOn Mon, Nov 30, 2026 at 9:00 AM Ada Fischer <ada@northwind.example>"
            f" wrote:\n> Hi Anna,\n> {FOOTER}",
            "Sounds good!",
            id="gmail-english",
        ),
        pytest.param(
            "Sounds good!\n\nOn Mon, Nov 30, 2026 at 9:00 AM Ada Fischer <\n"
            f"ada@northwind.example> wrote:\n\n> {FOOTER}",
            "Sounds good!",
            id="attribution-wrapped-over-two-lines",
        ),
        pytest.param(
            "Klingt gut.\n\nAm 30.11.2026 um 09:00 schrieb Ada Fischer <ada@northwind.example>:\n"
            f"> {FOOTER}",
            "Klingt gut.",
            id="german-attribution",
        ),
        pytest.param(
            "Klingt gut.\n\nAm Mo., 30. Nov. 2026 um 09:00 Uhr schrieb Ada Fischer <\n"
            f"ada@northwind.example>:\n> {FOOTER}",
            "Klingt gut.",
            id="german-attribution-wrapped",
        ),
        pytest.param(
            "Not now.\n\n-----Original Message-----\nFrom: Ada\nSent: Monday\n" + FOOTER,
            "Not now.",
            id="outlook-original-message",
        ),
        pytest.param(
            "Nein danke.\n\n-----Ursprüngliche Nachricht-----\nVon: Ada\n" + FOOTER,
            "Nein danke.",
            id="outlook-german-original-message",
        ),
        pytest.param(
            "Let's talk.\n\nFrom: Ada Fischer <ada@northwind.example>\nSent: Monday, November"
            " 30, 2026 9:00 AM\nTo: Anna Berger\nSubject: Northwind\n\n" + FOOTER,
            "Let's talk.",
            id="outlook-header-block",
        ),
        pytest.param(
            "Gerne.\n\nVon: Ada Fischer <ada@northwind.example>\nGesendet: Montag, 30. November"
            " 2026 09:00\nAn: Anna Berger\nBetreff: Northwind\n\n" + FOOTER,
            "Gerne.",
            id="outlook-german-header-block",
        ),
        pytest.param(
            "Yes please.\n\n________________________________\nFrom: Ada\n" + FOOTER,
            "Yes please.",
            id="underscore-separator",
        ),
        pytest.param(
            f"Call me tomorrow.\n\nSent from my iPhone\n\n> {FOOTER}",
            "Call me tomorrow.",
            id="sent-from-my-iphone",
        ),
        pytest.param(
            f"Rufen Sie mich an.\n\nVon meinem iPhone gesendet\n\n{FOOTER}",
            "Rufen Sie mich an.",
            id="von-meinem-iphone-gesendet",
        ),
        pytest.param(
            "Please send a calendar invite.\n-- \nAnna Berger\nHead of Ops\n" + FOOTER,
            "Please send a calendar invite.",
            id="signature-delimiter",
        ),
        pytest.param(
            "Happy to chat on Tuesday.\n\nBest regards,\nAnna Berger\nHead of Operations\n"
            "Client GmbH | +49 30 1234",
            "Happy to chat on Tuesday.",
            id="best-regards-closing",
        ),
        pytest.param(
            "Kein Bedarf.\n\nMit freundlichen Grüßen\n\nAnna Berger\nClient GmbH",
            "Kein Bedarf.",
            id="mit-freundlichen-gruessen",
        ),
        pytest.param("Passt mir.\n\nLG\nAnna", "Passt mir.", id="lg"),
        pytest.param("Kein Interesse.\n\nMfG\nA. Berger", "Kein Interesse.", id="mfg"),
        pytest.param("Klingt gut.\n\nViele Grüße aus Berlin\nAnna", "Klingt gut.", id="vg-aus"),
        pytest.param("Not interested.\n\nCheers, Anna", "Not interested.", id="cheers-name"),
    ],
)
def test_quoted_history_and_signatures_are_stripped(text: str, expected: str) -> None:
    assert strip_quotes(text) == expected


def test_inline_replies_keep_the_persons_own_lines_between_quotes() -> None:
    text = (
        "On Mon, Nov 30, 2026 at 9:00 AM Ada <ada@northwind.example> wrote:\n"
        "> Would a call next week work?\n"
        "Yes, Tuesday works.\n"
        "> What do you use today?\n"
        "Spreadsheets.\n"
    )
    assert strip_quotes(text) == "Yes, Tuesday works.\nSpreadsheets."


def test_a_thanks_opening_is_not_mistaken_for_a_closing() -> None:
    assert strip_quotes("Thanks!\n\nNot interested.") == "Thanks!\n\nNot interested."
    assert (
        strip_quotes("Hi Ada,\n\nThanks,\nnot interested.") == "Hi Ada,\n\nThanks,\nnot interested."
    )


def test_a_quoted_unsubscribe_footer_does_not_make_the_reply_an_unsubscribe() -> None:
    found = classify(
        mail(
            "Sounds good, let's talk on Tuesday.\n\n"
            "On Mon, Nov 30, 2026 at 9:00 AM Ada <ada@northwind.example> wrote:\n"
            f"> Hi Anna, would a short call help?\n> {FOOTER}\n"
        )
    )
    assert found.intent == "positive"
    assert "unsubscribe" not in found.text.lower()


def test_an_outlook_quote_without_markers_hides_the_footer_too() -> None:
    found = classify(
        mail(
            "Can you tell me more about pricing?\n\nFrom: Ada Fischer\nSent: Monday\n"
            f"To: Anna\nSubject: Northwind\n\nHi Anna,\n{FOOTER}\n"
        )
    )
    assert found.intent != "unsubscribe"
    assert found.text == "Can you tell me more about pricing?"


def test_html_blockquote_and_gmail_quote_are_quoted_history() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>var x=1;</script></head><body>"
        "<div dir='ltr'>Sounds good,<br>let's talk.</div>"
        "<div class='gmail_quote'><div class='gmail_attr'>On Mon, Nov 30, 2026 Ada wrote:</div>"
        f"<blockquote class='gmail_quote'><p>Hi Anna</p><p>{FOOTER}</p></blockquote></div>"
        "</body></html>"
    )
    text = html_to_text(html)
    assert "color:red" not in text
    assert "var x" not in text
    assert text.startswith("Sounds good,\nlet's talk.")
    assert f"> {FOOTER}" in text
    assert strip_quotes(text) == "Sounds good,\nlet's talk."


def test_outlook_html_reply_is_cut_at_div_rply_fwd_msg() -> None:
    html = (
        "<div>Kein Interesse, danke.</div><div id='appendonsend'></div><hr>"
        "<div id='divRplyFwdMsg'><b>Von:</b> Ada<br><b>Gesendet:</b> Montag</div>"
        f"<div><p>Hallo Anna,</p><p>{FOOTER}</p></div>"
    )
    found = classify(mail(html, "text/html; charset=utf-8"))
    assert found.text == "Kein Interesse, danke."
    assert found.intent == "negative"
    assert "HTML-only message, read as text" in found.reasons


def test_html_paragraphs_and_divs_become_lines() -> None:
    text = html_to_text("<p>One</p><p>Two &amp; three</p><div>Four<br/>Five</div>")
    assert text.split("\n") == ["One", "Two & three", "Four", "Five"]
