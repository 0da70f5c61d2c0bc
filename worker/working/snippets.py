"""Snippets: templates for common answers a rep sends from the app, one file per language.

``snippets/NAME.LANG.txt`` (``pricing.en.txt``, ``pricing.de.txt``) holds the text of one
answer in one language: no ``Subject:`` line (a reply keeps its thread's subject), Jinja with
the lead's fields (``{{ first_name }}`` or ``{{ lead.first_name }}``) and the sender's
(``{{ sender.name }}``), rendered in the same sandbox and under the same limits as the
sequences' templates. A rep picks one by name; the lead's language decides the file (its own,
else English, else the first there is). The mailbox's signature is added when the reply is
sent, so snippets end without one. ``outreach validate`` reports a broken snippet as
``snippets/NAME.LANG.txt:LINE: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from worker.authoring.languages import DEFAULT_LANGUAGE, normalise_language
from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.problems import Problem
from worker.authoring.template_limits import render_bounded, render_budget
from worker.authoring.templates import TemplateRenderer
from worker.delivery.rendering import sender_namespace
from worker.errors import NotFoundError, TemplateRenderError

SNIPPETS_DIR = "snippets"
MAX_SNIPPET_BYTES = 20_000
_FILE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9_-]{0,62})(?:\.(?P<language>[A-Za-z_-]{2,10}))?\.txt$"
)


@dataclass(frozen=True)
class Snippet:
    """One snippet file: its name, language, where it is and its text."""

    name: str
    language: str
    path: Path
    source: str

    @property
    def title(self) -> str:
        """How the form names it: ``follow-up_call`` → "Follow up call"."""
        return re.sub(r"[-_]+", " ", self.name).capitalize()


def snippets_dir(home: Path) -> Path:
    """The project's ``snippets/`` folder."""
    return home / SNIPPETS_DIR


def load_snippets(home: Path) -> tuple[dict[str, dict[str, Snippet]], list[Problem]]:
    """Every snippet by name and language, and the problems of files that cannot be one."""
    folder = snippets_dir(home)
    found: dict[str, dict[str, Snippet]] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return found, problems
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        shown = f"{SNIPPETS_DIR}/{path.name}"
        match = _FILE.match(path.name)
        if match is None:
            problems.append(
                Problem(shown, 1, "not a snippet name — name it NAME.LANG.txt, e.g. pricing.en.txt")
            )
            continue
        try:
            language = normalise_language(match["language"] or DEFAULT_LANGUAGE)
        except ValueError as exc:
            problems.append(Problem(shown, 1, str(exc)))
            continue
        try:
            data = path.read_bytes()
            if len(data) > MAX_SNIPPET_BYTES:
                raise ValueError(f"larger than {MAX_SNIPPET_BYTES:,} bytes — shorten it")
            source = data.decode("utf-8")
        except (OSError, ValueError) as exc:
            problems.append(Problem(shown, 1, f"cannot be read: {exc}"))
            continue
        if source.lstrip().lower().startswith("subject:"):
            problems.append(
                Problem(shown, 1, "a snippet has no Subject: line (a reply keeps its thread's)")
            )
        found.setdefault(match["name"], {})[language] = Snippet(
            match["name"], language, path, source
        )
    return found, problems


def pick(by_language: dict[str, Snippet], language: str) -> Snippet:
    """The snippet in ``language``, else English, else the first language there is."""
    return (
        by_language.get(language)
        or by_language.get(DEFAULT_LANGUAGE)
        or by_language[sorted(by_language)[0]]
    )


def snippets_for(home: Path, language: str) -> list[Snippet]:
    """One snippet per name, each in ``language`` where it has it; sorted by name."""
    found, _ = load_snippets(home)
    return [pick(found[name], language) for name in sorted(found)]


def find_snippet(home: Path, name: str, language: str) -> Snippet:
    """The snippet ``name`` in ``language`` (see ``pick``); NotFoundError naming the others."""
    found, _ = load_snippets(home)
    by_language = found.get(name.strip())
    if not by_language:
        known = ", ".join(sorted(found)) or f"none yet — add files to {SNIPPETS_DIR}/"
        raise NotFoundError(f"No snippet named {name!r} in {SNIPPETS_DIR}/ (snippets: {known}).")
    return pick(by_language, language)


def snippet_context(fields: dict[str, Any], mailbox: MailboxSpec | None) -> dict[str, Any]:
    """What a snippet sees: each lead field by its name and as ``lead.NAME``, and ``sender``."""
    return {
        **fields,
        "lead": SimpleNamespace(**fields),
        "sender": sender_namespace(mailbox) if mailbox is not None else SimpleNamespace(),
    }


def render_snippet(
    renderer: TemplateRenderer,
    snippet: Snippet,
    fields: dict[str, Any],
    mailbox: MailboxSpec | None,
) -> str:
    """The snippet's text for a lead; TemplateRenderError as ``snippets/FILE:LINE: message``."""
    shown = f"{SNIPPETS_DIR}/{snippet.path.name}"
    try:
        with render_budget():
            template = renderer.env.from_string(snippet.source)
            return render_bounded(template, snippet_context(fields, mailbox)).strip() + "\n"
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"{shown}:{exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateRenderError(
            f"{shown}:{_line_of(exc)}: {exc.message} — the lead has no such field; "
            "write it with a default: {{ NAME | default('…') }}"
        ) from None
    except SecurityError as exc:
        raise TemplateRenderError(f"{shown}:{_line_of(exc)}: not allowed: {exc}") from None
    except Exception as exc:  # any other error of the text: name the file, never crash
        raise TemplateRenderError(f"{shown}:{_line_of(exc)}: {type(exc).__name__}: {exc}") from None


def _line_of(exc: BaseException) -> int:
    """The snippet line a render error happened on (from the traceback), else 1."""
    line = 1
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def check_snippets(
    home: Path,
    renderer: TemplateRenderer,
    samples: list[dict[str, Any]],
    mailbox: MailboxSpec | None,
) -> list[Problem]:
    """Problems of ``snippets/``: bad names, syntax errors, and fields a sample lead (the
    project's sample leads, up to 20) or the sender lacks; one problem per file."""
    found, problems = load_snippets(home)
    leads = samples[:20] or [{"email": "lead@example.com"}]
    for by_language in found.values():
        for snippet in by_language.values():
            for fields in leads:
                try:
                    render_snippet(renderer, snippet, fields, mailbox)
                except TemplateRenderError as exc:
                    path, line, message = str(exc).split(":", 2)
                    problems.append(Problem(path, int(line), message.strip()))
                    break
    return problems


__all__ = [
    "SNIPPETS_DIR",
    "Snippet",
    "check_snippets",
    "find_snippet",
    "load_snippets",
    "pick",
    "render_snippet",
    "snippet_context",
    "snippets_dir",
    "snippets_for",
]
