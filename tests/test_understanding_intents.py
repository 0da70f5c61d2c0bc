"""What a person wrote: intents from phrase tables (EN/DE), negation, mixes, referrals."""

from __future__ import annotations

import pytest

from worker.understanding import classify
from worker.understanding.language import detect_language

OURS = "ada@northwind.example"


def mail(body: str, *, subject: str = "Re: Northwind", cc: str = "") -> bytes:
    return (
        f"From: Anna Berger <anna@client.test>\nTo: Ada <{OURS}>\n"
        + (f"Cc: {cc}\n" if cc else "")
        + f"Subject: {subject}\nDate: Mon, 30 Nov 2026 10:00:00 +0100\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("Please unsubscribe me.", "unsubscribe"),
        ("Remove me from your list.", "unsubscribe"),
        ("Stop emailing me.", "unsubscribe"),
        ("Take me off your mailing list please.", "unsubscribe"),
        ("Do not contact me again.", "unsubscribe"),
        ("Bitte aus dem Verteiler nehmen.", "unsubscribe"),
        ("Bitte streichen Sie mich aus Ihrer Liste.", "unsubscribe"),
        ("Keine weiteren E-Mails bitte.", "unsubscribe"),
        ("Ich möchte mich abmelden.", "unsubscribe"),
        ("Not interested, thanks.", "negative"),
        ("No thanks.", "negative"),
        ("We already use Tableau for this.", "negative"),
        ("Not a fit for us right now.", "negative"),
        ("We have no budget this year.", "negative"),
        ("Kein Bedarf.", "negative"),
        ("Danke, kein Interesse.", "negative"),
        ("Das passt nicht zu uns.", "negative"),
        ("Wir haben bereits eine Lösung.", "negative"),
        ("Derzeit nicht, danke.", "negative"),
        ("Sounds good!", "positive"),
        ("Let's talk next week.", "positive"),
        ("Happy to chat — send me a calendar invite.", "positive"),
        ("I'm interested, please book a time with me.", "positive"),
        ("Klingt gut, lassen Sie uns sprechen.", "positive"),
        ("Gerne, Dienstag passt mir.", "positive"),
        ("How much does it cost?", "question"),
        ("Does it integrate with Salesforce?", "question"),
        ("Was kostet das?", "question"),
        ("Wie funktioniert die Anbindung an SAP?", "question"),
        ("Who else uses this?", "question"),
        ("Ok.", "unknown"),
    ],
)
def test_phrases_decide_the_intent(body: str, intent: str) -> None:
    found = classify(mail(body))
    assert found.intent == intent, found.reasons


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("Not interested.", "negative"),  # not "interested" → positive
        ("Kein Interesse.", "negative"),  # not "Interesse" → positive
        ("Das interessiert mich nicht.", "negative"),
        ("I don't want to unsubscribe, but what does it cost?", "question"),
        ("Sounds good, but not right now.", "negative"),
        ("Not interested. Why do you keep writing?", "negative"),
        ("Interested, but what does it cost?", "positive"),  # clear interest beats a question
        ("We are compiling a list of analytics vendors. Interested?", "question"),  # a pitch
        ("Interested. Does Thursday work?", "positive"),
        ("Gerne, aber was kostet das?", "question"),  # a mere hint does not
        ("Not interested, and please remove me from your list.", "unsubscribe"),
    ],
)
def test_negation_and_mixed_messages(body: str, intent: str) -> None:
    assert classify(mail(body)).intent == intent


def test_confidence_reflects_the_evidence() -> None:
    assert classify(mail("Not interested.")).confidence >= 0.85
    assert classify(mail("Ok.")).intent == "unknown"  # too little to act on: a rep reads it
    assert classify(mail("")).confidence <= 0.3


@pytest.mark.parametrize(
    "text",
    [
        "Under GDPR I ask you to delete all my personal data.",
        "Ich fordere die Löschung meiner Daten gemäß Art. 17 DSGVO.",
        "Woher haben Sie meine Daten? Bitte um Auskunft nach Art. 15 DSGVO.",
    ],
)
def test_a_data_protection_request_is_not_a_sales_signal_nor_an_unsubscribe(text: str) -> None:
    assert classify(mail(text)).intent == "data_request"


