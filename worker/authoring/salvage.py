"""What can still be checked in an invalid sequence file.

One wrong key must not hide the file's other mistakes: each step and section is read on
its own, so ``outreach validate`` still checks the templates of the steps that are fine.
A salvaged sequence is never sent from; it exists only to be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from worker.authoring.schema import OnCompanyReply, OnComplete, OnReply, SequenceSpec, StepSpec

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Salvaged:
    """A stand-in sequence built from the parts of a file that are valid on their own."""

    spec: SequenceSpec
    broken_steps: frozenset[int]
    broken_keys: frozenset[str]


def salvage(data: dict[str, Any], bad_locs: list[tuple[str | int, ...]]) -> Salvaged:
    """The valid parts of ``data``; ``bad_locs`` are the key paths found wrong."""
    broken_keys = frozenset(str(loc[0]) for loc in bad_locs if loc)
    raw_steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    steps: list[StepSpec] = []
    broken_steps: set[int] = set()
    for index, raw in enumerate(raw_steps or []):
        try:
            steps.append(StepSpec.model_validate(raw))
        except ValidationError:
            steps.append(StepSpec.model_construct())
            broken_steps.add(index)
    broken_steps.update(
        int(loc[1]) for loc in bad_locs if len(loc) > 2 and loc[0] == "steps" and loc[2] == "type"
    )

    def text(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) and key not in broken_keys else ""

    spec = SequenceSpec.model_construct(
        name=data["name"] if isinstance(data.get("name"), str) else "sequence",
        stage=text("stage") or "prospecting",
        mailbox=text("mailbox"),
        description=None,
        schedule=text("schedule") or None,
        steps=steps,
        on_complete=_part(OnComplete, data.get("on_complete")),
        on_reply=_part(OnReply, data.get("on_reply")),
        on_company_reply=_part(OnCompanyReply, data.get("on_company_reply")),
    )
    return Salvaged(spec, frozenset(broken_steps), broken_keys)


def _part(model: type[M], raw: object) -> M:
    """``raw`` read as ``model`` when it is valid on its own, else the model's defaults."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError:
        return model()


__all__ = ["Salvaged", "salvage"]
