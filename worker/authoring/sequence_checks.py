"""Checks on a sequence file as written, before the schema sees it: the mistakes marketers
make that the schema alone would accept silently or answer without a suggestion.

- every step after the first says when it goes out (``wait:``), with a unit;
- ``name:`` matches the file name (and is taken from it when left out);
- an unknown stage, step type, ``on_complete`` action or reply action gets a "did you mean".

Each finding carries the key path it is about, so the schema's own error about the same
value can be left out and the author reads one message per mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from worker.authoring.reply_rules import ACTIONS, ENROLL_PREFIX
from worker.authoring.schema import (
    COMPANY_ACTIONS,
    STEP_TYPES,
    OnCompanyReply,
    OnComplete,
    StepSpec,
)
from worker.authoring.suggestions import closest, not_one_of, suggestion
from worker.authoring.yaml_source import Loc
from worker.vocabulary import PIPELINE_STAGES

NAME_SHAPE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DIGITS = re.compile(r"^\s*\d+(\.\d+)?\s*$")
_STEP_KEYS = set(StepSpec.model_fields)


@dataclass(frozen=True)
class Finding:
    """One mistake at a key path of the file; ``message`` is ready to print."""

    loc: Loc
    message: str


def label(loc: Loc) -> str:
    """A key path as an author reads it, steps and variants counted from 1:
    ``("steps", 1, "wait")`` is "step 2 wait", ``("on_reply", "positive")`` "on_reply.positive".
    """
    parts: list[str] = []
    keys: list[str] = []
    index = 0
    while index < len(loc):
        key = loc[index]
        following = loc[index + 1] if index + 1 < len(loc) else None
        if key in ("steps", "variants") and isinstance(following, int):
            if keys:
                parts.append(".".join(keys))
                keys = []
            parts.append(f"{'step' if key == 'steps' else 'variant'} {following + 1}")
            index += 2
            continue
        keys.append(str(key))
        index += 1
    if keys:
        parts.append(".".join(keys))
    return " ".join(parts) or "file"


def with_name(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` with ``name`` taken from the file name when the file leaves it out."""
    if "name" in data:
        return data
    return {"name": path.stem, **data}


def check_written(data: dict[str, Any], path: Path, name_written: bool) -> list[Finding]:
    """Every finding about ``data`` (a sequence file's mapping) as written."""
    found = _name(data.get("name"), path, name_written)
    stage = data.get("stage")
    if isinstance(stage, str) and stage not in PIPELINE_STAGES:
        found.append(Finding(("stage",), not_one_of("stage", stage, PIPELINE_STAGES)))
    steps = data.get("steps")
    if isinstance(steps, list):
        for index, step in enumerate(steps):
            if isinstance(step, dict):
                found.extend(_step(step, index))
    found.extend(_on_complete(data.get("on_complete")))
    found.extend(_on_reply(data.get("on_reply")))
    found.extend(_on_company_reply(data.get("on_company_reply")))
    return found


def _name(name: object, path: Path, written: bool) -> list[Finding]:
    if not isinstance(name, str):
        return []
    if not written:
        if NAME_SHAPE.match(name):
            return []
        shaped = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "my-sequence"
        return [
            Finding(
                ("name",),
                f"the file name {path.name!r} is not a sequence name — rename the file to "
                f"lowercase letters, digits and dashes, e.g. {shaped}{path.suffix}",
            )
        ]
    if name == path.stem:
        return []
    if not NAME_SHAPE.match(name):
        return []  # the schema says how a name is written; the file name comes after that
    return [
        Finding(
            ("name",),
            f"name {name!r} does not match the file name {path.name!r} — rename the file to "
            f"{name}{path.suffix}, or write 'name: {path.stem}' (or leave 'name:' out: it "
            "defaults to the file name)",
        )
    ]


