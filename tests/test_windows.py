"""Send windows in the lead's time zone: openings, DST, public holidays, blackout dates, jitter,
business-day waits, and the send-time gate when a window closes in the middle of a batch.

The engine tests run on SQLite and on PostgreSQL with the example sequences *and* their
``schedule: business-hours`` (``copy_project(send_windows=True)``).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import REPO, copy_project
from worker.authoring.schedules import Schedules, ScheduleSpec, load_schedules
from worker.authoring.schema import Wait
from worker.clock import VirtualClock
from worker.delivery.gates import window_gate
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, Touch
from worker.timing.waits import add_wait
from worker.timing.windows import (
    business_days,
    current_window,
    due_at,
    is_open_day,
    jitter_offset,
    local_instant,
    next_opening,
)
from worker.transports.local import OutboxTransport
from worker.transports.message import BuiltMessage

BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SHIPPED = load_schedules(REPO / "schedules.yaml")
BUSINESS = ScheduleSpec.model_validate(
    {"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-12:00, 13:30-17:00"}
)
EVERY_DAY = ScheduleSpec.model_validate(
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "09:00-17:00"}
)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    """An aware UTC moment from local wall-clock parts (year, month, day, hour, minute, ...)."""
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def spec(**fields: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate(fields)


# --- next opening ------------------------------------------------------------------------


def test_a_moment_inside_the_window_is_its_own_opening() -> None:
    moment = local(BERLIN, 2027, 1, 4, 10, 17, 33)
    assert next_opening(moment, BUSINESS, BERLIN, "DE") == moment


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ((2027, 1, 4, 7, 0), (2027, 1, 4, 9, 0)),  # Monday before opening
        ((2027, 1, 4, 12, 0), (2027, 1, 4, 13, 30)),  # the lunch break: end is exclusive
        ((2027, 1, 4, 12, 45), (2027, 1, 4, 13, 30)),
        ((2027, 1, 4, 16, 59), (2027, 1, 4, 16, 59)),  # still open
        ((2027, 1, 4, 17, 0), (2027, 1, 5, 9, 0)),  # closed at 17:00 sharp
        ((2027, 1, 8, 17, 30), (2027, 1, 11, 9, 0)),  # Friday evening: Monday
        ((2027, 1, 9, 11, 0), (2027, 1, 11, 9, 0)),  # Saturday
    ],
)
def test_the_next_opening_is_in_the_leads_local_time(
    wall: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    opening = next_opening(local(BERLIN, *wall), BUSINESS, BERLIN, "DE")
    assert in_zone(opening, BERLIN) == datetime(*expected)  # type: ignore[misc]
    assert opening.tzinfo is UTC


def test_the_same_moment_opens_differently_for_leads_in_other_zones() -> None:
    monday_9_utc = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert next_opening(monday_9_utc, BUSINESS, BERLIN, "DE") == monday_9_utc  # 10:00 there
    new_york = next_opening(monday_9_utc, BUSINESS, NEW_YORK, "US")  # 04:00 there
    assert new_york == datetime(2027, 1, 4, 14, 0, tzinfo=UTC)


# --- daylight saving time ----------------------------------------------------------------


def test_berlin_spring_forward_keeps_nine_oclock_local() -> None:
    # 2026-03-29 (last Sunday of March): CET +01:00 → CEST +02:00.
    friday_evening = local(BERLIN, 2026, 3, 27, 17, 0)
    opening = next_opening(friday_evening, BUSINESS, BERLIN, "DE")
    assert opening == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert next_opening(local(BERLIN, 2026, 3, 26, 17, 0), BUSINESS, BERLIN, "DE") == datetime(
        2026, 3, 27, 8, 0, tzinfo=UTC
    )  # 09:00 CET, the Friday before


def test_a_time_skipped_by_spring_forward_opens_when_the_clocks_jump() -> None:
    night = spec(days=["sun"], hours="02:30-04:00")
    window = current_window(local(BERLIN, 2026, 3, 28, 12, 0), night, BERLIN, None)
    # 02:30 does not exist on 2026-03-29; the clocks jump from 02:00 CET to 03:00 CEST.
    assert window == (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 0, tzinfo=UTC),
    )
    assert local_instant(date(2026, 3, 29), 2 * 60 + 30, BERLIN) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


def test_a_time_that_happens_twice_on_fall_back_counts_its_first_occurrence() -> None:
    # 2026-10-25 (last Sunday of October): 03:00 CEST → 02:00 CET, so 02:30 happens twice.
    night = spec(days=["sun"], hours="02:30-03:30")
    opening, end = current_window(local(BERLIN, 2026, 10, 24, 12, 0), night, BERLIN, None)
    assert opening == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first one
    assert end == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # 03:30 CET
    assert end - opening == timedelta(hours=2)


def test_berlin_fall_back_keeps_nine_oclock_local() -> None:
    opening = next_opening(local(BERLIN, 2026, 10, 23, 17, 0), BUSINESS, BERLIN, "DE")
    assert opening == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET (was 07:00 UTC)


def test_new_york_changes_on_its_own_dates() -> None:
    # US clocks go forward on 2026-03-08 and back on 2026-11-01, weeks before/after Europe.
    assert next_opening(local(NEW_YORK, 2026, 3, 6, 17, 0), BUSINESS, NEW_YORK, "US") == datetime(
        2026, 3, 9, 13, 0, tzinfo=UTC
    )  # 09:00 EDT
    assert next_opening(local(NEW_YORK, 2026, 3, 5, 17, 0), BUSINESS, NEW_YORK, "US") == datetime(
        2026, 3, 6, 14, 0, tzinfo=UTC
    )  # 09:00 EST
    gap = spec(days=["sun"], hours="02:15-05:00")
    assert next_opening(local(NEW_YORK, 2026, 3, 7, 12, 0), gap, NEW_YORK, None) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )  # 03:00 EDT, the moment the clocks jump
    twice = spec(days=["sun"], hours="01:30-02:00")
    opening, end = current_window(local(NEW_YORK, 2026, 10, 31, 12, 0), twice, NEW_YORK, None)
    assert (opening, end) == (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first time
        datetime(2026, 11, 1, 7, 0, tzinfo=UTC),  # 02:00 EST
    )


# --- public holidays ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "day", "open_"),
    [
        ("DE", date(2026, 12, 24), True),  # not a public holiday in Germany
        ("DE", date(2026, 12, 25), False),
        ("DE", date(2026, 12, 26), False),
        ("DE", date(2027, 1, 1), False),
        ("DE", date(2026, 11, 26), True),
        ("GB", date(2026, 12, 26), False),  # Boxing Day (a Saturday)
        ("GB", date(2026, 12, 28), False),  # ... observed on the Monday
        ("GB", date(2025, 12, 26), False),  # Boxing Day on a Friday
        ("US", date(2026, 11, 26), False),  # Thanksgiving
        ("US", date(2026, 12, 26), True),
        (None, date(2026, 12, 25), True),  # no country, no holidays
    ],
)
def test_public_holidays_of_the_leads_country_are_closed(
    country: str | None, day: date, open_: bool
) -> None:
    assert is_open_day(day, EVERY_DAY, country) is open_


def test_a_german_lead_over_christmas_and_new_year() -> None:
    christmas_eve = local(BERLIN, 2026, 12, 24, 17, 0)
    # 25th and 26th are holidays, the 27th a Sunday: Monday 28th.
    assert in_zone(next_opening(christmas_eve, BUSINESS, BERLIN, "DE"), BERLIN) == datetime(
        2026, 12, 28, 9, 0
    )
    # Every day of the week, still not on the 25th or 26th.
    assert in_zone(next_opening(christmas_eve, EVERY_DAY, BERLIN, "DE"), BERLIN) == datetime(
        2026, 12, 27, 9, 0
    )
    new_years_eve = local(BERLIN, 2026, 12, 31, 17, 0)  # 1 January is a Friday
    assert in_zone(next_opening(new_years_eve, BUSINESS, BERLIN, "DE"), BERLIN) == datetime(
        2027, 1, 4, 9, 0
    )


def test_a_british_lead_skips_boxing_day() -> None:
    assert in_zone(
        next_opening(local(LONDON, 2025, 12, 24, 17, 0), BUSINESS, LONDON, "GB"), LONDON
    ) == datetime(2025, 12, 29, 9, 0)
    # 2026: Boxing Day is a Saturday and observed on Monday 28th.
    assert in_zone(
        next_opening(local(LONDON, 2026, 12, 24, 17, 0), BUSINESS, LONDON, "GB"), LONDON
    ) == datetime(2026, 12, 29, 9, 0)


def test_an_american_lead_gets_nothing_on_thanksgiving_a_german_one_does() -> None:
    wednesday = local(NEW_YORK, 2026, 11, 25, 17, 0)
    assert next_opening(wednesday, BUSINESS, NEW_YORK, "US") == datetime(
        2026, 11, 27, 14, 0, tzinfo=UTC
    )  # Friday 09:00 EST
    assert in_zone(
        next_opening(local(BERLIN, 2026, 11, 25, 17, 0), BUSINESS, BERLIN, "DE"), BERLIN
    ) == datetime(2026, 11, 26, 9, 0)
    ignores = spec(days=["thu"], hours="09:00-17:00", holidays=False)
    assert next_opening(wednesday, ignores, NEW_YORK, "US") == datetime(
        2026, 11, 26, 14, 0, tzinfo=UTC
    )


# --- blackout dates ----------------------------------------------------------------------


def test_a_blackout_range_closes_every_day_in_it() -> None:
    shipped = SHIPPED.get("business-hours")
    before = local(BERLIN, 2027, 7, 30, 17, 0)  # Friday before the summer shutdown
    assert in_zone(next_opening(before, shipped, BERLIN, "DE"), BERLIN).date() == date(2027, 8, 16)
    for day in (date(2027, 8, 2), date(2027, 8, 9), date(2027, 8, 13)):
        assert not is_open_day(day, shipped, "DE")
    assert is_open_day(date(2027, 8, 16), shipped, "DE")


def test_blackout_dates_apply_to_leads_of_every_country_and_none() -> None:
    shipped = SHIPPED.get("business-hours")
    # 2026-12-31 blacked out, 2027-01-01 a US holiday: Monday 4 January.
    eve = local(NEW_YORK, 2026, 12, 30, 17, 0)
    assert in_zone(next_opening(eve, shipped, NEW_YORK, "US"), NEW_YORK) == datetime(
        2027, 1, 4, 9, 0
    )
    assert not is_open_day(date(2026, 12, 24), shipped, None)
    assert is_open_day(date(2026, 12, 23), shipped, None)


# --- business-day waits ------------------------------------------------------------------


def test_business_day_waits_skip_the_leads_holidays_and_blackout_dates() -> None:
    shipped = SHIPPED.get("business-hours")
    tuesday = local(BERLIN, 2026, 12, 22, 10, 0)
    # 23rd counts; 24th blacked out; 25th, 26th holidays; 27th Sunday; 28th counts.
    due = add_wait(tuesday, Wait(2, "business_days"), BERLIN, business_days(shipped, "DE"))
    assert in_zone(due, BERLIN) == datetime(2026, 12, 28, 10, 0)
    # Without a calendar, business days are Monday to Friday as before.
    assert in_zone(add_wait(tuesday, Wait(2, "business_days"), BERLIN), BERLIN) == datetime(
        2026, 12, 24, 10, 0
    )
    wednesday = local(NEW_YORK, 2026, 11, 25, 10, 0)
    due = add_wait(wednesday, Wait(2, "business_days"), NEW_YORK, business_days(BUSINESS, "US"))
    assert in_zone(due, NEW_YORK) == datetime(2026, 11, 30, 10, 0)  # Fri 27th, Mon 30th


def test_a_business_day_wait_starting_on_a_holiday_counts_from_the_next_working_day() -> None:
    new_year = local(BERLIN, 2027, 1, 1, 11, 0)
    due = add_wait(new_year, Wait(0, "business_days"), BERLIN, business_days(BUSINESS, "DE"))
    assert in_zone(due, BERLIN) == datetime(2027, 1, 4, 11, 0)


def test_a_due_time_is_the_wait_then_the_window_then_the_jitter() -> None:
    kwargs: dict[str, Any] = {
        "timezone": "America/New_York",
        "country": "US",
        "sequence": "prospecting",
        "step_index": 1,
    }
    late = local(NEW_YORK, 2026, 11, 24, 18, 0)  # Tuesday after hours
    due = due_at(SHIPPED, "business-hours", late, Wait(1, "business_days"), lead_id=7, **kwargs)
    # One business day: Wednesday 18:00, closed, so Friday (Thursday is Thanksgiving) 09:00.
    assert datetime(2026, 11, 27, 9, 0) <= in_zone(due, NEW_YORK) < datetime(2026, 11, 27, 9, 20)
    # Without a schedule: the plain wait, as before.
    plain = due_at(SHIPPED, None, late, Wait(1, "business_days"), lead_id=7, **kwargs)
    assert in_zone(plain, NEW_YORK) == datetime(2026, 11, 25, 18, 0)
    # on_complete's grace period counts business days but needs no window.
    grace = due_at(
        SHIPPED, "business-hours", late, Wait(1, "business_days"), lead_id=7, sends=False, **kwargs
    )
    assert in_zone(grace, NEW_YORK) == datetime(2026, 11, 25, 18, 0)


def test_leads_without_a_time_zone_use_the_default_time_zone() -> None:
    assert SHIPPED.zone(None) == BERLIN
    assert SHIPPED.zone("Mars/Olympus") == BERLIN
    assert SHIPPED.zone("America/New_York") == NEW_YORK
    assert Schedules().zone(None) is UTC
    due = due_at(
        SHIPPED,
        "business-hours",
        datetime(2027, 1, 4, 6, 0, tzinfo=UTC),  # 07:00 in Berlin
        Wait(0, "days"),
        timezone=None,
        country=None,
        lead_id=1,
        sequence="prospecting",
        step_index=0,
    )
    assert datetime(2027, 1, 4, 9, 0) <= in_zone(due, BERLIN) < datetime(2027, 1, 4, 9, 20)


# --- jitter ------------------------------------------------------------------------------


def test_jitter_is_the_same_for_the_same_touch_and_spreads_a_batch() -> None:
    limit = timedelta(minutes=20)
    offsets = [jitter_offset(lead, "prospecting", 0, limit) for lead in range(200)]
    assert offsets == [jitter_offset(lead, "prospecting", 0, limit) for lead in range(200)]
    assert all(timedelta(0) <= offset < limit for offset in offsets)
    assert len(set(offsets)) > 150  # spread over the 20 minutes, not bunched
    assert max(offsets) > timedelta(minutes=18)
    assert min(offsets) < timedelta(minutes=2)
    assert jitter_offset(1, "prospecting", 1, limit) != jitter_offset(1, "prospecting", 2, limit)
    assert jitter_offset(1, "prospecting", 0, timedelta(0)) == timedelta(0)


def _due_for(lead_id: int, start: datetime) -> datetime:
    return due_at(
        SHIPPED,
        "business-hours",
        start,
        Wait(0, "days"),
        timezone="Europe/Berlin",
        country="DE",
        lead_id=lead_id,
        sequence="prospecting",
        step_index=0,
    )


def test_a_jittered_batch_stays_inside_the_window() -> None:
    dues = [_due_for(lead, local(BERLIN, 2027, 1, 4, 7, 0)) for lead in range(300)]
    walls = [in_zone(due, BERLIN) for due in dues]
    assert all(datetime(2027, 1, 4, 9, 0) <= wall < datetime(2027, 1, 4, 9, 20) for wall in walls)
    assert dues == [_due_for(lead, local(BERLIN, 2027, 1, 4, 7, 0)) for lead in range(300)]
    # Five minutes before the window closes, the jitter shrinks to fit.
    near_end = [
        in_zone(_due_for(lead, local(BERLIN, 2027, 1, 4, 16, 55)), BERLIN) for lead in range(300)
    ]
    assert all(
        datetime(2027, 1, 4, 16, 55) <= wall < datetime(2027, 1, 4, 17, 0) for wall in near_end
    )
    # 11:50 is inside the morning span: jitter ends at 12:00, never in the lunch break.
    before_lunch = [
        in_zone(_due_for(lead, local(BERLIN, 2027, 1, 4, 11, 50)), BERLIN) for lead in range(300)
    ]
    assert all(wall.time() < time(12, 0) for wall in before_lunch)


# --- the send-time gate ------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example project with its send windows (``schedule: business-hours``)."""
    return copy_project(tmp_path / "project", send_windows=True)


