"""What acting on a batch of replies reads once for all of them.

Processing a batch of stored messages matches them all first; then the matched leads, their
touches, every enrollment of those leads, the open tasks of those enrollments and the leads'
open review items are read with a query each, and each reply is acted on from memory: pausing
or stopping finds the tasks to close here, flagging finds the open item here and changes the
lead on the session's object, and nothing is written until the batch's one flush.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.inbound.matching import select_in
from worker.leads import lifecycle
from worker.leads.flags import OpenItems
from worker.leads.lifecycle import OpenTasks
from worker.store.models import Enrollment, Event, Lead, Touch
from worker.vocabulary import EventKind


@dataclass
class Batch:
    """The state of a batch's matched leads held in the session.

    ``enrollments``: every enrollment of each lead (a lead that got a new enrollment is
    dropped and read again); ``tasks``: the open task touches of those enrollments;
    ``items``: the leads' open review items; ``soft_bounces``: how many ``classified``
    events of each lead say ``bounce_soft`` (counted at the start, then kept up to date by
    ``soft_bounce``); ``rows``: the objects read, held so that the session keeps them.
    """

    enrollments: dict[int, list[Enrollment]]
    tasks: OpenTasks
    items: OpenItems
    soft_bounces: Counter[int] = field(default_factory=Counter)
    rows: list[object] = field(default_factory=list)

    def soft_bounce(self, lead_id: int) -> None:
        """A ``classified`` event saying ``bounce_soft`` was recorded for the lead."""
        self.soft_bounces[lead_id] += 1

    def soft_bounces_of(self, lead_id: int) -> int | None:
        """The lead's ``classified`` events saying ``bounce_soft`` (None: not a batch lead)."""
        return self.soft_bounces[lead_id] if lead_id in self.enrollments else None

    @classmethod
    def load(cls, session: Session, lead_ids: Collection[int], touch_ids: Collection[int]) -> Batch:
        """Read the leads and touches, every enrollment of the leads, their open tasks and
        open review items (a query each, for every message of the batch)."""
        enrollments: dict[int, list[Enrollment]] = {lead_id: [] for lead_id in sorted(lead_ids)}
        rows: list[object] = []
        with session.no_autoflush:
            rows += select_in(session, select(Lead), Lead.id, lead_ids)
            rows += select_in(session, select(Touch), Touch.id, touch_ids)
            query = select(Enrollment).order_by(Enrollment.id)
            for enrollment in select_in(session, query, Enrollment.lead_id, lead_ids):
                enrollments[enrollment.lead_id].append(enrollment)
                rows.append(enrollment)
            ids = [e.id for known in enrollments.values() for e in known]
            tasks = lifecycle.open_tasks(session, ids)
            items = OpenItems(session, lead_ids)
            soft = (
                select(Event.lead_id, func.count(Event.id))
                .where(Event.kind == EventKind.CLASSIFIED, Event.cause == "bounce_soft")
                .group_by(Event.lead_id)
            )
            counts = Counter(dict(select_in(session, soft, Event.lead_id, lead_ids, rows=True)))
        return cls(enrollments, tasks, items, counts, rows)


__all__ = ["Batch"]
