"""``outreach validate``: every problem in sequences and templates, as ``path:line: message``."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import TemplateSyntaxError, nodes

from worker.authoring.mailboxes import Mailboxes, MailboxSpec, load_mailboxes
from worker.authoring.problems import Problem, display_path
from worker.authoring.reply_rules import enroll_targets
from worker.authoring.schema import SequenceSpec, Subject
from worker.authoring.sequences import Catalog, LoadedSequence, load_catalog, sequence_files
from worker.authoring.suggestions import suggestion
from worker.authoring.templates import HTML_SUFFIX, TEXT_SUFFIX, TemplateRenderer
from worker.authoring.yaml_source import Loc
from worker.delivery.manual_steps import render_task
from worker.delivery.rendering import lead_fields, render_touch
from worker.delivery.variants import templates_of
from worker.errors import ConfigError, LeadImportError, TemplateRenderError
from worker.integrations.config import integration_problems
from worker.leads.csv_input import RowError
from worker.leads.importing import lead_from_row, read_rows
from worker.rehearsal.language_checks import (
    DERIVED_FIELDS,
    base_template,
    language_problems,
    layout_warnings,
    sample_problems,
)
from worker.rehearsal.lead_fields_check import check_lead_fields
from worker.rehearsal.template_fields import SampleLead, unguarded_lead_fields
from worker.scoring.config import check_sequences, load_scoring, scoring_path
from worker.settings import Settings
from worker.working.snippets import check_snippets

_LOCATED = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)
SAMPLE_UNSUBSCRIBE = "https://outreach.example.test/u/0.sample"
_SAMPLE_TAG = " (sample lead "


_ONLY_EMAIL = SampleLead("a lead with only an email", {"email": "sample@example.test"})


def validate(
    settings: Settings, paths: list[Path] | None = None, leads_file: Path | None = None
) -> list[Problem]:
    """Check sequences, templates, mailboxes and sample leads; return every problem found.

    With ``leads_file`` (a real leads CSV) the templates are checked against its rows
    instead of the sample leads: each row missing a field a template needs is reported.
    """
    home = settings.home
    files, named_templates = _selection(settings, paths) if paths else (None, False)
    catalog, problems = load_catalog(settings.sequences_dir, home, files)
    if files is not None and not files and not named_templates:
        problems.append(
            Problem(
                " ".join(str(p) for p in paths or []), 1, "no sequences or templates found here"
            )
        )
    if files is not None:
        # Sequences named by on_complete may live outside the checked files.
        full, _ = load_catalog(settings.sequences_dir, home)
        known_names = set(full.sequences) | set(catalog.sequences)
        known_names |= {path.stem for path in full.invalid_files}
    else:
        known_names = set(catalog.sequences)
    # A sequence whose own file is invalid is reported there, not where it is named.
    known_names |= {path.stem for path in catalog.invalid_files}
    mailboxes = _mailboxes(settings, problems)
    renderer = TemplateRenderer(settings.templates_dir)
    problems.extend(_template_syntax(settings, renderer))
    checked = [catalog.sequences[name] for name in catalog.names()] + catalog.unusable
    if leads_file is None:
        samples = _sample_leads(settings, problems)
        problems.extend(_template_fields(settings, renderer, samples))
    else:
        found, samples = check_lead_fields(settings, renderer, checked, leads_file)
        problems.extend(found)
    problems.extend(_unsubscribe_links(settings, renderer))
    problems.extend(sample_problems(samples))
    declared = {language for s in checked for language in s.spec.languages[1:]}
    problems.extend(layout_warnings(renderer, declared))
    for loaded in checked:
        problems.extend(
            _check_sequence(settings, loaded, known_names, mailboxes, renderer, samples)
        )
    if files is None:
        problems.extend(scoring_problems(settings, known_names))
        names = set(mailboxes.by_name) if mailboxes is not None else set()
        problems.extend(integration_problems(settings.home, names, settings.environ))
        sender = next(iter(mailboxes.by_name.values()), None) if mailboxes else None
        problems.extend(check_snippets(home, renderer, [s.fields for s in samples], sender))
    # Each file's problems together, top to bottom, as the author fixes them.
    return sorted(_unique(problems), key=lambda problem: (problem.path, problem.line))


def scoring_problems(settings: Settings, sequences: set[str]) -> list[Problem]:
    """Problems of ``scoring.yaml`` (none without one: scoring is off), its ``enroll:``
    actions checked against the sequences."""
    loaded, problems = load_scoring(scoring_path(settings.home), settings.home)
    if loaded is not None:
        problems.extend(check_sequences(loaded, sequences))
    return problems


def _selection(settings: Settings, paths: list[Path]) -> tuple[list[Path] | None, bool]:
    """The sequence files ``outreach validate PATH...`` checks (None: all), and whether
    any template was named.

    A sequence file or folder selects those files; a touch template (or a folder of them)
    selects the sequences that use it; a layout, or the project folder, selects everything.
    """
    sequences_dir = settings.sequences_dir.resolve()
    templates_dir = settings.templates_dir.resolve()
    yaml_paths: list[Path] = []
    templates: set[str] = set()
    for path in paths:
        full = path.resolve()
        if full.is_dir() and full in sequences_dir.parents:
            return None, False
        if full == templates_dir or templates_dir in full.parents:
            found = sorted(full.rglob("*.j2")) if full.is_dir() else [full]
            for template in found:
                name = template.relative_to(templates_dir).as_posix()
                stem = name.removesuffix(TEXT_SUFFIX).removesuffix(HTML_SUFFIX)
                templates.add(base_template(stem))  # 01_intro.de.txt.j2: the 01_intro step
        else:
            yaml_paths.append(path)
    files = sequence_files(yaml_paths)
    if templates:
        chosen = {f.resolve() for f in files}
        full_catalog, _ = load_catalog(settings.sequences_dir, settings.home)
        steps = {
            name
            for s in full_catalog.sequences.values()
            for step in s.spec.steps
            for name in templates_of(step)
        }
        if templates - steps:
            return None, True  # a layout or partial: every sequence may use it
        for loaded in full_catalog.sequences.values():
            uses = any(templates & templates_of(step) for step in loaded.spec.steps)
            if uses and loaded.path.resolve() not in chosen:
                files.append(loaded.path)
    return files, bool(templates)


def _mailboxes(settings: Settings, problems: list[Problem]) -> Mailboxes | None:
    """The mailboxes, or None with the problem recorded (shown relative to the project)."""
    path = settings.mailboxes_file
    shown = display_path(path, settings.home)
    try:
        return load_mailboxes(path)
    except ConfigError as exc:
        problem = _located(str(exc), shown)
        where = shown if problem.path == str(path) else problem.path
        problems.append(Problem(where, problem.line, problem.message.removeprefix(f"{path}: ")))
        return None


def placeholder_mailbox(name: str) -> MailboxSpec:
    """A stand-in sender, so templates are still checked when the real mailbox is unusable."""
    return MailboxSpec(
        name=name,
        address="sender@example.test",
        display_name="Sender Name",
        title="Title",
        company="Company",
        phone="+1 555 0100",
    )


def _sample_leads(settings: Settings, problems: list[Problem]) -> list[SampleLead]:
    path = settings.sample_leads_file
    shown = display_path(path, settings.home)
    if not path.is_file():
        return []
    samples = []
    try:
        for line, row in read_rows(path):
            if isinstance(row, RowError):
                problems.append(Problem(shown, row.row, row.message))
                continue
            fields = lead_fields(lead_from_row(row))
            samples.append(SampleLead(f"{shown}:{line} ({row['email']})", fields))
    except LeadImportError as exc:
        problems.append(_located(str(exc), shown))
    return samples


def _template_syntax(settings: Settings, renderer: TemplateRenderer) -> list[Problem]:
    problems = []
    root = settings.templates_dir
    if not root.is_dir():
        return [Problem(display_path(root, settings.home), 1, "templates folder not found")]
    for path in sorted(root.rglob("*.j2")):
        name = path.relative_to(root).as_posix()
        try:
            renderer.env.parse(path.read_text(encoding="utf-8"), name=name)
        except TemplateSyntaxError as exc:
            problems.append(
                Problem(f"templates/{name}", exc.lineno or 1, f"syntax error: {exc.message}")
            )
        except UnicodeDecodeError:
            problems.append(Problem(f"templates/{name}", 1, "not UTF-8 text"))
    return problems


def _check_sequence(
    settings: Settings,
    loaded: LoadedSequence,
    known_names: set[str],
    mailboxes: Mailboxes | None,
    renderer: TemplateRenderer,
    samples: list[SampleLead],
) -> list[Problem]:
    spec = loaded.spec
    shown = display_path(loaded.path, settings.home)
    problems: list[Problem] = []
    mailbox: MailboxSpec | None = None
    if mailboxes is not None and "mailbox" not in loaded.broken_keys:
        if spec.mailbox in mailboxes.by_name or mailboxes.is_pool(spec.mailbox):
            mailbox = mailboxes.sender_for(spec.mailbox)  # a pool: its first mailbox
        else:
            known = sorted(set(mailboxes.by_name) | set(mailboxes.pools))
            message = (
                f"mailbox {spec.mailbox!r} is not a mailbox or pool in mailboxes.yaml"
                f"{suggestion(spec.mailbox, known)} (known: {', '.join(known) or 'none'})"
            )
            problems.append(Problem(shown, loaded.line("mailbox"), message))
    target = spec.on_complete.sequence
    if target and target not in known_names:
        problems.append(
            Problem(
                shown,
                loaded.line("on_complete", "sequence"),
                f"on_complete enrolls into unknown sequence {target!r}"
                + _known_sequences(target, known_names),
            )
        )
    for intent, actions in spec.on_reply.rules().items():
        for target in enroll_targets(actions):
            if target not in known_names:
                problems.append(
                    Problem(
                        shown,
                        loaded.line("on_reply", intent),
                        f"on_reply.{intent} enrolls into unknown sequence {target!r}"
                        + _known_sequences(target, known_names),
                    )
                )
    sender = mailbox or placeholder_mailbox(spec.mailbox)
    for index, step in enumerate(spec.steps):
        if index in loaded.broken_steps:
            continue  # reported where it is written; its template cannot be known
        if not step.is_email:
            problems.extend(_task_problems(renderer, spec, index, sender, samples, shown, loaded))
            continue
        problems.extend(_email_problems(renderer, spec, index, sender, samples, shown, loaded))
    problems.extend(language_problems(renderer, loaded, shown, sender, samples or [_ONLY_EMAIL]))
    problems.extend(_tracking_warnings(renderer, loaded, shown))
    return problems


OPENS_UNRELIABLE = (
    "track_opens: Apple Mail privacy protection pre-fetches every image: opens are "
    "unreliable (recorded as email_opened, never counted as interest)"
)


def _tracking_warnings(
    renderer: TemplateRenderer, loaded: LoadedSequence, shown: str
) -> list[Problem]:
    """Warnings for ``track_opens: true``: opens are unreliable, and need an HTML part."""
    spec = loaded.spec
    if not spec.track_opens:
        return []
    line = loaded.line("track_opens")
    problems = [Problem(shown, line, OPENS_UNRELIABLE, "warning")]
    names = {name for step in spec.steps if step.is_email for name in templates_of(step)}
    if not any((renderer.templates_dir / f"{name}{HTML_SUFFIX}").is_file() for name in names):
        problems.append(
            Problem(
                shown,
                line,
                "track_opens: none of this sequence's emails has an HTML part "
                "(templates/<step>.html.j2), and opens need HTML: the pixel is an image",
                "warning",
            )
        )
    return problems


def _known_sequences(target: str, known: set[str]) -> str:
    """A suggestion and the sequences there are, for an unknown sequence name."""
    return f"{suggestion(target, known)} (sequences: {', '.join(sorted(known)) or 'none'})"


def _similar_template(renderer: TemplateRenderer, template: str | None) -> str:
    """A suggestion among the touch templates there are, for a template not found."""
    root = renderer.templates_dir
    names = {
        path.relative_to(root).as_posix().removesuffix(TEXT_SUFFIX)
        for path in root.rglob(f"*{TEXT_SUFFIX}")
        if "layouts" not in path.relative_to(root).parts
    }
    return suggestion(template or "", names) or " — check the name and the templates folder"


def _email_problems(
    renderer: TemplateRenderer,
    spec: SequenceSpec,
    index: int,
    mailbox: MailboxSpec,
    samples: list[SampleLead],
    shown: str,
    loaded: LoadedSequence,
) -> list[Problem]:
    """An email step and each of its A/B variants: template, subject, a render per sample."""
    step = spec.steps[index]
    at: Loc = ("steps", index)
    template_ok, subject_ok, problems = _sources(
        renderer, shown, loaded, at, f"step {index + 1}", step.template, step.subject
    )
    if not step.variants:
        if template_ok and subject_ok:
            problems += _render_problems(renderer, spec, index, mailbox, samples, shown, loaded)
        return problems
    for number, variant in enumerate(step.variants):
        where: Loc = (*at, "variants", number)
        label = f"step {index + 1} variant {variant.name!r}"
        own_template_ok, own_subject_ok, own = _sources(
            renderer, shown, loaded, where, label, variant.template, variant.subject
        )
        problems += own
        usable = (own_template_ok if variant.template else template_ok) and (
            own_subject_ok if variant.subject is not None else subject_ok
        )
        if usable:
            problems += _render_problems(
                renderer, spec, index, mailbox, samples, shown, loaded, variant.name, where
            )
    return problems


def _sources(
    renderer: TemplateRenderer,
    shown: str,
    loaded: LoadedSequence,
    at: Loc,
    label: str,
    template: str | None,
    subject: Subject | None,
) -> tuple[bool, bool, list[Problem]]:
    """Whether a step's (or variant's) own template exists and subject parses, and problems."""
    problems = []
    template_ok = template is None or renderer.exists(template)
    if not template_ok:
        problems.append(
            Problem(
                shown,
                loaded.line(*at, "template"),
                f"{label}: template templates/{template}{TEXT_SUFFIX} not found"
                + _similar_template(renderer, template),
            )
        )
    subject_ok = True
    texts = {"": subject} if isinstance(subject, str) else dict(subject or {})
    for language, text in texts.items():  # a subject per language: {en: ..., de: ...}
        try:
            renderer.env.parse(text)
        except TemplateSyntaxError as exc:
            subject_ok = False
            which = f" ({language})" if language else ""
            problems.append(
                Problem(
                    shown,
                    loaded.line(*at, "subject", *([language] if language else [])),
                    f"{label}: subject{which}: {exc.message}",
                )
            )
    return template_ok, subject_ok, problems


def _task_problems(
    renderer: TemplateRenderer,
    spec: SequenceSpec,
    index: int,
    mailbox: MailboxSpec,
    samples: list[SampleLead],
    shown: str,
    loaded: LoadedSequence,
) -> list[Problem]:
    """A manual step's ``task:`` text: its syntax, and that it renders for every sample lead."""
    step = spec.steps[index]
    line = loaded.line("steps", index, "task")
    label = f"step {index + 1} ({step.type} task)"
    try:
        renderer.env.parse(step.task or "")
    except TemplateSyntaxError as exc:
        return [Problem(shown, line, f"{label}: syntax error: {exc.message}")]
    for sample in samples or [_ONLY_EMAIL]:
        try:
            render_task(renderer, sample.fields, mailbox, spec, index)
        except TemplateRenderError as exc:
            message = str(exc).removeprefix(f"task {step.task!r}: ")
            return [Problem(shown, line, f"{label}: {message}{_SAMPLE_TAG}{sample.where})")]
    return []


