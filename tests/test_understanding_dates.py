"""Return dates: the first day someone says they are back, in every format we promise."""

from __future__ import annotations

from datetime import date

import pytest

from worker.understanding import classify, date_mentions
from worker.understanding.date_mentions import find_dates
from worker.understanding.return_dates import return_date

BASE = date(2026, 11, 30)  # a Monday


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # the date itself: back on / returning / from X back / ab X wieder / wieder am
        ("I will be back on Monday, December 7.", "en", date(2026, 12, 7)),
        ("Back December 7th.", "en", date(2026, 12, 7)),
        ("Returning 7 December 2026.", "en", date(2026, 12, 7)),
        ("I return on 2027-01-04.", "en", date(2027, 1, 4)),
        ("From Jan 4 I will be back in the office.", "en", date(2027, 1, 4)),
        ("I'll be back next Monday.", "en", date(2026, 12, 7)),
        ("Ab dem 04.01.2027 bin ich wieder erreichbar.", "de", date(2027, 1, 4)),
        ("Ab 7.12. wieder im Büro.", "de", date(2026, 12, 7)),
        ("Ich bin am Montag, den 7. Dezember wieder da.", "de", date(2026, 12, 7)),
        ("Wieder am 07.12.2026 erreichbar.", "de", date(2026, 12, 7)),
        # until X (not inclusive) → the first working day after X, but a Monday X is the day back
        ("I am out of the office until Monday, December 7.", "en", date(2026, 12, 7)),
        ("Ich bin bis 18. Dezember im Urlaub.", "de", date(2026, 12, 21)),
        ("Ich bin bis 16. Dezember im Urlaub.", "de", date(2026, 12, 17)),
        ("Ich bin bis zum 07.12.2026 nicht im Büro.", "de", date(2026, 12, 7)),
        ("Out of office from Dec 1 to Dec 7.", "en", date(2026, 12, 8)),  # a range: inclusive
        ("Out of office 12/28-1/4, back after that.", "en", date(2027, 1, 5)),
        # through X / inclusive → the first working day after X
        ("I am on annual leave through December 18.", "en", date(2026, 12, 21)),
        ("I am away until December 18 inclusive.", "en", date(2026, 12, 21)),
        ("On holiday from Dec 1 to Dec 7 inclusive.", "en", date(2026, 12, 8)),
        ("Ich bin bis einschließlich 18. Dezember abwesend.", "de", date(2026, 12, 21)),
        ("Abwesend bis inkl. 7.12.", "de", date(2026, 12, 8)),
        # a return mention beats an until mention
        ("Out until Dec 7 and back in the office on Dec 9.", "en", date(2026, 12, 9)),
        # no date at all
        ("I am on parental leave and will reply when I am back.", "en", None),
        # the start of an absence alone is not a return date
        ("Ich bin ab dem 18.12. nicht im Büro.", "de", None),
        # holidays and feast days: after one → the first working day after it
        ("Ich bin bis nach Ostern in Elternzeit.", "de", date(2027, 3, 29)),
        ("Nach Dreikönig bin ich wieder im Büro.", "de", date(2027, 1, 7)),
        ("Away over the holidays, back after St. Patrick\u2019s Day.", "en", date(2027, 3, 18)),
        ("I'm off for Thanksgiving and back in the office Monday.", "en", date(2026, 12, 7)),
        ("Closed for Christmas; back on Tuesday the fifth of January.", "en", date(2027, 1, 5)),
        # a weekday of a month, a German ordinal word, the end of a calendar week, "week 3"
        ("Back in the office on the first Monday in February.", "en", date(2027, 2, 1)),
        ("Ab dem zweiten Februar bin ich wieder für Sie da.", "de", date(2027, 2, 2)),
        ("Ich bin bis Ende KW 50 abwesend.", "de", date(2026, 12, 14)),
        ("On holiday and back in the office in week 3.", "en", date(2027, 1, 18)),
        ("On Christmas leave and back in the office in vecka 3.", "en", date(2027, 1, 18)),
        ("Juleferie: back in the office uge 2.", "en", date(2027, 1, 11)),
        # "we reopen on", and a "back" that belongs to the date after it
        ("We close on 24 December and reopen on Tuesday 29 December.", "en", date(2026, 12, 29)),
        ("Away from Fri 5 Feb and back in the office on Wed 10 Feb.", "en", date(2027, 2, 10)),
        # Swiss "bis und mit" is inclusive
        ("Ich bin bis und mit Montag, 4. Januar abwesend.", "de", date(2027, 1, 5)),
        # a month, a quarter, "next year" in the sentence that says when they are back
        ("On leave for February and back at my desk in March.", "en", date(2027, 3, 1)),
        ("In Elternzeit, ab dem zweiten Quartal 2027 wieder für Sie da.", "de", date(2027, 4, 1)),
    ],
)
def test_return_date_follows_the_labelling_convention(
    text: str, language: str, expected: date | None
) -> None:
    assert return_date(text, BASE, language) == expected


