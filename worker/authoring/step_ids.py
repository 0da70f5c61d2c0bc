"""Stable step ids: how a step is recognised when the steps around it change.

A step's id is its ``id:`` when the file gives one; otherwise it is derived from the step:
its ``template`` (``prospecting/02_bump``), or its ``type`` for a call / LinkedIn step
(``call``). The second step using the same template (or type) gets ``#2`` appended
(``prospecting/02_bump#2``), the third ``#3``, counting every step of the file from the top,
with or without an ``id:``. Ids are unique within a sequence (a duplicate is a validation
error at its line). A step keeps its id when steps around it are added, removed or moved;
that is how leads in flight are mapped onto a changed sequence (docs/authoring.md).
"""

from __future__ import annotations

from collections import Counter

from worker.authoring.problems import Problem
from worker.authoring.schema import SequenceSpec
from worker.authoring.yaml_source import Loc, line_for

ID_HINT = (
    "a step without 'id:' is named after its template (or its type for a call/LinkedIn step),"
    " with #2, #3 … for the second and third use of the same one"
)


def step_ids(spec: SequenceSpec) -> list[str]:
    """Each step's id, in order: its ``id:``, else derived (see the module docstring)."""
    uses: Counter[str] = Counter()
    found: list[str] = []
    for step in spec.steps:
        base = step.template or step.type
        uses[base] += 1
        derived = base if uses[base] == 1 else f"{base}#{uses[base]}"
        found.append(step.id or derived)
    return found


def step_id_problems(spec: SequenceSpec, lines: dict[Loc, int], shown: str) -> list[Problem]:
    """A ``path:line`` error for each step whose id another step already has."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for number, (step, found) in enumerate(zip(spec.steps, step_ids(spec), strict=True)):
        where = ("steps", number, "id") if step.id else ("steps", number)
        if found in first:
            other = first[found]
            how = "" if step.id else f" (derived: {ID_HINT})"
            problems.append(
                Problem(
                    shown,
                    line_for(lines, where),
                    f"step {number + 1}: id {found!r}{how} is already the id of step {other + 1}"
                    " — give one of them its own 'id:'",
                )
            )
        else:
            first[found] = number
    return problems


__all__ = ["ID_HINT", "step_id_problems", "step_ids"]