def _template_fields(
    settings: Settings, renderer: TemplateRenderer, samples: list[SampleLead]
) -> list[Problem]:
    """Unguarded ``lead.x`` uses in every template that some sample lead does not have.

    Every template is checked, not only those of valid sequences, so a broken sequence file
    never hides a problem in its templates.
    """
    root = settings.templates_dir
    if not root.is_dir():
        return []
    problems = []
    for path in sorted(root.rglob("*.j2")):
        if not path.name.endswith((TEXT_SUFFIX, HTML_SUFFIX)):
            continue
        name = path.relative_to(root).as_posix()
        try:
            tree = renderer.env.parse(path.read_text(encoding="utf-8"))
        except (TemplateSyntaxError, UnicodeDecodeError):
            continue  # reported by the syntax pass
        for field_name, line in unguarded_lead_fields(tree):
            if field_name in DERIVED_FIELDS:
                continue  # every lead has a language and a currency
            missing = [s for s in samples if field_name not in s.fields]
            if missing:
                problems.append(
                    Problem(
                        f"templates/{name}",
                        line,
                        f"lead.{field_name} has no default, but sample lead {missing[0].where}"
                        + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                        + (" have" if len(missing) > 1 else " has")
                        + f" no {field_name!r} — write {{{{ lead.{field_name} | default('…') }}}} "
                        f"or wrap it in {{% if lead.{field_name} is defined %}}",
                    )
                )
    return problems


