"""A "not now" reply's return date: the first day of the time it names (EN and DE)."""

from __future__ import annotations

from datetime import date

import pytest

from worker.understanding.deferrals import deferral_date

BASE = date(2026, 11, 16)  # a Monday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Try me again in March.", date(2027, 3, 1)),
        ("Melden Sie sich bitte im März wieder.", date(2027, 3, 1)),
        ("Anfang Februar gerne wieder.", date(2027, 2, 1)),
        ("After March things calm down.", date(2027, 4, 1)),
        ("Let's pick this up next quarter.", date(2027, 1, 1)),
        ("Bitte im nächsten Quartal noch einmal.", date(2027, 1, 1)),
        ("Budget opens in Q2.", date(2027, 4, 1)),
        ("Im 3. Quartal haben wir Luft.", date(2027, 7, 1)),
        ("Ab KW 12 bin ich wieder ansprechbar.", date(2027, 3, 22)),
        ("Maybe in the autumn.", date(2027, 9, 1)),
        ("Im Herbst wieder.", date(2027, 9, 1)),
        ("Next year, please.", date(2027, 1, 1)),
        ("Ask me again in two weeks.", date(2026, 11, 30)),
        ("In 3 Monaten wieder.", date(2027, 2, 16)),
        ("After the trade fair on 14 March we can talk.", date(2027, 3, 15)),
        ("Bis zum 10.12. bin ich voll, danach gerne.", date(2026, 12, 10)),
        # a feast day: the day after it; a calendar week: its Monday, whatever follows
        ("Melden Sie sich nach Ostern wieder.", date(2027, 3, 29)),
        ("Try me again after Waitangi Day.", date(2027, 2, 7)),
        ("Try me again after Kristi himmelfärd.", date(2027, 5, 7)),
        ("Try me again in uge 10.", date(2027, 3, 8)),
        ("Melden Sie sich in KW 10 wieder, dann ist das Budget durch.", date(2027, 3, 8)),
        # a month with its year; the start of next year
        ("Bitte kontaktieren Sie mich im Mai 2027 erneut.", date(2027, 5, 1)),
        ("Kommen Sie Anfang nächsten Jahres wieder auf mich zu.", date(2027, 1, 1)),
        # the asking sentence first: a feast day or a busy quarter elsewhere does not count
        ("Bis Silvester ist hier die Hölle los. Meld dich im Februar.", date(2027, 2, 1)),
        ("Q1 is a write-off. Q2 would be better. Drop me a line in April.", date(2027, 4, 1)),
        # "then" / "danach" point to the sentence before
        ("Next financial year, i.e. April onwards. Please connect with me then.", date(2027, 4, 1)),
        ("Bis zur Hausmesse am 18. März geht nichts. Danach gerne.", date(2027, 3, 19)),
        ("The board meets on the 9th of February. Chase me after that.", date(2027, 2, 10)),
    ],
)
def test_a_deferral_names_the_first_day_to_come_back(text: str, expected: date) -> None:
    assert deferral_date(text, BASE, "de" if " ich " in f" {text} " else "en") == expected


@pytest.mark.parametrize(
    "text", ["Not now, sorry.", "Nach der Messe gerne.", "We are busy.", "Später vielleicht."]
)
def test_a_deferral_without_a_time_gives_no_date(text: str) -> None:
    assert deferral_date(text, BASE, "en") is None


def test_a_month_already_begun_means_next_year() -> None:
    assert deferral_date("Try me in November.", BASE, "en") == date(2027, 11, 1)
