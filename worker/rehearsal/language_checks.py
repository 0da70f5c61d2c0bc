"""``outreach validate`` for sequences in several languages (``languages: [en, de]``).

For every declared language besides the default, each email step (and each A/B variant with
a template of its own) must have its text in that language (``<template>.<lang>.txt.j2``),
and its HTML too when the default language has HTML; a subject override must give a text
for every language (``subject: {en: …, de: …}``), and every step is rendered in that
language for each sample lead. Templates a localised touch extends or includes without a
version in its language are warned about (a German email with an English sign-off). Sample
leads whose ``language`` or ``currency`` field is not a code are reported at their CSV line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jinja2 import TemplateSyntaxError, nodes

from worker.authoring.languages import localized_name, normalise_language
from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.problems import Problem
from worker.authoring.schema import StepSpec, Subject
from worker.authoring.sequences import LoadedSequence
from worker.authoring.templates import HTML_SUFFIX, TEXT_SUFFIX, TemplateRenderer
from worker.authoring.yaml_source import Loc
from worker.delivery.rendering import render_touch
from worker.delivery.variants import templates_of
from worker.errors import TemplateRenderError
from worker.leads.locales import currency_code, language_problem
from worker.rehearsal.template_fields import SampleLead

SAMPLE_UNSUBSCRIBE = "https://outreach.example.test/u/0.sample"
DERIVED_FIELDS = ("language", "currency")  # every lead has them (from its country at worst)
_LOCATED = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)
_WHERE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+) ")


def language_problems(
    renderer: TemplateRenderer,
    loaded: LoadedSequence,
    shown: str,
    mailbox: MailboxSpec,
    samples: list[SampleLead],
) -> list[Problem]:
    """Every problem of ``loaded`` in a language other than its default."""
    spec = loaded.spec
    problems: list[Problem] = []
    for index, step in enumerate(spec.steps):
        if not step.is_email or index in loaded.broken_steps:
            continue
        for at, label, template, subject in _parts(step, index):
            problems += _subject_problems(loaded, shown, at, label, subject)
            for language in spec.languages[1:]:
                problems += _file_problems(renderer, loaded, shown, at, label, template, language)
        for language in spec.languages[1:]:
            problems += _render_problems(renderer, loaded, shown, mailbox, samples, index, language)
    return problems


def _parts(step: StepSpec, index: int) -> list[tuple[Loc, str, str | None, Subject | None]]:
    """(where, label, own template, subject) of a step and of each of its variants."""
    at: Loc = ("steps", index)
    label = f"step {index + 1}"
    parts: list[tuple[Loc, str, str | None, Subject | None]] = [
        (at, label, step.template, step.subject)
    ]
    for number, variant in enumerate(step.variants or ()):
        parts.append(
            (
                (*at, "variants", number),
                f"{label} variant {variant.name!r}",
                variant.template,
                variant.subject,
            )
        )
    return parts


def _file_problems(
    renderer: TemplateRenderer,
    loaded: LoadedSequence,
    shown: str,
    at: Loc,
    label: str,
    template: str | None,
    language: str,
) -> list[Problem]:
    """A step's template without its text (or HTML) in ``language``."""
    if template is None or not renderer.exists(template):
        return []  # no template of its own, or missing altogether (reported elsewhere)
    line = loaded.line(*at, "template")
    text = localized_name(f"{template}{TEXT_SUFFIX}", language)
    if not renderer.exists(template, language):
        return [
            Problem(
                shown,
                line,
                f"{label}: no {language!r} version of templates/{template}{TEXT_SUFFIX} — "
                f"create templates/{text} (the sequence declares languages: "
                f"{', '.join(loaded.spec.languages)}); until then {language!r} leads get "
                f"this step in {loaded.spec.default_language!r}",
            )
        ]
    html = f"{template}{HTML_SUFFIX}"
    if (renderer.templates_dir / html).is_file() and not (
        renderer.templates_dir / localized_name(html, language)
    ).is_file():
        return [
            Problem(
                shown,
                line,
                f"{label}: templates/{html} has no {language!r} version — create "
                f"templates/{localized_name(html, language)}; until then {language!r} leads "
                "get this step as plain text only",
            )
        ]
    return []


def _subject_problems(
    loaded: LoadedSequence, shown: str, at: Loc, label: str, subject: Subject | None
) -> list[Problem]:
    """A subject override that some declared language has no text for."""
    spec = loaded.spec
    if subject is None or len(spec.languages) < 2:
        return []
    line = loaded.line(*at, "subject")
    given = {spec.default_language} if isinstance(subject, str) else set(subject)
    missing = [language for language in spec.languages if language not in given]
    problems = []
    if missing:
        example = ", ".join(f"{language}: '…'" for language in spec.languages)
        problems.append(
            Problem(
                shown,
                line,
                f"{label}: the subject has no text in {', '.join(map(repr, missing))} — write "
                f"one per language, subject: {{{example}}} (until then those leads get the "
                "template's own subject)",
            )
        )
    extra = sorted(given - set(spec.languages))
    if extra:
        problems.append(
            Problem(
                shown,
                line,
                f"{label}: subject in {', '.join(map(repr, extra))}, which the sequence does "
                f"not declare (languages: {', '.join(spec.languages)}) — add it there or "
                "remove that text",
                "warning",
            )
        )
    return problems