def _unsubscribe_links(settings: Settings, renderer: TemplateRenderer) -> list[Problem]:
    """A warning for each text template (one no other template extends or includes) that
    neither mentions ``unsubscribe_url`` nor reaches a template that does."""
    root = settings.templates_dir
    if not root.is_dir():
        return []
    parsed: dict[str, tuple[bool, set[str | None]]] = {}
    for path in sorted(root.rglob("*.j2")):
        name = path.relative_to(root).as_posix()
        try:
            tree = renderer.env.parse(path.read_text(encoding="utf-8"))
        except (TemplateSyntaxError, UnicodeDecodeError):
            continue  # reported by the syntax pass
        mentions = any(n.name == "unsubscribe_url" for n in tree.find_all(nodes.Name))
        parsed[name] = (mentions, _referenced_templates(tree))
    used = {ref for _, refs in parsed.values() for ref in refs}

    def links(name: str | None, seen: set[str]) -> bool:
        if name is None:
            return True  # a name computed at render time: cannot tell, so do not warn
        if name in seen or name not in parsed:
            return False
        seen.add(name)
        mentions, refs = parsed[name]
        return mentions or any(links(ref, seen) for ref in refs)

    return [
        Problem(
            f"templates/{name}",
            1,
            "no unsubscribe link: neither this template nor a layout it extends or includes "
            "uses {{ unsubscribe_url }} — add one, e.g. 'Unsubscribe: {{ unsubscribe_url }}'",
            "warning",
        )
        for name in parsed
        if name.endswith(TEXT_SUFFIX) and name not in used and not links(name, set())
    ]