def write_leads(folder: Path, rows: list[str]) -> Path:
    path = folder / "leads.csv"
    header = "email,first_name,company,timezone,country"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


class SlowOutbox(OutboxTransport):
    """An outbox where every hand-over takes ``each`` of virtual time (a slow SMTP server)."""

    def __init__(self, folder: Path, clock: VirtualClock, each: timedelta) -> None:
        super().__init__(folder)
        self.clock, self.each = clock, each
        self.lock = threading.Lock()
        self.sent_at: list[datetime] = []

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        with self.lock:
            self.sent_at.append(self.clock.now())
            super().send(built, touch_id)
            self.clock.advance(self.each)


def touches(runtime: Runtime) -> list[Touch]:
    with runtime.sessions() as session:
        rows = list(session.scalars(select(Touch).order_by(Touch.id)))
        session.expunge_all()
        return rows


def test_a_window_that_closes_mid_batch_postpones_the_rest_to_the_next_morning(
    runtime: Runtime, clock: VirtualClock, project: Path, tmp_path: Path
) -> None:
    clock.set(local(BERLIN, 2027, 1, 4, 16, 59, 59))  # Monday, one second before closing
    leads = write_leads(
        tmp_path,
        [f"lead{n}@berlin.test,Lead{n},Firm {n},Europe/Berlin,DE" for n in range(6)],
    )
    report = import_leads(runtime.sessions, leads, clock, runtime.catalog)
    assert report.enrollment.enrolled == 6
    outbox = SlowOutbox(project / "outbox", clock, timedelta(seconds=1))
    runtime.transport_override = outbox

    first = run_batch(runtime)

    assert first.totals() == {"sent": 1, "deferred": 5}
    rows = touches(runtime)
    sent = [t for t in rows if t.status == "sent"]
    waiting = [t for t in rows if t.status == "queued"]
    assert (len(sent), len(waiting)) == (1, 5)
    for touch in waiting:
        wall = in_zone(touch.available_at, BERLIN)
        assert datetime(2027, 1, 5, 9, 0) <= wall < datetime(2027, 1, 5, 9, 20)
        assert touch.attempts == 0  # a postponement is not a delivery attempt
        assert touch.last_error == "outside send window business-hours (Europe/Berlin)"
    with runtime.sessions() as session:
        reasons = list(session.scalars(select(Event.cause).where(Event.kind == "postponed")))
        enrollment = session.scalar(select(Enrollment).where(Enrollment.lead_id == sent[0].lead_id))
        assert enrollment is not None
        # Recorded at 17:00:00, after the slow hand-over: 3 business days later is Thursday
        # 17:00, closed, so the next step is due on Friday morning.
        next_due = in_zone(enrollment.next_due_at, BERLIN)
        assert datetime(2027, 1, 8, 9, 0) <= next_due < datetime(2027, 1, 8, 9, 20)
    assert reasons == ["outside send window business-hours (Europe/Berlin)"] * 5

    clock.set(local(BERLIN, 2027, 1, 4, 20, 0))  # an evening cron run sends nothing
    assert run_batch(runtime).totals() == {}
    clock.set(local(BERLIN, 2027, 1, 5, 9, 30))
    second = run_batch(runtime)

    assert second.totals() == {"sent": 5}
    rows = touches(runtime)
    assert [t.status for t in rows] == ["sent"] * 6
    assert sorted(t.lead_id for t in rows) == sorted({t.lead_id for t in rows})  # one each
    assert len(list((project / "outbox").glob("*.eml"))) == 6
    for moment in outbox.sent_at:
        assert next_opening(moment, BUSINESS, BERLIN, "DE") == moment  # inside the window