def test_a_referral_names_the_referred_address() -> None:
    found = classify(
        mail(
            "I'm not the right person — please reach out to my colleague Berta (berta@client.test)."
        )
    )
    assert found.intent == "referral"
    assert found.referral_email == "berta@client.test"


def test_a_german_referral() -> None:
    found = classify(mail("Zuständig ist Herr Weber, wenden Sie sich bitte an weber@client.test."))
    assert (found.intent, found.referral_email) == ("referral", "weber@client.test")


def test_a_referral_never_picks_our_own_or_the_senders_address_from_the_thread() -> None:
    body = (
        "You should talk to Berta about this: Berta.Klein@client.test\n\n"
        "Best,\nAnna\nanna@client.test\n\n"
        f"On Mon, Nov 30, 2026 Ada <{OURS}> wrote:\n> Write to {OURS} or sales@northwind.example\n"
    )
    found = classify(mail(body), own_addresses=[OURS, "northwind.example"])
    assert found.referral_email == "berta.klein@client.test"


def test_a_referral_without_an_address_in_the_text_takes_the_copied_in_person() -> None:
    found = classify(
        mail("Cc'ing my colleague Berta, who handles this.", cc="Berta <berta@client.test>"),
        own_addresses=[OURS],
    )
    assert (found.intent, found.referral_email) == ("referral", "berta@client.test")


def test_our_own_address_in_the_reply_is_never_a_referral() -> None:
    found = classify(
        mail(f"Please talk to my colleague at {OURS}."), own_addresses=["northwind.example"]
    )
    assert found.referral_email is None


def test_a_subject_of_its_own_counts_as_what_the_person_wrote() -> None:
    assert classify(mail("", subject="Unsubscribe")).intent == "unsubscribe"
    assert (
        classify(mail("Sounds good.", subject="Re: Unsubscribe from nothing")).intent == "positive"
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thanks, but we are not interested at the moment.", "en"),
        ("Vielen Dank, wir haben derzeit keinen Bedarf.", "de"),
        ("", None),
    ],
)
def test_language_from_common_words(text: str, language: str | None) -> None:
    assert detect_language(text) == language
    if text:
        assert classify(mail(text)).language == language


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("I was about to hit unsubscribe, but this is timely. Can we talk in January?", "positive"),
        ("Our unsubscribe rate is a problem too - can your tool help?", "question"),
        ("Don't send me the deck yet, let's talk first.", "positive"),
        ("Please don't send me any more emails. Talk to dana@client.test instead.", "unsubscribe"),
        ("Kein Interesse an einer Demo, aber gerne ein Angebot.", "positive"),
        ("Sounds good, but we have no budget this year.", "negative"),
    ],
)
def test_a_request_to_stop_wins_and_a_mere_mention_does_not_count(body: str, intent: str) -> None:
    assert classify(mail(body)).intent == intent


def test_referral_words_without_an_address_point_nowhere() -> None:
    found = classify(mail("Hallo Frau Fischer,\n\nich habe das mal intern weitergeleitet."))
    assert found.intent == "unknown"
    assert found.referral_email is None


def test_a_signature_address_is_not_a_referral_and_a_person_beats_a_role_address() -> None:
    signature = "Not interested.\n\nAnna\nClient GmbH\ninfo@client.test"
    assert classify(mail(signature)).intent == "negative"
    found = classify(
        mail("Please don't use support@client.test. The right person is Leo: leo@client.test.")
    )
    assert found.referral_email == "leo@client.test"


@pytest.mark.parametrize(
    ("subject", "body", "intent"),
    [
        (
            "Re: Pipeline review for Client GmbH - take me off this list pls",
            "Sent from my iPhone\n\n> On Mon, Ada wrote:\n> Hi Anna,\n> Unsubscribe: https://x.example/u/1",
            "unsubscribe",
        ),
        (
            "AW: Forecasting bei Client - gerne, Donnerstag 14 Uhr passt",
            "Von meinem iPhone gesendet\n\n> Am Montag schrieb Ada:\n> Hallo Anna,",
            "positive",
        ),
        # With words of its own in the body, a reply subject is ours and is not read.
        ("Re: Stop guessing your forecast", "Sounds good, let's talk on Tuesday.", "positive"),
    ],
)
def test_a_reply_typed_into_the_subject_line_is_read(subject: str, body: str, intent: str) -> None:
    assert classify(mail(body, subject=subject), own_addresses=(OURS,)).intent == intent
