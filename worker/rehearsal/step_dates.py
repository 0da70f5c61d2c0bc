"""When each step of a sequence would fall due for one lead, enrolled now.

The same calendar rules as the engine and ``outreach simulate`` (each step's wait, business
days without the lead's holidays, the send window in the lead's time zone with its jitter);
mailbox limits and replies cannot be foreseen for one lead on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.authoring.schedules import Schedules
from worker.authoring.schema import SequenceSpec, Wait
from worker.store.models import Lead
from worker.timing.windows import due_at


@dataclass(frozen=True)
class StepDate:
    """Step ``number`` (1-based) is due ``at`` (UTC), ``local`` in the lead's time zone."""

    number: int
    at: datetime
    local: datetime
    wait: Wait

    def describe(self) -> str:
        """ "Tue 2027-01-05 09:12 GMT (3 business days after step 1)"."""
        after = "after enrollment" if self.number == 1 else f"after step {self.number - 1}"
        return f"{self.local:%a %Y-%m-%d %H:%M} {self.local.tzname()} ({self.wait} {after})"


def step_dates(
    schedules: Schedules, spec: SequenceSpec, lead: Lead, start: datetime
) -> list[StepDate]:
    """When every step of ``spec`` is due for ``lead`` enrolled at ``start``, nobody replying."""
    zone = schedules.zone(lead.timezone)
    dates: list[StepDate] = []
    at = start
    for index, step in enumerate(spec.steps):
        at = due_at(
            schedules,
            spec.schedule,
            at,
            step.wait,
            timezone=lead.timezone,
            country=lead.country,
            lead_id=lead.id or 0,
            sequence=spec.name,
            step_index=index,
            sends=step.is_email,
        )
        dates.append(StepDate(index + 1, at, at.astimezone(zone), step.wait))
    return dates


__all__ = ["StepDate", "step_dates"]