def _step(step: dict[str, Any], index: int) -> list[Finding]:
    number = index + 1
    found: list[Finding] = []
    kind = step.get("type", "email")
    if isinstance(kind, str) and kind not in STEP_TYPES:
        found.append(
            Finding(
                ("steps", index, "type"), f"step {number}: " + not_one_of("type", kind, STEP_TYPES)
            )
        )
    misspelt = any(closest(str(key), ["wait"]) for key in step if key not in _STEP_KEYS)
    if "wait" not in step and index > 0 and not misspelt:  # 'wiat:' is reported as a typo
        found.append(
            Finding(
                ("steps", index, "wait"),  # not written: its line is the step's
                f"step {number} has no 'wait:' — say how long after step {index} it goes out, "
                "e.g. 'wait: 3 business days' (or 'wait: 0 days' to send it right after "
                f"step {index})",
            )
        )
    for key in ("wait", "timeout"):
        if key in step:
            found.extend(_unitless(step[key], ("steps", index, key), f"step {number} {key}"))
    return found


def _unitless(value: object, loc: Loc, what: str) -> list[Finding]:
    """A wait written as a bare number: the unit cannot be guessed."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return []
    if isinstance(value, str) and not _DIGITS.match(value):
        return []
    text = str(value).strip()
    key = str(loc[-1])
    if isinstance(value, int) or text.isdigit():
        how = f"'{key}: {text} days', '{key}: {text} business days' or '{key}: {text} hours'"
    else:
        how = "a whole number with a unit, e.g. '2 days', '2 business days', '1 week' or '36 hours'"
    return [Finding(loc, f"{what}: {text} has no unit — write {how}")]


def _on_complete(section: object) -> list[Finding]:
    if not isinstance(section, dict):
        return []
    found = _unitless(section.get("after"), ("on_complete", "after"), "on_complete.after")
    action = section.get("action")
    choices = get_args(OnComplete.model_fields["action"].annotation)
    if isinstance(action, str) and action not in choices:
        found.append(
            Finding(
                ("on_complete", "action"),
                "on_complete." + not_one_of("action", action, choices),
            )
        )
    return found


def _actions(value: object) -> list[str]:
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list):
        return []
    return [a.strip() for a in raw if isinstance(a, str)]


def _on_reply(section: object) -> list[Finding]:
    if not isinstance(section, dict):
        return []
    found = []
    for intent, value in section.items():
        for action in _actions(value):
            if action in ACTIONS or (action.startswith(ENROLL_PREFIX) and action != ENROLL_PREFIX):
                continue
            verb, colon, target = action.partition(":")
            if colon and closest(verb, ["enroll"]):  # enrol:x, Enroll:x
                hint = f" — did you mean '{ENROLL_PREFIX}{target.strip() or 'SEQUENCE'}'?"
            else:
                hint = suggestion(action, ACTIONS)
            found.append(
                Finding(
                    ("on_reply", intent),
                    f"on_reply.{intent}: unknown action {action!r}{hint} (actions: "
                    f"{', '.join(ACTIONS)}, or enroll:SEQUENCE)",
                )
            )
    return found


def _on_company_reply(section: object) -> list[Finding]:
    if not isinstance(section, dict):
        return []
    found = []
    match = section.get("match")
    choices = get_args(OnCompanyReply.model_fields["match"].annotation)
    if isinstance(match, str) and match not in choices:
        found.append(
            Finding(
                ("on_company_reply", "match"),
                "on_company_reply." + not_one_of("match", match, choices),
            )
        )
    for intent, value in section.items():
        if intent == "match":
            continue
        for action in _actions(value):
            if action not in COMPANY_ACTIONS:
                found.append(
                    Finding(
                        ("on_company_reply", intent),
                        f"on_company_reply.{intent}: "
                        + not_one_of("action", action, COMPANY_ACTIONS),
                    )
                )
    return found


__all__ = ["NAME_SHAPE", "Finding", "check_written", "label", "with_name"]