def test_a_date_without_a_year_already_past_means_next_year() -> None:
    assert return_date("Back on Jan 4.", date(2026, 12, 20)) == date(2027, 1, 4)
    assert return_date("Wieder da ab 4.1.", date(2026, 12, 20), "de") == date(2027, 1, 4)
    assert return_date("Back on Dec 21.", date(2026, 12, 20)) == date(2026, 12, 21)


def test_an_explicit_year_is_kept() -> None:
    assert return_date("Back on 7 December 2025.", BASE) == date(2025, 12, 7)


def test_slashed_dates_are_month_first_in_english_and_day_first_in_german() -> None:
    assert return_date("Back on 12/7.", BASE, "en") == date(2026, 12, 7)
    assert return_date("Ab 7/12 wieder da.", BASE, "de") == date(2026, 12, 7)


def test_relative_spans_are_read_with_dateparser() -> None:
    assert return_date("I'll be back in two weeks.", BASE, "en") == date(2026, 12, 14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monday, December 7", date(2026, 12, 7)),
        ("December 7th", date(2026, 12, 7)),
        ("7 December 2026", date(2026, 12, 7)),
        ("07.12.2026", date(2026, 12, 7)),
        ("7.12.", date(2026, 12, 7)),
        ("04.01.2027", date(2027, 1, 4)),
        ("18. Dezember", date(2026, 12, 18)),
        ("Montag, den 7. Dezember", date(2026, 12, 7)),
        ("2027-01-04", date(2027, 1, 4)),
        ("next Monday", date(2026, 12, 7)),
        ("nächsten Montag", date(2026, 12, 7)),
        ("Jan 4", date(2027, 1, 4)),
        ("tomorrow", date(2026, 12, 1)),
    ],
)
def test_every_promised_format_is_found(text: str, expected: date) -> None:
    mentions = find_dates(f"x {text} y", BASE, "de" if "." in text else "en")
    assert [m.day for m in mentions] == [expected]


def test_times_and_version_like_numbers_are_not_dates() -> None:
    assert find_dates("Call at 10:30 or 9.30 Uhr, 24/7 support", BASE) == []


def test_the_message_date_header_is_the_base_for_dates_without_a_year() -> None:
    raw = (
        b"From: Anna <anna@client.test>\nTo: ada@northwind.example\n"
        b"Subject: Automatic reply: Northwind\nAuto-Submitted: auto-replied\n"
        b"Date: Sun, 20 Dec 2026 08:00:00 +0100\n\n"
        b"I am out of the office until January 4 with limited access to email.\n"
    )
    found = classify(raw)
    assert found.intent == "ooo"
    assert found.return_date == date(2027, 1, 4)


def _every_pattern(text: str, base: date, language: str = "en") -> list[tuple[int, date, str]]:
    """``find_dates`` without its literal gate and hints: every pattern over the text."""
    text = date_mentions._ORDINAL_BEFORE.sub(lambda m: date_mentions._digits(m.group(1)), text)
    text = date_mentions._ORDINAL_AFTER.sub(
        lambda m: m.group(1) + date_mentions._digits(m.group(2)), text
    )
    found = []
    for kind, pattern in date_mentions.PATTERNS:
        for match in pattern.finditer(text):
            day = date_mentions._resolve(kind, match, base, language)
            if day is not None:
                found.append(date_mentions.DateMention(match.start(), match.end(), day, "", kind))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[date_mentions.DateMention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            if mention.end - mention.start > kept[-1].end - kept[-1].start:
                kept[-1] = mention
            continue
        kept.append(mention)
    return [(m.start, m.day, m.kind) for m in kept]


@pytest.mark.parametrize(
    "text",
    [
        "back on the second of February, or May third at the latest",
        "Ab dem 3. MÄRZ wieder da, spätestens Ostern 2027 (KW 14), sonst Ende KW 15.",
        "I return on Monday the 4th; until 12/01 see 24/7 support or call 030 1234.",
        "Be\u017fte Grü\u017fe, back on the second of May",  # long s: re folds it to s
        "D\u0131e Antwort: ab 5. Jänner, am 3.2. oder 4/2",  # dotless i: to i
        "nothing to see here, just words",
    ],
)
def test_skipping_patterns_a_text_cannot_match_changes_no_date_found(text: str) -> None:
    for language in ("en", "de"):
        mentions = find_dates(text, BASE, language)
        assert [(m.start, m.day, m.kind) for m in mentions] == _every_pattern(text, BASE, language)


def test_a_text_with_characters_re_folds_unlike_lower_is_read_by_every_pattern() -> None:
    gate = date_mentions._PATTERNS
    everything = frozenset(range(len(date_mentions.PATTERNS)))
    assert gate.possible("\u017fecond week") == everything
    assert gate.possible("İstanbul") == everything
    assert gate.possible("plain words") != everything