def test_a_touch_claimed_in_the_window_but_handed_over_after_it_closed_waits(
    runtime: Runtime, clock: VirtualClock, tmp_path: Path
) -> None:
    clock.set(local(NEW_YORK, 2027, 1, 8, 16, 59, 0))  # Friday, New York
    leads = write_leads(tmp_path, ["ny@brooklyn.test,Ny,Brooklyn Co,America/New_York,US"])
    import_leads(runtime.sessions, leads, clock, runtime.catalog)
    clock.set(local(NEW_YORK, 2027, 1, 8, 16, 59, 59))  # due by now, whatever its jitter
    (touch_row,) = _tick_and_claim(runtime)
    clock.set(local(NEW_YORK, 2027, 1, 8, 17, 0, 5))  # the window closed meanwhile

    postponed = window_gate(runtime, touch_row, clock.now())

    assert postponed is not None
    assert postponed.reason == "outside send window business-hours (America/New_York)"
    wall = in_zone(postponed.until, NEW_YORK)
    assert datetime(2027, 1, 11, 9, 0) <= wall < datetime(2027, 1, 11, 9, 20)  # Monday
    clock.set(local(NEW_YORK, 2027, 1, 11, 10, 0))
    assert window_gate(runtime, touch_row, clock.now()) is None