def _render_problems(
    renderer: TemplateRenderer,
    loaded: LoadedSequence,
    shown: str,
    mailbox: MailboxSpec,
    samples: list[SampleLead],
    index: int,
    language: str,
) -> list[Problem]:
    """The step rendered in ``language`` for every sample lead (as if it spoke it)."""
    step = loaded.spec.steps[index]
    problems: list[Problem] = []
    if not all(renderer.exists(name) for name in templates_of(step)):
        return []  # a missing template is reported at its step
    variants: list[str | None] = [v.name for v in step.variants or ()] or [None]
    for variant in variants:
        for sample in samples:
            fields = {**sample.fields, "language": language}
            try:
                render_touch(
                    renderer, fields, mailbox, loaded.spec, index, SAMPLE_UNSUBSCRIBE, variant
                )
            except TemplateRenderError as exc:
                message = str(exc)
                found = _LOCATED.match(message)
                path, line = (
                    (found["path"], int(found["line"]))
                    if found
                    else (shown, loaded.line("steps", index))
                )
                text = found["message"] if found else message
                problems.append(
                    Problem(path, line, f"{text} (sample lead {sample.where} in {language!r})")
                )
                break
    return problems


def sample_problems(samples: list[SampleLead]) -> list[Problem]:
    """Sample leads whose ``language`` or ``currency`` field is not a code, at their line."""
    problems = []
    for sample in samples:
        found = _WHERE.match(sample.where)
        if found is None:
            continue
        for problem in _field_problems(sample.fields):
            problems.append(Problem(found["path"], int(found["line"]), problem))
    return problems


def _field_problems(fields: Mapping[str, object]) -> list[str]:
    problems = []
    language = fields.get("language")
    if isinstance(language, str) and language.strip():
        problem = language_problem(language)
        if problem:
            problems.append(f"field 'language': {problem}")
    currency = fields.get("currency")
    if isinstance(currency, str) and currency.strip():
        try:
            currency_code(currency)
        except ValueError as exc:
            problems.append(f"field 'currency': {exc}")
    return problems


def layout_warnings(renderer: TemplateRenderer, languages: set[str]) -> list[Problem]:
    """A warning for each localised template that extends or includes a template with no
    version in its language (``layouts/base.txt.j2`` without ``layouts/base.de.txt.j2``)."""
    root = renderer.templates_dir
    users: dict[tuple[str, str], list[tuple[str, int]]] = {}  # (wanted, used) -> (file, line)
    for path in sorted(root.rglob("*.j2")):
        name = path.relative_to(root).as_posix()
        language = _language_of(name)
        if language is None or language not in languages:
            continue
        try:
            tree = renderer.env.parse(path.read_text(encoding="utf-8"))
        except (TemplateSyntaxError, UnicodeDecodeError):
            continue  # reported by the syntax pass
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            target = node.template  # type: ignore[attr-defined]
            if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
                continue
            wanted = localized_name(target.value, language)
            if _language_of(target.value) is None and not (root / wanted).is_file():
                users.setdefault((wanted, target.value), []).append((name, node.lineno))
    problems = []
    for (wanted, used), found in sorted(users.items()):
        name, line = found[0]
        more = f" (and {len(found) - 1} more template(s))" if len(found) > 1 else ""
        problems.append(
            Problem(
                f"templates/{name}",
                line,
                f"uses {used}, which has no version in its language{more} — create "
                f"templates/{wanted}, or these emails mix languages",
                "warning",
            )
        )
    return problems


def _language_of(name: str) -> str | None:
    """``de`` for ``x/01_intro.de.txt.j2``; None for a name without a language."""
    for suffix in (TEXT_SUFFIX, HTML_SUFFIX):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            _, dot, last = stem.rpartition(".")
            if dot and 2 <= len(last) <= 3 and last.isalpha() and last.islower():
                try:
                    return normalise_language(last)
                except ValueError:
                    return None
    return None


def base_template(name: str) -> str:
    """``x/01_intro.de`` → ``x/01_intro`` (a template name without its language)."""
    _, dot, last = name.rpartition(".")
    if dot and _language_of(f"{name}{TEXT_SUFFIX}") == last:
        return name[: -len(last) - 1]
    return name


__all__ = [
    "DERIVED_FIELDS",
    "base_template",
    "language_problems",
    "layout_warnings",
    "sample_problems",
]
