"""``outreach sequences plan``: what the sequence files would do to the leads in flight.

Like a plan before an apply: for each sequence whose files differ from the version its open
enrollments were last held against, the same decision the tick will apply
(``delivery.change_policy``), counted per group of leads: where they are, where they land,
and which emails they will now never get. Reads the database; writes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from worker.authoring.versions import short
from worker.delivery.change_policy import Move, decide
from worker.delivery.sequence_changes import OPEN, had_steps
from worker.errors import NotFoundError
from worker.runtime import Runtime
from worker.store.models import Enrollment, Touch


@dataclass
class Group:
    """Leads at one step of one version that land on the same step."""

    leads: int
    from_version: str
    from_step: int  # 1-based; len + 1: past the last step
    from_id: str | None
    to_step: int
    to_id: str | None
    removed: bool  # the step they were due no longer exists


@dataclass
class SequencePlan:
    """What the files would do to one sequence's leads in flight."""

    sequence: str
    version: str
    policy: str
    in_flight: int = 0
    unchanged: int = 0
    moving: int = 0
    finishing: int = 0
    groups: list[Group] = field(default_factory=list)
    never_sent: Counter[str] = field(default_factory=Counter)  # step id → leads
    not_retroactive: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        """True when some lead in flight would move, finish an old version, or lose a step."""
        return bool(self.moving or self.finishing or self.never_sent)

    def as_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "version": self.version,
            "policy": self.policy,
            "in_flight": self.in_flight,
            "unchanged": self.unchanged,
            "moving": self.moving,
            "finishing": self.finishing,
            "groups": [vars(group) for group in self.groups],
            "never_sent": dict(self.never_sent),
            "not_retroactive": dict(self.not_retroactive),
            "problems": self.problems,
        }


def plan(runtime: Runtime, names: list[str] | None = None) -> list[SequencePlan]:
    """The plan of every valid sequence (or of ``names``), in pipeline order."""
    book = runtime.versions
    plans: list[SequencePlan] = []
    for name in runtime.catalog.in_pipeline_order():
        if names and name not in names:
            continue
        current = book.current(name)
        spec = runtime.catalog.get(name)
        found = SequencePlan(name, current.version, spec.on_change)
        new_ids = book.ids(name, current.version)
        groups: Counter[tuple[str, int, str | None, int, str | None, bool]] = Counter()
        with runtime.sessions() as session:
            enrollments = list(
                session.scalars(
                    select(Enrollment)
                    .where(Enrollment.sequence == name, Enrollment.status.in_(OPEN))
                    .order_by(Enrollment.id)
                )
            )
            changed = [
                e
                for e in enrollments
                if e.seen_version != current.version and e.version not in (None, current.version)
            ]
            touches: dict[int, list[Touch]] = {}
            for start in range(0, len(changed), 1000):
                chunk = [e.id for e in changed[start : start + 1000]]
                for touch in session.scalars(
                    select(Touch).where(or_(Touch.enrollment_id.in_(chunk)))
                ):
                    touches.setdefault(touch.enrollment_id, []).append(touch)
        found.in_flight = len(enrollments)
        found.unchanged = len(enrollments) - len(changed)
        for enrollment in changed:
            assert enrollment.version is not None
            try:
                old_ids = book.ids(name, enrollment.version)
            except NotFoundError as exc:
                found.problems.append(f"enrollment {enrollment.id}: {exc}")
                continue
            move = decide(
                spec.on_change,
                old_ids,
                new_ids,
                enrollment.current_step,
                had_steps(touches.get(enrollment.id, [])),
                old_version=enrollment.version,
                new_version=current.version,
            )
            _count(found, groups, move, enrollment, old_ids, new_ids)
        found.groups = [
            Group(n, *key) for key, n in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0]))
        ]
        plans.append(found)
    return plans


def _count(
    found: SequencePlan,
    groups: Counter[tuple[str, int, str | None, int, str | None, bool]],
    move: Move,
    enrollment: Enrollment,
    old_ids: list[str],
    new_ids: list[str],
) -> None:
    position = enrollment.current_step
    from_id = old_ids[position] if position < len(old_ids) else None
    if move.finishing:
        found.finishing += 1
        return
    found.not_retroactive.update(i for i in move.behind if i not in old_ids)
    if from_id == move.landing and not move.dropped:
        found.unchanged += 1
        return
    found.moving += 1
    found.never_sent.update(move.dropped)
    removed = from_id is not None and from_id not in new_ids
    key = (
        short(enrollment.version),
        position + 1,
        from_id,
        move.position + 1,
        move.landing,
        removed,
    )
    groups[key] += 1


def summary(plans: list[SequencePlan]) -> str | None:
    """One line for ``outreach validate`` when the files would change leads in flight."""
    changing = [p for p in plans if p.changes]
    if not changing:
        return None
    parts = []
    for found in changing:
        what = []
        if found.moving:
            what.append(f"{found.moving} lead(s) move")
        if found.finishing:
            what.append(f"{found.finishing} finish their old version")
        never = sum(found.never_sent.values())
        if never:
            what.append(f"{never} email(s) will never be sent")
        parts.append(f"{found.sequence} ({found.policy}): {', '.join(what)}")
    return "note: leads in flight: " + "; ".join(parts) + " — see 'outreach sequences plan'"


__all__ = ["Group", "SequencePlan", "plan", "summary"]