def _tick_and_claim(runtime: Runtime) -> list[Any]:
    from worker.delivery.claiming import claim_and_prepare
    from worker.delivery.tick import tick

    created = tick(runtime).created
    prepared, _ = claim_and_prepare(runtime, created, "test-token")
    return prepared


def test_every_first_touch_of_the_sample_leads_goes_out_inside_its_window(
    runtime: Runtime, clock: VirtualClock, project: Path
) -> None:
    import_leads(runtime.sessions, project / "examples" / "leads.csv", clock, runtime.catalog)
    with runtime.sessions() as session:
        zones = {lead.id: (lead.timezone, lead.country) for lead in session.scalars(select(Lead))}
    # Hourly cron runs over two days, from Monday 09:00 UTC.
    for _ in range(48):
        run_batch(runtime)
        clock.advance(timedelta(hours=1))

    rows = touches(runtime)
    assert len(rows) == 25
    assert {t.status for t in rows} == {"sent"}
    assert len({t.lead_id for t in rows}) == 25
    shipped = SHIPPED.get("business-hours")
    for touch in rows:
        timezone, country = zones[touch.lead_id]
        zone = ZoneInfo(timezone)
        assert touch.finished_at is not None
        assert next_opening(touch.finished_at, shipped, zone, country) == touch.finished_at, (
            timezone,
            in_zone(touch.finished_at, zone),
        )


