"""A/B variants of a step: which variant a lead gets, and what it changes.

The assignment is a pure function of the lead's (normalised) email address, the sequence
and the step: a SHA-256 digest mapped onto the cumulative weights. It is the same in every
process and every run (Python's ``hash`` is salted per process and is never used), it does
not depend on the order leads are imported or scheduled in, and ``outreach preview`` shows a
sample lead the variant it would really get. The tick records it on the touch
(``Touch.variant``); rendering uses the recorded one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.schema import StepSpec, Subject, VariantSpec
from worker.authoring.sequences import Catalog
from worker.authoring.versions import VersionBook
from worker.store.models import Lead

_SCALE = float(2**64)


def bucket(email: str, sequence: str, step_index: int) -> float:
    """A stable number in [0, 1) for this lead and step."""
    key = f"{sequence}\x00{step_index}\x00{email.strip().lower()}".encode()
    digest = hashlib.sha256(key).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_variant(
    step: StepSpec, email: str, sequence: str, step_index: int
) -> VariantSpec | None:
    """The variant of ``step`` this lead gets (by weight), or None when it has none."""
    if not step.variants:
        return None
    point = bucket(email, sequence, step_index) * sum(v.weight for v in step.variants)
    upto = 0.0
    for variant in step.variants:
        upto += variant.weight
        if point < upto:
            return variant
    return step.variants[-1]  # rounding at the very top of the range


def resolve_variant(
    step: StepSpec, email: str, sequence: str, step_index: int, recorded: str | None = None
) -> VariantSpec | None:
    """The recorded variant while the step still has it, else the lead's assigned one."""
    if recorded is not None:
        found = step.variant(recorded)
        if found is not None:
            return found
    return assign_variant(step, email, sequence, step_index)


def step_content(step: StepSpec, variant: VariantSpec | None) -> tuple[str, Subject | None]:
    """The template and subject override a touch renders: the variant's, else the step's.

    The subject may be one text per language; ``languages.subject_in`` picks the email's.
    """
    if step.template is None:
        raise ValueError(f"a {step.type} step has no email template")
    if variant is None:
        return step.template, step.subject
    subject = variant.subject if variant.subject is not None else step.subject
    return variant.template or step.template, subject


def assign_variants(
    session: Session, catalog: Catalog | VersionBook, rows: list[dict[str, Any]]
) -> None:
    """Fill ``variant`` in the tick's new touch rows (lead_id, sequence, step_index, and the
    ``version`` the step is read from when ``catalog`` is a ``VersionBook``)."""
    wanted = [row for row in rows if (step := _step_of(catalog, row)) and step.variants]
    if not wanted:
        return
    ids = sorted({row["lead_id"] for row in wanted})
    emails: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for lead_id, email in session.execute(
            select(Lead.id, Lead.email).where(Lead.id.in_(chunk))
        ):
            emails[lead_id] = email
    for row in wanted:
        step = _step_of(catalog, row)
        assert step is not None
        chosen = assign_variant(step, emails[row["lead_id"]], row["sequence"], row["step_index"])
        row["variant"] = chosen.name if chosen is not None else None


def _step_of(catalog: Catalog | VersionBook, row: dict[str, Any]) -> StepSpec | None:
    """The step a new touch row is for, or None when its sequence is not in the catalog."""
    if isinstance(catalog, VersionBook):
        return catalog.spec(row["sequence"], row.get("version")).steps[int(row["step_index"])]
    if row["sequence"] not in catalog:
        return None
    return catalog.get(row["sequence"]).steps[int(row["step_index"])]


def templates_of(step: StepSpec) -> set[str]:
    """Every template an email step can render (its own and its variants'); none for a task."""
    names = {step.template} if step.template is not None else set()
    return names | {v.template for v in step.variants or () if v.template is not None}


def variant_names(step: StepSpec) -> list[str]:
    """The names of a step's variants (empty without variants)."""
    return [variant.name for variant in step.variants or ()]


__all__ = [
    "assign_variant",
    "assign_variants",
    "bucket",
    "resolve_variant",
    "step_content",
    "templates_of",
    "variant_names",
]
