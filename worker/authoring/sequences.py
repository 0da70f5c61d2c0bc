"""Load every sequence file into a Catalog, collecting problems as ``path:line: message``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from worker.authoring.problems import Problem, display_path
from worker.authoring.salvage import salvage
from worker.authoring.schedules import SCHEDULES_FILE, ScheduleFileError, Schedules, read_schedules
from worker.authoring.schema import COMPANY_INTENTS, SequenceSpec
from worker.authoring.sequence_checks import check_written, label, with_name
from worker.authoring.step_ids import step_id_problems
from worker.authoring.yaml_source import Loc, YamlSyntaxError, line_for, load_with_lines
from worker.errors import NotFoundError, did_you_mean
from worker.understanding import INTENTS
from worker.vocabulary import PIPELINE_STAGES

RECOMMENDED_TOUCHES = (6, 8)


@dataclass
class LoadedSequence:
    """A valid sequence and where it came from.

    ``usable`` is False for an invalid file read as far as it goes (see ``salvage``): never
    sent from, kept so validation still checks its templates, except ``broken_steps`` and the
    top-level ``broken_keys`` that were themselves wrong.
    """

    spec: SequenceSpec
    path: Path
    lines: dict[Loc, int]
    usable: bool = True
    broken_steps: frozenset[int] = frozenset()
    broken_keys: frozenset[str] = frozenset()

    def line(self, *loc: str | int) -> int:
        return line_for(self.lines, loc)


@dataclass
class Catalog:
    """All valid sequences by name."""

    sequences: dict[str, LoadedSequence] = field(default_factory=dict)
    invalid_files: list[Path] = field(default_factory=list)
    schedules: Schedules = field(default_factory=Schedules)
    unusable: list[LoadedSequence] = field(default_factory=list)  # invalid, still checkable

    def names(self) -> list[str]:
        return sorted(self.sequences)

    def get(self, name: str) -> SequenceSpec:
        """The sequence called ``name``; NotFoundError with a suggestion otherwise.

        When the file that probably holds it (``<name>.yaml``) is invalid, the error says so
        instead of claiming the sequence does not exist.
        """
        loaded = self.sequences.get(name)
        if loaded is not None:
            return loaded.spec
        for path in self.invalid_files:
            if path.stem == name:
                raise NotFoundError(
                    f"Sequence {name!r} is not usable: {path.parent.name}/{path.name} is invalid"
                    " — run 'outreach validate' to see why."
                )
        left_out = (
            f"; {len(self.invalid_files)} invalid file(s) left out — run 'outreach validate'"
            if self.invalid_files
            else ""
        )
        raise NotFoundError(
            f"No sequence named {name!r} in sequences/{did_you_mean(name, set(self.sequences))}"
            f" (known: {', '.join(self.names()) or 'none'}{left_out})."
        )

    def in_pipeline_order(self) -> list[str]:
        """Sequence names by their stage's place in the pipeline, then by name."""
        order: dict[str, int] = {stage: n for n, stage in enumerate(PIPELINE_STAGES)}
        return sorted(
            self.sequences,
            key=lambda name: (order.get(self.sequences[name].spec.stage, len(order)), name),
        )

    def for_stage(self, stage: str) -> SequenceSpec | None:
        """The default sequence of a pipeline stage: the one named after it, else the first."""
        if stage in self.sequences and self.sequences[stage].spec.stage == stage:
            return self.sequences[stage].spec
        for name in self.names():
            if self.sequences[name].spec.stage == stage:
                return self.sequences[name].spec
        return None

    def __contains__(self, name: object) -> bool:
        return name in self.sequences