def test_the_first_touch_of_a_lead_imported_after_hours_is_due_at_the_next_opening(
    runtime: Runtime, clock: VirtualClock, tmp_path: Path
) -> None:
    clock.set(local(BERLIN, 2027, 1, 4, 21, 0))
    leads = write_leads(
        tmp_path,
        [
            "late@berlin.test,Late,Berlin Co,Europe/Berlin,DE",
            "late@nyc.test,Late,NYC Co,America/New_York,US",
            "nozone@somewhere.test,No,Zone Co,,",
        ],
    )
    import_leads(runtime.sessions, leads, clock, runtime.catalog)
    with runtime.sessions() as session:
        due = dict(
            session.execute(
                select(Lead.email, Enrollment.next_due_at).join(
                    Enrollment, Enrollment.lead_id == Lead.id
                )
            ).all()
        )
    berlin = in_zone(due["late@berlin.test"], BERLIN)
    assert datetime(2027, 1, 5, 9, 0) <= berlin < datetime(2027, 1, 5, 9, 20)
    new_york = in_zone(due["late@nyc.test"], NEW_YORK)  # 15:00 in New York: still open
    assert datetime(2027, 1, 4, 15, 0) <= new_york < datetime(2027, 1, 4, 15, 20)
    default = in_zone(due["nozone@somewhere.test"], BERLIN)  # default_timezone: Europe/Berlin
    assert datetime(2027, 1, 5, 9, 0) <= default < datetime(2027, 1, 5, 9, 20)


