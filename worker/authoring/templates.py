"""The template environment: sandboxed Jinja, strict undefined, HTML autoescaped."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from worker.authoring.formatting import install_filters
from worker.authoring.languages import LanguageLoader, localized_name
from worker.authoring.template_limits import BoundedSandbox, render_bounded, render_budget
from worker.errors import TemplateRenderError

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
_SPACES = re.compile(r"\s+")
_BARE_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")


@dataclass(frozen=True)
class RenderedEmail:
    """The rendered parts of one email."""

    subject: str
    text: str
    html: str | None


def make_environment(
    templates_dir: Path, *, auto_reload: bool = False, language: str | None = None
) -> BoundedSandbox:
    """The Jinja environment: sandboxed with limits (``template_limits``), strict,
    autoescaping ``*.html.j2`` only, with the formatting filters (``money``, ``number``,
    ``date``). With ``language`` every template name is looked up in that language first
    (``layouts/base.de.txt.j2`` for ``layouts/base.txt.j2``; see ``languages``)."""
    files = FileSystemLoader(str(templates_dir))
    environment = BoundedSandbox(
        loader=files if language is None else LanguageLoader(files, language),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=auto_reload,
        cache_size=-1,
    )
    install_filters(environment)
    return environment


def one_line(text: str) -> str:
    """Collapse all whitespace (CR/LF included) to single spaces: safe for a header."""
    return _SPACES.sub(" ", text).strip()


class TemplateRenderer:
    """Renders touches; compiled templates are cached and shared by threads.

    ``env`` renders without a language (the files as named); each language gets its own
    environment (``environment``), whose compiled templates are cached the same way.
    """

    def __init__(
        self, templates_dir: Path, *, auto_reload: bool = False, default_currency: str = "EUR"
    ) -> None:
        self.templates_dir = templates_dir
        self.auto_reload = auto_reload
        self.default_currency = default_currency  # a lead's currency when nothing else says
        self.env = make_environment(templates_dir, auto_reload=auto_reload)
        self._envs: dict[str, BoundedSandbox] = {}
        self._subjects: dict[str, Template] = {}
        self._files: dict[str, bool] = {}  # like compiled templates, looked up once
        self._lock = threading.Lock()

    def environment(self, language: str | None) -> BoundedSandbox:
        """The environment that renders in ``language`` (None: ``env``)."""
        if language is None:
            return self.env
        with self._lock:
            found = self._envs.get(language)
            if found is None:
                found = make_environment(
                    self.templates_dir, auto_reload=self.auto_reload, language=language
                )
                self._envs[language] = found
            return found

    def exists(self, template: str, language: str | None = None) -> bool:
        """True when ``template`` has its required text file (in ``language``:
        ``<template>.<language>.txt.j2``)."""
        name = f"{template}{TEXT_SUFFIX}"
        return self._is_file(localized_name(name, language) if language else name)

    def _is_file(self, name: str) -> bool:
        found = self._files.get(name)
        if found is None or self.auto_reload:
            found = (self.templates_dir / name).is_file()
            self._files[name] = found
        return found

    def render(
        self,
        template: str,
        context: dict[str, Any],
        subject_override: str | None = None,
        language: str | None = None,
    ) -> RenderedEmail:
        """Render one touch; raise TemplateRenderError naming file and line on any problem.

        With ``language`` the touch's own files are ``<template>.<language>.txt.j2`` /
        ``.html.j2`` when the text file exists (else the un-suffixed ones), and its layouts
        and includes are looked up in that language first. The HTML part always comes in the
        text part's language: a localised text without a localised HTML file is sent as
        text only, never half translated.
        """
        localized = language is not None and self.exists(template, language)
        text_name = f"{template}{TEXT_SUFFIX}"
        html_name = f"{template}{HTML_SUFFIX}"
        if localized and language is not None:
            text_name = localized_name(text_name, language)
            html_name = localized_name(html_name, language)
        with render_budget():
            return self._render(
                self.environment(language), text_name, html_name, context, subject_override
            )

    def _render(
        self,
        env: BoundedSandbox,
        text_name: str,
        html_name: str,
        context: dict[str, Any],
        subject_override: str | None,
    ) -> RenderedEmail:
        try:
            text_template = env.get_template(text_name)
            # One Jinja context for the text and its subject block, so a {% set %} at the
            # template's top level is seen by the subject as it is by the body.
            text_context = text_template.new_context(context)
            text = render_bounded(text_template, text_context).strip() + "\n"
            if subject_override is not None:
                subject = self._render_subject_override(subject_override, context)
            elif "subject" in text_template.blocks:
                subject = self._render_subject_block(text_template, text_context)
            else:
                raise TemplateRenderError(
                    f"templates/{text_name}: no {{% block subject %}} — add one or set "
                    "'subject:' on the step."
                )
            html = None
            if self._is_file(html_name):
                html_template = env.get_template(html_name)
                html = render_bounded(html_template, context).strip()
        except TemplateRenderError:
            raise
        except TemplateNotFound as exc:
            raise TemplateRenderError(
                f"templates/{exc.name}: template not found — create it or fix the step's "
                "'template:'."
            ) from None
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                f"templates/{exc.name or text_name}:{exc.lineno}: syntax error: {exc.message}"
            ) from None
        except UndefinedError as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(f"{where}: {undefined_hint(exc)}") from None
        except SecurityError as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(f"{where}: not allowed in templates: {exc}") from None
        except Exception as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(f"{where}: {type(exc).__name__}: {exc}") from None
        subject = one_line(subject)
        if not subject:
            where = (
                f"step subject {subject_override!r}"
                if subject_override is not None
                else f"templates/{text_name}"
            )
            raise TemplateRenderError(f"{where}: the subject rendered empty.")
        return RenderedEmail(subject=subject, text=text, html=html)

    def _where(self, exc: BaseException, text_name: str) -> str:
        """``templates/x.txt.j2:LINE`` of the failing template line, else the touch's file."""
        return _template_frame(exc.__traceback__, self.templates_dir) or f"templates/{text_name}"

    def _render_subject_block(self, template: Template, context: Context) -> str:
        """Render only ``{% block subject %}`` of ``template``, in the context the whole
        template was rendered in (its top-level ``{% set %}`` values included).

        Calling a block function directly bypasses Jinja's traceback rewriting, so an error
        would carry the line of the compiled Python code; ``handle_exception`` re-raises it
        with the template's own file and line.
        """
        block = template.blocks["subject"]
        try:
            return "".join(block(context))
        except Exception:
            self.env.handle_exception()
            raise  # not reached: handle_exception always raises

    def _render_subject_override(self, source: str, context: dict[str, Any]) -> str:
        """Render a step's ``subject:``; errors name that subject, not the template file."""
        try:
            return render_bounded(self._subject_template(source), context)
        except TemplateSyntaxError as exc:
            problem = f"syntax error: {exc.message}"
        except UndefinedError as exc:
            problem = undefined_hint(exc)
        except SecurityError as exc:
            problem = f"not allowed in templates: {exc}"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        raise TemplateRenderError(f"step subject {source!r}: {problem}")

    def _subject_template(self, source: str) -> Template:
        with self._lock:
            compiled = self._subjects.get(source)
            if compiled is None:
                compiled = self.env.from_string(source)
                self._subjects[source] = compiled
            return compiled


def undefined_hint(exc: UndefinedError) -> str:
    """The message of an undefined variable, with the fix that fits it: a missing lead field
    wants a default, a bare name is a variable the template never set (or set in a block
    that cannot see it), not a lead field."""
    message = exc.message or str(exc)
    bare = _BARE_NAME.match(message)
    if bare is None:
        return (
            f"{message} — add the field to the lead or a default: {{{{ lead.x | default('...') }}}}"
        )
    name = bare["name"]
    return (
        f"{message} — no variable of that name reaches this line: a lead field is written "
        f"lead.{name}, a text is quoted ('{name}'), and a {{% set {name} = … %}} must come "
        "before its use, at the top of the template or in the same block"
    )


def _template_frame(tb: TracebackType | None, templates_dir: Path) -> str | None:
    """The last template file and line in a traceback, as ``templates/x.txt.j2:LINE``.

    The path is taken relative to ``templates_dir`` (whatever that folder is called), so
    ``prospecting/01_intro.txt.j2`` keeps its sub-folder in the message.
    """
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    path = Path(found[0])
    try:
        rel = path.resolve().relative_to(templates_dir.resolve()).as_posix()
    except ValueError:
        return f"{path.name}:{found[1]}"
    return f"templates/{rel}:{found[1]}"
