"""``outreach validate --leads FILE.csv``: the templates checked against real leads.

The sample leads file rarely has every column a team's real list has. With ``--leads``,
each row of the real file is checked instead: a field that a template, subject or task uses
without a ``default`` and that the row does not have is reported as ``FILE.csv:ROW``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError, nodes

from worker.authoring.problems import Problem, display_path
from worker.authoring.sequences import LoadedSequence
from worker.authoring.templates import TemplateRenderer
from worker.delivery.rendering import lead_fields
from worker.delivery.variants import templates_of
from worker.errors import LeadImportError
from worker.leads.csv_input import RowError
from worker.leads.importing import lead_from_row, read_rows
from worker.rehearsal.template_fields import (
    SampleLead,
    unguarded_bare_names,
    unguarded_lead_fields,
)
from worker.settings import Settings

ROWS_RENDERED = 20  # complete rows every step is rendered for (the field check covers all rows)
ROWS_LISTED = 100  # rows reported one by one; the rest are counted in one line
_CONTEXT_NAMES = {"lead", "sender", "sequence", "step", "unsubscribe_url"}


@dataclass(frozen=True)
class FieldUse:
    """A lead field used without a default, and where (``templates/x.txt.j2:7``)."""

    field: str
    where: str


def check_lead_fields(
    settings: Settings,
    renderer: TemplateRenderer,
    sequences: list[LoadedSequence],
    leads_file: Path,
) -> tuple[list[Problem], list[SampleLead]]:
    """Every row of ``leads_file`` missing a field the ``sequences`` need; and some complete
    rows, as sample leads for rendering every step."""
    shown = display_path(leads_file, settings.home)
    uses = needed_fields(settings, renderer, sequences)
    needed = sorted({use.field for use in uses})
    problems: list[Problem] = []
    samples: list[SampleLead] = []
    gaps: list[tuple[int, str, list[str]]] = []  # (line, email, fields it lacks)
    present: set[str] = set()
    first_fields: dict[str, object] | None = None
    try:
        for line, row in read_rows(leads_file):
            if isinstance(row, RowError):
                problems.append(Problem(shown, row.row, row.message))
                continue
            fields = lead_fields(lead_from_row(row))
            first_fields = first_fields if first_fields is not None else fields
            missing = [name for name in needed if name not in fields]
            present.update(name for name in needed if name in fields)
            if missing:
                gaps.append((line, str(row["email"]), missing))
            elif len(samples) < ROWS_RENDERED:
                samples.append(SampleLead(f"{shown}:{line} ({row['email']})", fields))
    except LeadImportError as exc:
        problems.append(Problem(shown, 1, str(exc).split(": ", 1)[-1]))
    where = _first_use(uses)
    # A field no row has is one problem (a column to add), not one per row.
    absent = [name for name in needed if name not in present] if first_fields else []
    for name in absent:
        problems.append(
            Problem(
                shown,
                1,
                f"no lead in this file has {name!r} (used without a default at {where[name]})"
                f" — add the column {name!r} to the file, or give the template a default: "
                f"{{{{ lead.{name} | default('…') }}}}",
            )
        )
    rows = [(line, email, [n for n in lacks if n not in absent]) for line, email, lacks in gaps]
    rows = [row for row in rows if row[2]]
    for line, email, lacks in rows[:ROWS_LISTED]:
        problems.append(Problem(shown, line, _row_message(email, lacks, where)))
    if len(rows) > ROWS_LISTED:
        problems.append(
            Problem(
                shown,
                rows[ROWS_LISTED][0],
                f"… and {len(rows) - ROWS_LISTED} more row(s) from here on miss a field a "
                "template needs — fill in the columns, or give the templates defaults",
            )
        )
    if not samples and first_fields is not None:
        # Every row was reported; render with the fields filled, to find the other mistakes.
        filled = {**first_fields, **{name: f"<{name}>" for name in needed}}
        samples.append(SampleLead(f"{shown} (first row, missing fields filled in)", filled))
    return problems, samples


def _first_use(uses: list[FieldUse]) -> dict[str, str]:
    where: dict[str, str] = {}
    for use in uses:
        where.setdefault(use.field, use.where)
    return where


def _texts(subject: object) -> list[str]:
    """A subject override's texts: one, or one per language."""
    if isinstance(subject, dict):
        return [str(text) for text in subject.values()]
    return [subject] if isinstance(subject, str) else []


def _row_message(email: str, missing: list[str], where: dict[str, str]) -> str:
    listed = ", ".join(f"{name!r} (used at {where[name]})" for name in missing)
    example = missing[0]
    return (
        f"{email} has no {listed} — fill in the column for this lead, or give the template a "
        f"default: {{{{ lead.{example} | default('…') }}}}"
    )


def needed_fields(
    settings: Settings,
    renderer: TemplateRenderer,
    sequences: list[LoadedSequence],
) -> list[FieldUse]:
    """Lead fields used without a default by the templates (and the layouts they extend or
    include), subject overrides and task texts of ``sequences``."""
    root = settings.templates_dir
    uses: list[FieldUse] = []
    seen_templates: set[str] = set()
    queue: list[str] = []
    for loaded in sequences:
        shown = display_path(loaded.path, settings.home)
        for index, step in enumerate(loaded.spec.steps):
            if index in loaded.broken_steps:
                continue
            for name in sorted(templates_of(step)):
                queue.extend(
                    path.relative_to(root).as_posix() for path in sorted(root.glob(f"{name}.*j2"))
                )
            subjects = [step.subject, *(v.subject for v in step.variants or ())]
            texts = [("subject", text) for s in subjects for text in _texts(s)]
            for key, text in [*texts, ("task", step.task)]:
                if not text:
                    continue
                try:
                    tree = renderer.env.parse(text)
                except TemplateSyntaxError:
                    continue  # reported by the sequence checks
                where = f"{shown}:{loaded.line('steps', index, key)}"
                names = [f for f, _ in unguarded_lead_fields(tree)]
                if key == "task":
                    names += unguarded_bare_names(tree, _CONTEXT_NAMES)
                uses.extend(FieldUse(name, where) for name in names)
    while queue:
        name = queue.pop()
        if name in seen_templates:
            continue
        seen_templates.add(name)
        try:
            tree = renderer.env.parse((root / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TemplateSyntaxError):
            continue  # reported by the syntax pass
        found = unguarded_lead_fields(tree)
        uses.extend(FieldUse(f, f"templates/{name}:{line}") for f, line in found)
        for ref in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            target = ref.template  # type: ignore[attr-defined]
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                queue.append(target.value)
    return uses


__all__ = ["FieldUse", "check_lead_fields", "needed_fields"]