def test_sequences_without_a_schedule_still_send_at_any_hour(
    runtime: Runtime, clock: VirtualClock, project: Path, tmp_path: Path
) -> None:
    path = project / "sequences" / "prospecting.yaml"  # before the runtime loads the catalog
    path.write_text(
        path.read_text(encoding="utf-8").replace("schedule: business-hours", "# any time"),
        encoding="utf-8",
    )
    clock.set(local(BERLIN, 2027, 1, 9, 3, 0))  # Saturday night
    leads = write_leads(tmp_path, ["owl@berlin.test,Owl,Night Co,Europe/Berlin,DE"])
    import_leads(runtime.sessions, leads, clock, runtime.catalog)
    assert run_batch(runtime).totals() == {"sent": 1}


def test_a_rep_confirming_a_send_schedules_the_next_step_in_the_window(
    runtime: Runtime, clock: VirtualClock, tmp_path: Path
) -> None:
    from worker.leads.flags import flag
    from worker.review.resolutions import resolve

    clock.set(local(BERLIN, 2027, 1, 4, 10, 0))
    leads = write_leads(tmp_path, ["crash@berlin.test,Crash,Crash Co,Europe/Berlin,DE"])
    import_leads(runtime.sessions, leads, clock, runtime.catalog)
    clock.set(local(BERLIN, 2027, 1, 4, 10, 30))
    (item,) = _tick_and_claim(runtime)
    with runtime.sessions.begin() as session:  # the worker died mid-send: delivery unknown
        touch = session.get(Touch, item.touch_id)
        assert touch is not None
        touch.status = "unknown"
        review_id = flag(
            session, item.lead_id, "delivery_unknown", at=clock.now(), touch_id=touch.id
        )
    clock.set(local(BERLIN, 2027, 1, 4, 20, 0))  # the rep answers in the evening

    with runtime.sessions.begin() as session:
        resolve(session, runtime.catalog, review_id, "sent", at=clock.now())

    with runtime.sessions() as session:
        enrollment = session.scalar(select(Enrollment).where(Enrollment.lead_id == item.lead_id))
        assert enrollment is not None
        assert enrollment.current_step == 1
        # 3 business days after Monday 20:00 is Thursday 20:00, closed: Friday morning.
        next_due = in_zone(enrollment.next_due_at, BERLIN)
    assert datetime(2027, 1, 8, 9, 0) <= next_due < datetime(2027, 1, 8, 9, 20)
