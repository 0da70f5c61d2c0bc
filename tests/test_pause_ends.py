"""A pause "until a day" ends at 09:00 that day in the zone of the rep who paused."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from worker.errors import FieldError
from worker.working.pause_ends import pause_end

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_day_is_nine_in_the_morning_in_the_reps_zone() -> None:
    end = pause_end("2027-03-01", BERLIN)
    assert end is not None
    assert end.astimezone(UTC) == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # CET is UTC+1
    summer = pause_end("2027-07-01", BERLIN)
    assert summer is not None
    assert summer.astimezone(UTC).hour == 7


def test_a_time_keeps_its_offset_and_a_bare_time_is_read_in_the_zone() -> None:
    assert pause_end("2027-03-01T15:30Z", BERLIN) == datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
    bare = pause_end("2027-03-01T15:30", BERLIN)
    assert bare is not None
    assert bare.astimezone(UTC) == datetime(2027, 3, 1, 14, 30, tzinfo=UTC)
    assert pause_end("  ") is None


@pytest.mark.parametrize("text", ["next monday", "2027-13-01", "01.03.2027"])
def test_anything_else_names_the_field(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        pause_end(text, field="until")
    assert caught.value.field == "until"
    assert text in str(caught.value)