def _referenced_templates(tree: nodes.Template) -> set[str | None]:
    """Templates ``tree`` extends, includes or imports (None for a computed name)."""
    found: set[str | None] = set()
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        target: nodes.Expr = node.template  # type: ignore[attr-defined]
        items = target.items if isinstance(target, nodes.List | nodes.Tuple) else [target]
        names = [i.value for i in items if isinstance(i, nodes.Const) and isinstance(i.value, str)]
        found.update(names if len(names) == len(items) else [None])
    return found


def _render_problems(
    renderer: TemplateRenderer,
    spec: SequenceSpec,
    index: int,
    mailbox: MailboxSpec,
    samples: list[SampleLead],
    shown: str,
    loaded: LoadedSequence,
    variant: str | None = None,
    at: Loc | None = None,
) -> list[Problem]:
    problems = []
    at = at or ("steps", index)
    for sample in samples or [_ONLY_EMAIL]:
        try:
            render_touch(renderer, sample.fields, mailbox, spec, index, SAMPLE_UNSUBSCRIBE, variant)
        except TemplateRenderError as exc:
            problem = _located(str(exc), shown, loaded.line(*at))
            problems.append(
                Problem(
                    problem.path, problem.line, f"{problem.message}{_SAMPLE_TAG}{sample.where})"
                )
            )
            break
    return problems


def _located(message: str, default_path: str, default_line: int = 1) -> Problem:
    match = _LOCATED.match(message)
    if match:
        return Problem(match["path"], int(match["line"]), match["message"])
    return Problem(default_path, default_line, message)


def _unique(problems: list[Problem]) -> list[Problem]:
    """Drop repeated problems.

    A failed sample render is dropped where another problem already points at the same file
    and line (e.g. the missing field it tripped over), so each mistake is reported once.
    """
    pointed = {(p.path, p.line) for p in problems if _SAMPLE_TAG not in p.message}
    seen: set[tuple[str, int, str]] = set()
    unique = []
    for problem in problems:
        if _SAMPLE_TAG in problem.message and (problem.path, problem.line) in pointed:
            continue
        key = (problem.path, problem.line, problem.message.split(_SAMPLE_TAG)[0])
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


__all__ = ["Catalog", "SampleLead", "unguarded_lead_fields", "validate"]
