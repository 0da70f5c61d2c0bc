"""Waits between touches: hours, calendar days and business days, in the lead's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from worker.authoring.schema import Wait
from worker.timing.waits import add_wait, lead_zone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2027, 1, 8, 15, 30, tzinfo=UTC)
SATURDAY = datetime(2027, 1, 9, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2027, 1, 10, 10, 0, tzinfo=UTC)


def test_hours_are_added_as_elapsed_time() -> None:
    assert add_wait(MONDAY, Wait(4, "hours")) == datetime(2027, 1, 4, 13, 0, tzinfo=UTC)
    assert add_wait(MONDAY, Wait(30, "hours")) == datetime(2027, 1, 5, 15, 0, tzinfo=UTC)


def test_calendar_days_include_weekends() -> None:
    assert add_wait(FRIDAY, Wait(1, "days")) == datetime(2027, 1, 9, 15, 30, tzinfo=UTC)
    assert add_wait(FRIDAY, Wait(3, "days")) == datetime(2027, 1, 11, 15, 30, tzinfo=UTC)


def test_zero_calendar_days_is_now() -> None:
    assert add_wait(SATURDAY, Wait(0, "days")) == SATURDAY


def test_one_business_day_after_friday_is_monday_same_time() -> None:
    assert add_wait(FRIDAY, Wait(1, "business_days")) == datetime(2027, 1, 11, 15, 30, tzinfo=UTC)


def test_zero_business_days_on_saturday_moves_to_monday() -> None:
    assert add_wait(SATURDAY, Wait(0, "business_days")) == datetime(2027, 1, 11, 10, 0, tzinfo=UTC)


def test_zero_business_days_on_a_weekday_is_now() -> None:
    assert add_wait(MONDAY, Wait(0, "business_days")) == MONDAY


@pytest.mark.parametrize(
    ("start", "amount", "expected_day"),
    [
        (MONDAY, 1, 5),  # Tue
        (MONDAY, 4, 8),  # Fri
        (MONDAY, 5, 11),  # next Mon
        (FRIDAY, 3, 13),  # Wed
        (SATURDAY, 1, 12),  # Tue: the weekend counts as Monday's start
        (SUNDAY, 2, 13),  # Wed
        (MONDAY, 10, 18),  # two whole weeks
    ],
)
def test_business_days_skip_weekends(start: datetime, amount: int, expected_day: int) -> None:
    due = add_wait(start, Wait(amount, "business_days"))
    assert due.date() == datetime(2027, 1, expected_day).date()
    assert due.weekday() < 5
    assert (due.hour, due.minute) == (start.hour, start.minute)


def test_business_days_use_the_leads_local_weekday() -> None:
    # Friday 23:30 UTC is already Saturday 00:30 in Berlin: the weekend is skipped there.
    friday_late = datetime(2027, 1, 8, 23, 30, tzinfo=UTC)
    due = add_wait(friday_late, Wait(1, "business_days"), BERLIN)
    assert due.astimezone(BERLIN) == datetime(2027, 1, 12, 0, 30, tzinfo=BERLIN)  # Tuesday
    # In UTC the same moment is Friday, so one business day is Monday.
    assert add_wait(friday_late, Wait(1, "business_days")) == datetime(
        2027, 1, 11, 23, 30, tzinfo=UTC
    )


def test_calendar_days_keep_local_wall_clock_across_spring_forward_in_berlin() -> None:
    # 2027-03-28: Berlin moves from CET (+01:00) to CEST (+02:00).
    start = datetime(2027, 3, 26, 9, 0, tzinfo=BERLIN)  # Friday 09:00 CET = 08:00 UTC
    due = add_wait(start.astimezone(UTC), Wait(3, "days"), BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 29, 9, 0)
    assert due == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST


def test_calendar_days_keep_local_wall_clock_across_fall_back_in_berlin() -> None:
    # 2027-10-31: Berlin moves from CEST (+02:00) back to CET (+01:00).
    start = datetime(2027, 10, 29, 9, 0, tzinfo=BERLIN)  # 07:00 UTC
    due = add_wait(start.astimezone(UTC), Wait(3, "days"), BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 11, 1, 9, 0)
    assert due == datetime(2027, 11, 1, 8, 0, tzinfo=UTC)


def test_business_days_keep_local_wall_clock_across_dst_in_berlin() -> None:
    start = datetime(2027, 3, 26, 9, 0, tzinfo=BERLIN)  # Friday
    due = add_wait(start.astimezone(UTC), Wait(1, "business_days"), BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 29, 9, 0)


def test_hours_are_elapsed_time_even_across_dst() -> None:
    start = datetime(2027, 3, 27, 12, 0, tzinfo=BERLIN).astimezone(UTC)
    due = add_wait(start, Wait(24, "hours"), BERLIN)
    assert due - start == datetime(2027, 1, 2) - datetime(2027, 1, 1)
    assert due.astimezone(BERLIN).hour == 13  # one hour "lost" to the clock change


def test_results_are_utc() -> None:
    due = add_wait(MONDAY, Wait(2, "days"), NEW_YORK)
    assert due.utcoffset() is not None
    assert due.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Europe/Berlin", BERLIN), (None, UTC), ("", UTC), ("Mars/Olympus", UTC)],
)
def test_lead_zone_falls_back_to_utc(name: str | None, expected: object) -> None:
    assert lead_zone(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 days", Wait(3, "days")),
        ("1 day", Wait(1, "days")),
        ("2 business days", Wait(2, "business_days")),
        ("1 business day", Wait(1, "business_days")),
        ("2  Business   Days", Wait(2, "business_days")),
        ("4 hours", Wait(4, "hours")),
        ("1 hour", Wait(1, "hours")),
        ("3d", Wait(3, "days")),
        ("2bd", Wait(2, "business_days")),
        ("4h", Wait(4, "hours")),
        (5, Wait(5, "days")),
    ],
)
def test_wait_text_is_parsed(text: str | int, expected: Wait) -> None:
    assert Wait.parse(text) == expected


@pytest.mark.parametrize("text", ["three days", "3 months", "-1 days", "", "3", "1.5 days"])
def test_bad_wait_text_is_rejected_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="2 business days"):
        Wait.parse(text)


def test_wait_prints_back_as_written() -> None:
    assert str(Wait(1, "business_days")) == "1 business day"
    assert str(Wait(3, "days")) == "3 days"