def sequence_files(paths: list[Path]) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` file named or inside the named folders, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"}))
        elif path.suffix in {".yaml", ".yml"}:
            found.append(path)
    return found


def load_catalog(
    sequences_dir: Path, home: Path | None = None, files: list[Path] | None = None
) -> tuple[Catalog, list[Problem]]:
    """Load sequences; invalid files are reported and left out, valid ones kept."""
    catalog = Catalog()
    problems: list[Problem] = []
    for path in files if files is not None else sequence_files([sequences_dir]):
        shown = display_path(path, home)
        loaded, file_problems = load_sequence_file(path, shown)
        problems.extend(file_problems)
        if loaded is None or not loaded.usable:
            catalog.invalid_files.append(path)
            if loaded is not None:
                catalog.unusable.append(loaded)
            continue
        name = loaded.spec.name
        if name in catalog.sequences:
            other = display_path(catalog.sequences[name].path, home)
            problems.append(
                Problem(
                    shown, loaded.line("name"), f"sequence name {name!r} is already used by {other}"
                )
            )
            continue
        catalog.sequences[name] = loaded
    attach_schedules(catalog, problems, (home or sequences_dir.parent) / SCHEDULES_FILE, home)
    return catalog, problems


def load_sequence_file(path: Path, shown: str) -> tuple[LoadedSequence | None, list[Problem]]:
    """Parse and check one file; return the sequence (or None) and its problems."""
    try:
        data, lines = load_with_lines(path)
    except YamlSyntaxError as exc:
        return None, [Problem(shown, exc.line, exc.message)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(shown, 1, f"cannot read file: {exc}")]
    if not isinstance(data, dict):
        return None, [
            Problem(shown, 1, "a sequence file must be a mapping with name, stage, mailbox, steps")
        ]
    name_written = "name" in data
    data = with_name(data, path)
    findings = check_written(data, path, name_written)
    covered = {finding.loc for finding in findings}
    problems = [Problem(shown, line_for(lines, f.loc), f.message) for f in findings]
    bad_locs = [finding.loc for finding in findings]
    try:
        spec = SequenceSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            if tuple(error["loc"]) not in covered:
                problems.append(_problem_from(shown, lines, error))
                bad_locs.append(tuple(error["loc"]))
        spec = None
    if spec is not None:
        problems.extend(step_id_problems(spec, lines, shown))
    if spec is None or any(problem.severity == "error" for problem in problems):
        part = salvage(data, bad_locs)
        problems.sort(key=lambda problem: problem.line)
        unusable = LoadedSequence(
            part.spec, path, lines, False, part.broken_steps, part.broken_keys
        )
        return unusable, problems
    loaded = LoadedSequence(spec=spec, path=path, lines=lines)
    low, high = RECOMMENDED_TOUCHES
    if not low <= len(spec.steps) <= high:
        problems.append(
            Problem(
                shown,
                loaded.line("steps"),
                f"{len(spec.steps)} touches; {low}-{high} usually work best "
                "before a prospect answers",
                "warning",
            )
        )
    return loaded, problems


_KNOWN_KEYS: dict[tuple[str, ...], list[str]] = {
    (): [
        "name",
        "stage",
        "mailbox",
        "description",
        "schedule",
        "languages",
        "steps",
        "on_complete",
        "on_reply",
        "on_company_reply",
        "on_change",
    ],
    ("steps",): [
        "id",
        "type",
        "template",
        "wait",
        "subject",
        "same_thread",
        "variants",
        "task",
        "timeout",
    ],
    ("steps", "variants"): ["name", "weight", "subject", "template"],
    ("on_complete",): ["action", "after", "sequence"],
    ("on_reply",): list(INTENTS),
    ("on_company_reply",): ["match", *COMPANY_INTENTS],
}


def _problem_from(shown: str, lines: dict[Loc, int], error: object) -> Problem:
    err = error  # pydantic ErrorDetails (a TypedDict)
    loc: Loc = tuple(err["loc"])  # type: ignore[index]
    kind = err["type"]  # type: ignore[index]
    within = f" in {label(loc[:-1])}" if loc[:-1] else ""
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = tuple(p for p in loc[:-1] if not isinstance(p, int))
        known = _KNOWN_KEYS.get(parent, [])
        hint = did_you_mean(key, set(known)) or f" (allowed: {', '.join(known)})"
        return Problem(shown, line_for(lines, loc), f"unknown key {key!r}{within}{hint}")
    if kind == "missing":
        key = str(loc[-1])
        hint = _MISSING_HINTS.get(key, "") if not within else ""
        return Problem(
            shown, line_for(lines, loc[:-1]), f"missing required key {key!r}{within}{hint}"
        )
    message = str(err["msg"]).removeprefix("Value error, ")  # type: ignore[index]
    return Problem(shown, line_for(lines, loc), f"{label(loc)}: {message}")


_MISSING_HINTS = {
    "stage": f" — add e.g. 'stage: prospecting' (one of: {', '.join(PIPELINE_STAGES)})",
    "mailbox": " — add 'mailbox: NAME', a mailbox or pool of mailboxes.yaml",
    "steps": " — add 'steps:' with at least one '- template: folder/name'",
}


def attach_schedules(
    catalog: Catalog, problems: list[Problem], path: Path, home: Path | None
) -> None:
    """Give ``catalog`` the schedules of ``path``; a sequence naming an unusable schedule is
    reported at its ``schedule:`` line and left out, like an invalid file: its leads wait
    (flagged for a rep) instead of being mailed outside the intended window."""
    shown = display_path(path, home)
    broken = False
    try:
        schedules = read_schedules(path, shown)
    except ScheduleFileError as exc:
        problems.append(Problem(shown, exc.line, exc.message))
        schedules, broken = Schedules(source=shown, found=True), True
    catalog.schedules = schedules
    for name, loaded in [*catalog.sequences.items(), *(("", u) for u in catalog.unusable)]:
        wanted = loaded.spec.schedule
        if wanted is None or wanted in schedules.by_name:
            continue
        message = (
            f"schedule {wanted!r} cannot be used while {shown} is invalid"
            if broken
            else schedules.unknown(wanted)
        )
        problems.append(Problem(display_path(loaded.path, home), loaded.line("schedule"), message))
        if loaded.usable:
            del catalog.sequences[name]
            catalog.invalid_files.append(loaded.path)
            loaded.usable = False
            catalog.unusable.append(loaded)
